import { OmnivecError, describe } from '../errors.js';
import { checkInt } from '../checks.js';

/**
 * A batch of `count` vectors of `dim` components, row after row in one `Float32Array`.
 * The one shape in which vectors cross every boundary of omnivec.
 */
export interface VectorBatch {
  readonly data: Float32Array;
  readonly dim: number;
  readonly count: number;
}

/** Wraps `data` as a batch of `dim`-component rows; `data.length` must be a multiple of `dim`. */
export function vectorBatch(data: Float32Array, dim: number): VectorBatch {
  if (!(data instanceof Float32Array)) {
    throw new OmnivecError('invalid_argument', `vectors: expected a Float32Array, got ${describe(data)}`);
  }
  checkDim(dim);
  if (data.length % dim !== 0) {
    throw new OmnivecError('dimension_mismatch',
      `vectors: expected a length that is a multiple of dim ${dim}, got ${data.length}`);
  }
  return { data, dim, count: data.length / dim };
}

/** Builds a batch from rows given as arrays (convenience for small inputs and tests). */
export function batchFromRows(rows: ArrayLike<ArrayLike<number>>, dim?: number): VectorBatch {
  const d = dim ?? (rows.length > 0 ? rows[0]!.length : 0);
  checkDim(d);
  const data = new Float32Array(rows.length * d);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (r.length !== d) {
      throw new OmnivecError('dimension_mismatch', `vectors[${i}]: expected ${d} components, got ${r.length}`);
    }
    for (let j = 0; j < d; j++) data[i * d + j] = r[j]!;
  }
  return { data, dim: d, count: rows.length };
}

/** Row `i` of a batch, as a view (no copy). */
export function row(batch: VectorBatch, i: number): Float32Array {
  return batch.data.subarray(i * batch.dim, (i + 1) * batch.dim);
}

export function checkDim(dim: unknown): asserts dim is number {
  checkInt(dim, 'dim', { min: 1, max: 65536 });
}

/**
 * Refuses a batch whose dimension differs from `dim` or that holds NaN or an infinity,
 * naming the first offending row and component. O(n) and cheap next to any index work.
 */
export function checkBatch(batch: VectorBatch, dim: number, what = 'vectors'): void {
  if (batch === null || typeof batch !== 'object' || !(batch.data instanceof Float32Array)) {
    throw new OmnivecError('invalid_argument', `${what}: expected a VectorBatch ({ data: Float32Array, dim, count }), got ${describe(batch)}`);
  }
  if (batch.dim !== dim) {
    throw new OmnivecError('dimension_mismatch', `${what}: expected dimension ${dim}, got ${batch.dim}`,
      { expected: dim, actual: batch.dim });
  }
  if (batch.data.length !== batch.count * dim) {
    throw new OmnivecError('invalid_argument',
      `${what}: data holds ${batch.data.length} numbers, expected count × dim = ${batch.count} × ${dim}`);
  }
  checkFinite(batch.data, dim, what);
}

export function checkFinite(data: Float32Array, dim: number, what: string): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    // v - v is 0 for finite numbers and NaN for NaN and ±Infinity.
    if (v - v !== 0) {
      const r = Math.floor(i / dim);
      throw new OmnivecError('invalid_argument',
        `${what}: row ${r}, component ${i - r * dim}: expected a finite number, got ${v}`);
    }
  }
}

/** Refuses a single query vector of the wrong length or with non-finite components. */
export function checkQuery(query: Float32Array, dim: number): void {
  if (!(query instanceof Float32Array)) {
    throw new OmnivecError('invalid_argument', `query: expected a Float32Array, got ${describe(query)}`);
  }
  if (query.length !== dim) {
    throw new OmnivecError('dimension_mismatch', `query: expected dimension ${dim}, got ${query.length}`,
      { expected: dim, actual: query.length });
  }
  checkFinite(query, dim, 'query');
}
