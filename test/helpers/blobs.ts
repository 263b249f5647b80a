/** Seeded Gaussian blobs with their classes: the oracle data of the task tests (src/tasks/). */
import { Random } from '../../src/vector/random.js';
import type { VectorBatch } from '../../src/vector/batch.js';

/**
 * Seeded blobs: `k` centres uniform in [−10, 10]^dim (or random directions when `unit`), `per`
 * points each at Gaussian noise `spread`; rows shuffled so the classes interleave.
 */
export function blobs(k: number, per: number, dim: number, seed: number, spread = 0.3, unit = false): { batch: VectorBatch; classes: Int32Array } {
  const rng = new Random(seed);
  const centres = new Float64Array(k * dim);
  for (let c = 0; c < k; c++) {
    let norm = 0;
    for (let j = 0; j < dim; j++) {
      const v = unit ? rng.gaussian() : rng.next() * 20 - 10;
      centres[c * dim + j] = v;
      norm += v * v;
    }
    if (unit) for (let j = 0; j < dim; j++) centres[c * dim + j]! /= Math.sqrt(norm);
  }
  const n = k * per;
  const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const data = new Float32Array(n * dim);
  const classes = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const c = order[r]! % k;
    classes[r] = c;
    for (let j = 0; j < dim; j++) data[r * dim + j] = centres[c * dim + j]! + spread * rng.gaussian();
  }
  return { batch: { data, dim, count: n }, classes };
}
