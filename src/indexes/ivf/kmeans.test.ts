import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OmnivecError } from '../../errors.js';
import { Random } from '../../vector/random.js';
import type { VectorBatch } from '../../vector/batch.js';
import { kmeans } from './kmeans.js';

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
});
