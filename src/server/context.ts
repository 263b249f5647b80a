/**
 * What every route file of the server shares (docs/server.md): the database, the encoder service
 * and the projection service. The two services are contracts here so the route files depend on
 * nothing but this file; `app.ts` wires the real implementations.
 */
import type { TaskService } from './task-service.js';
import type { Database } from '../db/database.js';
import type { Collection, EncoderSpec } from '../db/collection.js';
import type { ProjectionService } from '../viz/types.js';

export type ServedKind = 'text' | 'image' | 'clip' | 'remote' | 'sif';

export interface ServedEncoderInfo {
  /** The name clients use: `/v1/embeddings`'s `model`, a collection's `encoder`. */
  name: string;
  /** Where the name came from (docs/server.md, "Served encoders"). */
  source: 'flag' | 'database' | 'collection';
  /** Known once opened. */
  kind?: ServedKind;
  dim?: number;
  /** Unix seconds: when the server learned of it. */
  created: number;
}

export interface EmbedResult {
  vectors: Float32Array[];
  /** Tokens the encoder ran (special tokens included); 0 for image inputs. */
  tokens: number;
}

export interface EncoderService {
  /** The encoders served now (flags, stored models, collections' encoders that can be opened). */
  list(): Promise<ServedEncoderInfo[]>;
  /** not_found when no encoder has this name. */
  info(name: string): Promise<ServedEncoderInfo & { kind: ServedKind; dim: number; spec: EncoderSpec }>;
  /** Texts through a served encoder; `mode` picks the query or passage prefix. */
  embedTexts(name: string, texts: readonly string[], options?: { dimensions?: number; mode?: 'query' | 'passage' }): Promise<EmbedResult>;
  /** Image file bytes through a served image or CLIP encoder. */
  embedImages(name: string, images: readonly Uint8Array[], options?: { dimensions?: number }): Promise<EmbedResult>;
  /**
   * The served encoder that made a collection's vectors (by its bound spec), or undefined when the
   * collection has none or it cannot be opened (`reason` then says why, for error messages).
   */
  forCollection(c: Collection): Promise<{ name: string; kind: ServedKind } | { name: undefined; reason: string }>;
  close(): Promise<void>;
}

// The projection service's contract belongs to the maps (src/viz/types.ts); re-exported for the route files.
export type { ProjectionRequest, ProjectionResult, ProjectionService, ProjectionState } from '../viz/types.js';

export interface ServerContext {
  db: Database;
  /** Long tasks in worker threads (task-service.ts). */
  tasks: TaskService;
  dbDir: string;
  encoders: EncoderService;
  projections: ProjectionService;
  version: string;
  startedAt: number;
}
