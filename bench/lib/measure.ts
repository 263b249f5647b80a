/**
 * How the ANN benchmark measures: wall-clock timing with performance.now(), best of a few
 * repetitions, CPU time beside wall time (to see whether a call used more than one thread),
 * resident-memory deltas after forced garbage collection, exact ground truth and recall@10.
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FlatIndex } from '../../src/indexes/flat/flat-index.js';
import type { BenchDataset } from './datasets.js';

export const K = 10;

/** Start of the whole run (the parent passes it to its workers), for the timestamps of `log`. */
const T0 = Number(process.env.OMNIVEC_BENCH_T0 ?? Date.now());
export function benchStart(): number {
  return T0;
}

/** A progress line on stderr, stamped with the seconds since the run started. */
export function log(message: string): void {
  const s = ((Date.now() - T0) / 1000).toFixed(0).padStart(5);
  process.stderr.write(`[${s} s] ${message}\n`);
}

export interface TimingConfig {
  /** Each repetition repeats whole passes over the query set until at least this long. */
  minSeconds: number;
  /** Repetitions per point; the best (highest queries/second) is kept. */
  reps: number;
  /** After a repetition longer than this, stop at two repetitions. */
  longRepSeconds: number;
}

export interface Rate {
  /** Items (queries) per second of the best repetition. */
  perSecond: number;
  /** Process CPU seconds ÷ wall seconds in the best repetition (≈ 1 on one thread). */
  cpuPerWall: number;
  reps: number;
}

/** Results are folded into this so no timed call can be optimised away. */
let sink = 0;
export function sinkValue(): number {
  return sink;
}

/**
 * Times `pass` (which handles `items` queries and returns any number derived from its results):
 * `cfg.reps` repetitions, each running whole passes until `cfg.minSeconds` have elapsed; returns
 * the best repetition's rate. The caller runs one untimed pass first (the warm-up, which is also
 * where recall is taken).
 */
export function measureRate(items: number, pass: () => number, cfg: TimingConfig): Rate {
  let best = 0;
  let bestCpu = 0;
  let reps = 0;
  for (let r = 0; r < cfg.reps; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let done = 0;
    let elapsed = 0;
    do {
      sink = (sink + pass()) | 0;
      done += items;
      elapsed = (performance.now() - t0) / 1000;
    } while (elapsed < cfg.minSeconds);
    const cpu = process.cpuUsage(c0);
    reps++;
    const rate = done / elapsed;
    if (rate > best) {
      best = rate;
      bestCpu = (cpu.user + cpu.system) / 1e6 / elapsed;
    }
    if (elapsed > cfg.longRepSeconds && r >= 1) break;
  }
  return { perSecond: best, cpuPerWall: bestCpu, reps };
}

/** Runs `fn` once and returns its value with wall seconds and CPU ÷ wall. */
export function timed<T>(fn: () => T): { value: T; seconds: number; cpuPerWall: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = fn();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  return { value, seconds, cpuPerWall: seconds > 0 ? (cpu.user + cpu.system) / 1e6 / seconds : 0 };
}

let gcFn: (() => void) | undefined;
/** A full garbage collection. */
export function forceGc(): void {
  if (gcFn === undefined) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
}

const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Collects garbage and yields to the event loop twice. The yield matters: Node runs the N-API
 * finalisers that free hnswlib-node's and usearch's native indexes only from the event loop, so a
 * dropped peer index keeps its memory until the benchmark yields.
 */
export async function settle(): Promise<void> {
  forceGc();
  await tick(20);
  forceGc();
  await tick(20);
}

/**
 * Resident set size once dropped indexes are freed, less V8's young generation: the new space's
 * semi-spaces grow and shrink by megabytes with the allocation rate, independently of any index,
 * which would otherwise swamp the growth of a small index. Everything an index keeps (native
 * memory, WebAssembly memory, array buffers, old-space JS objects) stays counted.
 */
export async function settledRss(): Promise<number> {
  await settle();
  const young = getHeapSpaceStatistics()
    .filter((s) => s.space_name === 'new_space' || s.space_name === 'new_large_object_space')
    .reduce((sum, s) => sum + s.physical_space_size, 0);
  return process.memoryUsage.rss() - young;
}

// ---------------------------------------------------------------------------------------------
// Ground truth and recall

export interface GroundTruth {
  /** K ids per query, nearest first. */
  ids: Uint32Array;
  /** Exact (float64) distance of each query's K-th true neighbour. */
  kth: Float64Array;
  source: string;
}

/** Squared L2 distance of two rows, accumulated in float64 (the tie tolerance of recall). */
export function dist64(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) {
    const d = a[ao + j]! - b[bo + j]!;
    s += d * d;
  }
  return s;
}

/**
 * Exact top-K of every query: from the dataset's ground-truth file when it has one, otherwise by
 * brute force with omnivec's FlatIndex.searchBatch (an exhaustive scan; the K-th distance is then
 * recomputed in float64 for the tie tolerance of `recallAt`).
 */
export function groundTruth(ds: BenchDataset): GroundTruth {
  const nq = ds.queries.count;
  const ids = new Uint32Array(nq * K);
  let source: string;
  if (ds.fileGroundTruth !== undefined) {
    const { ids: file, k } = ds.fileGroundTruth;
    for (let q = 0; q < nq; q++) for (let j = 0; j < K; j++) ids[q * K + j] = file[q * k + j]!;
    source = 'ground-truth file';
  } else {
    const flat = new FlatIndex({ dim: ds.dim, metric: 'l2' });
    flat.add(Uint32Array.from({ length: ds.base.count }, (_, i) => i), ds.base);
    const r = flat.searchBatch(ds.queries, K);
    for (let q = 0; q < nq; q++) {
      if (r.counts[q] !== K) throw new Error(`ground truth: query ${q} got ${r.counts[q]} hits, expected ${K}`);
    }
    ids.set(r.ids);
    source = 'omnivec FlatIndex.searchBatch (exact brute force)';
  }
  const kth = new Float64Array(nq);
  for (let q = 0; q < nq; q++) {
    let m = 0;
    for (let j = 0; j < K; j++) m = Math.max(m, dist64(ds.queries.data, q * ds.dim, ds.base.data, ids[q * K + j]! * ds.dim, ds.dim));
    kth[q] = m;
  }
  return { ids, kth, source };
}

/**
 * recall@10 of one query: returned ids (the first K) that are true top-K neighbours, ÷ K. A returned
 * id outside the true list still counts when its exact distance ties the K-th true distance
 * (within a relative 1e-6), as in ann-benchmarks: with integer data such as MNIST, ties at the
 * 10th place are common and either id is a correct answer.
 */
export function recallAt(ds: BenchDataset, gt: GroundTruth, q: number, got: ArrayLike<number>): number {
  let hits = 0;
  const n = Math.min(K, got.length);
  const limit = gt.kth[q]! * (1 + 1e-6) + 1e-9;
  for (let j = 0; j < n; j++) {
    const id = got[j]!;
    let found = false;
    for (let t = 0; t < K; t++) {
      if (gt.ids[q * K + t] === id) {
        found = true;
        break;
      }
    }
    if (!found && id >= 0 && id < ds.base.count && dist64(ds.queries.data, q * ds.dim, ds.base.data, id * ds.dim, ds.dim) <= limit) found = true;
    if (found) hits++;
  }
  return hits / K;
}

/** Mean recall@10 over all queries, `idsOf(q)` giving the ids an engine returned for query q. */
export function meanRecall(ds: BenchDataset, gt: GroundTruth, idsOf: (q: number) => ArrayLike<number>): number {
  let s = 0;
  for (let q = 0; q < ds.queries.count; q++) s += recallAt(ds, gt, q, idsOf(q));
  return Math.round((s / ds.queries.count) * 1e6) / 1e6; // drops the float noise of the sum
}

/** Sequential single-query rate (queries/s): whole passes over `nq` queries until ≥ 1 s, best of 2 (bench:db, both stores). */
export async function queryRate(nq: number, pass: () => Promise<void> | void): Promise<number> {
  let best = 0;
  for (let rep = 0; rep < 2; rep++) {
    let passes = 0;
    const s = performance.now();
    do { await pass(); passes++; } while (performance.now() - s < 1000);
    best = Math.max(best, (passes * nq) / ((performance.now() - s) / 1000));
  }
  return best;
}
