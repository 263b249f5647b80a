/**
 * SIF sentence embeddings (Arora, Liang, Ma 2017, "A Simple but Tough-to-Beat Baseline for
 * Sentence Embeddings", ICLR): a sentence vector is the mean of its known words' vectors, each
 * weighted by a / (a + p(w)), with the projection on the first principal component(s) of a fitted
 * set of sentence vectors removed. Design and measurements: docs/sif.md.
 *
 * `fitSif` fits a {@link SifModel}; `averageEncoder` builds the plain unweighted mean for
 * comparison. Both encode synchronously (`encode`, `encodeBatch`); `asEncoder()` wraps them as an
 * encoder of the contract (types.ts: async `encode` to a batch, `dim`, JSON `spec`) that a
 * collection can bind.
 */
import { createHash } from 'node:crypto';
import { OmnivecError, describe, invalidArgument } from '../../errors.js';
import type { KeyedVectors } from '../word2vec/keyed-vectors.js';
import { createTokenizer, type Tokenizer, type TokenizerSpec } from '../text/tokenizer.js';
import { GramAccumulator, topEigenvectors } from './linalg.js';
import { NO_KNOWN_WORD, ZERO_OUTPUT, isZeroVector, noVectorError } from '../no-vector.js';
import type { EncodeOptions, Encoder, Encoding } from '../types.js';

/** Where the word probabilities p(w) come from. */
export type CountsSource = 'vectors' | 'corpus';

export interface SifFitOptions {
  /** The smoothing parameter a of the weight a / (a + p(w)); default 1e-3 (the paper: 1e-4 … 1e-3). */
  a?: number;
  /**
   * How sentences are cut into words: a Tokenizer or its spec (default `{kind: 'words'}`). Use
   * the tokenizer the word vectors were trained with.
   */
  tokenizer?: Tokenizer | TokenizerSpec;
  /**
   * p(w) from the vectors' counts (`kv.counts`, the training corpus' frequencies) or counted on
   * the fitting sentences. Default: 'vectors' when `kv.counts` exists, else 'corpus'.
   */
  counts?: CountsSource;
  /** Principal components removed; default 1 (the paper's). 0 keeps the weighted mean. */
  components?: number;
  /**
   * Scale every word vector to unit length before averaging (default false: the paper averages
   * the raw vectors). Word2Vec norms grow with frequency; see docs/sif.md for what this does on STS-B.
   */
  normalizeWords?: boolean;
}

/** What fitting saw. */
export interface SifFitStats {
  /** Sentences read. */
  sentences: number;
  /** Sentences without a single known word: encoded as the zero vector, left out of the components. */
  emptySentences: number;
  /** Tokens read, and those found in the vocabulary. */
  tokens: number;
  knownTokens: number;
  countsFrom: CountsSource;
  /** Σ counts behind p(w) = count(w) / total. */
  total: number;
  /** Eigenvalues of XᵀX for the removed components (σ², largest first) and their share of trace(XᵀX). */
  eigenvalues: number[];
  explained: number[];
}

/** The JSON form of a model, without the word vectors and weights (see `saveSif` for the folder). */
export interface SifJson {
  format: 'omnivec-sif';
  version: 1;
  kind: 'sif' | 'average';
  dim: number;
  /** Vocabulary size of the word vectors the model goes with. */
  vocabSize: number;
  /** null for the plain average. */
  a: number | null;
  tokenizer: TokenizerSpec;
  /** Word vectors scaled to unit length before averaging. */
  normalizeWords: boolean;
  countsFrom: CountsSource | null;
  /** k rows of `dim` numbers (unit, orthogonal). */
  components: number[][];
  stats: SifFitStats | null;
}

/** The spec of a SIF (or plain average) model, as a collection stores it. */
export interface SifSpec {
  /** Identifies the model (default `<kind>:<fingerprint>`): records from another model are refused by a bound collection. */
  model: string;
  dim: number;
  kind: 'sif' | 'average';
  [key: string]: unknown;
}

export interface SifEncodeOptions {
  /**
   * Give a text without a known word the zero vector instead of refusing it (default false). For
   * callers that count or skip such texts themselves: STS evaluation, `train sif --into`.
   */
  allowEmpty?: boolean;
}

export const DEFAULT_A = 1e-3;

function checkA(a: unknown): number {
  if (typeof a !== 'number' || !Number.isFinite(a) || a <= 0) {
    throw invalidArgument(`a: expected a positive finite number (e.g. 1e-3), got ${describe(a)}`);
  }
  return a;
}

/** A Tokenizer as it is, a spec through createTokenizer, undefined as the default `{kind: 'words'}`. */
export function resolveTokenizer(t: unknown): Tokenizer {
  if (t === undefined) return createTokenizer();
  if (t === null || typeof t !== 'object') {
    throw invalidArgument(`tokenizer: expected a Tokenizer or a spec such as {"kind": "words"}, got ${describe(t)}`);
  }
  if (typeof (t as Tokenizer).tokenize === 'function') {
    if ((t as Tokenizer).spec === null || typeof (t as Tokenizer).spec !== 'object') {
      throw invalidArgument(`tokenizer.spec: expected the spec the tokenizer was made from, got ${describe((t as Tokenizer).spec)}`);
    }
    return t as Tokenizer;
  }
  return createTokenizer(t as TokenizerSpec);
}

/** Weights a / (a + count / total) for every row; rows with no count (p = 0) get weight 1. */
export function sifWeights(counts: ArrayLike<number>, total: number, a: number): Float32Array {
  const w = new Float32Array(counts.length);
  for (let i = 0; i < counts.length; i++) w[i] = total > 0 ? a / (a + counts[i]! / total) : 1;
  return w;
}

/**
 * A weighted bag-of-words sentence encoder: the SIF model, or the plain average (no weights, no
 * components). Immutable after construction; `encode` is synchronous and allocation-light.
 */
export class SifModel {
  readonly kind: 'sif' | 'average';
  readonly kv: KeyedVectors;
  readonly tokenizer: Tokenizer;
  /** null for the plain average. */
  readonly a: number | null;
  /** One weight per vocabulary row, or null (all 1: the plain average). */
  readonly weights: Float32Array | null;
  /** Row-major k×dim, unit orthogonal rows: the directions removed from every sentence vector. */
  readonly components: Float32Array;
  readonly normalizeWords: boolean;
  readonly countsFrom: CountsSource | null;
  readonly stats: SifFitStats | null;
  /** The rows averaged: `kv.vectors`, or `kv.unitVectors()` with `normalizeWords`. */
  readonly #rows: Float32Array;
  #fingerprint: string | null = null;

  constructor(init: {
    kind: 'sif' | 'average'; kv: KeyedVectors; tokenizer: Tokenizer; a: number | null; weights: Float32Array | null;
    components: Float32Array; normalizeWords?: boolean; countsFrom: CountsSource | null; stats: SifFitStats | null;
  }) {
    const { kv } = init;
    if (init.weights !== null && init.weights.length !== kv.size) {
      throw new OmnivecError('dimension_mismatch', `weights: expected ${kv.size} numbers (one per word of the vocabulary), got ${init.weights.length}`);
    }
    if (init.components.length % kv.dim !== 0) {
      throw new OmnivecError('dimension_mismatch', `components: expected rows of ${kv.dim} numbers (the word vectors' dimension), got ${init.components.length} numbers`);
    }
    this.kind = init.kind;
    this.kv = kv;
    this.tokenizer = resolveTokenizer(init.tokenizer);
    this.a = init.a;
    this.weights = init.weights;
    this.components = init.components;
    this.normalizeWords = init.normalizeWords ?? false;
    this.#rows = this.normalizeWords ? kv.unitVectors() : kv.vectors;
    this.countsFrom = init.countsFrom;
    this.stats = init.stats;
  }

  get dim(): number { return this.kv.dim; }

  /** Number of principal components removed. */
  get componentCount(): number { return this.components.length / this.kv.dim; }

  /**
   * The weighted mean of the known words of `tokens` into `out` (float64, length dim), before the
   * component removal; returns the number of known words (0: `out` is all zeros).
   */
  weightedMean(tokens: readonly string[], out: Float64Array): number {
    const d = this.kv.dim;
    const vec = this.#rows;
    const w = this.weights;
    out.fill(0);
    let known = 0;
    for (const t of tokens) {
      const r = this.kv.indexOf(t);
      if (r < 0) continue;
      known++;
      const weight = w === null ? 1 : w[r]!;
      const base = r * d;
      for (let j = 0; j < d; j++) out[j] = out[j]! + weight * vec[base + j]!;
    }
    if (known > 0) for (let j = 0; j < d; j++) out[j] = out[j]! / known;
    return known;
  }

  /** v ← v − Σ uᵢ uᵢᵀ v over the components (in place). */
  removeComponents(v: Float64Array): void {
    const d = this.kv.dim;
    const u = this.components;
    for (let c = 0; c < u.length; c += d) {
      let dot = 0;
      for (let j = 0; j < d; j++) dot += u[c + j]! * v[j]!;
      for (let j = 0; j < d; j++) v[j] = v[j]! - dot * u[c + j]!;
    }
  }

  /**
   * The vector of one text into `out` (length dim); returns the number of known words (0: `out`
   * is the zero vector, which the caller refuses or skips: this low-level form does not check).
   */
  encodeInto(text: string, out: Float32Array, scratch = new Float64Array(this.kv.dim)): number {
    if (typeof text !== 'string') throw invalidArgument(`text: expected a string, got ${describe(text)}`);
    const known = this.weightedMean(this.tokenizer.tokenize(text), scratch);
    if (known > 0) this.removeComponents(scratch);
    for (let j = 0; j < scratch.length; j++) out[j] = scratch[j]!;
    return known;
  }

  /**
   * One vector per text. A text without a known word has no vector: it is refused
   * (`invalid_argument`: `text[3] "qwzx": none of its words is in the model's vocabulary, so it
   * has no vector`), or given the zero vector with `allowEmpty`.
   */
  encode(texts: Iterable<string>, options: SifEncodeOptions = {}): Float32Array[] {
    if (texts === null || typeof texts !== 'object' || !(Symbol.iterator in texts)) {
      throw invalidArgument(`texts: expected an array (or iterable) of strings, got ${describe(texts)}`);
    }
    const allowEmpty = allowEmptyOf(options);
    const scratch = new Float64Array(this.kv.dim);
    const out: Float32Array[] = [];
    let i = 0;
    for (const t of texts) {
      const v = new Float32Array(this.kv.dim);
      this.#encodeChecked(t, v, scratch, i++, allowEmpty);
      out.push(v);
    }
    return out;
  }

  /** The vectors of `texts` as one row-major `texts.length × dim` batch (texts without a known word: as {@link encode}). */
  encodeBatch(texts: readonly string[], options: SifEncodeOptions = {}): Float32Array {
    if (!Array.isArray(texts)) throw invalidArgument(`texts: expected an array of strings, got ${describe(texts)}`);
    const allowEmpty = allowEmptyOf(options);
    const d = this.kv.dim;
    const out = new Float32Array(texts.length * d);
    const scratch = new Float64Array(d);
    for (let i = 0; i < texts.length; i++) this.#encodeChecked(texts[i]!, out.subarray(i * d, (i + 1) * d), scratch, i, allowEmpty);
    return out;
  }

  /** {@link encodeInto}, refusing a text whose vector is zero unless `allowEmpty`. */
  #encodeChecked(text: string, out: Float32Array, scratch: Float64Array<ArrayBuffer>, index: number, allowEmpty: boolean): void {
    if (typeof text !== 'string') throw invalidArgument(`text[${index}]: expected a string, got ${describe(text)}`);
    const known = this.encodeInto(text, out, scratch);
    if (allowEmpty) return;
    if (known === 0) throw noVectorError(index, text, NO_KNOWN_WORD);
    // Known words whose mean lies along the removed components: no direction left either.
    if (isZeroVector(out)) throw noVectorError(index, text, ZERO_OUTPUT);
  }

  /**
   * A content hash of the model (kind, a, tokenizer, components, weights, vocabulary and vectors):
   * the default model name of {@link asEncoder}, stable across save / load.
   */
  fingerprint(): string {
    if (this.#fingerprint !== null) return this.#fingerprint;
    const h = createHash('sha256');
    h.update(JSON.stringify({ kind: this.kind, a: this.a, dim: this.dim, tokenizer: this.tokenizer.spec, normalizeWords: this.normalizeWords }));
    const bytes = (x: Float32Array): Uint8Array => new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    h.update(bytes(this.components));
    if (this.weights !== null) h.update(bytes(this.weights));
    h.update(this.kv.words.join('\n'));
    h.update(bytes(this.kv.vectors));
    this.#fingerprint = h.digest('hex').slice(0, 16);
    return this.#fingerprint;
  }

  /** The spec a collection stores; `model` defaults to `<kind>:<fingerprint>`. */
  spec(model?: string): SifSpec {
    return {
      model: model ?? `${this.kind}:${this.fingerprint()}`,
      kind: this.kind,
      dim: this.dim,
      a: this.a,
      components: this.componentCount,
      normalizeWords: this.normalizeWords,
      tokenizer: this.tokenizer.spec,
    };
  }

  /**
   * This model as an encoder of the contract (types.ts), for collections and the registry; `source`
   * (the model's folder) is recorded in its spec when given.
   */
  asEncoder(model?: string, options: { source?: string } = {}): SifEncoder {
    return new SifEncoder(this, model, options);
  }

  /** The model without its word vectors and weights (they go in files: `saveSif`). */
  toJSON(): SifJson {
    const d = this.kv.dim;
    const components: number[][] = [];
    for (let c = 0; c < this.components.length; c += d) components.push(Array.from(this.components.subarray(c, c + d)));
    return {
      format: 'omnivec-sif', version: 1, kind: this.kind, dim: d, vocabSize: this.kv.size, a: this.a,
      tokenizer: this.tokenizer.spec, normalizeWords: this.normalizeWords, countsFrom: this.countsFrom, components, stats: this.stats,
    };
  }

  /**
   * Rebuilds a model from {@link toJSON}'s output and its word vectors; the tokenizer is made from
   * `json.tokenizer` (or given, and then it must have that spec). `weights` (one per vocabulary
   * row) are required for SIF unless they can be recomputed: `countsFrom` is 'vectors' and
   * `kv.counts` is there.
   */
  static fromJSON(json: unknown, kv: KeyedVectors, weights?: Float32Array | null, tokenizer?: Tokenizer): SifModel {
    const j = checkSifJson(json);
    tokenizer ??= createTokenizer(j.tokenizer);
    if (j.dim !== kv.dim) throw new OmnivecError('dimension_mismatch', `dim: the model is ${j.dim}-d, the word vectors are ${kv.dim}-d`);
    if (j.vocabSize !== kv.size) {
      throw new OmnivecError('dimension_mismatch', `vocabSize: the model was fitted on ${j.vocabSize} words, the word vectors have ${kv.size}`);
    }
    if (JSON.stringify(tokenizer.spec) !== JSON.stringify(j.tokenizer)) {
      throw invalidArgument(`tokenizer: expected one made from ${JSON.stringify(j.tokenizer)}, got ${JSON.stringify(tokenizer.spec)}`);
    }
    const components = new Float32Array(j.components.length * j.dim);
    j.components.forEach((row, c) => components.set(row, c * j.dim));
    let w: Float32Array | null = null;
    if (j.kind === 'sif') {
      if (weights !== undefined && weights !== null) w = weights;
      else if (j.countsFrom === 'vectors' && kv.counts !== null) w = sifWeights(kv.counts, sum(kv.counts), j.a!);
      else throw invalidArgument(`weights: expected the SIF weights (${kv.size} numbers) for a model whose counts came from ${j.countsFrom === 'corpus' ? 'the fitting corpus' : 'vectors without counts'}, got none`);
    }
    return new SifModel({
      kind: j.kind, kv, tokenizer, a: j.a, weights: w, components, normalizeWords: j.normalizeWords, countsFrom: j.countsFrom, stats: j.stats,
    });
  }
}

function allowEmptyOf(options: SifEncodeOptions): boolean {
  if (options === null || typeof options !== 'object') throw invalidArgument(`options: expected { allowEmpty? }, got ${describe(options)}`);
  if (options.allowEmpty !== undefined && typeof options.allowEmpty !== 'boolean') throw invalidArgument(`allowEmpty: expected a boolean, got ${describe(options.allowEmpty)}`);
  return options.allowEmpty === true;
}

function sum(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return s;
}

/** Checks the shape of a parsed sif.json; `corrupt_file`-style messages are added by the loader. */
export function checkSifJson(json: unknown): SifJson {
  const bad = (what: string, got: unknown): never => {
    throw invalidArgument(`${what}, got ${describe(got)}`);
  };
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return bad('sif: expected an object', json);
  const j = json as Record<string, unknown>;
  if (j.format !== 'omnivec-sif') bad('format: expected "omnivec-sif"', j.format);
  if (j.version !== 1) {
    throw new OmnivecError('unsupported_version', `version: expected 1, got ${describe(j.version)}`);
  }
  if (j.kind !== 'sif' && j.kind !== 'average') bad('kind: expected "sif" or "average"', j.kind);
  if (!Number.isInteger(j.dim) || (j.dim as number) < 1) bad('dim: expected a positive integer', j.dim);
  if (!Number.isInteger(j.vocabSize) || (j.vocabSize as number) < 0) bad('vocabSize: expected a non-negative integer', j.vocabSize);
  if (j.kind === 'sif') checkA(j.a);
  else if (j.a !== null) bad('a: expected null for the plain average', j.a);
  if (j.tokenizer === null || typeof j.tokenizer !== 'object') bad('tokenizer: expected a tokenizer spec object', j.tokenizer);
  if (typeof j.normalizeWords !== 'boolean') bad('normalizeWords: expected a boolean', j.normalizeWords);
  if (j.countsFrom !== null && j.countsFrom !== 'vectors' && j.countsFrom !== 'corpus') bad('countsFrom: expected "vectors", "corpus" or null', j.countsFrom);
  if (!Array.isArray(j.components)) bad('components: expected an array of rows', j.components);
  (j.components as unknown[]).forEach((row, c) => {
    if (!Array.isArray(row) || row.length !== j.dim || !row.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      bad(`components[${c}]: expected ${j.dim as number} finite numbers`, row);
    }
  });
  return j as unknown as SifJson;
}

/** A {@link SifModel} behind the encoder contract (types.ts). */
export class SifEncoder implements Encoder<'text'> {
  readonly modality = 'text' as const;
  readonly model: SifModel;
  readonly spec: SifSpec;
  #closed = false;

  constructor(model: SifModel, name?: string, options: { source?: string } = {}) {
    this.model = model;
    this.spec = model.spec(name);
    if (options.source !== undefined) this.spec.source = options.source;
  }

  get dim(): number { return this.model.dim; }

  /**
   * One vector per text, row i for text i; `tokens` counts the words the tokenizer cut. A text
   * without a known word is refused (see {@link SifModel.encode}). `mode` is ignored.
   */
  async encode(texts: readonly string[], options: EncodeOptions = {}): Promise<Encoding> {
    if (this.#closed) throw invalidArgument(`${this.spec.model}: the encoder is closed`);
    if (!Array.isArray(texts)) throw invalidArgument(`texts: expected an array of strings, got ${describe(texts)}`);
    options?.signal?.throwIfAborted();
    const data = this.model.encodeBatch(texts);
    let tokens = 0;
    for (const t of texts) tokens += this.model.tokenizer.tokenize(t).length;
    options?.onProgress?.(texts.length, texts.length);
    return { data, dim: this.dim, count: texts.length, tokens };
  }

  /** Nothing to release (pure JS); encoding after it is refused, as for every encoder. */
  async close(): Promise<void> {
    this.#closed = true;
  }
}

/**
 * The plain unweighted mean of the known words' vectors (no weights, nothing removed), the
 * baseline SIF is measured against.
 */
export function averageEncoder(kv: KeyedVectors, options: { tokenizer?: Tokenizer | TokenizerSpec; normalizeWords?: boolean } = {}): SifModel {
  const tokenizer = resolveTokenizer(options?.tokenizer);
  const normalizeWords = checkBool('normalizeWords', options.normalizeWords);
  return new SifModel({
    kind: 'average', kv, tokenizer, a: null, weights: null, components: new Float32Array(0), normalizeWords, countsFrom: null, stats: null,
  });
}

function checkBool(name: string, v: unknown): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw invalidArgument(`${name}: expected a boolean, got ${describe(v)}`);
  return v;
}

/** Growable int32 store of the fitting sentences as vocabulary rows (for corpus counts: a second pass). */
class IdStore {
  ids = new Int32Array(1 << 16);
  length = 0;
  ends: number[] = [];

  push(id: number): void {
    if (this.length === this.ids.length) {
      const next = new Int32Array(this.ids.length * 2);
      next.set(this.ids);
      this.ids = next;
    }
    this.ids[this.length++] = id;
  }

  endSentence(): void { this.ends.push(this.length); }
}

async function* lines(sentences: Iterable<string> | AsyncIterable<string>): AsyncGenerator<string> {
  if (sentences === null || typeof sentences !== 'object' || (!(Symbol.iterator in sentences) && !(Symbol.asyncIterator in sentences))) {
    throw invalidArgument(`sentences: expected an iterable or async iterable of strings, got ${describe(sentences)}`);
  }
  let i = 0;
  for await (const s of sentences as AsyncIterable<string>) {
    if (typeof s !== 'string') throw invalidArgument(`sentences[${i}]: expected a string, got ${describe(s)}`);
    i++;
    yield s;
  }
}

/**
 * Fits SIF on a set of sentences: word weights a / (a + p(w)); the weighted mean of each
 * sentence's known words; the first `components` principal directions of those sentence vectors
 * (uncentered: eigenvectors of XᵀX, as TruncatedSVD in the paper's code), which `encode` removes.
 * Sentences are read once; with corpus counts their known words are kept as int32 ids for a
 * second pass (4 bytes a known token).
 */
export async function fitSif(kv: KeyedVectors, sentences: Iterable<string> | AsyncIterable<string>, options: SifFitOptions = {}): Promise<SifModel> {
  if (options === null || typeof options !== 'object') throw invalidArgument(`options: expected an object, got ${describe(options)}`);
  const tokenizer = resolveTokenizer(options.tokenizer);
  const a = checkA(options.a ?? DEFAULT_A);
  const k = options.components ?? 1;
  if (!Number.isInteger(k) || k < 0 || k > kv.dim) throw invalidArgument(`components: expected an integer from 0 to ${kv.dim} (the dimension), got ${describe(k)}`);
  const countsFrom = options.counts ?? (kv.counts !== null ? 'vectors' : 'corpus');
  if (countsFrom !== 'vectors' && countsFrom !== 'corpus') throw invalidArgument(`counts: expected "vectors" or "corpus", got ${describe(countsFrom)}`);
  if (countsFrom === 'vectors' && kv.counts === null) {
    throw invalidArgument('counts: expected word vectors with counts for counts "vectors", got vectors without counts (a file without frequencies); use counts "corpus"');
  }
  if (kv.size === 0) throw invalidArgument('kv: expected word vectors with at least one word, got an empty vocabulary');
  const normalizeWords = checkBool('normalizeWords', options.normalizeWords);

  const d = kv.dim;
  const gram = new GramAccumulator(d);
  const mean = new Float64Array(d);
  const stats: SifFitStats = {
    sentences: 0, emptySentences: 0, tokens: 0, knownTokens: 0, countsFrom, total: 0, eigenvalues: [], explained: [],
  };
  let weights: Float32Array;
  const vec = normalizeWords ? kv.unitVectors() : kv.vectors;

  const addSentence = (ids: ArrayLike<number>, from: number, to: number): void => {
    mean.fill(0);
    for (let t = from; t < to; t++) {
      const r = ids[t]!;
      const w = weights[r]!;
      const base = r * d;
      for (let j = 0; j < d; j++) mean[j] = mean[j]! + w * vec[base + j]!;
    }
    const n = to - from;
    if (n === 0) {
      stats.emptySentences++;
      return;
    }
    if (k === 0) return; // nothing to remove: no need for XᵀX
    for (let j = 0; j < d; j++) mean[j] = mean[j]! / n;
    gram.add(mean);
  };

  if (countsFrom === 'vectors') {
    stats.total = sum(kv.counts!);
    weights = sifWeights(kv.counts!, stats.total, a);
    const ids: number[] = [];
    for await (const s of lines(sentences)) {
      ids.length = 0;
      for (const t of tokenizer.tokenize(s)) {
        stats.tokens++;
        const r = kv.indexOf(t);
        if (r >= 0) ids.push(r);
      }
      stats.sentences++;
      stats.knownTokens += ids.length;
      addSentence(ids, 0, ids.length);
    }
  } else {
    // p(w) = count(w) / (all tokens of the fitting sentences, known or not).
    const counts = new Float64Array(kv.size);
    const store = new IdStore();
    for await (const s of lines(sentences)) {
      for (const t of tokenizer.tokenize(s)) {
        stats.tokens++;
        const r = kv.indexOf(t);
        if (r >= 0) {
          counts[r] = counts[r]! + 1;
          store.push(r);
        }
      }
      store.endSentence();
      stats.sentences++;
    }
    stats.knownTokens = store.length;
    stats.total = stats.tokens;
    weights = sifWeights(counts, stats.total, a);
    let from = 0;
    for (const to of store.ends) {
      addSentence(store.ids, from, to);
      from = to;
    }
  }
  if (stats.sentences === 0) throw invalidArgument('sentences: expected at least one sentence to fit on, got none');
  if (k > 0 && gram.count === 0) {
    throw invalidArgument(`sentences: expected at least one sentence with a word of the vocabulary to fit the components on, got ${stats.sentences} sentences and none has one`);
  }
  const pc = topEigenvectors(gram.matrix(), d, k);
  stats.eigenvalues = pc.eigenvalues;
  stats.explained = pc.explained;
  return new SifModel({
    kind: 'sif', kv, tokenizer, a, weights, components: Float32Array.from(pc.components), normalizeWords, countsFrom, stats,
  });
}
