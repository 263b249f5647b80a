/**
 * t-SNE's input similarities from nearest neighbours (van der Maaten 2014, §4.1): each point's
 * conditional distribution over its ⌊3 · perplexity⌋ + 1 nearest neighbours, Gaussian in the
 * squared Euclidean distance with the precision found by bisection so that its entropy is
 * ln(perplexity), then symmetrised, P = (P + Pᵀ) / Σ, as a sparse matrix (CSR).
 *
 * The neighbours come from omnivec's own indexes: exact (the tasks' threaded all-pairs scan, src/tasks/distances.ts)
 * up to EXACT_POINTS points, above from an HNSW graph (efConstruction and efSearch modest: the
 * affinities only need most of the near neighbours, and a missed one carries a small weight).
 * The bisection follows scikit-learn's `_binary_search_perplexity` (tolerance 1e-5, 100 steps).
 */
import { HnswIndex } from '../../indexes/hnsw/hnsw-index.js';
import { KernelPoints } from '../../tasks/distances.js';

/** Up to this many points the neighbours are exact (n² × dim multiply-adds: 7.8 G for MNIST's 10,000 × 784). */
export const EXACT_POINTS = 5000;

export interface Affinities {
  n: number;
  /** CSR: row i's entries are cols / vals [rowStart[i], rowStart[i + 1]). Σ vals = 1. */
  rowStart: Int32Array;
  cols: Int32Array;
  vals: Float64Array;
}

export interface NeighbourGraph {
  k: number;
  /** n × k neighbour numbers (self excluded) and squared Euclidean distances. */
  index: Int32Array;
  distances: Float32Array;
}

/** The k nearest neighbours of every row (self excluded), squared Euclidean. */
export function neighbourGraph(data: Float32Array, n: number, dim: number, k: number, threads: number, seed: number): NeighbourGraph {
  if (n <= EXACT_POINTS) {
    const rows = 64;
    const kp = new KernelPoints(data, n, dim, { outFloats: rows * n, threads });
    const { index, distances } = kp.neighbours(0, k, rows, threads);
    return { k, index, distances };
  }
  // m 16 with efConstruction 100 / efSearch max(2k, 64): recall@90 about 0.97 on MNIST (measured
  // with the flat index as the oracle), at a third of the default efConstruction's build time.
  const hnsw = new HnswIndex({ dim, metric: 'l2', m: 16, efConstruction: 100, seed, threads });
  const ids = new Uint32Array(n);
  for (let i = 0; i < n; i++) ids[i] = i;
  hnsw.add(ids, { data, dim, count: n });
  const kk = k + 1;
  const res = hnsw.searchBatch({ data, dim, count: n }, kk, { efSearch: Math.max(2 * kk, 64) });
  const index = new Int32Array(n * k).fill(-1);
  const distances = new Float32Array(n * k).fill(Infinity);
  for (let i = 0; i < n; i++) {
    let got = 0;
    for (let t = 0; t < res.counts[i]! && got < k; t++) {
      const j = res.ids[i * kk + t]!;
      if (j === i) continue;
      index[i * k + got] = j;
      distances[i * k + got] = Math.max(0, res.distances[i * kk + t]!);
      got++;
    }
  }
  return { k, index, distances };
}

/**
 * Conditional probabilities p(j | i) over each row's neighbours (n × k, rows sum to 1), with the
 * Gaussian precision of each row set by bisection to reach entropy ln(perplexity).
 */
export function conditionalP(g: NeighbourGraph, n: number, perplexity: number): Float64Array {
  const { k, index, distances } = g;
  const P = new Float64Array(n * k);
  const desired = Math.log(perplexity);
  for (let i = 0; i < n; i++) {
    let beta = 1;
    let lo = -Infinity;
    let hi = Infinity;
    const o = i * k;
    for (let step = 0; step < 100; step++) {
      let sum = 0;
      for (let t = 0; t < k; t++) {
        const p = index[o + t]! < 0 ? 0 : Math.exp(-distances[o + t]! * beta);
        P[o + t] = p;
        sum += p;
      }
      if (sum === 0) sum = 1e-8;
      let sumDP = 0;
      for (let t = 0; t < k; t++) {
        P[o + t]! /= sum;
        if (P[o + t]! > 0) sumDP += distances[o + t]! * P[o + t]!;
      }
      const diff = Math.log(sum) + beta * sumDP - desired;
      if (Math.abs(diff) <= 1e-5) break;
      if (diff > 0) {
        lo = beta;
        beta = hi === Infinity ? beta * 2 : (beta + hi) / 2;
      } else {
        hi = beta;
        beta = lo === -Infinity ? beta / 2 : (beta + lo) / 2;
      }
    }
  }
  return P;
}

/** P = (P + Pᵀ) / Σ (P + Pᵀ) as CSR, from the conditional probabilities over the neighbour lists. */
export function symmetrise(g: NeighbourGraph, n: number, P: Float64Array): Affinities {
  const { k, index } = g;
  // Each (i, j) of the lists gives p(j|i) to (i, j) and to (j, i): count entries per row, then merge duplicates.
  const deg = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < k; t++) {
      const j = index[i * k + t]!;
      if (j < 0) continue;
      deg[i]!++;
      deg[j]!++;
    }
  }
  const start = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) start[i + 1] = start[i]! + deg[i]!;
  const fill = start.slice(0, n);
  const cols = new Int32Array(start[n]!);
  const vals = new Float64Array(start[n]!);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < k; t++) {
      const j = index[i * k + t]!;
      if (j < 0) continue;
      const p = P[i * k + t]!;
      cols[fill[i]!] = j; vals[fill[i]!++] = p;
      cols[fill[j]!] = i; vals[fill[j]!++] = p;
    }
  }
  // Sort each row by column and add up the duplicates (a pair in both lists).
  const rowStart = new Int32Array(n + 1);
  const outCols = new Int32Array(cols.length);
  const outVals = new Float64Array(cols.length);
  let w = 0;
  let total = 0;
  const order: number[] = [];
  for (let i = 0; i < n; i++) {
    rowStart[i] = w;
    order.length = 0;
    for (let e = start[i]!; e < start[i + 1]!; e++) order.push(e);
    order.sort((a, b) => cols[a]! - cols[b]!);
    for (const e of order) {
      if (w > rowStart[i]! && outCols[w - 1] === cols[e]) outVals[w - 1] += vals[e]!;
      else { outCols[w] = cols[e]!; outVals[w] = vals[e]!; w++; }
      total += vals[e]!;
    }
  }
  rowStart[n] = w;
  const inv = 1 / Math.max(total, Number.EPSILON);
  for (let e = 0; e < w; e++) outVals[e]! *= inv;
  return { n, rowStart, cols: outCols.slice(0, w), vals: outVals.slice(0, w) };
}
