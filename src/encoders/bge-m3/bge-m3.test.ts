import { test, after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createBgeM3 } from './bge-m3.js';
import { batchRows } from '../common.js';
import { runEncoderConformance } from '../conformance.js';
import { openEncoder } from '../registry.js';
import type { Encoder } from '../types.js';
import { writeFile } from 'node:fs/promises';
import {
  encodeSafetensors, writeBgeM3ShapedModel, writeTinyTextModel, type BgeM3ShapedOptions, type TinyTextModel,
} from '../../../test/helpers/onnx-build.js';
import { assertClose, rejectsCode, withTempDir } from '../../../test/helpers/assertions.js';

const withDir = (fn: (dir: string) => Promise<void>): Promise<void> => withTempDir('omnivec-m3-', fn);

const vocab = ['red', 'green', 'blue', 'cat', 'dog', 'fish'];
const dim = 4;
const cdim = 3;
let seed = 7;
const rnd = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return ((seed >>> 8) / 2 ** 24) * 2 - 1; };
const options: Omit<BgeM3ShapedOptions, 'headsInGraph'> = {
  vocab, dim, tanh: true,
  vectors: Float32Array.from({ length: vocab.length * dim }, rnd),
  sparseWeight: Float32Array.from({ length: dim }, rnd),
  sparseBias: 0.1,
  colbertWeight: Float32Array.from({ length: dim * cdim }, rnd),
  colbertBias: Float32Array.from({ length: cdim }, rnd),
};

/** What FlagEmbedding would compute for `text`, written out from the states (not through heads.ts). */
function expected(m: TinyTextModel, text: string, maxLength = Infinity): { dense: number[]; sparse: Map<number, number>; colbert: number[][] } {
  const words = text.split(' ').map((w) => m.vocabIds.get(w) ?? m.specialIds.unk);
  const ids = [m.specialIds.cls, ...words.slice(0, maxLength - 2), m.specialIds.sep];
  const norm = (v: number[]): number[] => { const n = Math.hypot(...v); return v.map((x) => x / n); };
  const dense = norm(Array.from(m.state(ids[0]!)));
  const sparse = new Map<number, number>();
  for (const id of ids) {
    const h = m.state(id);
    const w = Math.max(0, h.reduce((s, x, c) => s + x * options.sparseWeight[c]!, options.sparseBias));
    const special = [m.specialIds.cls, m.specialIds.sep, m.specialIds.pad, m.specialIds.unk].includes(id);
    if (!special && w > 0 && w > (sparse.get(id) ?? 0)) sparse.set(id, w);
  }
  const colbert = ids.slice(1).map((id) => {
    const h = m.state(id);
    return norm(Array.from({ length: cdim }, (_, j) => h.reduce((s, x, c) => s + x * options.colbertWeight[c * cdim + j]!, options.colbertBias[j]!)));
  });
  return { dense, sparse, colbert };
}

// Lengths 3 … 7 tokens, so that batches of 2 mix lengths and padding shows if mishandled.
const texts = ['red cat', 'green dog dog fish', 'blue', 'fish red zebra green cat', 'cat cat'];

test('heads in the graph and heads from weight files give FlagEmbedding\'s numbers, in input order', () => withDir(async (dir) => {
  for (const headsInGraph of [true, false]) {
    const folder = join(dir, String(headsInGraph));
    const m = await writeBgeM3ShapedModel(folder, { ...options, headsInGraph });
    const m3 = await createBgeM3(folder, { batchSize: 2, threads: 1 });
    try {
      assert.deepEqual(m3.heads, headsInGraph
        ? { dense: 'graph', sparse: 'graph', colbert: 'graph' }
        : { dense: 'states', sparse: 'weights', colbert: 'weights' });
      assert.equal(m3.dim, dim);
      assert.equal(m3.colbertDim, cdim);
      assert.deepEqual(m3.spec, { model: headsInGraph ? 'true' : 'false', dim, kind: 'bge-m3', maxLength: 8192 });
      const out = await m3.encode(texts);
      texts.forEach((t, i) => {
        const e = expected(m, t);
        assertClose(out.dense[i]!, e.dense, 1e-5, `${headsInGraph} dense ${i}`);
        const ids = [...e.sparse.keys()].sort((a, b) => a - b);
        assert.deepEqual(Array.from(out.sparse[i]!.indices), ids, `${headsInGraph} sparse ids ${i}`);
        assertClose(out.sparse[i]!.values, ids.map((id) => e.sparse.get(id)!), 1e-5, `${headsInGraph} sparse ${i}`);
        assert.equal(out.colbert[i]!.count, t.split(' ').length + 1, 'one vector per token after <s>, </s> included');
        assert.equal(out.colbert[i]!.dim, cdim);
        assertClose(out.colbert[i]!.data, e.colbert.flat(), 1e-5, `${headsInGraph} colbert ${i}`);
      });
      // The unknown word "zebra" and the specials are not in the lexical weights.
      assert.ok(!out.sparse[3]!.indices.includes(m.specialIds.unk));
      const shown = m3.lexicalTokens(out.sparse[1]!);
      assert.deepEqual(Object.keys(shown).sort(), [...expected(m, texts[1]!).sparse.keys()].map((id) => vocab[id - 4]!).sort());
      // Asking for less computes less; the dense-only encoder gives the same vectors.
      const onlyDense = await m3.encode(texts, { sparse: false, colbert: false });
      assert.deepEqual(onlyDense.sparse, []);
      assert.deepEqual(onlyDense.dense, out.dense);
      const enc = m3.asEncoder();
      assert.equal(enc.spec, m3.spec);
      assert.deepEqual(batchRows(await enc.encode(texts)), out.dense);
      const records = await m3.toRecords(['a', 'b'], texts.slice(0, 2));
      assert.deepEqual(records.map((r) => [r.id, r.document, r.model]), [['a', texts[0], m3.spec.model], ['b', texts[1], m3.spec.model]]);
      assert.deepEqual(records[1]!.multiVector, out.colbert[1]);
    } finally {
      await m3.close();
    }
  }
}));

test('truncation keeps <s> and </s>: maxLength − 1 ColBERT vectors, the last one </s>\'s', () => withDir(async (dir) => {
  const m = await writeBgeM3ShapedModel(dir, { ...options, headsInGraph: false });
  const m3 = await createBgeM3(dir, { maxLength: 4, threads: 1 });
  try {
    const t = 'fish red green cat dog';
    const out = await m3.encode([t]);
    assert.equal(out.colbert[0]!.count, 3);
    const e = expected(m, t, 4);
    assertClose(out.colbert[0]!.data, e.colbert.flat(), 1e-5, 'colbert');
    assert.deepEqual(Array.from(out.sparse[0]!.indices), [...e.sparse.keys()].sort((a, b) => a - b));
  } finally {
    await m3.close();
  }
}));

test('a folder without head weights: dense works, sparse / colbert refused naming the files', () => withDir(async (dir) => {
  await writeBgeM3ShapedModel(dir, { ...options, headsInGraph: false });
  // Beside the graph or at the root: both are searched, so remove both.
  for (const d of [dir, join(dir, 'onnx')]) await rm(join(d, 'colbert_linear.safetensors'), { force: true });
  const m3 = await createBgeM3(dir, { threads: 1 });
  try {
    assert.equal(m3.heads.colbert, 'missing');
    assert.equal(m3.colbertDim, undefined);
    await rejectsCode(m3.encode(['red']), 'not_found', /colbert: the model .* has no colbert head: expected a graph output \(colbert_vecs\) or colbert_linear\.safetensors/);
    const out = await m3.encode(['red'], { colbert: false });
    assert.equal(out.dense.length, 1);
    assert.equal(out.sparse.length, 1);
    assert.deepEqual(out.colbert, []);
  } finally {
    await m3.close();
  }
}));

test('a graph whose text encoder would pick a pooled output: the heads still run on last_hidden_state', () => withDir(async (dir) => {
  // sentence_embedding (a masked mean here) is taken as the dense output; the sparse head needs the states.
  const m = await writeTinyTextModel(dir, { vocab, dim, vectors: options.vectors, style: 'xlmr', extraOutputs: ['sentence_embedding'] });
  await writeFile(join(dir, 'sparse_linear.safetensors'), encodeSafetensors({
    weight: { shape: [1, dim], data: options.sparseWeight }, bias: { shape: [1], data: Float32Array.from([options.sparseBias]) },
  }));
  const m3 = await createBgeM3(dir, { threads: 1 });
  try {
    assert.deepEqual(m3.heads, { dense: 'graph', sparse: 'weights', colbert: 'missing' });
    const out = await m3.encode(['red cat red'], { colbert: false });
    const w = (id: number): number => Math.max(0, m.state(id).reduce((s, x, c) => s + x * options.sparseWeight[c]!, options.sparseBias));
    const ids = [m.vocabIds.get('red')!, m.vocabIds.get('cat')!].filter((id) => w(id) > 0);
    assert.deepEqual(Array.from(out.sparse[0]!.indices), ids);
    assertClose(out.sparse[0]!.values, ids.map(w), 1e-5, 'sparse');
    // The graph's sentence_embedding (the mean of <s> red cat red </s>), normalised.
    const seq = [m.specialIds.cls, m.vocabIds.get('red')!, m.vocabIds.get('cat')!, m.vocabIds.get('red')!, m.specialIds.sep];
    const mean = Array.from({ length: dim }, (_, c) => seq.reduce((s, id) => s + m.state(id)[c]!, 0) / seq.length);
    const n = Math.hypot(...mean);
    assertClose(out.dense[0]!, mean.map((x) => x / n), 1e-5, 'dense');
  } finally {
    await m3.close();
  }
}));

test('dimensions on BGE-M3: refused unless forced (not Matryoshka-trained), then the first d dense components renormalised', () => withDir(async (dir) => {
  const folder = join(dir, 'm3');
  const m = await writeBgeM3ShapedModel(folder, { ...options, headsInGraph: true });
  await rejectsCode(createBgeM3(folder, { dimensions: 2, threads: 1 }), 'invalid_argument', /does not declare Matryoshka training/);
  await rejectsCode(createBgeM3(folder, { dimensions: 9, forceDimensions: true, threads: 1 }), 'invalid_argument', /larger than the 4 dimensions/);
  const m3 = await createBgeM3(folder, { dimensions: 2, forceDimensions: true, threads: 1 });
  try {
    assert.equal(m3.dim, 2);
    assert.match(m3.spec.model, /@2$/);
    const out = await m3.encode(['red cat'], { sparse: false, colbert: false });
    const full = expected(m, 'red cat').dense.slice(0, 2);
    const n = Math.hypot(...full);
    assertClose(out.dense[0]!, full.map((x) => x / n), 1e-5, 'dense@2');
  } finally {
    await m3.close();
  }
}));

// The encoder contract (types.ts) through the registry: BGE-M3's dense output (a spec of kind
// 'bge-m3' reopens as BGE-M3, not as a plain text encoder), heads from weight files.
const contractDir = mkdtempSync(join(tmpdir(), 'omnivec-m3-contract-'));
after(() => rmSync(contractDir, { recursive: true, force: true }));
let contractModel: Promise<string> | undefined;
runEncoderConformance('BGE-M3 dense', {
  modality: 'text',
  open: async () => {
    const folder = await (contractModel ??= writeBgeM3ShapedModel(join(contractDir, 'm3'), { ...options, headsInGraph: false }).then((m) => m.dir));
    return await openEncoder(folder, { threads: 1, batchSize: 2 }, { kind: 'bge-m3' }) as Encoder<'text'>;
  },
  context: { threads: 1, batchSize: 2 },
  inputs: texts,
  skip: { 'zero vector': 'the dense vector is the <s> state, which the tiny model makes one non-zero row for every text: no text encodes to zero' },
});
