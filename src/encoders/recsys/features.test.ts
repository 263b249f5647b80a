import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OmnivecError } from '../../errors.js';
import { Random } from '../../vector/random.js';
import { encodeFeatures, fitFeatures } from './features.js';
import { drawExamples, parseSequences } from './data.js';

test('features: numeric standardised, categorical multi-hot with | and weights 1/n, identifier columns left out', () => {
  const header = ['movieId', 'title', 'genres', 'year'];
  const titles = Array.from({ length: 30 }, (_, i) => `Film ${i}`);
  const rows = titles.map((t, i) => [String(i), t, i % 3 === 0 ? 'Action|Comedy' : 'Drama', i === 5 ? '' : String(1990 + (i % 2) * 10)]);
  const t = fitFeatures(header, rows, { idColumn: 'movieId' });
  assert.deepEqual(t.schema.columns.map((c) => `${c.name}:${c.type}`), ['genres:categorical', 'year:numeric']);
  assert.match(t.skipped.join(), /title \(30 distinct values/);
  const genres = t.schema.columns[0]!;
  assert.equal(genres.type === 'categorical' && genres.values[0], 'Drama');
  assert.equal(t.schema.dim, 4);
  const row0 = t.data.subarray(0, 4); // Action|Comedy, 1990
  assert.deepEqual([...row0.subarray(0, 3)], [0, 0.5, 0.5]);
  const year = t.schema.columns[1]!;
  assert.ok(year.type === 'numeric' && Math.abs(row0[3]! - (1990 - year.mean) / year.std) < 1e-6);
  assert.equal(t.data[t.rows.get('5')! * 4 + 3], 0, 'a missing number is the mean (0 standardised)');
  const out = new Float32Array(4);
  encodeFeatures(t.schema, { genres: 'Comedy|Unknown', year: '2000' }, out, 0);
  assert.deepEqual([...out.subarray(0, 3)], [0, 0, 1], 'unknown values are ignored');
  assert.throws(() => fitFeatures(header, rows, { idColumn: 'id' }), (e: unknown) => e instanceof OmnivecError && e.code === 'invalid_argument' && /expected an id column "id"/.test(e.message));
  assert.throws(() => fitFeatures(header, [rows[0]!, rows[0]!], { idColumn: 'movieId' }), /appears twice/);
});

test('sequences: "USER<TAB>items" or items (user = line number); examples capped per user, all positions otherwise', () => {
  const s = parseSequences('u1\ta b c\n\nx y\n');
  assert.deepEqual([...s.entries()], [['u1', ['a', 'b', 'c']], ['3', ['x', 'y']]]);
  assert.throws(() => parseSequences('u\ta\nu\tb\n'), /two lines/);
  const seqs = [Int32Array.from([0, 1, 2, 3, 4, 5]), Int32Array.from([1, 2])];
  const exSeq = new Int32Array(6), exPos = new Int32Array(6), scratch = new Int32Array(6);
  const n = drawExamples(seqs, 1, 2, new Random(1), exSeq, exPos, scratch);
  assert.equal(n, 3, 'two of the first user\'s five positions, the second user\'s one');
  const pairs = Array.from({ length: n }, (_, i) => `${exSeq[i]}:${exPos[i]}`);
  assert.equal(pairs.filter((p) => p.startsWith('0:')).length, 2);
  assert.ok(pairs.includes('1:1'));
  assert.equal(new Set(pairs).size, 3);
  assert.equal(drawExamples(seqs, 1, 0, new Random(1), exSeq, exPos, scratch), 6, 'cap 0: every position');
});
