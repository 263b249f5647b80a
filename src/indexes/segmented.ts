import { OmnivecError, describe } from '../errors.js';
import type { Metric } from '../vector/metric.js';
import { checkBatch, checkQuery, type VectorBatch } from '../vector/batch.js';
import { checkInt, checkK } from '../checks.js';
import { BinaryReader, BinaryWriter, type ByteSource } from '../storage/binary.js';
import { HEADER_BYTES } from '../storage/header.js';
import { crc32 } from 'node:zlib';
import { checkNewIds, emptyBatchResult, emptyIndexError, IdSet, resolveFilter } from './common.js';
import {
  NO_ID, type AddOptions, type ExternalVectors, type PayloadOptions, type BatchSearchResult, type IndexKind, type IndexStats, type SearchOptions,
  type SearchResult, type VectorIndex,
} from './types.js';

/**
 * An index that spans several WebAssembly memories (docs/indexes/segments.md): one or more inner
 * indexes ("segments") of the same kind and parameters, each with its own memory, so that an index
 * can outgrow the 4 GiB a 32-bit WebAssembly memory addresses. Adds go to the last segment until
 * it would pass `segmentBytes`; searches ask every segment and merge the top k. With one segment
 * every call goes straight to it: the same results, bit for bit, as the bare index.
 *
 * It works through the VectorIndex interface only; a new segment comes from the last one's
 * `emptyLike()` (IVF: the same centroids, so the union of the lists probed in every segment is the
 * one index's).
 */

/**
 * Largest and default `segmentBytes`: 1.875 GiB, under 2 GiB although a WebAssembly memory
 * addresses 4 GiB. The indexes compute array offsets from pointers with signed 32-bit shifts
 * (`ptr >> 2`) and the arena rounds block sizes with a 32-bit `&`, so a pointer or a block past
 * 2 GiB goes wrong (measured: a flat index's add fails with a RangeError at 2 GiB of vectors).
 * Once those are unsigned (`>>> 2`), this can rise to 3.75 GiB (docs/indexes/segments.md).
 */
export const MAX_SEGMENT_BYTES = 2 ** 31 - 2 ** 27;
export const DEFAULT_SEGMENT_BYTES = MAX_SEGMENT_BYTES;
/**
 * A segment takes vectors while HEADROOM × its estimated bytes stay within `segmentBytes`: the
 * inner indexes grow their blocks by up to 1.5× at once (IVF lists; flat 1.25× plus the arena's
 * 1/16 slack), and an IVF add in which many lists outgrow their blocks at once moves them all
 * (measured at 1.5: an IVF segment reached 1.10 × segmentBytes; at 2, the most any kind reached
 * was 0.67 ×), so an add never meets the memory's end half-way.
 */
const HEADROOM = 2;

export interface SegmentOptions {
  /** Bytes of WebAssembly memory one segment may hold before the next is started (default and most: 1.875 GiB). */
  segmentBytes?: number;
}

/** Reads one segment's payload (the registry's reader of the kind). */
export type SegmentReader = (r: BinaryReader, dim: number, metric: Metric, count: number, external: boolean) => VectorIndex;

interface Estimate {
  /** memoryBytes when the segment was created empty (0 when loaded: conservative). */
  base: number;
  /** Bytes used at the last measure, the size then, and bytes per vector. */
  used: number;
  size: number;
  perVector: number;
}

export function checkSegmentBytes(value: unknown): number {
  return checkInt(value, 'segmentBytes', { min: 1, max: MAX_SEGMENT_BYTES, fallback: DEFAULT_SEGMENT_BYTES });
}

export class SegmentedIndex implements VectorIndex {
  readonly segmentBytes: number;
  #segs: VectorIndex[];
  #est: Estimate[];
  /** id → segment number, kept only while there are several segments. */
  #where: SegmentTable | undefined;
  /** Changes whenever ids may have moved (add, remove, compact, train): the key of #splits. */
  #version = 0;
  /** IdSet allow-lists already split by segment, for the state #version. */
  readonly #splits = new WeakMap<IdSet, { version: number; parts: (IdSet | undefined)[] }>();

  constructor(first: VectorIndex, options: SegmentOptions = {}) {
    this.segmentBytes = checkSegmentBytes(options.segmentBytes);
    this.#segs = [first];
    this.#est = [this.#fresh(first)];
    this.#where = undefined;
  }

  /** A segmented index over segments read from a file (ids must not repeat across them). */
  static fromSegments(segs: VectorIndex[], options: SegmentOptions, what: string): SegmentedIndex {
    const out = new SegmentedIndex(segs[0]!, options);
    out.#segs = segs;
    out.#est = segs.map((s) => out.#fresh(s));
    if (segs.length > 1) {
      const where = new SegmentTable();
      segs.forEach((s, i) => {
        for (const id of s.ids()) {
          if (where.has(id)) throw new OmnivecError('corrupt_file', `${what}: segment ${i}: id ${id} is also in segment ${where.get(id)}`);
          where.set(id, i);
        }
      });
      out.#where = where;
    }
    return out;
  }

  /** The inner indexes (read-only use: tests, stats, the file writer). */
  get segments(): readonly VectorIndex[] {
    return this.#segs;
  }

  get segmentCount(): number {
    return this.#segs.length;
  }

  get kind(): IndexKind {
    return this.#segs[0]!.kind;
  }

  get dim(): number {
    return this.#segs[0]!.dim;
  }

  get metric(): Metric {
    return this.#segs[0]!.metric;
  }

  get size(): number {
    let n = 0;
    for (const s of this.#segs) n += s.size;
    return n;
  }

  get isTrained(): boolean {
    return this.#segs[0]!.isTrained;
  }

  get params(): Readonly<Record<string, number | string>> {
    return this.#segs[0]!.params;
  }

  /** Threads of every segment (a new segment inherits them through `emptyLike`). */
  get threads(): number {
    return this.#segs[0]!.threads;
  }

  set threads(value: number) {
    for (const s of this.#segs) s.threads = value;
  }

  /** Background upkeep of every segment that has it (a new segment inherits it, see #newSegment). */
  get backgroundUpkeep(): boolean {
    return this.#segs[0]!.backgroundUpkeep === true;
  }

  set backgroundUpkeep(value: boolean) {
    for (const s of this.#segs) if (s.upkeep !== undefined) s.backgroundUpkeep = value;
  }

  /** Each segment's housekeeping in turn, until `deadline`; true when some is left. */
  upkeep(deadline: number): boolean {
    for (const s of this.#segs) {
      // A segment with work left used the time up (upkeep returns early only when none is left).
      if (s.upkeep?.(deadline) === true) return true;
    }
    return false;
  }

  /**
   * Trains while the index is empty: one segment learns (IVF: the centroids) and every later
   * segment is its `emptyLike()`, sharing what it learnt. A non-empty index is passed to its first
   * non-empty segment, which refuses (IVF) or ignores (flat, HNSW) the call as the bare index would.
   */
  train(sample: VectorBatch): void {
    this.#version++;
    if (this.size === 0) {
      this.#segs = [this.#segs[0]!];
      this.#est = [this.#est[0]!];
      this.#where = undefined;
      this.#segs[0]!.train(sample);
      return;
    }
    this.#segs.find((s) => s.size > 0)!.train(sample);
  }

  has(id: number): boolean {
    if (this.#where === undefined) return this.#segs[0]!.has(id);
    return this.#where.has(id);
  }

  add(ids: ArrayLike<number>, vectors: VectorBatch, options?: AddOptions): void {
    this.#version++;
    const last = this.#segs.length - 1;
    const n = vectors?.count;
    // The common case: everything fits in the last segment, which checks the call itself.
    if (last === 0 && typeof n === 'number' && this.#fits(0, n)) {
      this.#segs[0]!.add(ids, vectors, options);
      return;
    }
    // Check the whole call first: no part may be added when another is refused.
    checkBatch(vectors, this.dim);
    const checked = checkNewIds(ids, vectors.count, (id) => this.has(id));
    if (!this.isTrained) {
      this.#segs[last]!.add(checked, vectors, options); // refuses (not_trained)
      return;
    }
    const total = vectors.count;
    const dim = this.dim;
    const progress = options?.onProgress;
    let done = 0;
    while (done < total) {
      let i = this.#segs.length - 1;
      let take = Math.min(total - done, this.#room(i));
      if (take < 1) {
        if (this.#segs[i]!.size > 0) {
          this.#open();
          i++;
          take = Math.min(total - done, this.#room(i));
        }
        take = Math.max(1, take); // a segment too small for one vector still takes one
      }
      const part = checked.subarray(done, done + take);
      const offset = done;
      const inner: AddOptions | undefined = progress === undefined ? undefined
        : { onProgress: (d) => { if (offset + d < total) progress(offset + d, total); } };
      this.#segs[i]!.add(part, { data: vectors.data.subarray(done * dim, (done + take) * dim), dim, count: take }, inner);
      if (this.#where !== undefined) for (let j = 0; j < part.length; j++) this.#where.set(part[j]!, i);
      done += take;
    }
    progress?.(total, total);
  }

  remove(ids: ArrayLike<number>): number {
    this.#version++;
    if (this.#where === undefined) return this.#segs[0]!.remove(ids);
    const parts: number[][] = this.#segs.map(() => []);
    for (let i = 0; i < ids.length; i++) {
      const s = this.#where.get(ids[i]!);
      if (s !== undefined) parts[s]!.push(ids[i]!);
    }
    let removed = 0;
    parts.forEach((p, s) => {
      if (p.length === 0) return;
      removed += this.#segs[s]!.remove(p);
      for (const id of p) this.#where!.delete(id);
    });
    return removed;
  }

  getVector(id: number): Float32Array | undefined {
    if (this.#where === undefined) return this.#segs[0]!.getVector(id);
    const s = this.#where.get(id);
    return s === undefined ? undefined : this.#segs[s]!.getVector(id);
  }

  /** Live ids, segment after segment (each in its storage order). */
  ids(): Uint32Array {
    if (this.#segs.length === 1) return this.#segs[0]!.ids();
    const out = new Uint32Array(this.size);
    let o = 0;
    for (const s of this.#segs) {
      const part = s.ids();
      out.set(part, o);
      o += part.length;
    }
    return out;
  }

  /** Compacts every segment and drops the empty ones (but the last, which takes the next adds). */
  compact(): void {
    this.#version++;
    for (const s of this.#segs) s.compact();
    if (this.#segs.length === 1) return;
    const keep = this.#segs.map((s, i) => s.size > 0 || i === this.#segs.length - 1);
    if (keep.every(Boolean)) return;
    this.#segs = this.#segs.filter((_, i) => keep[i]);
    this.#est = this.#est.filter((_, i) => keep[i]);
    this.#rebuildWhere();
  }

  search(query: Float32Array, k: number, options?: SearchOptions): SearchResult {
    if (this.#segs.length === 1) return this.#segs[0]!.search(query, k, options);
    checkQuery(query, this.dim);
    checkK(k);
    const parts = this.#perSegment(options);
    const results: SearchResult[] = [];
    parts.forEach((o, s) => { if (o !== undefined) results.push(this.#segs[s]!.search(query, k, o)); });
    const ids = new Uint32Array(k);
    const distances = new Float32Array(k);
    const n = mergeRows(results.map((r) => ({ ids: r.ids, distances: r.distances, off: 0, len: r.ids.length })), k, ids, distances, 0);
    return { ids: ids.slice(0, n), distances: distances.slice(0, n) };
  }

  searchBatch(queries: VectorBatch, k: number, options?: SearchOptions): BatchSearchResult {
    if (this.#segs.length === 1) return this.#segs[0]!.searchBatch(queries, k, options);
    checkBatch(queries, this.dim, 'queries');
    checkK(k);
    const parts = this.#perSegment(options);
    const results: BatchSearchResult[] = [];
    parts.forEach((o, s) => { if (o !== undefined) results.push(this.#segs[s]!.searchBatch(queries, k, o)); });
    const out = emptyBatchResult(queries.count, k);
    for (let q = 0; q < queries.count; q++) {
      const rows = results.map((r) => ({ ids: r.ids, distances: r.distances, off: q * k, len: r.counts[q]! }));
      out.counts[q] = mergeRows(rows, k, out.ids, out.distances, q * k);
    }
    return out;
  }

  /**
   * The options of each segment's search (undefined: skip the segment): the allow-list split by
   * segment, the rest unchanged. Throws empty_index when no segment holds a vector.
   */
  #perSegment(options: SearchOptions | undefined): (SearchOptions | undefined)[] {
    const filter = resolveFilter(options); // checks the options
    if (this.size === 0) throw emptyIndexError();
    const nonEmpty = this.#segs.map((s) => s.size > 0);
    if (filter.allowList === undefined) return this.#segs.map((_, s) => (nonEmpty[s] ? (options ?? {}) : undefined));
    // An IdSet (the database caches one per filter) is split once per state of the index, into
    // IdSets, which the segments use without copying; arrays and Sets are split at each search.
    const given = options!.allow;
    const cached = given instanceof IdSet ? this.#splits.get(given) : undefined;
    let parts: (ArrayLike<number> | ReadonlySet<number> | undefined)[];
    if (cached !== undefined && cached.version === this.#version) {
      parts = cached.parts;
    } else {
      const lists: number[][] = this.#segs.map(() => []);
      const allow = filter.allowList;
      for (let i = 0; i < allow.length; i++) {
        const s = this.#where!.get(allow[i]!);
        if (s !== undefined) lists[s]!.push(allow[i]!);
      }
      if (given instanceof IdSet) {
        const sets = lists.map((l) => (l.length > 0 ? new IdSet(l) : undefined));
        this.#splits.set(given, { version: this.#version, parts: sets });
        parts = sets;
      } else {
        parts = lists.map((l) => (l.length > 0 ? Uint32Array.from(l) : undefined));
      }
    }
    const out: (SearchOptions | undefined)[] = parts.map((p) => (p !== undefined ? { ...options, allow: p } : undefined));
    // An allow-list matching nothing still answers (with no hits) through one segment.
    const none: SearchOptions = { ...options, allow: new Uint32Array(0) };
    if (!out.some((o) => o !== undefined)) out[nonEmpty.indexOf(true)] = none;
    return out;
  }

  /**
   * Sums over the segments: size, memory, vector and link bytes and other counts; the largest of
   * `...Max` and `maxLevel`, the smallest of `...Min`; other figures (nList, nProbe, ...) are the
   * first segment's. Plus `segments`, their number, when there are several.
   */
  stats(): IndexStats {
    const all = this.#segs.map((s) => s.stats());
    if (all.length === 1) return all[0]!; // as the bare index: no `segments` figure means one
    const out: IndexStats = { ...all[0]! };
    for (const st of all.slice(1)) {
      for (const [key, v] of Object.entries(st)) {
        const mine = out[key];
        if (typeof v !== 'number' || typeof mine !== 'number') continue;
        if (/Max$|^maxLevel$/.test(key)) out[key] = Math.max(mine, v);
        else if (/Min$/.test(key)) out[key] = Math.min(mine, v);
        else if (ADDITIVE.has(key)) out[key] = mine + v;
      }
    }
    if (typeof out.listMean === 'number' && typeof out.nList === 'number' && out.nList > 0) out.listMean = out.size / out.nList;
    out.memoryBytes += this.#where?.bytes() ?? 0;
    out.segments = all.length;
    return out;
  }

  /**
   * One segment: its payload, exactly the bare index's. Several: the segment container
   * (docs/file-format.md, version 2): JSON `{ segments: [{ count, bytes }] }`, then each segment's
   * payload starting at an 8-byte file offset (zero bytes between).
   */
  writePayload(w: BinaryWriter, options: PayloadOptions = {}): void {
    if (this.#segs.length === 1) {
      this.#segs[0]!.writePayload(w, options);
      return;
    }
    // Each payload's length, from a writer that only keeps views (nothing is copied).
    const lengths = this.#segs.map((s) => {
      const probe = new BinaryWriter({ copy: false });
      s.writePayload(probe, options);
      return probe.length;
    });
    w.json({ segments: this.#segs.map((s, i) => ({ count: s.size, bytes: lengths[i] })) });
    this.#segs.forEach((s, i) => {
      pad8(w);
      const start = w.length;
      s.writePayload(w, options);
      if (w.length - start !== lengths[i]) throw new Error(`segment ${i}: payload length changed while writing`);
    });
  }

  /** Fills every segment from `source` (after a vectors-less payload; each takes the rows of its own ids). */
  fillVectors(source: ExternalVectors): void {
    for (const s of this.#segs) {
      if (s.fillVectors === undefined) throw new OmnivecError('invalid_argument', `index: a ${s.kind} segment cannot be filled from external vectors`);
      s.fillVectors(source);
    }
  }

  #newSegment(from: VectorIndex): VectorIndex {
    if (from.emptyLike === undefined) {
      throw new OmnivecError('capacity_exceeded', `index: a ${from.kind} index cannot start a new segment (no emptyLike); it holds what one memory holds`);
    }
    const seg = from.emptyLike();
    if (from.backgroundUpkeep === true) seg.backgroundUpkeep = true;
    return seg;
  }

  #open(): void {
    if (this.#segs.length >= MAX_SEGMENTS) {
      throw new OmnivecError('capacity_exceeded', `index: expected at most ${MAX_SEGMENTS} segments of segmentBytes = ${this.segmentBytes}; raise segmentBytes`);
    }
    const seg = this.#newSegment(this.#segs[this.#segs.length - 1]!);
    if (this.#where === undefined) {
      this.#where = new SegmentTable();
      for (const id of this.#segs[0]!.ids()) this.#where.set(id, 0);
    }
    this.#segs.push(seg);
    this.#est.push(this.#fresh(seg));
  }

  #rebuildWhere(): void {
    if (this.#segs.length === 1) {
      this.#where = undefined;
      return;
    }
    const where = new SegmentTable();
    this.#segs.forEach((s, i) => { for (const id of s.ids()) where.set(id, i); });
    this.#where = where;
  }

  #fresh(seg: VectorIndex): Estimate {
    const st = seg.stats();
    const e: Estimate = { base: st.size === 0 ? st.memoryBytes : 0, used: 0, size: 0, perVector: 0 };
    measure(e, st, this.dim);
    return e;
  }

  /**
   * Whether `n` more vectors fit in segment `i`. Cheap on the way: stats() (O(n) for HNSW) is asked
   * again only when the segment has doubled since it was last measured or the extrapolated bytes
   * pass 90 % of the budget, so one-vector adds cost O(1) amortised until a segment is nearly full.
   */
  #fits(i: number, n: number): boolean {
    const e = this.#est[i]!;
    const budget = this.segmentBytes / HEADROOM;
    const after = this.#segs[i]!.size + n;
    const guess = e.used + Math.max(0, after - e.size) * e.perVector;
    if (guess <= 0.9 * budget && after <= 2 * e.size) return true;
    measure(e, this.#segs[i]!.stats(), this.dim);
    return e.used + n * e.perVector <= budget;
  }

  /** How many more vectors segment `i` takes, from a fresh measure. */
  #room(i: number): number {
    const e = this.#est[i]!;
    measure(e, this.#segs[i]!.stats(), this.dim);
    return Math.floor((this.segmentBytes / HEADROOM - e.used) / e.perVector);
  }
}

/** Segment numbers are stored + 1 in a Uint16Array. */
const MAX_SEGMENTS = 65535;

/**
 * id → segment: a dense Uint16Array (segment + 1; 0 = absent) for ids below a limit that grows
 * with the table (at most 2 × the entries + 2²⁰: the database's dense ids cost 2–4 bytes an id),
 * and a Map for ids beyond it (sparse ids, ~40 bytes an entry).
 */
class SegmentTable {
  #dense = new Uint16Array(0);
  #sparse = new Map<number, number>();
  #size = 0;

  get(id: number): number | undefined {
    if (id < this.#dense.length) {
      const v = this.#dense[id]!;
      return v === 0 ? undefined : v - 1;
    }
    return this.#sparse.get(id);
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  set(id: number, seg: number): void {
    if (id >= this.#dense.length && id < 2 * this.#size + (1 << 20)) this.#grow(id);
    if (id < this.#dense.length) {
      if (this.#dense[id] === 0) this.#size++;
      this.#dense[id] = seg + 1;
    } else {
      if (!this.#sparse.has(id)) this.#size++;
      this.#sparse.set(id, seg);
    }
  }

  delete(id: number): void {
    if (id < this.#dense.length) {
      if (this.#dense[id] !== 0) this.#size--;
      this.#dense[id] = 0;
    } else if (this.#sparse.delete(id)) {
      this.#size--;
    }
  }

  bytes(): number {
    return this.#dense.byteLength + this.#sparse.size * 40;
  }

  #grow(id: number): void {
    const len = Math.min(2 * this.#size + (1 << 20), Math.max(id + 1, Math.ceil(this.#dense.length * 1.5)));
    const d = new Uint16Array(len);
    d.set(this.#dense);
    for (const [k, v] of this.#sparse) {
      if (k < len) {
        d[k] = v + 1;
        this.#sparse.delete(k);
      }
    }
    this.#dense = d;
  }
}

const ADDITIVE = new Set(['size', 'memoryBytes', 'vectorBytes', 'rescoreBytes', 'linkBytes', 'upperNodes', 'deletedPending', 'freeSlots']);

/**
 * Bytes a segment uses (beyond its empty self) and per vector: the larger of what its memory grew
 * by and what its vectors and links need (memory is committed in steps of ≥ 1 MiB, so it lags).
 * An empty segment is guessed at 2 × a float32 vector per vector until it holds some.
 */
function measure(e: Estimate, st: IndexStats, dim: number): void {
  const links = typeof st.linkBytes === 'number' ? st.linkBytes : 0;
  const floor = st.size > 0 ? (st.vectorBytes + links) / st.size : dim * 8;
  const grown = Math.max(0, st.memoryBytes - e.base);
  e.used = Math.max(grown, st.size * floor);
  e.size = st.size;
  e.perVector = st.size > 0 ? Math.max(floor, e.used / st.size) : floor;
}

function pad8(w: BinaryWriter): void {
  const r = w.length % 8; // the payload starts at file offset 64: payload offsets are file offsets mod 8
  if (r !== 0) w.bytes(new Uint8Array(8 - r));
}

interface Row { ids: Uint32Array; distances: Float32Array; off: number; len: number }

/** Merges sorted rows into `ids` / `distances` at `at`, nearest first (ties: the earlier segment); returns the count. */
function mergeRows(rows: Row[], k: number, ids: Uint32Array, distances: Float32Array, at: number): number {
  const pos = new Array<number>(rows.length).fill(0);
  let n = 0;
  while (n < k) {
    let best = -1;
    let bd = Infinity;
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]!;
      if (pos[r]! >= row.len) continue;
      const d = row.distances[row.off + pos[r]!]!;
      if (best < 0 || d < bd) {
        best = r;
        bd = d;
      }
    }
    if (best < 0) break;
    const row = rows[best]!;
    const id = row.ids[row.off + pos[best]!]!;
    pos[best]!++;
    if (id === NO_ID) continue;
    ids[at + n] = id;
    distances[at + n] = bd;
    n++;
  }
  return n;
}

/**
 * Reads a segment container (payload of a version-2 file): from bytes already checked against the
 * header's CRC, or from a file (`ByteSource`), whose CRC is computed along the way and checked at
 * the end. Each segment is read by `read`, the kind's own reader, from its own byte range.
 */
export function readSegmentContainer(input: Uint8Array | ByteSource, read: SegmentReader,
  shape: { dim: number; metric: Metric; count: number; payloadCrc: number }, what: string, options: SegmentOptions = {},
  external = false, verifyChecksum = true): SegmentedIndex {
  const total = input.length;
  let next = 0; // file-backed: reads are sequential; the CRC runs over them in order
  let crc = 0;
  const source: ByteSource | undefined = input instanceof Uint8Array ? undefined : {
    length: total,
    readAt: (dst, off, len, pos) => {
      if (pos !== next) throw new Error(`segment container: read at ${pos}, expected ${next}`);
      input.readAt(dst, off, len, pos);
      if (len > 0 && verifyChecksum) crc = crc32(dst.subarray(off, off + len), crc) >>> 0; // crc32 of nothing is 0, not the running value
      next += len;
    },
  };
  const bytesAt = (pos: number, len: number, field: string): Uint8Array => {
    if (pos + len > total) {
      throw new OmnivecError('corrupt_file', `${what}: truncated or corrupt while reading ${field}: expected ${len} bytes at offset ${pos}, ${total - pos} remain`);
    }
    if (source === undefined) return (input as Uint8Array).subarray(pos, pos + len);
    const b = new Uint8Array(len);
    source.readAt(b, 0, len, pos);
    return b;
  };
  const metaLength = new DataView(bytesAt(0, 4, 'segment list').slice().buffer).getUint32(0, true);
  let meta: unknown;
  try {
    meta = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytesAt(4, metaLength, 'segment list')));
  } catch {
    throw new OmnivecError('corrupt_file', `${what}: segment list is not valid UTF-8 JSON`);
  }
  const list = (meta as { segments?: unknown } | null)?.segments;
  const fail = (m: string): never => { throw new OmnivecError('corrupt_file', `${what}: segment list: ${m}`); };
  if (!Array.isArray(list) || list.length === 0) fail(`expected { segments: [{ count, bytes }, ...] }, got ${describe(meta)}`);
  const entries = list as { count?: unknown; bytes?: unknown }[];
  let pos = 4 + metaLength;
  let sum = 0;
  const segs: VectorIndex[] = [];
  entries.forEach((e, i) => {
    const { count, bytes } = e ?? {};
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) fail(`segment ${i}: count: expected an integer ≥ 0, got ${describe(count)}`);
    if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 1) fail(`segment ${i}: bytes: expected an integer ≥ 1, got ${describe(bytes)}`);
    const c = count as number;
    const b = bytes as number;
    sum += c;
    if (sum > shape.count) fail(`the segments hold more vectors than the ${shape.count} the header declares`);
    const padding = (8 - ((HEADER_BYTES + pos) % 8)) % 8;
    const zeros = bytesAt(pos, padding, `segment ${i} padding`);
    if (zeros.some((x) => x !== 0)) fail(`segment ${i}: non-zero padding`);
    pos += padding;
    if (pos + b > total) fail(`segment ${i}: ${b} bytes at offset ${pos} run past the payload's ${total}`);
    const start = pos;
    const r = source === undefined
      ? new BinaryReader((input as Uint8Array).subarray(start, start + b), `${what} segment ${i}`, HEADER_BYTES + start)
      : new BinaryReader({ length: b, readAt: (d, o, l, p) => source.readAt(d, o, l, start + p) }, `${what} segment ${i}`, HEADER_BYTES + start);
    segs.push(read(r, shape.dim, shape.metric, c, external));
    pos += b;
  });
  if (sum !== shape.count) fail(`the segments hold ${sum} vectors, the header declares ${shape.count}`);
  if (pos !== total) throw new OmnivecError('corrupt_file', `${what}: ${total - pos} unexpected bytes after the last segment`);
  if (source !== undefined && verifyChecksum && crc !== shape.payloadCrc) {
    throw new OmnivecError('corrupt_file',
      `${what}: payload checksum mismatch (stored 0x${shape.payloadCrc.toString(16).padStart(8, '0')}, computed 0x${crc.toString(16).padStart(8, '0')}): the file was altered or damaged`);
  }
  return SegmentedIndex.fromSegments(segs, options, what);
}
