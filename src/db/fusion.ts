import { OmnivecError, describe } from '../errors.js';
import { checkInt, checkNonNegativeInt } from '../checks.js';

/**
 * Hybrid-search helpers: fusing ranked lists from several signals (dense, FTS5 text, sparse),
 * ColBERT-style MaxSim re-ranking, and turning free text into a safe FTS5 MATCH expression.
 * See docs/db.md, "Queries and the planner" (hybrid).
 */

/** A ranked list, best first (higher score = better). `ids` are record slots (integers 0 … 2³²−1). */
export interface RankedList {
  ids: ArrayLike<number>;
  scores: ArrayLike<number>;
}

export interface FusedList {
  ids: Uint32Array;
  /** Fused scores (float32), best (highest) first; equal scores are ordered by the smaller id. */
  scores: Float32Array;
}

/**
 * Reciprocal rank fusion: `score(d) = Σ over lists of weight_l / (k0 + rank_l(d))`, ranks from 1
 * (an id repeated within one list counts at its first, best rank). Only ranks matter: `scores` of
 * the lists are not read (and may be omitted). `k0` defaults to 60; `weights` (finite, ≥ 0) to 1
 * each; a list of weight 0 is left out entirely (ids only it holds do not appear). Returns the
 * fused list best first, ties by the smaller id, at most `limit` entries (default: all).
 */
export function reciprocalRankFusion(
  lists: RankedList[],
  options: { k0?: number; weights?: number[]; limit?: number } = {},
): FusedList {
  checkLists(lists, false);
  const opts = checkOptions(options);
  const k0 = opts.k0 ?? 60;
  if (typeof k0 !== 'number' || !Number.isFinite(k0) || k0 < 0) {
    throw new OmnivecError('invalid_argument', `k0: expected a finite number ≥ 0, got ${describe(k0)}`);
  }
  const weights = checkWeights(opts.weights, lists.length, false);
  const limit = checkLimit(opts.limit);
  const fused = new Map<number, number>();
  for (let l = 0; l < lists.length; l++) {
    const w = weights === undefined ? 1 : weights[l]!;
    if (w === 0) continue;
    const ids = lists[l]!.ids;
    const seen = new Set<number>();
    for (let r = 0; r < ids.length; r++) {
      const id = ids[r]!;
      if (seen.has(id)) continue;
      seen.add(id);
      fused.set(id, (fused.get(id) ?? 0) + w / (k0 + r + 1));
    }
  }
  return ranked(fused, limit);
}

/**
 * Weighted fusion of scores: each list's scores are min-max normalised to [0, 1] (best 1, worst
 * 0; a list whose scores are all equal gives 1 to each), an id missing from a list counts 0 there,
 * and `fused(d) = Σ weight_l · norm_l(d)`. Scores must be finite and higher = better (negate
 * distances first). An id repeated within one list counts at its first occurrence. `weights`
 * (one per list, finite, ≥ 0) are required; a list of weight 0 is left out entirely. Returns the
 * fused list best first, ties by the smaller id, at most `limit` entries (default: all).
 */
export function weightedFusion(lists: RankedList[], weights: number[], options: { limit?: number } = {}): FusedList {
  checkLists(lists, true);
  const w = checkWeights(weights, lists.length, true)!;
  const limit = checkLimit(checkOptions(options).limit);
  const fused = new Map<number, number>();
  for (let l = 0; l < lists.length; l++) {
    if (w[l] === 0) continue;
    const { ids, scores } = lists[l]!;
    const first = new Map<number, number>();
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (first.has(id)) continue;
      const s = scores[i]!;
      first.set(id, s);
      if (s < min) min = s;
      if (s > max) max = s;
    }
    const range = max - min;
    for (const [id, s] of first) {
      const norm = range > 0 ? (s - min) / range : 1;
      fused.set(id, (fused.get(id) ?? 0) + w[l]! * norm);
    }
  }
  return ranked(fused, limit);
}

/** The entries of `fused` by float32 score descending, then id ascending, at most `limit`. */
function ranked(fused: Map<number, number>, limit: number): FusedList {
  const n = fused.size;
  const ids = new Uint32Array(n);
  const scores = new Float32Array(n);
  let i = 0;
  for (const [id, s] of fused) {
    ids[i] = id;
    scores[i] = s;
    i++;
  }
  const order = Array.from({ length: n }, (_, j) => j)
    .sort((a, b) => scores[b]! - scores[a]! || ids[a]! - ids[b]!);
  const m = Math.min(n, limit);
  const outIds = new Uint32Array(m);
  const outScores = new Float32Array(m);
  for (let j = 0; j < m; j++) {
    outIds[j] = ids[order[j]!]!;
    outScores[j] = scores[order[j]!]!;
  }
  return { ids: outIds, scores: outScores };
}

function isArrayLike(v: unknown): v is ArrayLike<unknown> {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

function checkLists(lists: unknown, withScores: boolean): asserts lists is RankedList[] {
  if (!Array.isArray(lists)) {
    throw new OmnivecError('invalid_argument', `lists: expected an array of ranked lists { ids, scores }, got ${describe(lists)}`);
  }
  for (let l = 0; l < lists.length; l++) {
    const list: unknown = lists[l];
    const ids = list !== null && typeof list === 'object' ? (list as RankedList).ids : undefined;
    if (!isArrayLike(ids)) {
      throw new OmnivecError('invalid_argument', `lists[${l}].ids: expected an array of ids, got ${describe(ids)}`);
    }
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0xffffffff) {
        throw new OmnivecError('invalid_argument', `lists[${l}].ids[${i}]: expected an integer from 0 to 4294967295, got ${describe(id)}`);
      }
    }
    if (!withScores) continue;
    const scores = (list as RankedList).scores;
    if (!isArrayLike(scores)) {
      throw new OmnivecError('invalid_argument', `lists[${l}].scores: expected an array of numbers, got ${describe(scores)}`);
    }
    if (scores.length !== ids.length) {
      throw new OmnivecError('invalid_argument', `lists[${l}]: expected one score per id (${ids.length}), got ${scores.length}`);
    }
    for (let i = 0; i < scores.length; i++) {
      const s = scores[i];
      if (typeof s !== 'number' || !Number.isFinite(s)) {
        throw new OmnivecError('invalid_argument', `lists[${l}].scores[${i}]: expected a finite number, got ${describe(s)}`);
      }
    }
  }
}

function checkOptions<T extends object>(options: T | undefined): Partial<T> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') {
    throw new OmnivecError('invalid_argument', `options: expected an object, got ${describe(options)}`);
  }
  return options;
}

function checkWeights(weights: unknown, count: number, required: boolean): number[] | undefined {
  if (weights === undefined && !required) return undefined;
  if (!Array.isArray(weights)) {
    throw new OmnivecError('invalid_argument', `weights: expected an array of ${count} numbers (one per list), got ${describe(weights)}`);
  }
  if (weights.length !== count) {
    throw new OmnivecError('invalid_argument', `weights: expected one weight per list (${count}), got ${weights.length}`);
  }
  for (let i = 0; i < weights.length; i++) {
    const w: unknown = weights[i];
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) {
      throw new OmnivecError('invalid_argument', `weights[${i}]: expected a finite number ≥ 0, got ${describe(w)}`);
    }
  }
  return weights as number[];
}

function checkLimit(limit: unknown): number {
  return limit === undefined ? Infinity : checkNonNegativeInt(limit, 'limit');
}

/**
 * ColBERT late interaction: `Σ over query token vectors q of max over document token vectors d
 * of q·d`. Both are row-major Float32Arrays of count × dim. A document without token vectors
 * (`docCount` 0) scores -Infinity (it cannot be matched), a query without them 0. Values are not
 * checked for finiteness (the database checks vectors when they are written and queried).
 */
export function maxSim(query: Float32Array, queryCount: number, doc: Float32Array, docCount: number, dim: number): number {
  checkTokens(query, queryCount, dim, 'query');
  checkTokens(doc, docCount, dim, 'doc');
  if (queryCount === 0) return 0;
  if (docCount === 0) return -Infinity;
  let total = 0;
  const stride4 = 4 * dim;
  for (let qo = 0, qEnd = queryCount * dim; qo < qEnd; qo += dim) {
    let best = -Infinity;
    let o = 0;
    // Four document vectors at a time: each loaded query component serves four products.
    for (const end4 = (docCount - (docCount & 3)) * dim; o < end4; o += stride4) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      const o1 = o + dim, o2 = o1 + dim, o3 = o2 + dim;
      for (let c = 0; c < dim; c++) {
        const x = query[qo + c]!;
        s0 += x * doc[o + c]!;
        s1 += x * doc[o1 + c]!;
        s2 += x * doc[o2 + c]!;
        s3 += x * doc[o3 + c]!;
      }
      const m = Math.max(s0, s1, s2, s3);
      if (m > best) best = m;
    }
    for (const end = docCount * dim; o < end; o += dim) {
      let s = 0;
      for (let c = 0; c < dim; c++) s += query[qo + c]! * doc[o + c]!;
      if (s > best) best = s;
    }
    total += best;
  }
  return total;
}

function checkTokens(data: unknown, count: unknown, dim: unknown, what: string): void {
  const d = checkInt(dim, 'dim', { min: 1, max: 65536 });
  if (!(data instanceof Float32Array)) {
    throw new OmnivecError('invalid_argument', `${what}: expected a Float32Array of token vectors, got ${describe(data)}`);
  }
  const n = checkNonNegativeInt(count, `${what}Count`);
  if (data.length !== n * d) {
    throw new OmnivecError('dimension_mismatch',
      `${what}: expected ${what}Count × dim = ${n} × ${d} = ${n * d} numbers, got ${data.length}`);
  }
}

/** Runs of letters, combining marks and digits: what FTS5's unicode61 tokenizer keeps. */
const RUN = /[\p{L}\p{M}\p{N}]+/gu;
/** Scripts written without spaces between words. */
const NO_SPACES = /[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Thai}\p{sc=Lao}\p{sc=Khmer}\p{sc=Myanmar}]/u;
let wordSegmenter: Intl.Segmenter | null | undefined;

function segmenter(): Intl.Segmenter | null {
  if (wordSegmenter === undefined) {
    wordSegmenter = typeof Intl.Segmenter === 'function' ? new Intl.Segmenter(undefined, { granularity: 'word' }) : null;
  }
  return wordSegmenter;
}

/**
 * An FTS5 MATCH expression for free text: the text is split into terms (runs of Unicode letters,
 * marks and digits; everything else — quotes, `*`, `-`, parentheses, `:`, `^` — separates), each
 * quoted as an FTS5 string and the terms joined by OR, so no character of the input can act as
 * FTS5 syntax (`AND`, `NEAR`, `*` are plain words). Terms repeated (case-insensitively) are kept
 * once. A run in a script written without spaces (Chinese, Japanese, Thai, …) is also split into
 * words with Intl.Segmenter: the run and its words are all OR-ed, which matches whether the
 * table's tokenizer keeps the run whole (unicode61, trigram) or segments it. Returns undefined
 * when no term is left (empty or punctuation-only text): there is nothing to search.
 */
export function ftsQuery(text: string): string | undefined {
  const terms = ftsTerms(text);
  if (terms.length === 0) return undefined;
  return terms.map((t) => `"${t.term.replaceAll('"', '""')}"`).join(' OR ');
}

/**
 * The terms of ftsQuery, each once (its first spelling; case-insensitively), with the number of
 * times it occurs in the text: BM25's query-term frequency (a run in a script without spaces
 * counts for itself and for each of its words).
 */
export function ftsTerms(text: string): { term: string; count: number }[] {
  if (typeof text !== 'string') {
    throw new OmnivecError('invalid_argument', `text: expected a string, got ${describe(text)}`);
  }
  const terms: { term: string; count: number }[] = [];
  const seen = new Map<string, { term: string; count: number }>();
  const addTerm = (t: string): void => {
    const key = t.toLowerCase();
    const had = seen.get(key);
    if (had !== undefined) {
      had.count++;
      return;
    }
    const entry = { term: t, count: 1 };
    seen.set(key, entry);
    terms.push(entry);
  };
  for (const [run] of text.normalize('NFC').matchAll(RUN)) {
    addTerm(run);
    const seg = NO_SPACES.test(run) ? segmenter() : null;
    if (seg === null) continue;
    for (const s of seg.segment(run)) if (s.isWordLike && s.segment !== run) addTerm(s.segment);
  }
  return terms;
}
