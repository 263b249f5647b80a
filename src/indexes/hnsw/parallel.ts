/**
 * HNSW on worker threads (docs/indexes/threads.md): the batch-search task (read-only walks of a
 * shared graph) and the parallel-insert task (hnswlib's scheme: per-node locks around link lists,
 * a global lock for the entry point and top level). Run by every participant of a job — the
 * calling thread and the pool's workers (src/parallel/pool.ts) — on the index's shared
 * WebAssembly memory and a snapshot of its side tables in SharedArrayBuffers.
 *
 * The search here is a line-for-line copy of the single-thread path (graph.ts `greedy`,
 * `searchLayer`, hnsw-index.ts `#descend` / `#searchOne`), with the same kernels and heaps, so a
 * query gets the same answer on any thread. Keep them in step.
 */
import { Arena, PREFETCH_BYTES } from '../../vector/arena.js';
import { MinHeap, TopK } from '../../vector/heap.js';
import { normalizeInPlace } from '../../vector/normalize.js';
import { defineTask } from '../../parallel/pool.js';

/** Words of list / distance scratch a participant has (as Graph.SCRATCH). */
export const SCRATCH_WORDS = 4096;

/** The graph as a job sees it: the arena's memory, the record layout, the side tables shared. */
export interface SharedGraphData {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  dim: number;
  m: number;
  metricCode: number;
  base: number;
  recordBytes: number;
  /** Words from a record's start to its level-0 link count (dim for float32 records, codeBytes / 4 for codes). */
  linkWord: number;
  /** Slots in use (the side tables' length). */
  count: number;
  /** Level of every slot; state of every slot (0 live, 1 removed, 2 free). */
  levels: Uint8Array;
  state: Uint8Array;
  /** Word offset of each slot's upper links in `upperPool` (−1: none); `[count, m links]` per level from 1. */
  upperOff: Int32Array;
  upperPool: Uint32Array;
  entry: number;
  maxLevel: number;
  /** First participant's scratch in the arena, and bytes per participant (see `scratchBytes`). */
  scratch: number;
  scratchStride: number;
}

/** Bytes of arena scratch a participant needs: its query, a slot list and a distance list. */
export function scratchBytes(dim: number): number {
  return Math.ceil((dim * 4) / 16) * 16 + 2 * SCRATCH_WORDS * 4;
}

/** Packs per-slot upper link arrays into one shared pool (`extra` words of room left at the end). */
export function packUpper(upper: readonly (Uint32Array | undefined)[], count: number, extra = 0):
  { upperOff: Int32Array; upperPool: Uint32Array } {
  let total = 0;
  for (let s = 0; s < count; s++) total += upper[s]?.length ?? 0;
  const upperOff = new Int32Array(new SharedArrayBuffer(Math.max(4, count * 4))).fill(-1);
  const upperPool = new Uint32Array(new SharedArrayBuffer(Math.max(4, (total + extra) * 4)));
  let o = 0;
  for (let s = 0; s < count; s++) {
    const u = upper[s];
    if (u === undefined) continue;
    upperOff[s] = o;
    upperPool.set(u, o);
    o += u.length;
  }
  return { upperOff, upperPool };
}

/** A copy of a typed array's first `n` elements on a SharedArrayBuffer. */
export function sharedCopy(src: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(new SharedArrayBuffer(Math.max(1, n)));
  out.set(src.subarray(0, n));
  return out;
}

/** One participant's view of a shared graph, with its own scratch, visited tags and candidate heap. */
class SharedGraph {
  readonly d: SharedGraphData;
  readonly a: Arena;
  readonly dim: number;
  readonly m: number;
  readonly m0: number;
  readonly code: number;
  readonly base: number;
  readonly recordBytes: number;
  readonly recordWords: number;
  readonly qPtr: number;
  readonly listPtr: number;
  readonly outPtr: number;
  readonly visited: Uint16Array;
  tag = 0;
  readonly cand = new MinHeap(256);

  constructor(d: SharedGraphData, participant: number) {
    this.d = d;
    this.a = Arena.attach(d.memory, d.module);
    this.dim = d.dim;
    this.m = d.m;
    this.m0 = 2 * d.m;
    this.code = d.metricCode;
    this.base = d.base;
    this.recordBytes = d.recordBytes;
    this.recordWords = d.recordBytes / 4;
    this.qPtr = d.scratch + participant * d.scratchStride;
    this.listPtr = this.qPtr + Math.ceil((d.dim * 4) / 16) * 16;
    this.outPtr = this.listPtr + SCRATCH_WORDS * 4;
    this.visited = new Uint16Array(d.count);
  }

  vectorPtr(slot: number): number {
    return this.base + slot * this.recordBytes;
  }

  link0(slot: number): number {
    return (this.base >> 2) + slot * this.recordWords + this.d.linkWord;
  }

  newVisit(): number {
    this.tag = (this.tag + 1) & 0xffff;
    if (this.tag === 0) {
      this.visited.fill(0);
      this.tag = 1;
    }
    return this.tag;
  }

  /** As Graph.greedy (no locks: the graph is read-only during a search job). */
  greedy(qPtr: number, ep: number, epDist: number, level: number): { slot: number; dist: number } {
    let cur = ep;
    let curDist = epDist;
    const k = this.a.k;
    const pool = this.d.upperPool;
    const offs = this.d.upperOff;
    for (let changed = true; changed;) {
      changed = false;
      const off = offs[cur]! + (level - 1) * (1 + this.m);
      const cnt = pool[off]!;
      for (let i = 1; i <= cnt; i++) {
        const e = pool[off + i]!;
        const d = k.dist(this.code, qPtr, this.vectorPtr(e), this.dim);
        if (d < curDist) {
          curDist = d;
          cur = e;
          changed = true;
        }
      }
    }
    return { slot: cur, dist: curDist };
  }

  /**
   * As Graph.searchLayer with `includeDeleted` false; `allow` (by slot) stands for the accept
   * function; with `locks`, each expanded node's list is copied under its lock (parallel build).
   */
  searchLayer(qPtr: number, ep: number, epDist: number, level: number, results: TopK,
    allow: Uint8Array | undefined, locks: Int32Array | undefined): void {
    const tag = this.newVisit();
    const visited = this.visited;
    const cand = this.cand;
    cand.clear();
    results.clear();
    const deleted = this.d.state;
    const a = this.a;
    const k = a.k;
    const listW = this.listPtr >> 2;
    const outW = this.outPtr >> 2;
    const code = this.code;
    const m1 = 1 + this.m;
    const pool = this.d.upperPool;
    const offs = this.d.upperOff;
    visited[ep] = tag;
    cand.push(ep, epDist);
    if (deleted[ep] === 0 && (allow === undefined || allow[ep] === 1)) results.push(ep, epDist);
    let worst = results.worst();
    while (cand.size > 0) {
      const cd = cand.topDist();
      if (cd > worst) break;
      const c = cand.topId();
      cand.pop();
      let arr: Uint32Array;
      let off: number;
      if (level === 0) {
        arr = a.u32;
        off = this.link0(c);
      } else {
        arr = pool;
        off = offs[c]! + (level - 1) * m1;
      }
      const u32 = a.u32;
      let n = 0;
      if (locks !== undefined) lock(locks, c);
      const cnt = arr[off]!;
      for (let i = 1; i <= cnt; i++) {
        const e = arr[off + i]!;
        if (visited[e] !== tag) {
          visited[e] = tag;
          u32[listW + n++] = e;
        }
      }
      if (locks !== undefined) unlock(locks, c);
      if (n === 0) continue;
      k.distGather(code, qPtr, this.base, this.recordBytes, this.listPtr, n, this.dim, this.outPtr, PREFETCH_BYTES);
      const f32 = a.f32;
      for (let j = 0; j < n; j++) {
        const d = f32[outW + j]!;
        if (d < worst) {
          const e = u32[listW + j]!;
          cand.push(e, d);
          if (deleted[e] === 0 && (allow === undefined || allow[e] === 1)) {
            results.push(e, d);
            worst = results.worst();
          }
        }
      }
    }
  }

  /** As Graph.selectNeighbors (the heuristic), with this participant's scratch. */
  selectNeighbors(slots: Uint32Array, dists: Float32Array, n: number, max: number, out: Uint32Array, outOff: number): number {
    if (n <= max) {
      for (let i = 0; i < n; i++) out[outOff + i] = slots[i]!;
      return n;
    }
    const a = this.a;
    const k = a.k;
    const listW = this.listPtr >> 2;
    const outW = this.outPtr >> 2;
    let kept = 0;
    for (let i = 0; i < n && kept < max; i++) {
      const e = slots[i]!;
      const de = dists[i]!;
      let good = true;
      if (kept > 0) {
        const u32 = a.u32;
        for (let j = 0; j < kept; j++) u32[listW + j] = out[outOff + j]!;
        k.distGather(this.code, this.vectorPtr(e), this.base, this.recordBytes, this.listPtr, kept, this.dim, this.outPtr, 0);
        const f32 = a.f32;
        for (let j = 0; j < kept; j++) {
          if (f32[outW + j]! < de) {
            good = false;
            break;
          }
        }
      }
      if (good) out[outOff + kept++] = e;
    }
    return kept;
  }
}

// ---------------------------------------------------------------------------------------------
// Locks: a futex-style mutex per word of an Int32Array (0 free, 1 held, 2 held with waiters;
// Drepper, "Futexes are tricky", mutex 2). Short spins first: critical sections are a few µs.

function lock(a: Int32Array, i: number): void {
  let c = Atomics.compareExchange(a, i, 0, 1);
  if (c === 0) return;
  for (let spin = 0; spin < 100; spin++) {
    if (Atomics.load(a, i) === 0) {
      c = Atomics.compareExchange(a, i, 0, 1);
      if (c === 0) return;
    }
  }
  if (c !== 2) c = Atomics.exchange(a, i, 2);
  while (c !== 0) {
    Atomics.wait(a, i, 2);
    c = Atomics.exchange(a, i, 2);
  }
}

function unlock(a: Int32Array, i: number): void {
  if (Atomics.sub(a, i, 1) !== 1) {
    Atomics.store(a, i, 0);
    Atomics.notify(a, i, 1);
  }
}

// ---------------------------------------------------------------------------------------------
// Batch search.

/** A row's count when the walk found fewer than min(k, live): the caller answers it exactly. */
export const NEEDS_EXACT = 0xffffffff;

export interface SearchJobData {
  g: SharedGraphData;
  queries: Float32Array;
  /**
   * A quantised index: the queries already encoded, `codeBytes` a row (then `queries` is not
   * read); the walk is on codes, the caller re-scores.
   */
  codes?: Uint8Array;
  codeBytes?: number;
  k: number;
  ef: number;
  cosine: boolean;
  /** Live vectors in the index. */
  live: number;
  /** Allowed slots (1) when the batch has an allow-list. */
  allow: Uint8Array | undefined;
  /** Row q at [q·k, q·k + counts[q]): slots (not ids) and distances. */
  outSlots: Uint32Array;
  outDists: Float32Array;
  counts: Uint32Array;
}

interface SearchState {
  job: SearchJobData;
  g: SharedGraph;
  top: TopK;
}

export const hnswSearchTask = defineTask(import.meta.url, 'hnswSearchTask', {
  setup(job: SearchJobData, participant: number): SearchState {
    return { job, g: new SharedGraph(job.g, participant), top: new TopK(job.ef) };
  },
  run(s: SearchState, start: number, end: number): void {
    const { job, g, top } = s;
    const dim = g.dim;
    const q = g.qPtr;
    const k = job.k;
    for (let qi = start; qi < end; qi++) {
      if (job.codes !== undefined) {
        const cb = job.codeBytes!;
        g.a.u8.set(job.codes.subarray(qi * cb, (qi + 1) * cb), q);
      } else {
        const f32 = g.a.f32;
        f32.set(job.queries.subarray(qi * dim, (qi + 1) * dim), q >> 2);
        if (job.cosine) normalizeInPlace(f32, q >> 2, dim);
      }
      // As #descend(q, 0).
      let ep = job.g.entry;
      let epDist = g.a.k.dist(g.code, q, g.vectorPtr(ep), dim);
      for (let lc = job.g.maxLevel; lc > 0; lc--) {
        const r = g.greedy(q, ep, epDist, lc);
        ep = r.slot;
        epDist = r.dist;
      }
      g.searchLayer(q, ep, epDist, 0, top, job.allow, undefined);
      if (top.size < Math.min(k, job.live)) {
        job.counts[qi] = NEEDS_EXACT;
        continue;
      }
      while (top.size > k) top.pop();
      job.counts[qi] = top.drainSorted(job.outSlots, job.outDists, qi * k);
    }
  },
});

// ---------------------------------------------------------------------------------------------
// Parallel insertion.

/** Words of the insert job's control array. */
export const INSERT_CTRL = { lock: 0, entry: 1, maxLevel: 2, done: 3 } as const;

export interface InsertJobData {
  g: SharedGraphData;
  /** Slots to link, in order (their vectors, levels and empty lists are already in place). */
  order: Uint32Array;
  efConstruction: number;
  /** One lock per slot. */
  locks: Int32Array;
  /** `INSERT_CTRL`: the global lock, the entry point and top level (read and set under it), nodes done. */
  ctrl: Int32Array;
  /**
   * Set to 1 for every node that was in a level-0 list when it was pruned (it may have lost an
   * in-link): with the new nodes, the only ones the caller's link-back pass needs to look at.
   */
  touched: Uint8Array;
}

interface InsertState {
  job: InsertJobData;
  g: SharedGraph;
  w: TopK;
  wSlots: Uint32Array;
  wDists: Float32Array;
  sel: Uint32Array;
  sortSlots: Uint32Array;
  sortDists: Float32Array;
}

export const hnswInsertTask = defineTask(import.meta.url, 'hnswInsertTask', {
  setup(job: InsertJobData, participant: number): InsertState {
    const efc = Math.max(job.efConstruction, job.g.m);
    return {
      job, g: new SharedGraph(job.g, participant), w: new TopK(efc),
      wSlots: new Uint32Array(efc), wDists: new Float32Array(efc),
      sel: new Uint32Array(2 * job.g.m + 1),
      sortSlots: new Uint32Array(2 * job.g.m + 2), sortDists: new Float32Array(2 * job.g.m + 2),
    };
  },
  run(s: InsertState, start: number, end: number): void {
    for (let i = start; i < end; i++) {
      insert(s, s.job.order[i]!);
      Atomics.add(s.job.ctrl, INSERT_CTRL.done, 1);
    }
  },
});

/**
 * Links `slot` into every layer up to its level (Alg. 1), concurrently with other inserts. Locks:
 * at most one held at a time, plus the global lock, taken first, by an insert that raises the top
 * level (held through that whole insert, as hnswlib does) — so no cycle, no deadlock.
 */
function insert(s: InsertState, slot: number): void {
  const ctrl = s.job.ctrl;
  const level = s.job.g.levels[slot]!;
  lock(ctrl, INSERT_CTRL.lock);
  const entry = Atomics.load(ctrl, INSERT_CTRL.entry);
  const maxLevel = Atomics.load(ctrl, INSERT_CTRL.maxLevel);
  const raises = level > maxLevel;
  if (!raises) unlock(ctrl, INSERT_CTRL.lock);
  try {
    linkNode(s, slot, level, entry, maxLevel);
    if (raises) {
      Atomics.store(ctrl, INSERT_CTRL.entry, slot);
      Atomics.store(ctrl, INSERT_CTRL.maxLevel, level);
    }
  } finally {
    // Released even if the insert failed, so that the other participants finish (and the error
    // reaches the caller) instead of waiting forever.
    if (raises) unlock(ctrl, INSERT_CTRL.lock);
  }
}

/** The descent and the linking of `slot` on every layer up to `level` (see `insert`). */
function linkNode(s: InsertState, slot: number, level: number, entry: number, maxLevel: number): void {
  const { job, g } = s;
  const d = job.g;
  const q = g.vectorPtr(slot);
  const k = g.a.k;
  let ep = entry;
  let epDist = k.dist(g.code, q, g.vectorPtr(ep), g.dim);
  for (let lc = maxLevel; lc > level; lc--) {
    // Greedy descent, each list read under its node's lock.
    for (let changed = true; changed;) {
      changed = false;
      const off = d.upperOff[ep]! + (lc - 1) * (1 + g.m);
      const list = s.sortSlots;
      lock(job.locks, ep);
      const cnt = d.upperPool[off]!;
      for (let i = 0; i < cnt; i++) list[i] = d.upperPool[off + 1 + i]!;
      unlock(job.locks, ep);
      for (let i = 0; i < cnt; i++) {
        const e = list[i]!;
        const de = k.dist(g.code, q, g.vectorPtr(e), g.dim);
        if (de < epDist) {
          epDist = de;
          ep = e;
          changed = true;
        }
      }
    }
  }
  for (let lc = Math.min(level, maxLevel); lc >= 0; lc--) {
    g.searchLayer(q, ep, epDist, lc, s.w, undefined, job.locks);
    const n = s.w.drainSorted(s.wSlots, s.wDists);
    if (n === 0) continue; // nothing live reachable here: the reconnect pass links it afterwards
    const max = lc === 0 ? g.m0 : g.m;
    const kept = g.selectNeighbors(s.wSlots, s.wDists, n, g.m, s.sel, 0);
    const { arr, off } = listOf(g, slot, lc);
    lock(job.locks, slot);
    for (let i = 0; i < kept; i++) arr[off + 1 + i] = s.sel[i]!;
    arr[off] = kept;
    unlock(job.locks, slot);
    for (let i = 0; i < kept; i++) link(s, s.sel[i]!, slot, lc, max);
    ep = s.wSlots[0]!;
    epDist = s.wDists[0]!;
  }
}

function listOf(g: SharedGraph, slot: number, level: number): { arr: Uint32Array; off: number } {
  if (level === 0) return { arr: g.a.u32, off: g.link0(slot) };
  return { arr: g.d.upperPool, off: g.d.upperOff[slot]! + (level - 1) * (1 + g.m) };
}

/**
 * Adds `from → to` on `level` under `from`'s lock; a full list is shrunk with the heuristic (as
 * hnswlib's mutuallyConnectNewElement). No in-degree bookkeeping: the caller recounts and runs
 * the reconnect pass after the job.
 */
function link(s: InsertState, from: number, to: number, level: number, max: number): void {
  const g = s.g;
  const { arr, off } = listOf(g, from, level);
  lock(s.job.locks, from);
  try {
    const cnt = arr[off]!;
    for (let i = 1; i <= cnt; i++) if (arr[off + i] === to) return;
    if (cnt < max) {
      arr[off + 1 + cnt] = to;
      arr[off] = cnt + 1;
      return;
    }
    const n = cnt + 1;
    const slots = s.sortSlots;
    const dists = s.sortDists;
    for (let i = 0; i < cnt; i++) slots[i] = arr[off + 1 + i]!;
    slots[cnt] = to;
    if (level === 0) {
      const touched = s.job.touched;
      for (let i = 0; i < cnt; i++) touched[slots[i]!] = 1;
    }
    const a = g.a;
    a.u32.set(slots.subarray(0, n), g.listPtr >> 2);
    a.k.distGather(g.code, g.vectorPtr(from), g.base, g.recordBytes, g.listPtr, n, g.dim, g.outPtr, 0);
    dists.set(a.f32.subarray(g.outPtr >> 2, (g.outPtr >> 2) + n));
    for (let i = 1; i < n; i++) {
      const d = dists[i]!;
      const sl = slots[i]!;
      let j = i - 1;
      while (j >= 0 && dists[j]! > d) {
        dists[j + 1] = dists[j]!;
        slots[j + 1] = slots[j]!;
        j--;
      }
      dists[j + 1] = d;
      slots[j + 1] = sl;
    }
    arr[off] = g.selectNeighbors(slots, dists, n, max, arr, off + 1);
  } finally {
    unlock(s.job.locks, from);
  }
}
