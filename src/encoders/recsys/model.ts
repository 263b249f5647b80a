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
  /** Worker threads: only 1 today (docs/recommenders.md#threads). */
  threads?: number;
  /** User side features (rows keyed by the sequences' user ids). */
  userFeatures?: FeatureTable;
  /** After each epoch, with the model as trained so far (e.g. to evaluate it and stop early by throwing). */
  onEpoch?: (e: EpochReport, model: RecsysModel) => void;
}

export const COMMON_KEYS = ['dim', 'embeddingDim', 'hidden', 'maxHistory', 'recent', 'decay', 'residual', 'exampleAge', 'horizon', 'examplesPerUser', 'epochs', 'batchSize', 'lr', 'minLrFraction', 'seed', 'threads', 'userFeatures', 'onEpoch'];

/** Checks the options object's keys and the common values; returns them resolved over `defaults`. */
export function resolveCommon(options: CommonTrainOptions & Record<string, unknown>, known: readonly string[], what: string,
  defaults: { dim: number; epochs: number; batchSize: number; lr: number }) {
  if (options === null || typeof options !== 'object') throw invalidArgument(`options: expected an object, got ${describe(options)}`);
  for (const k of Object.keys(options)) if (!known.includes(k)) throw invalidArgument(`options.${k}: unknown ${what} option (known: ${known.join(', ')})`);
  const dim = checkInt(options.dim ?? defaults.dim, 'dim', { min: 1, max: 4096 });
  const hidden = options.hidden ?? [128];
  if (!Array.isArray(hidden)) throw invalidArgument(`hidden: expected an array of layer widths, got ${describe(hidden)}`);
  hidden.forEach((h, i) => checkInt(h, `hidden[${i}]`, { min: 1, max: 16_384 }));
  const threads = checkInt(options.threads ?? 1, 'threads', { min: 1, max: 256 });
  if (threads !== 1) throw invalidArgument(`threads: expected 1, got ${threads} (the deep recommenders train on one thread for now: docs/recommenders.md#threads)`);
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
  };
}

/** The learning-rate factor at `progress` (0 → 1) of a run lowering it linearly to `minFraction`. */
/** An epoch's report: mean loss per example and speed, from its start time `t0` (performance.now()). */
export function epochReport(epoch: number, epochs: number, lossSum: number, examples: number, t0: number): EpochReport {
  const seconds = (performance.now() - t0) / 1000;
  return { epoch, epochs, loss: lossSum / examples, examples, seconds, examplesPerSecond: examples / seconds };
}

/** A training run's stats from its epochs' reports and its start time (one thread). */
export function trainingStats(epochs: EpochReport[], t0: number): TrainStats {
  const seconds = (performance.now() - t0) / 1000;
  const examples = epochs.reduce((a, e) => a + e.examples, 0);
  return { epochs, examples, seconds, examplesPerSecond: examples / seconds, threads: 1 };
}

export const lrScaleAt = (progress: number, minFraction: number): number => 1 - (1 - minFraction) * Math.min(1, progress);
