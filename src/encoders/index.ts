/**
 * `omnivec/encoders`: everything that turns data into vectors — trained embeddings (word2vec,
 * item2vec, SIF, feature vectors; docs/word2vec.md) and pretrained ones (ONNX text and image
 * encoders, CLIP, BGE-M3, OpenAI-compatible remote encoders; docs/encoders.md).
 * onnxruntime-node and sharp load on first use (src/encoders/onnx/session.ts,
 * src/encoders/image/sharp.ts), not with this entry.
 */
export { OmnivecError, type ErrorCode } from '../errors.js';
// Trained embeddings (docs/word2vec.md).
export { createTokenizer, DEFAULT_TOKENIZER_SPEC, type Tokenizer, type TokenizerSpec } from './text/tokenizer.js';
export { KeyedVectors } from './word2vec/keyed-vectors.js';
export {
  trainWord2Vec, resolveWord2VecOptions, type Corpus, type Word2VecOptions, type ResolvedWord2VecOptions, type Word2VecModel,
  type Word2VecProgress, type Word2VecStats, type EpochStats,
} from './word2vec/trainer.js';
export {
  loadWordVectors, saveWordVectors, readVocabCounts, writeVocabCounts, type WordVectorFormat, type LoadWordVectorsOptions,
  type SaveWordVectorsOptions,
} from './word2vec/files.js';
export {
  mostSimilar, mostSimilarCosmul, analogy, nearest, similarity, doesntMatch, type Neighbour, type QueryTerm,
  type MostSimilarOptions, type CosmulOptions, type AnalogyOptions,
} from './word2vec/query.js';
export {
  evaluateAnalogies, evaluateWordPairs, spearman, pearson, type AnalogyEvalOptions, type AnalogyEvalResult, type AnalogySection,
  type WordPairsOptions, type WordPairsResult,
} from './word2vec/eval.js';
export {
  fitSif, averageEncoder, sifWeights, SifModel, SifEncoder, saveSif, loadSif, evaluateSts, readSts,
  type SifFitOptions, type SifFitStats, type SifSpec, type StsResult,
} from './sif/index.js';
export * from './features/index.js';
export * from './item2vec/index.js';

// Pretrained encoders (docs/encoders.md).
export { OnnxSession, type SessionOptions, type TensorData } from './onnx/session.js';
export { openModelFolder, locateModel, type ModelFolder } from './onnx/model-folder.js';
export { resolveHubModel, isHubId, hubModelFolder, type ResolveHubOptions } from './onnx/hub.js';
export {
  createTextEncoder, OnnxTextEncoder, TextTokenizer, pool,
  type TextEncoderOptions, type OnnxTextEncoderSpec, type Pooling, type TextMode, type DetailedEncoding, type TokenStatesBatch,
} from './onnx/text-encoder.js';
export { chunkText, type Chunk, type ChunkOptions } from './onnx/chunk.js';
export { checkDimensions, truncateVector, normalizeVector, type MatryoshkaDecl } from './matryoshka.js';
// The encoder contract and the registry (docs/encoders.md).
// EncoderSpec: omnivec/db's, the same shape (the root entry exports both; one name for it there).
export type { Encoder, AnyEncoder, Encoding, EncodeOptions, EncoderInput, Modality, ImageInput } from './types.js';
export {
  openEncoder, openModel, openResolved, resolveReference, resolveSpec, checkReference, specOptions, specEncoders, detectKind, findStoredModel, hubCached,
  type EncoderContext, type SpecEncoders, type ModelOptions, type OpenedModel, type ModelKind, type ModelLocation, type ResolvedModel,
} from './registry.js';
export { batchRows } from './common.js';
export * from './image/index.js';
export * from './clip/index.js';
export * from './bge-m3/index.js';
export * from './remote/index.js';
