import { PREFETCH_BYTES, type Arena } from '../../vector/arena.js';
import { MinHeap, TopK } from '../../vector/heap.js';

/**
 * The HNSW graph's storage and its two core routines (Malkov & Yashunin 2018): the beam search of
 * one layer (Alg. 2) and the neighbour-selection heuristic (Alg. 4). hnsw-index.ts drives them.
 *
 * Layout. Each node has a fixed-size record in one region of the arena, at
 * `base + slot × recordBytes`:
 *
 *   [vector: dim × f32][level-0 link count: u32][level-0 links: m0 × u32][padding to 16 bytes]
 *
 * (a quantised index stores its code, `vectorBytes` long, in place of the float vector)
 * so a node's vector and its level-0 links are adjacent (like hnswlib), and the vector starts the
 * record (the kernels read it at `base + slot × recordBytes`). Nodes above level 0 — a fraction
 * 1/m of them — keep their upper links in a JS Uint32Array each: `(level) × (1 + m)` words,
 * `[count, m links]` per level from 1 up.
 */
export class Graph {
  readonly dim: number;
  readonly m: number;
  readonly m0: number;
  readonly recordBytes: number;
  /** Offset in 32-bit words from a record's start to its level-0 link count. */
  readonly linkWord: number;
  readonly recordWords: number;
  readonly arena: Arena;
  readonly metricCode: number;
  base = 0;
  capacity = 0;
  /** Slots in use (live, deleted-not-reclaimed and free). */
  count = 0;
  levels = new Uint8Array(0);
  upper: (Uint32Array | undefined)[] = [];
  /**
   * Node state: 0 live; 1 removed but not yet reclaimed (traversed for navigation, never
   * returned); 2 free (reclaimed, unlinked, waiting for reuse). See NODE_STATE in hnsw-index.ts.
   */
  state = new Uint8Array(0);
  /**
   * Layer-0 in-degree of every slot (links from live and removed nodes), kept exact by every
   * change to a level-0 list, so that no change drops a node's last in-link unnoticed.
   */
  indeg = new Uint32Array(0);

  // Search scratch: visited tags, heaps, the slot list and distances handed to the kernels.
  #visited = new Uint16Array(0);
  #tag = 0;
  readonly #cand = new MinHeap(256);
  #none = new Uint8Array(0);
  readonly listPtr: number;
  readonly outPtr: number;
  static readonly SCRATCH = 4096;

  /**
   * `vectorBytes`: bytes of a record's vector part — dim × 4 for float32, the code length for a
   * quantised index (a multiple of 16; the kernels under `metricCode` read codes there).
   * `recordAlign`: records are padded to a multiple of it (16 for float32; a quantised index
   * passes 4, saving up to 12 bytes a node — a tenth of an int8-128 record — at the price of
   * unaligned SIMD loads, which WebAssembly allows).
   */
  constructor(arena: Arena, dim: number, m: number, metricCode: number, vectorBytes = dim * 4, recordAlign = 16) {
    this.arena = arena;
    this.dim = dim;
    this.m = m;
    this.m0 = 2 * m;
    this.metricCode = metricCode;
    this.linkWord = vectorBytes / 4;
    this.recordBytes = Math.ceil((vectorBytes + (1 + this.m0) * 4) / recordAlign) * recordAlign;
    this.recordWords = this.recordBytes / 4;
    this.listPtr = arena.alloc(Graph.SCRATCH * 4);
    this.outPtr = arena.alloc(Graph.SCRATCH * 4);
    this.base = arena.alloc(this.recordBytes * 16); // allocated last: grows in place
    this.capacity = 16;
  }

  /** Makes room for `n` slots (the record region grows in place; side tables grow by 1.25×). */
  reserve(n: number): void {
    if (n <= this.capacity) return;
    const cap = Math.max(n, Math.ceil(this.capacity * 1.25));
    this.base = this.arena.realloc(this.base, cap * this.recordBytes);
    this.capacity = cap;
  }

  ensureSideTables(n: number): void {
    if (n <= this.levels.length) return;
    const cap = Math.max(n, Math.ceil(this.levels.length * 1.25), 16);
    const lv = new Uint8Array(cap);
    lv.set(this.levels);
    this.levels = lv;
    const st = new Uint8Array(cap);
    st.set(this.state);
    this.state = st;
    const ind = new Uint32Array(cap);
    ind.set(this.indeg);
    this.indeg = ind;
    this.#visited = new Uint16Array(cap);
    this.#tag = 0;
    this.#none = new Uint8Array(cap);
  }

  vectorPtr(slot: number): number {
    return this.base + slot * this.recordBytes;
  }

  /** Word index (into arena.u32) of the level-0 link count of `slot`. */
  link0(slot: number): number {
    return (this.base >> 2) + slot * this.recordWords + this.linkWord;
  }

  /** Starts a new visited generation (O(1) except every 65,535 searches). */
  newVisit(): Uint16Array {
    this.#tag = (this.#tag + 1) & 0xffff;
    if (this.#tag === 0) {
      this.#visited.fill(0);
      this.#tag = 1;
    }
    return this.#visited;
  }

  get tag(): number {
    return this.#tag;
  }

  dist(qPtr: number, slot: number): number {
    return this.arena.k.dist(this.metricCode, qPtr, this.vectorPtr(slot), this.dim);
  }

  /** Greedy descent on an upper layer (ef = 1): the closest node reachable from `ep`. */
  greedy(qPtr: number, ep: number, epDist: number, level: number): { slot: number; dist: number } {
    let cur = ep;
    let curDist = epDist;
    const k = this.arena.k;
    for (let changed = true; changed;) {
      changed = false;
      const links = this.upper[cur]!;
      const off = (level - 1) * (1 + this.m);
      const cnt = links[off]!;
      for (let i = 1; i <= cnt; i++) {
        const e = links[off + i]!;
        const d = k.dist(this.metricCode, qPtr, this.vectorPtr(e), this.dim);
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
   * Beam search of one layer (Alg. 2) from entry `ep`: returns, in `results`, up to `ef` nearest
   * nodes that pass `accept` (deleted and filtered-out nodes are still traversed, so filters do
   * not cut the graph). Stops when the nearest unexpanded candidate is farther than the worst
   * result while `results` is full — with a strict filter it keeps going until it has `ef` results
   * or has exhausted the reachable graph.
   */
  searchLayer(qPtr: number, ep: number, epDist: number, level: number, results: TopK,
    accept: ((slot: number) => boolean) | undefined, includeDeleted: boolean): void {
    const visited = this.newVisit();
    const tag = this.#tag;
    const cand = this.#cand;
    cand.clear();
    results.clear();
    // While inserting, removed-but-unreclaimed nodes may still be linked to (as hnswlib does);
    // consolidation re-links around them later.
    const deleted = includeDeleted ? this.#none : this.state;
    const a = this.arena;
    const k = a.k;
    const listW = this.listPtr >> 2;
    const outW = this.outPtr >> 2;
    const code = this.metricCode;
    const m1 = 1 + this.m;
    visited[ep] = tag;
    cand.push(ep, epDist);
    if (deleted[ep] === 0 && (accept === undefined || accept(ep))) results.push(ep, epDist);
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
        arr = this.upper[c]!;
        off = (level - 1) * m1;
      }
      const cnt = arr[off]!;
      const u32 = a.u32;
      let n = 0;
      for (let i = 1; i <= cnt; i++) {
        const e = arr[off + i]!;
        if (visited[e] !== tag) {
          visited[e] = tag;
          u32[listW + n++] = e;
        }
      }
      if (n === 0) continue;
      k.distGather(code, qPtr, this.base, this.recordBytes, this.listPtr, n, this.dim, this.outPtr, PREFETCH_BYTES);
      const f32 = a.f32;
      for (let j = 0; j < n; j++) {
        const d = f32[outW + j]!;
        if (d < worst) {
          const e = u32[listW + j]!;
          cand.push(e, d);
          if (deleted[e] === 0 && (accept === undefined || accept(e))) {
            results.push(e, d);
            worst = results.worst();
          }
        }
      }
    }
  }

  /**
   * Neighbour selection heuristic (Alg. 4, without extending or keeping pruned candidates, as in
   * hnswlib): walking the candidates nearest first, keep one only if it is closer to the base
   * node than to every neighbour kept so far. Spreads links across directions, which keeps the
   * graph navigable on clustered data. `slots`/`dists` hold the candidates sorted ascending;
   * writes the kept slots to `out` from `outOff` and returns how many.
   */
  selectNeighbors(slots: Uint32Array, dists: Float32Array, n: number, max: number, out: Uint32Array, outOff: number): number {
    if (n <= max) {
      for (let i = 0; i < n; i++) out[outOff + i] = slots[i]!;
      return n;
    }
    const a = this.arena;
    const k = a.k;
    const listW = this.listPtr >> 2;
    const outW = this.outPtr >> 2;
    let kept = 0;
    for (let i = 0; i < n && kept < max; i++) {
      const e = slots[i]!;
      const de = dists[i]!;
      let good = true;
      if (kept > 0) {
        // Distances from e to every kept neighbour in one kernel call.
        const u32 = a.u32;
        for (let j = 0; j < kept; j++) u32[listW + j] = out[outOff + j]!;
        // No pre-pass: the kept neighbours were compared a moment ago and are in cache.
        k.distGather(this.metricCode, this.vectorPtr(e), this.base, this.recordBytes, this.listPtr, kept, this.dim, this.outPtr, 0);
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

  /**
   * Recomputes `indeg` from the level-0 lists of the nodes in use; in ranges, for a pass done in
   * slices: [0, to) clears and counts, later [from, to) add (the links must not change in between).
   */
  recountIndegree(from = 0, to = this.count): void {
    const indeg = this.indeg;
    if (from === 0) indeg.fill(0);
    const u32 = this.arena.u32;
    for (let s = from; s < to; s++) {
      if (this.state[s] === 2) continue;
      const off = this.link0(s);
      const cnt = u32[off]!;
      for (let i = 1; i <= cnt; i++) indeg[u32[off + i]!]!++;
    }
  }

  /** The link list of `slot` at `level`: the array and the index of its count word. */
  links(slot: number, level: number): { arr: Uint32Array; off: number } {
    if (level === 0) return { arr: this.arena.u32, off: this.link0(slot) };
    return { arr: this.upper[slot]!, off: (level - 1) * (1 + this.m) };
  }
}
