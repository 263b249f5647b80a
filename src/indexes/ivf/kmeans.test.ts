import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OmnivecError } from '../../errors.js';
import { Random } from '../../vector/random.js';
import type { VectorBatch } from '../../vector/batch.js';
import { kmeans } from './kmeans.js';
import { parallelThresholds } from '../flat/flat-index.js';

/** `clusters` centres 20 apart per axis on average, `per` points each within ±0.05: no ambiguity. */
function separated(seed: number, clusters: number, per: number, dim: number): { data: VectorBatch; label: Int32Array } {
  const rng = new Random(seed);
  const centres = new Float32Array(clusters * dim).map(() => rng.gaussian() * 20);
  const data = new Float32Array(clusters * per * dim);
  const label = new Int32Array(clusters * per);
  for (let i = 0; i < clusters * per; i++) {
    const c = rng.int(clusters);
    label[i] = c;
    for (let j = 0; j < dim; j++) data[i * dim + j] = centres[c * dim + j]! + (rng.next() - 0.5) * 0.1;
  }
  return { data: { data, dim, count: clusters * per }, label };
}

function nearest(centroids: Float32Array, dim: number, v: Float32Array): number {
  let best = -1;
  let bestD = Infinity;
  for (let c = 0; c < centroids.length / dim; c++) {
    let d = 0;
    for (let j = 0; j < dim; j++) d += (centroids[c * dim + j]! - v[j]!) ** 2;
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}

function expectInvalid(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof OmnivecError && e.code === 'invalid_argument' && pattern.test(e.message));
}

test('kmeans recovers well-separated seeded clusters exactly', () => {
  const dim = 6;
  const k = 8;
  const { data, label } = separated(7, k, 50, dim);
  const centroids = kmeans(data, k, { metric: 'l2', seed: 3 });
  // Each true cluster maps to exactly one centroid, and no centroid serves two clusters.
  const owner = new Map<number, number>();
  for (let i = 0; i < data.count; i++) {
    const c = nearest(centroids, dim, data.data.subarray(i * dim, (i + 1) * dim));
    const prev = owner.get(label[i]!);
    assert.ok(prev === undefined || prev === c, `cluster ${label[i]} split between centroids ${prev} and ${c}`);
    owner.set(label[i]!, c);
  }
  assert.equal(new Set(owner.values()).size, k, 'one centroid per cluster');
  // And every centroid is the mean of its cluster (Lloyd's fixed point).
  for (const [cluster, c] of owner) {
    const mean = new Float64Array(dim);
    let n = 0;
    for (let i = 0; i < data.count; i++) {
      if (label[i] !== cluster) continue;
      n++;
      for (let j = 0; j < dim; j++) mean[j]! += data.data[i * dim + j]!;
    }
    for (let j = 0; j < dim; j++) assert.ok(Math.abs(mean[j]! / n - centroids[c * dim + j]!) < 1e-3, `centroid ${c} component ${j}`);
  }
});

test('kmeans is deterministic for a seed and depends on it', () => {
  const rng = new Random(1);
  const data: VectorBatch = { data: new Float32Array(600 * 10).map(() => rng.gaussian()), dim: 10, count: 600 };
  for (const metric of ['l2', 'ip', 'cosine'] as const) {
    const a = kmeans(data, 12, { metric, seed: 5, iterations: 8 });
    const b = kmeans(data, 12, { metric, seed: 5, iterations: 8 });
    assert.deepEqual(a, b, `${metric}: same seed, same centroids`);
    assert.notDeepEqual(kmeans(data, 12, { metric, seed: 6, iterations: 8 }), a, `${metric}: another seed, other centroids`);
  }
});

test('kmeans: spherical for ip and cosine (unit centroids), subsampling, every cluster non-empty', () => {
  const rng = new Random(2);
  const dim = 5;
  const data: VectorBatch = { data: new Float32Array(400 * dim).map(() => rng.gaussian() + 1), dim, count: 400 };
  for (const metric of ['ip', 'cosine'] as const) {
    const c = kmeans(data, 7, { metric });
    for (let i = 0; i < 7; i++) assert.ok(Math.abs(Math.hypot(...c.subarray(i * dim, (i + 1) * dim)) - 1) < 1e-5, `${metric} centroid ${i} has unit length`);
  }
  // maxSamples = k: the centroids are k distinct sample points after seeding, and training still works.
  const few = kmeans(data, 4, { metric: 'l2', maxSamples: 4, iterations: 0 });
  assert.equal(few.length, 4 * dim);
  // Eight copies of one point and two others, k = 5: duplicates leave clusters empty, which must be re-seeded.
  const rows = [...Array.from({ length: 8 }, () => [1, 1, 1, 1, 1]), [5, 5, 5, 5, 5], [-3, 0, 0, 0, 0]];
  const dup: VectorBatch = { data: Float32Array.from(rows.flat()), dim, count: rows.length };
  const c = kmeans(dup, 5, { metric: 'l2' });
  assert.ok(c.every((x) => Number.isFinite(x)), 'no NaN from empty clusters');
  const used = new Set<number>();
  for (let i = 0; i < dup.count; i++) used.add(nearest(c, dim, dup.data.subarray(i * dim, (i + 1) * dim)));
  assert.ok(used.has(nearest(c, dim, Float32Array.of(5, 5, 5, 5, 5))) && used.has(nearest(c, dim, Float32Array.of(-3, 0, 0, 0, 0))));
  assert.notEqual(nearest(c, dim, Float32Array.of(5, 5, 5, 5, 5)), nearest(c, dim, Float32Array.of(1, 1, 1, 1, 1)), 'the outliers get centroids of their own');
});

test('kmeans refuses bad arguments with invalid_argument', () => {
  const data: VectorBatch = { data: new Float32Array(3 * 4).fill(1), dim: 4, count: 3 };
  expectInvalid(() => kmeans(data, 4, { metric: 'l2' }), /k: expected at most the number of sample vectors \(3\), got 4/);
  expectInvalid(() => kmeans(data, 0, { metric: 'l2' }), /k: expected an integer ≥ 1, got the number 0/);
  expectInvalid(() => kmeans({ data: new Float32Array(0), dim: 4, count: 0 }, 1, { metric: 'l2' }), /sample: expected at least one vector/);
  expectInvalid(() => kmeans(data, 2, { metric: 'l2', maxSamples: 1 }), /maxSamples: expected an integer from 2/);
  expectInvalid(() => kmeans(data, 2, { metric: 'l2', iterations: -1 }), /iterations/);
  expectInvalid(() => kmeans(data, 2, { metric: 'manhattan' as 'l2' }), /metric: expected one of/);
  expectInvalid(() => kmeans(data, 2, { metric: 'l2', tolerance: 1 }), /tolerance: expected a number in \[0, 1\), got 1/);
  expectInvalid(() => kmeans(data, 2, { metric: 'l2', tolerance: -0.1 }), /tolerance/);
  expectInvalid(() => kmeans(data, 2, { metric: 'l2', init: 'forgy' as 'random' }), /init: expected 'kmeans\+\+' or 'random', got forgy/);
});

/** Overlapping Gaussian clusters: Lloyd's iterations creep on for many rounds (points on the borders keep moving). */
function overlapping(seed: number, n: number, dim: number, clusters: number): VectorBatch {
  const rng = new Random(seed);
  const centres = new Float32Array(clusters * dim).map(() => rng.gaussian());
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = rng.int(clusters);
    for (let j = 0; j < dim; j++) data[i * dim + j] = centres[c * dim + j]! + 0.6 * rng.gaussian();
  }
  return { data, dim, count: n };
}

test('kmeans early stop: stops once an iteration gains less than `tolerance`, close to the converged objective', () => {
  const data = overlapping(9, 4000, 16, 30);
  const run = (tolerance: number): { objective: number[]; moved: number[] } => {
    const objective: number[] = [];
    const moved: number[] = [];
    kmeans(data, 60, { metric: 'l2', seed: 4, iterations: 200, tolerance, onIteration: (_, o, m) => { objective.push(o); moved.push(m); } });
    return { objective, moved };
  };
  const full = run(0);
  const early = run(1e-3);
  const loose = run(1e-2);
  // tolerance 0: until no point moves (the old rule).
  assert.equal(full.moved.at(-1), 0, 'tolerance 0 runs to convergence');
  assert.ok(early.objective.length < full.objective.length && loose.objective.length < early.objective.length,
    `iterations ${full.objective.length} / ${early.objective.length} / ${loose.objective.length}`);
  // The same seed gives the same trajectory until the stop.
  assert.deepEqual(early.objective, full.objective.slice(0, early.objective.length));
  // The stop rule: the last recorded iteration is the first whose gain or moved fraction is below tolerance.
  const stopsAt = (r: { objective: number[]; moved: number[] }, tol: number): number => {
    for (let i = 1; i < r.objective.length; i++) {
      if ((r.objective[i - 1]! - r.objective[i]!) / r.objective[i - 1]! < tol || r.moved[i]! < tol * data.count) return i;
    }
    return -1;
  };
  assert.equal(stopsAt(early, 1e-3), early.objective.length - 1);
  assert.equal(stopsAt(loose, 1e-2), loose.objective.length - 1);
  // And what it gives up is small: the objective at the stop is within 1 % of the converged one.
  assert.ok(early.objective.at(-1)! <= full.objective.at(-1)! * 1.01, `${early.objective.at(-1)} vs ${full.objective.at(-1)}`);
});

test('kmeans: random init picks k distinct sample rows; seeded results do not depend on the thread count', () => {
  const data = overlapping(3, 3000, 8, 20);
  const seeds = kmeans(data, 25, { metric: 'l2', init: 'random', iterations: 0, seed: 11 });
  const rows = new Set<number>();
  for (let c = 0; c < 25; c++) {
    const v = seeds.subarray(c * 8, (c + 1) * 8);
    let row = -1;
    for (let i = 0; i < data.count && row < 0; i++) if (data.data.subarray(i * 8, (i + 1) * 8).every((x, j) => x === v[j])) row = i;
    assert.ok(row >= 0, `centroid ${c} is a sample row`);
    rows.add(row);
  }
  assert.equal(rows.size, 25, 'distinct rows');
  // Thresholds at 0: every assignment step and seeding pass is shared out, however small.
  const saved = { ...parallelThresholds };
  Object.assign(parallelThresholds, { minWork: 0, minPass: 0 });
  try {
    for (const init of ['random', 'kmeans++'] as const) {
      for (const metric of ['l2', 'cosine'] as const) {
        const one = kmeans(data, 40, { metric, init, seed: 2, threads: 1 });
        const two = kmeans(data, 40, { metric, init, seed: 2, threads: 2 });
        assert.deepEqual(two, one, `${init} ${metric}: 2 threads give the 1-thread centroids`);
      }
    }
  } finally {
    Object.assign(parallelThresholds, saved);
  }
});
