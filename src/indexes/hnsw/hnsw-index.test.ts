import { runConformance } from '../conformance.js';
import { HnswIndex } from './hnsw-index.js';

runConformance('hnsw', { create: (shape) => new HnswIndex(shape), exact: false, recallFloor: 0.95 });

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusteredData, concat, oracle } from '../conformance.js';
import { deserializeIndex, serializeIndex } from '../registry.js';
import type { VectorBatch } from '../../vector/batch.js';
import { Random } from '../../vector/random.js';

const data = clusteredData(21, 4000, 50, 16, 30);
const ids = Uint32Array.from({ length: data.base.count }, (_, i) => i);
const rowOf = (b: VectorBatch, i: number): Float32Array => b.data.subarray(i * b.dim, (i + 1) * b.dim);

function meanRecall(index: HnswIndex, live: (id: number) => boolean, k = 10): number {
  let total = 0;
  for (let q = 0; q < data.queries.count; q++) {
    const query = rowOf(data.queries, q);
    const want = new Set(oracle('l2', data.base, ids, query, k, live).ids);
    const got = index.search(query, k).ids;
    for (const id of got) {
      assert.ok(live(id), `removed id ${id} returned`);
      if (want.has(id)) total++;
    }
  }
  return total / (data.queries.count * k);
}

test('hnsw: the same seed and order build the same graph', () => {
  const a = new HnswIndex({ dim: 16, seed: 7 });
  const b = new HnswIndex({ dim: 16, seed: 7 });
  a.add(ids, data.base);
  b.add(ids, data.base);
  assert.deepEqual(concat(serializeIndex(a)), concat(serializeIndex(b)));
});

test('hnsw: removed space is reclaimed and reused, recall holds through churn', () => {
  const index = new HnswIndex({ dim: 16 });
  index.add(ids, data.base);
  const memBefore = index.stats().memoryBytes;
  const removed = new Set<number>();
  for (let round = 0; round < 3; round++) {
    // Remove a third of what is live, then add it back: the slots must be reused.
    const batch = [...ids].filter((id) => id % 3 === round);
    index.remove(batch);
    batch.forEach((id) => removed.add(id));
    assert.ok(meanRecall(index, (id) => !removed.has(id)) >= 0.9, `recall after removing round ${round}`);
    index.compact();
    const st = index.stats();
    assert.equal(st.deletedPending, 0, 'compact reclaims every deleted node');
    assert.equal(st.freeSlots, batch.length);
    const vec = new Float32Array(batch.length * 16);
    batch.forEach((id, i) => vec.set(rowOf(data.base, id), i * 16));
    index.add(batch, { data: vec, dim: 16, count: batch.length });
    batch.forEach((id) => removed.delete(id));
    assert.equal(index.stats().freeSlots, 0, 'freed slots reused by the adds');
  }
  assert.equal(index.size, ids.length);
  assert.ok(index.stats().memoryBytes <= memBefore * 1.02, `memory grew from ${memBefore} to ${index.stats().memoryBytes}`);
  assert.ok(meanRecall(index, () => true) >= 0.95, 'recall after churn');
});

test('hnsw: removing many nodes at once (including the entry point) keeps the graph searchable', () => {
  const index = new HnswIndex({ dim: 16 });
  index.add(ids, data.base);
  const removed = new Set([...ids].filter((id) => id % 10 < 7)); // 70 %
  index.remove([...removed]);
  assert.equal(index.stats().deletedPending, 0, 'reclaimed automatically above 10 %');
  assert.ok(meanRecall(index, (id) => !removed.has(id)) >= 0.9);
  index.remove([...ids]);
  assert.equal(index.size, 0);
  assert.throws(() => index.search(rowOf(data.queries, 0), 5), /empty index/);
  index.add([1, 2, 3], { data: data.base.data.slice(0, 48), dim: 16, count: 3 });
  assert.equal(index.search(rowOf(data.base, 1), 1).ids[0], 2);
});

test('hnsw: a saved index with pending deletes and free slots loads and answers the same', () => {
  const index = new HnswIndex({ dim: 16 });
  index.add(ids, data.base);
  index.remove([...ids].filter((id) => id % 50 === 0)); // 2 %: stays pending
  index.remove([...ids].filter((id) => id % 50 === 1)); // still pending
  const st = index.stats();
  assert.ok(Number(st.deletedPending) > 0);
  const loaded = deserializeIndex(concat(serializeIndex(index)));
  assert.deepEqual({ ...loaded.stats(), memoryBytes: 0 }, { ...st, memoryBytes: 0 });
  assert.deepEqual(loaded.searchBatch(data.queries, 10), index.searchBatch(data.queries, 10));
  loaded.compact();
  index.compact();
  assert.deepEqual(loaded.searchBatch(data.queries, 10), index.searchBatch(data.queries, 10));
});

test('hnsw: a filtered graph search (50 %) keeps recall and never leaks', () => {
  const index = new HnswIndex({ dim: 16 });
  index.add(ids, data.base);
  const odd = (id: number): boolean => id % 2 === 1;
  let total = 0;
  for (let q = 0; q < data.queries.count; q++) {
    const query = rowOf(data.queries, q);
    const got = index.search(query, 10, { filter: odd }).ids;
    const want = new Set(oracle('l2', data.base, ids, query, 10, odd).ids);
    for (const id of got) {
      assert.ok(odd(id));
      if (want.has(id)) total++;
    }
  }
  assert.ok(total / (data.queries.count * 10) >= 0.95);
});

test('hnsw: parameters are validated', () => {
  assert.throws(() => new HnswIndex({ dim: 8, m: 1 }), /m: expected an integer from 2 to 256, got the number 1/);
  assert.throws(() => new HnswIndex({ dim: 8, efConstruction: 0 }), /efConstruction/);
  const index = new HnswIndex({ dim: 16 });
  index.add([1], { data: data.base.data.slice(0, 16), dim: 16, count: 1 });
  assert.throws(() => index.search(rowOf(data.base, 0), 1, { efSearch: -1 }), /efSearch: expected an integer/);
});

test('hnsw: optimize() renumbers nodes without changing any answer', () => {
  const index = new HnswIndex({ dim: 16 });
  index.add(ids, data.base);
  index.remove([...ids].filter((id) => id % 97 === 0));
  const before = index.searchBatch(data.queries, 10);
  const filtered = index.search(rowOf(data.queries, 3), 10, { filter: (id) => id % 2 === 0 });
  index.optimize();
  assert.deepEqual(index.searchBatch(data.queries, 10), before);
  assert.deepEqual(index.search(rowOf(data.queries, 3), 10, { filter: (id) => id % 2 === 0 }), filtered);
  assert.deepEqual(index.getVector(5), new Float32Array(rowOf(data.base, 5)));
  // Still a working index: add, remove, save and load.
  const back = [...ids].filter((id) => id % 97 === 0);
  const vec = new Float32Array(back.length * 16);
  back.forEach((id, i) => vec.set(rowOf(data.base, id), i * 16));
  index.add(back, { data: vec, dim: 16, count: back.length });
  assert.equal(index.size, ids.length);
  assert.ok(meanRecall(index, () => true) >= 0.95);
  const loaded = deserializeIndex(concat(serializeIndex(index)));
  assert.deepEqual(loaded.searchBatch(data.queries, 10), index.searchBatch(data.queries, 10));
});

test('hnsw: an id removed and re-added into a reused slot survives save/load and optimize', () => {
  const index = new HnswIndex({ dim: 16 });
  const n = 2000;
  index.add(ids.subarray(0, n), { data: data.base.data.slice(0, n * 16), dim: 16, count: n });
  index.remove([5]);
  index.compact(); // slot of id 5 is now free
  index.remove([1999]); // pending at a higher slot…
  index.add([1999], { data: rowOf(data.base, 1999).slice(), dim: 16, count: 1 }); // …re-added into the free low slot
  assert.ok(index.has(1999));
  const loaded = deserializeIndex(concat(serializeIndex(index)));
  assert.ok(loaded.has(1999), 'the live id is found after loading');
  assert.equal(loaded.search(rowOf(data.base, 1999), 1).ids[0], 1999);
  index.optimize();
  assert.ok(index.has(1999), 'the live id is found after optimize');
  assert.equal(index.search(rowOf(data.base, 1999), 1).ids[0], 1999);
});

test('hnsw: under upsert and delete churn every live vector stays reachable (found by its own vector)', () => {
  // The crash test's writer pattern (dim 8, m 8, efConstruction 40, batches of upserts and deletes):
  // before the fix, nodes linked only from deleted nodes were orphaned by consolidation within a
  // dozen operations on every seed.
  const DIM = 8;
  for (const seed of [1, 2, 3]) {
    const rng = new Random(seed);
    const index = new HnswIndex({ dim: DIM, m: 8, efConstruction: 40, seed });
    const live = new Map<number, Float32Array>();
    let next = 0;
    const put = (batch: number[]): void => {
      const buf = new Float32Array(batch.length * DIM);
      batch.forEach((id, i) => {
        const v = Float32Array.from({ length: DIM }, () => rng.gaussian());
        live.set(id, v);
        buf.set(v, i * DIM);
      });
      index.add(batch, { data: buf, dim: DIM, count: batch.length });
    };
    const pick = (n: number): number[] => {
      const all = [...live.keys()];
      return [...new Set(Array.from({ length: n }, () => all[rng.int(all.length)]!))];
    };
    for (let op = 0; op < 40; op++) {
      const r = rng.next();
      if (r < 0.4 || live.size < 50) {
        put(Array.from({ length: 1 + rng.int(rng.next() < 0.1 ? 1500 : 100) }, () => next++));
      } else if (r < 0.7) {
        const batch = pick(1 + rng.int(100));
        index.remove(Uint32Array.from(batch));
        put(batch);
      } else {
        const batch = pick(1 + rng.int(live.size > 3000 ? 600 : 60));
        index.remove(Uint32Array.from(batch));
        for (const id of batch) live.delete(id);
      }
      if (op % 4 !== 3) continue;
      let lost = 0;
      for (const v of live.values()) if (index.search(v, 1, { efSearch: 500 }).distances[0] !== 0) lost++;
      assert.equal(lost, 0, `seed ${seed}, op ${op}: ${lost} of ${live.size} live vectors not found by their own vector`);
    }
  }
});
