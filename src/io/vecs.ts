/**
 * TEXMEX `.fvecs` / `.ivecs` (the SIFT/GIST benchmark sets): per row a little-endian int32
 * dimension, then that many little-endian float32 (fvecs) or int32 (ivecs) values. No header: the
 * count is the file size over the row size. Ids are the row numbers "0", "1", ….
 */
import { OmnivecError } from '../errors.js';
import { checkBatch, checkDim, type VectorBatch } from '../vector/batch.js';
import { BlockReader, DEFAULT_BLOCK_SIZE, fileSize, readerIterable, withReader } from './block-reader.js';
import {
  BATCHES, MAX_DIM, checkFiniteRow, corrupt, dimMismatch, limited, type BatchedRecords, type ImportRecord, type OpenedRecords, type ReadOptions,
} from './common.js';
import { withSink } from './sink.js';

const LITTLE_ENDIAN_HOST = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** `n` little-endian float32 from `bytes` into a new array. */
export function decodeFloat32LE(bytes: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  if (LITTLE_ENDIAN_HOST) {
    new Uint8Array(out.buffer).set(bytes.subarray(0, n * 4));
  } else {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, n * 4);
    for (let j = 0; j < n; j++) out[j] = dv.getFloat32(j * 4, true);
  }
  return out;
}

/** A vector as little-endian float32 bytes. */
export function encodeFloat32LE(vector: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN_HOST) return new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength).slice();
  const out = new Uint8Array(vector.length * 4);
  const dv = new DataView(out.buffer);
  for (let j = 0; j < vector.length; j++) dv.setFloat32(j * 4, vector[j]!, true);
  return out;
}

interface VecsHeader { dim: number | undefined; count: number | undefined; size: number }

async function vecsHeader(path: string, what: string): Promise<VecsHeader> {
  const size = await fileSize(path);
  if (size === 0) return { dim: undefined, count: 0, size };
  const head = await withReader(path, 16, (r) => r.readBytes(4).then((b) => Buffer.from(b)));
  if (head.length < 4) throw corrupt(path, { row: 0, offset: 0 }, `a 4-byte ${what} row dimension`, `${size} bytes`);
  const dim = head.readInt32LE(0);
  if (dim < 1 || dim > MAX_DIM) {
    throw corrupt(path, { row: 0, offset: 0 },
      `a dimension from 1 to ${MAX_DIM} (is this a little-endian ${what} file?)`, String(dim));
  }
  const rowBytes = 4 + dim * 4;
  return { dim, count: size % rowBytes === 0 ? size / rowBytes : undefined, size };
}

/** Rows of a vecs file as views of `dim × 4` bytes (valid until the next row). */
async function* vecsRows(r: BlockReader, what: string): AsyncGenerator<{ row: number; offset: number; bytes: Buffer; dim: number }> {
  const path = r.path;
  let dim: number | undefined;
  for (let row = 0; ; row++) {
    const offset = r.offset;
    const head = await r.readBytes(4);
    if (head.length === 0) return;
    if (head.length < 4) throw corrupt(path, { row, offset }, 'a 4-byte row dimension', `${head.length} bytes before the end of the file (truncated)`);
    const d = head.readInt32LE(0);
    if (d < 1 || d > MAX_DIM) throw corrupt(path, { row, offset }, `a dimension from 1 to ${MAX_DIM} (is this a ${what} file?)`, String(d));
    if (dim === undefined) dim = d;
    else if (d !== dim) throw dimMismatch(path, { row, offset }, dim, 'as row 0', d);
    const bytes = await r.readBytes(d * 4);
    if (bytes.length < d * 4) {
      throw corrupt(path, { row, offset }, `${d * 4} bytes of values`, `${bytes.length} before the end of the file (truncated)`);
    }
    yield { row, offset, bytes, dim };
  }
}

export async function openFvecs(path: string, options: ReadOptions): Promise<OpenedRecords> {
  const { dim, count } = await vecsHeader(path, '.fvecs');
  const prefix = options.idPrefix ?? '';
  const limit = options.limit ?? Infinity;
  const records = readerIterable(path, options.blockSize, async function* (r): AsyncGenerator<ImportRecord> {
    if (limit === 0) return;
    for await (const { row, offset, bytes, dim: d } of vecsRows(r, '.fvecs')) {
      const vector = decodeFloat32LE(bytes, d);
      checkFiniteRow(path, vector, row, offset);
      yield { id: prefix + String(row), vector };
      if (row + 1 >= limit) return;
    }
  }) as BatchedRecords;
  // The same records, many rows per read: whole rows of the file decoded from one block.
  records[BATCHES] = () => readerIterable(path, options.blockSize, async function* (r): AsyncGenerator<ImportRecord[]> {
    if (limit === 0 || dim === undefined) {
      const all: ImportRecord[] = [];
      for await (const { row, offset, bytes, dim: d } of vecsRows(r, '.fvecs')) {
        const vector = decodeFloat32LE(bytes, d);
        checkFiniteRow(path, vector, row, offset);
        all.push({ id: prefix + String(row), vector });
        if (row + 1 >= limit) break;
        if (all.length === BATCH_ROWS) { yield all.splice(0); }
      }
      if (all.length > 0) yield all;
      return;
    }
    const rowBytes = 4 + dim * 4;
    for (let row = 0; row < limit;) {
      const want = Math.min(BATCH_ROWS, limit - row);
      const offset0 = r.offset;
      const block = Buffer.from(await r.readBytes(want * rowBytes)); // a copy: the reader's buffer is reused
      if (block.length === 0) return;
      const rows = Math.floor(block.length / rowBytes);
      const out: ImportRecord[] = new Array(rows);
      const data = new Float32Array(rows * dim);
      for (let i = 0; i < rows; i++) {
        const o = i * rowBytes;
        const d = block.readInt32LE(o);
        if (d !== dim) {
          if (d < 1 || d > MAX_DIM) throw corrupt(path, { row: row + i, offset: offset0 + o }, `a dimension from 1 to ${MAX_DIM} (is this a .fvecs file?)`, String(d));
          throw dimMismatch(path, { row: row + i, offset: offset0 + o }, dim, 'as row 0', d);
        }
        const v = data.subarray(i * dim, (i + 1) * dim);
        v.set(decodeFloat32LE(block.subarray(o + 4, o + rowBytes), dim));
        checkFiniteRow(path, v, row + i, offset0 + o);
        out[i] = { id: prefix + String(row + i), vector: v };
      }
      if (rows * rowBytes !== block.length) {
        const at = row + rows;
        throw corrupt(path, { row: at, offset: offset0 + rows * rowBytes }, `${rowBytes} bytes for the row`, `${block.length - rows * rowBytes} before the end of the file (truncated)`);
      }
      row += rows;
      yield out;
      if (rows < want) return;
    }
  });
  return { format: 'fvecs', dim, count: limited(count, options.limit), records };
}

/** Rows per batch of the batched fvecs reader. */
const BATCH_ROWS = 4096;

/** Reads a whole .fvecs file (a query set) into one batch; refuses non-finite values. */
export async function readFvecs(path: string): Promise<VectorBatch> {
  const { dim, count } = await vecsHeader(path, '.fvecs');
  if (dim === undefined) throw corrupt(path, { row: 0, offset: 0 }, 'at least one vector', 'an empty file');
  const data = new Float32Array((count ?? 0) * dim);
  await withReader(path, DEFAULT_BLOCK_SIZE, async (r) => {
    for await (const { row, offset, bytes } of vecsRows(r, '.fvecs')) {
      const v = decodeFloat32LE(bytes, dim);
      checkFiniteRow(path, v, row, offset);
      // Without a count (a size that is not a whole number of rows) vecsRows throws before the end.
      if (count !== undefined) data.set(v, row * dim);
    }
  });
  if (count === undefined) throw corrupt(path, { row: 0, offset: 0 }, 'a whole number of rows', 'a partial row');
  return { data, dim, count };
}

/** Reads a whole .ivecs file (ground-truth neighbour ids): `count` rows of `k` int32. */
export async function readIvecs(path: string): Promise<{ ids: Int32Array; k: number; count: number }> {
  const { dim, count } = await vecsHeader(path, '.ivecs');
  if (dim === undefined) throw corrupt(path, { row: 0, offset: 0 }, 'at least one row', 'an empty file');
  const ids = new Int32Array((count ?? 0) * dim);
  await withReader(path, DEFAULT_BLOCK_SIZE, async (r) => {
    for await (const { row, bytes } of vecsRows(r, '.ivecs')) {
      if (count !== undefined) for (let j = 0; j < dim; j++) ids[row * dim + j] = bytes.readInt32LE(j * 4);
    }
  });
  if (count === undefined) throw corrupt(path, { row: 0, offset: 0 }, 'a whole number of rows', 'a partial row');
  return { ids, k: dim, count };
}

const ROWS_PER_WRITE = 1024;

/** Writes a batch as .fvecs (refuses non-finite values). */
export async function writeFvecs(path: string, batch: VectorBatch): Promise<void> {
  checkBatch(batch, batch?.dim, 'batch');
  checkDim(batch.dim);
  const { dim, count, data } = batch;
  await withSink(path, async (sink) => {
    for (let i0 = 0; i0 < count; i0 += ROWS_PER_WRITE) {
      const n = Math.min(ROWS_PER_WRITE, count - i0);
      const out = Buffer.allocUnsafe(n * (4 + dim * 4));
      for (let i = 0; i < n; i++) {
        const o = i * (4 + dim * 4);
        out.writeInt32LE(dim, o);
        const row = data.subarray((i0 + i) * dim, (i0 + i + 1) * dim);
        out.set(encodeFloat32LE(row), o + 4);
      }
      await sink.write(out);
    }
  });
}

/** Writes `rows` (row after row, `k` ids a row) as .ivecs; ids must fit in an int32. */
export async function writeIvecs(path: string, rows: Int32Array | Uint32Array, k: number): Promise<void> {
  if (!(rows instanceof Int32Array) && !(rows instanceof Uint32Array)) {
    throw new OmnivecError('invalid_argument', 'rows: expected an Int32Array or a Uint32Array');
  }
  if (!Number.isInteger(k) || k < 1 || k > MAX_DIM) {
    throw new OmnivecError('invalid_argument', `k: expected an integer from 1 to ${MAX_DIM}, got ${String(k)}`);
  }
  if (rows.length % k !== 0) {
    throw new OmnivecError('dimension_mismatch', `rows: expected a length that is a multiple of k ${k}, got ${rows.length}`);
  }
  const count = rows.length / k;
  await withSink(path, async (sink) => {
    for (let i0 = 0; i0 < count; i0 += ROWS_PER_WRITE) {
      const n = Math.min(ROWS_PER_WRITE, count - i0);
      const out = Buffer.allocUnsafe(n * (4 + k * 4));
      for (let i = 0; i < n; i++) {
        const o = i * (4 + k * 4);
        out.writeInt32LE(k, o);
        for (let j = 0; j < k; j++) {
          const v = rows[(i0 + i) * k + j]!;
          if (v > 0x7fffffff) {
            throw new OmnivecError('invalid_argument', `rows: row ${i0 + i}, column ${j}: expected an id that fits in an int32, got ${v}`);
          }
          out.writeInt32LE(v, o + 4 + j * 4);
        }
      }
      await sink.write(out);
    }
  });
}
