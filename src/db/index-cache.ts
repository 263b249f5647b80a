/**
 * A collection's ANN index as a cache of its records (docs/db.md, "Change numbers and the index
 * sync rule"): loaded from the newest usable snapshot, else derived from the records; caught up
 * from the store's change numbers; fed a write's vectors straight from memory after its commit;
 * snapshotted after many changes and on close.
 *
 * Every change to the cached index goes through one queue (`#serial`): the store's reads are
 * asynchronous, so without it a query catching the index up could interleave with a write applying
 * its vectors and add a record twice.
 */
import { unlink } from 'node:fs/promises';
import { OmnivecError } from '../errors.js';
import { verifyIndexFile } from '../indexes/registry.js';
import type { Metric } from '../vector/metric.js';
import type { VectorBatch } from '../vector/batch.js';
import type { VectorIndex } from '../indexes/types.js';
import { DeferredIndex } from './deferred-index.js';
import { buildEmpty, wantedKind, IVF_TRAIN_SAMPLE, type CollectionIndexSpec } from './index-spec.js';
import { listSnapshots, loadNewestSnapshot, writeSnapshot } from './snapshots.js';
import type { CollectionRecords, VectorChunk } from './store/types.js';
import type { IndexStatus, WriteOptions } from './types.js';

type OnProgress = WriteOptions['onProgress'];

/** Vectors a write call stored, at the index's dimension, to go into the index after its commit. */
export interface PendingVectors { slots: Uint32Array; data: Float32Array; count: number }

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

export interface IndexCacheOptions {
  records: CollectionRecords;
  indexDir: string;
  cid: number;
  /** The records' dimension. */
  dim: number;
  /** The index's dimension (the Matryoshka prefix when smaller than dim). */
  indexDim: number;
  metric: Metric;
  spec: CollectionIndexSpec;
  /** A read-only handle never writes snapshots. */
  readOnly: boolean;
  /** Threads the index builds and answers batches with (OpenOptions.threads); undefined: its default. */
  threads?: number;
  /** OpenOptions.backgroundIndexing: small writes wait in a DeferredIndex's tail, housekeeping runs in slices. */
  background?: boolean;
}

/** Rows a write's vectors go into the index with at a time (#apply). */
const APPLY_GROUP = 65_536;

/**
 * Writes of at most this many vectors go into the HNSW index's exact tail (DeferredIndex) and are
 * linked in slices between requests; larger ones (imports) take the threaded add at once.
 */
const DEFER_MAX = 4096;
/** A write waits (the loop free) while the tail holds more than this many vectors. */
const TAIL_MAX = 2048;
/** One slice of background upkeep, in milliseconds. */
const UPKEEP_SLICE_MS = 2;
/**
 * While queries are being answered (one within QUERIES_RECENT_MS), each slice is followed by this
 * pause (a timer): upkeep then takes at most about a quarter of the thread, which is what keeps a
 * busy server's query latency low (bench:server's mixed load: queries first), and small writes slow
 * down instead (back-pressure at TAIL_MAX). Without queries (a loader adding small batches in a
 * loop) slices follow each other at once (setImmediate: I/O still runs between them), so such a
 * loader links as fast as one thread can. Imports (writes above DEFER_MAX) are not deferred.
 */
const UPKEEP_PAUSE_MS = 6;
const QUERIES_RECENT_MS = 250;

/** Rows read from the store per chunk while building or catching up. */
const CHUNK = 8192;

/** True when row i of a chunk holds only finite values (an older version could store others: docs/hardening.md §2). */
function finiteRow(data: Float32Array, i: number, dim: number): boolean {
  for (let j = i * dim, end = j + dim; j < end; j++) {
    const x = data[j]!;
    if (x - x !== 0) return false;
  }
  return true;
}

export class IndexCache {
  readonly #o: IndexCacheOptions;
  #state: IndexState | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  /** Problems met loading snapshots (reported by verify until a good snapshot replaces them). */
  #loadProblems: string[] = [];
  /** Snapshot files whose payload checksum failed after they were loaded: never loaded again. */
  readonly #bad = new Set<string>();
  /** What was wrong with them (reported by verify until a good snapshot is written). */
  #badProblems: string[] = [];
  /** The payload check of the snapshot loaded last (running in the background). */
  #checking: Promise<void> = Promise.resolve();
  /** A background upkeep loop is scheduled (#kick). */
  #upkeepRunning = false;
  /** When the last query asked for the index (performance.now()). */
  #lastQuery = -Infinity;

  constructor(options: IndexCacheOptions) {
    this.#o = options;
  }

  /** Runs `fn` after every earlier change of the index has finished. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  get loadProblems(): readonly string[] {
    return [...this.#badProblems, ...this.#loadProblems];
  }

  /** The index if loaded (no catch-up): for status and snapshots. */
  get loaded(): VectorIndex | undefined {
    return this.#state?.index;
  }

  /** The index when it already holds every change up to `seq` (the common case: no promise), else undefined. */
  currentIndex(seq: number): VectorIndex | undefined {
    const st = this.#state;
    return st !== undefined && st.seq === seq ? st.index : undefined;
  }

  /** The index holding every change up to `seq` (loaded from a snapshot above `tombFloor`, or derived from the records). */
  current(seq: number, tombFloor: number, onProgress?: OnProgress): Promise<VectorIndex> {
    const st = this.#state;
    if (st !== undefined && st.seq === seq) return Promise.resolve(st.index); // the common case: no queue
    return this.#serial(async () => {
      const s = this.#state ?? await this.#load(seq, tombFloor);
      await this.#sync(s, seq, onProgress);
      return s.index;
    });
  }

  /** An empty index at change 0, for a collection created and filled in one transaction (its records are not readable before the commit). */
  initEmpty(): void {
    this.#state = { index: this.#empty(wantedKind(this.#o.spec, 0), 0), seq: 0, snapSeq: 0, changes: 0, origin: 'records', caughtUp: 0 };
  }

  /**
   * After a write committed change `after`: its vectors go into the index from memory when the
   * index was at `before` (replaced slots removed first; the last write of a slot wins), else the
   * index catches up from the store. Not loaded: nothing to do (it loads with the change in it).
   */
  afterWrite(pending: PendingVectors[], before: number, after: number, onProgress?: OnProgress): Promise<void> {
    return this.#serial(async () => {
      const st = this.#state;
      if (st === undefined) return;
      // A write that replaced vectors may have moved records to new slots (the embedded store does):
      // their old slots have tombstones of this change and leave the index with the write.
      if (st.seq !== before || !this.#apply(st, pending, await this.#o.records.deletedSince(before), onProgress)) await this.#sync(st, after, onProgress);
      st.seq = after;
      // Back-pressure: while the tail is long, the write waits for upkeep slices (requests still run between them).
      while (st.index instanceof DeferredIndex && st.index.deferred > TAIL_MAX && this.#state === st) {
        st.index.upkeep(performance.now() + UPKEEP_SLICE_MS);
        await this.#yield();
      }
      this.#kick();
    });
  }

  /**
   * Runs the index's background upkeep (DeferredIndex: linking its tail; HNSW: reclaiming removed
   * nodes) in slices of UPKEEP_SLICE_MS through the change queue, until none is left.
   */
  #kick(): void {
    if (this.#upkeepRunning || this.#state?.index.upkeep === undefined || this.#o.readOnly) return;
    this.#upkeepRunning = true;
    const step = (): void => {
      void this.#serial(async () => {
        const idx = this.#state?.index;
        return idx?.upkeep !== undefined && idx.upkeep(performance.now() + UPKEEP_SLICE_MS);
      }).then((more) => {
        if (!more) this.#upkeepRunning = false;
        else if (this.#queriesRecent()) setTimeout(step, UPKEEP_PAUSE_MS);
        else setImmediate(step);
      }, () => { this.#upkeepRunning = false; });
    };
    if (this.#queriesRecent()) setTimeout(step, UPKEEP_PAUSE_MS);
    else setImmediate(step);
  }

  /** Called for each query (the planner): upkeep then leaves room for queries (UPKEEP_PAUSE_MS). */
  noteQuery(): void {
    this.#lastQuery = performance.now();
  }

  #queriesRecent(): boolean {
    return performance.now() - this.#lastQuery < QUERIES_RECENT_MS;
  }

  /** Between two upkeep slices: a pause while queries are being answered, else just the I/O. */
  #yield(): Promise<void> {
    return new Promise<void>((resolve) => (this.#queriesRecent() ? setTimeout(resolve, UPKEEP_PAUSE_MS) : setImmediate(resolve)));
  }

  /** After a delete committed change `after`. */
  afterDelete(after: number): Promise<void> {
    return this.#serial(async () => {
      if (this.#state !== undefined) await this.#sync(this.#state, after);
      this.#kick();
    });
  }

  /** Rebuilds the index from every record (compact: no tombstones, a fresh graph) at change `seq`. */
  rebuild(seq: number, count: number, onProgress?: OnProgress): Promise<VectorIndex> {
    return this.#serial(async () => {
      const index = await this.#build(wantedKind(this.#o.spec, count), count, onProgress);
      if (this.#state === undefined) this.#state = { index, seq, snapSeq: 0, changes: Math.max(1, count), origin: 'records', caughtUp: 0 };
      else Object.assign(this.#state, { index, seq, changes: Math.max(1, count) });
      return index;
    });
  }

  /** Writes a snapshot when the changes since the last one exceed max(50 000, size / 2); returns its change number. */
  maybeSnapshot(): Promise<number | undefined> {
    const st = this.#state;
    if (st === undefined || st.changes < Math.max(50_000, st.index.size / 2)) return Promise.resolve(undefined);
    return this.snapshot();
  }

  /**
   * Saves the index as `c<cid>-<seq>.idx`, then drops older snapshots and the tombstones it covers.
   * Returns the snapshot's change number (the new tombstone floor), undefined when nothing was written.
   * The caller holds the database's writer mutex.
   */
  snapshot(): Promise<number | undefined> {
    return this.#serial(async () => {
      const st = this.#state;
      if (st === undefined || this.#o.readOnly) return undefined;
      if (st.seq === st.snapSeq && st.changes === 0) return undefined;
      const seq = st.seq;
      // Link the tail and finish housekeeping in slices first (requests run between them), so that
      // saving does not hold the loop for it; nothing else changes the index meanwhile (the queue).
      while (st.index.upkeep?.(performance.now() + UPKEEP_SLICE_MS) === true) await new Promise<void>((resolve) => setImmediate(resolve));
      await writeSnapshot(st.index instanceof DeferredIndex ? (st.index.linkAll(), st.index.inner) : st.index, this.#o.indexDir, this.#o.cid, seq, this.#o.records.externalVectors !== undefined);
      for (const s of await listSnapshots(this.#o.indexDir)) {
        if (s.cid === this.#o.cid && s.seq !== seq) await unlink(s.path).catch(() => undefined);
      }
      await this.#o.records.pruneTombstones(seq);
      this.#loadProblems = []; // a good snapshot now replaces whatever failed to load
      this.#badProblems = [];
      st.snapSeq = seq;
      st.changes = 0;
      return seq;
    });
  }

  /** Read-only handles: tombstones up to `floor` were pruned by the writer, so an index older than that cannot catch up — reload it. */
  invalidateBelow(floor: number): void {
    if (this.#state !== undefined && this.#state.seq < floor) this.#state = undefined;
  }

  /** Forgets the index (close, drop). */
  forget(): void {
    this.#state = undefined;
  }

  status(): IndexStatus {
    const st = this.#state;
    if (st === undefined) return { loaded: false };
    return { loaded: true, kind: st.index.kind, size: st.index.size, seq: st.seq, snapshotSeq: st.snapSeq, origin: st.origin, caughtUp: st.caughtUp, memoryBytes: st.index.stats().memoryBytes };
  }

  // -------------------------------------------------------------------------------------------

  async #load(seq: number, tombFloor: number): Promise<IndexState> {
    const o = this.#o;
    const found = await loadNewestSnapshot(o.indexDir, o.cid, tombFloor, seq, o.indexDim, o.metric, o.records.externalVectors?.(), this.#bad);
    let state: IndexState;
    if ('index' in found) {
      state = { index: this.#tune(found.index), seq: found.seq, snapSeq: found.seq, changes: 0, origin: 'snapshot', caughtUp: 0 };
      this.#checkLater(found.path, state);
    } else {
      this.#loadProblems = found.problems;
      // No usable snapshot: derive the index from the records (a fresh collection, or a damaged file).
      const count = await o.records.count();
      state = { index: await this.#build(wantedKind(o.spec, count), count), seq, snapSeq: 0, changes: count, origin: 'records', caughtUp: 0 };
    }
    this.#state = state;
    return state;
  }

  /**
   * Checks the payload CRC of the snapshot just loaded without it (a reopen does not wait for it).
   * A file that fails is never loaded again (a writer deletes it), the problem is kept for verify,
   * and the index loaded from it is dropped: the next use derives it from the records.
   */
  #checkLater(path: string, state: IndexState): void {
    this.#checking = verifyIndexFile(path).then(() => undefined, async (e: unknown) => {
      if (e instanceof OmnivecError && e.code === 'not_found') return; // a newer snapshot replaced it meanwhile
      this.#bad.add(path);
      this.#badProblems.push(`${path}: ${(e as Error).message}; the index is derived from the records instead`);
      if (!this.#o.readOnly) await unlink(path).catch(() => undefined);
      await this.#serial(async () => { if (this.#state === state) this.#state = undefined; });
    });
  }

  /** Resolves once the background check of the loaded snapshot is done (verify waits for it). */
  checked(): Promise<void> {
    return this.#checking;
  }

  /**
   * Gives a loaded or new index the database's thread count; with `background`, a writer's HNSW
   * index is wrapped so that small writes are linked in the background (DeferredIndex).
   */
  #tune(index: VectorIndex): VectorIndex {
    if (this.#o.threads !== undefined) index.threads = this.#o.threads;
    return this.#o.background === true && !this.#o.readOnly && DeferredIndex.suits(index) ? new DeferredIndex(index) : index;
  }

  #empty(kind: 'flat' | 'ivf' | 'hnsw', count: number): VectorIndex {
    const { indexDim, metric, spec } = this.#o;
    // IVF before training is served by flat (with the spec's int8 / binary quantisation: flatParams).
    return this.#tune(buildEmpty({ ...spec, kind }, indexDim, metric, count));
  }

  async #build(kind: 'flat' | 'ivf' | 'hnsw', count: number, onProgress?: OnProgress): Promise<VectorIndex> {
    const index = this.#empty(kind, count);
    if (kind === 'ivf') {
      const sample = this.#indexRows(await this.#o.records.sampleVectors(IVF_TRAIN_SAMPLE));
      index.train(sample.batch);
    }
    await this.#addChunks(index, this.#o.records.vectors(undefined, CHUNK), count, onProgress);
    return index;
  }

  /** A chunk's finite rows at the index's dimension. */
  #indexRows(chunk: VectorChunk, held?: VectorIndex): { slots: Uint32Array; batch: VectorBatch } {
    const { dim, indexDim } = this.#o;
    let keep = 0;
    const slots = new Uint32Array(chunk.count);
    const data = new Float32Array(chunk.count * indexDim);
    for (let i = 0; i < chunk.count; i++) {
      if (!finiteRow(chunk.data, i, dim)) continue;
      if (held !== undefined && held.has(chunk.slots[i]!)) continue;
      slots[keep] = chunk.slots[i]!;
      data.set(indexDim === dim ? chunk.data.subarray(i * dim, (i + 1) * dim) : chunk.data.subarray(i * dim, i * dim + indexDim), keep * indexDim);
      keep++;
    }
    return { slots: slots.subarray(0, keep), batch: { data: data.subarray(0, keep * indexDim), dim: indexDim, count: keep } };
  }

  /**
   * Streams stored vectors into the index; rows that are not finite stay out (`verify` reports them).
   * With `skipHeld` (a catch-up), a slot the index already holds is skipped: the change lists and
   * the vectors are read by separate statements, so a commit in between can hand the catch-up a
   * slot it did not list as changed (a sparse-only update bumps vseq in place). A slot's vector never
   * changes in schema 2, so the held copy is right, and the next catch-up sees the slot again.
   */
  async #addChunks(index: VectorIndex, chunks: AsyncIterable<VectorChunk>, total: number | undefined, onProgress?: OnProgress, skipHeld = false): Promise<number> {
    let done = 0;
    for await (const chunk of chunks) {
      const { slots, batch } = this.#indexRows(chunk, skipHeld ? index : undefined);
      if (batch.count > 0) index.add(slots, batch);
      done += chunk.count;
      onProgress?.({ phase: 'index', done, total });
    }
    return done;
  }

  /** The sync rule (docs/db.md): remove every changed slot the index holds, add every changed slot's current vector. */
  async #sync(st: IndexState, seq: number, onProgress?: OnProgress): Promise<void> {
    if (st.seq === seq) return;
    const from = st.seq;
    const { records, spec } = this.#o;
    const stale = new Set<number>();
    for (const slot of await records.deletedSince(from)) if (st.index.has(slot)) stale.add(slot);
    let changed = 0;
    let touched = stale.size;
    for (const slot of await records.changedSince(from)) {
      changed++;
      if (st.index.has(slot)) {
        if (!stale.has(slot)) stale.add(slot);
        else touched--; // deleted and re-added at the same slot, or upserted: one change
      }
      touched++;
    }
    const total = st.index.size - stale.size + changed;
    const want = wantedKind(spec, total);
    if (want !== st.index.kind) {
      // auto crossing to HNSW, or IVF reaching its training size: derive the new index once.
      st.index = await this.#build(want, total, onProgress);
      st.changes += total;
    } else {
      if (stale.size > 0) st.index.remove(Uint32Array.from(stale));
      await this.#addChunks(st.index, records.vectors(from, CHUNK), changed, onProgress, true);
      st.changes += stale.size + changed;
    }
    st.caughtUp += touched;
    st.seq = seq;
  }

  /** A write's vectors from memory; false when the index kind must change (the caller catches up instead). */
  #apply(st: IndexState, pending: PendingVectors[], moved: readonly number[], onProgress?: OnProgress): boolean {
    // The last write of a slot wins (kept for safety: a call cannot write a slot twice, records.ts refuses repeated ids).
    const last = new Map<number, number>();
    let total = 0;
    pending.forEach((p, c) => { for (let i = 0; i < p.count; i++) last.set(p.slots[i]!, c * 0x100000 + i); total += p.count; });
    const replaced: number[] = [];
    for (const slot of last.keys()) if (st.index.has(slot)) replaced.push(slot);
    for (const slot of moved) if (!last.has(slot) && st.index.has(slot)) replaced.push(slot);
    const size = st.index.size - replaced.length + last.size;
    if (wantedKind(this.#o.spec, size) !== st.index.kind) return false;
    if (replaced.length > 0) st.index.remove(Uint32Array.from(replaced));
    const defer = st.index instanceof DeferredIndex && last.size <= DEFER_MAX;
    let done = 0;
    const d = this.#o.indexDim;
    // A streaming write arrives in chunks of 4,096; the index gets groups of up to APPLY_GROUP rows,
    // so a large write reaches the indexes' threaded add (HNSW: from 5,000 rows) — measured in
    // bench:db, chunk-by-chunk adds made a 100k HNSW import 1.9× the bare 2-thread build.
    let group: { slots: Uint32Array; data: Float32Array }[] = [];
    let grouped = 0;
    const flush = (): void => {
      if (grouped === 0) return;
      let slots = group[0]!.slots;
      let data = group[0]!.data;
      if (group.length > 1) {
        slots = new Uint32Array(grouped);
        data = new Float32Array(grouped * d);
        let o = 0;
        for (const g of group) { slots.set(g.slots, o); data.set(g.data, o * d); o += g.slots.length; }
      }
      if (defer) (st.index as DeferredIndex).defer(slots, { data, dim: d, count: grouped });
      else st.index.add(slots, { data, dim: d, count: grouped });
      done += grouped;
      group = [];
      grouped = 0;
      onProgress?.({ phase: 'index', done, total: last.size });
    };
    for (let c = 0; c < pending.length; c++) {
      let { slots, data, count } = pending[c]!;
      if (last.size !== total) {
        const keep: number[] = [];
        for (let i = 0; i < count; i++) if (last.get(slots[i]!) === c * 0x100000 + i) keep.push(i);
        if (keep.length !== count) {
          const s2 = new Uint32Array(keep.length);
          const d2 = new Float32Array(keep.length * d);
          keep.forEach((i, j) => { s2[j] = slots[i]!; d2.set(data.subarray(i * d, (i + 1) * d), j * d); });
          slots = s2; data = d2; count = keep.length;
        }
      }
      if (count === 0) continue;
      group.push({ slots: slots.subarray(0, count), data: data.subarray(0, count * d) });
      grouped += count;
      if (grouped >= APPLY_GROUP) flush();
    }
    flush();
    st.changes += last.size;
    return true;
  }
}
