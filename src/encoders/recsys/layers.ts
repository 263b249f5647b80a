/**
 * The layers of the deep recommenders (docs/recommenders.md): a dense layer, ReLU, the averaging
 * embedding bag, sampled softmax with the logQ correction (Covington et al. 2016; Bengio & Senécal
 * 2008; Jean et al. 2015) and in-batch softmax with the logQ correction (Yi et al., "Sampling-bias-
 * corrected neural modeling for large corpus item recommendations", RecSys 2019).
 *
 * Plain functions over typed arrays. They take `FloatArray` so the gradient checks run the very same
 * code in float64 (tight finite differences), while training runs it in float32. Every backward
 * function *accumulates* parameter gradients (a mini-batch sums its examples' gradients) and
 * *overwrites* the input gradient it returns.
 */

export type FloatArray = Float32Array | Float64Array;

/** y = W x + b; W is `outDim × inDim`, row-major. `x` is read from `xOff`. */
export function denseForward(w: FloatArray, b: FloatArray, x: FloatArray, xOff: number, y: FloatArray, inDim: number, outDim: number): void {
  for (let o = 0; o < outDim; o++) {
    const row = o * inDim;
    let s = 0;
    for (let i = 0; i < inDim; i++) s += w[row + i]! * x[xOff + i]!;
    y[o] = s + b[o]!;
  }
}

/**
 * Backward of `denseForward`: gW += dy ⊗ x, gb += dy, and, when `dx` is given, dx = Wᵀ dy
 * (overwritten).
 */
export function denseBackward(w: FloatArray, x: FloatArray, xOff: number, dy: FloatArray, gw: FloatArray, gb: FloatArray,
  dx: FloatArray | null, inDim: number, outDim: number): void {
  if (dx !== null) dx.fill(0, 0, inDim);
  for (let o = 0; o < outDim; o++) {
    const g = dy[o]!;
    if (g === 0) continue;
    gb[o] = gb[o]! + g;
    const row = o * inDim;
    for (let i = 0; i < inDim; i++) gw[row + i] = gw[row + i]! + g * x[xOff + i]!;
    if (dx !== null) for (let i = 0; i < inDim; i++) dx[i] = dx[i]! + g * w[row + i]!;
  }
}

/** max(0, x) in place. */
export function reluForward(x: FloatArray, n: number): void {
  for (let i = 0; i < n; i++) if (!(x[i]! > 0)) x[i] = 0;
}

/** Backward of ReLU given its output `y`: dy = 0 where y ≤ 0 (in place). */
export function reluBackward(y: FloatArray, dy: FloatArray, n: number): void {
  for (let i = 0; i < n; i++) if (!(y[i]! > 0)) dy[i] = 0;
}

/**
 * The averaging embedding bag: out[outOff..outOff+dim) = mean of `table` rows `ids[start..end)`
 * (zeros for an empty bag: an empty history contributes nothing).
 */
export function bagMeanForward(table: FloatArray, dim: number, ids: Int32Array, start: number, end: number, out: FloatArray, outOff: number): void {
  out.fill(0, outOff, outOff + dim);
  const n = end - start;
  if (n <= 0) return;
  for (let k = start; k < end; k++) {
    const r = ids[k]! * dim;
    for (let j = 0; j < dim; j++) out[outOff + j] = out[outOff + j]! + table[r + j]!;
  }
  const inv = 1 / n;
  for (let j = 0; j < dim; j++) out[outOff + j] = out[outOff + j]! * inv;
}

/** Backward of the bag: each row in the bag gets dOut / n added to its gradient (through `grad`). */
export function bagMeanBackward(dOut: FloatArray, dOff: number, dim: number, ids: Int32Array, start: number, end: number, grad: SparseGrad): void {
  const n = end - start;
  if (n <= 0) return;
  const inv = 1 / n;
  for (let k = start; k < end; k++) grad.add(ids[k]!, dOut, dOff, inv);
}

/**
 * The recency-weighted bag: out = Σ_k w_k · table[ids[k]] over k in [start, end), w_k ∝
 * decay^(end − 1 − k) (the latest item weighs most), normalised to sum to 1 — Item2Vec's history
 * query (docs/item2vec.md, `decay`) as a layer. decay = 1 is the plain mean.
 */
export function bagDecayForward(table: FloatArray, dim: number, ids: Int32Array, start: number, end: number, decay: number, out: FloatArray, outOff: number): void {
  out.fill(0, outOff, outOff + dim);
  if (end <= start) return;
  let w = 1;
  let sum = 0;
  for (let k = end - 1; k >= start; k--, w *= decay) {
    sum += w;
    const r = ids[k]! * dim;
    for (let j = 0; j < dim; j++) out[outOff + j] = out[outOff + j]! + w * table[r + j]!;
  }
  const inv = 1 / sum;
  for (let j = 0; j < dim; j++) out[outOff + j] = out[outOff + j]! * inv;
}

/** Backward of `bagDecayForward`: row ids[k] gets w_k · dOut. */
export function bagDecayBackward(dOut: FloatArray, dOff: number, dim: number, ids: Int32Array, start: number, end: number, decay: number, grad: SparseGrad): void {
  if (end <= start) return;
  let sum = 0;
  let w = 1;
  for (let k = end - 1; k >= start; k--, w *= decay) sum += w;
  w = 1;
  for (let k = end - 1; k >= start; k--, w *= decay) grad.add(ids[k]!, dOut, dOff, w / sum);
}

/**
 * Gradient of an embedding table, touched rows only: `g` is as large as the table, `rows` lists
 * the rows written since the last `clear` (each once), so an optimizer step costs O(touched).
 */
export class SparseGrad {
  readonly dim: number;
  readonly g: FloatArray;
  readonly #touched: Uint8Array;
  readonly #rows: Int32Array;
  /** [0]: rows touched (an array so that a copy over shared memory sees it). */
  readonly #n: Int32Array;

  /** `shared`: live in these SharedArrayBuffers (float32; see `shared`, `buffers`) instead of new arrays. */
  constructor(rows: number, dim: number, kind: 'f32' | 'f64' = 'f32', shared?: SparseGradBuffers) {
    this.dim = dim;
    if (shared !== undefined) {
      if (shared.rows !== rows || shared.dim !== dim || kind !== 'f32') throw new RangeError(`SparseGrad: shared buffers of ${shared.rows} × ${shared.dim} for ${rows} × ${dim} ${kind}`);
      this.g = new Float32Array(shared.g);
      this.#touched = new Uint8Array(shared.touched);
      this.#rows = new Int32Array(shared.list);
      this.#n = new Int32Array(shared.n);
      return;
    }
    this.g = kind === 'f32' ? new Float32Array(rows * dim) : new Float64Array(rows * dim);
    this.#touched = new Uint8Array(rows);
    this.#rows = new Int32Array(rows);
    this.#n = new Int32Array(1);
  }

  /** A float32 gradient whose every part lives in SharedArrayBuffers (`buffers()` reattaches it in another thread). */
  static shared(rows: number, dim: number): SparseGrad {
    return new SparseGrad(rows, dim, 'f32', {
      rows, dim,
      g: new SharedArrayBuffer(rows * dim * 4), touched: new SharedArrayBuffer(rows), list: new SharedArrayBuffer(rows * 4), n: new SharedArrayBuffer(4),
    });
  }

  /** The shared buffers of a gradient made by `shared` (to post to a worker). */
  buffers(): SparseGradBuffers {
    const g = this.g.buffer;
    if (!(g instanceof SharedArrayBuffer)) throw new TypeError('SparseGrad.buffers: not a shared gradient');
    return { rows: this.#touched.length, dim: this.dim, g, touched: this.#touched.buffer as SharedArrayBuffer, list: this.#rows.buffer as SharedArrayBuffer, n: this.#n.buffer as SharedArrayBuffer };
  }

  /** g[row] += scale · src[off..off+dim). */
  add(row: number, src: FloatArray, off: number, scale: number): void {
    const d = this.dim;
    if (this.#touched[row] === 0) { this.#touched[row] = 1; this.#rows[this.#n[0]!++] = row; }
    const g = this.g;
    const r = row * d;
    for (let j = 0; j < d; j++) g[r + j] = g[r + j]! + scale * src[off + j]!;
  }

  /** Adds every touched row of `other` (same shape) to this gradient, in `other`'s first-touch order, then clears `other`. */
  addFrom(other: SparseGrad): void {
    const rows = other.rows();
    for (let k = 0; k < rows.length; k++) this.add(rows[k]!, other.g, rows[k]! * this.dim, 1);
    other.clear();
  }

  /** The rows touched since `clear`, in first-touch order. */
  rows(): Int32Array { return this.#rows.subarray(0, this.#n[0]!); }

  /** Zeroes the touched rows. */
  clear(): void {
    const d = this.dim;
    for (let k = 0; k < this.#n[0]!; k++) {
      const row = this.#rows[k]!;
      this.g.fill(0, row * d, row * d + d);
      this.#touched[row] = 0;
    }
    this.#n[0] = 0;
  }
}

/** The SharedArrayBuffers of a shared `SparseGrad`. */
export interface SparseGradBuffers {
  rows: number;
  dim: number;
  g: SharedArrayBuffer;
  touched: SharedArrayBuffer;
  list: SharedArrayBuffer;
  n: SharedArrayBuffer;
}

/**
 * Sampled softmax with the logQ correction, for one example: candidates `cand[0]` (the true item)
 * and `cand[1..n)` (sampled negatives); logit_j = u · V[cand_j] − logQ[cand_j]; loss = −log
 * softmax(logits)[0]. A negative equal to the true item (an "accidental hit") is left out, as
 * TensorFlow's `remove_accidental_hits` does. Writes dU (overwritten), adds V's gradient to `gv`,
 * returns the loss. `logits` is scratch of length ≥ n.
 */
export function sampledSoftmax(u: FloatArray, v: FloatArray, dim: number, cand: Int32Array, n: number, logQ: FloatArray,
  du: FloatArray, gv: SparseGrad, logits: FloatArray): number {
  const pos = cand[0]!;
  let max = -Infinity;
  for (let j = 0; j < n; j++) {
    const c = cand[j]!;
    if (j > 0 && c === pos) { logits[j] = -Infinity; continue; }
    const r = c * dim;
    let s = 0;
    for (let k = 0; k < dim; k++) s += u[k]! * v[r + k]!;
    s -= logQ[c]!;
    logits[j] = s;
    if (s > max) max = s;
  }
  let z = 0;
  for (let j = 0; j < n; j++) z += Math.exp(logits[j]! - max);
  const loss = Math.log(z) + max - logits[0]!;
  du.fill(0, 0, dim);
  for (let j = 0; j < n; j++) {
    if (logits[j] === -Infinity) continue;
    // d loss / d logit_j = p_j − [j = 0]
    const g = Math.exp(logits[j]! - max) / z - (j === 0 ? 1 : 0);
    const r = cand[j]! * dim;
    for (let k = 0; k < dim; k++) du[k] = du[k]! + g * v[r + k]!;
    gv.add(cand[j]!, u, 0, g);
  }
  return loss;
}

/**
 * In-batch softmax with the logQ correction over a batch of `b` (user, item) pairs: the items of
 * the other pairs are the negatives. logit_ij = U_i · V_j − logQ_j; the loss is Σ_i −log
 * softmax_j(logit_i·)[i]; a column whose item equals row i's true item (`items[j] === items[i]`,
 * j ≠ i) is left out (it is not a negative). Writes dU and dV (`b × dim`, overwritten), returns the
 * summed loss. `scratch` has length ≥ b.
 */
export function inBatchSoftmax(uu: FloatArray, vv: FloatArray, b: number, dim: number, items: Int32Array, logQ: FloatArray,
  du: FloatArray, dv: FloatArray, scratch: FloatArray): number {
  du.fill(0, 0, b * dim);
  dv.fill(0, 0, b * dim);
  return inBatchSoftmaxRows(uu, vv, b, dim, items, logQ, du, dv, scratch, 0, b);
}

/**
 * The rows [r0, r1) of `inBatchSoftmax` (a slice of the batch on one thread): writes those rows of
 * dU (overwritten), *adds* their share to every row of dV (zero it first), returns those rows' loss.
 */
export function inBatchSoftmaxRows(uu: FloatArray, vv: FloatArray, b: number, dim: number, items: Int32Array, logQ: FloatArray,
  du: FloatArray, dv: FloatArray, scratch: FloatArray, r0: number, r1: number): number {
  du.fill(0, r0 * dim, r1 * dim);
  let loss = 0;
  for (let i = r0; i < r1; i++) {
    const ui = i * dim;
    let max = -Infinity;
    for (let j = 0; j < b; j++) {
      if (j !== i && items[j] === items[i]) { scratch[j] = -Infinity; continue; }
      const vj = j * dim;
      let s = 0;
      for (let k = 0; k < dim; k++) s += uu[ui + k]! * vv[vj + k]!;
      s -= logQ[j]!;
      scratch[j] = s;
      if (s > max) max = s;
    }
    let z = 0;
    for (let j = 0; j < b; j++) z += Math.exp(scratch[j]! - max);
    loss += Math.log(z) + max - scratch[i]!;
    for (let j = 0; j < b; j++) {
      if (scratch[j] === -Infinity) continue;
      const g = Math.exp(scratch[j]! - max) / z - (j === i ? 1 : 0);
      const vj = j * dim;
      for (let k = 0; k < dim; k++) {
        du[ui + k] = du[ui + k]! + g * vv[vj + k]!;
        dv[vj + k] = dv[vj + k]! + g * uu[ui + k]!;
      }
    }
  }
  return loss;
}
