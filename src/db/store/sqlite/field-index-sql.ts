/**
 * Payload indexes in the embedded store (docs/db.md, "Payload indexes"; docs/file-format.md).
 *
 * - `field_indexes(cid, field, type, path, created)`: the declarations, created on the first one
 *   (a database written before payload indexes simply has no such table: nothing is declared).
 * - `c<cid>_fv(field, v, slot)`: one row per indexed (field, value, record), WITHOUT ROWID with
 *   the key (field, v, slot), so `field = ? AND v = ?` and ranges on v are one B-tree seek, and
 *   an index on slot for the deletes. An array value gives one row per distinct element of the
 *   indexed type; values of another type give none (the filter compiler sends conditions on them
 *   down the JSON path). Numbers are stored as REAL (the JSON compiler compares them as REAL too:
 *   a double above 2⁵³ round-trips exactly, see where-sql.ts storedScalar); booleans as 1 / 0.
 * - `c<cid>_fa(field, slot)`: the records whose indexed field holds an array. A range
 *   `{ $gte: a, $lt: b }` is two atoms ("some element ≥ a" and "some element < b"), which a
 *   record holding [1, 20] meets with different elements; for a scalar they are one seek on
 *   [a, b). The compiler reads that one seek, plus the array records meeting each bound apart.
 * - Three triggers on `c<cid>_r` keep them in step inside the writing transaction (so a crash
 *   loses or keeps both together). They join `field_indexes`, so one set of triggers serves every
 *   declared field; they exist only while a collection has a declared field.
 *
 * Why a side table and not expression indexes on `metadata ->> '$.f'`: array values (a record
 * tagged ["a", "b"] must be found by either) cannot be expression-indexed, and one table with a
 * composite key keeps declaring a field a back-fill, not a schema change per field.
 */
import { OmnivecError } from '../../../errors.js';
import type { FieldIndexInfo, FieldIndexType } from '../../field-index.js';
import { MAX_FIELD_INDEXES } from '../../field-index.js';
import type { Sqlite } from './schema.js';
import { jsonPath } from './where-sql.js';

/** The side table holding collection `cid`'s indexed values. */
export function fieldValuesTable(cid: number): string {
  return `c${cid}_fv`;
}

/** The side table of the records whose indexed field holds an array (field, slot). */
export function fieldArraysTable(cid: number): string {
  return `c${cid}_fa`;
}

const CATALOGUE = 'field_indexes';

/** The element rows (`e` from json_each, `fi` from the catalogue) an index of fi.type keeps, and their stored value. */
const KEEP = `((fi.type = 'keyword' AND e.type = 'text') OR (fi.type IN ('integer', 'float') AND e.type IN ('integer', 'real')) OR (fi.type = 'bool' AND e.type IN ('true', 'false')))`;
const VALUE = `CASE fi.type WHEN 'keyword' THEN e.value WHEN 'bool' THEN (e.type = 'true') ELSE CAST(e.value AS REAL) END`;

function ensureCatalogue(w: Sqlite): void {
  w.exec(`CREATE TABLE IF NOT EXISTS ${CATALOGUE}(
    cid INTEGER NOT NULL, field TEXT NOT NULL, type TEXT NOT NULL, path TEXT NOT NULL, created TEXT NOT NULL,
    PRIMARY KEY(cid, field)) WITHOUT ROWID`);
}

function hasCatalogue(db: Sqlite): boolean {
  return db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(CATALOGUE) !== undefined;
}

/** The rows of the values table for the records `source` (an alias `r` of the records table, or `new`). */
function valueRows(cid: number, metadata: string, slot: string, extra = ''): string {
  // DISTINCT, not only INSERT OR IGNORE: a trigger's OR IGNORE yields to the conflict clause of the
  // statement that fired it, and an upsert's ON CONFLICT made a repeated element ([1, 1]) a
  // UNIQUE error (found by the crash test's writer).
  return `SELECT DISTINCT fi.field, ${VALUE}, ${slot} FROM ${CATALOGUE} fi, json_each(${metadata}, fi.path) e WHERE fi.cid = ${cid} AND ${KEEP}${extra}`;
}

/** The rows of the arrays table: the declared fields whose value is an array in `metadata`. */
function arrayRows(cid: number, metadata: string, slot: string, extra = ''): string {
  return `SELECT fi.field, ${slot} FROM ${CATALOGUE} fi WHERE fi.cid = ${cid} AND json_type(${metadata}, fi.path) = 'array'${extra}`;
}

function createValuesTable(w: Sqlite, cid: number, records: string): void {
  const fv = fieldValuesTable(cid);
  const fa = fieldArraysTable(cid);
  w.exec(`
    CREATE TABLE IF NOT EXISTS ${fv}(field TEXT NOT NULL, v NOT NULL, slot INTEGER NOT NULL, PRIMARY KEY(field, v, slot)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS ${fv}_slot ON ${fv}(slot);
    CREATE TABLE IF NOT EXISTS ${fa}(field TEXT NOT NULL, slot INTEGER NOT NULL, PRIMARY KEY(field, slot)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS ${fa}_slot ON ${fa}(slot);
    CREATE TRIGGER IF NOT EXISTS ${records}_fv_ai AFTER INSERT ON ${records} WHEN new.metadata IS NOT NULL BEGIN
      INSERT OR IGNORE INTO ${fv}(field, v, slot) ${valueRows(cid, 'new.metadata', 'new.slot')};
      INSERT OR IGNORE INTO ${fa}(field, slot) ${arrayRows(cid, 'new.metadata', 'new.slot')};
    END;
    CREATE TRIGGER IF NOT EXISTS ${records}_fv_ad AFTER DELETE ON ${records} BEGIN
      DELETE FROM ${fv} WHERE slot = old.slot;
      DELETE FROM ${fa} WHERE slot = old.slot;
    END;
    CREATE TRIGGER IF NOT EXISTS ${records}_fv_au AFTER UPDATE OF metadata, slot ON ${records} BEGIN
      DELETE FROM ${fv} WHERE slot = old.slot;
      DELETE FROM ${fa} WHERE slot = old.slot;
      INSERT OR IGNORE INTO ${fv}(field, v, slot) ${valueRows(cid, 'new.metadata', 'new.slot')};
      INSERT OR IGNORE INTO ${fa}(field, slot) ${arrayRows(cid, 'new.metadata', 'new.slot')};
    END;`);
}

function dropValuesTable(w: Sqlite, cid: number, records: string): void {
  w.exec(`DROP TRIGGER IF EXISTS ${records}_fv_ai; DROP TRIGGER IF EXISTS ${records}_fv_ad; DROP TRIGGER IF EXISTS ${records}_fv_au;
    DROP TABLE IF EXISTS ${fieldValuesTable(cid)}; DROP TABLE IF EXISTS ${fieldArraysTable(cid)};`);
}

/** The declared indexes of a collection (none when the database has no catalogue yet). */
export function listFieldIndexes(db: Sqlite, cid: number): FieldIndexInfo[] {
  if (!hasCatalogue(db)) return [];
  return db.prepare(`SELECT field, type FROM ${CATALOGUE} WHERE cid = ? ORDER BY field`).all(cid) as FieldIndexInfo[];
}

function inTransaction<T>(w: Sqlite, fn: () => T): T {
  w.exec('BEGIN IMMEDIATE');
  try {
    const out = fn();
    w.exec('COMMIT');
    return out;
  } catch (e) {
    if (w.inTransaction) w.exec('ROLLBACK');
    throw e;
  }
}

/**
 * Declares `field` as indexed with `type` and back-fills it from the stored records, in one
 * transaction. Returns false when it was already declared with this type (nothing done); a
 * declaration with another type is `already_exists` (drop it first).
 */
export function createFieldIndex(w: Sqlite, cid: number, records: string, field: string, type: FieldIndexType): boolean {
  return inTransaction(w, () => {
    ensureCatalogue(w);
    const have = w.prepare(`SELECT type FROM ${CATALOGUE} WHERE cid = ? AND field = ?`).pluck().get(cid, field) as string | undefined;
    if (have === type) return false;
    if (have !== undefined) {
      throw new OmnivecError('already_exists', `field ${JSON.stringify(field)}: already indexed as ${have}, asked for ${type}; drop its index first to change the type`, { field, type: have });
    }
    const count = w.prepare(`SELECT count(*) FROM ${CATALOGUE} WHERE cid = ?`).pluck().get(cid) as number;
    if (count >= MAX_FIELD_INDEXES) {
      throw new OmnivecError('capacity_exceeded', `field ${JSON.stringify(field)}: a collection may index at most ${MAX_FIELD_INDEXES} fields, and ${count} are declared`);
    }
    w.prepare(`INSERT INTO ${CATALOGUE}(cid, field, type, path, created) VALUES (?, ?, ?, ?, ?)`).run(cid, field, type, jsonPath(field), new Date().toISOString());
    createValuesTable(w, cid, records);
    w.prepare(`INSERT OR IGNORE INTO ${fieldValuesTable(cid)}(field, v, slot) ${valueRows(cid, 'r.metadata', 'r.slot', ' AND fi.field = ?')
      .replace(`FROM ${CATALOGUE} fi,`, `FROM ${records} r, ${CATALOGUE} fi,`)}`).run(field);
    w.prepare(`INSERT OR IGNORE INTO ${fieldArraysTable(cid)}(field, slot) ${arrayRows(cid, 'r.metadata', 'r.slot', ' AND fi.field = ?')
      .replace(`FROM ${CATALOGUE} fi`, `FROM ${records} r, ${CATALOGUE} fi`)}`).run(field);
    return true;
  });
}

/** Removes a field's index; false when none was declared. The last one takes the table and triggers with it. */
export function dropFieldIndex(w: Sqlite, cid: number, records: string, field: string): boolean {
  if (!hasCatalogue(w)) return false;
  return inTransaction(w, () => {
    const gone = w.prepare(`DELETE FROM ${CATALOGUE} WHERE cid = ? AND field = ?`).run(cid, field).changes > 0;
    if (!gone) return false;
    const left = w.prepare(`SELECT count(*) FROM ${CATALOGUE} WHERE cid = ?`).pluck().get(cid) as number;
    if (left === 0) dropValuesTable(w, cid, records);
    else {
      w.prepare(`DELETE FROM ${fieldValuesTable(cid)} WHERE field = ?`).run(field);
      w.prepare(`DELETE FROM ${fieldArraysTable(cid)} WHERE field = ?`).run(field);
    }
    return true;
  });
}

/** With a collection's drop (inside its transaction): its declarations and values go too. */
export function dropFieldIndexTables(w: Sqlite, cid: number, records: string): void {
  if (!hasCatalogue(w)) return;
  w.prepare(`DELETE FROM ${CATALOGUE} WHERE cid = ?`).run(cid);
  dropValuesTable(w, cid, records);
}

/**
 * verify: the values table must equal what the records give (rows missing or extra, per field).
 * A full pass over the records' metadata: O(records), like verify's other checks.
 */
export function checkFieldIndexes(db: Sqlite, cid: number, records: string): string[] {
  const declared = listFieldIndexes(db, cid);
  if (declared.length === 0) return [];
  const fv = fieldValuesTable(cid);
  const problems: string[] = [];
  const expected = valueRows(cid, 'r.metadata', 'r.slot').replace(`FROM ${CATALOGUE} fi,`, `FROM ${records} r, ${CATALOGUE} fi,`);
  try {
    const missing = db.prepare(`SELECT field, count(*) AS n FROM (${expected} EXCEPT SELECT field, v, slot FROM ${fv}) GROUP BY field`).all() as { field: string; n: number }[];
    const extra = db.prepare(`SELECT field, count(*) AS n FROM (SELECT field, v, slot FROM ${fv} EXCEPT ${expected}) GROUP BY field`).all() as { field: string; n: number }[];
    for (const m of missing) problems.push(`payload index ${JSON.stringify(m.field)}: ${m.n} value(s) of the records missing from ${fv}`);
    for (const x of extra) problems.push(`payload index ${JSON.stringify(x.field)}: ${x.n} row(s) in ${fv} that no record holds`);
    const fa = fieldArraysTable(cid);
    const arrays = arrayRows(cid, 'r.metadata', 'r.slot').replace(`FROM ${CATALOGUE} fi`, `FROM ${records} r, ${CATALOGUE} fi`);
    const off = db.prepare(`SELECT field, count(*) AS n FROM (SELECT * FROM (${arrays} EXCEPT SELECT field, slot FROM ${fa}) UNION ALL SELECT * FROM (SELECT field, slot FROM ${fa} EXCEPT ${arrays})) GROUP BY field`).all() as { field: string; n: number }[];
    for (const x of off) problems.push(`payload index ${JSON.stringify(x.field)}: ${x.n} record(s) marked wrongly in ${fa} (holds an array or not)`);
  } catch (e) {
    problems.push(`payload indexes of collection ${cid}: ${(e as Error).message}`);
  }
  return problems;
}
