import type { Metric } from '../../vector/metric.js';
import type { BinaryWriter } from '../../storage/binary.js';
import type { Quantizer } from './quantizer.js';

/**
 * int8 scalar quantisation (docs/indexes/quantization.md). l2: per-dimension offset (centre of
 * the learnt [min, max]) and one global scale (largest half-range ÷ 127), so Σ (c − c′)² is an
 * exact integer sum proportional to the quantised squared distance. ip / cosine: zero offset and
 * one global scale (max |x| ÷ 127). Values outside the learnt range are clamped to ±127.
 */
export class ScalarQuantizer implements Quantizer {
  readonly kind = 'int8' as const;
  readonly dim: number;
  readonly metric: Metric;
  readonly codeBytes: number;
  readonly metricCode: number;
  offset: Float32Array;
  scale = 1;
  #inv = 1;
  trained = false;

  constructor(dim: number, metric: Metric) {
    this.dim = dim;
    this.metric = metric;
    this.codeBytes = Math.ceil(dim / 16) * 16;
    this.metricCode = metric === 'l2' ? 3 : 4;
    this.offset = new Float32Array(dim);
  }

  train(data: Float32Array, count: number): void {
    const dim = this.dim;
    if (count === 0) return;
    if (this.metric === 'l2') {
      const lo = new Float64Array(dim).fill(Infinity);
      const hi = new Float64Array(dim).fill(-Infinity);
      for (let i = 0; i < count; i++) {
        const o = i * dim;
        for (let j = 0; j < dim; j++) {
          const x = data[o + j]!;
          if (x < lo[j]!) lo[j] = x;
          if (x > hi[j]!) hi[j] = x;
        }
      }
      let half = 0;
      for (let j = 0; j < dim; j++) {
        this.offset[j] = (lo[j]! + hi[j]!) / 2;
        half = Math.max(half, (hi[j]! - lo[j]!) / 2);
      }
      this.load(this.offset, half > 0 && Number.isFinite(half) ? half / 127 : 1);
    } else {
      let max = 0;
      for (let i = 0; i < count * dim; i++) max = Math.max(max, Math.abs(data[i]!));
      this.load(new Float32Array(dim), max > 0 && Number.isFinite(max) ? max / 127 : 1);
    }
  }

  /** Sets learnt parameters (training or a file). */
  load(offset: Float32Array, scale: number): void {
    this.offset = Float32Array.from(offset);
    this.scale = scale;
    this.#inv = 1 / scale;
    this.trained = true;
  }

  encode(src: Float32Array, srcOff: number, dst: Uint8Array, dstOff: number): void {
    const dim = this.dim;
    const inv = this.#inv;
    const off = this.offset;
    for (let j = 0; j < dim; j++) {
      let c = Math.round((src[srcOff + j]! - off[j]!) * inv);
      if (!(c >= -127)) c = -127; // also NaN
      else if (c > 127) c = 127;
      dst[dstOff + j] = c & 0xff;
    }
    dst.fill(0, dstOff + dim, dstOff + this.codeBytes);
  }

  write(w: BinaryWriter, extra: Record<string, number> = {}): void {
    w.json({ kind: this.kind, trained: this.trained, scale: this.scale, ...extra });
    w.f32s(this.offset);
  }
}
