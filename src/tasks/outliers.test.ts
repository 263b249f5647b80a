import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../db/database.js';
import { Random } from '../vector/random.js';
import type { Metric } from '../vector/metric.js';
import { outliers } from './outliers.js';
import { selectRecords } from './common.js';
import { exactNeighbours, selectionNeighbours } from './neighbours.js';
import { withDatabase } from '../../test/helpers/assertions.js';

const withDb = (fn: (db: Database) => Promise<void>): Promise<void> => withDatabase('omnivec-outliers-', fn);

const ids = (n: number, prefix = 'r'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);

/** Brute-force LOF (Breunig et al. 2000) with exactly k neighbours, Euclidean: the oracle. */
function bruteLof(pts: number[][], k: number): number[] {
  const n = pts.length;
  const d = (i: number, j: number): number => Math.sqrt(pts[i]!.reduce((s, v, t) => s + (v - pts[j]![t]!) ** 2, 0));
  const knn = pts.map((_, i) => Array.from({ length: n }, (_, j) => j).filter((j) => j !== i).sort((a, b) => d(i, a) - d(i, b) || a - b).slice(0, k));
  const kdist = knn.map((nb, i) => d(i, nb[k - 1]!));
  const lrd = knn.map((nb, i) => 1 / (nb.reduce((s, o) => s + Math.max(kdist[o]!, d(i, o)), 0) / k + 1e-10));
  return knn.map((nb, i) => nb.reduce((s, o) => s + lrd[o]!, 0) / k / lrd[i]!);
}

test('planted far points rank at the top (knn and lof, l2 and cosine)', async () => {
  await withDb(async (db) => {
    for (const metric of ['l2', 'cosine'] as Metric[]) {
      const rng = new Random(5);
      const dim = 8;
      const n = 400;
      const data = new Float32Array(n * dim);
      // Two dense clusters (different densities), and 5 planted points far from both.
      for (let i = 0; i < n; i++) {
        const far = i >= n - 5;
        for (let j = 0; j < dim; j++) {
          const centre = far ? (j === (i % dim) ? -6 : 0) : (i % 2 === 0 ? 4 : (j === 1 ? 4 : 0));
          const spread = far ? 0.2 : i % 2 === 0 ? 0.3 : 0.8;
          data[i * dim + j] = centre + spread * rng.gaussian() + (metric === 'cosine' && j === 0 ? 0 : 0);
        }
      }
      const c = await db.createCollection({ name: `o-${metric}`, dim, metric });
      const all = ids(n);
      await c.add({ ids: all, vectors: data });
      const planted = all.slice(n - 5).sort();
      for (const method of ['knn', 'lof'] as const) {
        const top = await outliers(c, { method, k: 10, top: 5 });
        assert.deepEqual(top.map((o) => o.id).sort(), planted, `${metric} ${method}: ${JSON.stringify(top)}`);
        for (let i = 1; i < top.length; i++) assert.ok(top[i - 1]!.score >= top[i]!.score);
      }
      // Default top 20; threshold keeps those above it.
      assert.equal((await outliers(c, {})).length, 20);
      const lof = await outliers(c, { method: 'lof', threshold: 1.5 });
      assert.ok(lof.every((o) => o.score > 1.5));
      assert.ok(planted.every((id) => lof.some((o) => o.id === id)));
    }
  });
});

test('LOF ≈ 1 inside a uniform cluster; equal to a brute-force LOF; knn score = √ of the k-th l2', async () => {
  await withDb(async (db) => {
    const rng = new Random(9);
    const pts: number[][] = [];
    // A 12 × 12 grid (jittered a little) and one point off the grid.
    for (let x = 0; x < 12; x++) for (let y = 0; y < 12; y++) pts.push([x + 0.01 * rng.gaussian(), y + 0.01 * rng.gaussian()]);
    pts.push([20, 20]);
    const c = await db.createCollection({ name: 'grid', dim: 2, metric: 'l2' });
    const all = ids(pts.length);
    await c.add({ ids: all, vectors: pts });
    const k = 8;
    const lof = await outliers(c, { method: 'lof', k, top: pts.length });
    const want = bruteLof(pts, k);
    const byId = new Map(lof.map((o) => [o.id, o.score]));
    for (let i = 0; i < pts.length; i++) assert.ok(Math.abs(byId.get(all[i]!)! - want[i]!) < 1e-3 * want[i]!, `${i}: ${byId.get(all[i]!)} vs ${want[i]}`);
    assert.equal(lof[0]!.id, all[pts.length - 1]);
    // Interior grid points (away from the border, where density is even): LOF ≈ 1.
    for (let x = 3; x < 9; x++) {
      for (let y = 3; y < 9; y++) {
        const s = byId.get(all[x * 12 + y]!)!;
        assert.ok(Math.abs(s - 1) < 0.1, `interior (${x}, ${y}): LOF ${s}`);
      }
    }
    const knn = await outliers(c, { method: 'knn', k: 1, top: 1 });
    assert.equal(knn[0]!.id, all[pts.length - 1]);
    const dx = 20 - pts[143]![0]!;
    const dy = 20 - pts[143]![1]!;
    assert.ok(Math.abs(knn[0]!.score - Math.hypot(dx, dy)) < 1e-3);
  });
});

test('neighbours through the index (over EXACT_LIMIT) agree with exact ones; a sample cut is completed exactly', async () => {
  await withDb(async (db) => {
    const rng = new Random(3);
    const n = 5200;
    const dim = 6;
    const data = new Float32Array(n * dim);
    for (let i = 0; i < data.length; i++) data[i] = rng.gaussian();
    for (const metric of ['l2', 'cosine'] as Metric[]) {
      const c = await db.createCollection({ name: `big-${metric}`, dim, metric, index: 'flat' });
      await c.add({ ids: ids(n), vectors: data });
      const sel = await selectRecords(c);
      const viaIndex = await selectionNeighbours(c, sel, 5, undefined);
      const exact = exactNeighbours(sel, 5);
      let same = 0;
      for (let i = 0; i < n * 5; i++) if (viaIndex.index[i] === exact.index[i]) same++;
      assert.ok(same / (n * 5) > 0.999, `agreement ${same / (n * 5)}`);
      for (let i = 0; i < n * 5; i++) assert.ok(Math.abs(viaIndex.distances[i]! - exact.distances[i]!) < 1e-3);
      // A sample of 5100: neighbours outside it are dropped and the short rows recomputed.
      const part = await selectRecords(c, { sample: 5100 });
      const a = await selectionNeighbours(c, part, 5, undefined);
      const b = exactNeighbours(part, 5);
      for (let i = 0; i < 5100 * 5; i++) assert.ok(Math.abs(a.distances[i]! - b.distances[i]!) < 1e-3, `row ${Math.floor(i / 5)}`);
      assert.ok(a.index.every((j) => j >= 0 && j < 5100));
    }
  });
});

test('errors: k larger than the records, empty collection, filter matching nothing, bad options', async () => {
  await withDb(async (db) => {
    const c = await db.createCollection({ name: 'few', dim: 2, metric: 'l2' });
    await assert.rejects(outliers(c), { code: 'empty_index' });
    await c.add({ ids: ids(5), vectors: [[0, 0], [1, 0], [0, 1], [1, 1], [5, 5]] });
    await assert.rejects(outliers(c, { k: 5 }), (e: Error & { code?: string }) => e.code === 'invalid_argument' && /5 records/.test(e.message) && /k = 4/.test(e.message));
    await assert.rejects(outliers(c, { where: { missing: 1 } }), { code: 'empty_index' });
    await assert.rejects(outliers(c, { method: 'iforest' as never }), { code: 'invalid_argument' });
    await assert.rejects(outliers(c, { top: 0 }), { code: 'invalid_argument' });
    await assert.rejects(outliers(c, { threshold: Number.NaN }), { code: 'invalid_argument' });
    // Default k shrinks to n − 1 on a small collection.
    assert.equal((await outliers(c)).length, 5);
    assert.equal((await outliers(c, { k: 2 }))[0]!.id, 'r00004');
  });
});
