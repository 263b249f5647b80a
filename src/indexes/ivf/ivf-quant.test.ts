import { describe as suite, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Metric } from '../../vector/metric.js';
import type { VectorBatch } from '../../vector/batch.js';
import { Random } from '../../vector/random.js';
import { clusteredData, concat, expectError, oracle, refDistance, type Dataset } from '../conformance.js';
import { createIndex, deserializeIndex, serializeIndex } from '../registry.js';
import { PQ_CENTROIDS, ProductQuantizer, checkPqM, defaultPqM, scanCodes } from '../quant/pq.js';
import { IvfIndex, type IvfIndexOptions } from './ivf-index.js';

/**
 * IVF with quantised lists (issue 16): int8, binary (dim ≥ 64) and pq against the float64 oracle
 * of src/indexes/conformance.ts, with recall floors after exact re-scoring; reopen, removal,
 * filters, stats, bad input. The PQ kernels against JS references.
 */

const rowOf = (b: VectorBatch, i: number): Float32Array => b.data.subarray(i * b.dim, (i + 1) * b.dim);
type Q = 'int8' | 'binary' | 'pq';

/** int8 / pq: 32-d clustered; binary: 64-d with wider clusters (binary needs dimensions). */
function dataFor(q: Q): Dataset {
  return q === 'binary' ? clusteredData(12, 2000, 40, 64, 20, 1) : clusteredData(11, 2000, 40, 32);
}
// Measured (2000 vectors, 40 queries, nList 16, nProbe 8; l2 / ip / cosine): int8 1.0 / 1.0 / 1.0
// (rescore 2, the default), binary 1.0 / 0.998 / 1.0 (rescore 32), pq 1.0 / 1.0 / 0.995 (rescore 8).
const FLOOR: Record<Q, number> = { int8: 0.99, binary: 0.97, pq: 0.98 };
const RESCORE: Record<Q, number | undefined> = { int8: undefined, binary: 32, pq: 8 };

function build(q: Q, metric: Metric, data: Dataset, ids: Uint32Array, extra: Partial<IvfIndexOptions> = {}): IvfIndex {
  const index = new IvfIndex({ dim: data.dim, metric, nList: 16, nProbe: 8, seed: 1, iterations: 5, quantization: q, rescore: RESCORE[q], onWarning: () => {}, ...extra });
  index.train(data.base);
  index.add(ids, data.base);
  return index;
}

function recall(got: ArrayLike<number>, want: number[]): number {
  const s = new Set(want);
  let hit = 0;
  for (let i = 0; i < got.length; i++) if (s.has(got[i]!)) hit++;
  return hit / want.length;
}

for (const q of ['int8', 'binary', 'pq'] as const) {
  suite(`ivf ${q}: quantised conformance`, () => {
    const data = dataFor(q);
    const ids = Uint32Array.from({ length: data.base.count }, (_, i) => i * 5 + 3);
    const pos = new Map<number, number>();
    ids.forEach((id, i) => pos.set(id, i));
    const k = 10;

    test(`l2, ip, cosine: recall@10 after re-scoring ≥ ${FLOOR[q]}, distances exact, batch = single`, () => {
      for (const metric of ['l2', 'ip', 'cosine'] as const) {
        const index = build(q, metric, data, ids);
        const batch = index.searchBatch(data.queries, k);
        let total = 0;
        for (let i = 0; i < data.queries.count; i++) {
          const query = rowOf(data.queries, i);
          const got = index.search(query, k);
          assert.deepEqual(Array.from(batch.ids.subarray(i * k, i * k + batch.counts[i]!)), Array.from(got.ids), `${metric}: batched query ${i}`);
          assert.equal(got.ids.length, k);
          for (let r = 0; r < k; r++) {
            const want = refDistance(metric, query, rowOf(data.base, pos.get(got.ids[r]!)!));
            assert.ok(Math.abs(got.distances[r]! - want) <= 1e-4 * Math.max(1, Math.abs(want)), `${metric} query ${i} rank ${r}: ${got.distances[r]} is not the exact ${want}`);
            if (r > 0) assert.ok(got.distances[r - 1]! <= got.distances[r]!, 'sorted nearest first');
          }
          total += recall(got.ids, oracle(metric, data.base, ids, query, k).ids);
        }
        const mean = total / data.queries.count;
        assert.ok(mean >= FLOOR[q], `${metric}: mean recall@10 ${mean.toFixed(4)} < ${FLOOR[q]}`);
        // rescore 1: the k best by code distance, re-ranked: never better than re-scoring more.
        const one = index.searchBatch(data.queries, k, { rescore: 1 });
        let r1 = 0;
        for (let i = 0; i < data.queries.count; i++) r1 += recall(one.ids.subarray(i * k, (i + 1) * k), oracle(metric, data.base, ids, rowOf(data.queries, i), k).ids);
        assert.ok(r1 / data.queries.count <= mean + 1e-9, `${metric}: rescore 1 recall ${r1 / data.queries.count} above ${mean}`);
        // nProbe = nList: every list scanned, coarse distances computed without the quantizer's search.
        const all = index.searchBatch(data.queries, k, { nProbe: 16 });
        let ra = 0;
        for (let i = 0; i < data.queries.count; i++) ra += recall(all.ids.subarray(i * k, (i + 1) * k), oracle(metric, data.base, ids, rowOf(data.queries, i), k).ids);
        assert.ok(ra / data.queries.count >= FLOOR[q], `${metric}: nProbe = nList recall ${ra / data.queries.count}`);
      }
    });

    test('serialize → deserialize: identical results, params, vectors; the loaded index keeps working', () => {
      for (const metric of ['l2', 'cosine'] as const) {
        const index = build(q, metric, data, ids);
        index.remove(ids.slice(0, 100));
        const before = index.searchBatch(data.queries, k);
        const bytes = concat(serializeIndex(index));
        const loaded = deserializeIndex(bytes) as IvfIndex;
        assert.deepEqual(loaded.params, index.params);
        assert.equal(loaded.params.quantization, q);
        assert.equal(loaded.stats().quantization, q);
        assert.equal(loaded.size, index.size);
        const after = loaded.searchBatch(data.queries, k);
        assert.deepEqual(after.ids, before.ids);
        assert.deepEqual(after.distances, before.distances);
        assert.deepEqual(loaded.getVector(ids[500]!), index.getVector(ids[500]!));
        assert.deepEqual(concat(serializeIndex(loaded)), bytes, 'saved again: the same bytes');
        loaded.add(ids.slice(0, 100), { data: data.base.data.subarray(0, 100 * data.dim), dim: data.dim, count: 100 });
        assert.equal(loaded.size, data.base.count);
        assert.equal(loaded.search(rowOf(data.base, 7), 1).ids[0], ids[7], 'a re-added vector is its own nearest');
      }
    });

    test('removed ids never return, getVector follows removals, re-added ids are found at distance 0', () => {
      const index = build(q, 'l2', data, ids);
      const rng = new Random(4);
      const removed = ids.filter(() => rng.next() < 0.3);
      const gone = new Set(removed);
      assert.equal(index.remove(removed), removed.length);
      index.compact();
      for (let i = 0; i < data.queries.count; i++) {
        for (const id of index.search(rowOf(data.queries, i), k).ids) assert.ok(!gone.has(id), `removed id ${id} returned`);
      }
      for (const i of [0, 1, 999, 1999]) {
        if (gone.has(ids[i]!)) assert.equal(index.getVector(ids[i]!), undefined);
        else assert.deepEqual(index.getVector(ids[i]!), rowOf(data.base, i).slice(), `getVector(${ids[i]})`);
      }
      const vec = new Float32Array(removed.length * data.dim);
      removed.forEach((id, i) => vec.set(rowOf(data.base, pos.get(id)!), i * data.dim));
      index.add(removed, { data: vec, dim: data.dim, count: removed.length });
      assert.equal(index.size, ids.length);
      for (const i of [0, 5, 1500]) {
        const self = index.search(rowOf(data.base, i), 1);
        assert.equal(self.ids[0], ids[i], 'a stored vector is its own nearest');
        assert.equal(self.distances[0], 0, 'at exact distance 0');
      }
    });

    test('filters keep k hits whenever k match (small allow-list exact, predicate)', () => {
      const index = build(q, 'l2', data, ids, { nProbe: 1 });
      const rng = new Random(5);
      const allow = ids.filter(() => rng.next() < 0.02);
      const allowSet = new Set(allow);
      for (let i = 0; i < 10; i++) {
        const query = rowOf(data.queries, i);
        const exact = oracle('l2', data.base, ids, query, k, (id) => allowSet.has(id));
        assert.deepEqual(Array.from(index.search(query, k, { allow }).ids), exact.ids, 'a small allow-list is compared exactly');
        for (const options of [{ filter: (id: number) => allowSet.has(id) }, { filter: (id: number) => id % 2 === 0 }]) {
          const got = index.search(query, k, options);
          assert.equal(got.ids.length, k);
          for (const id of got.ids) assert.ok(options.filter(id));
        }
      }
    });

    test('stats: quantization, codeBytes, float vectors as rescoreBytes, memory apart', () => {
      const index = build(q, 'l2', data, ids);
      const st = index.stats();
      assert.equal(st.quantization, q);
      const dim = data.dim;
      assert.equal(st.codeBytes, q === 'int8' ? Math.ceil(dim / 16) * 16 : q === 'binary' ? Math.ceil(dim / 128) * 16 : defaultPqM(dim));
      assert.ok(Number(st.rescoreBytes) >= ids.length * dim * 4);
      assert.equal(st.vectorBytes, ids.length * dim * 4);
      const float = new IvfIndex({ dim, nList: 16, seed: 1, iterations: 5 });
      float.train(data.base);
      float.add(ids, data.base);
      // memoryBytes excludes the float vectors (at 2 000 × 32 both arenas are the same few pages).
      assert.ok(st.memoryBytes <= float.stats().memoryBytes + 2 ** 20, `${st.memoryBytes} vs ${float.stats().memoryBytes}`);
      assert.equal(float.stats().quantization, 'none');
      assert.equal(float.params.quantization, undefined, "'none' keeps the params of before issue 16");
    });
  });
}

suite('ivf pq: product quantiser and bad input', () => {
  test('pqM: a divisor of dim, named with dim in the error; the default is dim / 4', () => {
    assert.equal(defaultPqM(128), 32);
    assert.equal(defaultPqM(784), 196);
    assert.equal(defaultPqM(6), 1);
    assert.equal(defaultPqM(10), 2);
    assert.equal(defaultPqM(7), 1);
    assert.equal(checkPqM(undefined, 64), 16);
    for (const bad of [0, -2, 1.5, '8', 65]) expectError(() => checkPqM(bad, 64), 'invalid_argument', /pqM: expected an integer from 1 to dim = 64/);
    expectError(() => new IvfIndex({ dim: 30, quantization: 'pq', pqM: 8 }), 'invalid_argument', /pqM: expected a divisor of dim = 30.*pqM = 8/);
    expectError(() => new IvfIndex({ dim: 32, pqM: 8 }), 'invalid_argument', /pqM: only for quantization 'pq'/);
    for (const bad of [0, 1.5, 1001, '4']) {
      expectError(() => new IvfIndex({ dim: 32, quantization: 'pq', rescore: bad as never }), 'invalid_argument', /rescore: expected an integer from 1 to 1000/);
    }
    expectError(() => new IvfIndex({ dim: 32, quantization: 'int4' as never }), 'invalid_argument', /quantization: expected one of "none", "int8", "binary", "pq"/);
    expectError(() => createIndex({ kind: 'flat', dim: 32, quantization: 'pq' } as never), 'invalid_argument', /"pq" is for the ivf index only/);
    expectError(() => createIndex({ kind: 'hnsw', dim: 32, quantization: 'pq' } as never), 'invalid_argument', /"pq" is for the ivf index only/);
    expectError(() => new IvfIndex({ dim: 16, quantization: 'binary' }), 'invalid_argument', /"binary" needs dim ≥ 32/);
  });

  test('training needs 256 vectors; a refused training leaves the index untrained; bad rescore per search', () => {
    const data = clusteredData(2, 300, 2, 16);
    const index = new IvfIndex({ dim: 16, nList: 4, quantization: 'pq', pqM: 4 });
    expectError(() => index.train({ data: data.base.data.subarray(0, 255 * 16), dim: 16, count: 255 }), 'invalid_argument', /at least 256 vectors/);
    assert.equal(index.isTrained, false);
    index.train(data.base);
    index.add(Array.from({ length: 300 }, (_, i) => i), data.base);
    for (const bad of [0, 2.5, -3]) {
      expectError(() => index.search(rowOf(data.queries, 0), 5, { rescore: bad }), 'invalid_argument', /rescore: expected an integer/);
      expectError(() => index.searchBatch(data.queries, 5, { rescore: bad }), 'invalid_argument', /rescore/);
    }
    assert.deepEqual(index.params, { nList: 4, nProbe: 4, seed: 42, iterations: 20, quantization: 'pq', rescore: 8, pqM: 4 });
  });

  test('kernels: encode = nearest centroid per sub-space, scan = the JS sum, l2 / ip tables as defined', () => {
    const dim = 24;
    const m = 6;
    const dsub = 4;
    const rng = new Random(7);
    const n = 300;
    const data = new Float32Array(n * dim).map(() => rng.gaussian());
    const pq = ProductQuantizer.train({ data, dim, count: n }, m, { iterations: 3 });
    const codes = new Uint8Array(n * m);
    pq.encode(data, n, codes);
    for (let i = 0; i < 40; i++) {
      for (let j = 0; j < m; j++) {
        let best = Infinity;
        let arg = -1;
        for (let c = 0; c < PQ_CENTROIDS; c++) {
          let s = 0;
          for (let t = 0; t < dsub; t++) s += (data[i * dim + j * dsub + t]! - pq.codebooks[(j * PQ_CENTROIDS + c) * dsub + t]!) ** 2;
          if (s < best - 1e-5) { best = s; arg = c; }
        }
        const got = codes[i * m + j]!;
        let gs = 0;
        for (let t = 0; t < dsub; t++) gs += (data[i * dim + j * dsub + t]! - pq.codebooks[(j * PQ_CENTROIDS + got) * dsub + t]!) ** 2;
        assert.ok(got === arg || Math.abs(gs - best) <= 1e-4 * Math.max(1, best), `vector ${i} sub-space ${j}: ${got} (${gs}) vs ${arg} (${best})`);
      }
    }
    // ip table (scale −1) through the kernel scan = −q·decode(code).
    const k = pq.kernels;
    const query = new Float32Array(dim).map(() => rng.gaussian());
    k.setQuery(query, -1, false);
    const got = k.scan(codes, 0, n, 0.5, false).slice();
    const rec = new Float32Array(dim);
    for (let i = 0; i < n; i++) {
      pq.decode(codes, i * m, rec);
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += query[j]! * rec[j]!;
      assert.ok(Math.abs(got[i]! - (0.5 - dot)) < 1e-4 * Math.max(1, Math.abs(dot)), `ip ${i}: ${got[i]} vs ${0.5 - dot}`);
    }
    // l2 with norms (scale −2): ‖q − decode‖² − ‖q‖²; the JS reference scan over a copied table agrees.
    k.setQuery(query, -2, true);
    let qq = 0;
    for (let j = 0; j < dim; j++) qq += query[j]! ** 2;
    const l2 = k.scan(codes, 0, n, qq, false).slice();
    for (let i = 0; i < n; i++) {
      pq.decode(codes, i * m, rec);
      let s = 0;
      for (let j = 0; j < dim; j++) s += (query[j]! - rec[j]!) ** 2;
      assert.ok(Math.abs(l2[i]! - s) < 1e-3 * Math.max(1, s), `l2 ${i}: ${l2[i]} vs ${s}`);
    }
    const table = new Float32Array(m * PQ_CENTROIDS);
    for (let j = 0; j < m; j++) {
      for (let c = 0; c < PQ_CENTROIDS; c++) {
        let s = 0;
        for (let t = 0; t < dsub; t++) s += (query[j * dsub + t]! - pq.codebooks[(j * PQ_CENTROIDS + c) * dsub + t]!) ** 2;
        table[j * PQ_CENTROIDS + c] = s;
      }
    }
    const ref = new Float32Array(n);
    scanCodes(codes, 0, n, m, table, 0, ref);
    for (let i = 0; i < n; i++) assert.ok(Math.abs(ref[i]! - l2[i]!) < 1e-3 * Math.max(1, ref[i]!), `reference scan ${i}`);
    // An odd m (not a multiple of 4) takes the kernel's generic loop.
    const pq3 = ProductQuantizer.train({ data, dim, count: n }, 3, { iterations: 2 });
    const c3 = new Uint8Array(n * 3);
    pq3.encode(data, n, c3);
    pq3.kernels.setQuery(query, -1, false);
    const d3 = pq3.kernels.scan(c3, 0, n, 0, false).slice();
    const r8 = new Float32Array(dim);
    for (let i = 0; i < 5; i++) {
      pq3.decode(c3, i * 3, r8);
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += query[j]! * r8[j]!;
      assert.ok(Math.abs(d3[i]! + dot) < 1e-4 * Math.max(1, Math.abs(dot)));
    }
  });
});
