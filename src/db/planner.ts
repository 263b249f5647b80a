/**
 * The query planner of a collection (docs/db.md, "Queries and the planner"): the dense signal
 * (the cached index, filtered through the matching slots, re-ranked with full vectors under the
 * Matryoshka funnel), BM25 full text and sparse vectors from the store, their fusion (RRF or
 * weighted), MaxSim re-ranking by multi-vectors, and the assembly of the hits' records.
 *
 * It keeps three caches that writes invalidate: the slots matching a filter (per change number,
 * LRU), the sparse inverted index, and slot → id for id-only answers.
 */
import { OmnivecError, describe } from '../errors.js';
import { userScore, type Metric } from '../vector/metric.js';
import { normalizeInPlace } from '../vector/normalize.js';
import { TopK } from '../vector/heap.js';
import { jsonable } from '../vector/json.js';
import type { VectorBatch } from '../vector/batch.js';
import { IdSet } from '../indexes/common.js';
import { NO_ID, type SearchOptions, type VectorIndex } from '../indexes/types.js';
import { SparseIndex, TermDictionary, parseSparse, type SparseVector } from '../indexes/sparse/sparse-index.js';
import { checkedFilterKey, filterKey, type Where, type WhereDocument } from './where.js';
import { reciprocalRankFusion, weightedFusion, maxSim, type RankedList } from './fusion.js';
import type { IndexCache } from './index-cache.js';
import type { CollectionRecords, Fields, RecordFilter, StoredRecord } from './store/types.js';
import type { BatchQueryOptions, BatchQueryResult, GetResult, Include, QueryOptions, QueryResult } from './types.js';

const NO_FILTER_KEY = filterKey(undefined, undefined);
const FILTER_CACHE = 32;

/** What the planner reads of its collection, live (a read-only handle's change number moves). */
export interface PlannerContext {
  name: string;
  dim: number;
  indexDim: number;
  metric: Metric;
  readOnly: boolean;
  records: CollectionRecords;
  cache: IndexCache;
  /** The collection's committed change number and tombstone floor now. */
  head(): { seq: number; tombFloor: number };
  multiVectorDim(): number | undefined;
}

/** A query after the facade's checks: the dense vector is float32 of the full dimension. */
export interface PlannedQuery {
  vector: Float32Array | undefined;
  fullText: string | undefined;
  sparse: unknown;
  multiVector: { data: Float32Array; count: number; dim: number } | undefined;
  k: number;
  candidates: number;
  filter: RecordFilter;
  fusion: QueryOptions['fusion'];
  funnel: number | undefined;
  efSearch: number | undefined;
  nProbe: number | undefined;
  rescore: number | undefined;
  include: readonly Include[];
}

interface SparseState { index: SparseIndex; dict: TermDictionary; seq: number }

export function fieldsOf(include: readonly Include[]): Fields {
  return { document: include.includes('documents'), metadata: include.includes('metadatas'), vector: include.includes('vectors') };
}

/** Records in the order given, shaped as the public `GetResult` (only the included fields). */
export function shape(rows: StoredRecord[], include: readonly Include[]): GetResult {
  const out: GetResult = { ids: rows.map((r) => r.id) };
  if (include.includes('documents')) out.documents = rows.map((r) => r.document ?? null);
  if (include.includes('metadatas')) out.metadatas = rows.map((r) => r.metadata ?? null);
  if (include.includes('vectors')) out.vectors = rows.map((r) => r.vector!);
  return jsonable(out);
}

/** A read of the slot → id cache in pages (QueryPlanner.#idLoadStart). */
interface IdLoad {
  gen: number;
  out: (string | undefined)[];
  /** The last slot read. */
  after: number;
  /** A page being read (one at a time). */
  busy: boolean;
}

export class QueryPlanner {
  readonly #c: PlannerContext;
  #filters = new Map<string, { seq: number; set: IdSet }>();
  #sparse: SparseState | undefined;
  /**
   * slot → id of every record, kept in memory by a writer once a query asked for ids only (so such
   * queries skip the store). Updated by this process's writes after each commit; never used by a
   * read-only handle (another process writes there). ~40 bytes a record.
   */
  #idCache: (string | undefined)[] | undefined;
  /** The id cache being read in the background. */
  #idLoad: IdLoad | undefined;
  /** Bumped by forget(): a background load started before it is thrown away. */
  #idGen = 0;

  constructor(context: PlannerContext) {
    this.#c = context;
  }

  /** True once the id cache is loaded: writes must then report the ids they write. */
  get tracksIds(): boolean {
    return this.#idCache !== undefined;
  }

  /** After a write: cached filter answers are stale; ids written go into the id cache. */
  noteWrite(written: { slots: ArrayLike<number>; ids: readonly string[] } | undefined, deleted?: readonly number[]): void {
    this.#filters.clear();
    const cache = this.#idCache;
    if (cache === undefined) return;
    if (written !== undefined) for (let i = 0; i < written.ids.length; i++) cache[written.slots[i]!] = written.ids[i];
    if (deleted !== undefined) for (const slot of deleted) cache[slot] = undefined;
  }

  /** The sparse index must be rebuilt (compact, tombstones pruned under a read-only handle). */
  forgetSparse(): void {
    this.#sparse = undefined;
  }

  /** Forgets every cache (drop). */
  forget(): void {
    this.#filters.clear();
    this.#sparse = undefined;
    this.#idCache = undefined;
    this.#idLoad = undefined;
    this.#idGen++;
  }

  /**
   * The slots matching a filter (validated by the caller), cached per filter and change number. A cached answer comes back
   * as is, not as a promise: the query path awaits only when the store must be asked (each await
   * on this path cost ~0.1 µs; a repeated-filter query takes ~5 µs in all, bench:db).
   */
  allowed(where: Where | undefined, whereDocument: WhereDocument | undefined): IdSet | undefined | Promise<IdSet | undefined> {
    if (where === undefined && whereDocument === undefined) return undefined;
    // Validated by the caller (query-options.ts checkFilter) before the query reached the planner.
    const key = checkedFilterKey(where, whereDocument);
    if (key === NO_FILTER_KEY) return undefined;
    // A server store has other writers this process does not see: its answers are not cached.
    if (this.#native !== undefined) return this.#c.records.matchingSlots({ where, whereDocument }).then((slots) => new IdSet(slots));
    const seq = this.#c.head().seq;
    const hit = this.#filters.get(key);
    if (hit !== undefined && hit.seq === seq) {
      this.#filters.delete(key);
      this.#filters.set(key, hit);
      return hit.set;
    }
    return this.#c.records.matchingSlots({ where, whereDocument }).then((slots) => {
      const set = new IdSet(slots);
      this.#filters.set(key, { seq, set });
      if (this.#filters.size > FILTER_CACHE) this.#filters.delete(this.#filters.keys().next().value!);
      return set;
    });
  }

  /** The index at the collection's change number: as is when current, else after the cache catches up. */
  #index(): VectorIndex | Promise<VectorIndex> {
    const { seq, tombFloor } = this.#c.head();
    this.#c.cache.noteQuery();
    return this.#c.cache.currentIndex(seq) ?? this.#c.cache.current(seq, tombFloor);
  }

  /**
   * Searches with every signal given (facade-checked), fused, re-ranked, assembled. The common
   * query — one dense signal, the index current, the filter cached, ids only or records from the
   * store — takes no promise turn until the store is asked (each turn cost ~0.1 µs of a ~5 µs
   * query in bench:db's cached-filter figures).
   */
  query(q: PlannedQuery): QueryResult | Promise<QueryResult> {
    if (this.#native !== undefined) return this.#run(q, undefined, undefined);
    const index = this.#index();
    const allow = this.allowed(q.filter.where, q.filter.whereDocument);
    if (index instanceof Promise || allow instanceof Promise) return Promise.all([index, allow]).then(([i, a]) => this.#run(q, i, a));
    return this.#run(q, index, allow);
  }

  /** The store's own vector search (pgvector), when it has one: dense queries go there, filters pushed down. */
  get #native(): CollectionRecords['nearest'] {
    return this.#c.records.nearest;
  }

  /** Dense candidates from the index cache (with the allow-list) or from the store's own search (filter pushed down). */
  #denseOf(index: VectorIndex | undefined, q: Float32Array, k: number, allow: IdSet | undefined, o: { filter: RecordFilter; funnel: number | undefined; efSearch: number | undefined; nProbe: number | undefined; rescore: number | undefined }):
    { ids: Uint32Array; distances: Float32Array } | Promise<{ ids: Uint32Array; distances: Float32Array }> {
    if (index === undefined) {
      const funnel = this.#c.indexDim !== this.#c.dim ? o.funnel ?? 10 : undefined;
      return this.#c.records.nearest!(q, k, o.filter, { efSearch: o.efSearch, nProbe: o.nProbe, funnel }).then((r) => ({ ids: r.slots, distances: r.distances }));
    }
    return this.#dense(index, q, k, allow, o);
  }

  #run(q: PlannedQuery, index: VectorIndex | undefined, allow: IdSet | undefined): QueryResult | Promise<QueryResult> {
    const signals = (q.vector !== undefined ? 1 : 0) + (q.fullText !== undefined ? 1 : 0) + (q.sparse !== undefined ? 1 : 0);
    // One dense signal, no re-ranking: the plain (filtered) nearest-neighbour search.
    if (signals === 1 && q.vector !== undefined && q.multiVector === undefined) {
      const res = this.#denseOf(index, q.vector, q.k, allow, q);
      const done = (r: { ids: Uint32Array; distances: Float32Array }): QueryResult | Promise<QueryResult> =>
        this.#assemble(r.ids, r.distances, Float32Array.from(r.distances, (d) => userScore(this.#c.metric, d)), q.include);
      return res instanceof Promise ? res.then(done) : done(res);
    }
    return this.#hybrid(q, index, allow, signals);
  }

  async #hybrid(q: PlannedQuery, index: VectorIndex | undefined, allow: IdSet | undefined, signals: number): Promise<QueryResult> {
    const lists: RankedList[] = [];
    const names: ('dense' | 'fullText' | 'sparse')[] = [];
    const denseDist = new Map<number, number>();
    const limit = q.multiVector === undefined && signals === 1 ? q.k : q.candidates;
    // Full text first: with scan readers (OpenOptions.scanThreads) it waits for another thread,
    // and writes may commit meanwhile; the dense search and the records' lookup then come after,
    // together, so no write moves a dense hit between its search and its lookup.
    const ft = q.fullText !== undefined ? await this.#c.records.fullText(q.fullText, limit, q.filter) : undefined;
    if (q.vector !== undefined) {
      const res = await this.#denseOf(index, q.vector, limit, allow, q);
      res.ids.forEach((s, i) => denseDist.set(s, res.distances[i]!));
      // Fusion wants higher = better: the negated index distance (monotone in every metric).
      lists.push({ ids: res.ids, scores: Float32Array.from(res.distances, (d) => -d) });
      names.push('dense');
    }
    if (ft !== undefined) {
      lists.push({ ids: ft.slots, scores: ft.scores });
      names.push('fullText');
    }
    if (q.sparse !== undefined) {
      const sp = await this.#ensureSparse();
      const sq = parseSparse(q.sparse, sp.dict, 'query.sparse', false) as SparseVector;
      // A store with its own search gave no allow-list: the sparse index needs one for a filter.
      const allowed = index === undefined ? await this.allowed(q.filter.where, q.filter.whereDocument) : allow;
      lists.push(sp.index.search(sq, limit, allowed === undefined ? undefined : { allow: allowed }));
      names.push('sparse');
    }
    let fused: { ids: Uint32Array; scores: Float32Array };
    const fuseLimit = q.multiVector === undefined ? q.k : q.candidates;
    if (lists.length === 1) {
      fused = { ids: Uint32Array.from(lists[0]!.ids).slice(0, fuseLimit), scores: Float32Array.from(lists[0]!.scores).slice(0, fuseLimit) };
    } else if (q.fusion === undefined || q.fusion === 'rrf') {
      fused = reciprocalRankFusion(lists, { limit: fuseLimit });
    } else if (typeof q.fusion === 'object' && q.fusion !== null && typeof q.fusion.weights === 'object' && q.fusion.weights !== null) {
      const given = q.fusion.weights as Record<string, unknown>;
      for (const key of Object.keys(given)) {
        if (key !== 'dense' && key !== 'fullText' && key !== 'sparse') {
          throw new OmnivecError('invalid_argument', `query.fusion.weights.${key}: expected dense, fullText or sparse${key === 'text' ? ' (the BM25 signal is fullText)' : ''}`);
        }
      }
      const weights = names.map((n) => {
        const w = given[n] ?? 1;
        if (typeof w !== 'number' || !Number.isFinite(w)) throw new OmnivecError('invalid_argument', `query.fusion.weights.${n}: expected a finite number, got ${describe(w)}`);
        return w;
      });
      fused = weightedFusion(lists, weights, { limit: fuseLimit });
    } else {
      throw new OmnivecError('invalid_argument', `query.fusion: expected "rrf" or { weights: { dense?, fullText?, sparse? } }, got ${describe(q.fusion)}`);
    }
    if (q.multiVector !== undefined) fused = await this.#maxSimRerank(q.multiVector, fused.ids, q.k);
    const distances = Float32Array.from(fused.ids, (s) => denseDist.get(s) ?? NaN);
    return this.#assemble(fused.ids, distances, fused.scores, q.include);
  }

  /** Many dense queries at once (benchmarks, `omnivec query --vectors`). */
  async queryBatch(queries: VectorBatch, k: number, options: BatchQueryOptions): Promise<BatchQueryResult> {
    const native = this.#native !== undefined;
    const index = native ? undefined : await this.#index();
    const allow = native ? undefined : await this.allowed(options.where, options.whereDocument);
    const n = queries.count;
    const dim = this.#c.dim;
    const distances = new Float32Array(n * k).fill(Infinity);
    const counts = new Uint32Array(n);
    const slotRows: Uint32Array[] = [];
    const filter = { where: options.where, whereDocument: options.whereDocument };
    if (index !== undefined && this.#c.indexDim === dim && index.size > 0 && (allow === undefined || allow.size > 0)) {
      const res = index.searchBatch(queries, k, { allow, efSearch: options.efSearch, nProbe: options.nProbe, rescore: options.rescore });
      distances.set(res.distances);
      counts.set(res.counts);
      for (let i = 0; i < n; i++) slotRows.push(res.ids.subarray(i * k, i * k + res.counts[i]!));
    } else {
      for (let i = 0; i < n; i++) {
        const r = await this.#denseOf(index, queries.data.subarray(i * dim, (i + 1) * dim), k, allow, { filter, funnel: undefined, efSearch: options.efSearch, nProbe: options.nProbe, rescore: options.rescore });
        distances.set(r.distances, i * k);
        counts[i] = r.ids.length;
        slotRows.push(r.ids);
      }
    }
    const wanted = new Set<number>();
    for (const row of slotRows) for (const s of row) if (s !== NO_ID) wanted.add(s);
    const idOf = new Map<number, string>();
    for (const r of await this.#c.records.bySlots(Array.from(wanted), {})) idOf.set(r.slot, r.id);
    const ids = slotRows.map((row) => Array.from(row, (s) => (s === NO_ID ? '' : idOf.get(s) ?? '')));
    return jsonable({ k, count: n, ids, distances, counts });
  }

  #indexQuery(q: Float32Array): Float32Array {
    return this.#c.indexDim === this.#c.dim ? q : q.slice(0, this.#c.indexDim);
  }

  /** Dense candidates: slots and index distances, nearest first, re-ranked with full vectors under the funnel (the one case that reads the store). */
  #dense(index: VectorIndex, q: Float32Array, k: number, allow: IdSet | undefined, o: { funnel: number | undefined; efSearch: number | undefined; nProbe: number | undefined; rescore: number | undefined }): { ids: Uint32Array; distances: Float32Array } | Promise<{ ids: Uint32Array; distances: Float32Array }> {
    if ((allow !== undefined && allow.size === 0) || index.size === 0) return { ids: new Uint32Array(0), distances: new Float32Array(0) };
    const opts: SearchOptions = { efSearch: o.efSearch, nProbe: o.nProbe, rescore: o.rescore };
    if (allow !== undefined) opts.allow = allow;
    const funnel = this.#c.indexDim !== this.#c.dim;
    const kk = funnel ? Math.max(100, (o.funnel ?? 10) * k) : k;
    const res = index.search(this.#indexQuery(q), kk, opts);
    if (!funnel) return res;
    return this.#rerankFull(q, res.ids, k);
  }

  /** Exact distances of the full stored vectors of `slots` to q; the k nearest. */
  async #rerankFull(q: Float32Array, slots: Uint32Array, k: number): Promise<{ ids: Uint32Array; distances: Float32Array }> {
    const qq = Float32Array.from(q);
    if (this.#c.metric === 'cosine') normalizeInPlace(qq);
    const top = new TopK(k);
    for (const r of await this.#c.records.bySlots(slots, { vector: true })) top.push(r.slot, this.#distance(qq, r.vector!));
    const ids = new Uint32Array(k);
    const distances = new Float32Array(k);
    const n = top.drainSorted(ids, distances);
    return { ids: ids.slice(0, n), distances: distances.slice(0, n) };
  }

  /** Distance in the index convention (q already normalised for cosine). */
  #distance(q: Float32Array, v: Float32Array): number {
    let s = 0;
    if (this.#c.metric === 'l2') {
      for (let j = 0; j < q.length; j++) { const d = q[j]! - v[j]!; s += d * d; }
      return s;
    }
    let vv = 0;
    for (let j = 0; j < q.length; j++) { s += q[j]! * v[j]!; vv += v[j]! * v[j]!; }
    if (this.#c.metric === 'ip') return 1 - s;
    return vv > 0 ? 1 - s / Math.sqrt(vv) : 1;
  }

  async #ensureSparse(): Promise<SparseState> {
    let sp = this.#sparse;
    const seq = this.#c.head().seq;
    const records = this.#c.records;
    if (sp === undefined) {
      sp = { index: new SparseIndex(), dict: new TermDictionary(), seq };
      for (const [slot, json] of await records.sparseRows(undefined)) {
        if (json !== null) sp.index.add(slot, parseSparse(JSON.parse(json), sp.dict, 'stored sparse', true));
      }
      this.#sparse = sp;
      return sp;
    }
    if (sp.seq !== seq) {
      for (const slot of await records.deletedSince(sp.seq)) sp.index.remove(slot);
      for (const [slot, json] of await records.sparseRows(sp.seq)) {
        sp.index.remove(slot);
        if (json !== null) sp.index.add(slot, parseSparse(JSON.parse(json), sp.dict, 'stored sparse', true));
      }
      sp.seq = seq;
    }
    return sp;
  }

  async #maxSimRerank(mvq: { data: Float32Array; count: number; dim: number }, slots: Uint32Array, k: number): Promise<{ ids: Uint32Array; scores: Float32Array }> {
    const docs = await this.#c.records.multiVectors(slots);
    const scored: [number, number][] = [];
    for (const slot of slots) {
      const doc = docs.get(slot);
      if (doc === undefined) continue;
      scored.push([slot, maxSim(mvq.data, mvq.count, doc, doc.length / mvq.dim, mvq.dim)]);
    }
    scored.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    const top = scored.slice(0, k);
    return { ids: Uint32Array.from(top, (x) => x[0]), scores: Float32Array.from(top, (x) => x[1]) };
  }

  #assemble(slots: Uint32Array, distances: Float32Array, scores: Float32Array, include: readonly Include[]): QueryResult | Promise<QueryResult> {
    if (include.length === 0 && !this.#c.readOnly) {
      // Ids only: from memory (built by one scan the first time).
      const cache = this.#idCache;
      if (cache === undefined) {
        // The cache is read a page at a time: in the background between events, and by each
        // id-only query that finds it incomplete (one page, ~5 ms at 8k rows, before answering
        // from the store) — so a reopened collection answers its first query in milliseconds, and
        // a tight loop of queries (which never lets the background run) still completes it.
        const load = this.#idLoadStart();
        if (!load.busy) {
          return this.#idPage(load, 8192).then(() => (this.#idCache !== undefined
            ? this.#assemble(slots, distances, scores, include)
            : this.#assembleRecords(slots, distances, scores, include)));
        }
        return this.#assembleRecords(slots, distances, scores, include);
      }
      const ids: string[] = new Array(slots.length);
      let ok = true;
      for (let i = 0; i < slots.length && ok; i++) {
        const id = cache[slots[i]!];
        if (id === undefined) ok = false;
        else ids[i] = id;
      }
      if (ok) return jsonable({ ids, distances, scores });
    }
    return this.#assembleRecords(slots, distances, scores, include);
  }

  async #assembleRecords(slots: Uint32Array, distances: Float32Array, scores: Float32Array, include: readonly Include[]): Promise<QueryResult> {
    const bySlot = new Map<number, StoredRecord>();
    for (const row of await this.#c.records.bySlots(slots, fieldsOf(include))) bySlot.set(row.slot, row);
    const rows: StoredRecord[] = [];
    const keep: number[] = [];
    for (let i = 0; i < slots.length; i++) {
      const row = bySlot.get(slots[i]!);
      if (row === undefined) continue; // deleted between the search and this read
      rows.push(row);
      keep.push(i);
    }
    return jsonable({
      ...shape(rows, include),
      distances: keep.length === slots.length ? distances : Float32Array.from(keep, (i) => distances[i]!),
      scores: keep.length === slots.length ? scores : Float32Array.from(keep, (i) => scores[i]!),
    });
  }

  /**
   * Starts reading slot → id (or returns the read under way): pages of 16,384 records in the
   * background, yielding to the event loop between them (each holds it ~10 ms), so queries and
   * writes go on meanwhile. Writes during the read need no log: slots are never reused (schema 2),
   * so a record written meanwhile has a slot above every page read so far and the scan reaches it,
   * and a slot deleted meanwhile is never returned by the index again (a stale id there is never
   * looked up). forget() (a drop, compaction's renumbering, close) throws the read away. Read-only
   * handles never use the cache.
   */
  #idLoadStart(): IdLoad {
    if (this.#idLoad !== undefined) return this.#idLoad;
    const load: IdLoad = { gen: this.#idGen, out: [], after: -1, busy: false };
    this.#idLoad = load;
    void (async () => {
      while (this.#idLoad === load && this.#idGen === load.gen) {
        if (!load.busy) await this.#idPage(load, 16384);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    })();
    return load;
  }

  /** Reads the next page of `load`; the last one makes it the cache. */
  async #idPage(load: IdLoad, size: number): Promise<void> {
    load.busy = true;
    try {
      const page = await this.#c.records.scan(load.after, size, {});
      if (this.#idLoad !== load || this.#idGen !== load.gen) return;
      for (const r of page) load.out[r.slot] = r.id;
      if (page.length < size) {
        this.#idCache ??= load.out;
        this.#idLoad = undefined;
      } else {
        load.after = page[page.length - 1]!.slot;
      }
    } catch {
      // The store failed (closed under us): the next id-only query starts again.
      if (this.#idLoad === load) this.#idLoad = undefined;
    } finally {
      load.busy = false;
    }
  }
}
