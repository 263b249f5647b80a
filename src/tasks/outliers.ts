/**
 * Outliers of a collection (docs/tasks.md): the records farthest from their neighbours.
 *
 * - `knn`: the distance to the k-th nearest neighbour (Ramaswamy et al. 2000), in display units:
 *   Euclidean (√ of the l2 figure) for l2, the cosine distance for cosine, 1 − a·b for ip.
 * - `lof`: the local outlier factor (Breunig, Kriegel, Ng & Sander 2000). With d(p, o) the display
 *   distance and k-distance(o) the distance from o to its k-th neighbour:
 *   reach(p, o) = max(k-distance(o), d(p, o)); lrd(p) = 1 / mean over p's k neighbours of reach(p, o);
 *   LOF(p) = mean over p's neighbours o of lrd(o) / lrd(p). About 1 inside a cluster of even
 *   density, above 1 where p is less dense than its neighbours. The neighbourhood is exactly k
 *   records (ties at the k-distance cut by number, as scikit-learn does, not widened as in the
 *   paper), and 1e-10 is added to the mean reachability so exact duplicates stay finite.
 *
 * Neighbours come from src/tasks/neighbours.ts (exact up to EXACT_LIMIT, else the index).
 */
import { describe, invalidArgument } from '../errors.js';
import type { Collection } from '../db/collection.js';
import type { Where } from '../db/where.js';
import type { Metric } from '../vector/metric.js';
import { checkInt, checkK, checkNumber } from '../checks.js';
import { checkThreads } from '../parallel/pool.js';
import { checkKAgainst, selectRecords, type OnProgress } from './common.js';
import { selectionNeighbours, type Neighbours } from './neighbours.js';

export type OutlierMethod = 'knn' | 'lof';

export interface OutliersOptions {
  method?: OutlierMethod;
  /** Neighbours per record. Default 10. */
  k?: number;
  /** Most outliers returned, most outlying first. Default 20 (all above `threshold` when it is given). */
  top?: number;
  /** Only records whose score is above this. */
  threshold?: number;
  where?: Where;
  sample?: number;
  /** Threads of the exact scans (1 to 1,024; default every core): the same answer for any count (docs/tasks.md). */
  threads?: number;
  onProgress?: OnProgress;
}

export interface Outlier {
  id: string;
  score: number;
}

/** The default number of outliers returned when no threshold is given. */
export const DEFAULT_TOP = 20;

/** A distance of the collection's metric in display units (see the file's comment). */
export function displayDistance(metric: Metric, d: number): number {
  return metric === 'l2' ? Math.sqrt(Math.max(0, d)) : metric === 'cosine' ? Math.max(0, d) : d;
}

/** Scores of every record from its neighbours (n numbers; higher = more outlying). */
export function outlierScores(nb: Neighbours, n: number, metric: Metric, method: OutlierMethod): Float64Array {
  const { k, index, distances } = nb;
  const kdist = new Float64Array(n);
  for (let i = 0; i < n; i++) kdist[i] = displayDistance(metric, distances[i * k + k - 1]!);
  if (method === 'knn') return kdist;
  const lrd = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let t = 0; t < k; t++) {
      const o = index[i * k + t]!;
      // ip distances can be negative (a·b > 1): reachability is clipped at 0.
      s += Math.max(0, kdist[o]!, displayDistance(metric, distances[i * k + t]!));
    }
    lrd[i] = 1 / (s / k + 1e-10);
  }
  const lof = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let t = 0; t < k; t++) s += lrd[index[i * k + t]!]!;
    lof[i] = s / k / lrd[i]!;
  }
  return lof;
}

/** The most outlying records of a collection (or of its selection), most outlying first; ties by id. */
export async function outliers(c: Collection, options: OutliersOptions = {}): Promise<Outlier[]> {
  if (options === null || typeof options !== 'object') throw invalidArgument(`options: expected an object, got ${describe(options)}`);
  const method = options.method ?? 'knn';
  if (method !== 'knn' && method !== 'lof') throw invalidArgument(`method: expected "knn" or "lof", got ${describe(method)}`);
  if (options.k !== undefined) checkK(options.k, 'k');
  if (options.threads !== undefined) checkThreads(options.threads);
  const top = options.top === undefined ? undefined : checkInt(options.top, 'top', { min: 1 });
  const threshold = options.threshold;
  if (threshold !== undefined) checkNumber(threshold, 'threshold');
  const sel = await selectRecords(c, { where: options.where, sample: options.sample });
  const k = checkKAgainst(options.k ?? Math.min(10, Math.max(1, sel.n - 1)), sel.n);
  const nb = await selectionNeighbours(c, sel, k, options.where, options.onProgress, options.threads);
  const scores = outlierScores(nb, sel.n, sel.metric, method);
  const order: number[] = [];
  for (let i = 0; i < sel.n; i++) if (threshold === undefined || scores[i]! > threshold) order.push(i);
  order.sort((a, b) => scores[b]! - scores[a]! || (sel.ids[a]! < sel.ids[b]! ? -1 : 1));
  const most = top ?? (threshold === undefined ? DEFAULT_TOP : order.length);
  return order.slice(0, most).map((i) => ({ id: sel.ids[i]!, score: scores[i]! }));
}
