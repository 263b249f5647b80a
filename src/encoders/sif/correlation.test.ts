import { test } from 'node:test';
import assert from 'node:assert/strict';
import { averageRanks, pearson, spearman } from './correlation.js';
import { assertClose } from '../../../test/helpers/assertions.js';

test('averageRanks: ties share the mean of their ranks', () => {
  assert.deepEqual(Array.from(averageRanks([10, 20, 20, 5, 20])), [2, 4, 4, 1, 4]);
  assert.deepEqual(Array.from(averageRanks([3, 3])), [1.5, 1.5]);
});

test('pearson and spearman against scipy (values from scipy.stats 1.x)', () => {
  // With ties: scipy.stats.spearmanr / pearsonr on these lists.
  const x = [1, 2, 2, 3, 5, 5, 5, 8];
  const y = [2, 1, 4, 4, 3, 9, 9, 0];
  assertClose(spearman(x, y), 0.09318388040070494, 1e-12);
  assertClose(pearson(x, y), 0.09205746178983237, 1e-12);
  const u = [0.3, -1.2, 4.5, 2.2, 0.0, 7.1];
  const v = [1.0, 0.5, 3.0, 2.5, -1.0, 2.9];
  assertClose(spearman(u, v), 0.8857142857142858, 1e-12);
  assertClose(pearson(u, v), 0.8052617456205726, 1e-12);
});

test('pearson / spearman: perfect, reversed, monotone, constant, bad input', () => {
  assertClose(pearson([1, 2, 3], [2, 4, 6]), 1, 1e-12);
  assertClose(pearson([1, 2, 3], [3, 2, 1]), -1, 1e-12);
  assertClose(spearman([1, 2, 3, 4], [1, 8, 27, 64]), 1, 1e-12);
  assert.ok(Number.isNaN(pearson([1, 1, 1], [1, 2, 3])));
  assert.throws(() => pearson([1, 2], [1]), /y: expected 2 numbers \(as many as x\), got 1/);
  assert.throws(() => spearman([1], [1]), /x: expected at least 2 pairs to correlate, got 1/);
  assert.throws(() => pearson([1, NaN], [1, 2]), /x\[1\]: expected a finite number, got NaN/);
});
