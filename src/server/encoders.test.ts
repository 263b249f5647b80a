import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Database } from '../db/database.js';
import { createTextEncoder } from '../encoders/onnx/text-encoder.js';
import { batchRows } from '../encoders/common.js';
import { KeyedVectors } from '../encoders/word2vec/keyed-vectors.js';
import { fitSif } from '../encoders/sif/sif.js';
import { saveSif } from '../encoders/sif/files.js';
import { safeModelName, storedModelDir } from '../encoders/stored-models.js';
import { createEncoderService, type EncoderServiceOptions } from './encoders.js';
import type { EncoderService } from './context.js';
import sharp from 'sharp';
import { createImageEncoder } from '../encoders/image/index.js';
import { writeConvImageModel, writeTinyTextModel } from '../../test/helpers/onnx-build.js';
import { assertClose, rejectsCode } from '../../test/helpers/assertions.js';

const VOCAB = ['hello', 'world', 'king', 'queen', 'cat', 'dog', 'car', 'truck', 'the', 'a'];
const DIM = 8;

/** A seeded table: word i's row is sin-based, so texts give distinct, non-trivial vectors. */
function table(): Float32Array {
  return Float32Array.from({ length: VOCAB.length * DIM }, (_, k) => Math.sin(1 + k * 0.7) + (k % DIM === Math.floor(k / DIM) % DIM ? 1 : 0));
}

let root: string;
let tiny: string;
let matryoshka: string;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'omnivec-enc-svc-'));
  tiny = (await writeTinyTextModel(join(root, 'tiny'), { vocab: VOCAB, dim: DIM, vectors: table(), lowercase: true })).dir;
  matryoshka = (await writeTinyTextModel(join(root, 'mrl'), { vocab: VOCAB, dim: DIM, vectors: table(), lowercase: true })).dir;
  writeFileSync(join(matryoshka, 'omnivec.json'), JSON.stringify({ kind: 'text', matryoshka: [4, 8] }));
});
after(() => rmSync(root, { recursive: true, force: true }));

/** A fresh database and service (closed after `fn`). */
async function withService(options: Partial<EncoderServiceOptions>, fn: (s: EncoderService, db: Database, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(root, 'db-'));
  const db = await openDatabase(dir);
  const s = createEncoderService({ db, dbDir: dir, threads: 1, ...options });
  try {
    await fn(s, db, dir);
  } finally {
    await s.close();
    await db.close();
  }
}

/** One service with a --encoder mini flag for the tests that need nothing else (a worker start is ~1–2 s under tsx). */
let shared: { s: EncoderService; db: Database } | undefined;
async function miniService(): Promise<EncoderService> {
  if (shared === undefined) {
    const dir = mkdtempSync(join(root, 'db-'));
    const db = await openDatabase(dir);
    shared = { s: createEncoderService({ db, dbDir: dir, threads: 1, encoders: { mini: tiny } }), db };
  }
  return shared.s;
}
after(async () => {
  await shared?.s.close();
  await shared?.db.close();
});

test('a --encoder flag: vectors and token counts equal the encoder\'s own, computed in this thread', async () => {
  const s = await miniService();
  assert.deepEqual((await s.list()).map((e) => [e.name, e.source]), [['mini', 'flag']]);
  const texts = ['Hello world', 'the king and the queen', 'a cat', 'truck'];
  const r = await s.embedTexts('mini', texts);
  const own = await createTextEncoder(tiny, { threads: 1 });
  try {
    const ref = await own.encodeDetailed(texts);
    r.vectors.forEach((v, i) => assertClose(v, batchRows(ref.vectors)[i]!));
    assert.equal(r.tokens, ref.tokens.reduce((a, b) => a + b, 0));
    assert.equal(r.tokens, 4 + 7 + 4 + 3); // [CLS] … [SEP]; "and" is one [UNK]
    // Requests in flight together each get their own answers back.
    const batches = Array.from({ length: 12 }, (_, k) => Array.from({ length: 1 + (k * 5) % 40 }, (_, j) => `${VOCAB[(j + k) % VOCAB.length]} ${VOCAB[(j * 3 + k) % VOCAB.length]} the ${VOCAB[k % VOCAB.length]}`));
    const answers = await Promise.all(batches.map((b) => s.embedTexts('mini', b)));
    for (let k = 0; k < batches.length; k++) {
      const want = batchRows(await own.encode(batches[k]!));
      answers[k]!.vectors.forEach((v, i) => assertClose(v, want[i]!));
    }
  } finally {
    await own.close();
  }
  const info = await s.info('mini');
  assert.equal(info.kind, 'text');
  assert.equal(info.dim, DIM);
  assert.equal(info.spec.model, 'mini');
  assert.equal(info.spec.source, tiny);
  assert.deepEqual((await s.list()).map((e) => [e.name, e.kind, e.dim]), [['mini', 'text', DIM]]);
  await rejectsCode(s.embedTexts('nope', ['x']), 'not_found', /no served encoder is named "nope"; served: mini/);
  await rejectsCode(s.embedTexts('mini', ['ok', '  ']), 'invalid_argument', /texts\[1\]: expected a non-empty string/);
  await rejectsCode(s.embedImages('mini', [new Uint8Array(3)]), 'invalid_argument', /mini is a text encoder; it takes texts, not images/);
  await rejectsCode(s.embedTexts('mini', ['x'], { dimensions: 4 }), 'invalid_argument', /does not declare Matryoshka training/);
});

test('dimensions: allowed when omnivec.json declares them, equal to the encoder opened with them', () => withService({ encoders: { mrl: matryoshka } }, async (s) => {
  const texts = ['Hello world', 'the dog'];
  const r = await s.embedTexts('mrl', texts, { dimensions: 4 });
  const own = await createTextEncoder(matryoshka, { threads: 1, dimensions: 4 });
  try {
    const ref = batchRows(await own.encode(texts));
    r.vectors.forEach((v, i) => assertClose(v, ref[i]!));
    assert.ok(Math.abs(Math.hypot(...r.vectors[0]!) - 1) < 1e-6, 'renormalised');
  } finally {
    await own.close();
  }
  await rejectsCode(s.embedTexts('mrl', ['x'], { dimensions: 3 }), 'invalid_argument', /trained for the Matryoshka sizes 4, 8, not 3/);
  await rejectsCode(s.embedTexts('mrl', ['x'], { dimensions: 9 }), 'invalid_argument', /larger than the 8 dimensions/);
}));

test('a SIF model stored in DIR/models is served under its spec name, in this thread', () => withService({}, async (s, _db, dir) => {
  const kv = new KeyedVectors(['the', 'cat', 'dog', 'car'], Float32Array.from([1, 0.2, 0, 1, 0.1, 0.3, 1, 0]), 2, Float64Array.from([100, 5, 4, 3]));
  const model = await fitSif(kv, ['the cat', 'the dog', 'a car', 'the car the dog'], { components: 1 });
  const spec = model.asEncoder().spec;
  assert.equal(safeModelName(spec.model), spec.model.replace(':', '--'));
  await saveSif(model, storedModelDir(dir, spec.model));
  const list = await s.list();
  assert.deepEqual(list.map((e) => [e.name, e.source]), [[spec.model, 'database']]);
  const r = await s.embedTexts(spec.model, ['the cat', 'dog car']);
  assertClose(r.vectors[0]!, model.encode(['the cat'])[0]!);
  assertClose(r.vectors[1]!, model.encode(['dog car'])[0]!);
  assert.equal(r.tokens, 4);
  const info = await s.info(spec.model);
  assert.equal(info.kind, 'sif');
  assert.equal(info.spec.model, spec.model);
}));

test('collections\' bound specs: by source path (also model@d), by stored model; forCollection says why not otherwise', () => withService({ encoders: { mini: tiny } }, async (s, db) => {
  const own = await createTextEncoder(tiny, { threads: 1 });
  const mrl = await createTextEncoder(matryoshka, { threads: 1, dimensions: 4 });
  try {
    const bySource = await db.createCollection({ name: 'docs', dim: DIM, encoder: { ...own.spec, source: tiny } });
    const cut = await db.createCollection({ name: 'short', dim: 4, encoder: { ...mrl.spec, source: matryoshka } });
    assert.equal(mrl.spec.model, 'mrl@4');
    const byFlag = await db.createCollection({ name: 'flagged', dim: DIM, encoder: { model: 'mini', dim: DIM } });
    const none = await db.createCollection({ name: 'plain', dim: DIM });
    const lost = await db.createCollection({ name: 'lost', dim: DIM, encoder: { model: 'gone', dim: DIM, source: join(root, 'no-such-folder') } });
    const hub = await db.createCollection({ name: 'hub', dim: DIM, encoder: { model: 'someone/not-cached-model', dim: DIM } });
    const wrongDim = await db.createCollection({ name: 'wrong', dim: 4, encoder: { model: 'mini', dim: 4 } });

    const names = (await s.list()).map((e) => [e.name, e.source]);
    assert.deepEqual(names, [['mini', 'flag'], ['tiny', 'collection'], ['mrl@4', 'collection']]);

    assert.deepEqual(await s.forCollection(bySource), { name: 'tiny', kind: 'text' });
    assert.deepEqual(await s.forCollection(byFlag), { name: 'mini', kind: 'text' });
    assert.deepEqual(await s.forCollection(cut), { name: 'mrl@4', kind: 'text' });
    assertClose((await s.embedTexts('mrl@4', ['the king'])).vectors[0]!, (batchRows(await mrl.encode(['the king'])))[0]!);
    assertClose((await s.embedTexts('tiny', ['the king'], { mode: 'query' })).vectors[0]!, (batchRows(await own.encode(['the king'])))[0]!);

    const reason = async (c: typeof none): Promise<string> => {
      const f = await s.forCollection(c);
      assert.equal(f.name, undefined);
      return (f as { reason: string }).reason;
    };
    assert.match(await reason(none), /collection plain has no bound encoder/);
    assert.match(await reason(lost), /encoder "gone" cannot be opened: no --encoder gone=MODEL, no stored model .*models\/gone, its source .*no-such-folder does not exist/);
    assert.match(await reason(hub), /the hub id is not in the local cache/);
    assert.match(await reason(wrongDim), /encoder "mini" gives 8-d vectors, the collection holds 4-d/);
  } finally {
    await own.close();
    await mrl.close();
  }
}));

test('encoders open once: concurrent first calls share one open, names of one model share it, it stays open until close()', async () => {
  const opens: string[] = [];
  let service: EncoderService | undefined;
  await withService({ encoders: { a: tiny, b: tiny }, onOpen: (e) => opens.push(e.name) }, async (s) => {
    service = s;
    const results = await Promise.all([
      s.embedTexts('a', ['hello']), s.embedTexts('a', ['world']), s.embedTexts('b', ['king']), s.info('a'), s.embedTexts('a', ['cat']),
    ]);
    assert.equal(opens.length, 1, `opened ${opens.join(', ')}`);
    assert.equal((results[0] as { vectors: Float32Array[] }).vectors[0]!.length, DIM);
    await s.embedTexts('b', ['queen']);
    assert.equal(opens.length, 1);
  });
  // withService closed it: the worker is gone and calls are refused.
  await rejectsCode(service!.embedTexts('a', ['hello']), 'shutting_down', /closed/);
});

test('an encode in the worker does not block the event loop', async (t) => {
  const s = await miniService();
  await s.embedTexts('mini', ['warm up']);
  const words = VOCAB.join(' ');
  const texts = Array.from({ length: 8000 }, (_, i) => `${words} ${VOCAB[i % VOCAB.length]} ${words}`);
  let last = performance.now();
  let maxGap = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    ticks++;
  }, 2);
  const t0 = performance.now();
  const r = await s.embedTexts('mini', texts);
  const ms = performance.now() - t0;
  clearInterval(timer);
  assert.equal(r.vectors.length, texts.length);
  t.diagnostic(`encode ${ms.toFixed(0)} ms, ${ticks} timer ticks, longest gap ${maxGap.toFixed(1)} ms`);
  // Tokenising and running 8,000 texts takes hundreds of ms; the timer kept firing throughout.
  // Generous bounds, not a benchmark: an encode on this thread stalls the loop for about the whole
  // batch (the gap ≈ ms); in its worker the longest gap is a few ms (7.8 ms of 281 ms in a full run,
  // the machine shared). Half the batch tells the two apart with room for a busy machine.
  assert.ok(ms > 150, `the batch took ${ms.toFixed(0)} ms: too short to tell`);
  assert.ok(maxGap < ms / 2, `the event loop stalled for ${maxGap.toFixed(0)} ms during a ${ms.toFixed(0)} ms encode (${ticks} ticks)`);
});

test('an image model in its worker: file bytes in, the encoder\'s vectors out; bytes that do not decode are encoder_error', async () => {
  const model = await writeConvImageModel(join(root, 'conv'), { channels: 6, size: [16, 16] });
  const png = (rgb: [number, number, number]): Promise<Buffer> => sharp(Buffer.alloc(16 * 16 * 3).map((_, i) => rgb[i % 3]!), { raw: { width: 16, height: 16, channels: 3 } }).png().toBuffer();
  const images = [await png([200, 30, 90]), await png([10, 250, 40])];
  await withService({ encoders: { conv: model.dir } }, async (s) => {
    const r = await s.embedImages('conv', images);
    assert.equal(r.tokens, 0);
    const own = await createImageEncoder(model.dir, { threads: 1 });
    try {
      const want = batchRows(await own.encode(images));
      r.vectors.forEach((v, i) => assertClose(v, want[i]!, 1e-5));
    } finally {
      await own.close();
    }
    assert.equal((await s.info('conv')).kind, 'image');
    await rejectsCode(s.embedImages('conv', [new Uint8Array([1, 2, 3, 4])]), 'encoder_error', /input\[0\]: 4 bytes is not a readable image/);
    await rejectsCode(s.embedTexts('conv', ['hello']), 'invalid_argument', /conv is an image encoder; it takes images, not texts/);
    // The worker is still there after a refused input.
    assert.equal((await s.embedImages('conv', images.slice(0, 1))).vectors.length, 1);
  });
});

test('--encoder flags are checked up front', async () => {
  const dir = mkdtempSync(join(root, 'db-'));
  const db = await openDatabase(dir);
  try {
    assert.throws(() => createEncoderService({ db, dbDir: dir, encoders: { x: join(root, 'missing') } }), /--encoder x=.*missing: no such folder or file/);
    assert.throws(() => createEncoderService({ db, dbDir: dir, encoders: { 'a b': tiny } }), /expected a NAME without spaces/);
  } finally {
    await db.close();
  }
});
