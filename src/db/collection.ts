/**
 * A collection (docs/db.md): the facade over its parts — the record store's records
 * (store/types.ts), the cached ANN index (index-cache.ts), the query planner (planner.ts), the write
 * path (writes.ts) and maintenance (maintenance.ts). It checks arguments, orders each call's steps
 * (writes: one transaction under the database's writer mutex, then the index), and keeps the
 * collection's change number. Get one from `Database.createCollection` / `getCollection`.
 */
import { OmnivecError, describe } from '../errors.js';
import { checkK, checkOffset } from '../checks.js';
import type { Metric } from '../vector/metric.js';
import type { VectorBatch } from '../vector/batch.js';
import { checkId, type RecordsInput } from './records.js';
import type { Mutex } from './mutex.js';
import type { CollectionIndexSpec } from './index-spec.js';
import { IndexCache } from './index-cache.js';
import { QueryPlanner, fieldsOf, shape } from './planner.js';
import { checkDelete, storeRecords, type StoredWrite } from './writes.js';
import { compactCollection, evaluateIndex, isValidVector, scanAll, verifyCollection, type MaintenanceContext } from './maintenance.js';
import { DEFAULT_INCLUDE, checkFilter, checkQueryBatch, planQuery, withoutSelf } from './query-options.js';
import type { CollectionRecords, RecordStore } from './store/types.js';
import { FIELD_INDEX_TYPES, checkFieldName, checkFieldType, type FieldIndexInfo, type FieldIndexType } from './field-index.js';
import type {
  BatchQueryOptions, BatchQueryResult, CollectionInfo, CollectionMeta, CompactOptions, CompactReport, DeleteOptions,
  EncoderSpec, EvaluateOptions, EvaluateReport, GetOptions, GetResult, IndexStatus, QueryOptions, QueryResult,
  StoredEntry, VerifyReport, WriteMode, WriteOptions,
} from './types.js';

export type * from './types.js';
export { canonicalSparse } from './writes.js';

/** Encodes texts with a collection's bound encoder (`query({ text })`); given by the database. */
export type TextEncodeFn = (spec: EncoderSpec, texts: string[]) => Promise<VectorBatch>;

/** What a database shares with its collections. */
export interface CollectionContext {
  store: RecordStore;
  /** Serialises the database's writes (one transaction at a time). */
  mutex: Mutex;
  readOnly: boolean;
  /** Encodes query texts with the collection's encoder; undefined: `query({ text })` is refused. */
  encodeText?: TextEncodeFn;
  /** Threads of the embedded indexes (OpenOptions.threads); undefined: the index's default (every core). */
  threads?: number;
  /** OpenOptions.backgroundIndexing. */
  backgroundIndexing?: boolean;
}

function checkPage(o: { limit?: number; offset?: number }, what: string): { limit: number; offset: number } {
  return { limit: o.limit === undefined ? -1 : checkK(o.limit, `${what}.limit`), offset: o.offset === undefined ? 0 : checkOffset(o.offset, `${what}.offset`) };
}

export class Collection {
  readonly name: string;
  readonly dim: number;
  readonly metric: Metric;
  readonly cid: number;
  readonly indexSpec: CollectionIndexSpec;
  readonly encoder: EncoderSpec | null;
  readonly created: string;
  #meta: CollectionMeta;
  readonly #ctx: CollectionContext;
  readonly #records: CollectionRecords;
  readonly #cache: IndexCache;
  /** The store searches vectors itself (pgvector): no index cache, and other writers may change the records (docs/record-store.md). */
  readonly #native: boolean;
  readonly #planner: QueryPlanner;
  #dropped = false;

  constructor(ctx: CollectionContext, meta: CollectionMeta) {
    this.#ctx = ctx;
    this.#meta = { ...meta };
    this.cid = meta.cid;
    this.name = meta.name;
    this.dim = meta.dim;
    this.metric = meta.metric;
    this.indexSpec = meta.indexSpec;
    this.encoder = meta.encoder;
    this.created = meta.created;
    this.#records = ctx.store.records(meta);
    this.#native = this.#records.nearest !== undefined;
    const indexDim = meta.options.indexDims ?? meta.dim;
    this.#cache = new IndexCache({
      records: this.#records, indexDir: ctx.store.indexDir ?? '', cid: meta.cid, dim: meta.dim, indexDim,
      metric: meta.metric, spec: meta.indexSpec, readOnly: ctx.readOnly, threads: ctx.threads, background: ctx.backgroundIndexing === true,
    });
    const head = (): { seq: number; tombFloor: number } => ({ seq: this.#meta.seq, tombFloor: this.#meta.tombFloor });
    this.#planner = new QueryPlanner({
      name: meta.name, dim: meta.dim, indexDim, metric: meta.metric, readOnly: ctx.readOnly, records: this.#records, cache: this.#cache,
      head, multiVectorDim: () => this.#meta.options.multiVectorDim,
    });
  }

  /** The dimension the index holds (the Matryoshka prefix when `indexDims` is set). */
  /** How a Citus cluster shards the collection, when it was given at creation. */
  get shardBy(): 'collection' | 'id' | undefined {
    return this.#meta.options.shardBy;
  }

  /** The full-text tokenizer the collection was created with (SQLite FTS5 syntax). */
  get tokenize(): string {
    return this.#meta.options.tokenize;
  }

  get indexDim(): number {
    return this.#meta.options.indexDims ?? this.dim;
  }

  /** The last change number this handle knows. */
  get seq(): number {
    return this.#meta.seq;
  }

  #maintenance(): MaintenanceContext {
    return {
      name: this.name, cid: this.cid, dim: this.dim, indexDim: this.indexDim, metric: this.metric, indexDir: this.#ctx.store.indexDir, native: this.#native,
      records: this.#records, cache: this.#cache, head: () => ({ seq: this.#meta.seq, tombFloor: this.#meta.tombFloor }),
    };
  }

  #alive(): void {
    if (this.#dropped) throw new OmnivecError('not_found', `collection "${this.name}": it was dropped`);
  }

  #writable(): void {
    this.#alive();
    if (this.#ctx.readOnly) throw new OmnivecError('read_only', `collection "${this.name}": the database is open read-only; open it for writing to change it`);
  }

  /** The index cache brought up to the collection's change number (nothing to do when the store searches itself). */
  async #current(): Promise<void> {
    if (!this.#native) await this.#cache.current(this.#meta.seq, this.#meta.tombFloor);
  }

  /**
   * Read-only handles follow the writer, and a server store's handles follow the other writers:
   * pick up the committed change number before reading.
   */
  async #refresh(): Promise<void> {
    this.#alive();
    if (!this.#ctx.readOnly && !this.#native) return;
    const head = await this.#ctx.store.head(this.cid);
    if (head === undefined) {
      this.#dropped = true;
      throw new OmnivecError('not_found', `collection "${this.name}": it was dropped`);
    }
    this.#meta.seq = head.seq;
    this.#meta.options = head.options;
    if (head.tombFloor > this.#meta.tombFloor) {
      this.#meta.tombFloor = head.tombFloor;
      // Tombstones the cached indexes still needed may be gone: reload them.
      this.#cache.invalidateBelow(head.tombFloor);
      this.#planner.forgetSparse();
    }
  }

  // -------------------------------------------------------------------------------------------
  // Reads

  async count(): Promise<number> {
    await this.#refresh();
    return this.#records.count();
  }

  async info(): Promise<CollectionInfo> {
    const count = await this.count();
    const info: CollectionInfo = {
      name: this.name, dim: this.dim, metric: this.metric, index: this.indexSpec, indexKind: this.#cache.loaded?.kind, count,
      encoder: this.encoder, indexDims: this.#meta.options.indexDims, seq: this.#meta.seq, created: this.created,
      fieldIndexes: await this.#records.fieldIndexes(),
    };
    const file = this.#records.vectorFileStats?.();
    if (file !== undefined) info.vectorFile = { bytes: file.bytes, rows: file.rows, liveRows: count };
    return info;
  }

  // Payload indexes (docs/db.md, "Payload indexes"): declared metadata fields the filters seek instead of scanning.

  /**
   * Declares a payload index on a metadata field (`type`: keyword, integer, float or bool) and
   * back-fills it from the stored records; writes keep it in step from then on. Filters on the
   * field (`$eq`, `$in`, `$ne`, `$nin`, ranges, and their `$and` / `$or`) seek it instead of
   * reading every record's metadata; their answers are the same either way. Returns false when
   * the field was already indexed with this type (nothing done).
   */
  async createFieldIndex(field: string, options: { type: FieldIndexType }): Promise<boolean> {
    this.#writable();
    checkFieldName(field, 'createFieldIndex.field');
    if (options === null || typeof options !== 'object') {
      throw new OmnivecError('invalid_argument', `createFieldIndex.options: expected { type: ${FIELD_INDEX_TYPES.map((t) => `"${t}"`).join(' | ')} }, got ${describe(options)}`);
    }
    const type = checkFieldType(options.type, 'createFieldIndex.options.type');
    return this.#ctx.mutex.run(() => this.#records.createFieldIndex(field, type));
  }

  /** Removes a field's payload index (`not_found` when the field has none); filters on it take the JSON path again. */
  async dropFieldIndex(field: string): Promise<void> {
    this.#writable();
    checkFieldName(field, 'dropFieldIndex.field');
    const gone = await this.#ctx.mutex.run(() => this.#records.dropFieldIndex(field));
    if (!gone) throw new OmnivecError('not_found', `collection "${this.name}": field ${JSON.stringify(field)} has no payload index`, { field });
  }

  /** The declared payload indexes, by field name. */
  async listFieldIndexes(): Promise<FieldIndexInfo[]> {
    this.#alive();
    return this.#records.fieldIndexes();
  }

  /** Records by id (in the order asked, missing ids left out) or by filter, paged. */
  async get(options: GetOptions = {}): Promise<GetResult> {
    await this.#refresh();
    if (options === null || typeof options !== 'object') throw new OmnivecError('invalid_argument', `get: expected options { ids?, where?, limit?, offset? }, got ${describe(options)}`);
    const include = options.include ?? DEFAULT_INCLUDE;
    const filter = checkFilter(options.where, options.whereDocument);
    if (options.ids !== undefined) {
      if (!Array.isArray(options.ids)) throw new OmnivecError('invalid_argument', `get.ids: expected an array of strings, got ${describe(options.ids)}`);
      const ids = options.ids.map((id, i) => checkId(id, `get.ids[${i}]`));
      return shape(await this.#records.getByIds(ids, filter, fieldsOf(include)), include);
    }
    return shape(await this.#records.getPage(filter, checkPage(options, 'get'), fieldsOf(include)), include);
  }

  peek(n = 10): Promise<GetResult> {
    return this.get({ limit: n });
  }

  /** Ids in storage order, paged. */
  async list(options: { limit?: number; offset?: number } = {}): Promise<string[]> {
    await this.#refresh();
    return this.#records.listIds({ limit: options.limit ?? -1, offset: options.offset ?? 0 });
  }

  /**
   * Every record, streamed in storage order (export, migrate). With `sparse` / `multiVector` the
   * entries carry those too (`null` when the record has none).
   */
  async *iterate(options: { sparse?: boolean; multiVector?: boolean } = {}): AsyncGenerator<StoredEntry> {
    await this.#refresh();
    const fields = { vector: true, document: true, metadata: true, sparse: options.sparse === true, multiVector: options.multiVector === true };
    for await (const r of scanAll(this.#records, fields)) {
      const e: StoredEntry = { id: r.id, vector: r.vector!, document: r.document ?? null, metadata: r.metadata ?? null };
      if (fields.sparse) e.sparse = r.sparse == null ? null : JSON.parse(r.sparse) as Record<string, number>;
      if (fields.multiVector) {
        const dim = this.#meta.options.multiVectorDim;
        e.multiVector = r.multiVector == null || dim === undefined ? null : { data: r.multiVector, dim, count: r.multiVector.length / dim };
      }
      yield e;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Writes

  /** Inserts records; refuses an id already stored (`already_exists`) or repeated: nothing of the call is written then. */
  add(records: RecordsInput, options?: WriteOptions): Promise<number> {
    return this.#write('add', records, options);
  }

  /** Inserts records or replaces the stored ones with the same id (vector, document, metadata, sparse, multi-vector). */
  upsert(records: RecordsInput, options?: WriteOptions): Promise<number> {
    return this.#write('upsert', records, options);
  }

  /** Changes the given fields of stored records (`not_found` for a missing id); `null` clears a field. */
  update(records: RecordsInput, options?: WriteOptions): Promise<number> {
    return this.#write('update', records, options);
  }

  #writeTarget(): Parameters<typeof storeRecords>[1] {
    return { dim: this.dim, indexDim: this.indexDim, model: this.encoder?.model, multiVectorDim: this.#meta.options.multiVectorDim, options: this.#meta.options, trackIds: this.#planner.tracksIds };
  }

  async #write(mode: WriteMode, input: RecordsInput, options: WriteOptions = {}): Promise<number> {
    this.#writable();
    return this.#ctx.mutex.run(async () => {
      this.#alive();
      // The index must be current before the write so the write's vectors can go in from memory.
      await this.#current();
      const stored = await this.#records.write((w) => storeRecords(w, this.#writeTarget(), mode, input, options));
      if (stored.count === 0) return 0; // nothing written: the change number stays
      return this.afterCommit(stored, options);
    });
  }

  /**
   * @internal The in-memory half of a write call, after its commit (also used by
   * `Database.createCollection({ records })`): change number, caches, index, snapshot.
   */
  async afterCommit(stored: StoredWrite, options: WriteOptions = {}): Promise<number> {
    const before = this.#meta.seq;
    this.#meta.seq = stored.seq;
    if (stored.multiVectorDim !== this.#meta.options.multiVectorDim) this.#meta.options = { ...this.#meta.options, multiVectorDim: stored.multiVectorDim };
    this.#planner.noteWrite(stored.written);
    await this.#cache.afterWrite(stored.pending, before, stored.seq, options.onProgress);
    await this.#maybeSnapshot();
    return stored.count;
  }

  /** @internal For `Database.createCollection({ records })`: an empty index at change 0, before `afterCommit` of the first change. */
  prepareFill(): void {
    if (!this.#native) this.#cache.initEmpty();
  }

  /** Deletes records by id and / or filter (at least one must be given); returns how many were deleted. */
  async delete(options: DeleteOptions): Promise<number> {
    this.#writable();
    const { ids, filter } = checkDelete(options);
    return this.#ctx.mutex.run(async () => {
      this.#alive();
      await this.#current();
      const { gone, seq } = await this.#records.write(async (w) => ({
        gone: ids !== undefined ? await w.deleteIds(ids, filter) : await w.deleteWhere(filter),
        seq: w.seq,
      }));
      if (gone.length > 0) {
        this.#meta.seq = seq;
        this.#planner.noteWrite(undefined, gone);
        await this.#cache.afterDelete(seq);
        await this.#maybeSnapshot();
      }
      return gone.length;
    });
  }

  // -------------------------------------------------------------------------------------------
  // Snapshots

  async #maybeSnapshot(): Promise<void> {
    const floor = await this.#cache.maybeSnapshot();
    if (floor !== undefined) this.#meta.tombFloor = floor;
  }

  async #snapshot(): Promise<void> {
    if (this.#ctx.readOnly || this.#dropped) return;
    const floor = await this.#cache.snapshot();
    if (floor !== undefined) this.#meta.tombFloor = floor;
  }

  /** Writes the index snapshot now (also done on close, and automatically after many changes). */
  async flush(): Promise<void> {
    this.#alive();
    if (this.#ctx.readOnly) return;
    return this.#ctx.mutex.run(async () => {
      await this.#current();
      await this.#snapshot();
    });
  }

  /** Where the in-memory index stands (for tests, `info --json` and the logs). */
  indexStatus(): IndexStatus {
    return this.#cache.status();
  }

  /** Loads the index now (otherwise it is loaded on first use). */
  async open(): Promise<void> {
    await this.#refresh();
    await this.#current();
  }

  /** @internal Called by Database.close(): snapshot if loaded and changed. */
  async closeIndex(): Promise<void> {
    if (this.#cache.loaded !== undefined && !this.#ctx.readOnly && !this.#dropped) await this.#snapshot();
    this.#cache.forget();
    this.#planner.forget();
  }

  /** @internal Called by Database.dropCollection. */
  markDropped(): void {
    this.#dropped = true;
    this.#cache.forget();
    this.#planner.forget();
  }

  // -------------------------------------------------------------------------------------------
  // Queries

  /**
   * Searches the collection: dense (`vector`, or `text` through the bound encoder), BM25 full text
   * (`fullText`), sparse (`sparse`), any mix of them fused, optionally re-ranked by MaxSim
   * (`multiVector`); `where` / `whereDocument` apply to every signal. Returns min(k, matching
   * records) hits whenever the dense signal is used alone.
   */
  async query(o: QueryOptions): Promise<QueryResult> {
    // A writer's handle of the embedded store is always current: no store round trip on the query path.
    if (this.#ctx.readOnly || this.#native) await this.#refresh();
    else this.#alive();
    const plan = planQuery({
      name: this.name, dim: this.dim, encoder: this.encoder, multiVectorDim: this.#meta.options.multiVectorDim, encodeText: this.#ctx.encodeText,
    }, o);
    return this.#planner.query(plan instanceof Promise ? await plan : plan);
  }

  /** Neighbours of a stored record (the record itself left out). */
  async queryById(id: string, options: Omit<QueryOptions, 'vector' | 'text'> = {}): Promise<QueryResult> {
    await this.#refresh();
    checkId(id, 'query.id');
    const v = await this.#records.vectorOfId(id);
    if (v === undefined) throw new OmnivecError('not_found', `query.id: no record with id ${JSON.stringify(id)} in "${this.name}"`, { id });
    if (!isValidVector(v, this.dim)) {
      throw new OmnivecError('invalid_argument', `query.id: the stored vector of ${JSON.stringify(id)} is not ${this.dim} finite numbers (written by an older version); delete it or upsert it with a finite vector`, { id });
    }
    const k = checkK(options.k ?? 10);
    return withoutSelf(await this.query({ ...options, vector: v, k: k + 1 }), id, k);
  }

  /** Many dense queries at once (benchmarks, `omnivec query --vectors`). */
  async queryBatch(queries: VectorBatch, k: number, options: BatchQueryOptions = {}): Promise<BatchQueryResult> {
    await this.#refresh();
    checkK(k);
    checkQueryBatch(queries, this.dim);
    checkFilter(options.where, options.whereDocument);
    return this.#planner.queryBatch(queries, k, options);
  }

  // -------------------------------------------------------------------------------------------
  // Maintenance

  /** Checks the records, the store's own indexes, the snapshots and the index against the records. */
  async verify(): Promise<VerifyReport> {
    await this.#refresh();
    return verifyCollection(this.#maintenance());
  }

  /**
   * Rebuilds the index from the records (no tombstones, a fresh graph) and snapshots it. Records
   * whose stored vector is not finite stay out of the index and are listed; `dropInvalid` deletes
   * them first.
   */
  async compact(options: CompactOptions = {}): Promise<CompactReport> {
    this.#writable();
    return this.#ctx.mutex.run(async () => {
      await this.#current();
      const report = await compactCollection(this.#maintenance(), options, (seq, slots) => {
        this.#meta.seq = seq;
        this.#planner.noteWrite(undefined, slots);
      }, (seq) => {
        // The slots were renumbered: every cache keyed by slot is void (the index is rebuilt next).
        this.#meta.seq = seq;
        this.#meta.tombFloor = seq;
        this.#planner.forget();
      });
      this.#planner.forgetSparse();
      await this.#snapshot();
      return report;
    });
  }

  /**
   * Recall@k of the index against exact search, on `sample` of the collection's own vectors as
   * queries (seeded), with both query rates.
   */
  async evaluate(options: EvaluateOptions = {}): Promise<EvaluateReport> {
    await this.#refresh();
    const k = checkK(options.k ?? 10);
    const sample = checkK(options.sample ?? 1000, 'evaluate.sample');
    return evaluateIndex(this.#maintenance(), k, sample, options);
  }
}
