/**
 * A multi-layer perceptron (ReLU hidden layers, a linear last layer) whose parameters live in one
 * flat Float32Array, so the optimizer steps every layer at once and a model file stores it as one
 * block. Activations are kept per "slot" (an example of the current mini-batch), so a batch can
 * run all its forward passes before its backward passes (in-batch softmax needs that).
 */
import type { Random } from '../../vector/random.js';
import { denseBackward, denseForward, reluBackward, reluForward, type FloatArray } from './layers.js';

export class Mlp {
  /** [input, hidden…, output]. */
  readonly sizes: readonly number[];
  readonly params: Float32Array;
  readonly grads: Float32Array;
  readonly #wOff: number[] = [];
  readonly #bOff: number[] = [];
  /** acts[l]: slots × sizes[l] (acts[0] the input copy, acts[L] the output). */
  readonly #acts: Float32Array[];
  readonly #dy: Float32Array[];
  readonly slots: number;

  /** Activation arrays for `slots` examples (one per layer, `slots × size`), made by `alloc`. */
  static activations(sizes: readonly number[], slots: number, alloc: (n: number) => Float32Array): Float32Array[] {
    return sizes.map((s) => alloc(slots * s));
  }

  /** Parameters of an MLP of these sizes. */
  static paramCount(sizes: readonly number[]): number {
    let n = 0;
    for (let l = 0; l + 1 < sizes.length; l++) n += sizes[l]! * sizes[l + 1]! + sizes[l + 1]!;
    return n;
  }

  /**
   * `params` / `grads` / `acts`: where the parameters, their gradients and the activations
   * (`Mlp.activations`) live (default: new arrays), e.g. shared memory for training on threads.
   */
  constructor(sizes: readonly number[], slots: number, params?: Float32Array, grads?: Float32Array, acts?: Float32Array[]) {
    this.sizes = sizes.slice();
    let n = 0;
    for (let l = 0; l + 1 < sizes.length; l++) {
      this.#wOff.push(n);
      n += sizes[l]! * sizes[l + 1]!;
      this.#bOff.push(n);
      n += sizes[l + 1]!;
    }
    this.params = params ?? new Float32Array(n);
    if (this.params.length !== n) throw new RangeError(`Mlp: expected ${n} parameters, got ${this.params.length}`);
    this.grads = grads ?? new Float32Array(n);
    if (this.grads.length !== n) throw new RangeError(`Mlp: expected ${n} gradients, got ${this.grads.length}`);
    this.slots = slots;
    this.#acts = acts ?? Mlp.activations(sizes, slots, (n) => new Float32Array(n));
    if (this.#acts.length !== sizes.length || this.#acts.some((a, l) => a.length !== slots * sizes[l]!)) throw new RangeError('Mlp: activations of the wrong shape');
    this.#dy = sizes.map((s) => new Float32Array(s));
  }

  get inDim(): number { return this.sizes[0]!; }
  get outDim(): number { return this.sizes[this.sizes.length - 1]!; }

  /** He initialisation (normal, std √(2 / fan-in)) for ReLU layers, √(1 / fan-in) for the last; zero biases. */
  init(rng: Random): void {
    const L = this.sizes.length - 1;
    for (let l = 0; l < L; l++) {
      const fanIn = this.sizes[l]!;
      const std = Math.sqrt((l + 1 < L ? 2 : 1) / fanIn);
      const w = this.#w(l);
      for (let i = 0; i < w.length; i++) w[i] = rng.gaussian() * std;
      this.#b(l).fill(0);
    }
  }

  #w(l: number): Float32Array { return this.params.subarray(this.#wOff[l]!, this.#wOff[l]! + this.sizes[l]! * this.sizes[l + 1]!); }
  #b(l: number): Float32Array { return this.params.subarray(this.#bOff[l]!, this.#bOff[l]! + this.sizes[l + 1]!); }
  #gw(l: number): Float32Array { return this.grads.subarray(this.#wOff[l]!, this.#wOff[l]! + this.sizes[l]! * this.sizes[l + 1]!); }
  #gb(l: number): Float32Array { return this.grads.subarray(this.#bOff[l]!, this.#bOff[l]! + this.sizes[l + 1]!); }

  /** The input buffer of `slot`: fill it, then call `forward(slot)`. */
  input(slot: number): Float32Array {
    const s = this.sizes[0]!;
    return this.#acts[0]!.subarray(slot * s, slot * s + s);
  }

  /** Runs the layers on `input(slot)`; returns the output (a view, valid until the slot is reused). */
  forward(slot: number): Float32Array {
    const L = this.sizes.length - 1;
    for (let l = 0; l < L; l++) {
      const i = this.sizes[l]!;
      const o = this.sizes[l + 1]!;
      const y = this.#acts[l + 1]!.subarray(slot * o, slot * o + o);
      denseForward(this.#w(l), this.#b(l), this.#acts[l]!, slot * i, y, i, o);
      if (l + 1 < L) reluForward(y, o);
    }
    const o = this.outDim;
    return this.#acts[L]!.subarray(slot * o, slot * o + o);
  }

  /**
   * Backward from d loss / d output of `slot` (`dOut`, read only): adds to `grads` and, when `dx`
   * is given, writes d loss / d input there.
   */
  backward(slot: number, dOut: FloatArray, dx: Float32Array | null): void {
    const L = this.sizes.length - 1;
    let dy = this.#dy[L]!;
    dy.set(dOut.subarray(0, this.outDim));
    for (let l = L - 1; l >= 0; l--) {
      const i = this.sizes[l]!;
      const o = this.sizes[l + 1]!;
      if (l + 1 < L) reluBackward(this.#acts[l + 1]!.subarray(slot * o, slot * o + o), dy, o);
      const dxl = l === 0 ? dx : this.#dy[l]!;
      denseBackward(this.#w(l), this.#acts[l]!, slot * i, dy, this.#gw(l), this.#gb(l), dxl, i, o);
      if (l === 0) break;
      dy = this.#dy[l]!;
    }
  }
}
