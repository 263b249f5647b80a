/**
 * One collection's records in SQLite (the embedded store; the contract is ../types.ts). Every SQL
 * statement on a collection's tables lives here: `c<cid>_r` (the records, rowid = slot),
 * `c<cid>_t` (tombstones) and `c<cid>_fts` (FTS5 over the documents), see docs/file-format.md.
 * better-sqlite3 is synchronous: the contract's promises resolve at once.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { OmnivecError } from '../../../errors.js';
import { duplicateId, readF32 } from '../../records.js';
import { sqliteBm25 } from './fulltext.js';
import type { Metadata } from '../../where.js';
import type { CollectionMeta, CollectionOptions, WriteMode } from '../../types.js';
import type { CollectionRecords, Fields, RecordFilter, RecordWriter, RowsToWrite, StoredRecord, VectorChunk } from '../types.js';
import { tables, type Sqlite } from './schema.js';
import { compileFilter, compileSlotPlan, runSlotPlan, type FieldIndexes } from './where-sql.js';
import { checkFieldIndexes, createFieldIndex, dropFieldIndex, fieldArraysTable, fieldValuesTable, listFieldIndexes } from './field-index-sql.js';
import { fieldIndexMap, type FieldIndexInfo, type FieldIndexType } from '../../field-index.js';

/** The connections a collection's records use (shared by every collection of a database). */
export interface SqliteConnections {
  /** The writer connection (read-only when the database is opened read-only). */
  w: Sqlite;
  /** A second connection for reads: sees committed data only, even while a write is open. */
  r: Sqlite;
}

interface Row { slot: number; id: string; document?: string | null; metadata?: string | null; vector?: Buffer; sparse?: string | null; multivector?: Buffer | null }

function isUniqueError(e: unknown): boolean {
  return e instanceof Error && (e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';
}

export class SqliteRecords implements CollectionRecords {
  readonly #c: SqliteConnections;
  readonly #meta: CollectionMeta;
  readonly #t: ReturnType<typeof tables>;
  readonly #stmts = new Map<string, BetterSqlite3.Statement>();

  constructor(connections: SqliteConnections, meta: CollectionMeta) {
    this.#c = connections;
    this.#meta = meta;
    this.#t = tables(meta.cid);
  }

  #stmt(key: string, sql: () => string, db: 'r' | 'w' = 'r'): BetterSqlite3.Statement {
    const k = db + key;
    let s = this.#stmts.get(k);
    if (s === undefined) {
      s = this.#c[db].prepare(sql());
      this.#stmts.set(k, s);
    }
    return s;
  }

  #filter(filter: RecordFilter, metadata = 'metadata', document = 'document'): { sql: string; params: unknown[] } {
    return compileFilter(filter.where, filter.whereDocument, { metadata, document }, this.#fieldIndexes(filter, metadata === 'metadata' ? 'slot' : 'r.slot'));
  }

  // Payload indexes (field-index-sql.ts): declarations read per compiled filter (another handle may declare one).
  #fieldIndexes(filter: RecordFilter, slot: string): FieldIndexes | undefined {
    if (filter.where === undefined || filter.where === null) return undefined;
    const list = listFieldIndexes(this.#c.r, this.#meta.cid);
    return list.length === 0 ? undefined : { map: fieldIndexMap(list), table: fieldValuesTable(this.#meta.cid), arrays: fieldArraysTable(this.#meta.cid), slot };
  }

  async fieldIndexes(): Promise<FieldIndexInfo[]> {
    return listFieldIndexes(this.#c.r, this.#meta.cid);
  }

  async createFieldIndex(field: string, type: FieldIndexType): Promise<boolean> {
    return createFieldIndex(this.#c.w, this.#meta.cid, this.#t.records, field, type);
  }

  async dropFieldIndex(field: string): Promise<boolean> {
    return dropFieldIndex(this.#c.w, this.#meta.cid, this.#t.records, field);
  }

  /** `slot, id[, document][, json(metadata)][, vector]`. */
  #columns(fields: Fields): string {
    return `slot, id${fields.document === true ? ', document' : ''}${fields.metadata === true ? ', json(metadata) AS metadata' : ''}${fields.vector === true ? ', vector' : ''}`
      + `${fields.sparse === true ? ', sparse' : ''}${fields.multiVector === true ? ', multivector' : ''}`;
  }

  #record(row: Row): StoredRecord {
    const out: StoredRecord = { slot: row.slot, id: row.id };
    if (row.document !== undefined) out.document = row.document;
    if (row.metadata !== undefined) out.metadata = row.metadata === null ? null : JSON.parse(row.metadata) as Metadata;
    if (row.vector !== undefined) out.vector = readF32(row.vector);
    if (row.sparse !== undefined) out.sparse = row.sparse;
    if (row.multivector !== undefined) out.multiVector = row.multivector === null ? null : readF32(row.multivector);
    return out;
  }

  async count(): Promise<number> {
    return (this.#stmt('count', () => `SELECT count(*) AS n FROM ${this.#t.records}`).get() as { n: number }).n;
  }

  async getByIds(ids: readonly string[], filter: RecordFilter, fields: Fields): Promise<StoredRecord[]> {
    const f = this.#filter(filter);
    const st = this.#c.r.prepare(`SELECT ${this.#columns(fields)} FROM ${this.#t.records} WHERE id = ? AND (${f.sql})`);
    const out: StoredRecord[] = [];
    for (const id of ids) {
      const row = st.get(id, ...f.params) as Row | undefined;
      if (row !== undefined) out.push(this.#record(row));
    }
    return out;
  }

  async getPage(filter: RecordFilter, page: { limit: number; offset: number }, fields: Fields): Promise<StoredRecord[]> {
    const f = this.#filter(filter);
    const rows = this.#c.r.prepare(`SELECT ${this.#columns(fields)} FROM ${this.#t.records} WHERE ${f.sql} ORDER BY slot LIMIT ? OFFSET ?`)
      .all(...f.params, page.limit, page.offset) as Row[];
    return rows.map((r) => this.#record(r));
  }

  async listIds(page: { limit: number; offset: number }): Promise<string[]> {
    return this.#stmt('listIds', () => `SELECT id FROM ${this.#t.records} ORDER BY slot LIMIT ? OFFSET ?`).pluck().all(page.limit, page.offset) as string[];
  }

  async scan(after: number, limit: number, fields: Fields): Promise<StoredRecord[]> {
    const cols = this.#columns(fields);
    const rows = this.#stmt(`scan:${cols}`, () => `SELECT ${cols} FROM ${this.#t.records} WHERE slot > ? ORDER BY slot LIMIT ?`).all(after, limit) as Row[];
    return rows.map((r) => this.#record(r));
  }

  async matchingSlots(filter: RecordFilter): Promise<number[]> {
    // One read transaction: the declared payload indexes, and every statement reading them, see one
    // state of the database (another process may drop an index meanwhile).
    const r = this.#c.r;
    return r.transaction(() => {
      // Answered by the payload indexes alone when they serve the whole filter (where-sql.ts compileSlotPlan).
      const plan = filter.whereDocument === undefined ? compileSlotPlan(filter.where, this.#fieldIndexes(filter, 'slot')) : undefined;
      if (plan !== undefined) return runSlotPlan(plan, (sql, params) => r.prepare(sql).pluck().all(...params) as number[]);
      const f = this.#filter(filter);
      return r.prepare(`SELECT slot FROM ${this.#t.records} WHERE ${f.sql}`).pluck().raw(false).all(...f.params) as number[];
    })();
  }

  async bySlots(slots: ArrayLike<number>, fields: Fields): Promise<StoredRecord[]> {
    if (slots.length === 0) return [];
    // One statement for all: `slot IN (SELECT value FROM json_each(?))` makes SQLite look the slots
    // up by rowid (a join with json_each let the planner scan the table: 100 µs a query at 100k
    // records instead of ~10).
    const cols = this.#columns(fields);
    const st = this.#stmt(`bySlots:${cols}`, () => `SELECT ${cols} FROM ${this.#t.records} WHERE slot IN (SELECT value FROM json_each(?))`);
    const rows = st.all(JSON.stringify(Array.from(slots))) as Row[];
    return rows.map((r) => this.#record(r));
  }

  async vectorOfId(id: string): Promise<Float32Array | undefined> {
    const b = this.#stmt('vecById', () => `SELECT vector FROM ${this.#t.records} WHERE id = ?`).pluck().get(id) as Buffer | undefined;
    return b === undefined ? undefined : readF32(b);
  }

  async multiVectors(slots: ArrayLike<number>): Promise<Map<number, Float32Array>> {
    const st = this.#stmt('mvOf', () => `SELECT multivector FROM ${this.#t.records} WHERE slot = ?`).pluck();
    const out = new Map<number, Float32Array>();
    for (let i = 0; i < slots.length; i++) {
      const b = st.get(slots[i]!) as Buffer | null | undefined;
      if (b !== undefined && b !== null) out.set(slots[i]!, readF32(b));
    }
    return out;
  }

  /** BM25 as ../bm25.ts defines it (query-term frequency, Lucene's IDF), from FTS5's data: ./fulltext.ts. */
  async fullText(text: string, limit: number, filter: RecordFilter): Promise<{ slots: Uint32Array; scores: Float32Array }> {
    return sqliteBm25(this.#c.r, this.#t.records, this.#t.fts, text, limit, this.#filter(filter, 'r.metadata', 'r.document'));
  }

  async sparseRows(since: number | undefined): Promise<[number, string | null][]> {
    const r = this.#t.records;
    if (since === undefined) return this.#c.r.prepare(`SELECT slot, sparse FROM ${r} WHERE sparse IS NOT NULL`).raw().all() as [number, string][];
    return this.#c.r.prepare(`SELECT slot, sparse FROM ${r} WHERE vseq > ?`).raw().all(since) as [number, string | null][];
  }

  async deletedSince(seq: number): Promise<number[]> {
    return this.#stmt('tombSince', () => `SELECT slot FROM ${this.#t.tombs} WHERE seq > ?`).pluck().all(seq) as number[];
  }

  async changedSince(seq: number): Promise<number[]> {
    return this.#stmt('changedSince', () => `SELECT slot FROM ${this.#t.records} WHERE vseq > ?`).pluck().all(seq) as number[];
  }

  async *vectors(since: number | undefined, chunk: number): AsyncGenerator<VectorChunk> {
    const r = this.#t.records;
    // Collected per chunk before yielding: the statement must not stay open across an await (a
    // write on the other connection would wait for it), so each chunk re-reads from the last slot.
    const dim = this.#meta.dim;
    let after = -1;
    for (;;) {
      const rows = (since === undefined
        ? this.#stmt('allVectorsAfter', () => `SELECT slot, vector FROM ${r} WHERE slot > ? ORDER BY slot LIMIT ?`).raw().all(after, chunk)
        : this.#stmt('vectorsSinceAfter', () => `SELECT slot, vector FROM ${r} WHERE vseq > ? AND slot > ? ORDER BY slot LIMIT ?`).raw().all(since, after, chunk)) as [number, Buffer][];
      if (rows.length === 0) return;
      yield toChunk(rows, dim);
      after = rows[rows.length - 1]![0];
      if (rows.length < chunk) return;
    }
  }

  async sampleVectors(limit: number): Promise<VectorChunk> {
    const r = this.#t.records;
    const count = await this.count();
    const step = Math.max(1, Math.ceil(count / limit));
    let rows = this.#c.r.prepare(`SELECT slot, vector FROM ${r} WHERE slot % ? = 0 LIMIT ?`).raw().all(step, limit) as [number, Buffer][];
    if (rows.length === 0) rows = this.#c.r.prepare(`SELECT slot, vector FROM ${r} LIMIT ?`).raw().all(limit) as [number, Buffer][];
    return toChunk(rows, this.#meta.dim);
  }

  async pruneTombstones(seq: number): Promise<void> {
    const w = this.#c.w;
    w.transaction(() => {
      w.prepare(`DELETE FROM ${this.#t.tombs} WHERE seq <= ?`).run(seq);
      w.prepare('UPDATE collections SET tomb_floor = ? WHERE cid = ?').run(seq, this.#meta.cid);
    })();
  }

  async check(): Promise<string[]> {
    const { fts, records } = this.#t;
    const problems: string[] = [];
    try {
      this.#c.r.prepare(`INSERT INTO ${fts}(${fts}, rank) VALUES ('integrity-check', 1)`).run();
    } catch (e) {
      // A read-only connection cannot run the check; on the writer it is a real problem.
      if (!/readonly|read-only/i.test((e as Error).message)) problems.push(`full-text index: ${(e as Error).message}`);
    }
    // json_valid flags 1 | 8: RFC 8259 text or strictly well-formed JSONB (what jsonb() writes).
    for (const id of this.#c.r.prepare(`SELECT id FROM ${records} WHERE metadata IS NOT NULL AND NOT json_valid(metadata, 9) LIMIT 100`).pluck().all() as string[]) {
      problems.push(`record ${JSON.stringify(id)}: metadata is not JSON`);
    }
    problems.push(...checkFieldIndexes(this.#c.r, this.#meta.cid, records));
    return problems;
  }

  async write<T>(fn: (w: RecordWriter) => Promise<T>): Promise<T> {
    const w = this.#c.w;
    w.exec('BEGIN IMMEDIATE');
    try {
      const writer = this.writer();
      const out = await fn(writer);
      writer.commitHead();
      w.exec('COMMIT');
      return out;
    } catch (e) {
      if (w.inTransaction) w.exec('ROLLBACK');
      throw e;
    }
  }

  /**
   * @internal The writes of the open transaction (`write`, and createCollection's fill). Its change
   * number is read inside the transaction (BEGIN IMMEDIATE holds the database's write lock);
   * `commitHead` stores it when anything changed.
   */
  writer(): RecordWriter & { commitHead(): void } {
    const r = this.#t.records;
    const meta = this.#meta;
    const cw = this.#c.w;
    const seq = (cw.prepare('SELECT seq FROM collections WHERE cid = ?').pluck().get(meta.cid) as number) + 1;
    let touched = false;
    let options: CollectionOptions | undefined;
    const tomb = (): BetterSqlite3.Statement => this.#stmt('tomb', () => `INSERT INTO ${this.#t.tombs}(slot, seq) VALUES (?, ?)`, 'w');
    return {
      seq,
      commitHead: (): void => {
        if (options !== undefined) cw.prepare('UPDATE collections SET options = ? WHERE cid = ?').run(JSON.stringify(options), meta.cid);
        if (touched) cw.prepare('UPDATE collections SET seq = ? WHERE cid = ?').run(seq, meta.cid);
      },
      writeRows: async (mode: WriteMode, chunk: RowsToWrite): Promise<Uint32Array> => {
        if (chunk.rows.length > 0) touched = true;
        const insert = this.#stmt('ins', () => `INSERT INTO ${r}(id, vector, document, metadata, sparse, multivector, vseq) VALUES (?, ?, ?, jsonb(?), ?, ?, ?)`, 'w');
        const upsert = this.#stmt('ups', () => `INSERT INTO ${r}(id, vector, document, metadata, sparse, multivector, vseq) VALUES (?, ?, ?, jsonb(?), ?, ?, ?)
          ON CONFLICT(id) DO UPDATE SET vector = excluded.vector, document = excluded.document, metadata = excluded.metadata,
          sparse = excluded.sparse, multivector = excluded.multivector, vseq = excluded.vseq RETURNING slot`, 'w').pluck();
        const update = this.#stmt('upd', () => `UPDATE ${r} SET
          vector = CASE WHEN @hv THEN @vector ELSE vector END,
          document = CASE WHEN @hd THEN @document ELSE document END,
          metadata = CASE WHEN @hm THEN jsonb(@metadata) ELSE metadata END,
          sparse = CASE WHEN @hs THEN @sparse ELSE sparse END,
          multivector = CASE WHEN @hmv THEN @mv ELSE multivector END,
          vseq = CASE WHEN @hv OR @hs OR @hmv THEN @seq ELSE vseq END
          WHERE id = @id RETURNING slot`, 'w').pluck();
        const { rows, sparse, first } = chunk;
        const slots = new Uint32Array(rows.length);
        for (let i = 0; i < rows.length; i++) {
          const row = rows[i]!;
          const mv = row.multiVector ? Buffer.from(row.multiVector.data.buffer, row.multiVector.data.byteOffset, row.multiVector.data.byteLength) : row.multiVector;
          if (mode === 'update') {
            const got = update.get({
              hv: row.vector !== undefined ? 1 : 0, vector: row.vector ?? null,
              hd: row.document !== undefined ? 1 : 0, document: row.document ?? null,
              hm: row.metadata !== undefined ? 1 : 0, metadata: row.metadata ?? null,
              hs: sparse[i] !== undefined ? 1 : 0, sparse: sparse[i] ?? null,
              hmv: mv !== undefined ? 1 : 0, mv: mv ?? null,
              seq, id: row.id,
            });
            if (got === undefined) throw new OmnivecError('not_found', `update[${first + i}].id: no record with id ${JSON.stringify(row.id)} in "${meta.name}"`, { id: row.id });
            slots[i] = got as number;
            continue;
          }
          try {
            slots[i] = mode === 'add'
              ? Number(insert.run(row.id, row.vector!, row.document ?? null, row.metadata ?? null, sparse[i] ?? null, mv ?? null, seq).lastInsertRowid)
              : upsert.get(row.id, row.vector!, row.document ?? null, row.metadata ?? null, sparse[i] ?? null, mv ?? null, seq) as number;
          } catch (e) {
            if (!isUniqueError(e)) throw e;
            // Stamped with this call's change number: written earlier in this same call.
            const vseq = this.#stmt('vseqOf', () => `SELECT vseq FROM ${r} WHERE id = ?`, 'w').pluck().get(row.id);
            if (vseq === seq) throw duplicateId(mode, row.id, undefined, first + i);
            throw new OmnivecError('already_exists', `add[${first + i}].id: a record with id ${JSON.stringify(row.id)} already exists in "${meta.name}"; use upsert to replace it`, { id: row.id });
          }
        }
        return slots;
      },
      deleteIds: async (ids: readonly string[], filter: RecordFilter): Promise<number[]> => {
        const f = this.#filter(filter);
        const del = cw.prepare(`DELETE FROM ${r} WHERE id = ? AND (${f.sql}) RETURNING slot`).pluck();
        const gone: number[] = [];
        for (const id of ids) {
          const slot = del.get(id, ...f.params) as number | undefined;
          if (slot !== undefined) { tomb().run(slot, seq); gone.push(slot); }
        }
        if (gone.length > 0) touched = true;
        return gone;
      },
      deleteWhere: async (filter: RecordFilter): Promise<number[]> => {
        const f = this.#filter(filter);
        const gone = cw.prepare(`DELETE FROM ${r} WHERE ${f.sql} RETURNING slot`).pluck().all(...f.params) as number[];
        for (const slot of gone) tomb().run(slot, seq);
        if (gone.length > 0) touched = true;
        return gone;
      },
      deleteSlots: async (slots: readonly number[]): Promise<void> => {
        const del = this.#stmt('delSlot', () => `DELETE FROM ${r} WHERE slot = ?`, 'w');
        for (const slot of slots) { del.run(slot); tomb().run(slot, seq); }
        if (slots.length > 0) touched = true;
      },
      setOptions: async (o: CollectionOptions): Promise<void> => {
        options = o;
      },
    };
  }
}

function toChunk(rows: [number, Buffer | null][], dim: number): VectorChunk {
  const slots = new Uint32Array(rows.length);
  const data = new Float32Array(rows.length * dim);
  const bytes = new Uint8Array(data.buffer);
  for (let i = 0; i < rows.length; i++) {
    const [slot, blob] = rows[i]!;
    slots[i] = slot;
    // A blob of the wrong length (never written by omnivec) reads as NaN: the index cache leaves such rows out.
    if (blob === null || blob.byteLength !== dim * 4) data.fill(NaN, i * dim, (i + 1) * dim);
    else bytes.set(blob, i * dim * 4);
  }
  return { slots, data, count: rows.length };
}
