import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Arena } from '../../vector/arena.js';
import { Random } from '../../vector/random.js';

/** The code kernels (metric codes 3, 4, 5) against scalar references, every dim 1…70 and 784, 1024. */
const DIMS = [...Array.from({ length: 70 }, (_, i) => i + 1), 784, 1024];
const i8Bytes = (dim: number): number => Math.ceil(dim / 16) * 16;
const bitBytes = (dim: number): number => Math.ceil(dim / 128) * 16;

function randomI8(rng: Random, dim: number, bytes: number): Int8Array {
  const c = new Int8Array(bytes); // padding stays 0
  for (let i = 0; i < dim; i++) c[i] = rng.int(255) - 127;
  return c;
}

test('int8 l2 and ip kernels equal the integer sums exactly (dims 1…70, 784, 1024, extreme values)', () => {
  const rng = new Random(5);
  const arena = new Arena();
  for (const dim of DIMS) {
    const bytes = i8Bytes(dim);
    for (const extreme of [false, true]) {
      const a = randomI8(rng, dim, bytes);
      const b = randomI8(rng, dim, bytes);
      if (extreme) for (let i = 0; i < dim; i++) { a[i] = i % 2 === 0 ? 127 : -127; b[i] = -a[i]!; }
      const pa = arena.alloc(bytes);
      const pb = arena.alloc(bytes);
      arena.u8.set(new Uint8Array(a.buffer), pa);
      arena.u8.set(new Uint8Array(b.buffer), pb);
      let l2 = 0;
      let ip = 0;
      for (let i = 0; i < dim; i++) { l2 += (a[i]! - b[i]!) ** 2; ip += a[i]! * b[i]!; }
      assert.equal(arena.k.dist(3, pa, pb, dim), Math.fround(l2), `l2 dim ${dim}`);
      assert.equal(arena.k.dist(4, pa, pb, dim), Math.fround(-ip), `ip dim ${dim}`);
      arena.free(pb);
      arena.free(pa);
    }
  }
});

test('binary kernel equals the Hamming distance (dims 1…70, 784, 1024)', () => {
  const rng = new Random(6);
  const arena = new Arena();
  for (const dim of DIMS) {
    const bytes = bitBytes(dim);
    const a = new Uint8Array(bytes);
    const b = new Uint8Array(bytes);
    let want = 0;
    for (let i = 0; i < dim; i++) {
      const x = rng.int(2);
      const y = rng.int(2);
      a[i >> 3]! |= x << (i & 7);
      b[i >> 3]! |= y << (i & 7);
      if (x !== y) want++;
    }
    const pa = arena.alloc(bytes);
    const pb = arena.alloc(bytes);
    arena.u8.set(a, pa);
    arena.u8.set(b, pb);
    assert.equal(arena.k.dist(5, pa, pb, dim), want, `hamming dim ${dim}`);
    // all bits different
    arena.u8.fill(0, pa, pa + bytes);
    arena.u8.fill(0, pb, pb + bytes);
    for (let i = 0; i < dim; i++) arena.u8[pa + (i >> 3)]! |= 1 << (i & 7);
    assert.equal(arena.k.dist(5, pa, pb, dim), dim, `hamming all-different dim ${dim}`);
    arena.free(pb);
    arena.free(pa);
  }
});

test('distGather, distRange and distBlock work on codes (same values as dist)', () => {
  const rng = new Random(7);
  const arena = new Arena();
  for (const [metric, dim] of [[3, 37], [4, 130], [5, 300], [3, 1024], [5, 33]] as const) {
    const bytes = metric === 5 ? bitBytes(dim) : i8Bytes(dim);
    const stride = bytes + 16;
    const n = 9;
    const nq = 6;
    const xs = arena.alloc(n * stride);
    const qs = arena.alloc(nq * bytes);
    for (let i = 0; i < n * stride; i++) arena.u8[xs + i] = 0;
    for (let j = 0; j < n; j++) arena.u8.set(new Uint8Array(randomI8(rng, metric === 5 ? bytes : dim, bytes).buffer), xs + j * stride);
    for (let q = 0; q < nq; q++) arena.u8.set(new Uint8Array(randomI8(rng, metric === 5 ? bytes : dim, bytes).buffer), qs + q * bytes);
    const out = arena.alloc(nq * n * 4);
    const slots = arena.alloc(n * 4);
    for (let j = 0; j < n; j++) arena.u32[(slots >> 2) + j] = n - 1 - j;
    arena.k.distBlock(metric, qs, nq, bytes, xs, n, stride, dim, out);
    for (let q = 0; q < nq; q++) {
      for (let j = 0; j < n; j++) {
        assert.equal(arena.f32[(out >> 2) + q * n + j], arena.k.dist(metric, qs + q * bytes, xs + j * stride, dim), `block ${metric}/${dim} ${q},${j}`);
      }
    }
    arena.k.distRange(metric, qs, xs, stride, n, dim, out);
    for (let j = 0; j < n; j++) assert.equal(arena.f32[(out >> 2) + j], arena.k.dist(metric, qs, xs + j * stride, dim));
    arena.k.distGather(metric, qs, xs, stride, slots, n, dim, out, 512);
    for (let j = 0; j < n; j++) assert.equal(arena.f32[(out >> 2) + j], arena.k.dist(metric, qs, xs + (n - 1 - j) * stride, dim));
  }
});
