/**
 * YouTube DNN candidate generation (Covington, Adams & Sargin, "Deep Neural Networks for YouTube
 * Recommendations", RecSys 2016, §3): the user vector is an MLP over the averaged embeddings of the
 * items watched before (plus user features and the example age); every next item of every
 * sequence is a training example, "extreme multi-class classification" over the items, trained
 * with sampled softmax (negatives from Q ∝ count^0.75, logits corrected by −log Q). Serving is an
 * inner-product nearest-neighbour search of the user vector among the softmax's item vectors.
 * Design and measured figures: docs/recommenders.md.
 */
import { invalidArgument } from '../../errors.js';
import { checkInt, checkNumber } from '../../checks.js';
import { Random } from '../../vector/random.js';
import { Adam } from '../recsys/adam.js';
import { buildVocabulary, checkSequences, drawExamples, encodeSequences, type UserSequences, type Vocabulary } from '../recsys/data.js';
import type { FeatureTable } from '../recsys/features.js';
import { SparseGrad } from '../recsys/layers.js';
import { WeightAverage } from '../recsys/average.js';
import { COMMON_KEYS, RecsysModel, applyInitialItems, epochReport, lrScaleAt, resolveCommon, trainingStats, type CommonTrainOptions, type EpochReport } from '../recsys/model.js';
import { UnigramSampler } from '../recsys/sampler.js';
import { UserTower, type UserTowerShape } from '../recsys/user-tower.js';
import { Mlp } from '../recsys/mlp.js';
import { parallelFor } from '../../parallel/pool.js';
import { youtubeDnnBatchTask, youtubeDnnExample, type YtRunData } from './batch-task.js';
import { packSequences } from '../recsys/shared-sequences.js';

export interface YoutubeDnnOptions extends CommonTrainOptions {
  /** Sampled negatives per example (default 200). */
  negatives?: number;
  /** Q(j) ∝ count_j^power (default 1: Q is the items' frequency; 0.75, word2vec's, did worse on MovieLens). */
  power?: number;
  /**
   * One item table for the history bags and the softmax (default true; needs embeddingDim = dim):
   * half the parameters, and every example trains both roles of an item, which generalises
   * better on small data (docs/recommenders.md#tuning).
   */
  tie?: boolean;
}

/** Chosen on the MovieLens validation split (docs/recommenders.md#tuning). */
export const YOUTUBE_DNN_DEFAULTS = { dim: 100, hidden: [128], maxHistory: 50, recent: 20, decay: 0.7, negatives: 200, power: 1, epochs: 9, batchSize: 64, lr: 0.002, tie: true, average: 3 } as const;

const KNOWN = [...COMMON_KEYS, 'negatives', 'power', 'tie'];

export class YoutubeDnnModel extends RecsysModel {
  readonly kind = 'youtube-dnn' as const;
  /** The softmax's item vectors, items × dim: what the index serves. */
  readonly output: Float32Array;

  constructor(vocab: Vocabulary, tower: UserTower, userFeatures: FeatureTable | null, output: Float32Array) {
    super(vocab, tower, userFeatures);
    this.output = output;
  }

  itemVectors(): { ids: string[]; vectors: Float32Array } {
    return { ids: this.vocab.items.slice(), vectors: this.output.slice() };
  }
}

/**
 * Trains YouTube DNN on user sequences (oldest item first). One example per item after the first
 * of each sequence (the first too when user features are given): predict it from the items before
 * it. Deterministic for a seed. Errors: `invalid_argument` for unknown or bad options and for
 * sequences with fewer than one example.
 */
export function trainYoutubeDnn(sequences: UserSequences, options: YoutubeDnnOptions = {}): YoutubeDnnModel {
  const c = resolveCommon(options as YoutubeDnnOptions & Record<string, unknown>, KNOWN, 'YouTube DNN', YOUTUBE_DNN_DEFAULTS);
  const negatives = checkInt(options.negatives ?? YOUTUBE_DNN_DEFAULTS.negatives, 'negatives', { min: 1, max: 100_000 });
  const power = checkNumber(options.power ?? YOUTUBE_DNN_DEFAULTS.power, 'power', { min: 0, max: 1 });
  const data = encodeSequences(checkSequences(sequences), buildVocabulary(sequences));
  const feats = options.userFeatures ?? null;
  const nItems = data.vocab.items.length;
  const shape: UserTowerShape = {
    items: nItems, embeddingDim: c.embeddingDim, hidden: c.hidden, dim: c.dim, maxHistory: c.maxHistory,
    recent: c.recent, decay: c.decay, residual: c.residual, exampleAge: c.exampleAge, featureDim: feats?.schema.dim ?? 0,
  };
  const tie = options.tie ?? YOUTUBE_DNN_DEFAULTS.tie;
  if (typeof tie !== 'boolean') throw invalidArgument(`tie: expected a boolean, got ${String(tie)}`);
  if (tie && c.embeddingDim !== c.dim) throw invalidArgument(`embeddingDim: tie (one item table) needs embeddingDim = dim (${c.dim}), got ${c.embeddingDim}; pass tie: false`);
  const rng = new Random(c.seed);
  // On threads, every weight lives in shared memory (batch-task.ts); the values are the same.
  const par = c.threads > 1;
  const floats = (n: number): Float32Array => (par ? new Float32Array(new SharedArrayBuffer(n * 4)) : new Float32Array(n));
  const output = floats(nItems * c.dim);
  const tower = new UserTower(shape, 1, tie ? output : floats(nItems * c.embeddingDim), floats(Mlp.paramCount(UserTower.sizes(shape))));
  tower.init(rng);
  applyInitialItems(output, c.dim, data.vocab, c.initialItems, c.initialNorm);
  const model = new YoutubeDnnModel(data.vocab, tower, feats, output);

  // Examples: (sequence, position); position 0 has an empty history, kept only with user features.
  const first = feats !== null ? 0 : 1;
  let total = 0;
  for (const s of data.seqs) total += Math.max(0, s.length - first);
  if (total === 0) throw invalidArgument('sequences: expected at least one sequence of two or more items (no next item to learn)');
  const exSeq = new Int32Array(total);
  const exPos = new Int32Array(total);
  const featRow = Int32Array.from(data.users, (u) => feats?.rows.get(u) ?? -1);
  const scratch = new Int32Array(data.seqs.reduce((m, s) => Math.max(m, s.length), 0));

  const sampler = new UnigramSampler(data.vocab.counts, power);
  const logQ = sampler.logQ;
  const adam = new Adam({ lr: c.lr });
  const mlp = tower.mlp;
  const mW = new Float32Array(mlp.params.length);
  const vW = new Float32Array(mlp.params.length);
  const mO = new Float32Array(output.length);
  const vO = new Float32Array(output.length);
  const gO = new SparseGrad(nItems, c.dim);
  const mE = tie ? mO : new Float32Array(tower.embed.length);
  const vE = tie ? vO : new Float32Array(tower.embed.length);
  const gE = tie ? gO : new SparseGrad(nItems, c.embeddingDim);
  const nCand = negatives + 1;
  const cand = new Int32Array(nCand);
  const logits = new Float64Array(negatives + 1);
  const du = new Float32Array(c.dim);
  /** The target (one of the next `horizon` items) and the negatives of the example at seq[t], into cand[off..off+nCand). */
  const drawCandidates = (seq: Int32Array, t: number, into: Int32Array, off: number): void => {
    into[off] = seq[c.horizon === 1 ? t : t + rng.int(Math.min(c.horizon, seq.length - t))]!;
    for (let j = 1; j < nCand; j++) into[off + j] = sampler.draw(rng);
  };
  const threaded = par ? new ThreadedBatches(c.threads, c.batchSize, data.seqs, shape, nCand, output, tie ? null : tower.embed, mlp, feats, featRow, logQ,
    exSeq, exPos, drawCandidates, gO, gE) : null;
  // Examples per epoch are fixed (at most examplesPerUser of each user's positions), so are the steps.
  let perEpoch = 0;
  for (const q of data.seqs) { const m = Math.max(0, q.length - first); perEpoch += c.examplesPerUser === 0 ? m : Math.min(m, c.examplesPerUser); }
  const stepsPerEpoch = Math.ceil(perEpoch / c.batchSize);
  const avg = c.average > 0 ? new WeightAverage(tie ? [mlp.params, output] : [mlp.params, output, tower.embed], WeightAverage.decayFor(c.average, stepsPerEpoch)) : null;
  const epochs: EpochReport[] = [];
  const t0 = performance.now();
  for (let epoch = 1; epoch <= c.epochs; epoch++) {
    const te = performance.now();
    const count = drawExamples(data.seqs, first, c.examplesPerUser, rng, exSeq, exPos, scratch);
    let loss = 0;
    for (let b0 = 0; b0 < count; b0 += c.batchSize) {
      const b1 = Math.min(count, b0 + c.batchSize);
      adam.begin();
      if (threaded === null) {
        for (let i = b0; i < b1; i++) {
          const seq = data.seqs[exSeq[i]!]!;
          const t = exPos[i]!;
          drawCandidates(seq, t, cand, 0);
          loss += youtubeDnnExample(tower, output, seq, t, feats, featRow[exSeq[i]!]!, cand, nCand, logQ, du, gO, gE, logits);
        }
      } else {
        loss += threaded.batch(b0, b1);
      }
      const lrs = lrScaleAt((epoch - 1 + b0 / count) / c.epochs, c.minLrFraction);
      const scale = 1 / (b1 - b0);
      adam.dense(mlp.params, mlp.grads, mW, vW, scale, lrs);
      if (!tie) adam.sparse(tower.embed, gE, mE, vE, scale, lrs);
      adam.sparse(output, gO, mO, vO, scale, lrs);
      avg?.update();
    }
    const report = epochReport(epoch, c.epochs, loss, count, te);
    epochs.push(report);
    if (options.onEpoch !== undefined) {
      avg?.apply();
      try { options.onEpoch(report, model); } finally { if (epoch < c.epochs) avg?.restore(); }
    } else if (epoch === c.epochs) avg?.apply();
  }
  model.stats = trainingStats(epochs, t0, c.threads);
  return model;
}

let nextRun = 1;

/**
 * The calling thread's side of training on threads (batch-task.ts): copies a batch's examples and
 * their candidates (drawn here, in the 1-thread order) to shared memory, runs the slices on the
 * pool, then sums the slices' gradients in slice order into the trainer's gradients.
 */
class ThreadedBatches {
  readonly #threads: number;
  readonly #run: YtRunData;
  readonly #exSeq: Int32Array;
  readonly #exPos: Int32Array;
  readonly #cand: Int32Array;
  readonly #loss: Float64Array;
  readonly #grads: Float32Array[];
  readonly #gOut: SparseGrad[];
  readonly #gEmbed: SparseGrad[] | null;
  readonly #src: { exSeq: Int32Array; exPos: Int32Array; seqs: readonly Int32Array[]; mlp: Mlp; gO: SparseGrad; gE: SparseGrad;
    draw: (seq: Int32Array, t: number, into: Int32Array, off: number) => void; nCand: number };

  constructor(threads: number, batchSize: number, seqs: readonly Int32Array[], shape: UserTowerShape, nCand: number, output: Float32Array,
    embed: Float32Array | null, mlp: Mlp, feats: FeatureTable | null, featRow: Int32Array, logQ: Float32Array, exSeq: Int32Array, exPos: Int32Array,
    draw: (seq: Int32Array, t: number, into: Int32Array, off: number) => void, gO: SparseGrad, gE: SparseGrad) {
    this.#threads = threads;
    const sab = (bytes: number): SharedArrayBuffer => new SharedArrayBuffer(Math.max(4, bytes));
    const shareOf = <T extends Int32Array | Float32Array>(a: T): SharedArrayBuffer => {
      const b = sab(a.byteLength);
      new (a.constructor as new (b: SharedArrayBuffer) => T)(b).set(a);
      return b;
    };
    const packed = packSequences(seqs);
    const gOut = Array.from({ length: threads }, () => SparseGrad.shared(shape.items, shape.dim));
    const gEmbed = embed === null ? null : Array.from({ length: threads }, () => SparseGrad.shared(shape.items, shape.embeddingDim));
    this.#run = {
      id: nextRun++, shape, nCand,
      params: mlp.params.buffer as SharedArrayBuffer, output: output.buffer as SharedArrayBuffer, embed: embed === null ? null : embed.buffer as SharedArrayBuffer,
      ...packed,
      featRow: shareOf(featRow), featData: feats === null ? null : shareOf(feats.data), logQ: shareOf(logQ),
      exSeq: sab(batchSize * 4), exPos: sab(batchSize * 4), cand: sab(batchSize * nCand * 4),
      grads: Array.from({ length: threads }, () => sab(mlp.params.length * 4)),
      gOut: gOut.map((g) => g.buffers()), gEmbed: gEmbed === null ? null : gEmbed.map((g) => g.buffers()),
      loss: sab(threads * 8),
    };
    this.#exSeq = new Int32Array(this.#run.exSeq);
    this.#exPos = new Int32Array(this.#run.exPos);
    this.#cand = new Int32Array(this.#run.cand);
    this.#loss = new Float64Array(this.#run.loss);
    this.#grads = this.#run.grads.map((b) => new Float32Array(b));
    this.#gOut = gOut;
    this.#gEmbed = gEmbed;
    this.#src = { exSeq, exPos, seqs, mlp, gO, gE, draw, nCand };
  }

  /** Examples [b0, b1) of the epoch's draw: gradients summed into the trainer's; returns the summed loss. */
  batch(b0: number, b1: number): number {
    const s = this.#src;
    const n = b1 - b0;
    for (let i = 0; i < n; i++) {
      const q = s.exSeq[b0 + i]!;
      const t = s.exPos[b0 + i]!;
      this.#exSeq[i] = q;
      this.#exPos[i] = t;
      s.draw(s.seqs[q]!, t, this.#cand, i * s.nCand);
    }
    const shards = this.#threads;
    parallelFor(this.#threads, shards, youtubeDnnBatchTask, { run: this.#run, n, shards }, { grain: 1 });
    let loss = 0;
    const g = s.mlp.grads;
    for (let k = 0; k < shards; k++) {
      loss += this.#loss[k]!;
      const gk = this.#grads[k]!;
      for (let j = 0; j < g.length; j++) { g[j] = g[j]! + gk[j]!; gk[j] = 0; }
      s.gO.addFrom(this.#gOut[k]!);
      if (this.#gEmbed !== null) s.gE.addFrom(this.#gEmbed[k]!);
    }
    return loss;
  }
}
