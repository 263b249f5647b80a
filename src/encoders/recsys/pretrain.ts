/**
 * Item2Vec vectors to start a deep recommender's item table from (`initialItems`): skip-gram on the
 * same sequences, the model's `dim` wide, a window of 50 on sequences shuffled every epoch (the
 * setting the deep models were tuned with, pinned here so that a change of Item2Vec's own defaults
 * does not move them), Item2Vec's other defaults, one thread (so the whole pipeline stays
 * reproducible for a seed). Covington et al. (2016, §3.1) allow pretrained
 * embeddings; on MovieLens this start is what lets the networks beat Item2Vec itself
 * (docs/recommenders.md#tuning). Async (the Word2Vec trainer is), unlike the deep trainers.
 */
import { trainItem2Vec } from '../item2vec/train.js';
import type { KeyedVectors } from '../word2vec/keyed-vectors.js';
import type { UserSequences } from './data.js';

export interface PretrainOptions {
  /** The model's vector width. */
  dim: number;
  /** Seed (default 1). */
  seed?: number;
  /** Item2Vec threads (default 1: reproducible; more is Hogwild, faster and not reproducible). */
  threads?: number;
}

export function pretrainItemVectors(sequences: UserSequences, options: PretrainOptions): Promise<KeyedVectors> {
  return trainItem2Vec(sequences.values(), { dim: options.dim, window: 50, shuffle: true, seed: options.seed ?? 1, threads: options.threads ?? 1 });
}
