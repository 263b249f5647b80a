import { test } from 'node:test';
import assert from 'node:assert/strict';
import { colbertScore, computeScores, denseScore, lexicalMatchingScore, DEFAULT_WEIGHTS } from './scores.js';

const lw = (pairs: [number, number][]): { indices: Uint32Array; values: Float32Array } =>
  ({ indices: Uint32Array.from(pairs, (p) => p[0]), values: Float32Array.from(pairs, (p) => p[1]) });
const mv = (rows: number[][]): { data: Float32Array; dim: number; count: number } =>
  ({ data: Float32Array.from(rows.flat()), dim: rows[0]?.length ?? 2, count: rows.length });

test('dense score: inner product', () => {
  assert.equal(denseScore(Float32Array.from([0.6, 0.8]), Float32Array.from([1, 0])), Math.fround(0.6));
  assert.throws(() => denseScore(new Float32Array(2), new Float32Array(3)), /expected equal lengths, got 2 and 3/);
});

test('lexical matching: sum over shared ids of w_q · w_p, by hand', () => {
  const q = lw([[5, 0.5], [9, 0.25], [40, 1]]);
  const p = lw([[1, 3], [9, 2], [40, 0.5], [41, 7]]);
  // shared 9 and 40: 0.25·2 + 1·0.5 = 1
  assert.equal(lexicalMatchingScore(q, p), 1);
  assert.equal(lexicalMatchingScore(p, q), 1);
  assert.equal(lexicalMatchingScore(q, lw([[6, 1]])), 0);
  assert.equal(lexicalMatchingScore(lw([]), p), 0);
});

test('colbert: mean over query vectors of the best inner product', () => {
  const q = mv([[1, 0], [0, 1], [0.6, 0.8]]);
  const p = mv([[0.8, 0.6], [0, -1]]);
  // q0: max(0.8, 0) = 0.8; q1: max(0.6, −1) = 0.6; q2: max(0.96, −0.8) = 0.96 → 2.36 / 3
  assert.ok(Math.abs(colbertScore(q, p) - 2.36 / 3) < 1e-6);
  assert.equal(colbertScore(mv([]), p), 0);
  assert.equal(colbertScore(q, { data: new Float32Array(0), dim: 2, count: 0 }), -Infinity);
  assert.throws(() => colbertScore(q, mv([[1, 0, 0]])), /expected equal dimensions, got 2 and 3/);
});

test('computeScores: the three scores and compute_score\'s weighted means', () => {
  const q = { dense: Float32Array.from([1, 0]), sparse: lw([[7, 2]]), colbert: mv([[1, 0]]) };
  const p = { dense: Float32Array.from([0.5, 0.5]), sparse: lw([[7, 0.25]]), colbert: mv([[0, 1], [0.5, 0.5]]) };
  const s = computeScores(q, p);
  assert.equal(s.dense, 0.5);
  assert.equal(s.sparse, 0.5);
  assert.equal(s.colbert, 0.5);
  assert.deepEqual(DEFAULT_WEIGHTS, [0.4, 0.2, 0.4]);
  assert.ok(Math.abs(s.colbertSparseDense - 0.5) < 1e-12);
  const t = computeScores(q, { ...p, sparse: lw([[7, 1]]) }, { weights: [1, 1, 1] });
  // dense 0.5, sparse 2, colbert 0.5: all (0.5 + 2 + 0.5) / 3 = 1; sparse+dense (0.5 + 2) / 2 = 1.25
  assert.equal(t.colbertSparseDense, 1);
  assert.equal(t.sparseDense, 1.25);
  const u = computeScores(q, p, { weights: [0.4, 0.2, 0.4] });
  assert.ok(Math.abs(u.sparseDense - (0.4 * 0.5 + 0.2 * 0.5) / 0.6) < 1e-12);
  assert.throws(() => computeScores(q, p, { weights: [1, -1, 1] }), /weights: expected \[dense, sparse, colbert\]/);
  assert.throws(() => computeScores({ dense: q.dense }, p), /expected sparse on both the query and the passage/);
});
