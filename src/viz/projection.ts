import { describe, invalidArgument } from '../errors.js';
import { loadPca, loadUmap } from './projection-libraries.js';
import { tsneSteps } from './tsne/tsne.js';
import { Random } from '../vector/random.js';

/**
 * 2-D maps of a set of vectors — PCA and UMAP from well-kept libraries (ml-pca, umap-js), t-SNE
 * our own Barnes–Hut implementation (src/viz/tsne/; see docs/projections.md), seeded so the same
 * input gives the same map.
 */
export type ProjectionMethod = 'pca' | 'tsne' | 'umap';
export const PROJECTION_METHODS: readonly ProjectionMethod[] = ['pca', 'tsne', 'umap'];

export interface ProjectOptions {
  method?: ProjectionMethod;
  seed?: number;
  /** t-SNE perplexity (default min(30, (n − 1) / 3)). */
  perplexity?: number;
  /** t-SNE iterations (default 1,000), UMAP epochs (default: umap-js's). */
  iterations?: number;
  /** t-SNE: threads of the neighbour search (default every core; see src/viz/tsne/tsne.ts on reproducibility). */
  threads?: number;
  /** UMAP neighbours (default min(15, n − 1)) and minimum distance (default 0.1). */
  nNeighbors?: number;
  minDist?: number;
}

/**
 * Where a computation is: `pca` (one step), t-SNE's `affinities` (neighbours and input similarities) then
 * `optimising`, UMAP's `knn` (nearest-neighbour descent), `graph` (fuzzy graph and initial layout)
 * then `optimising`. `done` of `total` units of the phase (iterations, epochs; 0 or 1 for one-step phases).
 */
export type ProjectionPhase = 'pca' | 'affinities' | 'knn' | 'graph' | 'optimising';

export interface ProjectionStep {
  phase: ProjectionPhase;
  done: number;
  total: number;
}

/** Returns the 2-D coordinates, `[x0, y0, x1, y1, …]`. */
export function project(vectors: readonly ArrayLike<number>[], options: ProjectOptions = {}): Float32Array {
  const steps = projectSteps(vectors, options);
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
  }
}

/**
 * The same computation as `project` (same calls into the libraries in the same order, so the same
 * map for the same seed), yielding before each phase and after each optimisation step, so a caller
 * can report progress or stop between steps (the projection worker does both).
 */
export function* projectSteps(vectors: readonly ArrayLike<number>[], options: ProjectOptions = {}): Generator<ProjectionStep, Float32Array, void> {
  const method = options.method ?? 'umap';
  if (!PROJECTION_METHODS.includes(method)) throw invalidArgument(`method: expected pca, tsne or umap, got ${describe(method)}`);
  if (!Array.isArray(vectors) || vectors.length < 3) throw invalidArgument(`vectors: a map needs at least 3 vectors, got ${Array.isArray(vectors) ? vectors.length : describe(vectors)}`);
  const dim = vectors[0]!.length;
  const X: number[][] = vectors.map((v, i) => {
    if (v.length !== dim) throw invalidArgument(`vectors[${i}]: expected ${dim} numbers (as vectors[0]), got ${v.length}`);
    return Array.from(v as ArrayLike<number>) as number[];
  });
  const n = X.length;
  const seed = options.seed ?? 42;
  let Y: number[][];
  if (method === 'pca') {
    yield { phase: 'pca', done: 0, total: 1 };
    const PCA = loadPca();
    const pca = new PCA(X, { center: true, scale: false });
    const k = Math.min(2, dim);
    Y = pca.predict(X, { nComponents: k }).to2DArray().map((r) => (k === 2 ? r : [r[0]!, 0]));
  } else if (method === 'tsne') {
    // omnivec's own Barnes–Hut t-SNE (src/viz/tsne/): sparse affinities from exact or HNSW
    // neighbours, 1,000 steps by default as scikit-learn.
    const data = new Float32Array(n * dim);
    X.forEach((row, i) => data.set(row, i * dim));
    const steps = tsneSteps(data, n, dim, { perplexity: options.perplexity, iterations: options.iterations, seed, threads: options.threads });
    for (;;) {
      const r = steps.next();
      if (r.done === true) return r.value;
      yield r.value;
    }
  } else {
    const rng = new Random(seed);
    const UMAP = loadUmap();
    const umap = new UMAP({
      nComponents: 2, nNeighbors: options.nNeighbors ?? Math.max(2, Math.min(15, n - 1)), minDist: options.minDist ?? 0.1,
      random: () => rng.next(), ...(options.iterations !== undefined ? { nEpochs: options.iterations } : {}),
    });
    // fit() = initializeFit (nearest neighbours, fuzzy graph, initial layout) + every epoch. The
    // neighbour search is split off (umap-js's own nearestNeighbors, then setPrecomputedKNN: the same
    // random draws in the same order) so its progress shows; initializeFit then skips it.
    yield { phase: 'knn', done: 0, total: 1 };
    const inner = umap as unknown as { nearestNeighbors?: (x: number[][]) => { knnIndices: number[][]; knnDistances: number[][] } };
    if (typeof inner.nearestNeighbors === 'function') {
      const knn = inner.nearestNeighbors(X);
      umap.setPrecomputedKNN(knn.knnIndices, knn.knnDistances);
      yield { phase: 'graph', done: 0, total: 1 };
    }
    const epochs = umap.initializeFit(X);
    for (let e = 0; e < epochs; e++) {
      if (e > 0) yield { phase: 'optimising', done: e, total: epochs };
      umap.step();
    }
    Y = umap.getEmbedding();
  }
  const out = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    out[2 * i] = Y[i]![0]!;
    out[2 * i + 1] = Y[i]![1]!;
  }
  return out;
}
