import { OmnivecError, describe } from '../errors.js';
import type { Metric } from '../vector/metric.js';
import { openSync, fstatSync, readSync, closeSync } from 'node:fs';
import { BinaryWriter, BinaryReader, type ByteSource } from '../storage/binary.js';
import { decodeFile, decodeHeader, encodeHeader, HEADER_BYTES, type FileKind } from '../storage/header.js';
import { readFileBytes, writeFileAtomic } from '../storage/atomic.js';
import { FlatIndex } from './flat/flat-index.js';
import { IvfIndex, type IvfIndexOptions } from './ivf/ivf-index.js';
import { HnswIndex } from './hnsw/hnsw-index.js';
import type { VectorIndex } from './types.js';

/**
 * Builds indexes from plain specs and reads any index back from its file header: the one place
 * that knows every index kind.
 */
export type IndexSpec =
  | { kind: 'flat'; dim: number; metric?: Metric }
  | ({ kind: 'ivf'; dim: number; metric?: Metric } & Record<string, unknown>)
  | ({ kind: 'hnsw'; dim: number; metric?: Metric } & Record<string, unknown>);

type Reader = (r: BinaryReader, dim: number, metric: Metric, count: number) => VectorIndex;
type Factory = (spec: IndexSpec) => VectorIndex;

const kinds: Record<FileKind, { create: Factory; read: Reader } | undefined> = {
  flat: { create: (s) => new FlatIndex(s), read: (r, d, m, c) => FlatIndex.readPayload(r, d, m, c) },
  ivf: { create: (s) => new IvfIndex(s as IvfIndexOptions), read: (r, d, m, c) => IvfIndex.readPayload(r, d, m, c) },
  hnsw: { create: (s) => new HnswIndex(s as never), read: (r, d, m, c) => HnswIndex.readPayload(r, d, m, c) },
};

export function createIndex(spec: IndexSpec): VectorIndex {
  const entry = spec !== null && typeof spec === 'object' ? kinds[spec.kind as FileKind] : undefined;
  if (entry === undefined) {
    throw new OmnivecError('invalid_argument',
      `index kind: expected one of ${Object.keys(kinds).filter((k) => kinds[k as FileKind]).map((k) => `"${k}"`).join(', ')}, got ${describe(spec?.kind)}`);
  }
  return entry.create(spec);
}

/** The index as file bytes: the 64-byte header, then the payload (chunks, to avoid one big copy). */
export function serializeIndex(index: VectorIndex, options: { copy?: boolean } = {}): Uint8Array[] {
  const payload = new BinaryWriter(options);
  index.writePayload(payload);
  const header = encodeHeader({ kind: index.kind, dim: index.dim, metric: index.metric, count: index.size }, payload);
  return [header, ...payload.chunks()];
}

/** Reads an index from file bytes, checking magic, version, checksums and structure. */
export function deserializeIndex(bytes: Uint8Array, what = 'index file'): VectorIndex {
  const { header, payload } = decodeFile(bytes, what);
  const entry = kinds[header.kind];
  if (entry === undefined) throw new OmnivecError('unsupported_version', `${what}: index kind "${header.kind}" is not available in this build`);
  return entry.read(payload, header.dim, header.metric, header.count);
}

/**
 * Writes the index to `path` atomically (temporary file, fsync, rename). `copy: false` writes the
 * index's memory without copying it first: only when nothing changes the index until this returns.
 */
export async function saveIndex(index: VectorIndex, path: string, options: { copy?: boolean } = {}): Promise<void> {
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
export async function loadIndex(path: string, options: { streamAbove?: number } = {}): Promise<VectorIndex> {
  const streamAbove = options.streamAbove ?? STREAM_ABOVE;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new OmnivecError('not_found', `${path}: no such index file`);
    throw e;
  }
  try {
    const size = fstatSync(fd).size;
    if (size <= streamAbove) return deserializeIndex(await readFileBytes(path), path);
    const head = new Uint8Array(HEADER_BYTES);
    readFully(fd, head, 0, HEADER_BYTES, 0, path);
    const header = decodeHeader(head, size - HEADER_BYTES, path);
    const entry = kinds[header.kind];
    if (entry === undefined) throw new OmnivecError('unsupported_version', `${path}: index kind "${header.kind}" is not available in this build`);
    const source: ByteSource = {
      length: header.payloadLength,
      readAt: (dst, off, len, pos) => readFully(fd, dst, off, len, HEADER_BYTES + pos, path),
    };
    return entry.read(new BinaryReader(source, path, HEADER_BYTES, header.payloadCrc), header.dim, header.metric, header.count);
  } finally {
    closeSync(fd);
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

