import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Random } from '../vector/random.js';
import { selectRecords, spreadSample } from './common.js';
import { rejectsCode, withDatabase } from '../../test/helpers/assertions.js';

const numbered = (n: number, prefix = 'doc-'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);

function shuffled<T>(a: readonly T[], seed: number): T[] {
  const rng = new Random(seed);
  const out = [...a];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

test('spreadSample: spread over the whole id range and over a pattern in the ids; in id order; the same for any input order', () => {
  const ids = numbered(10_000);
  const s = spreadSample(ids, 1000, 42);
  assert.equal(s.length, 1000);
  assert.equal(new Set(s).size, 1000, 'no id twice');
  assert.deepEqual(s, [...s].sort(), 'in id order');
  assert.ok(s.every((id) => ids.includes(id)));
  // Every tenth of the id range gets its share (100 each; binomial sd ≈ 9.5): not the first 1,000.
  const tenths = new Array<number>(10).fill(0);
  for (const id of s) tenths[Math.floor(Number(id.slice(4)) / 1000)]!++;
  assert.ok(tenths.every((k) => k >= 65 && k <= 135), `per tenth of the ids: ${tenths.join(', ')}`);
  // Records numbered in turn by class (class = number mod 4, as the explorer's topic fixture is):
  // an even stride of 4, 8, … would take one class only; the sample takes each about equally.
  const classes = new Array<number>(4).fill(0);
  for (const id of s) classes[Number(id.slice(4)) % 4]!++;
  assert.ok(classes.every((k) => k >= 190 && k <= 310), `per class: ${classes.join(', ')}`);

  assert.deepEqual(spreadSample(shuffled(ids, 1), 1000, 42), s, 'independent of the order the ids come in');
  const other = spreadSample(ids, 1000, 43);
  assert.ok(other.filter((id) => s.includes(id)).length < 300, 'another seed, another sample');
  assert.deepEqual(spreadSample(ids.slice(0, 50).reverse(), 80, 42), ids.slice(0, 50), 'no more ids than the size: all, in id order');
});

test('spreadSample: a growing collection keeps its sample (a new id displaces at most one chosen id)', () => {
  const ids = numbered(5000);
  const before = spreadSample(ids, 500, 7);
  const grown = [...ids, ...numbered(200, 'new-')];
  const after = new Set(spreadSample(grown, 500, 7));
  const kept = before.filter((id) => after.has(id)).length;
  const added = [...after].filter((id) => id.startsWith('new-')).length;
  assert.equal(kept, 500 - added, 'every chosen id that left made way for a new one');
  assert.ok(added > 5 && added < 45, `${added} of the 200 new ids chosen (about 200 × 500 / 5,200 ≈ 19)`);
});

test('selectRecords: sampling "spread" reads spreadSample\'s records with their vectors and says of how many; "first" (the tasks\' default) stays the first N', async () => {
  await withDatabase('omnivec-select-', async (db) => {
    const c = await db.createCollection({ name: 'pts', dim: 3 });
    const ids = numbered(600);
    const rng = new Random(5);
    const recs = shuffled(ids, 2).map((id) => ({ id, vector: [Number(id.slice(4)), rng.gaussian(), 1], metadata: { odd: Number(id.slice(4)) % 2 } }));
    await c.add(recs);

    const spread = await selectRecords(c, { sample: 100, sampling: 'spread', seed: 9 });
    assert.deepEqual(spread.ids, spreadSample(ids, 100, 9));
    assert.equal(spread.n, 100);
    assert.equal(spread.total, 600);
    spread.ids.forEach((id, i) => assert.equal(spread.vectors[i * 3], Number(id.slice(4)), `row ${i} is ${id}'s vector`));
    assert.ok(spread.ids.some((id) => Number(id.slice(4)) >= 500), 'records from the end of the id range too');
    assert.deepEqual((await selectRecords(c, { sample: 100, sampling: 'spread' })).ids, spreadSample(ids, 100, 42), 'seed 42 by default');

    const first = await selectRecords(c, { sample: 100 });
    assert.deepEqual(first.ids, ids.slice(0, 100), 'the default keeps the first N in id order');
    assert.equal(first.total, 600);

    const filtered = await selectRecords(c, { where: { odd: 1 }, sample: 50, sampling: 'spread', seed: 9 });
    assert.equal(filtered.total, 300);
    assert.deepEqual(filtered.ids, spreadSample(ids.filter((_, i) => i % 2 === 1), 50, 9), 'the filter first, then the sample');
    assert.equal((await selectRecords(c, { sample: 1000, sampling: 'spread' })).n, 600, 'a sample larger than the collection takes it all');

    await rejectsCode(selectRecords(c, { sampling: 'random' as 'first' }), 'invalid_argument', /sampling: expected "first" or "spread"/);
    await rejectsCode(selectRecords(c, { sampling: 'spread', seed: -1 }), 'invalid_argument', /seed: expected an integer from 0/);
  });
});

test('selectRecords without filter or sample (one read of everything) = the general path: ids in id order, vectors and metadatas with them', async () => {
  await withDatabase('omnivec-select-all-', async (db) => {
    const c = await db.createCollection({ name: 'all', dim: 3 });
    await rejectsCode(selectRecords(c), 'empty_index', /all: no records to work on \(the collection is empty\)/);
    const ids = shuffled(numbered(300, 'r-'), 5).concat(['B', 'a', 'é', '10', '9']);
    const vectors = Float32Array.from({ length: ids.length * 3 }, (_, i) => i * 0.5);
    await c.add({ ids, vectors, metadatas: ids.map((id, i) => (i % 3 === 0 ? null : { id, i })) });
    for (const metadatas of [false, true]) {
      const fast = await selectRecords(c, { metadatas });
      const general = await selectRecords(c, { metadatas, sample: 100_000 });
      assert.deepEqual(fast, general);
      assert.deepEqual(fast.ids, [...ids].sort());
      assert.equal(fast.total, ids.length);
      const at = ids.indexOf(fast.ids[7]!);
      assert.deepEqual(Array.from(fast.vectors.subarray(21, 24)), Array.from(vectors.subarray(at * 3, at * 3 + 3)));
    }
  });
});
