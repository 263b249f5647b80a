import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OmnivecError } from '../../errors.js';
import { FeatureEncoder, FeatureFitter, fitFeatureSchema, hashSlot, parseFeatureSchema, scaleValue, type FeatureRow } from './index.js';
import { assertClose } from '../../../test/helpers/assertions.js';

function throwsCode(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof OmnivecError, `expected an OmnivecError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

// The worked example of docs/features.md.
const FILMS: FeatureRow[] = [
  { id: 'f1', cast: 'Ada|Ben', duration: '90', genre: 'Drama', rating: '7' },
  { id: 'f2', cast: 'Ben|Cy', duration: '120', genre: 'Comedy', rating: '6' },
  { id: 'f3', cast: 'Ben', duration: '150', genre: 'Drama', rating: '8' },
  { id: 'f4', cast: 'Ada|Dee', duration: '120', genre: 'Horror', rating: '9' },
];
const SCHEMA = {
  fields: [
    { name: 'cast', type: 'multihot', separator: '|' },
    { name: 'duration', type: 'numeric', scale: 'standard' },
    { name: 'genre', type: 'onehot' },
    { name: 'rating', type: 'numeric', scale: 'minmax' },
  ],
};

test('the worked example: categories by frequency then first seen, standard and min-max scaling, by hand', () => {
  const fitted = fitFeatureSchema(SCHEMA, FILMS);
  const enc = new FeatureEncoder(fitted);
  assert.equal(enc.dim, 9);
  assert.deepEqual(enc.layout(), [
    { name: 'cast', type: 'multihot', offset: 0, dims: 4, categories: ['Ben', 'Ada', 'Cy', 'Dee'] },
    { name: 'duration', type: 'numeric', offset: 4, dims: 1 },
    { name: 'genre', type: 'onehot', offset: 5, dims: 3, categories: ['Drama', 'Comedy', 'Horror'] },
    { name: 'rating', type: 'numeric', offset: 8, dims: 1 },
  ]);
  const dur = fitted.fields[1] as { mean: number; std: number };
  assertClose(dur.mean, 120, 1e-12);
  assertClose(dur.std, Math.sqrt(450), 1e-12); // population std of 90, 120, 150, 120
  // f1: Ada, Ben; (90 − 120) / √450 = −√2; Drama; (7 − 6) / (9 − 6) = 1/3.
  const v1 = enc.encode(FILMS[0]!);
  assert.deepEqual([...v1].map((x) => Math.round(x * 1e6) / 1e6), [1, 1, 0, 0, -1.414214, 1, 0, 0, 0.333333]);
  const v3 = enc.encode(FILMS[2]!);
  assert.deepEqual([...v3].map((x) => Math.round(x * 1e6) / 1e6), [1, 0, 0, 0, 1.414214, 1, 0, 0, 0.666667]);
  assert.equal(enc.columnName(0), 'cast=Ben');
  assert.equal(enc.columnName(4), 'duration');
  assert.equal(enc.columnName(7), 'genre=Horror');
  assert.deepEqual(enc.explain(v1).map((c) => `${c.index}:${c.field}:${c.label}`),
    ['0:cast:Ben', '1:cast:Ada', '4:duration:duration', '5:genre:Drama', '8:rating:rating']);
});

test('the fitted schema is JSON: an encoder built from its text encodes identically', () => {
  const fitted = fitFeatureSchema(SCHEMA, FILMS);
  const text = JSON.stringify(fitted);
  const a = new FeatureEncoder(fitted);
  const b = FeatureEncoder.fromJSON(text);
  assert.deepEqual(JSON.parse(JSON.stringify(b)), JSON.parse(text));
  for (const r of FILMS) assert.deepEqual(b.encode(r), a.encode(r));
  // Refitting a complete schema learns nothing and changes nothing.
  assert.deepEqual(fitFeatureSchema(fitted, [{ duration: 1000, rating: 0, genre: 'X', cast: 'Y' }]), fitted);
  // A batch is the rows one after the other.
  const batch = a.encodeBatch(FILMS);
  assert.equal(batch.count, 4);
  assert.deepEqual(batch.data.subarray(9, 18), a.encode(FILMS[1]!));
});

test('fitting: maxCategories keeps the most frequent, ties in first-seen order; minCount drops rare ones; given categories are kept', () => {
  const rows = ['c', 'b', 'a', 'b', 'c', 'd', 'e', 'e'].map((g) => ({ g }));
  const top = (options: object): string[] =>
    (fitFeatureSchema({ fields: [{ name: 'g', type: 'onehot', ...options }] }, rows).fields[0] as { categories: string[] }).categories;
  assert.deepEqual(top({}), ['c', 'b', 'e', 'a', 'd']);
  assert.deepEqual(top({ maxCategories: 2 }), ['c', 'b']);
  assert.deepEqual(top({ minCount: 2 }), ['c', 'b', 'e']);
  assert.deepEqual(top({ categories: ['z', 'a'] }), ['z', 'a']);
  // Multi-hot counts a category once per row.
  const m = fitFeatureSchema({ fields: [{ name: 't', type: 'multihot' }] }, [{ t: 'x|x|x' }, { t: 'y' }, { t: ['y', 'z'] }]);
  assert.deepEqual((m.fields[0] as { categories: string[] }).categories, ['y', 'x', 'z']);
  const fitter = new FeatureFitter({ fields: [{ name: 'g', type: 'onehot', maxCategories: 3 }, { name: 'n', type: 'numeric', mean: 1 }] });
  for (const r of rows) fitter.add({ ...r, n: 2 });
  fitter.add({ g: '', n: 4 });
  fitter.finish();
  assert.deepEqual(fitter.report(), [
    { name: 'g', type: 'onehot', learnt: ['categories'], missing: 1, distinct: 5, kept: 3 },
    { name: 'n', type: 'numeric', learnt: ['std', 'min', 'max'], missing: 0 },
  ]);
});

test('one-hot and multi-hot: unknown categories ignored, refused or bucketed; weights; values as numbers, arrays, spaces', () => {
  const fields = (unknown: string) => ({
    fields: [
      { name: 'g', type: 'onehot', categories: ['a', 'b', '3'], unknown, weight: 2 },
      { name: 't', type: 'multihot', categories: ['x', 'y'], separator: ';', unknown },
    ],
  });
  const ignore = new FeatureEncoder(fields('ignore'));
  assert.equal(ignore.dim, 5);
  assert.deepEqual([...ignore.encode({ g: 3, t: ' x ; q;;y ' })], [0, 0, 2, 1, 1]);
  assert.deepEqual([...ignore.encode({ g: 'zzz', t: ['q', 'y', 'y'] })], [0, 0, 0, 0, 1]);
  const bucket = new FeatureEncoder(fields('bucket'));
  assert.equal(bucket.dim, 7);
  assert.deepEqual(bucket.layout().map((s) => [s.offset, s.dims, s.unknownBucket]), [[0, 4, true], [4, 3, true]]);
  assert.deepEqual([...bucket.encode({ g: 'zzz', t: 'q|r' })], [0, 0, 0, 2, 0, 0, 1]); // 'q|r' is one token for ';'
  assert.equal(bucket.columnName(3), 'g=(unknown)');
  const strict = new FeatureEncoder(fields('error'));
  throwsCode(() => strict.encode({ g: 'zzz' }, 'films.csv:7'), 'invalid_argument',
    /^films\.csv:7, field "g": expected one of its 3 categories \("a", "b", "3"\), got the unknown category "zzz"$/);
  throwsCode(() => strict.encode({ g: 'a', t: 'x;nope' }), 'invalid_argument', /field "t".*unknown category "nope"/);
  throwsCode(() => strict.encode({ g: ['a', 'b'] }), 'invalid_argument', /field "g": expected one category .*multihot.*got an array of length 2/);
  throwsCode(() => strict.encode({ t: [{}] }), 'invalid_argument', /field "t": expected a list of strings or numbers, but item 0 is/);
});

test('missing values: zero by default, the mean for numbers, refused with missing: error', () => {
  const enc = new FeatureEncoder({
    fields: [
      { name: 'g', type: 'onehot', categories: ['a'] },
      { name: 'n', type: 'numeric', scale: 'standard', mean: 10, std: 2 },
      { name: 'z', type: 'numeric', scale: 'none', missing: 'zero' },
      { name: 'h', type: 'hashed', dims: 4 },
    ],
  });
  assert.deepEqual([...enc.encode({})], [0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...enc.encode({ g: '  ', n: null, z: '' })], [0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...enc.encode({ n: '14', z: '-2.5' })], [0, 2, -2.5, 0, 0, 0, 0]);
  const strict = new FeatureEncoder({ fields: [{ name: 'n', type: 'numeric', scale: 'none', missing: 'error' }, { name: 'g', type: 'onehot', categories: ['a'], missing: 'error' }] });
  throwsCode(() => strict.encode({ g: 'a' }, 'row 3'), 'invalid_argument', /^row 3, field "n": expected a value \(the field's missing policy is "error"\), got no such field$/);
  throwsCode(() => strict.encode({ n: 1, g: '' }, 'row 4'), 'invalid_argument', /^row 4, field "g": .* got an empty value$/);
});

test('numeric values: numbers or numeric text; anything else is refused naming the row and the field', () => {
  const enc = new FeatureEncoder({ fields: [{ name: 'duration', type: 'numeric', scale: 'none', missing: 'zero' }] });
  assert.equal(enc.encode({ duration: ' 1e2 ' })[0], 100);
  for (const [bad, got] of [['abc', 'the string "abc"'], ['12 min', 'the string "12 min"'], ['0x10', 'the string "0x10"'], [true, 'a value of type boolean'], [[1], 'an array of length 1']] as const) {
    throwsCode(() => enc.encode({ duration: bad }, 'films.csv:12'), 'invalid_argument',
      new RegExp(`^films\\.csv:12, field "duration": expected a number, got ${got.replace(/[()[\]]/g, '\\$&')}$`));
  }
  throwsCode(() => enc.encode({ duration: 'NaN' }), 'invalid_argument', /expected a finite number, got the string "NaN"/);
  throwsCode(() => enc.encode({ duration: Infinity }), 'invalid_argument', /expected a finite number/);
  throwsCode(() => enc.encode({ duration: '1e300' }), 'invalid_argument', /fits a float32/);
  throwsCode(() => enc.encode('duration,3' as never), 'invalid_argument', /^row: expected a row object/);
});

test('scaling formulas, constant columns, log, weights and normalize', () => {
  const f = (o: object) => parseFeatureSchema({ fields: [{ name: 'x', type: 'numeric', ...o }] }).fields[0] as Parameters<typeof scaleValue>[0];
  assert.equal(scaleValue(f({ scale: 'standard', mean: 3, std: 2 }), 7), 2);
  assert.equal(scaleValue(f({ scale: 'standard', mean: 3, std: 0 }), 7), 4);
  assert.equal(scaleValue(f({ scale: 'minmax', min: 2, max: 6 }), 3), 0.25);
  assert.equal(scaleValue(f({ scale: 'minmax', min: 2, max: 2 }), 5), 3);
  assert.equal(scaleValue(f({ scale: 'log' }), Math.E - 1), 1);
  assert.equal(scaleValue(f({ scale: 'log' }), -(Math.E - 1)), -1);
  assert.equal(scaleValue(f({ scale: 'none' }), -7), -7);
  // Log needs no statistics unless a missing value takes the mean.
  assert.doesNotThrow(() => new FeatureEncoder({ fields: [{ name: 'x', type: 'numeric', scale: 'log', missing: 'zero' }] }));
  throwsCode(() => new FeatureEncoder({ fields: [{ name: 'x', type: 'numeric', scale: 'log' }] }), 'not_trained', /no mean/);
  const enc = new FeatureEncoder({
    normalize: true,
    fields: [{ name: 'a', type: 'numeric', scale: 'none', missing: 'zero', weight: 3 }, { name: 'b', type: 'onehot', categories: ['u'], weight: 4 }],
  });
  const v = enc.encode({ a: 1, b: 'u' });
  assertClose(v[0]!, 0.6);
  assertClose(v[1]!, 0.8);
  assert.deepEqual([...enc.encode({ a: 0 })], [0, 0]); // a zero vector stays zero
});

test('hashed fields: the MurmurHash3 column and sign per token, unsigned, seeds, repeated tokens add up', () => {
  const enc = new FeatureEncoder({ fields: [{ name: 'tags', type: 'hashed', dims: 32, separator: '|' }] });
  const v = enc.encode({ tags: 'noir|heist|noir' });
  const expected = new Float32Array(32);
  for (const t of ['noir', 'heist', 'noir']) {
    const s = hashSlot(t, 32, 0);
    expected[s.index]! += s.sign;
  }
  assert.deepEqual(v, expected);
  const unsigned = new FeatureEncoder({ fields: [{ name: 'tags', type: 'hashed', dims: 32, separator: '|', signed: false, seed: 9 }] });
  const u = unsigned.encode({ tags: ['noir', 'heist'] });
  assert.equal(u.reduce((a, b) => a + b, 0), 2);
  assert.equal(u[hashSlot('noir', 32, 9).index]! >= 1, true);
  // Without a separator the whole value is one token.
  const whole = new FeatureEncoder({ fields: [{ name: 'city', type: 'hashed', dims: 8, signed: false }] });
  assert.equal(whole.encode({ city: 'New York' })[hashSlot('New York', 8).index], 1);
  assert.equal(whole.columnName(5), 'city#5');
});

test('encoder refuses an unfitted schema (not_trained) and bad arguments', () => {
  throwsCode(() => new FeatureEncoder(SCHEMA), 'not_trained',
    /^schema\.fields\[0\] \("cast"\): no categories; fit the schema on data first/);
  throwsCode(() => new FeatureEncoder({ fields: [{ name: 'd', type: 'numeric', scale: 'minmax', min: 1 }] }), 'not_trained',
    /no mean, max; .*\(missing: "mean" uses the mean; missing: "zero" does without\)/);
  const enc = new FeatureEncoder({ fields: [{ name: 'g', type: 'onehot', categories: ['a'] }] });
  throwsCode(() => enc.encodeInto({}, new Float32Array(3), 3), 'invalid_argument', /out: expected a Float32Array with 1 components from offset 3/);
  throwsCode(() => enc.explain([1, 2]), 'dimension_mismatch', /expected 1 components, got 2/);
  throwsCode(() => enc.columnName(1), 'invalid_argument', /from 0 to 0/);
});

test('fitting refuses empty input, fields without values, and bad values naming the row', () => {
  throwsCode(() => fitFeatureSchema(SCHEMA, []), 'invalid_argument',
    /^fit: expected rows to learn from, got none \(empty input\); "cast" needs categories; "duration" needs mean, std; "genre" needs categories; "rating" needs mean, min, max$/);
  // Nothing to learn: no rows needed.
  const done = fitFeatureSchema({ fields: [{ name: 'h', type: 'hashed', dims: 4 }] }, []);
  assert.equal(new FeatureEncoder(done).dim, 4);
  throwsCode(() => fitFeatureSchema({ fields: [{ name: 'd', type: 'numeric' }] }, [{ d: '' }, {}]), 'invalid_argument',
    /field "d": expected numbers to learn mean, std from, got none \(missing in all 2 rows\)/);
  throwsCode(() => fitFeatureSchema({ fields: [{ name: 'g', type: 'onehot', minCount: 3 }] }, [{ g: 'a' }, { g: 'b' }]), 'invalid_argument',
    /field "g": expected categories seen in at least minCount \(3\) rows, got 2 distinct, none that often/);
  throwsCode(() => fitFeatureSchema({ fields: [{ name: 'd', type: 'numeric' }] }, [{ d: 1 }, { d: 'x' }]), 'invalid_argument',
    /^row 1, field "d": expected a number, got the string "x"$/);
  throwsCode(() => fitFeatureSchema({ fields: [{ name: 'g', type: 'multihot', maxCategories: 40000 }, { name: 'h', type: 'hashed', dims: 40000 }] },
    Array.from({ length: 30000 }, (_, i) => ({ g: `c${i}` }))), 'invalid_argument', /has 70000 dimensions, more than 65536/);
});
