/**
 * KeyedVectors: a vocabulary of words (or item ids) with one vector each, the result of Word2Vec,
 * Item2Vec or a loaded word2vec / fastText file. Rows are in vocabulary order, most frequent first
 * when the model was trained here (or in the file's order when loaded).
 *
 * Core contract (stable; other modules rely on it): `words`, `dim`, `vectors` (row-major float32,
 * `words.length × dim`), `counts` (corpus frequency of each word, or null when unknown, e.g. a
 * file without counts), `indexOf`, `has`, `vector`, `row`. Query methods live beside it.
 */
import { OmnivecError, describe, invalidArgument } from '../../errors.js';
import { checkPositiveInt } from '../../checks.js';

/** Refuses anything but KeyedVectors (the queries' and evaluations' first argument). */
export function checkKv(kv: unknown): asserts kv is KeyedVectors {
  if (!(kv instanceof KeyedVectors)) throw invalidArgument(`kv: expected KeyedVectors, got ${describe(kv)}`);
}

export class KeyedVectors {
  readonly words: readonly string[];
  readonly dim: number;
  readonly vectors: Float32Array;
  readonly counts: Float64Array | null;
  readonly #index: Map<string, number>;
  #unit: Float32Array | null = null;

  constructor(words: readonly string[], vectors: Float32Array, dim: number, counts: Float64Array | null = null) {
    checkPositiveInt(dim, 'dim');
    if (vectors.length !== words.length * dim) {
      throw invalidArgument(`vectors: expected ${words.length} × ${dim} = ${words.length * dim} numbers, got ${vectors.length}`);
    }
    if (counts !== null && counts.length !== words.length) {
      throw invalidArgument(`counts: expected ${words.length} numbers, got ${counts.length}`);
    }
    this.words = words;
    this.dim = dim;
    this.vectors = vectors;
    this.counts = counts;
    this.#index = new Map();
    for (let i = 0; i < words.length; i++) {
      if (!this.#index.has(words[i]!)) this.#index.set(words[i]!, i);
    }
  }

  get size(): number { return this.words.length; }

  /** Row of a word, or -1. */
  indexOf(word: string): number { return this.#index.get(word) ?? -1; }

  has(word: string): boolean { return this.#index.has(word); }

  /** Row of a word; `not_found` naming the word when it is not in the vocabulary. */
  rowOf(word: string): number {
    const i = this.#index.get(word);
    if (i === undefined) {
      throw new OmnivecError('not_found', `word ${JSON.stringify(word)} is not in the vocabulary (${this.words.length} words)`, { word });
    }
    return i;
  }

  /** The vector of a word (a view into `vectors`; copy it before changing it). */
  vector(word: string): Float32Array { return this.row(this.rowOf(word)); }

  /** The vector of row i (a view). */
  row(i: number): Float32Array { return this.vectors.subarray(i * this.dim, (i + 1) * this.dim); }

  /** All rows scaled to unit length (zero rows stay zero), computed once. */
  unitVectors(): Float32Array {
    if (this.#unit !== null) return this.#unit;
    const d = this.dim;
    const u = new Float32Array(this.vectors.length);
    for (let i = 0; i < this.words.length; i++) {
      let s = 0;
      for (let j = i * d; j < (i + 1) * d; j++) s += this.vectors[j]! * this.vectors[j]!;
      const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
      for (let j = i * d; j < (i + 1) * d; j++) u[j] = this.vectors[j]! * inv;
    }
    this.#unit = u;
    return u;
  }
}
