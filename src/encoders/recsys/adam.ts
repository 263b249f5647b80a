/**
 * Adam (Kingma & Ba 2015) for dense parameters, and its "lazy" form for embedding tables: only the
 * rows a mini-batch touched are stepped (their moments decay only when they are touched), as
 * TensorFlow's LazyAdamOptimizer does, so a step costs O(touched rows), not O(table).
 */
import type { SparseGrad } from './layers.js';

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

export class Adam {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Steps taken (bias correction). */
  t = 0;

  constructor(o: AdamOptions) {
    this.lr = o.lr;
    this.beta1 = o.beta1 ?? 0.9;
    this.beta2 = o.beta2 ?? 0.999;
    this.eps = o.eps ?? 1e-8;
  }

  /** Starts a step: call once per mini-batch, before the `dense` / `sparse` calls. */
  begin(): void { this.t++; }

  #rate(lrScale: number): number {
    return this.lr * lrScale * Math.sqrt(1 - this.beta2 ** this.t) / (1 - this.beta1 ** this.t);
  }

  /** p −= lr · m̂ / (√v̂ + ε) with g = grads · `gradScale`; zeroes `grads`. */
  dense(p: Float32Array, grads: Float32Array, m: Float32Array, v: Float32Array, gradScale: number, lrScale = 1): void {
    const { beta1: b1, beta2: b2, eps } = this;
    const a = this.#rate(lrScale);
    for (let i = 0; i < p.length; i++) {
      const g = grads[i]! * gradScale;
      const mi = b1 * m[i]! + (1 - b1) * g;
      const vi = b2 * v[i]! + (1 - b2) * g * g;
      m[i] = mi;
      v[i] = vi;
      p[i] = p[i]! - a * mi / (Math.sqrt(vi) + eps);
      grads[i] = 0;
    }
  }

  /** The lazy step of the touched rows of a table; clears the gradient. */
  sparse(table: Float32Array, grad: SparseGrad, m: Float32Array, v: Float32Array, gradScale: number, lrScale = 1): void {
    const { beta1: b1, beta2: b2, eps } = this;
    const a = this.#rate(lrScale);
    const d = grad.dim;
    const g = grad.g;
    for (const row of grad.rows()) {
      const r = row * d;
      for (let j = r; j < r + d; j++) {
        const gj = g[j]! * gradScale;
        const mj = b1 * m[j]! + (1 - b1) * gj;
        const vj = b2 * v[j]! + (1 - b2) * gj * gj;
        m[j] = mj;
        v[j] = vj;
        table[j] = table[j]! - a * mj / (Math.sqrt(vj) + eps);
      }
    }
    grad.clear();
  }
}
