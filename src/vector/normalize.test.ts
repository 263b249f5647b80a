import { test } from 'node:test';
import assert from 'node:assert/strict';
import { truncate, normalizeInPlace } from './normalize.js';
import { vectorBatch, checkBatch } from './batch.js';
import { parseMetric, userScore } from './metric.js';
import { OmnivecError } from '../errors.js';

test('Matryoshka truncation keeps a prefix and renormalises', () => {
  const b = vectorBatch(new Float32Array([3, 4, 12, 0, 0, 5, 0, 0]), 4);
  const t = truncate(b, 2);
  assert.equal(t.dim, 2);
  assert.deepEqual(Array.from(t.data).map((x) => +x.toFixed(6)), [0.6, 0.8, 0, 1]);
  assert.throws(() => truncate(b, 5), (e: unknown) => e instanceof OmnivecError && e.code === 'invalid_argument' && /1 to 4/.test(e.message));
});

test('normalise leaves a zero vector alone', () => {
  const v = new Float32Array(3);
  assert.equal(normalizeInPlace(v), 0);
  assert.deepEqual(Array.from(v), [0, 0, 0]);
});

test('batch checks name the offending row and component', () => {
  const b = vectorBatch(new Float32Array([1, 2, NaN, 4]), 2);
  assert.throws(() => checkBatch(b, 2), /row 1, component 0: expected a finite number, got NaN/);
  assert.throws(() => checkBatch(b, 3), (e: unknown) => e instanceof OmnivecError && e.code === 'dimension_mismatch');
  assert.throws(() => vectorBatch(new Float32Array(5), 2), /multiple of dim 2/);
  assert.throws(() => parseMetric('euclid'), /expected one of "l2", "ip", "cosine", got the string "euclid"/);
  assert.equal(userScore('cosine', 0.25), 0.75);
  assert.equal(userScore('l2', 4), 2);
});
