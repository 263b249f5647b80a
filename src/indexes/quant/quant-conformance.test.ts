import { runQuantizationConformance } from './conformance.js';
import { FlatIndex, type FlatIndexOptions } from '../flat/flat-index.js';
import { HnswIndex, type HnswIndexOptions } from '../hnsw/hnsw-index.js';

runQuantizationConformance('flat', { create: (o) => new FlatIndex(o as FlatIndexOptions), recallFloor: { int8: 0.98, binary: 0.9 } });
runQuantizationConformance('hnsw', { create: (o) => new HnswIndex(o as HnswIndexOptions), recallFloor: { int8: 0.95, binary: 0.9 } });
