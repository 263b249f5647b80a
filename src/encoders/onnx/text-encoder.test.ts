import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTextEncoder } from './text-encoder.js';
import { batchRows } from '../common.js';
import { runEncoderConformance } from '../conformance.js';
import { openEncoder } from '../registry.js';
import type { Encoder } from '../types.js';
import { OmnivecError } from '../../errors.js';
import { writeTinyTextModel, writeWord2VecTextModel, type TinyTextModel } from '../../../test/helpers/onnx-build.js';
import { assertClose } from '../../../test/helpers/assertions.js';

let root: string;
let tiny: TinyTextModel;
const VOCAB = ['hello', 'world', 'king', 'queen', 'query', ':'];
const DIM = 4;
// Row per word: one-hot-ish, easy to average by hand.
const VECTORS = Float32Array.from([
  1, 0, 0, 0, // hello
  0, 1, 0, 0, // world
  0, 0, 1, 0, // king
  0, 0, 0, 1, // queen
  2, 2, 2, 2, // query
  0, 0, 0, 0, // :
]);

const isErr = (code: string, re?: RegExp) => (e: unknown): boolean => e instanceof OmnivecError && e.code === code && (re === undefined || re.test(e.message));

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'omnivec-text-'));
  tiny = await writeTinyTextModel(join(root, 'tiny'), { vocab: VOCAB, dim: DIM, vectors: VECTORS, lowercase: true, maxLength: 8 });
});
after(() => rmSync(root, { recursive: true, force: true }));

test('text encoder: cls, mean and last pooling by hand (specials included, padding masked)', async () => {
  const mean = await createTextEncoder(tiny.dir, { pooling: 'mean', normalize: false, threads: 1 });
  const cls = await createTextEncoder(tiny.dir, { pooling: 'cls', normalize: false, threads: 1 });
  const last = await createTextEncoder(tiny.dir, { pooling: 'last', normalize: false, threads: 1 });
  try {
    assert.equal(mean.dim, DIM);
    assert.equal(mean.maxLength, 8);
    // [CLS] hello world [SEP]: (0.5·1 + e0 + e1 − 0.25·1) / 4
    const [m] = batchRows(await mean.encode(['Hello world']));
    assertClose(m!, [(0.5 + 1 - 0.25) / 4, (0.5 + 1 - 0.25) / 4, (0.5 - 0.25) / 4, (0.5 - 0.25) / 4]);
    assertClose((batchRows(await cls.encode(['Hello world'])))[0]!, [0.5, 0.5, 0.5, 0.5]);
    assertClose((batchRows(await last.encode(['Hello world'])))[0]!, [-0.25, -0.25, -0.25, -0.25]);
    // In a batch with a longer text (so this one is padded) the answer is the same.
    const batch = batchRows(await mean.encode(['king', 'Hello world king queen hello', 'Hello world']));
    assertClose(batch[2]!, m!);
    assertClose(batch[0]!, [(0.5 - 0.25) / 3, (0.5 - 0.25) / 3, (0.5 + 1 - 0.25) / 3, (0.5 - 0.25) / 3]);
    // Without length bucketing (input order kept in the batches), the same answers.
    const plain = await createTextEncoder(tiny.dir, { pooling: 'mean', normalize: false, threads: 1, batchSize: 2, bucketing: false });
    const again = batchRows(await plain.encode(['king', 'Hello world king queen hello', 'Hello world']));
    for (let i = 0; i < 3; i++) assertClose(again[i]!, batch[i]!);
    await plain.close();
  } finally {
    await mean.close();
    await cls.close();
    await last.close();
  }
});

test('text encoder: normalisation, prefixes, truncation reported or refused, Matryoshka', async () => {
  writeFileSync(join(tiny.dir, 'omnivec.json'), JSON.stringify({ pooling: 'mean', queryPrefix: 'query: ', matryoshka: [4, 2] }));
  try {
    const enc = await createTextEncoder(tiny.dir, { threads: 1, batchSize: 2 });
    try {
      assert.equal(enc.spec.pooling, 'mean');
      const [v] = batchRows(await enc.encode(['hello world']));
      let s = 0;
      for (const x of v!) s += x * x;
      assert.ok(Math.abs(s - 1) < 1e-6, 'unit length');
      // mode query prepends the prefix: the same as the prefixed text as a passage.
      assertClose((batchRows(await enc.encode(['king'], { mode: 'query' })))[0]!, (batchRows(await enc.encode(['query: king'])))[0]!);
      // 9 tokens with specials > 8: cut, keeping [SEP] at the end, and reported.
      const long = 'hello world king queen hello world king';
      const r = await enc.encodeDetailed(['king', long]);
      assert.deepEqual(r.truncated, [1]);
      assert.deepEqual([...r.tokens], [3, 8]);
      const cut = batchRows(await enc.encode(['hello world king queen hello world']));
      assertClose(batchRows(r.vectors)[1]!, cut[0]!);
    } finally {
      await enc.close();
    }
    const strict = await createTextEncoder(tiny.dir, { threads: 1, truncation: 'error' });
    await assert.rejects(strict.encode(['hello world king queen hello world king']), isErr('invalid_argument', /texts\[0\]: 9 tokens, more than the 8/));
    await assert.rejects(strict.encode(['hello', '  ']), isErr('invalid_argument', /texts\[1\]: expected a non-empty text/));
    await assert.rejects(strict.encode(['hello', 3 as unknown as string]), isErr('invalid_argument', /texts\[1\]: expected a string, got the number 3/));
    await strict.close();
    const half = await createTextEncoder(tiny.dir, { threads: 1, dimensions: 2 });
    assert.equal(half.dim, 2);
    assert.equal(half.spec.model, 'tiny@2');
    const [h] = batchRows(await half.encode(['hello world']));
    assertClose(h!, [Math.SQRT1_2, Math.SQRT1_2]);
    await half.close();
    await assert.rejects(createTextEncoder(tiny.dir, { dimensions: 3 }), isErr('invalid_argument', /Matryoshka sizes 4, 2, not 3/));
    await assert.rejects(createTextEncoder(tiny.dir, { dimensions: 5 }), isErr('invalid_argument', /5 is larger than the 4 dimensions/));
  } finally {
    rmSync(join(tiny.dir, 'omnivec.json'));
  }
  await assert.rejects(createTextEncoder(tiny.dir, { dimensions: 2 }), isErr('invalid_argument', /does not declare Matryoshka training/));
});

test('text encoder: a pooled graph output is used as is; missing and corrupt files are named', async () => {
  const pooled = await writeTinyTextModel(join(root, 'pooled'), { vocab: VOCAB, dim: DIM, vectors: VECTORS, extraOutputs: ['sentence_embedding'], tokenTypeIds: true });
  const enc = await createTextEncoder(pooled.dir, { threads: 1, normalize: false });
  assert.equal(enc.spec.output, 'sentence_embedding');
  assert.equal(enc.spec.pooling, 'none');
  assertClose((batchRows(await enc.encode(['hello world'])))[0]!, [(0.5 + 1 - 0.25) / 4, (0.5 + 1 - 0.25) / 4, 0.25 / 4, 0.25 / 4]);
  await enc.close();
  await assert.rejects(createTextEncoder(join(root, 'nope')), isErr('not_found', /model folder .*nope does not exist/));
  const broken = join(root, 'broken');
  await writeTinyTextModel(broken, { vocab: VOCAB, dim: DIM, vectors: VECTORS });
  rmSync(join(broken, 'tokenizer.json'));
  await assert.rejects(createTextEncoder(broken), isErr('not_found', /is missing tokenizer\.json/));
  const corrupt = join(root, 'corrupt');
  await writeTinyTextModel(corrupt, { vocab: VOCAB, dim: DIM, vectors: VECTORS });
  writeFileSync(join(corrupt, 'onnx', 'model.onnx'), 'not a model');
  await assert.rejects(createTextEncoder(corrupt), isErr('corrupt_file', /model\.onnx: not a loadable ONNX model/));
  writeFileSync(join(corrupt, 'config.json'), '{ nope');
  await assert.rejects(createTextEncoder(corrupt), isErr('corrupt_file', /config\.json: expected a JSON object/));
});

test('text encoder with real weights (word2vec 1k, mean pooling): related words are nearer than unrelated ones', async () => {
  const m = await writeWord2VecTextModel(join(root, 'w2v'), { pooling: 'mean' });
  const enc = await createTextEncoder(m.dir, { threads: 1 });
  try {
    // (The 1,000 words hold neither "queen" nor "apple": pairs from the file instead.)
    const dot = (a: Float32Array, b: Float32Array): number => a.reduce((s, x, i) => s + x * b[i]!, 0);
    for (const [w, near, far] of [['father', 'mother', 'machine'], ['wine', 'beer', 'gun'], ['man', 'woman', 'money'], ['river', 'sea', 'phone']] as const) {
      const [a, b, c] = batchRows(await enc.encode([w, near, far]));
      assert.ok(dot(a!, b!) > dot(a!, c!) + 0.05, `${w}·${near} ${dot(a!, b!)} vs ${w}·${far} ${dot(a!, c!)}`);
    }
    assert.equal(enc.dim, 300);
  } finally {
    await enc.close();
  }
});

test('text encoder from a hub id: refused offline naming the files, downloaded into the cache when allowed', async () => {
  const { createServer } = await import('node:http');
  const { readFileSync, existsSync } = await import('node:fs');
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    const m = /^\/acme\/tiny-text\/resolve\/main\/(.+)$/.exec(req.url ?? '');
    const file = m === null ? undefined : join(tiny.dir, decodeURIComponent(m[1]!));
    if (file === undefined || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200).end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const cache = join(root, 'cache');
  const saved = { cache: process.env.OMNIVEC_CACHE, endpoint: process.env.HF_ENDPOINT, allow: process.env.OMNIVEC_ALLOW_NETWORK };
  process.env.OMNIVEC_CACHE = cache;
  process.env.HF_ENDPOINT = endpoint;
  delete process.env.OMNIVEC_ALLOW_NETWORK;
  try {
    await assert.rejects(createTextEncoder('acme/tiny-text'), isErr('not_found', /acme\/tiny-text.*config\.json.*tokenizer\.json.*onnx\/model\.onnx/s));
    assert.equal(requests, 0, 'no request while the network is not allowed');
    const enc = await createTextEncoder('acme/tiny-text', { allowNetwork: true, threads: 1, pooling: 'cls', normalize: false });
    assert.equal(enc.spec.model, 'acme/tiny-text');
    assertClose((batchRows(await enc.encode(['hello'])))[0]!, [0.5, 0.5, 0.5, 0.5]);
    await enc.close();
    const before = requests;
    const again = await createTextEncoder('acme/tiny-text', { threads: 1 });
    await again.close();
    assert.equal(requests, before, 'the cached model needs no network');
  } finally {
    server.close();
    for (const [k, v] of [['OMNIVEC_CACHE', saved.cache], ['HF_ENDPOINT', saved.endpoint], ['OMNIVEC_ALLOW_NETWORK', saved.allow]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});

// The encoder contract (types.ts) through the registry. The special tokens' rows and the unknown
// word's are zero here, so a text of unknown words has the zero vector and must be refused.
let conformanceModel: Promise<string> | undefined;
const zeroSpecials = (): Promise<string> => (conformanceModel ??= writeTinyTextModel(join(root, 'contract'), {
  vocab: VOCAB, dim: DIM, vectors: VECTORS, lowercase: true, specialRows: { cls: 0, sep: 0, pad: 0, unk: 0 },
}).then((m) => m.dir));
runEncoderConformance('ONNX text (mean pooling, normalised)', {
  modality: 'text',
  open: async () => await openEncoder(await zeroSpecials(), { threads: 1 }) as Encoder<'text'>,
  context: { threads: 1 },
  inputs: ['hello world', 'king', 'Queen queen hello', 'world king queen hello world'],
  zeroText: 'zebra yak',
});
