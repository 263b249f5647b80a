/**
 * The PostgreSQL store's schema (docs/postgres.md, "Schema"): everything in the schema `omnivec`,
 * its version in `omnivec.meta` (a newer one is refused, as the embedded store refuses a newer
 * `user_version`), one records table and one tombstone table per collection.
 */
import { OmnivecError } from '../../../errors.js';
import type { Metric } from '../../../vector/metric.js';
import type { CollectionIndexSpec } from '../../index-spec.js';
import type { PoolClient } from './pg.js';
import { FULLTEXT_VERSION, fullTextReindexSql } from './fulltext.js';

export const PG_SCHEMA_VERSION = 1;
export const SCHEMA = 'omnivec';

/** pgvector indexes at most this many dimensions of `vector`, and `halfvec` up to HALFVEC_INDEX_MAX. */
export const VECTOR_INDEX_MAX = 2000;
export const HALFVEC_INDEX_MAX = 4000;
/** pgvector stores `vector` up to this many dimensions. */
export const VECTOR_MAX = 16000;

/** Table names of collection `cid` (schema-qualified). */
export function pgTables(cid: number): { records: string; tombs: string; cid: number } {
  return { records: `${SCHEMA}.c${cid}_r`, tombs: `${SCHEMA}.c${cid}_t`, cid };
}

/** Runs `fn` in a transaction on one client. */
export async function transaction<T>(client: PoolClient, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const out = await fn();
    await client.query('COMMIT');
    return out;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

/**
 * Creates the extension, the schema and the catalogue in an empty database, or checks the version
 * of those already there. Serialised across processes by an advisory lock (two first opens at once).
 */
export async function initSchema(client: PoolClient, where: string, extraSql: readonly string[]): Promise<void> {
  await transaction(client, async () => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('omnivec schema'))`);
    for (const ext of ['vector', 'unaccent']) {
      try {
        await client.query(`CREATE EXTENSION IF NOT EXISTS ${ext}`);
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === '42501') {
          throw new OmnivecError('read_only',
            `database ${where}: this role may not create the extension "${ext}"; run as a superuser in that database: CREATE EXTENSION ${ext}; then retry`);
        }
        if (code === '0A000' || code === '58P01') {
          throw new OmnivecError('not_found', `database ${where}: the extension "${ext}" is not installed on the server (${(e as Error).message}); install ${ext === 'vector' ? 'pgvector' : 'PostgreSQL\'s contrib modules'} there`);
        }
        throw e;
      }
    }
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${SCHEMA}.meta(key text PRIMARY KEY, value text NOT NULL)`);
    const row = (await client.query(`SELECT value FROM ${SCHEMA}.meta WHERE key = 'schema_version'`)).rows[0] as { value: string } | undefined;
    const version = row === undefined ? 0 : Number(row.value);
    if (version > PG_SCHEMA_VERSION) {
      throw new OmnivecError('unsupported_version',
        `database ${where}: the omnivec schema is version ${version}, written by a newer omnivec; this one reads up to version ${PG_SCHEMA_VERSION} — upgrade omnivec`,
        { version, supported: PG_SCHEMA_VERSION });
    }
    if (version === 0) {
      await client.query(`CREATE TABLE ${SCHEMA}.collections(
        cid bigserial PRIMARY KEY,
        name text NOT NULL UNIQUE,
        dim integer NOT NULL,
        metric text NOT NULL,
        index_spec jsonb NOT NULL,
        encoder jsonb,
        options jsonb NOT NULL,
        seq bigint NOT NULL DEFAULT 0,
        tomb_floor bigint NOT NULL DEFAULT 0,
        created text NOT NULL)`);
      await client.query(`INSERT INTO ${SCHEMA}.meta(key, value) VALUES ('format', 'omnivec'), ('schema_version', $1), ('created', $2)`, [String(PG_SCHEMA_VERSION), new Date().toISOString()]);
    }
    for (const sql of extraSql) await client.query(sql);
    // The documents' tokens are the full-text code's: a table indexed by an older version is redone.
    const ft = (await client.query(`SELECT value FROM ${SCHEMA}.meta WHERE key = 'fulltext_version'`)).rows[0] as { value: string } | undefined;
    const had = ft === undefined ? undefined : Number(ft.value);
    if (had !== undefined && had > FULLTEXT_VERSION) {
      throw new OmnivecError('unsupported_version', `database ${where}: its full-text index is version ${had}, written by a newer omnivec; this one reads up to ${FULLTEXT_VERSION} — upgrade omnivec`);
    }
    if (had !== FULLTEXT_VERSION) {
      if (had !== undefined) {
        for (const r of (await client.query(`SELECT cid FROM ${SCHEMA}.collections`)).rows as { cid: number }[]) {
          for (const sql of fullTextReindexSql(pgTables(Number(r.cid)).records)) await client.query(sql);
        }
      }
      await client.query(`INSERT INTO ${SCHEMA}.meta(key, value) VALUES ('fulltext_version', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [String(FULLTEXT_VERSION)]);
    }
  });
}

/** Checks, for a read-only open, that the database holds an omnivec schema of a version this one reads. */
export async function checkSchema(client: PoolClient, where: string): Promise<void> {
  const exists = (await client.query(`SELECT to_regclass('${SCHEMA}.meta') IS NOT NULL AS ok`)).rows[0] as { ok: boolean };
  if (!exists.ok) throw new OmnivecError('not_found', `database ${where}: no omnivec schema there; create one by opening it for writing (or omnivec create)`);
  const row = (await client.query(`SELECT value FROM ${SCHEMA}.meta WHERE key = 'schema_version'`)).rows[0] as { value: string } | undefined;
  const version = row === undefined ? 0 : Number(row.value);
  if (version > PG_SCHEMA_VERSION) {
    throw new OmnivecError('unsupported_version', `database ${where}: the omnivec schema is version ${version}, written by a newer omnivec; this one reads up to version ${PG_SCHEMA_VERSION} — upgrade omnivec`);
  }
}

/** pgvector's operator class and distance operator of a metric, for `vector` or `halfvec`. */
export function opsOf(metric: Metric, type: 'vector' | 'halfvec'): { opclass: string; op: string } {
  switch (metric) {
    case 'l2': return { opclass: `${type}_l2_ops`, op: '<->' };
    case 'ip': return { opclass: `${type}_ip_ops`, op: '<#>' };
    case 'cosine': return { opclass: `${type}_cosine_ops`, op: '<=>' };
  }
}

/**
 * What the vector index is built on and how a query orders by it: the full vector (≤ 2 000 dims),
 * its halfvec cast (≤ 4 000), or the Matryoshka prefix (`indexDims`); `undefined` when no index
 * can hold it (exact scans only).
 */
export interface IndexedExpression {
  /** SQL of the indexed expression over column `vector` (no table prefix). */
  expr: string;
  /** The query parameter's cast (`$1::vector(8)`), same type as `expr`. */
  cast: string;
  type: 'vector' | 'halfvec';
  /** Query vectors are cut to this many leading components for the index. */
  dims: number;
  /** The index's order differs from the exact one (halfvec precision, or a prefix): candidates are re-ranked. */
  approximate: boolean;
}

export function indexedExpression(dim: number, indexDims: number | undefined): IndexedExpression | undefined {
  const d = indexDims ?? dim;
  const prefix = d < dim;
  const base = prefix ? `subvector(vector, 1, ${d})` : 'vector';
  if (d <= VECTOR_INDEX_MAX) return { expr: prefix ? `(${base}::vector(${d}))` : 'vector', cast: `vector(${d})`, type: 'vector', dims: d, approximate: prefix };
  if (d <= HALFVEC_INDEX_MAX) return { expr: `(${base}::halfvec(${d}))`, cast: `halfvec(${d})`, type: 'halfvec', dims: d, approximate: true };
  return undefined;
}

/** The CREATE INDEX statement of a collection's vector index, or undefined (flat, or no index can hold it). */
export function vectorIndexSql(cid: number, dim: number, metric: Metric, spec: CollectionIndexSpec, indexDims: number | undefined, kind: 'hnsw' | 'ivf'): string | undefined {
  const ie = indexedExpression(dim, indexDims);
  if (ie === undefined) return undefined;
  const { opclass } = opsOf(metric, ie.type);
  const t = pgTables(cid);
  if (kind === 'hnsw') {
    const m = typeof spec.m === 'number' ? spec.m : 16;
    const ef = typeof spec.efConstruction === 'number' ? spec.efConstruction : 200;
    return `CREATE INDEX IF NOT EXISTS c${cid}_vec ON ${t.records} USING hnsw (${ie.expr} ${opclass}) WITH (m = ${m}, ef_construction = ${ef})`;
  }
  const lists = typeof spec.nList === 'number' ? spec.nList : 100;
  return `CREATE INDEX IF NOT EXISTS c${cid}_vec ON ${t.records} USING ivfflat (${ie.expr} ${opclass}) WITH (lists = ${lists})`;
}

/**
 * Where a collection's tables live: one server (`plain`), or a Citus cluster with the collection's
 * tables as one single-shard group on one node (`collection`) or its records hash-distributed by
 * id over every node (`id`). Citus requires a unique key to hold the distribution column: sharded
 * by id, `id` is the primary key and `slot` (still a sequence, so unique) has a plain index.
 */
export type TableLayout = 'plain' | 'collection' | 'id';

/** Creates a collection's tables (in the caller's transaction). */
export async function createCollectionTables(client: PoolClient, cid: number, dim: number, ftsDdl: (table: string, cid: number) => readonly string[], layout: TableLayout = 'plain'): Promise<void> {
  const t = pgTables(cid);
  const keys = layout === 'id' ? 'slot bigserial NOT NULL,\n    id text PRIMARY KEY' : 'slot bigserial PRIMARY KEY,\n    id text NOT NULL UNIQUE';
  await client.query(`CREATE TABLE ${t.records}(
    ${keys},
    vector vector(${dim}) NOT NULL,
    document text,
    metadata jsonb,
    sparse jsonb,
    multivector bytea,
    vseq bigint NOT NULL)`);
  await client.query(`CREATE TABLE ${t.tombs}(slot bigint NOT NULL, seq bigint NOT NULL)`);
  // Tombstones have no key: logical replication (Citus's default shard move) needs a replica identity.
  if (layout !== 'plain') await client.query(`ALTER TABLE ${t.tombs} REPLICA IDENTITY FULL`);
  if (layout === 'collection') {
    await client.query(`SELECT create_distributed_table($1, NULL, colocate_with => 'none')`, [t.records]);
    await client.query(`SELECT create_distributed_table($1, NULL, colocate_with => $2)`, [t.tombs, t.records]);
  } else if (layout === 'id') {
    await client.query(`SELECT create_distributed_table($1, 'id')`, [t.records]);
    await client.query(`SELECT create_distributed_table($1, 'slot', colocate_with => 'none')`, [t.tombs]);
    await client.query(`CREATE INDEX c${cid}_slot ON ${t.records}(slot)`);
  }
  await client.query(`CREATE INDEX c${cid}_vseq ON ${t.records}(vseq)`);
  await client.query(`CREATE INDEX c${cid}_meta ON ${t.records} USING gin (metadata jsonb_path_ops)`);
  await client.query(`CREATE INDEX c${cid}_tseq ON ${t.tombs}(seq)`);
  for (const sql of ftsDdl(t.records, cid)) await client.query(sql);
}
