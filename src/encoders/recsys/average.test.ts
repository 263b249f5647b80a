import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Random } from '../../vector/random.js';
import { WeightAverage } from './average.js';
import { applyInitialItems } from './model.js';
import { buildVocabulary } from './data.js';

test('WeightAverage: the bias-corrected moving average of the steps, against a float64 reference; restore gives the live weights back', () => {
  const rng = new Random(3);
  const a = Float32Array.from({ length: 7 }, () => rng.gaussian());
  const b = Float32Array.from({ length: 3 }, () => rng.gaussian());
  const beta = 0.8;
  const num = [new Float64Array(7), new Float64Array(3)];
  let den = 0;
  const avg = new WeightAverage([a, b], beta);
  for (let step = 1; step <= 20; step++) {
    for (const p of [a, b]) for (let i = 0; i < p.length; i++) p[i] = p[i]! + rng.gaussian() * 0.1;
    avg.update();
    // Σ_s β^(t−s) p_s / Σ_s β^(t−s): the weighted mean of the visited weights.
    den = beta * den + 1;
    [a, b].forEach((p, k) => { for (let i = 0; i < p.length; i++) num[k]![i] = beta * num[k]![i]! + p[i]!; });
  }
  const live = [a.slice(), b.slice()];
  avg.apply();
  [a, b].forEach((p, k) => { for (let i = 0; i < p.length; i++) assert.ok(Math.abs(p[i]! - num[k]![i]! / den) < 1e-5, `${k}[${i}]: ${p[i]} vs ${num[k]![i]! / den}`); });
  avg.restore();
  assert.deepEqual([a, b], live);
  assert.equal(WeightAverage.decayFor(2.5, 400), 0.999);
  assert.equal(WeightAverage.decayFor(0, 400), 0);
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
