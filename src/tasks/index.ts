/**
 * `omnivec/tasks`: what vectors are put to work for (docs/tasks.md) — classify (k-NN, centroid,
 * zero-shot), recommend, diversity, clustering, outliers, near-duplicates. sharp (for the
 * histogram PNG) loads on first use (src/encoders/image/sharp.ts), not with this entry.
 */
export { OmnivecError, type ErrorCode } from '../errors.js';
export {
  classifyKnn, classifyCentroid, evaluateClassifier, zeroShot, labelCentroids, CLIP_TEMPLATE,
  type Prediction, type KnnOptions, type CentroidOptions, type EvaluateOptions as ClassifierEvaluateOptions,
  type ClassifierReport, type LabelAccuracy, type ZeroShotOptions, type CentroidModel,
} from './classify.js';
export { recommendFromCollection, RECOMMEND_DEFAULTS, type RecommendFromCollectionOptions, type ItemScore } from './recommend.js';
export {
  diversity, pairStatistics, histogramSvg, histogramPng, EXACT_PAIRS_LIMIT, SAMPLED_PAIRS,
  type DiversityOptions, type DiversityResult, type Histogram as SimilarityHistogram, type Coverage, type HistogramPictureOptions,
} from './diversity.js';
export { selectRecords, MAX_RECORDS, EXACT_LIMIT, type SelectOptions, type Selection, type TaskProgress } from './common.js';
export { clusterCollection, clusterJson, SILHOUETTE_SAMPLE, type ClusterOptions, type ClusterResult, type ClusterTry } from './cluster.js';
export { fitKMeans, silhouetteScore, type FitKMeansOptions, type KMeansFit, type KMeansMethod } from './kmeans.js';
export { nmi, purity } from './metrics.js';
export { outliers, outlierScores, type OutliersOptions, type Outlier, type OutlierMethod } from './outliers.js';
export { dedupe, type DedupeOptions, type DedupeResult, type DuplicatePair } from './dedupe.js';
