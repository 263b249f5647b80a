import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OmnivecError } from '../../errors.js';
import { KeyedVectors } from '../word2vec/keyed-vectors.js';
import { recommend } from './recommend.js';

/** Items on the unit circle at the given angles (degrees), with counts. */
function circle(items: Record<string, [number, number]>): KeyedVectors {
  const words = Object.keys(items);
  const v = new Float32Array(words.length * 2);
  const counts = new Float64Array(words.length);
  words.forEach((w, i) => {
    const [deg, count] = items[w]!;
    v[2 * i] = 3 * Math.cos((deg * Math.PI) / 180); // not unit length: recommend normalises
    v[2 * i + 1] = 3 * Math.sin((deg * Math.PI) / 180);
    counts[i] = count;
  });
  return new KeyedVectors(words, v, 2, counts);
}

const kv = circle({ a: [0, 50], b: [10, 40], c: [90, 30], d: [80, 20], e: [45, 10], f: [180, 5], g: [20, 2] });
const items = (r: { item: string }[]): string[] => r.map((x) => x.item);

test('recommend {item}: nearest by cosine, the item itself excluded, scores are cosines', () => {
  const r = recommend(kv, { item: 'a' }, { k: 3 });
  assert.deepEqual(items(r), ['b', 'g', 'e']);
  assert.ok(Math.abs(r[0]!.score - Math.cos(Math.PI / 18)) < 1e-6);
  assert.deepEqual(items(recommend(kv, { item: 'a' }, { k: 3, exclude: ['b', 'nope'] })), ['g', 'e', 'd']);
  assert.equal(recommend(kv, { item: 'a' }, { k: 100 }).length, 6, 'k beyond the vocabulary: every other item');
  assert.deepEqual(items(recommend(kv, { item: 'a' }, { k: 2, minCount: 10 })), ['b', 'e'], 'g (count 2) is below minCount');
});

test('recommend {history}: seen items excluded, recent and decay weight the latest items', () => {
  // Plain mean of a (0°) and c (90°) points at 45°: e first.
  assert.deepEqual(items(recommend(kv, { history: ['a', 'c'] }, { k: 2 })), ['e', 'g']);
  // Only the last item: c → d; the earlier ones are still excluded.
  assert.deepEqual(items(recommend(kv, { history: ['d', 'a', 'c'], recent: 1 }, { k: 2 })), ['e', 'g']);
  assert.deepEqual(items(recommend(kv, { history: ['a', 'c'], recent: 1 }, { k: 1 })), ['d']);
  assert.deepEqual(items(recommend(kv, { history: ['c', 'a'], recent: 1 }, { k: 1 })), ['b']);
  // A strong decay leans on the last item (c at 90°, weight 1; a at 0°, weight 0.1): d (80°) first.
  assert.deepEqual(items(recommend(kv, { history: ['a', 'c'], decay: 0.1 }, { k: 1 })), ['d']);
  assert.deepEqual(items(recommend(kv, { history: ['c', 'a'], decay: 0.1 }, { k: 1 })), ['b']);
  // The query is the normalised weighted mean: score of d = cos(angle between d and the query).
  const r = recommend(kv, { history: ['a', 'c'], decay: 0.5 }, { k: 1 });
  const qx = 0.5;
  const qy = 1;
  const cos = (qx * Math.cos((80 * Math.PI) / 180) + qy * Math.sin((80 * Math.PI) / 180)) / Math.hypot(qx, qy);
  assert.equal(r[0]!.item, 'd');
  assert.ok(Math.abs(r[0]!.score - cos) < 1e-6);
});

test('recommend: unknown history items are skipped; nothing known or an unknown item is not_found', () => {
  assert.deepEqual(items(recommend(kv, { history: ['zz', 'a', 'yy'], recent: 1 }, { k: 1 })), ['b'],
    'recent counts known items: the last known one is a');
  assert.throws(() => recommend(kv, { item: 'zz' }), (e: unknown) => e instanceof OmnivecError && e.code === 'not_found' && /"zz"/.test(e.message));
  assert.throws(() => recommend(kv, { history: ['zz', 'yy'] }), (e: unknown) => e instanceof OmnivecError && e.code === 'not_found' && /"yy"/.test(e.message));
});

test('recommend: bad arguments are invalid_argument', () => {
  const bad = (f: () => unknown, re: RegExp): void => {
    assert.throws(f, (e: unknown) => e instanceof OmnivecError && e.code === 'invalid_argument' && re.test(e.message));
  };
  bad(() => recommend(kv, { history: [] }), /history/);
  bad(() => recommend(kv, { item: 'a' }, { k: 0 }), /^k:/);
  bad(() => recommend(kv, { history: ['a'], recent: 0 }), /recent/);
  bad(() => recommend(kv, { history: ['a'], decay: 0 }), /decay/);
  bad(() => recommend(kv, { history: ['a'], decay: 1.5 }), /decay/);
  bad(() => recommend(kv, {} as never), /query/);
  const noCounts = new KeyedVectors(['x', 'y'], new Float32Array([1, 0, 0, 1]), 2);
  bad(() => recommend(noCounts, { item: 'x' }, { minCount: 5 }), /counts/);
  assert.deepEqual(items(recommend(noCounts, { item: 'x' })), ['y']);
});
