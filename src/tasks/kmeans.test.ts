import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitKMeans, silhouetteScore } from './kmeans.js';
import { nmi, purity } from './metrics.js';
import { blobs } from '../../test/helpers/blobs.js';

test('nmi and purity against hand-computed values', () => {
  // Identical up to renaming: both 1.
  assert.equal(nmi([0, 0, 1, 1], ['b', 'b', 'a', 'a']), 1);
  assert.equal(purity([0, 0, 1, 1], ['b', 'b', 'a', 'a']), 1);
  // Independent: clusters {0,1},{2,3} against classes {0,2},{1,3}: I = 0.
  assert.ok(Math.abs(nmi([0, 0, 1, 1], [0, 1, 0, 1])) < 1e-12);
  assert.equal(purity([0, 0, 1, 1], [0, 1, 0, 1]), 0.5);
  // clusters A = {x, x, y}, B = {y, y, y}: purity (2 + 3) / 6.
  const cl = [0, 0, 0, 1, 1, 1];
  const cs = ['x', 'x', 'y', 'y', 'y', 'y'];
  assert.ok(Math.abs(purity(cl, cs) - 5 / 6) < 1e-12);
  // By hand: H(clusters) = ln 2; H(classes) = −(1/3 ln 1/3 + 2/3 ln 2/3);
  // I = Σ p(i,j) ln(p(i,j) / (p(i) p(j))) = 2/6 ln((2/6)/(1/2 · 1/3)) + 1/6 ln((1/6)/(1/2 · 2/3)) + 3/6 ln((3/6)/(1/2 · 2/3)).
  const hU = Math.log(2);
  const hV = -(1 / 3 * Math.log(1 / 3) + 2 / 3 * Math.log(2 / 3));
  const mi = 2 / 6 * Math.log((2 / 6) / (1 / 6)) + 1 / 6 * Math.log((1 / 6) / (1 / 3)) + 3 / 6 * Math.log((3 / 6) / (1 / 3));
  assert.ok(Math.abs(nmi(cl, cs) - mi / ((hU + hV) / 2)) < 1e-12, `nmi ${nmi(cl, cs)} vs ${mi / ((hU + hV) / 2)}`);
  // Symmetric.
  assert.ok(Math.abs(nmi(cl, cs) - nmi(cs, cl)) < 1e-12);
  // Single class on both sides: 1 (scikit-learn's convention); one side constant: 0.
  assert.equal(nmi([3, 3, 3], [1, 1, 1]), 1);
  assert.equal(nmi([3, 3, 3], [1, 2, 1]), 0);
  assert.throws(() => nmi([1, 2], [1]), { code: 'invalid_argument' });
});

for (const method of ['kmeans', 'minibatch'] as const) {
  for (const spherical of [false, true]) {
    test(`${method}${spherical ? ' (spherical)' : ''} recovers well-separated seeded clusters exactly`, () => {
      const { batch, classes } = blobs(6, 150, 16, 7, spherical ? 0.03 : 0.4, spherical);
      const fit = fitKMeans(batch, { k: 6, method, spherical, seed: 3, batchSize: 128 });
      assert.equal(nmi(fit.labels, classes), 1);
      assert.equal(purity(fit.labels, classes), 1);
      assert.deepEqual([...fit.sizes].sort(), [150, 150, 150, 150, 150, 150]);
      assert.equal(fit.centroids.length, 6 * 16);
      if (spherical) {
        for (let c = 0; c < 6; c++) {
          let s = 0;
          for (let j = 0; j < 16; j++) s += fit.centroids[c * 16 + j]! ** 2;
          assert.ok(Math.abs(s - 1) < 1e-5, 'spherical centroids are unit');
        }
      }
    });
  }
}

test('inertia is the sum of distances to the own centroid; same seed, same answer', () => {
  const { batch } = blobs(4, 50, 8, 11, 2);
  const a = fitKMeans(batch, { k: 4, seed: 9 });
  const b = fitKMeans(batch, { k: 4, seed: 9 });
  assert.deepEqual(a.labels, b.labels);
  assert.deepEqual(a.centroids, b.centroids);
  assert.equal(a.inertia, b.inertia);
  let inertia = 0;
  for (let i = 0; i < batch.count; i++) {
    const c = a.labels[i]!;
    for (let j = 0; j < 8; j++) inertia += (batch.data[i * 8 + j]! - a.centroids[c * 8 + j]!) ** 2;
  }
  assert.ok(Math.abs(inertia - a.inertia) / inertia < 1e-4, `${inertia} vs ${a.inertia}`);
  // Every point sits at its nearest centroid (Lloyd's fixed point).
  for (let i = 0; i < batch.count; i++) {
    let best = Infinity;
    let arg = -1;
    for (let c = 0; c < 4; c++) {
      let d = 0;
      for (let j = 0; j < 8; j++) d += (batch.data[i * 8 + j]! - a.centroids[c * 8 + j]!) ** 2;
      if (d < best) { best = d; arg = c; }
    }
    assert.equal(a.labels[i], arg);
  }
  const mb1 = fitKMeans(batch, { k: 4, seed: 9, method: 'minibatch', batchSize: 32 });
  const mb2 = fitKMeans(batch, { k: 4, seed: 9, method: 'minibatch', batchSize: 32 });
  assert.deepEqual(mb1.labels, mb2.labels);
});

test('k-means++ inertia is never above the random-init baseline', () => {
  // Many small clusters: random seeds often put two centres in one cluster and leave one empty-handed.
  const { batch } = blobs(12, 30, 4, 5, 0.5);
  for (let seed = 1; seed <= 6; seed++) {
    const plus = fitKMeans(batch, { k: 12, seed, nInit: 1 });
    const random = fitKMeans(batch, { k: 12, seed, nInit: 1, init: 'random' });
    assert.ok(plus.inertia <= random.inertia * (1 + 1e-9), `seed ${seed}: k-means++ ${plus.inertia} > random ${random.inertia}`);
  }
});

test('silhouette: high on separated blobs, best at the true k; a brute-force oracle on a tiny set', () => {
  const { batch, classes } = blobs(4, 80, 8, 21, 0.4);
  const s = silhouetteScore(batch, classes);
  assert.ok(s > 0.8, `silhouette ${s}`);
  const scores = [2, 3, 4, 5, 6].map((k) => silhouetteScore(batch, fitKMeans(batch, { k, seed: 1 }).labels));
  assert.equal(scores.indexOf(Math.max(...scores)) + 2, 4, `silhouettes ${scores.join(', ')}`);
  // Brute force on a tiny set: a = mean within, b = nearest other cluster's mean.
  const pts = [[0, 0], [0, 1], [5, 0], [5, 2], [6, 1]];
  const lab = [0, 0, 1, 1, 1];
  const d = (p: number[], q: number[]): number => Math.hypot(p[0]! - q[0]!, p[1]! - q[1]!);
  let want = 0;
  for (let i = 0; i < 5; i++) {
    const mean = (c: number): number => {
      const others = pts.filter((_, j) => lab[j] === c && j !== i);
      return others.reduce((acc, q) => acc + d(pts[i]!, q), 0) / others.length;
    };
    const a = mean(lab[i]!);
    const b = mean(1 - lab[i]!);
    want += (b - a) / Math.max(a, b);
  }
  const got = silhouetteScore({ data: Float32Array.from(pts.flat()), dim: 2, count: 5 }, lab);
  assert.ok(Math.abs(got - want / 5) < 1e-6, `${got} vs ${want / 5}`);
});

test('bad input: typed errors', () => {
  const { batch } = blobs(2, 5, 3, 1);
  assert.throws(() => fitKMeans(batch, { k: 11 }), (e: Error & { code?: string }) => e.code === 'invalid_argument' && /11.*10/.test(e.message));
  assert.throws(() => fitKMeans(batch, { k: 0 }), { code: 'invalid_argument' });
  assert.throws(() => fitKMeans(batch, { k: 2, method: 'lloyd' as never }), { code: 'invalid_argument' });
  assert.throws(() => fitKMeans({ data: new Float32Array(0), dim: 3, count: 0 }, { k: 1 }), { code: 'empty_index' });
  assert.throws(() => fitKMeans(batch, { k: 2, tol: -1 }), { code: 'invalid_argument' });
  // k = n: every point its own cluster, inertia 0.
  const all = fitKMeans(batch, { k: 10 });
  assert.equal(all.inertia, 0);
  assert.deepEqual([...all.sizes], new Array(10).fill(1));
});
