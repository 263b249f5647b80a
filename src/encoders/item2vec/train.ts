/**
 * Item2Vec (Barkan & Koenigstein 2016): Word2Vec skip-gram with negative sampling on users' item
 * sequences: the other items in a window around an item are its context. By default the sequences
 * keep their order (time order for MovieLens: measured better on average over two MovieLens sets
 * than shuffling each sequence every epoch, the paper's set view, which `shuffle: true` gives);
 * `window: 'all'` makes every other item of the sequence context. Design: docs/item2vec.md.
 */
import { invalidArgument } from '../../errors.js';
import type { KeyedVectors } from '../word2vec/keyed-vectors.js';
import { trainWord2Vec, type Word2VecOptions } from '../word2vec/trainer.js';

/** Sequences of item ids: a file (one user a line, ids separated by whitespace) or token arrays. */
export type ItemSequences = string | Iterable<readonly string[]> | AsyncIterable<readonly string[]>;

/** Item2Vec options; the defaults were tuned on the MovieLens validation split (docs/item2vec.md#tuning). */
export interface Item2VecOptions {
  /** Vector size (default 64). */
  dim?: number;
  /**
   * Context: a window of items on each side (default 50, shrunk at random per item as in word2vec;
   * with `shuffle`, a random subset of the user's other items each epoch) or
   * 'all' (every other item of the sequence: the paper's exact set view, O(n²) pairs per sequence).
   */
  window?: number | 'all';
  /** Shuffle each sequence every epoch (sets, not sequences; default false: docs/item2vec.md#defaults-re-checked-issue-19). */
  shuffle?: boolean;
  /** Negative samples per positive pair (default 10). */
  negative?: number;
  /**
   * Subsampling threshold of frequent items (default 1e-3; 0 disables). Relative to the corpus
   * size: an item seen more than `sample × total` times is dropped at random now and then, so on a
   * tiny corpus even 1e-3 drops most occurrences.
   */
  sample?: number;
  /** Items seen fewer times are dropped (default 1: every item gets a vector). */
  minCount?: number;
  /** Keep at most this many items, the most frequent. */
  maxVocab?: number;
  /** Passes over the sequences (default 20). */
  epochs?: number;
  /** Initial learning rate (default 0.025). */
  alpha?: number;
  /** Final learning rate (default 0.0001). */
  minAlpha?: number;
  /** Random seed (default 1). */
  seed?: number;
  /** Worker threads (default: the trainer's, every available core; 1 is reproducible bit for bit). */
  threads?: number;
  /** Progress of training, as Word2Vec reports it. */
  onProgress?: Word2VecOptions['onProgress'];
}

/** The defaults of `trainItem2Vec`. */
export const ITEM2VEC_DEFAULTS = {
  dim: 64,
  window: 50 as number | 'all',
  shuffle: false as boolean,
  negative: 10,
  sample: 1e-3,
  minCount: 1,
  epochs: 20,
} as const;

const KNOWN = new Set(['dim', 'window', 'shuffle', 'negative', 'sample', 'minCount', 'maxVocab', 'epochs', 'alpha', 'minAlpha', 'seed', 'threads', 'onProgress']);

/**
 * The Word2Vec trainer's options for Item2Vec: skip-gram with negative sampling, whitespace
 * tokenizer, `ITEM2VEC_DEFAULTS`, then `options` (undefined values keep the default). For callers
 * that want the whole `Word2VecModel` (stats, resolved options) from `trainWord2Vec`.
 */
export function item2vecTrainerOptions(options: Item2VecOptions = {}): Word2VecOptions {
  if (options === null || typeof options !== 'object') throw invalidArgument(`options: expected an object, got ${options === null ? 'null' : typeof options}`);
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw invalidArgument(`options.${key}: unknown Item2Vec option (known: ${[...KNOWN].join(', ')})`);
  }
  const o: Word2VecOptions = {
    model: 'skipgram',
    hs: false,
    tokenizer: { kind: 'whitespace' },
    ...ITEM2VEC_DEFAULTS,
  };
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) (o as Record<string, unknown>)[key] = value;
  }
  return o;
}

/**
 * Trains item vectors on user sequences (skip-gram, negative sampling, sequences shuffled every
 * epoch, a window of 50 items or `'all'`, whitespace tokenizer). Returns the items' KeyedVectors,
 * most frequent first, with their counts. Errors: `invalid_argument` for unknown or bad options
 * and for sequences with no item (from the trainer), `not_found` for a missing file.
 */
export async function trainItem2Vec(sequences: ItemSequences, options: Item2VecOptions = {}): Promise<KeyedVectors> {
  const model = await trainWord2Vec(sequences, item2vecTrainerOptions(options));
  return model.wv;
}
