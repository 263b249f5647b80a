/** Projections of collections computed in a worker, cached per collection (docs/server.md). Placeholder until it lands. */
import { OmnivecError } from '../errors.js';
import type { Database } from '../db/database.js';
import type { ProjectionService } from '../server/context.js';

export interface ProjectionServiceOptions {
  db: Database;
  dbDir: string;
  /** Default DIR/projections. */
  cacheDir?: string;
}

export function createProjectionService(options: ProjectionServiceOptions): ProjectionService {
  void options;
  const no = (): never => { throw new OmnivecError('internal', 'projections are not available yet'); };
  return { get: () => Promise.resolve(no()), compute: () => Promise.resolve(no()), close: () => Promise.resolve() };
}
