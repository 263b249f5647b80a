/**
 * The tasks' distance engine: a task's points copied once into a WebAssembly arena, so every
 * all-pairs or points-to-centres pass runs on the SIMD kernels (`distBlock`, `distRange`,
 * docs/kernels.md) instead of JS loops — 3–7× faster at MNIST's 784 dimensions. Every region is
 * allocated in the constructor, so the arena never grows and the views stay valid.
 *
 * Kernel codes: 0 = squared L2, 1 = 1 − a·b (cosine distance on unit vectors).
 *
 * The arena is a shared memory, so the two exact scans the tasks spend their time in — every
 * point's k nearest points, every point's nearest centre — also run on several threads
 * (`neighbours`, `nearestCentres`: src/indexes/parallel/scan-jobs.ts on the indexes' worker pool).
 * Each participant has its own distance region; the answers are bit for bit those of one thread.
 */
import { Arena } from '../vector/arena.js';
import { parallelThresholds } from '../indexes/flat/flat-index.js';
import { parallelFor } from '../parallel/pool.js';
import {
  mergePairLists, nearestCentreBlocks, nearestCentreTask, pairsBlocks, pairsFinish, pairsScreenBlocksInMemory,
  pairsMergeTask, pairsMergeUnits, MERGE_POINTS, type PairsMergeJob,
  pairsSetup, pairsTopKTask, scanUnits, topKScanBlocks, topKScanTask,
  type NearestCentreJob, type PairLists, type PairsTopKJob, type TopKScanJob,
} from '../indexes/parallel/scan-jobs.js';
import { NORM_BYTES, SCREEN_MAX_NORM, planBytes, screenPlan, screenSlack } from '../indexes/flat/screen.js';

export type KernelCode = 0 | 1;

export interface KernelPointsOptions {
  /** Most centres `toCentres` is asked about at once. */
  centres?: number;
  /** Most rows gathered at once by `gather` (mini-batches). */
  gather?: number;
  /** Most distances one call writes (rows × columns); at least n for `toPoint` over all points. */
  outFloats: number;
  /** Participants of the threaded scans (one distance region of `outFloats` each). Default 1. */
  threads?: number;
}

/** Whether a scan of `work` multiply-adds in `units` blocks is worth fanning out (the flat index's rule). */
export function worthThreads(threads: number, units: number, work: number): boolean {
  return threads > 1 && units > 1 && work >= parallelThresholds.minWork;
}

/**
 * The arena of a finished scan, kept on this thread for the next one (`KernelPoints.release`): a
 * task call otherwise maps ~14 MB of fresh shared memory (2,050 × 784, 2 threads) and touches
 * every page of it again. One is kept, up to SPARE_MAX_BYTES, and dropped after SPARE_IDLE_MS
 * without use, so a finished task does not hold its memory for long.
 */
let spare: Arena | undefined;
let spareTimer: ReturnType<typeof setTimeout> | undefined;
const SPARE_MAX_BYTES = 256 * 1024 * 1024;
const SPARE_IDLE_MS = 10_000;

function takeArena(bytes: number): Arena {
  const a = spare;
  if (a !== undefined && a.committedBytes >= bytes) {
    spare = undefined;
    a.reset();
    return a;
  }
  return new Arena(bytes);
}

function keepArena(a: Arena): void {
  if (a.committedBytes > SPARE_MAX_BYTES) return;
  if (spare === undefined || spare.committedBytes < a.committedBytes) spare = a;
  if (spareTimer !== undefined) clearTimeout(spareTimer);
  spareTimer = setTimeout(() => { spare = undefined; spareTimer = undefined; }, SPARE_IDLE_MS);
  spareTimer.unref?.();
}

export class KernelPoints {
  readonly n: number;
  readonly dim: number;
  readonly #arena: Arena;
  readonly #pts: number;
  /** The points' squared norms (n f32), for the screened pairs scan; computed by `neighbours`. */
  readonly #norms: number;
  /** The 2n float32 limits of the screened pairs scan, shared by its participants (partial check, admission). */
  readonly #limits: number;
  /** The screen's plan (screen.ts, `screenPlan`), made on the first screened scan. */
  readonly #plan: number;
  /** Whether `#plan` has been made (on the first screened scan). */
  #planned = false;
  readonly #ctr: number;
  readonly #gat: number;
  readonly #out: number;
  readonly #outFloats: number;
  readonly #stride: number;
  readonly #threads: number;
  /** The arena's copy of the points, row-major n × dim. */
  readonly points: Float32Array;
  /** The centres' region (`centres` × dim): write centres here before `toCentres`. */
  readonly centres: Float32Array;
  /** The gathered rows' region (`gather` × dim). */
  readonly gathered: Float32Array;

  constructor(data: Float32Array, n: number, dim: number, options: KernelPointsOptions) {
    this.n = n;
    this.dim = dim;
    const stride = dim * 4;
    this.#stride = stride;
    const centres = Math.max(1, options.centres ?? 1);
    const gather = Math.max(1, options.gather ?? 1);
    this.#outFloats = Math.max(1, options.outFloats);
    this.#threads = Math.max(1, options.threads ?? 1);
    const bytes = n * stride + centres * stride + gather * stride + this.#threads * this.#outFloats * 4 + NORM_BYTES * n + 8 * n + planBytes(dim) + 5 * 64;
    this.#arena = takeArena(bytes);
    this.#pts = this.#arena.alloc(Math.max(1, n * stride));
    this.#norms = this.#arena.alloc(Math.max(1, NORM_BYTES * n));
    this.#limits = this.#arena.alloc(Math.max(1, 8 * n));
    this.#plan = this.#arena.alloc(planBytes(dim));
    this.#ctr = this.#arena.alloc(centres * stride);
    this.#gat = this.#arena.alloc(gather * stride);
    this.#out = this.#arena.alloc(this.#threads * this.#outFloats * 4);
    const f32 = this.#arena.f32;
    this.points = f32.subarray(this.#pts >> 2, (this.#pts >> 2) + n * dim);
    this.points.set(data.subarray(0, n * dim));
    this.centres = f32.subarray(this.#ctr >> 2, (this.#ctr >> 2) + centres * dim);
    this.gathered = f32.subarray(this.#gat >> 2, (this.#gat >> 2) + gather * dim);
  }

  #released = false;

  /**
   * Hands the arena back for the next scan on this thread. Nothing of this object may be used
   * after (`points`, `centres` and `gathered` view the arena); answers already returned are copies.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    keepArena(this.#arena);
  }

  #result(count: number): Float32Array {
    if (count > this.#outFloats) throw new Error(`KernelPoints: ${count} distances asked, room for ${this.#outFloats}`);
    const o = this.#out >> 2;
    return this.#arena.f32.subarray(o, o + count);
  }

  /** Distances of points [from, from + count) to the first `k` centres: out[i·k + j]. A view, valid until the next call. */
  toCentres(code: KernelCode, from: number, count: number, k: number): Float32Array {
    const out = this.#result(count * k);
    this.#arena.k.distBlock(code, this.#pts + from * this.#stride, count, this.#stride, this.#ctr, k, this.#stride, this.dim, this.#out);
    return out;
  }

  /** Distances of the first `count` gathered rows to the first `k` centres: out[i·k + j]. */
  gatheredToCentres(code: KernelCode, count: number, k: number): Float32Array {
    const out = this.#result(count * k);
    this.#arena.k.distBlock(code, this.#gat, count, this.#stride, this.#ctr, k, this.#stride, this.dim, this.#out);
    return out;
  }

  /** Distances of points [from, from + count) to points [xFrom, xFrom + xCount): out[i·xCount + j]. */
  pairs(code: KernelCode, from: number, count: number, xFrom: number, xCount: number): Float32Array {
    const out = this.#result(count * xCount);
    this.#arena.k.distBlock(code, this.#pts + from * this.#stride, count, this.#stride, this.#pts + xFrom * this.#stride, xCount, this.#stride, this.dim, this.#out);
    return out;
  }

  /** Distances of point `row` to points [from, from + count). */
  toPoint(code: KernelCode, row: number, from: number, count: number): Float32Array {
    const out = this.#result(count);
    this.#arena.k.distRange(code, this.#pts + row * this.#stride, this.#pts + from * this.#stride, this.#stride, count, this.dim, this.#out);
    return out;
  }

  /** Copies points `rows` into the gathered region (in the arena, no JS loop over components). */
  gather(rows: ArrayLike<number>, count: number): void {
    const u8 = this.#arena.u8;
    for (let i = 0; i < count; i++) {
      const src = this.#pts + rows[i]! * this.#stride;
      u8.copyWithin(this.#gat + i * this.#stride, src, src + this.#stride);
    }
  }

  /** The fields every scan job carries; participant t's distances at #out + t × outFloats floats. */
  #job(code: KernelCode, rows: number, block: number): Omit<TopKScanJob, 'xPtr' | 'nx' | 'k' | 'selfOffset' | 'outIndex' | 'outDist'> {
    if (rows * block > this.#outFloats) throw new Error(`KernelPoints: ${rows * block} distances asked, room for ${this.#outFloats}`);
    const scratch = new Uint32Array(new SharedArrayBuffer(4 * this.#threads));
    for (let t = 0; t < this.#threads; t++) scratch[t] = this.#out + t * this.#outFloats * 4;
    return {
      memory: this.#arena.memory, module: Arena.kernels(), code, dim: this.dim, stride: this.#stride, block,
      qPtr: this.#pts, nq: this.n, rows, scratch,
    };
  }

  /**
   * Every point's k nearest other points (row numbers and distances, n × k, nearest first; ties:
   * the smaller number), each pair computed once (`pairsTopKTask`: blocks of `rows` points against
   * the points from the block's start on), on up to `threads` threads (at most the `threads` this
   * was made with). The answer is the same for every thread count.
   */
  neighbours(code: KernelCode, k: number, rows: number, threads: number): { index: Int32Array; distances: Float32Array } {
    const { n } = this;
    const job: PairsTopKJob = { ...this.#job(code, rows, n), k };
    const units = scanUnits(job);
    const t = Math.min(threads, this.#threads);
    // The screened scan (src/indexes/flat/screen.ts): the same lists, about twice as fast.
    const a = this.#arena;
    if (!this.#planned) {
      // The points do not change after construction: one plan for every scan.
      a.u32.set(screenPlan(a, this.#pts, n, this.#stride, this.dim), this.#plan >> 2);
      this.#planned = true;
    }
    const plan = this.#plan;
    a.k.sqNorms(this.#pts, n, this.#stride, this.dim, plan, this.#norms);
    let xnMax = 0;
    for (let i = 0; i < n; i++) xnMax = Math.max(xnMax, a.f32[(this.#norms + i * NORM_BYTES) >> 2]!);
    if (xnMax <= SCREEN_MAX_NORM) {
      a.f32.fill(Infinity, this.#limits >> 2, (this.#limits >> 2) + 2 * n);
      // Screens of 3k + 32 candidates a point; a list that overflows (values tied within the
      // slack: duplicates, or data far from the origin) retries once with 8× the room (n − 1 can
      // never overflow). The shared limits the first try lowered are still valid bounds.
      const small = 3 * k + 32;
      for (const cap of small < n - 1 ? [small, Math.min(n - 1, 8 * small)] : [n - 1]) {
        const got = this.#screenedInMemory(job, code, k, t, units, xnMax, plan, Math.max(1, cap));
        if (got !== undefined) return got;
      }
      // Lists still overflowing (many values tied within the slack): the plain scan.
      job.screen = undefined;
    }
    return this.#plainPairs(job, k, t, units);
  }

  /** The plain pairs scan (`distBlock`, JavaScript heaps): the oracle, and the fallback of the screened one. */
  #plainPairs(job: PairsTopKJob, k: number, t: number, units: number): { index: Int32Array; distances: Float32Array } {
    const { n } = this;
    let lists: PairLists[];
    if (worthThreads(t, units, (n * n * this.dim) / 2)) lists = parallelFor(t, units, pairsTopKTask, job, { grain: 1 }) as PairLists[];
    else {
      const state = pairsSetup(job, 0, this.#arena);
      pairsBlocks(state, 0, units);
      lists = [pairsFinish(state)];
    }
    return mergePairLists(lists, n, k);
  }

  /**
   * The screened pairs scan with its screens in linear memory (kernels.ts, "Pair screens";
   * scan-jobs.ts `pairsScreenBlocksInMemory`): one region a participant, the lists merged and
   * re-ranked exactly by `pairScreensMerge`. Undefined when a list overflowed.
   */
  #screenedInMemory(job: PairsTopKJob, code: KernelCode, k: number, t: number, units: number, xnMax: number, plan: number, cap: number):
    { index: Int32Array; distances: Float32Array } | undefined {
    const { n, dim } = this;
    const a = this.#arena;
    const threads = worthThreads(t, units, (n * n * dim) / 2) ? t : 1;
    const regionBytes = a.k.pairRegionBytes(n, k, cap);
    const regionPtr = a.alloc(threads * regionBytes);
    const headBytes = Math.ceil((4 * threads) / 16) * 16;
    // Per participant of the merge: the candidates' numbers and distances, then τ̃'s heap.
    const tmpBytes = Math.ceil((8 * threads * cap + 4 * k) / 16) * 16;
    const mergeBytes = headBytes + threads * tmpBytes + 8 * n * k;
    const mergePtr = a.alloc(mergeBytes);
    try {
      const regions = new Uint32Array(new SharedArrayBuffer(4 * threads));
      const slack = new Float64Array(n);
      for (let i = 0; i < n; i++) slack[i] = screenSlack(dim, a.f32[(this.#norms + i * NORM_BYTES) >> 2]!, xnMax);
      const f64 = new Float64Array(a.memory.buffer);
      for (let r = 0; r < threads; r++) {
        const st = regionPtr + r * regionBytes;
        regions[r] = st;
        a.k.pairScreensReset(st, n, k);
        f64.set(slack, (st + 16 * n) / 8);
      }
      const overflow = new Int32Array(new SharedArrayBuffer(4));
      job.screen = { xnPtr: this.#norms, xnMax, plan, limits: this.#limits, screens: { regions, cap, overflow } };
      // Units: each block's own square, then each block's longer rows (pairsScreenBlocksInMemory).
      if (threads > 1) parallelFor(threads, 2 * units, pairsTopKTask, job, { grain: 1 });
      else pairsScreenBlocksInMemory(pairsSetup(job, 0, a), 0, 2 * units);
      if (overflow[0] !== 0) return undefined;
      // Merge: the regions' offsets, then the candidates' numbers and distances, τ̃'s heap, the answers.
      const regionsAt = mergePtr;
      a.u32.set(regions, regionsAt >> 2);
      const tmp = new Uint32Array(new SharedArrayBuffer(4 * threads));
      for (let r = 0; r < threads; r++) tmp[r] = regionsAt + headBytes + r * tmpBytes;
      const outIdx = regionsAt + headBytes + threads * tmpBytes;
      const outDist = outIdx + 4 * n * k;
      const merge: PairsMergeJob = {
        memory: a.memory, module: Arena.kernels(), code, dim, stride: this.#stride, block: MERGE_POINTS,
        regionsAt, parts: threads, n, k, cap, pts: this.#pts, outIdx, outDist, tmp,
      };
      const mergeUnits = Math.ceil(n / MERGE_POINTS);
      if (threads > 1 && mergeUnits > 1) parallelFor(threads, mergeUnits, pairsMergeTask, merge, { grain: 1 });
      else pairsMergeUnits(a.k, merge, 0, mergeUnits, 0);
      return {
        index: new Int32Array(a.memory.buffer, outIdx, n * k).slice(),
        distances: a.f32.slice(outDist >> 2, (outDist >> 2) + n * k),
      };
    } finally {
      a.free(mergePtr);
      a.free(regionPtr);
    }
  }

  /**
   * The same lists by the full scan (`topKScanTask`: every block against all n points, each pair
   * computed twice, each point left out of its own list): twice the work of `neighbours`; kept as
   * the reference the pairs scan is tested against.
   */
  scanNeighbours(code: KernelCode, k: number, rows: number, threads: number): { index: Int32Array; distances: Float32Array } {
    const { n } = this;
    const job: TopKScanJob = {
      ...this.#job(code, rows, n), xPtr: this.#pts, nx: n, k, selfOffset: 0,
      outIndex: new Int32Array(new SharedArrayBuffer(4 * Math.max(1, n * k))),
      outDist: new Float32Array(new SharedArrayBuffer(4 * Math.max(1, n * k))),
    };
    const units = scanUnits(job);
    const t = Math.min(threads, this.#threads);
    if (worthThreads(t, units, n * n * this.dim)) parallelFor(t, units, topKScanTask, job, { grain: 1 });
    else topKScanBlocks(this.#arena.k, this.#arena.f32, job, 0, units, 0);
    return { index: new Int32Array(job.outIndex), distances: new Float32Array(job.outDist) };
  }

  /**
   * Every point's nearest of the first `k` centres (ties: the smaller centre) into `label` and
   * `dist` (distances clipped at 0), `rows` points per kernel call — the calls `toCentres` makes
   * block by block — on up to `threads` threads. `label` and `dist` may be SharedArrayBuffer views
   * (then the workers write them directly); otherwise they are copied back.
   */
  nearestCentres(code: KernelCode, k: number, rows: number, threads: number, label: Int32Array, dist: Float32Array): void {
    const { n } = this;
    const shared = label.buffer instanceof SharedArrayBuffer && dist.buffer instanceof SharedArrayBuffer;
    const job: NearestCentreJob = {
      ...this.#job(code, rows, k), cPtr: this.#ctr, nc: k,
      outLabel: shared ? label : new Int32Array(new SharedArrayBuffer(4 * Math.max(1, n))),
      outDist: shared ? dist : new Float32Array(new SharedArrayBuffer(4 * Math.max(1, n))),
    };
    const units = scanUnits(job);
    const t = Math.min(threads, this.#threads);
    if (worthThreads(t, units, n * k * this.dim)) parallelFor(t, units, nearestCentreTask, job, { grain: 1 });
    else nearestCentreBlocks(this.#arena.k, this.#arena.f32, job, 0, units, 0);
    if (!shared) {
      label.set(job.outLabel.subarray(0, n));
      dist.set(job.outDist.subarray(0, n));
    }
  }
}
