/**
 * The PostgreSQL record store (docs/postgres.md): a `postgres://` location, a connection pool, the
 * schema `omnivec` with its catalogue, one records table per collection searched by pgvector. It
 * implements the contract of ../types.ts (`nearest` included: there is no index cache, PostgreSQL
 * is the index), and runs the same conformance suite as the embedded store.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { OmnivecError, describe } from '../../../errors.js';
import type { Metric } from '../../../vector/metric.js';
import type { CollectionIndexSpec } from '../../index-spec.js';
import type { CollectionMeta, CollectionOptions, EncoderSpec } from '../../types.js';
import type { CollectionRecords, NewCollection, RecordStore, RecordWriter } from '../types.js';
import { createPool, type Pool, type PoolClient } from './pg.js';
import { SCHEMA, VECTOR_MAX, checkSchema, createCollectionTables, initSchema, pgTables, transaction, vectorIndexSql } from './schema.js';
import { dropFieldIndexCataloguePg } from './field-index-pg.js';
import { PostgresRecords, type FullTextProvider } from './postgres-records.js';
import { fullTextProvider } from './fulltext-provider.js';
import { fullTextDropSql } from './fulltext.js';

export interface PostgresStoreOptions {
  /** Refuse writes (the connections are set read-only, so the server refuses them too). */
  readOnly?: boolean;
  /** Largest number of pooled connections (default 4). */
  maxConnections?: number;
  /** On Citus: how collections created without `shardBy` are sharded (default `collection`). */
  shardBy?: 'collection' | 'id';
}

export { isPostgresUrl } from './url.js';

/** The location without its password, for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === '') return u.toString();
    u.password = 'PASSWORD';
    return u.toString().replace(':PASSWORD@', ':…@');
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//…@');
  }
}

interface CatalogueRow {
  cid: string | number;
  name: string;
  dim: number;
  metric: Metric;
  index_spec: CollectionIndexSpec;
  encoder: EncoderSpec | null;
  options: CollectionOptions;
  seq: string | number;
  tomb_floor: string | number;
  created: string;
}

function toMeta(r: CatalogueRow): CollectionMeta {
  return {
    cid: Number(r.cid), name: r.name, dim: r.dim, metric: r.metric, indexSpec: r.index_spec, encoder: r.encoder,
    options: r.options, seq: Number(r.seq), tombFloor: Number(r.tomb_floor), created: r.created,
  };
}

/** How a connection failure reads: what the server said, and what to check. */
/**
 * The Citus version if the database has the extension, checked to be the coordinator (collections
 * are created there; a worker would take them as local tables). Undefined on plain PostgreSQL.
 */
async function citusVersion(client: PoolClient, where: string): Promise<string | undefined> {
  const row = (await client.query(`SELECT extversion FROM pg_extension WHERE extname = 'citus'`)).rows[0] as { extversion: string } | undefined;
  if (row === undefined) return undefined;
  const coordinator = (await client.query(`SELECT coalesce((SELECT groupid = 0 FROM pg_dist_local_group), true) AS ok`)).rows[0] as { ok: boolean };
  if (!coordinator.ok) {
    throw new OmnivecError('invalid_argument', `database ${where}: this is a Citus worker node; connect omnivec to the coordinator`);
  }
  return row.extversion;
}

function connectError(where: string, e: unknown): OmnivecError {
  const err = e as { code?: string; message?: string };
  const code = err.code ?? '';
  if (e instanceof OmnivecError) return e;
  if (code === '3D000') return new OmnivecError('not_found', `database ${where}: no such database on the server (${err.message}); create it with CREATE DATABASE`);
  if (code === '28P01' || code === '28000') return new OmnivecError('unauthorized', `database ${where}: the server refused the login (${err.message})`);
  return new OmnivecError('unavailable', `database ${where}: cannot connect (${err.message ?? String(e)})`);
}

export class PostgresStore implements RecordStore {
  readonly location: string;
  readonly readOnly: boolean;
  /** PostgreSQL is the index: no snapshots. */
  readonly indexDir = undefined;
  /** A local folder for what the embedded store keeps in its directory (stored models, map cache). */
  readonly filesDir: string;
  /** The Citus version when the database is a Citus coordinator (collections are distributed tables). */
  readonly citus: string | undefined;
  readonly #shardBy: 'collection' | 'id';
  readonly #pool: Pool;
  readonly #fts: FullTextProvider;
  #closed = false;

  private constructor(url: string, pool: Pool, readOnly: boolean, citus: string | undefined, shardBy: 'collection' | 'id') {
    this.#shardBy = shardBy;
    this.location = redact(url);
    this.readOnly = readOnly;
    this.citus = citus;
    this.#pool = pool;
    this.#fts = fullTextProvider(citus !== undefined);
    const u = new URL(url);
    this.filesDir = process.env.OMNIVEC_FILES ?? join(homedir(), '.cache', 'omnivec', 'postgres', `${u.hostname || 'localhost'}-${u.port || '5432'}-${u.pathname.replace(/^\//, '') || 'postgres'}`);
  }

  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const readOnly = options.readOnly === true;
    const where = redact(url);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new OmnivecError('invalid_argument', `openDatabase: expected a URL such as postgres://user@host:5432/dbname, got ${JSON.stringify(where)}`);
    }
    if (parsed.pathname === '' || parsed.pathname === '/') {
      throw new OmnivecError('invalid_argument', `openDatabase: expected a database name in the URL (postgres://user@host:5432/dbname), got ${JSON.stringify(where)}`);
    }
    const pool = await createPool({
      connectionString: url,
      max: options.maxConnections ?? 4,
      ...(readOnly ? { options: '-c default_transaction_read_only=on' } : {}),
    }, where);
    pool.on('error', () => undefined); // an idle connection dropped by the server: the next checkout reconnects
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw connectError(where, e);
    }
    let citus: string | undefined;
    try {
      citus = await citusVersion(client, where);
      if (readOnly) await checkSchema(client, where);
      else await initSchema(client, where, fullTextProvider(citus !== undefined).setupSql);
    } catch (e) {
      client.release();
      await pool.end().catch(() => undefined);
      throw e;
    }
    client.release();
    return new PostgresStore(url, pool, readOnly, citus, options.shardBy ?? 'collection');
  }

  async listCollections(): Promise<CollectionMeta[]> {
    return ((await this.#pool.query(`SELECT * FROM ${SCHEMA}.collections ORDER BY name COLLATE "C"`)).rows as CatalogueRow[]).map(toMeta);
  }

  async findCollection(name: string): Promise<CollectionMeta | undefined> {
    const row = (await this.#pool.query(`SELECT * FROM ${SCHEMA}.collections WHERE name = $1`, [name])).rows[0] as CatalogueRow | undefined;
    return row === undefined ? undefined : toMeta(row);
  }

  async head(cid: number): Promise<Pick<CollectionMeta, 'seq' | 'tombFloor' | 'options'> | undefined> {
    const row = (await this.#pool.query(`SELECT seq, tomb_floor, options FROM ${SCHEMA}.collections WHERE cid = $1`, [cid])).rows[0] as CatalogueRow | undefined;
    return row === undefined ? undefined : { seq: Number(row.seq), tombFloor: Number(row.tomb_floor), options: row.options };
  }

  async createCollection<T>(c: NewCollection, fill?: (records: CollectionRecords, w: RecordWriter) => Promise<T>): Promise<{ meta: CollectionMeta; filled: T | undefined }> {
    if (c.dim > VECTOR_MAX) throw new OmnivecError('invalid_argument', `dim: PostgreSQL's vector type holds at most ${VECTOR_MAX} dimensions, got ${c.dim}`);
    const q = c.indexSpec.quantization;
    if (q !== undefined && q !== 'none') {
      throw new OmnivecError('invalid_argument',
        `index.quantization: "${String(q)}" is an option of omnivec's embedded indexes; on PostgreSQL pgvector indexes the float vectors (as halfvec above 2,000 dimensions): expected "none" or no quantization`);
    }
    const client = await this.#pool.connect();
    try {
      let afterCommit: (() => Promise<void>) | undefined;
      const created = await transaction(client, async () => {
        let cid: number;
        try {
          await client.query('SAVEPOINT omnivec_create');
          cid = Number((await client.query(`INSERT INTO ${SCHEMA}.collections(name, dim, metric, index_spec, encoder, options, created) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING cid`,
            [c.name, c.dim, c.metric, JSON.stringify(c.indexSpec), c.encoder === null ? null : JSON.stringify(c.encoder), JSON.stringify(c.options), c.created])).rows[0].cid);
        } catch (e) {
          if ((e as { code?: string }).code === '23505') throw new OmnivecError('already_exists', `collection "${c.name}" already exists in ${this.location}`, { name: c.name });
          throw e;
        }
        await createCollectionTables(client, cid, c.dim, this.#fts.ddl, this.citus === undefined ? 'plain' : c.options.shardBy ?? this.#shardBy);
        const kind = c.indexSpec.kind === 'flat' || c.indexSpec.kind === 'ivf' ? undefined : 'hnsw';
        if (kind !== undefined) {
          const sql = vectorIndexSql(cid, c.dim, c.metric, c.indexSpec, c.options.indexDims, kind);
          if (sql !== undefined) await client.query(sql);
        }
        let meta = toMeta((await client.query(`SELECT * FROM ${SCHEMA}.collections WHERE cid = $1`, [cid])).rows[0] as CatalogueRow);
        let filled: T | undefined;
        if (fill !== undefined) {
          const records = new PostgresRecords(this.#pool, meta, this.#fts, this.citus !== undefined);
          const writer = await records.writer(client);
          filled = await fill(records, writer);
          await writer.commitHead();
          afterCommit = writer.afterCommit;
          meta = toMeta((await client.query(`SELECT * FROM ${SCHEMA}.collections WHERE cid = $1`, [cid])).rows[0] as CatalogueRow);
        }
        return { meta, filled };
      });
      await afterCommit?.();
      return created;
    } finally {
      client.release();
    }
  }

  async dropCollection(cid: number): Promise<void> {
    const client = await this.#pool.connect();
    try {
      await transaction(client, async () => {
        const t = pgTables(cid);
        await client.query(`DELETE FROM ${SCHEMA}.collections WHERE cid = $1`, [cid]);
        await dropFieldIndexCataloguePg(client, cid);
        await client.query(`DROP TABLE IF EXISTS ${t.records}, ${t.tombs}`);
        for (const sql of fullTextDropSql(t.records)) await client.query(sql);
      });
    } finally {
      client.release();
    }
  }

  records(meta: CollectionMeta): CollectionRecords {
    return new PostgresRecords(this.#pool, meta, this.#fts, this.citus !== undefined);
  }

  async check(): Promise<string[]> {
    await this.#pool.query('SELECT 1');
    return [];
  }

  /** VACUUM ANALYZE and REINDEX of every collection's tables (compact). */
  async reclaim(): Promise<void> {
    for (const c of await this.listCollections()) {
      const t = pgTables(c.cid);
      await this.#pool.query(`REINDEX TABLE ${t.records}`);
      await this.#pool.query(`VACUUM ANALYZE ${t.records}`);
      await this.#pool.query(`VACUUM ANALYZE ${t.tombs}`);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  toString(): string {
    return `PostgresStore(${describe(this.location)})`;
  }
}
