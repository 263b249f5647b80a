/**
 * Threaded IVF (docs/indexes/threads.md): training, add and batch search on several threads give
 * the single-thread index and answers bit for bit.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { clusteredData, concat, expectError, runConformance } from '../conformance.js';
import { serializeIndex } from '../registry.js';
import type { BatchSearchResult, SearchOptions } from '../types.js';
import { IdSet } from '../common.js';
import { parallelThresholds } from '../flat/flat-index.js';
import { IvfIndex } from './ivf-index.js';
import { kmeans } from './kmeans.js';

// Every threaded path on small data: share out whatever can be.
const saved = { ...parallelThresholds };
before(() => Object.assign(parallelThresholds, { minWork: 0, minPass: 0 }));
after(() => Object.assign(parallelThresholds, saved));

// The whole conformance suite with the list scans shared out (its 60-query batches are threaded
// at these thresholds; the flat index's need more than 64 queries, tested below instead).
runConformance('ivf, 2 threads', { create: (s) => new IvfIndex({ ...s, nList: 16, seed: 1, threads: 2 }), exact: true, exactOptions: { nProbe: 16 } });

/** Same counts, ids and distances (Object.is: bit-identical floats). */
function assertSameAnswers(a: BatchSearchResult, b: BatchSearchResult, what: string): void {
  assert.deepEqual(b.counts, a.counts, `${what}: counts`);
  assert.deepEqual(b.ids, a.ids, `${what}: ids`);
  for (let i = 0; i < a.distances.length; i++) {
    if (!Object.is(a.distances[i], b.distances[i])) assert.fail(`${what}: distance ${i}: ${a.distances[i]} vs ${b.distances[i]}`);
  }
}

const seq = (n: number): Uint32Array => Uint32Array.from({ length: n }, (_, i) => (i * 7919) % 100_003);

test('ivf: train and add on 2 threads build the byte-identical index; batch search answers as one thread', () => {
  const d = clusteredData(21, 3000, 150, 16);
  const ids = seq(d.base.count);
  for (const metric of ['l2', 'ip', 'cosine'] as const) {
    const one = new IvfIndex({ dim: 16, metric, nList: 48, iterations: 4, seed: 3, threads: 1 });
    one.train(d.base);
    one.add(ids, d.base);
    const two = new IvfIndex({ dim: 16, metric, nList: 48, iterations: 4, seed: 3, threads: 2 });
    two.train(d.base);
    two.add(ids.subarray(0, 2000), { ...d.base, data: d.base.data.subarray(0, 2000 * 16), count: 2000 });
    two.add(ids.subarray(2000), { ...d.base, data: d.base.data.subarray(2000 * 16), count: 1000 }, { threads: 3 });
    assert.deepEqual(concat(serializeIndex(two)), concat(serializeIndex(one)), `${metric}: the files`);
    for (const options of [{}, { nProbe: 48 }, { nProbe: 1 }]) {
      const want = one.searchBatch(d.queries, 10, options);
      assertSameAnswers(want, two.searchBatch(d.queries, 10, options), `${metric} ${JSON.stringify(options)}`);
      assertSameAnswers(want, one.searchBatch(d.queries, 10, { ...options, threads: 3 }), `${metric} ${JSON.stringify(options)}, 3 threads`);
    }
    // k beyond what one probed list holds: the unprobed lists are scanned too, on the workers as here.
    assertSameAnswers(one.searchBatch(d.queries, 150, { nProbe: 1 }), two.searchBatch(d.queries, 150, { nProbe: 1 }), `${metric}: k 150, nProbe 1`);
  }
});

test('ivf: the id mirror follows removals and adds; filters stay on the calling thread', () => {
  const d = clusteredData(22, 4000, 200, 16);
  const ids = seq(d.base.count);
  const index = new IvfIndex({ dim: 16, nList: 32, iterations: 3, threads: 2 });
  index.train(d.base);
  index.add(ids.subarray(0, 3000), { ...d.base, data: d.base.data.subarray(0, 3000 * 16), count: 3000 });
  const check = (what: string): void => assertSameAnswers(index.searchBatch(d.queries, 10, { threads: 1 }), index.searchBatch(d.queries, 10), what);
  check('first');
  index.remove(ids.subarray(0, 500));
  check('after remove');
  index.add(ids.subarray(3000), { ...d.base, data: d.base.data.subarray(3000 * 16), count: 1000 });
  check('after add');
  const filter = (id: number): boolean => id % 5 === 0;
  assertSameAnswers(index.searchBatch(d.queries, 10, { filter, threads: 1 }), index.searchBatch(d.queries, 10, { filter }), 'predicate');
  // A large allow-list goes to the workers as a mask over the id mirror (nProbe 1: the unprobed
  // lists are scanned too when the probed one has too few allowed ids); a small one is gathered here.
  const allow = new IdSet(ids.filter((id) => id % 3 === 0));
  const cases: [string, SearchOptions][] = [['large', { allow }], ['large, nProbe 1', { allow, nProbe: 1 }], ['small', { allow: Array.from(ids.subarray(3000, 3050)) }]];
  for (const [what, options] of cases) {
    assertSameAnswers(index.searchBatch(d.queries, 10, { ...options, threads: 1 }), index.searchBatch(d.queries, 10, options), `allow: ${what}`);
  }
});

test('kmeans: the seeding and the assignment on 2 threads give the same centroids', () => {
  const d = clusteredData(23, 3000, 0, 16, 40);
  for (const metric of ['l2', 'cosine'] as const) {
    const one = kmeans(d.base, 48, { metric, iterations: 6, seed: 5, threads: 1 });
    const two = kmeans(d.base, 48, { metric, iterations: 6, seed: 5, threads: 2 });
    assert.deepEqual(two, one, metric);
  }
  expectError(() => kmeans(d.base, 4, { metric: 'l2', threads: 0 }), 'invalid_argument', /threads/);
});

test('ivf: threads must be an integer ≥ 1 (constructor, setter, add, searchBatch)', () => {
  for (const bad of [0, -2, 2.5, '4', null]) expectError(() => new IvfIndex({ dim: 4, threads: bad as never }), 'invalid_argument', /threads/);
  const index = new IvfIndex({ dim: 4, nList: 1 });
  expectError(() => { index.threads = 1.5; }, 'invalid_argument', /threads/);
  index.threads = 1;
  assert.equal(index.threads, 1);
  const one = { data: new Float32Array(4), dim: 4, count: 1 };
  index.train(one);
  expectError(() => index.add([1], one, { threads: 0 }), 'invalid_argument', /threads/);
  assert.equal(index.size, 0);
  index.add([1], one);
  expectError(() => index.searchBatch(one, 1, { threads: -1 }), 'invalid_argument', /threads/);
});
