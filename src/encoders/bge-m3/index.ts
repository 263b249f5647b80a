/**
 * BGE-M3: dense, sparse lexical weights and ColBERT vectors from one forward pass, and the
 * scores between them (docs/bge-m3.md).
 */
export {
  createBgeM3, BgeM3,
  type BgeM3Options, type BgeM3EncodeOptions, type BgeM3Output, type BgeM3Spec, type BgeM3Record, type HeadSources,
} from './bge-m3.js';
export {
  denseHead, tokenWeights, lexicalWeights, colbertHead, lexicalTokens,
  headOutput, denseFromOutput, tokenWeightsFromOutput, colbertFromOutput, HEAD_OUTPUT_NAMES,
  type TokenBatch, type LexicalWeights, type MultiVector, type OutputTensor,
} from './heads.js';
export {
  denseScore, lexicalMatchingScore, colbertScore, computeScores, DEFAULT_WEIGHTS,
  type M3Representation, type M3Scores,
} from './scores.js';
export { readSafetensors, readNpy, readLinearSafetensors, findLinear, linearFrom, type Tensor, type Linear } from './weights.js';
