/**
 * Weight averaging for the deep recommenders: an exponential moving average of every parameter
 * after each optimizer step (Polyak & Juditsky 1992; the "EMA of weights" of TensorFlow's
 * ExponentialMovingAverage), and the averaged weights are the model that is served. On
 * MovieLens the hit rate of the live weights moves by ±0.01 from epoch to epoch and from seed to
 * seed; the average is a smoother point of the same trajectory (docs/recommenders.md#tuning).
 *
 * The shadow starts as a copy of the weights; `update` runs after each step: shadow ← β·shadow +
 * (1 − β)·p, over every element (the lazy tables included: a row that did not move still drifts
 * towards its current value). Cost per step: one pass over the parameters.
 */
export class WeightAverage {
  readonly decay: number;
  readonly #live: Float32Array[];
  readonly #shadow: Float32Array[];
  #swapped = false;

  /** `params`: the arrays the optimizer steps (distinct, not overlapping). */
  constructor(params: readonly Float32Array[], decay: number) {
    this.decay = decay;
    this.#live = params.slice();
    this.#shadow = params.map((p) => p.slice());
  }

  /** shadow ← β·shadow + (1 − β)·live, after an optimizer step. */
  update(): void {
    const b = this.decay;
    const a = 1 - b;
    for (let k = 0; k < this.#live.length; k++) {
      const p = this.#live[k]!;
      const s = this.#shadow[k]!;
      for (let i = 0; i < p.length; i++) s[i] = b * s[i]! + a * p[i]!;
    }
  }

  /**
   * Exchanges the live weights and the averages in place (the model then holds the averages;
   * a second call restores the live weights), e.g. to evaluate the averaged model mid-run.
   */
  swap(): void {
    for (let k = 0; k < this.#live.length; k++) {
      const p = this.#live[k]!;
      const s = this.#shadow[k]!;
      for (let i = 0; i < p.length; i++) { const x = p[i]!; p[i] = s[i]!; s[i] = x; }
    }
    this.#swapped = !this.#swapped;
  }

  /** Whether the model holds the averages now. */
  get swapped(): boolean { return this.#swapped; }
}
