// Distance kernels, compiled by AssemblyScript to WebAssembly with 128-bit SIMD
// (`npm run build:wasm`, see scripts/build-wasm.mjs). This file is AssemblyScript, not
// TypeScript: `usize` is a byte address in the index's own linear memory, `v128` a SIMD register.
//
// Why WebAssembly: measured on this project's machine (AMD EPYC, Node 20), one 128-d squared-L2
// distance costs ~113 ns in unrolled JavaScript and ~20 ns here, 784-d 700 ns against 105 ns
// (see docs/kernels.md). Calls from JS into these exports cost a few ns, so the graph logic stays
// in TypeScript and only loops over whole vectors (or lists of vectors) come here.
//
// Metric codes, shared with src/vector/kernels.ts:
//   0 = l2      squared Euclidean distance
//   1 = ip      1 - dot(a, b)  (hnswlib's convention: smaller = closer)
//   2 = cosine  1 - dot(a, b) on vectors normalised before they are stored
// Codes of quantised vectors (docs/indexes/quantization.md); `dim` stays the element count and
// the code's bytes are derived from it, padded to 16 bytes (zero padding on both sides):
//   3 = int8 l2   Σ (a_i - b_i)² over signed bytes, an exact integer sum (as f32)
//   4 = int8 ip   -Σ a_i·b_i over signed bytes (orders like 1 - a·b)
//   5 = binary    Hamming distance of bit codes (⌈dim / 128⌉ × 16 bytes)
// Every function returns or writes *distances*: smaller is closer.
//
// The dot product, squared L2 and horizontal sum are written once in simd.ts beside this file,
// shared with the Word2Vec training kernel.

import { dotf32, hsum, l2sqf32 } from './simd';

export function l2sq(a: usize, b: usize, dim: i32): f32 {
  return l2sqf32(a, b, dim);
}

export function dot(a: usize, b: usize, dim: i32): f32 {
  return dotf32(a, b, dim);
}

/** Bytes of an int8 code of `dim` elements: padded to 16. */
@inline function i8Bytes(dim: i32): usize {
  return (<usize>dim + 15) & ~<usize>15;
}

/** Bytes of a binary code of `dim` bits: padded to 16 bytes. */
@inline function bitBytes(dim: i32): usize {
  return ((<usize>dim + 127) >> 7) << 4;
}

/** Bytes of one stored vector or code under `metric`. */
@inline function vectorBytes(metric: i32, dim: i32): usize {
  return metric <= 2 ? <usize>dim << 2 : metric == 5 ? bitBytes(dim) : i8Bytes(dim);
}

/** Σ (a_i − b_i)² over int8 codes: differences widened to i16, squared and pair-summed to i32. */
export function l2i8(a: usize, b: usize, dim: i32): f32 {
  const end = i8Bytes(dim);
  let s0 = i32x4.splat(0);
  let s1 = i32x4.splat(0);
  for (let o: usize = 0; o < end; o += 16) {
    const x = v128.load(a + o);
    const y = v128.load(b + o);
    const dl = i16x8.sub(i16x8.extend_low_i8x16_s(x), i16x8.extend_low_i8x16_s(y));
    const dh = i16x8.sub(i16x8.extend_high_i8x16_s(x), i16x8.extend_high_i8x16_s(y));
    s0 = i32x4.add(s0, i32x4.dot_i16x8_s(dl, dl));
    s1 = i32x4.add(s1, i32x4.dot_i16x8_s(dh, dh));
  }
  const s = i32x4.add(s0, s1);
  return <f32>(i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1) + i32x4.extract_lane(s, 2) + i32x4.extract_lane(s, 3));
}

/** Σ a_i·b_i over int8 codes (widened to i16, pair-summed to i32). */
export function doti8(a: usize, b: usize, dim: i32): f32 {
  const end = i8Bytes(dim);
  let s0 = i32x4.splat(0);
  let s1 = i32x4.splat(0);
  for (let o: usize = 0; o < end; o += 16) {
    const x = v128.load(a + o);
    const y = v128.load(b + o);
    s0 = i32x4.add(s0, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(x), i16x8.extend_low_i8x16_s(y)));
    s1 = i32x4.add(s1, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(x), i16x8.extend_high_i8x16_s(y)));
  }
  const s = i32x4.add(s0, s1);
  return <f32>(i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1) + i32x4.extract_lane(s, 2) + i32x4.extract_lane(s, 3));
}

/** Hamming distance of two bit codes: popcount of the XOR, bytes summed pairwise into i16 lanes. */
export function hamming(a: usize, b: usize, dim: i32): f32 {
  const end = bitBytes(dim);
  let s = i16x8.splat(0);
  for (let o: usize = 0; o < end; o += 16) {
    s = i16x8.add(s, i16x8.extadd_pairwise_i8x16_u(i8x16.popcnt(v128.xor(v128.load(a + o), v128.load(b + o)))));
  }
  const w = i32x4.extadd_pairwise_i16x8_u(s);
  return <f32>(i32x4.extract_lane(w, 0) + i32x4.extract_lane(w, 1) + i32x4.extract_lane(w, 2) + i32x4.extract_lane(w, 3));
}

@inline function distance(metric: i32, a: usize, b: usize, dim: i32): f32 {
  if (metric <= 2) return metric == 0 ? l2sq(a, b, dim) : <f32>1 - dot(a, b, dim);
  return metric == 3 ? l2i8(a, b, dim) : metric == 4 ? -doti8(a, b, dim) : hamming(a, b, dim);
}

/** Distance between two vectors. */
export function dist(metric: i32, a: usize, b: usize, dim: i32): f32 {
  return distance(metric, a, b, dim);
}

/**
 * Distances from `q` to the records whose slots are listed at `slots` (u32 each):
 * record `s` starts at `base + s * stride`. Writes `n` f32 to `out`.
 * Before computing, touches every cache line of the first `touchBytes` of each listed record so
 * the loads of all the records are in flight at once (WebAssembly has no prefetch instruction).
 */
export function distGather(metric: i32, q: usize, base: usize, stride: usize, slots: usize, n: i32, dim: i32, out: usize, touchBytes: usize): void {
  let touch: u32 = 0;
  // Touch up to `touchBytes` of each vector (512 is enough lines for the hardware prefetcher to
  // stream the rest); 0 when the vectors are known to be in cache, where touching only costs.
  const vecBytes = min<usize>(vectorBytes(metric, dim), touchBytes);
  for (let j = 0; j < n; j++) {
    const p = base + <usize>load<u32>(slots + (<usize>j << 2)) * stride;
    for (let o: usize = 0; o < vecBytes; o += 64) touch |= load<u32>(p + o);
  }
  store<u32>(out, touch); // keeps the touches alive; overwritten below
  for (let j = 0; j < n; j++) {
    const p = base + <usize>load<u32>(slots + (<usize>j << 2)) * stride;
    store<f32>(out + (<usize>j << 2), distance(metric, q, p, dim));
  }
}

/** Distances from `q` to `n` records laid one after another from `ptr`, `stride` bytes apart. */
export function distRange(metric: i32, q: usize, ptr: usize, stride: usize, n: i32, dim: i32, out: usize): void {
  for (let j = 0; j < n; j++) {
    store<f32>(out + (<usize>j << 2), distance(metric, q, ptr + <usize>j * stride, dim));
  }
}

/**
 * All distances between `nq` queries (from `qs`, `qStride` bytes apart) and `nx` records (from
 * `xs`, `xStride` bytes apart): `out[i * nx + j]`. Register-blocked: four queries against two
 * records at a time, so each loaded chunk of a record serves four queries and each chunk of a
 * query two records. The caller keeps the block of records small enough to stay in L2.
 * Float metrics: every entry is `pairDistance(metric, q_i, x_j)` bit for bit, wherever it falls in
 * the tiles (the edges call it too), so a distance does not depend on the block it was computed in:
 * the screened scans (`screenBlock`, then `distList` on the survivors) rely on it.
 */
export function distBlock(metric: i32, qs: usize, nq: i32, qStride: usize, xs: usize, nx: i32, xStride: usize, dim: i32, out: usize): void {
  if (metric > 2) {
    // Codes: one query at a time (each code distance is already a short integer loop).
    for (let i = 0; i < nq; i++) distRange(metric, qs + <usize>i * qStride, xs, xStride, nx, dim, out + (<usize>i * <usize>nx << 2));
    return;
  }
  const end4 = <usize>(dim & ~3) << 2;
  const end = <usize>dim << 2;
  const rowBytes = <usize>nx << 2;
  let i = 0;
  for (; i + 4 <= nq; i += 4) {
    const q0 = qs + <usize>i * qStride;
    const q1 = q0 + qStride;
    const q2 = q1 + qStride;
    const q3 = q2 + qStride;
    const o0 = out + <usize>i * rowBytes;
    let j = 0;
    for (; j + 2 <= nx; j += 2) {
      const x0 = xs + <usize>j * xStride;
      const x1 = x0 + xStride;
      let a00 = f32x4.splat(0), a01 = f32x4.splat(0);
      let a10 = f32x4.splat(0), a11 = f32x4.splat(0);
      let a20 = f32x4.splat(0), a21 = f32x4.splat(0);
      let a30 = f32x4.splat(0), a31 = f32x4.splat(0);
      let o: usize = 0;
      if (metric == 0) {
        for (; o < end4; o += 16) {
          const y0 = v128.load(x0 + o), y1 = v128.load(x1 + o);
          const v0 = v128.load(q0 + o), v1 = v128.load(q1 + o), v2 = v128.load(q2 + o), v3 = v128.load(q3 + o);
          let d = f32x4.sub(v0, y0); a00 = f32x4.add(a00, f32x4.mul(d, d));
          d = f32x4.sub(v0, y1); a01 = f32x4.add(a01, f32x4.mul(d, d));
          d = f32x4.sub(v1, y0); a10 = f32x4.add(a10, f32x4.mul(d, d));
          d = f32x4.sub(v1, y1); a11 = f32x4.add(a11, f32x4.mul(d, d));
          d = f32x4.sub(v2, y0); a20 = f32x4.add(a20, f32x4.mul(d, d));
          d = f32x4.sub(v2, y1); a21 = f32x4.add(a21, f32x4.mul(d, d));
          d = f32x4.sub(v3, y0); a30 = f32x4.add(a30, f32x4.mul(d, d));
          d = f32x4.sub(v3, y1); a31 = f32x4.add(a31, f32x4.mul(d, d));
        }
      } else {
        for (; o < end4; o += 16) {
          const y0 = v128.load(x0 + o), y1 = v128.load(x1 + o);
          const v0 = v128.load(q0 + o), v1 = v128.load(q1 + o), v2 = v128.load(q2 + o), v3 = v128.load(q3 + o);
          a00 = f32x4.add(a00, f32x4.mul(v0, y0)); a01 = f32x4.add(a01, f32x4.mul(v0, y1));
          a10 = f32x4.add(a10, f32x4.mul(v1, y0)); a11 = f32x4.add(a11, f32x4.mul(v1, y1));
          a20 = f32x4.add(a20, f32x4.mul(v2, y0)); a21 = f32x4.add(a21, f32x4.mul(v2, y1));
          a30 = f32x4.add(a30, f32x4.mul(v3, y0)); a31 = f32x4.add(a31, f32x4.mul(v3, y1));
        }
      }
      let r00 = hsum(a00), r01 = hsum(a01), r10 = hsum(a10), r11 = hsum(a11);
      let r20 = hsum(a20), r21 = hsum(a21), r30 = hsum(a30), r31 = hsum(a31);
      for (; o < end; o += 4) {
        const y0 = load<f32>(x0 + o), y1 = load<f32>(x1 + o);
        const v0 = load<f32>(q0 + o), v1 = load<f32>(q1 + o), v2 = load<f32>(q2 + o), v3 = load<f32>(q3 + o);
        if (metric == 0) {
          r00 += (v0 - y0) * (v0 - y0); r01 += (v0 - y1) * (v0 - y1);
          r10 += (v1 - y0) * (v1 - y0); r11 += (v1 - y1) * (v1 - y1);
          r20 += (v2 - y0) * (v2 - y0); r21 += (v2 - y1) * (v2 - y1);
          r30 += (v3 - y0) * (v3 - y0); r31 += (v3 - y1) * (v3 - y1);
        } else {
          r00 += v0 * y0; r01 += v0 * y1; r10 += v1 * y0; r11 += v1 * y1;
          r20 += v2 * y0; r21 += v2 * y1; r30 += v3 * y0; r31 += v3 * y1;
        }
      }
      if (metric != 0) {
        r00 = 1 - r00; r01 = 1 - r01; r10 = 1 - r10; r11 = 1 - r11;
        r20 = 1 - r20; r21 = 1 - r21; r30 = 1 - r30; r31 = 1 - r31;
      }
      const oj = o0 + (<usize>j << 2);
      store<f32>(oj, r00); store<f32>(oj, r01, 4);
      store<f32>(oj + rowBytes, r10); store<f32>(oj + rowBytes, r11, 4);
      store<f32>(oj + 2 * rowBytes, r20); store<f32>(oj + 2 * rowBytes, r21, 4);
      store<f32>(oj + 3 * rowBytes, r30); store<f32>(oj + 3 * rowBytes, r31, 4);
    }
    for (; j < nx; j++) {
      const x = xs + <usize>j * xStride;
      const oj = o0 + (<usize>j << 2);
      store<f32>(oj, pairDistance(metric, q0, x, dim));
      store<f32>(oj + rowBytes, pairDistance(metric, q1, x, dim));
      store<f32>(oj + 2 * rowBytes, pairDistance(metric, q2, x, dim));
      store<f32>(oj + 3 * rowBytes, pairDistance(metric, q3, x, dim));
    }
  }
  for (; i < nq; i++) {
    const q = qs + <usize>i * qStride;
    const oi = out + <usize>i * rowBytes;
    for (let j = 0; j < nx; j++) store<f32>(oi + (<usize>j << 2), pairDistance(metric, q, xs + <usize>j * xStride, dim));
  }
}

// ---------------------------------------------------------------------------------------------
// Screened scans (docs/kernels.md, "Screened exact scans"): a fast matrix-product form of the
// distances picks the candidates, `distList` recomputes the survivors with `pairDistance`.

/**
 * One float distance in exactly the order of a `distBlock` tile: one f32x4 accumulator of
 * (a − b)² (l2) or a·b (ip / cosine) over the whole 4-float chunks, the lanes summed in order
 * (`hsum`), then the scalar tail; ip / cosine return 1 − a·b. The reference distance of the flat
 * index's batch search and of the tasks' scans. (a − b)² = (b − a)² and a·b = b·a exactly, so it
 * is symmetric.
 */
@inline function pairDistance(metric: i32, a: usize, b: usize, dim: i32): f32 {
  const end4 = <usize>(dim & ~3) << 2;
  const end = <usize>dim << 2;
  let acc = f32x4.splat(0);
  let o: usize = 0;
  if (metric == 0) {
    for (; o < end4; o += 16) {
      const d = f32x4.sub(v128.load(a + o), v128.load(b + o));
      acc = f32x4.add(acc, f32x4.mul(d, d));
    }
    let r = hsum(acc);
    for (; o < end; o += 4) {
      const d = load<f32>(a + o) - load<f32>(b + o);
      r += d * d;
    }
    return r;
  }
  for (; o < end4; o += 16) acc = f32x4.add(acc, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  let r = hsum(acc);
  for (; o < end; o += 4) r += load<f32>(a + o) * load<f32>(b + o);
  return <f32>1 - r;
}

/**
 * `pairDistance` from `q` to the records whose slots are listed at `slots` (u32 each); `n` f32 to
 * `out`. Four records at a time, each in its own accumulator with `pairDistance`'s order (the same
 * bits): one accumulator alone waits on its own additions (~4 cycles each), four overlap.
 */
export function distList(metric: i32, q: usize, base: usize, stride: usize, slots: usize, n: i32, dim: i32, out: usize): void {
  const end4 = <usize>(dim & ~3) << 2;
  const end = <usize>dim << 2;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const s = slots + (<usize>j << 2);
    const p0 = base + <usize>load<u32>(s) * stride, p1 = base + <usize>load<u32>(s, 4) * stride;
    const p2 = base + <usize>load<u32>(s, 8) * stride, p3 = base + <usize>load<u32>(s, 12) * stride;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let o: usize = 0;
    if (metric == 0) {
      for (; o < end4; o += 16) {
        const v = v128.load(q + o);
        let d = f32x4.sub(v, v128.load(p0 + o)); a0 = f32x4.add(a0, f32x4.mul(d, d));
        d = f32x4.sub(v, v128.load(p1 + o)); a1 = f32x4.add(a1, f32x4.mul(d, d));
        d = f32x4.sub(v, v128.load(p2 + o)); a2 = f32x4.add(a2, f32x4.mul(d, d));
        d = f32x4.sub(v, v128.load(p3 + o)); a3 = f32x4.add(a3, f32x4.mul(d, d));
      }
    } else {
      for (; o < end4; o += 16) {
        const v = v128.load(q + o);
        a0 = f32x4.add(a0, f32x4.mul(v, v128.load(p0 + o)));
        a1 = f32x4.add(a1, f32x4.mul(v, v128.load(p1 + o)));
        a2 = f32x4.add(a2, f32x4.mul(v, v128.load(p2 + o)));
        a3 = f32x4.add(a3, f32x4.mul(v, v128.load(p3 + o)));
      }
    }
    let r0 = hsum(a0), r1 = hsum(a1), r2 = hsum(a2), r3 = hsum(a3);
    for (; o < end; o += 4) {
      const v = load<f32>(q + o);
      if (metric == 0) {
        let d = v - load<f32>(p0 + o); r0 += d * d;
        d = v - load<f32>(p1 + o); r1 += d * d;
        d = v - load<f32>(p2 + o); r2 += d * d;
        d = v - load<f32>(p3 + o); r3 += d * d;
      } else {
        r0 += v * load<f32>(p0 + o); r1 += v * load<f32>(p1 + o);
        r2 += v * load<f32>(p2 + o); r3 += v * load<f32>(p3 + o);
      }
    }
    if (metric != 0) { r0 = 1 - r0; r1 = 1 - r1; r2 = 1 - r2; r3 = 1 - r3; }
    const oj = out + (<usize>j << 2);
    store<f32>(oj, r0); store<f32>(oj, r1, 4); store<f32>(oj, r2, 8); store<f32>(oj, r3, 12);
  }
  for (; j < n; j++) {
    const p = base + <usize>load<u32>(slots + (<usize>j << 2)) * stride;
    store<f32>(out + (<usize>j << 2), pairDistance(metric, q, p, dim));
  }
}

/**
 * The screen's plan (src/indexes/flat/screen.ts, `screenPlan`): the order `screenBlock` and `sqNorms`
 * take the 4-component chunks of a row in, and the partial check's checkpoints. i32 words at `plan`:
 * [0] the number of checkpoints (≤ CHECKPOINTS), [1 … CHECKPOINTS] each checkpoint as a count of
 * chunks (the head is the first that many chunks of the order; strictly increasing, below the chunk
 * count), [7] the chunk count (dim >> 2), then from byte PLAN_HEADER the byte offset of each chunk
 * in the row, in order (a permutation of 0, 16, 32, …). Components past the last whole chunk
 * (dim & 3 of them) always come last, in place. `sqNorms` also takes plan 0 (the norm alone);
 * `screenBlock` needs a plan (screen.ts `identityPlan` for the natural order).
 */
const PLAN_HEADER: usize = 32;

/**
 * The screen's norm record of `n` rows from `ptr`, `stride` bytes apart: 64 bytes (16 f32) a row
 * at `out`: [‖x‖², 0, 0, 0, then for each checkpoint c of the plan (at most CHECKPOINTS) the
 * head's ‖x_h‖² (the chunks before the checkpoint, in the plan's order) and the tail's ‖x_t‖ (the
 * rest, not squared), then zeros]. Sums over the segments between checkpoints, heads added forward
 * and tails backward, so every figure is a sum of non-negative terms (within γ_dim of its value, as
 * the bound in screen.ts assumes; a tail as total − head would not be).
 */
export function sqNorms(ptr: usize, n: i32, stride: usize, dim: i32, plan: usize, out: usize): void {
  const cps = plan == 0 ? 0 : load<i32>(plan);
  const chunks = <usize>(dim >> 2);
  const ord = plan + PLAN_HEADER;
  for (let j = 0; j < n; j++) {
    const x = ptr + <usize>j * stride;
    const o = out + (<usize>j << 6);
    if (plan == 0) {
      store<f32>(o, dotf32(x, x, dim));
    } else {
      // 1. Segment sums between checkpoints, parked in the tail slots; the last segment (with the
      //    components past the last whole chunk) kept.
      let k: usize = 0;
      for (let c = 0; c < cps; c++) {
        const at = <usize>load<i32>(plan + 4 + (<usize>c << 2));
        let acc = f32x4.splat(0);
        for (; k < at; k++) {
          const v = v128.load(x + <usize>load<u32>(ord + (k << 2)));
          acc = f32x4.add(acc, f32x4.mul(v, v));
        }
        store<f32>(o + 20 + (<usize>c << 3), hsum(acc));
      }
      let acc = f32x4.splat(0);
      for (; k < chunks; k++) {
        const v = v128.load(x + <usize>load<u32>(ord + (k << 2)));
        acc = f32x4.add(acc, f32x4.mul(v, v));
      }
      let tail = hsum(acc);
      for (let e = <usize>(dim & ~3); e < <usize>dim; e++) {
        const v = load<f32>(x + (e << 2));
        tail += v * v;
      }
      // 2. Heads forward.
      let head: f32 = 0;
      for (let c = 0; c < cps; c++) {
        head += load<f32>(o + 20 + (<usize>c << 3));
        store<f32>(o + 16 + (<usize>c << 3), head);
      }
      store<f32>(o, head + tail);
      // 3. Tails backward: at checkpoint c, the segments after it.
      for (let c = cps - 1; c >= 0; c--) {
        const seg = load<f32>(o + 20 + (<usize>c << 3));
        store<f32>(o + 20 + (<usize>c << 3), sqrt<f32>(tail));
        tail += seg;
      }
    }
    store<f32>(o, 0, 4); store<f32>(o, 0, 8); store<f32>(o, 0, 12);
    for (let c = cps; c < CHECKPOINTS; c++) { store<f32>(o + 16 + (<usize>c << 3), 0); store<f32>(o + 20 + (<usize>c << 3), 0); }
  }
}

/** Most checkpoints of the partial check (16 + 8 × 6 = the 64 bytes of a norm record). */
const CHECKPOINTS = 6;

/** Whether this build fuses `madd` (the relaxed-SIMD build). */
export function relaxedBuild(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}

/**
 * a·b + c, four lanes. The relaxed-SIMD build (scripts/build-wasm.mjs, `kernels-relaxed`) emits
 * `f32x4.relaxed_madd`, which V8 turns into one fused multiply-add where the CPU has FMA (one
 * rounding) and a multiply and an add elsewhere (two). Measured on this project's machine (CPU
 * time, one core): the 4 × 2 tile below runs at ~23 G multiply-adds/s fused and ~15 G unfused,
 * against ~11 G for `distBlock`'s (q − x)² tile (three operations per 4 multiply-adds). Either way
 * the result is only a screen: its error bound covers both roundings.
 */
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/**
 * (Σ lanes of a, Σ lanes of b, Σ lanes of c, Σ lanes of d) by shuffles: a 4 × 4 transpose folded
 * into the additions, 6 shuffles and 3 additions where four `hsum`s take 12 extractions and 9
 * scalar additions (the partial check's bounds; any order of the additions is within its bound).
 */
@inline function lanesSum(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(v128.shuffle<f32>(a, b, 0, 4, 1, 5), v128.shuffle<f32>(a, b, 2, 6, 3, 7));
  const cd = f32x4.add(v128.shuffle<f32>(c, d, 0, 4, 1, 5), v128.shuffle<f32>(c, d, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(ab, cd, 0, 1, 4, 5), v128.shuffle<f32>(ab, cd, 2, 3, 6, 7));
}

/** The screened distance from a dot product: ‖q‖² + ‖x‖² − 2 q·x (l2) or 1 − q·x (ip, cosine). */
@inline function screenValue(metric: i32, qn: f32, xn: f32, dot: f32): f32 {
  return metric == 0 ? (qn + xn) - <f32>2 * dot : <f32>1 - dot;
}

/**
 * Screened distances of `nq` queries against `nx` records, `out[i * nx + j]`, in the matrix-product
 * form: l2 as ‖q‖² + ‖x‖² − 2 q·x with the norms given (`qn`, `xn`: `sqNorms` records of the same
 * plan, 64 bytes a row; not read for ip / cosine), ip / cosine as 1 − q·x. The dot products run
 * over the chunks in the plan's order (see PLAN_HEADER; a plan is required here: screen.ts
 * `identityPlan` for the natural order).
 * Partial check (l2, a plan with checkpoints, `qlim` ≠ 0): at each checkpoint, the lower bound
 * ‖q_h − x_h‖² + (‖q_t‖ − ‖x_t‖)² of each of a tile's 8 distances is compared with its query's
 * limit (`qlim`: nq f32) and, when `xlim` ≠ 0, its record's (nx f32); when all 8 bounds exceed
 * their limits the tile stops there and writes +Infinity. The caller passes limits that already
 * include the bounds' rounding (screen.ts), so a record stopped early could not have been a
 * candidate; with the chunks in decreasing order of variance (screen.ts) the head holds most of
 * each distance early. Two operations (one when fused) per 4 multiply-adds instead of
 * `distBlock`'s three, in a 4 × 2 register tile: 8 accumulators and 3 loaded vectors (V8 on x64
 * keeps one of the 16 XMM registers as scratch; of the tiles measured, 4 × 2, 2 × 4 and 3 × 3 ran
 * equally fast, 4 × 3 and 4 × 4 slower).
 * NOT exact: each value is within the bound of docs/kernels.md ("Screened exact scans") of the
 * true distance, and callers recompute the candidates with `distList`.
 */
export function screenBlock(metric: i32, qs: usize, nq: i32, qStride: usize, qn: usize, xs: usize, nx: i32, xStride: usize, xn: usize,
  dim: i32, plan: usize, qlim: usize, xlim: usize, out: usize): void {
  const end4 = <usize>(dim & ~3) << 2;
  const end = <usize>dim << 2;
  const rowBytes = <usize>nx << 2;
  const ord = plan + PLAN_HEADER;
  const ordEnd = ord + (<usize>(dim >> 2) << 2);
  // The partial check (l2 only): at each checkpoint, a tile whose 8 lower bounds all exceed their limits stops.
  const cps = metric == 0 && qlim != 0 ? load<i32>(plan) : 0;
  const inf = f32x4.splat(Infinity);
  let i = 0;
  for (; i + 4 <= nq; i += 4) {
    const q0 = qs + <usize>i * qStride;
    const q1 = q0 + qStride;
    const q2 = q1 + qStride;
    const q3 = q2 + qStride;
    const qi = qn + (<usize>i << 6);
    const n0 = metric == 0 ? load<f32>(qi) : 0, n1 = metric == 0 ? load<f32>(qi, 64) : 0;
    const n2 = metric == 0 ? load<f32>(qi, 128) : 0, n3 = metric == 0 ? load<f32>(qi, 192) : 0;
    const ql = cps > 0 ? v128.load(qlim + (<usize>i << 2)) : inf;
    const o0 = out + <usize>i * rowBytes;
    let j = 0;
    for (; j + 2 <= nx; j += 2) {
      const x0 = xs + <usize>j * xStride;
      const x1 = x0 + xStride;
      let a00 = f32x4.splat(0), a01 = f32x4.splat(0);
      let a10 = f32x4.splat(0), a11 = f32x4.splat(0);
      let a20 = f32x4.splat(0), a21 = f32x4.splat(0);
      let a30 = f32x4.splat(0), a31 = f32x4.splat(0);
      let p = ord;
      let stopped = false;
      for (let c = 0; c < cps; c++) {
        const endP = ord + (<usize>load<i32>(plan + 4 + (<usize>c << 2)) << 2);
        for (; p < endP; p += 4) {
          const o = <usize>load<u32>(p);
          const y0 = v128.load(x0 + o), y1 = v128.load(x1 + o);
          let v = v128.load(q0 + o); a00 = madd(v, y0, a00); a01 = madd(v, y1, a01);
          v = v128.load(q1 + o); a10 = madd(v, y0, a10); a11 = madd(v, y1, a11);
          v = v128.load(q2 + o); a20 = madd(v, y0, a20); a21 = madd(v, y1, a21);
          v = v128.load(q3 + o); a30 = madd(v, y0, a30); a31 = madd(v, y1, a31);
        }
        // Lower bounds of the 8 distances from the head alone: ‖q_h − x_h‖² + (‖q_t‖ − ‖x_t‖)²
        // (the tail's distance is at least the difference of its norms), lanes = the 4 queries.
        const f = 16 + (<usize>c << 3);
        const qa = f32x4(load<f32>(qi + f), load<f32>(qi + f, 64), load<f32>(qi + f, 128), load<f32>(qi + f, 192));
        const qb = f32x4(load<f32>(qi + f, 4), load<f32>(qi + f, 68), load<f32>(qi + f, 132), load<f32>(qi + f, 196));
        const xr0 = xn + (<usize>j << 6) + f;
        const d0 = lanesSum(a00, a10, a20, a30);
        const d1 = lanesSum(a01, a11, a21, a31);
        const t0 = f32x4.sub(qb, f32x4.splat(load<f32>(xr0, 4)));
        const t1 = f32x4.sub(qb, f32x4.splat(load<f32>(xr0, 68)));
        const lb0 = f32x4.add(f32x4.sub(f32x4.add(qa, f32x4.splat(load<f32>(xr0))), f32x4.add(d0, d0)), f32x4.mul(t0, t0));
        const lb1 = f32x4.add(f32x4.sub(f32x4.add(qa, f32x4.splat(load<f32>(xr0, 64))), f32x4.add(d1, d1)), f32x4.mul(t1, t1));
        let l0 = ql, l1 = ql;
        if (xlim != 0) {
          l0 = f32x4.max(ql, f32x4.splat(load<f32>(xlim + (<usize>j << 2))));
          l1 = f32x4.max(ql, f32x4.splat(load<f32>(xlim + (<usize>j << 2), 4)));
        }
        if (v128.all_true<i32>(v128.and(f32x4.gt(lb0, l0), f32x4.gt(lb1, l1)))) {
          stopped = true;
          break;
        }
      }
      if (stopped) {
        const oj = o0 + (<usize>j << 2);
        store<f32>(oj, Infinity); store<f32>(oj, Infinity, 4);
        store<f32>(oj + rowBytes, Infinity); store<f32>(oj + rowBytes, Infinity, 4);
        store<f32>(oj + 2 * rowBytes, Infinity); store<f32>(oj + 2 * rowBytes, Infinity, 4);
        store<f32>(oj + 3 * rowBytes, Infinity); store<f32>(oj + 3 * rowBytes, Infinity, 4);
        continue;
      }
      for (; p < ordEnd; p += 4) {
        const o = <usize>load<u32>(p);
        const y0 = v128.load(x0 + o), y1 = v128.load(x1 + o);
        let v = v128.load(q0 + o); a00 = madd(v, y0, a00); a01 = madd(v, y1, a01);
        v = v128.load(q1 + o); a10 = madd(v, y0, a10); a11 = madd(v, y1, a11);
        v = v128.load(q2 + o); a20 = madd(v, y0, a20); a21 = madd(v, y1, a21);
        v = v128.load(q3 + o); a30 = madd(v, y0, a30); a31 = madd(v, y1, a31);
      }
      let r00 = hsum(a00), r01 = hsum(a01), r10 = hsum(a10), r11 = hsum(a11);
      let r20 = hsum(a20), r21 = hsum(a21), r30 = hsum(a30), r31 = hsum(a31);
      for (let o = end4; o < end; o += 4) {
        const y0 = load<f32>(x0 + o), y1 = load<f32>(x1 + o);
        const v0 = load<f32>(q0 + o), v1 = load<f32>(q1 + o), v2 = load<f32>(q2 + o), v3 = load<f32>(q3 + o);
        r00 += v0 * y0; r01 += v0 * y1; r10 += v1 * y0; r11 += v1 * y1;
        r20 += v2 * y0; r21 += v2 * y1; r30 += v3 * y0; r31 += v3 * y1;
      }
      const m0 = metric == 0 ? load<f32>(xn + (<usize>j << 6)) : 0;
      const m1 = metric == 0 ? load<f32>(xn + (<usize>j << 6), 64) : 0;
      const oj = o0 + (<usize>j << 2);
      store<f32>(oj, screenValue(metric, n0, m0, r00)); store<f32>(oj, screenValue(metric, n0, m1, r01), 4);
      store<f32>(oj + rowBytes, screenValue(metric, n1, m0, r10)); store<f32>(oj + rowBytes, screenValue(metric, n1, m1, r11), 4);
      store<f32>(oj + 2 * rowBytes, screenValue(metric, n2, m0, r20)); store<f32>(oj + 2 * rowBytes, screenValue(metric, n2, m1, r21), 4);
      store<f32>(oj + 3 * rowBytes, screenValue(metric, n3, m0, r30)); store<f32>(oj + 3 * rowBytes, screenValue(metric, n3, m1, r31), 4);
    }
    for (; j < nx; j++) {
      const x = xs + <usize>j * xStride;
      const m = metric == 0 ? load<f32>(xn + (<usize>j << 6)) : 0;
      const oj = o0 + (<usize>j << 2);
      store<f32>(oj, screenValue(metric, n0, m, screenDotPlan(q0, x, ord, ordEnd, end4, end)));
      store<f32>(oj + rowBytes, screenValue(metric, n1, m, screenDotPlan(q1, x, ord, ordEnd, end4, end)));
      store<f32>(oj + 2 * rowBytes, screenValue(metric, n2, m, screenDotPlan(q2, x, ord, ordEnd, end4, end)));
      store<f32>(oj + 3 * rowBytes, screenValue(metric, n3, m, screenDotPlan(q3, x, ord, ordEnd, end4, end)));
    }
  }
  for (; i < nq; i++) {
    const q = qs + <usize>i * qStride;
    const n = metric == 0 ? load<f32>(qn + (<usize>i << 6)) : 0;
    const oi = out + <usize>i * rowBytes;
    for (let j = 0; j < nx; j++) {
      const m = metric == 0 ? load<f32>(xn + (<usize>j << 6)) : 0;
      store<f32>(oi + (<usize>j << 2), screenValue(metric, n, m, screenDotPlan(q, xs + <usize>j * xStride, ord, ordEnd, end4, end)));
    }
  }
}

/** a·b over the plan's chunks (table [ord, ordEnd)) with `madd`, then the components past the last chunk. */
@inline function screenDotPlan(a: usize, b: usize, ord: usize, ordEnd: usize, end4: usize, end: usize): f32 {
  let acc = f32x4.splat(0);
  for (let p = ord; p < ordEnd; p += 4) {
    const o = <usize>load<u32>(p);
    acc = madd(v128.load(a + o), v128.load(b + o), acc);
  }
  let r = hsum(acc);
  for (let o = end4; o < end; o += 4) r += load<f32>(a + o) * load<f32>(b + o);
  return r;
}

/**
 * The values of a screened block worth a look (the flat index's batch search, src/indexes/flat/flat-jobs.ts):
 * `vals` holds `cnt` rows × `nx` columns of screened values; those ≤ their row's admission limit
 * (`lims`: one f32 per row, never below the true limit) are written to `dst` as (row, column,
 * value) — u32, u32, f32 — in row order, columns ascending, and their count returned. Four columns
 * at a time: most values fail.
 */
export function blockCandidates(vals: usize, cnt: i32, nx: i32, lims: usize, dst: usize): i32 {
  let m = 0;
  for (let i = 0; i < cnt; i++) {
    const li = load<f32>(lims + (<usize>i << 2));
    const liv = f32x4.splat(li);
    const o = vals + (<usize>i * <usize>nx << 2);
    let j = 0;
    for (; j + 4 <= nx; j += 4) {
      if (!v128.any_true(f32x4.le(v128.load(o + (<usize>j << 2)), liv))) continue;
      for (let t = j; t < j + 4; t++) {
        const v = load<f32>(o + (<usize>t << 2));
        if (v <= li) {
          const p = dst + <usize>m * 12;
          store<u32>(p, i); store<u32>(p, t, 4); store<f32>(p, v, 8);
          m++;
        }
      }
    }
    for (; j < nx; j++) {
      const v = load<f32>(o + (<usize>j << 2));
      if (v <= li) {
        const p = dst + <usize>m * 12;
        store<u32>(p, i); store<u32>(p, j, 4); store<f32>(p, v, 8);
        m++;
      }
    }
  }
  return m;
}


// ---------------------------------------------------------------------------------------------
// Pair screens: the bookkeeping of the screened all-pairs scan (src/indexes/parallel/scan-jobs.ts)
// in linear memory, so that no JavaScript runs per pair. Per participant, a region at `st` (16-byte
// aligned, `pairRegionBytes` long) holds, for each of the n points:
//   [0, 4n)            i32  the heap's size
//   [4n, 8n)           i32  the candidate list's length
//   [8n, 16n)          f64  the admission limit: the k-th smallest screened value + slack (+∞ below k)
//   [16n, 24n)         f64  the slack (`screenSlack`, filled by the caller)
//   [24n, 24n + 4nk)   f32  a max-heap of the k smallest screened values offered
//   then n × C u32 candidate numbers and n × C f32 screened values, C per point.
// The same rules as the JavaScript `Screen` (src/indexes/flat/screen.ts): a value ≤ the limit is
// appended, then the heap updated; a full list drops the values above the current limit (the limit
// only falls, so they can no longer count); a list still full reports overflow, and the caller
// scans without the screen.

@inline function pairHeapAt(n: i32): usize { return <usize>n * 24; }
@inline function pairIdsAt(n: i32, k: i32): usize { return <usize>n * 24 + <usize>n * <usize>k * 4; }
@inline function pairValsAt(n: i32, k: i32, cap: i32): usize { return pairIdsAt(n, k) + <usize>n * <usize>cap * 4; }

/** Bytes of a participant's pair-screen region for n points, k kept, `cap` candidates a point. */
export function pairRegionBytes(n: i32, k: i32, cap: i32): usize {
  return pairValsAt(n, k, cap) + <usize>n * <usize>cap * 4;
}

/** Empties every point's screen (the slack is the caller's). */
export function pairScreensReset(st: usize, n: i32, k: i32): void {
  memory.fill(st, 0, <usize>n * 8);
  const lim: f64 = k == 0 ? -Infinity : Infinity;
  for (let p = 0; p < n; p++) store<f64>(st + <usize>n * 8 + (<usize>p << 3), lim);
}

/** The smallest float32 ≥ v (screen.ts `f32Up`). */
@inline function f32UpOf(v: f64): f32 {
  const f = <f32>v;
  if (<f64>f >= v || !isFinite(v)) return f;
  let bits = reinterpret<u32>(f);
  if (f > 0) bits += 1;
  else if (f < 0) bits -= 1;
  const r = reinterpret<f32>(bits);
  return r == 0 ? reinterpret<f32>(<u32>1) : r;
}

/** Adds v to the f32 max-heap at h holding `size` values (room for one more). */
@inline function maxHeapPush(h: usize, size: i32, v: f32): void {
  let i = size;
  while (i > 0) {
    const par = (i - 1) >> 1;
    const hp = load<f32>(h + (<usize>par << 2));
    if (hp >= v) break;
    store<f32>(h + (<usize>i << 2), hp);
    i = par;
  }
  store<f32>(h + (<usize>i << 2), v);
}

/** Replaces the top of the full f32 max-heap at h (k values) with v (smaller than it) and sifts it down. */
@inline function maxHeapReplaceTop(h: usize, k: i32, v: f32): void {
  let i = 0;
  for (;;) {
    let c = 2 * i + 1;
    if (c >= k) break;
    if (c + 1 < k && load<f32>(h + (<usize>(c + 1) << 2)) > load<f32>(h + (<usize>c << 2))) c++;
    const hc = load<f32>(h + (<usize>c << 2));
    if (hc <= v) break;
    store<f32>(h + (<usize>i << 2), hc);
    i = c;
  }
  store<f32>(h + (<usize>i << 2), v);
}

/** Offers (p ← other, v) to point p's screen; false when its list overflows. `adm`, `prune`: the shared f32 limits. */
@inline function pairOffer(st: usize, n: i32, k: i32, cap: i32, p: i32, other: i32, v: f32, adm: usize, prune: usize): bool {
  const limP = st + <usize>n * 8 + (<usize>p << 3);
  let limit = load<f64>(limP);
  const admP = adm + (<usize>p << 2);
  if (!(<f64>v <= limit) || !(v <= load<f32>(admP))) return true;
  const cntP = st + <usize>n * 4 + (<usize>p << 2);
  let c = load<i32>(cntP);
  const ids = st + pairIdsAt(n, k) + <usize>p * <usize>cap * 4;
  const vals = st + pairValsAt(n, k, cap) + <usize>p * <usize>cap * 4;
  if (c == cap) {
    let m = 0;
    for (let t = 0; t < c; t++) {
      const w = load<f32>(vals + (<usize>t << 2));
      if (<f64>w <= limit) {
        store<u32>(ids + (<usize>m << 2), load<u32>(ids + (<usize>t << 2)));
        store<f32>(vals + (<usize>m << 2), w);
        m++;
      }
    }
    c = m;
    if (c == cap) return false;
  }
  store<u32>(ids + (<usize>c << 2), other);
  store<f32>(vals + (<usize>c << 2), v);
  store<i32>(cntP, c + 1);
  const hsP = st + (<usize>p << 2);
  const hs = load<i32>(hsP);
  const h = st + pairHeapAt(n) + <usize>p * <usize>k * 4;
  const slack = load<f64>(st + <usize>n * 16 + (<usize>p << 3));
  if (hs < k) {
    maxHeapPush(h, hs, v);
    store<i32>(hsP, hs + 1);
    if (hs + 1 < k) return true;
  } else {
    if (v >= load<f32>(h)) return true;
    maxHeapReplaceTop(h, k, v);
  }
  limit = <f64>load<f32>(h) + slack;
  store<f64>(limP, limit);
  const a = f32UpOf(limit);
  if (a < load<f32>(admP)) {
    store<f32>(admP, a);
    store<f32>(prune + (<usize>p << 2), f32UpOf(limit + slack));
  }
  return true;
}

/**
 * A screened all-pairs block's values (`vals`: `cnt` rows, points q0 + i, × `nx` columns, points
 * c0 + c) offered to the screens of the participant at `st`: each pair with column > row whose
 * value is within the row's or the column's shared admission limit (`adm`, n f32) goes to the row's
 * screen, then to the column's, in row order, columns ascending. Returns 0, or 1 when a list overflowed.
 */
export function pairScreensOffer(vals: usize, cnt: i32, nx: i32, q0: i32, c0: i32, st: usize, n: i32, k: i32, cap: i32,
  adm: usize, prune: usize): i32 {
  const c1 = c0 + nx;
  for (let i = 0; i < cnt; i++) {
    const row = q0 + i;
    const o = vals + (<usize>i * <usize>nx << 2) - (<usize>c0 << 2);
    let j = max(row + 1, c0);
    // Four at a time: the lanes within either limit (a bitmask; usually none), each then offered in
    // column order with the limits as they are by then.
    for (; j + 4 <= c1; j += 4) {
      const d4 = v128.load(o + (<usize>j << 2));
      const li = f32x4.splat(load<f32>(adm + (<usize>row << 2)));
      let mask = i32x4.bitmask(v128.or(f32x4.le(d4, li), f32x4.le(d4, v128.load(adm + (<usize>j << 2)))));
      while (mask != 0) {
        const t = j + ctz(mask);
        mask &= mask - 1;
        const v = load<f32>(o + (<usize>t << 2));
        if (!(v <= load<f32>(adm + (<usize>row << 2))) && !(v <= load<f32>(adm + (<usize>t << 2)))) continue;
        if (!pairOffer(st, n, k, cap, row, t, v, adm, prune)) return 1;
        if (!pairOffer(st, n, k, cap, t, row, v, adm, prune)) return 1;
      }
    }
    for (; j < c1; j++) {
      const v = load<f32>(o + (<usize>j << 2));
      if (!(v <= load<f32>(adm + (<usize>row << 2))) && !(v <= load<f32>(adm + (<usize>j << 2)))) continue;
      if (!pairOffer(st, n, k, cap, row, j, v, adm, prune)) return 1;
      if (!pairOffer(st, n, k, cap, j, row, v, adm, prune)) return 1;
    }
  }
  return 0;
}

/** Appends to `tmp` (from entry m) point p's candidates (region at `st`) whose values are ≤ lim, in list order; returns the new count. */
@inline function listWithin(st: usize, n: i32, k: i32, cap: i32, p: i32, lim: f64, tmp: usize, m: i32): i32 {
  const c = load<i32>(st + <usize>n * 4 + (<usize>p << 2));
  const ids = st + pairIdsAt(n, k) + <usize>p * <usize>cap * 4;
  const vals = st + pairValsAt(n, k, cap) + <usize>p * <usize>cap * 4;
  for (let t = 0; t < c; t++) {
    if (<f64>load<f32>(vals + (<usize>t << 2)) <= lim) {
      store<u32>(tmp + (<usize>m << 2), load<u32>(ids + (<usize>t << 2)));
      m++;
    }
  }
  return m;
}

/** Puts (d, id) into the list at `oi` / `od`, sorted by (distance, id), from slot `at` down (`at`: the first free slot, or the last when full). */
@inline function insertSorted(oi: usize, od: usize, at: i32, d: f32, id: u32): void {
  while (at > 0) {
    const pd = load<f32>(od + (<usize>(at - 1) << 2));
    const pi = load<u32>(oi + (<usize>(at - 1) << 2));
    if (pd < d || (pd == d && pi < id)) break;
    store<f32>(od + (<usize>at << 2), pd);
    store<u32>(oi + (<usize>at << 2), pi);
    at--;
  }
  store<f32>(od + (<usize>at << 2), d);
  store<u32>(oi + (<usize>at << 2), id);
}

/**
 * Points [p0, p1)'s k nearest from the participants' screens (`regions`: `parts` u32 region
 * offsets): the union's k-th smallest screened value τ̃ and the point's slack (region 0's) give the
 * candidates that can be in the top k (screen.ts); their exact distances (`distList` from the
 * points at `pts`, `stride` bytes apart) and the k smallest by (distance, number) are written,
 * nearest first, to `outIdx` (i32) / `outDist` (f32), rows of k, padded with −1 / +∞. Scratch:
 * `tmp` room for parts × cap u32 and as many f32, and k f32 at `kth`.
 */
export function pairScreensMerge(regions: usize, parts: i32, n: i32, k: i32, cap: i32, p0: i32, p1: i32, metric: i32, pts: usize, stride: usize,
  dim: i32, outIdx: usize, outDist: usize, tmp: usize, kth: usize): void {
  const tmpD = tmp + <usize>parts * <usize>cap * 4;
  const st0 = <usize>load<u32>(regions);
  for (let p = p0; p < p1; p++) {
    // τ̃: a max-heap of the k smallest values over every participant's list.
    let hs = 0;
    for (let r = 0; r < parts; r++) {
      const st = <usize>load<u32>(regions + (<usize>r << 2));
      const c = load<i32>(st + <usize>n * 4 + (<usize>p << 2));
      const vals = st + pairValsAt(n, k, cap) + <usize>p * <usize>cap * 4;
      for (let t = 0; t < c; t++) {
        const v = load<f32>(vals + (<usize>t << 2));
        if (hs < k) maxHeapPush(kth, hs++, v);
        else if (v < load<f32>(kth)) maxHeapReplaceTop(kth, k, v);
      }
    }
    const lim: f64 = hs < k ? Infinity : <f64>load<f32>(kth) + load<f64>(st0 + <usize>n * 16 + (<usize>p << 3));
    let m = 0;
    for (let r = 0; r < parts; r++) m = listWithin(<usize>load<u32>(regions + (<usize>r << 2)), n, k, cap, p, lim, tmp, m);
    distList(metric, pts + <usize>p * stride, pts, stride, tmp, m, dim, tmpD);
    // The k smallest by (distance, number), kept sorted by insertion (k is small).
    const oi = outIdx + <usize>p * <usize>k * 4;
    const od = outDist + <usize>p * <usize>k * 4;
    let got = 0;
    for (let t = 0; t < m; t++) {
      const d = load<f32>(tmpD + (<usize>t << 2));
      const id = load<u32>(tmp + (<usize>t << 2));
      if (got == k) {
        const wd = load<f32>(od + (<usize>(k - 1) << 2));
        if (!(d < wd || (d == wd && id < load<u32>(oi + (<usize>(k - 1) << 2))))) continue;
      }
      insertSorted(oi, od, got < k ? got++ : k - 1, d, id);
    }
    for (let t = got; t < k; t++) {
      store<i32>(oi + (<usize>t << 2), -1);
      store<f32>(od + (<usize>t << 2), Infinity);
    }
  }
}

/**
 * The flat index's screened batch search with its screens in linear memory
 * (src/indexes/flat/flat-jobs.ts): a record block's values (`vals`: `nq` query rows × `nx` records
 * from slot x0) offered to the query block's screens (a pair-screen region of `nQ` points at `st`,
 * k kept, `cap` candidates each): each value within its query's admission limit (`adm`, f32 per
 * query) and of an allowed record (`allowed`: a byte a slot, 0 = left out; 0: every record), in
 * row order, records ascending. Returns 0, or 1 when a list overflowed.
 */
export function queryScreensOffer(vals: usize, nq: i32, nx: i32, x0: i32, st: usize, nQ: i32, k: i32, cap: i32, adm: usize, prune: usize,
  allowed: usize): i32 {
  for (let i = 0; i < nq; i++) {
    const o = vals + (<usize>i * <usize>nx << 2);
    const admI = adm + (<usize>i << 2);
    let j = 0;
    for (; j + 4 <= nx; j += 4) {
      let mask = i32x4.bitmask(f32x4.le(v128.load(o + (<usize>j << 2)), f32x4.splat(load<f32>(admI))));
      while (mask != 0) {
        const t = j + ctz(mask);
        mask &= mask - 1;
        const v = load<f32>(o + (<usize>t << 2));
        if (!(v <= load<f32>(admI))) continue;
        if (allowed != 0 && load<u8>(allowed + <usize>(x0 + t)) == 0) continue;
        if (!pairOffer(st, nQ, k, cap, i, x0 + t, v, adm, prune)) return 1;
      }
    }
    for (; j < nx; j++) {
      const v = load<f32>(o + (<usize>j << 2));
      if (!(v <= load<f32>(admI))) continue;
      if (allowed != 0 && load<u8>(allowed + <usize>(x0 + j)) == 0) continue;
      if (!pairOffer(st, nQ, k, cap, i, x0 + j, v, adm, prune)) return 1;
    }
  }
  return 0;
}

/**
 * The re-rank of a query block's screens (`st`, as `queryScreensOffer` left them): for each of the
 * `nq` queries (at `qs`, `qStride` apart), the candidates within its final limit (the k-th smallest
 * screened value + slack), in the order offered, get their exact distance (`distList` against the
 * records at `base`) and are offered to a top-`keep` list under the plain scan's rule: a candidate
 * enters a full list only when its distance is below the list's largest, and then replaces the
 * largest by (distance, id), ids from `table` (u32 a slot). Written: query i's ids (u32) and
 * distances (f32), nearest first by (distance, id), at i × keep of `outIds` / `outDists`, and its
 * count at `outCounts` (u32). Scratch: `tmp`, room for `cap` u32 and `cap` f32.
 */
export function queryScreensRerank(st: usize, nQ: i32, nq: i32, k: i32, cap: i32, metric: i32, qs: usize, qStride: usize, base: usize, stride: usize,
  dim: i32, table: usize, keep: i32, outIds: usize, outDists: usize, outCounts: usize, tmp: usize): void {
  const tmpD = tmp + <usize>cap * 4;
  for (let i = 0; i < nq; i++) {
    const hs = load<i32>(st + (<usize>i << 2));
    const h = st + pairHeapAt(nQ) + <usize>i * <usize>k * 4;
    const lim: f64 = hs < k ? Infinity : <f64>load<f32>(h) + load<f64>(st + <usize>nQ * 16 + (<usize>i << 3));
    const m = listWithin(st, nQ, k, cap, i, lim, tmp, 0);
    distList(metric, qs + <usize>i * qStride, base, stride, tmp, m, dim, tmpD);
    const oi = outIds + <usize>i * <usize>keep * 4;
    const od = outDists + <usize>i * <usize>keep * 4;
    let got = 0;
    for (let t = 0; t < m; t++) {
      const d = load<f32>(tmpD + (<usize>t << 2));
      const id = load<u32>(table + (<usize>load<u32>(tmp + (<usize>t << 2)) << 2));
      if (got == keep && !(d < load<f32>(od + (<usize>(keep - 1) << 2)))) continue;
      insertSorted(oi, od, got < keep ? got++ : keep - 1, d, id);
    }
    store<u32>(outCounts + (<usize>i << 2), got);
  }
}

/**
 * Per-component sums and sums of squares (f64, `dim` each at `out` and `out + 8·dim`) of `m` rows
 * spread evenly over `n` rows at `ptr` (row ⌊s·n / m⌋ for s < m), `stride` bytes apart: the screen
 * plan's variances (src/indexes/flat/screen.ts `screenPlan`).
 */
export function columnMoments(ptr: usize, n: i32, m: i32, stride: usize, dim: i32, out: usize): void {
  const sq = out + (<usize>dim << 3);
  memory.fill(out, 0, <usize>dim << 4);
  for (let s = 0; s < m; s++) {
    const row = <i32>((<i64>s * <i64>n) / <i64>m);
    const x = ptr + <usize>row * stride;
    for (let d = 0; d < dim; d++) {
      const v = <f64>load<f32>(x + (<usize>d << 2));
      const o = <usize>d << 3;
      store<f64>(out + o, load<f64>(out + o) + v);
      store<f64>(sq + o, load<f64>(sq + o) + v * v);
    }
  }
}
