/**
 * The conformance cases of quantised indexes (issue 16, docs/indexes/quantization.md), run by
 * src/indexes/quant/quant-conformance.test.ts for flat and HNSW, and callable for any index kind
 * that accepts `quantization` (IVF: pass its `create`). The oracle is the float64 brute force of
 * src/indexes/conformance.ts; every distance returned must be the EXACT distance of the id
 * returned (re-scoring), and recall@10 after re-scoring must reach the floor.
 */
import { describe as suite, test } from 'node:test';
import assert from 'node:assert/strict';
import { clusteredData, concat, expectError, oracle, refDistance, type Dataset } from '../conformance.js';
import { deserializeIndex, serializeIndex } from '../registry.js';
import { Random } from '../../vector/random.js';
import type { Metric } from '../../vector/metric.js';
import type { VectorBatch } from '../../vector/batch.js';
import type { SearchOptions, VectorIndex } from '../types.js';
import type { WarningHook } from './quantizer.js';

export interface QuantShape {
  dim: number;
  metric: Metric;
  quantization?: unknown;
  rescore?: unknown;
  onWarning?: WarningHook;
}

export interface QuantConformanceOptions {
  /** Builds an empty index (the options are passed through unchecked: bad values must be refused). */
  create(shape: QuantShape): VectorIndex;
  /** Minimum mean recall@10 after re-scoring, per quantisation (on the data sets below). */
  recallFloor: { int8: number; binary: number };
  /** Search options used throughout (e.g. a larger efSearch). */
  searchOptions?: SearchOptions;
}

const rowOf = (b: VectorBatch, i: number): Float32Array => b.data.subarray(i * b.dim, (i + 1) * b.dim);

function recall(got: ArrayLike<number>, want: number[]): number {
  const s = new Set(want);
  let hit = 0;
  for (let i = 0; i < got.length; i++) if (s.has(got[i]!)) hit++;
  return want.length === 0 ? 1 : hit / want.length;
}

/** int8: 24-d clustered (the float suite's set); binary: 64-d with wider clusters (binary needs dimensions). */
function dataFor(q: 'int8' | 'binary'): Dataset {
  return q === 'int8' ? clusteredData(11, 2000, 40, 24) : clusteredData(12, 2000, 40, 64, 20, 1);
}

export function runQuantizationConformance(name: string, opts: QuantConformanceOptions): void {
  const k = 10;
  const so = opts.searchOptions ?? {};
  suite(`${name}: quantised conformance`, () => {
    for (const q of ['int8', 'binary'] as const) {
      const data = dataFor(q);
      const ids = Uint32Array.from({ length: data.base.count }, (_, i) => i * 5 + 3);
      const pos = new Map<number, number>();
      ids.forEach((id, i) => pos.set(id, i));
      const rescore = q === 'int8' ? undefined : 32; // binary: see quantization.md, "Choosing rescore"
      const build = (metric: Metric): VectorIndex => {
        const index = opts.create({ dim: data.dim, metric, quantization: q, rescore, onWarning: () => {} });
        index.add(ids, data.base);
        return index;
      };

      for (const metric of ['l2', 'ip', 'cosine'] as const) {
        test(`${q} ${metric}: recall@10 after re-scoring ≥ ${opts.recallFloor[q]}, distances exact, batch = single`, () => {
          const index = build(metric);
          const batch = index.searchBatch(data.queries, k, so);
          let total = 0;
          for (let i = 0; i < data.queries.count; i++) {
            const query = rowOf(data.queries, i);
            const got = index.search(query, k, so);
            assert.deepEqual(Array.from(batch.ids.subarray(i * k, i * k + batch.counts[i]!)), Array.from(got.ids), `batched query ${i}`);
            assert.equal(got.ids.length, k);
            for (let r = 0; r < got.ids.length; r++) {
              const want = refDistance(metric, query, rowOf(data.base, pos.get(got.ids[r]!)!));
              assert.ok(Math.abs(got.distances[r]! - want) <= 1e-4 * Math.max(1, Math.abs(want)), `query ${i} rank ${r}: distance ${got.distances[r]} is not the exact ${want}`);
              if (r > 0) assert.ok(got.distances[r - 1]! <= got.distances[r]!, 'sorted nearest first');
            }
            total += recall(got.ids, oracle(metric, data.base, ids, query, k).ids);
          }
          const mean = total / data.queries.count;
          assert.ok(mean >= opts.recallFloor[q], `mean recall@10 ${mean.toFixed(4)} < ${opts.recallFloor[q]}`);
        });
      }

      test(`${q}: serialize → deserialize gives identical results, params, vectors; the loaded index keeps working`, () => {
        for (const metric of ['l2', 'cosine'] as const) {
          const index = build(metric);
          index.remove(ids.slice(0, 100));
          const before = index.searchBatch(data.queries, k, so);
          const loaded = deserializeIndex(concat(serializeIndex(index)));
          assert.deepEqual(loaded.params, index.params);
          assert.equal(loaded.params.quantization, q);
          assert.equal(loaded.stats().quantization, q);
          assert.equal(loaded.size, index.size);
          const after = loaded.searchBatch(data.queries, k, so);
          assert.deepEqual(after.ids, before.ids);
          assert.deepEqual(after.distances, before.distances);
          assert.deepEqual(loaded.getVector(ids[500]!), index.getVector(ids[500]!));
          loaded.add(ids.slice(0, 100), { data: data.base.data.subarray(0, 100 * data.dim), dim: data.dim, count: 100 });
          assert.equal(loaded.size, data.base.count);
          assert.equal(loaded.search(rowOf(data.base, 7), 1, so).ids[0], ids[7], 'a re-added vector is its own nearest');
        }
      });

      test(`${q}: removed ids never return, getVector follows removals and renumbering, re-added ids are found`, () => {
        const index = build('l2');
        const rng = new Random(4);
        const removed = ids.filter(() => rng.next() < 0.3);
        const gone = new Set(removed);
        assert.equal(index.remove(removed), removed.length);
        index.compact();
        for (let i = 0; i < data.queries.count; i++) {
          for (const id of index.search(rowOf(data.queries, i), k, so).ids) assert.ok(!gone.has(id), `removed id ${id} returned`);
        }
        for (const i of [0, 1, 999, 1999]) {
          if (gone.has(ids[i]!)) continue;
          assert.deepEqual(index.getVector(ids[i]!), rowOf(data.base, i).slice(), `getVector(${ids[i]})`);
        }
        const vec = new Float32Array(removed.length * data.dim);
        removed.forEach((id, i) => vec.set(rowOf(data.base, pos.get(id)!), i * data.dim));
        index.add(removed, { data: vec, dim: data.dim, count: removed.length });
        assert.equal(index.size, ids.length);
        (index as { optimize?: () => void }).optimize?.();
        for (const i of [0, 5, 1500]) {
          assert.deepEqual(index.getVector(ids[i]!), rowOf(data.base, i).slice(), `getVector(${ids[i]}) after optimize`);
          const self = index.search(rowOf(data.base, i), 1, so);
          assert.equal(self.ids[0], ids[i], 'a stored vector is its own nearest');
          assert.equal(self.distances[0], 0, 'at exact distance 0');
        }
      });

      test(`${q}: filters keep k hits whenever k match (allow-list, predicate)`, () => {
        const index = build('l2');
        const rng = new Random(5);
        const allow = ids.filter(() => rng.next() < 0.02);
        const allowSet = new Set(allow);
        for (let i = 0; i < 10; i++) {
          const query = rowOf(data.queries, i);
          for (const options of [{ ...so, allow }, { ...so, filter: (id: number) => allowSet.has(id) }, { ...so, filter: (id: number) => id % 2 === 0 }]) {
            const got = index.search(query, k, options);
            assert.equal(got.ids.length, k);
            for (const id of got.ids) assert.ok(options.filter ? options.filter(id) : allowSet.has(id));
          }
        }
      });

      test(`${q}: filled one vector at a time (small values), the quantiser is learnt again as the index doubles`, () => {
        const n = 600;
        const index = opts.create({ dim: data.dim, metric: 'l2', quantization: q, rescore, onWarning: () => {} });
        const small = data.base.data.slice(0, n * data.dim).map((x) => 0.01 * x);
        for (let i = 0; i < n; i++) index.add([ids[i]!], { data: small.subarray(i * data.dim, (i + 1) * data.dim), dim: data.dim, count: 1 });
        const smallBase = { data: small, dim: data.dim, count: n };
        let total = 0;
        for (let i = 0; i < 20; i++) {
          const query = data.queries.data.slice(i * data.dim, (i + 1) * data.dim).map((x) => 0.01 * x);
          total += recall(index.search(query, k, so).ids, oracle('l2', smallBase, ids, query, k).ids);
        }
        assert.ok(total / 20 >= opts.recallFloor[q], `recall@10 ${(total / 20).toFixed(3)}`);
      });

      test(`${q}: train(sample) first, then add; stats report the quantisation and the memory apart`, () => {
        const index = opts.create({ dim: data.dim, metric: 'l2', quantization: q, rescore, onWarning: () => {} });
        index.train(data.base);
        index.add(ids.slice(0, 1000), { data: data.base.data.subarray(0, 1000 * data.dim), dim: data.dim, count: 1000 });
        const st = index.stats();
        assert.equal(st.quantization, q);
        assert.equal(st.codeBytes, q === 'int8' ? Math.ceil(data.dim / 16) * 16 : Math.ceil(data.dim / 128) * 16);
        assert.ok(Number(st.rescoreBytes) >= 1000 * data.dim * 4, 'the float vectors are reported as rescoreBytes');
        assert.equal(st.vectorBytes, 1000 * data.dim * 4);
        const float = opts.create({ dim: data.dim, metric: 'l2' });
        float.add(ids.slice(0, 1000), { data: data.base.data.subarray(0, 1000 * data.dim), dim: data.dim, count: 1000 });
        // At 1,000 vectors the arenas' page-granular growth can make both equal; large sets: quantization.md.
        assert.ok(st.memoryBytes <= float.stats().memoryBytes, `memoryBytes ${st.memoryBytes} above the float index's ${float.stats().memoryBytes}`);
        assert.equal(index.search(rowOf(data.base, 3), 1, so).ids[0], ids[3]);
        // Training again re-encodes what is stored: still exact on stored vectors.
        index.train({ data: data.base.data.subarray(1000 * data.dim), dim: data.dim, count: 1000 });
        assert.equal(index.search(rowOf(data.base, 3), 1, so).ids[0], ids[3]);
      });
    }

    test('bad input: unknown quantisation, pq outside IVF, rescore < 1 or non-integer, binary on dim < 32', () => {
      const dim = 64;
      for (const bad of ['int4', 'INT8', 3, null, 'pq']) {
        expectError(() => opts.create({ dim, metric: 'l2', quantization: bad }), 'invalid_argument',
          bad === 'pq' ? /quantization: expected one of "none", "int8", "binary".*"pq" is for the ivf index only/ : /quantization: expected one of "none", "int8", "binary"/);
      }
      for (const bad of [0, -1, 1.5, '4', NaN, 1001]) {
        expectError(() => opts.create({ dim, metric: 'l2', quantization: 'int8', rescore: bad }), 'invalid_argument', /rescore: expected an integer from 1 to 1000/);
      }
      expectError(() => opts.create({ dim: 16, metric: 'cosine', quantization: 'binary' }), 'invalid_argument', /"binary" needs dim ≥ 32, got dim 16/);
      const data = clusteredData(3, 200, 2, dim);
      const index = opts.create({ dim, metric: 'l2', quantization: 'int8' });
      index.add(Array.from({ length: 200 }, (_, i) => i), data.base);
      for (const bad of [0, 2.5, -3]) {
        expectError(() => index.search(rowOf(data.queries, 0), 5, { ...so, rescore: bad }), 'invalid_argument', /rescore: expected an integer/);
        expectError(() => index.searchBatch(data.queries, 5, { ...so, rescore: bad }), 'invalid_argument', /rescore/);
      }
      // 'none' and quantisation absent are the same index, with the params of before issue 16.
      const none = opts.create({ dim, metric: 'l2', quantization: 'none' });
      assert.equal(none.params.quantization, undefined);
      assert.equal(none.stats().quantization, 'none');
    });

    test('binary with l2 warns once when the data\'s norms vary widely (and not on even norms)', () => {
      const dim = 64;
      const data = clusteredData(3, 400, 2, dim);
      const warnings: string[] = [];
      const even = opts.create({ dim, metric: 'l2', quantization: 'binary', onWarning: (m) => warnings.push(m) });
      even.add(Array.from({ length: 400 }, (_, i) => i), data.base);
      assert.equal(warnings.length, 0, warnings.join('\n'));
      const rng = new Random(9);
      const varied = data.base.data.slice();
      for (let i = 0; i < 400; i++) { const s = Math.exp(3 * (rng.next() - 0.5)); for (let j = 0; j < dim; j++) varied[i * dim + j]! *= s; }
      const idx = opts.create({ dim, metric: 'l2', quantization: 'binary', onWarning: (m) => warnings.push(m) });
      idx.add(Array.from({ length: 400 }, (_, i) => i), { data: varied, dim, count: 400 });
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /binary.*l2.*norms vary widely.*int8/);
    });
  });
}
