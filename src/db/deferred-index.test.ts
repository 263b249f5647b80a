/**
 * Writes off the query path (docs/db.md): a small write's vectors wait in an exact tail and are
 * linked into the HNSW graph in slices. Answers must be those of the whole set at every moment
 * (checked against the exact oracle between slices), and what a snapshot saves must be the whole
 * set (reopened, verified).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeferredIndex } from './deferred-index.js';
import { openDatabase } from './database.js';
import { buildEmpty } from './index-spec.js';
import { clusteredData, oracle } from '../indexes/conformance.js';
import type { VectorBatch } from '../vector/batch.js';
import { withTempDir } from '../../test/helpers/assertions.js';

const D = 16;
const data = clusteredData(41, 2600, 30, D, 12);
const rowOf = (b: VectorBatch, i: number): Float32Array => b.data.subarray(i * b.dim, (i + 1) * b.dim);
const part = (from: number, to: number): VectorBatch => ({ data: data.base.data.subarray(from * D, to * D), dim: D, count: to - from });
const idsOf = (from: number, to: number): Uint32Array => Uint32Array.from({ length: to - from }, (_, i) => from + i);

for (const metric of ['l2', 'cosine'] as const) {
  test(`deferred index (${metric}): graph + tail answer as the whole set, between upkeep slices and after`, () => {
    const inner = buildEmpty({ kind: 'hnsw', m: 12, efConstruction: 100, efSearch: 64 }, D, metric, 0);
    const index = new DeferredIndex(inner);
    assert.ok(DeferredIndex.suits(inner));
    index.add(idsOf(0, 2000), part(0, 2000));
    index.defer(idsOf(2000, 2600), part(2000, 2600));
    assert.equal(index.deferred, 600);
    assert.equal(index.size, 2600);
    // Removals from both parts: enough graph ones to start a reclaim pass, some tail ones.
    const gone = new Set<number>();
    const rm = [...Array.from({ length: 300 }, (_, i) => (i * 13) % 2000), ...Array.from({ length: 40 }, (_, i) => 2000 + i * 7)];
    for (const id of rm) gone.add(id);
    assert.equal(index.remove(rm), gone.size);
    assert.equal(index.size, 2600 - gone.size);
    const live = (id: number): boolean => id < 2600 && !gone.has(id);
    const allIds = idsOf(0, 2600);
    const check = (label: string): void => {
      let hits = 0;
      for (let q = 0; q < data.queries.count; q++) {
        const query = rowOf(data.queries, q);
        const want = oracle(metric, data.base, allIds, query, 10, live);
        const got = index.search(query, 10);
        assert.equal(got.ids.length, 10, label);
        for (let i = 1; i < got.ids.length; i++) assert.ok(got.distances[i]! >= got.distances[i - 1]!, `${label}: sorted`);
        const w = new Set(want.ids);
        for (const id of got.ids) {
          assert.ok(live(id), `${label}: removed or unknown id ${id}`);
          if (w.has(id)) hits++;
        }
      }
      assert.ok(hits / (10 * data.queries.count) >= 0.95, `${label}: recall ${hits / (10 * data.queries.count)}`);
      // The tail is exact: a stored tail vector finds itself first.
      for (const id of [2001, 2333, 2599]) {
        if (!index.has(id) || gone.has(id)) continue;
        const r = index.search(index.getVector(id)!, 1);
        assert.equal(r.ids[0], id, `${label}: tail id ${id} finds itself`);
      }
      // An allow-list of tail and graph ids: exactly the oracle's answer over them.
      const allow = [2002, 2010, 2500, 5, 17, 999];
      const want = oracle(metric, data.base, allIds, rowOf(data.queries, 0), 4, (id) => allow.includes(id) && live(id));
      assert.deepEqual(Array.from(index.search(rowOf(data.queries, 0), 4, { allow }).ids), want.ids, `${label}: allow-list`);
      // searchBatch agrees with search.
      const b = index.searchBatch(data.queries, 10, { threads: 1 });
      for (let q = 0; q < 5; q++) assert.deepEqual(Array.from(b.ids.subarray(q * 10, q * 10 + b.counts[q]!)), Array.from(index.search(rowOf(data.queries, q), 10).ids), `${label}: batch row ${q}`);
      const ids = new Set(index.ids());
      assert.equal(ids.size, index.size, `${label}: ids`);
    };
    check('before upkeep');
    let slices = 0;
    while (index.upkeep(0)) {
      if (++slices % 40 === 0) check(`slice ${slices}`);
    }
    assert.ok(slices > 50, `expected many slices, got ${slices}`);
    assert.equal(index.deferred, 0);
    assert.equal(inner.size, 2600 - gone.size);
    check('after upkeep');
  });
}

test('deferred index: an id cannot be in both parts; compact and saving link the tail first', () => {
  const inner = buildEmpty({ kind: 'hnsw' }, D, 'l2', 0);
  const index = new DeferredIndex(inner);
  index.add(idsOf(0, 100), part(0, 100));
  index.defer(idsOf(100, 150), part(100, 150));
  assert.throws(() => index.defer([5], part(5, 6)), /already/);
  assert.throws(() => index.defer([120], part(120, 121)), /already/);
  assert.throws(() => index.add([130], part(130, 131)), /already/);
  index.compact();
  assert.equal(index.deferred, 0);
  assert.equal(inner.size, 150);
});

test('deferred index: a collection answers moved records at once, and its snapshot holds every write (reopen, verify)', async () => {
  await withTempDir('omnivec-deferred-', async (dir) => {
    const db = await openDatabase(dir, { backgroundIndexing: true });
    const c = await db.createCollection({ name: 'c', dim: D, metric: 'l2', index: { kind: 'hnsw' } });
    await c.add({ ids: Array.from({ length: 2000 }, (_, i) => `r${i}`), vectors: part(0, 2000).data });
    // Upserts of 50 that move records to new slots (vectors from the unused rows).
    for (let round = 0; round < 8; round++) {
      const ids = Array.from({ length: 50 }, (_, j) => `r${round * 50 + j}`);
      const from = 2000 + round * 50;
      await c.upsert({ ids, vectors: part(from, from + 50).data });
      for (const j of [0, 27, 49]) {
        const got = await c.query({ vector: Array.from(rowOf(data.base, from + j)), k: 1 });
        assert.equal(got.ids[0], `r${round * 50 + j}`, `round ${round}: moved record found at once`);
      }
    }
    assert.ok(Number(c.indexStatus().memoryBytes) > 0);
    await c.flush();
    await db.close();
    const db2 = await openDatabase(dir);
    const c2 = await db2.getCollection('c');
    const report = await c2.verify();
    assert.deepEqual(report.problems, []);
    for (const [id, row] of [['r0', 2000], ['r399', 2399], ['r1999', 1999]] as const) {
      const got = await c2.query({ vector: Array.from(rowOf(data.base, row)), k: 1 });
      assert.equal(got.ids[0], id);
    }
    assert.equal(await c2.count(), 2000);
    await db2.close();
  });
});
