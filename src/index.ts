// omnivec's public API.
export { OmnivecError, type ErrorCode } from './errors.js';
export { type Metric, METRICS, parseMetric, userScore } from './vector/metric.js';
export { type VectorBatch, vectorBatch, batchFromRows, row } from './vector/batch.js';
export { normalizeInPlace, normalizeBatch, truncate } from './vector/normalize.js';
export { Random } from './vector/random.js';
export { TopK, MinHeap } from './vector/heap.js';
export type {
  VectorIndex, IndexKind, SearchOptions, SearchResult, BatchSearchResult, IndexStats,
} from './indexes/types.js';
export { NO_ID, MAX_ID } from './indexes/types.js';
export { FlatIndex, type FlatIndexOptions } from './indexes/flat/flat-index.js';
export { IvfIndex, type IvfIndexOptions } from './indexes/ivf/ivf-index.js';
export { kmeans, type KMeansOptions } from './indexes/ivf/kmeans.js';
export {
  createIndex, serializeIndex, deserializeIndex, saveIndex, loadIndex, type IndexSpec,
} from './indexes/registry.js';
export { HnswIndex, type HnswIndexOptions } from './indexes/hnsw/hnsw-index.js';
export { IdSet } from './indexes/common.js';
export { openDatabase, Database, type OpenOptions, type CreateCollectionOptions } from './db/database.js';
export {
  Collection, type CollectionInfo, type QueryOptions, type QueryResult, type BatchQueryResult, type GetOptions, type GetResult,
  type WriteOptions, type VerifyReport, type EvaluateReport, type EncoderSpec, type IndexStatus,
} from './db/collection.js';
export type { RecordInput, ColumnarInput, RecordsInput } from './db/records.js';
export type { Where, WhereDocument, Metadata } from './db/where.js';
export * from './io/index.js';
