/**
 * The next-item evaluation protocol (leave the last item out): each user's sequence (oldest first)
 * loses its last item, models are trained on what is left, and for every user with at least two
 * items a recommender ranks `k` items from the rest of the history; the held-out item is the one
 * relevant answer. Metrics: hit rate@k and NDCG@k (`1 / log2(rank + 2)`, rank from 0). The
 * popularity baseline recommends the most frequent training items the user has not seen.
 * `runNextItemProtocol` (experiment.ts) runs it with Item2Vec; examples/movielens-item2vec,
 * bench/item2vec.ts and the tests use it. Design: docs/item2vec.md.
 */
import { checkInt, checkK } from '../../checks.js';
import type { KeyedVectors } from '../word2vec/keyed-vectors.js';
import { recommend } from './recommend.js';

/** Sequences keyed by user, each oldest first. */
export type Sequences = ReadonlyMap<string, readonly string[]>;

/** A leave-last-out split. */
export interface NextItemSplit {
  /** Every user's sequence without its held-out item (users with one item keep it: it still counts for training). */
  train: Map<string, string[]>;
  /** The held-out (last) item of each user with at least `minLength` items, in the sequences' user order. */
  heldOut: Map<string, string>;
}

/** Ranks `k` items for a history (oldest first); items of the history must not be returned. */
export type Recommender = (history: readonly string[], k: number) => readonly string[];

export interface NextItemScore {
  /** Users evaluated. */
  users: number;
  /** Users whose held-out item was among the k recommendations. */
  hits: number;
  /** hits / users. */
  hitRate: number;
  /** Mean over users of 1 / log2(rank + 2) for a hit at rank (from 0), 0 for a miss. */
  ndcg: number;
  k: number;
  /** Users whose recommender returned fewer than k items (e.g. no known history item). */
  short: number;
}

/**
 * Holds out each sequence's last item when it has at least `minLength` (default 2) items; the
 * rest of every sequence (all of it for the shorter ones) is the training data.
 */
export function leaveLastOut(sequences: Sequences, minLength = 2): NextItemSplit {
  checkInt(minLength, 'minLength', { min: 2 });
  const train = new Map<string, string[]>();
  const heldOut = new Map<string, string>();
  for (const [user, seq] of sequences) {
    if (seq.length >= minLength) {
      train.set(user, seq.slice(0, -1));
      heldOut.set(user, seq[seq.length - 1]!);
    } else {
      train.set(user, seq.slice());
    }
  }
  return { train, heldOut };
}

/** Scores a recommender on a split: hit rate@k and NDCG@k over the users with a held-out item. */
export function evaluateNextItem(split: NextItemSplit, recommender: Recommender, options: { k?: number } = {}): NextItemScore {
  const k = checkK(options.k ?? 10);
  let users = 0;
  let hits = 0;
  let gain = 0;
  let short = 0;
  for (const [user, target] of split.heldOut) {
    const history = split.train.get(user) ?? [];
    const recs = recommender(history, k);
    users++;
    if (recs.length < k) short++;
    const rank = recs.slice(0, k).indexOf(target);
    if (rank >= 0) {
      hits++;
      gain += 1 / Math.log2(rank + 2);
    }
  }
  return { users, hits, hitRate: users > 0 ? hits / users : 0, ndcg: users > 0 ? gain / users : 0, k, short };
}

/**
 * The popularity baseline: items by training frequency (ties by first appearance), the k most
 * frequent the user has not seen.
 */
export function popularityRecommender(train: Iterable<readonly string[]>): Recommender {
  const counts = new Map<string, number>();
  for (const seq of train) for (const item of seq) counts.set(item, (counts.get(item) ?? 0) + 1);
  // Map order is first appearance; a stable sort keeps it for ties.
  const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1]).map((e) => e[0]);
  return (history, k) => {
    const seen = new Set(history);
    const out: string[] = [];
    for (const item of ranked) {
      if (out.length === k) break;
      if (!seen.has(item)) out.push(item);
    }
    return out;
  };
}

/** How a vector recommender turns a history into a query (see `recommend`). */
export interface HistoryQueryOptions {
  /** Last known history items used (default all: `decay` already fades the old ones). */
  recent?: number;
  /** Weight `decay^j` of the j-th most recent item (default `QUERY_DEFAULTS.decay`). */
  decay?: number;
  /** Candidates seen at least this often in training (default `QUERY_DEFAULTS.minCount`). */
  minCount?: number;
}

/** The query settings of the protocol, tuned on the MovieLens validation split (docs/item2vec.md). */
export const QUERY_DEFAULTS = { decay: 0.7, minCount: 10 } as const;

/**
 * A recommender from item vectors: `recommend(kv, {history, recent, decay}, {k})`. A history with
 * no known item gets no recommendation (a miss), as an unknown user would.
 */
export function vectorRecommender(kv: KeyedVectors, options: HistoryQueryOptions = {}): Recommender {
  return (history, k) => {
    let known = false;
    for (const item of history) if (kv.has(item)) { known = true; break; }
    if (!known) return [];
    const recent = options.recent;
    const decay = options.decay ?? QUERY_DEFAULTS.decay;
    return recommend(kv, { history, recent, decay }, { k, minCount: options.minCount ?? QUERY_DEFAULTS.minCount }).map((r) => r.item);
  };
}
