import { OmnivecError, describe } from '../errors.js';
import type { Metric } from '../vector/metric.js';
import { openSync, fstatSync, readSync, closeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { BinaryWriter, BinaryReader, type ByteSource } from '../storage/binary.js';
import {
  decodeFile, decodeHeader, encodeHeader, FLAG_EXTERNAL_VECTORS, FLAG_SEGMENTED, HEADER_BYTES, type FileHeader, type FileKind,
} from '../storage/header.js';
import { readFileBytes, writeFileAtomic } from '../storage/atomic.js';
import { FlatIndex, type FlatIndexOptions } from './flat/flat-index.js';
import { IvfIndex, type IvfIndexOptions } from './ivf/ivf-index.js';
import { HnswIndex, type HnswIndexOptions } from './hnsw/hnsw-index.js';
import type { ExternalVectors, VectorIndex } from './types.js';
import { checkSegmentBytes, readSegmentContainer, SegmentedIndex, type SegmentOptions } from './segmented.js';

/**
 * Builds indexes from plain specs and reads any index back from its file header: the one place
 * that knows every index kind.
 */

/** A flat (exact) index: only the shape (docs/indexes/flat.md). */
export interface FlatIndexSpec extends FlatIndexOptions, SegmentOptions { kind: 'flat' }
/** An IVF-Flat index: `nList`, `nProbe`, `seed`, `iterations` (docs/indexes/ivf.md). */
export interface IvfIndexSpec extends IvfIndexOptions, SegmentOptions { kind: 'ivf' }
/** An HNSW index: `m`, `efConstruction`, `efSearch`, `seed` (docs/indexes/hnsw.md). */
export interface HnswIndexSpec extends HnswIndexOptions, SegmentOptions { kind: 'hnsw' }

/**
 * What `createIndex` builds: plain data (a collection stores it as JSON and rebuilds the index
 * from it), one member per kind with that kind's own options, discriminated by `kind`. The
 * options are still checked at run time by each index's constructor (specs come from JSON).
 */
export type IndexSpec = FlatIndexSpec | IvfIndexSpec | HnswIndexSpec;

/** Every kind createIndex builds, in the order error messages list them. */
export const INDEX_KINDS = ['flat', 'ivf', 'hnsw'] as const satisfies readonly IndexSpec['kind'][];

type Reader = (r: BinaryReader, dim: number, metric: Metric, count: number, external: boolean) => VectorIndex;

const readers: Record<FileKind, Reader | undefined> = {
  flat: (r, d, m, c, x) => FlatIndex.readPayload(r, d, m, c, x),
  ivf: (r, d, m, c, x) => IvfIndex.readPayload(r, d, m, c, x),
  hnsw: (r, d, m, c, x) => HnswIndex.readPayload(r, d, m, c, x),
};

/**
 * Builds an empty index from its spec: a SegmentedIndex over one index of the kind, which starts
 * further segments (each its own WebAssembly memory) past `segmentBytes` (docs/indexes/segments.md).
 * While it holds one segment, every call goes straight to the bare index.
 */
export function createIndex(spec: IndexSpec): VectorIndex {
  const kind: unknown = spec !== null && typeof spec === 'object' ? spec.kind : undefined;
  const segments = (): SegmentOptions => ({ segmentBytes: checkSegmentBytes(spec.segmentBytes) });
  switch (spec?.kind) {
    case 'flat': return new SegmentedIndex(new FlatIndex(spec), segments());
    case 'ivf': return new SegmentedIndex(new IvfIndex(spec), segments());
    case 'hnsw': return new SegmentedIndex(new HnswIndex(spec), segments());
    default: {
      // Exhaustive: a new member of IndexSpec without a case here does not compile.
      const unknownKind: never = spec;
      void unknownKind;
      throw new OmnivecError('invalid_argument',
        `index kind: expected one of ${INDEX_KINDS.map((k) => `"${k}"`).join(', ')}, got ${describe(kind)}`);
    }
  }
}

/** The index as file bytes: the 64-byte header, then the payload (chunks, to avoid one big copy). */
export interface SaveOptions {
  /** False: write views of the index's memory without copying (only while nothing changes the index). */
  copy?: boolean;
  /** False: leave the float vectors out; `loadIndex` then needs `vectors` (docs/file-format.md). Default true. */
  vectors?: boolean;
}

/** How an index file is read back. */
export interface LoadOptions extends SegmentOptions {
  /** Where the float vectors of a file saved with `vectors: false` come from (required for such a file). */
  vectors?: ExternalVectors;
  /**
   * False: do not compute the payload's CRC-32 while loading (the header's checksum and every
   * structural check still run), and check it later with `verifyIndexFile`, e.g. in the background
   * after a reopen. Measured: ~0.1 s CPU of a 1M × 128 HNSW vectors-less load (136 MB), ~0.6 s of
   * the with-vectors one (636 MB); docs/indexes/hnsw.md. Default true.
   */
  verifyChecksum?: boolean;
}

export function serializeIndex(index: VectorIndex, options: SaveOptions = {}): Uint8Array[] {
  const payload = new BinaryWriter(options);
  const external = options.vectors === false;
  index.writePayload(payload, { vectors: !external });
  // Several segments: a version-2 file whose payload is the segment container; one: today's file.
  // Without vectors: version 3, with or without segments.
  const flags = (index instanceof SegmentedIndex && index.segmentCount > 1 ? FLAG_SEGMENTED : 0) |
    (external ? FLAG_EXTERNAL_VECTORS : 0);
  const header = encodeHeader({ kind: index.kind, dim: index.dim, metric: index.metric, count: index.size, flags }, payload);
  return [header, ...payload.chunks()];
}

/**
 * Reads an index from file bytes, checking magic, version, checksums and structure. The index
 * comes back segmented (it can grow past one memory), in as many segments as the file holds.
 */
export function deserializeIndex(bytes: Uint8Array, what = 'index file', options: LoadOptions = {}): VectorIndex {
  const verify = options.verifyChecksum !== false;
  const { header, payload } = decodeFile(bytes, what, { verifyChecksum: verify });
  const read = readerOf(header, what, options.vectors);
  const external = (header.flags & FLAG_EXTERNAL_VECTORS) !== 0;
  const segOptions = { segmentBytes: options.segmentBytes };
  const index = (header.flags & FLAG_SEGMENTED) !== 0
    ? readSegmentContainer(bytes.subarray(HEADER_BYTES), read, header, what, segOptions, external, verify)
    : new SegmentedIndex(read(payload, header.dim, header.metric, header.count, external), segOptions);
  return filled(index, external, options.vectors);
}

/** The kind's reader; refuses a vectors-less file without a source to fill it from. */
function readerOf(header: FileHeader, what: string, vectors: ExternalVectors | undefined): Reader {
  const read = readers[header.kind];
  if (read === undefined) throw new OmnivecError('unsupported_version', `${what}: index kind "${header.kind}" is not available in this build`);
  if ((header.flags & FLAG_EXTERNAL_VECTORS) !== 0 && vectors === undefined) {
    throw new OmnivecError('invalid_argument',
      `${what}: vectors: expected an ExternalVectors source, got none: the file was saved without its float vectors (vectors: false)`);
  }
  return read;
}

/**
 * Fills an index read from a vectors-less payload from `vectors` (after every check of the file);
 * a file with its vectors ignores the source.
 */
function filled(index: SegmentedIndex, external: boolean, vectors: ExternalVectors | undefined): VectorIndex {
  if (external) index.fillVectors(vectors!);
  return index;
}

/**
 * Writes the index to `path` atomically (temporary file, fsync, rename). `copy: false` writes the
 * index's memory without copying it first: only when nothing changes the index until this returns.
 */
export async function saveIndex(index: VectorIndex, path: string, options: SaveOptions = {}): Promise<void> {
  await writeFileAtomic(path, serializeIndex(index, options));
}

/** Files above this size are read section by section, big sections straight into the index's memory. */
const STREAM_ABOVE = 32 << 20;

/**
 * Reads an index file. Small files are read whole; large ones through a file-backed reader that
 * reads the big vector / record section straight into the index's memory (no second copy of the
 * file in memory: on a 1M × 128 HNSW file that halves the memory first touched while loading), with
 * the payload checksum computed along the way and checked at the end.
 */
export async function loadIndex(path: string, options: { streamAbove?: number } & LoadOptions = {}): Promise<VectorIndex> {
  const streamAbove = options.streamAbove ?? STREAM_ABOVE;
  const segmentOptions = { segmentBytes: options.segmentBytes };
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new OmnivecError('not_found', `${path}: no such index file`);
    throw e;
  }
  try {
    const size = fstatSync(fd).size;
    const verify = options.verifyChecksum !== false;
    if (size <= streamAbove) return deserializeIndex(await readFileBytes(path), path, { ...segmentOptions, vectors: options.vectors, verifyChecksum: verify });
    const head = new Uint8Array(HEADER_BYTES);
    readFully(fd, head, 0, HEADER_BYTES, 0, path);
    const header = decodeHeader(head, size - HEADER_BYTES, path);
    const read = readerOf(header, path, options.vectors);
    const external = (header.flags & FLAG_EXTERNAL_VECTORS) !== 0;
    const source: ByteSource = {
      length: header.payloadLength,
      readAt: (dst, off, len, pos) => readFully(fd, dst, off, len, HEADER_BYTES + pos, path),
    };
    const index = (header.flags & FLAG_SEGMENTED) !== 0
      ? readSegmentContainer(source, read, header, path, segmentOptions, external, verify)
      : new SegmentedIndex(read(new BinaryReader(source, path, HEADER_BYTES, verify ? header.payloadCrc : undefined), header.dim, header.metric, header.count, external),
        segmentOptions);
    return filled(index, external, options.vectors);
  } finally {
    closeSync(fd);
  }
}

/**
 * Checks an index file's header and payload checksums without loading it: what `loadIndex` skips
 * with `verifyChecksum: false`. Reads 4 MiB at a time, asynchronously (other work runs between
 * reads). Resolves when the file is intact; rejects with 'corrupt_file' (or 'not_found') otherwise.
 */
export async function verifyIndexFile(path: string): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new OmnivecError('not_found', `${path}: no such index file`);
    throw e;
  }
  try {
    const size = (await fh.stat()).size;
    const head = new Uint8Array(Math.min(size, HEADER_BYTES));
    await fh.read(head, 0, head.length, 0);
    const header = decodeHeader(head, size - HEADER_BYTES, path);
    const buf = new Uint8Array(4 << 20);
    let crc = 0;
    for (let pos = HEADER_BYTES; pos < size;) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
      if (bytesRead === 0) throw new OmnivecError('corrupt_file', `${path}: truncated: ended at byte ${pos}`);
      crc = crc32(buf.subarray(0, bytesRead), crc) >>> 0;
      pos += bytesRead;
    }
    if (crc !== header.payloadCrc) {
      throw new OmnivecError('corrupt_file',
        `${path}: payload checksum mismatch (stored 0x${header.payloadCrc.toString(16).padStart(8, '0')}, computed 0x${crc.toString(16).padStart(8, '0')}): the file was altered or damaged`);
    }
  } finally {
    await fh.close();
  }
}

function readFully(fd: number, dst: Uint8Array, off: number, len: number, pos: number, path: string): void {
  let done = 0;
  while (done < len) {
    const n = readSync(fd, dst, off + done, Math.min(len - done, 1 << 30), pos + done);
    if (n === 0) throw new OmnivecError('corrupt_file', `${path}: truncated: ended at byte ${pos + done}`);
    done += n;
  }
}

