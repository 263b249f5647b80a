/**
 * NumPy `.npy` (format versions 1.0, 2.0 and 3.0): the magic `\x93NUMPY`, the version, the header
 * length (u16 in 1.0, u32 after), a Python dict literal `{'descr': '<f4', 'fortran_order': False,
 * 'shape': (count, dim), }` padded so the data starts on a 64-byte boundary, then the data in C
 * order. Ids are row numbers "0", "1", ….
 */
import { OmnivecError } from '../errors.js';
import { checkBatch, type VectorBatch } from '../vector/batch.js';
import { fileSize, readerIterable, withReader, type BlockReader } from './block-reader.js';
import {
  MAX_DIM, checkFiniteRow, checkRecordVector, corrupt, eachRecord, limited, quote,
  type ImportRecord, type OpenedRecords, type ReadOptions, type RecordSource,
} from './common.js';
import { decodeFloat32LE, encodeFloat32LE } from './vecs.js';
import { withSink } from './sink.js';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

type Kind = 'f' | 'i' | 'u';

interface NpyHeader {
  version: string;
  descr: string;
  kind: Kind;
  itemSize: number;
  littleEndian: boolean;
  count: number;
  dim: number;
  dataOffset: number;
}

const SUPPORTED: Record<string, true> = {
  f2: true, f4: true, f8: true, i1: true, i2: true, i4: true, i8: true, u1: true, u2: true, u4: true, u8: true,
};

async function readHeader(r: BlockReader): Promise<NpyHeader> {
  const path = r.path;
  const where = { row: 0, offset: 0 };
  const pre = Buffer.from(await r.readBytes(8));
  if (pre.length < 8 || !pre.subarray(0, 6).equals(MAGIC)) {
    const got = pre.subarray(0, 4).equals(Buffer.from('PK\x03\x04', 'latin1'))
      ? 'a zip archive (an .npz? unzip it and read the .npy inside)'
      : `the bytes ${pre.subarray(0, 6).toString('hex')}`;
    throw corrupt(path, where, 'the NumPy magic \\x93NUMPY', got);
  }
  const major = pre[6]!;
  const minor = pre[7]!;
  const version = `${major}.${minor}`;
  if (major < 1 || major > 3) {
    throw new OmnivecError('unsupported_version', `${path}: expected .npy format version 1.0, 2.0 or 3.0, got ${version}`, { path });
  }
  const lenBytes = Buffer.from(await r.readBytes(major === 1 ? 2 : 4));
  if (lenBytes.length < (major === 1 ? 2 : 4)) throw corrupt(path, where, 'the header length', 'the end of the file');
  const headerLength = major === 1 ? lenBytes.readUInt16LE(0) : lenBytes.readUInt32LE(0);
  const headerOffset = 8 + lenBytes.length;
  if (headerLength > 1 << 20) throw corrupt(path, where, 'a header of at most 1 MiB', `${headerLength} bytes`);
  const headerBytes = await r.readBytes(headerLength);
  if (headerBytes.length < headerLength) throw corrupt(path, where, `a header of ${headerLength} bytes`, `${headerBytes.length} (truncated)`);
  const text = headerBytes.toString(major === 3 ? 'utf8' : 'latin1');
  const descrMatch = /['"]descr['"]\s*:\s*(['"])([^'"]*)\1/.exec(text);
  if (descrMatch === null) {
    if (/['"]descr['"]\s*:\s*\[/.test(text)) throw corrupt(path, where, 'a plain numeric dtype', 'a structured dtype');
    throw corrupt(path, where, "a header dict with 'descr'", quote(text.trim(), 80));
  }
  const descr = descrMatch[2]!;
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text);
  if (fortran === null) throw corrupt(path, where, "a header dict with 'fortran_order'", quote(text.trim(), 80));
  if (fortran[1] === 'True') {
    throw new OmnivecError('invalid_argument',
      `${path}: expected a C-order array, got fortran_order True (save np.ascontiguousarray(a) instead)`, { path });
  }
  const shapeMatch = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text);
  if (shapeMatch === null) throw corrupt(path, where, "a header dict with 'shape'", quote(text.trim(), 80));
  const shapeText = shapeMatch[1]!;
  const shape = shapeText.split(',').map((s) => s.trim().replace(/L$/, '')).filter((s) => s !== '');
  if (shape.length !== 2 || !shape.every((s) => /^\d+$/.test(s))) {
    throw corrupt(path, where, 'a 2-D shape (count, dim)', `(${shapeText.trim()})`);
  }
  const count = Number(shape[0]);
  const dim = Number(shape[1]);
  if (count > 0 && (dim < 1 || dim > MAX_DIM)) throw corrupt(path, where, `a dim from 1 to ${MAX_DIM}`, String(dim));
  const m = /^([<>|=])([fiu])(\d+)$/.exec(descr);
  if (m === null || !SUPPORTED[m[2]! + m[3]!]) {
    throw new OmnivecError('invalid_argument',
      `${path}: expected a dtype of float16/32/64 or (u)int8/16/32/64 ('<f4', '<f8', '<f2', '|i1', …), got ${quote(descr)}`, { path });
  }
  const itemSize = Number(m[3]);
  return {
    version, descr, kind: m[2] as Kind, itemSize, littleEndian: m[1] !== '>', count, dim,
    dataOffset: headerOffset + headerLength,
  };
}

/** An IEEE 754 half-precision value (its 16 bits) as a number. */
export function float16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** Decodes one row of `dim` items of the header's dtype into float32. */
function decodeRow(h: NpyHeader, bytes: Buffer): Float32Array {
  const { dim, kind, itemSize, littleEndian: le } = h;
  if (kind === 'f' && itemSize === 4 && le) return decodeFloat32LE(bytes, dim);
  const out = new Float32Array(dim);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, dim * itemSize);
  for (let j = 0; j < dim; j++) {
    const o = j * itemSize;
    let v: number;
    if (kind === 'f') v = itemSize === 2 ? float16(dv.getUint16(o, le)) : itemSize === 4 ? dv.getFloat32(o, le) : dv.getFloat64(o, le);
    else if (kind === 'i') v = itemSize === 1 ? dv.getInt8(o) : itemSize === 2 ? dv.getInt16(o, le) : itemSize === 4 ? dv.getInt32(o, le) : Number(dv.getBigInt64(o, le));
    else v = itemSize === 1 ? dv.getUint8(o) : itemSize === 2 ? dv.getUint16(o, le) : itemSize === 4 ? dv.getUint32(o, le) : Number(dv.getBigUint64(o, le));
    out[j] = v;
  }
  return out;
}

export async function openNpy(path: string, options: ReadOptions): Promise<OpenedRecords> {
  const size = await fileSize(path);
  const check = (h: NpyHeader, actual: number): void => {
    const expected = h.dataOffset + h.count * h.dim * h.itemSize;
    if (actual !== expected) {
      throw corrupt(path, { row: 0, offset: 0 },
        `${expected} bytes (a ${h.dataOffset}-byte header + ${h.count} × ${h.dim} × ${h.itemSize})`,
        `${actual}${actual < expected ? ' (truncated)' : ' (trailing data, or a wrong shape)'}`);
    }
  };
  const header = await withReader(path, 4096, readHeader);
  check(header, size);
  const prefix = options.idPrefix ?? '';
  const limit = options.limit ?? Infinity;
  const records = readerIterable(path, options.blockSize, async function* (r): AsyncGenerator<ImportRecord> {
    const h = await readHeader(r);
    check(h, await fileSize(path));
    const rowBytes = h.dim * h.itemSize;
    const n = Math.min(h.count, limit);
    for (let row = 0; row < n; row++) {
      const offset = r.offset;
      const bytes = await r.readBytes(rowBytes);
      if (bytes.length < rowBytes) throw corrupt(path, { row, offset }, `${rowBytes} bytes`, `${bytes.length} (truncated)`);
      const vector = decodeRow(h, bytes);
      checkFiniteRow(path, vector, row, offset);
      yield { id: prefix + String(row), vector };
    }
  });
  return { format: 'npy', dim: header.count > 0 ? header.dim : undefined, count: limited(header.count, options.limit), records };
}

/** Header of a v1.0 .npy of float32 `(count, dim)`, padded to `total` bytes (a multiple of 64). */
function npyHeader(count: number, dim: number, total = 128): Buffer {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${count}, ${dim}), }`;
  const headerLength = total - 10;
  if (dict.length + 1 > headerLength) throw new OmnivecError('invalid_argument', `shape (${count}, ${dim}) too large for the header`);
  const out = Buffer.alloc(total, 0x20);
  MAGIC.copy(out, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(headerLength, 8);
  out.write(dict, 10, 'latin1');
  out[total - 1] = 0x0a;
  return out;
}

/**
 * Writes float32 vectors as a v1.0 .npy `(count, dim)` '<f4' array (ids, documents and metadata are
 * not stored: the format holds numbers only). Streams: the header is patched with the count at the
 * end. `dim` is needed only to write an empty array of a given width. Returns the count.
 */
export async function writeNpy(path: string, source: RecordSource | VectorBatch, options: { dim?: number } = {}): Promise<number> {
  if (source !== null && typeof source === 'object' && 'data' in source && (source as VectorBatch).data instanceof Float32Array) {
    const b = source as VectorBatch;
    checkBatch(b, b.dim, 'batch');
    const rows = function* (): Generator<ImportRecord> {
      for (let i = 0; i < b.count; i++) yield { id: String(i), vector: b.data.subarray(i * b.dim, (i + 1) * b.dim) };
    };
    return writeNpy(path, rows(), { dim: b.dim });
  }
  return withSink(path, async (sink) => {
    let dim = options.dim;
    let count = 0;
    await sink.write(npyHeader(0, 0));
    for await (const rec of eachRecord(source as RecordSource, 'records')) {
      if (dim === undefined) dim = rec.vector.length;
      checkRecordVector(rec, count, dim);
      await sink.write(encodeFloat32LE(rec.vector));
      count++;
    }
    await sink.flush();
    await sink.writeAt(npyHeader(count, dim ?? 0), 0);
    return count;
  });
}
