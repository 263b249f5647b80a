/**
 * SIF sentence embeddings and the STS Benchmark (docs/sif.md).
 */
export {
  fitSif, averageEncoder, sifWeights, resolveTokenizer, SifModel, SifEncoder, DEFAULT_A,
  type SifFitOptions, type SifFitStats, type SifJson, type CountsSource, type SifSpec,
} from './sif.js';
export { saveSif, loadSif, readSifJson, readTextLines, SIF_JSON, type SaveSifOptions, type SifFiles, type SifFolderJson } from './files.js';
export {
  readSts, readStsSentences, stsFile, evaluateSts, cosine, STS_SPLITS,
  type StsPairs, type StsResult, type StsSplit, type Encodes, type EncodeFn,
} from './sts.js';
export { pearson, spearman, averageRanks } from './correlation.js';
export { symmetricEigen, topEigenvectors, GramAccumulator, type SymmetricEigen, type PrincipalComponents } from './linalg.js';
