/**
 * The database's public shapes (docs/db.md): what a collection is, what its calls take and return.
 * Kept apart from the classes so the record stores, the index cache, the planner and the facade
 * share them without importing each other.
 */
import type { Metric } from '../vector/metric.js';
import type { VectorBatch } from '../vector/batch.js';
import type { Metadata, Where, WhereDocument } from './where.js';
import type { CollectionIndexSpec } from './index-spec.js';
import type { FieldIndexInfo } from './field-index.js';

import type { EncoderSpec } from '../encoders/types.js';

/** The spec of the encoder bound to a collection (plain JSON; the encoder registry reopens it). */
export type { EncoderSpec };

export interface CollectionOptions {
  /** Matryoshka funnel: the index holds the first `indexDims` components. */
  indexDims?: number;
  /** Dimension of multi-vector token vectors, fixed by the first record that has them. */
  multiVectorDim?: number;
  /** Full-text tokenizer of the documents (SQLite FTS5 syntax). */
  tokenize: string;
  /**
   * On a Citus cluster: shard the collection as a whole (`collection`: its tables on one node,
   * many collections spread over the nodes) or its records by id (`id`: one large collection over
   * every node). Kept by every store (a migration carries it), used only by Citus (docs/postgres.md).
   */
  shardBy?: 'collection' | 'id';
}

/** A collection as its store keeps it. `seq` and `tombFloor` move with every write. */
export interface CollectionMeta {
  /** The store's number for the collection (stable for its life; a re-created name gets a new one). */
  cid: number;
  name: string;
  dim: number;
  metric: Metric;
  indexSpec: CollectionIndexSpec;
  encoder: EncoderSpec | null;
  options: CollectionOptions;
  /** Last committed change number. */
  seq: number;
  /** Tombstones at or below this change number are pruned (covered by a snapshot). */
  tombFloor: number;
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
  /** Declared payload indexes (metadata fields the filters seek), by field name. */
  fieldIndexes: FieldIndexInfo[];
  /**
   * The embedded store's vector file (docs/db.md, "Vectors stored once"): its size, the rows it
   * holds (slots ever given out) and how many of them live records use; the rest are holes left by
   * deletes and moved records (disk only). Absent on stores that keep vectors elsewhere.
   */
  vectorFile?: { bytes: number; rows: number; liveRows: number };
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

/** One record as `iterate()` yields it. */
export interface StoredEntry {
  id: string;
  vector: Float32Array;
  document: string | null;
  metadata: Metadata | null;
  /** With `iterate({ sparse: true })`: `{ token: weight }`, or null. */
  sparse?: Record<string, number> | null;
  /** With `iterate({ multiVector: true })`: the token vectors, or null. */
  multiVector?: VectorBatch | null;
}

export interface QueryOptions {
  /** Dense query vector (the collection's full dimension). */
  vector?: ArrayLike<number>;
  /** Text encoded by the collection's encoder into the dense query vector (needs a bound encoder). */
  text?: string;
  /** Full-text query over the documents (BM25). */
  fullText?: string;
  /** Sparse query: { token: weight } or { indices, values }. */
  sparse?: unknown;
  /** Query token vectors: re-rank the candidates by MaxSim. */
  multiVector?: ArrayLike<ArrayLike<number>> | VectorBatch;
  k?: number;
  where?: Where;
  whereDocument?: WhereDocument;
  /** 'rrf' (default) or weights per signal over min-max normalised scores. */
  fusion?: 'rrf' | { weights: { dense?: number; fullText?: number; sparse?: number } };
  /** Candidates per signal before fusion / re-ranking. Default max(10 × k, 100). */
  candidates?: number;
  /** Matryoshka funnel: candidates = funnel × k (at least 100). Default 10. */
  funnel?: number;
  efSearch?: number;
  nProbe?: number;
  /** A quantised index: re-rank the best rescore × k candidates by exact distance (docs/indexes/quantization.md). Default: the index's own. */
  rescore?: number;
  include?: readonly Include[];
}

export interface QueryResult {
  ids: string[];
  /** Index distances (smaller = closer) for dense queries; NaN where a hit has no dense distance. */
  distances: Float32Array;
  /**
   * Display scores: for a dense-only query `userScore` of the distance (cosine similarity, inner
   * product, or L2 distance — the one where smaller is better); for hybrid queries the fused score
   * (higher = better); for full text alone the BM25 score, for sparse alone the dot product.
   */
  scores: Float32Array;
  documents?: (string | null)[];
  metadatas?: (Metadata | null)[];
  vectors?: Float32Array[];
}

export interface BatchQueryOptions {
  where?: Where;
  whereDocument?: WhereDocument;
  efSearch?: number;
  nProbe?: number;
  /** A quantised index: re-rank the best rescore × k candidates by exact distance (docs/indexes/quantization.md). Default: the index's own. */
  rescore?: number;
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

export type WriteMode = 'add' | 'upsert' | 'update';

export interface WriteOptions {
  /** Progress of long writes: records stored, then vectors indexed. */
  onProgress?: (p: { phase: 'store' | 'index'; done: number; total?: number }) => void;
}

export interface DeleteOptions {
  ids?: readonly string[];
  where?: Where;
  whereDocument?: WhereDocument;
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
  /** The embedded store's vector file rewritten without holes: rows before and after (absent when there was no hole, or on other stores). */
  vectorRows?: { before: number; after: number };
}

export interface EvaluateOptions {
  sample?: number;
  k?: number;
  seed?: number;
  efSearch?: number;
  nProbe?: number;
  /** A quantised index: re-rank the best rescore × k candidates by exact distance (docs/indexes/quantization.md). Default: the index's own. */
  rescore?: number;
}

export interface EvaluateReport {
  k: number;
  sample: number;
  recall: number;
  indexQps: number;
  exactQps: number;
  indexKind: string;
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
