import { createRequire } from 'node:module';

/**
 * The projection libraries' seam: umap-js and ml-pca are loaded here and nowhere else, on the
 * first map of their method. Each costs ~15–30 ms to import (median of 9 fresh `node -e` imports
 * on the 2-core dev machine, busy: umap-js 24 ms, ml-pca 17 ms, with ml-matrix under it): paid
 * only by programs that draw a map. (t-SNE was druidjs's exact one; it is now src/viz/tsne/.)
 *
 * `project` and `projectSteps` are synchronous (a generator the projection worker steps through),
 * so these are `require`d, not `import()`ed: each package ships a CommonJS build, and require is
 * synchronous and cached.
 */
const require = createRequire(import.meta.url);

type UmapJs = typeof import('umap-js');
type MlPca = typeof import('ml-pca');

let umapJs: UmapJs | undefined;
let mlPca: MlPca | undefined;

export function loadUmap(): UmapJs['UMAP'] {
  umapJs ??= require('umap-js') as UmapJs;
  return umapJs.UMAP;
}

export function loadPca(): MlPca['PCA'] {
  mlPca ??= require('ml-pca') as MlPca;
  return mlPca.PCA;
}
