import type { Metric } from '../../vector/metric.js';
import type { BinaryWriter } from '../../storage/binary.js';
import type { Quantizer, WarningHook } from './quantizer.js';

/** Centred norms whose 90th / 10th percentile ratio exceeds this make binary + l2 warn. */
const NORM_SPREAD_WARN = 2;

/**
 * Binary quantisation (docs/indexes/quantization.md): bit i = x_i − mean_i > 0, with the
 * per-dimension mean learnt from the sample; Hamming distance (kernel code 5). Code bytes
 * ⌈dim / 128⌉ × 16; bit i is bit (i & 7) of byte i >> 3.
 */
export class BinaryQuantizer implements Quantizer {
  readonly kind = 'binary' as const;
  readonly dim: number;
  readonly metric: Metric;
  readonly codeBytes: number;
  readonly metricCode = 5;
  mean: Float32Array;
  trained = false;
  readonly #onWarning: WarningHook;

  constructor(dim: number, metric: Metric, onWarning: WarningHook) {
    this.dim = dim;
    this.metric = metric;
    this.codeBytes = Math.ceil(dim / 128) * 16;
    this.mean = new Float32Array(dim);
    this.#onWarning = onWarning;
  }

  train(data: Float32Array, count: number): void {
    const dim = this.dim;
    if (count === 0) return;
    const sum = new Float64Array(dim);
    for (let i = 0; i < count; i++) for (let j = 0; j < dim; j++) sum[j]! += data[i * dim + j]!;
    const mean = new Float32Array(dim);
    for (let j = 0; j < dim; j++) mean[j] = sum[j]! / count;
    this.load(mean);
    if (this.metric === 'l2' && count >= 10) {
      const norms = new Float64Array(count);
      for (let i = 0; i < count; i++) {
        let s = 0;
        for (let j = 0; j < dim; j++) s += (data[i * dim + j]! - mean[j]!) ** 2;
        norms[i] = Math.sqrt(s);
      }
      norms.sort();
      const p10 = norms[Math.floor(count * 0.1)]!;
      const p90 = norms[Math.floor(count * 0.9)]!;
      if (p90 > NORM_SPREAD_WARN * p10) {
        this.#onWarning(`quantization "binary" with metric "l2": the centred vectors' norms vary widely (90th percentile ${p90.toPrecision(3)}, 10th ${p10.toPrecision(3)}); sign bits ignore length, so recall may be poor — consider "int8" (docs/indexes/quantization.md)`,
          'OMNIVEC_BINARY_L2');
      }
    }
  }

  load(mean: Float32Array): void {
    this.mean = Float32Array.from(mean);
    this.trained = true;
  }

  encode(src: Float32Array, srcOff: number, dst: Uint8Array, dstOff: number): void {
    const dim = this.dim;
    const mean = this.mean;
    dst.fill(0, dstOff, dstOff + this.codeBytes);
    for (let j = 0; j < dim; j++) if (src[srcOff + j]! > mean[j]!) dst[dstOff + (j >> 3)]! |= 1 << (j & 7);
  }

  write(w: BinaryWriter, extra: Record<string, number> = {}): void {
    w.json({ kind: this.kind, trained: this.trained, ...extra });
    w.f32s(this.mean);
  }
}
