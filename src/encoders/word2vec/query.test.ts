import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { OmnivecError } from '../../errors.js';
import { Random } from '../../vector/random.js';
import { KeyedVectors } from './keyed-vectors.js';
import { loadWordVectors } from './files.js';
import { assertClose } from '../../../test/helpers/assertions.js';
import {
  Scanner, analogy, doesntMatch, mostSimilar, mostSimilarCosmul, nearest, similarity, BLOCK_ROWS,
} from './query.js';

const VEC1K = '/work/shared/data/word-vectors-word2vec-1k/wordvecs1000.vec';

/** 2-d vectors at known angles (lengths differ on purpose: only directions count). */
function compass(): KeyedVectors {
  const deg = [0, 10, 45, 90, 135, 180, 270];
  const words = ['east', 'east10', 'ne', 'north', 'nw', 'west', 'south'];
  const v = new Float32Array(deg.length * 2);
  deg.forEach((d, i) => {
    const len = i + 1;
    v[2 * i] = len * Math.cos((d * Math.PI) / 180);
    v[2 * i + 1] = len * Math.sin((d * Math.PI) / 180);
  });
  return new KeyedVectors(words, v, 2);
}

test('mostSimilar: cosine on unit vectors, input words left out, topn, restrictVocab', () => {
  const kv = compass();
  const r = mostSimilar(kv, { positive: ['east'], topn: 3 });
  assert.deepEqual(r.map((x) => x.word), ['east10', 'ne', 'north']);
  assertClose(r[0]!.score, Math.cos((10 * Math.PI) / 180));
  assertClose(r[1]!.score, Math.SQRT1_2);
  assert.deepEqual(r.map((x) => x.row), [1, 2, 3]);
  // Mean of unit(east) and unit(north) points at 45°: ne first; both inputs left out.
  assert.deepEqual(mostSimilar(kv, { positive: ['east', 'north'], topn: 2 }).map((x) => x.word), ['ne', 'east10']);
  // east − west: the direction of east; neither input may be answered.
  assert.deepEqual(mostSimilar(kv, { positive: ['east'], negative: ['west'], topn: 1 }).map((x) => x.word), ['east10']);
  // Only negatives: the opposite direction of west.
  assert.equal(mostSimilar(kv, { negative: ['west'], topn: 1 })[0]!.word, 'east');
  assert.deepEqual(mostSimilar(kv, { positive: ['south'], topn: 2, restrictVocab: 3 }).map((x) => x.word), ['east', 'east10']);
  assert.deepEqual(mostSimilar(kv, { positive: ['east'], topn: 0 }), []);
  assert.equal(mostSimilar(kv, { positive: ['east'], topn: 100 }).length, 6);
  // A vector is used as it is and not left out of the answers.
  assert.deepEqual(nearest(kv, Float32Array.from([0, -5]), 2).map((x) => x.word), ['south', 'east']);
  assert.deepEqual(nearest(kv, 'east10', 2).map((x) => x.word), ['east', 'ne']);
});

test('3CosMul: ((1+cos b)/2 · (1+cos c)/2) / ((1+cos a)/2 + ε), checked against a direct computation', () => {
  const rng = new Random(3);
  const n = 50;
  const d = 8;
  const words = Array.from({ length: n }, (_, i) => `w${i}`);
  const kv = new KeyedVectors(words, Float32Array.from({ length: n * d }, () => rng.gaussian()), d);
  const unit = kv.unitVectors();
  const cos = (i: number, j: number): number => {
    let s = 0;
    for (let k = 0; k < d; k++) s += unit[i * d + k]! * unit[j * d + k]!;
    return s;
  };
  for (const eps of [1e-3, 1e-6]) {
    const direct = words.map((w, i) => ({ word: w, score: ((1 + cos(i, 1)) / 2) * ((1 + cos(i, 2)) / 2) / ((1 + cos(i, 0)) / 2 + eps) }))
      .filter((x) => !['w0', 'w1', 'w2'].includes(x.word)).sort((a, b) => b.score - a.score).slice(0, 5);
    const ours = analogy(kv, 'w0', 'w1', 'w2', { method: 'mul', topn: 5, epsilon: eps });
    assert.deepEqual(ours.map((x) => x.word), direct.map((x) => x.word));
    ours.forEach((x, i) => assertClose(x.score, direct[i]!.score, 1e-9, `${i}`));
  }
  // With one positive word, the ranking is mostSimilar's.
  assert.deepEqual(mostSimilarCosmul(kv, { positive: ['w7'], topn: 5 }).map((x) => x.word), mostSimilar(kv, { positive: ['w7'], topn: 5 }).map((x) => x.word));
  assert.throws(() => mostSimilarCosmul(kv, { negative: ['w1'] }), /positive: expected at least one word/);
});

test('similarity and doesntMatch', () => {
  const kv = compass();
  assertClose(similarity(kv, 'east', 'north'), 0);
  assertClose(similarity(kv, 'east', 'west'), -1);
  assertClose(similarity(kv, 'ne', 'ne'), 1);
  assert.equal(doesntMatch(kv, ['east', 'east10', 'ne', 'south']), 'south');
  assert.equal(doesntMatch(kv, ['north']), 'north');
});

test('unknown words are not_found naming the word; bad arguments are refused', () => {
  const kv = compass();
  const notFound = (word: string) => (e: unknown): boolean => e instanceof OmnivecError && e.code === 'not_found' && e.message.includes(`"${word}"`);
  assert.throws(() => mostSimilar(kv, { positive: ['east', 'up'] }), notFound('up'));
  assert.throws(() => mostSimilar(kv, { positive: ['east'], negative: ['down'] }), notFound('down'));
  assert.throws(() => analogy(kv, 'east', 'x', 'north'), notFound('x'));
  assert.throws(() => analogy(kv, 'east', 'west', 'y', { method: 'mul' }), notFound('y'));
  assert.throws(() => similarity(kv, 'east', 'zz'), notFound('zz'));
  assert.throws(() => doesntMatch(kv, ['east', 'qq']), notFound('qq'));
  assert.throws(() => nearest(kv, 'nowhere'), notFound('nowhere'));
  assert.throws(() => nearest(kv, Float32Array.from([1, 2, 3])),
    (e: unknown) => e instanceof OmnivecError && e.code === 'dimension_mismatch' && /positive\[0\]: expected a vector of 2 numbers/.test(e.message));
  const inv = (re: RegExp) => (e: unknown): boolean => e instanceof OmnivecError && e.code === 'invalid_argument' && re.test(e.message);
  assert.throws(() => mostSimilar(kv, { positive: [] }), inv(/expected at least one word or vector/));
  assert.throws(() => mostSimilar(kv, { positive: ['east'], topn: -1 }), inv(/topn: expected an integer ≥ 0/));
  assert.throws(() => mostSimilar(kv, { positive: ['east'], restrictVocab: 0 }), inv(/restrictVocab: expected an integer ≥ 1/));
  assert.throws(() => mostSimilar(kv, { positive: [3 as never] }), inv(/positive\[0\]: expected a word or a Float32Array, got the number 3/));
  assert.throws(() => analogy(kv, 'east', 'west', 'north', { method: 'sub' as never }), inv(/method: expected "add" or "mul"/));
  assert.throws(() => doesntMatch(kv, []), inv(/words: expected a non-empty array/));
});

test('the WebAssembly scan and the JavaScript scan agree (one query and blocks)', () => {
  const rng = new Random(9);
  const n = BLOCK_ROWS + 123;
  const d = 13;
  const kv = new KeyedVectors(Array.from({ length: n }, (_, i) => `w${i}`), Float32Array.from({ length: n * d }, () => rng.gaussian()), d);
  const wasm = new Scanner(kv);
  const js = new Scanner(kv, { wasm: false });
  const q = Float32Array.from({ length: d }, () => rng.gaussian());
  const a = wasm.distances(q, n).slice();
  const b = js.distances(q, n).slice();
  for (let i = 0; i < n; i++) assertClose(a[i]!, b[i]!, 1e-5, `row ${i}`);
  const qs = Float32Array.from({ length: 7 * d }, () => rng.gaussian());
  const ba = wasm.block(qs, 7, 100, 300).slice();
  const bb = js.block(qs, 7, 100, 300).slice();
  for (let i = 0; i < ba.length; i++) assertClose(ba[i]!, bb[i]!, 1e-5, `${i}`);
  assert.deepEqual(wasm.unitRow(5), js.unitRow(5));
});

test('1k GoogleNews vectors: king − man + woman → queen (3CosAdd and 3CosMul)', { skip: !existsSync(VEC1K) && 'shared data missing' }, async () => {
  const kv = await loadWordVectors(VEC1K);
  const add = analogy(kv, 'man', 'king', 'woman', { topn: 5 });
  assert.equal(add[0]!.word, 'queen');
  assert.ok(add.every((x) => !['man', 'king', 'woman'].includes(x.word)));
  assert.equal(analogy(kv, 'man', 'king', 'woman', { method: 'mul' })[0]!.word, 'queen');
  // The dataset's README: nearest to king − man + woman including the inputs is king, then queen.
  const mean = new Float32Array(300);
  for (const [w, s] of [['king', 1], ['man', -1], ['woman', 1]] as const) kv.vector(w).forEach((x, i) => { mean[i] += s * x; });
  assert.deepEqual(nearest(kv, mean, 5).map((x) => x.word), ['king', 'queen', 'she', 'her', 'mary']);
  assert.equal(doesntMatch(kv, ['year', 'month', 'week', 'car']), 'car');
});
