/**
 * The tasks' multi-core exact scans (docs/tasks.md, "Multi-core exact scans"): on 2 threads the
 * answers are bit for bit those of 1 thread, and both equal a float64 brute-force oracle. The
 * fan-out thresholds are set to 0 so that small data takes the threaded path.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parallelThresholds } from '../indexes/flat/flat-index.js';
import { closePool } from '../parallel/pool.js';
import { Random } from '../vector/random.js';
import { Arena } from '../vector/arena.js';
import { TopK } from '../vector/heap.js';
import { KernelPoints } from './distances.js';
import { fitKMeans } from './kmeans.js';
import { outliers } from './outliers.js';
import { dedupe } from './dedupe.js';
import { withDatabase } from '../../test/helpers/assertions.js';

const saved = { ...parallelThresholds };
before(() => { parallelThresholds.minWork = 0; parallelThresholds.minPass = 0; });
after(async () => { Object.assign(parallelThresholds, saved); await closePool(); });

function gaussian(n: number, dim: number, seed: number): Float32Array {
  const rng = new Random(seed);
  return Float32Array.from({ length: n * dim }, () => rng.gaussian());
}

function unitRows(x: Float32Array, dim: number): Float32Array {
  const out = x.slice();
  for (let i = 0; i < out.length / dim; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += out[i * dim + j]! ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < dim; j++) out[i * dim + j]! *= inv;
  }
  return out;
}

/** Float64 distance of the kernels' codes: 0 squared L2, 1 = 1 − a·b. */
function d64(code: 0 | 1, x: Float32Array, i: number, y: Float32Array, j: number, dim: number): number {
  let s = 0;
  for (let t = 0; t < dim; t++) s += code === 0 ? (x[i * dim + t]! - y[j * dim + t]!) ** 2 : x[i * dim + t]! * y[j * dim + t]!;
  return code === 0 ? s : 1 - s;
}

test('neighbours (each pair once) and the full scan: 2 threads = 1 thread bit for bit, and = the float64 oracle (l2 and 1 − a·b, ragged blocks)', () => {
  const n = 603;
  const dim = 37;
  for (const code of [0, 1] as const) {
    const x = code === 0 ? gaussian(n, dim, 11) : unitRows(gaussian(n, dim, 12), dim);
    const kp = new KernelPoints(x, n, dim, { outFloats: 64 * n, threads: 2 });
    const k = 7;
    const one = kp.neighbours(code, k, 64, 1);
    const two = kp.neighbours(code, k, 64, 2);
    assert.deepEqual(two.index, one.index);
    assert.deepEqual(two.distances, one.distances);
    // The full scan (each pair twice) gives the same lists, on 1 and 2 threads.
    const full1 = kp.scanNeighbours(code, k, 64, 1);
    const full2 = kp.scanNeighbours(code, k, 64, 2);
    assert.deepEqual(full2.index, full1.index);
    assert.deepEqual(full2.distances, full1.distances);
    assert.deepEqual(full1.index, one.index);
    for (let i = 0; i < n; i++) {
      const order = Array.from({ length: n }, (_, j) => j).filter((j) => j !== i)
        .map((j) => ({ j, d: d64(code, x, i, x, j, dim) })).sort((a, b) => a.d - b.d || a.j - b.j).slice(0, k);
      assert.deepEqual(Array.from(one.index.subarray(i * k, (i + 1) * k)), order.map((o) => o.j), `row ${i}`);
      order.forEach((o, t) => assert.ok(Math.abs(one.distances[i * k + t]! - o.d) < 1e-4 * Math.max(1, Math.abs(o.d)), `row ${i} hit ${t}`));
    }
  }
});

test('nearestCentres: 2 threads = 1 thread = the float64 oracle', () => {
  const n = 1000;
  const dim = 20;
  const k = 9;
  const x = gaussian(n, dim, 3);
  const kp = new KernelPoints(x, n, dim, { centres: k, outFloats: 256 * k, threads: 2 });
  kp.centres.set(gaussian(k, dim, 4));
  const cen = kp.centres.slice(0, k * dim);
  const run = (threads: number, shared: boolean): { l: Int32Array; d: Float32Array } => {
    const l = shared ? new Int32Array(new SharedArrayBuffer(4 * n)) : new Int32Array(n);
    const d = shared ? new Float32Array(new SharedArrayBuffer(4 * n)) : new Float32Array(n);
    kp.nearestCentres(0, k, 256, threads, l, d);
    return { l, d };
  };
  const one = run(1, false);
  for (const shared of [false, true]) {
    const two = run(2, shared);
    assert.deepEqual(Array.from(two.l), Array.from(one.l));
    assert.deepEqual(Array.from(two.d), Array.from(one.d));
  }
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (d64(0, x, i, cen, c, dim) < d64(0, x, i, cen, best, dim)) best = c;
    assert.equal(one.l[i], best, `point ${i}`);
    assert.ok(Math.abs(one.d[i]! - d64(0, x, i, cen, best, dim)) < 1e-3);
  }
});

test('fitKMeans: threads 1 and 2 give the same fit (Lloyd, mini-batch, spherical); threads 0 is refused', () => {
  const rng = new Random(8);
  const n = 900;
  const dim = 16;
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) data[i * dim + j] = (j === i % 5 ? 5 : 0) + rng.gaussian();
  for (const o of [{ method: 'kmeans' as const }, { method: 'minibatch' as const, batchSize: 200 }, { method: 'kmeans' as const, spherical: true }]) {
    const a = fitKMeans({ data, dim, count: n }, { k: 5, seed: 3, nInit: 2, threads: 1, ...o });
    const b = fitKMeans({ data, dim, count: n }, { k: 5, seed: 3, nInit: 2, threads: 2, ...o });
    assert.deepEqual(b.labels, a.labels, o.method);
    assert.deepEqual(b.centroids, a.centroids);
    assert.equal(b.inertia, a.inertia);
    assert.equal(b.iterations, a.iterations);
  }
  assert.throws(() => fitKMeans({ data, dim, count: n }, { k: 5, threads: 0 }), (e: Error & { code?: string }) =>
    e.code === 'invalid_argument' && /threads: expected an integer from 1 to 1024.*got the number 0/.test(e.message));
});

test('outliers and dedupe on a collection: threads 1 and 2 answer the same; a bad threads is invalid_argument', async () => {
  await withDatabase('omnivec-scan-threads-', async (db) => {
    const n = 700;
    const dim = 12;
    const x = gaussian(n, dim, 21);
    // A few near-duplicates for dedupe, and a few far points for outliers.
    for (let i = 0; i < 10; i++) for (let j = 0; j < dim; j++) x[(100 + i) * dim + j] = x[i * dim + j]! + 1e-3 * (j + 1);
    for (let i = 650; i < 655; i++) for (let j = 0; j < dim; j++) x[i * dim + j]! *= 6;
    const c = await db.createCollection({ name: 'pts', dim, metric: 'l2', index: 'flat' });
    await c.add({ ids: Array.from({ length: n }, (_, i) => `p${String(i).padStart(4, '0')}`), vectors: x });
    for (const method of ['knn', 'lof'] as const) {
      const a = await outliers(c, { method, k: 8, top: 30, threads: 1 });
      const b = await outliers(c, { method, k: 8, top: 30, threads: 2 });
      assert.deepEqual(b, a);
      for (let i = 650; i < 655; i++) assert.ok(a.slice(0, 10).some((o) => o.id === `p0${i}`), `${method}: p0${i} in the top 10`);
    }
    const da = await dedupe(c, { maxDistance: 0.05, k: 5, threads: 1 });
    const dd = await dedupe(c, { maxDistance: 0.05, k: 5, threads: 2 });
    assert.deepEqual(dd, da);
    assert.equal(da.pairs.length, 10);
    await assert.rejects(() => outliers(c, { threads: 1.5 }), (e: Error & { code?: string }) => e.code === 'invalid_argument' && /threads/.test(e.message));
    await assert.rejects(() => dedupe(c, { maxDistance: 1, threads: -1 }), (e: Error & { code?: string }) => e.code === 'invalid_argument' && /threads/.test(e.message));
  });
});

/** The oracle of the all-pairs scan: every pair's `distBlock` distance (tile-independent), each row's k smallest by (distance, number). */
function pairsOracle(x: Float32Array, n: number, dim: number, k: number): { ids: Uint32Array; dists: Float32Array } {
  const a = new Arena(4 * (x.length + n * n) + 1024);
  const px = a.alloc(x.length * 4);
  const po = a.alloc(n * n * 4);
  a.f32.set(x, px >> 2);
  a.k.distBlock(0, px, n, dim * 4, px, n, dim * 4, dim, po);
  const heap = new TopK(k);
  const ids = new Uint32Array(n * k);
  const dists = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    heap.clear();
    for (let j = 0; j < n; j++) if (j !== i) heap.push(j, a.f32[(po >> 2) + i * n + j]!);
    heap.drainSorted(ids, dists, i * k);
  }
  return { ids, dists };
}

test('neighbours, screened with the partial check (96-d, duplicates, one-ulp ties, far-off data): = the plain all-pairs scan bit for bit', () => {
  const dim = 96;
  const n = 420;
  const k = 9;
  for (const offset of [0, 50]) {
    const rng = new Random(31);
    const x = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) x[i * dim + j] = offset + (j % 5 === i % 5 ? 2 : 0) + 0.4 * rng.gaussian();
    for (let i = 0; i + 4 < n; i += 17) for (let r = 1; r <= 3; r++) x.copyWithin((i + r) * dim, i * dim, (i + 1) * dim); // runs of 4 equal
    const bits = new Uint32Array(x.buffer);
    for (let i = 9; i < n; i += 29) { x.copyWithin(i * dim, (i - 1) * dim, i * dim); bits[i * dim + 3]! += 1; } // one ulp apart
    const kp = new KernelPoints(x, n, dim, { outFloats: 64 * n, threads: 2 });
    const want = pairsOracle(x, n, dim, k);
    const one = kp.neighbours(0, k, 64, 1);
    const two = kp.neighbours(0, k, 64, 2);
    for (let i = 0; i < n; i++) {
      for (const [what, got] of [['1 thread', one], ['2 threads', two]] as const) {
        assert.deepEqual(Array.from(got.index.subarray(i * k, (i + 1) * k)), Array.from(want.ids.subarray(i * k, (i + 1) * k)), `offset ${offset} ${what} row ${i}`);
        for (let t = 0; t < k; t++) assert.ok(Object.is(got.distances[i * k + t], want.dists[i * k + t]), `offset ${offset} ${what} row ${i} hit ${t}`);
      }
    }
  }
});

test('neighbours, screened: points tied with more records than a screen holds (lists overflow: the retry, then the plain scan) get the plain scan\'s answer', () => {
  const dim = 80;
  const n = 700;
  for (const [k, copies] of [[5, 200], [2, 400]] as const) {
  // A screen holds 3k + 32 candidates, the retry 8× that: 200 copies of one vector tie at distance
  // 0 beyond the first (k 5: 47, then 376), 400 beyond both (k 2: 38, then 304).
  const rng = new Random(5);
  const x = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) x[i * dim + j] = i < copies ? (j % 3) : rng.gaussian();
  const kp = new KernelPoints(x, n, dim, { outFloats: 64 * n, threads: 2 });
  const want = pairsOracle(x, n, dim, k);
  for (const threads of [1, 2]) {
    const got = kp.neighbours(0, k, 64, threads);
    assert.deepEqual(Array.from(got.index), Array.from(want.ids), `k ${k} ${threads} threads`);
    for (let t = 0; t < n * k; t++) assert.ok(Object.is(got.distances[t], want.dists[t]), `k ${k} ${threads} threads: row ${Math.floor(t / k)} hit ${t % k}`);
  }
  }
});

test('KernelPoints.release: the next scan reuses the arena; answers already returned stay as they were', () => {
  const dim = 70;
  const k = 6;
  const xa = gaussian(300, dim, 41);
  const xb = gaussian(300, dim, 42);
  const first = new KernelPoints(xa, 300, dim, { outFloats: 64 * 300, threads: 2 });
  const a1 = first.neighbours(0, k, 64, 2);
  const keep = { index: a1.index.slice(), distances: a1.distances.slice() };
  first.release();
  first.release(); // twice is harmless
  // A set of the same size takes the released arena and lays it out the same: it writes over the first answer's place.
  const second = new KernelPoints(xb, 300, dim, { outFloats: 64 * 300, threads: 2 });
  const b = second.neighbours(0, k, 64, 2);
  second.release();
  assert.deepEqual(a1.index, keep.index, 'the first answer is a copy, not a view of the arena');
  assert.deepEqual(a1.distances, keep.distances);
  const wantA = pairsOracle(xa, 300, dim, k);
  const wantB = pairsOracle(xb, 300, dim, k);
  assert.deepEqual(Array.from(a1.index), Array.from(wantA.ids));
  assert.deepEqual(Array.from(b.index), Array.from(wantB.ids));
  for (let t = 0; t < 300 * k; t++) assert.ok(Object.is(b.distances[t], wantB.dists[t]), `hit ${t}`);
  // And a larger set than the spare gets a fresh arena: still right.
  const xc = gaussian(420, dim, 43);
  const third = new KernelPoints(xc, 420, dim, { outFloats: 64 * 420, threads: 1 });
  assert.deepEqual(Array.from(third.neighbours(0, k, 64, 1).index), Array.from(pairsOracle(xc, 420, dim, k).ids));
  third.release();
});
