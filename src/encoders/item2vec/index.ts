/**
 * Item2Vec: item vectors from user sequences, recommendations, and the next-item evaluation
 * protocol with its MovieLens readers. Design: docs/item2vec.md.
 */
export { ITEM2VEC_DEFAULTS, item2vecTrainerOptions, trainItem2Vec, type Item2VecOptions, type ItemSequences } from './train.js';
export { recommend, type Recommendation, type RecommendOptions, type RecommendQuery } from './recommend.js';
export {
  QUERY_DEFAULTS, evaluateNextItem, leaveLastOut, popularityRecommender, vectorRecommender,
  type HistoryQueryOptions, type NextItemScore, type NextItemSplit, type Recommender, type Sequences,
} from './protocol.js';
export { runNextItemProtocol, type ProtocolOptions, type ProtocolResult } from './experiment.js';
export { GUIDE_HISTORY, readMovieLensSequences, readMovieTitles, splitCsvLine } from './movielens.js';
