import { OmnivecError, describe } from '../errors.js';
import type { ExternalVectors } from './types.js';

/**
 * Filling an index read from a vectors-less payload (docs/file-format.md, version 3) from an
 * `ExternalVectors` source: the source is read sequentially in big chunks of rows and each row is
 * handed to the index, which scatters it to the node / list / slot holding that id. Reading in id
 * order keeps the source's reads sequential (one `readSync` per chunk, the page cache's read-ahead
 * at work); the scatter is random in the index's memory, which is in RAM.
 */

/**
 * Rows read per chunk: 32k rows of 128 floats is a 16 MiB buffer, big enough that the per-call
 * cost of `readSync` is nothing, small enough to stay out of the way of the index's memory.
 */
const CHUNK_BYTES = 16 << 20;

/** Checks a source's shape against an index's: a smaller dim or a short `end` is 'corrupt_file' (rebuild from the records). */
export function checkSource(source: ExternalVectors, dim: number, maxId: number, what: string): void {
  if (source === null || typeof source !== 'object' || typeof source.readRows !== 'function') {
    throw new OmnivecError('invalid_argument', `${what}: vectors: expected an ExternalVectors source ({ dim, end, readRows }), got ${describe(source)}`);
  }
  if (!Number.isSafeInteger(source.dim) || source.dim < 1) {
    throw new OmnivecError('invalid_argument', `${what}: vectors.dim: expected an integer ≥ 1, got ${describe(source.dim)}`);
  }
  if (!Number.isSafeInteger(source.end) || source.end < 0) {
    throw new OmnivecError('invalid_argument', `${what}: vectors.end: expected an integer ≥ 0, got ${describe(source.end)}`);
  }
  if (source.dim < dim) {
    throw new OmnivecError('corrupt_file', `${what}: the external vectors have ${source.dim} floats a row, the index needs ${dim}`);
  }
  if (maxId >= 0 && maxId >= source.end) {
    throw new OmnivecError('corrupt_file', `${what}: the index holds id ${maxId}, the external vectors end at id ${source.end - 1}`);
  }
}

/**
 * Calls `visit(id, row)` for every id in [lo, hi] with the first `dim` floats of that id's row. The
 * view is valid only during the call (it is reused for the next chunk). Nothing is read when hi < lo.
 *
 * The views are made once for the chunk buffer, so a row costs no allocation and the index copies
 * it with `TypedArray.set` (a memcpy): measured on 1M × 128 rows scattered into a WebAssembly
 * memory, an element-by-element JS loop took ~1.6× as long.
 */
export function forEachRow(source: ExternalVectors, dim: number, lo: number, hi: number,
  visit: (id: number, row: Float32Array) => void): void {
  if (hi < lo) return;
  const stride = source.dim;
  const chunkRows = Math.max(1, Math.min(hi - lo + 1, Math.floor(CHUNK_BYTES / (stride * 4))));
  const buf = new Float32Array(chunkRows * stride);
  const views = Array.from({ length: chunkRows }, (_, i) => buf.subarray(i * stride, i * stride + dim));
  for (let first = lo; first <= hi; first += chunkRows) {
    const count = Math.min(chunkRows, hi - first + 1);
    source.readRows(first, count, count === chunkRows ? buf : buf.subarray(0, count * stride));
    for (let i = 0; i < count; i++) visit(first + i, views[i]!);
  }
}

/** The smallest and largest of `ids[0 … n)` ([0, −1] when n = 0). */
export function idRange(ids: ArrayLike<number>, n = ids.length): { lo: number; hi: number } {
  if (n === 0) return { lo: 0, hi: -1 };
  let lo = ids[0]!;
  let hi = lo;
  for (let i = 1; i < n; i++) {
    const v = ids[i]!;
    if (v < lo) lo = v;
    else if (v > hi) hi = v;
  }
  return { lo, hi };
}

/** A plain `ExternalVectors` over rows in memory (tests, and a caller that has the vectors at hand). */
export function vectorsFromArray(data: Float32Array, dim: number, end = Math.floor(data.length / dim)): ExternalVectors {
  return {
    dim,
    end,
    readRows(first: number, count: number, dst: Float32Array): void {
      if (first < 0 || first + count > end) {
        throw new OmnivecError('corrupt_file', `external vectors: rows ${first} … ${first + count - 1} asked, the source ends at ${end}`);
      }
      dst.set(data.subarray(first * dim, (first + count) * dim));
    },
  };
}
