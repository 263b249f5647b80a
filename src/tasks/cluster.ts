/**
 * The cluster task (docs/tasks.md): k-means over a collection's selected records, k given or chosen
 * by the silhouette, the cluster numbers optionally written into a metadata field.
 *
 * Geometry: cosine collections cluster their unit vectors (spherical k-means, silhouette on cosine
 * distances); l2 and ip collections cluster in Euclidean space (silhouette on Euclidean distances) —
 * 1 − a·b is no distance to a mean, and ip collections usually hold near-unit vectors anyway.
 */
import { jsonable } from '../vector/json.js';
import { OmnivecError, describe, invalidArgument } from '../errors.js';
import type { Collection } from '../db/collection.js';
import type { Metadata, Where } from '../db/where.js';
import { checkInt } from '../checks.js';
import { checkKAgainst, selectRecords, type OnProgress } from './common.js';
import { fitKMeans, silhouetteScore, type KMeansFit, type KMeansMethod } from './kmeans.js';

export interface ClusterOptions {
  /** The number of clusters; when absent, the k of kMin..kMax with the best silhouette. */
  k?: number;
  kMin?: number;
  kMax?: number;
  method?: KMeansMethod;
  where?: Where;
  sample?: number;
  seed?: number;
  /** Lloyd: most updates (default 300); mini-batch: most epochs (default 100). */
  maxIter?: number;
  /** Restarts per k (default 3). */
  nInit?: number;
  /** Writes each record's cluster number (0 … k − 1) into this metadata field. */
  writeField?: string;
  /** Threads of the exact scans (1 to 1,024; default every core): the same answer for any count (docs/tasks.md). */
  threads?: number;
  onProgress?: OnProgress;
}

export interface ClusterTry {
  k: number;
  silhouette: number;
  inertia: number;
}

export interface ClusterResult {
  k: number;
  /** The clustered records, in id order. */
  ids: string[];
  /** ids[i]'s cluster. */
  labels: Int32Array;
  /** k × dim, row-major (unit rows for cosine collections). */
  centroids: Float32Array;
  sizes: Uint32Array;
  /** Σ squared Euclidean distance to the own centroid, or Σ (1 − cos) for cosine collections. */
  inertia: number;
  /** Mean silhouette on a seeded sample of at most 2,000 records; NaN when k = 1 or k = n. */
  silhouette: number;
  /** Every k tried when k was chosen by the silhouette. */
  tried?: ClusterTry[];
  /** The metadata field written, and how many records. */
  written?: { field: string; count: number };
}

/** Points of the silhouette sample (docs/tasks.md). */
export const SILHOUETTE_SAMPLE = 2000;

const FIELD = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

/** Checks a `writeField` name (the server checks it before its worker computes). */
export function checkWriteField(writeField: unknown): string {
  if (typeof writeField !== 'string' || !FIELD.test(writeField)) {
    throw invalidArgument(`writeField: expected a metadata field name (a letter or "_", then letters, digits, "_", "." or "-"), got ${describe(writeField)}`);
  }
  return writeField;
}

export async function clusterCollection(c: Collection, options: ClusterOptions = {}): Promise<ClusterResult> {
  if (options === null || typeof options !== 'object') throw invalidArgument(`options: expected an object, got ${describe(options)}`);
  const method = options.method ?? 'kmeans';
  if (method !== 'kmeans' && method !== 'minibatch') throw invalidArgument(`method: expected "kmeans" or "minibatch", got ${describe(method)}`);
  const seed = options.seed === undefined ? 42 : checkInt(options.seed, 'seed', { min: 0, max: 0xffffffff });
  if (options.k !== undefined) checkInt(options.k, 'k', { min: 1 });
  const kMinGiven = options.kMin !== undefined;
  const kMaxGiven = options.kMax !== undefined;
  if (options.k !== undefined && (kMinGiven || kMaxGiven)) throw invalidArgument('k: give either k or the range kMin..kMax to choose it from, not both');
  const kMin = kMinGiven ? checkInt(options.kMin, 'kMin', { min: 2 }) : 2;
  let kMax = kMaxGiven ? checkInt(options.kMax, 'kMax', { min: 2 }) : 10;
  if (kMax < kMin) throw invalidArgument(`kMax: expected at least kMin (${kMin}), got ${kMax}`);
  const writeField = options.writeField === undefined ? undefined : checkWriteField(options.writeField);
  const progress = options.onProgress;

  const sel = await selectRecords(c, { where: options.where, sample: options.sample });
  const { n, dim } = sel;
  const spherical = sel.metric === 'cosine';
  const batch = { data: sel.vectors, dim, count: n };
  const fitOptions = { method, spherical, seed, maxIter: options.maxIter, nInit: options.nInit, threads: options.threads };
  const silhouette = (fit: KMeansFit): number => (fit.k >= 2 && fit.k < n
    ? silhouetteScore(batch, fit.labels, { distance: spherical ? 'cosine' : 'euclidean', sample: SILHOUETTE_SAMPLE, seed })
    : NaN);

  let best: KMeansFit;
  let bestSilhouette: number;
  let tried: ClusterTry[] | undefined;
  if (options.k !== undefined) {
    const k = checkKAgainst(options.k, n, 'k', false);
    progress?.({ phase: `k-means k=${k}`, done: 0, total: 1 });
    best = fitKMeans(batch, { ...fitOptions, k });
    bestSilhouette = silhouette(best);
    progress?.({ phase: `k-means k=${k}`, done: 1, total: 1 });
  } else {
    // The silhouette needs 2 ≤ k ≤ n − 1: the default range shrinks to fit, a range asked for does not.
    if (kMinGiven || kMaxGiven) {
      if (kMax > n - 1) throw invalidArgument(`kMax: ${kMax} is larger than the records can give: the selection has ${n} records, and choosing k by the silhouette needs k ≤ n − 1 = ${n - 1}`);
    } else {
      if (n < 3) throw invalidArgument(`k: required for a selection of ${n} record${n === 1 ? '' : 's'} (choosing k by the silhouette needs at least 3)`);
      kMax = Math.min(kMax, n - 1);
    }
    tried = [];
    let bestFit: KMeansFit | undefined;
    bestSilhouette = -Infinity;
    const total = kMax - kMin + 1;
    for (let k = kMin; k <= kMax; k++) {
      progress?.({ phase: `k-means k=${k}`, done: k - kMin, total });
      const fit = fitKMeans(batch, { ...fitOptions, k });
      const s = silhouette(fit);
      tried.push({ k, silhouette: s, inertia: fit.inertia });
      if (bestFit === undefined || s > bestSilhouette) {
        bestFit = fit;
        bestSilhouette = s;
      }
      // Lets a server answer other requests between the k's.
      await new Promise((resolve) => setImmediate(resolve));
    }
    progress?.({ phase: 'k-means', done: total, total });
    best = bestFit!;
  }

  const result: ClusterResult = {
    k: best.k, ids: sel.ids, labels: best.labels, centroids: best.centroids, sizes: best.sizes,
    inertia: best.inertia, silhouette: bestSilhouette, ...(tried !== undefined ? { tried } : {}),
  };
  if (writeField !== undefined) {
    progress?.({ phase: 'write', done: 0, total: n });
    const count = await writeLabels(c, sel.ids, best.labels, writeField);
    progress?.({ phase: 'write', done: n, total: n });
    result.written = { field: writeField, count };
  }
  return jsonable(result);
}

/** The answer as JSON (CLI --json, HTTP): typed arrays as arrays, NaN as null, centroids (k arrays) only when asked. */
export function clusterJson(r: ClusterResult, includeCentroids = false): Record<string, unknown> {
  const nan = (x: number): number | null => (Number.isFinite(x) ? x : null);
  return {
    k: r.k, ids: r.ids, labels: Array.from(r.labels), sizes: Array.from(r.sizes), inertia: r.inertia,
    silhouette: nan(r.silhouette),
    ...(r.tried !== undefined ? { tried: r.tried.map((t) => ({ k: t.k, silhouette: nan(t.silhouette), inertia: t.inertia })) } : {}),
    ...(includeCentroids ? { centroids: Array.from({ length: r.k }, (_, c) => Array.from(r.centroids.subarray(c * (r.centroids.length / r.k), (c + 1) * (r.centroids.length / r.k)))) } : {}),
    ...(r.written !== undefined ? { written: r.written } : {}),
  };
}

/**
 * Sets `field` to each record's cluster number, keeping its other metadata (update replaces the
 * metadata object whole, so the stored one is read and merged; vectors and documents are not
 * sent, so they stay). One update call: one transaction.
 */
export async function writeLabels(c: Collection, ids: string[], labels: Int32Array, field: string): Promise<number> {
  const stored = await c.get({ ids, include: ['metadatas'] });
  if (stored.ids.length !== ids.length) {
    throw new OmnivecError('not_found', `${c.name}: ${ids.length - stored.ids.length} of the clustered records were deleted while clustering; run again`);
  }
  const label = new Map<string, number>();
  ids.forEach((id, i) => label.set(id, labels[i]!));
  const metadatas: Metadata[] = stored.ids.map((id, i) => ({ ...(stored.metadatas![i] ?? {}), [field]: label.get(id)! }));
  return c.update({ ids: stored.ids, metadatas });
}
