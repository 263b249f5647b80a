/**
 * YouTube DNN training on worker threads (docs/recommenders.md#threads): synchronous data
 * parallelism. The calling thread draws a mini-batch's examples, targets and negatives (so the
 * data a seed gives is the same at any thread count), the batch is cut into `shards` fixed
 * slices (one per thread), each slice's gradients go to that slice's own buffers — whichever
 * thread computes it — and the calling thread sums the slices in slice order and takes one Adam
 * step. The sums are the same floats at every run: a run is reproducible bit for bit for a fixed
 * thread count (not across counts: a sum in two halves rounds differently from one in a row).
 *
 * Weights, data and gradients live in SharedArrayBuffers; the task runs on the project's worker
 * pool (src/parallel/pool.ts). This module is imported by the pool's workers: no side effects.
 */
import { defineTask } from '../../parallel/pool.js';
import { SparseGrad, sampledSoftmax, type SparseGradBuffers } from '../recsys/layers.js';
import { UserTower, type UserTowerShape } from '../recsys/user-tower.js';
import { runState, unpackSequences } from '../recsys/shared-sequences.js';

/** What every thread of a run shares (posted with every batch: SharedArrayBuffers are not copied). */
export interface YtRunData {
  /** Distinguishes runs in the threads' caches. */
  id: number;
  shape: UserTowerShape;
  /** Candidates per example: the target and the negatives. */
  nCand: number;
  params: SharedArrayBuffer;
  output: SharedArrayBuffer;
  /** The history table when not tied to `output`. */
  embed: SharedArrayBuffer | null;
  /** Every sequence's item rows, one after the other, and where each starts (sequences + 1). */
  seqItems: SharedArrayBuffer;
  seqStart: SharedArrayBuffer;
  /** Each sequence's user-feature row (−1: none), and the features (rows × featureDim). */
  featRow: SharedArrayBuffer;
  featData: SharedArrayBuffer | null;
  logQ: SharedArrayBuffer;
  /** The batch: each example's sequence and position, and its candidates (batch × nCand). */
  exSeq: SharedArrayBuffer;
  exPos: SharedArrayBuffer;
  cand: SharedArrayBuffer;
  /** Per slice: the MLP's gradient, the item tables' gradients, the summed loss. */
  grads: SharedArrayBuffer[];
  gOut: SparseGradBuffers[];
  gEmbed: SparseGradBuffers[] | null;
  loss: SharedArrayBuffer;
}

export interface YtBatchJob {
  run: YtRunData;
  /** Examples in this batch. */
  n: number;
  shards: number;
}

/** One example: the user vector of seq[0..t), sampled softmax over `cand`, backward; returns the loss. */
export function youtubeDnnExample(tower: UserTower, output: Float32Array, seq: Int32Array, t: number, feats: { data: Float32Array } | null,
  featRow: number, cand: Int32Array, nCand: number, logQ: Float32Array, du: Float32Array, gOut: SparseGrad, gEmbed: SparseGrad,
  logits: Float64Array): number {
  const u = tower.forward(0, seq, 0, t, feats, featRow, seq.length - 1 - t);
  const loss = sampledSoftmax(u, output, tower.shape.dim, cand, nCand, logQ, du, gOut, logits);
  tower.backward(0, du, seq, 0, t, gEmbed);
  return loss;
}

interface Slice { tower: UserTower; gOut: SparseGrad; gEmbed: SparseGrad }
interface State {
  run: YtRunData;
  output: Float32Array;
  seqs: Int32Array[];
  featRow: Int32Array;
  feats: { data: Float32Array } | null;
  logQ: Float32Array;
  exSeq: Int32Array;
  exPos: Int32Array;
  cand: Int32Array;
  loss: Float64Array;
  slices: (Slice | undefined)[];
  du: Float32Array;
  logits: Float64Array;
  job: YtBatchJob;
}

/** Each thread's views of the runs it took part in (the latest few: a run ends without telling the workers). */
const cache = new Map<number, State>();

function stateOf(job: YtBatchJob): State {
  const r = job.run;
  const s = runState(cache, r.id, (): State => {
    const seqs = unpackSequences(r);
    return {
      run: r, output: new Float32Array(r.output), seqs, featRow: new Int32Array(r.featRow),
      feats: r.featData === null ? null : { data: new Float32Array(r.featData) }, logQ: new Float32Array(r.logQ),
      exSeq: new Int32Array(r.exSeq), exPos: new Int32Array(r.exPos), cand: new Int32Array(r.cand), loss: new Float64Array(r.loss),
      slices: [], du: new Float32Array(r.shape.dim), logits: new Float64Array(r.nCand), job,
    };
  });
  s.job = job;
  return s;
}

function sliceOf(s: State, k: number): Slice {
  let sl = s.slices[k];
  if (sl === undefined) {
    const r = s.run;
    const tower = new UserTower(r.shape, 1, r.embed === null ? s.output : new Float32Array(r.embed), new Float32Array(r.params), new Float32Array(r.grads[k]!));
    const gOut = new SparseGrad(r.shape.items, r.shape.dim, 'f32', r.gOut[k]!);
    const gEmbed = r.gEmbed === null ? gOut : new SparseGrad(r.shape.items, r.shape.embeddingDim, 'f32', r.gEmbed[k]!);
    sl = { tower, gOut, gEmbed };
    s.slices[k] = sl;
  }
  return sl;
}

/** Items are slices of the batch: slice k = examples [⌊k·n/shards⌋, ⌊(k+1)·n/shards⌋). */
export const youtubeDnnBatchTask = defineTask(import.meta.url, 'youtubeDnnBatchTask', {
  setup: (job: YtBatchJob): State => stateOf(job),
  run(s: State, start: number, end: number): void {
    const { n, shards } = s.job;
    const nCand = s.run.nCand;
    for (let k = start; k < end; k++) {
      const sl = sliceOf(s, k);
      let loss = 0;
      for (let i = Math.floor((k * n) / shards); i < Math.floor(((k + 1) * n) / shards); i++) {
        const q = s.exSeq[i]!;
        loss += youtubeDnnExample(sl.tower, s.output, s.seqs[q]!, s.exPos[i]!, s.feats, s.featRow[q]!, s.cand.subarray(i * nCand, (i + 1) * nCand), nCand,
          s.logQ, s.du, sl.gOut, sl.gEmbed, s.logits);
      }
      s.loss[k] = loss;
    }
  },
});
