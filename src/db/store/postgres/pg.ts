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

/** Node's socket errors that mean the server cannot be reached (or went away). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EAI_AGAIN', 'EPIPE']);

/**
 * An error of the server or of the connection as omnivec's: the connection lost or refused, the
 * server shutting down or out of connections → `unavailable`; a write in a read-only transaction
 * → `read_only`. Any other error is returned as it is (callers test SQLSTATEs such as 23505).
 */
export function mapPgError(e: unknown, where: string): unknown {
  if (e instanceof OmnivecError || e === null || typeof e !== 'object') return e;
  const err = e as { code?: string; message?: string };
  const code = err.code ?? '';
  const message = err.message ?? String(e);
  if (UNREACHABLE.has(code) || code.startsWith('08') || /^Connection terminated|^Client has encountered a connection error|timeout exceeded when trying to connect/i.test(message)) {
    return new OmnivecError('unavailable', `database ${where}: the PostgreSQL server cannot be reached or closed the connection (${code || message}); is it running, and are the host and port right?`);
  }
  if (code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') {
    return new OmnivecError('unavailable', `database ${where}: the PostgreSQL server is not accepting work now (${code}: ${message}); retry when it is up`);
  }
  if (code === '25006') return new OmnivecError('read_only', `database ${where}: opened read-only (${message})`);
  return e;
}

/**
 * A connection pool. BIGINT and NUMERIC come back as JavaScript numbers on this pool's connections
 * only (slots, change numbers and counts stay below 2^53), not as pg's default strings; every other
 * type as pg parses it. Errors of `pool.query`, `pool.connect` and a checked-out client's promise
 * `query` go through mapPgError (`where` names the database in the message).
 */
export async function createPool(config: PoolConfig, where: string): Promise<Pool> {
  const pg = await loadPg();
  const types = {
    getTypeParser: (oid: number, format?: 'text' | 'binary') => (oid === 20 || oid === 1700 ? Number : pg.types.getTypeParser(oid, format)),
  };
  const pool = new pg.Pool({ ...config, types: types as PoolConfig['types'] });
  const mapped = <T>(p: Promise<T>): Promise<T> => p.catch((e: unknown) => { throw mapPgError(e, where); });
  const poolQuery = pool.query.bind(pool) as (...a: unknown[]) => unknown;
  pool.query = ((...a: unknown[]) => {
    if (typeof a[a.length - 1] === 'function') return poolQuery(...a);
    return mapped(poolQuery(...a) as Promise<unknown>);
  }) as Pool['query'];
  const poolConnect = pool.connect.bind(pool) as (...a: unknown[]) => unknown;
  pool.connect = ((...a: unknown[]) => {
    if (typeof a[a.length - 1] === 'function') return poolConnect(...a);
    return mapped(poolConnect() as Promise<PoolClient>);
  }) as Pool['connect'];
  // Each new connection's promise queries (transactions, the writer) too; pg's own callback calls untouched.
  pool.on('connect', (client) => {
    const clientQuery = client.query.bind(client) as (...a: unknown[]) => unknown;
    client.query = ((...a: unknown[]) => {
      const r = clientQuery(...a);
      return r instanceof Promise ? mapped(r) : r;
    }) as PoolClient['query'];
  });
  return pool;
}
