/**
 * A database: a record store (store/types.ts) and its collections. `openDatabase(location)` picks
 * the store from the location — a directory is the embedded SQLite store; a URL names a server
 * store (PostgreSQL, a later milestone: refused clearly today, never taken for a directory name).
 * One process writes an embedded database at a time (the LOCK file); share one Database object
 * within a process.
 */
import { unlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { OmnivecError, describe } from '../errors.js';
import { checkInt } from '../checks.js';
import { checkThreads } from '../parallel/pool.js';
import { parseMetric, type Metric } from '../vector/metric.js';
import { checkDim } from '../vector/batch.js';
import { checkCollectionName } from './names.js';
import { Mutex } from './mutex.js';
import { Collection, type CollectionContext, type TextEncodeFn } from './collection.js';
import { parseIndexSpec } from './index-spec.js';
import { listSnapshots, removeTempFiles } from './snapshots.js';
import { storeRecords, type StoredWrite } from './writes.js';
import { SqliteStore } from './store/sqlite/sqlite-store.js';
import { isPostgresUrl } from './store/postgres/url.js';

export { hasDatabaseFile } from './store/sqlite/sqlite-store.js';
import type { RecordStore } from './store/types.js';
import type { RecordsInput } from './records.js';
import type { CollectionInfo, CompactOptions, CompactReport, EncoderSpec, VerifyReport, WriteOptions } from './types.js';

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
  /**
   * Encodes query texts with a collection's bound encoder (`collection.query({ text })`). Default:
   * the encoder registry reopens the collection's stored spec (a model folder, a model stored in
   * `DIR/models/`, a cached hub id), once per spec, closed with the database.
   */
  encodeText?: TextEncodeFn;
  /** With the default `encodeText`: may a spec's model be downloaded from the hub, or a remote API called (default false). */
  allowNetwork?: boolean;
  /**
   * Worker threads the embedded indexes use to build and to answer batch queries (default: every
   * core, `os.availableParallelism()`; 1: the single-thread path). Not stored: a property of the
   * machine (docs/indexes/threads.md).
   */
  threads?: number;
  /**
   * Embedded store: reader threads for the scans a query can hold the caller's thread with — a
   * filter on an undeclared field (a JSON scan of every record) and full text (BM25 over every
   * document a common word matches). Default 0: they run on the calling thread; `omnivec serve`
   * uses 1 so that its loop keeps answering (docs/db.md, "Scans off the query path").
   */
  scanThreads?: number;
  /**
   * HNSW collections: a write of at most 4,096 vectors returns once stored and searchable (an
   * exact tail beside the graph), and the graph links them in short slices between queries; the
   * graph's reclaim pass runs in slices too (docs/db.md, "Writes and scans off the query path").
   * Default false: a write links its vectors before it returns, as before. `omnivec serve` uses
   * true. While a vector waits in the tail it is found exactly, so a quantised collection's answer
   * can be better before its vectors are linked than after.
   */
  backgroundIndexing?: boolean;
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
   * On a Citus cluster: `collection` (default) keeps the collection's tables on one node (many
   * collections spread over the nodes), `id` hash-distributes its records by id over every node
   * (one large collection). Stored everywhere, used by Citus only (docs/postgres.md, "Citus").
   */
  shardBy?: 'collection' | 'id';
  /**
   * Records to add in the same transaction as the creation (LanceDB's `createTable(name, data)`):
   * when one is refused, the collection is not created either (docs/hardening.md §7).
   */
  records?: RecordsInput;
  /** Progress of storing and indexing `records`. */
  onProgress?: WriteOptions['onProgress'];
}

/** A location that names a server instead of a directory (`postgres://…`, `http://…`). */
const URL_LOCATION = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/** True for a location that names a server (a URL such as `postgres://…`), not a directory. */
export function isServerLocation(location: string): boolean {
  return URL_LOCATION.test(location);
}

export class Database {
  /** The directory (or URL) the database was opened from. */
  readonly dir: string;
  readonly readOnly: boolean;
  readonly #store: RecordStore;
  readonly #ctx: CollectionContext;
  #collections = new Map<string, Collection>();
  #closed = false;

  /** The default query-text encoders, opened on first use (the registry loads lazily: ONNX and sharp stay unloaded until a text is encoded). */
  #encoders: { encodeText: TextEncodeFn; close(): Promise<void> } | undefined;

  /**
   * Where this database keeps files beside its records — models stored by `train sif --into`
   * (`models/`), the projection cache (`projections/`): the directory itself for the embedded
   * store, a local folder for a server store (docs/postgres.md).
   */
  readonly filesDir: string;

  private constructor(store: RecordStore, options: OpenOptions, filesDir: string) {
    this.#store = store;
    this.dir = store.location;
    this.filesDir = filesDir;
    this.readOnly = store.readOnly;
    const allowNetwork = options.allowNetwork === true;
    const encodeText: TextEncodeFn = options.encodeText ?? (async (spec, texts) => {
      if (this.#encoders === undefined) {
        const { specEncoders } = await import('../encoders/registry.js');
        this.#encoders ??= specEncoders({ dbDir: this.filesDir, allowNetwork });
      }
      return this.#encoders.encodeText(spec, texts);
    });
    const threads = options.threads === undefined ? undefined : checkThreads(options.threads);
    if (options.backgroundIndexing !== undefined && typeof options.backgroundIndexing !== 'boolean') {
      throw new OmnivecError('invalid_argument', `backgroundIndexing: expected true or false, got ${describe(options.backgroundIndexing)}`);
    }
    this.#ctx = { store, mutex: new Mutex(), readOnly: store.readOnly, encodeText, threads, backgroundIndexing: options.backgroundIndexing === true };
  }

  /** Opens (creating when allowed) the database at `location`. */
  static async open(location: string, options: OpenOptions = {}): Promise<Database> {
    if (typeof location !== 'string' || location.length === 0) throw new OmnivecError('invalid_argument', `openDatabase: expected a directory path, got ${describe(location)}`);
    if (URL_LOCATION.test(location)) {
      if (isPostgresUrl(location)) {
        // Loaded only when used: node-postgres stays out of `import 'omnivec'`.
        const { PostgresStore } = await import('./store/postgres/postgres-store.js');
        const store = await PostgresStore.open(location, { readOnly: options.readOnly });
        return new Database(store, options, store.filesDir);
      }
      const scheme = location.slice(0, location.indexOf(':'));
      throw new OmnivecError('invalid_argument',
        `openDatabase: expected a directory path or a postgres:// URL, got a ${scheme}:// location (${JSON.stringify(location.replace(/\/\/[^@/]*@/, '//…@'))}); it is never taken for a directory name`);
    }
    const store = SqliteStore.open(location, options);
    const db = new Database(store, options, store.location);
    try {
      if (!store.readOnly) await db.#cleanFiles(store);
    } catch (e) {
      await store.close();
      throw e;
    }
    return db;
  }

  /**
   * Deletes temp files of interrupted snapshot writes, snapshots of dropped collections, and
   * snapshots older than their collection's tombstone floor (never loadable again: a crash after a
   * compaction renumbered the slots, before its new snapshot replaced them).
   */
  async #cleanFiles(store: SqliteStore): Promise<void> {
    await removeTempFiles(store.indexDir);
    const floors = new Map((await store.listCollections()).map((m) => [m.cid, m.tombFloor]));
    for (const s of await listSnapshots(store.indexDir)) {
      const floor = floors.get(s.cid);
      if (floor === undefined || s.seq < floor) await unlink(s.path).catch(() => undefined);
    }
  }

  #open(): void {
    if (this.#closed) throw new OmnivecError('invalid_argument', `database ${this.dir}: it is closed`);
  }

  /** Creates a collection (`already_exists` when the name is taken), with its first `records` in the same transaction when given. */
  async createCollection(options: CreateCollectionOptions): Promise<Collection> {
    this.#open();
    if (this.readOnly) throw new OmnivecError('read_only', `database ${this.dir}: open read-only; cannot create a collection`);
    if (options === null || typeof options !== 'object') throw new OmnivecError('invalid_argument', `createCollection: expected { name, dim, metric?, index? }, got ${describe(options)}`);
    const name = checkCollectionName(options.name);
    checkDim(options.dim);
    const metric = options.metric === undefined ? 'cosine' : parseMetric(options.metric);
    const indexSpec = parseIndexSpec(options.index, options.indexDims ?? options.dim, metric);
    if (options.encoder !== undefined) {
      const e = options.encoder;
      if (e === null || typeof e !== 'object' || typeof e.model !== 'string' || e.model.length === 0) {
        throw new OmnivecError('invalid_argument', `encoder: expected { model: string, dim?, ... }, got ${describe(e)}`);
      }
      if (e.dim !== undefined && e.dim !== options.dim) {
        throw new OmnivecError('dimension_mismatch', `encoder.dim: the encoder "${e.model}" makes ${e.dim}-d vectors, the collection is ${options.dim}-d`);
      }
    }
    if (options.indexDims !== undefined) checkInt(options.indexDims, 'indexDims', { min: 1, max: options.dim, note: 'the dimension' });
    const tokenize = options.tokenize ?? 'porter unicode61 remove_diacritics 2';
    if (typeof tokenize !== 'string' || !/^[A-Za-z0-9_ "'.-]+$/.test(tokenize)) throw new OmnivecError('invalid_argument', `tokenize: expected an FTS5 tokenizer such as "unicode61" or "trigram", got ${describe(tokenize)}`);
    if (options.records !== undefined && (options.records === null || typeof options.records !== 'object')) {
      throw new OmnivecError('invalid_argument', `createCollection.records: expected records (an array or iterable of { id, vector, ... }, or { ids, vectors, ... }), got ${describe(options.records)}`);
    }
    if (options.shardBy !== undefined && options.shardBy !== 'collection' && options.shardBy !== 'id') {
      throw new OmnivecError('invalid_argument', `shardBy: expected "collection" or "id", got ${describe(options.shardBy)}`);
    }
    const onProgress = options.onProgress;
    const collectionOptions = {
      tokenize,
      ...(options.indexDims !== undefined && options.indexDims !== options.dim ? { indexDims: options.indexDims } : {}),
      ...(options.shardBy !== undefined ? { shardBy: options.shardBy } : {}),
    };
    const records = options.records;
    return this.#ctx.mutex.run(async () => {
      const { meta, filled } = await this.#store.createCollection<StoredWrite>(
        { name, dim: options.dim, metric, indexSpec, encoder: options.encoder ?? null, options: collectionOptions, created: new Date().toISOString() },
        records === undefined ? undefined : async (_records, w) => {
          // The first change of the new collection, in the transaction that creates it.
          const target = { dim: options.dim, indexDim: options.indexDims ?? options.dim, model: options.encoder?.model, multiVectorDim: undefined, options: collectionOptions, trackIds: false };
          return storeRecords(w, target, 'add', records, { onProgress });
        },
      );
      if (filled === undefined) {
        const c = new Collection(this.#ctx, meta);
        this.#collections.set(name, c);
        return c;
      }
      // Its index starts empty at change 0 (the records were not readable before the commit) and
      // takes the first change's vectors from memory.
      const c = new Collection(this.#ctx, { ...meta, seq: 0, options: collectionOptions });
      if (filled.count === 0) { this.#collections.set(name, c); return c; }
      this.#collections.set(name, c);
      c.prepareFill();
      await c.afterCommit(filled, { onProgress });
      return c;
    });
  }

  /** The collection named `name`; `not_found` (listing the names there are) when missing. */
  async getCollection(name: string): Promise<Collection> {
    this.#open();
    const have = this.#collections.get(name);
    if (have !== undefined && !this.readOnly) return have;
    const meta = await this.#store.findCollection(name);
    if (meta === undefined) {
      const names = (await this.#store.listCollections()).map((c) => c.name);
      throw new OmnivecError('not_found', `collection ${JSON.stringify(name)} not found in ${this.dir}; ${names.length === 0 ? 'there are none' : `there are: ${names.join(', ')}`}`, { name });
    }
    // A read-only handle keeps its collection while the writer keeps it (same cid), else starts afresh.
    if (have !== undefined && have.cid === meta.cid) return have;
    const c = new Collection(this.#ctx, meta);
    this.#collections.set(name, c);
    return c;
  }

  async getOrCreateCollection(options: CreateCollectionOptions): Promise<Collection> {
    if (options !== null && typeof options === 'object' && await this.hasCollection(options.name)) {
      const c = await this.getCollection(options.name);
      if (c.dim !== options.dim) throw new OmnivecError('dimension_mismatch', `collection "${c.name}" is ${c.dim}-d, asked for ${options.dim}-d`);
      return c;
    }
    return this.createCollection(options);
  }

  async hasCollection(name: string): Promise<boolean> {
    this.#open();
    return typeof name === 'string' && (await this.#store.findCollection(name)) !== undefined;
  }

  /** Name, dim, metric, index and count of every collection. */
  async listCollections(): Promise<CollectionInfo[]> {
    this.#open();
    const out: CollectionInfo[] = [];
    for (const meta of await this.#store.listCollections()) out.push(await (await this.getCollection(meta.name)).info());
    return out;
  }

  /** Deletes a collection, its records and its index snapshots. */
  async dropCollection(name: string): Promise<void> {
    this.#open();
    if (this.readOnly) throw new OmnivecError('read_only', `database ${this.dir}: open read-only; cannot drop a collection`);
    const c = await this.getCollection(name);
    await this.#ctx.mutex.run(async () => {
      await this.#store.dropCollection(c.cid);
      c.markDropped();
      this.#collections.delete(name);
      const indexDir = this.#store.indexDir;
      if (indexDir !== undefined) for (const s of await listSnapshots(indexDir)) if (s.cid === c.cid) await unlink(s.path).catch(() => undefined);
      // Its cached maps (the projection service's, docs/projections.md): keyed to this collection's generation, so only clutter now.
      await rm(join(this.filesDir, 'projections', name), { recursive: true, force: true }).catch(() => undefined);
    });
  }

  /** Verifies every collection (or the one named). */
  async verify(name?: string): Promise<Record<string, VerifyReport>> {
    this.#open();
    const out: Record<string, VerifyReport> = {};
    const storeProblems = await this.#store.check();
    const names = name === undefined ? (await this.#store.listCollections()).map((c) => c.name) : [name];
    for (const n of names) {
      const rep = await (await this.getCollection(n)).verify();
      if (storeProblems.length > 0) { rep.ok = false; rep.problems.unshift(...storeProblems); }
      out[n] = rep;
    }
    return out;
  }

  /** Compacts every collection (or the one named), then gives the store's free space back. */
  async compact(name?: string, options: CompactOptions = {}): Promise<Record<string, CompactReport>> {
    this.#open();
    const names = name === undefined ? (await this.#store.listCollections()).map((c) => c.name) : [name];
    const out: Record<string, CompactReport> = {};
    for (const n of names) out[n] = await (await this.getCollection(n)).compact(options);
    await this.#ctx.mutex.run(() => this.#store.reclaim());
    return out;
  }

  /** Snapshots every changed index and closes the store; the Database cannot be used after. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#ctx.mutex.run(async () => {
      for (const c of this.#collections.values()) await c.closeIndex();
    });
    this.#closed = true;
    const encoders = this.#encoders;
    this.#encoders = undefined;
    try {
      await encoders?.close();
    } finally {
      await this.#store.close();
    }
  }
}

/** Opens (creating when missing) the database at `location` (a directory). */
export function openDatabase(location: string, options?: OpenOptions): Promise<Database> {
  return Database.open(location, options);
}
