/**
 * The two reads whose cost is a scan held in one synchronous SQLite call: the slots a filter
 * matches (a JSON scan of every record for an undeclared field) and the BM25 list of a full-text
 * query (every document a common word matches). They are written once, here, on a connection and
 * a collection number, so that the server's thread (sqlite-records.ts) and a scan reader thread
 * (scan-worker.ts) run the same statements.
 */
import { sqliteBm25 } from './fulltext.js';
import { tables, type Sqlite } from './schema.js';
import { compileFilter, compileSlotPlan, runSlotPlan, type FieldIndexes } from './where-sql.js';
import { fieldArraysTable, fieldValuesTable, listFieldIndexes } from './field-index-sql.js';
import { fieldIndexMap } from '../../field-index.js';
import type { RecordFilter } from '../types.js';

/** The declared payload indexes a filter can use (read per compiled filter: another handle may declare one). */
export function fieldIndexesFor(db: Sqlite, cid: number, filter: RecordFilter, slot: string): FieldIndexes | undefined {
  if (filter.where === undefined || filter.where === null) return undefined;
  const list = listFieldIndexes(db, cid);
  return list.length === 0 ? undefined : { map: fieldIndexMap(list), table: fieldValuesTable(cid), arrays: fieldArraysTable(cid), slot };
}

/** The filter as SQL over `metadata` / `document` columns (payload indexes where declared). */
export function filterSql(db: Sqlite, cid: number, filter: RecordFilter, metadata = 'metadata', document = 'document'): { sql: string; params: unknown[] } {
  return compileFilter(filter.where, filter.whereDocument, { metadata, document }, fieldIndexesFor(db, cid, filter, metadata === 'metadata' ? 'slot' : 'r.slot'));
}

/** True when the payload indexes alone answer the filter (no scan: not worth a thread hop). */
export function servedByFieldIndexes(db: Sqlite, cid: number, filter: RecordFilter): boolean {
  return filter.whereDocument === undefined && compileSlotPlan(filter.where, fieldIndexesFor(db, cid, filter, 'slot')) !== undefined;
}

/** The slots matching `filter`, in one read transaction (the payload indexes and the statements reading them see one state). */
export function matchingSlotsOn(db: Sqlite, cid: number, filter: RecordFilter): number[] {
  return db.transaction(() => {
    const plan = filter.whereDocument === undefined ? compileSlotPlan(filter.where, fieldIndexesFor(db, cid, filter, 'slot')) : undefined;
    if (plan !== undefined) return runSlotPlan(plan, (sql, params) => db.prepare(sql).pluck().all(...params) as number[]);
    const f = filterSql(db, cid, filter);
    return db.prepare(`SELECT slot FROM ${tables(cid).records} WHERE ${f.sql}`).pluck().raw(false).all(...f.params) as number[];
  })();
}

/** The best `limit` slots for `text` under `filter` (BM25, fulltext.ts). */
export function fullTextOn(db: Sqlite, cid: number, text: string, limit: number, filter: RecordFilter): { slots: Uint32Array; scores: Float32Array } {
  const t = tables(cid);
  return sqliteBm25(db, t.records, t.fts, text, limit, filterSql(db, cid, filter, 'r.metadata', 'r.document'));
}

/** The ids of `slots`, in their order (a slot without a record: undefined). */
export function idsOfSlots(db: Sqlite, cid: number, slots: ArrayLike<number>): (string | undefined)[] {
  const rows = db.prepare(`SELECT slot, id FROM ${tables(cid).records} WHERE slot IN (SELECT value FROM json_each(?))`).raw().all(JSON.stringify(Array.from(slots))) as [number, string][];
  const byId = new Map(rows);
  return Array.from(slots, (s) => byId.get(s));
}

/** Where the collection's changes stand, read inside the caller's transaction. */
export function headOf(db: Sqlite, cid: number): { seq: number; nextSlot: number; tombFloor: number } | undefined {
  const row = db.prepare('SELECT seq, next_slot, tomb_floor FROM collections WHERE cid = ?').get(cid) as { seq: number; next_slot: number; tomb_floor: number } | undefined;
  return row === undefined ? undefined : { seq: row.seq, nextSlot: row.next_slot, tombFloor: row.tomb_floor };
}
