import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { rm, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import Sqlite3 from 'better-sqlite3';
import { OmnivecError, describe } from '../errors.js';
import { parseMetric, type Metric } from '../vector/metric.js';
import { checkDim } from '../vector/batch.js';
import { acquireLock } from './lock.js';
import { checkCollectionName } from './names.js';
import { Mutex } from './mutex.js';
import { DB_FILE, INDEX_DIR, initSchema, createCollectionTables, dropCollectionTables, type Sqlite } from './schema.js';
import { Collection, type CollectionRow, type CollectionInfo, type CompactOptions, type CompactReport, type DbContext, type EncoderSpec, type StoredWrite, type VerifyReport, type WriteOptions } from './collection.js';
import type { RecordsInput } from './records.js';
import { parseIndexSpec, listSnapshots, removeTempFiles } from './index-state.js';

export interface OpenOptions {
  /** Open without the writer lock; writes are refused and reads follow the writer's commits. */
  readOnly?: boolean;
  /**
   * 'full' (default): every acknowledged write is on disk (fsync at each commit). 'normal': the
   * last commits may be lost on power loss (never on a process crash); faster small writes.
   */
  durability?: 'full' | 'normal';
  /** Create the directory and database when missing (default true; false for read-only). */
  create?: boolean;
}

export interface CreateCollectionOptions {
  name: string;
  dim: number;
  /** Default 'cosine'. */
  metric?: Metric;
  /** 'auto' (default), 'flat', 'ivf', 'hnsw', or { kind, ...parameters }. */
  index?: unknown;
  /** The encoder bound to the collection; its `dim` (when given) must equal `dim`. */
  encoder?: EncoderSpec;
  /** Matryoshka funnel: index only the first `indexDims` components; re-rank with all of them. */
  indexDims?: number;
  /** FTS5 tokenizer for documents. Default 'porter unicode61 remove_diacritics 2'. */
  tokenize?: string;
  /**
   * Records to add in the same transaction as the creation (LanceDB's `createTable(name, data)`):
   * when one is refused, the collection is not created either (docs/hardening.md §7).
   */
  records?: RecordsInput;
  /** Progress of storing and indexing `records`. */
  onProgress?: WriteOptions['onProgress'];
}


// Lets a read-only directory be opened through an `immutable` URI (see immutableUri). SQLite reads
// this setting once, when better-sqlite3 opens its first database in the process; a caller's own
// choice ("0") is kept. Our paths are absolute, so none of them starts with "file:".
process.env.SQLITE_USE_URI ??= '1';

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

/**
 * A database: a directory holding the records (SQLite) and the index snapshots. One process
 * writes at a time (the LOCK file); share one Database object within a process.
 */
export class Database {
  readonly dir: string;
  readonly readOnly: boolean;
  #ctx: DbContext;
  #release: (() => void) | undefined;
  #collections = new Map<string, Collection>();
  #closed = false;

  private constructor(dir: string, ctx: DbContext, release: (() => void) | undefined) {
    this.dir = dir;
    this.readOnly = ctx.readOnly;
    this.#ctx = ctx;
    this.#release = release;
  }

  /** Opens (creating when allowed) the database in `dir`. */
  static async open(dir: string, options: OpenOptions = {}): Promise<Database> {
    if (typeof dir !== 'string' || dir.length === 0) throw new OmnivecError('invalid_argument', `openDatabase: expected a directory path, got ${describe(dir)}`);
    const readOnly = options.readOnly === true;
    const create = options.create ?? !readOnly;
    const durability = options.durability ?? 'full';
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
      const indexDir = join(abs, INDEX_DIR);
      if (!readOnly) mkdirSync(indexDir, { recursive: true });
      try {
        // A read-only directory (a mounted backup, another user's files): SQLite cannot create the
        // WAL's -shm file there, so read through an immutable view when no writer has it open.
        const source = readOnly && !writable(abs) ? immutableUri(abs, file) : file;
        w = new Sqlite3(source, { readonly: readOnly, fileMustExist: readOnly });
        if (!readOnly) {
          w.pragma('journal_mode = WAL');
          w.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
          // A larger page cache keeps a big import's dirty pages in memory until the commit
          // instead of spilling them to the WAL part-way (measured below in bench:db's flat import).
          w.pragma('cache_size = -65536');
        }
        w.pragma('busy_timeout = 5000');
        initSchema(w, abs);
        r = new Sqlite3(source, { readonly: true, fileMustExist: true });
        r.pragma('busy_timeout = 5000');
        // Queries fetch their hits' rows at random slots: a bigger page cache and memory-mapped
        // reads turn those page reads from pread calls into memory accesses (measured in bench:db:
        // the id lookup of a 10-hit query went from ~100 µs to ~15 µs at 100k records).
        r.pragma('cache_size = -65536');
        r.pragma('mmap_size = 1073741824');
      } catch (e) {
        if (e instanceof OmnivecError) throw e;
        const code = (e as { code?: string }).code ?? '';
        if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
          throw new OmnivecError('corrupt_file', `database ${abs}: ${DB_FILE} is not a readable SQLite database (${(e as Error).message})`);
        }
        throw e;
      }
      const ctx: DbContext = { dir: abs, indexDir, w, r, readOnly, mutex: new Mutex() };
      const db = new Database(abs, ctx, release);
      if (!readOnly) await db.#cleanFiles();
      return db;
    } catch (e) {
      r?.close();
      w?.close();
      release?.();
      throw e;
    }
  }

  /** Deletes temp files of interrupted snapshot writes and snapshots of dropped collections. */
  async #cleanFiles(): Promise<void> {
    await removeTempFiles(this.#ctx.indexDir);
    const live = new Set(this.#ctx.w.prepare('SELECT cid FROM collections').pluck().all() as number[]);
    for (const s of await listSnapshots(this.#ctx.indexDir)) if (!live.has(s.cid)) await unlink(s.path).catch(() => undefined);
  }

  #open(): void {
    if (this.#closed) throw new OmnivecError('invalid_argument', `database ${this.dir}: it is closed`);
  }

  #row(name: string): CollectionRow | undefined {
    return this.#ctx.r.prepare('SELECT * FROM collections WHERE name = ?').get(name) as CollectionRow | undefined;
  }

  /** Creates a collection; `already_exists` when the name is taken. */
  async createCollection(options: CreateCollectionOptions): Promise<Collection> {
    this.#open();
    if (this.readOnly) throw new OmnivecError('read_only', `database ${this.dir}: open read-only; cannot create a collection`);
    if (options === null || typeof options !== 'object') throw new OmnivecError('invalid_argument', `createCollection: expected { name, dim, metric?, index? }, got ${describe(options)}`);
    const name = checkCollectionName(options.name);
    checkDim(options.dim);
    const metric = options.metric === undefined ? 'cosine' : parseMetric(options.metric);
    const index = parseIndexSpec(options.index, options.indexDims ?? options.dim, metric);
    if (options.encoder !== undefined) {
      const e = options.encoder;
      if (e === null || typeof e !== 'object' || typeof e.model !== 'string' || e.model.length === 0) {
        throw new OmnivecError('invalid_argument', `encoder: expected { model: string, dim?, ... }, got ${describe(e)}`);
      }
      if (e.dim !== undefined && e.dim !== options.dim) {
        throw new OmnivecError('dimension_mismatch', `encoder.dim: the encoder "${e.model}" makes ${e.dim}-d vectors, the collection is ${options.dim}-d`);
      }
    }
    if (options.indexDims !== undefined) {
      const d = options.indexDims;
      if (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d > options.dim) {
        throw new OmnivecError('invalid_argument', `indexDims: expected an integer from 1 to ${options.dim} (the dimension), got ${describe(d)}`);
      }
    }
    const tokenize = options.tokenize ?? 'porter unicode61 remove_diacritics 2';
    if (typeof tokenize !== 'string' || !/^[A-Za-z0-9_ "'.-]+$/.test(tokenize)) throw new OmnivecError('invalid_argument', `tokenize: expected an FTS5 tokenizer such as "unicode61" or "trigram", got ${describe(tokenize)}`);
    if (options.records !== undefined && (options.records === null || typeof options.records !== 'object')) {
      throw new OmnivecError('invalid_argument', `createCollection.records: expected records (an array or iterable of { id, vector, ... }, or { ids, vectors, ... }), got ${describe(options.records)}`);
    }
    const onProgress = options.onProgress;
    return this.#ctx.mutex.run(async () => {
      const w = this.#ctx.w;
      if (this.#row(name) !== undefined) throw new OmnivecError('already_exists', `collection "${name}" already exists in ${this.dir}`, { name });
      const opts = { tokenize, ...(options.indexDims !== undefined && options.indexDims !== options.dim ? { indexDims: options.indexDims } : {}) };
      let c: Collection;
      let stored: StoredWrite | undefined;
      w.exec('BEGIN IMMEDIATE');
      try {
        const cid = Number(w.prepare(`INSERT INTO collections(name, dim, metric, index_spec, encoder, options, created) VALUES (?, ?, ?, ?, ?, ?, ?)`)
          .run(name, options.dim, metric, JSON.stringify(index), options.encoder === undefined ? null : JSON.stringify(options.encoder),
            JSON.stringify(opts), new Date().toISOString()).lastInsertRowid);
        try {
          createCollectionTables(w, cid, tokenize);
        } catch (e) {
          if (/tokenizer/i.test((e as Error).message)) throw new OmnivecError('invalid_argument', `tokenize: ${(e as Error).message}`);
          throw e;
        }
        // The row as the writer sees it: the read connection sees it only after the commit.
        c = new Collection(this.#ctx, w.prepare('SELECT * FROM collections WHERE cid = ?').get(cid) as CollectionRow);
        if (options.records !== undefined) {
          c.initEmptyIndex();
          stored = await c.storeInTransaction('add', options.records, { onProgress });
        }
        w.exec('COMMIT');
      } catch (e) {
        if (w.inTransaction) w.exec('ROLLBACK');
        throw e;
      }
      this.#collections.set(name, c);
      if (stored !== undefined) await c.afterCommit(stored, { onProgress });
      return c;
    });
  }

  /** The collection named `name`; `not_found` (listing the names there are) when missing. */
  getCollection(name: string): Collection {
    this.#open();
    const have = this.#collections.get(name);
    if (have !== undefined) {
      if (this.readOnly && this.#row(name)?.cid !== have.cid) this.#collections.delete(name);
      else return have;
    }
    const row = this.#row(name);
    if (row === undefined) {
      const names = this.listCollections().map((c) => c.name);
      throw new OmnivecError('not_found', `collection ${JSON.stringify(name)} not found in ${this.dir}; ${names.length === 0 ? 'there are none' : `there are: ${names.join(', ')}`}`, { name });
    }
    const c = new Collection(this.#ctx, row);
    this.#collections.set(name, c);
    return c;
  }

  async getOrCreateCollection(options: CreateCollectionOptions): Promise<Collection> {
    if (this.#row(options?.name) !== undefined) {
      const c = this.getCollection(options.name);
      if (c.dim !== options.dim) throw new OmnivecError('dimension_mismatch', `collection "${c.name}" is ${c.dim}-d, asked for ${options.dim}-d`);
      return c;
    }
    return this.createCollection(options);
  }

  hasCollection(name: string): boolean {
    return this.#row(name) !== undefined;
  }

  /** Name, dim, metric, index and count of every collection. */
  listCollections(): CollectionInfo[] {
    this.#open();
    const rows = this.#ctx.r.prepare('SELECT name FROM collections ORDER BY name').pluck().all() as string[];
    return rows.map((n) => this.getCollection(n).info());
  }

  /** Deletes a collection, its records and its index snapshots. */
  async dropCollection(name: string): Promise<void> {
    this.#open();
    if (this.readOnly) throw new OmnivecError('read_only', `database ${this.dir}: open read-only; cannot drop a collection`);
    const c = this.getCollection(name);
    await this.#ctx.mutex.run(async () => {
      const w = this.#ctx.w;
      w.exec('BEGIN IMMEDIATE');
      try {
        w.prepare('DELETE FROM collections WHERE cid = ?').run(c.cid);
        dropCollectionTables(w, c.cid);
        w.exec('COMMIT');
      } catch (e) {
        if (w.inTransaction) w.exec('ROLLBACK');
        throw e;
      }
      c.markDropped();
      this.#collections.delete(name);
      for (const s of await listSnapshots(this.#ctx.indexDir)) if (s.cid === c.cid) await unlink(s.path).catch(() => undefined);
      // Its cached maps (the projection service's, docs/projections.md): keyed to this collection's generation, so only clutter now.
      await rm(join(this.dir, 'projections', name), { recursive: true, force: true }).catch(() => undefined);
    });
  }

  /** Verifies every collection (or the one named). */
  async verify(name?: string): Promise<Record<string, VerifyReport>> {
    this.#open();
    const out: Record<string, VerifyReport> = {};
    const check = this.#ctx.r.prepare('PRAGMA quick_check').pluck().all() as string[];
    const names = name === undefined ? this.listCollections().map((c) => c.name) : [name];
    for (const n of names) {
      const rep = await this.getCollection(n).verify();
      if (check.length !== 1 || check[0] !== 'ok') { rep.ok = false; rep.problems.unshift(...check.map((x) => `sqlite: ${x}`)); }
      out[n] = rep;
    }
    return out;
  }

  /** Compacts every collection (or the one named), then reclaims SQLite's free pages. */
  async compact(name?: string, options: CompactOptions = {}): Promise<Record<string, CompactReport>> {
    this.#open();
    const names = name === undefined ? this.listCollections().map((c) => c.name) : [name];
    const out: Record<string, CompactReport> = {};
    for (const n of names) out[n] = await this.getCollection(n).compact(options);
    await this.#ctx.mutex.run(() => {
      this.#ctx.w.exec('VACUUM');
      this.#ctx.w.pragma('wal_checkpoint(TRUNCATE)');
    });
    return out;
  }

  /** Snapshots every changed index and closes the files; the Database cannot be used after. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#ctx.mutex.run(async () => {
      for (const c of this.#collections.values()) await c.closeIndex();
    });
    this.#closed = true;
    if (!this.readOnly) {
      try { this.#ctx.w.pragma('wal_checkpoint(TRUNCATE)'); } catch { /* best effort */ }
    }
    this.#ctx.r.close();
    this.#ctx.w.close();
    this.#release?.();
  }
}

/** Opens (creating when missing) the database in `dir`. */
export function openDatabase(dir: string, options?: OpenOptions): Promise<Database> {
  return Database.open(dir, options);
}
