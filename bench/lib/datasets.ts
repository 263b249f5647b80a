/**
 * Datasets of the ANN benchmark: MNIST (real, 784-d), seeded synthetic Gaussian clusters, and any
 * TEXMEX .fvecs/.ivecs set given on the command line. Every dataset is L2 (squared Euclidean).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Random } from '../../src/vector/random.js';
import type { VectorBatch } from '../../src/vector/batch.js';

export interface BenchDataset {
  name: string;
  /** One line saying where the vectors come from. */
  description: string;
  dim: number;
  metric: 'l2';
  base: VectorBatch;
  queries: VectorBatch;
  /** Ground-truth neighbour ids from a file (row q holds `gtK` ids), when one was given. */
  fileGroundTruth?: { ids: Int32Array; k: number };
}

export class DatasetError extends Error {}

// ---------------------------------------------------------------------------------------------
// MNIST

const MNIST_FILE = 't10k-images-idx3-ubyte.gz';
const MNIST_DIR = 'vectors-mnist-test';

/**
 * Finds the MNIST test images under `dataDir`: either `dataDir/vectors-mnist-test/<file>` (the
 * shared data directory) or `dataDir/<file>` (the dataset's own directory).
 */
export function mnistPath(dataDir: string): string {
  const candidates = [join(dataDir, MNIST_DIR, MNIST_FILE), join(dataDir, MNIST_FILE)];
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) {
    throw new DatasetError(
      `mnist: ${MNIST_FILE} not found; looked for\n  ${candidates.join('\n  ')}\n` +
      'pass --data DIR (the shared data directory, or the directory holding the file), ' +
      'or leave MNIST out with --only synthetic-100k');
  }
  return found;
}

/**
 * The MNIST test set (gzip IDX: big-endian magic 0x00000803, count, rows, cols, then uint8 pixels):
 * the first `count - nq` images are the base, the last `nq` the queries, as float32 with the raw
 * 0–255 pixel values (what ann-benchmarks' MNIST-784-euclidean uses).
 */
export function loadMnist(dataDir: string, nq = 1000): BenchDataset {
  const path = mnistPath(dataDir);
  const bytes = gunzipSync(readFileSync(path));
  if (bytes.length < 16) throw new DatasetError(`mnist: ${path}: truncated header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== 0x803) throw new DatasetError(`mnist: ${path}: expected IDX magic 0x00000803, got 0x${magic.toString(16)}`);
  const count = view.getUint32(4, false);
  const dim = view.getUint32(8, false) * view.getUint32(12, false);
  if (bytes.length !== 16 + count * dim) {
    throw new DatasetError(`mnist: ${path}: expected ${16 + count * dim} bytes after decompression, got ${bytes.length}`);
  }
  if (count <= nq) throw new DatasetError(`mnist: ${path}: only ${count} images`);
  const all = new Float32Array(count * dim);
  for (let i = 0; i < all.length; i++) all[i] = bytes[16 + i]!;
  const nb = count - nq;
  return {
    name: 'mnist',
    description: `MNIST test images (${path.replace(/^.*\/shared\//, 'shared/')}): first ${nb} as base, last ${nq} as queries, ${dim}-d raw pixels 0–255`,
    dim,
    metric: 'l2',
    base: { data: all.slice(0, nb * dim), dim, count: nb },
    queries: { data: all.slice(nb * dim), dim, count: nq },
  };
}

// ---------------------------------------------------------------------------------------------
// Synthetic clusters

export const SYNTHETIC = { dim: 128, clusters: 100, seed: 20240601, minSpread: 0.3, maxSpread: 0.6, queries: 1000 } as const;

/**
 * Seeded Gaussian mixture: `clusters` centres with components drawn from N(0, 1); cluster c has
 * its own spread σ_c drawn uniformly from [minSpread, maxSpread]; each point (base and query
 * alike) picks its cluster uniformly at random and is centre + σ_c · N(0, I). The cluster of each
 * point is drawn independently, so consecutive ids come from unrelated clusters (the insertion
 * order has no locality). Queries are drawn after the base from the same stream: same mixture,
 * never identical to a base point. Deterministic for a given (n, seed).
 */
export function syntheticClusters(name: string, n: number, nq: number = SYNTHETIC.queries, dim: number = SYNTHETIC.dim,
  clusters: number = SYNTHETIC.clusters, seed: number = SYNTHETIC.seed): BenchDataset {
  const rng = new Random(seed);
  const centres = new Float32Array(clusters * dim);
  for (let i = 0; i < centres.length; i++) centres[i] = rng.gaussian();
  const spread = new Float64Array(clusters);
  for (let c = 0; c < clusters; c++) spread[c] = SYNTHETIC.minSpread + (SYNTHETIC.maxSpread - SYNTHETIC.minSpread) * rng.next();
  const make = (count: number): VectorBatch => {
    const data = new Float32Array(count * dim);
    for (let i = 0; i < count; i++) {
      const c = rng.int(clusters);
      const s = spread[c]!;
      const o = i * dim;
      const co = c * dim;
      for (let j = 0; j < dim; j++) data[o + j] = centres[co + j]! + s * rng.gaussian();
    }
    return { data, dim, count };
  };
  const base = make(n);
  const queries = make(nq);
  return {
    name,
    description: `synthetic: ${n.toLocaleString('en-US')} × ${dim} from ${clusters} Gaussian clusters (σ ∈ [${SYNTHETIC.minSpread}, ${SYNTHETIC.maxSpread}], random assignment, seed ${seed}) + ${nq} queries from the same mixture`,
    dim,
    metric: 'l2',
    base,
    queries,
  };
}

// ---------------------------------------------------------------------------------------------
// TEXMEX .fvecs / .ivecs

/** Reads a TEXMEX file: per vector a little-endian int32 dimension, then that many 4-byte values. */
function readVecs(path: string, what: string): { dim: number; count: number; bytes: Buffer } {
  if (!existsSync(path)) throw new DatasetError(`${what}: file not found: ${path}`);
  const size = statSync(path).size;
  if (size < 4) throw new DatasetError(`${what}: ${path}: empty or truncated`);
  const bytes = readFileSync(path);
  const dim = bytes.readInt32LE(0);
  if (dim < 1 || dim > 65536) throw new DatasetError(`${what}: ${path}: first dimension field is ${dim}, expected 1–65536 (is this a little-endian .fvecs/.ivecs file?)`);
  const rowBytes = 4 + dim * 4;
  if (bytes.length % rowBytes !== 0) {
    throw new DatasetError(`${what}: ${path}: size ${bytes.length} is not a multiple of the row size ${rowBytes} (4 + ${dim} × 4)`);
  }
  const count = bytes.length / rowBytes;
  for (let i = 0; i < count; i++) {
    const d = bytes.readInt32LE(i * rowBytes);
    if (d !== dim) throw new DatasetError(`${what}: ${path}: row ${i} has dimension ${d}, row 0 has ${dim}`);
  }
  return { dim, count, bytes };
}

export function readFvecs(path: string, what: string): VectorBatch {
  const { dim, count, bytes } = readVecs(path, what);
  const data = new Float32Array(count * dim);
  const src = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Rows start at multiples of 4: on a little-endian host an aligned buffer is copied row by row.
  const fast = bytes.byteOffset % 4 === 0 && new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
  for (let i = 0; i < count; i++) {
    const o = i * (4 + dim * 4) + 4;
    if (fast) data.set(new Float32Array(bytes.buffer, bytes.byteOffset + o, dim), i * dim);
    else for (let j = 0; j < dim; j++) data[i * dim + j] = src.getFloat32(o + j * 4, true);
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) throw new DatasetError(`${what}: ${path}: row ${Math.floor(i / dim)} holds a non-finite value`);
  }
  return { data, dim, count };
}

export function readIvecs(path: string, what: string): { ids: Int32Array; k: number; count: number } {
  const { dim, count, bytes } = readVecs(path, what);
  const ids = new Int32Array(count * dim);
  for (let i = 0; i < count; i++) {
    const o = i * (4 + dim * 4) + 4;
    for (let j = 0; j < dim; j++) ids[i * dim + j] = bytes.readInt32LE(o + j * 4);
  }
  return { ids, k: dim, count };
}

export function loadVecsDataset(basePath: string, queryPath: string, gtPath: string | undefined): BenchDataset {
  const base = readFvecs(basePath, '--base');
  const queries = readFvecs(queryPath, '--queries');
  if (queries.dim !== base.dim) throw new DatasetError(`--queries: dimension ${queries.dim} differs from the base's ${base.dim}`);
  let fileGroundTruth: BenchDataset['fileGroundTruth'];
  if (gtPath !== undefined) {
    const gt = readIvecs(gtPath, '--gt');
    if (gt.count !== queries.count) throw new DatasetError(`--gt: ${gt.count} rows, expected one per query (${queries.count})`);
    if (gt.k < 10) throw new DatasetError(`--gt: rows hold ${gt.k} ids, expected at least 10`);
    for (let i = 0; i < gt.ids.length; i++) {
      if (gt.ids[i]! < 0 || gt.ids[i]! >= base.count) throw new DatasetError(`--gt: id ${gt.ids[i]} at row ${Math.floor(i / gt.k)} is not a base row (0–${base.count - 1})`);
    }
    fileGroundTruth = { ids: gt.ids, k: gt.k };
  }
  const name = basename(basePath).replace(/\.fvecs$/, '');
  return {
    name,
    description: `${basename(basePath)}: ${base.count.toLocaleString('en-US')} × ${base.dim}, ${queries.count} queries from ${basename(queryPath)}` +
      (gtPath !== undefined ? `, ground truth from ${basename(gtPath)}` : ''),
    dim: base.dim,
    metric: 'l2',
    base,
    queries,
    fileGroundTruth,
  };
}
