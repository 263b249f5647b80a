/**
 * The embedded record store: a directory holding `omnivec.sqlite` (WAL mode) and `indexes/` for
 * the index snapshots, written by one process at a time (the LOCK file). Implements the contract of
 * ../types.ts; the catalogue is the `collections` table, each collection's records are
 * `SqliteRecords` (docs/db.md, docs/file-format.md).
 */
import { ScanPool } from './scan-pool.js';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Sqlite3 from 'better-sqlite3';
import { OmnivecError, describe } from '../../../errors.js';
import type { Metric } from '../../../vector/metric.js';
import { acquireLock } from '../../lock.js';
import type { CollectionIndexSpec } from '../../index-spec.js';
import type { CollectionMeta, CollectionOptions, EncoderSpec } from '../../types.js';
import type { CollectionRecords, NewCollection, RecordStore, RecordWriter } from '../types.js';
import { DB_FILE, INDEX_DIR, initSchema, createCollectionTables, dropCollectionTables, tables, type Sqlite } from './schema.js';
import { dropFieldIndexTables } from './field-index-sql.js';
import { SqliteRecords } from './sqlite-records.js';
import { migrateV1 } from './migrate-v1.js';
import { VECTOR_DIR, VECTOR_FILE_NAME, VectorFile, vectorFilePath } from './vector-file.js';

// Lets a read-only directory be opened through an `immutable` URI (see immutableUri). SQLite reads
// this setting once, when better-sqlite3 opens its first database in the process; a caller's own
// choice ("0") is kept. Our paths are absolute, so none of them starts with "file:".
process.env.SQLITE_USE_URI ??= '1';

export interface SqliteStoreOptions {
  /** Open without the writer lock; writes are refused and reads follow the writer's commits. */
  readOnly?: boolean;
  /** 'full' (default): fsync at each commit; 'normal': the last commits may be lost on power loss. */
  durability?: 'full' | 'normal';
  /** Create the directory and database when missing (default true; false for read-only). */
  create?: boolean;
  /** Scan reader threads for filter scans and full text (OpenOptions.scanThreads; default 0: none). */
  scanThreads?: number;
}

/** True when `dir` holds an omnivec database file. */
export function hasDatabaseFile(dir: string): boolean {
  return existsSync(join(resolve(dir), DB_FILE));
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * `file:…?immutable=1` for a database in a directory this process cannot write. Immutable means
 * SQLite assumes nobody changes the file while it is open, so it is refused while a writer has the
 * database open (its WAL file is there).
 */
function immutableUri(dir: string, file: string): string {
  if (existsSync(`${file}-wal`) && statSync(`${file}-wal`).size > 0) {
    throw new OmnivecError('read_only',
      `database ${dir}: the directory is not writable by this user and a writer has the database open (${DB_FILE}-wal is there); read it as a user who can write the directory, or after the writer closes`);
  }
  if (process.env.SQLITE_USE_URI === '0') {
    throw new OmnivecError('read_only', `database ${dir}: the directory is not writable by this user; reading it needs SQLite URIs, which SQLITE_USE_URI=0 turns off`);
  }
  return `file:${file.split('/').map(encodeURIComponent).join('/')}?immutable=1`;
}

interface CatalogueRow {
  cid: number;
  name: string;
  dim: number;
  metric: Metric;
  index_spec: string;
  encoder: string | null;
  options: string;
  seq: number;
  tomb_floor: number;
  created: string;
}

function toMeta(row: CatalogueRow): CollectionMeta {
  return {
    cid: row.cid, name: row.name, dim: row.dim, metric: row.metric,
    indexSpec: JSON.parse(row.index_spec) as CollectionIndexSpec,
    encoder: row.encoder === null ? null : JSON.parse(row.encoder) as EncoderSpec,
    options: JSON.parse(row.options) as CollectionOptions,
    seq: row.seq, tombFloor: row.tomb_floor, created: row.created,
  };
}

export class SqliteStore implements RecordStore {
  readonly location: string;
  readonly readOnly: boolean;
  readonly indexDir: string;
  readonly #w: Sqlite;
  readonly #r: Sqlite;
  readonly #release: (() => void) | undefined;
  readonly #sync: boolean;
  /** The open vector files, by collection number. */
  readonly #files = new Map<number, VectorFile>();
  #closed = false;

  readonly #scans: ScanPool | undefined;

  private constructor(dir: string, w: Sqlite, r: Sqlite, readOnly: boolean, release: (() => void) | undefined, sync: boolean, scans: ScanPool | undefined) {
    this.#scans = scans;
    this.location = dir;
    this.#sync = sync;
    this.readOnly = readOnly;
    this.indexDir = join(dir, INDEX_DIR);
    this.#w = w;
    this.#r = r;
    this.#release = release;
  }

  /** Opens (creating when allowed) the store in `dir`. */
  static open(dir: string, options: SqliteStoreOptions = {}): SqliteStore {
    if (typeof dir !== 'string' || dir.length === 0) throw new OmnivecError('invalid_argument', `openDatabase: expected a directory path, got ${describe(dir)}`);
    const readOnly = options.readOnly === true;
    const create = options.create ?? !readOnly;
    const durability = options.durability ?? 'full';
    const scanThreads = options.scanThreads ?? 0;
    if (!Number.isInteger(scanThreads) || scanThreads < 0 || scanThreads > 64) {
      throw new OmnivecError('invalid_argument', `scanThreads: expected an integer from 0 to 64, got ${describe(scanThreads)}`);
    }
    if (durability !== 'full' && durability !== 'normal') throw new OmnivecError('invalid_argument', `durability: expected "full" or "normal", got ${describe(durability)}`);
    const abs = resolve(dir);
    const file = join(abs, DB_FILE);
    if (!existsSync(file)) {
      if (!create) throw new OmnivecError('not_found', `database ${abs}: no ${DB_FILE} there; create one by opening it for writing (or omnivec create)`);
      if (existsSync(abs) && !statSync(abs).isDirectory()) throw new OmnivecError('invalid_argument', `database ${abs}: expected a directory, got a file`);
      mkdirSync(abs, { recursive: true });
    }
    if (!readOnly && !writable(abs)) {
      throw new OmnivecError('read_only',
        `database ${abs}: the directory is not writable by this user, so it cannot be opened for writing; read-only access works ({ readOnly: true }, the CLI's read commands)`);
    }
    const release = readOnly ? undefined : acquireLock(abs);
    let w: Sqlite | undefined;
    let r: Sqlite | undefined;
    try {
      if (!readOnly) mkdirSync(join(abs, INDEX_DIR), { recursive: true });
      // A read-only directory (a mounted backup, another user's files): SQLite cannot create the
      // WAL's -shm file there, so read through an immutable view when no writer has it open.
      const source = readOnly && !writable(abs) ? immutableUri(abs, file) : file;
      w = new Sqlite3(source, { readonly: readOnly, fileMustExist: readOnly });
      if (!readOnly) {
        w.pragma('journal_mode = WAL');
        w.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
        // A larger page cache keeps a big import's dirty pages in memory until the commit
        // instead of spilling them to the WAL part-way (measured in bench:db's flat import).
        w.pragma('cache_size = -65536');
      }
      w.pragma('busy_timeout = 5000');
      if (initSchema(w, abs) === 1) {
        if (readOnly) {
          throw new OmnivecError('read_only',
            `database ${abs}: written by an older omnivec (schema version 1, vectors inside the SQLite rows); open it once for writing (any write command, or openDatabase without readOnly) to migrate it to version 2, then read-only opens work`);
        }
        migrateV1(w, abs);
      }
      if (!readOnly) removeOrphanVectorFiles(w, abs);
      r = new Sqlite3(source, { readonly: true, fileMustExist: true });
      r.pragma('busy_timeout = 5000');
      // Queries fetch their hits' rows at random slots: a bigger page cache and memory-mapped
      // reads turn those page reads from pread calls into memory accesses (measured in bench:db:
      // the id lookup of a 10-hit query went from ~100 µs to ~15 µs at 100k records).
      r.pragma('cache_size = -65536');
      r.pragma('mmap_size = 1073741824');
      const scans = scanThreads > 0 ? new ScanPool(source, scanThreads) : undefined;
      return new SqliteStore(abs, w, r, readOnly, release, durability === 'full', scans);
    } catch (e) {
      r?.close();
      w?.close();
      release?.();
      if (e instanceof OmnivecError) throw e;
      const code = (e as { code?: string }).code ?? '';
      if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
        throw new OmnivecError('corrupt_file', `database ${abs}: ${DB_FILE} is not a readable SQLite database (${(e as Error).message})`);
      }
      throw e;
    }
  }

  /** The vector file of a collection (created by createCollection; a read-only handle opens it when it appears). */
  #file(cid: number, dim: number, create = false): VectorFile {
    let f = this.#files.get(cid);
    if (f === undefined) {
      const gen = create ? 0 : (this.#r.prepare('SELECT vec_gen FROM collections WHERE cid = ?').pluck().get(cid) as number | undefined) ?? 0;
      f = VectorFile.open(vectorFilePath(this.location, cid, gen), dim, cid, { readOnly: this.readOnly, create }, gen);
      this.#files.set(cid, f);
    }
    return f;
  }

  #records(meta: CollectionMeta, w: Sqlite = this.#w): SqliteRecords {
    return new SqliteRecords({ w, r: this.#r, vectors: this.#file(meta.cid, meta.dim), sync: this.#sync, dir: this.location, ...(this.#scans !== undefined ? { scans: this.#scans } : {}) }, meta);
  }

  #row(name: string): CatalogueRow | undefined {
    return this.#r.prepare('SELECT * FROM collections WHERE name = ?').get(name) as CatalogueRow | undefined;
  }

  async listCollections(): Promise<CollectionMeta[]> {
    return (this.#r.prepare('SELECT * FROM collections ORDER BY name').all() as CatalogueRow[]).map(toMeta);
  }

  async findCollection(name: string): Promise<CollectionMeta | undefined> {
    const row = this.#row(name);
    return row === undefined ? undefined : toMeta(row);
  }

  async head(cid: number): Promise<Pick<CollectionMeta, 'seq' | 'tombFloor' | 'options'> | undefined> {
    const row = this.#r.prepare('SELECT seq, tomb_floor, options FROM collections WHERE cid = ?').get(cid) as
      { seq: number; tomb_floor: number; options: string } | undefined;
    return row === undefined ? undefined : { seq: row.seq, tombFloor: row.tomb_floor, options: JSON.parse(row.options) as CollectionOptions };
  }

  async createCollection<T>(c: NewCollection, fill?: (records: CollectionRecords, w: RecordWriter) => Promise<T>): Promise<{ meta: CollectionMeta; filled: T | undefined }> {
    const w = this.#w;
    if (this.#row(c.name) !== undefined) throw new OmnivecError('already_exists', `collection "${c.name}" already exists in ${this.location}`, { name: c.name });
    w.exec('BEGIN IMMEDIATE');
    try {
      const cid = Number(w.prepare(`INSERT INTO collections(name, dim, metric, index_spec, encoder, options, created) VALUES (?, ?, ?, ?, ?, ?, ?)`)
        .run(c.name, c.dim, c.metric, JSON.stringify(c.indexSpec), c.encoder === null ? null : JSON.stringify(c.encoder),
          JSON.stringify(c.options), c.created).lastInsertRowid);
      try {
        createCollectionTables(w, cid, c.options.tokenize);
      } catch (e) {
        if (/tokenizer/i.test((e as Error).message)) throw new OmnivecError('invalid_argument', `tokenize: ${(e as Error).message}`);
        throw e;
      }
      // The row as the writer sees it: the read connection sees it only after the commit.
      const meta = toMeta(w.prepare('SELECT * FROM collections WHERE cid = ?').get(cid) as CatalogueRow);
      // Created before the commit that names the collection (a crash in between leaves a file no
      // collection names: removed at the next writable open; cids are never reused).
      this.#file(cid, c.dim, true);
      let filled: T | undefined;
      if (fill !== undefined) {
        const records = this.#records(meta);
        const writer = records.writer();
        filled = await fill(records, writer);
        writer.commitHead();
        const synced = writer.syncVectors();
        if (synced !== undefined) await synced;
      }
      w.exec('COMMIT');
      return { meta: toMeta(this.#r.prepare('SELECT * FROM collections WHERE cid = ?').get(cid) as CatalogueRow), filled };
    } catch (e) {
      if (w.inTransaction) w.exec('ROLLBACK');
      throw e;
    }
  }

  async dropCollection(cid: number): Promise<void> {
    const w = this.#w;
    w.exec('BEGIN IMMEDIATE');
    try {
      w.prepare('DELETE FROM collections WHERE cid = ?').run(cid);
      dropFieldIndexTables(w, cid, tables(cid).records);
      dropCollectionTables(w, cid);
      w.exec('COMMIT');
    } catch (e) {
      if (w.inTransaction) w.exec('ROLLBACK');
      throw e;
    }
    const f = this.#files.get(cid);
    f?.close();
    this.#files.delete(cid);
    try { unlinkSync(f?.path ?? vectorFilePath(this.location, cid)); } catch { /* removed at the next open */ }
  }

  records(meta: CollectionMeta): CollectionRecords {
    return this.#records(meta);
  }

  async check(): Promise<string[]> {
    const check = this.#r.prepare('PRAGMA quick_check').pluck().all() as string[];
    return check.length === 1 && check[0] === 'ok' ? [] : check.map((x) => `sqlite: ${x}`);
  }

  async reclaim(): Promise<void> {
    this.#w.exec('VACUUM');
    this.#w.pragma('wal_checkpoint(TRUNCATE)');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.readOnly) {
      try { this.#w.pragma('wal_checkpoint(TRUNCATE)'); } catch { /* best effort */ }
    }
    for (const f of this.#files.values()) f.close();
    this.#files.clear();
    await this.#scans?.close();
    this.#r.close();
    this.#w.close();
    this.#release?.();
  }
}

/**
 * Vector files no committed collection names at its current generation: a crash between a file's
 * creation and its collection's commit, a drop, or a compaction (the new generation before its
 * commit, the old one after it).
 */
function removeOrphanVectorFiles(w: Sqlite, dir: string): void {
  let names: string[];
  try { names = readdirSync(join(dir, VECTOR_DIR)); } catch { return; }
  const live = new Map((w.prepare('SELECT cid, vec_gen FROM collections').raw().all() as [number, number][]));
  for (const name of names) {
    const m = VECTOR_FILE_NAME.exec(name);
    if (m !== null && live.get(Number(m[1])) !== Number(m[2] ?? 0)) {
      try { unlinkSync(join(dir, VECTOR_DIR, name)); } catch { /* next time */ }
    }
  }
}
