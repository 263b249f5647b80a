/**
 * Micro-benchmark of the distance kernels: unrolled JavaScript against the WebAssembly SIMD
 * kernels (src/vector/wasm/assembly/kernels.ts), one distance at a time and through the gather
 * and blocked kernels, in cache (4,000 vectors) and out of cache (vectors spread over ~100 MB).
 * `npm run bench:kernels`. Prints ns per distance and the JS ÷ WebAssembly ratio.
 */
import { Arena } from '../src/vector/arena.js';
import { Random } from '../src/vector/random.js';

function jsL2(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = 0;
  for (; i + 4 <= dim; i += 4) {
    const d0 = a[ao + i]! - b[bo + i]!;
    const d1 = a[ao + i + 1]! - b[bo + i + 1]!;
    const d2 = a[ao + i + 2]! - b[bo + i + 2]!;
    const d3 = a[ao + i + 3]! - b[bo + i + 3]!;
    s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3;
  }
  for (; i < dim; i++) { const d = a[ao + i]! - b[bo + i]!; s0 += d * d; }
  return s0 + s1 + s2 + s3;
}

function jsDot(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = 0;
  for (; i + 4 <= dim; i += 4) {
    s0 += a[ao + i]! * b[bo + i]!; s1 += a[ao + i + 1]! * b[bo + i + 1]!;
    s2 += a[ao + i + 2]! * b[bo + i + 2]!; s3 += a[ao + i + 3]! * b[bo + i + 3]!;
  }
  for (; i < dim; i++) s0 += a[ao + i]! * b[bo + i]!;
  return s0 + s1 + s2 + s3;
}

function time(fn: () => number, reps: number): number {
  let best = Infinity;
  let sink = 0;
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    sink += fn();
    best = Math.min(best, (performance.now() - t) / reps);
  }
  if (sink === 42.4242) console.log('');
  return best * 1e6; // ns
}

const rows: string[][] = [['dim', 'vectors', 'metric', 'JS ns', 'wasm ns', 'wasm gather ns', 'JS ÷ wasm']];
for (const dim of [128, 784]) {
  for (const n of [4000, Math.floor(100e6 / (dim * 4))]) {
    const arena = new Arena();
    const base = arena.alloc(n * dim * 4);
    const rng = new Random(1);
    const f32 = arena.f32;
    for (let i = 0; i < n * dim; i++) f32[(base >> 2) + i] = rng.gaussian();
    const data = f32.slice(base >> 2, (base >> 2) + n * dim); // plain JS copy for the JS kernel
    const q = arena.alloc(dim * 4);
    f32.set(data.subarray(0, dim), q >> 2);
    const reps = Math.floor(4e6 / dim);
    const order = new Uint32Array(reps).map(() => rng.int(n));
    const list = arena.alloc(32 * 4);
    const out = arena.alloc(32 * 4);
    for (const metric of ['l2', 'ip'] as const) {
      const code = metric === 'l2' ? 0 : 1;
      const js = time(() => {
        let s = 0;
        const fn = metric === 'l2' ? jsL2 : jsDot;
        for (let r = 0; r < reps; r++) s += fn(data, 0, data, order[r]! * dim, dim);
        return s;
      }, reps);
      const wasm = time(() => {
        let s = 0;
        for (let r = 0; r < reps; r++) s += arena.k.dist(code, q, base + order[r]! * dim * 4, dim);
        return s;
      }, reps);
      const gather = time(() => {
        for (let r = 0; r + 32 <= reps; r += 32) {
          arena.u32.set(order.subarray(r, r + 32), list >> 2);
          arena.k.distGather(code, q, base, dim * 4, list, 32, dim, out, 512);
        }
        return arena.f32[out >> 2]!;
      }, reps);
      rows.push([String(dim), String(n), metric, js.toFixed(1), wasm.toFixed(1), gather.toFixed(1), (js / wasm).toFixed(2) + '×']);
    }
  }
}

// Blocked kernel throughput (queries × vectors), as used by the flat index's batched search.
const blockRows: string[][] = [['dim', 'queries × vectors', 'GFLOP/s (blocked)', 'GFLOP/s (one by one)']];
for (const dim of [128, 784]) {
  const arena = new Arena();
  const nq = 64;
  const nx = Math.floor((256 * 1024) / (dim * 4));
  const qs = arena.alloc(nq * dim * 4);
  const xs = arena.alloc(nx * dim * 4);
  const out = arena.alloc(nq * nx * 4);
  const rng = new Random(2);
  for (let i = 0; i < nq * dim; i++) arena.f32[(qs >> 2) + i] = rng.gaussian();
  for (let i = 0; i < nx * dim; i++) arena.f32[(xs >> 2) + i] = rng.gaussian();
  const flops = 3 * nq * nx * dim;
  const blocked = time(() => {
    for (let r = 0; r < 20; r++) arena.k.distBlock(0, qs, nq, dim * 4, xs, nx, dim * 4, dim, out);
    return 0;
  }, 20);
  const single = time(() => {
    for (let r = 0; r < 20; r++) for (let i = 0; i < nq; i++) arena.k.distRange(0, qs + i * dim * 4, xs, dim * 4, nx, dim, out);
    return 0;
  }, 20);
  blockRows.push([String(dim), `${nq} × ${nx}`, (flops / blocked).toFixed(1), (flops / single).toFixed(1)]);
}

const print = (t: string[][]): void => {
  const w = t[0]!.map((_, c) => Math.max(...t.map((r) => r[c]!.length)));
  for (const r of t) console.log(r.map((x, c) => x.padStart(w[c]!)).join('  '));
};
console.log('Distance kernels: ns per distance (best of 3), one thread');
print(rows);
console.log('\nBlocked kernel (squared L2)');
print(blockRows);
