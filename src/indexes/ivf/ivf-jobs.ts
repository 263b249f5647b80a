/**
 * The worker side of the IVF index's threaded batch search (docs/indexes/threads.md, "Flat and IVF on several threads"): a
 * pure function over the index's shared WebAssembly memory, run by pool workers and by the calling
 * thread alike. The caller lays out the queries, a snapshot of the list table (pointers, sizes and
 * an id mirror) and per-thread scratch beforehand, and reads the answers afterwards.
 *
 * Determinism: each query is answered by one thread with the same kernel calls, in the same
 * order, as `#answer` in ivf-index.ts (probed lists in probe order, blocks of `block` vectors, then
 * the unprobed lists in list order when the probes gave fewer hits than the heap holds), so its
 * hits are bit for bit those of one thread whichever thread answers it.
 */
import { Arena } from '../../vector/arena.js';
import { TopK } from '../../vector/heap.js';
import { defineTask, type KernelJob } from '../../parallel/pool.js';

/** The kernel the job calls, bound to the index's (shared) memory. */
export interface RangeKernel {
  distRange(metric: number, q: number, ptr: number, stride: number, n: number, dim: number, out: number): void;
}

/** Queries per unit of work handed out to a thread (small: a query costs tens of µs and up). */
export const IVF_UNIT = 8;

/**
 * One threaded IVF batch search (one round of it): plain numbers and typed arrays over
 * SharedArrayBuffers, so it crosses to workers with postMessage without copying.
 */
export interface IvfSearchJob extends KernelJob {
  nList: number;
  /** Per list: block pointer in the memory, live vectors, first entry in `ids`. */
  listPtr: Uint32Array;
  listSize: Uint32Array;
  listStart: Uint32Array;
  /** Every list's ids, list after list (the id mirror). */
  ids: Uint32Array;
  /** An allow-list as a mask over the mirror's entries (1 = allowed), or undefined when unfiltered. */
  allowed: Uint8Array | undefined;
  /** The round's queries, contiguous at `qPtr` (normalised for cosine), `nq` of them. */
  qPtr: number;
  nq: number;
  /** nProbe lists per query (query q's at q × nProbe), or undefined to scan every list. */
  probes: Uint32Array | undefined;
  nProbe: number;
  /** Hits kept per query (min(k, index size)) and the row length of the result (k). */
  cap: number;
  k: number;
  /** Per-participant scratch for `block` distances: `scratch[t]` for participant t. */
  scratch: Uint32Array;
  outIds: Uint32Array;
  outDists: Float32Array;
  outCounts: Uint32Array;
}

/** Answers queries [q0, q1) of `job` as participant `t` (its scratch), writing their rows of the answer. */
export function ivfSearchQueries(kernel: RangeKernel, f32: Float32Array, job: IvfSearchJob, q0: number, q1: number, t: number,
  heap: TopK = new TopK(job.cap), probed: Uint8Array = new Uint8Array(job.nList)): void {
  for (let q = q0; q < q1; q++) {
    const qPtr = job.qPtr + q * job.stride;
    const probes = job.probes;
    if (probes === undefined) {
      for (let l = 0; l < job.nList; l++) scanList(kernel, f32, job, t, qPtr, l, heap);
    } else {
      const p0 = q * job.nProbe;
      for (let i = 0; i < job.nProbe; i++) scanList(kernel, f32, job, t, qPtr, probes[p0 + i]!, heap);
      if (heap.size < heap.capacity) {
        // Too few hits: finish with the lists not probed (as the single-thread search does).
        for (let i = 0; i < job.nProbe; i++) probed[probes[p0 + i]!] = 1;
        for (let l = 0; l < job.nList; l++) if (probed[l] === 0) scanList(kernel, f32, job, t, qPtr, l, heap);
        for (let i = 0; i < job.nProbe; i++) probed[probes[p0 + i]!] = 0;
      }
    }
    job.outCounts[q] = heap.drainSorted(job.outIds, job.outDists, q * job.k);
  }
}

function scanList(kernel: RangeKernel, f32: Float32Array, job: IvfSearchJob, t: number, qPtr: number, l: number, heap: TopK): void {
  const n = job.listSize[l]!;
  const ptr = job.listPtr[l]!;
  const first = job.listStart[l]!;
  const { code, block, stride, dim, ids, allowed } = job;
  const outPtr = job.scratch[t]!;
  const out = outPtr >> 2;
  for (let x0 = 0; x0 < n; x0 += block) {
    const nx = Math.min(block, n - x0);
    kernel.distRange(code, qPtr, ptr + x0 * stride, stride, nx, dim, outPtr);
    let worst = heap.worst();
    for (let j = 0; j < nx; j++) {
      const d = f32[out + j]!;
      if (d < worst) {
        if (allowed !== undefined && allowed[first + x0 + j] === 0) continue;
        heap.push(ids[first + x0 + j]!, d);
        worst = heap.worst();
      }
    }
  }
}

interface IvfState { job: IvfSearchJob; arena: Arena; t: number; heap: TopK; probed: Uint8Array }

/** The pool task: items are the round's queries, claimed IVF_UNIT at a time. */
export const ivfSearchTask = defineTask(import.meta.url, 'ivfSearchTask', {
  setup: (job: IvfSearchJob, participant: number): IvfState => ({
    job, arena: Arena.attach(job.memory, job.module), t: participant, heap: new TopK(job.cap), probed: new Uint8Array(job.nList),
  }),
  run: (s: IvfState, start: number, end: number) => ivfSearchQueries(s.arena.k, s.arena.f32, s.job, start, end, s.t, s.heap, s.probed),
});

/**
 * Distances from one point to a range of consecutive points (`distRange`), for the k-means++
 * seeding of kmeans.ts: each point's distance is one kernel evaluation whoever computes it, so
 * cutting the range anywhere gives the single-thread distances bit for bit.
 */
export interface RangeDistJob {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  code: number;
  /** The point compared with all (a pointer), the first of the n points, bytes between points. */
  q: number;
  base: number;
  stride: number;
  dim: number;
  /** Where point i's distance goes: f32 at out + 4i. */
  out: number;
}

interface RangeDistState { job: RangeDistJob; arena: Arena }

/** The pool task: items are the points. */
export const rangeDistTask = defineTask(import.meta.url, 'rangeDistTask', {
  setup: (job: RangeDistJob): RangeDistState => ({ job, arena: Arena.attach(job.memory, job.module) }),
  run: ({ job, arena }: RangeDistState, start: number, end: number) =>
    arena.k.distRange(job.code, job.q, job.base + start * job.stride, job.stride, end - start, job.dim, job.out + start * 4),
});
