// The SIMD helpers every AssemblyScript kernel shares, written once: the distance kernels
// (kernels.ts beside this file) and the Word2Vec training kernel
// (src/encoders/word2vec/assembly/w2v.ts) import them, and scripts/build-wasm.mjs rebuilds both
// when this file changes. AssemblyScript, not TypeScript: `usize` is a byte address in the
// importing module's linear memory, `v128` a 128-bit SIMD register. Everything here is @inline, so
// each kernel gets its own copy of the instructions (no call per dot product) and no export.
//
// The order of the additions is part of the contract: both kernels' results are tested bit for bit
// (the distance kernels against their fixtures, Word2Vec's seeded single-thread training against a
// second run), so change an accumulation order here only with both tests and both benchmarks
// (`npm run bench:kernels`, `npm run bench:word2vec -- --quick`).

/** The sum of the four lanes, in lane order ((l0 + l1) + l2) + l3. */
@inline export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) +
    f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/**
 * a·b over `dim` float32 components. Four independent accumulators (16 floats a step): the
 * additions of one chain wait on each other, four chains overlap (docs/kernels.md). Then one
 * vector of 4 at a time, the horizontal sum of (s0 + s1) + (s2 + s3), and the scalar tail.
 */
@inline export function dotf32(a: usize, b: usize, dim: i32): f32 {
  let s0 = f32x4.splat(0);
  let s1 = f32x4.splat(0);
  let s2 = f32x4.splat(0);
  let s3 = f32x4.splat(0);
  const end16 = <usize>(dim & ~15) << 2;
  const end4 = <usize>(dim & ~3) << 2;
  const end = <usize>dim << 2;
  let o: usize = 0;
  for (; o < end16; o += 64) {
    s0 = f32x4.add(s0, f32x4.mul(v128.load(a + o), v128.load(b + o)));
    s1 = f32x4.add(s1, f32x4.mul(v128.load(a + o, 16), v128.load(b + o, 16)));
    s2 = f32x4.add(s2, f32x4.mul(v128.load(a + o, 32), v128.load(b + o, 32)));
    s3 = f32x4.add(s3, f32x4.mul(v128.load(a + o, 48), v128.load(b + o, 48)));
  }
  for (; o < end4; o += 16) s0 = f32x4.add(s0, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  let s = hsum(f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)));
  for (; o < end; o += 4) s += load<f32>(a + o) * load<f32>(b + o);
  return s;
}

/** Squared Euclidean distance |a − b|² over `dim` float32 components, accumulated as `dotf32`. */
@inline export function l2sqf32(a: usize, b: usize, dim: i32): f32 {
  let s0 = f32x4.splat(0);
  let s1 = f32x4.splat(0);
  let s2 = f32x4.splat(0);
  let s3 = f32x4.splat(0);
  const end16 = <usize>(dim & ~15) << 2;
  const end4 = <usize>(dim & ~3) << 2;
  const end = <usize>dim << 2;
  let o: usize = 0;
  for (; o < end16; o += 64) {
    const d0 = f32x4.sub(v128.load(a + o), v128.load(b + o));
    const d1 = f32x4.sub(v128.load(a + o, 16), v128.load(b + o, 16));
    const d2 = f32x4.sub(v128.load(a + o, 32), v128.load(b + o, 32));
    const d3 = f32x4.sub(v128.load(a + o, 48), v128.load(b + o, 48));
    s0 = f32x4.add(s0, f32x4.mul(d0, d0));
    s1 = f32x4.add(s1, f32x4.mul(d1, d1));
    s2 = f32x4.add(s2, f32x4.mul(d2, d2));
    s3 = f32x4.add(s3, f32x4.mul(d3, d3));
  }
  for (; o < end4; o += 16) {
    const d = f32x4.sub(v128.load(a + o), v128.load(b + o));
    s0 = f32x4.add(s0, f32x4.mul(d, d));
  }
  let s = hsum(f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)));
  for (; o < end; o += 4) {
    const d = load<f32>(a + o) - load<f32>(b + o);
    s += d * d;
  }
  return s;
}
