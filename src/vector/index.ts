/**
 * `omnivec/vector`: the vector primitives every layer shares — batches, metrics, normalising,
 * Matryoshka truncation, top-k heaps, the seeded random generator — and the error type.
 * Pure TypeScript: no dependency, no native code.
 */
export { OmnivecError, type ErrorCode } from '../errors.js';
export { type Metric, METRICS, parseMetric, userScore } from './metric.js';
export { type VectorBatch, vectorBatch, batchFromRows, row } from './batch.js';
export { normalizeInPlace, normalizeBatch, truncate } from './normalize.js';
export { Random } from './random.js';
export { TopK, MinHeap } from './heap.js';
