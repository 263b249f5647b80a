import { unlink } from 'node:fs/promises';
import type BetterSqlite3 from 'better-sqlite3';
import { OmnivecError, describe } from '../errors.js';
import type { Metric } from '../vector/metric.js';
import { userScore } from '../vector/metric.js';
import type { VectorBatch } from '../vector/batch.js';
import { normalizeInPlace } from '../vector/normalize.js';
import { TopK } from '../vector/heap.js';
import { Random } from '../vector/random.js';
import { jsonable } from '../vector/json.js';
import { IdSet } from '../indexes/common.js';
import { loadIndex } from '../indexes/registry.js';
import { FlatIndex } from '../indexes/flat/flat-index.js';
import { NO_ID, type VectorIndex, type SearchOptions } from '../indexes/types.js';
import { SparseIndex, TermDictionary, parseSparse, type SparseVector } from '../indexes/sparse/sparse-index.js';
import { compileFilter, checkWhere, checkWhereDocument, filterKey, type Where, type WhereDocument, type Metadata } from './where.js';
import { reciprocalRankFusion, weightedFusion, maxSim, ftsQuery, type RankedList } from './fusion.js';
import { recordChunks, prepareRow, readF32, checkId, vectorBytes, isValidVectorBlob, type RecordsInput, type PreparedRow } from './records.js';
import { tables, type Sqlite } from './schema.js';
import type { Mutex } from './mutex.js';
import {
  buildEmpty, wantedKind, IVF_TRAIN_SAMPLE, listSnapshots, loadNewestSnapshot, writeSnapshot,
  type CollectionIndexSpec,
} from './index-state.js';

/** What a Database shares with its collections. */
export interface DbContext {
  dir: string;
  indexDir: string;
  /** The writer connection (read-only connection when the database is opened read-only). */
  w: Sqlite;
  /** A second connection for reads: sees committed data only, even while a write is open. */
  r: Sqlite;
  readOnly: boolean;
  mutex: Mutex;
}

export interface EncoderSpec {
  /** Model name or path; records carrying `model` must name this one. */
  model: string;
  dim?: number;
  [key: string]: unknown;
}

export interface CollectionOptions {
  /** Matryoshka funnel: the index holds the first `indexDims` components. */
  indexDims?: number;
  /** Dimension of multi-vector token vectors, fixed by the first record that has them. */
  multiVectorDim?: number;
  /** FTS5 tokenizer of the documents. */
  tokenize: string;
}

export interface CollectionRow {
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

export interface CollectionInfo {
  name: string;
  dim: number;
  metric: Metric;
  /** The index spec asked for (`auto`, or a kind with parameters). */
  index: CollectionIndexSpec;
  /** The kind of index in use now (`auto` resolves to flat or HNSW; IVF is flat until trained). */
  indexKind: string | undefined;
  count: number;
  encoder: EncoderSpec | null;
  indexDims: number | undefined;
  /** Last change number. */
  seq: number;
  created: string;
}

export type Include = 'documents' | 'metadatas' | 'vectors';

export interface GetOptions {
  ids?: readonly string[];
  where?: Where;
  whereDocument?: WhereDocument;
  limit?: number;
  offset?: number;
  include?: readonly Include[];
}

export interface GetResult {
  ids: string[];
  documents?: (string | null)[];
  metadatas?: (Metadata | null)[];
  vectors?: Float32Array[];
}

export interface QueryOptions {
  /** Dense query vector (the collection's full dimension). */
  vector?: ArrayLike<number>;
  /** Full-text query over documents (BM25). */
  text?: string;
  /** Sparse query: { token: weight } or { indices, values }. */
  sparse?: unknown;
  /** Query token vectors: re-rank the candidates by MaxSim. */
  multiVector?: ArrayLike<ArrayLike<number>> | VectorBatch;
  k?: number;
  where?: Where;
  whereDocument?: WhereDocument;
  /** 'rrf' (default) or weights per signal over min-max normalised scores. */
  fusion?: 'rrf' | { weights: { dense?: number; text?: number; sparse?: number } };
  /** Candidates per signal before fusion / re-ranking. Default max(10 × k, 100). */
  candidates?: number;
  /** Matryoshka funnel: candidates = funnel × k (at least 100). Default 10. */
  funnel?: number;
  efSearch?: number;
  nProbe?: number;
  include?: readonly Include[];
}

export interface QueryResult {
  ids: string[];
  /** Index distances (smaller = closer) for dense queries; NaN where a hit has no dense distance. */
  distances: Float32Array;
  /**
   * Display scores: for a dense-only query `userScore` of the distance (cosine similarity, inner
   * product, or L2 distance — the one where smaller is better); for hybrid queries the fused score
   * (higher = better); for text alone the BM25 score, for sparse alone the dot product.
   */
  scores: Float32Array;
  documents?: (string | null)[];
  metadatas?: (Metadata | null)[];
  vectors?: Float32Array[];
}

export interface BatchQueryResult {
  k: number;
  count: number;
  /** Row q: the ids of query q's hits, nearest first. */
  ids: string[][];
  /** Row-major count × k; Infinity pads rows with fewer than k hits. */
  distances: Float32Array;
  counts: Uint32Array;
}

export interface WriteOptions {
  /** Progress of long writes: records stored, then vectors indexed. */
  onProgress?: (p: { phase: 'store' | 'index'; done: number; total?: number }) => void;
}

export interface VerifyReport {
  ok: boolean;
  checked: { records: number; indexed: number; snapshots: number };
  problems: string[];
  /** Ids of stored records whose vector is not `dim` finite float32 values (left out of the index). */
  invalid: string[];
}

export interface CompactOptions extends WriteOptions {
  /** Delete the records whose stored vector is not finite float32 (docs/hardening.md §2). */
  dropInvalid?: boolean;
}

export interface CompactReport {
  /** Records now stored and indexed. */
  records: number;
  indexed: number;
  /** Ids of records left out of the index because their vector is not finite (kept unless dropInvalid). */
  invalid: string[];
  /** Ids deleted by dropInvalid. */
  dropped: string[];
}

export interface EvaluateReport {
  k: number;
  sample: number;
  recall: number;
  indexQps: number;
  exactQps: number;
  indexKind: string;
}

interface IndexState {
  index: VectorIndex;
  /** The change number the index reflects. */
  seq: number;
  /** The change number of the newest snapshot on disk (0: none). */
  snapSeq: number;
  /** Records changed since that snapshot (drives automatic snapshots). */
  changes: number;
  /** Where the index came from when loaded: a snapshot file, or derived from all records. */
  origin: 'snapshot' | 'records';
  /** Records caught up from the change log since loading. */
  caughtUp: number;
}

export interface IndexStatus {
  loaded: boolean;
  kind?: string;
  size?: number;
  seq?: number;
  snapshotSeq?: number;
  origin?: 'snapshot' | 'records';
  caughtUp?: number;
  memoryBytes?: number;
}

interface SparseState { index: SparseIndex; dict: TermDictionary; seq: number }

export type WriteMode = 'add' | 'upsert' | 'update';

interface PendingVectors { slots: Uint32Array; data: Float32Array; count: number }

/** @internal What the stored half of a write call hands to its in-memory half. */
export interface StoredWrite {
  seq: number;
  count: number;
  pending: PendingVectors[];
  written: { slot: number; id: string }[];
  mvDim: number | undefined;
}

/** The same id twice in one write call (docs/hardening.md §1; Chroma refuses it too). */
function duplicateId(mode: WriteMode, id: string, first: number | undefined, at: number): OmnivecError {
  return new OmnivecError('invalid_argument',
    `${mode}[${at}].id: the id ${JSON.stringify(id)} appears twice in this call${first === undefined ? '' : ` (also at ${mode}[${first}])`}; ids must be unique within one call`,
    { id });
}

const DEFAULT_INCLUDE: readonly Include[] = ['documents', 'metadatas'];
const NO_FILTER_KEY = filterKey(undefined, undefined);
const FILTER_CACHE = 32;

function checkK(k: unknown, what = 'k'): number {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > 100_000) {
    throw new OmnivecError('invalid_argument', `${what}: expected an integer from 1 to 100000, got ${describe(k)}`);
  }
  return k;
}

function isUniqueError(e: unknown): boolean {
  return e instanceof Error && (e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/**
 * A collection: records in SQLite, an ANN index derived from them (docs/db.md). Get one from
 * `Database.createCollection` / `getCollection`.
 */
export class Collection {
  readonly name: string;
  readonly dim: number;
  readonly metric: Metric;
  readonly cid: number;
  readonly indexSpec: CollectionIndexSpec;
  readonly encoder: EncoderSpec | null;
  readonly created: string;
  #options: CollectionOptions;
  #seq: number;
  #tombFloor: number;
  #ctx: DbContext;
  #t: ReturnType<typeof tables>;
  #state: IndexState | undefined;
  #loading: Promise<IndexState> | undefined;
  #sparse: SparseState | undefined;
  #filters = new Map<string, { seq: number; set: IdSet }>();
  /**
   * slot → id of every record, kept in memory by a writer once a query asked for ids only (so such
   * queries skip SQLite). Updated by this process's writes after each commit; never used by a
   * read-only handle (another process writes there). ~40 bytes a record.
   */
  #idCache: (string | undefined)[] | undefined;
  #dropped = false;
  #stmts = new Map<string, BetterSqlite3.Statement>();
  /** Problems met loading snapshots (reported by verify). */
  #loadProblems: string[] = [];


  constructor(ctx: DbContext, row: CollectionRow) {
    this.#ctx = ctx;
    this.cid = row.cid;
    this.name = row.name;
    this.dim = row.dim;
    this.metric = row.metric;
    this.indexSpec = JSON.parse(row.index_spec) as CollectionIndexSpec;
    this.encoder = row.encoder === null ? null : JSON.parse(row.encoder) as EncoderSpec;
    this.#options = JSON.parse(row.options) as CollectionOptions;
    this.#seq = row.seq;
    this.#tombFloor = row.tomb_floor;
    this.created = row.created;
    this.#t = tables(row.cid);
  }

  /** The dimension the index holds (the Matryoshka prefix when `indexDims` is set). */
  get indexDim(): number {
    return this.#options.indexDims ?? this.dim;
  }

  get seq(): number {
    return this.#seq;
  }

  // -------------------------------------------------------------------------------------------
  // Statements

  #stmt(key: string, sql: () => string, db: 'r' | 'w' = 'r'): BetterSqlite3.Statement {
    const k = db + key;
    let s = this.#stmts.get(k);
    if (s === undefined) {
      s = this.#ctx[db].prepare(sql());
      this.#stmts.set(k, s);
    }
    return s;
  }

  #alive(): void {
    if (this.#dropped) throw new OmnivecError('not_found', `collection "${this.name}": it was dropped`);
  }

  #writable(): void {
    this.#alive();
    if (this.#ctx.readOnly) throw new OmnivecError('read_only', `collection "${this.name}": the database is open read-only; open it without { readOnly: true } to write`);
  }

  /** Read-only handles follow the writer: pick up its committed changes before reading. */
  #refresh(): void {
    this.#alive();
    if (!this.#ctx.readOnly) return;
    const row = this.#ctx.r.prepare('SELECT seq, tomb_floor, options FROM collections WHERE cid = ?').get(this.cid) as
      { seq: number; tomb_floor: number; options: string } | undefined;
    if (row === undefined) {
      this.#dropped = true;
      throw new OmnivecError('not_found', `collection "${this.name}": it was dropped`);
    }
    this.#seq = row.seq;
    this.#options = JSON.parse(row.options) as CollectionOptions;
    if (row.tomb_floor > this.#tombFloor) {
      this.#tombFloor = row.tomb_floor;
      // Tombstones the index still needed may be gone: reload from the newest snapshot.
      if (this.#state !== undefined && this.#state.seq < row.tomb_floor) this.#state = undefined;
      if (this.#sparse !== undefined && this.#sparse.seq < row.tomb_floor) this.#sparse = undefined;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Reads

  count(): number {
    this.#refresh();
    return (this.#stmt('count', () => `SELECT count(*) AS n FROM ${this.#t.records}`).get() as { n: number }).n;
  }

  info(): CollectionInfo {
    return {
      name: this.name, dim: this.dim, metric: this.metric, index: this.indexSpec,
      indexKind: this.#state?.index.kind, count: this.count(), encoder: this.encoder,
      indexDims: this.#options.indexDims, seq: this.#seq, created: this.created,
    };
  }

  /** Records by id (in the order asked, missing ids left out) or by filter, paged. */
  get(options: GetOptions = {}): GetResult {
    this.#refresh();
    if (options === null || typeof options !== 'object') throw new OmnivecError('invalid_argument', `get: expected options { ids?, where?, limit?, offset? }, got ${describe(options)}`);
    const include = options.include ?? DEFAULT_INCLUDE;
    const rows: { slot: number; id: string; document: string | null; metadata: string | null; vector?: Buffer }[] = [];
    const cols = `slot, id, document, json(metadata) AS metadata${include.includes('vectors') ? ', vector' : ''}`;
    const filter = this.#compile(options.where, options.whereDocument, 'metadata', 'document');
    if (options.ids !== undefined) {
      if (!Array.isArray(options.ids)) throw new OmnivecError('invalid_argument', `get.ids: expected an array of strings, got ${describe(options.ids)}`);
      const st = this.#ctx.r.prepare(`SELECT ${cols} FROM ${this.#t.records} WHERE id = ? AND (${filter.sql})`);
      for (let i = 0; i < options.ids.length; i++) {
        const row = st.get(checkId(options.ids[i], `get.ids[${i}]`), ...filter.params) as typeof rows[number] | undefined;
        if (row !== undefined) rows.push(row);
      }
    } else {
      const limit = options.limit === undefined ? -1 : checkK(options.limit, 'get.limit');
      const offset = options.offset ?? 0;
      if (!Number.isInteger(offset) || offset < 0) throw new OmnivecError('invalid_argument', `get.offset: expected a non-negative integer, got ${describe(offset)}`);
      rows.push(...this.#ctx.r.prepare(`SELECT ${cols} FROM ${this.#t.records} WHERE ${filter.sql} ORDER BY slot LIMIT ? OFFSET ?`)
        .all(...filter.params, limit, offset) as typeof rows);
    }
    return this.#shape(rows, include);
  }

  peek(n = 10): GetResult {
    return this.get({ limit: n });
  }

  /** Ids in storage order, paged. */
  list(options: { limit?: number; offset?: number } = {}): string[] {
    this.#refresh();
    const limit = options.limit ?? -1;
    const offset = options.offset ?? 0;
    return (this.#ctx.r.prepare(`SELECT id FROM ${this.#t.records} ORDER BY slot LIMIT ? OFFSET ?`).pluck().all(limit, offset)) as string[];
  }

  /** Every record, streamed in storage order (for export). */
  *iterate(): Generator<{ id: string; vector: Float32Array; document: string | null; metadata: Metadata | null }> {
    this.#refresh();
    let after = -1;
    const st = this.#ctx.r.prepare(`SELECT slot, id, vector, document, json(metadata) AS metadata FROM ${this.#t.records} WHERE slot > ? ORDER BY slot LIMIT 1024`);
    for (;;) {
      const rows = st.all(after) as { slot: number; id: string; vector: Buffer; document: string | null; metadata: string | null }[];
      if (rows.length === 0) return;
      for (const r of rows) {
        yield { id: r.id, vector: readF32(r.vector), document: r.document, metadata: r.metadata === null ? null : JSON.parse(r.metadata) as Metadata };
      }
      after = rows[rows.length - 1]!.slot;
    }
  }

  #shape(rows: { id: string; document: string | null; metadata: string | null; vector?: Buffer }[], include: readonly Include[]): GetResult {
    const out: GetResult = { ids: rows.map((r) => r.id) };
    if (include.includes('documents')) out.documents = rows.map((r) => r.document);
    if (include.includes('metadatas')) out.metadatas = rows.map((r) => (r.metadata === null ? null : JSON.parse(r.metadata) as Metadata));
    if (include.includes('vectors')) out.vectors = rows.map((r) => readF32(r.vector!));
    return jsonable(out);
  }

  #compile(where: Where | undefined, whereDocument: WhereDocument | undefined, metadata: string, document: string): { sql: string; params: unknown[] } {
    if (where !== undefined) checkWhere(where, 'where');
    if (whereDocument !== undefined) checkWhereDocument(whereDocument, 'whereDocument');
    return compileFilter(where, whereDocument, { metadata, document });
  }

  // -------------------------------------------------------------------------------------------
  // Writes

  /** Inserts records; refuses an id already stored or repeated (`already_exists`): nothing of the call is written then. */
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

  async #write(mode: WriteMode, input: RecordsInput, options: WriteOptions = {}): Promise<number> {
    this.#writable();
    return this.#ctx.mutex.run(async () => {
      this.#alive();
      await this.#ensureIndex();
      this.#syncIndex();
      const w = this.#ctx.w;
      w.exec('BEGIN IMMEDIATE');
      let stored: StoredWrite;
      try {
        stored = await this.storeInTransaction(mode, input, options);
        w.exec('COMMIT');
      } catch (e) {
        if (w.inTransaction) w.exec('ROLLBACK');
        throw e;
      }
      return this.afterCommit(stored, options);
    });
  }

  /**
   * @internal The stored half of a write call: validates each chunk, writes its rows and the new
   * change number inside the caller's open transaction. The caller holds the mutex, commits (or
   * rolls back), then calls `afterCommit`. Used by `#write` and by
   * `Database.createCollection({ records })` (the collection and its first records in one transaction).
   */
  async storeInTransaction(mode: WriteMode, input: RecordsInput, options: WriteOptions = {}): Promise<StoredWrite> {
    const w = this.#ctx.w;
    const seq = this.#seq + 1;
    const r = this.#t.records;
    // Vectors written by this call, kept (at the index's dimension) to go into the index after the
    // commit without reading them back from SQLite.
    const pending: PendingVectors[] = [];
    const written: { slot: number; id: string }[] = [];
    const d = this.indexDim;
    const insert = this.#stmt(`ins`, () => `INSERT INTO ${r}(id, vector, document, metadata, sparse, multivector, vseq) VALUES (?, ?, ?, jsonb(?), ?, ?, ?)`, 'w');
    const upsert = this.#stmt(`ups`, () => `INSERT INTO ${r}(id, vector, document, metadata, sparse, multivector, vseq) VALUES (?, ?, ?, jsonb(?), ?, ?, ?)
      ON CONFLICT(id) DO UPDATE SET vector = excluded.vector, document = excluded.document, metadata = excluded.metadata,
      sparse = excluded.sparse, multivector = excluded.multivector, vseq = excluded.vseq RETURNING slot`, 'w').pluck();
    const update = this.#stmt(`upd`, () => `UPDATE ${r} SET
      vector = CASE WHEN @hv THEN @vector ELSE vector END,
      document = CASE WHEN @hd THEN @document ELSE document END,
      metadata = CASE WHEN @hm THEN jsonb(@metadata) ELSE metadata END,
      sparse = CASE WHEN @hs THEN @sparse ELSE sparse END,
      multivector = CASE WHEN @hmv THEN @mv ELSE multivector END,
      vseq = CASE WHEN @hv OR @hs OR @hmv THEN @seq ELSE vseq END
      WHERE id = @id RETURNING slot`, 'w').pluck();
    const vseqOf = this.#stmt('vseqOf', () => `SELECT vseq FROM ${r} WHERE id = ?`, 'w').pluck();
    const ctx = { dim: this.dim, mode, model: this.encoder?.model, what: mode };
    // Ids must be unique within a call (docs/hardening.md §1): within a chunk by id, across chunks
    // by the slot a row landed in (upsert and update return it; add's UNIQUE constraint catches it).
    const slotAt = new Map<number, number>();
    let n = 0;
    let mvDim = this.#options.multiVectorDim;
    for await (const chunk of recordChunks(input, this.dim, mode)) {
      const rows: PreparedRow[] = new Array(chunk.length);
      const sparse: (string | null | undefined)[] = new Array(chunk.length);
      const seen = new Map<string, number>();
      for (let i = 0; i < chunk.length; i++) {
        const row = prepareRow(chunk[i]!, n + i, ctx);
        const first = seen.get(row.id);
        if (first !== undefined) throw duplicateId(mode, row.id, first, n + i);
        seen.set(row.id, n + i);
        sparse[i] = row.sparse === undefined ? undefined : row.sparse === null ? null : canonicalSparse(row.sparse, `${mode}[${n + i}].sparse`);
        if (row.multiVector) {
          if (mvDim === undefined) mvDim = row.multiVector.dim;
          else if (row.multiVector.dim !== mvDim) {
            throw new OmnivecError('dimension_mismatch', `${mode}[${n + i}].multiVector: expected token vectors of dimension ${mvDim} (the collection's), got ${row.multiVector.dim}`);
          }
        }
        rows[i] = row;
      }
      const slots = new Uint32Array(rows.length);
      const data = new Float32Array(rows.length * d);
      const bytes = new Uint8Array(data.buffer);
      let kept = 0;
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i]!;
        const mv = row.multiVector ? Buffer.from(row.multiVector.data.buffer, row.multiVector.data.byteOffset, row.multiVector.data.byteLength) : row.multiVector;
        let slot: number;
        if (mode === 'update') {
          const got = update.get({
            hv: row.vector !== undefined ? 1 : 0, vector: row.vector ?? null,
            hd: row.document !== undefined ? 1 : 0, document: row.document ?? null,
            hm: row.metadata !== undefined ? 1 : 0, metadata: row.metadata ?? null,
            hs: sparse[i] !== undefined ? 1 : 0, sparse: sparse[i] ?? null,
            hmv: mv !== undefined ? 1 : 0, mv: mv ?? null,
            seq, id: row.id,
          });
          if (got === undefined) throw new OmnivecError('not_found', `update[${n + i}].id: no record with id ${JSON.stringify(row.id)} in "${this.name}"`, { id: row.id });
          slot = got as number;
        } else {
          try {
            slot = mode === 'add'
              ? Number(insert.run(row.id, row.vector!, row.document ?? null, row.metadata ?? null, sparse[i] ?? null, mv ?? null, seq).lastInsertRowid)
              : upsert.get(row.id, row.vector!, row.document ?? null, row.metadata ?? null, sparse[i] ?? null, mv ?? null, seq) as number;
          } catch (e) {
            if (isUniqueError(e)) {
              if (vseqOf.get(row.id) === seq) throw duplicateId(mode, row.id, undefined, n + i);
              throw new OmnivecError('already_exists', `add[${n + i}].id: a record with id ${JSON.stringify(row.id)} already exists in "${this.name}"; use upsert to replace it`, { id: row.id });
            }
            throw e;
          }
          if (this.#idCache !== undefined) written.push({ slot, id: row.id });
        }
        if (mode !== 'add') {
          const first = slotAt.get(slot);
          if (first !== undefined) throw duplicateId(mode, row.id, first, n + i);
          slotAt.set(slot, n + i);
        }
        if (row.vector !== undefined) {
          slots[kept] = slot;
          bytes.set(row.vector.subarray(0, d * 4), kept++ * d * 4);
        }
      }
      if (kept > 0) pending.push({ slots: slots.subarray(0, kept), data: data.subarray(0, kept * d), count: kept });
      n += chunk.length;
      options.onProgress?.({ phase: 'store', done: n });
    }
    if (mvDim !== this.#options.multiVectorDim) {
      w.prepare('UPDATE collections SET options = ? WHERE cid = ?').run(JSON.stringify({ ...this.#options, multiVectorDim: mvDim }), this.cid);
    }
    w.prepare('UPDATE collections SET seq = ? WHERE cid = ?').run(seq, this.cid);
    return { seq, count: n, pending, written, mvDim };
  }

  /** @internal The in-memory half of a write call, after its commit: change number, caches, index, snapshot. */
  async afterCommit(stored: StoredWrite, options: WriteOptions = {}): Promise<number> {
    const { seq, pending, written, mvDim } = stored;
    this.#seq = seq;
    if (mvDim !== this.#options.multiVectorDim) this.#options = { ...this.#options, multiVectorDim: mvDim };
    this.#filters.clear();
    if (this.#idCache !== undefined) for (const x of written) this.#idCache[x.slot] = x.id;
    this.#applyPending(pending, seq - 1, options.onProgress);
    await this.#maybeSnapshot();
    return stored.count;
  }

  /**
   * @internal For `Database.createCollection({ records })`: the index of a collection created in
   * the caller's open transaction, empty at change 0 (its tables are not visible to the read
   * connection before the commit, so the index cannot be derived from them yet).
   */
  initEmptyIndex(): void {
    this.#state = { index: this.#emptyIndex(wantedKind(this.indexSpec, 0), 0), seq: 0, snapSeq: 0, changes: 0, origin: 'records', caughtUp: 0 };
  }

  /**
   * Puts the vectors a write call just committed into the index, when the index was current before
   * the call (else, or when the index kind must change, the general sync reads the changes back).
   */
  #applyPending(pending: PendingVectors[], before: number, onProgress?: WriteOptions['onProgress']): void {
    const st = this.#state;
    if (st === undefined || st.seq !== before) { this.#syncIndex(onProgress); return; }
    // The last write of a slot wins (an id upserted twice in one call).
    const last = new Map<number, number>();
    let total = 0;
    pending.forEach((p, c) => { for (let i = 0; i < p.count; i++) last.set(p.slots[i]!, c * 0x100000 + i); total += p.count; });
    const replaced: number[] = [];
    for (const slot of last.keys()) if (st.index.has(slot)) replaced.push(slot);
    const size = st.index.size - replaced.length + last.size;
    if (wantedKind(this.indexSpec, size) !== st.index.kind) { this.#syncIndex(onProgress); return; }
    if (replaced.length > 0) st.index.remove(Uint32Array.from(replaced));
    let done = 0;
    const d = this.indexDim;
    for (let c = 0; c < pending.length; c++) {
      const p = pending[c]!;
      let { slots, data, count } = p;
      if (last.size !== total) {
        // Keep only each slot's last write.
        const keep: number[] = [];
        for (let i = 0; i < count; i++) if (last.get(slots[i]!) === c * 0x100000 + i) keep.push(i);
        if (keep.length !== count) {
          const s2 = new Uint32Array(keep.length);
          const d2 = new Float32Array(keep.length * d);
          keep.forEach((i, j) => { s2[j] = slots[i]!; d2.set(data.subarray(i * d, (i + 1) * d), j * d); });
          slots = s2; data = d2; count = keep.length;
        }
      }
      if (count > 0) st.index.add(slots, { data, dim: d, count });
      done += count;
      onProgress?.({ phase: 'index', done, total: last.size });
    }
    st.changes += last.size;
    st.seq = this.#seq;
  }

  /** Deletes records by id and / or filter (at least one must be given); returns how many were deleted. */
  async delete(options: { ids?: readonly string[]; where?: Where; whereDocument?: WhereDocument }): Promise<number> {
    this.#writable();
    if (options === null || typeof options !== 'object' || (options.ids === undefined && options.where === undefined && options.whereDocument === undefined)) {
      throw new OmnivecError('invalid_argument', `delete: expected { ids } and / or { where, whereDocument }, got ${describe(options)}; to delete everything, drop the collection`);
    }
    if (options.ids !== undefined && !Array.isArray(options.ids)) throw new OmnivecError('invalid_argument', `delete.ids: expected an array of strings, got ${describe(options.ids)}`);
    const empty = (x: unknown): boolean => x === undefined || (x !== null && typeof x === 'object' && Object.keys(x).length === 0);
    if (options.ids === undefined && empty(options.where) && empty(options.whereDocument)) {
      throw new OmnivecError('invalid_argument', 'delete: an empty filter matches every record; to delete everything, drop the collection');
    }
    const ids = (options.ids ?? []).map((id, i) => checkId(id, `delete.ids[${i}]`));
    const hasFilter = options.where !== undefined || options.whereDocument !== undefined;
    const filter = this.#compile(options.where, options.whereDocument, 'metadata', 'document');
    return this.#ctx.mutex.run(async () => {
      this.#alive();
      await this.#ensureIndex();
      const w = this.#ctx.w;
      const seq = this.#seq + 1;
      const r = this.#t.records;
      const tomb = this.#stmt('tomb', () => `INSERT INTO ${this.#t.tombs}(slot, seq) VALUES (?, ?)`, 'w');
      let n = 0;
      const gone: number[] = [];
      w.exec('BEGIN IMMEDIATE');
      try {
        if (options.ids !== undefined) {
          const del = w.prepare(`DELETE FROM ${r} WHERE id = ? AND (${filter.sql}) RETURNING slot`).pluck();
          for (const id of ids) {
            const slot = del.get(id, ...filter.params) as number | undefined;
            if (slot !== undefined) { tomb.run(slot, seq); gone.push(slot); n++; }
          }
        } else if (hasFilter) {
          for (const slot of w.prepare(`DELETE FROM ${r} WHERE ${filter.sql} RETURNING slot`).pluck().all(...filter.params) as number[]) {
            tomb.run(slot, seq);
            gone.push(slot);
            n++;
          }
        }
        if (n > 0) w.prepare('UPDATE collections SET seq = ? WHERE cid = ?').run(seq, this.cid);
        w.exec('COMMIT');
      } catch (e) {
        if (w.inTransaction) w.exec('ROLLBACK');
        throw e;
      }
      if (n > 0) {
        this.#seq = seq;
        this.#filters.clear();
        if (this.#idCache !== undefined) for (const slot of gone) this.#idCache[slot] = undefined;
        this.#syncIndex();
        await this.#maybeSnapshot();
      }
      return n;
    });
  }

  // -------------------------------------------------------------------------------------------
  // The index: load, catch up, snapshot

  #ensureIndex(): Promise<IndexState> {
    if (this.#state !== undefined) return Promise.resolve(this.#state);
    this.#loading ??= this.#loadIndex().finally(() => { this.#loading = undefined; });
    return this.#loading;
  }

  async #loadIndex(): Promise<IndexState> {
    const found = await loadNewestSnapshot(this.#ctx.indexDir, this.cid, this.#tombFloor, this.#seq, this.indexDim, this.metric);
    let state: IndexState;
    if ('index' in found) {
      state = { index: found.index, seq: found.seq, snapSeq: found.seq, changes: 0, origin: 'snapshot', caughtUp: 0 };
    } else {
      this.#loadProblems = found.problems;
      // No usable snapshot: derive the index from the records (a fresh collection, or a damaged file).
      const count = (this.#ctx.r.prepare(`SELECT count(*) AS n FROM ${this.#t.records}`).get() as { n: number }).n;
      state = { index: this.#buildFromRecords(wantedKind(this.indexSpec, count), count), seq: this.#seq, snapSeq: 0, changes: count, origin: 'records', caughtUp: 0 };
      this.#state = state;
      return state;
    }
    this.#state = state;
    this.#syncIndex();
    return state;
  }

  /** Vectors of the given rows as the index wants them (the Matryoshka prefix when indexDims is set). */
  #toIndexBatch(rows: { vector: Buffer }[]): VectorBatch {
    const d = this.indexDim;
    const data = new Float32Array(rows.length * d);
    const bytes = new Uint8Array(data.buffer);
    for (let i = 0; i < rows.length; i++) bytes.set(rows[i]!.vector.subarray(0, d * 4), i * d * 4);
    return { data, dim: d, count: rows.length };
  }

  #emptyIndex(kind: 'flat' | 'ivf' | 'hnsw', count: number): VectorIndex {
    const d = this.indexDim;
    return kind === 'flat' ? new FlatIndex({ dim: d, metric: this.metric }) : buildEmpty({ ...this.indexSpec, kind }, d, this.metric, count);
  }

  #buildFromRecords(kind: 'flat' | 'ivf' | 'hnsw', count: number, onProgress?: WriteOptions['onProgress']): VectorIndex {
    const index = this.#emptyIndex(kind, count);
    if (kind === 'ivf') {
      const step = Math.max(1, Math.ceil(count / IVF_TRAIN_SAMPLE));
      let sample = this.#ctx.r.prepare(`SELECT vector FROM ${this.#t.records} WHERE slot % ? = 0 LIMIT ?`).all(step, IVF_TRAIN_SAMPLE) as { vector: Buffer }[];
      if (sample.length === 0) sample = this.#ctx.r.prepare(`SELECT vector FROM ${this.#t.records} LIMIT ?`).all(IVF_TRAIN_SAMPLE) as { vector: Buffer }[];
      index.train(this.#toIndexBatch(sample.filter((row) => isValidVectorBlob(row.vector, this.dim))));
    }
    this.#addRows(index, this.#ctx.r.prepare(`SELECT slot, vector FROM ${this.#t.records} ORDER BY slot`), [], count, onProgress);
    return index;
  }

  /**
   * Streams rows (slot, vector) from a statement into the index in chunks. A stored vector that is
   * not `dim` finite float32 values (an older version could commit one, docs/hardening.md §2) is
   * left out of the index (`verify` reports it), so one bad row never makes the collection unusable.
   */
  #addRows(index: VectorIndex, st: BetterSqlite3.Statement, params: unknown[], total: number | undefined, onProgress?: WriteOptions['onProgress']): number {
    const CH = 8192;
    let buf: { slot: number; vector: Buffer }[] = [];
    let done = 0;
    const flush = (): void => {
      const ids = new Uint32Array(buf.length);
      for (let i = 0; i < buf.length; i++) ids[i] = buf[i]!.slot;
      index.add(ids, this.#toIndexBatch(buf));
      done += buf.length;
      buf = [];
      onProgress?.({ phase: 'index', done, total });
    };
    for (const row of st.iterate(...params) as IterableIterator<{ slot: number; vector: Buffer }>) {
      if (!isValidVectorBlob(row.vector, this.dim)) continue;
      buf.push(row);
      if (buf.length === CH) flush();
    }
    if (buf.length > 0) flush();
    return done;
  }

  /** Brings the in-memory index up to the collection's last change (the sync rule of docs/db.md). */
  #syncIndex(onProgress?: WriteOptions['onProgress']): void {
    const st = this.#state;
    if (st === undefined || st.seq === this.#seq) return;
    const from = st.seq;
    const { records: r, tombs: t } = this.#t;
    const stale = new Set<number>();
    for (const slot of this.#stmt('tombSince', () => `SELECT slot FROM ${t} WHERE seq > ?`).pluck().iterate(from) as IterableIterator<number>) {
      if (st.index.has(slot)) stale.add(slot);
    }
    let changed = 0;
    let touched = stale.size;
    for (const slot of this.#stmt('changedSince', () => `SELECT slot FROM ${r} WHERE vseq > ?`).pluck().iterate(from) as IterableIterator<number>) {
      changed++;
      if (st.index.has(slot)) {
        if (!stale.has(slot)) stale.add(slot);
        else touched--; // deleted and re-added at the same slot, or upserted: one change
      }
      touched++;
    }
    const total = st.index.size - stale.size + changed;
    const want = wantedKind(this.indexSpec, total);
    if (want !== st.index.kind) {
      // auto crossing to HNSW, or IVF reaching its training size: derive the new index once.
      st.index = this.#buildFromRecords(want, total, onProgress);
      st.changes += total;
    } else {
      if (stale.size > 0) st.index.remove(Uint32Array.from(stale));
      this.#addRows(st.index, this.#stmt('rowsSince', () => `SELECT slot, vector FROM ${r} WHERE vseq > ? ORDER BY slot`), [from], changed, onProgress);
      st.changes += stale.size + changed;
    }
    st.caughtUp += touched;
    st.seq = this.#seq;
  }

  async #maybeSnapshot(): Promise<void> {
    const st = this.#state;
    if (st !== undefined && st.changes >= Math.max(50_000, st.index.size / 2)) await this.#snapshot();
  }

  /** Saves the index as `c<cid>-<seq>.idx`, then drops older snapshots and the tombstones it covers. Caller holds the mutex. */
  async #snapshot(): Promise<void> {
    const st = this.#state;
    if (st === undefined || this.#ctx.readOnly || this.#dropped) return;
    if (st.seq === st.snapSeq && st.changes === 0) return;
    const seq = st.seq;
    await writeSnapshot(st.index, this.#ctx.indexDir, this.cid, seq);
    for (const s of await listSnapshots(this.#ctx.indexDir)) {
      if (s.cid === this.cid && s.seq !== seq) await unlink(s.path).catch(() => undefined);
    }
    const w = this.#ctx.w;
    w.transaction(() => {
      w.prepare(`DELETE FROM ${this.#t.tombs} WHERE seq <= ?`).run(seq);
      w.prepare('UPDATE collections SET tomb_floor = ? WHERE cid = ?').run(seq, this.cid);
    })();
    this.#tombFloor = seq;
    this.#loadProblems = []; // a good snapshot now replaces whatever failed to load
    st.snapSeq = seq;
    st.changes = 0;
  }

  /** Writes the index snapshot now (also done on close, and automatically after many changes). */
  async flush(): Promise<void> {
    this.#alive();
    if (this.#ctx.readOnly) return;
    return this.#ctx.mutex.run(async () => {
      if (this.#state === undefined) await this.#ensureIndex();
      await this.#snapshot();
    });
  }

  /** Where the in-memory index stands (for tests, `info --json` and the logs). */
  indexStatus(): IndexStatus {
    const st = this.#state;
    if (st === undefined) return { loaded: false };
    return { loaded: true, kind: st.index.kind, size: st.index.size, seq: st.seq, snapshotSeq: st.snapSeq, origin: st.origin, caughtUp: st.caughtUp, memoryBytes: st.index.stats().memoryBytes };
  }

  /** Loads the index now (otherwise it is loaded on first use). */
  async open(): Promise<void> {
    this.#refresh();
    await this.#ensureIndex();
    this.#syncIndex();
  }

  /** @internal Called by Database.close(): snapshot if loaded and changed. */
  async closeIndex(): Promise<void> {
    if (this.#state !== undefined && !this.#ctx.readOnly && !this.#dropped) await this.#snapshot();
    this.#state = undefined;
    this.#sparse = undefined;
  }

  /** @internal Called by Database.dropCollection. */
  markDropped(): void {
    this.#dropped = true;
    this.#idCache = undefined;
    this.#state = undefined;
    this.#sparse = undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Queries

  /** The slots matching a filter, cached per filter and change number. */
  #allowed(where: Where | undefined, whereDocument: WhereDocument | undefined): IdSet | undefined {
    if (where === undefined && whereDocument === undefined) return undefined;
    const key = filterKey(where, whereDocument);
    if (key === NO_FILTER_KEY) return undefined;
    const hit = this.#filters.get(key);
    if (hit !== undefined && hit.seq === this.#seq) {
      this.#filters.delete(key);
      this.#filters.set(key, hit);
      return hit.set;
    }
    const f = this.#compile(where, whereDocument, 'metadata', 'document');
    const slots = this.#ctx.r.prepare(`SELECT slot FROM ${this.#t.records} WHERE ${f.sql}`).pluck().raw(false).all(...f.params) as number[];
    const set = new IdSet(slots);
    this.#filters.set(key, { seq: this.#seq, set });
    if (this.#filters.size > FILTER_CACHE) this.#filters.delete(this.#filters.keys().next().value!);
    return set;
  }

  #checkQueryVector(v: unknown, what: string): Float32Array {
    if (v instanceof Float32Array && v.length === this.dim) {
      for (let j = 0; j < v.length; j++) if (!Number.isFinite(v[j]!)) throw new OmnivecError('invalid_argument', `${what}[${j}]: expected a finite number, got ${describe(v[j])}`);
      return v;
    }
    return readF32(vectorBytes(v, this.dim, what));
  }

  #indexQuery(q: Float32Array): Float32Array {
    return this.indexDim === this.dim ? q : q.slice(0, this.indexDim);
  }

  /** Dense candidates: slots and index distances, nearest first, re-ranked with full vectors under the funnel. */
  #dense(state: IndexState, q: Float32Array, k: number, allow: IdSet | undefined, o: QueryOptions): { ids: Uint32Array; distances: Float32Array } {
    if (allow !== undefined && allow.size === 0) return { ids: new Uint32Array(0), distances: new Float32Array(0) };
    if (state.index.size === 0) return { ids: new Uint32Array(0), distances: new Float32Array(0) };
    const opts: SearchOptions = { efSearch: o.efSearch, nProbe: o.nProbe };
    if (allow !== undefined) opts.allow = allow;
    const funnel = this.indexDim !== this.dim;
    const kk = funnel ? Math.max(100, (o.funnel ?? 10) * k) : k;
    const res = state.index.search(this.#indexQuery(q), kk, opts);
    if (!funnel) return res;
    return this.#rerankFull(q, res.ids, k);
  }

  /** Exact distances of the full stored vectors of `slots` to q; the k nearest. */
  #rerankFull(q: Float32Array, slots: Uint32Array, k: number): { ids: Uint32Array; distances: Float32Array } {
    const qq = Float32Array.from(q);
    if (this.metric === 'cosine') normalizeInPlace(qq);
    const st = this.#stmt('vecOf', () => `SELECT vector FROM ${this.#t.records} WHERE slot = ?`).pluck();
    const top = new TopK(k);
    for (const slot of slots) {
      const b = st.get(slot) as Buffer | undefined;
      if (b === undefined) continue;
      const v = readF32(b);
      top.push(slot, this.#distance(qq, v));
    }
    const ids = new Uint32Array(k);
    const distances = new Float32Array(k);
    const n = top.drainSorted(ids, distances);
    return { ids: ids.slice(0, n), distances: distances.slice(0, n) };
  }

  /** Distance in the index convention (q already normalised for cosine). */
  #distance(q: Float32Array, v: Float32Array): number {
    let s = 0;
    if (this.metric === 'l2') {
      for (let j = 0; j < q.length; j++) { const d = q[j]! - v[j]!; s += d * d; }
      return s;
    }
    let vv = 0;
    for (let j = 0; j < q.length; j++) { s += q[j]! * v[j]!; vv += v[j]! * v[j]!; }
    if (this.metric === 'ip') return 1 - s;
    return vv > 0 ? 1 - s / Math.sqrt(vv) : 1;
  }

  #fts(text: string, limit: number, where: Where | undefined, whereDocument: WhereDocument | undefined): RankedList {
    const match = ftsQuery(text);
    if (match === undefined) return { ids: new Uint32Array(0), scores: new Float32Array(0) };
    const f = this.#compile(where, whereDocument, 'r.metadata', 'r.document');
    const { records, fts } = this.#t;
    const rows = this.#ctx.r.prepare(
      `SELECT f.rowid AS slot, bm25(${fts}) AS s FROM ${fts} f JOIN ${records} r ON r.slot = f.rowid
       WHERE ${fts} MATCH ? AND (${f.sql}) ORDER BY s LIMIT ?`).raw().all(match, ...f.params, limit) as [number, number][];
    return { ids: Uint32Array.from(rows, (x) => x[0]), scores: Float32Array.from(rows, (x) => -x[1]) };
  }

  #ensureSparse(): SparseState {
    let sp = this.#sparse;
    const { records: r, tombs: t } = this.#t;
    if (sp === undefined) {
      sp = { index: new SparseIndex(), dict: new TermDictionary(), seq: this.#seq };
      for (const row of this.#ctx.r.prepare(`SELECT slot, sparse FROM ${r} WHERE sparse IS NOT NULL`).raw().iterate() as IterableIterator<[number, string]>) {
        sp.index.add(row[0], parseSparse(JSON.parse(row[1]), sp.dict, 'stored sparse', true));
      }
      this.#sparse = sp;
      return sp;
    }
    if (sp.seq !== this.#seq) {
      for (const slot of this.#ctx.r.prepare(`SELECT slot FROM ${t} WHERE seq > ?`).pluck().iterate(sp.seq) as IterableIterator<number>) sp.index.remove(slot);
      for (const row of this.#ctx.r.prepare(`SELECT slot, sparse FROM ${r} WHERE vseq > ?`).raw().iterate(sp.seq) as IterableIterator<[number, string | null]>) {
        sp.index.remove(row[0]);
        if (row[1] !== null) sp.index.add(row[0], parseSparse(JSON.parse(row[1]), sp.dict, 'stored sparse', true));
      }
      sp.seq = this.#seq;
    }
    return sp;
  }

  /**
   * Searches the collection: dense (`vector`), full text (`text`), sparse (`sparse`), any mix of
   * them fused, optionally re-ranked by MaxSim (`multiVector`); `where` / `whereDocument` apply to
   * every signal. Returns min(k, matching records) hits whenever the dense signal is used alone.
   */
  async query(o: QueryOptions): Promise<QueryResult> {
    if (o === null || typeof o !== 'object') throw new OmnivecError('invalid_argument', `query: expected options { vector?, text?, sparse?, k, where? }, got ${describe(o)}`);
    this.#refresh();
    const k = checkK(o.k ?? 10);
    const include = o.include ?? DEFAULT_INCLUDE;
    const q = o.vector !== undefined ? this.#checkQueryVector(o.vector, 'query.vector') : undefined;
    if (o.text !== undefined && typeof o.text !== 'string') throw new OmnivecError('invalid_argument', `query.text: expected a string, got ${describe(o.text)}`);
    if (q === undefined && o.text === undefined && o.sparse === undefined) {
      throw new OmnivecError('invalid_argument', 'query: expected at least one of vector, text, sparse');
    }
    let mvq: { data: Float32Array; count: number; dim: number } | undefined;
    if (o.multiVector !== undefined) {
      const prepared = prepareRow({ id: 'query', multiVector: o.multiVector }, 0, { dim: this.dim, mode: 'update', model: undefined, what: 'query' });
      mvq = prepared.multiVector ?? undefined;
      const mvDim = this.#options.multiVectorDim;
      if (mvq !== undefined && mvDim !== undefined && mvq.dim !== mvDim) {
        throw new OmnivecError('dimension_mismatch', `query.multiVector: expected token vectors of dimension ${mvDim}, got ${mvq.dim}`);
      }
    }
    const state = await this.#ensureIndex();
    this.#syncIndex();
    const allow = this.#allowed(o.where, o.whereDocument);
    const signals = (q !== undefined ? 1 : 0) + (o.text !== undefined ? 1 : 0) + (o.sparse !== undefined ? 1 : 0);
    const candidates = o.candidates === undefined ? Math.max(10 * k, 100) : checkK(o.candidates, 'query.candidates');

    // One dense signal, no re-ranking: the plain (filtered) nearest-neighbour search.
    if (signals === 1 && q !== undefined && mvq === undefined) {
      const res = this.#dense(state, q, k, allow, o);
      const scores = Float32Array.from(res.distances, (d) => userScore(this.metric, d));
      return this.#assemble(res.ids, res.distances, scores, include);
    }

    const lists: RankedList[] = [];
    const names: ('dense' | 'text' | 'sparse')[] = [];
    const denseDist = new Map<number, number>();
    const limit = mvq === undefined && signals === 1 ? k : candidates;
    if (q !== undefined) {
      const res = this.#dense(state, q, limit, allow, o);
      res.ids.forEach((s, i) => denseDist.set(s, res.distances[i]!));
      // Fusion wants higher = better: the negated index distance (monotone in every metric).
      lists.push({ ids: res.ids, scores: Float32Array.from(res.distances, (d) => -d) });
      names.push('dense');
    }
    if (o.text !== undefined) {
      lists.push(this.#fts(o.text, limit, o.where, o.whereDocument));
      names.push('text');
    }
    if (o.sparse !== undefined) {
      const sp = this.#ensureSparse();
      const sq = parseSparse(o.sparse, sp.dict, 'query.sparse', false) as SparseVector;
      lists.push(sp.index.search(sq, limit, allow === undefined ? undefined : { allow }));
      names.push('sparse');
    }
    let fused: { ids: Uint32Array; scores: Float32Array };
    const fuseLimit = mvq === undefined ? k : candidates;
    if (lists.length === 1) {
      fused = { ids: Uint32Array.from(lists[0]!.ids).slice(0, fuseLimit), scores: Float32Array.from(lists[0]!.scores).slice(0, fuseLimit) };
    } else if (o.fusion === undefined || o.fusion === 'rrf') {
      fused = reciprocalRankFusion(lists, { limit: fuseLimit });
    } else if (typeof o.fusion === 'object' && o.fusion !== null && typeof o.fusion.weights === 'object') {
      const weights = names.map((n) => {
        const w = (o.fusion as { weights: Record<string, number | undefined> }).weights[n] ?? 1;
        if (typeof w !== 'number' || !Number.isFinite(w)) throw new OmnivecError('invalid_argument', `query.fusion.weights.${n}: expected a finite number, got ${describe(w)}`);
        return w;
      });
      fused = weightedFusion(lists, weights, { limit: fuseLimit });
    } else {
      throw new OmnivecError('invalid_argument', `query.fusion: expected "rrf" or { weights: { dense?, text?, sparse? } }, got ${describe(o.fusion)}`);
    }
    if (mvq !== undefined) fused = this.#maxSimRerank(mvq, fused.ids, k);
    const distances = Float32Array.from(fused.ids, (s) => denseDist.get(s) ?? NaN);
    return this.#assemble(fused.ids, distances, fused.scores, include);
  }

  #maxSimRerank(mvq: { data: Float32Array; count: number; dim: number }, slots: Uint32Array, k: number): { ids: Uint32Array; scores: Float32Array } {
    const st = this.#stmt('mvOf', () => `SELECT multivector FROM ${this.#t.records} WHERE slot = ?`).pluck();
    const scored: [number, number][] = [];
    for (const slot of slots) {
      const b = st.get(slot) as Buffer | null | undefined;
      if (b === undefined || b === null) continue;
      const doc = readF32(b);
      scored.push([slot, maxSim(mvq.data, mvq.count, doc, doc.length / mvq.dim, mvq.dim)]);
    }
    scored.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    const top = scored.slice(0, k);
    return { ids: Uint32Array.from(top, (x) => x[0]), scores: Float32Array.from(top, (x) => x[1]) };
  }

  #assemble(slots: Uint32Array, distances: Float32Array, scores: Float32Array, include: readonly Include[]): QueryResult {
    if (include.length === 0 && !this.#ctx.readOnly) {
      // Ids only: from memory (built by one scan the first time).
      const cache = (this.#idCache ??= this.#loadIds());
      const ids: string[] = new Array(slots.length);
      let ok = true;
      for (let i = 0; i < slots.length && ok; i++) {
        const id = cache[slots[i]!];
        if (id === undefined) ok = false;
        else ids[i] = id;
      }
      if (ok) return jsonable({ ids, distances, scores });
    }
    const cols = `id${include.includes('documents') ? ', document' : ''}${include.includes('metadatas') ? ', metadata' : ''}${include.includes('vectors') ? ', vector' : ''}`;
    type Row = { slot: number; id: string; document: string | null; metadata: string | null; vector?: Buffer };
    const bySlot = new Map<number, Row>();
    if (slots.length > 0) {
      // One statement for all hits: `slot IN (SELECT value FROM json_each(?))` makes SQLite look the
      // slots up by rowid (a join with json_each let the planner scan the table: 100 µs a query at
      // 100k records instead of ~10).
      const st = this.#stmt('rows' + cols, () => `SELECT slot, ${cols.split(', ').map((c) => (c === 'metadata' ? 'json(metadata) AS metadata' : c)).join(', ')} FROM ${this.#t.records} WHERE slot IN (SELECT value FROM json_each(?))`);
      const rowsOut = st.all(JSON.stringify(Array.from(slots))) as Row[];
      for (const row of rowsOut) bySlot.set(row.slot, row);
    }
    const rows: Row[] = [];
    const keep: number[] = [];
    for (let i = 0; i < slots.length; i++) {
      const row = bySlot.get(slots[i]!);
      if (row === undefined) continue; // cannot happen after a sync; kept safe
      rows.push(row);
      keep.push(i);
    }
    const shaped = this.#shape(rows, include);
    return jsonable({
      ...shaped,
      distances: keep.length === slots.length ? distances : Float32Array.from(keep, (i) => distances[i]!),
      scores: keep.length === slots.length ? scores : Float32Array.from(keep, (i) => scores[i]!),
    });
  }

  #loadIds(): (string | undefined)[] {
    const out: (string | undefined)[] = [];
    for (const [slot, id] of this.#ctx.r.prepare(`SELECT slot, id FROM ${this.#t.records}`).raw().iterate() as IterableIterator<[number, string]>) out[slot] = id;
    return out;
  }

  /** Neighbours of a stored record (the record itself left out). */
  async queryById(id: string, options: Omit<QueryOptions, 'vector'> = {}): Promise<QueryResult> {
    this.#refresh();
    checkId(id, 'query.id');
    const b = this.#stmt('vecById', () => `SELECT vector FROM ${this.#t.records} WHERE id = ?`).pluck().get(id) as Buffer | undefined;
    if (b === undefined) throw new OmnivecError('not_found', `query.id: no record with id ${JSON.stringify(id)} in "${this.name}"`, { id });
    if (!isValidVectorBlob(b, this.dim)) {
      throw new OmnivecError('invalid_argument', `query.id: the stored vector of ${JSON.stringify(id)} is not ${this.dim} finite numbers (written by an older version); delete it or upsert it with a finite vector`, { id });
    }
    const k = checkK(options.k ?? 10);
    const res = await this.query({ ...options, vector: readF32(b), k: k + 1 });
    const at = res.ids.indexOf(id);
    const drop = at >= 0 ? at : res.ids.length > k ? res.ids.length - 1 : -1;
    if (drop < 0) return res;
    const pick = <T>(a: T[] | undefined): T[] | undefined => (a === undefined ? undefined : a.filter((_, i) => i !== drop));
    const out: QueryResult = {
      ids: pick(res.ids)!,
      distances: res.distances.filter((_, i) => i !== drop),
      scores: res.scores.filter((_, i) => i !== drop),
    };
    // Only the fields the query included (an `undefined` field would print as a key with no value).
    if (res.documents !== undefined) out.documents = pick(res.documents);
    if (res.metadatas !== undefined) out.metadatas = pick(res.metadatas);
    if (res.vectors !== undefined) out.vectors = pick(res.vectors);
    return jsonable(out);
  }

  /** Many dense queries at once (benchmarks, `omnivec query --vectors`). */
  async queryBatch(queries: VectorBatch, k: number, options: { where?: Where; whereDocument?: WhereDocument; efSearch?: number; nProbe?: number } = {}): Promise<BatchQueryResult> {
    this.#refresh();
    checkK(k);
    if (queries === null || typeof queries !== 'object' || !(queries.data instanceof Float32Array)) {
      throw new OmnivecError('invalid_argument', `queryBatch: expected a VectorBatch { data, dim, count }, got ${describe(queries)}`);
    }
    if (queries.dim !== this.dim) throw new OmnivecError('dimension_mismatch', `queryBatch: expected queries of dimension ${this.dim}, got ${queries.dim}`);
    for (let i = 0; i < queries.data.length; i++) {
      if (!Number.isFinite(queries.data[i]!)) throw new OmnivecError('invalid_argument', `queryBatch: query ${Math.floor(i / queries.dim)} component ${i % queries.dim}: expected a finite number, got ${queries.data[i]}`);
    }
    const state = await this.#ensureIndex();
    this.#syncIndex();
    const allow = this.#allowed(options.where, options.whereDocument);
    const n = queries.count;
    const distances = new Float32Array(n * k).fill(Infinity);
    const counts = new Uint32Array(n);
    const slotRows: Uint32Array[] = [];
    if (this.indexDim === this.dim && state.index.size > 0 && (allow === undefined || allow.size > 0)) {
      const res = state.index.searchBatch(queries, k, { allow, efSearch: options.efSearch, nProbe: options.nProbe });
      distances.set(res.distances);
      counts.set(res.counts);
      for (let i = 0; i < n; i++) slotRows.push(res.ids.subarray(i * k, i * k + res.counts[i]!));
    } else {
      for (let i = 0; i < n; i++) {
        const r = this.#dense(state, queries.data.subarray(i * this.dim, (i + 1) * this.dim), k, allow, options);
        distances.set(r.distances, i * k);
        counts[i] = r.ids.length;
        slotRows.push(r.ids);
      }
    }
    const idOf = this.#stmt('idOf', () => `SELECT id FROM ${this.#t.records} WHERE slot = ?`).pluck();
    const ids = slotRows.map((row) => Array.from(row, (s) => (s === NO_ID ? '' : idOf.get(s) as string)));
    return jsonable({ k, count: n, ids, distances, counts });
  }

  // -------------------------------------------------------------------------------------------
  // Maintenance

  /** Checks the records, the full-text index, the snapshots and the index against the records. */
  async verify(): Promise<VerifyReport> {
    this.#refresh();
    const problems: string[] = [];
    const { records: r, fts } = this.#t;
    const state = await this.#ensureIndex();
    this.#syncIndex();
    problems.push(...this.#loadProblems);
    try {
      this.#ctx.r.prepare(`INSERT INTO ${fts}(${fts}, rank) VALUES ('integrity-check', 1)`).run();
    } catch (e) {
      // A read-only connection cannot run the check; on the writer it is a real problem.
      if (!/readonly|read-only/i.test((e as Error).message)) problems.push(`full-text index: ${(e as Error).message}`);
    }
    let records = 0;
    const invalid: string[] = [];
    const index = state.index;
    const d = this.indexDim;
    const tmp = new Float32Array(d);
    const repair = 'not indexed; delete it, or upsert it with a finite vector (omnivec compact --drop-invalid deletes every such record)';
    for (const row of this.#ctx.r.prepare(`SELECT slot, id, vector, json(metadata) AS metadata FROM ${r}`).raw().iterate() as IterableIterator<[number, string, Buffer | null, string | null]>) {
      records++;
      const [slot, id, blob, meta] = row;
      if (meta !== null) {
        try { JSON.parse(meta); } catch { problems.push(`record ${JSON.stringify(id)}: metadata is not JSON`); }
      }
      if (blob === null || blob.length !== this.dim * 4) {
        invalid.push(id);
        problems.push(`record ${JSON.stringify(id)}: vector has ${blob === null ? 'no' : blob.length} bytes, expected ${this.dim * 4} (${repair})`);
        continue;
      }
      const v = readF32(blob);
      if (!isValidVectorBlob(blob, this.dim)) {
        invalid.push(id);
        problems.push(`record ${JSON.stringify(id)}: vector holds a non-finite value (${repair})`);
        continue;
      }
      const got = index.getVector(slot);
      if (got === undefined) { problems.push(`record ${JSON.stringify(id)} (slot ${slot}) is missing from the index`); continue; }
      tmp.set(v.subarray(0, d));
      if (this.metric === 'cosine') normalizeInPlace(tmp);
      let diff = 0;
      for (let j = 0; j < d; j++) diff = Math.max(diff, Math.abs(tmp[j]! - got[j]!));
      if (diff > 1e-5) problems.push(`record ${JSON.stringify(id)} (slot ${slot}): the index holds another vector (max difference ${diff})`);
      if (problems.length > 100) { problems.push('… stopped after 100 problems'); break; }
    }
    if (problems.length <= 100 && index.size !== records - invalid.length) {
      problems.push(`the index holds ${index.size} vectors, the records ${records - invalid.length} valid ones`);
    }
    let snapshots = 0;
    for (const s of (await listSnapshots(this.#ctx.indexDir)).filter((f) => f.cid === this.cid)) {
      snapshots++;
      if (s.seq > this.#seq) problems.push(`${s.path}: names change ${s.seq}, beyond the last committed change ${this.#seq}`);
      try {
        await loadIndex(s.path);
      } catch (e) {
        problems.push(`${s.path}: ${(e as Error).message}`);
      }
    }
    return { ok: problems.length === 0, checked: { records, indexed: index.size, snapshots }, problems, invalid };
  }

  /**
   * Rebuilds the index from the records (no tombstones, a fresh graph) and snapshots it. Records
   * whose stored vector is not finite stay out of the index and are listed; `dropInvalid` deletes
   * them first.
   */
  async compact(options: CompactOptions = {}): Promise<CompactReport> {
    this.#writable();
    return this.#ctx.mutex.run(async () => {
      await this.#ensureIndex();
      const invalid: { slot: number; id: string }[] = [];
      for (const [slot, id, blob] of this.#ctx.r.prepare(`SELECT slot, id, vector FROM ${this.#t.records}`).raw().iterate() as IterableIterator<[number, string, Buffer | null]>) {
        if (!isValidVectorBlob(blob, this.dim)) invalid.push({ slot, id });
      }
      const dropped: string[] = [];
      if (options.dropInvalid === true && invalid.length > 0) {
        const w = this.#ctx.w;
        const seq = this.#seq + 1;
        w.transaction(() => {
          const del = w.prepare(`DELETE FROM ${this.#t.records} WHERE slot = ?`);
          const tomb = this.#stmt('tomb', () => `INSERT INTO ${this.#t.tombs}(slot, seq) VALUES (?, ?)`, 'w');
          for (const x of invalid) { del.run(x.slot); tomb.run(x.slot, seq); dropped.push(x.id); }
          w.prepare('UPDATE collections SET seq = ? WHERE cid = ?').run(seq, this.cid);
        })();
        this.#seq = seq;
        this.#filters.clear();
        if (this.#idCache !== undefined) for (const x of invalid) this.#idCache[x.slot] = undefined;
      }
      const count = this.count();
      const st = this.#state!;
      st.index = this.#buildFromRecords(wantedKind(this.indexSpec, count), count, options.onProgress);
      st.seq = this.#seq;
      st.changes = Math.max(1, count);
      this.#sparse = undefined;
      await this.#snapshot();
      return { records: count, indexed: st.index.size, invalid: dropped.length > 0 ? [] : invalid.map((x) => x.id), dropped };
    });
  }

  /**
   * Recall@k of the index against exact search, on `sample` of the collection's own vectors as
   * queries (seeded), with both query rates.
   */
  async evaluate(options: { sample?: number; k?: number; seed?: number; efSearch?: number; nProbe?: number } = {}): Promise<EvaluateReport> {
    this.#refresh();
    const k = checkK(options.k ?? 10);
    const state = await this.#ensureIndex();
    this.#syncIndex();
    const n = state.index.size;
    if (n === 0) throw new OmnivecError('empty_index', `evaluate: collection "${this.name}" is empty`);
    const sample = Math.min(n, checkK(options.sample ?? 1000, 'evaluate.sample'));
    const slots = state.index.ids();
    const rng = new Random(options.seed ?? 7);
    rng.shuffle(slots);
    const pick = slots.subarray(0, sample);
    const vecOf = this.#stmt('vecOf', () => `SELECT vector FROM ${this.#t.records} WHERE slot = ?`).pluck();
    const d = this.indexDim;
    const qs = new Float32Array(sample * d);
    pick.forEach((s, i) => qs.set(readF32(vecOf.get(s) as Buffer).subarray(0, d), i * d));
    const queries: VectorBatch = { data: qs, dim: d, count: sample };
    const exact = new FlatIndex({ dim: d, metric: this.metric });
    this.#addRows(exact, this.#ctx.r.prepare(`SELECT slot, vector FROM ${this.#t.records}`), [], n);
    let t0 = performance.now();
    const truth = exact.searchBatch(queries, k);
    const exactMs = performance.now() - t0;
    t0 = performance.now();
    let hits = 0;
    let total = 0;
    for (let i = 0; i < sample; i++) {
      const res = state.index.search(qs.subarray(i * d, (i + 1) * d), k, { efSearch: options.efSearch, nProbe: options.nProbe });
      const want = new Set(truth.ids.subarray(i * k, i * k + truth.counts[i]!));
      total += want.size;
      for (const s of res.ids) if (want.has(s)) hits++;
    }
    const indexMs = performance.now() - t0;
    return { k, sample, recall: total === 0 ? 1 : hits / total, indexQps: sample / (indexMs / 1000), exactQps: sample / (exactMs / 1000), indexKind: state.index.kind };
  }
}

/**
 * Checks a sparse vector given as { token: weight } or { indices, values } with the same rules the
 * sparse index applies (parseSparse: finite float32 weights, no repeated index, zeros dropped) and
 * returns its canonical JSON ({ token: weight }), or null when no weight is left.
 */
export function canonicalSparse(value: unknown, what: string): string | null {
  const dict = new TermDictionary();
  const v = parseSparse(value, dict, what, true);
  if (v.terms.length === 0) return null;
  const out: Record<string, number> = {};
  for (let i = 0; i < v.terms.length; i++) out[dict.token(v.terms[i]!)!] = v.weights[i]!;
  return JSON.stringify(out);
}
