import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { OmnivecError } from '../errors.js';
import { Random } from '../vector/random.js';
import {
  checkMetadata, checkWhere, checkWhereDocument, compareCodePoints, filterKey,
  type Metadata, type Scalar, type Where, type WhereDocument,
} from './where.js';
import { compileFilter } from './store/sqlite/where-sql.js';
import { matchingSlots, randomFilters } from '../../test/helpers/where-random.js';

const COLUMNS = { metadata: 'metadata', document: 'document' };

/** A ':memory:' table (slot, metadata, document) holding the records, slots 1, 2, …. */
class Table {
  readonly db = new Database(':memory:');
  readonly records: [Metadata | null, string | null][];

  constructor(records: [Metadata | null, string | null][]) {
    this.records = records;
    this.db.exec('CREATE TABLE t (slot INTEGER PRIMARY KEY, metadata TEXT, document TEXT)');
    const insert = this.db.prepare('INSERT INTO t (slot, metadata, document) VALUES (?, ?, ?)');
    this.db.transaction(() => {
      records.forEach(([m, d], i) => insert.run(i + 1, m === null ? null : JSON.stringify(m), d));
    })();
  }

  /** Slots matched by the compiled SQL; also asserts the expression is 0 or 1 on every row. */
  sql(where: Where | undefined, wd: WhereDocument | undefined): number[] {
    const { sql, params } = compileFilter(where, wd, COLUMNS);
    const rows = this.db.prepare(`SELECT slot, (${sql}) AS r FROM t ORDER BY slot`).raw().all(...params) as [number, unknown][];
    const out: number[] = [];
    for (const [slot, r] of rows) {
      if (r !== 0 && r !== 1) assert.fail(`filter ${JSON.stringify(where)} gave ${String(r)} on slot ${slot}: ${sql}`);
      if (r === 1) out.push(slot);
    }
    return out;
  }

  /** Slots matched by the JS evaluator. */
  js(where: Where | undefined, wd: WhereDocument | undefined): number[] {
    return matchingSlots(this.records, where, wd);
  }

  close(): void {
    this.db.close();
  }
}

// Slots 1–7.
const RECORDS: [Metadata | null, string | null][] = [
  [{ price: 10, genre: 'rock', tags: ['a', 'b'], inStock: true }, 'The quick brown fox'],
  [{ price: 25.5, genre: 'jazz', tags: ['b', 'c'], inStock: false }, 'jumps over the lazy dog'],
  [{ price: 5, genre: 'Rock', tags: [], rating: null }, null],
  [{ price: '10', genre: 'pop', tags: 'a', inStock: 1 }, 'FOX news'],
  [null, 'the fox'],
  [{ price: 1, inStock: true, 'a.b': 'dot', 'q"k\\': 'quote', mixed: [1, 'x', true, null] }, ''],
  [{ price: 100, genre: 'rock', rating: 4.5, mixed: [2.5, false] }, 'Fox'],
];

function check(table: Table, where: Where | undefined, wd: WhereDocument | undefined, expected: number[]): void {
  const label = JSON.stringify({ where, whereDocument: wd });
  assert.deepEqual(table.js(where, wd), expected, `JS ${label}`);
  assert.deepEqual(table.sql(where, wd), expected, `SQL ${label}`);
}

test('each operator on scalars, arrays, missing keys and NULL metadata', () => {
  const t = new Table(RECORDS);
  const cases: [Where, number[]][] = [
    [{}, [1, 2, 3, 4, 5, 6, 7]],
    // $eq and the scalar shorthand: same type and value
    [{ genre: 'rock' }, [1, 7]],
    [{ genre: { $eq: 'rock' } }, [1, 7]],
    [{ price: 10 }, [1]],
    [{ price: { $eq: 10.0 } }, [1]],
    [{ price: '10' }, [4]],
    [{ price: 25.5 }, [2]],
    [{ rating: 4.5 }, [7]],
    [{ inStock: true }, [1, 6]],
    [{ inStock: false }, [2]],
    [{ inStock: 1 }, [4]],
    [{ genre: '' }, []],
    // $ne: the negation of $eq, so records missing the field match
    [{ genre: { $ne: 'rock' } }, [2, 3, 4, 5, 6]],
    [{ inStock: { $ne: true } }, [2, 3, 4, 5, 7]],
    // ranges: same type only, booleans are not numbers, strings by code point
    [{ price: { $gt: 5 } }, [1, 2, 7]],
    [{ price: { $gte: 5 } }, [1, 2, 3, 7]],
    [{ price: { $lt: 10 } }, [3, 6]],
    [{ price: { $lte: 10 } }, [1, 3, 6]],
    [{ price: { $gte: 5, $lt: 26 } }, [1, 2, 3]],
    [{ price: { $gt: -1e300 } }, [1, 2, 3, 6, 7]],
    [{ price: { $gt: '0' } }, [4]],
    [{ genre: { $gt: 'a' } }, [1, 2, 4, 7]],
    [{ genre: { $lt: 'a' } }, [3]],
    [{ genre: { $gte: 'rock', $lte: 'rock' } }, [1, 7]],
    [{ inStock: { $gt: 0 } }, [4]],
    [{ inStock: { $gte: 0 } }, [4]],
    // null: a stored null or a missing field
    [{ rating: null }, [1, 2, 3, 4, 5, 6]],
    [{ rating: { $eq: null } }, [1, 2, 3, 4, 5, 6]],
    [{ rating: { $ne: null } }, [7]],
    [{ rating: { $in: [null, 4.5] } }, [1, 2, 3, 4, 5, 6, 7]],
    [{ price: { $in: [null] } }, [5]],
    // $exists: present (even null) / absent; NULL metadata has no keys
    [{ rating: { $exists: true } }, [3, 7]],
    [{ rating: { $exists: false } }, [1, 2, 4, 5, 6]],
    [{ tags: { $exists: true } }, [1, 2, 3, 4]],
    // $in / $nin
    [{ genre: { $in: ['rock', 'pop'] } }, [1, 4, 7]],
    [{ genre: { $nin: ['rock', 'pop'] } }, [2, 3, 5, 6]],
    [{ price: { $in: [10, 5, '10'] } }, [1, 3, 4]],
    [{ inStock: { $in: [true, 1] } }, [1, 4, 6]],
    [{ inStock: { $nin: [false] } }, [1, 3, 4, 5, 6, 7]],
    // arrays: any element matches; $ne / $nin: no element equals
    [{ tags: 'a' }, [1, 4]],
    [{ tags: 'b' }, [1, 2]],
    [{ tags: { $ne: 'b' } }, [3, 4, 5, 6, 7]],
    [{ tags: { $in: ['c', 'x'] } }, [2]],
    [{ tags: { $nin: ['a'] } }, [2, 3, 5, 6, 7]],
    [{ tags: { $gt: 'b' } }, [2]],
    [{ tags: { $gte: 'b' } }, [1, 2]],
    [{ mixed: true }, [6]],
    [{ mixed: 1 }, [6]],
    [{ mixed: 'x' }, [6]],
    [{ mixed: false }, [7]],
    [{ mixed: null }, [1, 2, 3, 4, 5, 6]],
    [{ mixed: { $gt: 2 } }, [7]],
    [{ mixed: { $gt: 0, $lt: 2 } }, [6]],
    [{ mixed: { $in: [false, 'x'] } }, [6, 7]],
    // keys are names, not paths
    [{ 'a.b': 'dot' }, [6]],
    [{ 'q"k\\': 'quote' }, [6]],
    [{ a: { $exists: true } }, []],
    // logic
    [{ genre: 'rock', price: 10 }, [1]],
    [{ $and: [{ genre: 'rock' }, { price: { $gt: 50 } }] }, [7]],
    [{ $or: [{ genre: 'jazz' }, { price: { $lt: 5 } }] }, [2, 6]],
    [{ $not: { genre: 'rock' } }, [2, 3, 4, 5, 6]],
    [{ genre: { $not: { $eq: 'rock' } } }, [2, 3, 4, 5, 6]],
    [{ price: { $not: { $gt: 5 } } }, [3, 4, 5, 6]],
    [{ price: { $not: 10 } }, [2, 3, 4, 5, 6, 7]],
    [{ tags: { $not: { $in: ['a', 'c'] } } }, [3, 5, 6, 7]],
    [{ $not: { $or: [{ inStock: true }, { inStock: false }] } }, [3, 4, 5, 7]],
    [{ rating: { $exists: true, $not: { $exists: true } } }, []],
    [{ $or: [{ rating: { $exists: false } }, { rating: { $exists: true } }] }, [1, 2, 3, 4, 5, 6, 7]],
  ];
  for (const [where, expected] of cases) check(t, where, undefined, expected);
  t.close();
});

test('whereDocument: $contains, $not_contains, $and, $or; NULL documents; combined with where', () => {
  const t = new Table(RECORDS);
  const cases: [WhereDocument, number[]][] = [
    [{}, [1, 2, 3, 4, 5, 6, 7]],
    [{ $contains: 'fox' }, [1, 5]],
    [{ $not_contains: 'fox' }, [2, 3, 4, 6, 7]],
    [{ $contains: 'the' }, [2, 5]],
    [{ $or: [{ $contains: 'FOX' }, { $contains: 'Fox' }] }, [4, 7]],
    [{ $and: [{ $contains: 'o' }, { $not_contains: 'fox' }] }, [2, 7]],
    [{ $contains: 'o', $not_contains: 'fox' }, [2, 7]],
  ];
  for (const [wd, expected] of cases) check(t, undefined, wd, expected);
  check(t, { genre: 'rock' }, { $contains: 'fox' }, [1]);
  check(t, { genre: { $ne: 'rock' } }, { $not_contains: 'fox' }, [2, 3, 4, 6]);
  assert.deepEqual(compileFilter(undefined, undefined, COLUMNS), { sql: '1', params: [] });
  assert.deepEqual(compileFilter({}, {}, COLUMNS), { sql: '1', params: [] });
  assert.deepEqual(compileFilter({ a: { $exists: true, $not: { $exists: true } } }, undefined, COLUMNS), { sql: '0', params: [] });
  t.close();
});

test('numbers: integers and reals alike, doubles above 2^53, -0, extremes', () => {
  const values = [0, -0, 1, 1.5, 2 ** 53, 2 ** 53 + 2, 633762049816333400, 2 ** 63, 1e20, 1e21, 1e300, -1e300, 5e-324, 0.1 + 0.2, 0.3];
  const t = new Table(values.map((v) => [{ n: v, l: [v] }, null]));
  for (const v of values) {
    const long = [...Array.from({ length: 20 }, (_, i) => i + 0.25), v];
    for (const where of [{ n: v }, { l: v }, { n: { $gte: v } }, { l: { $lt: v } }, { n: { $in: [v, 'x'] } }, { n: { $ne: v } }, { n: { $in: long } }, { l: { $nin: long } }]) {
      assert.deepEqual(t.sql(where, undefined), t.js(where, undefined), JSON.stringify(where));
    }
  }
  check(t, { n: 0 }, undefined, [1, 2]);
  check(t, { n: 633762049816333400 }, undefined, [7]);
  check(t, { n: { $gt: 2 ** 53 } }, undefined, [6, 7, 8, 9, 10, 11]);
  t.close();
});

test('strings compare by code point (SQLite BINARY), including NUL and astral characters', () => {
  const strings = ['', 'a', 'a\u0000', 'a\u0000b', 'ab', 'B', 'é', '\uE000', '\uFFFF', '😀', '𝒳', 'ä', 'a\u0000c'];
  const t = new Table(strings.map((s) => [{ s, l: ['z', s] }, s]));
  const sorted = [...strings].sort(compareCodePoints);
  assert.ok(sorted.indexOf('\uFFFF') < sorted.indexOf('😀'), 'code point order puts U+FFFF before U+1F600');
  for (const q of strings) {
    for (const where of [{ s: q }, { s: { $gt: q } }, { s: { $lte: q } }, { l: { $lt: q } }, { s: { $nin: [q] } }] as Where[]) {
      assert.deepEqual(t.sql(where, undefined), t.js(where, undefined), JSON.stringify(where));
    }
    if (q !== '') {
      assert.deepEqual(t.sql(undefined, { $contains: q }), t.js(undefined, { $contains: q }), JSON.stringify(q));
    }
  }
  check(t, { s: { $gt: '\uFFFF' } }, undefined, [10, 11]);
  check(t, undefined, { $contains: '\u0000b' }, [4]);
  t.close();
});

test('long $in / $nin lists travel as one JSON parameter and agree with the evaluator', () => {
  const t = new Table(RECORDS);
  const many = (n: number, f: (i: number) => Scalar): Scalar[] => Array.from({ length: n }, (_, i) => f(i));
  const strings = many(5000, (i) => `s${i}`).concat(['rock', 'a']);
  const numbers = many(5000, (i) => i * 1000 + 0.5).concat([10, 25.5]);
  check(t, { genre: { $in: strings } }, undefined, [1, 7]);
  check(t, { tags: { $in: strings } }, undefined, [1, 4]);
  check(t, { price: { $in: numbers } }, undefined, [1, 2]);
  check(t, { price: { $nin: [...numbers, ...strings, true, null] } }, undefined, [3, 4, 6, 7]);
  check(t, { mixed: { $in: [...numbers, 1, false] } }, undefined, [6, 7]);
  const { params } = compileFilter({ price: { $in: [...numbers, ...strings] } }, undefined, COLUMNS);
  assert.ok(params.length < 20, `${params.length} parameters`);
  t.close();
});

// --- Seeded property test: SQL == JS on random records and random filters ---------------------------

const { record: randomRecord, where: randomWhere, whereDocument: randomWhereDocument } = randomFilters();

test('property: compiled SQL selects exactly the records the JS evaluator matches', () => {
  const rng = new Random(20240611);
  const t = new Table(Array.from({ length: 2500 }, () => randomRecord(rng)));
  let nonTrivial = 0;
  const filters = 300;
  for (let i = 0; i < filters; i++) {
    const where = randomWhere(rng, 3);
    const wd = rng.next() < 0.2 ? randomWhereDocument(rng, 2) : undefined;
    checkWhere(where);
    if (wd !== undefined) checkWhereDocument(wd);
    const expected = t.js(where, wd);
    assert.deepEqual(t.sql(where, wd), expected, JSON.stringify({ where, wd }));
    // $not is the exact complement on every record.
    assert.equal(t.sql({ $not: where }, wd).length + expected.length, t.js(undefined, wd).length);
    if (expected.length > 0 && expected.length < t.records.length) nonTrivial++;
  }
  assert.ok(nonTrivial > filters / 2, `only ${nonTrivial} of ${filters} filters split the records`);
  t.close();
});

// --- Validation ------------------------------------------------------------------------------------

function assertInvalid(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof OmnivecError, `expected an OmnivecError, got ${String(e)}`);
    assert.equal(e.code, 'invalid_argument');
    assert.match(e.message, message);
    return true;
  });
}

test('malformed where filters are refused with the path of the problem', () => {
  let deep: Where = { a: 1 };
  for (let i = 0; i < 40; i++) deep = { $not: deep };
  const cases: [unknown, RegExp][] = [
    [null, /^where: expected a filter object.*got null/],
    [[], /^where: expected a filter object.*got an array of length 0/],
    ['a', /^where: expected a filter object.*got the string "a"/],
    [{ $and: {} }, /^where\.\$and: expected a non-empty array of filter objects, got an empty object/],
    [{ $and: [] }, /^where\.\$and: expected a non-empty array.*got an array of length 0/],
    [{ $and: [{}] }, /^where\.\$and\[0\]: expected a filter object with at least one condition, got an empty object/],
    [{ $or: [{ a: 1 }, 5] }, /^where\.\$or\[1\]: expected a filter object.*got the number 5/],
    [{ $not: {} }, /^where\.\$not: .*empty object/],
    [{ $not: [{ a: 1 }] }, /^where\.\$not: expected a filter object/],
    [{ $foo: 1 }, /^where\.\$foo: unknown operator \$foo; expected \$and, \$or, \$not or a field name/],
    [{ $eq: 1 }, /^where\.\$eq: \$eq applies to a field/],
    [{ '': 1 }, /^where: field names must be non-empty/],
    [{ price: { $gt: true } }, /^where\.price\.\$gt: expected a finite number or a string, got the boolean true/],
    [{ price: { $gt: null } }, /^where\.price\.\$gt: expected a finite number or a string, got null/],
    [{ price: { $lte: {} } }, /^where\.price\.\$lte: expected a finite number or a string, got an empty object/],
    [{ price: { $lt: NaN } }, /^where\.price\.\$lt: .*got NaN/],
    [{ price: { $in: 'a' } }, /^where\.price\.\$in: expected a non-empty array.*got the string "a"/],
    [{ price: { $in: [] } }, /^where\.price\.\$in: expected a non-empty array/],
    [{ price: { $nin: [1, {}] } }, /^where\.price\.\$nin\[1\]: expected a string, finite number, boolean or null, got an empty object/],
    [{ price: { $in: [[1]] } }, /^where\.price\.\$in\[0\]: .*got an array of length 1/],
    [{ price: { $eq: [1, 2] } }, /^where\.price\.\$eq: expected a scalar, got an array of length 2: arrays cannot be compared whole; use \$in/],
    [{ price: [1, 2] }, /^where\.price: expected a scalar or an operator object, got an array of length 2 \(to match any of several values use/],
    [{ price: { a: 1 } }, /^where\.price: expected an operator object .*got an object with key "a": nested objects/],
    [{ price: { $gt: 1, a: 1 } }, /^where\.price: expected an operator object/],
    [{ price: { $regex: 'x' } }, /^where\.price\.\$regex: unknown operator \$regex; expected one of \$eq, \$ne/],
    [{ tags: { $contains: 'a' } }, /^where\.tags\.\$contains: unknown operator \$contains; an array field matches when any element does/],
    [{ price: {} }, /^where\.price: expected an operator object with at least one of .*got an empty object/],
    [{ price: { $exists: 1 } }, /^where\.price\.\$exists: expected true or false, got the number 1/],
    [{ price: { $not: [1] } }, /^where\.price\.\$not: expected a scalar or an operator object, got an array/],
    [{ price: { $not: {} } }, /^where\.price\.\$not: .*empty object/],
    [{ price: { $not: { $and: [] } } }, /^where\.price\.\$not\.\$and: unknown operator/],
    [{ price: undefined }, /^where\.price: .*got undefined/],
    [{ price: Infinity }, /^where\.price: .*got the number Infinity/],
    [{ price: new Date(0) }, /^where\.price: .*got an instance of Date/],
    [{ $and: [{ genre: 'x' }, { price: { $in: [1, {}] } }] }, /^where\.\$and\[1\]\.price\.\$in\[1\]: /],
    [{ 'a.b': { $gt: false } }, /^where\["a\.b"\]\.\$gt: /],
    [{ s: '\uD800' }, /^where\.s: .*lone surrogate/],
    [{ s: { $in: ['ok', 'x\uDC00'] } }, /^where\.s\.\$in\[1\]: .*lone surrogate/],
    [deep, /at most 32 levels/],
  ];
  for (const [where, message] of cases) {
    assertInvalid(() => checkWhere(where), message);
    if (where !== null && typeof where === 'object' && !Array.isArray(where)) {
      assertInvalid(() => compileFilter(where as Where, undefined, COLUMNS), message);
    }
  }
  assertInvalid(() => checkWhere({ $or: 1 }, 'query.where'), /^query\.where\.\$or: /);
});

test('malformed whereDocument filters and column names are refused', () => {
  const cases: [unknown, RegExp][] = [
    [null, /^whereDocument: expected a document filter object/],
    [{ $contains: '' }, /^whereDocument\.\$contains: expected a non-empty string, got the string ""/],
    [{ $not_contains: 5 }, /^whereDocument\.\$not_contains: expected a non-empty string, got the number 5/],
    [{ $regex: 'a' }, /^whereDocument\.\$regex: unknown operator "\$regex"; expected \$contains, \$not_contains, \$and or \$or/],
    [{ contains: 'a' }, /^whereDocument\.contains: unknown operator/],
    [{ $and: [] }, /^whereDocument\.\$and: expected a non-empty array/],
    [{ $or: [{}] }, /^whereDocument\.\$or\[0\]: .*empty object/],
    [{ $and: [{ $contains: 'a' }, { $foo: 1 }] }, /^whereDocument\.\$and\[1\]\.\$foo: unknown operator/],
    [{ $contains: 'a\uD800' }, /lone surrogate/],
  ];
  for (const [wd, message] of cases) {
    assertInvalid(() => checkWhereDocument(wd), message);
    if (wd !== null) assertInvalid(() => compileFilter(undefined, wd as WhereDocument, COLUMNS), message);
  }
  assertInvalid(() => compileFilter({ a: 1 }, undefined, { metadata: 'm; DROP TABLE t', document: 'd' }), /^columns\.metadata: /);
  assertInvalid(() => compileFilter(undefined, { $contains: 'a' }, { metadata: 'm', document: '"d"' }), /^columns\.document: /);
  assert.match(compileFilter({ a: 1 }, undefined, { metadata: 'r.metadata', document: 'r.document' }).sql, /json_type\(r\.metadata, \?\)/);
});

test('checkMetadata accepts scalars and arrays of scalars, refuses the rest with the key path', () => {
  assert.equal(checkMetadata(undefined), null);
  assert.equal(checkMetadata(null), null);
  const ok = { a: 1, b: 'x', c: true, d: null, e: [1, 'y', false, null], f: [], 'x.y': -0, '😀': 1e300 };
  assert.equal(checkMetadata(ok), ok);
  const parsed = JSON.parse('{"__proto__": 1, "constructor": "c"}') as unknown;
  assert.equal(checkMetadata(parsed), parsed);
  const cases: [unknown, RegExp][] = [
    [5, /^metadata: expected a plain object.*got the number 5/],
    [[1], /^metadata: expected a plain object.*got an array of length 1/],
    [new Map(), /^metadata: .*got an instance of Map/],
    [{ a: { b: 1 } }, /^metadata\.a: expected a string, finite number, boolean, null or an array of those \(no nested objects\), got an object with key "b"/],
    [{ a: [1, [2]] }, /^metadata\.a\[1\]: .*arrays hold scalars only.*got an array of length 1/],
    [{ a: [1, {}] }, /^metadata\.a\[1\]: /],
    [{ a: [1, , 2] }, /^metadata\.a\[1\]: .*got undefined/], // eslint-disable-line no-sparse-arrays
    [{ a: NaN }, /^metadata\.a: .*got NaN/],
    [{ a: -Infinity }, /^metadata\.a: .*got the number -Infinity/],
    [{ a: undefined }, /^metadata\.a: .*got undefined/],
    [{ a: () => 1 }, /^metadata\.a: .*got a value of type function/],
    [{ a: 10n }, /^metadata\.a: .*got a value of type bigint/],
    [{ $a: 1 }, /^metadata\.\$a: metadata keys may not start with "\$"/],
    [{ '': 1 }, /^metadata: metadata key names must be non-empty/],
    [{ 'a b': '\uDC00' }, /^metadata\["a b"\]: .*lone surrogate/],
  ];
  for (const [value, message] of cases) assertInvalid(() => checkMetadata(value), message);
  assertInvalid(() => checkMetadata({ x: {} }, 'records[3].metadata'), /^records\[3\]\.metadata\.x: /);
});

test('filterKey is stable under key order and tells different filters apart', () => {
  assert.equal(filterKey({ a: 1, b: { $gt: 2, $lt: 5 } }), filterKey({ b: { $lt: 5, $gt: 2 }, a: 1 }));
  assert.equal(filterKey(undefined, { $contains: 'x' }), filterKey({}, { $contains: 'x' }));
  assert.equal(filterKey(), filterKey({}, {}));
  const distinct = [
    filterKey(), filterKey({ a: 1 }), filterKey({ a: '1' }), filterKey({ a: true }), filterKey({ a: null }),
    filterKey({ a: { $eq: 1 } }), filterKey({ $or: [{ a: 1 }, { b: 1 }] }), filterKey({ $or: [{ b: 1 }, { a: 1 }] }),
    filterKey(undefined, { $contains: 'a' }), filterKey(undefined, { $not_contains: 'a' }), filterKey({ a: 1 }, { $contains: 'a' }),
  ];
  assert.equal(new Set(distinct).size, distinct.length);
  assertInvalid(() => filterKey({ a: { $in: [10n] } } as unknown as Where), /^where\.a\.\$in\[0\]: /);
});
