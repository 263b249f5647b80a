/**
 * The user tower shared by YouTube DNN and the two-tower model (Covington et al. 2016, Fig. 3):
 * input = [mean of the item embeddings of the last `maxHistory` items, the recency-weighted mean
 * (decay^j) of the last `recent` ones, the user's side features, the example age], then ReLU layers, then a linear layer to the
 * user vector. The "recent" bag is a second view of the same history (the paper feeds watches and
 * searches as two bags); on next-item data the latest items predict best (docs/item2vec.md, decay).
 * The example age is how far back in the user's log a training example sits — log(1 + items after
 * it) / log(1 + 1000) — and 0 when serving, so the model learns what "now" looks like (the paper's
 * freshness feature, with positions instead of timestamps since sequences carry no time).
 */
import type { Random } from '../../vector/random.js';
import { bagDecayBackward, bagDecayForward, bagMeanBackward, bagMeanForward, type SparseGrad } from './layers.js';
import { Mlp } from './mlp.js';
import type { FeatureTable } from './features.js';

export interface UserTowerShape {
  /** Items with an embedding (the training vocabulary). */
  items: number;
  /** Item embedding width. */
  embeddingDim: number;
  /** Hidden ReLU layer widths. */
  hidden: readonly number[];
  /** User vector width. */
  dim: number;
  maxHistory: number;
  /** Items in the recent bag (0: no recent bag). */
  recent: number;
  /** Weight decay^j of the j-th most recent item in the recent bag (1: a plain mean). */
  decay: number;
  exampleAge: boolean;
  /** Width of the user side features (0: none). */
  featureDim: number;
  /**
   * Add the recent bag to the MLP's output (a residual connection; needs embeddingDim = dim and a
   * recent bag). At the start u·V_j is then the similarity of item j to the latest items — the
   * Item2Vec query — and the layers learn what to change; without it they must first learn that
   * near-identity from data.
   */
  residual?: boolean;
}

export const AGE_SCALE = 1 / Math.log(1001);

export class UserTower {
  readonly shape: UserTowerShape;
  /** items × embeddingDim. */
  readonly embed: Float32Array;
  readonly mlp: Mlp;
  readonly #dx: Float32Array;

  /** `embed`, `params`, `grads`, `acts`: where the tables live (default: new arrays; see Mlp). */
  constructor(shape: UserTowerShape, slots: number, embed?: Float32Array, params?: Float32Array, grads?: Float32Array, acts?: Float32Array[]) {
    this.shape = shape;
    const e = shape.embeddingDim;
    if (shape.residual === true && (shape.recent === 0 || e !== shape.dim)) throw new RangeError('UserTower: residual needs a recent bag and embeddingDim = dim');
    this.embed = embed ?? new Float32Array(shape.items * e);
    const sizes = UserTower.sizes(shape);
    const inDim = sizes[0]!;
    this.mlp = new Mlp(sizes, slots, params, grads, acts);
    this.#dx = new Float32Array(inDim);
  }

  /** The MLP's layer widths for a shape: [input, hidden…, dim]. */
  static sizes(shape: UserTowerShape): number[] {
    const e = shape.embeddingDim;
    return [e + (shape.recent > 0 ? e : 0) + shape.featureDim + (shape.exampleAge ? 1 : 0), ...shape.hidden, shape.dim];
  }

  /** Embeddings uniform in ±0.5 / embeddingDim (word2vec's start), layers He-initialised. */
  init(rng: Random): void {
    const e = this.shape.embeddingDim;
    for (let i = 0; i < this.embed.length; i++) this.embed[i] = (rng.next() - 0.5) / e;
    this.mlp.init(rng);
  }

  /**
   * The user vector for the history `hist[start..end)` (item rows, oldest first), the user's
   * feature row (`features`, `row`; row −1 or no table: zeros) and the example age in items
   * (0 when serving). A view valid until `slot` is reused.
   */
  forward(slot: number, hist: Int32Array, start: number, end: number, features: Pick<FeatureTable, 'data'> | null, row: number, age: number): Float32Array {
    const s = this.shape;
    const x = this.mlp.input(slot);
    const e = s.embeddingDim;
    bagMeanForward(this.embed, e, hist, Math.max(start, end - s.maxHistory), end, x, 0);
    let p = e;
    if (s.recent > 0) {
      bagDecayForward(this.embed, e, hist, Math.max(start, end - s.recent), end, s.decay, x, p);
      p += e;
    }
    if (s.featureDim > 0) {
      if (features !== null && row >= 0) x.set(features.data.subarray(row * s.featureDim, (row + 1) * s.featureDim), p);
      else x.fill(0, p, p + s.featureDim);
      p += s.featureDim;
    }
    if (s.exampleAge) x[p] = Math.log1p(age) * AGE_SCALE;
    const u = this.mlp.forward(slot);
    if (s.residual === true) for (let j = 0; j < e; j++) u[j] = u[j]! + x[e + j]!;
    return u;
  }

  /** Backward of `forward` for the same slot and history: layer gradients and the embedding rows' gradients. */
  backward(slot: number, dOut: Float32Array, hist: Int32Array, start: number, end: number, gEmbed: SparseGrad): void {
    const s = this.shape;
    this.mlp.backward(slot, dOut, this.#dx);
    const e = s.embeddingDim;
    if (s.residual === true) for (let j = 0; j < e; j++) this.#dx[e + j] = this.#dx[e + j]! + dOut[j]!;
    bagMeanBackward(this.#dx, 0, e, hist, Math.max(start, end - s.maxHistory), end, gEmbed);
    if (s.recent > 0) bagDecayBackward(this.#dx, e, e, hist, Math.max(start, end - s.recent), end, s.decay, gEmbed);
  }
}
