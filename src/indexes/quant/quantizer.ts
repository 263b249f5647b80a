import { OmnivecError } from '../../errors.js';
import type { Metric } from '../../vector/metric.js';
import type { BinaryReader, BinaryWriter } from '../../storage/binary.js';
import { ScalarQuantizer } from './scalar.js';
import { BinaryQuantizer } from './binary.js';

/**
 * A quantiser turns a float32 vector into a code the WebAssembly kernels compare under
 * `metricCode` (3 int8 l2, 4 int8 ip, 5 binary; see kernels.ts). Codes are `codeBytes` long
 * (a multiple of 16, zero padding). Vectors given to `train` and `encode` are already normalised
 * for cosine.
 */
export interface Quantizer {
  readonly kind: 'int8' | 'binary';
  readonly dim: number;
  readonly metric: Metric;
  readonly codeBytes: number;
  readonly metricCode: number;
  readonly trained: boolean;
  /** Learns the parameters from `count` rows of `data` (row-major, dim floats each). */
  train(data: Float32Array, count: number): void;
  /** Encodes `dim` floats from `src[srcOff…]` into `dst[dstOff … dstOff + codeBytes)`. */
  encode(src: Float32Array, srcOff: number, dst: Uint8Array, dstOff: number): void;
  /** Writes the learnt parameters (a JSON object, with `extra`'s keys, and one f32 array). */
  write(w: BinaryWriter, extra?: Record<string, number>): void;
}

/** Called with a warning a quantiser raises (binary with l2 on data of varied norms); default process.emitWarning. */
export type WarningHook = (message: string, code: string) => void;

const defaultWarning: WarningHook = (message, code) => process.emitWarning(message, { code });

/** Smallest dimension `binary` accepts (see docs/indexes/quantization.md). */
export const BINARY_MIN_DIM = 32;

/** Builds the quantiser of an index (checks that the combination is allowed). */
export function createQuantizer(kind: 'int8' | 'binary', dim: number, metric: Metric, onWarning: WarningHook = defaultWarning): Quantizer {
  if (kind === 'int8') return new ScalarQuantizer(dim, metric);
  if (dim < BINARY_MIN_DIM) {
    throw new OmnivecError('invalid_argument',
      `quantization: "binary" needs dim ≥ ${BINARY_MIN_DIM}, got dim ${dim} (with fewer bits there are too few distinct Hamming distances to rank candidates; use "int8")`);
  }
  return new BinaryQuantizer(dim, metric, onWarning);
}

/** Reads what `Quantizer.write` wrote. */
export function readQuantizer(r: BinaryReader, kind: 'int8' | 'binary', dim: number, metric: Metric): Quantizer {
  return readQuantizerWithMeta(r, kind, dim, metric).quantizer;
}

/**
 * `readQuantizer`, also returning `autoTrainedOn` (written by QuantParts: rows of the automatic
 * training, −1 when trained explicitly; absent reads as −1).
 */
export function readQuantizerWithMeta(r: BinaryReader, kind: 'int8' | 'binary', dim: number, metric: Metric): { quantizer: Quantizer; autoTrainedOn: number } {
  const p = r.json<{ kind?: unknown; trained?: unknown; scale?: unknown; autoTrainedOn?: unknown }>('quantizer params');
  const vec = r.f32s('quantizer vector', dim);
  if (p.kind !== kind) r.fail('quantizer params', `kind ${String(p.kind)}, expected ${kind}`);
  const q = kind === 'int8' ? new ScalarQuantizer(dim, metric) : new BinaryQuantizer(dim, metric, () => {});
  if (p.trained === true) {
    if (kind === 'int8') {
      if (typeof p.scale !== 'number' || !(p.scale > 0) || !Number.isFinite(p.scale)) r.fail('quantizer params', `scale ${String(p.scale)} is not a positive number`);
      (q as ScalarQuantizer).load(vec, p.scale);
    } else {
      (q as BinaryQuantizer).load(vec);
    }
  }
  const auto = p.autoTrainedOn ?? -1;
  if (typeof auto !== 'number' || !Number.isInteger(auto) || auto < -1) r.fail('quantizer params', `autoTrainedOn ${String(auto)} is not an integer ≥ −1`);
  return { quantizer: q, autoTrainedOn: auto };
}
