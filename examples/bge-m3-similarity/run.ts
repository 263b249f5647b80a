/**
 * BGE-M3's three similarity matrices — dense, sparse (lexical matching) and multi-vector
 * (ColBERT) — between two lists of sentences, as FlagEmbedding's README computes them
 * (docs/bge-m3.md): rows are the first list (queries), columns the second (passages).
 *
 *   node --import tsx examples/bge-m3-similarity/run.ts --model DIR [--a TEXT]... [--b TEXT]... [--max-length 512]
 *
 * DIR is a BGE-M3 ONNX folder (tokenizer.json + onnx/model.onnx, with the sparse and ColBERT heads
 * in the graph or as sparse_linear / colbert_linear weight files beside it), e.g. aapot/bge-m3-onnx.
 * No BGE-M3 weights are on this machine; see examples/bge-m3-similarity/README.md.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { colbertScore, createBgeM3, denseScore, lexicalMatchingScore, OmnivecError } from '../../src/index.js';

/** The guide's (and FlagEmbedding's README's) two lists, spelling included. */
const SENTENCES_1 = ['What is BGE M3?', 'Defination of BM25'];
const SENTENCES_2 = [
  'BGE M3 is an embedding model supporting dense retrieval, lexical matching and multi-vector interaction.',
  'BM25 is a bag-of-words retrieval function that ranks a set of documents based on the query terms appearing in each document',
];

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    a: { type: 'string', multiple: true },
    b: { type: 'string', multiple: true },
    'max-length': { type: 'string', default: '512' },
    threads: { type: 'string', default: '2' },
  },
});
const fail = (msg: string): never => {
  process.stderr.write(`${msg}\n`);
  process.exit(2);
};
if (values.model === undefined) {
  fail('--model DIR: a BGE-M3 ONNX folder is needed and none ships with omnivec. Download one, e.g.\n' +
    '  git lfs install && git clone https://huggingface.co/aapot/bge-m3-onnx\n' +
    'and pass --model bge-m3-onnx (tokenizer.json, model.onnx with dense_vecs, sparse_vecs and colbert_vecs outputs).');
}
if (!existsSync(values.model!)) fail(`--model ${values.model}: no such folder`);
const a = values.a ?? SENTENCES_1;
const b = values.b ?? SENTENCES_2;

const matrix = (name: string, f: (i: number, j: number) => number): string => {
  const rows = a.map((_, i) => `[${b.map((__, j) => f(i, j).toFixed(4)).join(' ')}]`);
  return `${name}\n[${rows.join('\n ')}]`;
};

try {
  const m3 = await createBgeM3(values.model!, { threads: Number(values.threads), maxLength: Number(values['max-length']) });
  try {
    const qa = await m3.encode(a, { dense: true, sparse: true, colbert: true });
    const pb = await m3.encode(b, { dense: true, sparse: true, colbert: true });
    const out = [
      `BGE-M3 ${values.model}: heads dense ${m3.heads.dense}, sparse ${m3.heads.sparse}, colbert ${m3.heads.colbert}`,
      ...a.map((t, i) => `a[${i}] ${t}`),
      ...b.map((t, j) => `b[${j}] ${t}`),
      '',
      matrix('dense (a · b of the normalised [CLS] vectors):', (i, j) => denseScore(qa.dense[i]!, pb.dense[j]!)),
      matrix('sparse (lexical matching: Σ over shared tokens of w_a · w_b):', (i, j) => lexicalMatchingScore(qa.sparse[i]!, pb.sparse[j]!)),
      matrix('colbert (mean over a\'s tokens of the best match in b):', (i, j) => colbertScore(qa.colbert[i]!, pb.colbert[j]!)),
      '',
      `lexical weights of a[0]: ${JSON.stringify(m3.lexicalTokens(qa.sparse[0]!))}`,
    ];
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    await m3.close();
  }
} catch (e) {
  if (e instanceof OmnivecError) fail(`${e.code}: ${e.message}`);
  throw e;
}
