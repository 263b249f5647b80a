/**
 * Background upkeep (VectorIndex.backgroundUpkeep / upkeep): the reclaim pass run in slices gives
 * the graph the pass run at once gives, searches between slices return only live ids, and any
 * other change finishes a pass in progress first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusteredData, concat, oracle } from '../conformance.js';
import { serializeIndex } from '../registry.js';
import type { VectorBatch } from '../../vector/batch.js';
import { HnswIndex } from './hnsw-index.js';
import { SegmentedIndex } from '../segmented.js';
import { Random } from '../../vector/random.js';

const data = clusteredData(33, 3000, 40, 16, 20);
const ids = Uint32Array.from({ length: data.base.count }, (_, i) => i);
const rowOf = (b: VectorBatch, i: number): Float32Array => b.data.subarray(i * b.dim, (i + 1) * b.dim);
const removed = Uint32Array.from({ length: 600 }, (_, i) => (i * 7919) % 3000);

function build(background: boolean): HnswIndex {
  // Built the same way (a background index skips add()'s re-ordering), then the flag.
  const index = new HnswIndex({ dim: 16, seed: 5, threads: 1 });
  index.add(ids, data.base);
  index.backgroundUpkeep = background;
  return index;
}

test('hnsw upkeep: a reclaim pass in slices leaves the graph the pass at once leaves, byte for byte', () => {
  const atOnce = build(false);
  atOnce.remove(removed); // over the threshold: reclaimed inside remove()
  assert.equal(atOnce.stats().deletedPending ?? 0, 0);
  const sliced = build(true);
  sliced.remove(removed);
  assert.ok(Number(sliced.stats().deletedPending) > 0, 'background: remove() leaves the nodes to upkeep');
  let slices = 0;
  while (sliced.upkeep(0)) slices++; // deadline 0: one step per call
  assert.ok(slices > 10, `expected many slices, got ${slices}`);
  assert.equal(sliced.upkeep(0), false);
  assert.deepEqual(concat(serializeIndex(sliced)), concat(serializeIndex(atOnce)));
});

test('hnsw upkeep: searches between slices return live ids only, with recall; add and save finish the pass', () => {
  const index = build(true);
  index.remove(removed);
  const gone = new Set(removed);
  const live = (id: number): boolean => !gone.has(id);
  let hits = 0;
  let total = 0;
  let q = 0;
  while (index.upkeep(0)) {
    const query = rowOf(data.queries, q++ % data.queries.count);
    const want = new Set(oracle('l2', data.base, ids, query, 10, live).ids);
    const got = index.search(query, 10).ids;
    assert.equal(got.length, 10);
    for (const id of got) {
      assert.ok(live(id), `removed id ${id} returned between slices`);
      if (want.has(id)) hits++;
    }
    total += 10;
  }
  assert.ok(hits / total >= 0.95, `recall between slices ${hits / total}`);
  // A pass in progress is finished by add (the new node must not link to a node about to be freed).
  const again = build(true);
  again.remove(removed);
  for (let i = 0; i < 50; i++) again.upkeep(0);
  again.add([5000], { data: rowOf(data.base, removed[0]!), dim: 16, count: 1 });
  assert.equal(Number(again.stats().deletedPending ?? 0), 0, 'add finished the pass');
  assert.equal(again.upkeep(0), false);
  assert.deepEqual(Array.from(again.search(rowOf(data.base, removed[0]!), 1).ids), [5000]);
  // Saving mid-pass writes the finished graph.
  const saved = build(true);
  saved.remove(removed);
  for (let i = 0; i < 50; i++) saved.upkeep(0);
  const atOnce = build(false);
  atOnce.remove(removed);
  assert.deepEqual(concat(serializeIndex(saved)), concat(serializeIndex(atOnce)));
});

test('hnsw upkeep: a segmented index passes the flag to its segments, new ones included', () => {
  const index = new SegmentedIndex(new HnswIndex({ dim: 16, seed: 5, threads: 1 }), { segmentBytes: 64 * 1024 });
  index.backgroundUpkeep = true;
  index.add(ids, data.base);
  assert.ok(index.segmentCount > 1, `expected several segments, got ${index.segmentCount}`);
  for (const s of index.segments) assert.equal(s.backgroundUpkeep, true);
  index.remove(removed);
  assert.ok(index.segments.some((s) => Number(s.stats().deletedPending ?? 0) > 0));
  while (index.upkeep(performance.now() + 2));
  for (const s of index.segments) assert.ok(Number(s.stats().deletedPending ?? 0) <= Math.max(64, 0.1 * s.size), 'reclaimed down to the threshold');
});

test('hnsw upkeep: random adds, removes, slices and searches interleaved keep the graph sound (slots freed by a pass are reused safely)', () => {
  // Regression: a node removed while a pass ran kept links to the pass's batch; once those slots
  // were reused by adds, a search routed through it read a freed node's links.
  for (const seed of [1, 2, 3]) {
    const rng = new Random(seed);
    const D = 8;
    const index = new HnswIndex({ dim: D, m: 6, efConstruction: 40, threads: 1 });
    const live = new Set<number>();
    let next = 0;
    const add = (n: number): void => {
      const batch = new Float32Array(n * D).map(() => rng.gaussian());
      const ids = Uint32Array.from({ length: n }, () => next++);
      index.add(ids, { data: batch, dim: D, count: n });
      for (const id of ids) live.add(id);
    };
    add(1500);
    index.backgroundUpkeep = true;
    for (let step = 0; step < 4000; step++) {
      const r = rng.next();
      if (r < 0.1) add(1 + rng.int(40));
      else if (r < 0.3) {
        const arr = [...live];
        const rm: number[] = [];
        for (let i = 0; i < 1 + rng.int(30) && live.size > 50; i++) {
          const id = arr[rng.int(arr.length)]!;
          if (live.delete(id)) rm.push(id);
        }
        index.remove(rm);
      } else if (r < 0.8) index.upkeep(0);
      else {
        const q = new Float32Array(D).map(() => rng.gaussian());
        for (const id of index.search(q, 5).ids) assert.ok(live.has(id), `seed ${seed} step ${step}: removed id ${id} returned`);
      }
    }
    while (index.upkeep(0));
    assert.equal(index.size, live.size);
    const arr = [...live];
    for (let i = 0; i < 100; i++) {
      const id = arr[rng.int(arr.length)]!;
      assert.equal(index.search(index.getVector(id)!, 1).ids[0], id, `seed ${seed}: live id ${id} reachable`);
    }
  }
});
