import { describe as suite, test } from 'node:test';
import assert from 'node:assert/strict';
import type { VectorBatch } from '../../vector/batch.js';
import { BinaryWriter } from '../../storage/binary.js';
import { encodeHeader } from '../../storage/header.js';
import { clusteredData, concat, expectError, oracle, runConformance } from '../conformance.js';
import { createIndex, deserializeIndex, serializeIndex } from '../registry.js';
import { IvfIndex, defaultNProbe } from './ivf-index.js';
import { SegmentedIndex } from '../segmented.js';

runConformance('ivf', { create: (s) => new IvfIndex({ ...s, nList: 16, seed: 1 }), exact: true, exactOptions: { nProbe: 16 } });


const seq = (n: number): Uint32Array => Uint32Array.from({ length: n }, (_, i) => i);

function recallAt10(index: IvfIndex, d: { base: VectorBatch; queries: VectorBatch }, ids: Uint32Array, nProbe: number): number {
  const dim = d.base.dim;
  const r = index.searchBatch(d.queries, 10, { nProbe });
  let hit = 0;
  for (let q = 0; q < d.queries.count; q++) {
    const want = new Set(oracle(index.metric, d.base, ids, d.queries.data.subarray(q * dim, (q + 1) * dim), 10).ids);
    for (let j = 0; j < r.counts[q]!; j++) if (want.has(r.ids[q * 10 + j]!)) hit++;
  }
  return hit / (d.queries.count * 10);
}

suite('ivf: specific behaviour', () => {
  const data = clusteredData(3, 5000, 100, 32);
  const ids = seq(data.base.count);

  test('add before train is refused with not_trained, before any other check, and changes nothing', () => {
    const index = new IvfIndex({ dim: 32, nList: 8 });
    assert.equal(index.isTrained, false);
    expectError(() => index.add([1, 2], { data: new Float32Array(64), dim: 32, count: 2 }), 'not_trained', /call train\(sample\) first/);
    // Even input that is wrong in other ways reports the missing training first.
    expectError(() => index.add([1], { data: new Float32Array(5), dim: 5, count: 1 }), 'not_trained');
    assert.equal(index.size, 0);
    assert.equal(index.has(1), false);
    assert.deepEqual(index.params, { nList: 8, nProbe: 0, seed: 42, iterations: 20 });
    expectError(() => index.search(new Float32Array(32), 3), 'empty_index');
  });

  test('nProbe = 4 of nList = 64 reaches recall@10 ≥ 0.9 on clustered data; batched equals single', () => {
    for (const metric of ['l2', 'cosine'] as const) {
      const index = new IvfIndex({ dim: 32, metric, nList: 64, seed: 1 });
      index.train(data.base);
      index.add(ids, data.base);
      const r = recallAt10(index, data, ids, 4);
      assert.ok(r >= 0.9, `${metric}: recall@10 at nProbe 4 is ${r}`);
      assert.ok(recallAt10(index, data, ids, 1) < r, 'fewer probes, lower recall');
      const batch = index.searchBatch(data.queries, 10, { nProbe: 2 });
      for (let q = 0; q < data.queries.count; q++) {
        const single = index.search(data.queries.data.subarray(q * 32, (q + 1) * 32), 10, { nProbe: 2 });
        assert.deepEqual(single.ids, batch.ids.slice(q * 10, q * 10 + 10), `query ${q}`);
      }
    }
  });

  test('filtered searches return k hits whenever k match, even with nProbe 1', () => {
    const index = new IvfIndex({ dim: 32, nList: 64, nProbe: 1, seed: 1 });
    index.train(data.base);
    index.add(ids, data.base);
    const few = new Set([...ids].filter((id) => id % 397 === 0)); // 13 ids spread over the clusters
    const big = Uint32Array.from([...ids].filter((id) => id % 5 === 0)); // 20 %: scanned, not gathered
    for (let q = 0; q < 20; q++) {
      const query = data.queries.data.subarray(q * 32, (q + 1) * 32);
      const pred = index.search(query, 10, { filter: (id) => few.has(id) });
      const want = oracle('l2', data.base, ids, query, 10, (id) => few.has(id));
      assert.deepEqual(Array.from(pred.ids), want.ids, 'a selective predicate falls back to an exact scan');
      const allow = index.search(query, 10, { allow: [...few] });
      assert.deepEqual(Array.from(allow.ids), want.ids, 'a small allow-list is gathered exactly');
      const wide = index.search(query, 10, { allow: big });
      assert.equal(wide.ids.length, 10);
      for (const id of wide.ids) assert.equal(id % 5, 0);
    }
    // k above what the probed list holds: the other lists fill the answer.
    const all = index.search(data.queries.data.subarray(0, 32), 4000);
    assert.equal(all.ids.length, 4000);
  });

  test('invalid nList, nProbe, seed and iterations are refused with invalid_argument', () => {
    for (const nList of [0, -1, 1.5, '8', 2 ** 21]) {
      expectError(() => new IvfIndex({ dim: 4, nList: nList as number }), 'invalid_argument', /nList: expected an integer from 1 to/);
    }
    for (const nProbe of [0, 2.5, NaN]) {
      expectError(() => new IvfIndex({ dim: 4, nProbe }), 'invalid_argument', /nProbe: expected an integer from 1/);
    }
    expectError(() => new IvfIndex({ dim: 4, nList: 8, nProbe: 9 }), 'invalid_argument', /nProbe: expected at most nList \(8\), got the number 9/);
    expectError(() => new IvfIndex({ dim: 4, seed: -1 }), 'invalid_argument', /seed/);
    expectError(() => new IvfIndex({ dim: 4, iterations: 1.5 }), 'invalid_argument', /iterations/);
    const index = new IvfIndex({ dim: 32, nList: 16 });
    index.train(data.base);
    index.add(ids.subarray(0, 100), { data: data.base.data.subarray(0, 3200), dim: 32, count: 100 });
    const q = data.queries.data.subarray(0, 32);
    for (const nProbe of [0, -2, 1.5, '3']) {
      expectError(() => index.search(q, 5, { nProbe: nProbe as number }), 'invalid_argument', /nProbe: expected an integer ≥ 1/);
    }
    assert.equal(index.search(q, 5, { nProbe: 1000 }).ids.length, 5, 'nProbe above nList scans every list');
  });

  test('training: nList chosen from the sample when not given, re-training only while empty', () => {
    const index = new IvfIndex({ dim: 32, seed: 2 });
    assert.equal(index.params.nList, 0, 'auto before training');
    const sample = { data: data.base.data.subarray(0, 400 * 32), dim: 32, count: 400 };
    index.train(sample);
    assert.equal(index.params.nList, 80, 'round(4·√400)');
    assert.equal(index.params.nProbe, defaultNProbe(80));
    assert.equal(defaultNProbe(1024), 64);
    assert.equal(defaultNProbe(5), 5);
    index.train(data.base); // still empty: allowed, and nList is chosen afresh
    assert.equal(index.params.nList, Math.round(4 * Math.sqrt(5000)));
    index.add([1], { data: data.base.data.subarray(0, 32), dim: 32, count: 1 });
    expectError(() => index.train(data.base), 'invalid_argument', /expected an untrained or empty index, got a trained index holding 1 vectors/);
    index.remove([1]);
    index.train(sample);
    assert.equal(index.params.nList, 80);
    // A sample smaller than nList lowers nList to the sample size.
    const small = new IvfIndex({ dim: 32, nList: 16, nProbe: 12 });
    small.train({ data: data.base.data.subarray(0, 5 * 32), dim: 32, count: 5 });
    assert.deepEqual(small.params, { nList: 5, nProbe: 5, seed: 42, iterations: 20 });
    expectError(() => small.train({ data: new Float32Array(0), dim: 32, count: 0 }), 'invalid_argument', /at least one vector/);
  });

  test('the same seed gives the same index, byte for byte; another seed another one', () => {
    const build = (seed: number): Uint8Array => {
      const index = new IvfIndex({ dim: 32, nList: 32, seed });
      index.train(data.base);
      index.add(ids, data.base);
      return concat(serializeIndex(index));
    };
    const a = build(7);
    assert.deepEqual(build(7), a);
    assert.notDeepEqual(build(8), a);
  });

  test('an untrained index saves and loads, and can then be trained', () => {
    const index = new IvfIndex({ dim: 32, metric: 'ip', nProbe: 3, seed: 9, iterations: 5 });
    const loaded = deserializeIndex(concat(serializeIndex(index))) as IvfIndex;
    assert.equal(loaded.kind, 'ivf');
    assert.equal(loaded.isTrained, false);
    assert.equal(loaded.metric, 'ip');
    assert.deepEqual(loaded.params, { nList: 0, nProbe: 3, seed: 9, iterations: 5 });
    loaded.train(data.base);
    index.train(data.base);
    loaded.add(ids, data.base);
    index.add(ids, data.base);
    assert.deepEqual(loaded.params, index.params);
    assert.deepEqual(loaded.searchBatch(data.queries, 10), index.searchBatch(data.queries, 10));
  });

  test('createIndex builds an IVF index from a spec; stats describe the lists', () => {
    const index = createIndex({ kind: 'ivf', dim: 32, metric: 'l2', nList: 20 });
    assert.ok(index instanceof SegmentedIndex && index.segments[0] instanceof IvfIndex, 'an IVF index, segmented');
    index.train(data.base);
    index.add(ids, data.base);
    const st = index.stats();
    assert.equal(st.nList, 20);
    assert.equal(st.nProbe, 8);
    assert.ok((st.listMin as number) >= 1 && (st.listMax as number) >= (st.listMin as number));
    assert.equal(st.listMean, 250);
    assert.ok((st.imbalance as number) >= 1);
    expectError(() => createIndex({ kind: 'ivf', dim: 32, nList: 'many' as never }), 'invalid_argument', /nList/);
  });

  test('a payload written by hand as docs/indexes/ivf.md describes loads; inconsistent ones are refused', () => {
    const dim = 2;
    const payload = (o: { count: number; lists: [number[], number[]][]; params?: object; centroids?: number[] }): Uint8Array => {
      const w = new BinaryWriter();
      w.json(o.params ?? { nList: 2, nProbe: 1, seed: 42, iterations: 20, nListOption: 2, nProbeOption: 1 });
      w.u8(1);
      w.f32s(Float32Array.from(o.centroids ?? [0, 0, 10, 10]));
      for (const [listIds, vectors] of o.lists) {
        w.u32s(Uint32Array.from(listIds));
        w.f32s(Float32Array.from(vectors));
      }
      return concat([encodeHeader({ kind: 'ivf', dim, metric: 'l2', count: o.count }, w), ...w.chunks()]);
    };
    const good = deserializeIndex(payload({ count: 3, lists: [[[5, 6], [0, 1, 1, 0]], [[9], [10, 11]]] }));
    assert.equal(good.size, 3);
    assert.deepEqual(good.params, { nList: 2, nProbe: 1, seed: 42, iterations: 20 });
    assert.deepEqual(Array.from(good.getVector(9)!), [10, 11]);
    assert.deepEqual(Array.from(good.search(Float32Array.of(9, 9), 1).ids), [9]);
    assert.deepEqual(Array.from(good.ids()), [5, 6, 9]);

    expectError(() => deserializeIndex(payload({ count: 4, lists: [[[5, 6], [0, 1, 1, 0]], [[9], [10, 11]]] })), 'corrupt_file', /hold 3 vectors, the header declares 4/);
    expectError(() => deserializeIndex(payload({ count: 2, lists: [[[5, 6], [0, 1, 1, 0]], [[9], [10, 11]]] })), 'corrupt_file', /more vectors than the 2/);
    expectError(() => deserializeIndex(payload({ count: 3, lists: [[[5, 6], [0, 1, 1, 0]], [[5], [10, 11]]] })), 'corrupt_file', /id 5 appears twice/);
    expectError(() => deserializeIndex(payload({ count: 3, lists: [[[5, 6], [0, 1, 1, 0]], [[9], [10]]] })), 'corrupt_file', /list 1 vectors: expected 2 elements/);
    expectError(() => deserializeIndex(payload({ count: 3, lists: [[[5, 6], [0, 1, 1, 0]]] })), 'corrupt_file', /truncated/);
    expectError(() => deserializeIndex(payload({ count: 0, lists: [[[], []], [[], []]], centroids: [0, 0, NaN, 1] })), 'corrupt_file', /centroids/);
    expectError(() => deserializeIndex(payload({ count: 0, lists: [[[], []], [[], []]], params: { nList: 2, nProbe: 3, seed: 42, iterations: 20, nListOption: 2, nProbeOption: 1 } })), 'corrupt_file', /nProbe: expected 1 to nList = 2, got 3/);
    expectError(() => deserializeIndex(payload({ count: 0, lists: [[[], []], [[], []]], params: { nList: 2, nProbe: 1, seed: 'x', iterations: 20, nListOption: 2, nProbeOption: 1 } })), 'corrupt_file', /seed: expected an integer/);
    // An untrained index with vectors cannot exist.
    const w = new BinaryWriter();
    w.json({ nList: 0, nProbe: 0, seed: 42, iterations: 20, nListOption: 0, nProbeOption: 0 });
    w.u8(0);
    expectError(() => deserializeIndex(concat([encodeHeader({ kind: 'ivf', dim, metric: 'l2', count: 1 }, w), ...w.chunks()])), 'corrupt_file', /untrained index holds no vectors/);
  });
});
