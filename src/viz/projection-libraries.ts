import { createRequire } from 'node:module';

/**
 * The projection libraries' seam: umap-js, @saehrimnir/druidjs (t-SNE) and ml-pca are loaded here
 * and nowhere else, on the first map of their method. Each costs ~15–30 ms to import (median of 9
 * fresh `node -e` imports on the 2-core dev machine, busy: umap-js 24 ms, druidjs 28 ms, ml-pca
 * 17 ms, with ml-matrix under it), ~60–70 ms together: a third of `import 'omnivec'`'s budget,
 * paid by every program that never draws a map.
 *
 * `project` and `projectSteps` are synchronous (a generator the projection worker steps through),
 * so these are `require`d, not `import()`ed: each package ships a CommonJS build (druidjs's
 * `require` condition is the same bundle as its ES one), and require is synchronous and cached.
 */
const require = createRequire(import.meta.url);

type UmapJs = typeof import('umap-js');
type Druid = typeof import('@saehrimnir/druidjs');
type MlPca = typeof import('ml-pca');

let umapJs: UmapJs | undefined;
let druid: Druid | undefined;
let mlPca: MlPca | undefined;

export function loadUmap(): UmapJs['UMAP'] {
  umapJs ??= require('umap-js') as UmapJs;
  return umapJs.UMAP;
}

export function loadTsne(): Druid['TSNE'] {
  druid ??= require('@saehrimnir/druidjs') as Druid;
  return druid.TSNE;
}

export function loadPca(): MlPca['PCA'] {
  mlPca ??= require('ml-pca') as MlPca;
  return mlPca.PCA;
}
