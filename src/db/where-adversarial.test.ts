/**
 * Filter compilation against the JS evaluator on a real collection of every record store (the
 * embedded store's JSONB and SQL, PostgreSQL's jsonb and SQL), with adversarial keys and values (docs/hardening.md §3): quotes, dots, brackets,
 * `$`, backslashes, control characters, `__proto__`, 4 096-character keys, wide `$or`. Keys and
 * values that cannot be represented (NUL in a key, lone surrogates) must be refused with
 * `invalid_argument` — never alias another key, never reach SQLite's limits (a 500 over HTTP).
 */
import assert from 'node:assert/strict';
import { OmnivecError } from '../errors.js';
import { Random } from '../vector/random.js';
import { matchesWhere, matchesWhereDocument, type Metadata, type Scalar, type Where, type WhereDocument } from './where.js';
import { testEachStore, type StoreKind } from '../../test/helpers/stores.js';
import type { Collection } from './collection.js';

const KEYS = [
  'a', 'a.b', 'a"b', "a'b", 'a\\b', 'a\\"b', 'a[0]', '[0]', 'a$', 'a.$b', '"', '\\', '.', ' ', 'ctl\u0001', 'tab\t', 'nl\n',
  '😀', 'é', '__proto__', 'constructor', 'a\\u0000b', '\u2028', 'k'.repeat(4096), 'k'.repeat(4095) + 'x',
];
/** Keys that no record can hold and no filter may name: each would alias or corrupt another key. */
const BAD_KEYS = ['a\u0000b', 'a\u0000', '\u0000', 'a\ud800', '\udc00b', ''];
const ALL_VALUES: Scalar[] = [
  null, true, false, 0, 1, -1, 1.5, 1e300, -0, 'a', 'A', '', '"', "'", '\\', 'a"b', 'a\u0000b', 'a\u0000', '\u0000',
  '😀', 'é', '$eq', '{"$eq":1}', '[1]', 'null', 'true', 'x'.repeat(3000),
];
const LONE_SURROGATES = ['\ud800', 'a\udc00', '\udfff\ud800'];
const ALL_WORDS = ['fox', 'Fox', '"', "'", '\\', '\u0000', '😀', ' ', '%', '_', '*'];
const hasNul = (v: unknown): boolean => typeof v === 'string' && v.includes('\u0000');

// The pools of the store under test: PostgreSQL text cannot hold NUL, so there values with one are
// among the unrepresentable ones (refused at write and in filters) instead of stored ones.
let VALUES = ALL_VALUES;
let BAD_VALUES = LONE_SURROGATES;
let WORDS = ALL_WORDS;
function usePools(kind: StoreKind): void {
  VALUES = kind === 'postgres' ? ALL_VALUES.filter((v) => !hasNul(v)) : ALL_VALUES;
  BAD_VALUES = kind === 'postgres' ? [...LONE_SURROGATES, ...ALL_VALUES.filter(hasNul) as string[]] : LONE_SURROGATES;
  WORDS = kind === 'postgres' ? ALL_WORDS.filter((w) => !hasNul(w)) : ALL_WORDS;
}

function pick<T>(rng: Random, xs: readonly T[]): T {
  return xs[rng.int(xs.length)]!;
}

function randomMetadata(rng: Random): Metadata | null {
  if (rng.next() < 0.05) return null;
  const m: Metadata = {};
  for (const key of KEYS) {
    const r = rng.next();
    if (r < 0.6) continue;
    Object.defineProperty(m, key, {
      value: r < 0.75 ? Array.from({ length: rng.int(3) }, () => pick(rng, VALUES)) : pick(rng, VALUES),
      enumerable: true, writable: true, configurable: true,
    });
  }
  return m;
}

/** Sets an own property whatever the key (`__proto__` included), as JSON.parse would. */
function own(o: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  return o;
}

function randomCondition(rng: Random, bad: () => boolean): unknown {
  const value = (): Scalar => (bad() ? pick(rng, BAD_VALUES) : pick(rng, VALUES));
  const r = rng.next();
  if (r < 0.3) return value();
  const op = pick(rng, ['$eq', '$ne', '$gt', '$lte', '$in', '$nin', '$exists', '$not']);
  switch (op) {
    case '$in':
    case '$nin': return { [op]: Array.from({ length: 1 + rng.int(rng.next() < 0.1 ? 40 : 3) }, value) };
    case '$exists': return { $exists: rng.next() < 0.5 };
    case '$not': return { $not: { $eq: value() } };
    case '$gt':
    case '$lte': {
      let v = value();
      while (typeof v !== 'string' && typeof v !== 'number') v = value();
      return { [op]: v };
    }
    default: return { [op]: value() };
  }
}

/** A random filter; `bad` decides, at each key and value, whether to use an unrepresentable one. */
function randomWhere(rng: Random, depth: number, bad: () => boolean): Where {
  const r = rng.next();
  if (depth > 0 && r < 0.05) {
    // Wide: 200–1 500 branches, one field's values (merged into $in) or many fields.
    const width = 200 + rng.int(1300);
    const oneField = rng.next() < 0.5;
    const field = pick(rng, KEYS);
    return { $or: Array.from({ length: width }, () => own({}, oneField ? field : pick(rng, KEYS), randomCondition(rng, bad)) as Where) };
  }
  if (depth > 0 && r < 0.2) return { [pick(rng, ['$and', '$or'])]: Array.from({ length: 1 + rng.int(3) }, () => randomWhere(rng, depth - 1, bad)) };
  if (depth > 0 && r < 0.27) return { $not: randomWhere(rng, depth - 1, bad) };
  const where: Record<string, unknown> = {};
  for (let i = 0, n = 1 + rng.int(2); i < n; i++) own(where, bad() ? pick(rng, BAD_KEYS) : pick(rng, KEYS), randomCondition(rng, bad));
  return where as Where;
}

function randomWhereDocument(rng: Random): WhereDocument {
  const needle = (): string => Array.from({ length: 1 + rng.int(2) }, () => pick(rng, WORDS)).join('');
  if (rng.next() < 0.3) return { $or: Array.from({ length: 1 + rng.int(600) }, () => ({ $contains: needle() })) };
  return { [rng.next() < 0.7 ? '$contains' : '$not_contains']: needle() };
}

/** True when a filter names a bad key or holds a bad value anywhere. */
function usesBad(x: unknown): boolean {
  if (typeof x === 'string') return BAD_VALUES.includes(x);
  if (Array.isArray(x)) return x.some(usesBad);
  if (x !== null && typeof x === 'object') return Object.keys(x).some((k) => BAD_KEYS.includes(k) || usesBad((x as Record<string, unknown>)[k]));
  return false;
}

async function fill(c: Collection, metas: (Metadata | null)[], docs: (string | null)[]): Promise<void> {
  await c.add({ ids: metas.map((_, i) => `r${i}`), vectors: new Float32Array(metas.length * 2).fill(1), metadatas: metas, documents: docs });
}

testEachStore('property: adversarial keys and values — the store\'s SQL equals the JS evaluator; unrepresentable ones refused; no database error', async (db, kind) => {
  usePools(kind);
  {
    const rng = new Random(1313);
    const n = 600;
    const metas = Array.from({ length: n }, () => randomMetadata(rng));
    const docs = Array.from({ length: n }, () => (rng.next() < 0.1 ? null : Array.from({ length: rng.int(6) }, () => pick(rng, WORDS)).join('')));
    const c = await db.createCollection({ name: 'adv', dim: 2, metric: 'l2', index: 'flat' });
    await fill(c, metas, docs);
    // Records holding an unrepresentable key or value are refused whole.
    for (const key of BAD_KEYS) {
      await assert.rejects(c.add([{ id: 'bad', vector: [1, 1], metadata: own({}, key, 1) }]), (e: unknown) => e instanceof OmnivecError && e.code === 'invalid_argument');
    }
    for (const value of BAD_VALUES) {
      await assert.rejects(c.add([{ id: 'bad', vector: [1, 1], metadata: { a: value } }]), (e: unknown) => e instanceof OmnivecError && e.code === 'invalid_argument');
    }
    assert.equal((await c.count()), n);
    const oracle = (w: Where | undefined, wd: WhereDocument | undefined): string[] =>
      metas.flatMap((m, i) => ((w === undefined || matchesWhere(m, w)) && (wd === undefined || matchesWhereDocument(docs[i]!, wd)) ? [`r${i}`] : []));
    let refused = 0;
    let split = 0;
    const filters = 400;
    for (let f = 0; f < filters; f++) {
      const badRate = f % 4 === 0 ? 0.15 : 0;
      const bad = (): boolean => rng.next() < badRate;
      const where = randomWhere(rng, 3, bad);
      const wd = rng.next() < 0.2 ? randomWhereDocument(rng) : undefined;
      const label = JSON.stringify({ where, wd }).slice(0, 300);
      if (usesBad(where)) {
        await assert.rejects(c.get({ where, whereDocument: wd }), (e: unknown) => e instanceof OmnivecError && e.code === 'invalid_argument', label);
        await assert.rejects(c.delete({ where }), (e: unknown) => e instanceof OmnivecError && e.code === 'invalid_argument', label);
        refused++;
        continue;
      }
      const want = oracle(where, wd);
      assert.deepEqual((await c.get({ where, whereDocument: wd, include: [] })).ids, want, label);
      const hits = await c.query({ vector: [1, 1], k: n, where, whereDocument: wd, include: [] });
      assert.deepEqual([...hits.ids].sort(), [...want].sort(), `query ${label}`);
      if (want.length > 0 && want.length < n) split++;
    }
    assert.equal((await c.count()), n, 'no refused delete removed anything');
    assert.ok(refused > 40, `only ${refused} filters used an unrepresentable key or value`);
    assert.ok(split > filters / 4, `only ${split} filters split the records`);
  }
}, { timeout: 300_000 });

testEachStore('property: deletes by adversarial filters remove exactly what the evaluator matches', async (db, kind) => {
  usePools(kind);
  {
    const rng = new Random(4242);
    for (let round = 0; round < 12; round++) {
      const metas = Array.from({ length: 150 }, () => randomMetadata(rng));
      const c = await db.createCollection({ name: `d${round}`, dim: 2, metric: 'l2', index: 'flat' });
      await fill(c, metas, metas.map(() => null));
      const where = randomWhere(rng, 2, () => false);
      const gone = metas.flatMap((m, i) => (matchesWhere(m, where) ? [`r${i}`] : []));
      if (Object.keys(where).length === 0) continue;
      assert.equal(await c.delete({ where }), gone.length, JSON.stringify(where).slice(0, 300));
      const left = new Set((await c.list()));
      for (const id of gone) assert.ok(!left.has(id));
      assert.equal(left.size, metas.length - gone.length);
    }
  }
});
