import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Random } from '../../vector/random.js';
import { WeightAverage } from './average.js';
import { applyInitialItems } from './model.js';
import { buildVocabulary } from './data.js';

test('WeightAverage: the exponential moving average of the steps, against a float64 reference; swap exchanges and restores', () => {
  const rng = new Random(3);
  const a = Float32Array.from({ length: 7 }, () => rng.gaussian());
  const b = Float32Array.from({ length: 3 }, () => rng.gaussian());
  const ref = [Float64Array.from(a), Float64Array.from(b)];
  const avg = new WeightAverage([a, b], 0.8);
  for (let step = 0; step < 20; step++) {
    for (const p of [a, b]) for (let i = 0; i < p.length; i++) p[i] = p[i]! + rng.gaussian() * 0.1;
    avg.update();
    [a, b].forEach((p, k) => { for (let i = 0; i < p.length; i++) ref[k]![i] = 0.8 * ref[k]![i]! + 0.2 * p[i]!; });
  }
  const live = [a.slice(), b.slice()];
  avg.swap();
  assert.equal(avg.swapped, true);
  [a, b].forEach((p, k) => { for (let i = 0; i < p.length; i++) assert.ok(Math.abs(p[i]! - ref[k]![i]!) < 1e-5, `${k}[${i}]: ${p[i]} vs ${ref[k]![i]}`); });
  avg.swap();
  assert.deepEqual([a, b], live);
});

test('applyInitialItems: rows copied by id (scaled to a norm when asked), unknown ids ignored, the rest untouched', () => {
  const vocab = buildVocabulary(new Map([['u', ['x', 'y', 'x', 'z']]])); // rows: x 0, y 1, z 2
  const table = new Float32Array(6).fill(9);
  const n = applyInitialItems(table, 2, vocab, { words: ['z', 'w', 'x'], dim: 2, vectors: Float32Array.from([3, 4, 1, 1, 0, 2]) }, 0);
  assert.equal(n, 2);
  assert.deepEqual([...table], [0, 2, 9, 9, 3, 4]);
  applyInitialItems(table, 2, vocab, { words: ['z'], dim: 2, vectors: Float32Array.from([3, 4]) }, 0.5);
  assert.deepEqual([...table.subarray(4)], [0.30000001192092896, 0.4000000059604645]);
});
