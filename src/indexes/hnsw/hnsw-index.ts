import { Arena, PREFETCH_BYTES } from '../../vector/arena.js';
import type { Metric } from '../../vector/metric.js';
import { metricCode } from '../../vector/metric.js';
import { checkBatch, checkQuery, type VectorBatch } from '../../vector/batch.js';
import { normalizeInPlace } from '../../vector/normalize.js';
import { TopK } from '../../vector/heap.js';
import { Random } from '../../vector/random.js';
import type { BinaryReader, BinaryWriter } from '../../storage/binary.js';
import {
  checkIndexShape, checkNewIds, emptyBatchResult, emptyIndexError, resolveFilter, SlotMap,
  type ResolvedFilter,
} from '../common.js';
import { checkInt, checkK } from '../../checks.js';
import { NO_ID, type ExternalVectors, type PayloadOptions, type BatchSearchResult, type IndexStats, type SearchOptions, type SearchResult, type VectorIndex, type AddOptions } from '../types.js';
import { Graph } from './graph.js';
import { checkSource, forEachRow } from '../external.js';
import { checkThreads, parallelFor, resolveThreads } from '../../parallel/pool.js';
import {
  hnswInsertTask, hnswSearchTask, INSERT_CTRL, NEEDS_EXACT, packUpper, scratchBytes, sharedCopy,
  type InsertJobData, type SearchJobData, type SharedGraphData,
} from './parallel.js';
import { checkQuantization, checkRescore, defaultRescore } from '../quant/options.js';
import { Candidates, QuantParts } from '../quant/quantized.js';
import type { WarningHook } from '../quant/quantizer.js';

export interface HnswIndexOptions {
  dim: number;
  metric?: Metric;
  /** Links per node on the upper layers; 2·m on layer 0. Default 16. */
  m?: number;
  /** Beam width while inserting. Default 200. */
  efConstruction?: number;
  /** Beam width while searching (raised to k when smaller). Default 64. */
  efSearch?: number;
  /**
   * Seed of the level generator: the same seed and insertion order build the same graph (with
   * `threads: 1`, or batches below the parallel threshold — docs/indexes/threads.md). Default 42.
   */
  seed?: number;
  /**
   * Worker threads for `add` and `searchBatch` (an integer ≥ 1; default `os.availableParallelism()`;
   * not persisted). `1`: today's single-thread code, bit for bit. See docs/indexes/threads.md.
   */
  threads?: number;
  /**
   * 'none' (float32, default), 'int8' or 'binary': the graph is built and searched on codes, and
   * the best `rescore × k` are re-scored with exact float32 distances (docs/indexes/quantization.md).
   */
  quantization?: 'none' | 'int8' | 'binary';
  /** Quantised only: candidates re-scored per hit wanted (default: see docs/indexes/quantization.md). */
  rescore?: number;
  /** Quantised only: receives quantiser warnings instead of process.emitWarning. */
  onWarning?: WarningHook;
}

/** Removed nodes are reclaimed once they exceed this share of the live ones (or on `compact()`). */
const RECLAIM_RATIO = 0.1;
const RECLAIM_MIN = 64;
/** After reclaiming, live nodes with at most this many layer-0 in-links are re-offered to their neighbours. */
const WEAK_INDEGREE = 2;
/**
 * Filtered searches go exact when the allowed count s·N satisfies s²·N < FILTER_EXACT × ef: the
 * exact scan costs s·N distances, the filtered walk about ef / s (it expands ~1/s nodes for each
 * one that passes), so they cross where s²·N is a constant times ef. Measured on 100k × 128
 * synthetic clusters, ef 64, one query at a time (2 shared cores, noisy): walk 1.8k q/s vs exact
 * 0.44k at 10 %, 0.98k vs 1.08k at 5 %, 0.65k vs 1.1k at 3 %, 0.14k vs 19.8k at 1 %: the crossing
 * is near 5 % (s²·N ≈ 250 ≈ 4 × ef). The former 16 sent 10 % (s²·N = 1 000 < 1 024) to the exact
 * scan at a quarter of the walk's rate, so a 10 % filter ran slower than a 50 % one (bench:db).
 */
const FILTER_EXACT = 4;
const NODE_STATE = { live: 0, deleted: 1, free: 2 } as const;
/**
 * After an add, nodes are renumbered for locality (`optimize()`) once the index has grown by a
 * quarter since the last time: amortised O(1) per insert, like a growing array. Measured on
 * 100k × 128: +14–18 % queries per second for ~1 s of work.
 */
const OPTIMIZE_GROWTH = 0.25;
const OPTIMIZE_MIN = 1024;
/**
 * Threads are used for an `add` of at least this many vectors (smaller batches stay on the
 * calling thread, so they build the same graph as one thread) and a `searchBatch` of at least
 * PARALLEL_MIN_QUERIES queries. Measured in docs/indexes/threads.md.
 */
const PARALLEL_MIN_ADD = 5000;
const PARALLEL_MIN_QUERIES = 32;

/** Whether the link list whose count word is `arr[off]` holds `v`. */
function hasLink(arr: Uint32Array, off: number, v: number): boolean {
  const cnt = arr[off]!;
  for (let i = 1; i <= cnt; i++) if (arr[off + i] === v) return true;
  return false;
}

/** Appends `v` to the link list at `arr[off]` when it has room (fewer than `max`); returns whether it did. */
function appendLink(arr: Uint32Array, off: number, max: number, v: number): boolean {
  const cnt = arr[off]!;
  if (cnt >= max) return false;
  arr[off + 1 + cnt] = v;
  arr[off] = cnt + 1;
  return true;
}

/**
 * Hierarchical Navigable Small World graph (Malkov & Yashunin 2018), single-threaded, with
 * the SIMD kernels of the arena for every distance.
 *
 * - Grows without a capacity fixed up front (the record region grows in place).
 * - `remove` marks nodes deleted: they keep guiding searches but are never returned. Once they
 *   exceed 10 % of the live nodes (or on `compact()`), every live node that linked to one is
 *   re-linked through the deleted node's own neighbours with the selection heuristic
 *   (the consolidation of FreshDiskANN, Singh et al. 2021) and the slots are reused by later adds.
 * - Filters: an allow-list or predicate is applied inside the graph search (filtered-out nodes
 *   still route); when few vectors can match, the search is answered exactly from the matching
 *   vectors; and a graph search that finds fewer than k is redone exactly — so k hits come back
 *   whenever at least k vectors match.
 */
export class HnswIndex implements VectorIndex {
  readonly kind = 'hnsw' as const;
  readonly dim: number;
  readonly metric: Metric;
  readonly isTrained = true;
  readonly params: Readonly<{ m: number; efConstruction: number; efSearch: number; seed: number; quantization?: 'int8' | 'binary'; rescore?: number }>;
  readonly #arena: Arena;
  readonly #g: Graph;
  readonly #slots = new SlotMap();
  readonly #rng: Random;
  readonly #levelMult: number;
  readonly #qPtr: number;
  #entry = -1;
  #maxLevel = -1;
  #live = 0;
  #pending: number[] = [];
  #free: number[] = [];
  #sinceOptimize = 0;
  /** Background upkeep (VectorIndex.backgroundUpkeep): remove() does not reclaim, add() does not optimise. */
  #background = false;
  /** A reclaim pass in progress, run in slices by upkeep(); undefined when none. */
  #maint: Generator<void, void, void> | undefined;
  /** Removed nodes the pass in progress frees when it ends. */
  #reclaiming = 0;
  /**
   * True after a load: the level-0 in-degrees (`Graph.indeg`) are counted before the first change
   * (add, remove, compact, optimize) rather than at load. Counting them is a random-access pass over
   * every link (~0.15 s CPU at 1M × m 16, measured); searches never read them.
   */
  #indegStale = false;
  #threads: number;
  /** The side tables in SharedArrayBuffers for batch-search jobs; dropped by every change. */
  #shared: Pick<SharedGraphData, 'levels' | 'state' | 'upperOff' | 'upperPool'> | undefined;
  // Scratch for insertion.
  #w: TopK;
  #wSlots: Uint32Array;
  #wDists: Float32Array;
  #sel: Uint32Array;
  #oldLinks: Uint32Array;
  #sortSlots: Uint32Array;
  #sortDists: Float32Array;
  /** Quantised storage (codes in the records, floats for re-scoring outside the arena); undefined for 'none'. */
  readonly #qp: QuantParts | undefined;

  constructor(options: HnswIndexOptions) {
    const { dim, metric } = checkIndexShape(options?.dim, options?.metric ?? 'l2');
    const m = checkInt(options.m, 'm', { min: 2, max: 256, fallback: 16 });
    const efConstruction = checkInt(options.efConstruction, 'efConstruction', { min: 1, max: 100_000, fallback: 200 });
    const efSearch = checkInt(options.efSearch, 'efSearch', { min: 1, max: 100_000, fallback: 64 });
    const seed = checkInt(options.seed, 'seed', { min: 0, max: 2 ** 32 - 1, fallback: 42 });
    this.#threads = resolveThreads(options.threads);
    const quantization = checkQuantization(options.quantization, 'hnsw');
    const rescore = checkRescore(options.rescore, 'rescore', defaultRescore(quantization));
    this.dim = dim;
    this.metric = metric;
    this.#qp = quantization === 'none' ? undefined : new QuantParts(quantization as 'int8' | 'binary', dim, metric, rescore, options.onWarning);
    // 'none' keeps the params (and so the file bytes) of before quantisation existed.
    this.params = Object.freeze(this.#qp === undefined ? { m, efConstruction, efSearch, seed } : { m, efConstruction, efSearch, seed, ...this.#qp.params() });
    this.#rng = new Random(seed);
    this.#levelMult = 1 / Math.log(m);
    this.#arena = new Arena();
    this.#qPtr = this.#arena.alloc(dim * 4);
    this.#g = this.#qp === undefined
      ? new Graph(this.#arena, dim, m, metricCode(metric))
      : new Graph(this.#arena, dim, m, this.#qp.metricCode, this.#qp.codeBytes, 4);
    const efc = Math.max(efConstruction, m);
    this.#w = new TopK(efc);
    this.#wSlots = new Uint32Array(efc);
    this.#wDists = new Float32Array(efc);
    this.#sel = new Uint32Array(2 * m + 1);
    this.#oldLinks = new Uint32Array(2 * m + 1);
    this.#sortSlots = new Uint32Array(Graph.SCRATCH);
    this.#sortDists = new Float32Array(Graph.SCRATCH);
  }

  get size(): number {
    return this.#live;
  }

  /** An empty graph with the same parameters (quantisation included) and threads: a new segment (docs/indexes/segments.md). */
  emptyLike(): HnswIndex {
    return new HnswIndex({ ...(this.params as Partial<HnswIndexOptions>), dim: this.dim, metric: this.metric, threads: this.#threads });
  }

  /** Worker threads of `add` and `searchBatch` when a call does not say (not persisted). */
  get threads(): number {
    return this.#threads;
  }

  set threads(value: number) {
    this.#threads = checkThreads(value);
  }

  /**
   * Float32: nothing to learn. Quantised: learns the quantiser from `sample`; codes already stored
   * are re-encoded from the float vectors (the graph is kept).
   */
  train(sample?: VectorBatch): void {
    if (this.#qp?.learn(sample) === true) this.#reencodeAll();
  }

  /** Re-encodes every stored code from the float store (after the quantiser learnt new parameters). */
  #reencodeAll(): void {
    const qp = this.#qp!;
    const g = this.#g;
    for (let s = 0; s < g.count; s++) if (g.state[s] !== NODE_STATE.free) qp.reencode(s, this.#arena.u8, g.vectorPtr(s));
  }

  has(id: number): boolean {
    return this.#slots.slotOf(id) !== undefined;
  }

  get backgroundUpkeep(): boolean {
    return this.#background;
  }

  set backgroundUpkeep(value: boolean) {
    this.#background = value;
  }

  /** True when removed nodes wait beyond the reclaim threshold (RECLAIM_RATIO of the live ones). */
  #reclaimDue(): boolean {
    return this.#pending.length > Math.max(RECLAIM_MIN, RECLAIM_RATIO * this.#live);
  }

  /**
   * Reclaims removed nodes in slices (the pass #consolidate runs at once), starting one when due.
   * Between slices the graph is searchable: each node's link list is rewritten whole within a
   * slice, and nodes are freed only after every live list was re-linked around them.
   */
  upkeep(deadline: number): boolean {
    if (this.#maint === undefined) {
      if (!this.#reclaimDue()) return false;
      this.#countIndegree();
      this.#maint = this.#consolidateSteps();
    }
    this.#shared = undefined;
    do {
      if (this.#maint.next().done === true) {
        this.#maint = undefined;
        return this.#reclaimDue();
      }
    } while (performance.now() < deadline);
    return true;
  }

  /** Finishes a reclaim pass started by upkeep() before any other change to the graph. */
  #finishUpkeep(): void {
    if (this.#maint === undefined) return;
    this.#shared = undefined;
    while (this.#maint.next().done !== true);
    this.#maint = undefined;
  }

  add(ids: ArrayLike<number>, vectors: VectorBatch, options?: AddOptions): void {
    checkBatch(vectors, this.dim);
    const checked = checkNewIds(ids, vectors.count, (id) => this.has(id));
    this.#finishUpkeep();
    this.#countIndegree();
    const threads = resolveThreads(options?.threads, this.#threads);
    this.#shared = undefined;
    const g = this.#g;
    const fresh = Math.max(0, vectors.count - this.#free.length);
    g.reserve(g.count + fresh);
    g.ensureSideTables(g.count + fresh);
    if (this.#qp !== undefined) {
      this.#qp.ensureTrained(vectors.data, vectors.count);
      this.#qp.store.reserve(g.count + fresh);
    }
    if (threads > 1 && vectors.count >= PARALLEL_MIN_ADD) {
      this.#addParallel(checked, vectors, threads, options?.onProgress);
      return;
    }
    const onProgress = options?.onProgress;
    let reported = performance.now();
    for (let i = 0; i < vectors.count; i++) {
      if (onProgress !== undefined && (i & 255) === 0 && performance.now() - reported > 250) {
        onProgress(i, vectors.count);
        reported = performance.now();
      }
      const slot = this.#free.length > 0 ? this.#free.pop()! : g.count++;
      this.#store(slot, vectors, i);
      g.state[slot] = NODE_STATE.live;
      this.#slots.set(checked[i]!, slot);
      this.#insert(slot);
      this.#live++;
      // A quantiser learnt from a small first batch is learnt again as the index doubles.
      if (this.#qp?.retrainIfGrown(g.count) === true) this.#reencodeAll();
    }
    this.#sinceOptimize += vectors.count;
    if (!this.#background && this.#live >= OPTIMIZE_MIN && this.#sinceOptimize >= OPTIMIZE_GROWTH * this.#live) this.optimize();
    onProgress?.(vectors.count, vectors.count);
  }

  /** Writes row `i` of `vectors` at `slot`: its code and float vector (quantised), else the float vector (normalised for cosine). */
  #store(slot: number, vectors: VectorBatch, i: number): void {
    const g = this.#g;
    if (this.#qp !== undefined) {
      this.#qp.put(slot, vectors.data, i, this.#arena.u8, g.vectorPtr(slot));
      return;
    }
    const off = g.vectorPtr(slot) >> 2;
    const f32 = this.#arena.f32;
    f32.set(vectors.data.subarray(i * this.dim, (i + 1) * this.dim), off);
    if (this.metric === 'cosine') normalizeInPlace(f32, off, this.dim);
  }

  #randomLevel(): number {
    let u = this.#rng.next();
    while (u === 0) u = this.#rng.next();
    return Math.min(60, Math.floor(-Math.log(u) * this.#levelMult));
  }

  /** Alg. 1: links the node in `slot` (vector already stored) into every layer up to its level. */
  #insert(slot: number): void {
    const g = this.#g;
    const m = this.params.m;
    const level = this.#randomLevel();
    g.levels[slot] = level;
    g.upper[slot] = level > 0 ? new Uint32Array(level * (1 + m)) : undefined;
    this.#arena.u32[g.link0(slot)] = 0;
    if (this.#entry < 0) {
      this.#entry = slot;
      this.#maxLevel = level;
      return;
    }
    const q = g.vectorPtr(slot);
    let { slot: ep, dist: epDist } = this.#descend(q, level);
    const w = this.#w;
    for (let lc = Math.min(level, this.#maxLevel); lc >= 0; lc--) {
      // Removed-but-unreclaimed nodes route the search but are not linked to: a new node whose
      // in-links all came from removed nodes would be orphaned when they are reclaimed.
      g.searchLayer(q, ep, epDist, lc, w, undefined, false);
      const n = w.drainSorted(this.#wSlots, this.#wDists);
      if (n === 0) {
        // No live node reachable on this layer (all removed): hang the node after the entry.
        this.#splice(ep, slot, lc);
        continue;
      }
      const kept = g.selectNeighbors(this.#wSlots, this.#wDists, n, m, this.#sel, 0);
      const { arr, off } = g.links(slot, lc);
      for (let i = 0; i < kept; i++) arr[off + 1 + i] = this.#sel[i]!;
      arr[off] = kept;
      if (lc === 0) for (let i = 0; i < kept; i++) g.indeg[this.#sel[i]!]!++;
      let linkedBack = false;
      for (let i = 0; i < kept; i++) linkedBack = this.#link(this.#sel[i]!, slot, lc) || linkedBack;
      // Every neighbour's heuristic may have pruned the new node: splice it in after the nearest
      // one so that it can be found (see #splice).
      if (!linkedBack) this.#splice(this.#sel[0]!, slot, lc);
      ep = this.#wSlots[0]!;
      epDist = this.#wDists[0]!;
    }
    if (level > this.#maxLevel) {
      this.#entry = slot;
      this.#maxLevel = level;
    }
  }

  /** Greedy descent (ef = 1) from the entry point through the layers above `level`: the closest node found. */
  #descend(q: number, level: number): { slot: number; dist: number } {
    const g = this.#g;
    let ep = this.#entry;
    let epDist = g.dist(q, ep);
    for (let lc = this.#maxLevel; lc > level; lc--) {
      const r = g.greedy(q, ep, epDist, lc);
      ep = r.slot;
      epDist = r.dist;
    }
    return { slot: ep, dist: epDist };
  }

  /**
   * Adds the link `from → to` on `level`, shrinking `from`'s list with the heuristic when full.
   * On level 0 a node the heuristic would leave without any in-link keeps its link (in a free
   * place, or instead of a kept node that has other in-links; failing both, `to` gives way).
   * Returns whether `to` was kept.
   */
  #link(from: number, to: number, level: number): boolean {
    const g = this.#g;
    const max = level === 0 ? g.m0 : g.m;
    let { arr, off } = g.links(from, level);
    const cnt = arr[off]!;
    if (appendLink(arr, off, max, to)) {
      if (level === 0) g.indeg[to]!++;
      return true;
    }
    const n = cnt + 1;
    const slots = this.#sortSlots;
    const old = this.#oldLinks;
    for (let i = 0; i < cnt; i++) old[i] = slots[i] = arr[off + 1 + i]!;
    slots[cnt] = to;
    this.#rankFrom(from, n);
    ({ arr, off } = g.links(from, level));
    let kept = g.selectNeighbors(this.#sortSlots, this.#sortDists, n, max, arr, off + 1);
    if (level > 0) {
      arr[off] = kept;
      for (let i = 1; i <= kept; i++) if (arr[off + i] === to) return true;
      return false;
    }
    const indeg = g.indeg;
    const inList = g.newVisit();
    const tag = g.tag;
    for (let i = 1; i <= kept; i++) inList[arr[off + i]!] = tag;
    for (let i = 0; i < cnt; i++) {
      const z = old[i]!;
      if (inList[z] === tag || indeg[z]! > 1) continue;
      // z's only in-link is this one: keep it.
      if (kept < max) {
        arr[off + 1 + kept++] = z;
      } else {
        let vi = -1;
        for (let j = 1; j <= kept; j++) {
          const v = arr[off + j]!;
          if (v !== to && indeg[v]! > 1 && (vi < 0 || indeg[v]! > indeg[arr[off + vi]!]!)) vi = j;
        }
        if (vi < 0) for (let j = 1; j <= kept; j++) if (arr[off + j] === to) vi = j;
        if (vi < 0) continue; // cannot happen: a kept old link has indeg > 1 or `to` is kept
        inList[arr[off + vi]!] = 0;
        arr[off + vi] = z;
      }
      inList[z] = tag;
    }
    arr[off] = kept;
    for (let i = 0; i < cnt; i++) if (inList[old[i]!] !== tag) indeg[old[i]!]!--;
    if (inList[to] !== tag) return false;
    indeg[to]!++;
    return true;
  }

  /**
   * Makes `x` reachable from `y` on `level` without making anything else unreachable: `y → x`
   * replaces `y`'s link `y → z` nearest to `x`, and `x → z` is added (when `x`'s list is full it
   * replaces `x`'s farthest link to a node with other in-links, or failing that its farthest).
   */
  #splice(y: number, x: number, level: number): void {
    const g = this.#g;
    const max = level === 0 ? g.m0 : g.m;
    const indeg = g.indeg;
    const q = g.vectorPtr(x);
    const { arr: ya, off: yo } = g.links(y, level);
    const yCnt = ya[yo]!;
    if (hasLink(ya, yo, x)) return;
    if (level === 0) indeg[x]!++;
    if (appendLink(ya, yo, max, x)) return;
    let zi = 1;
    let zd = Infinity;
    for (let i = 1; i <= yCnt; i++) {
      const d = g.dist(q, ya[yo + i]!);
      if (d < zd) {
        zd = d;
        zi = i;
      }
    }
    const z = ya[yo + zi]!;
    ya[yo + zi] = x;
    if (level === 0) indeg[z]!--;
    const { arr: xa, off: xo } = g.links(x, level);
    const xCnt = xa[xo]!;
    if (hasLink(xa, xo, z)) return;
    if (level === 0) indeg[z]!++;
    if (appendLink(xa, xo, max, z)) return;
    let wi = -1;
    let wd = -Infinity;
    for (let pass = 0; pass < 2 && wi < 0; pass++) {
      for (let i = 1; i <= xCnt; i++) {
        const w = xa[xo + i]!;
        if (pass === 0 && level === 0 && indeg[w]! < 2) continue;
        const d = g.dist(q, w);
        if (d > wd) {
          wd = d;
          wi = i;
        }
      }
    }
    if (level === 0) indeg[xa[xo + wi]!]!--;
    xa[xo + wi] = z;
  }

  /** Distances from `from` to `#sortSlots[0..n)`, then both arrays sorted nearest first. */
  #rankFrom(from: number, n: number): void {
    const g = this.#g;
    const a = this.#arena;
    const slots = this.#sortSlots;
    const dists = this.#sortDists;
    a.u32.set(slots.subarray(0, n), g.listPtr >> 2);
    // No pre-pass: `from`'s neighbours were just compared with it, or are few.
    a.k.distGather(g.metricCode, g.vectorPtr(from), g.base, g.recordBytes, g.listPtr, n, this.dim, g.outPtr, 0);
    dists.set(a.f32.subarray(g.outPtr >> 2, (g.outPtr >> 2) + n));
    // Insertion sort: n ≤ 2m + 1, or a consolidation candidate list of a few dozen.
    for (let i = 1; i < n; i++) {
      const d = dists[i]!;
      const s = slots[i]!;
      let j = i - 1;
      while (j >= 0 && dists[j]! > d) {
        dists[j + 1] = dists[j]!;
        slots[j + 1] = slots[j]!;
        j--;
      }
      dists[j + 1] = d;
      slots[j + 1] = s;
    }
  }

  remove(ids: ArrayLike<number>): number {
    this.#countIndegree();
    this.#shared = undefined;
    let removed = 0;
    for (let i = 0; i < ids.length; i++) {
      const slot = this.#slots.slotOf(ids[i]!);
      if (slot === undefined) continue;
      this.#slots.delete(ids[i]!);
      this.#g.state[slot] = NODE_STATE.deleted;
      this.#pending.push(slot);
      this.#live--;
      removed++;
    }
    if (this.#live === 0) this.#reset();
    else if (!this.#background && this.#reclaimDue()) this.#consolidate();
    return removed;
  }

  /** Counts the level-0 in-degrees if a load left them uncounted (before any change to the links). */
  #countIndegree(): void {
    if (!this.#indegStale) return;
    this.#g.recountIndegree();
    this.#indegStale = false;
  }

  /** Every node gone: start from an empty graph, keeping the memory for reuse. */
  #reset(): void {
    this.#maint = undefined;
    this.#reclaiming = 0;
    const g = this.#g;
    g.count = 0;
    g.levels.fill(0);
    g.state.fill(0);
    g.indeg.fill(0);
    g.upper = [];
    this.#pending = [];
    this.#free = [];
    this.#entry = -1;
    this.#maxLevel = -1;
  }

  compact(): void {
    this.#finishUpkeep();
    this.#countIndegree();
    this.#shared = undefined;
    if (this.#pending.length > 0) this.#consolidate();
  }

  /**
   * Reclaims deleted nodes: re-links every live node that points at one, through the deleted
   * node's live neighbours (heuristic selection), moves the entry point off deleted nodes, and
   * puts the slots on the free list.
   */
  #consolidate(): void {
    this.#finishUpkeep();
    for (const _ of this.#consolidateSteps());
  }

  /**
   * #consolidate as a generator that yields between nodes (upkeep runs it in slices). The nodes
   * freed are those removed before the pass began; nodes removed during it wait for the next.
   * Nothing else changes the links while a pass runs (add, compact and optimize finish it first).
   */
  *#consolidateSteps(): Generator<void, void, void> {
    const g = this.#g;
    const state = g.state;
    const a = this.#arena;
    const m1 = 1 + g.m;
    const batch = this.#pending;
    this.#pending = [];
    this.#reclaiming = batch.length;
    const inBatch = new Uint8Array(g.count);
    for (const d of batch) inBatch[d] = 1;
    for (let s = 0; s < g.count; s++) {
      if ((s & 31) === 31) yield;
      // Live nodes, and nodes removed during this pass (before it reached them): their lists still
      // route searches after the batch is freed and its slots reused, so they lose the batch too.
      if (state[s] === NODE_STATE.free || inBatch[s] === 1) continue;
      for (let lc = 0; lc <= g.levels[s]!; lc++) {
        const arr = lc === 0 ? a.u32 : g.upper[s]!;
        const off = lc === 0 ? g.link0(s) : (lc - 1) * m1;
        const cnt = arr[off]!;
        let touched = false;
        for (let i = 1; i <= cnt; i++) {
          if (state[arr[off + i]!] !== NODE_STATE.live) {
            touched = true;
            break;
          }
        }
        if (!touched) continue;
        // Candidates: s's live links plus the live links of its deleted neighbours.
        const visited = g.newVisit();
        const tag = g.tag;
        visited[s] = tag;
        let n = 0;
        const slots = this.#sortSlots;
        for (let i = 1; i <= cnt; i++) {
          const e = arr[off + i]!;
          if (visited[e] === tag) continue;
          visited[e] = tag;
          if (state[e] === NODE_STATE.live) {
            if (n < Graph.SCRATCH) slots[n++] = e;
            continue;
          }
          if (state[e] !== NODE_STATE.deleted || g.levels[e]! < lc) continue;
          const darr = lc === 0 ? a.u32 : g.upper[e]!;
          const doff = lc === 0 ? g.link0(e) : (lc - 1) * m1;
          for (let j = 1; j <= darr[doff]!; j++) {
            const f = darr[doff + j]!;
            if (visited[f] === tag) continue;
            visited[f] = tag;
            if (state[f] === NODE_STATE.live && n < Graph.SCRATCH) slots[n++] = f;
          }
        }
        this.#rankFrom(s, n);
        const max = lc === 0 ? g.m0 : g.m;
        // `arr` may be the arena view: re-read it after the kernel call (no growth happens here).
        const out = lc === 0 ? a.u32 : arr;
        out[off] = g.selectNeighbors(this.#sortSlots, this.#sortDists, n, max, out, off + 1);
      }
    }
    this.#reclaiming = 0;
    for (const d of batch) {
      state[d] = NODE_STATE.free;
      a.u32[g.link0(d)] = 0;
      g.upper[d] = undefined;
      g.levels[d] = 0;
      this.#free.push(d);
    }
    if (this.#g.state[this.#entry] !== NODE_STATE.live) {
      let best = -1;
      for (let s = 0; s < g.count; s++) {
        if (this.#g.state[s] === NODE_STATE.live && (best < 0 || g.levels[s]! > g.levels[best]!)) best = s;
      }
      this.#entry = best;
      this.#maxLevel = best < 0 ? -1 : g.levels[best]!;
    }
    // Reuse low slots first.
    this.#free.sort((x, y) => y - x);
    yield;
    for (let from = 0; from < g.count; from += 8192) {
      g.recountIndegree(from, Math.min(g.count, from + 8192));
      yield;
    }
    yield* this.#relinkWeakSteps();
    yield* this.#reconnectSteps();
  }

  /**
   * Makes every live node reachable on layer 0 from the entry point again. Consolidation re-links
   * around reclaimed nodes with the pruning heuristic, which can drop the last in-link of a node
   * (one linked mostly from removed nodes): such a node could then never be returned. A
   * breadth-first walk finds them; each is spliced in after the nearest reachable node `y`
   * (`y → x` replaces `y → z`, and `x → z` is added), so nothing reachable becomes unreachable and
   * the reachable set grows with every splice. O(N·m0) for the walk; orphans are rare. Returns how
   * many nodes were spliced in.
   */
  #reconnect(): number {
    const steps = this.#reconnectSteps();
    let r = steps.next();
    while (r.done !== true) r = steps.next();
    return r.value;
  }

  /** #reconnect, yielding every 4,096 nodes walked or checked. */
  *#reconnectSteps(): Generator<void, number, void> {
    const g = this.#g;
    if (this.#entry < 0) return 0;
    const a = this.#arena;
    const state = g.state;
    const n = g.count;
    const reached = new Uint8Array(n);
    const queue = new Uint32Array(n);
    const walk = function* (from: number): Generator<void, void, void> {
      let head = 0;
      let tail = 0;
      reached[from] = 1;
      queue[tail++] = from;
      while (head < tail) {
        if ((head & 4095) === 4095) yield;
        const s = queue[head++]!;
        const off = g.link0(s);
        const cnt = a.u32[off]!;
        for (let i = 1; i <= cnt; i++) {
          const e = a.u32[off + i]!;
          if (reached[e] === 0 && state[e] !== NODE_STATE.free) {
            reached[e] = 1;
            queue[tail++] = e;
          }
        }
      }
    };
    let spliced = 0;
    // A splice can (rarely) cut a path through the spliced node's dropped link: walk again until
    // a pass finds every live node reached.
    for (let pass = 0; pass < 4; pass++) {
      reached.fill(0);
      yield* walk(this.#entry);
      const before = spliced;
      for (let x = 0; x < n; x++) {
        if ((x & 4095) === 4095) yield;
        if (state[x] !== NODE_STATE.live || reached[x] === 1) continue;
        // x was unreachable, so none of its links carries a path from the entry.
        this.#splice(this.#nearestReached(x, reached), x, 0);
        yield* walk(x);
        spliced++;
      }
      if (spliced === before) break;
    }
    return spliced;
  }

  /**
   * After reclaiming, a node that lost most of its in-links may be left linked only from far
   * nodes (through a removed node's list), which a search for its neighbourhood never expands.
   * Each live node with at most WEAK_INDEGREE in-links is offered again to its own neighbours
   * (the backlink step of an insert), so that nodes near it link to it.
   */
  /** #relinkWeak, yielding every 64 weak nodes. */
  *#relinkWeakSteps(): Generator<void, void, void> {
    const g = this.#g;
    const a = this.#arena;
    const weak: number[] = [];
    for (let s = 0; s < g.count; s++) if (g.state[s] === NODE_STATE.live && g.indeg[s]! <= WEAK_INDEGREE) weak.push(s);
    const outs = new Uint32Array(g.m0);
    let i0 = 0;
    for (const x of weak) {
      if ((++i0 & 63) === 0) yield;
      const off = g.link0(x);
      const cnt = a.u32[off]!;
      outs.set(a.u32.subarray(off + 1, off + 1 + cnt));
      for (let i = 0; i < cnt; i++) {
        const v = outs[i]!;
        if (!hasLink(a.u32, g.link0(v), x)) this.#link(v, x, 0);
      }
    }
  }

  /** The node nearest to `x` among those marked in `reached`, by a layer-0 beam search. */
  #nearestReached(x: number, reached: Uint8Array): number {
    const g = this.#g;
    const q = g.vectorPtr(x);
    let { slot: ep, dist: epDist } = this.#descend(q, 0);
    if (reached[ep] !== 1) {
      ep = this.#entry;
      epDist = g.dist(q, ep);
    }
    const w = this.#w;
    g.searchLayer(q, ep, epDist, 0, w, (s) => s !== x && reached[s] === 1, false);
    const found = w.drainSorted(this.#wSlots, this.#wDists);
    return found > 0 ? this.#wSlots[0]! : this.#entry;
  }

  /**
   * Renumbers the nodes in breadth-first order of the layer-0 graph from the entry point, so that
   * nodes a search visits together sit close together in memory (fewer cache and TLB misses;
   * cf. Coleman et al. 2022, "Graph reordering for cache-efficient near neighbor search").
   * Results are unchanged; only internal slots move. Reclaims deleted nodes first.
   */
  optimize(): void {
    this.#finishUpkeep();
    this.#countIndegree();
    this.#shared = undefined;
    if (this.#pending.length > 0) this.#consolidate();
    else this.#reconnect();
    this.#sinceOptimize = 0;
    const g = this.#g;
    const n = g.count;
    if (n < 2 || this.#entry < 0) return;
    const a = this.#arena;
    const newOf = new Int32Array(n).fill(-1);
    const order = new Uint32Array(n);
    let head = 0;
    let tail = 0;
    const visit = (s: number): void => {
      newOf[s] = tail;
      order[tail++] = s;
    };
    visit(this.#entry);
    for (let start = 0; start < n || head < tail;) {
      if (head === tail) {
        // Unreached nodes (free slots, or a disconnected part): continue from the next one.
        while (start < n && newOf[start] !== -1) start++;
        if (start >= n) break;
        visit(start);
      }
      const s = order[head++]!;
      const off = g.link0(s);
      const u32 = a.u32;
      const cnt = u32[off]!;
      for (let i = 1; i <= cnt; i++) {
        const e = u32[off + i]!;
        if (newOf[e] === -1) visit(e);
      }
    }
    // Move the records (vectors and layer-0 links) in place, cycle by cycle, so the only extra
    // memory is one record; renumber each record's links as it lands.
    const rb = g.recordBytes;
    const u8 = a.u8;
    const u32 = a.u32;
    const tmp = new Uint8Array(rb);
    const done = new Uint8Array(n);
    const renumber = (t: number): void => {
      const off = g.link0(t);
      const cnt = u32[off]!;
      for (let i = 1; i <= cnt; i++) u32[off + i] = newOf[u32[off + i]!]!;
    };
    for (let t = 0; t < n; t++) {
      if (done[t] === 1) continue;
      if (order[t] === t) {
        renumber(t);
        done[t] = 1;
        continue;
      }
      tmp.set(u8.subarray(g.base + t * rb, g.base + (t + 1) * rb));
      let j = t;
      for (;;) {
        const src = order[j]!;
        done[j] = 1;
        if (src === t) {
          u8.set(tmp, g.base + j * rb);
          renumber(j);
          break;
        }
        u8.copyWithin(g.base + j * rb, g.base + src * rb, g.base + (src + 1) * rb);
        renumber(j);
        j = src;
      }
    }
    const m1 = 1 + g.m;
    const levels = g.levels.slice();
    const state = g.state.slice();
    const upper = g.upper;
    const table = this.#slots.table.slice(0, n);
    g.upper = new Array<Uint32Array | undefined>(n);
    for (let t = 0; t < n; t++) {
      const s = order[t]!;
      g.levels[t] = levels[s]!;
      g.state[t] = state[s]!;
      const u = upper[s];
      if (u !== undefined) {
        for (let lc = 0; lc < levels[s]!; lc++) {
          for (let i = 1; i <= u[lc * m1]!; i++) u[lc * m1 + i] = newOf[u[lc * m1 + i]!]!;
        }
      }
      g.upper[t] = u;
      if (state[s] === NODE_STATE.live) this.#slots.set(table[s]!, t);
      else this.#slots.setSlotId(t, table[s]!);
    }
    this.#qp?.store.permute(order, n);
    this.#free = this.#free.map((s) => newOf[s]!).sort((x, y) => y - x);
    this.#entry = newOf[this.#entry]!;
    g.recountIndegree();
  }

  getVector(id: number): Float32Array | undefined {
    const slot = this.#slots.slotOf(id);
    if (slot === undefined) return undefined;
    if (this.#qp !== undefined) return this.#qp.store.get(slot);
    const off = this.#g.vectorPtr(slot) >> 2;
    return this.#arena.f32.slice(off, off + this.dim);
  }

  ids(): Uint32Array {
    const out = new Uint32Array(this.#live);
    let n = 0;
    const table = this.#slots.table;
    for (let s = 0; s < this.#g.count; s++) if (this.#g.state[s] === NODE_STATE.live) out[n++] = table[s]!;
    return out;
  }

  search(query: Float32Array, k: number, options?: SearchOptions): SearchResult {
    checkQuery(query, this.dim);
    checkK(k);
    const filter = resolveFilter(options);
    const ef = Math.max(k, checkInt(options?.efSearch, 'efSearch', { min: 1, max: 1_000_000, fallback: this.params.efSearch }));
    if (this.#live === 0) throw emptyIndexError();
    const ids = new Uint32Array(Math.min(k, this.#live));
    const distances = new Float32Array(ids.length);
    const n = this.#qp === undefined
      ? this.#searchOne(query, k, ef, filter, ids, distances, 0)
      : this.#searchQuantized(query, k, ef, checkRescore(options?.rescore, 'rescore', this.#qp.rescore), filter, ids, distances, 0);
    return n === ids.length ? { ids, distances } : { ids: ids.slice(0, n), distances: distances.slice(0, n) };
  }

  searchBatch(queries: VectorBatch, k: number, options?: SearchOptions): BatchSearchResult {
    checkBatch(queries, this.dim, 'queries');
    checkK(k);
    const filter = resolveFilter(options);
    const ef = Math.max(k, checkInt(options?.efSearch, 'efSearch', { min: 1, max: 1_000_000, fallback: this.params.efSearch }));
    const threads = resolveThreads(options?.threads, this.#threads);
    if (this.#live === 0) throw emptyIndexError();
    const result = emptyBatchResult(queries.count, k);
    // A predicate cannot cross threads; an allow-list that makes the search exact is answered here.
    const parallel = threads > 1 && queries.count >= PARALLEL_MIN_QUERIES && options?.filter === undefined &&
      !(filter.active && this.#preferExact(filter, ef));
    if (this.#qp !== undefined) {
      const rescore = checkRescore(options?.rescore, 'rescore', this.#qp.rescore);
      if (parallel) {
        this.#searchBatchQuantizedParallel(queries, k, ef, rescore, filter, threads, result);
        return result;
      }
      for (let q = 0; q < queries.count; q++) {
        result.counts[q] = this.#searchQuantized(queries.data.subarray(q * this.dim, (q + 1) * this.dim), k, ef, rescore, filter,
          result.ids, result.distances, q * k);
      }
      return result;
    }
    if (parallel) {
      this.#searchBatchParallel(queries, k, ef, filter, threads, result);
      return result;
    }
    for (let q = 0; q < queries.count; q++) {
      result.counts[q] = this.#searchOne(queries.data.subarray(q * this.dim, (q + 1) * this.dim), k, ef, filter,
        result.ids, result.distances, q * k);
    }
    return result;
  }

  /** The graph as a job sees it, with `participants` scratch areas at `scratch` (see parallel.ts). */
  #sharedData(scratch: number, tables: Pick<SharedGraphData, 'levels' | 'state' | 'upperOff' | 'upperPool'>): SharedGraphData {
    const g = this.#g;
    return {
      memory: this.#arena.memory, module: Arena.kernels(), dim: this.dim, m: g.m, metricCode: g.metricCode,
      base: g.base, recordBytes: g.recordBytes, linkWord: g.linkWord, count: g.count, ...tables,
      entry: this.#entry, maxLevel: this.#maxLevel, scratch, scratchStride: scratchBytes(this.dim),
    };
  }

  /**
   * `searchBatch` on `threads` threads: the side tables go to SharedArrayBuffers (kept until the
   * next change), each participant walks the shared graph read-only with its own scratch, and
   * writes slots; ids are mapped here, and rows whose walk came up short are answered exactly here
   * (as `#searchOne` does), so every row is the one-thread answer.
   */
  #searchBatchParallel(queries: VectorBatch, k: number, ef: number, filter: ResolvedFilter, threads: number, result: BatchSearchResult,
    codes?: Uint8Array): void {
    const g = this.#g;
    const n = queries.count;
    const dim = this.dim;
    this.#shared ??= {
      levels: sharedCopy(g.levels, g.count), state: sharedCopy(g.state, g.count), ...packUpper(g.upper, g.count),
    };
    let allow: Uint8Array | undefined;
    if (filter.allowList !== undefined) {
      allow = new Uint8Array(new SharedArrayBuffer(Math.max(1, g.count)));
      for (const id of filter.allowList) {
        const slot = this.#slots.slotOf(id);
        if (slot !== undefined) allow[slot] = 1;
      }
    }
    const shared = new Float32Array(new SharedArrayBuffer(codes === undefined ? n * dim * 4 : 4));
    if (codes === undefined) shared.set(queries.data.subarray(0, n * dim));
    const scratch = this.#arena.alloc(threads * scratchBytes(dim));
    const job: SearchJobData = {
      g: this.#sharedData(scratch, this.#shared), queries: shared, codes, codeBytes: this.#qp?.codeBytes, k, ef, cosine: this.metric === 'cosine', live: this.#live, allow,
      outSlots: new Uint32Array(new SharedArrayBuffer(n * k * 4)), outDists: new Float32Array(new SharedArrayBuffer(n * k * 4)),
      counts: new Uint32Array(new SharedArrayBuffer(n * 4)),
    };
    try {
      parallelFor(threads, n, hnswSearchTask, job, { grain: Math.max(4, Math.min(64, Math.ceil(n / (threads * 16)))) });
    } finally {
      this.#arena.free(scratch);
    }
    const table = this.#slots.table;
    for (let q = 0; q < n; q++) {
      const c = job.counts[q]!;
      const o = q * k;
      if (c === NEEDS_EXACT) {
        if (codes !== undefined) {
          const cb = this.#qp!.codeBytes;
          this.#arena.u8.set(codes.subarray(q * cb, (q + 1) * cb), this.#qPtr);
        } else {
          const f32 = this.#arena.f32;
          f32.set(queries.data.subarray(q * dim, (q + 1) * dim), this.#qPtr >> 2);
          if (this.metric === 'cosine') normalizeInPlace(f32, this.#qPtr >> 2, dim);
        }
        result.counts[q] = this.#exact(k, filter, result.ids, result.distances, o);
        continue;
      }
      result.counts[q] = c;
      for (let i = 0; i < c; i++) {
        result.ids[o + i] = table[job.outSlots[o + i]!]!;
        result.distances[o + i] = job.outDists[o + i]!;
      }
    }
  }

  /**
   * `add` on `threads` threads (docs/indexes/threads.md). Here, in order: slots, vectors, ids and
   * levels (the same level sequence as one thread); an empty graph gets its first node. Then the
   * participants link the nodes concurrently (parallel.ts: per-node locks, a global lock for the
   * entry point). In-degrees are not kept during the job: they are recounted afterwards, and the
   * reconnect pass splices in any node the concurrent pruning left without a path from the entry.
   */
  #addParallel(ids: Uint32Array, vectors: VectorBatch, threads: number, onProgress: AddOptions['onProgress']): void {
    const g = this.#g;
    const m1 = 1 + g.m;
    const order = new Uint32Array(new SharedArrayBuffer(vectors.count * 4));
    let n = 0;
    for (let i = 0; i < vectors.count; i++) {
      const slot = this.#free.length > 0 ? this.#free.pop()! : g.count++;
      this.#store(slot, vectors, i);
      g.state[slot] = NODE_STATE.live;
      this.#slots.set(ids[i]!, slot);
      this.#live++;
      if (this.#entry < 0) {
        this.#insert(slot);
        continue;
      }
      const level = this.#randomLevel();
      g.levels[slot] = level;
      g.upper[slot] = level > 0 ? new Uint32Array(level * m1) : undefined;
      this.#arena.u32[g.link0(slot)] = 0;
      order[n++] = slot;
    }
    // A quantiser learnt from a small first batch is learnt again now the index has grown (as one
    // thread does while it adds), before any of the new nodes is linked.
    if (this.#qp?.retrainIfGrown(g.count) === true) this.#reencodeAll();
    const ctrl = new Int32Array(new SharedArrayBuffer(16));
    ctrl[INSERT_CTRL.entry] = this.#entry;
    ctrl[INSERT_CTRL.maxLevel] = this.#maxLevel;
    const tables = { levels: sharedCopy(g.levels, g.count), state: sharedCopy(g.state, g.count), ...packUpper(g.upper, g.count) };
    const scratch = this.#arena.alloc(threads * scratchBytes(this.dim));
    const job: InsertJobData = {
      g: this.#sharedData(scratch, tables), order: order.subarray(0, n), efConstruction: this.params.efConstruction,
      locks: new Int32Array(new SharedArrayBuffer(g.count * 4)), ctrl, touched: new Uint8Array(new SharedArrayBuffer(g.count)),
    };
    for (let i = 0; i < n; i++) job.touched[order[i]!] = 1;
    let reported = performance.now();
    const total = vectors.count;
    const progress = onProgress === undefined ? undefined : (): void => {
      if (performance.now() - reported > 250) {
        onProgress(total - n + Atomics.load(ctrl, INSERT_CTRL.done), total);
        reported = performance.now();
      }
    };
    try {
      parallelFor(threads, n, hnswInsertTask, job, { grain: 16, onChunk: progress });
    } finally {
      this.#arena.free(scratch);
      // Whatever happened, take the links back (the job may have linked some nodes).
      for (let s = 0; s < g.count; s++) {
        const o = tables.upperOff[s]!;
        if (o >= 0) g.upper[s] = tables.upperPool.slice(o, o + g.levels[s]! * m1);
      }
      this.#entry = Atomics.load(ctrl, INSERT_CTRL.entry);
      this.#maxLevel = Atomics.load(ctrl, INSERT_CTRL.maxLevel);
      // One thread keeps, for every node, an in-link from a node near it (the back link of an
      // insert, or a splice after its nearest neighbour) and never prunes a node's last in-link.
      // Concurrent pruning keeps no such count: restore the property here (#linkBack), then make
      // sure every node has a path from the entry (#reconnect).
      g.recountIndegree();
      this.#linkBack(job.touched);
      this.#reconnect();
    }
    this.#sinceOptimize += vectors.count;
    if (this.#live >= OPTIMIZE_MIN && this.#sinceOptimize >= OPTIMIZE_GROWTH * this.#live) this.optimize();
    onProgress?.(vectors.count, vectors.count);
  }

  /**
   * After a parallel add: every live node marked in `touched` (the new nodes, and those that were
   * in a list when it was pruned) none of whose level-0 neighbours links back to it is spliced in
   * after its nearest neighbour (as one thread does when every neighbour's heuristic pruned the
   * new node). O(marked·m0²) word compares and O(spliced·m0) distances. Returns how many.
   */
  #linkBack(touched: Uint8Array): number {
    const g = this.#g;
    const u32 = this.#arena.u32;
    let spliced = 0;
    for (let x = 0; x < g.count; x++) {
      if (touched[x] !== 1 || g.state[x] !== NODE_STATE.live) continue;
      const off = g.link0(x);
      const cnt = u32[off]!;
      if (cnt === 0) continue;
      let back = false;
      for (let i = 1; i <= cnt && !back; i++) back = hasLink(u32, g.link0(u32[off + i]!), x);
      if (back) continue;
      let y = -1;
      let yd = Infinity;
      const q = g.vectorPtr(x);
      for (let i = 1; i <= cnt; i++) {
        const v = u32[off + i]!;
        if (g.state[v] !== NODE_STATE.live) continue;
        const d = g.dist(q, v);
        if (d < yd) {
          yd = d;
          y = v;
        }
      }
      if (y < 0) continue;
      this.#splice(y, x, 0);
      spliced++;
    }
    return spliced;
  }

  /**
   * A quantised batch on `threads` threads: the queries encoded here, the walks on codes shared
   * out (`#searchBatchParallel`, each keeping the best `rescore × k` with efSearch at least that),
   * then each query's candidates re-scored here with exact float32 distances — per query the
   * answer of `#searchQuantized` on one thread.
   */
  #searchBatchQuantizedParallel(queries: VectorBatch, k: number, ef: number, rescore: number, filter: ResolvedFilter,
    threads: number, result: BatchSearchResult): void {
    const qp = this.#qp!;
    const dim = this.dim;
    const n = queries.count;
    const want = Math.min(this.#live, Math.max(k, k * rescore));
    const cb = qp.codeBytes;
    const codes = new Uint8Array(new SharedArrayBuffer(Math.max(1, n * cb)));
    const prepared = new Array<Float32Array>(n);
    for (let q = 0; q < n; q++) prepared[q] = qp.prepareQuery(queries.data.subarray(q * dim, (q + 1) * dim), codes, q * cb);
    const cand = emptyBatchResult(n, want);
    this.#searchBatchParallel(queries, want, Math.max(ef, want), filter, threads, cand, codes);
    this.#cand.reserve(want);
    for (let q = 0; q < n; q++) {
      const c = cand.counts[q]!;
      this.#cand.ids.set(cand.ids.subarray(q * want, q * want + c));
      result.counts[q] = this.#cand.rescore(qp, prepared[q]!, c, k, this.#slots, result.ids, result.distances, q * k);
    }
  }

  #topK: TopK | undefined;
  readonly #cand = new Candidates();

  /**
   * A quantised search: the graph walk (or the exact path) on codes keeps the best `rescore × k`
   * candidates (efSearch raised to at least that), which are re-scored with their exact float32
   * distances; the best k are written from `outOff`. Returns how many.
   */
  #searchQuantized(query: Float32Array, k: number, ef: number, rescore: number, filter: ResolvedFilter,
    outIds: Uint32Array, outDists: Float32Array, outOff: number): number {
    const qp = this.#qp!;
    const want = Math.min(this.#live, Math.max(k, k * rescore));
    this.#cand.reserve(want);
    // The query normalised for cosine (for re-scoring); #searchOne encodes it.
    const q = Float32Array.from(query);
    if (this.metric === 'cosine') normalizeInPlace(q, 0, this.dim);
    const n = this.#searchOne(q, want, Math.max(ef, want), filter, this.#cand.ids, this.#cand.dists, 0);
    return this.#cand.rescore(qp, q, n, k, this.#slots, outIds, outDists, outOff);
  }

  #searchOne(query: Float32Array, k: number, ef: number, filter: ResolvedFilter,
    outIds: Uint32Array, outDists: Float32Array, outOff: number): number {
    const g = this.#g;
    const f32 = this.#arena.f32;
    const q = this.#qPtr;
    if (this.#qp !== undefined) {
      this.#qp.q.encode(query, 0, this.#arena.u8, q); // already normalised by #searchQuantized
    } else {
      f32.set(query, q >> 2);
      if (this.metric === 'cosine') normalizeInPlace(f32, q >> 2, this.dim);
    }
    const table = this.#slots.table;
    let accept: ((slot: number) => boolean) | undefined;
    if (filter.active) {
      if (this.#preferExact(filter, ef)) return this.#exact(k, filter, outIds, outDists, outOff);
      accept = (slot) => filter.accepts(table[slot]!);
    }
    const { slot: ep, dist: epDist } = this.#descend(q, 0);
    if (this.#topK === undefined || this.#topK.capacity !== ef) this.#topK = new TopK(ef);
    const top = this.#topK;
    g.searchLayer(q, ep, epDist, 0, top, accept, false);
    const found = top.size;
    if (found < Math.min(k, this.#live)) {
      // The walk did not reach k (matching) nodes — a strict filter, or a part of the graph cut
      // off by deletes: answer exactly, which returns fewer only if fewer vectors match.
      return this.#exact(k, filter, outIds, outDists, outOff);
    }
    while (top.size > k) top.pop();
    const n = top.drainSorted(outIds, outDists, outOff);
    for (let i = 0; i < n; i++) outIds[outOff + i] = table[outIds[outOff + i]!]!;
    return n;
  }

  /** True when answering from the matching vectors alone costs less than a filtered graph walk. */
  #preferExact(filter: ResolvedFilter, ef: number): boolean {
    const n = this.#live;
    let allowed: number;
    if (filter.allowList !== undefined) {
      allowed = Math.min(filter.allowList.length, n);
    } else {
      // Estimate the predicate's selectivity on up to 128 live nodes spread over the slots.
      const g = this.#g;
      const table = this.#slots.table;
      const step = Math.max(1, Math.floor(g.count / 128));
      let seen = 0;
      let hit = 0;
      for (let s = 0; s < g.count; s += step) {
        if (this.#g.state[s] !== NODE_STATE.live) continue;
        seen++;
        if (filter.accepts(table[s]!)) hit++;
      }
      allowed = seen === 0 ? 0 : (hit / seen) * n;
    }
    return (allowed * allowed) / n < FILTER_EXACT * ef;
  }

  /** Exact answer over the vectors that pass the filter. */
  #exact(k: number, filter: ResolvedFilter, outIds: Uint32Array, outDists: Float32Array, outOff: number): number {
    const g = this.#g;
    const a = this.#arena;
    const table = this.#slots.table;
    const top = new TopK(k);
    const listW = g.listPtr >> 2;
    const outW = g.outPtr >> 2;
    let n = 0;
    const flush = (): void => {
      a.k.distGather(g.metricCode, this.#qPtr, g.base, g.recordBytes, g.listPtr, n, this.dim, g.outPtr, PREFETCH_BYTES);
      for (let j = 0; j < n; j++) top.push(a.u32[listW + j]!, a.f32[outW + j]!);
      n = 0;
    };
    const consider = (slot: number): void => {
      if (!filter.accepts(table[slot]!)) return;
      a.u32[listW + n++] = slot;
      if (n === Graph.SCRATCH) flush();
    };
    if (filter.allowList !== undefined) {
      for (const id of filter.allowList) {
        const slot = this.#slots.slotOf(id);
        if (slot !== undefined) consider(slot);
      }
    } else {
      for (let s = 0; s < g.count; s++) if (this.#g.state[s] === NODE_STATE.live) consider(s);
    }
    if (n > 0) flush();
    const found = top.drainSorted(outIds, outDists, outOff);
    for (let i = 0; i < found; i++) outIds[outOff + i] = table[outIds[outOff + i]!]!;
    return found;
  }

  stats(): IndexStats {
    const g = this.#g;
    let upperBytes = 0;
    let upperNodes = 0;
    for (let s = 0; s < g.count; s++) {
      const u = g.upper[s];
      if (u !== undefined) {
        upperBytes += u.byteLength + 64; // + the typed array object
        upperNodes++;
      }
    }
    // levels and states (1 byte each), visited tags (2 bytes), the upper-links array (8 bytes);
    // the shared copy of the side tables for threaded batch searches, while there is one.
    const sh = this.#shared;
    const side = g.levels.byteLength * 4 + g.upper.length * 8 +
      (sh === undefined ? 0 : sh.levels.byteLength + sh.state.byteLength + sh.upperOff.byteLength + sh.upperPool.byteLength);
    return {
      kind: this.kind,
      dim: this.dim,
      metric: this.metric,
      size: this.#live,
      memoryBytes: this.#arena.committedBytes + this.#slots.bytes() + upperBytes + side,
      vectorBytes: this.#live * this.dim * 4,
      quantization: this.#qp?.kind ?? 'none',
      codeBytes: this.#qp?.codeBytes ?? this.dim * 4,
      rescoreBytes: this.#qp?.rescoreBytes ?? 0,
      linkBytes: this.#live * g.m0 * 4 + upperBytes,
      upperNodes,
      maxLevel: this.#maxLevel,
      deletedPending: this.#pending.length + this.#reclaiming,
      freeSlots: this.#free.length,
    };
  }

  /**
   * Layout in docs/file-format.md. `vectors: false` (version 3): float32 records are written
   * without their vectors (only each record's level-0 link list, 1 + 2m words a slot); quantised
   * records keep their codes and the float store is left out. Removed nodes not yet reclaimed
   * still route searches, and an external source need not hold their ids any more: their float
   * vectors stay in the file.
   */
  writePayload(w: BinaryWriter, options: PayloadOptions = {}): void {
    this.#finishUpkeep();
    const external = options.vectors === false;
    const g = this.#g;
    w.json(this.params);
    w.u32(g.count);
    w.u32(this.#entry < 0 ? NO_ID : this.#entry);
    w.u32(this.#maxLevel < 0 ? NO_ID : this.#maxLevel);
    w.u8s(this.#g.state.subarray(0, g.count));
    w.u8s(g.levels.subarray(0, g.count));
    w.u32s(this.#slots.table.subarray(0, g.count));
    if (external && this.#qp === undefined) w.u32s(this.#linkWords());
    else w.u8s(this.#arena.u8.subarray(g.base, g.base + g.count * g.recordBytes));
    let total = 0;
    for (let s = 0; s < g.count; s++) total += g.upper[s]?.length ?? 0;
    const upper = new Uint32Array(total);
    let o = 0;
    for (let s = 0; s < g.count; s++) {
      const u = g.upper[s];
      if (u !== undefined) {
        upper.set(u, o);
        o += u.length;
      }
    }
    w.u32s(upper);
    if (!external) {
      // Quantised: the quantiser's parameters and the float vectors of every slot (the records hold codes).
      this.#qp?.write(w, g.count);
      return;
    }
    this.#qp?.writeQuantizer(w);
    // The float vectors of removed-not-reclaimed nodes, in slot order.
    let dead = 0;
    for (let s = 0; s < g.count; s++) if (g.state[s] === NODE_STATE.deleted) dead++;
    const floats = new Float32Array(dead * this.dim);
    let d = 0;
    for (let s = 0; s < g.count; s++) {
      if (g.state[s] !== NODE_STATE.deleted) continue;
      floats.set(this.#qp === undefined ? this.#arena.f32.subarray(g.vectorPtr(s) >> 2, (g.vectorPtr(s) >> 2) + this.dim) : this.#qp.store.view(s), d);
      d += this.dim;
    }
    w.f32s(floats);
  }

  /** Each record's level-0 link list (count, then 2m link words), slot after slot: the records without vectors and padding. */
  #linkWords(): Uint32Array {
    const g = this.#g;
    const words = 1 + g.m0;
    const out = new Uint32Array(g.count * words);
    const u32 = this.#arena.u32;
    for (let s = 0; s < g.count; s++) {
      const from = g.link0(s);
      out.set(u32.subarray(from, from + words), s * words);
    }
    return out;
  }

  /**
   * Puts the link lists read into the first `count × (1 + 2m)` words of the record region where
   * they belong (after each record's vector), moving from the last slot down so that nothing is
   * overwritten before it is moved, and zeroes the rest of each record that the links read
   * overlapped (its vector is filled later). The records past them are fresh memory of a new
   * arena, zero already: not touching them here saves a pass over ~0.5 GB at 1M × 128.
   */
  #spreadLinks(count: number, r: BinaryReader): void {
    const g = this.#g;
    const words = 1 + g.m0;
    const u32 = this.#arena.u32;
    const base = g.base >> 2;
    const rw = g.recordWords;
    const lw = g.linkWord;
    const end = base + count * words;
    for (let s = count - 1; s >= 0; s--) {
      const src = base + s * words;
      const rec = base + s * rw;
      const dst = rec + lw;
      // The level-0 check of the load, on words in hand: count ≤ 2m, links to existing slots.
      const cnt = u32[src]!;
      if (cnt > g.m0) r.fail('links', `slot ${s} has ${cnt} level-0 links, at most ${g.m0} allowed`);
      for (let i = 1; i <= cnt; i++) if (u32[src + i]! >= count) r.fail('links', `slot ${s} links to missing slot ${u32[src + i]}`);
      for (let i = words - 1; i >= 0; i--) u32[dst + i] = u32[src + i]!;
      if (rec < end) {
        u32.fill(0, dst + words, rec + rw);
        u32.fill(0, rec, dst);
      }
    }
  }

  /** Stores the float vectors of the live ids from `source` (after a vectors-less payload): what `add` stores. */
  fillVectors(source: ExternalVectors): void {
    const g = this.#g;
    const table = this.#slots.table;
    let lo = Infinity;
    let hi = -1;
    for (let s = 0; s < g.count; s++) {
      if (g.state[s] !== NODE_STATE.live) continue;
      const id = table[s]!;
      if (id < lo) lo = id;
      if (id > hi) hi = id;
    }
    checkSource(source, this.dim, hi, 'hnsw index');
    const dim = this.dim;
    const f32 = this.#arena.f32;
    const cosine = this.metric === 'cosine';
    const qp = this.#qp;
    forEachRow(source, dim, hi < 0 ? 0 : lo, hi, (id, row) => {
      const slot = this.#slots.slotOf(id);
      if (slot === undefined) return;
      if (qp !== undefined) {
        qp.putFloat(slot, row);
        return;
      }
      const p = g.vectorPtr(slot) >> 2;
      f32.set(row, p);
      if (cosine) normalizeInPlace(f32, p, dim);
    });
    this.#shared = undefined;
  }

  /** Reads a payload; `external` (a version-3 file): one written with `vectors: false`, to be filled with `fillVectors`. */
  static readPayload(r: BinaryReader, dim: number, metric: Metric, count: number, external = false): HnswIndex {
    const p = r.json<Partial<HnswIndexOptions>>('hnsw params');
    let index: HnswIndex;
    try {
      // Params without `quantization` (every file before issue 16) read as 'none'.
      index = new HnswIndex({ dim, metric, m: p.m, efConstruction: p.efConstruction, efSearch: p.efSearch, seed: p.seed,
        quantization: p.quantization, rescore: p.rescore });
    } catch (e) {
      return r.fail('hnsw params', (e as Error).message);
    }
    const g = index.#g;
    const slots = r.u32('slot count');
    const entry = r.u32('entry point');
    const maxLevel = r.u32('max level');
    const state = r.u8s('node states', slots);
    const levels = r.u8s('levels', slots);
    const table = r.u32s('ids', slots);
    g.reserve(slots);
    g.ensureSideTables(slots);
    // A packed array (every element present): one filled slot by slot with holes becomes a
    // dictionary, ~4× slower to fill and slower for every search that reads an upper layer.
    g.upper = new Array<Uint32Array | undefined>(slots).fill(undefined);
    if (external && index.#qp === undefined) {
      r.sectionInto(index.#arena.u8, g.base, 4, 'links', slots * (1 + g.m0));
      index.#spreadLinks(slots, r);
    } else {
      r.u8sInto(index.#arena.u8, g.base, 'records', slots * g.recordBytes); // straight into the arena
    }
    const upper = r.u32s('upper links');
    if (!external) {
      index.#qp?.read(r, slots);
    } else {
      index.#qp?.readQuantizer(r);
      index.#qp?.store.reserve(slots);
      let dead = 0;
      for (let s = 0; s < slots; s++) if (state[s] === NODE_STATE.deleted) dead++;
      const floats = r.f32s('removed nodes\' vectors', dead * dim);
      let d = 0;
      for (let s = 0; s < slots; s++) {
        if (state[s] !== NODE_STATE.deleted) continue;
        if (index.#qp !== undefined) index.#qp.store.set(s, floats, d);
        else index.#arena.f32.set(floats.subarray(d, d + dim), g.vectorPtr(s) >> 2);
        d += dim;
      }
    }
    r.end();
    g.count = slots;
    const m1 = 1 + g.m;
    let o = 0;
    let live = 0;
    let maxId = 0;
    for (let s = 0; s < slots; s++) if (state[s] === NODE_STATE.live && table[s]! > maxId) maxId = table[s]!;
    index.#slots.reserveDense(maxId, slots);
    const twice = index.#slots.adopt(table, slots, state, NODE_STATE.live);
    if (twice >= 0) r.fail('ids', `id ${twice} appears twice`);
    g.state.set(state);
    g.levels.set(levels);
    for (let s = 0; s < slots; s++) {
      const st = state[s]!;
      const lv = levels[s]!;
      if (st === NODE_STATE.live) live++;
      else if (st === NODE_STATE.deleted) index.#pending.push(s);
      else if (st === NODE_STATE.free) index.#free.push(s);
      else r.fail('node states', `slot ${s} has unknown state ${st}`);
      if (lv > 0) {
        const len = lv * m1;
        if (o + len > upper.length) r.fail('upper links', 'shorter than the levels require');
        g.upper[s] = upper.slice(o, o + len);
        o += len;
      }
    }
    if (o !== upper.length) r.fail('upper links', 'longer than the levels require');
    if (live !== count) r.fail('node states', `${live} live nodes, the header says ${count}`);
    // Every link must point at an existing slot (level 0 of a vectors-less payload: checked while
    // spreading). The in-degrees are counted before the first change, not here.
    const u32 = index.#arena.u32;
    const m0 = g.m0;
    const spread = external && index.#qp === undefined;
    for (let s = 0; s < slots; s++) {
      if (!spread) {
        const off = g.link0(s);
        const cnt = u32[off]!;
        if (cnt > m0) r.fail('records', `slot ${s} has ${cnt} level-0 links, at most ${m0} allowed`);
        for (let i = 1; i <= cnt; i++) if (u32[off + i]! >= slots) r.fail('records', `slot ${s} links to missing slot ${u32[off + i]}`);
      }
      const u = g.upper[s];
      if (u !== undefined) {
        for (let lc = 0; lc < levels[s]!; lc++) {
          const c = u[lc * m1]!;
          if (c > g.m) r.fail('upper links', `slot ${s} has ${c} links on level ${lc + 1}, at most ${g.m} allowed`);
          for (let i = 1; i <= c; i++) if (u[lc * m1 + i]! >= slots) r.fail('upper links', `slot ${s} links to missing slot ${u[lc * m1 + i]}`);
        }
      }
    }
    if (live > 0 && (entry >= slots || state[entry] === NODE_STATE.free || levels[entry] !== maxLevel)) {
      r.fail('entry point', `slot ${entry} at level ${maxLevel} is not a valid entry`);
    }
    index.#entry = live > 0 ? entry : -1;
    index.#maxLevel = live > 0 ? maxLevel : -1;
    index.#live = live;
    index.#free.sort((x, y) => y - x);
    index.#indegStale = true;
    // Continue the level sequence differently from a fresh index, deterministically.
    for (let i = 0; i < slots; i++) index.#rng.nextU32();
    return index;
  }
}
