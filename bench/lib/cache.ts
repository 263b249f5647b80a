/**
 * Hands a prepared dataset and its ground truth from the parent process to the block workers:
 * raw little-endian arrays in a temporary directory plus a small JSON description.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchDataset } from './datasets.js';
import type { GroundTruth } from './measure.js';

interface Meta {
  name: string;
  description: string;
  dim: number;
  n: number;
  nq: number;
  gtSource: string;
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** The file's bytes in a fresh ArrayBuffer (offset 0, aligned for any typed array). */
function readOwned(path: string): ArrayBuffer {
  const b = readFileSync(path);
  const out = new ArrayBuffer(b.byteLength);
  new Uint8Array(out).set(b);
  return out;
}

export function writeCache(dir: string, ds: BenchDataset, gt: GroundTruth): void {
  const meta: Meta = { name: ds.name, description: ds.description, dim: ds.dim, n: ds.base.count, nq: ds.queries.count, gtSource: gt.source };
  writeFileSync(join(dir, 'base.f32'), bytesOf(ds.base.data));
  writeFileSync(join(dir, 'queries.f32'), bytesOf(ds.queries.data));
  writeFileSync(join(dir, 'gt-ids.u32'), bytesOf(gt.ids));
  writeFileSync(join(dir, 'gt-kth.f64'), bytesOf(gt.kth));
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta));
}

export function readCache(dir: string): { ds: BenchDataset; gt: GroundTruth } {
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta;
  const base = new Float32Array(readOwned(join(dir, 'base.f32')));
  const queries = new Float32Array(readOwned(join(dir, 'queries.f32')));
  if (base.length !== meta.n * meta.dim || queries.length !== meta.nq * meta.dim) throw new Error(`dataset cache ${dir}: sizes do not match meta.json`);
  const ds: BenchDataset = {
    name: meta.name,
    description: meta.description,
    dim: meta.dim,
    metric: 'l2',
    base: { data: base, dim: meta.dim, count: meta.n },
    queries: { data: queries, dim: meta.dim, count: meta.nq },
  };
  const gt: GroundTruth = {
    ids: new Uint32Array(readOwned(join(dir, 'gt-ids.u32'))),
    kth: new Float64Array(readOwned(join(dir, 'gt-kth.f64'))),
    source: meta.gtSource,
  };
  return { ds, gt };
}

// ---------------------------------------------------------------------------------------------
// The persistent bench cache: datasets that take a while to make (trained word vectors, the
// 1024-d synthetic embeddings) kept as .fvecs under .omnivec-tmp/bench-cache/ (git-ignored), so
// that they are made once per checkout. Delete the directory to make them again.

/** The persistent cache directory (created on demand). */
export function benchCacheDir(): string {
  const dir = fileURLToPath(new URL('../../.omnivec-tmp/bench-cache/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Writes rows as a TEXMEX .fvecs file (per row: int32 dimension, then the float32 values), atomically. */
export function writeFvecs(path: string, data: Float32Array, dim: number): void {
  const count = data.length / dim;
  const buf = Buffer.alloc(count * (4 + dim * 4));
  for (let i = 0; i < count; i++) {
    const o = i * (4 + dim * 4);
    buf.writeInt32LE(dim, o);
    Buffer.from(data.buffer, data.byteOffset + i * dim * 4, dim * 4).copy(buf, o + 4);
  }
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, buf);
  renameSync(tmp, path);
}
