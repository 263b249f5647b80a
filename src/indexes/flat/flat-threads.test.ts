/** Threaded batch search of the flat index (docs/indexes/threads.md): the answers of one thread, bit for bit. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { BatchSearchResult } from '../types.js';
import { clusteredData, expectError } from '../conformance.js';
import { IdSet } from '../common.js';
import { poolSize } from '../../parallel/pool.js';
import { FlatIndex, parallelThresholds } from './flat-index.js';

// Every threaded path on small data: share out whatever can be.
const saved = { ...parallelThresholds };
before(() => Object.assign(parallelThresholds, { minWork: 0, minPass: 0 }));
after(() => Object.assign(parallelThresholds, saved));

/** Same counts, ids and distances (Object.is: bit-identical floats, Infinity padding included). */
function assertSameAnswers(a: BatchSearchResult, b: BatchSearchResult, what: string): void {
  assert.deepEqual(b.counts, a.counts, `${what}: counts`);
  assert.deepEqual(b.ids, a.ids, `${what}: ids`);
  for (let i = 0; i < a.distances.length; i++) {
    if (!Object.is(a.distances[i], b.distances[i])) assert.fail(`${what}: distance ${i}: ${a.distances[i]} vs ${b.distances[i]}`);
  }
}

test('flat: threaded searchBatch gives the single-thread answers bit for bit (every metric, odd batch sizes, several rounds)', () => {
  const d = clusteredData(11, 1500, 333, 24);
  const ids = Uint32Array.from({ length: d.base.count }, (_, i) => (i * 7919) % 100_003); // not in slot order: ties break by id
  for (const metric of ['l2', 'ip', 'cosine'] as const) {
    const index = new FlatIndex({ dim: 24, metric, threads: 1 });
    index.add(ids, d.base);
    const one = index.searchBatch(d.queries, 10);
    for (const threads of [2, 3]) assertSameAnswers(one, index.searchBatch(d.queries, 10, { threads }), `${metric}, ${threads} threads`);
    index.threads = 2;
    assertSameAnswers(one, index.searchBatch(d.queries, 10), `${metric}, index.threads = 2`);
    assertSameAnswers(index.searchBatch(d.queries, 200, { threads: 1 }), index.searchBatch(d.queries, 200), `${metric}, k 200`);
  }
  assert.ok(poolSize() >= 1, 'the workers ran');
  // Wide vectors: 1 100 queries of 1 024 floats are two rounds of 4 MiB.
  const wide = clusteredData(12, 400, 1100, 1024);
  const index = new FlatIndex({ dim: 1024, threads: 1 });
  index.add(Uint32Array.from({ length: 400 }, (_, i) => i), wide.base);
  assertSameAnswers(index.searchBatch(wide.queries, 5), index.searchBatch(wide.queries, 5, { threads: 2 }), 'two rounds');
  // After removals (the id mirror is rebuilt), with a predicate (stays on this thread) or an allow-list.
  index.remove([0, 17, 399]);
  assertSameAnswers(index.searchBatch(wide.queries, 5), index.searchBatch(wide.queries, 5, { threads: 2 }), 'after remove');
  const filter = (id: number): boolean => id % 3 !== 0;
  assertSameAnswers(index.searchBatch(wide.queries, 5, { filter }), index.searchBatch(wide.queries, 5, { filter, threads: 2 }), 'predicate');
  // A large allow-list goes to the workers as a mask over the slots; a small one is gathered here.
  for (const allow of [Array.from({ length: 300 }, (_, i) => i + 50), new IdSet([1, 2, 3, 398, 5000])]) {
    assertSameAnswers(index.searchBatch(wide.queries, 5, { allow }), index.searchBatch(wide.queries, 5, { allow, threads: 2 }), 'allow');
  }
  const before = index.stats().memoryBytes;
  index.searchBatch(wide.queries, 5, { threads: 2 });
  assert.equal(index.stats().memoryBytes, before, 'the round scratch is reused, not grown again');
});

test('flat: threads must be an integer ≥ 1 (constructor, setter, call)', () => {
  for (const bad of [0, -1, 1.5, NaN, '2', null]) {
    expectError(() => new FlatIndex({ dim: 4, threads: bad as never }), 'invalid_argument', /threads/);
  }
  const index = new FlatIndex({ dim: 4 });
  assert.ok(index.threads >= 1, 'default: the available cores');
  expectError(() => { index.threads = 0; }, 'invalid_argument', /threads/);
  index.add([1], { data: new Float32Array(4), dim: 4, count: 1 });
  expectError(() => index.searchBatch({ data: new Float32Array(4), dim: 4, count: 1 }, 1, { threads: 0 }), 'invalid_argument', /threads/);
  expectError(() => index.add([2], { data: new Float32Array(4), dim: 4, count: 1 }, { threads: 2.5 }), 'invalid_argument', /threads/);
  assert.equal(index.size, 1, 'a refused add adds nothing');
});
