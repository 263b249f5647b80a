import { OmnivecError, describe } from '../../errors.js';
import type { VectorBatch } from '../../vector/batch.js';
import { kmeans } from '../ivf/kmeans.js';

/**
 * Product quantisation (Jégou, Douze & Schmid 2011), as Faiss's `ProductQuantizer` with 8 bits:
 * a vector of `dim` floats is cut into `m` sub-vectors of `dsub = dim / m` floats; each sub-space
 * has its own codebook of 256 centroids learnt by k-means (src/indexes/ivf/kmeans.ts, seeded), and a
 * vector is stored as m bytes, the number of the nearest centroid in each sub-space.
 *
 * Distances are asymmetric (ADC): the query stays float; per query (or per query and IVF list) a
 * table of m × 256 partial distances is built, and a code's distance is the sum of its m look-ups
 * (`scanCodes`). IVF-PQ (src/indexes/ivf/ivf-index.ts) encodes residuals x − c (c = the vector's
 * coarse centroid), as Faiss's IndexIVFPQ does by default (`by_residual`).
 */

/** Centroids per sub-quantiser (8-bit codes). */
export const PQ_CENTROIDS = 256;
/** Lloyd iterations of each sub-quantiser's k-means (Faiss's ProductQuantizer default: 25). */
export const PQ_ITERATIONS = 25;

/**
 * The default `pqM` for a dimension: dim / 4 sub-quantisers of 4 floats each (16 bytes a 64-d
 * vector, 32 bytes a 128-d one), or, when 4 does not divide dim, the largest divisor of dim that
 * gives sub-vectors of at least 4 floats (1 when there is none). Chosen by measurement: see
 * docs/indexes/ivf.md ("IVF-PQ").
 */
export function defaultPqM(dim: number): number {
  if (dim % 4 === 0) return dim / 4;
  for (let m = Math.floor(dim / 4); m >= 1; m--) if (dim % m === 0) return m;
  return 1;
}

/** Checks `pqM`: an integer ≥ 1 dividing `dim`; `undefined` gives the default for dim. */
export function checkPqM(value: unknown, dim: number): number {
  if (value === undefined) return defaultPqM(dim);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > dim) {
    throw new OmnivecError('invalid_argument',
      `pqM: expected an integer from 1 to dim = ${dim} (the number of PQ sub-quantisers), got ${describe(value)}`);
  }
  if (dim % value !== 0) {
    throw new OmnivecError('invalid_argument',
      `pqM: expected a divisor of dim = ${dim} (each of the pqM sub-quantisers takes dim / pqM dimensions), got pqM = ${value}; try ${defaultPqM(dim)}`);
  }
  return value;
}

export interface PqTrainOptions {
  seed?: number;
  /** Lloyd iterations per sub-quantiser. Default PQ_ITERATIONS. */
  iterations?: number;
}

export class ProductQuantizer {
  readonly dim: number;
  readonly m: number;
  readonly dsub: number;
  /** m × 256 × dsub floats: sub-space j's centroid c at (j × 256 + c) × dsub. */
  readonly codebooks: Float32Array;
  /** ‖centroid‖² per (j, c): m × 256. */
  readonly norms: Float32Array;

  constructor(dim: number, m: number, codebooks: Float32Array) {
    checkPqM(m, dim);
    if (codebooks.length !== dim * PQ_CENTROIDS) {
      throw new OmnivecError('invalid_argument', `codebooks: expected ${dim * PQ_CENTROIDS} floats (256 × dim), got ${codebooks.length}`);
    }
    this.dim = dim;
    this.m = m;
    this.dsub = dim / m;
    this.codebooks = codebooks;
    this.norms = new Float32Array(m * PQ_CENTROIDS);
    for (let i = 0; i < m * PQ_CENTROIDS; i++) {
      let s = 0;
      for (let t = 0; t < this.dsub; t++) s += codebooks[i * this.dsub + t]! ** 2;
      this.norms[i] = s;
    }
  }

  /**
   * Learns the m codebooks from `data` (at least 256 vectors: one per centroid; more than 65 536
   * are subsampled by k-means, Faiss's limit too). Each sub-space runs l2 k-means with the same seed.
   */
  static train(data: VectorBatch, m: number, options: PqTrainOptions = {}): ProductQuantizer {
    const dim = data.dim;
    checkPqM(m, dim);
    if (data.count < PQ_CENTROIDS) {
      throw new OmnivecError('invalid_argument',
        `sample: PQ training needs at least ${PQ_CENTROIDS} vectors (one per centroid of each of the ${m} sub-quantisers), got ${data.count}; give a larger sample or use quantization 'int8'`);
    }
    const dsub = dim / m;
    const n = data.count;
    const sub = new Float32Array(n * dsub);
    const codebooks = new Float32Array(dim * PQ_CENTROIDS);
    for (let j = 0; j < m; j++) {
      for (let i = 0; i < n; i++) sub.set(data.data.subarray(i * dim + j * dsub, i * dim + (j + 1) * dsub), i * dsub);
      const c = kmeans({ data: sub, dim: dsub, count: n }, PQ_CENTROIDS,
        { metric: 'l2', iterations: options.iterations ?? PQ_ITERATIONS, seed: options.seed ?? 42 });
      codebooks.set(c, j * PQ_CENTROIDS * dsub);
    }
    return new ProductQuantizer(dim, m, codebooks);
  }

  /** Bytes of one code. */
  get codeBytes(): number {
    return this.m;
  }

  /**
   * Encodes `count` vectors (rows of `data` from row 0) into `out` at `offset`, m bytes each: per
   * sub-space the nearest centroid by squared L2 (‖c‖² − 2 x·c, smaller centroid number on ties).
   */
  encode(data: Float32Array, count: number, out: Uint8Array, offset = 0): void {
    const { dim, m, dsub, codebooks, norms } = this;
    for (let i = 0; i < count; i++) {
      const x0 = i * dim;
      const o = offset + i * m;
      for (let j = 0; j < m; j++) {
        const xs = x0 + j * dsub;
        let best = Infinity;
        let arg = 0;
        let cb = j * PQ_CENTROIDS * dsub;
        const nb = j * PQ_CENTROIDS;
        for (let c = 0; c < PQ_CENTROIDS; c++, cb += dsub) {
          let dot = 0;
          for (let t = 0; t < dsub; t++) dot += data[xs + t]! * codebooks[cb + t]!;
          const d = norms[nb + c]! - 2 * dot;
          if (d < best) {
            best = d;
            arg = c;
          }
        }
        out[o + j] = arg;
      }
    }
  }

  /** Writes the reconstruction of the code at `codes[offset …]` into `out` (dim floats). */
  decode(codes: Uint8Array, offset: number, out: Float32Array, outOffset = 0): void {
    const { m, dsub, codebooks } = this;
    for (let j = 0; j < m; j++) {
      const cb = (j * PQ_CENTROIDS + codes[offset + j]!) * dsub;
      for (let t = 0; t < dsub; t++) out[outOffset + j * dsub + t] = codebooks[cb + t]!;
    }
  }

  /** table[j × 256 + c] = q_j · centroid(j, c): the inner-product table of a query. */
  innerTable(query: Float32Array, table: Float32Array, scale = 1): void {
    const { m, dsub, codebooks } = this;
    let cb = 0;
    for (let j = 0; j < m; j++) {
      const qs = j * dsub;
      for (let c = 0; c < PQ_CENTROIDS; c++, cb += dsub) {
        let dot = 0;
        for (let t = 0; t < dsub; t++) dot += query[qs + t]! * codebooks[cb + t]!;
        table[j * PQ_CENTROIDS + c] = scale * dot;
      }
    }
  }

  /** table[j × 256 + c] = ‖q_j − centroid(j, c)‖²: the squared-L2 table of a (residual) query. */
  l2Table(query: Float32Array, table: Float32Array): void {
    const { m, dsub, codebooks } = this;
    let cb = 0;
    for (let j = 0; j < m; j++) {
      const qs = j * dsub;
      for (let c = 0; c < PQ_CENTROIDS; c++, cb += dsub) {
        let s = 0;
        for (let t = 0; t < dsub; t++) {
          const d = query[qs + t]! - codebooks[cb + t]!;
          s += d * d;
        }
        table[j * PQ_CENTROIDS + c] = s;
      }
    }
  }

  /**
   * The query-independent term of IVF-PQ's l2 distance for a list with centroid `centroid`
   * (Faiss's precomputed table): out[j × 256 + c] = ‖r_jc‖² + 2 centroid_j · r_jc, so that
   * ‖q − centroid − r‖² = ‖q − centroid‖² + Σ_j (out[j, c_j] − 2 q_j · r_jc_j).
   */
  listTerms(centroid: Float32Array, centroidOffset: number, out: Float32Array, outOffset: number): void {
    const { m, dsub, codebooks, norms } = this;
    let cb = 0;
    for (let j = 0; j < m; j++) {
      const cs = centroidOffset + j * dsub;
      for (let c = 0; c < PQ_CENTROIDS; c++, cb += dsub) {
        let dot = 0;
        for (let t = 0; t < dsub; t++) dot += centroid[cs + t]! * codebooks[cb + t]!;
        out[outOffset + j * PQ_CENTROIDS + c] = norms[j * PQ_CENTROIDS + c]! + 2 * dot;
      }
    }
  }
}

/**
 * ADC scan: for the `n` codes of `m` bytes at `codes[offset …]`, out[i] = bias + Σ_j table[j × 256 +
 * code_ij] (float32 per term as stored, summed in float64, rounded once).
 */
export function scanCodes(codes: Uint8Array, offset: number, n: number, m: number, table: Float32Array, bias: number, out: Float32Array): void {
  let o = offset;
  for (let i = 0; i < n; i++) {
    let d = bias;
    for (let j = 0, t = 0; j < m; j++, t += PQ_CENTROIDS) d += table[t + codes[o + j]!]!;
    out[i] = d;
    o += m;
  }
}
