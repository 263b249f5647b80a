import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopK, MinHeap } from './heap.js';
import { Random } from './random.js';

test('TopK keeps the k smallest, sorted, ties by id', () => {
  const rng = new Random(1);
  for (const k of [1, 3, 10, 50]) {
    const n = 500;
    const d = Array.from({ length: n }, () => Math.floor(rng.next() * 100));
    const heap = new TopK(k);
    d.forEach((x, i) => heap.push(i, x));
    const ids = new Uint32Array(k);
    const dists = new Float32Array(k);
    assert.equal(heap.drainSorted(ids, dists), k);
    const want = d.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).slice(0, k);
    assert.deepEqual(Array.from(ids), want.map((w) => w[1]));
    assert.deepEqual(Array.from(dists), want.map((w) => w[0]));
  }
});

test('MinHeap pops in ascending order and grows', () => {
  const rng = new Random(2);
  const h = new MinHeap(2);
  const xs = Array.from({ length: 300 }, () => rng.next());
  xs.forEach((x, i) => h.push(i, x));
  const out: number[] = [];
  while (h.size > 0) {
    out.push(h.topDist());
    h.pop();
  }
  assert.deepEqual(out, [...xs].map(Math.fround).sort((a, b) => a - b));
});

test('Random is reproducible and roughly uniform / normal', () => {
  const a = new Random(7);
  const b = new Random(7);
  for (let i = 0; i < 100; i++) assert.equal(a.nextU32(), b.nextU32());
  const r = new Random(9);
  let s = 0;
  let s2 = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const g = r.gaussian();
    s += g;
    s2 += g * g;
  }
  assert.ok(Math.abs(s / n) < 0.05);
  assert.ok(Math.abs(s2 / n - 1) < 0.05);
});
