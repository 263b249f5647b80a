/**
 * Two-tower training on worker threads (docs/recommenders.md#threads): synchronous data
 * parallelism as for YouTube DNN (youtube-dnn/batch-task.ts), in three passes per mini-batch
 * because in-batch softmax couples the examples: (1) each slice of the batch runs both towers
 * forward; (2) each slice computes its rows of the in-batch softmax (its users' gradients, and its
 * share of every item's gradient, in the slice's own buffer); the calling thread sums the item
 * shares in slice order; (3) each slice runs both towers backward into its own gradient buffers,
 * which the calling thread sums in slice order before one Adam step. The calling thread draws the
 * targets and the id dropout, so a seed gives the same data at any thread count, and a run is
 * reproducible bit for bit for a fixed thread count.
 *
 * Activations live in shared memory too (one slot per example of the batch): the thread that runs
 * a slice backward need not be the one that ran it forward. Imported by the pool's workers: no
 * side effects.
 */
import { defineTask } from '../../parallel/pool.js';
import { SparseGrad, inBatchSoftmaxRows, type SparseGradBuffers } from '../recsys/layers.js';
import { Mlp } from '../recsys/mlp.js';
import { UserTower, type UserTowerShape } from '../recsys/user-tower.js';
import { runState, unpackSequences } from '../recsys/shared-sequences.js';

/** The item side's parts (TwoTowerModel's, or a thread's views of them). */
export interface ItemSide {
  itemTower: Mlp;
  /** (items + 1) × dim id embeddings, the last row for an unknown item. */
  idEmbed: Float32Array;
  /** Item features (rows × featureDim), or null. */
  features: { data: Float32Array } | null;
  featureDim: number;
  dim: number;
  tied: boolean;
}

/** Fills the item tower's input of `slot` for an id row (items = unknown) and a feature row (−1: none). */
export function fillItemInput(side: ItemSide, slot: number, idRow: number, featureRow: number): void {
  const x = side.itemTower.input(slot);
  const e = side.dim;
  x.set(side.idEmbed.subarray(idRow * e, idRow * e + e), 0);
  const f = side.features;
  if (f !== null) {
    const g = side.featureDim;
    if (featureRow >= 0) x.set(f.data.subarray(featureRow * g, (featureRow + 1) * g), e);
    else x.fill(0, e, e + g);
  }
}

/** The item tower on the input of `slot`, plus the id embedding when tied; a view valid until the slot is reused. */
export function itemForward(side: ItemSide, slot: number): Float32Array {
  const v = side.itemTower.forward(slot);
  if (side.tied) {
    const x = side.itemTower.input(slot);
    for (let j = 0; j < v.length; j++) v[j] = v[j]! + x[j]!;
  }
  return v;
}

/** Backward of one example's user and item towers (slot b), into the given gradients. */
export function twoTowerBackward(tower: UserTower, side: ItemSide, b: number, seq: Int32Array, t: number, dU: Float32Array, dV: Float32Array,
  idRow: number, gE: SparseGrad, gD: SparseGrad, dxItem: Float32Array): void {
  const d = side.dim;
  tower.backward(b, dU.subarray(b * d, b * d + d), seq, 0, t, gE);
  side.itemTower.backward(b, dV.subarray(b * d, b * d + d), dxItem);
  if (side.tied) for (let j = 0; j < d; j++) dxItem[j] = dxItem[j]! + dV[b * d + j]!;
  gD.add(idRow, dxItem, 0, 1);
}

export interface TtRunData {
  id: number;
  shape: UserTowerShape;
  itemSizes: number[];
  tied: boolean;
  featureDim: number;
  userParams: SharedArrayBuffer;
  itemParams: SharedArrayBuffer;
  idEmbed: SharedArrayBuffer;
  /** The user tower's table when not tied. */
  embed: SharedArrayBuffer | null;
  userActs: SharedArrayBuffer[];
  itemActs: SharedArrayBuffer[];
  seqItems: SharedArrayBuffer;
  seqStart: SharedArrayBuffer;
  userFeatRow: SharedArrayBuffer;
  userFeatData: SharedArrayBuffer | null;
  itemFeatRow: SharedArrayBuffer;
  itemFeatData: SharedArrayBuffer | null;
  /** The batch: sequence, position, target item, id row, log Q of the target (batch each). */
  exSeq: SharedArrayBuffer;
  exPos: SharedArrayBuffer;
  items: SharedArrayBuffer;
  idRows: SharedArrayBuffer;
  colLogQ: SharedArrayBuffer;
  /** batch × dim: user and item vectors, their gradients (dV summed by the calling thread). */
  U: SharedArrayBuffer;
  V: SharedArrayBuffer;
  dU: SharedArrayBuffer;
  dV: SharedArrayBuffer;
  /** Per slice: its share of dV, its gradients, its loss. */
  dVPart: SharedArrayBuffer[];
  userGrads: SharedArrayBuffer[];
  itemGrads: SharedArrayBuffer[];
  gD: SparseGradBuffers[];
  gE: SparseGradBuffers[] | null;
  loss: SharedArrayBuffer;
}

export interface TtBatchJob {
  run: TtRunData;
  /** 1: forward, 2: softmax rows, 3: backward. */
  pass: 1 | 2 | 3;
  n: number;
  shards: number;
}

interface Slice { tower: UserTower; side: ItemSide; gD: SparseGrad; gE: SparseGrad; dVPart: Float32Array }
interface State {
  run: TtRunData;
  job: TtBatchJob;
  seqs: Int32Array[];
  userFeatRow: Int32Array;
  userFeats: { data: Float32Array } | null;
  itemFeatRow: Int32Array;
  idEmbed: Float32Array;
  ints: { exSeq: Int32Array; exPos: Int32Array; items: Int32Array; idRows: Int32Array };
  colLogQ: Float32Array;
  U: Float32Array; V: Float32Array; dU: Float32Array; dV: Float32Array;
  loss: Float64Array;
  slices: (Slice | undefined)[];
  scratch: Float64Array;
  dxItem: Float32Array;
}

const cache = new Map<number, State>();

function stateOf(job: TtBatchJob): State {
  const r = job.run;
  const s = runState(cache, r.id, (): State => {
    const seqs = unpackSequences(r);
    return {
      run: r, job, seqs, userFeatRow: new Int32Array(r.userFeatRow), userFeats: r.userFeatData === null ? null : { data: new Float32Array(r.userFeatData) },
      itemFeatRow: new Int32Array(r.itemFeatRow), idEmbed: new Float32Array(r.idEmbed),
      ints: { exSeq: new Int32Array(r.exSeq), exPos: new Int32Array(r.exPos), items: new Int32Array(r.items), idRows: new Int32Array(r.idRows) },
      colLogQ: new Float32Array(r.colLogQ),
      U: new Float32Array(r.U), V: new Float32Array(r.V), dU: new Float32Array(r.dU), dV: new Float32Array(r.dV),
      loss: new Float64Array(r.loss), slices: [], scratch: new Float64Array(r.exSeq.byteLength / 4), dxItem: new Float32Array(r.itemSizes[0]!),
    };
  });
  s.job = job;
  return s;
}

function sliceOf(s: State, k: number): Slice {
  let sl = s.slices[k];
  if (sl === undefined) {
    const r = s.run;
    const slots = r.exSeq.byteLength / 4;
    const d = r.shape.dim;
    const embed = r.embed === null ? s.idEmbed.subarray(0, r.shape.items * d) : new Float32Array(r.embed);
    const tower = new UserTower(r.shape, slots, embed, new Float32Array(r.userParams), new Float32Array(r.userGrads[k]!), r.userActs.map((b) => new Float32Array(b)));
    const itemTower = new Mlp(r.itemSizes, slots, new Float32Array(r.itemParams), new Float32Array(r.itemGrads[k]!), r.itemActs.map((b) => new Float32Array(b)));
    const side: ItemSide = {
      itemTower, idEmbed: s.idEmbed, features: r.itemFeatData === null ? null : { data: new Float32Array(r.itemFeatData) },
      featureDim: r.featureDim, dim: d, tied: r.tied,
    };
    const gD = new SparseGrad(r.shape.items + 1, d, 'f32', r.gD[k]!);
    const gE = r.gE === null ? gD : new SparseGrad(r.shape.items, r.shape.embeddingDim, 'f32', r.gE[k]!);
    sl = { tower, side, gD, gE, dVPart: new Float32Array(r.dVPart[k]!) };
    s.slices[k] = sl;
  }
  return sl;
}

/** Items are slices of the batch: slice k = examples [⌊k·n/shards⌋, ⌊(k+1)·n/shards⌋); `pass` says which pass. */
export const twoTowerBatchTask = defineTask(import.meta.url, 'twoTowerBatchTask', {
  setup: (job: TtBatchJob): State => stateOf(job),
  run(s: State, start: number, end: number): void {
    const { n, shards, pass } = s.job;
    const d = s.run.shape.dim;
    const { exSeq, exPos, items, idRows } = s.ints;
    for (let k = start; k < end; k++) {
      const sl = sliceOf(s, k);
      const b0 = Math.floor((k * n) / shards);
      const b1 = Math.floor(((k + 1) * n) / shards);
      if (pass === 1) {
        for (let b = b0; b < b1; b++) {
          const q = exSeq[b]!;
          const seq = s.seqs[q]!;
          const t = exPos[b]!;
          s.U.set(sl.tower.forward(b, seq, 0, t, s.userFeats, s.userFeatRow[q]!, seq.length - 1 - t), b * d);
          fillItemInput(sl.side, b, idRows[b]!, s.itemFeatRow[items[b]!]!);
          s.V.set(itemForward(sl.side, b), b * d);
        }
      } else if (pass === 2) {
        sl.dVPart.fill(0, 0, n * d);
        s.loss[k] = inBatchSoftmaxRows(s.U, s.V, n, d, items, s.colLogQ, s.dU, sl.dVPart, s.scratch, b0, b1);
      } else {
        for (let b = b0; b < b1; b++) {
          twoTowerBackward(sl.tower, sl.side, b, s.seqs[exSeq[b]!]!, exPos[b]!, s.dU, s.dV, idRows[b]!, sl.gE, sl.gD, s.dxItem);
        }
      }
    }
  },
});
