/**
 * Screened exact scans (docs/kernels.md, "Screened exact scans"): the flat index's batch search and
 * the tasks' all-pairs neighbours find each query's k nearest in two passes.
 *
 * 1. Screen: `screenBlock` gives every distance in the matrix-product form (‖q‖² + ‖x‖² − 2 q·x,
 *    or 1 − q·x), about twice as fast as the exact (q − x)² tile but off by rounding. A `Screen`
 *    per query keeps the k smallest screened values and a list of candidates: every record whose
 *    screened value is within `slack` of the k-th smallest seen so far.
 * 2. Re-rank: the candidates still within `slack` of the final k-th smallest screened value get
 *    their exact distance (`distList`, bit for bit `distBlock`'s), in scan order.
 *
 * Why nothing is lost: with E a bound on |screened − exact| for this query (`screenSlack`, slack =
 * 2E) and τ̃ the k-th smallest screened value, the k records with the smallest screened values all
 * have exact distances ≤ τ̃ + E, so the exact k-th distance t ≤ τ̃ + E; a record with exact distance
 * ≤ t has a screened value ≤ t + E ≤ τ̃ + 2E, so it is a candidate. Every record that can be in the
 * exact top k (ties at t included) is re-ranked, in the order the plain scan meets it, and a record
 * left out has an exact distance > t, which never decides what a top-k heap keeps: the answer is
 * the plain scan's, bit for bit (src/indexes/flat/screen.test.ts checks it on duplicates and ties).
 */

import type { TopK } from '../../vector/heap.js';

/** The unit roundoff of float32. */
const U = 2 ** -24;

/**
 * Twice the bound E on |screened − exact| for a query of squared norm `qn` against records of
 * squared norms at most `xnMax` (both as the kernels compute them, in float32), for `dim`
 * components: E = (4·dim + 64)·u·(qn + xnMax + 1)·1.01 + dim·2⁻¹²⁰. The derivation (Higham's
 * γₙ bound on a dot product in any order, fused or not, for the screen and for the exact sum of
 * (q − x)², the norms' own error within the 1.01) is in docs/kernels.md. Infinity when a norm is
 * not finite (the callers then scan without the screen).
 */
export function screenSlack(dim: number, qn: number, xnMax: number): number {
  const e = (4 * dim + 64) * U * (qn + xnMax + 1) * 1.01 + dim * 2 ** -120;
  return Number.isFinite(e) ? 2 * e : Infinity;
}

/** Bytes of a screen plan's header (src/vector/wasm/assembly/kernels.ts, PLAN_HEADER). */
export const PLAN_HEADER = 32;
/** Most checkpoints a plan holds (the kernels' CHECKPOINTS). */
export const PLAN_CHECKPOINTS = 6;
/** Bytes of the screen plan for `dim` components: the header and one byte offset per 4-component chunk. */
export function planBytes(dim: number): number {
  return PLAN_HEADER + 4 * (dim >> 2);
}
/** Rows a plan's variances are estimated from (evenly spaced over the set). */
export const PLAN_SAMPLE = 1024;
/**
 * Where the partial check looks, as fractions of the total variance the head holds: on MNIST
 * (784 pixels; 5-NN limits of 200 test digits against 9,000; 4 × 2 tiles, float64 simulation) the
 * chunks sorted by variance with checks at these fractions leave 0.22 of the multiply-adds, against
 * 0.58 for the natural order with checks at 1/2, 5/8, 3/4 and 7/8 of the components (the plan
 * before) and 0.50 for the sorted order with those same checks. Fixed counts (64, 128, 192, 256
 * components) did as well on MNIST (0.24); fractions follow the data's spread instead of its width.
 */
const PLAN_FRACTIONS = [0.4, 0.6, 0.75, 0.85, 0.92, 0.97];

/** The natural order without checkpoints: the plan of fewer than 64 components (and of no rows). */
export function identityPlan(dim: number): Int32Array {
  const chunks = dim >> 2;
  const plan = new Int32Array(planBytes(dim) / 4);
  plan[7] = chunks;
  for (let c = 0; c < chunks; c++) plan[PLAN_HEADER / 4 + c] = c * 16;
  return plan;
}

/**
 * The screen's plan for `n` rows of `dim` float32 at byte `ptr` of the arena `a`, `stride` bytes
 * apart (kernels.ts, PLAN_HEADER): the 4-component chunks in decreasing order of their variance
 * (the sum of their components', estimated from PLAN_SAMPLE evenly spaced rows; ties in place),
 * so that a head holds most of each distance early, and the partial check's checkpoints where the
 * head holds PLAN_FRACTIONS of the total variance. Below 64 components, the natural order without
 * checks (`identityPlan`). Any order and any checkpoints give the same
 * answers (the screen's bound holds for a dot product summed in any order); the plan only decides
 * how early a tile can stop.
 */
export function screenPlan(a: PlanArena, ptr: number, n: number, stride: number, dim: number): Int32Array {
  if (dim < 64 || n === 0) return identityPlan(dim);
  const chunks = dim >> 2;
  const m = Math.min(n, PLAN_SAMPLE);
  // The sums in wasm (`columnMoments`, ~0.3 ms for 1,024 × 784): a JavaScript loop here costs a
  // first call ~10 ms before the JIT compiles it.
  const at = a.alloc(16 * dim);
  let sum: Float64Array;
  let sq: Float64Array;
  try {
    a.k.columnMoments(ptr, n, m, stride, dim, at);
    const f64 = new Float64Array(a.memory.buffer, at, 2 * dim);
    sum = f64.slice(0, dim);
    sq = f64.slice(dim);
  } finally {
    a.free(at);
  }
  const varc = new Float64Array(chunks);
  let total = 0;
  for (let c = 0; c < chunks; c++) {
    let v = 0;
    for (let d = 4 * c; d < 4 * c + 4; d++) {
      const mean = sum[d]! / m;
      v += Math.max(0, sq[d]! / m - mean * mean);
    }
    // A non-finite variance (huge or non-finite values) keeps the natural order: any order is correct.
    varc[c] = Number.isFinite(v) ? v : 0;
    total += varc[c]!;
  }
  const order = Array.from({ length: chunks }, (_, c) => c);
  order.sort((a, b) => varc[b]! - varc[a]! || a - b);
  const plan = new Int32Array(planBytes(dim) / 4);
  let cps = 0;
  if (total > 0 && Number.isFinite(total)) {
    let cum = 0;
    let f = 0;
    for (let c = 0; c < chunks - 1 && f < PLAN_FRACTIONS.length; c++) {
      cum += varc[order[c]!]!;
      if (cum >= PLAN_FRACTIONS[f]! * total) {
        if (c + 1 >= 4 && cps < PLAN_CHECKPOINTS) plan[1 + cps++] = c + 1;
        while (f < PLAN_FRACTIONS.length && cum >= PLAN_FRACTIONS[f]! * total) f++;
      }
    }
  }
  plan[0] = cps;
  plan[7] = chunks;
  for (let c = 0; c < chunks; c++) plan[PLAN_HEADER / 4 + c] = order[c]! * 16;
  return plan;
}

/** What `screenPlan` needs of an arena (src/vector/arena.ts). */
export interface PlanArena {
  alloc(bytes: number): number;
  free(ptr: number): void;
  readonly memory: WebAssembly.Memory;
  readonly k: { columnMoments(ptr: number, n: number, m: number, stride: number, dim: number, out: number): void };
}

/** Bytes of a `sqNorms` record (16 float32: the norm, then the checkpoints' head and tail norms). */
export const NORM_BYTES = 64;

const f64 = new Float64Array(1);
const f32 = new Float32Array(1);
const f32bits = new Int32Array(f32.buffer);
/** The smallest float32 ≥ v (the kernels compare float32 limits; rounding down would cut too much). */
export function f32Up(v: number): number {
  f64[0] = v;
  f32[0] = v;
  if (f32[0]! >= v || !Number.isFinite(v)) return f32[0]!;
  f32bits[0]! += f32[0]! > 0 ? 1 : f32[0]! < 0 ? -1 : 0;
  if (f32[0] === 0) return 2 ** -149;
  return f32[0]!;
}

/** Largest squared norm the screen is used up to: beyond, (qn + xn) − 2 q·x could overflow float32. */
export const SCREEN_MAX_NORM = 1e36;

/** One query's screen: the k smallest screened values (a max-heap) and the candidate list. */
export class Screen {
  #k = 0;
  #heap: Float64Array;
  #size = 0;
  slack = 0;
  /** Candidates in the order offered: slot (or row) numbers and screened values. */
  slots: Uint32Array;
  values: Float32Array;
  count = 0;

  /**
   * A screen for k up to `k` (more grows it). Its list starts with room for k·(1 + ln 256) + 16
   * candidates: about what a running top-k admits from a few hundred to a few thousand offers in
   * random order (k·(1 + ln(n / k)), measured 114 a point for k = 20 of 2,050), so a typical
   * list grows once at most.
   */
  constructor(k = 16) {
    this.#heap = new Float64Array(Math.max(1, k));
    const room = Math.ceil(k * 6.6) + 16;
    this.slots = new Uint32Array(room);
    this.values = new Float32Array(room);
  }
  /** The current admission limit: the k-th smallest screened value + slack (Infinity while < k). */
  limit = Infinity;

  /** The limit `screenBlock`'s partial check may stop a record at: `limit` + slack, as a float32 rounded up. */
  pruneLimit(): number {
    return f32Up(this.limit + this.slack);
  }

  /** Starts a query: keep k, with `slack` from `screenSlack`. */
  reset(k: number, slack: number): void {
    this.#k = k;
    if (this.#heap.length < k) this.#heap = new Float64Array(k);
    this.#size = 0;
    this.count = 0;
    this.slack = slack;
    this.limit = k === 0 ? -Infinity : Infinity;
  }

  /** Offers a candidate whose value the caller found ≤ `limit`; updates `limit`. */
  add(slot: number, d: number): void {
    if (this.count === this.slots.length) {
      const s = new Uint32Array(this.count * 2);
      s.set(this.slots);
      this.slots = s;
      const v = new Float32Array(this.count * 2);
      v.set(this.values);
      this.values = v;
    }
    this.slots[this.count] = slot;
    this.values[this.count++] = d;
    const h = this.#heap;
    const k = this.#k;
    if (this.#size < k) {
      let i = this.#size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (h[p]! >= d) break;
        h[i] = h[p]!;
        i = p;
      }
      h[i] = d;
      if (this.#size === k) this.limit = h[0]! + this.slack;
      return;
    }
    if (d >= h[0]!) return;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= k) break;
      if (c + 1 < k && h[c + 1]! > h[c]!) c++;
      if (h[c]! <= d) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = d;
    this.limit = h[0]! + this.slack;
  }

  /**
   * The candidates that can still be in the top k (value ≤ final limit), in the order offered,
   * written to `out` from 0; returns how many.
   */
  survivors(out: Uint32Array): number {
    const lim = this.limit;
    let m = 0;
    for (let i = 0; i < this.count; i++) if (this.values[i]! <= lim) out[m++] = this.slots[i]!;
    return m;
  }
}

/** The exact-distance kernel the re-rank calls (src/vector/arena.ts). */
export interface ListKernel {
  distList(metric: number, q: number, base: number, stride: number, slots: number, n: number, dim: number, out: number): void;
}

/**
 * Re-ranks a query's survivors: their exact distances (`distList` against the records at `base`,
 * `stride` bytes apart), in chunks through the scratch at `scratch` (room for `room` slots and
 * `room` distances), each offered in the order first offered to `heap` under the plain scan's rule
 * (`d < worst`) with its id from `table` (slot → id). `f32` and `u32` view the whole memory.
 */
export function rerank(s: Screen, kernel: ListKernel, f32: Float32Array, u32: Uint32Array, code: number,
  q: number, base: number, stride: number, dim: number, scratch: number, room: number, heap: TopK, table: Uint32Array): void {
  const all = survivorBuffer(s.count);
  const m = s.survivors(all);
  const slotsAt = scratch >> 2;
  const outAt = slotsAt + room;
  for (let c0 = 0; c0 < m; c0 += room) {
    const cnt = Math.min(room, m - c0);
    u32.set(all.subarray(c0, c0 + cnt), slotsAt);
    kernel.distList(code, q, base, stride, slotsAt << 2, cnt, dim, outAt << 2);
    for (let t = 0; t < cnt; t++) {
      const d = f32[outAt + t]!;
      if (d < heap.worst()) heap.push(table[u32[slotsAt + t]!]!, d);
    }
  }
}

let survivorScratch = new Uint32Array(256);
function survivorBuffer(n: number): Uint32Array {
  if (survivorScratch.length < n) survivorScratch = new Uint32Array(Math.max(n, survivorScratch.length * 2));
  return survivorScratch;
}
