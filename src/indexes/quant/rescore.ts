import type { Metric } from '../../vector/metric.js';
import { metricCode } from '../../vector/metric.js';
import { Arena } from '../../vector/arena.js';
import { TopK } from '../../vector/heap.js';
import type { FloatStore } from './float-store.js';

/**
 * Exact re-scoring of a quantised search's candidates (docs/indexes/quantization.md): the exact
 * distance of the (normalised, for cosine) query to each candidate's float32 vector in the
 * `FloatStore`, and the best `k` of them. `Rescorer` (below; what flat and HNSW use) runs the
 * WebAssembly kernels; `rescoreInto` is the plain JS version (float64 sums rounded to float32),
 * slower on every dimension measured, kept as the reference.
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

/**
 * Re-scoring through the WebAssembly kernels: the candidates' float32 vectors are copied from the
 * `FloatStore` into a small arena of its own (rescore × k rows; not the index's memory) and
 * compared with the float metric's kernel — the same kernel a float32 index uses, so the
 * distances are bit-identical to a float32 index's. Measured (scratch/rescore-bench.ts, 40
 * candidates): 128-d 9–13 µs against 16–42 µs for a JS loop; 784-d 23–57 µs against 112–189 µs;
 * 1024-d 27 µs against 144–182 µs.
 */
export class Rescorer {
  readonly dim: number;
  readonly metric: Metric;
  readonly #code: number;
  #arena: Arena | undefined;
  #rows = 0;
  #buf = 0;
  #q = 0;
  #out = 0;
  #top: TopK | undefined;

  constructor(dim: number, metric: Metric) {
    this.dim = dim;
    this.metric = metric;
    this.#code = metricCode(metric);
  }

  /** Bytes of the re-scoring arena (0 before the first search). */
  get bytes(): number {
    return this.#arena?.committedBytes ?? 0;
  }

  #reserve(rows: number): Arena {
    if (this.#arena === undefined) {
      this.#arena = new Arena();
      this.#q = this.#arena.alloc(this.dim * 4);
      this.#out = this.#arena.alloc(4 * Math.max(rows, 16));
      this.#buf = this.#arena.alloc(this.dim * 4 * Math.max(rows, 16));
      this.#rows = Math.max(rows, 16);
    } else if (rows > this.#rows) {
      const a = this.#arena;
      a.free(this.#buf);
      a.free(this.#out);
      this.#out = a.alloc(4 * rows);
      this.#buf = a.alloc(this.dim * 4 * rows);
      this.#rows = rows;
    }
    return this.#arena;
  }

  /** As `rescoreInto` (same arguments, same results up to the float32 summation order). */
  rescoreInto(query: Float32Array, store: FloatStore, slots: ArrayLike<number>, ids: ArrayLike<number>, n: number, k: number,
    outIds: Uint32Array, outDists: Float32Array, outOff: number): number {
    const a = this.#reserve(n);
    const dim = this.dim;
    let f32 = a.f32;
    f32.set(query, this.#q >> 2);
    const base = this.#buf >> 2;
    for (let i = 0; i < n; i++) {
      const slot = slots[i]!;
      const o = store.offsetOf(slot);
      f32.set(store.chunkOf(slot).subarray(o, o + dim), base + i * dim);
    }
    a.k.distRange(this.#code, this.#q, this.#buf, dim * 4, n, dim, this.#out);
    f32 = a.f32;
    if (this.#top === undefined || this.#top.capacity !== k) this.#top = new TopK(k);
    const top = this.#top;
    top.clear();
    const out = this.#out >> 2;
    for (let i = 0; i < n; i++) top.push(ids[i]!, f32[out + i]!);
    return top.drainSorted(outIds, outDists, outOff);
  }
}
