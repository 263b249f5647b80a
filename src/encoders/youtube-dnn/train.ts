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
import { SparseGrad, sampledSoftmax } from '../recsys/layers.js';
import { COMMON_KEYS, RecsysModel, epochReport, lrScaleAt, resolveCommon, trainingStats, type CommonTrainOptions, type EpochReport } from '../recsys/model.js';
import { UnigramSampler } from '../recsys/sampler.js';
import { UserTower, type UserTowerShape } from '../recsys/user-tower.js';

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
export const YOUTUBE_DNN_DEFAULTS = { dim: 100, hidden: [128], maxHistory: 50, recent: 20, decay: 0.7, negatives: 200, power: 1, epochs: 10, batchSize: 64, lr: 0.002, tie: true } as const;

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
  const output = new Float32Array(nItems * c.dim);
  const tower = new UserTower(shape, 1, tie ? output : undefined);
  tower.init(rng);
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
  const cand = new Int32Array(negatives + 1);
  const logits = new Float64Array(negatives + 1);
  const du = new Float32Array(c.dim);
  const epochs: EpochReport[] = [];
  const t0 = performance.now();
  for (let epoch = 1; epoch <= c.epochs; epoch++) {
    const te = performance.now();
    const count = drawExamples(data.seqs, first, c.examplesPerUser, rng, exSeq, exPos, scratch);
    let loss = 0;
    for (let b0 = 0; b0 < count; b0 += c.batchSize) {
      const b1 = Math.min(count, b0 + c.batchSize);
      adam.begin();
      for (let i = b0; i < b1; i++) {
        const ex = i;
        const s = exSeq[ex]!;
        const t = exPos[ex]!;
        const seq = data.seqs[s]!;
        const u = tower.forward(0, seq, 0, t, feats, featRow[s]!, seq.length - 1 - t);
        cand[0] = seq[c.horizon === 1 ? t : t + rng.int(Math.min(c.horizon, seq.length - t))]!;
        for (let j = 1; j <= negatives; j++) cand[j] = sampler.draw(rng);
        loss += sampledSoftmax(u, output, c.dim, cand, negatives + 1, logQ, du, gO, logits);
        tower.backward(0, du, seq, 0, t, gE);
      }
      const lrs = lrScaleAt((epoch - 1 + b0 / count) / c.epochs, c.minLrFraction);
      const scale = 1 / (b1 - b0);
      adam.dense(mlp.params, mlp.grads, mW, vW, scale, lrs);
      if (!tie) adam.sparse(tower.embed, gE, mE, vE, scale, lrs);
      adam.sparse(output, gO, mO, vO, scale, lrs);
    }
    const report = epochReport(epoch, c.epochs, loss, count, te);
    epochs.push(report);
    options.onEpoch?.(report, model);
  }
  model.stats = trainingStats(epochs, t0);
  return model;
}
