/**
 * A collection's stored encoder spec reopens through the registry — `openEncoder(collection.encoder,
 * { dbDir, modality: 'text' })`, what `collection.query({ text })` calls — for each way a bound
 * collection is made today: `train sif --into` (the model stored in DIR/models/), `embed --into`
 * (the model folder recorded as `source`), `embed --m3 --into` (a BGE-M3 spec), a collection made
 * by the server with a `--encoder` name (found after a restart without the flag), and a hub id in
 * the local cache. The reopened encoder gives the vectors the collection holds, and a text query
 * finds its neighbours — also as `collection.query({ text })` in a database opened with the
 * registry's `specEncoders`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyedVectors } from '../src/encoders/word2vec/keyed-vectors.js';
import { saveWordVectors, writeVocabCounts } from '../src/encoders/word2vec/files.js';
import { loadSif } from '../src/encoders/sif/files.js';
import { storedModelDir } from '../src/encoders/stored-models.js';
import { hubModelFolder } from '../src/encoders/onnx/hub.js';
import { createTextEncoder } from '../src/encoders/onnx/text-encoder.js';
import { createBgeM3 } from '../src/encoders/bge-m3/index.js';
import { openEncoder, specEncoders } from '../src/encoders/registry.js';
import { batchRows } from '../src/encoders/common.js';
import { openDatabase } from '../src/db/database.js';
import type { EncoderSpec } from '../src/encoders/types.js';
import { createServer } from '../src/server/app.js';
import { cliInProcess } from './helpers/cli.js';
import { assertClose, rejectsCode } from './helpers/assertions.js';
import { writeBgeM3ShapedModel, writeTinyTextModel } from './helpers/onnx-build.js';

let root: string;
const savedCache = process.env.OMNIVEC_CACHE;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'omnivec-bound-'));
  process.env.OMNIVEC_CACHE = join(root, 'cache');
});
after(() => {
  if (savedCache === undefined) delete process.env.OMNIVEC_CACHE;
  else process.env.OMNIVEC_CACHE = savedCache;
  rmSync(root, { recursive: true, force: true });
});

/** Runs `omnivec --db DB ARGS` in this process; fails with what it printed when it does not exit 0. */
async function omnivec(db: string, args: string[]): Promise<string[]> {
  const r = await cliInProcess(['--db', db, ...args]);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}${r.lines.join('\n')}`);
  return r.lines;
}

/** The stored spec and the vectors of `ids` of a collection. */
async function stored(db: string, name: string, ids: string[]): Promise<{ spec: EncoderSpec; vectors: Float32Array[] }> {
  const d = await openDatabase(db, { readOnly: true });
  try {
    const c = await d.getCollection(name);
    assert.ok(c.encoder !== null, `${name} is bound to an encoder`);
    const got = await c.get({ ids, include: ['vectors'] });
    assert.deepEqual(got.ids, ids);
    return { spec: c.encoder!, vectors: got.vectors!.map((v) => Float32Array.from(v)) };
  } finally {
    await d.close();
  }
}

/** The ids of the k nearest records to `text`, through `query({ text })` in a database that encodes with the registry. */
async function textQuery(db: string, name: string, text: string, k: number): Promise<string[]> {
  const encoders = specEncoders({ dbDir: db, threads: 1 });
  const d = await openDatabase(db, { readOnly: true, encodeText: encoders.encodeText });
  try {
    const c = await d.getCollection(name);
    const first = (await c.query({ text, k })).ids;
    // The second query reuses the encoder opened for the first.
    assert.deepEqual((await c.query({ text, k })).ids, first);
    return first;
  } finally {
    await d.close();
    await encoders.close();
  }
}

/** The same through a database opened with no options: a library user's `query({ text })` (the default encoders). */
async function plainTextQuery(db: string, name: string, text: string, k: number): Promise<string[]> {
  const d = await openDatabase(db, { readOnly: true });
  try {
    return (await (await d.getCollection(name)).query({ text, k })).ids;
  } finally {
    await d.close();
  }
}

/** The ids of the k nearest records to `vector`. */
async function nearest(db: string, name: string, vector: Float32Array, k: number): Promise<string[]> {
  const d = await openDatabase(db, { readOnly: true });
  try {
    return (await (await d.getCollection(name)).query({ vector, k })).ids;
  } finally {
    await d.close();
  }
}

// Animals along one axis, vehicles along another, "the" / "a" in a direction every sentence shares.
const WORDS = ['the', 'a', 'cat', 'kitten', 'dog', 'puppy', 'car', 'truck', 'bus'];
const VECS = [[1, 1, 1, 0], [0.9, 1, 1.1, 0], [0, 0, 0.2, 1], [0.1, 0, 0.2, 0.9], [0, 0.2, 0, 1], [0.1, 0.1, 0, 0.95], [1, -1, 0, 0], [0.9, -1, 0.1, 0], [1, -0.9, 0, 0.1]];
const COUNTS = [1000, 800, 10, 5, 12, 4, 9, 6, 5];

test('train sif --into: the collection\'s spec reopens the stored SIF model (DIR/models/) by its name', async () => {
  const dir = join(root, 'sif');
  const kv = new KeyedVectors(WORDS, Float32Array.from(VECS.flat()), 4, Float64Array.from(COUNTS));
  await saveWordVectors(kv, join(root, 'w.vec'));
  await writeVocabCounts(kv, join(root, 'w.counts'));
  const corpus = join(root, 'corpus.txt');
  await writeFile(corpus, ['the cat', 'a kitten', 'the dog and a puppy', 'a car', 'the truck', 'a bus'].join('\n') + '\n');
  await omnivec(dir, ['train', 'sif', '--input', corpus, '--vectors', join(root, 'w.vec'), '--counts', join(root, 'w.counts'), '--into', 'sentences']);
  const { spec, vectors } = await stored(dir, 'sentences', ['line-1', 'line-4']);
  assert.equal(spec.source, undefined, 'train sif --into records no path: the model is found in the database');
  const enc = await openEncoder(spec, { dbDir: dir, modality: 'text' });
  try {
    assert.equal(enc.modality, 'text');
    assert.equal(enc.spec.model, spec.model);
    assert.equal(enc.spec.source, storedModelDir(dir, spec.model));
    // The stored records' vectors are the reopened encoder's.
    const again = batchRows(await enc.encode(['the cat', 'a car']));
    assertClose(again[0]!, vectors[0]!);
    assertClose(again[1]!, vectors[1]!);
    const direct = (await loadSif(storedModelDir(dir, spec.model))).encode(['kitten'])[0]!;
    const q = batchRows(await enc.encode(['kitten']))[0]!;
    assertClose(q, direct);
    assert.deepEqual((await nearest(dir, 'sentences', q, 2)).sort(), ['line-1', 'line-2']);
    assert.deepEqual((await textQuery(dir, 'sentences', 'kitten', 2)).sort(), ['line-1', 'line-2']);
    assert.deepEqual((await plainTextQuery(dir, 'sentences', 'kitten', 2)).sort(), ['line-1', 'line-2']);
    // The CLI's --text means the same: encoded through the collection's encoder.
    const hits = JSON.parse((await omnivec(dir, ['query', 'sentences', '--text', 'kitten', '-k', '2', '--json'])).join('\n')) as { id: string }[];
    assert.deepEqual(hits.map((h) => h.id).sort(), ['line-1', 'line-2']);
    await rejectsCode(enc.encode(['qwzx']), 'invalid_argument', /text\[0\] "qwzx": none of its words is in the model's vocabulary/);
  } finally {
    await enc.close();
  }
  // Without the database folder the stored model is not found; the reason names what was tried.
  await rejectsCode(openEncoder(spec, { modality: 'text' }), 'not_found', /cannot be opened: no --encoder .*, no database folder .*, no source path recorded/);
});

test('embed --into: the collection\'s spec reopens the model folder from its source; embed --m3 --into reopens as BGE-M3', async () => {
  const dir = join(root, 'onnx');
  const vocab = ['cat', 'kitten', 'dog', 'car', 'truck'];
  const tiny = await writeTinyTextModel(join(root, 'tiny'), { vocab, dim: 3, vectors: Float32Array.from([1, 0, 0, 0.95, 0.1, 0, 0.7, 0.3, 0, 0, 0, 1, 0, 0.1, 0.95]), specialRows: { cls: 0, sep: 0, pad: 0, unk: 0 } });
  const lines = join(root, 'lines.txt');
  await writeFile(lines, 'cat\ndog\ncar\ntruck\n');
  await omnivec(dir, ['embed', '--model', tiny.dir, '--input', lines, '--into', 'things', '--quiet', '--threads', '1']);
  const { spec, vectors } = await stored(dir, 'things', ['1', '3']);
  assert.equal(spec.source, tiny.dir);
  const enc = await openEncoder(spec, { dbDir: dir, threads: 1, modality: 'text' });
  const own = await createTextEncoder(tiny.dir, { threads: 1 });
  try {
    assert.deepEqual(enc.spec, spec, 'the spec reopens to itself');
    const again = batchRows(await enc.encode(['cat', 'car']));
    assertClose(again[0]!, vectors[0]!);
    assertClose(again[1]!, vectors[1]!);
    const q = batchRows(await enc.encode(['kitten'], { mode: 'query' }))[0]!;
    assertClose(q, batchRows(await own.encode(['kitten'], { mode: 'query' }))[0]!);
    assert.deepEqual(await nearest(dir, 'things', q, 2), ['1', '2']);
    assert.deepEqual(await textQuery(dir, 'things', 'kitten', 2), ['1', '2']);
    // The unknown word and the zeroed special tokens: the zero vector, refused.
    await rejectsCode(enc.encode(['zebra']), 'invalid_argument', /text\[0\] "zebra": the encoder gives it the zero vector/);
  } finally {
    await enc.close();
    await own.close();
  }

  const m3dir = join(root, 'm3');
  const rnd = ((s: number) => (): number => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return ((s >>> 8) / 2 ** 24) * 2 - 1; })(5);
  const m3vocab = ['bread', 'oven', 'flour', 'judge', 'court', 'the'];
  await writeBgeM3ShapedModel(m3dir, {
    vocab: m3vocab, dim: 4, tanh: true, headsInGraph: false, vectors: Float32Array.from({ length: m3vocab.length * 4 }, rnd),
    sparseWeight: Float32Array.from({ length: 4 }, rnd), sparseBias: 0.5,
    colbertWeight: Float32Array.from({ length: 4 * 3 }, rnd), colbertBias: Float32Array.from({ length: 3 }, rnd),
  });
  await writeFile(lines, 'the bread oven\njudge court\nflour the\n');
  await omnivec(dir, ['embed', '--m3', '--model', m3dir, '--input', lines, '--into', 'docs', '--quiet', '--threads', '1']);
  const bound = await stored(dir, 'docs', ['1', '2']);
  assert.equal(bound.spec.kind, 'bge-m3');
  assert.equal(bound.spec.source, m3dir);
  const dense = await openEncoder(bound.spec, { dbDir: dir, threads: 1, modality: 'text' });
  const m3 = await createBgeM3(m3dir, { threads: 1 });
  try {
    const want = (await m3.encode(['judge court', 'bread'], { sparse: false, colbert: false })).dense;
    const got = batchRows(await dense.encode(['judge court', 'bread']));
    assertClose(got[0]!, want[0]!);
    assertClose(got[1]!, want[1]!);
    assertClose(got[0]!, bound.vectors[1]!);
  } finally {
    await dense.close();
    await m3.close();
  }
});

test('a collection the server made with a --encoder name reopens after a restart without the flag; a cached hub id reopens from the cache', async () => {
  const dir = join(root, 'served');
  const tiny = await writeTinyTextModel(join(root, 'served-model'), { vocab: ['sea', 'ship', 'bread'], dim: 3, vectors: Float32Array.from([1, 0, 0, 0.9, 0.2, 0, 0, 0, 1]) });
  const server = await createServer({ db: dir, encoders: { mini: tiny.dir }, threads: 1 });
  try {
    const url = await server.listen(0);
    const r = await fetch(`${url}/api/collections`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'notes', encoder: 'mini' }) });
    assert.equal(r.status, 201, await r.text());
    const add = await fetch(`${url}/api/collections/notes/add`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ids: ['a', 'b'], documents: ['sea ship', 'bread'] }) });
    assert.equal(add.status, 200, await add.text());
  } finally {
    await server.close();
  }
  const { spec, vectors } = await stored(dir, 'notes', ['a', 'b']);
  assert.equal(spec.model, 'mini');
  assert.equal(spec.source, tiny.dir);
  const enc = await openEncoder(spec, { dbDir: dir, threads: 1, modality: 'text' });
  try {
    assert.equal(enc.spec.model, 'mini');
    const again = batchRows(await enc.encode(['sea ship', 'bread']));
    assertClose(again[0]!, vectors[0]!);
    assertClose(again[1]!, vectors[1]!);
  } finally {
    await enc.close();
  }

  // A spec naming a hub id, with no source: the model comes from the cache (no network).
  cpSync(tiny.dir, hubModelFolder('acme/tiny'), { recursive: true });
  const hub = await openEncoder({ model: 'acme/tiny', dim: 3 }, { dbDir: dir, threads: 1, modality: 'text' });
  try {
    assert.equal(hub.spec.model, 'acme/tiny');
    assert.equal(hub.spec.source, 'acme/tiny');
    assertClose(batchRows(await hub.encode(['bread']))[0]!, vectors[1]!);
  } finally {
    await hub.close();
  }
});
