/**
 * Item recommendations from item vectors (Item2Vec, or any KeyedVectors of items): the items
 * nearest by cosine to one item, or to a recency-weighted mean of a user's history.
 * Design: docs/item2vec.md.
 */
import { OmnivecError, describe, invalidArgument } from '../../errors.js';
import { checkK, checkPositiveInt } from '../../checks.js';
import type { KeyedVectors } from '../word2vec/keyed-vectors.js';

/** What to recommend for: one item, or a history of items (oldest first). */
export type RecommendQuery =
  | { item: string }
  | {
    /** Items the user consumed, oldest first; items missing from the vocabulary are skipped. */
    history: readonly string[];
    /** Use only the last `recent` known items of the history (default: all of them). */
    recent?: number;
    /**
     * Weight of the j-th most recent known item is `decay^j` (the last one weighs 1): 1 (default)
     * is a plain mean, smaller values lean on the latest items. In (0, 1].
     */
    decay?: number;
  };

export interface RecommendOptions {
  /** Number of items (default 10). */
  k?: number;
  /** Items never recommended, beside the query item / every history item (always excluded). */
  exclude?: Iterable<string>;
  /**
   * Recommend only items seen at least this often in training (`kv.counts`; default 1: every
   * item). Items seen once or twice have vectors fitted to one or two users, and their noise
   * crowds the top of the list; the MovieLens protocol's tuned value is in `QUERY_DEFAULTS` (protocol.ts).
   */
  minCount?: number;
}

/** One recommended item and its cosine similarity to the query (item or weighted history mean). */
export interface Recommendation {
  item: string;
  score: number;
}

/**
 * Recommends the `k` items nearest by cosine to `query.item`, or to the weighted mean of the unit
 * vectors of the last `recent` known items of `query.history` (weights `decay^j`, j = 0 for the
 * most recent). The query item, every history item, `options.exclude` and items seen fewer than
 * `options.minCount` times are never returned.
 * Results are best first (ties by vocabulary row, i.e. most frequent first).
 *
 * Errors: `not_found` when `query.item` is unknown or no history item is in the vocabulary (the
 * message names them); `invalid_argument` for an empty history or bad options.
 */
export function recommend(kv: KeyedVectors, query: RecommendQuery, options: RecommendOptions = {}): Recommendation[] {
  const k = checkK(options.k ?? 10);
  if (query === null || typeof query !== 'object') throw invalidArgument(`query: expected {item} or {history}, got ${describe(query)}`);

  const d = kv.dim;
  const unit = kv.unitVectors();
  const excluded = new Set<number>();
  const q = new Float64Array(d);

  if ('item' in query) {
    if (typeof query.item !== 'string') throw invalidArgument(`item: expected a string, got ${describe(query.item)}`);
    const r = kv.rowOf(query.item);
    excluded.add(r);
    for (let j = 0; j < d; j++) q[j] = unit[r * d + j]!;
  } else if ('history' in query) {
    const history = query.history;
    if (!Array.isArray(history)) throw invalidArgument(`history: expected an array of item ids, got ${describe(history)}`);
    if (history.length === 0) throw invalidArgument('history: expected at least one item, got an empty array');
    const recent = query.recent ?? Infinity;
    if (recent !== Infinity) checkPositiveInt(recent, 'recent');
    const decay = query.decay ?? 1;
    if (typeof decay !== 'number' || !(decay > 0 && decay <= 1)) throw invalidArgument(`decay: expected a number in (0, 1], got ${describe(decay)}`);
    const rows: number[] = [];
    for (const item of history) {
      const r = kv.indexOf(item);
      if (r >= 0) {
        rows.push(r);
        excluded.add(r);
      }
    }
    if (rows.length === 0) {
      const shown = history.slice(-5).map((x) => JSON.stringify(x)).join(', ');
      throw new OmnivecError('not_found',
        `history: none of its ${history.length} items is in the vocabulary (${kv.size} items): ${history.length > 5 ? '…, ' : ''}${shown}`,
        { history: history.slice(-5) });
    }
    let w = 1;
    const first = Math.max(0, rows.length - recent);
    for (let i = rows.length - 1; i >= first; i--, w *= decay) {
      const base = rows[i]! * d;
      for (let j = 0; j < d; j++) q[j] += w * unit[base + j]!;
    }
  } else {
    throw invalidArgument('query: expected {item} or {history}');
  }
  const minCount = options.minCount ?? 1;
  if (typeof minCount !== 'number' || !(minCount >= 0)) throw invalidArgument(`minCount: expected a non-negative number, got ${describe(minCount)}`);
  const counts = kv.counts;
  if (minCount > 1 && counts === null) {
    throw invalidArgument(`minCount: the vectors carry no counts (e.g. loaded from a file without its vocabulary), so minCount ${minCount} cannot be applied`);
  }
  if (options.exclude !== undefined) {
    for (const item of options.exclude) {
      const r = kv.indexOf(item);
      if (r >= 0) excluded.add(r);
    }
  }

  let norm = 0;
  for (let j = 0; j < d; j++) norm += q[j]! * q[j]!;
  const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  const qf = new Float32Array(d);
  for (let j = 0; j < d; j++) qf[j] = q[j]! * inv;

  // Top k by a small sorted insertion list: k is small beside the vocabulary.
  const topRows: number[] = [];
  const topScores: number[] = [];
  const n = kv.size;
  for (let r = 0; r < n; r++) {
    if (excluded.has(r) || (minCount > 1 && counts![r]! < minCount)) continue;
    let s = 0;
    const base = r * d;
    for (let j = 0; j < d; j++) s += qf[j]! * unit[base + j]!;
    if (topRows.length === k && !(s > topScores[k - 1]!)) continue;
    let i = topRows.length === k ? k - 1 : topRows.length;
    if (topRows.length < k) { topRows.push(r); topScores.push(s); }
    while (i > 0 && topScores[i - 1]! < s) {
      topRows[i] = topRows[i - 1]!;
      topScores[i] = topScores[i - 1]!;
      i--;
    }
    topRows[i] = r;
    topScores[i] = s;
  }
  return topRows.map((r, i) => ({ item: kv.words[r]!, score: topScores[i]! }));
}
