import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../db/database.js';
import { Random } from '../vector/random.js';
import { dedupe } from './dedupe.js';
import { withDatabase } from '../../test/helpers/assertions.js';

const withDb = (fn: (db: Database) => Promise<void>): Promise<void> => withDatabase('omnivec-dedupe-', fn);

/**
 * 300 random unit-ish vectors in 32-d (pairwise cosine ≈ 0 ± 0.2), plus planted near-copies:
 * a group of three (a, a~1, a~2), a chain pair and an exact copy.
 */
function planted(dim = 32): { ids: string[]; data: Float32Array; groups: string[][] } {
  const rng = new Random(4);
  const base = 300;
  const rows: number[][] = [];
  const ids: string[] = [];
  for (let i = 0; i < base; i++) {
    rows.push(Array.from({ length: dim }, () => rng.gaussian()));
    ids.push(`x${String(i).padStart(3, '0')}`);
  }
  const near = (src: number, noise: number): number[] => rows[src]!.map((v) => v + noise * rng.gaussian());
  rows.push(near(10, 0.05)); ids.push('x010~1');
  rows.push(near(10, 0.05)); ids.push('x010~2');
  rows.push(near(50, 0.05)); ids.push('x050~1');
  rows.push([...rows[70]!]); ids.push('x070=copy');
  return {
    ids,
    data: Float32Array.from(rows.flat()),
    groups: [['x010', 'x010~1', 'x010~2'], ['x050', 'x050~1'], ['x070', 'x070=copy']],
  };
}

function cos(a: Float32Array, b: Float32Array): number {
  let s = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) { s += a[i]! * b[i]!; na += a[i]! ** 2; nb += b[i]! ** 2; }
  return s / Math.sqrt(na * nb);
}

test('cosine: planted near-copies found exactly, groups right, no false pairs; every pair above the threshold against brute force', async () => {
  await withDb(async (db) => {
    const { ids, data, groups } = planted();
    const c = await db.createCollection({ name: 'd', dim: 32, metric: 'cosine' });
    await c.add({ ids, vectors: data });
    const r = await dedupe(c, { threshold: 0.95 });
    assert.deepEqual(r.groups, groups);
    const want = new Set(['x010 x010~1', 'x010 x010~2', 'x010~1 x010~2', 'x050 x050~1', 'x070 x070=copy']);
    assert.deepEqual(new Set(r.pairs.map((p) => `${p.a} ${p.b}`)), want);
    for (const p of r.pairs) {
      assert.ok(p.a < p.b);
      const sim = cos(data.subarray(ids.indexOf(p.a) * 32, ids.indexOf(p.a) * 32 + 32), data.subarray(ids.indexOf(p.b) * 32, ids.indexOf(p.b) * 32 + 32));
      assert.ok(Math.abs(p.similarity! - sim) < 1e-5, `${p.a} ${p.b}: ${p.similarity} vs ${sim}`);
      assert.equal(p.distance, undefined);
    }
    assert.equal(r.pairs[0]!.a, 'x070', 'the exact copy first (highest similarity)');
    // Brute force: every pair with cosine ≥ 0.95 is reported, and only those.
    let above = 0;
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) {
        if (cos(data.subarray(i * 32, i * 32 + 32), data.subarray(j * 32, j * 32 + 32)) >= 0.95) above++;
      }
    }
    assert.equal(above, r.pairs.length);
    // A higher threshold keeps only the exact copy.
    const strict = await dedupe(c, { threshold: 0.99999 });
    assert.deepEqual(strict.groups, [['x070', 'x070=copy']]);
  });
});

test('l2: maxDistance; a group larger than k + 1 found whole through its chain', async () => {
  await withDb(async (db) => {
    const c = await db.createCollection({ name: 'l', dim: 2, metric: 'l2' });
    // A line of 6 points 0.1 apart (a chain), and far singletons.
    const rows = [[0, 0], [0.1, 0], [0.2, 0], [0.3, 0], [0.4, 0], [0.5, 0], [10, 10], [20, 0], [0, 20]];
    const ids = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 's1', 's2', 's3'];
    await c.add({ ids, vectors: rows });
    const r = await dedupe(c, { maxDistance: 0.15, k: 2 });
    assert.deepEqual(r.groups, [['c0', 'c1', 'c2', 'c3', 'c4', 'c5']]);
    assert.equal(r.pairs.length, 5);
    for (const p of r.pairs) assert.ok(Math.abs(p.distance! - 0.1) < 1e-5 && p.similarity === undefined);
    assert.deepEqual((await dedupe(c, { maxDistance: 0.05 })).pairs, []);
    await assert.rejects(dedupe(c, {}), (e: Error & { code?: string }) => e.code === 'invalid_argument' && /maxDistance/.test(e.message));
    await assert.rejects(dedupe(c, { threshold: 0.9 }), { code: 'invalid_argument' });
    await assert.rejects(dedupe(c, { maxDistance: -1 }), { code: 'invalid_argument' });
  });
});

test('errors: k larger than the records, empty collection, filter matching nothing', async () => {
  await withDb(async (db) => {
    const c = await db.createCollection({ name: 'e', dim: 3, metric: 'cosine' });
    await assert.rejects(dedupe(c), { code: 'empty_index' });
    await c.add({ ids: ['a', 'b', 'c'], vectors: [[1, 0, 0], [1, 0.01, 0], [0, 1, 0]], metadatas: [{ t: 1 }, { t: 1 }, { t: 2 }] });
    await assert.rejects(dedupe(c, { k: 3 }), (e: Error & { code?: string }) => e.code === 'invalid_argument' && /3 records/.test(e.message));
    await assert.rejects(dedupe(c, { where: { t: 9 } }), { code: 'empty_index' });
    await assert.rejects(dedupe(c, { maxDistance: 0.1 }), { code: 'invalid_argument' });
    await assert.rejects(dedupe(c, { threshold: Number.NaN }), { code: 'invalid_argument' });
    assert.deepEqual((await dedupe(c, { where: { t: 1 } })).groups, [['a', 'b']]);
  });
});
