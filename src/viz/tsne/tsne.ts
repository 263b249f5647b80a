/**
 * Barnes–Hut t-SNE (van der Maaten 2014), omnivec's own: sparse input similarities from nearest
 * neighbours (affinities.ts), repulsion through a quadtree (quadtree.ts), and the optimiser of the
 * reference implementations — scikit-learn 1.2's `TSNE(method="barnes_hut")`, itself after
 * bhtsne: 1,000 iterations, the first 250 with P exaggerated 12× and momentum 0.5, then 0.8;
 * learning rate max(n / 12 / 4, 50) (Belkina et al. 2019, scikit-learn's "auto"); per-coordinate
 * gains (+0.2 when the step changes direction, ×0.8 otherwise, at least 0.01); θ = 0.5; the start
 * is the first two principal components scaled to a standard deviation of 1e-4 (scikit-learn's
 * `init="pca"`; Kobak & Linderman 2021 on why PCA initialisation keeps the global layout).
 *
 * Gradient (one degree of freedom, q_ij = 1 / (1 + |y_i − y_j|²), Z = Σ_{k≠l} q_kl):
 * ∂C/∂y_i = 4 (Σ_j p_ij q_ij (y_i − y_j) − Σ_j q_ij² (y_i − y_j) / Z), the attraction over the
 * sparse P exactly, the repulsion and Z by Barnes–Hut.
 *
 * Seeded: the same data, options and seed give the same map (PCA's start vectors come from the
 * seed). With more than EXACT_POINTS points the neighbours come from an HNSW graph, which is built
 * on `threads` threads: only a one-thread build (`threads: 1`) is reproduced bit for bit then.
 */
import { Random } from '../../vector/random.js';
import { checkThreads, parallelFor, resolveThreads } from '../../parallel/pool.js';
import { invalidArgument } from '../../errors.js';
import { checkInt, checkNumber } from '../../checks.js';
import { conditionalP, neighbourGraph, symmetrise, type Affinities } from './affinities.js';
import { QuadTree, type WalkStack } from './quadtree.js';
import { gradientRange, tsneGradientTask, type GradientJob } from './tsne-jobs.js';

export interface TsneOptions {
  /** Perplexity (default min(30, (n − 1) / 3), at least 2). */
  perplexity?: number;
  /** Gradient steps in all (default 1,000, scikit-learn's). */
  iterations?: number;
  /** Steps with exaggerated P (default 250). */
  exaggerationIterations?: number;
  /** Early exaggeration (default 12). */
  exaggeration?: number;
  /** Learning rate (default max(n / exaggeration / 4, 50)). */
  learningRate?: number;
  /** Barnes–Hut accuracy θ (default 0.5; 0 = exact repulsion, O(n²)). */
  theta?: number;
  seed?: number;
  /** Threads of the neighbour search and of each step's force walks (default every core). */
  threads?: number;
}

export type TsnePhase = 'affinities' | 'optimising';

export interface TsneStep {
  phase: TsnePhase;
  done: number;
  total: number;
}

/** The principal-components start: the top 2 directions by subspace iteration on at most 5,000 rows, scaled to std 1e-4. */
export function pcaStart(data: Float32Array, n: number, dim: number, rng: Random): Float64Array {
  const m = Math.min(n, 5000);
  const step = n / m;
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += data[i * dim + j]!;
  for (let j = 0; j < dim; j++) mean[j]! /= n;
  const rows = Int32Array.from({ length: m }, (_, r) => Math.floor(r * step));
  let v1 = Float64Array.from({ length: dim }, () => rng.gaussian());
  let v2 = Float64Array.from({ length: dim }, () => rng.gaussian());
  const orth = (a: Float64Array, b: Float64Array): void => {
    let na = 0;
    for (let j = 0; j < dim; j++) na += a[j]! * a[j]!;
    na = Math.sqrt(na) || 1;
    for (let j = 0; j < dim; j++) a[j]! /= na;
    let d = 0;
    for (let j = 0; j < dim; j++) d += a[j]! * b[j]!;
    let nb = 0;
    for (let j = 0; j < dim; j++) { b[j]! -= d * a[j]!; nb += b[j]! * b[j]!; }
    nb = Math.sqrt(nb) || 1;
    for (let j = 0; j < dim; j++) b[j]! /= nb;
  };
  orth(v1, v2);
  for (let it = 0; it < 30; it++) {
    const w1 = new Float64Array(dim);
    const w2 = new Float64Array(dim);
    for (const r of rows) {
      let a = 0, b = 0;
      const o = r * dim;
      for (let j = 0; j < dim; j++) { const x = data[o + j]! - mean[j]!; a += x * v1[j]!; b += x * v2[j]!; }
      for (let j = 0; j < dim; j++) { const x = data[o + j]! - mean[j]!; w1[j] += a * x; w2[j] += b * x; }
    }
    orth(w1, w2);
    v1 = w1;
    v2 = w2;
  }
  const y = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    let a = 0, b = 0;
    for (let j = 0; j < dim; j++) { const x = data[i * dim + j]! - mean[j]!; a += x * v1[j]!; b += x * v2[j]!; }
    y[2 * i] = a;
    y[2 * i + 1] = b;
  }
  // Signs fixed (largest |coordinate| positive) so the start does not depend on the vectors' signs.
  for (const c of [0, 1]) {
    let big = 0;
    for (let i = 0; i < n; i++) if (Math.abs(y[2 * i + c]!) > Math.abs(big)) big = y[2 * i + c]!;
    if (big < 0) for (let i = 0; i < n; i++) y[2 * i + c] = -y[2 * i + c]!;
  }
  let s = 0, s2 = 0;
  for (let i = 0; i < n; i++) { s += y[2 * i]!; s2 += y[2 * i]! ** 2; }
  const std = Math.sqrt(Math.max(s2 / n - (s / n) ** 2, 0)) || 1;
  for (let i = 0; i < 2 * n; i++) y[i] = (y[i]! / std) * 1e-4;
  return y;
}

/** Below `points` points a step stays on the calling thread (a step of 1,000 points takes ~3 ms). Tests lower it. */
export const tsneThresholds = { points: 1000 };

function shared64(a: Float64Array): Float64Array {
  const b = new Float64Array(new SharedArrayBuffer(8 * Math.max(1, a.length)), 0, a.length);
  b.set(a);
  return b;
}

function shared32(a: Int32Array): Int32Array {
  const b = new Int32Array(new SharedArrayBuffer(4 * Math.max(1, a.length)), 0, a.length);
  b.set(a);
  return b;
}

/** The optimiser's state: the map, its momentum and gains, and the last gradient's figures. */
export class TsneOptimiser {
  readonly n: number;
  readonly P: Affinities;
  /** The map, [x0, y0, x1, y1, …] (on a SharedArrayBuffer). */
  readonly y: Float64Array;
  readonly #update: Float64Array;
  readonly #gains: Float64Array;
  readonly #grad: Float64Array;
  readonly #tree = new QuadTree();
  readonly #theta2: number;
  readonly #threads: number;
  readonly #job: Omit<GradientJob, 'tree' | 'exaggeration'>;
  readonly #stack: WalkStack = { s: new Int32Array(256) };
  /** Z = Σ q of the last gradient (Barnes–Hut). */
  z = 0;

  constructor(P: Affinities, y: Float64Array, theta: number, threads = 1) {
    this.n = P.n;
    const n = this.n;
    // P and the map on SharedArrayBuffers: the pool's workers read them in place.
    this.P = { n, rowStart: shared32(P.rowStart), cols: shared32(P.cols), vals: shared64(P.vals) };
    this.y = shared64(y);
    this.#update = new Float64Array(2 * n);
    this.#gains = new Float64Array(2 * n).fill(1);
    this.#grad = new Float64Array(2 * n);
    this.#theta2 = theta * theta;
    this.#threads = threads;
    this.#job = {
      y: this.y, theta2: this.#theta2, rowStart: this.P.rowStart, cols: this.P.cols, vals: this.P.vals,
      rep: shared64(new Float64Array(2 * n)), attr: shared64(new Float64Array(2 * n)), zs: shared64(new Float64Array(n)),
    };
  }

  /** The gradient at the current map with P × `exaggeration` into #grad. */
  #gradient(exaggeration: number): void {
    const { n, y } = this;
    const grad = this.#grad;
    const { rep, attr, zs } = this.#job;
    let z = 0;
    if (this.#theta2 > 0) {
      this.#tree.build(y, n);
      const job: GradientJob = { ...this.#job, tree: this.#tree.view(), exaggeration };
      if (this.#threads > 1 && n >= tsneThresholds.points) parallelFor(this.#threads, n, tsneGradientTask, job, { grain: Math.max(16, Math.min(256, Math.ceil(n / (this.#threads * 8)))) });
      else gradientRange(job, 0, n, this.#stack);
      for (let i = 0; i < n; i++) z += zs[i]!;
    } else {
      // θ = 0: the exact O(n²) repulsion (tests, small maps).
      const { rowStart, cols, vals } = this.P;
      for (let i = 0; i < n; i++) {
        let fx = 0, fy = 0, ax = 0, ay = 0;
        for (let j = 0; j < n; j++) {
          if (j === i) continue;
          const dx = y[2 * i]! - y[2 * j]!, dy = y[2 * i + 1]! - y[2 * j + 1]!;
          const d2 = dx * dx + dy * dy;
          if (d2 === 0) continue;
          const q = 1 / (1 + d2);
          z += q; fx += q * q * dx; fy += q * q * dy;
        }
        for (let e = rowStart[i]!; e < rowStart[i + 1]!; e++) {
          const j = cols[e]!;
          const dx = y[2 * i]! - y[2 * j]!, dy = y[2 * i + 1]! - y[2 * j + 1]!;
          const pq = (exaggeration * vals[e]!) / (1 + dx * dx + dy * dy);
          ax += pq * dx; ay += pq * dy;
        }
        rep[2 * i] = fx; rep[2 * i + 1] = fy; attr[2 * i] = ax; attr[2 * i + 1] = ay;
      }
    }
    this.z = z;
    const invZ = 1 / Math.max(z, Number.MIN_VALUE);
    for (let c = 0; c < 2 * n; c++) grad[c] = 4 * (attr[c]! - rep[c]! * invZ);
  }

  /** One gradient step (scikit-learn's `_gradient_descent` update). */
  step(exaggeration: number, momentum: number, learningRate: number): void {
    this.#gradient(exaggeration);
    const { y } = this;
    const up = this.#update, gains = this.#gains, grad = this.#grad;
    for (let c = 0; c < y.length; c++) {
      const g = grad[c]!;
      const gain = up[c]! * g < 0 ? gains[c]! + 0.2 : Math.max(gains[c]! * 0.8, 0.01);
      gains[c] = gain;
      up[c] = momentum * up[c]! - learningRate * gain * g;
      y[c]! += up[c]!;
    }
  }

  /**
   * KL(P ‖ Q) of the current map with the Z of the last step (Barnes–Hut's; exact when θ = 0),
   * over the non-zero p_ij: Σ p log(p / q), q_ij = 1 / ((1 + d²) Z).
   */
  klDivergence(): number {
    const { n, y } = this;
    const { rowStart, cols, vals } = this.P;
    const z = this.z > 0 ? this.z : 1;
    let kl = 0;
    for (let i = 0; i < n; i++) {
      for (let e = rowStart[i]!; e < rowStart[i + 1]!; e++) {
        const j = cols[e]!;
        const dx = y[2 * i]! - y[2 * j]!, dy = y[2 * i + 1]! - y[2 * j + 1]!;
        const q = 1 / ((1 + dx * dx + dy * dy) * z);
        const p = vals[e]!;
        if (p > 0) kl += p * Math.log(Math.max(p, 1e-38) / Math.max(q, 1e-38));
      }
    }
    return kl;
  }
}

/** The resolved options of a run (each checked: `invalid_argument` naming the option, what was expected and what came). */
export function tsneSettings(n: number, options: TsneOptions): Required<Omit<TsneOptions, 'threads'>> & { threads: number | undefined } {
  if (n < 3) throw invalidArgument(`t-SNE: needs at least 3 points, got ${n}`);
  const exaggeration = checkNumber(options.exaggeration, 'exaggeration', { min: 1, max: 1000, fallback: 12 });
  return {
    // At most (n − 1) / 3: each point's list holds 3 · perplexity neighbours.
    perplexity: checkNumber(options.perplexity, 'perplexity', {
      min: 1, max: (n - 1) / 3, fallback: Math.max(Math.min(2, (n - 1) / 3), Math.min(30, Math.floor((n - 1) / 3))),
    }),
    iterations: checkInt(options.iterations, 'iterations', { min: 1, max: 100_000, fallback: 1000 }),
    exaggerationIterations: checkInt(options.exaggerationIterations, 'exaggerationIterations', { min: 0, max: 100_000, fallback: 250 }),
    exaggeration,
    learningRate: checkNumber(options.learningRate, 'learningRate', { min: 0, minExclusive: true, fallback: Math.max(n / exaggeration / 4, 50) }),
    theta: checkNumber(options.theta, 'theta', { min: 0, max: 10, fallback: 0.5 }),
    seed: checkInt(options.seed, 'seed', { min: 0, max: 0xffffffff, fallback: 42 }),
    threads: options.threads === undefined ? undefined : checkThreads(options.threads),
  };
}

/**
 * The whole run as a generator: yields before the affinities and after each gradient step, and
 * returns the map ([x0, y0, …], float32). `data` is n × dim row-major.
 */
export function* tsneSteps(data: Float32Array, n: number, dim: number, options: TsneOptions = {}, onOptimiser?: (o: TsneOptimiser) => void):
  Generator<TsneStep, Float32Array, void> {
  const s = tsneSettings(n, options);
  yield { phase: 'affinities', done: 0, total: 1 };
  const k = Math.min(n - 1, Math.floor(3 * s.perplexity + 1));
  const threads = resolveThreads(s.threads);
  const g = neighbourGraph(data, n, dim, k, threads, s.seed);
  const P = symmetrise(g, n, conditionalP(g, n, s.perplexity));
  const opt = new TsneOptimiser(P, pcaStart(data, n, dim, new Random(s.seed)), s.theta, threads);
  onOptimiser?.(opt);
  for (let it = 0; it < s.iterations; it++) {
    const early = it < s.exaggerationIterations;
    opt.step(early ? s.exaggeration : 1, early ? 0.5 : 0.8, s.learningRate);
    if (it + 1 < s.iterations) yield { phase: 'optimising', done: it + 1, total: s.iterations };
  }
  return Float32Array.from(opt.y);
}
