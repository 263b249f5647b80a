import { checkInt } from '../checks.js';
import type { VectorBatch } from './batch.js';

/** Scales `v` in place to unit Euclidean length; a zero vector is left as it is. Returns the old norm. */
export function normalizeInPlace(v: Float32Array, offset = 0, dim = v.length - offset): number {
  let s = 0;
  for (let i = offset; i < offset + dim; i++) s += v[i]! * v[i]!;
  const norm = Math.sqrt(s);
  if (norm > 0) {
    const inv = 1 / norm;
    for (let i = offset; i < offset + dim; i++) v[i] = v[i]! * inv;
  }
  return norm;
}

/** A copy of the batch with every row scaled to unit length. */
export function normalizeBatch(batch: VectorBatch): VectorBatch {
  const data = batch.data.slice();
  for (let r = 0; r < batch.count; r++) normalizeInPlace(data, r * batch.dim, batch.dim);
  return { data, dim: batch.dim, count: batch.count };
}

/**
 * Matryoshka truncation (Kusupati et al. 2022): keeps the first `dimensions` components of every
 * row and renormalises each to unit length, as models trained for it (OpenAI text-embedding-3,
 * nomic, bge-m3 variants) expect. Refuses a target larger than the source dimension.
 */
export function truncate(batch: VectorBatch, dimensions: number, options: { normalize?: boolean } = {}): VectorBatch {
  checkInt(dimensions, 'dimensions', { min: 1, max: batch.dim, note: "the vectors' dimension" });
  const out = new Float32Array(batch.count * dimensions);
  for (let r = 0; r < batch.count; r++) {
    out.set(batch.data.subarray(r * batch.dim, r * batch.dim + dimensions), r * dimensions);
    if (options.normalize !== false) normalizeInPlace(out, r * dimensions, dimensions);
  }
  return { data: out, dim: dimensions, count: batch.count };
}
