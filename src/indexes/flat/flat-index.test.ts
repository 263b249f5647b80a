import { runConformance } from '../conformance.js';
import { FlatIndex } from './flat-index.js';

runConformance('flat', { create: (shape) => new FlatIndex(shape), exact: true });
