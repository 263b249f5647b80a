import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { Database } from '../db/database.js';
import type { Metric } from '../vector/metric.js';
import { Random } from '../vector/random.js';
import { diversity, histogramPng, histogramSvg, pairStatistics } from './diversity.js';
import { withDatabase, hasCode } from '../../test/helpers/assertions.js';

const withDb = (fn: (db: Database) => Promise<void>): Promise<void> => withDatabase('omnivec-diversity-', fn);

const code = hasCode;

function gaussian(n: number, dim: number, seed: number, shift = 0): Float32Array[] {
  const rng = new Random(seed);
  return Array.from({ length: n }, () => Float32Array.from({ length: dim }, (_, j) => rng.gaussian() + (j === 0 ? shift : 0)));
}

function cos(a: Float32Array, b: Float32Array): number {
  let s = 0, na = 0, nb = 0;
  for (let j = 0; j < a.length; j++) { s += a[j]! * b[j]!; na += a[j]! ** 2; nb += b[j]! ** 2; }
  return s / Math.sqrt(na * nb);
}

test('mean pairwise distance and the similarity figures equal a brute-force double loop (l2, cosine, ip)', async () => {
  await withDb(async (db) => {
    const vs = gaussian(150, 5, 1, 0.7);
    for (const metric of ['l2', 'cosine', 'ip'] as Metric[]) {
      const c = await db.createCollection({ name: `d-${metric}`, dim: 5, metric });
      await c.add({ ids: vs.map((_, i) => `v${i}`), vectors: vs });
      const r = await diversity(c, { bins: 10 });
      let sumD = 0, sumS = 0, sumS2 = 0, pairs = 0;
      const counts = new Array<number>(10).fill(0);
      for (let i = 0; i < vs.length; i++) {
        for (let j = i + 1; j < vs.length; j++) {
          const a = vs[i]!, b = vs[j]!;
          let d = 0;
          if (metric === 'l2') for (let x = 0; x < 5; x++) d += (a[x]! - b[x]!) ** 2;
          else if (metric === 'cosine') d = 1 - cos(a, b);
          else { for (let x = 0; x < 5; x++) d += a[x]! * b[x]!; d = 1 - d; }
          const s = cos(a, b);
          sumD += d; sumS += s; sumS2 += s * s; pairs++;
          counts[Math.min(9, Math.floor(((s + 1) / 2) * 10))]!++;
        }
      }
      assert.equal(r.n, 150);
      assert.deepEqual(r.pairs, { exact: true, count: pairs });
      assert.ok(Math.abs(r.meanDistance - sumD / pairs) < 1e-4 * Math.max(1, Math.abs(sumD / pairs)), `${metric}: ${r.meanDistance} vs ${sumD / pairs}`);
      assert.ok(Math.abs(r.similarity.mean - sumS / pairs) < 1e-5);
      assert.ok(Math.abs(r.similarity.std - Math.sqrt(sumS2 / pairs - (sumS / pairs) ** 2)) < 1e-4);
      assert.deepEqual(r.similarity.histogram.counts, counts);
      assert.equal(r.similarity.histogram.edges.length, 11);
      assert.equal(r.similarity.histogram.edges[0], -1);
      assert.equal(r.similarity.histogram.edges[10], 1);
    }
  });
});

test('identical points: every similarity in the last bin; above 2,000 records the pairs are a seeded sample', () => {
  const v = new Float32Array(40 * 3);
  for (let i = 0; i < 40; i++) v.set([1, 2, 3], i * 3);
  const r = pairStatistics(v, 3, 'cosine', { bins: 20 });
  assert.equal(r.similarity.histogram.counts[19], 40 * 39 / 2);
  assert.equal(r.similarity.histogram.counts.slice(0, 19).reduce((a, b) => a + b, 0), 0);
  assert.ok(Math.abs(r.meanDistance) < 1e-6);
  const big = new Float32Array(2500 * 4);
  const rng = new Random(3);
  for (let i = 0; i < big.length; i++) big[i] = rng.gaussian();
  const a = pairStatistics(big, 4, 'l2', { seed: 5 });
  const b = pairStatistics(big, 4, 'l2', { seed: 5 });
  assert.deepEqual(a.pairs, { exact: false, count: 200_000 });
  assert.deepEqual(a, b);
  // E‖x − y‖² = 2 · dim for standard normal rows.
  assert.ok(Math.abs(a.meanDistance - 8) < 0.15, `${a.meanDistance}`);
});

test('coverage: 1 for the whole set as subset, about half for one cluster of two; radius defaults to the median NN distance', async () => {
  await withDb(async (db) => {
    const left = gaussian(60, 3, 2, -20);
    const right = gaussian(60, 3, 3, 20);
    const all = [...left, ...right];
    const c = await db.createCollection({ name: 'two', dim: 3, metric: 'l2' });
    const ids = all.map((_, i) => `p${String(i).padStart(3, '0')}`);
    await c.add({ ids, vectors: all, metadatas: all.map((_, i) => ({ side: i < 60 ? 'left' : 'right' })) });
    const whole = await diversity(c, { subset: { ids } });
    assert.equal(whole.coverage!.covered, 1);
    assert.equal(whole.coverage!.meanDistance, 0);
    assert.equal(whole.coverage!.subset, 120);
    // The radius: the median over records of the squared distance to the nearest other record.
    const nn = all.map((a, i) => Math.min(...all.filter((_, j) => j !== i).map((b) => (a[0]! - b[0]!) ** 2 + (a[1]! - b[1]!) ** 2 + (a[2]! - b[2]!) ** 2))).sort((x, y) => x - y);
    assert.ok(Math.abs(whole.coverage!.radius - (nn[59]! + nn[60]!) / 2) < 1e-3);
    assert.equal(whole.coverage!.radiusFrom, 'median nearest-neighbour distance');
    const one = await diversity(c, { subset: { where: { side: 'left' } } });
    assert.equal(one.coverage!.subset, 60);
    assert.equal(one.coverage!.covered, 0.5, 'the left cluster covers itself, none of the far right cluster');
    assert.ok(one.coverage!.meanDistance > 100);
    const byIds = await diversity(c, { subset: { ids: ids.slice(0, 60) } });
    assert.deepEqual(byIds.coverage!.covered, one.coverage!.covered);
    assert.ok(Math.abs(byIds.coverage!.meanDistance - one.coverage!.meanDistance) < 1e-2);
    const wide = await diversity(c, { subset: { ids: ids.slice(0, 60) }, radius: 1e6 });
    assert.equal(wide.coverage!.covered, 1);
    assert.equal(wide.coverage!.radiusFrom, 'given');
    await assert.rejects(diversity(c, { subset: { ids: ['p000', 'nope'] } }), (e: unknown) => code('not_found')(e) && /"nope"/.test((e as Error).message));
    await assert.rejects(diversity(c, { subset: { where: { side: 'up' } } }), code('empty_index'));
    await assert.rejects(diversity(c, { bins: 0 }), code('invalid_argument'));
    const empty = await db.createCollection({ name: 'empty', dim: 3 });
    await assert.rejects(diversity(empty), code('empty_index'));
  });
});

test('histogramSvg / histogramPng draw the bars', async () => {
  const h = { edges: [-1, -0.5, 0, 0.5, 1], counts: [1, 5, 9, 2] };
  const svg = histogramSvg(h, { title: 'pairs <of> vectors' });
  assert.ok(svg.startsWith('<svg'));
  assert.equal((svg.match(/<rect x=/g) ?? []).length, 4);
  assert.ok(svg.includes('pairs &#60;of&#62; vectors'));
  const png = await histogramPng(h);
  const meta = await sharp(png).metadata();
  assert.equal(meta.format, 'png');
  assert.equal(meta.width, 800);
  assert.throws(() => histogramSvg({ edges: [0], counts: [1] }), code('invalid_argument'));
});
