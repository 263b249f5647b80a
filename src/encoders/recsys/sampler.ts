/**
 * Negative sampling for sampled softmax: items drawn with probability Q(j) ∝ count_j^power (the
 * word2vec unigram table, a table of `size` slots so a draw is one random index), and log Q(j) for
 * the logQ correction (Covington et al. 2016 §3; Jean et al. 2015).
 */
import type { Random } from '../../vector/random.js';

export class UnigramSampler {
  readonly #table: Int32Array;
  /** log Q(j) of each item. */
  readonly logQ: Float32Array;

  constructor(counts: ArrayLike<number>, power = 0.75, size = 1 << 20) {
    const n = counts.length;
    const w = new Float64Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) { w[i] = Math.max(counts[i]!, 0) ** power; total += w[i]!; }
    this.logQ = new Float32Array(n);
    for (let i = 0; i < n; i++) this.logQ[i] = w[i]! > 0 ? Math.log(w[i]! / total) : Math.log(1 / (total * size));
    this.#table = new Int32Array(size);
    let i = 0;
    let cum = w[0]! / total;
    for (let s = 0; s < size; s++) {
      this.#table[s] = i;
      if ((s + 1) / size > cum && i < n - 1) { i++; cum += w[i]! / total; }
    }
  }

  /** One item id drawn from Q. */
  draw(rng: Random): number {
    return this.#table[rng.nextU32() & (this.#table.length - 1)]!;
  }
}
