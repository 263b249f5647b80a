/**
 * The k nearest neighbours of every selected record among the selected records, the record itself
 * left out (outliers, dedupe). Up to EXACT_LIMIT records: exact, all pairs on the SIMD kernels.
 * Above: through the collection's index (`queryBatch` in chunks, the selection's filter passed on),
 * keeping the hits that are in the selection; a row left with fewer than k such hits (a `sample`
 * cut, duplicates crowding the self out) is completed exactly against the whole selection.
 */
import type { Collection } from '../db/collection.js';
import type { Where } from '../db/where.js';
import { TopK } from '../vector/heap.js';
import { resolveThreads } from '../parallel/pool.js';
import { normalizeInPlace } from '../vector/normalize.js';
import { EXACT_LIMIT, type OnProgress, type Selection } from './common.js';
import { KernelPoints, type KernelCode } from './distances.js';

export interface Neighbours {
  k: number;
  /** Row i: the selection numbers of i's k nearest, nearest first (n × k). */
  index: Int32Array;
  /** The collection's distances (l2 squared, 1 − a·b, 1 − cos), n × k. */
  distances: Float32Array;
}

/** Queries per queryBatch call: progress granularity, and the ids of one chunk held at once. */
const CHUNK = 1024;
const BLOCK = 256;

function kernelCode(sel: Selection): KernelCode {
  return sel.metric === 'l2' ? 0 : 1;
}

/**
 * The selection's points in a kernel arena; cosine rows unit-normalised there (records keep the
 * vectors as given, only the index normalises), so 1 − a·b is the index's cosine distance.
 */
function kernelPoints(sel: Selection, outFloats: number, threads = 1): KernelPoints {
  const kp = new KernelPoints(sel.vectors, sel.n, sel.dim, { outFloats, threads });
  if (sel.metric === 'cosine') for (let i = 0; i < sel.n; i++) normalizeInPlace(kp.points, i * sel.dim, sel.dim);
  return kp;
}

/**
 * Exact k-NN of every selected record (n ≤ EXACT_LIMIT or a fallback); ties go to the smaller
 * number. Blocks of BLOCK records against all n on the SIMD kernels, on `threads` threads
 * (default: every core; the same answer for any count, docs/tasks.md "Multi-core exact scans").
 */
export function exactNeighbours(sel: Selection, k: number, onProgress?: OnProgress, threads?: number): Neighbours {
  const { n } = sel;
  const t = resolveThreads(threads);
  const kp = kernelPoints(sel, BLOCK * n, t);
  onProgress?.({ phase: 'neighbours', done: 0, total: n });
  const { index, distances } = kp.neighbours(kernelCode(sel), k, BLOCK, t); // copies: the arena can go back
  kp.release();
  onProgress?.({ phase: 'neighbours', done: n, total: n });
  return { k, index, distances };
}

/** k-NN of every selected record, through the index when the selection is large (see the file's comment). */
export async function selectionNeighbours(c: Collection, sel: Selection, k: number, where: Where | undefined, onProgress?: OnProgress,
  threads?: number): Promise<Neighbours> {
  const { n, dim } = sel;
  if (n <= EXACT_LIMIT) return exactNeighbours(sel, k, onProgress, threads);
  const number = new Map<string, number>();
  sel.ids.forEach((id, i) => number.set(id, i));
  const index = new Int32Array(n * k).fill(-1);
  const distances = new Float32Array(n * k).fill(Infinity);
  const short: number[] = [];
  for (let from = 0; from < n; from += CHUNK) {
    const cnt = Math.min(CHUNK, n - from);
    const queries = { data: sel.vectors.subarray(from * dim, (from + cnt) * dim), dim, count: cnt };
    const res = await c.queryBatch(queries, k + 1, where === undefined ? {} : { where });
    for (let i = 0; i < cnt; i++) {
      const row = from + i;
      const hits = res.ids[i]!;
      let got = 0;
      for (let t = 0; t < hits.length && got < k; t++) {
        const j = number.get(hits[t]!);
        if (j === undefined || j === row) continue;
        index[row * k + got] = j;
        distances[row * k + got] = res.distances[i * res.k + t]!;
        got++;
      }
      if (got < k) short.push(row);
    }
    onProgress?.({ phase: 'neighbours', done: from + cnt, total: n });
  }
  if (short.length > 0) {
    const kp = kernelPoints(sel, n);
    const code = kernelCode(sel);
    const heap = new TopK(k);
    const ids = new Uint32Array(k);
    const dd = new Float32Array(k);
    for (const row of short) {
      heap.clear();
      const d = kp.toPoint(code, row, 0, n);
      for (let j = 0; j < n; j++) if (j !== row) heap.push(j, d[j]!);
      heap.drainSorted(ids, dd);
      distances.set(dd, row * k);
      for (let t = 0; t < k; t++) index[row * k + t] = ids[t]!;
    }
  }
  return { k, index, distances };
}
