import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '../vector/random.js';
import {
  openRecords, writeWord2vec, writeJsonl, writeCsv, writeNpy, writeFvecs, writeProjector, type ImportRecord, type ReadOptions,
} from './index.js';

function tmp(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-io-stream-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function records(n: number, dim: number, seed: number): ImportRecord[] {
  const rng = new Random(seed);
  return Array.from({ length: n }, (_, i) => {
    const vector = new Float32Array(dim);
    for (let j = 0; j < dim; j++) vector[j] = rng.gaussian();
    return { id: `word${i}`, vector };
  });
}

async function readAll(path: string, options?: ReadOptions): Promise<ImportRecord[]> {
  const out: ImportRecord[] = [];
  for await (const r of (await openRecords(path, options)).records) out.push(r);
  return out;
}

test('a 3 MB word2vec file streams through 64 KB blocks (text and binary), boundaries anywhere', async (t) => {
  const dir = tmp(t);
  const recs = records(1500, 200, 11);
  for (const binary of [false, true]) {
    const path = join(dir, binary ? 'big.bin' : 'big.vec');
    await writeWord2vec(path, recs, { binary, count: recs.length, dim: 200 });
    assert.ok(statSync(path).size > (binary ? 1.2e6 : 3e6), `${statSync(path).size} bytes`);
    const back = await readAll(path, { blockSize: 64 * 1024 });
    assert.equal(back.length, 1500);
    assert.deepStrictEqual(back, recs);
  }
});

test('every reader gives the same records with tiny blocks (17, 64 bytes) as with the default', async (t) => {
  const dir = tmp(t);
  const recs = records(40, 13, 12).map((r, i) => ({
    ...r, document: i % 4 === 0 ? `a "quoted", multi\nline document ${i} ${'x'.repeat(i * 3)}` : `doc ${i}`, metadata: { i, tag: `t${i % 5}` },
  }));
  const files: [string, ReadOptions][] = [];
  const add = async (name: string, write: (p: string) => Promise<unknown>, options: ReadOptions = {}): Promise<void> => {
    const p = join(dir, name);
    await write(p);
    files.push([p, options]);
  };
  await add('r.jsonl', (p) => writeJsonl(p, recs));
  await add('r.csv', (p) => writeCsv(p, recs));
  await add('r.npy', (p) => writeNpy(p, recs));
  await add('r.fvecs', (p) => writeFvecs(p, { data: Float32Array.from(recs.flatMap((r) => [...r.vector])), dim: 13, count: 40 }));
  await add('r.vec', (p) => writeWord2vec(p, recs, { binary: false, count: 40, dim: 13 }));
  await add('r.bin', (p) => writeWord2vec(p, recs, { binary: true, count: 40, dim: 13 }));
  await add('vectors.tsv', (p) => writeProjector(p, join(dir, 'metadata.tsv'), recs), { metadataPath: join(dir, 'metadata.tsv') });
  for (const [path, options] of files) {
    const whole = await readAll(path, options);
    assert.equal(whole.length, 40, path);
    for (const blockSize of [17, 64]) {
      assert.deepStrictEqual(await readAll(path, { ...options, blockSize }), whole, `${path} with ${blockSize}-byte blocks`);
    }
  }
});

test('a line longer than the block grows the buffer; a CSV cell spans many blocks', async (t) => {
  const dir = tmp(t);
  const rng = new Random(13);
  const long = Float32Array.from({ length: 20000 }, () => rng.gaussian());
  const path = join(dir, 'long.jsonl');
  await writeJsonl(path, [{ id: 'a', vector: long }, { id: 'b', vector: long.map((x) => -x) }]);
  const back = await readAll(path, { blockSize: 1024 });
  assert.deepStrictEqual(back.map((r) => r.id), ['a', 'b']);
  assert.deepStrictEqual(back[0]!.vector, long);
  const csv = join(dir, 'cell.csv');
  const doc = Array.from({ length: 300 }, (_, i) => `line ${i}, with "quotes"`).join('\n');
  writeFileSync(csv, `id,document,vector\nx,"${doc.replace(/"/g, '""')}",1 2\ny,short,3 4\n`);
  const rows = await readAll(csv, { blockSize: 100 });
  assert.deepStrictEqual(rows, [
    { id: 'x', vector: Float32Array.of(1, 2), document: doc },
    { id: 'y', vector: Float32Array.of(3, 4), document: 'short' },
  ]);
});

const REAL = '/work/shared/data/word-vectors-word2vec-1k/wordvecs1000.vec';

test('the real word2vec file: 1000 × 300 GoogleNews vectors, read in place', { skip: !existsSync(REAL) && `${REAL} not present` }, async (t) => {
  const opened = await openRecords(REAL);
  assert.deepStrictEqual([opened.format, opened.dim, opened.count], ['word2vec', 300, 1000]);
  const recs: ImportRecord[] = [];
  for await (const r of opened.records) recs.push(r);
  assert.equal(recs.length, 1000);
  assert.deepStrictEqual(recs.slice(0, 6).map((r) => r.id), ['in', 'for', 'that', 'is', 'on', 'the']);
  assert.equal(recs[0]!.vector[0], Math.fround(0.052956));
  assert.equal(recs[0]!.vector[1], Math.fround(0.06546));
  assert.equal(recs[999]!.id, 'iike');
  assert.equal(recs[999]!.vector[299], Math.fround(0.018408));
  assert.equal(new Set(recs.map((r) => r.id)).size, 1000);
  for (const r of recs) {
    assert.equal(r.vector.length, 300);
    let norm = 0;
    for (const x of r.vector) norm += x * x;
    assert.ok(Math.abs(Math.sqrt(norm) - 1) < 1e-4, `${r.id}: norm ${Math.sqrt(norm)}`);
  }
  // king - man + woman is nearest to queen (besides king itself).
  const byId = new Map(recs.map((r) => [r.id, r.vector]));
  if (byId.has('king') && byId.has('queen')) {
    const q = byId.get('king')!.map((x, j) => x - byId.get('man')![j]! + byId.get('woman')![j]!);
    const best = recs.filter((r) => !['king', 'man', 'woman'].includes(r.id))
      .map((r) => ({ id: r.id, s: r.vector.reduce((s, x, j) => s + x * q[j]!, 0) }))
      .sort((a, b) => b.s - a.s)[0]!;
    assert.equal(best.id, 'queen');
  }
  // Re-written as binary and read back: the same records.
  const dir = tmp(t);
  const bin = join(dir, 'wordvecs1000.bin');
  await writeWord2vec(bin, recs, { binary: true, count: 1000, dim: 300 });
  assert.deepStrictEqual(await readAll(bin), recs);
  assert.deepStrictEqual(await readAll(REAL, { blockSize: 4096, limit: 10 }), recs.slice(0, 10));
});

test('fvecs records in batches (BATCHES) equal the record-by-record stream, with limit, tiny blocks and a truncated file', async (t) => {
  const { BATCHES } = await import('./common.js');
  const dir = tmp(t);
  const path = join(dir, 'b.fvecs');
  const recs = records(10_000, 12, 4);
  await writeFvecs(path, { data: Float32Array.from(recs.flatMap((r) => Array.from(r.vector))), dim: 12, count: recs.length });
  for (const options of [{}, { limit: 5000 }, { blockSize: 17 }, { limit: 4097, blockSize: 64 }, { idPrefix: 'v' }] as ReadOptions[]) {
    const opened = await openRecords(path, options);
    const batches: ImportRecord[] = [];
    for await (const b of (opened.records as unknown as Record<symbol, () => AsyncIterable<ImportRecord[]>>)[BATCHES]!()) batches.push(...b);
    assert.deepEqual(batches, await readAll(path, options), JSON.stringify(options));
  }
  await writeFvecs(path, { data: Float32Array.from(recs.slice(0, 5000).flatMap((r) => Array.from(r.vector))), dim: 12, count: 5000 });
  const { readFileSync } = await import('node:fs');
  writeFileSync(path, readFileSync(path).subarray(0, 4999 * 52 + 30)); // the last row cut short
  const opened = await openRecords(path);
  await assert.rejects(async () => {
    for await (const b of (opened.records as unknown as Record<symbol, () => AsyncIterable<ImportRecord[]>>)[BATCHES]!()) void b;
  }, /truncated/);
});
