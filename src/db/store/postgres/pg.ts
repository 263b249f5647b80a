/**
 * The `pg` seam: node-postgres is imported here and nowhere else, on the first `postgres://`
 * database opened, so code that never touches PostgreSQL does not load it (~15 ms and a dozen
 * modules). Pooling, the wire protocol and prepared statements are pg's.
 */
import type { Pool, PoolClient, PoolConfig } from 'pg';
import { OmnivecError } from '../../../errors.js';

export type { Pool, PoolClient };

let pgPromise: Promise<typeof import('pg').default> | undefined;

async function loadPg(): Promise<typeof import('pg').default> {
  pgPromise ??= import('pg').then((m) => m.default, (e: Error) => {
    pgPromise = undefined;
    throw new OmnivecError('invalid_argument', `postgres: the "pg" package could not be loaded (${e.message}); install it with "npm install pg"`);
  });
  return pgPromise;
}

/**
 * A connection pool. BIGINT and NUMERIC come back as JavaScript numbers on this pool's connections
 * only (slots, change numbers and counts stay below 2^53), not as pg's default strings; every other
 * type as pg parses it.
 */
export async function createPool(config: PoolConfig): Promise<Pool> {
  const pg = await loadPg();
  const types = {
    getTypeParser: (oid: number, format?: 'text' | 'binary') => (oid === 20 || oid === 1700 ? Number : pg.types.getTypeParser(oid, format)),
  };
  return new pg.Pool({ ...config, types: types as PoolConfig['types'] });
}
