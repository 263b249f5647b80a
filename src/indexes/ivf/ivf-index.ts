import { OmnivecError, describe } from '../../errors.js';
import { Arena, PREFETCH_BYTES } from '../../vector/arena.js';
import type { Metric } from '../../vector/metric.js';
import { metricCode } from '../../vector/metric.js';
import { checkBatch, checkFinite, checkQuery, type VectorBatch } from '../../vector/batch.js';
import { normalizeInPlace } from '../../vector/normalize.js';
import { TopK } from '../../vector/heap.js';
import type { BinaryReader, BinaryWriter } from '../../storage/binary.js';
import {
  checkIndexShape, checkNewIds, emptyBatchResult, emptyIndexError, resolveFilter,
  type ResolvedFilter,
} from '../common.js';
import { checkInt, checkK } from '../../checks.js';
import { FlatIndex } from '../flat/flat-index.js';
import { MAX_ID, type BatchSearchResult, type IndexStats, type SearchOptions, type SearchResult, type VectorIndex, type AddOptions } from '../types.js';
import { kmeans } from './kmeans.js';

export interface IvfIndexOptions {
  dim: number;
  metric?: Metric;
  /**
   * Number of inverted lists (k-means centroids). Default: chosen when training on n vectors as
   * clamp(round(4·√n), 1, n), then fixed. A sample smaller than nList lowers it to the sample size.
   */
  nList?: number;
  /** Lists scanned per query unless a search says otherwise. Default: min(nList, max(8, round(nList / 16))). */
  nProbe?: number;
  /** Seed of k-means (subsample and seeding): the same seed and sample give the same index. Default 42. */
  seed?: number;
  /** Lloyd iterations of k-means (0 keeps the k-means++ seeds). Default 20. */
  iterations?: number;
}

/** Most lists an index may have (list and position share one float64 in the id map). */
const MAX_LISTS = 1 << 20;
/** `where` value of an id: list × POS + position in the list. */
const POS = 2 ** 32;
/** Bytes of a list scanned per kernel call: bounds the scratch distance buffer. */
const BLOCK_BYTES = 256 * 1024;
/** Allow-lists up to this fraction of the index are answered exactly by gathering their vectors. */
const GATHER_FRACTION = 1 / 32;
/** Capacity growth of a list: amortised O(1) appends, at most a third of a list's block unused. */
const GROWTH = 1.5;
const MIN_LIST_CAPACITY = 8;
const NO_IDS = new Uint32Array(0);

/** The default nProbe: 1/16 of the lists, but at least 8 (all of them when there are fewer). */
export function defaultNProbe(nList: number): number {
  return Math.min(nList, Math.max(8, Math.round(nList / 16)));
}

/**
 * IVF-Flat (Jégou, Douze & Schmid 2011; Faiss's IndexIVFFlat): k-means splits the space into
 * `nList` cells; each vector is stored, uncompressed, in the inverted list of its nearest centroid;
 * a query scans only the `nProbe` lists whose centroids are nearest to it. Recall rises with
 * nProbe; nProbe = nList is an exact search.
 *
 * Storage: the coarse quantizer is a FlatIndex of the centroids (ids = list numbers). Each list
 * keeps its vectors contiguous in this index's own arena (one block per list, grown ×1.5 with
 * `realloc`) next to a JS Uint32Array of their ids, so scanning a list is one `distRange` per block.
 * A Map gives each id's list and position; removal moves the list's last vector into the hole.
 *
 * Filters are applied while scanning. Whenever the probed lists yield fewer than k hits (a
 * selective filter, or k above what they hold), the other lists are scanned too, so a search
 * returns min(k, vectors that match) hits. Small allow-lists skip the lists altogether: their
 * vectors are gathered and compared directly, which is exact.
 */
export class IvfIndex implements VectorIndex {
  readonly kind = 'ivf' as const;
  readonly dim: number;
  readonly metric: Metric;
  readonly #code: number;
  readonly #stride: number;
  readonly #block: number;
  readonly #nListOption: number; // 0 = auto
  readonly #nProbeOption: number; // 0 = auto
  readonly #seed: number;
  readonly #iterations: number;
  #params: Readonly<Record<string, number>>;
  #nList = 0; // 0 until trained
  #nProbe = 0;
  #quantizer: FlatIndex | undefined;
  #centroids: Float32Array = new Float32Array(0);
  readonly #arena = new Arena();
  readonly #qPtr: number; // the query being answered
  readonly #outPtr: number; // block distances
  readonly #slotPtr: number; // block positions for gathers
  // Per list: block pointer (0 = none yet), live vectors, capacity in vectors, ids.
  #listPtr = new Uint32Array(0);
  #listSize = new Uint32Array(0);
  #listCap = new Uint32Array(0);
  #listIds: Uint32Array[] = [];
  #probed = new Uint8Array(0); // scratch: lists already scanned by a search
  #extra = new Uint32Array(0); // scratch: vectors an add puts in each list
  readonly #where = new Map<number, number>();
  #n = 0;

  constructor(options: IvfIndexOptions) {
    const { dim, metric } = checkIndexShape(options?.dim, options?.metric ?? 'l2');
    this.dim = dim;
    this.metric = metric;
    this.#nListOption = checkInt(options.nList, 'nList', { min: 1, max: MAX_LISTS, fallback: 0 });
    this.#nProbeOption = checkInt(options.nProbe, 'nProbe', { min: 1, max: MAX_LISTS, fallback: 0 });
    if (this.#nListOption > 0 && this.#nProbeOption > this.#nListOption) {
      throw new OmnivecError('invalid_argument',
        `nProbe: expected at most nList (${this.#nListOption}), got the number ${this.#nProbeOption}`);
    }
    this.#seed = checkInt(options.seed, 'seed', { min: 0, max: 0xffffffff, fallback: 42 });
    this.#iterations = checkInt(options.iterations, 'iterations', { min: 0, max: 10_000, fallback: 20 });
    this.#code = metricCode(metric);
    this.#stride = dim * 4;
    this.#block = Math.max(16, Math.min(4096, Math.floor(BLOCK_BYTES / this.#stride)));
    this.#qPtr = this.#arena.alloc(this.#stride);
    this.#outPtr = this.#arena.alloc(this.#block * 4);
    this.#slotPtr = this.#arena.alloc(this.#block * 4);
    this.#params = this.#makeParams();
  }

  get size(): number {
    return this.#n;
  }

  get isTrained(): boolean {
    return this.#quantizer !== undefined;
  }

  /** An empty index with these options and (once trained) these centroids: a new segment (docs/indexes/segments.md). */
  emptyLike(): IvfIndex {
    const c = new IvfIndex({ dim: this.dim, metric: this.metric, nList: this.#nListOption || undefined, nProbe: this.#nProbeOption || undefined, seed: this.#seed, iterations: this.#iterations });
    if (this.#quantizer !== undefined) {
      c.#install(this.#centroids, this.#nList);
      c.#nProbe = this.#nProbe;
      c.#params = c.#makeParams();
    }
    return c;
  }

  /** nList and nProbe are 0 ("auto") before training when not given, then the values in use. */
  get params(): Readonly<Record<string, number>> {
    return this.#params;
  }

  #makeParams(): Readonly<Record<string, number>> {
    const trained = this.isTrained;
    return Object.freeze({
      nList: trained ? this.#nList : this.#nListOption,
      nProbe: trained ? this.#nProbe : this.#nProbeOption,
      seed: this.#seed,
      iterations: this.#iterations,
    });
  }

  /**
   * Runs k-means on the sample and installs the centroids. Allowed again only while the index is
   * empty (the stored vectors would sit in lists of the old centroids).
   */
  train(sample: VectorBatch): void {
    if (this.#n > 0) {
      throw new OmnivecError('invalid_argument',
        `train: expected an untrained or empty index, got a trained index holding ${this.#n} vectors; remove them or build a new index to train again`);
    }
    checkBatch(sample, this.dim, 'sample');
    const n = sample.count;
    if (n === 0) throw new OmnivecError('invalid_argument', 'sample: expected at least one vector to train on, got an empty batch');
    // More lists than sample vectors would leave lists without a centroid of their own.
    const nList = this.#nListOption > 0
      ? Math.min(this.#nListOption, n)
      : Math.min(n, Math.max(1, Math.round(4 * Math.sqrt(n))));
    const centroids = kmeans(sample, nList, { metric: this.metric, iterations: this.#iterations, seed: this.#seed });
    this.#install(centroids, nList);
    this.#nProbe = this.#nProbeOption > 0 ? Math.min(this.#nProbeOption, nList) : defaultNProbe(nList);
    this.#params = this.#makeParams();
  }

  /** Builds the quantizer over `centroids` and empty lists (freeing any old ones). */
  #install(centroids: Float32Array, nList: number): void {
    const quantizer = new FlatIndex({ dim: this.dim, metric: this.metric });
    const listNumbers = new Uint32Array(nList);
    for (let l = 0; l < nList; l++) listNumbers[l] = l;
    quantizer.add(listNumbers, { data: centroids, dim: this.dim, count: nList });
    for (let l = 0; l < this.#nList; l++) if (this.#listPtr[l] !== 0) this.#arena.free(this.#listPtr[l]!);
    this.#quantizer = quantizer;
    this.#centroids = centroids;
    this.#nList = nList;
    this.#listPtr = new Uint32Array(nList);
    this.#listSize = new Uint32Array(nList);
    this.#listCap = new Uint32Array(nList);
    this.#listIds = new Array<Uint32Array>(nList).fill(NO_IDS);
    this.#probed = new Uint8Array(nList);
    this.#extra = new Uint32Array(nList);
    this.#where.clear();
    this.#n = 0;
  }

  has(id: number): boolean {
    return this.#where.has(id);
  }

  add(ids: ArrayLike<number>, vectors: VectorBatch, options?: AddOptions): void {
    const quantizer = this.#quantizer;
    if (quantizer === undefined) {
      throw new OmnivecError('not_trained',
        'add: expected a trained IVF index, got an untrained one; call train(sample) first with a representative sample of vectors');
    }
    checkBatch(vectors, this.dim);
    const checked = checkNewIds(ids, vectors.count, (id) => this.has(id));
    if (vectors.count === 0) return;
    const lists = quantizer.searchBatch(vectors, 1).ids;
    // Reserve every list first: if memory runs out, no vector has been added yet. `#extra` is all
    // zeros between calls (touched entries are reset), so a small add costs nothing per list.
    const extra = this.#extra;
    for (let i = 0; i < vectors.count; i++) extra[lists[i]!]!++;
    try {
      for (let i = 0; i < vectors.count; i++) {
        const l = lists[i]!;
        if (extra[l] === 0) continue;
        this.#reserve(l, this.#listSize[l]! + extra[l]!);
        extra[l] = 0;
      }
    } finally {
      for (let i = 0; i < vectors.count; i++) extra[lists[i]!] = 0;
    }
    const f32 = this.#arena.f32;
    for (let i = 0; i < vectors.count; i++) {
      const l = lists[i]!;
      const pos = this.#listSize[l]!++;
      const off = (this.#listPtr[l]! >> 2) + pos * this.dim;
      f32.set(vectors.data.subarray(i * this.dim, (i + 1) * this.dim), off);
      if (this.metric === 'cosine') normalizeInPlace(f32, off, this.dim);
      this.#listIds[l]![pos] = checked[i]!;
      this.#where.set(checked[i]!, l * POS + pos);
    }
    this.#n += vectors.count;
    options?.onProgress?.(vectors.count, vectors.count);
  }

  remove(ids: ArrayLike<number>): number {
    let removed = 0;
    const u8 = this.#arena.u8;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const w = this.#where.get(id);
      if (w === undefined) continue;
      const l = Math.floor(w / POS);
      const pos = w - l * POS;
      const last = --this.#listSize[l]!;
      if (pos !== last) {
        const ptr = this.#listPtr[l]!;
        u8.copyWithin(ptr + pos * this.#stride, ptr + last * this.#stride, ptr + (last + 1) * this.#stride);
        const moved = this.#listIds[l]![last]!;
        this.#listIds[l]![pos] = moved;
        this.#where.set(moved, w);
      }
      this.#where.delete(id);
      this.#n--;
      removed++;
    }
    return removed;
  }

  getVector(id: number): Float32Array | undefined {
    const w = this.#where.get(id);
    if (w === undefined) return undefined;
    const l = Math.floor(w / POS);
    const off = (this.#listPtr[l]! >> 2) + (w - l * POS) * this.dim;
    return this.#arena.f32.slice(off, off + this.dim);
  }

  /** Live ids, list after list. */
  ids(): Uint32Array {
    const out = new Uint32Array(this.#n);
    let o = 0;
    for (let l = 0; l < this.#nList; l++) {
      out.set(this.#listIds[l]!.subarray(0, this.#listSize[l]!), o);
      o += this.#listSize[l]!;
    }
    return out;
  }

  compact(): void {
    // Nothing to reclaim: removals fill their hole at once, so lists are always dense. The spare
    // capacity of a list (under a third of its block) is kept for the next adds; shrinking it would
    // not return memory anyway, since WebAssembly memory never shrinks.
  }

  search(query: Float32Array, k: number, options?: SearchOptions): SearchResult {
    checkQuery(query, this.dim);
    checkK(k);
    const filter = resolveFilter(options);
    const nProbe = this.#probeCount(options);
    if (this.#n === 0) throw emptyIndexError();
    const heap = new TopK(Math.min(k, this.#n));
    const gather = this.#gatherPlan(filter, nProbe);
    // The quantizer's batch path for one query too: single and batched searches probe the same lists.
    const probes = gather === undefined && nProbe < this.#nList
      ? this.#quantizer!.searchBatch({ data: query, dim: this.dim, count: 1 }, nProbe).ids
      : undefined;
    this.#answer(query, heap, filter, gather, probes);
    const ids = new Uint32Array(heap.size);
    const distances = new Float32Array(heap.size);
    heap.drainSorted(ids, distances);
    return { ids, distances };
  }

  searchBatch(queries: VectorBatch, k: number, options?: SearchOptions): BatchSearchResult {
    checkBatch(queries, this.dim, 'queries');
    checkK(k);
    const filter = resolveFilter(options);
    const nProbe = this.#probeCount(options);
    if (this.#n === 0) throw emptyIndexError();
    const result = emptyBatchResult(queries.count, k);
    const heap = new TopK(Math.min(k, this.#n));
    const gather = this.#gatherPlan(filter, nProbe);
    const probes = gather === undefined && nProbe < this.#nList ? this.#quantizer!.searchBatch(queries, nProbe).ids : undefined;
    for (let q = 0; q < queries.count; q++) {
      const query = queries.data.subarray(q * this.dim, (q + 1) * this.dim);
      this.#answer(query, heap, filter, gather, probes?.subarray(q * nProbe, (q + 1) * nProbe));
      result.counts[q] = heap.drainSorted(result.ids, result.distances, q * k);
    }
    return result;
  }

  /** The nProbe of one search: the option clamped to nList, or the index's own. */
  #probeCount(options: SearchOptions | undefined): number {
    const v = options?.nProbe;
    if (v === undefined) return this.#nProbe;
    return Math.min(checkInt(v, 'nProbe', { min: 1, note: `values above nList = ${this.#nList} scan every list` }), this.#nList);
  }

  /**
   * Fills `heap` with the query's hits: from the gathered allow-list when `gather` is given, else
   * from the `probes` lists (every list when undefined), then from the other lists if the probed
   * ones gave fewer hits than the heap holds.
   */
  #answer(query: Float32Array, heap: TopK, filter: ResolvedFilter, gather: Float64Array | undefined, probes: Uint32Array | undefined): void {
    const f32 = this.#arena.f32;
    const q = this.#qPtr >> 2;
    f32.set(query, q);
    if (this.metric === 'cosine') normalizeInPlace(f32, q, this.dim);
    if (gather !== undefined) {
      this.#gatherInto(heap, gather, filter);
      return;
    }
    if (probes === undefined) {
      for (let l = 0; l < this.#nList; l++) this.#scanList(l, heap, filter);
      return;
    }
    for (let i = 0; i < probes.length; i++) this.#scanList(probes[i]!, heap, filter);
    if (heap.size === heap.capacity) return;
    // Too few hits: finish with the lists not probed, which makes this search exact.
    for (let i = 0; i < probes.length; i++) this.#probed[probes[i]!] = 1;
    for (let l = 0; l < this.#nList; l++) if (this.#probed[l] === 0) this.#scanList(l, heap, filter);
    for (let i = 0; i < probes.length; i++) this.#probed[probes[i]!] = 0;
  }

  /** Offers list `l`'s (allowed) vectors' distances to the query to `heap`. */
  #scanList(l: number, heap: TopK, filter: ResolvedFilter): void {
    const n = this.#listSize[l]!;
    const ptr = this.#listPtr[l]!;
    const ids = this.#listIds[l]!;
    const a = this.#arena;
    const out = this.#outPtr >> 2;
    for (let x0 = 0; x0 < n; x0 += this.#block) {
      const nx = Math.min(this.#block, n - x0);
      a.k.distRange(this.#code, this.#qPtr, ptr + x0 * this.#stride, this.#stride, nx, this.dim, this.#outPtr);
      const f32 = a.f32;
      let worst = heap.worst();
      for (let j = 0; j < nx; j++) {
        const d = f32[out + j]!;
        if (d < worst) {
          const id = ids[x0 + j]!;
          if (filter.active && !filter.accepts(id)) continue;
          heap.push(id, d);
          worst = heap.worst();
        }
      }
    }
  }

  /**
   * For an allow-list no larger than what a probe scan would visit (or 1/32 of the index): the
   * positions of its present ids, as sorted `where` values so each list's ids come together.
   * Undefined when the lists should be scanned instead.
   */
  #gatherPlan(filter: ResolvedFilter, nProbe: number): Float64Array | undefined {
    const allow = filter.allowList;
    if (allow === undefined) return undefined;
    if (allow.length > Math.max(this.#n * GATHER_FRACTION, (this.#n * nProbe) / this.#nList)) return undefined;
    const plan = new Float64Array(allow.length);
    let m = 0;
    for (let i = 0; i < allow.length; i++) {
      const w = this.#where.get(allow[i]!);
      if (w !== undefined) plan[m++] = w;
    }
    return plan.subarray(0, m).sort();
  }

  /** Compares the query with the vectors of a gather plan, one `distGather` per list (and block). */
  #gatherInto(heap: TopK, plan: Float64Array, filter: ResolvedFilter): void {
    const a = this.#arena;
    const slots = this.#slotPtr >> 2;
    const out = this.#outPtr >> 2;
    let i = 0;
    while (i < plan.length) {
      const l = Math.floor(plan[i]! / POS);
      const first = l * POS;
      const u32 = a.u32;
      let m = 0;
      while (i < plan.length && m < this.#block && plan[i]! - first < POS) u32[slots + m++] = plan[i++]! - first;
      a.k.distGather(this.#code, this.#qPtr, this.#listPtr[l]!, this.#stride, this.#slotPtr, m, this.dim, this.#outPtr, PREFETCH_BYTES);
      const f32 = a.f32;
      const ids = this.#listIds[l]!;
      for (let j = 0; j < m; j++) {
        const d = f32[out + j]!;
        if (d < heap.worst()) {
          const id = ids[a.u32[slots + j]!]!;
          if (filter.accepts(id)) heap.push(id, d);
        }
      }
    }
  }

  /** Makes room for `n` vectors in list `l` (its block may move; contents are kept). */
  #reserve(l: number, n: number): void {
    const cap = this.#listCap[l]!;
    if (n <= cap) return;
    const next = Math.max(n, Math.ceil(cap * GROWTH), MIN_LIST_CAPACITY);
    const ptr = this.#listPtr[l]!;
    this.#listPtr[l] = ptr === 0 ? this.#arena.alloc(next * this.#stride) : this.#arena.realloc(ptr, next * this.#stride);
    const ids = new Uint32Array(next);
    ids.set(this.#listIds[l]!.subarray(0, this.#listSize[l]!));
    this.#listIds[l] = ids;
    this.#listCap[l] = next;
  }

  stats(): IndexStats {
    let min = this.#nList > 0 ? Infinity : 0;
    let max = 0;
    let squares = 0;
    let idBytes = 0;
    for (let l = 0; l < this.#nList; l++) {
      const s = this.#listSize[l]!;
      min = Math.min(min, s);
      max = Math.max(max, s);
      squares += s * s;
      idBytes += this.#listIds[l]!.byteLength;
    }
    const tables = this.#nList * 17 + this.#centroids.byteLength + idBytes + this.#where.size * 32;
    return {
      kind: this.kind,
      dim: this.dim,
      metric: this.metric,
      size: this.#n,
      memoryBytes: this.#arena.committedBytes + (this.#quantizer?.stats().memoryBytes ?? 0) + tables,
      vectorBytes: this.#n * this.#stride,
      nList: this.#nList,
      nProbe: this.#nProbe,
      listMin: min,
      listMax: max,
      listMean: this.#nList > 0 ? this.#n / this.#nList : 0,
      // Faiss's imbalance factor: 1 when lists are equal, higher when queries meet long lists more often.
      imbalance: this.#n > 0 ? (squares * this.#nList) / (this.#n * this.#n) : 0,
    };
  }

  /** Layout in docs/indexes/ivf.md ("Payload"). */
  writePayload(w: BinaryWriter): void {
    w.json({ ...this.#params, nListOption: this.#nListOption, nProbeOption: this.#nProbeOption });
    w.u8(this.isTrained ? 1 : 0);
    if (!this.isTrained) return;
    w.f32s(this.#centroids);
    const f32 = this.#arena.f32;
    for (let l = 0; l < this.#nList; l++) {
      const n = this.#listSize[l]!;
      const p = this.#listPtr[l]! >> 2;
      w.u32s(this.#listIds[l]!.subarray(0, n));
      w.f32s(f32.subarray(p, p + n * this.dim));
    }
  }

  static readPayload(r: BinaryReader, dim: number, metric: Metric, count: number): IvfIndex {
    const p = r.json<Record<string, unknown>>('ivf params');
    if (p === null || typeof p !== 'object' || Array.isArray(p)) r.fail('ivf params', `expected an object, got ${describe(p)}`);
    const num = (name: string): number => {
      const v = p[name];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) r.fail('ivf params', `${name}: expected an integer ≥ 0, got ${describe(v)}`);
      return v;
    };
    let index: IvfIndex;
    try {
      index = new IvfIndex({
        dim, metric, seed: num('seed'), iterations: num('iterations'),
        nList: num('nListOption') || undefined, nProbe: num('nProbeOption') || undefined,
      });
    } catch (e) {
      if (e instanceof OmnivecError) r.fail('ivf params', e.message);
      throw e;
    }
    const trained = r.u8('ivf trained flag');
    if (trained > 1) r.fail('ivf trained flag', `expected 0 or 1, got ${trained}`);
    if (trained === 0) {
      if (count !== 0) r.fail('ivf trained flag', `an untrained index holds no vectors, the header says ${count}`);
      r.end();
      return index;
    }
    const nList = num('nList');
    const nProbe = num('nProbe');
    const nListOption = index.#nListOption;
    if (nList < 1 || nList > (nListOption > 0 ? nListOption : MAX_LISTS)) {
      r.fail('ivf params', `nList: expected 1 to ${nListOption > 0 ? nListOption : MAX_LISTS}, got ${nList}`);
    }
    if (nProbe < 1 || nProbe > nList) r.fail('ivf params', `nProbe: expected 1 to nList = ${nList}, got ${nProbe}`);
    const centroids = r.f32s('ivf centroids', nList * dim);
    try {
      checkFinite(centroids, dim, 'centroids');
    } catch (e) {
      r.fail('ivf centroids', (e as Error).message);
    }
    index.#install(centroids, nList);
    index.#nProbe = nProbe;
    index.#params = index.#makeParams();
    let total = 0;
    for (let l = 0; l < nList; l++) {
      const ids = r.u32s(`ivf list ${l} ids`);
      total += ids.length;
      if (total > count) r.fail(`ivf list ${l} ids`, `the lists hold more vectors than the ${count} the header declares`);
      const vectors = r.f32sBytes(`ivf list ${l} vectors`, ids.length * dim);
      if (ids.length === 0) continue;
      index.#reserve(l, ids.length);
      index.#arena.u8.set(vectors, index.#listPtr[l]!);
      index.#listIds[l]!.set(ids);
      index.#listSize[l] = ids.length;
      for (let j = 0; j < ids.length; j++) {
        const id = ids[j]!;
        if (id > MAX_ID) r.fail(`ivf list ${l} ids`, `id ${id} is above the largest id ${MAX_ID}`);
        if (index.#where.has(id)) r.fail(`ivf list ${l} ids`, `id ${id} appears twice`);
        index.#where.set(id, l * POS + j);
      }
    }
    if (total !== count) r.fail('ivf lists', `hold ${total} vectors, the header declares ${count}`);
    r.end();
    index.#n = count;
    return index;
  }
}
