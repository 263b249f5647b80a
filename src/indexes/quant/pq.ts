import { OmnivecError, describe } from '../../errors.js';
import type { VectorBatch } from '../../vector/batch.js';
import v8 from 'node:v8';
import { kmeans } from '../ivf/kmeans.js';
import { Random } from '../../vector/random.js';
import { pqWasmBase64 } from './pq.generated.js';

/**
 * Product quantisation (Jégou, Douze & Schmid 2011), as Faiss's `ProductQuantizer` with 8 bits:
 * a vector of `dim` floats is cut into `m` sub-vectors of `dsub = dim / m` floats; each sub-space
 * has its own codebook of 256 centroids learnt by k-means (k-means++ seeds from
 * src/indexes/ivf/kmeans.ts, then Lloyd iterations of all sub-spaces at once; seeded), and a vector
 * is stored as m bytes, the number of the nearest centroid in each sub-space.
 *
 * Distances are asymmetric (ADC): the query stays float; per query (or per query and IVF list) a
 * table of m × 256 partial distances is built, and a code's distance is the sum of its m look-ups.
 * Tables, scan and encoding run in WebAssembly (`PqKernels`, src/indexes/quant/assembly/pq.ts);
 * `scanCodes` is the JavaScript reference of the scan (tests). IVF-PQ (src/indexes/ivf/ivf-index.ts) encodes residuals x − c (c = the vector's
 * coarse centroid), as Faiss's IndexIVFPQ does by default (`by_residual`).
 */

/** Centroids per sub-quantiser (8-bit codes). */
export const PQ_CENTROIDS = 256;
/** Most training vectors used (256 per centroid, Faiss's limit); a larger sample is subsampled. */
export const PQ_MAX_TRAIN = 256 * PQ_CENTROIDS;
/** Lloyd iterations of each sub-quantiser's k-means (Faiss's ProductQuantizer default: 25). */
export const PQ_ITERATIONS = 25;

/**
 * The default `pqM` for a dimension: dim / 4 sub-quantisers of 4 floats each (16 bytes a 64-d
 * vector, 32 bytes a 128-d one), or, when 4 does not divide dim, the largest divisor of dim that
 * gives sub-vectors of at least 4 floats (1 when there is none). Chosen by measurement: see
 * docs/indexes/ivf.md ("IVF-PQ measured against Faiss").
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
    const seed = options.seed ?? 42;
    const iterations = options.iterations ?? PQ_ITERATIONS;
    // A seeded subsample of at most 256 × 256 rows (Faiss's limit), ascending row numbers.
    const rows = data.count <= PQ_MAX_TRAIN ? undefined : new Random(seed).sample(data.count, PQ_MAX_TRAIN);
    const n = rows === undefined ? data.count : rows.length;
    const x = rows === undefined ? data.data.subarray(0, n * dim) : new Float32Array(n * dim);
    if (rows !== undefined) for (let i = 0; i < n; i++) x.set(data.data.subarray(rows[i]! * dim, (rows[i]! + 1) * dim), i * dim);
    // k-means++ seeds per sub-space (the IVF k-means with 0 Lloyd iterations)...
    const sub = new Float32Array(n * dsub);
    const codebooks = new Float32Array(dim * PQ_CENTROIDS);
    for (let j = 0; j < m; j++) {
      for (let i = 0; i < n; i++) sub.set(x.subarray(i * dim + j * dsub, i * dim + (j + 1) * dsub), i * dsub);
      codebooks.set(kmeans({ data: sub, dim: dsub, count: n }, PQ_CENTROIDS, { metric: 'l2', iterations: 0, seed }), j * PQ_CENTROIDS * dsub);
    }
    // ...then Lloyd iterations of all sub-spaces at once: the assignment step is the encoding
    // kernel (every sub-space's nearest centroid in one pass), the update the mean of each
    // centroid's sub-vectors (summed in float64); an empty centroid keeps its place.
    let pq = new ProductQuantizer(dim, m, codebooks.slice());
    const codes = new Uint8Array(n * m);
    const prev = new Uint8Array(n * m);
    const sums = new Float64Array(dim * PQ_CENTROIDS);
    const counts = new Uint32Array(m * PQ_CENTROIDS);
    for (let it = 0; it < iterations; it++) {
      pq.encode(x, n, codes);
      if (it > 0 && codes.every((c, i) => c === prev[i])) break; // converged
      prev.set(codes);
      sums.fill(0);
      counts.fill(0);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < m; j++) {
          const cell = j * PQ_CENTROIDS + codes[i * m + j]!;
          counts[cell]!++;
          const o = cell * dsub;
          const xo = i * dim + j * dsub;
          for (let t = 0; t < dsub; t++) sums[o + t] += x[xo + t]!;
        }
      }
      for (let cell = 0; cell < m * PQ_CENTROIDS; cell++) {
        const c = counts[cell]!;
        if (c === 0) continue;
        for (let t = 0; t < dsub; t++) codebooks[cell * dsub + t] = sums[cell * dsub + t]! / c;
      }
      pq = new ProductQuantizer(dim, m, codebooks.slice());
    }
    return pq;
  }

  /** Bytes of one code. */
  get codeBytes(): number {
    return this.m;
  }

  /** The WebAssembly kernels and their memory (created on first use). */
  get kernels(): PqKernels {
    return this.#kernels ??= new PqKernels(this);
  }

  #kernels: PqKernels | undefined;

  /** Encodes `count` vectors (rows of `data` from row 0) into `out` at `offset`, m bytes each (nearest centroid per sub-space). */
  encode(data: Float32Array, count: number, out: Uint8Array, offset = 0): void {
    this.kernels.encode(data, count, out, offset);
  }

  /** Writes the reconstruction of the code at `codes[offset …]` into `out` (dim floats). */
  decode(codes: Uint8Array, offset: number, out: Float32Array, outOffset = 0): void {
    const { m, dsub, codebooks } = this;
    for (let j = 0; j < m; j++) {
      const cb = (j * PQ_CENTROIDS + codes[offset + j]!) * dsub;
      for (let t = 0; t < dsub; t++) out[outOffset + j * dsub + t] = codebooks[cb + t]!;
    }
  }
}

interface PqExports {
  innerTable(q: number, cbT: number, m: number, dsub: number, table: number, scale: number, add: number): void;
  addTables(a: number, b: number, out: number, n: number): void;
  scan(codes: number, n: number, m: number, table: number, bias: number, out: number): void;
  encode(x: number, n: number, cbT: number, norms: number, m: number, dsub: number, table: number, out: number): void;
}

let compiledPq: WebAssembly.Module | undefined;
/** Compiled once, straight to the optimising tier (as src/vector/arena.ts does for the distance kernels). */
function pqModule(): WebAssembly.Module {
  if (compiledPq === undefined) {
    const bytes = Buffer.from(pqWasmBase64, 'base64');
    v8.setFlagsFromString('--no-liftoff');
    try {
      compiledPq = new WebAssembly.Module(bytes);
    } finally {
      v8.setFlagsFromString('--liftoff');
    }
  }
  return compiledPq;
}

/** Codes scanned per kernel call (bounds the scratch). */
export const PQ_SCAN_BLOCK = 4096;
/** Vectors encoded per kernel call. */
const ENCODE_BLOCK = 256;
const PAGE = 65536;

/**
 * The PQ kernels (src/indexes/quant/assembly/pq.ts) over a WebAssembly memory of their own holding
 * the transposed codebooks, the ‖c‖² table, the query, its table, one list's table, scratch for
 * codes and distances, and (IVF-PQ with l2) the per-list terms. A search uses it as:
 * `setQuery` (the query's table), then per list `listTable` (l2 with terms), `scan`.
 */
export class PqKernels {
  readonly #pq: ProductQuantizer;
  readonly #memory: WebAssembly.Memory;
  readonly #k: PqExports;
  readonly #cbT: number;
  readonly #norms: number;
  readonly #q: number;
  readonly #qTable: number;
  readonly #lTable: number;
  readonly #codes: number;
  readonly #out: number;
  readonly #x: number;
  readonly #enc: number;
  #terms = 0;
  #lists = 0;
  #f32!: Float32Array;
  #u8!: Uint8Array;
  /** The distances of the last `scan` (PQ_SCAN_BLOCK floats; read the first n). */
  out!: Float32Array;

  constructor(pq: ProductQuantizer) {
    this.#pq = pq;
    const { dim, m, dsub } = pq;
    const table = m * PQ_CENTROIDS * 4;
    let top = 16;
    const take = (bytes: number): number => { const p = top; top += (bytes + 15) & ~15; return p; };
    this.#cbT = take(dim * PQ_CENTROIDS * 4);
    this.#norms = take(table);
    this.#q = take(dim * 4);
    this.#qTable = take(table);
    this.#lTable = take(table);
    this.#codes = take(PQ_SCAN_BLOCK * m + 4);
    this.#out = take(PQ_SCAN_BLOCK * 4);
    this.#x = take(ENCODE_BLOCK * dim * 4);
    this.#enc = take(ENCODE_BLOCK * m);
    this.#terms = top;
    this.#memory = new WebAssembly.Memory({ initial: Math.ceil(top / PAGE), maximum: 65536 });
    const instance = new WebAssembly.Instance(pqModule(), { env: { memory: this.#memory, abort: () => { throw new Error('wasm abort'); } } });
    this.#k = instance.exports as unknown as PqExports;
    this.#refresh();
    const f32 = this.#f32;
    for (let j = 0; j < m; j++) {
      for (let c = 0; c < PQ_CENTROIDS; c++) {
        for (let t = 0; t < dsub; t++) f32[(this.#cbT >> 2) + (j * dsub + t) * PQ_CENTROIDS + c] = pq.codebooks[(j * PQ_CENTROIDS + c) * dsub + t]!;
      }
    }
    f32.set(pq.norms, this.#norms >> 2);
  }

  #refresh(): void {
    this.#f32 = new Float32Array(this.#memory.buffer);
    this.#u8 = new Uint8Array(this.#memory.buffer);
    this.out = new Float32Array(this.#memory.buffer, this.#out, PQ_SCAN_BLOCK);
  }

  /** Bytes of this memory. */
  get bytes(): number {
    return this.#memory.buffer.byteLength;
  }

  /** Whether IVF l2 list terms are installed. */
  get hasListTerms(): boolean {
    return this.#lists > 0;
  }

  /**
   * IVF-PQ with l2 (Faiss's precomputed table): for each of `nList` centroids (rows of
   * `centroids`), terms[l][j, c] = ‖r_jc‖² + 2 centroid_j · r_jc, so that ‖q − centroid − r‖² =
   * ‖q − centroid‖² + Σ_j (terms[l][j, c_j] − 2 q_j · r_jc_j). nList = 0 drops them.
   */
  setListTerms(centroids: Float32Array, nList: number): void {
    const { dim, m } = this.#pq;
    const per = m * PQ_CENTROIDS * 4;
    const end = this.#terms + nList * per;
    const have = this.#memory.buffer.byteLength;
    if (end > have) {
      this.#memory.grow(Math.ceil((end - have) / PAGE));
      this.#refresh();
    }
    for (let l = 0; l < nList; l++) {
      this.#f32.set(centroids.subarray(l * dim, (l + 1) * dim), this.#q >> 2);
      this.#k.innerTable(this.#q, this.#cbT, m, this.#pq.dsub, this.#terms + l * per, 2, this.#norms);
    }
    this.#lists = nList;
  }

  /**
   * Installs the query's table: table[j, c] = scale · q_j · r_jc, plus ‖r_jc‖² when `withNorms`
   * (scale −2 with norms: ‖q_j − r_jc‖² − ‖q_j‖², the l2 table of a residual query).
   */
  setQuery(q: Float32Array, scale: number, withNorms: boolean): void {
    const { m, dsub } = this.#pq;
    this.#f32.set(q, this.#q >> 2);
    this.#k.innerTable(this.#q, this.#cbT, m, dsub, this.#qTable, scale, withNorms ? this.#norms : 0);
  }

  /** The table of list l: its terms plus the query's table (IVF-PQ l2 with terms). */
  listTable(l: number): void {
    const n = this.#pq.m * PQ_CENTROIDS;
    this.#k.addTables(this.#terms + l * n * 4, this.#qTable, this.#lTable, n);
  }

  /**
   * Distances of `n` ≤ PQ_SCAN_BLOCK codes (copied from `src` at `offset`): bias + Σ table look-ups,
   * with the list's table (after `listTable`) or the query's, into `out` (no allocation: the
   * hot loop of IVF-PQ); `scan` returns a copy.
   */
  scanInto(src: Uint8Array, offset: number, n: number, bias: number, useListTable: boolean): void {
    const m = this.#pq.m;
    this.#u8.set(src.subarray(offset, offset + n * m), this.#codes);
    this.#k.scan(this.#codes, n, m, useListTable ? this.#lTable : this.#qTable, bias, this.#out);
  }

  /** `scanInto`, returning a copy of the n distances. */
  scan(src: Uint8Array, offset: number, n: number, bias: number, useListTable: boolean): Float32Array {
    this.scanInto(src, offset, n, bias, useListTable);
    return this.out.slice(0, n);
  }

  encode(data: Float32Array, count: number, out: Uint8Array, offset: number): void {
    const { dim, m, dsub } = this.#pq;
    for (let i0 = 0; i0 < count; i0 += ENCODE_BLOCK) {
      const n = Math.min(ENCODE_BLOCK, count - i0);
      this.#f32.set(data.subarray(i0 * dim, (i0 + n) * dim), this.#x >> 2);
      this.#k.encode(this.#x, n, this.#cbT, this.#norms, m, dsub, this.#qTable, this.#enc);
      out.set(this.#u8.subarray(this.#enc, this.#enc + n * m), offset + i0 * m);
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
