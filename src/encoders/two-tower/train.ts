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
import { WeightAverage } from '../recsys/average.js';
import { COMMON_KEYS, RecsysModel, applyInitialItems, epochReport, lrScaleAt, resolveCommon, trainingStats, type CommonTrainOptions, type EpochReport } from '../recsys/model.js';
import { UserTower, type UserTowerShape } from '../recsys/user-tower.js';
import { parallelFor } from '../../parallel/pool.js';
import { fillItemInput, itemForward, twoTowerBackward, twoTowerBatchTask, type ItemSide, type TtRunData } from './batch-task.js';
import { packSequences } from '../recsys/shared-sequences.js';

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

export const TWO_TOWER_DEFAULTS = { dim: 64, hidden: [128], maxHistory: 50, recent: 20, decay: 0.7, epochs: 12, batchSize: 256, lr: 0.002, idDropout: 0.1, average: 2.5 } as const;

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

  /** The item side as the batch functions take it (two-tower/batch-task.ts). */
  get itemSide(): ItemSide {
    const f = this.itemFeatures;
    return { itemTower: this.itemTower, idEmbed: this.idEmbed, features: f, featureDim: f?.schema.dim ?? 0, dim: this.dim, tied: this.tied };
  }

  /** The vector of an item: by its id when trained, else from its features (cold start); undefined when neither. */
  itemVector(id: string): Float32Array | undefined {
    const r = this.vocab.index.get(id);
    const f = this.itemFeatures?.rows.get(id) ?? -1;
    if (r === undefined && f < 0) return undefined;
    const side = this.itemSide;
    fillItemInput(side, 0, r ?? this.vocab.items.length, f);
    return itemForward(side, 0).slice();
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
  // On threads, weights and activations live in shared memory (batch-task.ts); the values are the same.
  const par = c.threads > 1;
  const floats = (n: number): Float32Array => (par ? new Float32Array(new SharedArrayBuffer(n * 4)) : new Float32Array(n));
  const idEmbed = floats((nItems + 1) * c.dim);
  const userSizes = UserTower.sizes(shape);
  const userActs = Mlp.activations(userSizes, B, floats);
  const tower = new UserTower(shape, B, tie ? idEmbed.subarray(0, nItems * c.dim) : floats(nItems * c.embeddingDim), floats(Mlp.paramCount(userSizes)),
    undefined, userActs);
  tower.init(rng);
  const g = itemFeats?.schema.dim ?? 0;
  const itemSizes = [c.dim + g, ...c.hidden, c.dim];
  const itemActs = Mlp.activations(itemSizes, B, floats);
  const itemTower = new Mlp(itemSizes, B, floats(Mlp.paramCount(itemSizes)), undefined, itemActs);
  itemTower.init(rng);
  if (!tie) for (let i = 0; i < idEmbed.length; i++) idEmbed[i] = (rng.next() - 0.5) / c.dim;
  else for (let i = nItems * c.dim; i < idEmbed.length; i++) idEmbed[i] = (rng.next() - 0.5) / c.dim;
  applyInitialItems(idEmbed, c.dim, data.vocab, c.initialItems, c.initialNorm);
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
  const side = model.itemSide;
  /** An example's target (one of the next `horizon` items) and its id row (the unknown row under id dropout), into slot b. */
  const drawTarget = (seq: Int32Array, t: number, b: number, itemsOut: Int32Array, idRowsOut: Int32Array, logQOut: Float32Array): void => {
    const item = seq[c.horizon === 1 ? t : t + rng.int(Math.min(c.horizon, seq.length - t))]!;
    itemsOut[b] = item;
    logQOut[b] = logQ[item]!;
    idRowsOut[b] = idDropout > 0 && rng.next() < idDropout ? nItems : item;
  };
  const threaded = par ? new ThreadedBatches(c.threads, B, data.seqs, shape, itemSizes, tie, g, tower, itemTower, userActs, itemActs, idEmbed, feats, userFeatRow,
    itemFeats, itemFeatRow, exSeq, exPos, drawTarget, gD, gE) : null;
  // Examples per epoch are fixed (at most examplesPerUser of each user's positions), so are the steps.
  let perEpoch = 0;
  for (const q of data.seqs) { const m = Math.max(0, q.length - 1); perEpoch += c.examplesPerUser === 0 ? m : Math.min(m, c.examplesPerUser); }
  const stepsPerEpoch = Math.ceil(perEpoch / B);
  const avg = c.average > 0 ? new WeightAverage(tie ? [tower.mlp.params, itemTower.params, idEmbed] : [tower.mlp.params, itemTower.params, idEmbed, tower.embed], WeightAverage.decayFor(c.average, stepsPerEpoch)) : null;
  const epochs: EpochReport[] = [];
  const t0 = performance.now();
  for (let epoch = 1; epoch <= c.epochs; epoch++) {
    const te = performance.now();
    const count = drawExamples(data.seqs, 1, c.examplesPerUser, rng, exSeq, exPos, examplePool);
    let loss = 0;
    for (let b0 = 0; b0 < count; b0 += B) {
      const n = Math.min(count, b0 + B) - b0;
      adam.begin();
      if (threaded !== null) {
        loss += threaded.batch(b0, n);
      } else {
        for (let b = 0; b < n; b++) {
          const ex = b0 + b;
          const s = exSeq[ex]!;
          const t = exPos[ex]!;
          const seq = data.seqs[s]!;
          U.set(tower.forward(b, seq, 0, t, feats, userFeatRow[s]!, seq.length - 1 - t), b * d);
          drawTarget(seq, t, b, items, idRows, colLogQ);
          fillItemInput(side, b, idRows[b]!, itemFeatRow[items[b]!]!);
          V.set(itemForward(side, b), b * d);
        }
        loss += inBatchSoftmax(U, V, n, d, items, colLogQ, dU, dV, scratch);
        for (let b = 0; b < n; b++) {
          const ex = b0 + b;
          twoTowerBackward(tower, side, b, data.seqs[exSeq[ex]!]!, exPos[ex]!, dU, dV, idRows[b]!, gE, gD, dxItem);
        }
      }
      const lrs = lrScaleAt((epoch - 1 + b0 / count) / c.epochs, c.minLrFraction);
      const scale = 1 / n;
      adam.dense(tower.mlp.params, tower.mlp.grads, mU, vU, scale, lrs);
      adam.dense(itemTower.params, itemTower.grads, mI, vI, scale, lrs);
      if (!tie) adam.sparse(tower.embed, gE, mE, vE, scale, lrs);
      adam.sparse(idEmbed, gD, mD, vD, scale, lrs);
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

/** The calling thread's side of training on threads (batch-task.ts): the three passes of a batch, the sums in slice order. */
class ThreadedBatches {
  readonly #threads: number;
  readonly #run: TtRunData;
  readonly #v: {
    exSeq: Int32Array; exPos: Int32Array; items: Int32Array; idRows: Int32Array; colLogQ: Float32Array; dV: Float32Array; loss: Float64Array;
    dVPart: Float32Array[]; userGrads: Float32Array[]; itemGrads: Float32Array[]; gD: SparseGrad[]; gE: SparseGrad[] | null;
  };
  readonly #src: { exSeq: Int32Array; exPos: Int32Array; seqs: readonly Int32Array[]; tower: UserTower; itemTower: Mlp; gD: SparseGrad; gE: SparseGrad;
    draw: (seq: Int32Array, t: number, b: number, items: Int32Array, idRows: Int32Array, logQ: Float32Array) => void; dim: number };

  constructor(threads: number, B: number, seqs: readonly Int32Array[], shape: UserTowerShape, itemSizes: number[], tied: boolean, featureDim: number,
    tower: UserTower, itemTower: Mlp, userActs: Float32Array[], itemActs: Float32Array[], idEmbed: Float32Array, userFeats: FeatureTable | null, userFeatRow: Int32Array,
    itemFeats: FeatureTable | null, itemFeatRow: Int32Array, exSeq: Int32Array, exPos: Int32Array,
    draw: (seq: Int32Array, t: number, b: number, items: Int32Array, idRows: Int32Array, logQ: Float32Array) => void, gD: SparseGrad, gE: SparseGrad) {
    this.#threads = threads;
    const sab = (bytes: number): SharedArrayBuffer => new SharedArrayBuffer(Math.max(4, bytes));
    const shareOf = (a: Int32Array | Float32Array): SharedArrayBuffer => {
      const b = sab(a.byteLength);
      new Uint8Array(b).set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
      return b;
    };
    const bufOf = (a: Float32Array): SharedArrayBuffer => a.buffer as SharedArrayBuffer;
    const packed = packSequences(seqs);
    const d = shape.dim;
    const gDs = Array.from({ length: threads }, () => SparseGrad.shared(shape.items + 1, d));
    const gEs = tied ? null : Array.from({ length: threads }, () => SparseGrad.shared(shape.items, shape.embeddingDim));
    const per = (bytes: number): SharedArrayBuffer[] => Array.from({ length: threads }, () => sab(bytes));
    this.#run = {
      id: nextRun++, shape, itemSizes, tied, featureDim,
      userParams: bufOf(tower.mlp.params), itemParams: bufOf(itemTower.params), idEmbed: bufOf(idEmbed), embed: tied ? null : bufOf(tower.embed),
      userActs: userActs.map(bufOf), itemActs: itemActs.map(bufOf), ...packed,
      userFeatRow: shareOf(userFeatRow), userFeatData: userFeats === null ? null : shareOf(userFeats.data),
      itemFeatRow: shareOf(itemFeatRow), itemFeatData: itemFeats === null ? null : shareOf(itemFeats.data),
      exSeq: sab(B * 4), exPos: sab(B * 4), items: sab(B * 4), idRows: sab(B * 4), colLogQ: sab(B * 4),
      U: sab(B * d * 4), V: sab(B * d * 4), dU: sab(B * d * 4), dV: sab(B * d * 4),
      dVPart: per(B * d * 4), userGrads: per(tower.mlp.params.length * 4), itemGrads: per(itemTower.params.length * 4),
      gD: gDs.map((x) => x.buffers()), gE: gEs === null ? null : gEs.map((x) => x.buffers()), loss: sab(threads * 8),
    };
    const r = this.#run;
    this.#v = {
      exSeq: new Int32Array(r.exSeq), exPos: new Int32Array(r.exPos), items: new Int32Array(r.items), idRows: new Int32Array(r.idRows),
      colLogQ: new Float32Array(r.colLogQ), dV: new Float32Array(r.dV), loss: new Float64Array(r.loss),
      dVPart: r.dVPart.map((b) => new Float32Array(b)), userGrads: r.userGrads.map((b) => new Float32Array(b)), itemGrads: r.itemGrads.map((b) => new Float32Array(b)),
      gD: gDs, gE: gEs,
    };
    this.#src = { exSeq, exPos, seqs, tower, itemTower, gD, gE, draw, dim: d };
  }

  /** Examples [b0, b0 + n) of the epoch's draw: gradients summed into the trainer's; returns the summed loss. */
  batch(b0: number, n: number): number {
    const s = this.#src;
    const v = this.#v;
    for (let b = 0; b < n; b++) {
      const q = s.exSeq[b0 + b]!;
      const t = s.exPos[b0 + b]!;
      v.exSeq[b] = q;
      v.exPos[b] = t;
      s.draw(s.seqs[q]!, t, b, v.items, v.idRows, v.colLogQ);
    }
    const shards = this.#threads;
    const run = (pass: 1 | 2 | 3): void => { parallelFor(this.#threads, shards, twoTowerBatchTask, { run: this.#run, pass, n, shards }, { grain: 1 }); };
    run(1);
    run(2);
    const m = n * s.dim;
    let loss = 0;
    v.dV.fill(0, 0, m);
    for (let k = 0; k < shards; k++) {
      loss += v.loss[k]!;
      const part = v.dVPart[k]!;
      for (let j = 0; j < m; j++) v.dV[j] = v.dV[j]! + part[j]!;
    }
    run(3);
    sumInto(s.tower.mlp.grads, v.userGrads);
    sumInto(s.itemTower.grads, v.itemGrads);
    for (let k = 0; k < shards; k++) {
      s.gD.addFrom(v.gD[k]!);
      if (v.gE !== null) s.gE.addFrom(v.gE[k]!);
    }
    return loss;
  }
}

/** g += Σ_k parts[k] in order k = 0, 1, …; zeroes the parts. */
function sumInto(g: Float32Array, parts: Float32Array[]): void {
  for (const p of parts) for (let j = 0; j < g.length; j++) { g[j] = g[j]! + p[j]!; p[j] = 0; }
}
