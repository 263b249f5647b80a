/**
 * Payload indexes in the PostgreSQL store (docs/db.md, "Payload indexes"; docs/postgres.md).
 *
 * Equality (`$eq`, `$in`, and so `$ne` / `$nin`) on any field is already answered by the GIN
 * index every records table has on `metadata jsonb_path_ops` (where-pg.ts `prefilter`). What a
 * declaration adds is ranges: for a `keyword`, `integer` or `float` field, a B-tree on the field's
 * scalar value (`fieldScalar`, NULL for a value of another type) and a partial index on the
 * records whose value is an array. A range on the field then compiles to
 * `(scalar op bound OR value is an array) AND <the exact CASE>`, which the planner answers with a
 * BitmapOr of the two indexes; the CASE still decides, so the answer never depends on the index
 * (a stale declaration only costs speed). `bool` needs nothing beyond the GIN index.
 * Declarations live in `omnivec.field_indexes`; the indexes are ordinary indexes on `c<cid>_r`,
 * kept in step by PostgreSQL in every write's transaction.
 */
import { createHash } from 'node:crypto';
import { OmnivecError } from '../../../errors.js';
import { MAX_FIELD_INDEXES, type FieldIndexInfo, type FieldIndexType } from '../../field-index.js';
import type { PoolClient, Pool } from './pg.js';
import { SCHEMA, pgTables, transaction } from './schema.js';

const CATALOGUE = `${SCHEMA}.field_indexes`;

/** A field name as an SQL string literal (index expressions must name the key literally to be matched). */
export function literal(field: string): string {
  return `'${field.replace(/'/g, "''")}'`;
}

/** The field's scalar value as the B-tree orders it: numeric for numbers, text (code point order) for strings, NULL otherwise. */
export function fieldScalar(column: string, field: string, type: FieldIndexType): string | undefined {
  const k = literal(field);
  if (type === 'integer' || type === 'float') return `(CASE WHEN jsonb_typeof(${column} -> ${k}) = 'number' THEN (${column} ->> ${k})::numeric END)`;
  if (type === 'keyword') return `((CASE WHEN jsonb_typeof(${column} -> ${k}) = 'string' THEN (${column} ->> ${k}) END) COLLATE "C")`;
  return undefined;
}

/** True when the field's value is an array (the partial index's predicate, written the same way in queries). */
export function fieldIsArray(column: string, field: string): string {
  return `(jsonb_typeof(${column} -> ${literal(field)}) = 'array')`;
}

function indexNames(cid: number, field: string): { scalar: string; array: string } {
  const h = createHash('sha1').update(field).digest('hex').slice(0, 16);
  return { scalar: `c${cid}_fs_${h}`, array: `c${cid}_fa_${h}` };
}

async function ensureCatalogue(client: PoolClient): Promise<void> {
  await client.query(`CREATE TABLE IF NOT EXISTS ${CATALOGUE}(cid bigint NOT NULL, field text NOT NULL, type text NOT NULL, created text NOT NULL, PRIMARY KEY(cid, field))`);
}

export async function listFieldIndexesPg(pool: Pool | PoolClient, cid: number): Promise<FieldIndexInfo[]> {
  const exists = (await pool.query(`SELECT to_regclass('${CATALOGUE}') IS NOT NULL AS ok`)).rows[0] as { ok: boolean };
  if (!exists.ok) return [];
  return (await pool.query(`SELECT field, type FROM ${CATALOGUE} WHERE cid = $1 ORDER BY field COLLATE "C"`, [cid])).rows as FieldIndexInfo[];
}

/** Declares and builds a field's indexes in one transaction (serialised per collection by a lock on its catalogue row). */
export async function createFieldIndexPg(pool: Pool, cid: number, field: string, type: FieldIndexType): Promise<boolean> {
  const client = await pool.connect();
  try {
    return await transaction(client, async () => {
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('omnivec field indexes'), $1::int)`, [cid]);
      await ensureCatalogue(client);
      const have = (await client.query(`SELECT type FROM ${CATALOGUE} WHERE cid = $1 AND field = $2`, [cid, field])).rows[0] as { type: string } | undefined;
      if (have?.type === type) return false;
      if (have !== undefined) {
        throw new OmnivecError('already_exists', `field ${JSON.stringify(field)}: already indexed as ${have.type}, asked for ${type}; drop its index first to change the type`, { field, type: have.type });
      }
      const n = Number((await client.query(`SELECT count(*) AS n FROM ${CATALOGUE} WHERE cid = $1`, [cid])).rows[0].n);
      if (n >= MAX_FIELD_INDEXES) throw new OmnivecError('capacity_exceeded', `field ${JSON.stringify(field)}: a collection may index at most ${MAX_FIELD_INDEXES} fields, and ${n} are declared`);
      await client.query(`INSERT INTO ${CATALOGUE}(cid, field, type, created) VALUES ($1, $2, $3, $4)`, [cid, field, type, new Date().toISOString()]);
      const scalar = fieldScalar('metadata', field, type);
      if (scalar !== undefined) {
        const t = pgTables(cid).records;
        const names = indexNames(cid, field);
        await client.query(`CREATE INDEX IF NOT EXISTS ${names.scalar} ON ${t} (${scalar})`);
        await client.query(`CREATE INDEX IF NOT EXISTS ${names.array} ON ${t} (slot) WHERE ${fieldIsArray('metadata', field)}`);
        await client.query(`ANALYZE ${t}`);
      }
      return true;
    });
  } finally {
    client.release();
  }
}

export async function dropFieldIndexPg(pool: Pool, cid: number, field: string): Promise<boolean> {
  const client = await pool.connect();
  try {
    return await transaction(client, async () => {
      if ((await listFieldIndexesPg(client, cid)).length === 0) return false;
      const gone = ((await client.query(`DELETE FROM ${CATALOGUE} WHERE cid = $1 AND field = $2`, [cid, field])).rowCount ?? 0) > 0;
      if (!gone) return false;
      const names = indexNames(cid, field);
      await client.query(`DROP INDEX IF EXISTS ${SCHEMA}.${names.scalar}`);
      await client.query(`DROP INDEX IF EXISTS ${SCHEMA}.${names.array}`);
      return true;
    });
  } finally {
    client.release();
  }
}

/** With a collection's drop (its indexes go with its table): the declarations. */
export async function dropFieldIndexCataloguePg(client: PoolClient, cid: number): Promise<void> {
  const exists = (await client.query(`SELECT to_regclass('${CATALOGUE}') IS NOT NULL AS ok`)).rows[0] as { ok: boolean };
  if (exists.ok) await client.query(`DELETE FROM ${CATALOGUE} WHERE cid = $1`, [cid]);
}

/** verify: every declared range field has both its indexes, valid. */
export async function checkFieldIndexesPg(pool: Pool, cid: number): Promise<string[]> {
  const problems: string[] = [];
  for (const fi of await listFieldIndexesPg(pool, cid)) {
    if (fieldScalar('metadata', fi.field, fi.type) === undefined) continue;
    const names = indexNames(cid, fi.field);
    for (const name of [names.scalar, names.array]) {
      const row = (await pool.query(`SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = to_regclass($1)`, [`${SCHEMA}.${name}`])).rows[0] as { valid: boolean } | undefined;
      if (row === undefined) problems.push(`payload index ${JSON.stringify(fi.field)}: ${SCHEMA}.${name} is missing`);
      else if (!row.valid) problems.push(`payload index ${JSON.stringify(fi.field)}: ${SCHEMA}.${name} is not valid`);
    }
  }
  return problems;
}
