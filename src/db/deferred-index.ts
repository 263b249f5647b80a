/**
 * An HNSW index whose newest vectors wait in a small exact tail (docs/db.md, "Writes off the query
 * path"). Linking a node into the graph costs ~0.2–0.5 ms, so a write of 100 vectors held the
 * server's loop for 20–40 ms, and the reclaim pass that removals trigger for hundreds of ms more.
 * Here a small write's vectors go into `tail` (a flat index: exact distances, no links) and the
 * collection's index cache links them into the graph a slice at a time between requests
 * (`upkeep`), after the inner index's own housekeeping (reclaiming removed nodes, also in slices).
 *
 * Answers are those of the whole set at every moment: a search asks the graph and the tail and
 * merges the two lists (the tail's part is exact, as the graph's would have been found or better),
 * `has` / `size` / `ids` / `getVector` see both, and `remove` takes an id from wherever it is.
 * Saving and `compact` link the whole tail first, so snapshot files never hold a tail.
 */
import { FlatIndex } from '../indexes/flat/flat-index.js';
import { NO_ID, type AddOptions, type BatchSearchResult, type IndexStats, type PayloadOptions, type SearchOptions, type SearchResult, type VectorIndex } from '../indexes/types.js';
import type { ExternalVectors } from '../indexes/types.js';
import type { BinaryWriter } from '../storage/binary.js';
import type { VectorBatch } from '../vector/batch.js';

/** Vectors linked per step of `upkeep` (one thread; ~0.2–0.5 ms each at m 16). */
const LINK_STEP = 4;

export class DeferredIndex implements VectorIndex {
  readonly inner: VectorIndex;
  readonly #tail: FlatIndex;
  /** The tail's vectors as given (the graph normalises them itself), in arrival order. */
  readonly #raw = new Map<number, Float32Array>();

  constructor(inner: VectorIndex) {
    this.inner = inner;
    inner.backgroundUpkeep = true;
    this.#tail = new FlatIndex({ dim: inner.dim, metric: inner.metric, threads: 1 });
  }

  /** True for an index whose `add` is worth deferring: HNSW, with sliced housekeeping. */
  static suits(index: VectorIndex): boolean {
    return index.kind === 'hnsw' && index.upkeep !== undefined;
  }

  get kind(): VectorIndex['kind'] { return this.inner.kind; }
  get dim(): number { return this.inner.dim; }
  get metric(): VectorIndex['metric'] { return this.inner.metric; }
  get isTrained(): boolean { return this.inner.isTrained; }
  get params(): Readonly<Record<string, number | string>> { return this.inner.params; }
  get threads(): number { return this.inner.threads; }
  set threads(value: number) { this.inner.threads = value; }
  get size(): number { return this.inner.size + this.#raw.size; }
  get backgroundUpkeep(): boolean { return true; }
  set backgroundUpkeep(_value: boolean) { /* always on: the owner runs upkeep */ }

  /** Vectors waiting in the tail. */
  get deferred(): number {
    return this.#raw.size;
  }

  train(sample: VectorBatch): void {
    this.inner.train(sample);
  }

  /** Straight into the graph (a catch-up or a large write: the threaded add). */
  add(ids: ArrayLike<number>, vectors: VectorBatch, options?: AddOptions): void {
    for (let i = 0; i < ids.length; i++) {
      if (this.#raw.has(ids[i]!)) this.linkAll(); // an id in the tail: let the graph refuse it as it would
    }
    this.inner.add(ids, vectors, options);
  }

  /** Into the tail: searchable at once, linked into the graph later by `upkeep`. */
  defer(ids: ArrayLike<number>, vectors: VectorBatch): void {
    for (let i = 0; i < ids.length; i++) {
      if (this.inner.has(ids[i]!)) {
        this.linkAll();
        this.inner.add(ids, vectors); // refuses with the graph's own error
        return;
      }
    }
    this.#tail.add(ids, vectors); // refuses repeated ids and ids already in the tail
    const d = vectors.dim;
    for (let i = 0; i < ids.length; i++) this.#raw.set(ids[i]!, vectors.data.slice(i * d, (i + 1) * d));
  }

  remove(ids: ArrayLike<number>): number {
    const inTail: number[] = [];
    const inGraph: number[] = [];
    for (let i = 0; i < ids.length; i++) (this.#raw.has(ids[i]!) ? inTail : inGraph).push(ids[i]!);
    let n = 0;
    if (inTail.length > 0) {
      n += this.#tail.remove(inTail);
      for (const id of inTail) this.#raw.delete(id);
    }
    if (inGraph.length > 0) n += this.inner.remove(inGraph);
    return n;
  }

  has(id: number): boolean {
    return this.#raw.has(id) || this.inner.has(id);
  }

  getVector(id: number): Float32Array | undefined {
    return this.#raw.has(id) ? this.#tail.getVector(id) : this.inner.getVector(id);
  }

  ids(): Uint32Array {
    const a = this.inner.ids();
    if (this.#raw.size === 0) return a;
    const out = new Uint32Array(a.length + this.#raw.size);
    out.set(a);
    let i = a.length;
    for (const id of this.#raw.keys()) out[i++] = id;
    return out;
  }

  search(query: Float32Array, k: number, options?: SearchOptions): SearchResult {
    const a = this.inner.size > 0 ? this.inner.search(query, k, options) : undefined;
    if (this.#raw.size === 0) return a ?? { ids: new Uint32Array(0), distances: new Float32Array(0) };
    const b = this.#tail.search(query, k, tailOptions(options));
    if (a === undefined) return b;
    return mergeTop(a.ids, a.distances, 0, a.ids.length, b.ids, b.distances, 0, b.ids.length, k);
  }

  searchBatch(queries: VectorBatch, k: number, options?: SearchOptions): BatchSearchResult {
    const a = this.inner.searchBatch(queries, k, options);
    if (this.#raw.size === 0) return a;
    const b = this.#tail.searchBatch(queries, k, tailOptions(options));
    const ids = new Uint32Array(a.ids.length).fill(NO_ID);
    const distances = new Float32Array(a.distances.length).fill(Infinity);
    const counts = new Uint32Array(a.count);
    for (let q = 0; q < a.count; q++) {
      const o = q * k;
      const m = mergeTop(a.ids, a.distances, o, o + a.counts[q]!, b.ids, b.distances, o, o + b.counts[q]!, k);
      ids.set(m.ids, o);
      distances.set(m.distances, o);
      counts[q] = m.ids.length;
    }
    return { k, count: a.count, ids, distances, counts };
  }

  /**
   * Links tail vectors into the graph, after the graph's own housekeeping, until `deadline`
   * (performance.now() ms); true when work is left.
   */
  upkeep(deadline: number): boolean {
    if (this.inner.upkeep?.(deadline) === true) return true;
    if (this.#raw.size === 0) return false;
    do this.#linkSome(LINK_STEP); while (this.#raw.size > 0 && performance.now() < deadline);
    return this.#raw.size > 0;
  }

  /** Links the `n` oldest tail vectors into the graph (one thread). */
  #linkSome(n: number): void {
    const take = Math.min(n, this.#raw.size);
    const ids = new Uint32Array(take);
    const data = new Float32Array(take * this.dim);
    let i = 0;
    for (const [id, v] of this.#raw) {
      if (i === take) break;
      ids[i] = id;
      data.set(v, i * this.dim);
      i++;
    }
    this.inner.add(ids, { data, dim: this.dim, count: take }, take >= 5000 ? undefined : { threads: 1 });
    this.#tail.remove(ids);
    for (const id of ids) this.#raw.delete(id);
  }

  /** Links the whole tail now (the threaded add when it is large). */
  linkAll(): void {
    if (this.#raw.size > 0) this.#linkSome(this.#raw.size);
  }

  compact(): void {
    this.linkAll();
    this.inner.compact();
  }

  stats(): IndexStats {
    const s = this.inner.stats();
    if (this.#raw.size === 0) return s;
    const t = this.#tail.stats();
    return { ...s, size: this.size, memoryBytes: s.memoryBytes + t.memoryBytes + this.#raw.size * this.dim * 4, vectorBytes: s.vectorBytes + t.vectorBytes, deferred: this.#raw.size };
  }

  writePayload(writer: BinaryWriter, options?: PayloadOptions): void {
    this.linkAll();
    this.inner.writePayload(writer, options);
  }

  fillVectors(source: ExternalVectors): void {
    this.inner.fillVectors?.(source);
  }
}

/** The tail answers the same filter; the graph's knobs do not concern it. */
function tailOptions(o: SearchOptions | undefined): SearchOptions | undefined {
  if (o === undefined) return undefined;
  return { ...(o.filter !== undefined ? { filter: o.filter } : {}), ...(o.allow !== undefined ? { allow: o.allow } : {}), threads: 1 };
}

/** The best k of two lists sorted by distance (ties: the first list's first). */
function mergeTop(ai: Uint32Array, ad: Float32Array, a0: number, a1: number, bi: Uint32Array, bd: Float32Array, b0: number, b1: number, k: number): SearchResult {
  const n = Math.min(k, a1 - a0 + b1 - b0);
  const ids = new Uint32Array(n);
  const distances = new Float32Array(n);
  let i = a0;
  let j = b0;
  for (let o = 0; o < n; o++) {
    if (j >= b1 || (i < a1 && ad[i]! <= bd[j]!)) {
      ids[o] = ai[i]!;
      distances[o] = ad[i++]!;
    } else {
      ids[o] = bi[j]!;
      distances[o] = bd[j++]!;
    }
  }
  return { ids, distances };
}
