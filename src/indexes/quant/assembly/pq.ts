// IVF-PQ kernels (src/indexes/quant/pq.ts), compiled by AssemblyScript to WebAssembly with
// 128-bit SIMD (`npm run build:wasm`, see scripts/build-wasm.mjs). AssemblyScript, not
// TypeScript: `usize` is a byte address in the PQ module's own linear memory.
//
// Codebooks are stored transposed, sub-space by sub-space and coordinate by coordinate:
// cbT[(j × dsub + t) × 256 + c] is coordinate t of centroid c of sub-space j, so four (or
// sixteen) centroids are computed side by side in SIMD lanes. Tables are m × 256 float32:
// table[j × 256 + c].

/**
 * table[j × 256 + c] = scale · Σ_t q[j × dsub + t] · cbT[(j × dsub + t) × 256 + c] (+ add[j × 256 + c]
 * when `add` is not 0): the inner-product table of a query (scale −1 for ip, −2 for IVF-PQ's l2;
 * with add = ‖c‖² and scale −2 the squared-L2 table minus ‖q‖², used by encoding).
 */
export function innerTable(q: usize, cbT: usize, m: i32, dsub: i32, table: usize, scale: f32, add: usize): void {
  const s = f32x4.splat(scale);
  for (let j = 0; j < m; j++) {
    const qj = q + <usize>(j * dsub) * 4;
    const cj = cbT + <usize>(j * dsub) * 1024;
    const tj = table + <usize>j * 1024;
    for (let c: usize = 0; c < 1024; c += 64) {
      let a0 = f32x4.splat(0);
      let a1 = f32x4.splat(0);
      let a2 = f32x4.splat(0);
      let a3 = f32x4.splat(0);
      for (let t = 0; t < dsub; t++) {
        const qv = f32x4.splat(load<f32>(qj + <usize>t * 4));
        const p = cj + <usize>t * 1024 + c;
        a0 = f32x4.add(a0, f32x4.mul(qv, v128.load(p)));
        a1 = f32x4.add(a1, f32x4.mul(qv, v128.load(p, 16)));
        a2 = f32x4.add(a2, f32x4.mul(qv, v128.load(p, 32)));
        a3 = f32x4.add(a3, f32x4.mul(qv, v128.load(p, 48)));
      }
      a0 = f32x4.mul(a0, s);
      a1 = f32x4.mul(a1, s);
      a2 = f32x4.mul(a2, s);
      a3 = f32x4.mul(a3, s);
      if (add != 0) {
        const ap = add + <usize>j * 1024 + c;
        a0 = f32x4.add(a0, v128.load(ap));
        a1 = f32x4.add(a1, v128.load(ap, 16));
        a2 = f32x4.add(a2, v128.load(ap, 32));
        a3 = f32x4.add(a3, v128.load(ap, 48));
      }
      v128.store(tj + c, a0);
      v128.store(tj + c, a1, 16);
      v128.store(tj + c, a2, 32);
      v128.store(tj + c, a3, 48);
    }
  }
}

/** out[i] = a[i] + b[i] for n floats (n a multiple of 4). */
export function addTables(a: usize, b: usize, out: usize, n: i32): void {
  const end = <usize>n * 4;
  for (let i: usize = 0; i < end; i += 16) v128.store(out + i, f32x4.add(v128.load(a + i), v128.load(b + i)));
}

/**
 * ADC scan: out[i] = bias + Σ_j table[j × 256 + codes[i × m + j]] for n codes of m bytes, summed
 * in float32 in order j = 0 … m − 1 (as Faiss's generic scan).
 */
export function scan(codes: usize, n: i32, m: i32, table: usize, bias: f32, out: usize): void {
  let p = codes;
  if ((m & 3) == 0) {
    for (let i = 0; i < n; i++) {
      let d0: f32 = 0;
      let d1: f32 = 0;
      let d2: f32 = 0;
      let d3: f32 = 0;
      let t = table;
      for (let j = 0; j < m; j += 4) {
        const w = load<u32>(p);
        d0 += load<f32>(t + ((<usize>(w & 255)) << 2));
        d1 += load<f32>(t + 1024 + ((<usize>((w >> 8) & 255)) << 2));
        d2 += load<f32>(t + 2048 + ((<usize>((w >> 16) & 255)) << 2));
        d3 += load<f32>(t + 3072 + ((<usize>(w >> 24)) << 2));
        t += 4096;
        p += 4;
      }
      store<f32>(out + (<usize>i << 2), bias + ((d0 + d1) + (d2 + d3)));
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    let d: f32 = 0;
    let t = table;
    for (let j = 0; j < m; j++) {
      d += load<f32>(t + ((<usize>load<u8>(p)) << 2));
      t += 1024;
      p += 1;
    }
    store<f32>(out + (<usize>i << 2), bias + d);
  }
}

/**
 * Encodes n vectors of m × dsub floats at x: per sub-space the centroid minimising ‖c‖² − 2 x·c
 * (the smaller number on ties). `table` is m × 256 floats of scratch, `norms` the ‖c‖² table.
 */
export function encode(x: usize, n: i32, cbT: usize, norms: usize, m: i32, dsub: i32, table: usize, out: usize): void {
  const dim = m * dsub;
  for (let i = 0; i < n; i++) {
    innerTable(x + <usize>(i * dim) * 4, cbT, m, dsub, table, -2, norms);
    for (let j = 0; j < m; j++) {
      const tj = table + <usize>j * 1024;
      let best = load<f32>(tj);
      let arg = 0;
      for (let c = 1; c < 256; c++) {
        const v = load<f32>(tj + (<usize>c << 2));
        if (v < best) {
          best = v;
          arg = c;
        }
      }
      store<u8>(out + <usize>(i * m + j), <u8>arg);
    }
  }
}
