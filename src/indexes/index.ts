/**
 * `omnivec/indexes`: the in-memory ANN indexes (docs/indexes/) — the `VectorIndex` contract, flat,
 * IVF-Flat and HNSW, k-means, and the registry that builds an index from a spec and reads any
 * index file back. No dependency beyond omnivec's own WebAssembly kernels: the light entry
 * (bench:startup's target is 50 ms).
 */
export { OmnivecError, type ErrorCode } from '../errors.js';
export type { Metric } from '../vector/metric.js';
export type { VectorBatch } from '../vector/batch.js';
export type {
  VectorIndex, IndexKind, SearchOptions, SearchResult, BatchSearchResult, IndexStats, ExternalVectors,
  PayloadOptions,
} from './types.js';
export { NO_ID, MAX_ID } from './types.js';
export { FlatIndex, type FlatIndexOptions } from './flat/flat-index.js';
export { IvfIndex, type IvfIndexOptions } from './ivf/ivf-index.js';
export { kmeans, type KMeansOptions } from './ivf/kmeans.js';
export {
  createIndex, serializeIndex, deserializeIndex, saveIndex, loadIndex, verifyIndexFile, type IndexSpec, type SaveOptions,
  type LoadOptions,
} from './registry.js';
export { HnswIndex, type HnswIndexOptions } from './hnsw/hnsw-index.js';
export { IdSet } from './common.js';
export { SegmentedIndex, DEFAULT_SEGMENT_BYTES, type SegmentOptions } from './segmented.js';
