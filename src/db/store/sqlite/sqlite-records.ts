/**
 * One collection's records in SQLite (the embedded store; the contract is ../types.ts). Every SQL
 * statement on a collection's tables lives here: `c<cid>_r` (the records, rowid = slot),
 * `c<cid>_t` (tombstones) and `c<cid>_fts` (FTS5 over the documents), see docs/file-format.md.
 * The vectors are rows of the collection's vector file (vector-file.ts), read at the record's slot
 * and checked against the row's `vcrc`: a row that does not match (or that the file does not hold)
 * reads as NaN, an invalid stored vector — left out of the index, named by verify, deletable.
 * better-sqlite3 is synchronous: the contract's promises resolve at once.
 */
import { unlinkSync } from 'node:fs';
import type BetterSqlite3 from 'better-sqlite3';
import { OmnivecError } from '../../../errors.js';
import { duplicateId, readF32 } from '../../records.js';
import type { Metadata } from '../../where.js';
import type { CollectionMeta, CollectionOptions, WriteMode } from '../../types.js';
import type { ExternalVectors } from '../../../indexes/types.js';
import type { CollectionRecords, Fields, RecordFilter, RecordWriter, RowsToWrite, StoredRecord, VectorChunk } from '../types.js';
import { tables, type Sqlite } from './schema.js';
import { checkFieldIndexes, createFieldIndex, dropFieldIndex, listFieldIndexes } from './field-index-sql.js';
import { type FieldIndexInfo, type FieldIndexType } from '../../field-index.js';
import { filterSql, fullTextOn, headOf, matchingSlotsOn, servedByFieldIndexes } from './scan-sql.js';
import type { ScanPool } from './scan-pool.js';
import { rowCrc, syncDir, vectorFilePath, VectorFile } from './vector-file.js';

/** The connections a collection's records use (shared by every collection of a database). */
export interface SqliteConnections {
  /** The writer connection (read-only when the database is opened read-only). */
  w: Sqlite;
  /** A second connection for reads: sees committed data only, even while a write is open. */
  r: Sqlite;
  /** The collection's vector file. */
  vectors: VectorFile;
  /** fdatasync the vector file before each commit (durability 'full'). */
  sync: boolean;
  /** The database directory (where the vector files are). */
  dir: string;
  /** Scan reader threads (OpenOptions.scanThreads), if any: filter scans and full text run there. */
  scans?: ScanPool;
}

/** Slots changed since a scan reader's read beyond which its answer is not patched but redone here. */
const PATCH_MAX = 50_000;
/** Changes whose in-place updated slots a writer remembers (SqliteRecords.#inPlace). */
const IN_PLACE_LOG = 256;

interface Row { slot: number; id: string; document?: string | null; metadata?: string | null; vcrc?: number; sparse?: string | null; multivector?: Buffer | null }

/** Rows an INSERT statement carries (8 parameters each: 512, under SQLite's default limit of 32 766). */
const INSERT_BATCH = 64;

function isUniqueError(e: unknown): boolean {
  return e instanceof Error && (e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** Rows of vectors `#records` reads with one call at most (a 1,024-row buffer: 3 MB at 784-d). */
const READ_RUN = 1024;

export class SqliteRecords implements CollectionRecords {
  readonly #c: SqliteConnections;
  readonly #meta: CollectionMeta;
  readonly #t: ReturnType<typeof tables>;
  readonly #stmts = new Map<string, BetterSqlite3.Statement>();
  /**
   * Slots this handle updated in place (no new vector, so no vseq bump) at each change number,
   * newest last, the last IN_PLACE_LOG changes: what a scan reader's filter answer is patched with.
   */
  #inPlace: { seq: number; slots: number[] }[] = [];

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

  #filter(filter: RecordFilter): { sql: string; params: unknown[] } {
    // The read connection: the payload indexes declared (scan-sql.ts), the same on every handle.
    return filterSql(this.#c.r, this.#meta.cid, filter);
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

  /** `slot, id[, document][, json(metadata)][, vcrc]`. */
  #columns(fields: Fields): string {
    return `slot, id${fields.document === true ? ', document' : ''}${fields.metadata === true ? ', json(metadata) AS metadata' : ''}${fields.vector === true ? ', vcrc' : ''}`
      + `${fields.sparse === true ? ', sparse' : ''}${fields.multiVector === true ? ', multivector' : ''}`;
  }

  /**
   * The vector at `slot` from the vector file, checked against its CRC. A damaged or missing row
   * comes back as NaN with the reason (verify names it; the index leaves it out).
   */
  #vectorAt(slot: number, vcrc: number, retry = true): { vector: Float32Array; problem?: string } {
    const v = new Float32Array(this.#meta.dim);
    const there = this.#c.vectors.readRow(slot, v);
    if (there && rowCrc(new Uint8Array(v.buffer)) === vcrc) return { vector: v };
    if (retry && this.#followGeneration()) return this.#vectorAt(slot, vcrc, false);
    v.fill(NaN);
    if (!there) {
      return { vector: v, problem: `vector missing: ${this.#c.vectors.path} ${this.#c.vectors.present ? `holds ${this.#c.vectors.rows} rows, not slot ${slot}` : 'is missing'}` };
    }
    return { vector: v, problem: `vector damaged: row ${slot} of ${this.#c.vectors.path} does not match its checksum` };
  }

  /**
   * The records of many rows: their vectors read by runs of consecutive slots, one read a run (a
   * read a row cost ~2 µs of system call each: 4 of the 8 ms of reading 2,050 × 784), each row
   * checked against its checksum; a row short or not matching goes the one-row way (`#vectorAt`:
   * the retry after a compaction, or the problem reported).
   */
  #records(rows: Row[]): StoredRecord[] {
    if (rows.length < 2 || rows[0]!.vcrc === undefined) return rows.map((r) => this.#record(r));
    const dim = this.#meta.dim;
    const order = Array.from({ length: rows.length }, (_, i) => i).sort((a, b) => rows[a]!.slot - rows[b]!.slot);
    const vectors = new Array<Float32Array | undefined>(rows.length);
    const buf = new Float32Array(Math.min(rows.length, READ_RUN) * dim);
    for (let i = 0; i < order.length;) {
      let j = i + 1;
      while (j < order.length && j - i < READ_RUN && rows[order[j]!]!.slot === rows[order[j - 1]!]!.slot + 1) j++;
      const got = this.#c.vectors.readRows(rows[order[i]!]!.slot, j - i, buf.subarray(0, (j - i) * dim));
      for (let t = 0; t < got; t++) {
        const v = buf.slice(t * dim, (t + 1) * dim);
        const row = rows[order[i + t]!]!;
        if (rowCrc(new Uint8Array(v.buffer)) === row.vcrc) vectors[order[i + t]!] = v;
      }
      i = j;
    }
    return rows.map((r, i) => this.#record(r, vectors[i]));
  }

  #record(row: Row, vector?: Float32Array): StoredRecord {
    const out: StoredRecord = { slot: row.slot, id: row.id };
    if (row.document !== undefined) out.document = row.document;
    if (row.metadata !== undefined) out.metadata = row.metadata === null ? null : JSON.parse(row.metadata) as Metadata;
    if (vector !== undefined) out.vector = vector;
    else if (row.vcrc !== undefined) {
      const got = this.#vectorAt(row.slot, row.vcrc);
      out.vector = got.vector;
      if (got.problem !== undefined) out.vectorProblem = got.problem;
    }
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
    const rows: Row[] = [];
    for (const id of ids) {
      const row = st.get(id, ...f.params) as Row | undefined;
      if (row !== undefined) rows.push(row);
    }
    return this.#records(rows);
  }

  async getPage(filter: RecordFilter, page: { limit: number; offset: number }, fields: Fields): Promise<StoredRecord[]> {
    const f = this.#filter(filter);
    const rows = this.#c.r.prepare(`SELECT ${this.#columns(fields)} FROM ${this.#t.records} WHERE ${f.sql} ORDER BY slot LIMIT ? OFFSET ?`)
      .all(...f.params, page.limit, page.offset) as Row[];
    return this.#records(rows);
  }

  async listIds(page: { limit: number; offset: number }): Promise<string[]> {
    return this.#stmt('listIds', () => `SELECT id FROM ${this.#t.records} ORDER BY slot LIMIT ? OFFSET ?`).pluck().all(page.limit, page.offset) as string[];
  }

  async scan(after: number, limit: number, fields: Fields): Promise<StoredRecord[]> {
    const cols = this.#columns(fields);
    const rows = this.#stmt(`scan:${cols}`, () => `SELECT ${cols} FROM ${this.#t.records} WHERE slot > ? ORDER BY slot LIMIT ?`).all(after, limit) as Row[];
    return this.#records(rows);
  }

  async matchingSlots(filter: RecordFilter): Promise<number[]> {
    const r = this.#c.r;
    const cid = this.#meta.cid;
    const scans = this.#c.scans;
    if (scans === undefined || servedByFieldIndexes(r, cid, filter)) return matchingSlotsOn(r, cid, filter);
    let got;
    try {
      got = await scans.run({ kind: 'slots', cid, filter });
    } catch {
      return matchingSlotsOn(r, cid, filter); // the reader failed: scan here (a bad filter throws here too)
    }
    // Bring the reader's answer up to date (scan-pool.ts): one read transaction.
    return r.transaction(() => {
      const head = headOf(r, cid);
      if (head === undefined || head.seq === got.seq) return Array.from(got.slots);
      if (head.tombFloor > got.seq) return matchingSlotsOn(r, cid, filter);
      // Slots updated in place since the read: known only to the handle that wrote them (none on
      // a read-only handle, which then scans here; a writer remembers IN_PLACE_LOG changes).
      const inPlace = this.#inPlaceSince(got.seq, head.seq);
      if (inPlace === undefined) return matchingSlotsOn(r, cid, filter);
      const changed = this.#stmt('changedSince', () => `SELECT slot FROM ${this.#t.records} WHERE vseq > ?`).pluck().all(got.seq) as number[];
      for (const s of inPlace) changed.push(s);
      const deleted = this.#stmt('tombSince', () => `SELECT slot FROM ${this.#t.tombs} WHERE seq > ?`).pluck().all(got.seq) as number[];
      if (changed.length + deleted.length > PATCH_MAX) return matchingSlotsOn(r, cid, filter);
      const stale = new Set<number>([...changed, ...deleted]);
      const out: number[] = [];
      for (const s of got.slots) if (!stale.has(s)) out.push(s);
      if (changed.length > 0) {
        const f = filterSql(r, cid, filter);
        const now = r.prepare(`SELECT slot FROM ${this.#t.records} WHERE slot IN (SELECT value FROM json_each(?)) AND (${f.sql})`).pluck().all(JSON.stringify(changed), ...f.params) as number[];
        for (const s of now) out.push(s);
      }
      return out;
    })();
  }

  /**
   * The slots this handle updated in place at changes (from, to]; undefined when it cannot know
   * them all: a read-only handle (another process writes), or changes older than its log.
   */
  #inPlaceSince(from: number, to: number): number[] | undefined {
    if (this.#c.w.readonly) return undefined;
    const log = this.#inPlace;
    // Every change in (from, to] was written by this handle (it holds the writer lock); the log
    // must reach back to `from` unless no change since wrote in place.
    const out: number[] = [];
    for (const e of log) if (e.seq > from && e.seq <= to) for (const s of e.slots) out.push(s);
    if (log.length === IN_PLACE_LOG && log[0]!.seq > from + 1) return undefined;
    return out;
  }

  async bySlots(slots: ArrayLike<number>, fields: Fields): Promise<StoredRecord[]> {
    if (slots.length === 0) return [];
    // One statement for all: `slot IN (SELECT value FROM json_each(?))` makes SQLite look the slots
    // up by rowid (a join with json_each let the planner scan the table: 100 µs a query at 100k
    // records instead of ~10).
    const cols = this.#columns(fields);
    const st = this.#stmt(`bySlots:${cols}`, () => `SELECT ${cols} FROM ${this.#t.records} WHERE slot IN (SELECT value FROM json_each(?))`);
    const rows = st.all(JSON.stringify(Array.from(slots))) as Row[];
    return this.#records(rows);
  }

  async vectorOfId(id: string): Promise<Float32Array | undefined> {
    const row = this.#stmt('vecById', () => `SELECT slot, vcrc FROM ${this.#t.records} WHERE id = ?`).raw().get(id) as [number, number] | undefined;
    return row === undefined ? undefined : this.#vectorAt(row[0], row[1]).vector;
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
    const r = this.#c.r;
    const cid = this.#meta.cid;
    const scans = this.#c.scans;
    if (scans === undefined) return fullTextOn(r, cid, text, limit, filter);
    let got;
    try {
      got = await scans.run({ kind: 'fullText', cid, text, limit, filter });
    } catch {
      return fullTextOn(r, cid, text, limit, filter);
    }
    // The reader's list, each hit followed to its record's current slot (scan-pool.ts).
    const head = headOf(r, cid);
    if (head === undefined || head.seq === got.seq) return { slots: got.slots, scores: got.scores! };
    const ids = got.ids ?? [];
    const rows = this.#stmt('slotsOfIds', () => `SELECT id, slot FROM ${this.#t.records} WHERE id IN (SELECT value FROM json_each(?))`)
      .raw().all(JSON.stringify(ids.filter((x) => x !== undefined))) as [string, number][];
    const now = new Map(rows);
    const slots: number[] = [];
    const scores: number[] = [];
    for (let i = 0; i < got.slots.length; i++) {
      const s = ids[i] === undefined ? undefined : now.get(ids[i]!);
      if (s === undefined) continue;
      slots.push(s);
      scores.push(got.scores![i]!);
    }
    return { slots: Uint32Array.from(slots), scores: Float32Array.from(scores) };
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
    let after = -1;
    for (;;) {
      const rows = (since === undefined
        ? this.#stmt('allVectorsAfter', () => `SELECT slot, vcrc FROM ${r} WHERE slot > ? ORDER BY slot LIMIT ?`).raw().all(after, chunk)
        : this.#stmt('vectorsSinceAfter', () => `SELECT slot, vcrc FROM ${r} WHERE vseq > ? AND slot > ? ORDER BY slot LIMIT ?`).raw().all(since, after, chunk)) as [number, number][];
      if (rows.length === 0) return;
      yield this.#chunk(rows);
      after = rows[rows.length - 1]![0];
      if (rows.length < chunk) return;
    }
  }

  async sampleVectors(limit: number): Promise<VectorChunk> {
    const r = this.#t.records;
    const count = await this.count();
    const step = Math.max(1, Math.ceil(count / limit));
    let rows = this.#c.r.prepare(`SELECT slot, vcrc FROM ${r} WHERE slot % ? = 0 LIMIT ?`).raw().all(step, limit) as [number, number][];
    if (rows.length === 0) rows = this.#c.r.prepare(`SELECT slot, vcrc FROM ${r} LIMIT ?`).raw().all(limit) as [number, number][];
    return this.#chunk(rows);
  }

  /**
   * The vectors of these rows (ascending slots) as a chunk: each run of consecutive slots is one
   * read of the file; rows that fail their CRC or that the file lacks read as NaN.
   */
  /**
   * A row that does not match may mean that compaction moved the collection to a new vector file
   * generation since this handle opened its file (read-only handles; the writer switches at once):
   * follow it and say so, so the caller reads again.
   */
  #followGeneration(): boolean {
    const gen = this.#stmt('vecGen', () => 'SELECT vec_gen FROM collections WHERE cid = ?').pluck().get(this.#meta.cid) as number | undefined;
    if (gen === undefined || gen === this.#c.vectors.gen) return false;
    this.#c.vectors.switchTo(vectorFilePath(this.#c.dir, this.#meta.cid, gen), gen);
    return true;
  }

  #chunk(rows: [slot: number, vcrc: number][], retry = true): VectorChunk {
    const dim = this.#meta.dim;
    const count = rows.length;
    const slots = new Uint32Array(count);
    const data = new Float32Array(count * dim);
    const bytes = new Uint8Array(data.buffer);
    const file = this.#c.vectors;
    let i = 0;
    while (i < count) {
      let j = i + 1;
      while (j < count && rows[j]![0] === rows[j - 1]![0] + 1) j++;
      const got = file.readRows(rows[i]![0], j - i, data.subarray(i * dim, j * dim));
      for (let k = i; k < j; k++) {
        slots[k] = rows[k]![0];
        if (k - i >= got || rowCrc(bytes.subarray(k * dim * 4, (k + 1) * dim * 4)) !== rows[k]![1]) {
          if (retry && this.#followGeneration()) return this.#chunk(rows, false);
          retry = false;
          data.fill(NaN, k * dim, (k + 1) * dim);
        }
      }
      i = j;
    }
    return { slots, data, count };
  }

  /** Rows the collection has given out (committed `next_slot`): the vector file's committed extent. */
  committedSlots(): number {
    return this.#stmt('nextSlot', () => 'SELECT next_slot FROM collections WHERE cid = ?').pluck().get(this.#meta.cid) as number;
  }

  /**
   * The vector file as the index loader's source: rows [0, next_slot) as committed. Rows are read
   * as stored, without their CRC (a reopen must not read every row twice); a damaged row loaded
   * this way is found by verify, and compact rebuilds the index from CRC-checked reads.
   */
  externalVectors(): ExternalVectors {
    // Rows are not CRC-checked here, so a generation switch (compaction) cannot be noticed on the way: check it first.
    this.#followGeneration();
    const file = this.#c.vectors;
    const end = this.committedSlots();
    return {
      dim: this.#meta.dim,
      end,
      readRows: (first: number, count: number, dst: Float32Array): void => {
        const got = file.readRows(first, count, dst);
        if (got < count) dst.fill(NaN, got * this.#meta.dim, count * this.#meta.dim);
      },
    };
  }

  vectorFileStats(): { bytes: number; rows: number } {
    return { bytes: this.#c.vectors.bytes, rows: this.committedSlots() };
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
    // The rows themselves are checked record by record (scan with vectors: vectorProblem); here the file as a whole.
    const file = this.#c.vectors;
    const next = this.committedSlots();
    if (file.present && file.headerProblem !== undefined) problems.push(file.headerProblem);
    if (!file.present) {
      if (await this.count() > 0) problems.push(`vector file ${file.path} is missing`);
    } else if (file.rows < next) {
      const last = this.#c.r.prepare(`SELECT max(slot) FROM ${records}`).pluck().get() as number | null;
      if (last !== null && last >= file.rows) problems.push(`vector file ${file.path} is short: it holds ${file.rows} rows, the records reach slot ${last}`);
    }
    return problems;
  }

  /**
   * Rewrites the vector file without holes (docs/db.md, "Vectors stored once"): the live rows, in
   * slot order, go to the next generation's file, which is fsynced; then one transaction renumbers
   * the records 0 … n−1 (ascending, so no two rows ever share a slot), rebuilds the full-text index
   * (its rowids are the slots), drops every tombstone, and commits a change whose number becomes the
   * tombstone floor, the collection's `next_slot` = n and `vec_gen` = the new generation: every
   * index state and snapshot from before is void (the caller rebuilds the index at that change).
   * A crash before the commit leaves the old generation in use (the new file is removed at the next
   * open); after it, the old file is removed (now, or at the next open). Returns the change number,
   * or undefined when there was no hole.
   */
  async compactVectors(): Promise<number | undefined> {
    const w = this.#c.w;
    const { records: r, tombs: t, fts } = this.#t;
    const cid = this.#meta.cid;
    const file = this.#c.vectors;
    const rowBytes = this.#meta.dim * 4;
    w.exec('BEGIN IMMEDIATE');
    let newPath: string | undefined;
    try {
      const head = w.prepare('SELECT seq, next_slot, vec_gen FROM collections WHERE cid = ?').get(cid) as { seq: number; next_slot: number; vec_gen: number };
      const live = w.prepare(`SELECT slot FROM ${r} ORDER BY slot`).pluck().all() as number[];
      if (live.length === head.next_slot) {
        w.exec('ROLLBACK');
        return undefined;
      }
      const gen = head.vec_gen + 1;
      const seq = head.seq + 1;
      newPath = vectorFilePath(this.#c.dir, cid, gen);
      const next = VectorFile.open(newPath, this.#meta.dim, cid, { readOnly: false, create: true }, gen);
      try {
        next.truncate(0); // a left-over of a compaction that crashed before its commit
        const buf = new Float32Array(8192 * this.#meta.dim);
        let out = 0;
        let i = 0;
        while (i < live.length) {
          // Runs of consecutive slots, at most a buffer at a time: one read, one write each.
          let j = i + 1;
          while (j < live.length && j - i < 8192 && live[j] === live[j - 1]! + 1) j++;
          const view = buf.subarray(0, (j - i) * this.#meta.dim);
          const got = file.readRows(live[i]!, j - i, view);
          // Rows the old file lacks stay missing (NaN bytes whose CRC does not match): verify keeps naming them.
          if (got < j - i) view.fill(NaN, got * this.#meta.dim);
          next.writeRows(out, new Uint8Array(view.buffer, 0, (j - i) * rowBytes));
          out += j - i;
          i = j;
        }
        next.sync();
      } finally {
        next.close();
      }
      syncDir(this.#c.dir + '/vectors');
      const move = w.prepare(`UPDATE ${r} SET slot = ? WHERE slot = ?`);
      for (let k = 0; k < live.length; k++) if (live[k] !== k) move.run(k, live[k]);
      w.exec(`INSERT INTO ${fts}(${fts}) VALUES ('rebuild')`);
      w.prepare(`DELETE FROM ${t}`).run();
      w.prepare(`UPDATE ${r} SET vseq = ?`).run(seq);
      w.prepare('UPDATE collections SET seq = ?, tomb_floor = ?, next_slot = ?, vec_gen = ? WHERE cid = ?').run(seq, seq, live.length, gen, cid);
      w.exec('COMMIT');
      const old = file.path;
      file.switchTo(newPath, gen);
      try { unlinkSync(old); } catch { /* removed at the next open */ }
      return seq;
    } catch (e) {
      if (w.inTransaction) w.exec('ROLLBACK');
      if (newPath !== undefined) try { unlinkSync(newPath); } catch { /* removed at the next open */ }
      throw e;
    }
  }

  async write<T>(fn: (w: RecordWriter) => Promise<T>): Promise<T> {
    const w = this.#c.w;
    w.exec('BEGIN IMMEDIATE');
    try {
      const writer = this.writer();
      const out = await fn(writer);
      writer.commitHead();
      // The vector rows are durable before the commit that references them (durability 'full').
      const synced = writer.syncVectors();
      if (synced !== undefined) await synced;
      w.exec('COMMIT');
      if (writer.inPlace.length > 0) {
        this.#inPlace.push({ seq: writer.seq, slots: writer.inPlace });
        if (this.#inPlace.length > IN_PLACE_LOG) this.#inPlace.shift();
      }
      return out;
    } catch (e) {
      if (w.inTransaction) w.exec('ROLLBACK');
      throw e;
    }
  }

  /**
   * @internal The writes of the open transaction (`write`, and createCollection's fill). Its change
   * number and first free slot are read inside the transaction (BEGIN IMMEDIATE holds the
   * database's write lock); `commitHead` stores them when anything changed and, with durability
   * 'full', fdatasyncs the vector file: the caller COMMITs right after, so the rows a commit
   * references are durable before it.
   *
   * Every row that gets a vector gets a new slot (slots are never reused, so a committed row of the
   * vector file never changes): `add` takes the next ones; `upsert` of a stored id and `update`
   * with a vector delete the old row (its slot gets a tombstone, as a delete) and insert the record
   * at a new slot; `update` without a vector keeps the slot. A chunk's new slots are consecutive,
   * so its vectors go to the file in one positional write.
   */
  writer(): RecordWriter & { commitHead(): void; inPlace: number[]; syncVectors(): Promise<void> | undefined } {
    const r = this.#t.records;
    const meta = this.#meta;
    const cw = this.#c.w;
    const file = this.#c.vectors;
    const rowBytes = meta.dim * 4;
    const head = cw.prepare('SELECT seq, next_slot FROM collections WHERE cid = ?').get(meta.cid) as { seq: number; next_slot: number };
    const seq = head.seq + 1;
    const firstSlot = head.next_slot;
    let next = firstSlot;
    let touched = false;
    let options: CollectionOptions | undefined;
    const tomb = (): BetterSqlite3.Statement => this.#stmt('tomb', () => `INSERT INTO ${this.#t.tombs}(slot, seq) VALUES (?, ?)`, 'w');
    const inPlace: number[] = [];
    let syncNeeded = false;
    return {
      seq,
      inPlace,
      syncVectors: (): Promise<void> | undefined => (syncNeeded ? file.syncAsync() : undefined),
      commitHead: (): void => {
        if (options !== undefined) cw.prepare('UPDATE collections SET options = ? WHERE cid = ?').run(JSON.stringify(options), meta.cid);
        if (touched) cw.prepare('UPDATE collections SET seq = ? WHERE cid = ?').run(seq, meta.cid);
        if (next !== firstSlot) {
          cw.prepare('UPDATE collections SET next_slot = ? WHERE cid = ?').run(next, meta.cid);
          if (this.#c.sync) syncNeeded = true;
        }
      },
      writeRows: async (mode: WriteMode, chunk: RowsToWrite): Promise<Uint32Array> => {
        if (chunk.rows.length > 0) touched = true;
        const insert = this.#stmt('ins', () => `INSERT INTO ${r}(slot, id, vcrc, document, metadata, sparse, multivector, vseq) VALUES (?, ?, ?, ?, jsonb(?), ?, ?, ?)`, 'w');
        const old = this.#stmt('old', () => `SELECT slot, vseq, document, metadata, sparse, multivector FROM ${r} WHERE id = ?`, 'w');
        const del = this.#stmt('delSlot', () => `DELETE FROM ${r} WHERE slot = ?`, 'w');
        const update = this.#stmt('upd', () => `UPDATE ${r} SET
          document = CASE WHEN @hd THEN @document ELSE document END,
          metadata = CASE WHEN @hm THEN jsonb(@metadata) ELSE metadata END,
          sparse = CASE WHEN @hs THEN @sparse ELSE sparse END,
          multivector = CASE WHEN @hmv THEN @mv ELSE multivector END,
          vseq = CASE WHEN @hs OR @hmv THEN @seq ELSE vseq END
          WHERE slot = @slot`, 'w');
        const { rows, sparse, first } = chunk;
        // Inserts go out INSERT_BATCH rows a statement (one statement per row cost ~2× the SQLite
        // time of a flat import, bench:db section 2); a batch that fails is atomic and is replayed
        // row by row to name the row at fault.
        const insertMany = this.#stmt('insMany', () => `INSERT INTO ${r}(slot, id, vcrc, document, metadata, sparse, multivector, vseq) VALUES ${Array(INSERT_BATCH).fill('(?, ?, ?, ?, jsonb(?), ?, ?, ?)').join(', ')}`, 'w');
        const queued: unknown[] = [];
        const queuedAt: number[] = [];
        const insertOne = (k: number): void => {
          const p = queued.slice(k * 8, k * 8 + 8);
          try {
            insert.run(...p);
          } catch (e) {
            if (!isUniqueError(e)) throw e;
            const id = p[1] as string;
            const at = first + queuedAt[k]!;
            // Stamped with this call's change number: written earlier in this same call.
            const vseq = this.#stmt('vseqOf', () => `SELECT vseq FROM ${r} WHERE id = ?`, 'w').pluck().get(id);
            if (vseq === seq) throw duplicateId(mode, id, undefined, at);
            throw new OmnivecError('already_exists', `add[${at}].id: a record with id ${JSON.stringify(id)} already exists in "${meta.name}"; use upsert to replace it`, { id });
          }
        };
        const flush = (): void => {
          const n = queuedAt.length;
          if (n === INSERT_BATCH) {
            try {
              insertMany.run(...queued);
            } catch (e) {
              if (!isUniqueError(e)) throw e;
              for (let k = 0; k < n; k++) insertOne(k);
            }
          } else {
            for (let k = 0; k < n; k++) insertOne(k);
          }
          queued.length = 0;
          queuedAt.length = 0;
        };
        const slots = new Uint32Array(rows.length);
        const base = next;
        let withVector = 0;
        for (const row of rows) if (row.vector !== undefined) withVector++;
        const buf = Buffer.allocUnsafe(withVector * rowBytes);
        for (let i = 0; i < rows.length; i++) {
          const row = rows[i]!;
          const mv = row.multiVector ? Buffer.from(row.multiVector.data.buffer, row.multiVector.data.byteOffset, row.multiVector.data.byteLength) : row.multiVector;
          let document = row.document ?? null;
          let metadata: string | Buffer | null = row.metadata ?? null;
          let sp = sparse[i] ?? null;
          let multi = mv ?? null;
          if (mode !== 'add') {
            const was = old.get(row.id) as { slot: number; vseq: number; document: string | null; metadata: Buffer | null; sparse: string | null; multivector: Buffer | null } | undefined;
            if (was === undefined && mode === 'update') {
              throw new OmnivecError('not_found', `update[${first + i}].id: no record with id ${JSON.stringify(row.id)} in "${meta.name}"`, { id: row.id });
            }
            if (was !== undefined) {
              // Written earlier in this call (the slot it was moved to carries this change number).
              if (was.vseq === seq && was.slot >= firstSlot) throw duplicateId(mode, row.id, undefined, first + i);
              if (mode === 'update' && row.vector === undefined) {
                update.run({
                  hd: row.document !== undefined ? 1 : 0, document,
                  hm: row.metadata !== undefined ? 1 : 0, metadata,
                  hs: sparse[i] !== undefined ? 1 : 0, sparse: sp,
                  hmv: mv !== undefined ? 1 : 0, mv: multi,
                  seq, slot: was.slot,
                });
                inPlace.push(was.slot);
                slots[i] = was.slot;
                continue;
              }
              if (mode === 'update') {
                // The fields not given are kept (metadata as its stored JSONB: jsonb() passes it through).
                if (row.document === undefined) document = was.document;
                if (row.metadata === undefined) metadata = was.metadata;
                if (sparse[i] === undefined) sp = was.sparse;
                if (mv === undefined) multi = was.multivector;
              }
              del.run(was.slot);
              tomb().run(was.slot, seq);
            }
          }
          const slot = next++;
          const v = row.vector!;
          v.copy(buf, (slot - base) * rowBytes);
          queued.push(slot, row.id, rowCrc(v), document, metadata, sp, multi, seq);
          queuedAt.push(i);
          if (queuedAt.length === INSERT_BATCH) flush();
          slots[i] = slot;
        }
        flush();
        if (next > base) file.writeRows(base, buf);
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
