import type { Metric } from '../../vector/metric.js';
import { TopK } from '../../vector/heap.js';
import type { FloatStore } from './float-store.js';

/**
 * Exact re-scoring of a quantised search's candidates (docs/indexes/quantization.md): the exact
 * distance of the (normalised, for cosine) query to each candidate's float32 vector in the
 * `FloatStore`, accumulated in float64 and rounded to float32, and the best `k` of them.
 */

/** Exact distance between `q` and the vector at `v[off…off+dim)` under the omnivec conventions. */
export function exactDistance(metric: Metric, q: Float32Array, v: Float32Array, off: number): number {
  const dim = q.length;
  let s = 0;
  if (metric === 'l2') {
    for (let i = 0; i < dim; i++) {
      const d = q[i]! - v[off + i]!;
      s += d * d;
    }
    return Math.fround(s);
  }
  for (let i = 0; i < dim; i++) s += q[i]! * v[off + i]!;
  return Math.fround(1 - s);
}

/**
 * Re-scores `n` candidates — `slots[i]` in the store, returned as `ids[i]` — against `query`, and
 * writes the best `k` (nearest first, ties by smaller id) to `outIds` / `outDists` from `outOff`.
 * Returns how many were written (min(k, n)). `heap` may be passed to reuse one.
 */
export function rescoreInto(metric: Metric, query: Float32Array, store: FloatStore,
  slots: ArrayLike<number>, ids: ArrayLike<number>, n: number, k: number,
  outIds: Uint32Array, outDists: Float32Array, outOff: number, heap?: TopK): number {
  const top = heap !== undefined && heap.capacity === k ? heap : new TopK(k);
  top.clear();
  for (let i = 0; i < n; i++) {
    const slot = slots[i]!;
    const d = exactDistance(metric, query, store.chunkOf(slot), store.offsetOf(slot));
    top.push(ids[i]!, d);
  }
  return top.drainSorted(outIds, outDists, outOff);
}
