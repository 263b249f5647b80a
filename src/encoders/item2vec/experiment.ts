/**
 * The next-item protocol (protocol.ts) run with Item2Vec beside the popularity baseline.
 * Design: docs/item2vec.md.
 */
import { invalidArgument } from '../../errors.js';
import type { KeyedVectors } from '../word2vec/keyed-vectors.js';
import {
  evaluateNextItem, leaveLastOut, popularityRecommender, vectorRecommender,
  type HistoryQueryOptions, type NextItemScore, type NextItemSplit, type Sequences,
} from './protocol.js';
import { trainItem2Vec, type Item2VecOptions } from './train.js';

export interface ProtocolOptions extends HistoryQueryOptions {
  /** Item2Vec training options (the sequences are the split's training sequences). */
  train?: Item2VecOptions;
  /** Recommendations per user (default 10). */
  k?: number;
}

export interface ProtocolResult {
  split: NextItemSplit;
  kv: KeyedVectors;
  item2vec: NextItemScore;
  popularity: NextItemScore;
  /** Seconds: Item2Vec training, Item2Vec evaluation, popularity (count + evaluation). */
  seconds: { train: number; evaluate: number; popularity: number };
}

/**
 * The whole protocol on a set of sequences: leave the last item out, train Item2Vec on the rest,
 * score it and the popularity baseline on the same users.
 */
export async function runNextItemProtocol(sequences: Sequences, options: ProtocolOptions = {}): Promise<ProtocolResult> {
  const k = options.k ?? 10;
  const split = leaveLastOut(sequences);
  if (split.heldOut.size === 0) throw invalidArgument('sequences: expected at least one sequence of two or more items');
  let t = performance.now();
  const kv = await trainItem2Vec(split.train.values(), options.train ?? {});
  const train = (performance.now() - t) / 1000;
  t = performance.now();
  const item2vec = evaluateNextItem(split, vectorRecommender(kv, options), { k });
  const evaluate = (performance.now() - t) / 1000;
  t = performance.now();
  const popularity = evaluateNextItem(split, popularityRecommender(split.train.values()), { k });
  const pop = (performance.now() - t) / 1000;
  return { split, kv, item2vec, popularity, seconds: { train, evaluate, popularity: pop } };
}
