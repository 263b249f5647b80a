/**
 * k-means for the cluster task (docs/tasks.md, "Definitions"): the pure numeric core over a
 * VectorBatch, seeded, on the WebAssembly kernels (src/tasks/distances.ts).
 *
 * - Seeding: greedy k-means++ (Arthur & Vassilvitskii 2007; the greedy variant of scikit-learn's
 *   `_kmeans_plusplus`): at each step 2 + ⌊ln k⌋ candidates are drawn by D² sampling and the one
 *   that lowers the potential (the sum of squared distances to the nearest centre) most is kept.
 * - Lloyd: assignment, mean update (float64 sums), until no assignment changes, the squared centre
 *   shift is at most `tol` × the mean per-component variance of the data (scikit-learn's rule), or
 *   `maxIter` updates ran. An empty cluster takes the point farthest from its centre.
 * - Mini-batch (Sculley 2010, "Web-scale k-means clustering", Alg. 1): batches of `batchSize` drawn
 *   with replacement, assignments cached for the batch, then each point pulls its centre with
 *   learning rate 1 / (that centre's count so far). Stops after `maxIter` epochs' worth of batches or
 *   when the smoothed batch inertia has not improved for 10 batches (scikit-learn's rule).
 * - `nInit` runs from successive seeds of one generator; the lowest inertia wins.
 * - `spherical` (cosine): the points are unit-normalised and centroids re-normalised after every
 *   update (Dhillon & Modha 2001); assignment by the largest cosine; inertia = Σ (1 − cos).
 *   Otherwise inertia = Σ squared Euclidean distances.
 */
import { fillEmptyClusters, seedPlusPlus } from '../indexes/ivf/kmeans.js';
import { OmnivecError, describe, invalidArgument } from '../errors.js';
import type { VectorBatch } from '../vector/batch.js';
import { normalizeInPlace } from '../vector/normalize.js';
import { checkInt, checkNumber } from '../checks.js';
import { Random } from '../vector/random.js';
import { KernelPoints, type KernelCode } from './distances.js';
import { resolveThreads } from '../parallel/pool.js';

export type KMeansMethod = 'kmeans' | 'minibatch';

export interface FitKMeansOptions {
  k: number;
  method?: KMeansMethod;
  /** Cluster directions (cosine): unit points, re-normalised centroids. Default false (Euclidean). */
  spherical?: boolean;
  /** Restarts from different seedings; the lowest inertia is kept. Default 3. */
  nInit?: number;
  /** Lloyd: most updates (default 300). Mini-batch: most epochs of batches (default 100). */
  maxIter?: number;
  /** Lloyd stops when the squared centre shift is ≤ tol × the data's mean per-component variance. Default 1e-4. */
  tol?: number;
  /** Mini-batch size. Default 1024. */
  batchSize?: number;
  /** `random`: k distinct random points as the first centres (a baseline for tests). Default `k-means++`. */
  init?: 'k-means++' | 'random';
  seed?: number;
  /**
   * Threads of the assignment scans (every point against every centre), from 1 to 1,024; default:
   * every core (`os.availableParallelism()`). The fit is the same for every count.
   */
  threads?: number;
}

export interface KMeansFit {
  k: number;
  /** Cluster number of each point (0 … k − 1). */
  labels: Int32Array;
  /** k × dim, row-major (unit rows when spherical). */
  centroids: Float32Array;
  sizes: Uint32Array;
  /** Σ squared Euclidean distance to the own centroid, or Σ (1 − cos) when spherical. */
  inertia: number;
  /** Lloyd updates (or mini-batches) of the kept run. */
  iterations: number;
}

/** Rows per distBlock call: the block of points stays in L1/L2 while all centres pass over it. */
const BLOCK = 256;
/** Mini-batch: stop after this many batches without a better smoothed inertia (scikit-learn's default). */
const MAX_NO_IMPROVEMENT = 10;

/** k-means of a batch of points (see the file's comment). */
export function fitKMeans(batch: VectorBatch, options: FitKMeansOptions): KMeansFit {
  if (batch === null || typeof batch !== 'object' || !(batch.data instanceof Float32Array)) {
    throw invalidArgument(`points: expected a VectorBatch { data, dim, count }, got ${describe(batch)}`);
  }
  if (options === null || typeof options !== 'object') throw invalidArgument(`options: expected an object, got ${describe(options)}`);
  const { dim, count: n } = batch;
  if (n === 0) throw new OmnivecError('empty_index', 'k-means: no points to cluster');
  const k = checkInt(options.k, 'k', { min: 1, fallback: 0 });
  if (k > n) throw invalidArgument(`k: ${k} is larger than the number of points (${n}); ask for at most ${n} clusters`);
  const method = options.method ?? 'kmeans';
  if (method !== 'kmeans' && method !== 'minibatch') throw invalidArgument(`method: expected "kmeans" or "minibatch", got ${describe(method)}`);
  const nInit = checkInt(options.nInit, 'nInit', { min: 1, max: 1000, fallback: 3 });
  const maxIter = checkInt(options.maxIter, 'maxIter', { min: 1, max: 100_000, fallback: method === 'kmeans' ? 300 : 100 });
  const batchSize = checkInt(options.batchSize, 'batchSize', { min: 1, max: 1 << 20, fallback: 1024 });
  const seed = checkInt(options.seed, 'seed', { min: 0, max: 0xffffffff, fallback: 42 });
  const tol = checkNumber(options.tol, 'tol', { min: 0, fallback: 1e-4 });
  const init = options.init ?? 'k-means++';
  if (init !== 'k-means++' && init !== 'random') throw invalidArgument(`init: expected "k-means++" or "random", got ${describe(init)}`);
  const spherical = options.spherical === true;
  const threads = resolveThreads(options.threads);

  const b = Math.min(batchSize, n);
  const kp = new KernelPoints(batch.data, n, dim, { centres: k, gather: b, outFloats: Math.max(n, BLOCK * k, b * k), threads });
  const scan: Scan = { threads, label: new Int32Array(new SharedArrayBuffer(4 * n)), dist: new Float32Array(new SharedArrayBuffer(4 * n)) };
  if (spherical) for (let i = 0; i < n; i++) normalizeInPlace(kp.points, i * dim, dim);
  const tolAbs = tol * meanVariance(kp.points, n, dim);
  const rng = new Random(seed);
  const code: KernelCode = spherical ? 1 : 0;

  let best: KMeansFit | undefined;
  for (let run = 0; run < nInit; run++) {
    if (init === 'random') randomSeeds(kp, k, rng);
    else plusPlus(kp, k, rng);
    if (spherical) for (let c = 0; c < k; c++) normalizeInPlace(kp.centres, c * dim, dim);
    const fit = method === 'kmeans' ? lloyd(kp, k, code, spherical, maxIter, tolAbs, scan) : miniBatch(kp, k, code, spherical, maxIter, b, rng, scan);
    if (best === undefined || fit.inertia < best.inertia) best = fit;
  }
  return best!;
}

/** Mean over components of the per-component variance (the scale `tol` is relative to). */
function meanVariance(p: Float32Array, n: number, dim: number): number {
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += p[i * dim + j]!;
  for (let j = 0; j < dim; j++) mean[j]! /= n;
  let s = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) {
      const d = p[i * dim + j]! - mean[j]!;
      s += d * d;
    }
  }
  return s / (n * dim);
}

function randomSeeds(kp: KernelPoints, k: number, rng: Random): void {
  const { n, dim } = kp;
  const taken = new Set<number>();
  for (let c = 0; c < k; c++) {
    let i = rng.int(n);
    while (taken.has(i)) i = (i + 1) % n;
    taken.add(i);
    kp.centres.set(kp.points.subarray(i * dim, (i + 1) * dim), c * dim);
  }
}

/**
 * Greedy k-means++ seeding into kp.centres: the library's one seeding (indexes/ivf/kmeans.ts
 * `seedPlusPlus`) with 2 + ⌊ln k⌋ candidates a step, scikit-learn's choice; squared L2, also on
 * unit points, where it is 2 × the cosine distance.
 */
function plusPlus(kp: KernelPoints, k: number, rng: Random): void {
  const { n, dim } = kp;
  const rows = seedPlusPlus(n, k, rng, (row) => kp.toPoint(0, row, 0, n), 2 + Math.floor(Math.log(k)));
  for (let c = 0; c < k; c++) kp.centres.set(kp.points.subarray(rows[c]! * dim, (rows[c]! + 1) * dim), c * dim);
}

/** The assignment scans' thread count and answers (SharedArrayBuffer views the workers write). */
interface Scan {
  threads: number;
  label: Int32Array;
  dist: Float32Array;
}

/**
 * Nearest centre of every point (ties: the smaller centre number); `dist` gets the distances.
 * Returns how many labels changed; with `moved`, their point numbers and former labels go there.
 * The scan runs in blocks of BLOCK points on `scan.threads` threads (the same answer for any count).
 */
function assign(kp: KernelPoints, k: number, code: KernelCode, labels: Int32Array, dist: Float32Array, scan: Scan,
  moved?: { points: Int32Array; from: Int32Array }): number {
  const n = kp.n;
  kp.nearestCentres(code, k, BLOCK, scan.threads, scan.label, scan.dist);
  let changed = 0;
  for (let p = 0; p < n; p++) {
    const bj = scan.label[p]!;
    if (labels[p] !== bj) {
      if (moved !== undefined) {
        moved.points[changed] = p;
        moved.from[changed] = labels[p]!;
      }
      labels[p] = bj;
      changed++;
    }
  }
  dist.set(scan.dist);
  return changed;
}

/** Gives every empty cluster the point farthest from its centre (from clusters keeping a point); true if any moved. */
function fillEmpty(kp: KernelPoints, k: number, labels: Int32Array, dist: Float32Array, counts: Uint32Array): boolean {
  const { dim } = kp;
  const moved = fillEmptyClusters(labels, dist, counts, k);
  for (const i of moved) {
    dist[i] = 0;
    kp.centres.set(kp.points.subarray(i * dim, (i + 1) * dim), labels[i]! * dim);
  }
  return moved.length > 0;
}

function countLabels(labels: Int32Array, k: number): Uint32Array {
  const counts = new Uint32Array(k);
  for (let i = 0; i < labels.length; i++) counts[labels[i]!]!++;
  return counts;
}

/** Per-cluster sums of the points (float64), from scratch. */
function clusterSums(kp: KernelPoints, k: number, labels: Int32Array): Float64Array {
  const { n, dim, points } = kp;
  const sums = new Float64Array(k * dim);
  for (let i = 0; i < n; i++) {
    const o = labels[i]! * dim;
    const r = i * dim;
    for (let j = 0; j < dim; j++) sums[o + j] += points[r + j]!;
  }
  return sums;
}

/** Centroids ← sums / counts (normalised when spherical); returns the squared shift summed over centroids. */
function centresFromSums(kp: KernelPoints, k: number, sums: Float64Array, counts: Uint32Array, spherical: boolean): number {
  const dim = kp.dim;
  const cen = kp.centres;
  const next = new Float32Array(dim);
  let shift = 0;
  for (let c = 0; c < k; c++) {
    if (counts[c] === 0) continue;
    const inv = 1 / counts[c]!;
    for (let j = 0; j < dim; j++) next[j] = sums[c * dim + j]! * inv;
    if (spherical) normalizeInPlace(next);
    for (let j = 0; j < dim; j++) {
      const dd = next[j]! - cen[c * dim + j]!;
      shift += dd * dd;
    }
    cen.set(next, c * dim);
  }
  return shift;
}

function result(kp: KernelPoints, k: number, labels: Int32Array, dist: Float32Array, iterations: number): KMeansFit {
  let inertia = 0;
  for (let i = 0; i < dist.length; i++) inertia += dist[i]!;
  return { k, labels, centroids: kp.centres.slice(0, k * kp.dim), sizes: countLabels(labels, k), inertia, iterations };
}

/**
 * Lloyd's iterations. The cluster sums are kept up to date from the points that changed cluster
 * (after the first passes few do), so an update costs (moved points) × dim, not n × dim.
 */
function lloyd(kp: KernelPoints, k: number, code: KernelCode, spherical: boolean, maxIter: number, tolAbs: number, scan: Scan): KMeansFit {
  const { n, dim, points } = kp;
  const labels = new Int32Array(n).fill(-1);
  const dist = new Float32Array(n);
  const moved = { points: new Int32Array(n), from: new Int32Array(n) };
  assign(kp, k, code, labels, dist, scan);
  let counts = countLabels(labels, k);
  let sums = clusterSums(kp, k, labels);
  let it = 0;
  while (it < maxIter) {
    it++;
    if (fillEmpty(kp, k, labels, dist, counts)) sums = clusterSums(kp, k, labels);
    const shift = centresFromSums(kp, k, sums, counts, spherical);
    const changed = assign(kp, k, code, labels, dist, scan, moved);
    for (let m = 0; m < changed; m++) {
      const p = moved.points[m]!;
      const a = moved.from[m]! * dim;
      const b = labels[p]! * dim;
      const r = p * dim;
      for (let j = 0; j < dim; j++) {
        const v = points[r + j]!;
        sums[a + j] -= v;
        sums[b + j] += v;
      }
      counts[moved.from[m]!]!--;
      counts[labels[p]!]!++;
    }
    if (changed === 0 || shift <= tolAbs) break;
  }
  // Labels always belong to the final centroids (the last step was an assignment); an empty
  // cluster left by it takes a point (its centre moves onto the point).
  for (let guard = 0; guard < k; guard++) {
    counts = countLabels(labels, k);
    if (!fillEmpty(kp, k, labels, dist, counts)) break;
    assign(kp, k, code, labels, dist, scan);
  }
  return result(kp, k, labels, dist, it);
}

function miniBatch(kp: KernelPoints, k: number, code: KernelCode, spherical: boolean, maxIter: number, b: number, rng: Random, scan: Scan): KMeansFit {
  const { n, dim, points } = kp;
  const cen = kp.centres;
  const counts = new Float64Array(k);
  const rows = new Uint32Array(b);
  const lab = new Int32Array(b);
  const touched = new Uint8Array(k);
  const steps = Math.max(1, Math.ceil((maxIter * n) / b));
  // Smoothing of the batch inertia: about the last two epochs' worth of batches (scikit-learn's choice).
  const alpha = Math.min(1, (2 * b) / (n + 1));
  let ewa = NaN;
  let bestEwa = Infinity;
  let noImprovement = 0;
  let step = 0;
  while (step < steps) {
    step++;
    for (let i = 0; i < b; i++) rows[i] = rng.int(n);
    kp.gather(rows, b);
    const d = kp.gatheredToCentres(code, b, k);
    let batchInertia = 0;
    for (let i = 0; i < b; i++) {
      let bj = 0;
      let bd = d[i * k]!;
      for (let j = 1; j < k; j++) {
        const v = d[i * k + j]!;
        if (v < bd) { bd = v; bj = j; }
      }
      lab[i] = bj;
      batchInertia += Math.max(0, bd);
    }
    touched.fill(0);
    for (let i = 0; i < b; i++) {
      const c = lab[i]!;
      touched[c] = 1;
      const eta = 1 / ++counts[c]!;
      const r = rows[i]! * dim;
      const o = c * dim;
      for (let j = 0; j < dim; j++) cen[o + j] = cen[o + j]! + eta * (points[r + j]! - cen[o + j]!);
    }
    if (spherical) for (let c = 0; c < k; c++) if (touched[c] === 1) normalizeInPlace(cen, c * dim, dim);
    const mean = batchInertia / b;
    ewa = Number.isNaN(ewa) ? mean : ewa * (1 - alpha) + mean * alpha;
    if (ewa < bestEwa) { bestEwa = ewa; noImprovement = 0; } else if (++noImprovement >= MAX_NO_IMPROVEMENT) break;
  }
  const labels = new Int32Array(n).fill(-1);
  const dist = new Float32Array(n);
  assign(kp, k, code, labels, dist, scan);
  for (let guard = 0; guard < k; guard++) {
    if (!fillEmpty(kp, k, labels, dist, countLabels(labels, k))) break;
    assign(kp, k, code, labels, dist, scan);
  }
  return result(kp, k, labels, dist, step);
}

/**
 * Mean silhouette (Rousseeuw 1987) of a labelling: s(i) = (b − a) / max(a, b), with a the mean
 * distance to the other points of i's cluster and b the smallest mean distance to another cluster;
 * a point alone in its cluster scores 0 (scikit-learn's convention). Computed on a seeded sample of
 * at most `sample` points (all pairs within the sample). `distance`: Euclidean (√ of squared L2) or
 * cosine (1 − cos of the unit-normalised points). NaN when the sample has fewer than 2 clusters.
 */
export function silhouetteScore(batch: VectorBatch, labels: ArrayLike<number>, options: { distance?: 'euclidean' | 'cosine'; sample?: number; seed?: number } = {}): number {
  const { dim, count: n } = batch;
  if (labels.length !== n) throw invalidArgument(`labels: expected ${n} labels (one per point), got ${labels.length}`);
  const sample = checkInt(options.sample, 'sample', { min: 2, fallback: 2000 });
  const rng = new Random(checkInt(options.seed, 'seed', { min: 0, max: 0xffffffff, fallback: 42 }));
  const cosine = options.distance === 'cosine';
  const rows = rng.sample(n, sample);
  const m = rows.length;
  const data = new Float32Array(m * dim);
  for (let i = 0; i < m; i++) data.set(batch.data.subarray(rows[i]! * dim, (rows[i]! + 1) * dim), i * dim);
  if (cosine) for (let i = 0; i < m; i++) normalizeInPlace(data, i * dim, dim);
  // Compact cluster numbers within the sample.
  const ids = new Map<number, number>();
  const lab = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    const l = labels[rows[i]!]!;
    let c = ids.get(l);
    if (c === undefined) { c = ids.size; ids.set(l, c); }
    lab[i] = c;
  }
  const k = ids.size;
  if (k < 2) return NaN;
  const size = new Uint32Array(k);
  for (let i = 0; i < m; i++) size[lab[i]!]!++;
  // Row i's summed distance to each cluster: m × k in float64.
  const sums = new Float64Array(m * k);
  const kp = new KernelPoints(data, m, dim, { outFloats: BLOCK * m });
  const code: KernelCode = cosine ? 1 : 0;
  for (let from = 0; from < m; from += BLOCK) {
    const cnt = Math.min(BLOCK, m - from);
    const d = kp.pairs(code, from, cnt, 0, m);
    for (let i = 0; i < cnt; i++) {
      const o = (from + i) * k;
      for (let j = 0; j < m; j++) {
        if (j === from + i) continue;
        const v = Math.max(0, d[i * m + j]!);
        sums[o + lab[j]!] += cosine ? v : Math.sqrt(v);
      }
    }
  }
  let total = 0;
  for (let i = 0; i < m; i++) {
    const own = lab[i]!;
    if (size[own] === 1) continue;
    const a = sums[i * k + own]! / (size[own]! - 1);
    let bb = Infinity;
    for (let c = 0; c < k; c++) if (c !== own) bb = Math.min(bb, sums[i * k + c]! / size[c]!);
    const den = Math.max(a, bb);
    total += den > 0 ? (bb - a) / den : 0;
  }
  return total / m;
}
