/**
 * omnivec's public API: every subpath entry at once. Each part is also its own entry, so a program
 * loads only what it uses (package.json `exports`; bench:startup measures each):
 *
 *   omnivec/vector    batches, metrics, heaps, Random, OmnivecError
 *   omnivec/indexes   flat, IVF, HNSW, k-means, the index registry
 *   omnivec/db        openDatabase, collections, records, filters
 *   omnivec/io        vector file readers and writers
 *   omnivec/encoders  trained and pretrained encoders
 *   omnivec/viz       projections and maps
 *   omnivec/tasks     classify, recommend, diversity, cluster, outliers, dedupe
 *   omnivec/server    the HTTP server
 *
 * The heavy dependencies load on first use, each behind one seam: onnxruntime-node
 * (encoders/onnx/session.ts), sharp (encoders/image/sharp.ts), fastify (server/fastify.ts),
 * umap-js / ml-pca (viz/projection-libraries.ts).
 */
export * from './vector/index.js';
export * from './indexes/index.js';
export * from './db/index.js';
export * from './io/index.js';
export * from './encoders/index.js';
export * from './viz/index.js';
export * from './server/index.js';
export * from './tasks/index.js';
// Both encoders/clip and tasks/classify name a ZeroShotOptions; the root has always meant the task's
// (zeroShot over a collection). The CLIP one is `omnivec/encoders`'s.
export type { ZeroShotOptions } from './tasks/index.js';
