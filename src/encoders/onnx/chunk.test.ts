import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkText } from './chunk.js';
import { checkDimensions, truncateVector } from '../matryoshka.js';
import { OmnivecError } from '../../errors.js';

const oneEach = (): number => 1;

test('chunkText: windows of whole words, exact substrings, overlap shared', () => {
  const text = 'one two  three four\nfive six seven eight nine ten';
  const chunks = chunkText(text, oneEach, { size: 4, overlap: 1 });
  for (const c of chunks) assert.equal(text.slice(c.start, c.end), c.text);
  assert.deepEqual(chunks.map((c) => c.text), ['one two  three four', 'four\nfive six seven', 'seven eight nine ten']);
  assert.deepEqual(chunks.map((c) => c.tokens), [4, 4, 4]);
  // No overlap: a partition of the words.
  assert.deepEqual(chunkText(text, oneEach, { size: 5, overlap: 0 }).map((c) => c.text), ['one two  three four\nfive', 'six seven eight nine ten']);
  // Token counts per word are honoured; a word longer than size stands alone.
  const counts: Record<string, number> = { big: 9 };
  const c2 = chunkText('a big b c', (w) => counts[w] ?? 1, { size: 3, overlap: 0 });
  assert.deepEqual(c2.map((c) => c.text), ['a', 'big', 'b c']);
  assert.deepEqual(chunkText('   ', oneEach, { size: 3 }), []);
});

test('chunkText: bad sizes are refused', () => {
  assert.throws(() => chunkText('a b', oneEach, { size: 0 }), (e) => e instanceof OmnivecError && e.code === 'invalid_argument');
  assert.throws(() => chunkText('a b', oneEach, { size: 4, overlap: 4 }), /overlap: expected an integer from 0 to 3/);
});

test('Matryoshka: truncation renormalises; undeclared or oversized dimensions are refused', () => {
  const v = truncateVector(Float32Array.from([3, 4, 12]), 2, true);
  assert.deepEqual([...v].map((x) => Math.round(x * 1000) / 1000), [0.6, 0.8]);
  assert.equal(checkDimensions(undefined, 8, undefined, false, 'm'), 8);
  assert.equal(checkDimensions(4, 8, true, false, 'm'), 4);
  assert.equal(checkDimensions(4, 8, [8, 4, 2], false, 'm'), 4);
  assert.throws(() => checkDimensions(3, 8, [8, 4, 2], false, 'm'), /trained for the Matryoshka sizes 8, 4, 2, not 3/);
  assert.throws(() => checkDimensions(4, 8, undefined, false, 'm'), /does not declare Matryoshka training/);
  assert.equal(checkDimensions(4, 8, undefined, true, 'm'), 4);
  assert.throws(() => checkDimensions(9, 8, true, true, 'm'), /9 is larger than the 8 dimensions of m/);
  assert.throws(() => checkDimensions(0, 8, true, false, 'm'), /positive integer/);
});
