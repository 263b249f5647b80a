import { runConformance } from '../conformance.js';
import { HnswIndex } from './hnsw-index.js';

runConformance('hnsw', { create: (shape) => new HnswIndex(shape), exact: false, recallFloor: 0.95 });
