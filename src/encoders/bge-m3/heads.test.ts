import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  colbertFromOutput, colbertHead, denseFromOutput, denseHead, headOutput, lexicalTokens, lexicalWeights,
  tokenWeights, tokenWeightsFromOutput, type TokenBatch,
} from './heads.js';
import type { Linear } from './weights.js';
import { assertClose } from '../../../test/helpers/assertions.js';

// Two rows, T = 4, H = 2. Ids: <s>=0, <pad>=1, </s>=2, <unk>=3 (XLM-R's specials).
// Row 0: <s> 10 10 </s>  (length 4; the word 10 twice)
// Row 1: <s> 3 </s> <pad> (length 3; an unknown token)
const batch: TokenBatch = {
  states: Float32Array.from([
    3, 4, 1, 0, 2, 0, 0, -1,
    0, 2, 1, 1, -1, 1, 9, 9,
  ]),
  dims: [2, 4, 2],
  inputIds: Int32Array.from([0, 10, 10, 2, 0, 3, 2, 1]),
  lengths: Int32Array.from([4, 3]),
};
const special = new Set([0, 1, 2, 3]);
// sparse: w = relu(x0 − x1 − 0.5)
const sparse: Linear = { weight: Float32Array.from([1, -1]), bias: Float32Array.from([-0.5]), inDim: 2, outDim: 1 };
// colbert: D = 2, y = [x0 + x1, x0 − x1] + [0, 1]
const colbert: Linear = { weight: Float32Array.from([1, 1, 1, -1]), bias: Float32Array.from([0, 1]), inDim: 2, outDim: 2 };

test('dense: the first token state, normalised', () => {
  const [a, b] = denseHead(batch);
  assertClose(a!, [0.6, 0.8]);
  assertClose(b!, [0, 1]);
});

test('sparse: relu per token, max per id, special ids and padding dropped, ids ascending', () => {
  const w = tokenWeights(batch, sparse);
  // row 0: <s> relu(3−4−.5)=0, 10: .5, 10: 1.5, </s>: .5 ; row 1: <s> 0, <unk>: 0 → relu(-.5)=0, </s>: 0, pad: not computed
  assertClose(w, [0, 0.5, 1.5, 0.5, 0, 0, 0, 0]);
  const [l0, l1] = lexicalWeights(w, batch, special);
  assert.deepEqual(Array.from(l0!.indices), [10]);
  assertClose(l0!.values, [1.5]);
  assert.equal(l1!.indices.length, 0);
  // An id that is special only by the caller's set: with an empty set, </s> (2) is kept.
  const all = lexicalWeights(w, batch, new Set());
  assert.deepEqual(Array.from(all[0]!.indices), [2, 10]);
  assert.deepEqual(lexicalTokens(l0!, (id) => `tok${id}`), { tok10: 1.5 });
});

test('colbert: tokens 1 … length − 1 (the final </s> kept, padding not), each normalised', () => {
  const [c0, c1] = colbertHead(batch, colbert);
  assert.equal(c0!.count, 3);
  assert.equal(c1!.count, 2);
  const n = (x: number, y: number): number[] => { const r = Math.hypot(x, y); return [x / r, y / r]; };
  // row 0 tokens 1..3: (1,0) → (1, 2); (2,0) → (2, 3); (0,−1) → (−1, 2)
  assertClose(c0!.data, [...n(1, 2), ...n(2, 3), ...n(-1, 2)]);
  // row 1 tokens 1..2: (1,1) → (2, 1); (−1,1) → (0, −1)
  assertClose(c1!.data, [...n(2, 1), 0, -1]);
});

test('heads from graph outputs: names, shapes and layouts', () => {
  const outputs = {
    dense_vecs: { data: Float32Array.from([1, 0, 0, 2]), dims: [2, 2], type: 'float32' },
    sparse_weights: { data: Float32Array.from([0, 0.5, 1.5, 0.5, 0, 0, 0, 0]), dims: [2, 4, 1], type: 'float32' },
    colbert_vecs: { data: Float32Array.from({ length: 2 * 3 * 2 }, (_, i) => (i % 2 === 0 ? i : 0)), dims: [2, 3, 2], type: 'float32' },
  };
  assert.equal(headOutput(outputs, 'sparse'), outputs.sparse_weights);
  assert.equal(headOutput({}, 'dense'), undefined);
  // Normalised here: [0, 2] → [0, 1].
  const d = denseFromOutput(outputs.dense_vecs, 2);
  assertClose(d[1]!, [0, 1]);
  assertClose(tokenWeightsFromOutput(outputs.sparse_weights, 2, 4), [0, 0.5, 1.5, 0.5, 0, 0, 0, 0]);
  // [B, T − 1, D]: row r is token r + 1 (rows (i, 0) normalise to (1, 0); the zero row stays 0).
  const c = colbertFromOutput(outputs.colbert_vecs, batch.lengths, 4);
  assert.deepEqual(Array.from(c[0]!.data), [0, 0, 1, 0, 1, 0]);
  assert.deepEqual(Array.from(c[1]!.data), [1, 0, 1, 0]);
  // [B, T, D]: row 0 ([CLS]) skipped; row t is token t.
  const full = { data: Float32Array.from({ length: 2 * 4 * 2 }, (_, i) => (i >= 10 && i < 14 ? (i % 2 === 0 ? 3 : 4) : 1)), dims: [2, 4, 2] };
  assertClose(colbertFromOutput(full, batch.lengths, 4)[1]!.data, [0.6, 0.8, 0.6, 0.8]);
  assert.throws(() => tokenWeightsFromOutput({ data: new Float32Array(2 * 250002), dims: [2, 250002] }, 2, 4), /expected token weights of shape \[2, 4, 1\] or \[2, 4\], got \[2, 250002\]/);
  assert.throws(() => denseFromOutput({ data: new BigInt64Array(4), dims: [2, 2], type: 'int64' }, 2), /expected a float32 graph output, got int64/);
});

test('shapes are checked', () => {
  assert.throws(() => denseHead({ ...batch, lengths: Int32Array.from([5, 1]) }), /lengths\[0\]: expected an integer from 1 to 4, got 5/);
  assert.throws(() => colbertHead(batch, { ...colbert, inDim: 3, weight: new Float32Array(6) }), /colbert_linear: the layer takes 3 inputs, the model's hidden size is 2/);
  assert.throws(() => tokenWeights(batch, colbert), /sparse_linear: expected 1 output/);
});
