/**
 * The engines of the ANN benchmark behind one shape: build an index (timed, with its memory), then
 * hand out searchers for one sweep value (HNSW efSearch, IVF nProbe). Everything runs on one
 * thread: omnivec is single-threaded, hnswlib-node's searchKnn/addPoint are, and usearch is given
 * threads = 1 in every call.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import hnswlib from 'hnswlib-node';
import usearch from 'usearch';
import { createIndex, type IndexSpec } from '../../src/indexes/registry.js';
import type { VectorIndex } from '../../src/indexes/types.js';
import type { BenchDataset } from './datasets.js';
import { K, settle, settledRss, timed } from './measure.js';

export type EngineName = 'omnivec' | 'hnswlib-node' | 'usearch';
export const ENGINE_NAMES: readonly EngineName[] = ['omnivec', 'hnswlib-node', 'usearch'];

export interface Searcher {
  /** Timed: runs query q and returns a number taken from the result (so it cannot be skipped). */
  run(q: number): number;
  /** Untimed: runs query q and returns the ids found, nearest first. */
  ids(q: number): ArrayLike<number>;
}

export interface BuiltIndex {
  buildSeconds: number;
  buildCpuPerWall: number;
  /** The engine's memory for the index ÷ vectors (null when not applicable). */
  bytesPerVector: number | null;
  /** Where bytesPerVector comes from. */
  bytesSource: string;
  /** Resident-memory growth across the build (after forced GC) ÷ vectors: the same yardstick for every engine. */
  rssBytesPerVector: number;
  extra: Record<string, number | string>;
  /** A searcher at one sweep value (efSearch or nProbe; ignored by flat). */
  searcher(value: number): Promise<Searcher>;
  dispose(): void;
}

export type Progress = (message: string) => void;

/** Queries prepared before any timed loop: Float32Array rows (omnivec, usearch) and plain arrays (hnswlib-node). */
export interface PreparedQueries {
  f32: Float32Array[];
  arrays: number[][];
}

export function prepareQueries(ds: BenchDataset): PreparedQueries {
  const f32: Float32Array[] = [];
  const arrays: number[][] = [];
  for (let q = 0; q < ds.queries.count; q++) {
    const row = ds.queries.data.slice(q * ds.dim, (q + 1) * ds.dim);
    f32.push(row);
    arrays.push(Array.from(row));
  }
  return { f32, arrays };
}

function rowIds(n: number): Uint32Array {
  return Uint32Array.from({ length: n }, (_, i) => i);
}

// ---------------------------------------------------------------------------------------------
// omnivec

/**
 * Throws (an OmnivecError) when the index kind is not available in this build or refuses the
 * parameters; the caller reports the engine as skipped.
 */
export function checkOmnivecAvailable(spec: IndexSpec): void {
  createIndex(spec);
}

/**
 * Builds an omnivec index: createIndex, then train (IVF: k-means on the whole base, which omnivec
 * subsamples to 256 × nList rows itself; a no-op for the others), then one `add` of the whole base.
 * All three are inside the timed block. `add` reports progress, printed at most every 5 s.
 */
export async function buildOmnivec(ds: BenchDataset, spec: IndexSpec, qs: PreparedQueries, optionName: 'efSearch' | 'nProbe' | undefined,
  progress: Progress): Promise<BuiltIndex & { index: VectorIndex }> {
  const ids = rowIds(ds.base.count);
  let last = performance.now();
  const onProgress = (done: number, total: number): void => {
    if (done < total && performance.now() - last >= 5000) {
      last = performance.now();
      progress(`omnivec ${spec.kind}: ${done}/${total} added`);
    }
  };
  const rss0 = await settledRss();
  const t = timed(() => {
    const index = createIndex(spec);
    index.train(ds.base);
    index.add(ids, ds.base, { onProgress });
    return index;
  });
  let index: VectorIndex | undefined = t.value;
  const rss1 = await settledRss();
  const stats = index.stats();
  if (stats.size !== ds.base.count) throw new Error(`omnivec ${spec.kind}: size ${stats.size} after adding ${ds.base.count} vectors`);
  const extra: Record<string, number | string> = {};
  for (const [key, value] of Object.entries(stats)) {
    if (!['kind', 'dim', 'metric', 'size', 'memoryBytes', 'vectorBytes'].includes(key)) extra[`stats.${key}`] = value;
  }
  return {
    index,
    buildSeconds: t.seconds,
    buildCpuPerWall: t.cpuPerWall,
    bytesPerVector: stats.memoryBytes / stats.size,
    bytesSource: 'stats().memoryBytes / size',
    rssBytesPerVector: (rss1 - rss0) / ds.base.count,
    extra,
    async searcher(value: number): Promise<Searcher> {
      const idx = index!;
      const options = optionName === undefined ? undefined : { [optionName]: value };
      const f32 = qs.f32;
      return {
        run: (q) => idx.search(f32[q]!, K, options).ids[0] ?? 0,
        ids: (q) => idx.search(f32[q]!, K, options).ids,
      };
    },
    dispose() {
      index = undefined;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// hnswlib-node

/**
 * hnswlib's own allocations per element, from its source (hnswalg.h, HierarchicalNSW constructor
 * and addPoint), with maxElements = n:
 * - level-0 block: links (4-byte count + 2M × 4-byte ids) + the vector (dim × 4) + label (8);
 * - linkLists_ pointer (8), element_levels_ (4), link_list_locks_ std::mutex (40 on Linux/glibc),
 *   the search's visited list (2, one unsigned short per element);
 * - label_lookup_ unordered_map<size_t, unsigned>: 24-byte node in a 32-byte malloc chunk + ~8 of
 *   bucket array ≈ 40 (estimate);
 * - upper levels: an element reaching level L ≥ 1 mallocs L × (4 + M × 4) + 1 bytes; with
 *   P(L ≥ l) = M^−l, the expected bytes are (4 + 4M) / (M − 1) plus the malloc header (~16) of the
 *   1/M elements that have one;
 * - fixed: 65,536 label_op_locks_ mutexes (2.6 MB), spread over n.
 */
export function hnswlibBytesPerVector(n: number, dim: number, m: number): number {
  const level0 = 4 + 2 * m * 4 + dim * 4 + 8;
  const perElement = level0 + 8 + 4 + 40 + 2 + 40;
  const upper = (4 + 4 * m) / (m - 1) + 16 / m;
  const fixed = 65536 * 40;
  return perElement + upper + fixed / n;
}

export async function buildHnswlib(ds: BenchDataset, qs: PreparedQueries, m: number, efConstruction: number, seed: number,
  progress: Progress): Promise<BuiltIndex> {
  const { dim } = ds;
  const n = ds.base.count;
  const data = ds.base.data;
  const rss0 = await settledRss();
  const step = Math.max(1, Math.floor(n / 10));
  const t = timed(() => {
    const index = new hnswlib.HierarchicalNSW('l2', dim);
    index.initIndex(n, m, efConstruction, seed);
    // addPoint accepts only plain arrays (a Float32Array is refused): one array is reused for every vector.
    const row = new Array<number>(dim).fill(0);
    for (let i = 0; i < n; i++) {
      const o = i * dim;
      for (let j = 0; j < dim; j++) row[j] = data[o + j]!;
      index.addPoint(row, i);
      if ((i + 1) % step === 0 && i + 1 < n) progress(`hnswlib-node: ${i + 1}/${n} added`);
    }
    return index;
  });
  let index: InstanceType<typeof hnswlib.HierarchicalNSW> | undefined = t.value;
  const rss1 = await settledRss();
  if (index.getCurrentCount() !== n) throw new Error(`hnswlib-node: count ${index.getCurrentCount()} after adding ${n}`);
  return {
    buildSeconds: t.seconds,
    buildCpuPerWall: t.cpuPerWall,
    bytesPerVector: hnswlibBytesPerVector(n, dim, m),
    bytesSource: 'hnswlib layout formula (docs/benchmarks.md)',
    rssBytesPerVector: (rss1 - rss0) / n,
    extra: {},
    async searcher(ef: number): Promise<Searcher> {
      const idx = index!;
      idx.setEf(ef);
      const arrays = qs.arrays;
      return {
        run: (q) => idx.searchKnn(arrays[q]!, K).neighbors[0] ?? 0,
        ids: (q) => idx.searchKnn(arrays[q]!, K).neighbors,
      };
    },
    dispose() {
      index = undefined;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// usearch

type UsearchIndex = InstanceType<typeof usearch.Index>;

function usearchIndex(dim: number, m: number, efConstruction: number, efSearch: number): UsearchIndex {
  return new usearch.Index({
    dimensions: dim,
    metric: usearch.MetricKind.L2sq,
    quantization: usearch.ScalarKind.F32,
    connectivity: m,
    expansion_add: efConstruction,
    expansion_search: efSearch,
    multi: false,
  });
}

function bigIdsToNumbers(keys: BigUint64Array): number[] {
  const out = new Array<number>(keys.length);
  for (let i = 0; i < keys.length; i++) out[i] = Number(keys[i]!);
  return out;
}

/**
 * usearch HNSW: one `add` of the whole base with threads = 1. The JS binding (2.25.3) cannot change
 * expansion_search after construction (the C++ change_expansion_search is not bound) and exposes
 * no memory_usage; so the built index is saved once to a temporary file and, for each efSearch,
 * loaded into a fresh Index constructed with that expansion_search (usearch's load keeps the
 * constructor's expansion settings). Loading is not timed.
 */
export async function buildUsearch(ds: BenchDataset, qs: PreparedQueries, m: number, efConstruction: number): Promise<BuiltIndex> {
  const { dim } = ds;
  const n = ds.base.count;
  const keys = BigUint64Array.from({ length: n }, (_, i) => BigInt(i));
  const rss0 = await settledRss();
  const t = timed(() => {
    const index = usearchIndex(dim, m, efConstruction, 64);
    index.add(keys, ds.base.data, 1);
    return index;
  });
  let built: UsearchIndex | undefined = t.value;
  const rss1 = await settledRss();
  if (built.size() !== n) throw new Error(`usearch: size ${built.size()} after adding ${n}`);
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-bench-usearch-'));
  const file = join(dir, 'index.usearch');
  built.save(file);
  const fileBytes = statSync(file).size;
  built = undefined;
  let current: { ef: number; index: UsearchIndex } | undefined;
  return {
    buildSeconds: t.seconds,
    buildCpuPerWall: t.cpuPerWall,
    bytesPerVector: (rss1 - rss0) / n,
    bytesSource: 'resident-memory growth across the build (no memory API in the JS binding)',
    rssBytesPerVector: (rss1 - rss0) / n,
    extra: { fileBytesPerVector: fileBytes / n },
    async searcher(ef: number): Promise<Searcher> {
      if (current?.ef !== ef) {
        current = undefined;
        await settle(); // lets the previous copy's finaliser free it before the next load
        const index = usearchIndex(dim, m, efConstruction, ef);
        index.load(file);
        current = { ef, index };
      }
      const idx = current.index;
      const f32 = qs.f32;
      return {
        run: (q) => Number(idx.search(f32[q]!, K, 1).keys[0] ?? 0n),
        ids: (q) => bigIdsToNumbers(idx.search(f32[q]!, K, 1).keys),
      };
    },
    dispose() {
      current = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * usearch's exact (brute-force) search, threads = 1, one exactSearch call per chunk of queries
 * (each chunk its own Float32Array): returns K ids per query. exactSearch materialises the whole
 * distance matrix (16 bytes per base × query pair, plus a transposed copy) on every call, so the
 * number of queries per call matters; the benchmark tries a few and keeps the fastest.
 */
export function usearchExact(ds: BenchDataset, chunks: readonly Float32Array[]): BigUint64Array {
  const dim = ds.dim;
  // The same byteOffset bug as for the queries: the base must start its buffer.
  if (ds.base.data.byteOffset !== 0) throw new Error('usearchExact: the base vectors must start at offset 0 of their ArrayBuffer');
  const out = new BigUint64Array(ds.queries.count * K);
  let q0 = 0;
  for (const chunk of chunks) {
    const count = chunk.length / dim;
    const r = usearch.exactSearch(ds.base.data, chunk, dim, K, usearch.MetricKind.L2sq, 1);
    out.set(r.keys.subarray(0, count * K), q0 * K);
    q0 += count;
  }
  return out;
}

/** Queries per exactSearch call worth trying: 1, 16, 100 and all, keeping the matrix ≤ 1 GiB. */
export function usearchExactChunks(n: number, nq: number): number[] {
  const fits = (c: number): boolean => 2 * 8 * n * c <= 2 ** 30;
  return [...new Set([1, 16, 100, nq].map((c) => Math.min(c, nq)))].filter(fits);
}

export { bigIdsToNumbers };
