import { OmnivecError, describe } from '../../errors.js';
import { Arena } from '../../vector/arena.js';
import { checkBatch, checkDim, type VectorBatch } from '../../vector/batch.js';
import { parseMetric, type Metric } from '../../vector/metric.js';
import { normalizeInPlace } from '../../vector/normalize.js';
import { Random } from '../../vector/random.js';
import { intOption } from '../common.js';
import { FlatIndex } from '../flat/flat-index.js';

export interface KMeansOptions {
  metric: Metric;
  /** Lloyd iterations after the k-means++ seeding (0 keeps the seeds). Default 20. */
  iterations?: number;
  /** Seed of every random choice (subsample, seeding): the same seed gives the same centroids. Default 42. */
  seed?: number;
  /** Largest training set; a larger sample is subsampled to this many rows. Default 256 × k (as Faiss). */
  maxSamples?: number;
}

/** Samples per centroid kept by default: more adds training time, hardly quality (Faiss's choice). */
const SAMPLES_PER_CENTROID = 256;

/**
 * Seeded k-means: k-means++ seeding (D² sampling), then Lloyd iterations until the assignment no
 * longer changes or `iterations` ran. Returns the centroids, `k × dim` float32 row after row.
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
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) {
    throw new OmnivecError('invalid_argument', `k: expected an integer ≥ 1, got ${describe(k)}`);
  }
  if (data.count === 0) throw new OmnivecError('invalid_argument', 'sample: expected at least one vector, got an empty batch');
  if (k > data.count) {
    throw new OmnivecError('invalid_argument',
      `k: expected at most the number of sample vectors (${data.count}), got ${k}; give a larger sample or ask for fewer clusters`);
  }
  const iterations = intOption('iterations', options.iterations, 20, 0, 10_000);
  const seed = intOption('seed', options.seed, 42, 0, 0xffffffff);
  const maxSamples = intOption('maxSamples', options.maxSamples, Math.min(SAMPLES_PER_CENTROID * k, 2 ** 31 - 1), k);
  const rng = new Random(seed);
  const dim = data.dim;
  const stride = dim * 4;

  // Training points in an arena of their own (the seeding pass runs distRange over them), cosine
  // rows normalised. Every allocation happens before the views below are taken: no growth later.
  const rows = pickRows(data.count, maxSamples, rng);
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

  const centroids = seedPlusPlus(arena, ptsPtr, outPtr, n, dim, k, rng);
  const spherical = metric !== 'l2';
  if (spherical) for (let c = 0; c < k; c++) normalizeInPlace(centroids, c * dim, dim);

  const labels = new Int32Array(n).fill(-1);
  const centroidIds = new Uint32Array(k);
  for (let c = 0; c < k; c++) centroidIds[c] = c;
  for (let it = 0; it < iterations; it++) {
    // Re-created per iteration: the centroids all move, and adding k vectors is cheap next to n × k distances.
    const quantizer = new FlatIndex({ dim, metric });
    quantizer.add(centroidIds, { data: centroids, dim, count: k });
    const nearest = quantizer.searchBatch({ data: points, dim, count: n }, 1);
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const c = nearest.ids[i]!;
      if (c !== labels[i]) {
        labels[i] = c;
        changed++;
      }
    }
    if (changed === 0) break; // converged: the update would give the same centroids
    update(points, dim, labels, nearest.distances, centroids, k, spherical);
  }
  return centroids;
}

/** Row numbers of a seeded subsample of `maxSamples` rows out of `count` (ascending), or undefined to keep all. */
function pickRows(count: number, maxSamples: number, rng: Random): Uint32Array | undefined {
  if (count <= maxSamples) return undefined;
  const perm = new Uint32Array(count);
  for (let i = 0; i < count; i++) perm[i] = i;
  // Partial Fisher–Yates: the first maxSamples places end up a uniform sample without repeats.
  for (let i = 0; i < maxSamples; i++) {
    const j = i + rng.int(count - i);
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  return perm.slice(0, maxSamples).sort(); // ascending: copies read the source in order
}

/**
 * k-means++ (Arthur & Vassilvitskii 2007): the first centre uniformly, each next one with
 * probability proportional to its squared distance to the nearest centre chosen so far. Uses
 * squared L2 for every metric: D² weights must be non-negative (1 − a·b is not, for `ip`), and on
 * normalised points (cosine) squared L2 is twice the cosine distance anyway.
 */
function seedPlusPlus(arena: Arena, ptsPtr: number, outPtr: number, n: number, dim: number, k: number, rng: Random): Float32Array {
  const stride = dim * 4;
  const centroids = new Float32Array(k * dim);
  const minD = new Float64Array(n).fill(Infinity);
  const chosen = new Uint8Array(n);
  const out = outPtr >> 2;
  let pick = rng.int(n);
  for (let c = 0; ; c++) {
    chosen[pick] = 1;
    centroids.set(arena.f32.subarray((ptsPtr >> 2) + pick * dim, (ptsPtr >> 2) + (pick + 1) * dim), c * dim);
    if (c === k - 1) break;
    arena.k.distRange(0, ptsPtr + pick * stride, ptsPtr, stride, n, dim, outPtr);
    const f32 = arena.f32;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const d = f32[out + i]!;
      if (d < minD[i]!) minD[i] = d;
      total += minD[i]!;
    }
    if (total > 0) {
      const r = rng.next() * total;
      let acc = 0;
      let last = -1;
      pick = -1;
      for (let i = 0; i < n; i++) {
        if (minD[i]! <= 0) continue; // a point on a chosen centre is never chosen again
        acc += minD[i]!;
        last = i;
        if (r < acc) {
          pick = i;
          break;
        }
      }
      if (pick < 0) pick = last; // r fell past the sum by rounding
    } else {
      // Every point sits on a chosen centre (duplicates): take the next point not chosen yet.
      pick = rng.int(n);
      while (chosen[pick] === 1) pick = (pick + 1) % n;
    }
  }
  return centroids;
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
