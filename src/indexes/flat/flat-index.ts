import { Arena, PREFETCH_BYTES } from '../../vector/arena.js';
import type { Metric } from '../../vector/metric.js';
import { metricCode } from '../../vector/metric.js';
import { checkBatch, checkQuery, type VectorBatch } from '../../vector/batch.js';
import { normalizeInPlace } from '../../vector/normalize.js';
import { TopK } from '../../vector/heap.js';
import type { BinaryReader, BinaryWriter } from '../../storage/binary.js';
import {
  checkIndexShape, checkNewIds, emptyBatchResult, emptyIndexError, resolveFilter, SlotMap,
  type ResolvedFilter,
} from '../common.js';
import { checkK } from '../../checks.js';
import type { AddOptions, BatchSearchResult, IndexStats, SearchOptions, SearchResult, VectorIndex } from '../types.js';

export interface FlatIndexOptions {
  dim: number;
  metric?: Metric;
}

/** Queries handled together by the blocked batch kernel. */
const QUERY_BLOCK = 64;
/** Bytes of stored vectors scanned per block: small enough to stay in L2 while a query block runs over it. */
const BLOCK_BYTES = 256 * 1024;

/**
 * Exact (brute-force) search: every stored vector is compared with the query. The oracle every
 * other index is tested against, and the right choice below a few thousand vectors or for
 * filters that keep few vectors.
 *
 * Storage: vectors in one region of the index's WebAssembly memory, `size × dim` float32 in slot
 * order, no gaps (a removal moves the last vector into the hole). Batched queries run through
 * `distBlock`, which compares four queries with two vectors at a time; single queries through
 * `distRange`. Top-k selection is a bounded heap in JS (most candidates cost one comparison).
 */
export class FlatIndex implements VectorIndex {
  readonly kind = 'flat' as const;
  readonly dim: number;
  readonly metric: Metric;
  readonly isTrained = true;
  readonly params: Readonly<Record<string, number>> = {};
  readonly #arena: Arena;
  readonly #code: number;
  readonly #stride: number;
  readonly #block: number;
  readonly #slots = new SlotMap();
  #ptr: number; // vector region
  #capacity = 0;
  #n = 0;
  readonly #qPtr: number; // QUERY_BLOCK query vectors
  readonly #outPtr: number; // QUERY_BLOCK × block distances
  readonly #listPtr: number; // block slots for gathers

  constructor(options: FlatIndexOptions) {
    const { dim, metric } = checkIndexShape(options?.dim, options?.metric ?? 'l2');
    this.dim = dim;
    this.metric = metric;
    this.#code = metricCode(metric);
    this.#stride = dim * 4;
    this.#block = Math.max(16, Math.min(4096, Math.floor(BLOCK_BYTES / this.#stride)));
    this.#arena = new Arena();
    this.#qPtr = this.#arena.alloc(QUERY_BLOCK * this.#stride);
    this.#outPtr = this.#arena.alloc(QUERY_BLOCK * this.#block * 4);
    this.#listPtr = this.#arena.alloc(this.#block * 4);
    this.#ptr = this.#arena.alloc(this.#stride * 16); // allocated last: grows in place
    this.#capacity = 16;
  }

  get size(): number {
    return this.#n;
  }

  /** An empty flat index of the same shape: a new segment (docs/indexes/segments.md). */
  emptyLike(): FlatIndex { return new FlatIndex({ dim: this.dim, metric: this.metric }); }

  train(): void {
    // Nothing to learn.
  }

  has(id: number): boolean {
    return this.#slots.slotOf(id) !== undefined;
  }

  add(ids: ArrayLike<number>, vectors: VectorBatch, options?: AddOptions): void {
    checkBatch(vectors, this.dim);
    const checked = checkNewIds(ids, vectors.count, (id) => this.has(id));
    this.#reserve(this.#n + vectors.count);
    const f32 = this.#arena.f32;
    const first = this.#n;
    // Rows are contiguous (stride = dim × 4): one copy for the whole batch.
    f32.set(vectors.data.subarray(0, vectors.count * this.dim), (this.#ptr >> 2) + first * this.dim);
    for (let i = 0; i < vectors.count; i++) {
      const slot = this.#n++;
      if (this.metric === 'cosine') normalizeInPlace(f32, (this.#ptr >> 2) + slot * this.dim, this.dim);
      this.#slots.set(checked[i]!, slot);
    }
    options?.onProgress?.(vectors.count, vectors.count);
  }

  remove(ids: ArrayLike<number>): number {
    let removed = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const slot = this.#slots.slotOf(id);
      if (slot === undefined) continue;
      const last = this.#n - 1;
      if (slot !== last) {
        const lastId = this.#slots.idOf(last);
        this.#arena.u8.copyWithin(this.#ptr + slot * this.#stride, this.#ptr + last * this.#stride, this.#ptr + (last + 1) * this.#stride);
        this.#slots.set(lastId, slot);
      }
      this.#slots.delete(id);
      this.#n--;
      removed++;
    }
    return removed;
  }

  getVector(id: number): Float32Array | undefined {
    const slot = this.#slots.slotOf(id);
    if (slot === undefined) return undefined;
    const off = (this.#ptr >> 2) + slot * this.dim;
    return this.#arena.f32.slice(off, off + this.dim);
  }

  ids(): Uint32Array {
    return this.#slots.table.slice(0, this.#n);
  }

  compact(): void {
    // Always dense: removals fill their hole at once.
  }

  search(query: Float32Array, k: number, options?: SearchOptions): SearchResult {
    checkQuery(query, this.dim);
    checkK(k);
    const filter = resolveFilter(options);
    if (this.#n === 0) throw emptyIndexError();
    this.#loadQueries(query, 0, 1);
    const heap = new TopK(Math.min(k, this.#n));
    this.#scanInto(heap, this.#qPtr, filter);
    const n = heap.size;
    const ids = new Uint32Array(n);
    const distances = new Float32Array(n);
    heap.drainSorted(ids, distances);
    return { ids, distances };
  }

  searchBatch(queries: VectorBatch, k: number, options?: SearchOptions): BatchSearchResult {
    checkBatch(queries, this.dim, 'queries');
    checkK(k);
    const filter = resolveFilter(options);
    if (this.#n === 0) throw emptyIndexError();
    const result = emptyBatchResult(queries.count, k);
    if (filter.allowList !== undefined && filter.allowList.length * 4 < this.#n) {
      // Few allowed ids: gathering them per query beats scanning everything.
      for (let q = 0; q < queries.count; q++) {
        this.#loadQueries(queries.data, q, 1);
        const heap = new TopK(Math.min(k, this.#n));
        this.#scanInto(heap, this.#qPtr, filter);
        result.counts[q] = heap.drainSorted(result.ids, result.distances, q * k);
      }
      return result;
    }
    const heaps: TopK[] = [];
    for (let i = 0; i < Math.min(QUERY_BLOCK, queries.count); i++) heaps.push(new TopK(Math.min(k, this.#n)));
    const table = this.#slots.table;
    const a = this.#arena;
    for (let q0 = 0; q0 < queries.count; q0 += QUERY_BLOCK) {
      const nq = Math.min(QUERY_BLOCK, queries.count - q0);
      this.#loadQueries(queries.data, q0, nq);
      for (let x0 = 0; x0 < this.#n; x0 += this.#block) {
        const nx = Math.min(this.#block, this.#n - x0);
        a.k.distBlock(this.#code, this.#qPtr, nq, this.#stride, this.#ptr + x0 * this.#stride, nx, this.#stride, this.dim, this.#outPtr);
        const f32 = a.f32;
        for (let qi = 0; qi < nq; qi++) {
          const heap = heaps[qi]!;
          const row = (this.#outPtr >> 2) + qi * nx;
          let worst = heap.worst();
          for (let j = 0; j < nx; j++) {
            const d = f32[row + j]!;
            if (d < worst) {
              const id = table[x0 + j]!;
              if (filter.active && !filter.accepts(id)) continue;
              heap.push(id, d);
              worst = heap.worst();
            }
          }
        }
      }
      for (let qi = 0; qi < nq; qi++) {
        result.counts[q0 + qi] = heaps[qi]!.drainSorted(result.ids, result.distances, (q0 + qi) * k);
      }
    }
    return result;
  }

  /** Offers every (allowed) stored vector's distance to the query at `qPtr` to `heap`. */
  #scanInto(heap: TopK, qPtr: number, filter: ResolvedFilter): void {
    const a = this.#arena;
    const table = this.#slots.table;
    const out = this.#outPtr >> 2;
    if (filter.allowList !== undefined && filter.allowList.length * 4 < this.#n) {
      const list = filter.allowList;
      for (let i0 = 0; i0 < list.length; i0 += this.#block) {
        let m = 0;
        const u32 = a.u32;
        for (let i = i0; i < Math.min(list.length, i0 + this.#block); i++) {
          const slot = this.#slots.slotOf(list[i]!);
          if (slot !== undefined) u32[(this.#listPtr >> 2) + m++] = slot;
        }
        a.k.distGather(this.#code, qPtr, this.#ptr, this.#stride, this.#listPtr, m, this.dim, this.#outPtr, PREFETCH_BYTES);
        const f32 = a.f32;
        for (let j = 0; j < m; j++) {
          const d = f32[out + j]!;
          if (d < heap.worst()) {
            const id = table[a.u32[(this.#listPtr >> 2) + j]!]!;
            if (filter.accepts(id)) heap.push(id, d);
          }
        }
      }
      return;
    }
    for (let x0 = 0; x0 < this.#n; x0 += this.#block) {
      const nx = Math.min(this.#block, this.#n - x0);
      a.k.distRange(this.#code, qPtr, this.#ptr + x0 * this.#stride, this.#stride, nx, this.dim, this.#outPtr);
      const f32 = a.f32;
      let worst = heap.worst();
      for (let j = 0; j < nx; j++) {
        const d = f32[out + j]!;
        if (d < worst) {
          const id = table[x0 + j]!;
          if (filter.active && !filter.accepts(id)) continue;
          heap.push(id, d);
          worst = heap.worst();
        }
      }
    }
  }

  /** Copies `count` queries from row `first` of `data` into the query block (normalised for cosine). */
  #loadQueries(data: Float32Array, first: number, count: number): void {
    const f32 = this.#arena.f32;
    const base = this.#qPtr >> 2;
    f32.set(data.subarray(first * this.dim, (first + count) * this.dim), base);
    if (this.metric === 'cosine') for (let i = 0; i < count; i++) normalizeInPlace(f32, base + i * this.dim, this.dim);
  }

  #reserve(n: number): void {
    if (n <= this.#capacity) return;
    const cap = Math.max(n, Math.ceil(this.#capacity * 1.25));
    this.#ptr = this.#arena.realloc(this.#ptr, cap * this.#stride);
    this.#capacity = cap;
  }

  stats(): IndexStats {
    return {
      kind: this.kind,
      dim: this.dim,
      metric: this.metric,
      size: this.#n,
      memoryBytes: this.#arena.committedBytes + this.#slots.bytes(),
      vectorBytes: this.#n * this.#stride,
    };
  }

  writePayload(w: BinaryWriter): void {
    w.json(this.params);
    w.u32s(this.#slots.table.subarray(0, this.#n));
    w.f32s(this.#arena.f32.subarray(this.#ptr >> 2, (this.#ptr >> 2) + this.#n * this.dim));
  }

  static readPayload(r: BinaryReader, dim: number, metric: Metric, count: number): FlatIndex {
    r.json('flat params');
    const index = new FlatIndex({ dim, metric });
    const ids = r.u32s('flat ids', count);
    index.#reserve(count);
    r.sectionInto(index.#arena.u8, index.#ptr, 4, 'flat vectors', count * dim); // straight into the arena
    r.end();
    let maxId = 0;
    for (let i = 0; i < count; i++) if (ids[i]! > maxId) maxId = ids[i]!;
    index.#slots.reserveDense(maxId, count);
    for (let i = 0; i < count; i++) {
      if (index.#slots.slotOf(ids[i]!) !== undefined) r.fail('flat ids', `id ${ids[i]} appears twice`);
      index.#slots.set(ids[i]!, i);
    }
    index.#n = count;
    return index;
  }
}
