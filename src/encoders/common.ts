/**
 * Small pieces every encoder shares: building its `Encoding` (one Float32Array of count × dim) and
 * reading rows back, for callers that want one vector at a time.
 */
import type { VectorBatch } from '../vector/batch.js';
import type { Encoding } from './types.js';

/** An empty batch of `count` rows of `dim` floats, to be filled row by row, with `tokens`. */
export function emptyEncoding(count: number, dim: number, tokens = 0): Encoding & { data: Float32Array } {
  return { data: new Float32Array(count * dim), dim, count, tokens };
}

/** Rows of `dim` floats (each exactly `dim` long) → one Encoding. */
export function encodingFromRows(rows: readonly Float32Array[], dim: number, tokens = 0): Encoding {
  const out = emptyEncoding(rows.length, dim, tokens);
  for (let i = 0; i < rows.length; i++) out.data.set(rows[i]!, i * dim);
  return out;
}

/** The rows of a batch as views into its data (no copy). */
export function batchRows(batch: VectorBatch): Float32Array[] {
  const rows = new Array<Float32Array>(batch.count);
  for (let i = 0; i < batch.count; i++) rows[i] = batch.data.subarray(i * batch.dim, (i + 1) * batch.dim);
  return rows;
}
