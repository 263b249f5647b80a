import { OmnivecError, describe } from '../errors.js';
import type { Metric } from '../vector/metric.js';
import { parseMetric } from '../vector/metric.js';
import { checkDim } from '../vector/batch.js';
import { MAX_ID, NO_ID, type BatchSearchResult, type SearchOptions } from './types.js';

/** Shared checks and small tools of the index implementations (argument checks: src/checks.ts). */

export function checkIndexShape(dim: unknown, metric: unknown): { dim: number; metric: Metric } {
  checkDim(dim);
  return { dim, metric: parseMetric(metric) };
}

/**
 * Checks ids before anything is changed: integers 0 … 2³²−2, as many as vectors, none repeated in
 * the call, none already present. Returns them as a Uint32Array.
 */
export function checkNewIds(ids: ArrayLike<number>, count: number, has: (id: number) => boolean): Uint32Array {
  if (ids === null || typeof ids !== 'object' || typeof ids.length !== 'number') {
    throw new OmnivecError('invalid_argument', `ids: expected an array of integers, got ${describe(ids)}`);
  }
  if (ids.length !== count) {
    throw new OmnivecError('invalid_argument', `ids: expected one id per vector (${count}), got ${ids.length}`);
  }
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const id = ids[i]!;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > MAX_ID) {
      throw new OmnivecError('invalid_argument', `ids[${i}]: expected an integer from 0 to ${MAX_ID}, got ${describe(id)}`);
    }
    if (has(id)) throw new OmnivecError('already_exists', `ids[${i}]: id ${id} is already in the index; remove it first to replace it`, { id });
    out[i] = id;
  }
  // Repeats within the call: sort a copy (4 bytes an id, no hash set), then name the second place.
  const sorted = out.slice().sort();
  for (let i = 1; i < count; i++) {
    if (sorted[i] === sorted[i - 1]) {
      const id = sorted[i]!;
      const second = out.indexOf(id, out.indexOf(id) + 1);
      throw new OmnivecError('already_exists', `ids[${second}]: id ${id} appears twice in this call`, { id });
    }
  }
  return out;
}

/** The filter of one search, resolved once: a test per id and, for an allow-list, the ids themselves. */
export interface ResolvedFilter {
  /** True when the search is filtered at all. */
  readonly active: boolean;
  accepts(id: number): boolean;
  /** The allow-list's distinct ids, when one was given. */
  readonly allowList: Uint32Array | undefined;
}

const NO_FILTER: ResolvedFilter = { active: false, accepts: () => true, allowList: undefined };

export function resolveFilter(options: SearchOptions | undefined): ResolvedFilter {
  if (options === undefined || options === null) return NO_FILTER;
  if (typeof options !== 'object') {
    throw new OmnivecError('invalid_argument', `options: expected an object, got ${describe(options)}`);
  }
  const { filter, allow } = options;
  if (filter !== undefined && typeof filter !== 'function') {
    throw new OmnivecError('invalid_argument', `filter: expected a function (id) => boolean, got ${describe(filter)}`);
  }
  if (allow === undefined) {
    if (filter === undefined) return NO_FILTER;
    return { active: true, accepts: (id) => filter(id) === true, allowList: undefined };
  }
  if (allow instanceof IdSet) {
    const accepts = filter === undefined ? (id: number) => allow.has(id) : (id: number) => allow.has(id) && filter(id) === true;
    return { active: true, accepts, allowList: allow.list };
  }
  let set: ReadonlySet<number>;
  if (allow instanceof Set) {
    set = allow as ReadonlySet<number>;
  } else if (allow !== null && typeof allow === 'object' && typeof (allow as ArrayLike<number>).length === 'number') {
    set = new Set(Array.from(allow as ArrayLike<number>));
  } else {
    throw new OmnivecError('invalid_argument', `allow: expected an array or Set of ids, got ${describe(allow)}`);
  }
  const list = Uint32Array.from([...set].filter((x) => Number.isInteger(x) && x >= 0 && x <= MAX_ID));
  const accepts = filter === undefined ? (id: number) => set.has(id) : (id: number) => set.has(id) && filter(id) === true;
  return { active: true, accepts, allowList: list };
}

/**
 * An immutable set of ids built once and reused across searches (the database caches one per
 * filter): a bitset for O(1) membership and the distinct ids in ascending order. Passing one as
 * `allow` costs nothing per search, where an array or a Set is copied each time.
 */
export class IdSet implements ReadonlySet<number> {
  readonly list: Uint32Array;
  readonly #bits: Uint32Array;

  constructor(ids: ArrayLike<number>) {
    const sorted = Uint32Array.from(ids as ArrayLike<number>).sort();
    let n = 0;
    for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[n++] = sorted[i]!;
    this.list = n === sorted.length ? sorted : sorted.slice(0, n);
    const max = n === 0 ? 0 : this.list[n - 1]!;
    this.#bits = new Uint32Array((max >>> 5) + 1);
    for (let i = 0; i < n; i++) { const id = this.list[i]!; this.#bits[id >>> 5]! |= 1 << (id & 31); }
  }

  get size(): number { return this.list.length; }
  has(id: number): boolean {
    const w = id >>> 5;
    return w < this.#bits.length && id >= 0 && (this.#bits[w]! & (1 << (id & 31))) !== 0;
  }
  forEach(cb: (value: number, key: number, set: ReadonlySet<number>) => void): void { for (const id of this.list) cb(id, id, this); }
  *keys(): SetIterator<number> { yield* this.list; }
  *values(): SetIterator<number> { yield* this.list; }
  *entries(): SetIterator<[number, number]> { for (const id of this.list) yield [id, id]; }
  [Symbol.iterator](): SetIterator<number> { return this.values(); }
}

export function emptyBatchResult(count: number, k: number): BatchSearchResult {
  const ids = new Uint32Array(count * k).fill(NO_ID);
  const distances = new Float32Array(count * k).fill(Infinity);
  return { k, count, ids, distances, counts: new Uint32Array(count) };
}

export function emptyIndexError(): OmnivecError {
  return new OmnivecError('empty_index', 'search: expected an index holding at least one vector, got an empty index; add vectors first');
}

/**
 * Two-way map between caller ids and the dense internal slots where vectors are stored.
 *
 * id → slot is a dense Int32Array (−1 = absent) for ids below a limit that grows with the map
 * (at most 2 × the entries + 1,024, so dense ids — the database hands out 0, 1, 2, … — cost 4–8
 * bytes an entry), and a Map for ids beyond it (sparse ids still work, at ~40 bytes an entry).
 */
export class SlotMap {
  #slotToId: Uint32Array;
  #dense = new Int32Array(0);
  #sparse = new Map<number, number>();
  #size = 0;

  constructor(capacity = 1024) {
    this.#slotToId = new Uint32Array(Math.max(16, capacity));
  }

  /**
   * Makes room for ids up to `maxId` in the dense table at once when they will be dense (≤ 2 ×
   * `count` + 1,024): loading a saved index sets ids in slot order, not id order, and growing the
   * table id by id would move entries through the sparse map again and again.
   */
  reserveDense(maxId: number, count: number): void {
    if (maxId < this.#dense.length || maxId >= 2 * count + 1024) return;
    const d = new Int32Array(maxId + 1).fill(-1);
    d.set(this.#dense);
    for (const [k, v] of this.#sparse) {
      if (k <= maxId) {
        d[k] = v;
        this.#sparse.delete(k);
      }
    }
    this.#dense = d;
  }

  /** Makes room for slots 0 … n−1 in the slot → id table at once (a load knows its slot count). */
  reserveSlots(n: number): void {
    if (n <= this.#slotToId.length) return;
    const t = new Uint32Array(n);
    t.set(this.#slotToId);
    this.#slotToId = t;
  }

  /**
   * Loads a saved slot → id table at once: every slot's id, and id → slot for the slots where
   * `state[s] === live` (every slot when `state` is undefined). Returns an id found in two live
   * slots (the file is corrupt), or −1. For an empty map (a load), after `reserveDense`.
   */
  adopt(table: Uint32Array, n: number, state?: Uint8Array, live = 0): number {
    this.reserveSlots(n);
    this.#slotToId.set(table.subarray(0, n));
    const dense = this.#dense;
    const limit = dense.length;
    for (let s = 0; s < n; s++) {
      if (state !== undefined && state[s] !== live) continue;
      const id = table[s]!;
      if (id < limit) {
        if (dense[id]! >= 0) return id;
        dense[id] = s;
        this.#size++;
      } else {
        if (this.#sparse.has(id)) return id;
        this.#sparse.set(id, s);
        this.#size++;
      }
    }
    return -1;
  }

  get size(): number {
    return this.#size;
  }

  slotOf(id: number): number | undefined {
    if (id < this.#dense.length) {
      const s = this.#dense[id]!;
      return s < 0 ? undefined : s;
    }
    return this.#sparse.get(id);
  }

  idOf(slot: number): number {
    return this.#slotToId[slot]!;
  }

  /** The slot → id table (valid up to the highest slot in use). */
  get table(): Uint32Array {
    return this.#slotToId;
  }

  /** Maps `id` to `slot` both ways. */
  set(id: number, slot: number): void {
    this.setSlotId(slot, id);
    if (this.slotOf(id) === undefined) this.#size++;
    if (id >= this.#dense.length && id < 2 * this.#size + 1024) this.#growDense(id);
    if (id < this.#dense.length) this.#dense[id] = slot;
    else this.#sparse.set(id, slot);
  }

  /**
   * Records which id a slot held without mapping the id to it — for slots of removed vectors,
   * whose id may meanwhile live in another slot.
   */
  setSlotId(slot: number, id: number): void {
    if (slot >= this.#slotToId.length) {
      const t = new Uint32Array(Math.max(slot + 1, Math.ceil(this.#slotToId.length * 1.5)));
      t.set(this.#slotToId);
      this.#slotToId = t;
    }
    this.#slotToId[slot] = id;
  }

  delete(id: number): void {
    if (id < this.#dense.length) {
      if (this.#dense[id]! >= 0) this.#size--;
      this.#dense[id] = -1;
    } else if (this.#sparse.delete(id)) {
      this.#size--;
    }
  }

  #growDense(id: number): void {
    const len = Math.min(2 * this.#size + 1024, Math.max(id + 1, Math.ceil(this.#dense.length * 1.5)));
    const d = new Int32Array(len).fill(-1);
    d.set(this.#dense);
    for (const [k, v] of this.#sparse) {
      if (k < len) {
        d[k] = v;
        this.#sparse.delete(k);
      }
    }
    this.#dense = d;
  }

  /** Bytes held (Map entries estimated at 40 bytes: V8's ordered hash table at typical load). */
  bytes(): number {
    return this.#slotToId.byteLength + this.#dense.byteLength + this.#sparse.size * 40;
  }
}

/**
 * Copies one round of a threaded batch search (rows of k in the job's shared arrays, `outCounts`
 * hits each) into `result` from query `r0`.
 */
export function copyRound(job: { outCounts: Uint32Array; outIds: Uint32Array; outDists: Float32Array }, result: BatchSearchResult,
  r0: number, nq: number, k: number): void {
  for (let q = 0; q < nq; q++) {
    const c = job.outCounts[q]!;
    result.counts[r0 + q] = c;
    result.ids.set(job.outIds.subarray(q * k, q * k + c), (r0 + q) * k);
    result.distances.set(job.outDists.subarray(q * k, q * k + c), (r0 + q) * k);
  }
}
