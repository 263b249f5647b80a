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
// Trained embeddings (docs/word2vec.md).
export { createTokenizer, DEFAULT_TOKENIZER_SPEC, type Tokenizer, type TokenizerSpec } from './encoders/text/tokenizer.js';
export { KeyedVectors } from './encoders/word2vec/keyed-vectors.js';
export {
  trainWord2Vec, resolveWord2VecOptions, type Corpus, type Word2VecOptions, type ResolvedWord2VecOptions, type Word2VecModel,
  type Word2VecProgress, type Word2VecStats, type EpochStats,
} from './encoders/word2vec/trainer.js';
export {
  loadWordVectors, saveWordVectors, readVocabCounts, writeVocabCounts, type WordVectorFormat, type LoadWordVectorsOptions,
  type SaveWordVectorsOptions,
} from './encoders/word2vec/files.js';
export {
  mostSimilar, mostSimilarCosmul, analogy, nearest, similarity, doesntMatch, type Neighbour, type QueryTerm,
  type MostSimilarOptions, type CosmulOptions, type AnalogyOptions,
} from './encoders/word2vec/query.js';
export {
  evaluateAnalogies, evaluateWordPairs, spearman, pearson, type AnalogyEvalOptions, type AnalogyEvalResult, type AnalogySection,
  type WordPairsOptions, type WordPairsResult,
} from './encoders/word2vec/eval.js';
export {
  fitSif, averageEncoder, sifWeights, SifModel, SifEncoder, saveSif, loadSif, evaluateSts, readSts,
  type SifFitOptions, type SifFitStats, type TextEncoder, type TextEncoderSpec, type StsResult,
} from './encoders/sif/index.js';
export * from './encoders/features/index.js';
export * from './encoders/item2vec/index.js';

// Pretrained encoders (docs/encoders.md).
export { OnnxSession, type SessionOptions, type TensorData } from './encoders/onnx/session.js';
export { openModelFolder, locateModel, type ModelFolder } from './encoders/onnx/model-folder.js';
export { resolveHubModel, isHubId, hubModelFolder, type ResolveHubOptions } from './encoders/onnx/hub.js';
export {
  createTextEncoder, OnnxTextEncoder, TextTokenizer, pool,
  type TextEncoderOptions, type TextEncoderSpec as OnnxTextEncoderSpec, type Pooling, type TextMode, type DetailedEncoding, type TokenStatesBatch,
} from './encoders/onnx/text-encoder.js';
export { chunkText, type Chunk, type ChunkOptions } from './encoders/onnx/chunk.js';
export { checkDimensions, truncateVector, normalizeVector, type MatryoshkaDecl } from './encoders/matryoshka.js';
export { openEncoder, detectKind, type AnyEncoder, type EncoderKind, type OpenEncoderOptions } from './encoders/open.js';
export * from './encoders/image/index.js';
export * from './encoders/clip/index.js';
export * from './encoders/bge-m3/index.js';
export * from './encoders/remote/index.js';

// Maps of collections (docs/projections.md).
export { project, PROJECTION_METHODS, type ProjectionMethod, type ProjectOptions } from './viz/projection.js';
export { scatterSvg, scatterPng, type ScatterOptions } from './viz/scatter.js';
export { mapHtml, type MapHtmlOptions } from './viz/map-html.js';
export { writeProjectorMap, type ProjectorMapOptions } from './viz/projector-export.js';
export { createProjectionService, type ProjectionServiceOptions } from './viz/projection-service.js';

// The server (docs/server.md).
export { createServer, type ServerOptions, type OmnivecServer } from './server/app.js';
export { createEncoderService, type EncoderServiceOptions } from './server/encoders.js';
export type { EncoderService, ProjectionService, ProjectionRequest, ProjectionResult, ProjectionState, ServerContext } from './server/context.js';

// Tasks: classify, recommend, diversity (docs/tasks.md).
export {
  classifyKnn, classifyCentroid, evaluateClassifier, zeroShot, labelCentroids, CLIP_TEMPLATE,
  type Prediction, type KnnOptions, type CentroidOptions, type EvaluateOptions as ClassifierEvaluateOptions,
  type ClassifierReport, type LabelAccuracy, type ZeroShotOptions, type CentroidModel,
} from './tasks/classify.js';
export { recommendFromCollection, RECOMMEND_DEFAULTS, type RecommendFromCollectionOptions, type ItemScore } from './tasks/recommend.js';
export {
  diversity, pairStatistics, histogramSvg, histogramPng, EXACT_PAIRS_LIMIT, SAMPLED_PAIRS,
  type DiversityOptions, type DiversityResult, type Histogram as SimilarityHistogram, type Coverage, type HistogramPictureOptions,
} from './tasks/diversity.js';
export { selectRecords, MAX_RECORDS, EXACT_LIMIT, type SelectOptions, type Selection, type TaskProgress } from './tasks/common.js';
export { clusterCollection, clusterJson, SILHOUETTE_SAMPLE, type ClusterOptions, type ClusterResult, type ClusterTry } from './tasks/cluster.js';
export { fitKMeans, silhouetteScore, type FitKMeansOptions, type KMeansFit, type KMeansMethod } from './tasks/kmeans.js';
export { nmi, purity } from './tasks/metrics.js';
export { outliers, outlierScores, type OutliersOptions, type Outlier, type OutlierMethod } from './tasks/outliers.js';
export { dedupe, type DedupeOptions, type DedupeResult, type DuplicatePair } from './tasks/dedupe.js';
