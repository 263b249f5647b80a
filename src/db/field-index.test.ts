/**
 * Payload indexes on a real collection of every record store, held to the JS evaluator (where.ts):
 * random filters over fields declared keyword / integer / float / bool and one left undeclared
 * (values of every type on each, arrays, missing keys, nulls), before and after updates, upserts,
 * deletes and a drop; the declarations' life cycle and errors; verify finding a damaged index.
 * The crash test is test/field-index-crash.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Sqlite3 from 'better-sqlite3';
import { join } from 'node:path';
import { OmnivecError } from '../errors.js';
import { Random } from '../vector/random.js';
import { matchesWhere, type Metadata, type Where } from './where.js';
import { randomFilters } from '../../test/helpers/where-random.js';
import { testEachStore } from '../../test/helpers/stores.js';
import { withTempDir } from '../../test/helpers/assertions.js';
import { openDatabase } from './database.js';
import type { Collection } from './collection.js';
import type { FieldIndexType } from './field-index.js';

/** KEYS of where-random.ts: a, b, c, x.y, q"\k declared; 😀 left to the JSON path. */
const DECLARED: [string, FieldIndexType][] = [['a', 'integer'], ['b', 'keyword'], ['c', 'bool'], ['x.y', 'float'], ['q"\\k', 'keyword']];

const isCode = (code: string) => (e: unknown): boolean => e instanceof OmnivecError && e.code === code;

/** Every random filter (and a set of hand-written ones on the declared fields) gives the evaluator's ids, by get and by query. */
async function checkAll(c: Collection, metas: Map<string, Metadata | null>, rng: Random, filters: number, label: string): Promise<number> {
  const { where: randomWhere } = randomFilters({ nul: false });
  const ids = [...metas.keys()].sort();
  const oracle = (w: Where): string[] => ids.filter((id) => matchesWhere(metas.get(id)!, w));
  const handWritten: Where[] = [
    { a: 1 }, { a: { $in: [1, 2, 'a', null] } }, { a: { $ne: 1 } }, { a: { $nin: [1, -1] } }, { a: { $gt: 0.5, $lte: 3 } },
    { a: { $gte: 'a' } }, { b: 'a' }, { b: { $in: ['a', 'b', 1, true] } }, { b: { $lt: 'b' } }, { b: { $gt: 'a', $ne: 'ab' } },
    { c: true }, { c: { $ne: false } }, { c: { $in: [true, null] } }, { 'x.y': { $gt: 1 } }, { 'x.y': { $lt: 1e20, $gt: -1 } },
    { $or: [{ a: 1 }, { b: 'a' }, { '😀': 2 }] }, { $and: [{ a: { $gt: 0 } }, { b: { $exists: true } }, { c: { $ne: true } }] },
    { $or: [{ a: 1 }, { a: 2 }, { a: 3 }] }, { $not: { a: { $in: [0, 1, 2] } } }, { a: 633762049816333400 }, { a: { $gt: 633762049816333300 } },
  ];
  let split = 0;
  const all = [...handWritten, ...Array.from({ length: filters }, () => randomWhere(rng, 3))];
  for (const where of all) {
    const want = oracle(where);
    const text = `${label} ${JSON.stringify(where)}`;
    assert.deepEqual([...(await c.get({ where, include: [] })).ids].sort(), want, text);
    const hits = await c.query({ vector: [1, 1], k: ids.length + 1, where, include: [] });
    assert.deepEqual([...hits.ids].sort(), want, `query ${text}`);
    if (want.length > 0 && want.length < ids.length) split++;
  }
  return split;
}

testEachStore('payload indexes: every operator on declared fields equals the JS evaluator, through updates, upserts, deletes and a drop', async (db) => {
  const rng = new Random(1717);
  const { record } = randomFilters({ nul: false });
  const c = await db.createCollection({ name: 'fi', dim: 2, metric: 'l2', index: 'flat' });
  const metas = new Map<string, Metadata | null>();
  const n = 400;
  for (let i = 0; i < n; i++) metas.set(`r${i}`, record(rng)[0]);
  // Half before the declarations (back-fill), half after (the triggers).
  const put = async (ids: string[], mode: 'add' | 'upsert' | 'update'): Promise<void> => {
    await c[mode]({ ids, vectors: new Float32Array(ids.length * 2).fill(1), metadatas: ids.map((id) => metas.get(id)!) });
  };
  await put([...metas.keys()].slice(0, n / 2), 'add');
  for (const [field, type] of DECLARED) assert.equal(await c.createFieldIndex(field, { type }), true);
  await put([...metas.keys()].slice(n / 2), 'add');
  assert.deepEqual((await c.listFieldIndexes()).map((x) => x.field).sort(), DECLARED.map((x) => x[0]).sort());
  assert.deepEqual((await c.info()).fieldIndexes.length, DECLARED.length);
  assert.ok(await checkAll(c, metas, rng, 250, 'fresh') > 60);
  assert.deepEqual((await c.verify()).problems ?? [], []);

  // Updates (metadata replaced, cleared), upserts of new and stored ids, deletes by id and by a filter on a declared field.
  const keys = [...metas.keys()];
  const changed = keys.filter(() => rng.next() < 0.3);
  for (const id of changed) metas.set(id, rng.next() < 0.1 ? null : record(rng)[0]);
  await put(changed, 'update');
  const upserted = [...keys.filter(() => rng.next() < 0.1), 'u1', 'u2', 'u3'];
  for (const id of upserted) metas.set(id, record(rng)[0]);
  await put(upserted, 'upsert');
  const gone = keys.filter(() => rng.next() < 0.1);
  await c.delete({ ids: gone });
  for (const id of gone) metas.delete(id);
  const byFilter: Where = { a: { $in: [1, 2] } };
  const matched = [...metas.keys()].filter((id) => matchesWhere(metas.get(id)!, byFilter));
  assert.equal(await c.delete({ where: byFilter }), matched.length);
  for (const id of matched) metas.delete(id);
  assert.ok(await checkAll(c, metas, rng, 150, 'after writes') > 30);
  // Compaction renumbers the embedded store's slots densely: the payload indexes follow (a trigger on the slot).
  await c.compact();
  await checkAll(c, metas, rng, 80, 'after compact');
  assert.deepEqual((await c.verify()).problems ?? [], []);

  // Idempotent re-declaration, another type refused, a drop falls back to the JSON path.
  assert.equal(await c.createFieldIndex('a', { type: 'integer' }), false);
  await assert.rejects(c.createFieldIndex('a', { type: 'keyword' }), isCode('already_exists'));
  await c.dropFieldIndex('a');
  await assert.rejects(c.dropFieldIndex('a'), isCode('not_found'));
  assert.equal((await c.listFieldIndexes()).some((x) => x.field === 'a'), false);
  await checkAll(c, metas, rng, 80, 'after drop');
  assert.deepEqual((await c.verify()).problems ?? [], []);
}, { timeout: 300_000 });

testEachStore('payload indexes: bad field names and types are typed errors naming what came', async (db) => {
  const c = await db.createCollection({ name: 'bad', dim: 2, metric: 'l2', index: 'flat' });
  for (const field of ['', '$eq', 'a\u0000', 'a\ud800', 5, null]) {
    await assert.rejects(c.createFieldIndex(field as string, { type: 'keyword' }), (e: unknown) => isCode('invalid_argument')(e) && /field/.test((e as Error).message));
  }
  for (const type of ['text', 'int', '', 3, undefined]) {
    await assert.rejects(c.createFieldIndex('a', { type: type as FieldIndexType }), (e: unknown) => isCode('invalid_argument')(e) && /keyword, integer, float, bool/.test((e as Error).message));
  }
  await assert.rejects(c.createFieldIndex('a', null as unknown as { type: FieldIndexType }), isCode('invalid_argument'));
  assert.deepEqual(await c.listFieldIndexes(), []);
  // Declared on an empty collection, then filled: the declaration persists across a reopen.
  await c.createFieldIndex('k', { type: 'keyword' });
  await c.add([{ id: 'x', vector: [1, 2], metadata: { k: ['p', 'q'] } }, { id: 'y', vector: [1, 2], metadata: { k: 'q' } }]);
  assert.deepEqual((await c.get({ where: { k: 'p' }, include: [] })).ids, ['x']);
  // Repeated elements through every write path (an upsert's ON CONFLICT once overrode the triggers' OR IGNORE).
  await c.createFieldIndex('n', { type: 'integer' });
  await c.upsert([{ id: 'x', vector: [1, 2], metadata: { k: ['p', 'p'], n: [1, 1.0, 2] } }, { id: 'z', vector: [1, 2], metadata: { k: ['q', 'q'], n: [2, 2] } }]);
  await c.update([{ id: 'y', metadata: { k: ['q', 'q', 'p'], n: [3, 3] } }]);
  await c.add([{ id: 'w', vector: [1, 2], metadata: { n: [3, 3, 3] } }]);
  assert.deepEqual((await c.get({ where: { n: { $gte: 2 } }, include: [] })).ids.sort(), ['w', 'x', 'y', 'z']);
  assert.deepEqual((await c.get({ where: { k: 'p' }, include: [] })).ids.sort(), ['x', 'y']);
  assert.deepEqual((await c.verify()).problems, []);
});

test('payload indexes (embedded): persisted across a reopen, visible read-only, dropped with the collection; verify finds a damaged index', async () => {
  await withTempDir('omnivec_fi_', async (dir) => {
    let db = await openDatabase(dir);
    let c = await db.createCollection({ name: 'c', dim: 2, metric: 'l2', index: 'flat' });
    await c.add(Array.from({ length: 50 }, (_, i) => ({ id: `r${i}`, vector: [i, 1], metadata: { n: i % 7, t: [`t${i % 3}`, 'all'] } })));
    await c.createFieldIndex('n', { type: 'integer' });
    await c.createFieldIndex('t', { type: 'keyword' });
    await db.close();

    const ro = await openDatabase(dir, { readOnly: true });
    const rc = await ro.getCollection('c');
    assert.deepEqual(await rc.listFieldIndexes(), [{ field: 'n', type: 'integer' }, { field: 't', type: 'keyword' }]);
    assert.equal((await rc.get({ where: { n: 3 }, include: [] })).ids.length, 7);
    await assert.rejects(rc.createFieldIndex('z', { type: 'bool' }), isCode('read_only'));
    await ro.close();

    db = await openDatabase(dir);
    c = await db.getCollection('c');
    assert.deepEqual((await c.verify()).problems ?? [], []);
    await db.close();
    // Damage: a value row removed and a stray one added behind the triggers' back.
    const raw = new Sqlite3(join(dir, 'omnivec.sqlite'));
    const cid = (raw.prepare(`SELECT cid FROM collections WHERE name = 'c'`).pluck().get()) as number;
    raw.prepare(`DELETE FROM c${cid}_fv WHERE field = 'n' AND slot = (SELECT min(slot) FROM c${cid}_fv WHERE field = 'n')`).run();
    raw.prepare(`INSERT INTO c${cid}_fv(field, v, slot) VALUES ('t', 'nowhere', 1)`).run();
    raw.prepare(`INSERT INTO c${cid}_fa(field, slot) VALUES ('n', 2)`).run();
    raw.close();
    db = await openDatabase(dir);
    c = await db.getCollection('c');
    const problems = (await c.verify()).problems ?? [];
    assert.ok(problems.some((p) => /payload index "n".*missing/.test(p)), problems.join('; '));
    assert.ok(problems.some((p) => /payload index "t".*no record holds/.test(p)), problems.join('; '));
    assert.ok(problems.some((p) => /payload index "n".*marked wrongly/.test(p)), problems.join('; '));
    await db.dropCollection('c');
    await db.close();
    const after = new Sqlite3(join(dir, 'omnivec.sqlite'), { readonly: true });
    assert.equal(after.prepare(`SELECT count(*) FROM field_indexes WHERE cid = ?`).pluck().get(cid), 0);
    assert.equal(after.prepare(`SELECT count(*) FROM sqlite_master WHERE name = ?`).pluck().get(`c${cid}_fv`), 0);
    after.close();
  });
});

