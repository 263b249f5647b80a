import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Random } from '../../vector/random.js';
import { OmnivecError } from '../../errors.js';
import {
  checkSparseVector, parseSparse, SparseIndex, sparseDot, TermDictionary, type SparseVector,
} from './sparse-index.js';

/** Stands in for indexes/common.ts's IdSet: a Set that also carries its ids as a sorted Uint32Array. */
class ListSet extends Set<number> {
  readonly list: Uint32Array;
  constructor(ids: number[]) {
    super(ids);
    this.list = Uint32Array.from(this).sort();
  }
}

function sv(terms: number[], weights: number[]): SparseVector {
  return { terms: Uint32Array.from(terms), weights: Float32Array.from(weights) };
}

const f = Math.fround;

function plainResult(r: { ids: Uint32Array; scores: Float32Array }): { ids: number[]; scores: number[] } {
  return { ids: Array.from(r.ids), scores: Array.from(r.scores) };
}

function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof OmnivecError, `expected an OmnivecError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (message) assert.match(e.message, message);
    return true;
  });
}

/** Term sampler with Zipf-like frequencies: P(term r) ∝ 1 / (r + 1)^s. */
function zipf(vocab: number, s: number): (rng: Random) => number {
  const cdf = new Float64Array(vocab);
  let total = 0;
  for (let r = 0; r < vocab; r++) cdf[r] = total += 1 / Math.pow(r + 1, s);
  return (rng) => {
    const x = rng.next() * total;
    let lo = 0, hi = vocab - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

function randomSparse(rng: Random, draw: (rng: Random) => number, minNnz: number, maxNnz: number, negative = 0): SparseVector {
  const nnz = minNnz + rng.int(maxNnz - minNnz + 1);
  const terms = new Set<number>();
  for (let tries = 0; terms.size < nnz && tries < nnz * 20; tries++) terms.add(draw(rng));
  const t = Uint32Array.from(terms).sort();
  const w = new Float32Array(t.length);
  for (let i = 0; i < w.length; i++) {
    w[i] = (0.01 + rng.next()) * (rng.next() < negative ? -1 : 1);
    // A few coarse weights so exact score ties occur.
    if (rng.next() < 0.3) w[i] = Math.sign(w[i]!) * (1 + rng.int(3)) / 4;
  }
  return { terms: t, weights: w };
}

/** Brute force: every live record sharing a term with the query, by float32 score desc, slot asc. */
function oracle(docs: Map<number, SparseVector>, q: SparseVector, k: number, allow?: (slot: number) => boolean): { ids: number[]; scores: number[] } {
  const qs = new Set(q.terms);
  const hits: [number, number][] = [];
  for (const [slot, v] of docs) {
    if (allow && !allow(slot)) continue;
    if (!Array.from(v.terms).some((t) => qs.has(t))) continue;
    hits.push([slot, sparseDot(q, v)]);
  }
  hits.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const top = hits.slice(0, k);
  return { ids: top.map((h) => h[0]), scores: top.map((h) => h[1]) };
}

function check(index: SparseIndex, docs: Map<number, SparseVector>, q: SparseVector, k: number, allow?: ReadonlySet<number> | ((slot: number) => boolean)): number {
  const got = index.search(q, k, allow === undefined ? undefined : { allow });
  const pred = allow === undefined ? undefined : typeof allow === 'function' ? allow : (s: number) => allow.has(s);
  const want = oracle(docs, q, k, pred);
  assert.deepEqual(Array.from(got.ids), want.ids);
  assert.deepEqual(Array.from(got.scores), want.scores);
  return got.ids.length;
}

test('TermDictionary: dense ids, lookup, JSON round trip', () => {
  const d = new TermDictionary();
  assert.equal(d.id('9064'), 0);
  assert.equal(d.id('hello'), 1);
  assert.equal(d.id('9064'), 0);
  assert.equal(d.lookup('hello'), 1);
  assert.equal(d.lookup('nope'), undefined);
  assert.equal(d.token(1), 'hello');
  assert.equal(d.size, 2);
  const back = TermDictionary.fromJSON(JSON.parse(JSON.stringify(d)));
  assert.equal(back.size, 2);
  assert.equal(back.lookup('9064'), 0);
  assert.equal(back.lookup('hello'), 1);
  assert.equal(back.id('new'), 2);
  throwsCode(() => TermDictionary.fromJSON(['a']), 'invalid_argument', /tokens/);
  throwsCode(() => TermDictionary.fromJSON({ tokens: ['a', 3] }), 'invalid_argument', /tokens\[1\]/);
  throwsCode(() => TermDictionary.fromJSON({ tokens: ['a', 'b', 'a'] }), 'invalid_argument', /tokens\[2\].*twice/);
});

test('parseSparse: both shapes, shared terms, zero weights dropped, sorted', () => {
  const d = new TermDictionary();
  d.id('z'); // id 0
  const a = parseSparse({ world: 0.5, '9064': 1.25, z: 0, hello: -2 }, d, 'sparse', true);
  // Integer-like keys come first in a JS object: ids 9064 → 1, world → 2, hello → 3 (z: weight 0).
  assert.deepEqual(Array.from(a.terms), [1, 2, 3]);
  assert.deepEqual(Array.from(a.weights), [1.25, 0.5, -2]);
  const b = parseSparse({ indices: [9064, 7, 5], values: [2, 0, 3] }, d, 'sparse', true);
  // 9064 is the term of key "9064"; 7 dropped (zero); 5 is new (id 4).
  assert.deepEqual(Array.from(b.terms), [1, 4]);
  assert.deepEqual(Array.from(b.weights), [2, 3]);
  assert.equal(sparseDot(a, b), 2.5);
  const c = parseSparse({ indices: Uint32Array.of(5, 9064), values: Float64Array.of(1, 1) }, d, 'q', false);
  assert.deepEqual(Array.from(c.terms), [1, 4]);
  // Queries drop unknown tokens and do not grow the dictionary.
  const size = d.size;
  const q = parseSparse({ unknown: 1, hello: 3, another: 2 }, d, 'query', false);
  assert.deepEqual(Array.from(q.terms), [3]);
  assert.equal(d.size, size);
  assert.deepEqual(Array.from(parseSparse({}, d, 'q', false).terms), []);
  // "indices"/"values" holding numbers are ordinary tokens.
  const t = parseSparse({ indices: 0.5, values: 2 }, d, 'q', true);
  assert.equal(t.terms.length, 2);
  assert.equal(d.token(t.terms[0]!), 'indices');
  // Weights that round to zero in float32 are dropped; weights are stored as float32.
  const tiny = parseSparse({ a: 1e-50, b: 0.1 }, d, 'q', true);
  assert.equal(tiny.terms.length, 1);
  assert.equal(tiny.weights[0], Math.fround(0.1));
  // Null-prototype objects are fine.
  const np = Object.assign(Object.create(null) as Record<string, number>, { hello: 1 });
  assert.deepEqual(Array.from(parseSparse(np, d, 'q', false).terms), [3]);
  checkSparseVector(a, 'a');
});

test('parseSparse: refusals name the place', () => {
  const d = new TermDictionary();
  const bad: [unknown, RegExp][] = [
    [null, /^sparse: expected an object of token weights.*got null/],
    [[1, 2], /^sparse: expected .*got an array of length 2/],
    [Float32Array.of(1), /^sparse: expected .*Float32Array/],
    ['a', /^sparse: expected .*the string "a"/],
    [new Map([['a', 1]]), /^sparse: expected .*instance of Map/],
    [{ a: 1, b: NaN }, /^sparse\["b"\]: expected a finite number, got NaN/],
    [{ a: Infinity }, /^sparse\["a"\]: expected a finite number/],
    [{ a: '1' }, /^sparse\["a"\]: expected a finite number, got the string "1"/],
    [{ a: 1e39 }, /^sparse\["a"\]: expected a number within float32 range/],
    [{ indices: [1, 2], values: [1] }, /^sparse: expected as many values as indices \(2\), got 1/],
    [{ indices: [1, 2] }, /^sparse\.values: expected an array of numbers, got undefined/],
    [{ values: [1] }, /^sparse\.indices: expected an array of integers, got undefined/],
    [{ indices: 'ab', values: [1] }, /^sparse\.indices: expected an array/],
    [{ indices: [1], values: [1], extra: 1 }, /^sparse: expected only the keys "indices" and "values", got also "extra"/],
    [{ indices: [1, -1], values: [1, 1] }, /^sparse\.indices\[1\]: expected a non-negative integer, got the number -1/],
    [{ indices: [1.5], values: [1] }, /^sparse\.indices\[0\]: expected a non-negative integer/],
    [{ indices: [3, 4, 3], values: [1, 1, 1] }, /^sparse\.indices\[2\]: expected unique indices, got 3 a second time/],
    [{ indices: [3, 4], values: [1, null] }, /^sparse\.values\[1\]: expected a finite number, got null/],
  ];
  for (const [value, re] of bad) throwsCode(() => parseSparse(value, d, 'sparse', true), 'invalid_argument', re);
  assert.equal(d.size, 0, 'a refused value adds no terms');
});

test('checkSparseVector refuses malformed vectors', () => {
  throwsCode(() => checkSparseVector({ terms: [1], weights: [1] }, 'v'), 'invalid_argument', /^v: expected a SparseVector/);
  throwsCode(() => checkSparseVector(sv([1, 2], [1]), 'v'), 'invalid_argument', /as many weights/);
  throwsCode(() => checkSparseVector(sv([2, 1], [1, 1]), 'v'), 'invalid_argument', /^v\.terms\[1\]: expected term ids ascending/);
  throwsCode(() => checkSparseVector(sv([1, 1], [1, 1]), 'v'), 'invalid_argument', /^v\.terms\[1\]/);
  throwsCode(() => checkSparseVector(sv([1, 2], [1, 0]), 'v'), 'invalid_argument', /^v\.weights\[1\]: expected a finite non-zero number, got 0/);
  throwsCode(() => checkSparseVector(sv([1], [NaN]), 'v'), 'invalid_argument', /^v\.weights\[0\]/);
});

test('sparseDot matches a naive sum (merge and binary-search paths)', () => {
  const rng = new Random(3);
  const draw = zipf(500, 1);
  for (let i = 0; i < 300; i++) {
    const a = randomSparse(rng, draw, 0, 40, 0.3);
    const b = randomSparse(rng, draw, 0, i % 3 === 0 ? 3 : 120, 0.3);
    const m = new Map<number, number>();
    a.terms.forEach((t, j) => m.set(t, a.weights[j]!));
    let s = 0;
    let f32 = 0;
    let abs = 0;
    b.terms.forEach((t, j) => {
      if (!m.has(t)) return;
      s += m.get(t)! * b.weights[j]!;
      f32 = Math.fround(f32 + m.get(t)! * b.weights[j]!);
      abs += Math.abs(m.get(t)! * b.weights[j]!);
    });
    assert.equal(sparseDot(a, b), f32);
    assert.ok(Math.abs(sparseDot(a, b) - s) <= 1e-6 * abs);
    assert.equal(sparseDot(a, b), sparseDot(b, a));
  }
});

test('SparseIndex: basics, refusals, overlap rule', () => {
  const index = new SparseIndex();
  index.add(10, sv([1, 2], [1, 2]));
  index.add(3, sv([2, 5], [1, 1]));
  index.add(0xfffffffe, sv([5], [4]));
  index.add(7, sv([], [])); // held, never matches
  index.add(8, sv([1, 9], [-1, 1])); // shares term 1, score -1 with q below
  index.add(9, sv([1, 2], [2, -1])); // shares terms 1 and 2, products cancel to 0
  assert.equal(index.size, 6);
  assert.ok(index.has(7) && index.has(0xfffffffe) && !index.has(4));
  throwsCode(() => index.add(3, sv([1], [1])), 'already_exists', /slot 3/);
  throwsCode(() => index.add(-1, sv([1], [1])), 'invalid_argument', /^slot: expected an integer from 0 to 4294967294, got the number -1/);
  throwsCode(() => index.add(0xffffffff, sv([1], [1])), 'invalid_argument', /^slot/);
  throwsCode(() => index.add(1.5, sv([1], [1])), 'invalid_argument', /^slot/);
  throwsCode(() => index.add(4, sv([2, 1], [1, 1])), 'invalid_argument', /^sparse vector\.terms\[1\]/);
  assert.equal(index.size, 6, 'refused adds change nothing');
  throwsCode(() => index.search(sv([1], [1]), 0), 'invalid_argument', /^k:/);
  throwsCode(() => index.search(sv([1], [0]), 1), 'invalid_argument', /^query\.weights\[0\]/);
  throwsCode(() => index.search(sv([1], [1]), 1, { allow: [1, 2] as unknown as Set<number> }), 'invalid_argument', /^allow:/);

  const q = sv([1, 2, 5], [1, 2, 1]);
  const r = index.search(q, 10);
  // 10: 1+4 = 5; 3: 2+1 = 3; max: 4; 9: 2-2 = 0; 8: -1
  assert.deepEqual(Array.from(r.ids), [10, 0xfffffffe, 3, 9, 8]);
  assert.deepEqual(Array.from(r.scores), [5, 4, 3, 0, -1]);
  assert.deepEqual(Array.from(index.search(q, 2).ids), [10, 0xfffffffe]);
  assert.deepEqual(Array.from(index.search(sv([77], [1]), 5).ids), []);
  assert.deepEqual(Array.from(index.search(sv([], []), 5).ids), []);
  assert.deepEqual(Array.from(index.search(q, 10, { allow: new Set([3, 8, 7]) }).ids), [3, 8]);
  assert.deepEqual(Array.from(index.search(q, 10, { allow: new Set() }).ids), []);
  assert.deepEqual(Array.from(index.search(q, 1, { allow: (s) => s < 9 }).ids), [3]);
  assert.deepEqual(Array.from(index.slots()), [3, 7, 8, 9, 10, 0xfffffffe]);

  // Products too small for float32 score 0, yet the records share a term: still returned.
  const tiny = new SparseIndex();
  tiny.add(1, sv([3], [1e-30]));
  tiny.add(2, sv([3, 4], [1, 1]));
  tiny.add(3, sv([4], [1]));
  assert.deepEqual(plainResult(tiny.search(sv([3], [1e-30]), 10)), { ids: [2, 1], scores: [f(1e-30), 0] });
  assert.deepEqual(plainResult(tiny.search(sv([3], [1]), 10)), { ids: [2, 1], scores: [1, f(1e-30)] });

  // Ties: equal scores come back by ascending slot, also at the k boundary.
  const t = new SparseIndex();
  for (const slot of [50, 20, 40, 10, 30]) t.add(slot, sv([1], [2]));
  t.add(60, sv([1], [3]));
  assert.deepEqual(Array.from(t.search(sv([1], [1]), 3).ids), [60, 10, 20]);
  assert.deepEqual(Array.from(t.search(sv([1], [1]), 10).ids), [60, 10, 20, 30, 40, 50]);

  // A throwing predicate leaves nothing behind for the next search.
  for (const kk of [1, 10]) {
    assert.throws(() => index.search(q, kk, { allow: () => { throw new Error('boom'); } }), /boom/);
    assert.deepEqual(plainResult(index.search(q, 10)), { ids: [10, 0xfffffffe, 3, 9, 8], scores: [5, 4, 3, 0, -1] });
  }
  const wide = new SparseIndex();
  for (let s = 0; s < 100; s++) wide.add(s, sv([s % 3], [1 + (s % 5)]));
  const few = { size: 2, has: () => true, *[Symbol.iterator]() { yield 1; throw new Error('bad set'); } } as unknown as ReadonlySet<number>;
  assert.throws(() => wide.search(sv([0, 1], [1, 1]), 5, { allow: few }), /bad set/);
  assert.deepEqual(Array.from(wide.search(sv([1], [1]), 3).ids), [4, 19, 34]);
  assert.deepEqual(Array.from(wide.search(sv([1], [1]), 3).scores), [5, 5, 5]);

  assert.equal(index.remove(4), false);
  assert.equal(index.remove(10), true);
  assert.equal(index.remove(10), false);
  assert.ok(!index.has(10));
  assert.deepEqual(Array.from(index.search(q, 10).ids), [0xfffffffe, 3, 9, 8]);
  index.add(10, sv([5], [0.5])); // re-add with a different vector
  const r2 = index.search(q, 10);
  assert.deepEqual(Array.from(r2.ids), [0xfffffffe, 3, 10, 9, 8]);
  assert.deepEqual(Array.from(r2.scores), [4, 3, 0, 0.5, -1].sort((a, b) => b - a));
  const st = index.stats();
  assert.equal(st.size, 6);
  assert.equal(st.postings, 2 + 1 + 0 + 2 + 2 + 1);
  assert.ok(st.memoryBytes > 0);
});

test('SparseIndex agrees with brute force: 5,000 Zipf docs, removes, re-adds, filters', () => {
  const rng = new Random(11);
  const draw = zipf(2000, 1.07);
  const index = new SparseIndex();
  const docs = new Map<number, SparseVector>();
  // Slots dense with gaps, inserted in shuffled order.
  const slots = rng.shuffle(Array.from({ length: 5000 }, (_, i) => i + (i >> 4) * 3));
  for (const s of slots) {
    const v = randomSparse(rng, draw, 1, 60);
    index.add(s, v);
    docs.set(s, v);
  }
  assert.equal(index.size, 5000);
  const queries = Array.from({ length: 40 }, (_, i) => randomSparse(rng, draw, 1, i % 4 === 0 ? 3 : 30, 0.1));
  // Rare terms only: short posting lists (the index lists touched documents instead of scanning all).
  const rare = (r: Random): number => 600 + r.int(1400);
  queries.push(...Array.from({ length: 20 }, () => randomSparse(rng, rare, 1, 6, 0.1)));
  let returned = 0;
  const round = (label: string): void => {
    for (const [i, q] of queries.entries()) {
      const k = [1, 10, 100, 100000][i % 4]!;
      returned += check(index, docs, q, k);
    }
    const st = index.stats();
    let postings = 0;
    for (const v of docs.values()) postings += v.terms.length;
    assert.equal(st.size, docs.size, label);
    assert.equal(st.postings, postings, label);
    assert.deepEqual(Array.from(index.slots()), [...docs.keys()].sort((a, b) => a - b), label);
  };
  round('after adds');

  // Remove 40 % in several waves (crossing the purge threshold more than once), re-adding some
  // slots with new vectors in between, as the database's sync does for upserts.
  for (let wave = 0; wave < 4; wave++) {
    const live = [...docs.keys()];
    rng.shuffle(live);
    for (const s of live.slice(0, 500)) {
      assert.equal(index.remove(s), true);
      docs.delete(s);
    }
    for (const s of live.slice(0, 150)) {
      const v = randomSparse(rng, draw, 1, 60);
      index.add(s, v);
      docs.set(s, v);
    }
    // Upsert pattern: remove and re-add at once.
    for (const s of live.slice(600, 700)) {
      index.remove(s);
      const v = randomSparse(rng, draw, 0, 40);
      index.add(s, v);
      docs.set(s, v);
    }
    round(`wave ${wave}`);
  }
  // New slots beyond the old range.
  for (let s = 100000; s < 100300; s++) {
    const v = randomSparse(rng, draw, 1, 30);
    index.add(s, v);
    docs.set(s, v);
  }
  round('after new slots');

  // Filters: a random Set, a ListSet (IdSet-like), a predicate, a set mostly of absent slots.
  const live = [...docs.keys()];
  const some = new Set(live.filter(() => rng.next() < 0.1));
  const idset = new ListSet(live.filter(() => rng.next() < 0.02));
  const absent = new Set([...Array.from({ length: 50 }, (_, i) => 200000 + i), live[0]!, live[1]!]);
  for (const [i, q] of queries.entries()) {
    const k = [1, 10, 100, 100000][i % 4]!;
    check(index, docs, q, k, some);
    check(index, docs, q, k, idset);
    check(index, docs, q, k, (s) => s % 3 === 0);
    check(index, docs, q, k, absent);
  }
  assert.ok(returned > 10000, `searches returned ${returned} hits in all`);

  // Remove everything: nothing matches; the index works again afterwards.
  for (const s of live) index.remove(s);
  docs.clear();
  assert.equal(index.size, 0);
  assert.equal(index.stats().postings, 0);
  assert.equal(index.stats().terms, 0);
  for (const q of queries) assert.equal(index.search(q, 10).ids.length, 0);
  const v = sv([1, 2], [1, 1]);
  index.add(5, v);
  docs.set(5, v);
  check(index, docs, sv([2], [3]), 10);
});

test('SparseIndex agrees with brute force under random interleaved adds, removes and searches', () => {
  const rng = new Random(12);
  const draw = zipf(300, 1.2);
  const index = new SparseIndex();
  const docs = new Map<number, SparseVector>();
  let checks = 0;
  for (let op = 0; op < 20000; op++) {
    const r = rng.next();
    const slot = rng.int(3000);
    if (r < 0.55) {
      const v = randomSparse(rng, draw, 0, 20);
      if (docs.has(slot)) {
        throwsCode(() => index.add(slot, v), 'already_exists');
      } else {
        index.add(slot, v);
        docs.set(slot, v);
      }
    } else if (r < 0.95) {
      assert.equal(index.remove(slot), docs.delete(slot));
    } else {
      const q = randomSparse(rng, draw, 1, 8, 0.2);
      const k = 1 + rng.int(40);
      check(index, docs, q, k);
      if (rng.next() < 0.5) check(index, docs, q, k, new Set([...docs.keys()].filter(() => rng.next() < 0.05)));
      checks++;
    }
    assert.equal(index.size, docs.size);
  }
  let postings = 0;
  for (const v of docs.values()) postings += v.terms.length;
  assert.equal(index.stats().postings, postings);
  assert.ok(checks > 500);
});
