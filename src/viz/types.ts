/**
 * The projection service's contract (docs/projections.md): maps of a collection computed in a
 * worker, cached, with progress. The server's routes and the CLI use it; `projection-service.ts`
 * implements it.
 */

export interface ProjectionRequest {
  method: 'pca' | 'tsne' | 'umap';
  sample: number;
  seed: number;
}

export type ProjectionState =
  | { status: 'running'; phase: string; progress: number; stale?: ProjectionResult }
  | { status: 'done'; result: ProjectionResult }
  | { status: 'error'; code: string; message: string };

export interface ProjectionResult {
  method: 'pca' | 'tsne' | 'umap';
  sample: number;
  seed: number;
  /** The collection's change number the map was computed at. */
  seq: number;
  ids: string[];
  /** [x0, y0, x1, y1, …] */
  points: Float32Array | number[];
  /** Records the sample was drawn from (the collection's count then); absent from services that do not say. */
  total?: number;
}

export interface ProjectionService {
  /** The map if cached and current, else starts (or joins) its computation and reports progress. */
  get(collection: string, request: ProjectionRequest): Promise<ProjectionState>;
  /** Waits for a computation to finish (CLI and tests). */
  compute(collection: string, request: ProjectionRequest, onProgress?: (phase: string, progress: number) => void): Promise<ProjectionResult>;
  close(): Promise<void>;
}
