import type { Metric } from '../vector/metric.js';
import type { VectorBatch } from '../vector/batch.js';
import type { BinaryWriter } from '../storage/binary.js';

export type IndexKind = 'flat' | 'ivf' | 'hnsw';

/**
 * Options of one search. Each index reads the knobs that concern it and ignores the others, so one
 * options object can be passed to any index.
 */
export interface SearchOptions {
  /** Keep only ids for which this returns true. Called only for candidates, not every id. */
  filter?: (id: number) => boolean;
  /** Keep only these ids (an allow-list). Combined with `filter` by AND when both are given. */
  allow?: ArrayLike<number> | ReadonlySet<number>;
  /** HNSW: size of the dynamic candidate list at query time (raised to k when smaller). */
  efSearch?: number;
  /** IVF: how many inverted lists to scan (at most nList). */
  nProbe?: number;
  /**
   * `searchBatch`: worker threads to answer the queries on (an integer ≥ 1; default: the index's
   * `threads`). Each query is answered by one thread, so the answers are those of one thread.
   * A `filter` function cannot cross threads: a batch with one runs on the calling thread
   * (an `allow` list can). Ignored by `search`. See docs/indexes/threads.md.
   */
  threads?: number;
  /**
   * Quantised indexes: re-rank the best `rescore × k` candidates by code distance with exact
   * float32 distances (default: the index's `rescore`). Ignored when `quantization` is 'none'.
   */
  rescore?: number;
}

/** Hits of one query, nearest first: parallel arrays of ids and distances (length ≤ k). */
export interface SearchResult {
  ids: Uint32Array;
  distances: Float32Array;
}

/**
 * Hits of many queries: query `q`'s hits are at `[q * k, q * k + counts[q])`, nearest first; the
 * remaining places of a row (when fewer than k vectors qualify) hold id 0xFFFFFFFF and distance
 * Infinity.
 */
export interface BatchSearchResult {
  k: number;
  count: number;
  ids: Uint32Array;
  distances: Float32Array;
  counts: Uint32Array;
}

/** Options of one `add`. */
export interface AddOptions {
  /**
   * Called as the work advances (HNSW: about every 250 ms, and once at the end) with the number
   * of vectors added so far and the total of this call. For progress bars on long builds.
   */
  onProgress?: (done: number, total: number) => void;
  /**
   * Worker threads for this call (an integer ≥ 1; default: the index's `threads`). HNSW inserts
   * in parallel; `1` gives the single-thread result bit for bit. See docs/indexes/threads.md.
   */
  threads?: number;
}

export const NO_ID = 0xffffffff;
/** Largest id an index accepts (0xFFFFFFFF marks "no hit"). */
export const MAX_ID = 0xfffffffe;

export interface IndexStats {
  kind: IndexKind;
  dim: number;
  metric: Metric;
  /** Live (not deleted) vectors. */
  size: number;
  /** Memory held by the index: its linear memory plus its JS-side tables, in bytes. */
  memoryBytes: number;
  /** Bytes of raw float32 vectors (size × dim × 4), the baseline memory is compared with. */
  vectorBytes: number;
  /** Index-specific figures (links, lists, deleted-but-not-reclaimed, ...). */
  [key: string]: number | string;
}

/**
 * Float vectors kept outside an index file (the database's vector file), addressed by id: the
 * source an index saved with `vectors: false` is filled from when it is loaded.
 */
export interface ExternalVectors {
  /** Floats per stored row; an index of smaller dim (Matryoshka) takes the first index.dim of each. */
  readonly dim: number;
  /** One past the highest id that has a row. */
  readonly end: number;
  /** Reads rows [first, first + count) into dst (count × dim floats, row-major). Synchronous (fs.readSync). */
  readRows(first: number, count: number, dst: Float32Array): void;
}

/** How a payload is written. */
export interface PayloadOptions {
  /** False: leave the float vectors out (they are filled from an ExternalVectors source on load). Default true. */
  vectors?: boolean;
}

/**
 * The contract every index keeps (flat, ivf, hnsw). Maths is synchronous; saving to and loading
 * from files is in src/indexes/registry.ts. Ids are caller-chosen integers 0 … 2³²−2 (a database
 * maps its string ids to them). A refused call throws an OmnivecError and leaves the index as it was.
 */
export interface VectorIndex {
  readonly kind: IndexKind;
  readonly dim: number;
  readonly metric: Metric;
  /** Number of live vectors. */
  readonly size: number;
  /** False only for an IVF index before `train`. */
  readonly isTrained: boolean;
  /** The construction parameters, as plain data (persisted with the index). */
  readonly params: Readonly<Record<string, number | string>>;
  /**
   * Worker threads of `add`, `train` and `searchBatch` when a call does not say (an integer ≥ 1;
   * default every core; not persisted). 1: the single-thread code, bit for bit (docs/indexes/threads.md).
   */
  threads: number;

  /** Learns what the index needs from a sample (IVF: the centroids); a no-op for the others. */
  train(sample: VectorBatch): void;
  /** Adds vectors under the given ids; refuses ids already present or repeated in the call. */
  add(ids: ArrayLike<number>, vectors: VectorBatch, options?: AddOptions): void;
  /** Removes ids (absent ones are skipped); returns how many were removed. */
  remove(ids: ArrayLike<number>): number;
  has(id: number): boolean;
  /** The stored vector of an id (normalised for cosine), or undefined. */
  getVector(id: number): Float32Array | undefined;
  /** All live ids, in storage order. */
  ids(): Uint32Array;

  search(query: Float32Array, k: number, options?: SearchOptions): SearchResult;
  searchBatch(queries: VectorBatch, k: number, options?: SearchOptions): BatchSearchResult;

  /** Reclaims the space of removed vectors now instead of when the index decides to. */
  compact(): void;
  stats(): IndexStats;
  /**
   * Writes the index's payload (everything after the file header). `vectors: false` leaves the
   * float vectors out (a payload flagged as such, docs/file-format.md): the loader then fills them
   * from an `ExternalVectors` source. Default true: today's payload, byte for byte.
   */
  writePayload(writer: BinaryWriter, options?: PayloadOptions): void;
  /**
   * Only on an index just read from a vectors-less payload (the registry calls it before handing
   * the index out): stores the float vectors of its live ids from `source`, doing to each row what
   * `add` does (the first `dim` floats; normalised for cosine; quantised: into the re-score store).
   */
  fillVectors?(source: ExternalVectors): void;
  /**
   * An empty index of the same kind, shape and parameters, trained as this one is (IVF: the same
   * centroids): the next segment of a segmented index (docs/indexes/segments.md). Without it an
   * index cannot grow past one segment.
   */
  emptyLike?(): VectorIndex;
  /**
   * Background upkeep (docs/db.md, "Writes off the query path"). When set, the index never does
   * long housekeeping inside `add` / `remove` (HNSW: reclaiming removed nodes, re-ordering the
   * graph); the owner calls `upkeep` in slices instead. Default false: housekeeping as before.
   */
  backgroundUpkeep?: boolean;
  /**
   * Does housekeeping until `performance.now()` passes `deadline` (milliseconds) or none is due;
   * returns true when some is left. Searches between two calls see a consistent index. Any other
   * change (add, compact, saving) first finishes a housekeeping pass already started.
   */
  upkeep?(deadline: number): boolean;
}
