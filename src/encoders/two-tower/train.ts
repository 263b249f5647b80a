/**
 * A two-tower retriever (Yi et al., "Sampling-bias-corrected neural modeling for large corpus item
 * recommendations", RecSys 2019): the user tower of YouTube DNN (recsys/user-tower.ts) and an item
 * tower over [item id embedding, item side features] → ReLU layers → the item vector; trained on
 * (history → next item) pairs with in-batch negatives (the other pairs' items) and the logQ
 * correction (an item's chance to be in a batch ∝ its frequency, so popular items would otherwise
 * be over-penalised as negatives). With probability `idDropout` the id embedding of an example's
 * item is swapped for the "unknown item" row, so the tower learns to place an item from its
 * features alone: a cold-start item (features, never seen in training) gets its vector that way.
 * Design and figures: docs/recommenders.md.
 */
import { invalidArgument } from '../../errors.js';
import { checkNumber } from '../../checks.js';
import { Random } from '../../vector/random.js';
import { Adam } from '../recsys/adam.js';
import { buildVocabulary, checkSequences, drawExamples, encodeSequences, type UserSequences, type Vocabulary } from '../recsys/data.js';
import type { FeatureTable } from '../recsys/features.js';
import { SparseGrad, inBatchSoftmax } from '../recsys/layers.js';
import { Mlp } from '../recsys/mlp.js';
import { COMMON_KEYS, RecsysModel, epochReport, lrScaleAt, resolveCommon, trainingStats, type CommonTrainOptions, type EpochReport } from '../recsys/model.js';
import { UserTower, type UserTowerShape } from '../recsys/user-tower.js';

export interface TwoTowerOptions extends CommonTrainOptions {
  /** Item side features (rows keyed by item id); items of this table never seen in training still get vectors. */
  itemFeatures?: FeatureTable;
  /** Chance that an example's item id is replaced by the unknown-item row (default 0.1 with item features, 0 without). */
  idDropout?: number;
  /**
   * One item table for the user tower's history bags and the item tower's id input, and the id
   * embedding added to the item tower's output (default true; needs embeddingDim = dim): with the
   * user side's residual, u · v starts as the similarity of the candidate to the latest items,
   * as in YouTube DNN with its tied table (docs/recommenders.md).
   */
  tie?: boolean;
}

export const TWO_TOWER_DEFAULTS = { dim: 64, hidden: [128], maxHistory: 50, recent: 20, decay: 0.7, epochs: 10, batchSize: 256, lr: 0.002, idDropout: 0.1 } as const;

const KNOWN = [...COMMON_KEYS, 'itemFeatures', 'idDropout', 'tie'];

export class TwoTowerModel extends RecsysModel {
  readonly kind = 'two-tower' as const;
  /** (items + 1) × dim: the item id embeddings, the last row for an unknown item. */
  readonly idEmbed: Float32Array;
  readonly itemTower: Mlp;
  readonly itemFeatures: FeatureTable | null;
  /** The id embedding is added to the item tower's output (and shared with the user tower). */
  readonly tied: boolean;

  constructor(vocab: Vocabulary, tower: UserTower, userFeatures: FeatureTable | null, idEmbed: Float32Array, itemTower: Mlp, itemFeatures: FeatureTable | null, tied: boolean) {
    super(vocab, tower, userFeatures);
    this.idEmbed = idEmbed;
    this.itemTower = itemTower;
    this.itemFeatures = itemFeatures;
    this.tied = tied;
  }

  /** The item tower on the input of `slot` (see `fillItemInput`); a view valid until the slot is reused. */
  itemForward(slot: number): Float32Array {
    const v = this.itemTower.forward(slot);
    if (this.tied) {
      const x = this.itemTower.input(slot);
      for (let j = 0; j < v.length; j++) v[j] = v[j]! + x[j]!;
    }
    return v;
  }

  /** Fills the item tower's input of `slot` for an id row (items = unknown) and a feature row (−1: none). */
  fillItemInput(slot: number, idRow: number, featureRow: number): void {
    const x = this.itemTower.input(slot);
    const e = this.tower.shape.dim;
    x.set(this.idEmbed.subarray(idRow * e, idRow * e + e), 0);
    const f = this.itemFeatures;
    if (f !== null) {
      if (featureRow >= 0) x.set(f.data.subarray(featureRow * f.schema.dim, (featureRow + 1) * f.schema.dim), e);
      else x.fill(0, e, e + f.schema.dim);
    }
  }

  /** The vector of an item: by its id when trained, else from its features (cold start); undefined when neither. */
  itemVector(id: string): Float32Array | undefined {
    const r = this.vocab.index.get(id);
    const f = this.itemFeatures?.rows.get(id) ?? -1;
    if (r === undefined && f < 0) return undefined;
    this.fillItemInput(0, r ?? this.vocab.items.length, f);
    return this.itemForward(0).slice();
  }

  /** Every trained item, then every item of the item features never seen in training (cold start). */
  itemVectors(): { ids: string[]; vectors: Float32Array } {
    const ids = this.vocab.items.slice();
    if (this.itemFeatures !== null) for (const id of this.itemFeatures.rows.keys()) if (!this.vocab.index.has(id)) ids.push(id);
    const d = this.dim;
    const vectors = new Float32Array(ids.length * d);
    ids.forEach((id, i) => vectors.set(this.itemVector(id)!, i * d));
    return { ids, vectors };
  }
}

/**
 * Trains the two-tower model on user sequences (oldest first): one (history → next item) pair per
 * item after the first. Deterministic for a seed. Errors: `invalid_argument` for bad options or
 * sequences with no pair.
 */
export function trainTwoTower(sequences: UserSequences, options: TwoTowerOptions = {}): TwoTowerModel {
  const c = resolveCommon(options as TwoTowerOptions & Record<string, unknown>, KNOWN, 'two-tower', TWO_TOWER_DEFAULTS);
  const itemFeats = options.itemFeatures ?? null;
  const idDropout = checkNumber(options.idDropout ?? (itemFeats !== null ? TWO_TOWER_DEFAULTS.idDropout : 0), 'idDropout', { min: 0, max: 1 });
  const data = encodeSequences(checkSequences(sequences), buildVocabulary(sequences));
  const feats = options.userFeatures ?? null;
  const nItems = data.vocab.items.length;
  const B = c.batchSize;
  const shape: UserTowerShape = {
    items: nItems, embeddingDim: c.embeddingDim, hidden: c.hidden, dim: c.dim, maxHistory: c.maxHistory,
    recent: c.recent, decay: c.decay, residual: c.residual, exampleAge: c.exampleAge, featureDim: feats?.schema.dim ?? 0,
  };
  const tie = options.tie ?? true;
  if (typeof tie !== 'boolean') throw invalidArgument(`tie: expected a boolean, got ${String(tie)}`);
  if (tie && c.embeddingDim !== c.dim) throw invalidArgument(`embeddingDim: tie (one item table) needs embeddingDim = dim (${c.dim}), got ${c.embeddingDim}; pass tie: false`);
  const rng = new Random(c.seed);
  const idEmbed = new Float32Array((nItems + 1) * c.dim);
  const tower = new UserTower(shape, B, tie ? idEmbed.subarray(0, nItems * c.dim) : undefined);
  tower.init(rng);
  const g = itemFeats?.schema.dim ?? 0;
  const itemTower = new Mlp([c.dim + g, ...c.hidden, c.dim], B);
  itemTower.init(rng);
  if (!tie) for (let i = 0; i < idEmbed.length; i++) idEmbed[i] = (rng.next() - 0.5) / c.dim;
  else for (let i = nItems * c.dim; i < idEmbed.length; i++) idEmbed[i] = (rng.next() - 0.5) / c.dim;
  const model = new TwoTowerModel(data.vocab, tower, feats, idEmbed, itemTower, itemFeats, tie);
  const itemFeatRow = Int32Array.from(data.vocab.items, (it) => itemFeats?.rows.get(it) ?? -1);
  const userFeatRow = Int32Array.from(data.users, (u) => feats?.rows.get(u) ?? -1);

  let total = 0;
  for (const s of data.seqs) total += Math.max(0, s.length - 1);
  if (total === 0) throw invalidArgument('sequences: expected at least one sequence of two or more items (no next item to learn)');
  const exSeq = new Int32Array(total);
  const exPos = new Int32Array(total);
  const examplePool = new Int32Array(data.seqs.reduce((m, s) => Math.max(m, s.length), 0));

  // log Q: an item's share of the training targets (its chance to be a batch's negative).
  let sum = 0;
  for (const cnt of data.vocab.counts) sum += cnt;
  const logQ = Float32Array.from(data.vocab.counts, (cnt) => Math.log(cnt / sum));

  const d = c.dim;
  const adam = new Adam({ lr: c.lr });
  const mU = new Float32Array(tower.mlp.params.length);
  const vU = new Float32Array(tower.mlp.params.length);
  const mI = new Float32Array(itemTower.params.length);
  const vI = new Float32Array(itemTower.params.length);
  const mD = new Float32Array(idEmbed.length);
  const vD = new Float32Array(idEmbed.length);
  const gD = new SparseGrad(nItems + 1, d);
  const mE = tie ? mD : new Float32Array(tower.embed.length);
  const vE = tie ? vD : new Float32Array(tower.embed.length);
  const gE = tie ? gD : new SparseGrad(nItems, c.embeddingDim);
  const U = new Float32Array(B * d);
  const V = new Float32Array(B * d);
  const dU = new Float32Array(B * d);
  const dV = new Float32Array(B * d);
  const items = new Int32Array(B);
  const idRows = new Int32Array(B);
  const colLogQ = new Float32Array(B);
  const scratch = new Float64Array(B);
  const dxItem = new Float32Array(c.dim + g);
  const epochs: EpochReport[] = [];
  const t0 = performance.now();
  for (let epoch = 1; epoch <= c.epochs; epoch++) {
    const te = performance.now();
    const count = drawExamples(data.seqs, 1, c.examplesPerUser, rng, exSeq, exPos, examplePool);
    let loss = 0;
    for (let b0 = 0; b0 < count; b0 += B) {
      const n = Math.min(count, b0 + B) - b0;
      adam.begin();
      for (let b = 0; b < n; b++) {
        const ex = b0 + b;
        const s = exSeq[ex]!;
        const t = exPos[ex]!;
        const seq = data.seqs[s]!;
        U.set(tower.forward(b, seq, 0, t, feats, userFeatRow[s]!, seq.length - 1 - t), b * d);
        const item = seq[c.horizon === 1 ? t : t + rng.int(Math.min(c.horizon, seq.length - t))]!;
        items[b] = item;
        colLogQ[b] = logQ[item]!;
        idRows[b] = idDropout > 0 && rng.next() < idDropout ? nItems : item;
        model.fillItemInput(b, idRows[b]!, itemFeatRow[item]!);
        V.set(model.itemForward(b), b * d);
      }
      loss += inBatchSoftmax(U, V, n, d, items, colLogQ, dU, dV, scratch);
      for (let b = 0; b < n; b++) {
        const ex = b0 + b;
        const seq = data.seqs[exSeq[ex]!]!;
        tower.backward(b, dU.subarray(b * d, b * d + d), seq, 0, exPos[ex]!, gE);
        itemTower.backward(b, dV.subarray(b * d, b * d + d), dxItem);
        if (tie) for (let j = 0; j < d; j++) dxItem[j] = dxItem[j]! + dV[b * d + j]!;
        gD.add(idRows[b]!, dxItem, 0, 1);
      }
      const lrs = lrScaleAt((epoch - 1 + b0 / count) / c.epochs, c.minLrFraction);
      const scale = 1 / n;
      adam.dense(tower.mlp.params, tower.mlp.grads, mU, vU, scale, lrs);
      adam.dense(itemTower.params, itemTower.grads, mI, vI, scale, lrs);
      if (!tie) adam.sparse(tower.embed, gE, mE, vE, scale, lrs);
      adam.sparse(idEmbed, gD, mD, vD, scale, lrs);
    }
    const report = epochReport(epoch, c.epochs, loss, count, te);
    epochs.push(report);
    options.onEpoch?.(report, model);
  }
  model.stats = trainingStats(epochs, t0);
  return model;
}
