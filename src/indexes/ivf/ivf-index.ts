import { OmnivecError, describe } from '../../errors.js';
import { Arena, PREFETCH_BYTES } from '../../vector/arena.js';
import type { Metric } from '../../vector/metric.js';
import { metricCode } from '../../vector/metric.js';
import { checkBatch, checkFinite, checkQuery, type VectorBatch } from '../../vector/batch.js';
import { normalizeInPlace } from '../../vector/normalize.js';
import { TopK } from '../../vector/heap.js';
import type { BinaryReader, BinaryWriter } from '../../storage/binary.js';
import {
  checkIndexShape, copyRound, checkNewIds, emptyBatchResult, emptyIndexError, resolveFilter,
  type ResolvedFilter,
} from '../common.js';
import { checkInt, checkK } from '../../checks.js';
import { FlatIndex, parallelThresholds } from '../flat/flat-index.js';
import { MAX_ID, type ExternalVectors, type PayloadOptions, type BatchSearchResult, type IndexStats, type SearchOptions, type SearchResult, type VectorIndex, type AddOptions } from '../types.js';
import { kmeans, SAMPLES_PER_CENTROID, type KMeansInit } from './kmeans.js';
import { checkSource, forEachRow, idRange } from '../external.js';
import { checkThreads, parallelFor, resolveThreads } from '../../parallel/pool.js';
import { IVF_UNIT, ivfSearchTask, type IvfSearchJob } from './ivf-jobs.js';
import { checkQuantization, defaultRescore, checkRescore, type Quantization } from '../quant/options.js';
import { createQuantizer, readQuantizer, type Quantizer, type WarningHook } from '../quant/quantizer.js';
import { ProductQuantizer, PQ_CENTROIDS, PQ_MAX_TRAIN, PQ_SCAN_BLOCK, checkPqM } from '../quant/pq.js';
import { Random } from '../../vector/random.js';

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
  /**
   * Threads of `train`, `add` and `searchBatch` (the calling thread and pool workers; not
   * persisted). Default: every core. 1 runs the single-thread code. docs/indexes/threads.md.
   */
  threads?: number;
  /**
   * How the lists store vectors: 'none' (float32, IVF-Flat), 'pq' (IVF-PQ: `pqM` bytes a vector,
   * residuals to the list's centroid), 'int8' or 'binary'. Quantised lists are scanned by code
   * distance and the best `rescore × k` re-ranked by exact float32 distance. Default 'none'.
   */
  quantization?: Quantization;
  /** Candidates re-scored = rescore × k (quantised indexes only). Default 8 for pq (IVF_PQ_DEFAULT_RESCORE), `defaultRescore` of quant/options.ts for int8 / binary. */
  rescore?: number;
  /** PQ sub-quantisers (8 bits each); must divide dim. Default dim / 4 (see defaultPqM). */
  pqM?: number;
  /** Receives the warning of 'binary' with l2 on data of varied norms (default: process.emitWarning). */
  onWarning?: WarningHook;
}

/** Per-call options of IvfIndex.train (defaults measured: docs/indexes/ivf.md, "Training"). */
export interface IvfTrainOptions {
  /** Early stop of the Lloyd iterations (kmeans.ts): relative objective gain / fraction of points moved. Default IVF_TRAIN_TOLERANCE. */
  tolerance?: number;
  /** Seeding: 'random' (Faiss's; no pass over the sample) or 'kmeans++'. Default IVF_TRAIN_INIT. */
  init?: KMeansInit;
  /** Largest sample, as a multiple of nList; a larger one is subsampled (seeded). Default IVF_SAMPLES_PER_CENTROID. */
  samplesPerCentroid?: number;
}

/**
 * IVF's k-means defaults, measured with bench/ivf-train.ts (docs/indexes/ivf.md, "Training").
 * TOLERANCE: see there; INIT 'random': k-means++ seeding cost as much as 6 Lloyd iterations at
 * nList 1265 (one pass over the sample per centroid) for no recall at the default nProbe.
 * SAMPLES_PER_CENTROID: Faiss's cap.
 */
export const IVF_TRAIN_TOLERANCE = 1e-2;
export const IVF_TRAIN_INIT: KMeansInit = 'random';
export const IVF_SAMPLES_PER_CENTROID = SAMPLES_PER_CENTROID;

/**
 * Default `rescore` of IVF-PQ: 8, chosen by measurement (docs/indexes/ivf.md, "IVF-PQ measured
 * against Faiss"): 100k × 128 synthetic clusters with the default pqM (32), nProbe 16: recall@10
 * after re-scoring 0.993 at 8 against 0.946 at 4 (MNIST, pqM 49 or 98, nProbe 8: 0.977 at 4 or 8).
 * int8 and binary use `defaultRescore` (quant/options.ts, as flat and HNSW).
 */
export const IVF_PQ_DEFAULT_RESCORE = 8;
/** Largest precomputed IVF-PQ l2 term table (nList × pqM × 256 floats); beyond, tables are built per list. */
const MAX_PQ_TERM_BYTES = 256 * 1024 * 1024;
/** Vectors a quantised add encodes at a time. */
const ADD_CHUNK = 16384;

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
/**
 * A batch's list scans go to the workers only from this many queries and from
 * `parallelThresholds.minWork` multiply-adds (queries × vectors scanned × dim, the vectors
 * scanned estimated as size × nProbe / nList), as the flat index's batches.
 */
const MIN_PARALLEL_QUERIES = 2 * IVF_UNIT;
/** Bytes of queries copied into the index's memory per round of a threaded batch search. */
const ROUND_BYTES = 4 << 20;

/** The id mirror of the workers: every list's ids, list after list, in SharedArrayBuffers. */
interface IdMirror {
  listPtr: Uint32Array;
  listSize: Uint32Array;
  listStart: Uint32Array;
  ids: Uint32Array;
}
const NO_FLOATS = new Float32Array(0);
const TOUCHED = new Float64Array(1);

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
 *
 * Quantised lists (`quantization` 'pq', 'int8', 'binary'; docs/indexes/ivf.md): the arena blocks
 * hold codes instead of vectors (pq: residuals to the list's centroid, scanned by ADC in the PQ
 * WebAssembly module, src/indexes/quant/pq.ts; int8 / binary: the quantiser's kernel metric code),
 * the float32 vectors sit in one JS Float32Array per list at the same positions, and a search
 * re-ranks its best `rescore × k` candidates by exact distance. 'none' is the code above, unchanged.
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
  readonly #quant: Quantization;
  readonly #rescore: number;
  readonly #pqM: number; // 0 unless quantization is 'pq'
  /** Bytes of one list record: the float32 vector ('none') or its code. */
  readonly #rec: number;
  #pq: ProductQuantizer | undefined;
  /** 'int8' / 'binary': the scalar or sign quantiser (src/indexes/quant/quantizer.ts); codes compared by its kernel metric code. */
  #sq: Quantizer | undefined;
  #qCodePtr = 0; // int8 / binary: the query's code in the arena
  #wheres = new Float64Array(64); // scratch: the candidates' places
  // Re-scoring: a small arena of its own (query, candidates' float vectors, distances).
  #rs: Arena | undefined;
  #rsQ = 0;
  #rsBuf = 0;
  #rsOut = 0;
  #rsCap = 0;
  /** Quantised: each list's float32 vectors (normalised for cosine), positions as in the list, outside the arena. */
  #listFloats: Float32Array[] = [];
  #params: Readonly<Record<string, number | string>>;
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
  #threads: number;
  #mirror: IdMirror | undefined; // for threaded searches; undefined when stale

  constructor(options: IvfIndexOptions) {
    const { dim, metric } = checkIndexShape(options?.dim, options?.metric ?? 'l2');
    this.#threads = resolveThreads(options.threads);
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
    this.#quant = checkQuantization(options.quantization, 'ivf');
    this.#rescore = checkRescore(options.rescore, 'rescore', this.#quant === 'pq' ? IVF_PQ_DEFAULT_RESCORE : defaultRescore(this.#quant));
    this.#pqM = this.#quant === 'pq' ? checkPqM(options.pqM, dim) : 0;
    if (this.#quant !== 'pq' && options.pqM !== undefined) {
      throw new OmnivecError('invalid_argument', `pqM: only for quantization 'pq', got pqM = ${describe(options.pqM)} with quantization '${this.#quant}'`);
    }
    if (this.#quant === 'int8' || this.#quant === 'binary') this.#sq = createQuantizer(this.#quant, dim, metric, options.onWarning);
    this.#code = metricCode(metric);
    this.#stride = dim * 4;
    this.#rec = this.#quant === 'pq' ? this.#pqM : this.#sq !== undefined ? this.#sq.codeBytes : this.#stride;
    this.#block = Math.max(16, Math.min(4096, Math.floor(BLOCK_BYTES / this.#rec)));
    this.#qPtr = this.#arena.alloc(this.#stride);
    this.#outPtr = this.#arena.alloc(this.#block * 4);
    this.#slotPtr = this.#arena.alloc(this.#block * 4);
    if (this.#sq !== undefined) this.#qCodePtr = this.#arena.alloc(this.#rec);
    this.#params = this.#makeParams();
  }

  get size(): number {
    return this.#n;
  }

  /** Threads of `train`, `add` and `searchBatch` unless a call says otherwise (an integer ≥ 1; not persisted). */
  get threads(): number {
    return this.#threads;
  }

  set threads(value: number) {
    this.#threads = checkThreads(value);
  }

  get isTrained(): boolean {
    return this.#quantizer !== undefined;
  }

  /** An empty index with these options and (once trained) these centroids: a new segment (docs/indexes/segments.md). */
  emptyLike(): IvfIndex {
    const c = new IvfIndex({
      dim: this.dim, metric: this.metric, nList: this.#nListOption || undefined, nProbe: this.#nProbeOption || undefined, seed: this.#seed,
      iterations: this.#iterations, quantization: this.#quant, rescore: this.#quant === 'none' ? undefined : this.#rescore,
      pqM: this.#pqM || undefined, threads: this.#threads,
    });
    if (this.#quantizer !== undefined) {
      c.#install(this.#centroids, this.#nList);
      // The same codebooks / code ranges as this segment's (learnt once, shared).
      if (this.#pq !== undefined) c.#setPq(this.#pq);
      if (this.#sq !== undefined) c.#sq = this.#sq;
      c.#nProbe = this.#nProbe;
      c.#params = c.#makeParams();
    }
    return c;
  }

  /** nList and nProbe are 0 ("auto") before training when not given, then the values in use. */
  get params(): Readonly<Record<string, number | string>> {
    return this.#params;
  }

  #makeParams(): Readonly<Record<string, number | string>> {
    const trained = this.isTrained;
    const base = {
      nList: trained ? this.#nList : this.#nListOption,
      nProbe: trained ? this.#nProbe : this.#nProbeOption,
      seed: this.#seed,
      iterations: this.#iterations,
    };
    if (this.#quant === 'none') return Object.freeze(base); // as before quantisation existed
    const quant: Record<string, number | string> = { ...base, quantization: this.#quant, rescore: this.#rescore };
    if (this.#quant === 'pq') quant.pqM = this.#pqM;
    return Object.freeze(quant);
  }

  /** The quantisation of the lists ('none': float32). */
  get quantization(): Quantization {
    return this.#quant;
  }

  /**
   * Runs k-means on the sample and installs the centroids. Allowed again only while the index is
   * empty (the stored vectors would sit in lists of the old centroids). `options` tune this
   * training only (not persisted; docs/indexes/ivf.md, "Training"): at most `iterations` Lloyd
   * iterations, stopped early by `tolerance`, from `init` seeds, on a seeded subsample of at most
   * `samplesPerCentroid` × nList vectors.
   */
  train(sample: VectorBatch, options: IvfTrainOptions = {}): void {
    if (this.#n > 0) {
      throw new OmnivecError('invalid_argument',
        `train: expected an untrained or empty index, got a trained index holding ${this.#n} vectors; remove them or build a new index to train again`);
    }
    checkBatch(sample, this.dim, 'sample');
    const n = sample.count;
    if (n === 0) throw new OmnivecError('invalid_argument', 'sample: expected at least one vector to train on, got an empty batch');
    if (this.#quant === 'pq' && n < PQ_CENTROIDS) {
      throw new OmnivecError('invalid_argument',
        `sample: IVF-PQ training needs at least ${PQ_CENTROIDS} vectors (one per centroid of each of the ${this.#pqM} sub-quantisers), got ${n}; give a larger sample, or use quantization 'none'`);
    }
    // More lists than sample vectors would leave lists without a centroid of their own.
    const nList = this.#nListOption > 0
      ? Math.min(this.#nListOption, n)
      : Math.min(n, Math.max(1, Math.round(4 * Math.sqrt(n))));
    const perCentroid = checkInt(options.samplesPerCentroid, 'samplesPerCentroid', { min: 1, max: 1 << 20, fallback: IVF_SAMPLES_PER_CENTROID });
    const centroids = kmeans(sample, nList, {
      metric: this.metric, iterations: this.#iterations, seed: this.#seed, threads: this.#threads,
      tolerance: options.tolerance ?? IVF_TRAIN_TOLERANCE, init: options.init ?? IVF_TRAIN_INIT,
      maxSamples: Math.min(2 ** 31 - 1, Math.max(nList, perCentroid * nList)),
    });
    this.#install(centroids, nList);
    if (this.#quant === 'pq') this.#trainPq(sample);
    if (this.#sq !== undefined) {
      const rows = sample.data.slice(0, n * this.dim);
      if (this.metric === 'cosine') for (let i = 0; i < n; i++) normalizeInPlace(rows, i * this.dim, this.dim);
      this.#sq.train(rows, n);
    }
    this.#nProbe = this.#nProbeOption > 0 ? Math.min(this.#nProbeOption, nList) : defaultNProbe(nList);
    this.#params = this.#makeParams();
  }

  /**
   * IVF-PQ: the PQ codebooks, learnt on the residuals of the sample to their nearest centroid
   * (Faiss's IndexIVFPQ, by_residual), then the l2 list terms.
   */
  #trainPq(sample: VectorBatch): void {
    let rows = sample;
    if (sample.count > PQ_MAX_TRAIN) {
      // The seeded subsample PQ training would take anyway, before the residuals are computed.
      const dim = this.dim;
      const pick = new Random(this.#seed).sample(sample.count, PQ_MAX_TRAIN);
      const data = new Float32Array(pick.length * dim);
      for (let i = 0; i < pick.length; i++) data.set(sample.data.subarray(pick[i]! * dim, (pick[i]! + 1) * dim), i * dim);
      rows = { data, dim, count: pick.length };
    }
    const residuals = this.#residuals(rows);
    this.#setPq(ProductQuantizer.train({ data: residuals, dim: this.dim, count: rows.count }, this.#pqM, { seed: this.#seed }));
  }

  #setPq(pq: ProductQuantizer): void {
    this.#pq = pq;
    if (this.metric === 'l2' && this.#nList * this.#pqM * PQ_CENTROIDS * 4 <= MAX_PQ_TERM_BYTES) {
      pq.kernels.setListTerms(this.#centroids, this.#nList);
    }
  }

  /**
   * The vectors of a batch (normalised for cosine) minus their nearest centroid, and that
   * centroid's number (`lists`, computed when not given).
   */
  #residuals(batch: VectorBatch, lists?: Uint32Array): Float32Array {
    const dim = this.dim;
    const out = batch.data.slice(0, batch.count * dim);
    if (this.metric === 'cosine') for (let i = 0; i < batch.count; i++) normalizeInPlace(out, i * dim, dim);
    const nearest = lists ?? this.#quantizer!.searchBatch(batch, 1).ids;
    const c = this.#centroids;
    for (let i = 0; i < batch.count; i++) {
      const o = i * dim;
      const co = nearest[i]! * dim;
      for (let j = 0; j < dim; j++) out[o + j] = out[o + j]! - c[co + j]!;
    }
    return out;
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
    this.#listFloats = this.#quant === 'none' ? [] : new Array<Float32Array>(nList).fill(NO_FLOATS);
    this.#pq = undefined;
    this.#probed = new Uint8Array(nList);
    this.#extra = new Uint32Array(nList);
    this.#where.clear();
    this.#n = 0;
    this.#mirror = undefined;
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
    const threads = resolveThreads(options?.threads, this.#threads);
    const checked = checkNewIds(ids, vectors.count, (id) => this.has(id));
    if (vectors.count === 0) return;
    // The assignment (distances to the centroids) on `threads` threads; the appends below stay
    // here, in input order, so the lists are those of one thread.
    const lists = quantizer.searchBatch(vectors, 1, { threads }).ids;
    this.#mirror = undefined;
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
    if (this.#quant !== 'none') {
      this.#addCodes(checked, vectors, lists);
      options?.onProgress?.(vectors.count, vectors.count);
      return;
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

  /** Quantised add (lists reserved): each vector's code into the arena, its float32 vector beside. */
  #addCodes(ids: Uint32Array, vectors: VectorBatch, lists: Uint32Array): void {
    const dim = this.dim;
    const n = vectors.count;
    const chunk = Math.min(n, ADD_CHUNK);
    const codes = new Uint8Array(chunk * this.#rec);
    const u8 = this.#arena.u8;
    for (let i = 0; i < n; i++) {
      const c = i % chunk; // place in this chunk's codes
      if (c === 0 && this.#pq !== undefined) {
        // Residuals and codes a chunk at a time: a large add does not copy all its vectors at once.
        const count = Math.min(chunk, n - i);
        const part = { data: vectors.data.subarray(i * dim, (i + count) * dim), dim, count };
        this.#pq.encode(this.#residuals(part, lists.subarray(i, i + count)), count, codes);
      }
      const l = lists[i]!;
      const pos = this.#listSize[l]!++;
      const floats = this.#listFloats[l]!;
      floats.set(vectors.data.subarray(i * dim, (i + 1) * dim), pos * dim);
      if (this.metric === 'cosine') normalizeInPlace(floats, pos * dim, dim);
      if (this.#sq !== undefined) this.#sq.encode(floats, pos * dim, codes, c * this.#rec);
      u8.set(codes.subarray(c * this.#rec, (c + 1) * this.#rec), this.#listPtr[l]! + pos * this.#rec);
      this.#listIds[l]![pos] = ids[i]!;
      this.#where.set(ids[i]!, l * POS + pos);
    }
    this.#n += n;
  }

  remove(ids: ArrayLike<number>): number {
    let removed = 0;
    const u8 = this.#arena.u8;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const w = this.#where.get(id);
      if (w === undefined) continue;
      this.#mirror = undefined;
      const l = Math.floor(w / POS);
      const pos = w - l * POS;
      const last = --this.#listSize[l]!;
      if (pos !== last) {
        const ptr = this.#listPtr[l]!;
        u8.copyWithin(ptr + pos * this.#rec, ptr + last * this.#rec, ptr + (last + 1) * this.#rec);
        if (this.#quant !== 'none') {
          const floats = this.#listFloats[l]!;
          floats.copyWithin(pos * this.dim, last * this.dim, (last + 1) * this.dim);
        }
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
    if (this.#quant !== 'none') {
      const off = (w - l * POS) * this.dim;
      return this.#listFloats[l]!.slice(off, off + this.dim);
    }
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
    if (this.#quant !== 'none') {
      const r = this.#searchCodes({ data: query, dim: this.dim, count: 1 }, k, options, filter, nProbe);
      return { ids: r.ids.slice(0, r.counts[0]), distances: r.distances.slice(0, r.counts[0]) };
    }
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
    const threads = resolveThreads(options?.threads, this.#threads);
    if (this.#n === 0) throw emptyIndexError();
    if (this.#quant !== 'none') return this.#searchCodes(queries, k, options, filter, nProbe);
    const result = emptyBatchResult(queries.count, k);
    const heap = new TopK(Math.min(k, this.#n));
    const gather = this.#gatherPlan(filter, nProbe);
    const probes = gather === undefined && nProbe < this.#nList ? this.#quantizer!.searchBatch(queries, nProbe, { threads }).ids : undefined;
    // A predicate is the calling thread's: such searches stay here. A large allow-list crosses as a
    // mask over the id mirror (a small one is gathered, below).
    if (threads > 1 && (!filter.active || (options?.filter === undefined && gather === undefined)) &&
      queries.count >= MIN_PARALLEL_QUERIES &&
      queries.count * ((this.#n * Math.min(nProbe, this.#nList)) / this.#nList) * this.dim >= parallelThresholds.minWork) {
      this.#scanParallel(queries, k, threads, probes, nProbe, filter.allowList, result);
      return result;
    }
    for (let q = 0; q < queries.count; q++) {
      const query = queries.data.subarray(q * this.dim, (q + 1) * this.dim);
      this.#answer(query, heap, filter, gather, probes?.subarray(q * nProbe, (q + 1) * nProbe));
      result.counts[q] = heap.drainSorted(result.ids, result.distances, q * k);
    }
    return result;
  }

  /**
   * The list scans of a `searchBatch` without a predicate (an allow-list crosses as a mask over
   * the id mirror) on `threads` threads (docs/indexes/threads.md):
   * in rounds of up to ROUND_BYTES of queries, each query answered by one participant
   * (ivf-jobs.ts) exactly as `#answer` would. The round's queries and the workers' scratch are
   * allocated at the top of the arena and freed at the end.
   */
  #scanParallel(queries: VectorBatch, k: number, threads: number, probes: Uint32Array | undefined, nProbe: number,
    allow: Uint32Array | undefined, result: BatchSearchResult): void {
    const a = this.#arena;
    const mirror = this.#idMirror();
    let allowed: Uint8Array | undefined;
    if (allow !== undefined) {
      allowed = new Uint8Array(new SharedArrayBuffer(Math.max(1, this.#n)));
      for (let i = 0; i < allow.length; i++) {
        const w = this.#where.get(allow[i]!);
        if (w === undefined) continue;
        const l = Math.floor(w / POS);
        allowed[mirror.listStart[l]! + w - l * POS] = 1;
      }
    }
    const roundQ = Math.min(queries.count, Math.max(IVF_UNIT, Math.floor(ROUND_BYTES / this.#stride)));
    const scratch = new Uint32Array(new SharedArrayBuffer(threads * 4));
    const outBytes = this.#block * 4;
    scratch[0] = this.#outPtr; // this thread's own scratch
    const extra = threads > 1 ? a.alloc((threads - 1) * outBytes) : 0;
    for (let t = 1; t < threads; t++) scratch[t] = extra + (t - 1) * outBytes;
    const qPtr = a.alloc(roundQ * this.#stride);
    try {
      const job: IvfSearchJob = {
        memory: a.memory, module: Arena.kernels(),
        code: this.#code, dim: this.dim, stride: this.#stride, block: this.#block, nList: this.#nList, ...mirror, allowed,
        qPtr, nq: 0, probes: probes === undefined ? undefined : new Uint32Array(new SharedArrayBuffer(roundQ * nProbe * 4)),
        nProbe, cap: Math.min(k, this.#n), k, scratch,
        outIds: new Uint32Array(new SharedArrayBuffer(roundQ * k * 4)),
        outDists: new Float32Array(new SharedArrayBuffer(roundQ * k * 4)),
        outCounts: new Uint32Array(new SharedArrayBuffer(roundQ * 4)),
      };
      for (let r0 = 0; r0 < queries.count; r0 += roundQ) {
        const nq = Math.min(roundQ, queries.count - r0);
        const f32 = a.f32;
        f32.set(queries.data.subarray(r0 * this.dim, (r0 + nq) * this.dim), qPtr >> 2);
        if (this.metric === 'cosine') for (let i = 0; i < nq; i++) normalizeInPlace(f32, (qPtr >> 2) + i * this.dim, this.dim);
        job.probes?.set(probes!.subarray(r0 * nProbe, (r0 + nq) * nProbe));
        job.nq = nq;
        parallelFor(threads, nq, ivfSearchTask, job, { grain: IVF_UNIT });
        copyRound(job, result, r0, nq, k);
      }
    } finally {
      a.free(qPtr);
      if (extra !== 0) a.free(extra);
    }
  }

  /** The lists as the workers see them (built on first use after a change). */
  #idMirror(): IdMirror {
    if (this.#mirror !== undefined) return this.#mirror;
    const nList = this.#nList;
    const shared = (n: number): Uint32Array => new Uint32Array(new SharedArrayBuffer(Math.max(4, n * 4)));
    const m: IdMirror = { listPtr: shared(nList), listSize: shared(nList), listStart: shared(nList), ids: shared(this.#n) };
    m.listPtr.set(this.#listPtr);
    m.listSize.set(this.#listSize);
    let o = 0;
    for (let l = 0; l < nList; l++) {
      m.listStart[l] = o;
      m.ids.set(this.#listIds[l]!.subarray(0, this.#listSize[l]!), o);
      o += this.#listSize[l]!;
    }
    this.#mirror = m;
    return m;
  }

  /**
   * Quantised search: per query, the probed lists' codes are scanned into the best rescore × k
   * candidates by code distance, which are re-ranked by exact float32 distance (small allow-lists
   * are compared exactly, without the lists). As for IVF-Flat, too few hits in the probed lists
   * (a selective filter) scan the other lists too.
   */
  #searchCodes(queries: VectorBatch, k: number, options: SearchOptions | undefined, filter: ResolvedFilter, nProbe: number): BatchSearchResult {
    const rescore = checkRescore(options?.rescore, 'rescore', this.#rescore);
    const dim = this.dim;
    const result = emptyBatchResult(queries.count, k);
    const heap = new TopK(Math.min(k, this.#n));
    const cand = new TopK(Math.min(k * rescore, this.#n));
    const gather = this.#gatherPlan(filter, nProbe);
    const probes = gather === undefined && nProbe < this.#nList ? this.#quantizer!.searchBatch(queries, nProbe) : undefined;
    const q = new Float32Array(dim);
    for (let qi = 0; qi < queries.count; qi++) {
      q.set(queries.data.subarray(qi * dim, (qi + 1) * dim));
      if (this.metric === 'cosine') normalizeInPlace(q, 0, dim);
      if (gather !== undefined) {
        this.#exactGather(q, gather, heap, filter);
      } else {
        if (this.#sq !== undefined) this.#sq.encode(q, 0, this.#arena.u8, this.#qCodePtr);
        else this.#queryTable(q);
        if (probes === undefined) {
          for (let l = 0; l < this.#nList; l++) this.#scanCodes(q, l, this.#coarse(q, l), cand, filter);
        } else {
          const o = qi * nProbe;
          for (let i = 0; i < nProbe; i++) this.#scanCodes(q, probes.ids[o + i]!, probes.distances[o + i]!, cand, filter);
          if (cand.size < cand.capacity) {
            // Too few hits: the lists not probed too (exact in the set of candidates, as IVF-Flat).
            for (let i = 0; i < nProbe; i++) this.#probed[probes.ids[o + i]!] = 1;
            for (let l = 0; l < this.#nList; l++) if (this.#probed[l] === 0) this.#scanCodes(q, l, this.#coarse(q, l), cand, filter);
            for (let i = 0; i < nProbe; i++) this.#probed[probes.ids[o + i]!] = 0;
          }
        }
        this.#rescoreInto(q, cand, heap);
      }
      result.counts[qi] = heap.drainSorted(result.ids, result.distances, qi * k);
    }
    return result;
  }

  /** The coarse distance of a (normalised) query to list l's centroid: ‖q − c‖² or 1 − q·c. */
  #coarse(q: Float32Array, l: number): number {
    const c = this.#centroids;
    const o = l * this.dim;
    let s = 0;
    if (this.metric === 'l2') {
      for (let j = 0; j < this.dim; j++) s += (q[j]! - c[o + j]!) ** 2;
      return s;
    }
    for (let j = 0; j < this.dim; j++) s += q[j]! * c[o + j]!;
    return 1 - s;
  }

  /** The per-query part of the ADC tables: −2 q·r for l2 (with list terms), −q·r for ip / cosine. */
  #queryTable(q: Float32Array): void {
    const k = this.#pq!.kernels;
    if (this.metric !== 'l2') k.setQuery(q, -1, false);
    else if (k.hasListTerms) k.setQuery(q, -2, false);
  }

  /**
   * Offers list l's (allowed) codes to `cand` by ADC distance: the coarse distance `bias` plus
   * m table look-ups. l2: ‖q − c‖² + Σ (‖r‖² + 2 c·r − 2 q·r) with the precomputed list terms,
   * or ‖(q − c) − r‖² from a table of the residual query when they are too large to keep;
   * ip / cosine: 1 − q·c − Σ q·r.
   */
  #scanCodes(q: Float32Array, l: number, bias: number, cand: TopK, filter: ResolvedFilter): void {
    const n = this.#listSize[l]!;
    if (n === 0) return;
    if (this.#sq !== undefined) {
      this.#scanSq(l, cand, filter);
      return;
    }
    const m = this.#pqM;
    const k = this.#pq!.kernels;
    let useList = false;
    if (this.metric === 'l2') {
      if (k.hasListTerms) {
        k.listTable(l);
        useList = true;
      } else {
        // ‖r_q − r‖² − ‖r_q‖² from the residual query r_q = q − c; bias = ‖r_q‖² already.
        const r = new Float32Array(this.dim);
        const c = this.#centroids;
        for (let j = 0; j < this.dim; j++) r[j] = q[j]! - c[l * this.dim + j]!;
        k.setQuery(r, -2, true);
      }
    }
    const u8 = this.#arena.u8;
    const ids = this.#listIds[l]!;
    const ptr = this.#listPtr[l]!;
    let worst = cand.worst();
    for (let x0 = 0; x0 < n; x0 += PQ_SCAN_BLOCK) {
      const nx = Math.min(PQ_SCAN_BLOCK, n - x0);
      k.scanInto(u8, ptr + x0 * m, nx, bias, useList);
      const dist = k.out;
      for (let i = 0; i < nx; i++) {
        const d = dist[i]!;
        if (d < worst) {
          const id = ids[x0 + i]!;
          if (filter.active && !filter.accepts(id)) continue;
          cand.push(id, d);
          worst = cand.worst();
        }
      }
    }
  }

  /** int8 / binary: offers list l's codes to `cand` by the quantiser's kernel distance (distRange on codes). */
  #scanSq(l: number, cand: TopK, filter: ResolvedFilter): void {
    this.#scanList(l, cand, filter, this.#sq!.metricCode, this.#qCodePtr);
  }

  /** Exact float32 distance of the (normalised) query to the vector at `where`, summed in float64. */
  #exact(q: Float32Array, w: number): number {
    const l = Math.floor(w / POS);
    const x = this.#listFloats[l]!;
    const o = (w - l * POS) * this.dim;
    const dim = this.dim;
    let s = 0;
    if (this.metric === 'l2') {
      for (let j = 0; j < dim; j++) {
        const d = q[j]! - x[o + j]!;
        s += d * d;
      }
      return s;
    }
    for (let j = 0; j < dim; j++) s += q[j]! * x[o + j]!;
    return 1 - s;
  }

  /** Moves the candidates into `heap` by exact distance (empties `cand`). */
  #rescoreInto(q: Float32Array, cand: TopK, heap: TopK): void {
    const n = cand.size;
    if (this.#wheres.length < n) this.#wheres = new Float64Array(Math.max(n, 2 * this.#wheres.length));
    const wheres = this.#wheres;
    // First touch one float in every cache line of every candidate: their misses overlap (the
    // vectors are scattered over the lists), then compute.
    let sink = 0;
    const dim = this.dim;
    for (let i = 0; i < n; i++) {
      const w = this.#where.get(cand.ids[i]!)!;
      wheres[i] = w;
      const l = Math.floor(w / POS);
      const x = this.#listFloats[l]!;
      const o = (w - l * POS) * dim;
      for (let j = 0; j < dim; j += 16) sink += x[o + j]!;
    }
    TOUCHED[0] = sink; // keeps the loads
    // Then copied side by side into the re-scoring arena and compared with the query by the
    // float32 kernel (distances as an IVF-Flat index computes them).
    const a = this.#rescoreArena(n);
    const f32 = a.f32;
    f32.set(q, this.#rsQ >> 2);
    const buf = this.#rsBuf >> 2;
    for (let i = 0; i < n; i++) {
      const w = wheres[i]!;
      const l = Math.floor(w / POS);
      const o = (w - l * POS) * dim;
      f32.set(this.#listFloats[l]!.subarray(o, o + dim), buf + i * dim);
    }
    a.k.distRange(this.#code, this.#rsQ, this.#rsBuf, this.#stride, n, dim, this.#rsOut);
    const out = this.#rsOut >> 2;
    for (let i = 0; i < n; i++) heap.push(cand.ids[i]!, a.f32[out + i]!);
    cand.clear();
  }

  /** The re-scoring arena (created on first use) with room for `n` candidates. */
  #rescoreArena(n: number): Arena {
    let a = this.#rs;
    if (a === undefined) {
      a = this.#rs = new Arena();
      this.#rsQ = a.alloc(this.#stride);
    }
    if (n > this.#rsCap) {
      if (this.#rsCap > 0) {
        a.free(this.#rsBuf);
        a.free(this.#rsOut);
      }
      this.#rsCap = Math.max(n, 64);
      this.#rsOut = a.alloc(this.#rsCap * 4);
      this.#rsBuf = a.alloc(this.#rsCap * this.#stride);
    }
    return a;
  }

  /** A gather plan of a quantised index: exact distances from the float32 vectors. */
  #exactGather(q: Float32Array, plan: Float64Array, heap: TopK, filter: ResolvedFilter): void {
    for (let i = 0; i < plan.length; i++) {
      const w = plan[i]!;
      const l = Math.floor(w / POS);
      const id = this.#listIds[l]![w - l * POS]!;
      if (filter.accepts(id)) heap.push(id, Math.fround(this.#exact(q, w)));
    }
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

  /**
   * Offers list `l`'s (allowed) records' distances to the query at `qPtr` to `heap`, by the kernel
   * of metric `code`: float32 vectors by default, or the int8 / binary codes (`#scanSq`).
   */
  #scanList(l: number, heap: TopK, filter: ResolvedFilter, code = this.#code, qPtr = this.#qPtr): void {
    const n = this.#listSize[l]!;
    const ptr = this.#listPtr[l]!;
    const ids = this.#listIds[l]!;
    const a = this.#arena;
    const out = this.#outPtr >> 2;
    for (let x0 = 0; x0 < n; x0 += this.#block) {
      const nx = Math.min(this.#block, n - x0);
      a.k.distRange(code, qPtr, ptr + x0 * this.#rec, this.#rec, nx, this.dim, this.#outPtr);
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
    this.#listPtr[l] = ptr === 0 ? this.#arena.alloc(next * this.#rec) : this.#arena.realloc(ptr, next * this.#rec);
    if (this.#quant !== 'none') {
      const floats = new Float32Array(next * this.dim);
      floats.set(this.#listFloats[l]!.subarray(0, this.#listSize[l]! * this.dim));
      this.#listFloats[l] = floats;
    }
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
    const m = this.#mirror;
    const mirrorBytes = m === undefined ? 0 : m.ids.byteLength + 3 * m.listPtr.byteLength;
    const tables = this.#nList * 17 + this.#centroids.byteLength + idBytes + this.#where.size * 32 + mirrorBytes;
    if (this.#quant !== 'none') return this.#quantStats(min, max, squares, tables);
    return {
      kind: this.kind,
      dim: this.dim,
      metric: this.metric,
      size: this.#n,
      memoryBytes: this.#arena.committedBytes + (this.#quantizer?.stats().memoryBytes ?? 0) + tables,
      vectorBytes: this.#n * this.#stride,
      quantization: 'none',
      nList: this.#nList,
      nProbe: this.#nProbe,
      listMin: min,
      listMax: max,
      listMean: this.#nList > 0 ? this.#n / this.#nList : 0,
      // Faiss's imbalance factor: 1 when lists are equal, higher when queries meet long lists more often.
      imbalance: this.#n > 0 ? (squares * this.#nList) / (this.#n * this.#n) : 0,
    };
  }

  /** stats() of a quantised index: the float32 vectors kept for re-scoring are `rescoreBytes`, not `memoryBytes`. */
  #quantStats(min: number, max: number, squares: number, tables: number): IndexStats {
    let rescoreBytes = 0;
    for (let l = 0; l < this.#nList; l++) rescoreBytes += this.#listFloats[l]!.byteLength;
    rescoreBytes += this.#rs?.committedBytes ?? 0;
    const pq = this.#pq;
    const pqBytes = pq === undefined ? 0 : pq.codebooks.byteLength + pq.norms.byteLength + pq.kernels.bytes;
    return {
      kind: this.kind,
      dim: this.dim,
      metric: this.metric,
      size: this.#n,
      memoryBytes: this.#arena.committedBytes + (this.#quantizer?.stats().memoryBytes ?? 0) + tables + pqBytes,
      vectorBytes: this.#n * this.#stride,
      rescoreBytes,
      quantization: this.#quant,
      codeBytes: this.#rec,
      nList: this.#nList,
      nProbe: this.#nProbe,
      listMin: min,
      listMax: max,
      listMean: this.#nList > 0 ? this.#n / this.#nList : 0,
      imbalance: this.#n > 0 ? (squares * this.#nList) / (this.#n * this.#n) : 0,
    };
  }

  /**
   * Layout in docs/indexes/ivf.md ("Payload"). `vectors: false` (version 3): each list without its
   * float vectors (float32: ids only; quantised: ids and codes); `fillVectors` stores them on load.
   */
  writePayload(w: BinaryWriter, options: PayloadOptions = {}): void {
    const external = options.vectors === false;
    w.json({ ...this.#params, nListOption: this.#nListOption, nProbeOption: this.#nProbeOption });
    w.u8(this.isTrained ? 1 : 0);
    if (!this.isTrained) return;
    w.f32s(this.#centroids);
    if (this.#quant !== 'none') {
      this.#writeCodes(w, external);
      return;
    }
    const f32 = this.#arena.f32;
    for (let l = 0; l < this.#nList; l++) {
      const n = this.#listSize[l]!;
      const p = this.#listPtr[l]! >> 2;
      w.u32s(this.#listIds[l]!.subarray(0, n));
      if (!external) w.f32s(f32.subarray(p, p + n * this.dim));
    }
  }

  /** Stores the float vectors of every id from `source` (after a vectors-less payload): what `add` stores. */
  fillVectors(source: ExternalVectors): void {
    let lo = Infinity;
    let hi = -1;
    for (let l = 0; l < this.#nList; l++) {
      const { lo: a, hi: b } = idRange(this.#listIds[l]!, this.#listSize[l]!);
      if (b < 0) continue;
      if (a < lo) lo = a;
      if (b > hi) hi = b;
    }
    checkSource(source, this.dim, hi, 'ivf index');
    const dim = this.dim;
    const f32 = this.#arena.f32;
    const cosine = this.metric === 'cosine';
    const quantized = this.#quant !== 'none';
    forEachRow(source, dim, hi < 0 ? 0 : lo, hi, (id, row) => {
      const w = this.#where.get(id);
      if (w === undefined) return;
      const l = Math.floor(w / POS);
      const pos = w - l * POS;
      const dst = quantized ? this.#listFloats[l]! : f32;
      const p = quantized ? pos * dim : (this.#listPtr[l]! >> 2) + pos * dim;
      dst.set(row, p);
      if (cosine) normalizeInPlace(dst, p, dim);
    });
    this.#mirror = undefined;
  }

  /** The quantised payload after the centroids: codebooks, then per list ids, codes, float32 vectors. */
  #writeCodes(w: BinaryWriter, external: boolean): void {
    if (this.#pq !== undefined) w.f32s(this.#pq.codebooks);
    else this.#sq!.write(w);
    const u8 = this.#arena.u8;
    for (let l = 0; l < this.#nList; l++) {
      const n = this.#listSize[l]!;
      const p = this.#listPtr[l]!;
      w.u32s(this.#listIds[l]!.subarray(0, n));
      w.u8s(u8.subarray(p, p + n * this.#rec));
      if (!external) w.f32s(this.#listFloats[l]!.subarray(0, n * this.dim));
    }
  }

  /** Installs list `l`'s ids read from a file, refusing an id out of range or seen before. */
  #readListIds(r: BinaryReader, l: number, ids: Uint32Array): void {
    this.#listIds[l]!.set(ids);
    this.#listSize[l] = ids.length;
    for (let j = 0; j < ids.length; j++) {
      const id = ids[j]!;
      if (id > MAX_ID) r.fail(`ivf list ${l} ids`, `id ${id} is above the largest id ${MAX_ID}`);
      if (this.#where.has(id)) r.fail(`ivf list ${l} ids`, `id ${id} appears twice`);
      this.#where.set(id, l * POS + j);
    }
  }

  /** Reads a payload; `external` (a version-3 file): one written with `vectors: false`, to be filled with `fillVectors`. */
  static readPayload(r: BinaryReader, dim: number, metric: Metric, count: number, external = false): IvfIndex {
    const p = r.json<Record<string, unknown>>('ivf params');
    if (p === null || typeof p !== 'object' || Array.isArray(p)) r.fail('ivf params', `expected an object, got ${describe(p)}`);
    const num = (name: string): number => {
      const v = p[name];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) r.fail('ivf params', `${name}: expected an integer ≥ 0, got ${describe(v)}`);
      return v;
    };
    let index: IvfIndex;
    try {
      // Files written before quantisation have no `quantization`: they read as 'none'.
      const quantization = p.quantization === undefined ? undefined : checkQuantization(p.quantization, 'ivf');
      const quantized = quantization !== undefined && quantization !== 'none';
      index = new IvfIndex({
        dim, metric, seed: num('seed'), iterations: num('iterations'),
        nList: num('nListOption') || undefined, nProbe: num('nProbeOption') || undefined,
        quantization,
        rescore: quantized ? num('rescore') : undefined,
        pqM: quantization === 'pq' ? num('pqM') : undefined,
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
    if (index.#quant !== 'none') {
      index.#readCodes(r, count, external);
      return index;
    }
    let total = 0;
    for (let l = 0; l < nList; l++) {
      const ids = r.u32s(`ivf list ${l} ids`);
      total += ids.length;
      if (total > count) r.fail(`ivf list ${l} ids`, `the lists hold more vectors than the ${count} the header declares`);
      const vectors = external ? undefined : r.f32sBytes(`ivf list ${l} vectors`, ids.length * dim);
      if (ids.length === 0) continue;
      index.#reserve(l, ids.length);
      if (vectors !== undefined) index.#arena.u8.set(vectors, index.#listPtr[l]!);
      index.#readListIds(r, l, ids);
    }
    if (total !== count) r.fail('ivf lists', `hold ${total} vectors, the header declares ${count}`);
    r.end();
    index.#n = count;
    return index;
  }

  /** Reads what #writeCodes wrote (the index is trained, its lists empty). */
  #readCodes(r: BinaryReader, count: number, external: boolean): void {
    const dim = this.dim;
    if (this.#quant === 'pq') {
      const codebooks = r.f32s('ivf pq codebooks', dim * PQ_CENTROIDS);
      try {
        checkFinite(codebooks, dim, 'codebooks');
      } catch (e) {
        r.fail('ivf pq codebooks', (e as Error).message);
      }
      this.#setPq(new ProductQuantizer(dim, this.#pqM, codebooks));
    } else {
      this.#sq = readQuantizer(r, this.#quant as 'int8' | 'binary', dim, this.metric);
    }
    let total = 0;
    for (let l = 0; l < this.#nList; l++) {
      const ids = r.u32s(`ivf list ${l} ids`);
      total += ids.length;
      if (total > count) r.fail(`ivf list ${l} ids`, `the lists hold more vectors than the ${count} the header declares`);
      const codes = r.u8s(`ivf list ${l} codes`, ids.length * this.#rec);
      const floats = external ? undefined : r.f32s(`ivf list ${l} vectors`, ids.length * dim);
      if (ids.length === 0) continue;
      if (floats !== undefined) {
        try {
          checkFinite(floats, dim, `list ${l} vectors`);
        } catch (e) {
          r.fail(`ivf list ${l} vectors`, (e as Error).message);
        }
      }
      this.#reserve(l, ids.length);
      this.#arena.u8.set(codes, this.#listPtr[l]!);
      if (floats !== undefined) this.#listFloats[l]!.set(floats);
      this.#readListIds(r, l, ids);
    }
    if (total !== count) r.fail('ivf lists', `hold ${total} vectors, the header declares ${count}`);
    r.end();
    this.#n = count;
  }
}
