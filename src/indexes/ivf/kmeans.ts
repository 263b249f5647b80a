import { OmnivecError } from '../../errors.js';
import { Arena } from '../../vector/arena.js';
import { checkBatch, checkDim, type VectorBatch } from '../../vector/batch.js';
import { parseMetric, type Metric } from '../../vector/metric.js';
import { normalizeInPlace } from '../../vector/normalize.js';
import { Random } from '../../vector/random.js';
import { checkInt } from '../../checks.js';
import { FlatIndex, parallelThresholds } from '../flat/flat-index.js';
import { parallelFor, resolveThreads } from '../../parallel/pool.js';
import { rangeDistTask, type RangeDistJob } from './ivf-jobs.js';

export interface KMeansOptions {
  metric: Metric;
  /** Most Lloyd iterations after the seeding (0 keeps the seeds). Default 20. */
  iterations?: number;
  /**
   * Early stop: Lloyd iterations end once an iteration lowers the objective (Σ of each point's
   * distance to its centroid) by less than this fraction, or moves fewer than this fraction of the
   * points to another cluster. 0 runs until no point moves or `iterations` ran. Default
   * KMEANS_TOLERANCE (measured: docs/indexes/ivf.md, "Training").
   */
  tolerance?: number;
  /**
   * Seeding: 'kmeans++' (D² sampling, one pass over the sample per centroid) or 'random' (k distinct
   * sample rows, Faiss's choice: no pass at all). Default 'kmeans++'.
   */
  init?: KMeansInit;
  /** Receives, after each assignment step, the iteration, the objective and the points that moved (measurement). */
  onIteration?: (iteration: number, objective: number, moved: number) => void;
  /** Seed of every random choice (subsample, seeding): the same seed gives the same centroids. Default 42. */
  seed?: number;
  /** Largest training set; a larger sample is subsampled to this many rows. Default 256 × k (as Faiss). */
  maxSamples?: number;
  /**
   * Threads of each assignment step (the flat batch search of the points against the centroids)
   * and of each k-means++ seeding pass (one point against all). The result does not depend on
   * it: every distance is computed by one thread, exactly as with one. Default: every core.
   */
  threads?: number;
}

export type KMeansInit = 'kmeans++' | 'random';

/** Samples per centroid kept by default: more adds training time, hardly quality (Faiss's choice). */
export const SAMPLES_PER_CENTROID = 256;
/** Default early-stop tolerance of the Lloyd iterations (relative objective gain and fraction of points moved). */
export const KMEANS_TOLERANCE = 1e-3;

/**
 * Seeded k-means: k-means++ seeding (D² sampling) or k random sample rows (`init`), then Lloyd
 * iterations until an iteration gains less than `tolerance` (relative objective, or fraction of
 * points moved), the assignment no longer changes, or `iterations` ran. Returns the centroids,
 * `k × dim` float32 row after row.
 *
 * - The assignment step is a FlatIndex over the current centroids searched with every point as a
 *   query (`searchBatch(points, 1)`): the same blocked SIMD kernel and the same tie-breaking (smaller
 *   centroid number) as the coarse quantizer that will route vectors later, so training and routing agree.
 * - `ip` and `cosine` run spherical k-means: centroids are normalised after each update, so
 *   "nearest centroid" means largest inner product with a direction (Faiss does the same for IVF
 *   with inner product). For cosine the points are normalised first.
 * - An empty cluster is re-seeded with the point farthest from its centroid, taken from a cluster
 *   that keeps at least one point, so every centroid ends up with at least one training point.
 */
export function kmeans(data: VectorBatch, k: number, options: KMeansOptions): Float32Array {
  checkBatch(data, data?.dim, 'sample');
  checkDim(data.dim);
  const metric = parseMetric(options?.metric);
  checkInt(k, 'k', { min: 1 });
  if (data.count === 0) throw new OmnivecError('invalid_argument', 'sample: expected at least one vector, got an empty batch');
  if (k > data.count) {
    throw new OmnivecError('invalid_argument',
      `k: expected at most the number of sample vectors (${data.count}), got ${k}; give a larger sample or ask for fewer clusters`);
  }
  const iterations = checkInt(options.iterations, 'iterations', { min: 0, max: 10_000, fallback: 20 });
  const tolerance = options.tolerance ?? KMEANS_TOLERANCE;
  if (typeof tolerance !== 'number' || !(tolerance >= 0 && tolerance < 1)) {
    throw new OmnivecError('invalid_argument', `tolerance: expected a number in [0, 1), got ${String(tolerance)}`);
  }
  const init = options.init ?? 'kmeans++';
  if (init !== 'kmeans++' && init !== 'random') {
    throw new OmnivecError('invalid_argument', `init: expected 'kmeans++' or 'random', got ${String(init)}`);
  }
  const seed = checkInt(options.seed, 'seed', { min: 0, max: 0xffffffff, fallback: 42 });
  const threads = resolveThreads(options.threads);
  const maxSamples = checkInt(options.maxSamples, 'maxSamples', { min: k, max: 2 ** 31 - 1, fallback: Math.min(SAMPLES_PER_CENTROID * k, 2 ** 31 - 1) });
  const rng = new Random(seed);
  const dim = data.dim;
  const stride = dim * 4;

  // Training points in an arena of their own (the seeding pass runs distRange over them), cosine
  // rows normalised. Every allocation happens before the views below are taken: no growth later.
  // A seeded subsample (ascending row numbers), or undefined to keep every row.
  const rows = data.count <= maxSamples ? undefined : rng.sample(data.count, maxSamples);
  const n = rows === undefined ? data.count : rows.length;
  const arena = new Arena(n * stride + n * 4 + 4096);
  const ptsPtr = arena.alloc(n * stride);
  const outPtr = arena.alloc(n * 4);
  const base = ptsPtr >> 2;
  const f32 = arena.f32;
  if (rows === undefined) f32.set(data.data, base);
  else for (let i = 0; i < n; i++) f32.set(data.data.subarray(rows[i]! * dim, (rows[i]! + 1) * dim), base + i * dim);
  if (metric === 'cosine') for (let i = 0; i < n; i++) normalizeInPlace(f32, base + i * dim, dim);
  const points = f32.subarray(base, base + n * dim);

  const out = outPtr >> 2;
  // Each seeding pass (one point against all) is shared out when it is long enough to pay for
  // waking the workers; the distances are the same whoever computes them.
  const seedJob: RangeDistJob | undefined = threads > 1 && n * dim >= parallelThresholds.minPass
    ? { memory: arena.memory, module: Arena.kernels(), code: 0, q: 0, base: ptsPtr, stride, dim, out: outPtr }
    : undefined;
  const seeds = init === 'random' ? rng.sample(n, k) : seedPlusPlus(n, k, rng, (row) => {
    if (seedJob !== undefined) {
      seedJob.q = ptsPtr + row * stride;
      parallelFor(threads, n, rangeDistTask, seedJob, { grain: Math.ceil(n / (threads * 4)) });
    } else {
      arena.k.distRange(0, ptsPtr + row * stride, ptsPtr, stride, n, dim, outPtr);
    }
    return arena.f32.subarray(out, out + n);
  });
  const centroids = new Float32Array(k * dim);
  for (let c = 0; c < k; c++) centroids.set(points.subarray(seeds[c]! * dim, (seeds[c]! + 1) * dim), c * dim);
  const spherical = metric !== 'l2';
  if (spherical) for (let c = 0; c < k; c++) normalizeInPlace(centroids, c * dim, dim);

  const labels = new Int32Array(n).fill(-1);
  const centroidIds = new Uint32Array(k);
  for (let c = 0; c < k; c++) centroidIds[c] = c;
  let previous = Infinity;
  for (let it = 0; it < iterations; it++) {
    // Re-created per iteration: the centroids all move, and adding k vectors is cheap next to n × k distances.
    const quantizer = new FlatIndex({ dim, metric });
    quantizer.add(centroidIds, { data: centroids, dim, count: k });
    const nearest = quantizer.searchBatch({ data: points, dim, count: n }, 1, { threads });
    let changed = 0;
    let objective = 0; // float64 sum: independent of the thread count, as every distance is
    for (let i = 0; i < n; i++) {
      const c = nearest.ids[i]!;
      objective += nearest.distances[i]!;
      if (c !== labels[i]) {
        labels[i] = c;
        changed++;
      }
    }
    options.onIteration?.(it, objective, changed);
    if (changed === 0) break; // converged: the update would give the same centroids
    // Early stop after the first update (the first assignment has no previous objective). The
    // update still runs: these assignments are newer than the centroids.
    const gain = (previous - objective) / Math.abs(previous);
    const stop = tolerance > 0 && it > 0 && (changed < tolerance * n || gain < tolerance);
    update(points, dim, labels, nearest.distances, centroids, k, spherical);
    if (stop) break;
    previous = objective;
  }
  return centroids;
}

/**
 * k-means++ seeding (Arthur & Vassilvitskii 2007), the library's one: the first centre uniformly,
 * each next one by D² sampling — with probability proportional to its squared distance to the
 * nearest centre chosen so far. With `trials` > 1 it is the greedy variant (scikit-learn's
 * `_kmeans_plusplus`, which uses 2 + ⌊ln k⌋): each step draws that many candidates and keeps the
 * one that lowers the potential (Σ of those squared distances) most. Returns the k chosen rows.
 *
 * - `distancesTo(row)`: the squared L2 distance of every one of the n points to point `row` (a
 *   view, read before the next call). Squared L2 for every metric: D² weights must be
 *   non-negative (1 − a·b is not, for `ip`), and on normalised points (cosine) squared L2 is
 *   twice the cosine distance anyway.
 * - Cost: `trials` passes of n distances per centre. IVF training uses 1 (plain k-means++: with
 *   nList in the thousands, greedy would multiply a seeding of k × 256k distances by ~9); the
 *   clustering task, with small k, uses the greedy default.
 * - A point on a chosen centre has weight 0 and is never drawn; when every point sits on a chosen
 *   centre (duplicates) the next not yet chosen point after a uniform draw is taken, so the k rows
 *   are distinct (k ≤ n).
 */
export function seedPlusPlus(n: number, k: number, rng: Random, distancesTo: (row: number) => ArrayLike<number>, trials = 1): Uint32Array {
  const rows = new Uint32Array(k);
  const chosen = new Uint8Array(n);
  const closest = new Float64Array(n);
  const cumsum = new Float64Array(n);
  const trial = trials > 1 ? new Float64Array(n) : closest;
  const bestNew = trials > 1 ? new Float64Array(n) : closest;
  let pick = rng.int(n);
  rows[0] = pick;
  chosen[pick] = 1;
  if (k === 1) return rows;
  const d0 = distancesTo(pick);
  for (let i = 0; i < n; i++) closest[i] = d0[i]!;
  for (let c = 1; c < k; c++) {
    let acc = 0;
    for (let i = 0; i < n; i++) cumsum[i] = acc += closest[i]!;
    let bestPot = Infinity;
    for (let t = 0; t < trials; t++) {
      let cand: number;
      if (acc > 0) {
        const r = rng.next() * acc;
        if (r < acc) {
          // First point whose cumulative weight exceeds r (never one of weight 0).
          let lo = 0;
          let hi = n - 1;
          while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (cumsum[mid]! > r) hi = mid; else lo = mid + 1;
          }
          cand = lo;
        } else {
          // r rounded up to the sum: the last point of positive weight.
          cand = n - 1;
          while (closest[cand]! <= 0) cand--;
        }
      } else {
        cand = rng.int(n);
        while (chosen[cand] === 1) cand = (cand + 1) % n;
      }
      if (trials === 1) {
        pick = cand;
        if (c < k - 1) {
          const d = distancesTo(cand);
          for (let i = 0; i < n; i++) if (d[i]! < closest[i]!) closest[i] = d[i]!;
        }
        break;
      }
      const d = distancesTo(cand);
      let pot = 0;
      for (let i = 0; i < n; i++) {
        const v = Math.min(closest[i]!, d[i]!);
        trial[i] = v;
        pot += v;
      }
      if (pot < bestPot) {
        bestPot = pot;
        pick = cand;
        bestNew.set(trial);
      }
    }
    if (trials > 1) closest.set(bestNew);
    rows[c] = pick;
    chosen[pick] = 1;
  }
  return rows;
}

/**
 * Lloyd's update: each centroid becomes the mean of its points (normalised when spherical), summed
 * in float64. Empty clusters first take, one each, the points farthest from their centroid among
 * clusters that keep at least one point.
 */
function update(points: Float32Array, dim: number, labels: Int32Array, dist: Float32Array,
  centroids: Float32Array, k: number, spherical: boolean): void {
  const n = labels.length;
  const sums = new Float64Array(k * dim);
  const counts = new Uint32Array(k);
  for (let i = 0; i < n; i++) counts[labels[i]!]!++;
  fillEmptyClusters(labels, dist, counts, k);
  for (let i = 0; i < n; i++) {
    const o = labels[i]! * dim;
    const r = i * dim;
    for (let j = 0; j < dim; j++) sums[o + j] += points[r + j]!;
  }
  for (let c = 0; c < k; c++) {
    const inv = 1 / counts[c]!;
    for (let j = 0; j < dim; j++) centroids[c * dim + j] = sums[c * dim + j]! * inv;
    if (spherical) normalizeInPlace(centroids, c * dim, dim);
  }
}

/**
 * Gives every empty cluster the point farthest from its centre, taken from clusters that keep a
 * point (`dist[i]`: point i's distance to its centre). Updates `labels` and `counts`; returns the
 * moved points (in the order of the clusters they now start), empty when no cluster was empty.
 * Shared by IVF training and the clustering task (src/tasks/kmeans.ts).
 */
export function fillEmptyClusters(labels: Int32Array | Uint32Array, dist: ArrayLike<number>, counts: Uint32Array, k: number): number[] {
  const moved: number[] = [];
  let empty = 0;
  for (let c = 0; c < k; c++) if (counts[c] === 0) empty++;
  if (empty === 0) return moved;
  const n = labels.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => dist[b]! - dist[a]! || a - b);
  let p = 0;
  for (let c = 0; c < k; c++) {
    if (counts[c] !== 0) continue;
    // Exists while some cluster is empty: k ≤ n points spread over fewer than k clusters.
    while (counts[labels[order[p]!]!]! <= 1) p++;
    const i = order[p++]!;
    counts[labels[i]!]!--;
    labels[i] = c;
    counts[c] = 1;
    moved.push(i);
  }
  return moved;
}
