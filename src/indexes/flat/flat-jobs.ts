/**
 * The worker side of the flat index's threaded batch search (docs/indexes/threads.md, "Flat and IVF on several threads"):
 * pure functions over an index's shared WebAssembly memory, run by pool workers and by the calling
 * thread alike. Nothing here allocates in the arena or touches index state: the caller lays out
 * the queries, the id table and per-thread scratch beforehand, and reads the answers afterwards.
 *
 * Determinism: work is cut into the same query blocks (QUERY_BLOCK queries from the start of the
 * batch) and record blocks as the single-thread loop in flat-index.ts, and each block runs the same
 * kernel calls with the same arguments in the same order, so every query's distances — and therefore
 * its heap, ids and order — are bit for bit those of one thread, whichever thread runs the block.
 */
import { Arena } from '../../vector/arena.js';
import { TopK } from '../../vector/heap.js';
import { defineTask, type KernelJob } from '../../parallel/pool.js';
import { NORM_BYTES, Screen, f32Up, rerank, screenSlack, type ListKernel } from './screen.js';

/** Queries handled together by the blocked batch kernel (flat-index.ts uses the same value). */
export const QUERY_BLOCK = 64;

/** The kernel the jobs call, bound to the index's (shared) memory. */
export interface BlockKernel extends ListKernel {
  distBlock(metric: number, qs: number, nq: number, qStride: number, xs: number, nx: number, xStride: number, dim: number, out: number): void;
  screenBlock(metric: number, qs: number, nq: number, qStride: number, qn: number, xs: number, nx: number, xStride: number, xn: number,
    dim: number, plan: number, qlim: number, xlim: number, out: number): void;
  blockCandidates(vals: number, cnt: number, nx: number, lims: number, dst: number): number;
}

/**
 * One threaded flat batch search (one round of it): plain numbers and typed arrays over
 * SharedArrayBuffers, so it crosses to workers with postMessage without copying.
 */
export interface FlatSearchJob extends KernelJob {
  /** Stored vectors: `n` rows at `vecPtr`. */
  vecPtr: number;
  n: number;
  /** Slot → id of the stored vectors (at least n entries). */
  ids: Uint32Array;
  /** An allow-list as a mask over slots (1 = allowed), or undefined when the search is unfiltered. */
  allowed: Uint8Array | undefined;
  /** The round's queries, contiguous at `qPtr` (normalised for cosine), `nq` of them. */
  qPtr: number;
  nq: number;
  /** Hits kept per query (min(k, n)) and the row length of the result (k). */
  cap: number;
  k: number;
  /** Per-participant scratch (`scratchBytes(block)`): `scratch[t]` for participant t. */
  scratch: Uint32Array;
  /** Answers of this round: query q's row at q × k; `counts[q]` hits. */
  outIds: Uint32Array;
  outDists: Float32Array;
  outCounts: Uint32Array;
  /**
   * Screened scan (screen.ts; float vectors only): the norm records (`sqNorms` of the plan at `plan`: screen.ts `screenPlan`, the natural order below 64 components) of the
   * round's queries at `qnPtr` and of the stored vectors at `xnPtr`, the largest squared norm of
   * those `xnMax`. Undefined: the plain `distBlock` scan.
   */
  screen?: { qnPtr: number; xnPtr: number; xnMax: number; plan: number; inMemory?: QueryScreens };
}

/**
 * The screens of a screened search in linear memory (kernels.ts `queryScreensOffer` /
 * `queryScreensRerank`): participant t's pair-screen region of QUERY_BLOCK points at `regions[t]`
 * (`cap` candidates a query) and its re-rank scratch and answers at `rerank[t]`
 * (`rerankBytes(job.cap, cap)`); the slot → id table at `table`; the allow-list mask at `allowed`.
 */
export interface QueryScreens {
  regions: Uint32Array;
  rerank: Uint32Array;
  cap: number;
  table: number;
  /** The allow-list mask copied into linear memory (a byte a slot), or 0 when the search is unfiltered. */
  allowed: number;
}

/** Bytes of a participant's re-rank scratch and answers for `keep` hits and `cap` candidates a query. */
export function rerankBytes(keep: number, cap: number): number {
  return 8 * cap + QUERY_BLOCK * (8 * keep + 4);
}

/** Query blocks of a job: the units its work is split into. */
export function flatUnits(job: FlatSearchJob): number {
  return Math.ceil(job.nq / QUERY_BLOCK);
}

/**
 * Answers the queries of query blocks [b0, b1) of `job` on thread `t` (its scratch), writing their
 * rows of the answer. `f32` is a view over the whole memory, current (taken after any growth).
 */
export function flatSearchBlocks(kernel: BlockKernel, f32: Float32Array, job: FlatSearchJob, b0: number, b1: number, t: number): void {
  if (job.screen !== undefined) {
    if (job.screen.inMemory !== undefined) screenedSearchBlocksInMemory(kernel as BlockKernel & QueryScreenKernel, f32, job, b0, b1, t);
    else screenedSearchBlocks(kernel, f32, new Uint32Array(f32.buffer), job, b0, b1, t);
    return;
  }
  const { code, dim, stride, block, vecPtr, n, ids: table, k, allowed } = job;
  const outPtr = job.scratch[t]!;
  const heaps: TopK[] = [];
  for (let i = 0; i < QUERY_BLOCK; i++) heaps.push(new TopK(job.cap));
  for (let b = b0; b < b1; b++) {
    const q0 = b * QUERY_BLOCK;
    const nq = Math.min(QUERY_BLOCK, job.nq - q0);
    const qs = job.qPtr + q0 * stride;
    for (let x0 = 0; x0 < n; x0 += block) {
      const nx = Math.min(block, n - x0);
      kernel.distBlock(code, qs, nq, stride, vecPtr + x0 * stride, nx, stride, dim, outPtr);
      for (let qi = 0; qi < nq; qi++) {
        const heap = heaps[qi]!;
        const row = (outPtr >> 2) + qi * nx;
        let worst = heap.worst();
        for (let j = 0; j < nx; j++) {
          const d = f32[row + j]!;
          if (d < worst) {
            if (allowed !== undefined && allowed[x0 + j] === 0) continue;
            heap.push(table[x0 + j]!, d);
            worst = heap.worst();
          }
        }
      }
    }
    for (let qi = 0; qi < nq; qi++) {
      job.outCounts[q0 + qi] = heaps[qi]!.drainSorted(job.outIds, job.outDists, (q0 + qi) * k);
    }
  }
}

const screens: Screen[] = [];

/**
 * `flatSearchBlocks` screened (screen.ts): each query block against every record block with
 * `screenBlock`, the values within each query's admission limit picked out by `blockCandidates`
 * (a few rows at a time, so the limits it reads are recent) and offered to the query's screen in
 * scan order, then the candidates re-ranked with `distList` and offered to the query's heap in
 * scan order under the plain scan's rule (`d < worst`): the same answers, bit for bit. `f32` and
 * `u32` view the whole memory (nothing here grows it).
 */
export function screenedSearchBlocks(kernel: BlockKernel, f32: Float32Array, u32: Uint32Array, job: FlatSearchJob,
  b0: number, b1: number, t: number): void {
  const { code, dim, stride, block, vecPtr, n, ids: table, k, allowed } = job;
  const { qnPtr, xnPtr, xnMax, plan } = job.screen!;
  const outPtr = job.scratch[t]!;
  // Scratch: QUERY_BLOCK × block values, then the prune limits (`screenBlock`), the admission
  // limits (`blockCandidates`), and CANDIDATE_ROWS × block candidates (3 words each).
  const lim32 = (outPtr >> 2) + QUERY_BLOCK * block;
  const adm32 = lim32 + QUERY_BLOCK;
  const candPtr = (adm32 + QUERY_BLOCK) << 2;
  const room = (QUERY_BLOCK * block) >> 1;
  while (screens.length < QUERY_BLOCK) screens.push(new Screen());
  const heap = new TopK(job.cap);
  for (let b = b0; b < b1; b++) {
    const q0 = b * QUERY_BLOCK;
    const nq = Math.min(QUERY_BLOCK, job.nq - q0);
    const qs = job.qPtr + q0 * stride;
    for (let qi = 0; qi < nq; qi++) {
      const s = screens[qi]!;
      s.reset(job.cap, screenSlack(dim, f32[(qnPtr + (q0 + qi) * NORM_BYTES) >> 2]!, xnMax));
      f32[lim32 + qi] = s.pruneLimit();
      f32[adm32 + qi] = f32Up(s.limit);
    }
    for (let x0 = 0; x0 < n; x0 += block) {
      const nx = Math.min(block, n - x0);
      kernel.screenBlock(code, qs, nq, stride, qnPtr + q0 * NORM_BYTES, vecPtr + x0 * stride, nx, stride, xnPtr + x0 * NORM_BYTES, dim, plan,
        lim32 << 2, 0, outPtr);
      for (let i0 = 0; i0 < nq; i0 += CANDIDATE_ROWS) {
        const m = kernel.blockCandidates(outPtr + i0 * nx * 4, Math.min(CANDIDATE_ROWS, nq - i0), nx, (adm32 + i0) << 2, candPtr);
        for (let c = 0, p = candPtr >> 2; c < m; c++, p += 3) {
          const qi = i0 + u32[p]!;
          const slot = x0 + u32[p + 1]!;
          const d = f32[p + 2]!;
          const s = screens[qi]!;
          if (d > s.limit) continue;
          if (allowed !== undefined && allowed[slot] === 0) continue;
          const before = s.limit;
          s.add(slot, d);
          if (s.limit !== before) {
            f32[lim32 + qi] = s.pruneLimit();
            f32[adm32 + qi] = f32Up(s.limit);
          }
        }
      }
    }
    for (let qi = 0; qi < nq; qi++) {
      heap.clear();
      rerank(screens[qi]!, kernel, f32, u32, code, qs + qi * stride, vecPtr, stride, dim, outPtr, room, heap, table);
      job.outCounts[q0 + qi] = heap.drainSorted(job.outIds, job.outDists, (q0 + qi) * k);
    }
  }
}

/** The kernels of the in-memory screens (kernels.ts). */
export interface QueryScreenKernel {
  pairScreensReset(st: number, n: number, k: number): void;
  queryScreensOffer(vals: number, nq: number, nx: number, x0: number, st: number, nQ: number, k: number, cap: number, adm: number, prune: number,
    allowed: number): number;
  queryScreensRerank(st: number, nQ: number, nq: number, k: number, cap: number, metric: number, qs: number, qStride: number, base: number, stride: number,
    dim: number, table: number, keep: number, outIds: number, outDists: number, outCounts: number, tmp: number): void;
}

/**
 * `screenedSearchBlocks` with the screens in linear memory (`job.screen.inMemory`): per query block,
 * `screenBlock` and `queryScreensOffer` over the record blocks, then `queryScreensRerank` — no
 * JavaScript per value or candidate, and the same answers (the same rules, in the same order). A
 * query block whose lists overflow (values tied within the slack) is redone by `screenedSearchBlocks`.
 */
export function screenedSearchBlocksInMemory(kernel: BlockKernel & QueryScreenKernel, f32: Float32Array, job: FlatSearchJob,
  b0: number, b1: number, t: number): void {
  const { code, dim, stride, block, vecPtr, n, k } = job;
  const { qnPtr, xnPtr, xnMax, plan } = job.screen!;
  const mem = job.screen!.inMemory!;
  const st = mem.regions[t]!;
  const cap = mem.cap;
  const keep = job.cap;
  const outPtr = job.scratch[t]!;
  const lim32 = (outPtr >> 2) + QUERY_BLOCK * block;
  const adm32 = lim32 + QUERY_BLOCK;
  const tmp = mem.rerank[t]!;
  const oIds = tmp + 8 * cap;
  const oDists = oIds + 4 * QUERY_BLOCK * keep;
  const oCounts = oDists + 4 * QUERY_BLOCK * keep;
  const f64 = new Float64Array(f32.buffer);
  const u32 = new Uint32Array(f32.buffer);
  for (let b = b0; b < b1; b++) {
    const q0 = b * QUERY_BLOCK;
    const nq = Math.min(QUERY_BLOCK, job.nq - q0);
    const qs = job.qPtr + q0 * stride;
    kernel.pairScreensReset(st, QUERY_BLOCK, keep);
    for (let qi = 0; qi < nq; qi++) f64[(st + 16 * QUERY_BLOCK) / 8 + qi] = screenSlack(dim, f32[(qnPtr + (q0 + qi) * NORM_BYTES) >> 2]!, xnMax);
    f32.fill(Infinity, lim32, adm32 + QUERY_BLOCK);
    let overflow = false;
    for (let x0 = 0; x0 < n && !overflow; x0 += block) {
      const nx = Math.min(block, n - x0);
      kernel.screenBlock(code, qs, nq, stride, qnPtr + q0 * NORM_BYTES, vecPtr + x0 * stride, nx, stride, xnPtr + x0 * NORM_BYTES, dim, plan,
        lim32 << 2, 0, outPtr);
      overflow = kernel.queryScreensOffer(outPtr, nq, nx, x0, st, QUERY_BLOCK, keep, cap, adm32 << 2, lim32 << 2, mem.allowed) !== 0;
    }
    if (overflow) {
      screenedSearchBlocks(kernel, f32, u32, job, b, b + 1, t);
      continue;
    }
    kernel.queryScreensRerank(st, QUERY_BLOCK, nq, keep, cap, code, qs, stride, vecPtr, stride, dim, mem.table, keep, oIds, oDists, oCounts, tmp);
    for (let qi = 0; qi < nq; qi++) {
      const got = u32[(oCounts >> 2) + qi]!;
      job.outCounts[q0 + qi] = got;
      const from = (oIds >> 2) + qi * keep;
      job.outIds.set(u32.subarray(from, from + got), (q0 + qi) * k);
      const fromD = (oDists >> 2) + qi * keep;
      job.outDists.set(f32.subarray(fromD, fromD + got), (q0 + qi) * k);
    }
  }
}

/** Rows of a screened block `blockCandidates` picks from at once (fewer: fresher limits, more calls). */
const CANDIDATE_ROWS = 8;

/** Bytes of a participant's scratch for record blocks of `block`: the values, two limits a query, the candidates. */
export function scratchBytes(block: number): number {
  return (QUERY_BLOCK * block + 2 * QUERY_BLOCK + 3 * CANDIDATE_ROWS * block) * 4;
}

interface FlatState { job: FlatSearchJob; arena: Arena; t: number }

/** The pool task: items are query blocks of the round (`flatUnits`), grain 1. */
export const flatSearchTask = defineTask(import.meta.url, 'flatSearchTask', {
  setup: (job: FlatSearchJob, participant: number): FlatState => ({ job, arena: Arena.attach(job.memory, job.module), t: participant }),
  run: (s: FlatState, start: number, end: number) => flatSearchBlocks(s.arena.k, s.arena.f32, s.job, start, end, s.t),
});
