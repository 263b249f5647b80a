/**
 * `omnivec/viz`: 2-D maps of collections (docs/projections.md) — PCA, t-SNE and UMAP, SVG/PNG
 * scatter plots, the self-contained HTML map, the Embedding Projector export, the projection
 * service. umap-js, ml-pca (src/viz/projection-libraries.ts) and sharp
 * (src/encoders/image/sharp.ts) load on the first map or PNG, not with this entry.
 */
export { OmnivecError, type ErrorCode } from '../errors.js';
export { project, PROJECTION_METHODS, type ProjectionMethod, type ProjectOptions } from './projection.js';
export { scatterSvg, scatterPng, type ScatterOptions } from './scatter.js';
export { mapHtml, type MapHtmlOptions } from './map-html.js';
export { writeProjectorMap, type ProjectorMapOptions } from './projector-export.js';
export { createProjectionService, type ProjectionServiceOptions } from './projection-service.js';
