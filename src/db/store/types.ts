/**
 * The record store contract (docs/record-store.md): everything a database keeps besides its
 * derived indexes — the catalogue of collections, each collection's records (id, vector, document,
 * metadata, sparse and multi-vector), their change numbers and tombstones, full-text search and
 * `where` filters. The embedded store (`sqlite/`) implements it on SQLite; a PostgreSQL store
 * implements the same contract. Every store runs the suite in `conformance.ts`.
 *
 * Rules every implementation keeps:
 * - Async everywhere (a network store cannot answer synchronously); the embedded store's promises
 *   resolve at once.
 * - Records are addressed by `slot`: a non-negative integer the store assigns on insert. A write that
 *   leaves a record's vector alone keeps its slot; one that replaces the vector (upsert, update with
 *   a vector) may keep it or move the record to a new slot — the embedded store moves it, since its
 *   slots are never reused — and a moved record's old slot gets a tombstone in the same change, as
 *   a delete does. A store may reuse a deleted slot (PostgreSQL) or not (SQLite). Indexes are keyed
 *   by slot, and the index sync rule (docs/db.md) handles all of these.
 * - Every write runs inside `write(fn)`: one transaction, committed when `fn` resolves, rolled back
 *   when it throws; a write call takes the collection's next change number `seq` and stamps each
 *   vector-bearing row it writes with it (`vseq`), and each delete with a tombstone `(slot, seq)`.
 *   Readers see committed data only.
 * - Filters are the `where` / `whereDocument` language of `../where.ts`, with its JS evaluator as
 *   the oracle: a store compiles them to its own query language and must select exactly the records
 *   the evaluator matches.
 * - Values come back as they were stored: vectors as float32 (never normalised), metadata parsed.
 */
import type { ExternalVectors } from '../../indexes/types.js';
import type { Metadata, Where, WhereDocument } from '../where.js';
import type { PreparedRow } from '../records.js';
import type { FieldIndexInfo, FieldIndexType } from '../field-index.js';
import type { CollectionMeta, CollectionOptions, WriteMode } from '../types.js';

/** Which fields a read returns besides slot and id. */
export interface Fields {
  document?: boolean;
  metadata?: boolean;
  vector?: boolean;
  /** The sparse vector, as the canonical JSON the write stored (`{ token: weight }`; key order is the store's). */
  sparse?: boolean;
  /** The multi-vector: count × multiVectorDim float32 values. */
  multiVector?: boolean;
}

/** A stored record; the fields not asked for are absent. `vector` is the stored float32 values. */
export interface StoredRecord {
  slot: number;
  id: string;
  document?: string | null;
  metadata?: Metadata | null;
  vector?: Float32Array;
  sparse?: string | null;
  multiVector?: Float32Array | null;
  /** Set when the stored vector could not be read intact (a damaged or missing row of the vector file); `vector` is NaN then. */
  vectorProblem?: string;
}

export interface RecordFilter {
  where?: Where;
  whereDocument?: WhereDocument;
}

/** A collection to create: everything but the numbers the store assigns. */
export type NewCollection = Omit<CollectionMeta, 'cid' | 'seq' | 'tombFloor'>;

/** Stored vectors in slot order, a chunk at a time: `count` rows of `dim` float32 values. */
export interface VectorChunk {
  slots: Uint32Array;
  /** count × dim, the stored values (a row may be non-finite if an older version stored it). */
  data: Float32Array;
  count: number;
}

/** One chunk of a write call, validated by the caller (records.ts `prepareRow`). */
export interface RowsToWrite {
  rows: PreparedRow[];
  /** Each row's sparse vector as canonical JSON, null to clear, undefined to keep (update). */
  sparse: (string | null | undefined)[];
  /** The call's position of rows[0] (for messages: `add[4096]`). */
  first: number;
}

/**
 * Writes of one transaction on one collection. The transaction's change number `seq` is the
 * collection's last one + 1, read when the transaction began, with the collection's writers
 * serialised by the store (SQLite's write lock; PostgreSQL's row lock on the collection). It is
 * committed with the rows when anything was written or deleted; a transaction that changed nothing
 * leaves the change number as it was.
 */
export interface RecordWriter {
  /** This transaction's change number (stamped on the rows it writes and the tombstones of its deletes). */
  readonly seq: number;
  /**
   * Stores a chunk and returns each row's slot. `add` refuses an id already stored
   * (`already_exists`) or written earlier in this call (`invalid_argument`, "appears twice");
   * `update` refuses an id not stored (`not_found`); `upsert` replaces the whole row.
   */
  writeRows(mode: WriteMode, chunk: RowsToWrite): Promise<Uint32Array>;
  /** Deletes these ids (those also matching `filter`, when given); returns the slots deleted. */
  deleteIds(ids: readonly string[], filter: RecordFilter): Promise<number[]>;
  /** Deletes every record matching `filter`; returns the slots deleted. */
  deleteWhere(filter: RecordFilter): Promise<number[]>;
  /** Deletes records by slot (compact's repair of invalid rows). */
  deleteSlots(slots: readonly number[]): Promise<void>;
  /** Commits the collection's options with the write (the multi-vector dimension a first record fixes). */
  setOptions(options: CollectionOptions): Promise<void>;
}

/** How a store that searches vectors itself answers a dense query. */
export interface NearestOptions {
  efSearch?: number;
  nProbe?: number;
  /** Matryoshka funnel (indexDims): candidates = funnel × k by the prefix, re-ranked with the full vectors. */
  funnel?: number;
  /** Exact search (no index): evaluate's ground truth. */
  exact?: boolean;
}

/** The records of one collection. */
export interface CollectionRecords {
  count(): Promise<number>;
  /** Records by id, in the order asked; ids not stored (or not matching `filter`) left out. */
  getByIds(ids: readonly string[], filter: RecordFilter, fields: Fields): Promise<StoredRecord[]>;
  /** Records matching `filter` in slot order, paged (`limit` -1: all). */
  getPage(filter: RecordFilter, page: { limit: number; offset: number }, fields: Fields): Promise<StoredRecord[]>;
  /** Ids in slot order, paged. */
  listIds(page: { limit: number; offset: number }): Promise<string[]>;
  /** Up to `limit` records with slot > `after`, in slot order (export, verify: a scan in pages). */
  scan(after: number, limit: number, fields: Fields): Promise<StoredRecord[]>;
  /** The slots of the records matching `filter`. */
  matchingSlots(filter: RecordFilter): Promise<number[]>;
  /** The records at these slots, any order; slots not stored are left out. */
  bySlots(slots: ArrayLike<number>, fields: Fields): Promise<StoredRecord[]>;
  /** The stored vector of an id. */
  vectorOfId(id: string): Promise<Float32Array | undefined>;
  /** Multi-vectors (row-major token vectors) of these slots; slots without one are left out. */
  multiVectors(slots: ArrayLike<number>): Promise<Map<number, Float32Array>>;
  /** BM25 over the documents, best first: at most `limit` slots (among those matching `filter`) and their scores (higher = better). */
  fullText(text: string, limit: number, filter: RecordFilter): Promise<{ slots: Uint32Array; scores: Float32Array }>;
  /** Sparse vectors (canonical JSON) of the records changed after `since` (all records when undefined); null where a record has none. */
  sparseRows(since: number | undefined): Promise<[slot: number, sparse: string | null][]>;
  /** Slots deleted after change `seq` (tombstones newer than it). */
  deletedSince(seq: number): Promise<number[]>;
  /** Slots whose vector (or sparse / multi-vector) was written after change `seq`. */
  changedSince(seq: number): Promise<number[]>;
  /** Stored vectors in slot order (of the records changed after `since`; all when undefined), `chunk` rows at a time. */
  vectors(since: number | undefined, chunk: number): AsyncIterable<VectorChunk>;
  /** About `limit` stored vectors spread over the collection (IVF training). */
  sampleVectors(limit: number): Promise<VectorChunk>;
  /** Drops tombstones at or below `seq` and records it as the collection's tombstone floor (after a durable snapshot at `seq`). */
  pruneTombstones(seq: number): Promise<void>;
  /** The store's own consistency checks of this collection's data (full-text index, ...): problems found. */
  check(): Promise<string[]>;
  /** The declared payload indexes (docs/db.md, "Payload indexes"), by field name. */
  fieldIndexes(): Promise<FieldIndexInfo[]>;
  /**
   * Declares a payload index on a metadata field and back-fills it, in one transaction; from then
   * on every write keeps it in step in the write's own transaction. False when the field was
   * already declared with this type; `already_exists` when with another.
   */
  createFieldIndex(field: string, type: FieldIndexType): Promise<boolean>;
  /** Removes a field's payload index; false when none was declared. */
  dropFieldIndex(field: string): Promise<boolean>;
  /** Runs `fn` in one transaction on this collection. */
  write<T>(fn: (w: RecordWriter) => Promise<T>): Promise<T>;
  /**
   * Present on stores that search vectors themselves (pgvector): the k nearest records to `query`
   * among those matching `filter`, nearest first, in omnivec's distance conventions (l2 squared,
   * 1 − a·b, 1 − cos), min(k, matches) of them. The embedded store leaves it out: its collections
   * search an index cache derived from `vectors()`.
   */
  nearest?(query: Float32Array, k: number, filter: RecordFilter, options: NearestOptions): Promise<{ slots: Uint32Array; distances: Float32Array }>;
  /**
   * Present on stores whose vectors live in a file the index loader can read rows of by slot (the
   * embedded store's vector file): index snapshots are then written without their float vectors
   * and filled from this source on load. Rows up to the committed `end`; synchronous reads.
   */
  externalVectors?(): ExternalVectors;
  /** With `externalVectors`: the vector file's bytes and committed rows (info()). */
  vectorFileStats?(): { bytes: number; rows: number };
  /**
   * With `externalVectors`: rewrites the vector file without the holes deleted and moved records
   * left, renumbering the slots densely in one change whose number it returns (undefined: no
   * hole). That change is also the new tombstone floor: every older index state is void and the
   * caller rebuilds the index at it.
   */
  compactVectors?(): Promise<number | undefined>;
}

export interface RecordStore {
  /** The directory or URL the store was opened from. */
  readonly location: string;
  readonly readOnly: boolean;
  /**
   * Where derived index snapshots live (the embedded store: `DIR/indexes`). Stores that search
   * vectors themselves leave it undefined (a later milestone).
   */
  readonly indexDir: string | undefined;
  /** Collections by name (sorted). */
  listCollections(): Promise<CollectionMeta[]>;
  findCollection(name: string): Promise<CollectionMeta | undefined>;
  /** A collection's committed change number, tombstone floor and options (read-only handles follow the writer through it); undefined once dropped. */
  head(cid: number): Promise<Pick<CollectionMeta, 'seq' | 'tombFloor' | 'options'> | undefined>;
  /**
   * Creates a collection (`already_exists` when the name is taken). `fill` runs in the same
   * transaction with the new collection's records: if it throws, nothing is created.
   */
  createCollection<T>(c: NewCollection, fill?: (records: CollectionRecords, w: RecordWriter) => Promise<T>): Promise<{ meta: CollectionMeta; filled: T | undefined }>;
  /** Deletes a collection and its records. */
  dropCollection(cid: number): Promise<void>;
  /** The records of a collection. */
  records(meta: CollectionMeta): CollectionRecords;
  /** Store-wide consistency checks (SQLite's quick_check): problems found. */
  check(): Promise<string[]>;
  /** Gives free space back (SQLite's VACUUM). */
  reclaim(): Promise<void>;
  close(): Promise<void>;
}
