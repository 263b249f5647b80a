/**
 * The tasks' exact scans on several threads (docs/tasks.md, "Multi-core exact scans"): the same
 * blocked query × vector distance tiles as the flat index's batch search (`distBlock` over one
 * shared WebAssembly memory, see flat-jobs.ts), with the two reductions the tasks need:
 *
 * - `topKScanTask`: each query's k nearest base rows (optionally leaving out the query's own row);
 * - `pairsTopKTask`: every point's k nearest other points of the same set, each pair's distance
 *   computed once (a query block against the rows from its own start on: half the multiply-adds of
 *   `topKScanTask` over the set), for outliers, dedupe and t-SNE's exact neighbours
 *   (src/tasks/neighbours.ts);
 * - `nearestCentreTask`: each point's nearest centre and its distance (the k-means assignment step,
 *   src/tasks/kmeans.ts).
 *
 * Units of work are whole blocks of `rows` queries starting at multiples of `rows` from the start
 * of the batch, and each block makes exactly the kernel call the single-thread loop of the task
 * makes (the same pointers, counts and strides), so each distance — and so each heap, label and
 * answer — is bit for bit the single-thread one, whichever participant runs the block. Nothing
 * here allocates: the caller lays out the points, the per-participant scratch and the SharedArrayBuffer
 * answers beforehand.
 */
import { Arena } from '../../vector/arena.js';
import { TopK } from '../../vector/heap.js';
import type { BlockKernel } from '../flat/flat-jobs.js';
import { NORM_BYTES } from '../flat/screen.js';
import { defineTask, type KernelJob } from '../../parallel/pool.js';

/** What both scans carry besides the kernels: the queries and the per-participant scratch. */
interface ScanJobBase extends KernelJob {
  /** Queries: `nq` rows at byte offset `qPtr`, `stride` bytes apart. */
  qPtr: number;
  nq: number;
  /** Queries per kernel call: the unit of work (block b covers queries [b·rows, (b+1)·rows)). */
  rows: number;
  /** `scratch[t]`: byte offset of participant t's rows × block floats. */
  scratch: Uint32Array;
}

/** Each query's k nearest of `nx` base rows (nearest first; ties: the smaller row number). */
export interface TopKScanJob extends ScanJobBase {
  /** Base rows at byte offset `xPtr`; `block` (KernelJob) must equal `nx`: one call per query block. */
  xPtr: number;
  nx: number;
  k: number;
  /** Query q is base row `selfOffset + q` and is left out of its own answer; −1: no query is. */
  selfOffset: number;
  /** Answers, nq × k: base row numbers and distances (a row short of k is padded with −1 / Infinity). */
  outIndex: Int32Array;
  outDist: Float32Array;
}

/** Each point's nearest of `nc` centres (ties: the smaller centre number). */
export interface NearestCentreJob extends ScanJobBase {
  /** Centres at byte offset `cPtr`; `block` (KernelJob) must equal `nc`. */
  cPtr: number;
  nc: number;
  /** Answers: centre number and distance (clipped at 0) of every query. */
  outLabel: Int32Array;
  outDist: Float32Array;
}

/** Work units of a scan: its query blocks. */
export function scanUnits(job: ScanJobBase): number {
  return Math.ceil(job.nq / job.rows);
}

/** Query blocks [b0, b1) of a top-k scan on participant t. `f32` views the whole (current) memory. */
export function topKScanBlocks(kernel: BlockKernel, f32: Float32Array, job: TopKScanJob, b0: number, b1: number, t: number): void {
  const { code, dim, stride, xPtr, nx, k, selfOffset, rows } = job;
  const out = job.scratch[t]!;
  const heap = new TopK(Math.min(k, nx));
  const ids = new Uint32Array(k);
  const dd = new Float32Array(k);
  for (let b = b0; b < b1; b++) {
    const q0 = b * rows;
    const cnt = Math.min(rows, job.nq - q0);
    kernel.distBlock(code, job.qPtr + q0 * stride, cnt, stride, xPtr, nx, stride, dim, out);
    const base = out >> 2;
    for (let i = 0; i < cnt; i++) {
      heap.clear();
      const self = selfOffset < 0 ? -1 : selfOffset + q0 + i;
      const row = base + i * nx;
      for (let j = 0; j < nx; j++) if (j !== self) heap.push(j, f32[row + j]!);
      const got = heap.drainSorted(ids, dd);
      const o = (q0 + i) * k;
      for (let s = 0; s < k; s++) {
        job.outIndex[o + s] = s < got ? ids[s]! : -1;
        job.outDist[o + s] = s < got ? dd[s]! : Infinity;
      }
    }
  }
}

/** Query blocks [b0, b1) of a nearest-centre scan on participant t. */
export function nearestCentreBlocks(kernel: BlockKernel, f32: Float32Array, job: NearestCentreJob, b0: number, b1: number, t: number): void {
  const { code, dim, stride, cPtr, nc, rows } = job;
  const out = job.scratch[t]!;
  for (let b = b0; b < b1; b++) {
    const q0 = b * rows;
    const cnt = Math.min(rows, job.nq - q0);
    kernel.distBlock(code, job.qPtr + q0 * stride, cnt, stride, cPtr, nc, stride, dim, out);
    const base = out >> 2;
    for (let i = 0; i < cnt; i++) {
      const row = base + i * nc;
      let bj = 0;
      let bd = f32[row]!;
      for (let j = 1; j < nc; j++) {
        const v = f32[row + j]!;
        if (v < bd) { bd = v; bj = j; }
      }
      job.outLabel[q0 + i] = bj;
      job.outDist[q0 + i] = Math.max(0, bd);
    }
  }
}

/**
 * Every point's k nearest of the other points (ties: the smaller number), the pairs of the upper
 * triangle only: block b's queries [b·rows, …) against the rows from b·rows to n, each pair (i, j),
 * i < j, offered to both i's and j's lists. A participant keeps its own lists for all n points;
 * `finish` hands them over and the caller merges them (`mergePairLists`). Each pair's distance
 * comes from the same kernel call whichever participant makes it, and a list keeps the k smallest
 * by (distance, number) whatever the order of offers, so the answer is the same on any number of
 * threads.
 */
export interface PairsTopKJob extends ScanJobBase {
  k: number;
  /**
   * Screened scan (src/indexes/flat/screen.ts): the points' norm records (`sqNorms` of the plan at
   * `plan`, screen.ts `screenPlan`) at `xnPtr`, the largest squared norm `xnMax`, at
   * `limits` 2n float32 limits shared by all participants (n for the kernel's partial check, then
   * n for admission; the caller fills them with +∞), and each participant's screens in linear
   * memory (`screens`; kernels.ts, "Pair screens"). Any participant's limit for a point is at least
   * the point's final one (it saw a subset of the pairs), so each participant lowers the shared
   * limits with its own and filters with both: a plain store, as a stale or overwritten value is
   * still a valid bound. Each participant keeps, per point, the candidates within the screen's
   * bound, and the caller re-ranks their union exactly (`pairScreensMerge`).
   */
  screen?: { xnPtr: number; xnMax: number; plan: number; limits: number; screens: PairScreens };
}

/**
 * The screens in linear memory (kernels.ts, "Pair screens"): participant t's region at
 * `regions[t]`, `cap` candidates a point; `overflow[0]` set to 1 by a participant whose list
 * overflowed (the others then stop, and the caller scans without the screen).
 */
export interface PairScreens {
  regions: Uint32Array;
  cap: number;
  overflow: Int32Array;
}

/** One participant's lists: row i's `counts[i]` entries at i × k, nearest first. */
export interface PairLists {
  ids: Uint32Array;
  dists: Float32Array;
  counts: Int32Array;
}

interface PairsState { job: PairsTopKJob; arena: Arena; t: number; heaps: TopK[] }

export function pairsSetup(job: PairsTopKJob, participant: number, arena?: Arena): PairsState {
  const heaps: TopK[] = [];
  const a = arena ?? Arena.attach(job.memory, job.module);
  // The screened scan's screens are in linear memory, set up by the caller; the plain scan's heaps here.
  if (job.screen === undefined) for (let i = 0; i < job.nq; i++) heaps.push(new TopK(job.k));
  return { job, arena: a, t: participant, heaps };
}

/**
 * Units [u0, u1) of a screened pairs scan whose screens live in linear memory (`job.screen.screens`):
 * `screenBlock` over the upper triangle, each chunk's values offered by `pairScreensOffer` — no
 * JavaScript per pair. Of its 2B units (B = `scanUnits`), unit b < B is block b's own square (its
 * rows against its rows) and unit B + b the rest of block b's rows (the columns after the block):
 * the squares first, so that every point has a limit from its block before the long rows, where
 * a pair can only be cut when it is above both its points' limits (docs/kernels.md, "Pair screens":
 * a fifth fewer multiply-adds on MNIST).
 */
export function pairsScreenBlocksInMemory(s: PairsState, u0: number, u1: number): void {
  const { job } = s;
  const { code, dim, stride, rows, nq: n, k } = job;
  const { xnPtr, plan, limits, screens } = job.screen!;
  const { regions, cap, overflow } = screens!;
  const st = regions[s.t]!;
  const admPtr = limits + 4 * n;
  const kernel = s.arena.k;
  const out = job.scratch[s.t]!;
  const chunk = Math.max(1, Math.min(Math.floor(SCREEN_CHUNK_BYTES / stride), Math.floor(job.block / 4)));
  const blocks = scanUnits(job);
  for (let u = u0; u < u1; u++) {
    if (Atomics.load(overflow, 0) !== 0) return;
    const b = u < blocks ? u : u - blocks;
    const q0 = b * rows;
    const block = Math.min(rows, n - q0);
    const at = job.qPtr + q0 * stride;
    const from = u < blocks ? q0 : q0 + block;
    const to = u < blocks ? q0 + block : n;
    for (let c0 = from; c0 < to; c0 += chunk) {
      const nx = Math.min(chunk, to - c0);
      const cnt = Math.min(block, c0 + nx - 1 - q0);
      if (cnt <= 0) continue;
      kernel.screenBlock(code, at, cnt, stride, xnPtr + q0 * NORM_BYTES, job.qPtr + c0 * stride, nx, stride, xnPtr + c0 * NORM_BYTES, dim,
        plan, limits + q0 * 4, limits + c0 * 4, out);
      if (kernel.pairScreensOffer(out, cnt, nx, q0, c0, st, n, k, cap, admPtr, limits) !== 0) {
        Atomics.store(overflow, 0, 1);
        return;
      }
    }
  }
}

/**
 * The merge of a screened pairs scan (`pairScreensMerge`): points [u·MERGE_POINTS, …) per unit,
 * each participant with its own scratch (`tmp[t]`: parts × cap u32 and as many f32, then k f32).
 * Each point's answer depends only on the screens, so any split gives the same lists.
 */
export interface PairsMergeJob extends KernelJob {
  regionsAt: number;
  parts: number;
  n: number;
  k: number;
  cap: number;
  pts: number;
  outIdx: number;
  outDist: number;
  tmp: Uint32Array;
}

/** Points a merge unit covers. */
export const MERGE_POINTS = 128;

/** Units [u0, u1) of a pairs merge on participant t. */
export function pairsMergeUnits(kernel: BlockKernelWithMerge, job: PairsMergeJob, u0: number, u1: number, t: number): void {
  const { parts, n, k, cap } = job;
  const tmp = job.tmp[t]!;
  const kth = tmp + 8 * parts * cap;
  const p0 = u0 * MERGE_POINTS;
  const p1 = Math.min(n, u1 * MERGE_POINTS);
  kernel.pairScreensMerge(job.regionsAt, parts, n, k, cap, p0, p1, job.code, job.pts, job.stride, job.dim, job.outIdx, job.outDist, tmp, kth);
}

/** The kernel a merge calls. */
export interface BlockKernelWithMerge {
  pairScreensMerge(regions: number, parts: number, n: number, k: number, cap: number, p0: number, p1: number, metric: number, pts: number, stride: number,
    dim: number, outIdx: number, outDist: number, tmp: number, kth: number): void;
}

/** The pool task of a pairs merge: items are units of MERGE_POINTS points. */
export const pairsMergeTask = defineTask(import.meta.url, 'pairsMergeTask', {
  setup: (job: PairsMergeJob, participant: number) => setup(job, participant),
  run: (s: ScanState<PairsMergeJob>, start: number, end: number) => pairsMergeUnits(s.arena.k, s.job, start, end, s.t),
});

/** Bytes of points one screened pairs call compares a block of queries with (see `pairsScreenBlocksInMemory`). */
const SCREEN_CHUNK_BYTES = 256 * 1024;

/** Query blocks [b0, b1) of a pairs scan. */
export function pairsBlocks(s: PairsState, b0: number, b1: number): void {
  const { job, heaps } = s;
  const { code, dim, stride, rows, nq: n } = job;
  const kernel = s.arena.k;
  const out = job.scratch[s.t]!;
  for (let b = b0; b < b1; b++) {
    const q0 = b * rows;
    const cnt = Math.min(rows, n - q0);
    const nx = n - q0;
    kernel.distBlock(code, job.qPtr + q0 * stride, cnt, stride, job.qPtr + q0 * stride, nx, stride, dim, out);
    const f32 = s.arena.f32;
    const base = out >> 2;
    for (let i = 0; i < cnt; i++) {
      const row = q0 + i;
      const hi = heaps[row]!;
      const o = base + i * nx;
      for (let jj = i + 1; jj < nx; jj++) {
        const d = f32[o + jj]!;
        const j = q0 + jj;
        if (d <= hi.worst()) hi.push(j, d);
        const hj = heaps[j]!;
        if (d <= hj.worst()) hj.push(row, d);
      }
    }
  }
}

export function pairsFinish(s: PairsState): PairLists {
  const { k, nq: n } = s.job;
  const ids = new Uint32Array(n * k);
  const dists = new Float32Array(n * k);
  const counts = new Int32Array(n);
  for (let i = 0; i < n; i++) counts[i] = s.heaps[i]!.drainSorted(ids, dists, i * k);
  return { ids, dists, counts };
}

/** The k nearest of each row over the participants' lists: (distance, number) order, the same for any split. */
export function mergePairLists(lists: readonly PairLists[], n: number, k: number): { index: Int32Array; distances: Float32Array } {
  const index = new Int32Array(n * k).fill(-1);
  const distances = new Float32Array(n * k).fill(Infinity);
  const heap = new TopK(k);
  const ids = new Uint32Array(k);
  const dd = new Float32Array(k);
  for (let i = 0; i < n; i++) {
    heap.clear();
    for (const l of lists) for (let t = 0; t < l.counts[i]!; t++) heap.push(l.ids[i * k + t]!, l.dists[i * k + t]!);
    const got = heap.drainSorted(ids, dd);
    for (let t = 0; t < got; t++) { index[i * k + t] = ids[t]!; distances[i * k + t] = dd[t]!; }
  }
  return { index, distances };
}

/** The pool task of a pairs scan: items are query blocks (`scanUnits`). */
export const pairsTopKTask = defineTask(import.meta.url, 'pairsTopKTask', {
  setup: (job: PairsTopKJob, participant: number) => pairsSetup(job, participant),
  run: (s: PairsState, start: number, end: number) => (s.job.screen === undefined ? pairsBlocks(s, start, end) : pairsScreenBlocksInMemory(s, start, end)),
  finish: (s: PairsState): PairLists | undefined => (s.job.screen === undefined ? pairsFinish(s) : undefined),
});

interface ScanState<J> { job: J; arena: Arena; t: number }

function setup<J extends KernelJob>(job: J, participant: number): ScanState<J> {
  return { job, arena: Arena.attach(job.memory, job.module), t: participant };
}

/** The pool task of a top-k scan: items are query blocks (`scanUnits`). */
export const topKScanTask = defineTask(import.meta.url, 'topKScanTask', {
  setup: (job: TopKScanJob, participant: number) => setup(job, participant),
  run: (s: ScanState<TopKScanJob>, start: number, end: number) => topKScanBlocks(s.arena.k, s.arena.f32, s.job, start, end, s.t),
});

/** The pool task of a nearest-centre scan: items are query blocks (`scanUnits`). */
export const nearestCentreTask = defineTask(import.meta.url, 'nearestCentreTask', {
  setup: (job: NearestCentreJob, participant: number) => setup(job, participant),
  run: (s: ScanState<NearestCentreJob>, start: number, end: number) => nearestCentreBlocks(s.arena.k, s.arena.f32, s.job, start, end, s.t),
});
