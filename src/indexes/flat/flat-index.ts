import { Arena, PREFETCH_BYTES } from '../../vector/arena.js';
import type { Metric } from '../../vector/metric.js';
import { metricCode } from '../../vector/metric.js';
import { checkBatch, checkQuery, type VectorBatch } from '../../vector/batch.js';
import { normalizeInPlace } from '../../vector/normalize.js';
import { TopK } from '../../vector/heap.js';
import type { BinaryReader, BinaryWriter } from '../../storage/binary.js';
import {
  checkIndexShape, copyRound, checkNewIds, emptyBatchResult, emptyIndexError, resolveFilter, SlotMap,
  type ResolvedFilter,
} from '../common.js';
import { checkK } from '../../checks.js';
import type { AddOptions, BatchSearchResult, ExternalVectors, IndexStats, PayloadOptions, SearchOptions, SearchResult, VectorIndex } from '../types.js';
import { checkSource, forEachRow, idRange } from '../external.js';
import { checkThreads, parallelFor, resolveThreads } from '../../parallel/pool.js';
import { QUERY_BLOCK, flatSearchTask, rerankBytes, scratchBytes, type FlatSearchJob } from './flat-jobs.js';
import { NORM_BYTES, SCREEN_MAX_NORM, planBytes, screenPlan } from './screen.js';
import { checkQuantization, checkRescore, defaultRescore } from '../quant/options.js';
import { Candidates, QuantParts } from '../quant/quantized.js';
import type { WarningHook } from '../quant/quantizer.js';

export interface FlatIndexOptions {
  dim: number;
  metric?: Metric;
  /**
   * Threads of `searchBatch` (the calling thread and pool workers; not persisted). Default: every
   * core (`os.availableParallelism()`). 1 runs the single-thread code. docs/indexes/threads.md.
   */
  threads?: number;
  /**
   * 'none' (float32, default), 'int8' or 'binary': scan codes, re-score the best `rescore × k`
   * with exact float32 distances (docs/indexes/quantization.md).
   */
  quantization?: 'none' | 'int8' | 'binary';
  /** Quantised only: candidates re-scored per hit wanted (default DEFAULT_RESCORE). */
  rescore?: number;
  /** Quantised only: receives quantiser warnings instead of process.emitWarning. */
  onWarning?: WarningHook;
}

/**
 * When the flat and IVF indexes (and k-means) share work out (docs/indexes/threads.md). Below
 * these sizes waking the workers costs more than it saves; the tests lower them to run every
 * threaded path on small data.
 * - `minWork`: multiply-adds of a batch search (queries × vectors compared × dim; 2²⁴ took
 *   1.7 ms of one core in the doc's measurements, the fan-out 0.2 ms of CPU more). A flat batch
 *   also needs more than one block of 64 queries.
 * - `minPass`: points × dim of one k-means++ seeding pass (one point against all).
 */
export const parallelThresholds = { minWork: 1 << 24, minPass: 1 << 20 };
/** Fewest queries of a batch that take the screened scan on one thread (fewer: the plain blocked scan). */
const SCREEN_MIN_QUERIES = 8;
/** Bytes of queries copied into the index's memory per round of a threaded batch search. */
const ROUND_BYTES = 4 << 20;
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
  readonly params: Readonly<Record<string, number | string>>;
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
  #threads: number;
  #idMirror: Uint32Array | undefined; // slot → id in a SharedArrayBuffer, for the workers; undefined when stale
  /** Quantised storage (codes in the arena, floats for re-scoring outside it); undefined for 'none'. */
  readonly #qp: QuantParts | undefined;

  constructor(options: FlatIndexOptions) {
    const { dim, metric } = checkIndexShape(options?.dim, options?.metric ?? 'l2');
    this.#threads = resolveThreads(options.threads);
    const quantization = checkQuantization(options.quantization, 'flat');
    const rescore = checkRescore(options.rescore, 'rescore', defaultRescore(quantization));
    this.dim = dim;
    this.metric = metric;
    if (quantization === 'none') {
      this.#qp = undefined;
      this.params = Object.freeze({});
      this.#code = metricCode(metric);
      this.#stride = dim * 4;
    } else {
      this.#qp = new QuantParts(quantization as 'int8' | 'binary', dim, metric, rescore, options.onWarning);
      this.params = Object.freeze(this.#qp.params());
      this.#code = this.#qp.metricCode;
      this.#stride = this.#qp.codeBytes;
    }
    // Codes: at most 1,024 records a block, so that the 64 queries' distances stay 256 KiB.
    this.#block = Math.max(16, Math.min(this.#qp === undefined ? 4096 : 1024, Math.floor(BLOCK_BYTES / this.#stride)));
    this.#arena = new Arena();
    this.#qPtr = this.#arena.alloc(QUERY_BLOCK * this.#stride);
    this.#outPtr = this.#arena.alloc(scratchBytes(this.#block));
    this.#listPtr = this.#arena.alloc(this.#block * 4);
    this.#ptr = this.#arena.alloc(this.#stride * 16); // allocated last: grows in place
    this.#capacity = 16;
  }

  get size(): number {
    return this.#n;
  }

  /** An empty flat index of the same shape, quantisation and threads: a new segment (docs/indexes/segments.md). */
  emptyLike(): FlatIndex {
    const q = this.#qp === undefined ? {} : { quantization: this.#qp.kind, rescore: this.#qp.rescore };
    return new FlatIndex({ dim: this.dim, metric: this.metric, ...q, threads: this.#threads });
  }

  /** Threads of `searchBatch` unless a call says otherwise (an integer ≥ 1; not persisted). */
  get threads(): number {
    return this.#threads;
  }

  set threads(value: number) {
    this.#threads = checkThreads(value);
  }

  /** Float32: nothing to learn. Quantised: learns the quantiser from `sample` (and re-encodes what is stored). */
  train(sample?: VectorBatch): void {
    if (this.#qp?.learn(sample) === true) this.#reencodeAll();
  }

  #reencodeAll(): void {
    const qp = this.#qp!;
    for (let s = 0; s < this.#n; s++) qp.reencode(s, this.#arena.u8, this.#ptr + s * this.#stride);
  }

  has(id: number): boolean {
    return this.#slots.slotOf(id) !== undefined;
  }

  add(ids: ArrayLike<number>, vectors: VectorBatch, options?: AddOptions): void {
    checkBatch(vectors, this.dim);
    if (options?.threads !== undefined) checkThreads(options.threads); // nothing to share out: a copy
    const checked = checkNewIds(ids, vectors.count, (id) => this.has(id));
    this.#reserve(this.#n + vectors.count);
    this.#idMirror = undefined;
    if (this.#qp !== undefined) {
      this.#addQuantized(checked, vectors);
      options?.onProgress?.(vectors.count, vectors.count);
      return;
    }
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

  #addQuantized(ids: Uint32Array, vectors: VectorBatch): void {
    const qp = this.#qp!;
    qp.ensureTrained(vectors.data, vectors.count);
    qp.store.reserve(this.#n + vectors.count);
    const u8 = this.#arena.u8;
    for (let i = 0; i < vectors.count; i++) {
      const slot = this.#n++;
      qp.put(slot, vectors.data, i, u8, this.#ptr + slot * this.#stride);
      this.#slots.set(ids[i]!, slot);
    }
    if (qp.retrainIfGrown(this.#n)) this.#reencodeAll();
  }

  remove(ids: ArrayLike<number>): number {
    let removed = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const slot = this.#slots.slotOf(id);
      if (slot === undefined) continue;
      this.#idMirror = undefined;
      const last = this.#n - 1;
      if (slot !== last) {
        const lastId = this.#slots.idOf(last);
        this.#arena.u8.copyWithin(this.#ptr + slot * this.#stride, this.#ptr + last * this.#stride, this.#ptr + (last + 1) * this.#stride);
        this.#qp?.store.move(last, slot);
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
    if (this.#qp !== undefined) return this.#qp.store.get(slot);
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
    if (this.#qp !== undefined) {
      const rescore = checkRescore(options?.rescore, 'rescore', this.#qp.rescore);
      const ids = new Uint32Array(Math.min(k, this.#n));
      const distances = new Float32Array(ids.length);
      const n = this.#searchQuantized(query, k, rescore, filter, ids, distances, 0);
      return n === ids.length ? { ids, distances } : { ids: ids.slice(0, n), distances: distances.slice(0, n) };
    }
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
    const threads = resolveThreads(options?.threads, this.#threads);
    if (this.#n === 0) throw emptyIndexError();
    const result = emptyBatchResult(queries.count, k);
    // A predicate is the calling thread's: such searches stay here. A large allow-list crosses as
    // a mask over the slots (a small one is gathered per query, below).
    const gather = filter.allowList !== undefined && filter.allowList.length * 4 < this.#n;
    const parallel = threads > 1 && (!filter.active || (options?.filter === undefined && !gather)) &&
      queries.count > QUERY_BLOCK && queries.count * this.#n * this.dim >= parallelThresholds.minWork;
    if (this.#qp !== undefined) {
      const rescore = checkRescore(options?.rescore, 'rescore', this.#qp.rescore);
      if (gather) {
        for (let q = 0; q < queries.count; q++) {
          result.counts[q] = this.#searchQuantized(queries.data.subarray(q * this.dim, (q + 1) * this.dim), k, rescore, filter,
            result.ids, result.distances, q * k);
        }
      } else if (parallel) {
        this.#searchBatchQuantizedParallel(queries, k, rescore, threads, filter.allowList, result);
      } else {
        this.#searchBatchQuantized(queries, k, rescore, filter, result);
      }
      return result;
    }
    // Float vectors, eight queries or more, no predicate: the screened scan (screen.ts), on one
    // thread or several; the same answers as the plain scan below, about twice as fast.
    const screened = !gather && (!filter.active || options?.filter === undefined) && queries.count >= SCREEN_MIN_QUERIES;
    if (parallel || screened) {
      this.#searchBatchParallel(queries, k, parallel ? threads : 1, filter.allowList, result);
      return result;
    }
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
    for (let q0 = 0; q0 < queries.count; q0 += QUERY_BLOCK) {
      const nq = Math.min(QUERY_BLOCK, queries.count - q0);
      this.#loadQueries(queries.data, q0, nq);
      this.#scanBlocks(heaps, nq, filter);
      for (let qi = 0; qi < nq; qi++) {
        result.counts[q0 + qi] = heaps[qi]!.drainSorted(result.ids, result.distances, (q0 + qi) * k);
      }
    }
    return result;
  }

  /**
   * `searchBatch` without a predicate on `threads` threads (docs/indexes/threads.md): in rounds of
   * up to ROUND_BYTES of queries (a multiple of QUERY_BLOCK, so the blocks are those of the
   * single-thread loop), each round's query blocks shared out by the pool (flat-jobs.ts). The
   * round's queries and the workers' distance scratch are allocated at the top of the arena and
   * freed at the end, so the vector region stays last and the memory grows by at most that once.
   */
  #searchBatchParallel(queries: VectorBatch, k: number, threads: number, allow: Uint32Array | undefined, result: BatchSearchResult,
    encode?: (q: number, ptr: number) => void): void {
    const a = this.#arena;
    const n = this.#n;
    const perRound = Math.max(1, Math.floor(ROUND_BYTES / (QUERY_BLOCK * this.#stride))) * QUERY_BLOCK;
    const roundQ = Math.min(perRound, Math.ceil(queries.count / QUERY_BLOCK) * QUERY_BLOCK);
    let ids = this.#idMirror;
    if (ids === undefined) {
      ids = new Uint32Array(new SharedArrayBuffer(Math.max(4, n * 4)));
      ids.set(this.#slots.table.subarray(0, n));
      this.#idMirror = ids;
    }
    let allowed: Uint8Array | undefined;
    if (allow !== undefined) {
      allowed = new Uint8Array(new SharedArrayBuffer(Math.max(1, n)));
      for (let i = 0; i < allow.length; i++) {
        const slot = this.#slots.slotOf(allow[i]!);
        if (slot !== undefined) allowed[slot] = 1;
      }
    }
    const scratch = new Uint32Array(new SharedArrayBuffer(threads * 4));
    const outBytes = scratchBytes(this.#block);
    // Participant 0 (this thread) uses the index's own scratch; the workers get theirs here.
    scratch[0] = this.#outPtr;
    const extra = threads > 1 ? a.alloc((threads - 1) * outBytes) : 0;
    for (let t = 1; t < threads; t++) scratch[t] = extra + (t - 1) * outBytes;
    const qPtr = a.alloc(roundQ * this.#stride);
    // The screened scan's norms (float vectors only): the stored vectors' once per call, the
    // queries' per round; beyond SCREEN_MAX_NORM the plain scan.
    const norms = encode === undefined ? a.alloc(NORM_BYTES * (n + roundQ) + planBytes(this.dim)) : 0;
    let memPtr = 0;
    try {
      let screen: FlatSearchJob['screen'];
      if (norms !== 0) {
        // The plan (the chunks' order, the partial check's checkpoints) after the norms; made per
        // call from a sample of the stored vectors (~0.3 ms at 784-d).
        const plan = norms + NORM_BYTES * (n + roundQ);
        a.u32.set(screenPlan(a, this.#ptr, n, this.#stride, this.dim), plan >> 2);
        a.k.sqNorms(this.#ptr, n, this.#stride, this.dim, plan, norms);
        const f32 = a.f32;
        let xnMax = 0;
        for (let j = 0; j < n; j++) xnMax = Math.max(xnMax, f32[(norms + j * NORM_BYTES) >> 2]!);
        if (xnMax <= SCREEN_MAX_NORM) screen = { xnPtr: norms, qnPtr: norms + NORM_BYTES * n, xnMax, plan };
        if (screen !== undefined) {
          // The screens in linear memory (flat-jobs.ts `screenedSearchBlocksInMemory`): a region and a
          // re-rank scratch a participant (lists of 3k + 32), and the slot → id table.
          const keep = Math.min(k, n);
          const cap = 3 * keep + 32;
          const regionBytes = Math.ceil(a.k.pairRegionBytes(QUERY_BLOCK, keep, cap) / 16) * 16;
          const rr = Math.ceil(rerankBytes(keep, cap) / 16) * 16;
          memPtr = a.alloc(threads * (regionBytes + rr) + 4 * n + (allowed === undefined ? 0 : n));
          const regions = new Uint32Array(new SharedArrayBuffer(4 * threads));
          const rerank = new Uint32Array(new SharedArrayBuffer(4 * threads));
          for (let t = 0; t < threads; t++) {
            regions[t] = memPtr + t * regionBytes;
            rerank[t] = memPtr + threads * regionBytes + t * rr;
          }
          const table = memPtr + threads * (regionBytes + rr);
          a.u32.set(ids.subarray(0, n), table >> 2);
          const mask = allowed === undefined ? 0 : table + 4 * n;
          if (allowed !== undefined) a.u8.set(allowed.subarray(0, n), mask);
          screen.inMemory = { regions, rerank, cap, table, allowed: mask };
        }
      }
      const job: FlatSearchJob = {
        memory: a.memory, module: Arena.kernels(),
        code: this.#code, dim: this.dim, stride: this.#stride, block: this.#block, vecPtr: this.#ptr, n, ids, allowed,
        qPtr, nq: 0, cap: Math.min(k, n), k, scratch,
        outIds: new Uint32Array(new SharedArrayBuffer(roundQ * k * 4)),
        outDists: new Float32Array(new SharedArrayBuffer(roundQ * k * 4)),
        outCounts: new Uint32Array(new SharedArrayBuffer(roundQ * 4)),
      };
      for (let r0 = 0; r0 < queries.count; r0 += roundQ) {
        const nq = Math.min(roundQ, queries.count - r0);
        if (encode !== undefined) {
          for (let i = 0; i < nq; i++) encode(r0 + i, qPtr + i * this.#stride);
        } else {
          const f32 = a.f32;
          f32.set(queries.data.subarray(r0 * this.dim, (r0 + nq) * this.dim), qPtr >> 2);
          if (this.metric === 'cosine') for (let i = 0; i < nq; i++) normalizeInPlace(f32, (qPtr >> 2) + i * this.dim, this.dim);
        }
        job.screen = undefined;
        if (screen !== undefined) {
          a.k.sqNorms(qPtr, nq, this.#stride, this.dim, screen.plan, screen.qnPtr);
          const f32 = a.f32;
          let qnMax = 0;
          for (let i = 0; i < nq; i++) qnMax = Math.max(qnMax, f32[(screen.qnPtr + i * NORM_BYTES) >> 2]!);
          if (qnMax <= SCREEN_MAX_NORM) job.screen = screen;
        }
        job.nq = nq;
        parallelFor(threads, Math.ceil(nq / QUERY_BLOCK), flatSearchTask, job, { grain: 1 });
        copyRound(job, result, r0, nq, k);
      }
    } finally {
      if (norms !== 0) a.free(norms);
      if (memPtr !== 0) a.free(memPtr);
      a.free(qPtr);
      if (extra !== 0) a.free(extra);
    }
  }

  readonly #cand = new Candidates();

  /**
   * A quantised batch on `threads` threads: the queries encoded here, the code scan shared out as
   * for float32 vectors (`#searchBatchParallel`, keeping the best `rescore × k` of each query by
   * code distance), then each query's candidates re-scored here with exact float32 distances —
   * the answers of `#searchBatchQuantized` on one thread.
   */
  #searchBatchQuantizedParallel(queries: VectorBatch, k: number, rescore: number, threads: number,
    allow: Uint32Array | undefined, result: BatchSearchResult): void {
    const qp = this.#qp!;
    const dim = this.dim;
    const want = Math.min(this.#n, Math.max(k, k * rescore));
    const cand = emptyBatchResult(queries.count, want);
    const prepared = new Array<Float32Array>(queries.count);
    this.#searchBatchParallel(queries, want, threads, allow, cand, (q, ptr) => {
      prepared[q] = qp.prepareQuery(queries.data.subarray(q * dim, (q + 1) * dim), this.#arena.u8, ptr);
    });
    this.#cand.reserve(want);
    for (let q = 0; q < queries.count; q++) {
      const n = cand.counts[q]!;
      this.#cand.ids.set(cand.ids.subarray(q * want, q * want + n));
      result.counts[q] = this.#cand.rescore(qp, prepared[q]!, n, k, this.#slots, result.ids, result.distances, q * k);
    }
  }

  /**
   * A quantised search: the best `rescore × k` candidates by code distance, re-scored with their
   * exact float32 distances; the best k written from `outOff`. Returns how many.
   */
  #searchQuantized(query: Float32Array, k: number, rescore: number, filter: ResolvedFilter,
    outIds: Uint32Array, outDists: Float32Array, outOff: number): number {
    const qp = this.#qp!;
    const want = Math.min(this.#n, Math.max(k, k * rescore));
    this.#cand.reserve(want);
    const q = qp.prepareQuery(query, this.#arena.u8, this.#qPtr);
    const heap = new TopK(want);
    this.#scanInto(heap, this.#qPtr, filter);
    const n = heap.drainSorted(this.#cand.ids, this.#cand.dists);
    return this.#cand.rescore(qp, q, n, k, this.#slots, outIds, outDists, outOff);
  }

  /**
   * Quantised batch: blocks of 64 encoded queries against blocks of ≤ 1,024 codes (`distBlock`,
   * one query at a time inside the kernel, but each block of codes is read from memory once for
   * 64 queries), the best `rescore × k` per query re-scored exactly.
   */
  #searchBatchQuantized(queries: VectorBatch, k: number, rescore: number, filter: ResolvedFilter, result: BatchSearchResult): void {
    const qp = this.#qp!;
    const want = Math.min(this.#n, Math.max(k, k * rescore));
    this.#cand.reserve(want);
    const heaps: TopK[] = [];
    for (let i = 0; i < Math.min(QUERY_BLOCK, queries.count); i++) heaps.push(new TopK(want));
    const prepared: Float32Array[] = [];
    const a = this.#arena;
    for (let q0 = 0; q0 < queries.count; q0 += QUERY_BLOCK) {
      const nq = Math.min(QUERY_BLOCK, queries.count - q0);
      for (let qi = 0; qi < nq; qi++) {
        prepared[qi] = qp.prepareQuery(queries.data.subarray((q0 + qi) * this.dim, (q0 + qi + 1) * this.dim), a.u8, this.#qPtr + qi * this.#stride);
      }
      this.#scanBlocks(heaps, nq, filter);
      for (let qi = 0; qi < nq; qi++) {
        const n = heaps[qi]!.drainSorted(this.#cand.ids, this.#cand.dists);
        result.counts[q0 + qi] = this.#cand.rescore(qp, prepared[qi]!, n, k, this.#slots, result.ids, result.distances, (q0 + qi) * k);
      }
    }
  }

  /**
   * The blocked scan of a batch: the `nq` queries (or codes) at `#qPtr` against every stored vector,
   * block by block (`distBlock`), each distance offered to its query's heap when the filter allows.
   */
  #scanBlocks(heaps: TopK[], nq: number, filter: ResolvedFilter): void {
    const a = this.#arena;
    const table = this.#slots.table;
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
      memoryBytes: this.#arena.committedBytes + this.#slots.bytes() + (this.#idMirror?.byteLength ?? 0),
      vectorBytes: this.#n * this.dim * 4,
      quantization: this.#qp?.kind ?? 'none',
      codeBytes: this.#stride,
      rescoreBytes: this.#qp?.rescoreBytes ?? 0,
    };
  }

  /**
   * Layout in docs/file-format.md. `vectors: false` (version 3): the ids, then the codes and the
   * quantiser's parameters when quantised; no float vectors (`fillVectors` stores them on load).
   */
  writePayload(w: BinaryWriter, options: PayloadOptions = {}): void {
    const external = options.vectors === false;
    w.json(this.params);
    w.u32s(this.#slots.table.subarray(0, this.#n));
    if (this.#qp !== undefined) {
      // Quantised: the codes, then the quantiser's parameters and the float vectors.
      w.u8s(this.#arena.u8.subarray(this.#ptr, this.#ptr + this.#n * this.#stride));
      if (external) this.#qp.writeQuantizer(w);
      else this.#qp.write(w, this.#n);
      return;
    }
    if (!external) w.f32s(this.#arena.f32.subarray(this.#ptr >> 2, (this.#ptr >> 2) + this.#n * this.dim));
  }

  /** Stores the float vectors of every id from `source` (after a vectors-less payload): what `add` stores. */
  fillVectors(source: ExternalVectors): void {
    const table = this.#slots.table;
    const { lo, hi } = idRange(table, this.#n);
    checkSource(source, this.dim, hi, 'flat index');
    const dim = this.dim;
    const f32 = this.#arena.f32;
    const base = this.#ptr >> 2;
    const cosine = this.metric === 'cosine';
    const qp = this.#qp;
    forEachRow(source, dim, lo, hi, (id, row) => {
      const slot = this.#slots.slotOf(id);
      if (slot === undefined) return;
      if (qp !== undefined) {
        qp.putFloat(slot, row);
        return;
      }
      const p = base + slot * dim;
      f32.set(row, p);
      if (cosine) normalizeInPlace(f32, p, dim);
    });
  }

  /** Reads a payload; `external` (a version-3 file): one written with `vectors: false`, to be filled with `fillVectors`. */
  static readPayload(r: BinaryReader, dim: number, metric: Metric, count: number, external = false): FlatIndex {
    const p = r.json<Partial<FlatIndexOptions>>('flat params');
    let index: FlatIndex;
    try {
      // Params without `quantization` (every file before issue 16) read as 'none'.
      index = new FlatIndex({ dim, metric, quantization: p.quantization, rescore: p.rescore });
    } catch (e) {
      return r.fail('flat params', (e as Error).message);
    }
    const ids = r.u32s('flat ids', count);
    index.#reserve(count);
    if (index.#qp === undefined) {
      if (!external) r.sectionInto(index.#arena.u8, index.#ptr, 4, 'flat vectors', count * dim); // straight into the arena
    } else {
      r.u8sInto(index.#arena.u8, index.#ptr, 'flat codes', count * index.#stride);
      if (external) {
        index.#qp.readQuantizer(r);
        index.#qp.store.reserve(count);
      } else {
        index.#qp.read(r, count);
      }
    }
    r.end();
    let maxId = 0;
    for (let i = 0; i < count; i++) if (ids[i]! > maxId) maxId = ids[i]!;
    index.#slots.reserveDense(maxId, count);
    const twice = index.#slots.adopt(ids, count);
    if (twice >= 0) r.fail('flat ids', `id ${twice} appears twice`);
    index.#n = count;
    return index;
  }
}
