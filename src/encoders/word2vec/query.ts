/**
 * Similarity queries over word vectors, with gensim's semantics (docs/word-vectors.md#queries):
 * cosine similarity on unit-length vectors, the words of the query left out of the answers.
 *
 * The scan is exact: every row (or the first `restrictVocab`) is compared with the query by the
 * project's WebAssembly SIMD kernels (`distRange` for one query, `distBlock` for a block of
 * queries in the evaluation), over a copy of the unit vectors kept per `KeyedVectors`.
 */
import { OmnivecError, describe } from '../../errors.js';
import { Arena } from '../../vector/arena.js';
import { TopK } from '../../vector/heap.js';
import { checkInt } from '../../checks.js';
import { KeyedVectors, checkKv } from './keyed-vectors.js';

/** A word of the vocabulary, or a vector of the vectors' dimension (used as it is, not normalised). */
export type QueryTerm = string | Float32Array;

/** One answer: the word, its row in the vocabulary and its score (cosine, or 3CosMul's product). */
export interface Neighbour {
  word: string;
  row: number;
  score: number;
}

export interface MostSimilarOptions {
  /** Terms that pull towards the answer (each weight +1). */
  positive?: readonly QueryTerm[];
  /** Terms that push away (each weight −1). */
  negative?: readonly QueryTerm[];
  /** How many answers (default 10; 0 gives none). */
  topn?: number;
  /** Search only the first `restrictVocab` rows (the most frequent words of a trained model). */
  restrictVocab?: number;
}

export interface CosmulOptions extends MostSimilarOptions {
  /** Added to the denominator (default 1e-3, Levy & Goldberg 2014; gensim's most_similar_cosmul uses 1e-6). */
  epsilon?: number;
}

export interface AnalogyOptions {
  /** `add` (3CosAdd, default: gensim's most_similar) or `mul` (3CosMul, gensim's most_similar_cosmul). */
  method?: 'add' | 'mul';
  topn?: number;
  restrictVocab?: number;
  /** 3CosMul's epsilon (default 1e-3). */
  epsilon?: number;
}

// ---------------------------------------------------------------------------------------------
// The scanner: unit vectors in WebAssembly memory and the kernels over them

const IP = 1; // kernel metric code: distance = 1 − a·b
/** Rows per block in `block` (the block of distances is nq × BLOCK_ROWS floats). */
export const BLOCK_ROWS = 4096;
/** Queries per block in `block`. */
export const BLOCK_QUERIES = 96;
/** Above this many bytes of vectors the scan runs in plain JavaScript (the kernels' memory is 32-bit). */
const WASM_LIMIT = 2 ** 31;

/**
 * Scores rows against queries: dot products of unit vectors, returned as the kernels' distances
 * `1 − cos` (float32). One per `KeyedVectors` (cached; the vectors must not change afterwards).
 */
export class Scanner {
  readonly rows: number;
  readonly dim: number;
  readonly #arena: Arena | null;
  readonly #base: number = 0;
  readonly #q: number = 0;
  readonly #out: number = 0;
  readonly #unit: Float32Array | null = null;
  readonly #scratch: Float32Array;
  readonly #blockOut: Float32Array;

  /** `wasm: false` forces the plain JavaScript scan (used above 2 GiB of vectors; tests compare the two). */
  constructor(kv: KeyedVectors, options: { wasm?: boolean } = {}) {
    this.rows = kv.size;
    this.dim = kv.dim;
    const d = kv.dim;
    const bytes = kv.vectors.length * 4;
    if (options.wasm !== false && bytes + 2 * BLOCK_QUERIES * BLOCK_ROWS * 4 < WASM_LIMIT) {
      const outFloats = Math.max(this.rows, BLOCK_QUERIES * BLOCK_ROWS);
      const arena = new Arena(bytes + (BLOCK_QUERIES * d + outFloats) * 4 + 65536);
      this.#arena = arena;
      this.#q = arena.alloc(BLOCK_QUERIES * d * 4);
      this.#out = arena.alloc(outFloats * 4);
      this.#base = arena.alloc(Math.max(bytes, 4));
      unitRows(kv.vectors, d, arena.f32.subarray(this.#base / 4, this.#base / 4 + kv.vectors.length));
      this.#scratch = new Float32Array(0);
      this.#blockOut = new Float32Array(0);
    } else {
      this.#arena = null;
      this.#unit = kv.unitVectors();
      this.#scratch = new Float32Array(this.rows);
      this.#blockOut = new Float32Array(BLOCK_QUERIES * BLOCK_ROWS);
    }
  }

  /** The unit vector of row i (a view; do not keep it across calls). */
  unitRow(i: number): Float32Array {
    const d = this.dim;
    if (this.#arena === null) return this.#unit!.subarray(i * d, (i + 1) * d);
    const at = this.#base / 4 + i * d;
    return this.#arena.f32.subarray(at, at + d);
  }

  /** Distances `1 − q·row` of one query to rows [0, n), in a view valid until the next call. */
  distances(query: Float32Array, n: number): Float32Array {
    const d = this.dim;
    if (this.#arena === null) {
      const u = this.#unit!;
      const out = this.#scratch;
      for (let i = 0; i < n; i++) out[i] = 1 - dotAt(u, i * d, query, d);
      return out.subarray(0, n);
    }
    const a = this.#arena;
    a.f32.set(query, this.#q / 4);
    a.k.distRange(IP, this.#q, this.#base, d * 4, n, d, this.#out);
    return a.f32.subarray(this.#out / 4, this.#out / 4 + n);
  }

  /**
   * Distances of `nq` ≤ BLOCK_QUERIES queries (row-major in `queries`) to rows [start, start + count),
   * count ≤ BLOCK_ROWS: a view of nq × count floats (query-major) valid until the next call.
   */
  block(queries: Float32Array, nq: number, start: number, count: number): Float32Array {
    const d = this.dim;
    if (this.#arena === null) {
      const u = this.#unit!;
      const out = this.#blockOut;
      for (let q = 0; q < nq; q++) {
        const qv = queries.subarray(q * d, (q + 1) * d);
        for (let j = 0; j < count; j++) out[q * count + j] = 1 - dotAt(u, (start + j) * d, qv, d);
      }
      return out.subarray(0, nq * count);
    }
    const a = this.#arena;
    a.f32.set(queries.subarray(0, nq * d), this.#q / 4);
    a.k.distBlock(IP, this.#q, nq, d * 4, this.#base + start * d * 4, count, d * 4, d, this.#out);
    return a.f32.subarray(this.#out / 4, this.#out / 4 + nq * count);
  }
}

const scanners = new WeakMap<KeyedVectors, Scanner>();

/** The scanner of `kv`, built on first use. */
export function scannerOf(kv: KeyedVectors): Scanner {
  let s = scanners.get(kv);
  if (s === undefined) {
    s = new Scanner(kv);
    scanners.set(kv, s);
  }
  return s;
}

/** Rows scaled to unit length as `KeyedVectors.unitVectors` does (same float32 values). */
function unitRows(v: Float32Array, d: number, out: Float32Array): void {
  const n = v.length / d;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = i * d; j < (i + 1) * d; j++) s += v[j]! * v[j]!;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = i * d; j < (i + 1) * d; j++) out[j] = v[j]! * inv;
  }
}

function dotAt(u: Float32Array, at: number, q: Float32Array, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) s += u[at + j]! * q[j]!;
  return s;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
}

// ---------------------------------------------------------------------------------------------
// Arguments


/** The rows searched: all, or the first `restrictVocab`. */
function searchRows(kv: KeyedVectors, restrictVocab: unknown): number {
  return Math.min(kv.size, checkInt(restrictVocab, 'restrictVocab', { min: 1, fallback: kv.size }));
}

interface Term { vector: Float32Array; row: number }

/** A word's unit vector and row (`not_found` naming a missing word), or a vector as it is. */
function resolve(kv: KeyedVectors, scanner: Scanner, t: unknown, where: string): Term {
  if (typeof t === 'string') {
    const row = kv.rowOf(t);
    return { vector: scanner.unitRow(row).slice(), row };
  }
  if (t instanceof Float32Array) {
    if (t.length !== kv.dim) {
      throw new OmnivecError('dimension_mismatch', `${where}: expected a vector of ${kv.dim} numbers (the vectors' dimension), got ${t.length}`);
    }
    return { vector: t, row: -1 };
  }
  throw new OmnivecError('invalid_argument', `${where}: expected a word or a Float32Array, got ${describe(t)}`);
}

function terms(kv: KeyedVectors, scanner: Scanner, list: unknown, name: string): Term[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new OmnivecError('invalid_argument', `${name}: expected an array of words or vectors, got ${describe(list)}`);
  return list.map((t, i) => resolve(kv, scanner, t, `${name}[${i}]`));
}

/** gensim's get_mean_vector(…, post_normalize=True): Σ weight·term, scaled to unit length (zero stays zero). */
function unitMean(pos: Term[], neg: Term[], dim: number): Float32Array {
  const m = new Float64Array(dim);
  for (const t of pos) for (let j = 0; j < dim; j++) m[j] += t.vector[j]!;
  for (const t of neg) for (let j = 0; j < dim; j++) m[j] -= t.vector[j]!;
  let s = 0;
  for (let j = 0; j < dim; j++) s += m[j]! * m[j]!;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  const out = new Float32Array(dim);
  for (let j = 0; j < dim; j++) out[j] = m[j]! * inv;
  return out;
}

/**
 * The `k` smallest of `dist` (rows [0, dist.length)), skipping the rows in `exclude`, nearest first
 * (ties by row).
 */
export function smallest(dist: Float32Array, k: number, exclude: readonly number[]): { rows: Uint32Array; dists: Float32Array } {
  const heap = new TopK(Math.max(1, Math.min(k, dist.length)));
  for (let i = 0; i < dist.length; i++) {
    const d = dist[i]!;
    if (d < heap.worst() && !exclude.includes(i)) heap.push(i, d);
  }
  const rows = new Uint32Array(heap.size);
  const dists = new Float32Array(heap.size);
  heap.drainSorted(rows, dists);
  return { rows, dists };
}

// ---------------------------------------------------------------------------------------------
// Queries

/**
 * The `topn` words most similar to the mean of the positive terms minus the negative ones, as
 * gensim's `most_similar`: word terms are unit vectors (vector terms are used as they are), the
 * weighted mean is scaled to unit length, every row (or the first `restrictVocab`) is scored by
 * cosine, and the query's words are left out. Scores are cosines, best first.
 *
 * Errors: `not_found` naming a word missing from the vocabulary, `dimension_mismatch` for a vector
 * of another dimension, `invalid_argument` for no terms or bad options.
 */
export function mostSimilar(kv: KeyedVectors, options: MostSimilarOptions): Neighbour[] {
  checkKv(kv);
  if (options === null || typeof options !== 'object') throw new OmnivecError('invalid_argument', `options: expected {positive, negative?, topn?}, got ${describe(options)}`);
  const topn = checkInt(options.topn, 'topn', { min: 0, fallback: 10 });
  const n = searchRows(kv, options.restrictVocab);
  const scanner = scannerOf(kv);
  const pos = terms(kv, scanner, options.positive, 'positive');
  const neg = terms(kv, scanner, options.negative, 'negative');
  if (pos.length + neg.length === 0) throw new OmnivecError('invalid_argument', 'positive: expected at least one word or vector to compare with, got none');
  if (topn === 0) return [];
  const mean = unitMean(pos, neg, kv.dim);
  const exclude = [...pos, ...neg].filter((t) => t.row >= 0).map((t) => t.row);
  const { rows } = smallest(scanner.distances(mean, n), topn, exclude);
  return finish(kv, rows, (r) => dot(scanner.unitRow(r), mean));
}

/** Scores the chosen rows exactly (float64 over the float32 unit vectors) and orders them best first. */
function finish(kv: KeyedVectors, rows: Uint32Array, score: (row: number) => number): Neighbour[] {
  const out: Neighbour[] = [];
  for (const r of rows) out.push({ word: kv.words[r]!, row: r, score: score(r) });
  out.sort((a, b) => b.score - a.score || a.row - b.row);
  return out;
}

/**
 * 3CosMul (Levy & Goldberg 2014, eq. 4), as gensim's `most_similar_cosmul`: each cosine shifted to
 * [0, 1] as (1 + cos) / 2, the product over positive terms divided by the product over negative
 * terms plus `epsilon`; the query's words left out. Needs at least one positive term.
 */
export function mostSimilarCosmul(kv: KeyedVectors, options: CosmulOptions): Neighbour[] {
  checkKv(kv);
  if (options === null || typeof options !== 'object') throw new OmnivecError('invalid_argument', `options: expected {positive, negative?, topn?}, got ${describe(options)}`);
  const topn = checkInt(options.topn, 'topn', { min: 0, fallback: 10 });
  const n = searchRows(kv, options.restrictVocab);
  const epsilon = options.epsilon ?? 1e-3;
  if (typeof epsilon !== 'number' || !(epsilon > 0) || !Number.isFinite(epsilon)) {
    throw new OmnivecError('invalid_argument', `epsilon: expected a positive number, got ${describe(epsilon)}`);
  }
  const scanner = scannerOf(kv);
  const pos = terms(kv, scanner, options.positive, 'positive');
  const neg = terms(kv, scanner, options.negative, 'negative');
  if (pos.length === 0) throw new OmnivecError('invalid_argument', 'positive: expected at least one word or vector (3CosMul divides by the negative terms), got none');
  if (topn === 0) return [];
  const num = new Float64Array(n).fill(1);
  const den = new Float64Array(n).fill(1);
  for (const t of pos) {
    const d = scanner.distances(t.vector, n);
    for (let i = 0; i < n; i++) num[i] *= (2 - d[i]!) / 2;
  }
  for (const t of neg) {
    const d = scanner.distances(t.vector, n);
    for (let i = 0; i < n; i++) den[i] *= (2 - d[i]!) / 2;
  }
  const negScore = new Float32Array(n);
  for (let i = 0; i < n; i++) negScore[i] = -(num[i]! / (den[i]! + epsilon));
  const exclude = [...pos, ...neg].filter((t) => t.row >= 0).map((t) => t.row);
  const { rows } = smallest(negScore, topn, exclude);
  return finish(kv, rows, (r) => {
    const u = scanner.unitRow(r);
    let p = 1;
    let q = 1;
    for (const t of pos) p *= (1 + dot(u, t.vector)) / 2;
    for (const t of neg) q *= (1 + dot(u, t.vector)) / 2;
    return p / (q + epsilon);
  });
}

/**
 * Solves "a is to b as c is to ?": `add` ranks by cos(x, b − a + c) on unit vectors (3CosAdd,
 * gensim's most_similar(positive=[b, c], negative=[a])), `mul` by 3CosMul. a, b and c are left out.
 */
export function analogy(kv: KeyedVectors, a: string, b: string, c: string, options: AnalogyOptions = {}): Neighbour[] {
  const method = options.method ?? 'add';
  if (method !== 'add' && method !== 'mul') throw new OmnivecError('invalid_argument', `method: expected "add" or "mul", got ${describe(method)}`);
  for (const [name, w] of [['a', a], ['b', b], ['c', c]] as const) {
    if (typeof w !== 'string') throw new OmnivecError('invalid_argument', `${name}: expected a word, got ${describe(w)}`);
  }
  const q = { positive: [b, c], negative: [a], topn: options.topn, restrictVocab: options.restrictVocab };
  return method === 'add' ? mostSimilar(kv, q) : mostSimilarCosmul(kv, { ...q, epsilon: options.epsilon });
}

/** The `k` nearest words to a word (itself left out) or to a vector, by cosine. */
export function nearest(kv: KeyedVectors, query: QueryTerm, k = 10, options: { restrictVocab?: number } = {}): Neighbour[] {
  return mostSimilar(kv, { positive: [query], topn: k, restrictVocab: options.restrictVocab });
}

/** Cosine similarity of two words (of their unit vectors; 0 when one is a zero vector). */
export function similarity(kv: KeyedVectors, a: string, b: string): number {
  checkKv(kv);
  for (const [name, w] of [['a', a], ['b', b]] as const) {
    if (typeof w !== 'string') throw new OmnivecError('invalid_argument', `${name}: expected a word, got ${describe(w)}`);
  }
  const s = scannerOf(kv);
  return dot(s.unitRow(kv.rowOf(a)), s.unitRow(kv.rowOf(b)));
}

/**
 * The word that fits least with the others, as gensim's `doesnt_match`: the one whose unit vector
 * has the lowest cosine to the unit-length mean of all their unit vectors (on a tie, the first in
 * code-unit order). Every word must be known (`not_found` naming the first that is not).
 */
export function doesntMatch(kv: KeyedVectors, words: readonly string[]): string {
  checkKv(kv);
  if (!Array.isArray(words) || words.length === 0) throw new OmnivecError('invalid_argument', `words: expected a non-empty array of words, got ${describe(words)}`);
  const scanner = scannerOf(kv);
  const ts = words.map((w, i) => {
    if (typeof w !== 'string') throw new OmnivecError('invalid_argument', `words[${i}]: expected a word, got ${describe(w)}`);
    return resolve(kv, scanner, w, `words[${i}]`);
  });
  const mean = unitMean(ts, [], kv.dim);
  let worst = '';
  let worstScore = Infinity;
  for (let i = 0; i < ts.length; i++) {
    const s = Math.fround(dot(ts[i]!.vector, mean));
    if (s < worstScore || (s === worstScore && words[i]! < worst)) {
      worst = words[i]!;
      worstScore = s;
    }
  }
  return worst;
}
