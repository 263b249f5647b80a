import { OmnivecError, describe } from '../errors.js';
import type { Metric } from '../vector/metric.js';
import { BinaryWriter, type BinaryReader } from '../storage/binary.js';
import { decodeFile, encodeHeader, type FileKind } from '../storage/header.js';
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

export async function loadIndex(path: string): Promise<VectorIndex> {
  return deserializeIndex(await readFileBytes(path), path);
}

