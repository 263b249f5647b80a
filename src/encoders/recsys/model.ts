/**
 * What the deep recommenders share once trained (docs/recommenders.md): the item vocabulary, the
 * user tower and the user features, a user vector from a history, the options checks and the
 * per-epoch report. `YoutubeDnnModel` and `TwoTowerModel` add their item vectors.
 */
import { OmnivecError, describe, invalidArgument } from '../../errors.js';
import { checkInt, checkNumber } from '../../checks.js';
import type { FeatureTable } from './features.js';
import type { Vocabulary } from './data.js';
import type { UserTower } from './user-tower.js';

export type RecsysKind = 'youtube-dnn' | 'two-tower';

export interface EpochReport {
  epoch: number;
  epochs: number;
  /** Mean loss per example over the epoch. */
  loss: number;
  examples: number;
  seconds: number;
  examplesPerSecond: number;
}

export interface TrainStats {
  epochs: EpochReport[];
  examples: number;
  seconds: number;
  examplesPerSecond: number;
  threads: number;
}

export interface UserQuery {
  /** Items the user consumed, oldest first. */
  history: readonly string[];
  /** A user of the user-features table (its features feed the tower; unknown users get none). */
  userId?: string;
  /** What to do with history items the model does not know: 'error' (default, `not_found` naming them) or 'skip'. */
  unknown?: 'error' | 'skip';
}

/** The parts of a trained model the serving side needs. */
export abstract class RecsysModel {
  abstract readonly kind: RecsysKind;
  readonly vocab: Vocabulary;
  readonly tower: UserTower;
  readonly userFeatures: FeatureTable | null;
  /** Training figures (absent on a model read from disk). */
  stats: TrainStats | undefined;

  constructor(vocab: Vocabulary, tower: UserTower, userFeatures: FeatureTable | null) {
    this.vocab = vocab;
    this.tower = tower;
    this.userFeatures = userFeatures;
  }

  get dim(): number { return this.tower.shape.dim; }

  /** The served item vectors: ids and `ids.length × dim` rows. */
  abstract itemVectors(): { ids: string[]; vectors: Float32Array };

  /**
   * The user vector of a history (example age 0: "now"). Errors: `invalid_argument` for an empty
   * history (or one with no known item under `unknown: 'skip'`, without user features),
   * `not_found` naming unknown items under `unknown: 'error'`.
   */
  userVector(q: UserQuery): Float32Array {
    if (q === null || typeof q !== 'object' || !Array.isArray(q.history)) throw invalidArgument(`query: expected { history: string[], userId? }, got ${describe(q)}`);
    const unknown = q.unknown ?? 'error';
    if (unknown !== 'error' && unknown !== 'skip') throw invalidArgument(`unknown: expected "error" or "skip", got ${describe(unknown)}`);
    const rows: number[] = [];
    const missing: string[] = [];
    for (const it of q.history) {
      if (typeof it !== 'string' || it === '') throw invalidArgument(`history: expected item ids (non-empty strings), got ${describe(it)}`);
      const r = this.vocab.index.get(it);
      if (r === undefined) missing.push(it);
      else rows.push(r);
    }
    if (missing.length > 0 && unknown === 'error') {
      const shown = missing.slice(0, 5).map((x) => JSON.stringify(x)).join(', ');
      throw new OmnivecError('not_found', `history: ${missing.length === 1 ? 'the item' : `${missing.length} items`} ${shown}${missing.length > 5 ? ', …' : ''} ${missing.length === 1 ? 'is' : 'are'} not in the model's ${this.vocab.items.length} items (trained on other data?)`, { ids: missing.slice(0, 5) });
    }
    const featureRow = q.userId === undefined || this.userFeatures === null ? -1 : this.userFeatures.rows.get(q.userId) ?? -1;
    if (rows.length === 0 && featureRow < 0) {
      throw invalidArgument(q.history.length === 0 ? 'history: expected at least one item, got an empty history' : 'history: none of its items is known to the model');
    }
    const hist = Int32Array.from(rows);
    return this.tower.forward(0, hist, 0, hist.length, this.userFeatures, featureRow, 0).slice();
  }
}

/** Options every deep recommender trainer takes. */
export interface CommonTrainOptions {
  /** User (and item) vector width (default: the model's, `YOUTUBE_DNN_DEFAULTS.dim` / `TWO_TOWER_DEFAULTS.dim`). */
  dim?: number;
  /** Item embedding width in the user tower (default: `dim`). */
  embeddingDim?: number;
  /** Hidden ReLU layers of the towers (default [128]). */
  hidden?: readonly number[];
  /** History items averaged (the last ones; default 50). */
  maxHistory?: number;
  /** Items of the recent bag (default 20; 0: none). */
  recent?: number;
  /** Weight decay^j of the j-th most recent item in the recent bag (default 0.7; 1: plain mean). */
  decay?: number;
  /** Add the recent bag to the user vector (default true when embeddingDim = dim and recent > 0): see UserTowerShape.residual. */
  residual?: boolean;
  /** The example-age input (default true). */
  exampleAge?: boolean;
  /**
   * The target of an example is one of the next `horizon` items after the history, drawn at random
   * each time (default 1: the next item). MovieLens rates many films in one sitting, in no
   * meaningful order, so "one of the next few" is a less noisy target than "the next one".
   */
  horizon?: number;
  /** Examples per user and epoch, drawn afresh each epoch (default 50; 0: every position). */
  examplesPerUser?: number;
  /** Passes over the examples. */
  epochs?: number;
  /** Examples per Adam step. */
  batchSize?: number;
  /** Adam's learning rate. */
  lr?: number;
  /** Lower the learning rate linearly to `lr × minLrFraction` over the run (default 1: constant). */
  minLrFraction?: number;
  /** Random seed (default 1): the same seed gives the same model bit for bit. */
  seed?: number;
  /**
   * Threads (default 1, the reference): more split each mini-batch across worker threads and sum
   * the gradients in a fixed order, so a run is reproducible for a fixed count
   * (docs/recommenders.md#threads).
   */
  threads?: number;
  /** User side features (rows keyed by the sequences' user ids). */
  userFeatures?: FeatureTable;
  /**
   * Serve a moving average of the weights spanning about this many epochs (0: off, the last
   * step's weights): an exponential moving average updated after every step, with decay
   * β = 1 − 1 / (average × steps per epoch), bias-corrected (recsys/average.ts). Defaults: YouTube
   * DNN 3, two-tower 2.5 (β 0.999 and 0.995 on MovieLens; docs/recommenders.md#tuning).
   */
  average?: number;
  /**
   * Start the item table from these vectors (e.g. Item2Vec's, `dim` wide; items it lacks keep their
   * random start), each row scaled to the mean norm `initialNorm` (default: as given). The
   * YouTube paper allows pretrained embeddings (Covington et al. 2016 §3.1).
   */
  initialItems?: InitialItems;
  /** Norm of every row taken from `initialItems` (default 0: the rows as given). */
  initialNorm?: number;
  /** After each epoch, with the model as trained so far (the averaged weights under `average`; e.g. to evaluate it and stop early by throwing). */
  onEpoch?: (e: EpochReport, model: RecsysModel) => void;
}

/** Item vectors to start from: KeyedVectors fits. */
export interface InitialItems {
  readonly words: readonly string[];
  readonly dim: number;
  readonly vectors: Float32Array;
}

export const COMMON_KEYS = ['average', 'initialItems', 'initialNorm', 'dim', 'embeddingDim', 'hidden', 'maxHistory', 'recent', 'decay', 'residual', 'exampleAge', 'horizon', 'examplesPerUser', 'epochs', 'batchSize', 'lr', 'minLrFraction', 'seed', 'threads', 'userFeatures', 'onEpoch'];

/** Checks the options object's keys and the common values; returns them resolved over `defaults`. */
export function resolveCommon(options: CommonTrainOptions & Record<string, unknown>, known: readonly string[], what: string,
  defaults: { dim: number; epochs: number; batchSize: number; lr: number; average: number }) {
  if (options === null || typeof options !== 'object') throw invalidArgument(`options: expected an object, got ${describe(options)}`);
  for (const k of Object.keys(options)) if (!known.includes(k)) throw invalidArgument(`options.${k}: unknown ${what} option (known: ${known.join(', ')})`);
  const dim = checkInt(options.dim ?? defaults.dim, 'dim', { min: 1, max: 4096 });
  const hidden = options.hidden ?? [128];
  if (!Array.isArray(hidden)) throw invalidArgument(`hidden: expected an array of layer widths, got ${describe(hidden)}`);
  hidden.forEach((h, i) => checkInt(h, `hidden[${i}]`, { min: 1, max: 16_384 }));
  const threads = checkInt(options.threads ?? 1, 'threads', { min: 1, max: 256 });
  const embeddingDim = checkInt(options.embeddingDim ?? dim, 'embeddingDim', { min: 1, max: 4096 });
  const recent = checkInt(options.recent ?? 20, 'recent', { min: 0 });
  const residual = options.residual ?? (embeddingDim === dim && recent > 0);
  if (typeof residual !== 'boolean') throw invalidArgument(`residual: expected a boolean, got ${describe(residual)}`);
  if (residual && (embeddingDim !== dim || recent === 0)) throw invalidArgument(`residual: needs embeddingDim = dim and recent > 0, got embeddingDim ${embeddingDim}, dim ${dim}, recent ${recent}`);
  return {
    dim,
    embeddingDim,
    residual,
    hidden: hidden.slice() as number[],
    maxHistory: checkInt(options.maxHistory ?? 50, 'maxHistory', { min: 1 }),
    recent,
    decay: checkNumber(options.decay ?? 0.7, 'decay', { min: 0, minExclusive: true, max: 1 }),
    exampleAge: options.exampleAge ?? true,
    horizon: checkInt(options.horizon ?? 1, 'horizon', { min: 1, max: 100_000 }),
    examplesPerUser: checkInt(options.examplesPerUser ?? 50, 'examplesPerUser', { min: 0 }),
    epochs: checkInt(options.epochs ?? defaults.epochs, 'epochs', { min: 1, max: 10_000 }),
    batchSize: checkInt(options.batchSize ?? defaults.batchSize, 'batchSize', { min: 1, max: 65_536 }),
    lr: checkNumber(options.lr ?? defaults.lr, 'lr', { min: 0, minExclusive: true, max: 10 }),
    minLrFraction: checkNumber(options.minLrFraction ?? 1, 'minLrFraction', { min: 0, max: 1 }),
    seed: checkInt(options.seed ?? 1, 'seed', { min: 0 }),
    threads,
    average: checkNumber(options.average ?? defaults.average, 'average', { min: 0, max: 1000 }),
    initialItems: checkInitialItems(options.initialItems, dim),
    initialNorm: checkNumber(options.initialNorm ?? 0, 'initialNorm', { min: 0 }),
  };
}

function checkInitialItems(x: unknown, dim: number): InitialItems | null {
  if (x === undefined) return null;
  const o = x as InitialItems;
  if (o === null || typeof o !== 'object' || !Array.isArray(o.words) || !(o.vectors instanceof Float32Array)) {
    throw invalidArgument(`initialItems: expected { words: string[], dim, vectors: Float32Array } (e.g. Item2Vec's KeyedVectors), got ${describe(x)}`);
  }
  if (o.dim !== dim) throw new OmnivecError('dimension_mismatch', `initialItems: expected vectors of dim ${dim} (the model's), got ${String(o.dim)}`);
  if (o.vectors.length !== o.words.length * dim) throw invalidArgument(`initialItems: expected ${o.words.length} × ${dim} values, got ${o.vectors.length}`);
  return o;
}

/**
 * Copies `initial`'s rows into the item table `table` (rows in `vocab` order, `dim` wide), each
 * scaled to norm `norm` when it is > 0; returns the rows copied.
 */
export function applyInitialItems(table: Float32Array, dim: number, vocab: Vocabulary, initial: InitialItems | null, norm: number): number {
  if (initial === null) return 0;
  let n = 0;
  initial.words.forEach((w, i) => {
    const r = vocab.index.get(w);
    if (r === undefined) return;
    const src = initial.vectors.subarray(i * dim, i * dim + dim);
    let s = 1;
    if (norm > 0) {
      let q = 0;
      for (let j = 0; j < dim; j++) q += src[j]! * src[j]!;
      s = q > 0 ? norm / Math.sqrt(q) : 0;
    }
    for (let j = 0; j < dim; j++) table[r * dim + j] = src[j]! * s;
    n++;
  });
  return n;
}

/** The learning-rate factor at `progress` (0 → 1) of a run lowering it linearly to `minFraction`. */
/** An epoch's report: mean loss per example and speed, from its start time `t0` (performance.now()). */
export function epochReport(epoch: number, epochs: number, lossSum: number, examples: number, t0: number): EpochReport {
  const seconds = (performance.now() - t0) / 1000;
  return { epoch, epochs, loss: lossSum / examples, examples, seconds, examplesPerSecond: examples / seconds };
}

/** A training run's stats from its epochs' reports, its start time and its thread count. */
export function trainingStats(epochs: EpochReport[], t0: number, threads = 1): TrainStats {
  const seconds = (performance.now() - t0) / 1000;
  const examples = epochs.reduce((a, e) => a + e.examples, 0);
  return { epochs, examples, seconds, examplesPerSecond: examples / seconds, threads };
}

export const lrScaleAt = (progress: number, minFraction: number): number => 1 - (1 - minFraction) * Math.min(1, progress);
