import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Arena } from './arena.js';
import { Random } from './random.js';

function refL2(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s;
}
function refDot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

test('kernels agree with a float64 reference for every dimension 1…70 and 784', () => {
  const rng = new Random(3);
  const arena = new Arena();
  for (const dim of [...Array.from({ length: 70 }, (_, i) => i + 1), 784]) {
    const pa = arena.alloc(dim * 4);
    const pb = arena.alloc(dim * 4);
    const a = new Float32Array(dim).map(() => rng.gaussian());
    const b = new Float32Array(dim).map(() => rng.gaussian());
    arena.f32.set(a, pa >> 2);
    arena.f32.set(b, pb >> 2);
    const tol = 1e-4 * dim;
    assert.ok(Math.abs(arena.k.l2sq(pa, pb, dim) - refL2(a, b)) < tol, `l2 dim ${dim}`);
    assert.ok(Math.abs(arena.k.dot(pa, pb, dim) - refDot(a, b)) < tol, `dot dim ${dim}`);
    assert.ok(Math.abs(arena.k.dist(1, pa, pb, dim) - (1 - refDot(a, b))) < tol, `ip dim ${dim}`);
    arena.free(pb);
    arena.free(pa);
  }
});

test('distBlock equals pairwise distances for ragged block shapes', () => {
  const rng = new Random(4);
  const arena = new Arena();
  for (const [nq, nx, dim] of [[1, 1, 3], [5, 3, 17], [4, 2, 8], [9, 7, 130], [3, 5, 1]] as const) {
    for (const metric of [0, 1]) {
      const qs = new Float32Array(nq * dim).map(() => rng.gaussian());
      const xs = new Float32Array(nx * dim).map(() => rng.gaussian());
      const pq = arena.alloc(qs.byteLength);
      const px = arena.alloc(xs.byteLength);
      const po = arena.alloc(nq * nx * 4);
      arena.f32.set(qs, pq >> 2);
      arena.f32.set(xs, px >> 2);
      arena.k.distBlock(metric, pq, nq, dim * 4, px, nx, dim * 4, dim, po);
      for (let i = 0; i < nq; i++) {
        for (let j = 0; j < nx; j++) {
          const q = qs.subarray(i * dim, (i + 1) * dim);
          const x = xs.subarray(j * dim, (j + 1) * dim);
          const want = metric === 0 ? refL2(q, x) : 1 - refDot(q, x);
          const got = arena.f32[(po >> 2) + i * nx + j]!;
          assert.ok(Math.abs(got - want) < 1e-4 * dim, `metric ${metric} ${nq}x${nx}x${dim} at ${i},${j}: ${got} vs ${want}`);
        }
      }
      arena.free(po);
      arena.free(px);
      arena.free(pq);
    }
  }
});

test('distGather reads the listed slots', () => {
  const arena = new Arena();
  const dim = 4;
  const base = arena.alloc(10 * dim * 4);
  for (let i = 0; i < 10 * dim; i++) arena.f32[(base >> 2) + i] = Math.floor(i / dim);
  const q = arena.alloc(16);
  arena.f32.set([0, 0, 0, 0], q >> 2);
  const slots = arena.alloc(12);
  arena.u32.set([7, 2, 9], slots >> 2);
  const out = arena.alloc(12);
  arena.k.distGather(0, q, base, dim * 4, slots, 3, dim, out, 512);
  assert.deepEqual(Array.from(arena.f32.subarray(out >> 2, (out >> 2) + 3)), [196, 16, 324]);
  arena.k.distGather(0, q, base, dim * 4, slots, 3, dim, out, 0);
  assert.deepEqual(Array.from(arena.f32.subarray(out >> 2, (out >> 2) + 3)), [196, 16, 324]);
});

test('the last block grows in place; freed space is reused', () => {
  const arena = new Arena();
  const a = arena.alloc(100);
  const b = arena.alloc(1000);
  arena.f32[(b >> 2) + 3] = 42;
  const b2 = arena.realloc(b, 5_000_000);
  assert.equal(b2, b, 'grown in place');
  assert.equal(arena.f32[(b >> 2) + 3], 42, 'contents kept after memory growth');
  const a2 = arena.realloc(a, 200);
  assert.notEqual(a2, a, 'a block in the middle moves');
  const c = arena.alloc(64);
  assert.equal(c, a, 'the freed block is reused');
});

test('an attached arena shares the memory, refreshes its views after growth and never allocates', () => {
  const owner = new Arena();
  const p = owner.alloc(64);
  owner.f32.set([1, 2, 3, 4], p >> 2);
  const view = Arena.attach(owner.memory, Arena.kernels());
  assert.equal(view.owner, false);
  assert.deepEqual(Array.from(view.f32.subarray(p >> 2, (p >> 2) + 4)), [1, 2, 3, 4]);
  assert.equal(view.k.dot(p, p, 4), 30);
  assert.ok(owner.memory.buffer instanceof SharedArrayBuffer);
  // The owner grows the memory: the attached views are stale until sync().
  const big = owner.alloc(4 << 20);
  owner.f32[(big >> 2) + 1000] = 7;
  assert.ok(view.u8.byteLength < owner.committedBytes);
  view.sync();
  assert.equal(view.u8.byteLength, owner.committedBytes);
  assert.equal(view.f32[(big >> 2) + 1000], 7);
  view.f32[p >> 2] = 9;
  assert.equal(owner.f32[p >> 2], 9);
  assert.throws(() => view.alloc(16), /attached arena does not allocate/);
  assert.throws(() => view.realloc(p, 128), /attached arena does not allocate/);
});
