/**
 * Issue 13's data-path regressions at the library level (docs/hardening.md §1–§4, §7, §8): each test
 * failed on 0.1.0 — a record committed despite its error, a key aliasing another, a wide filter
 * refused by SQLite, ids that collapse into one, an upsert that counted what it did not store,
 * results that print as `{"0": …}`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase, type Database } from './database.js';
import type { Collection } from './collection.js';
import { matchesWhere, MAX_FILTER_CONDITIONS, type Metadata, type Where } from './where.js';
import { rejectsCode, withDatabase, withTempDir } from '../../test/helpers/assertions.js';
import { plantRecord } from '../../test/helpers/plant.js';

async function three(db: Database, index: 'flat' | 'hnsw' = 'flat'): Promise<Collection> {
  const c = await db.createCollection({ name: 't', dim: 2, metric: 'l2', index });
  await c.add([{ id: 'a', vector: [1, 0] }, { id: 'b', vector: [0, 1] }, { id: 'c', vector: [1, 1] }]);
  return c;
}

test('item 1: a value finite as a double but infinite as float32 is refused before anything is written', async () => {
  await withDatabase('omnivec-hard-f32-', async (db) => {
    const c = await three(db);
    await rejectsCode(c.add([{ id: 'big', vector: [3.5e38, 1] }]), 'invalid_argument', /add\[0\] \(id "big"\)\.vector\[0\]: expected a finite float32 number.*3\.5e\+38.*Infinity as float32/);
    await rejectsCode(c.add({ ids: ['big'], vectors: [[1, -3.5e38]] }), 'invalid_argument', /vector\[1\].*float32/);
    await rejectsCode(c.upsert([{ id: 'a', vector: [3.5e38, 1] }]), 'invalid_argument', /float32/);
    await rejectsCode(c.update([{ id: 'a', vector: [1, 3.5e38] }]), 'invalid_argument', /float32/);
    await rejectsCode(c.add([{ id: 'mv', vector: [1, 0], multiVector: [[1, 2], [3.5e38, 0]] }]), 'invalid_argument', /multiVector\[1\]\[0\].*float32/);
    await rejectsCode(c.query({ vector: [3.5e38, 1] }), 'invalid_argument', /query\.vector\[0\].*float32/);
    // Nothing of the refused calls was stored, and the collection keeps working.
    assert.equal((await c.count()), 3);
    assert.deepEqual((await c.get({ ids: ['a'], include: ['vectors'] })).vectors!.map((v) => Array.from(v)), [[1, 0]]);
    assert.deepEqual((await c.query({ vector: [1, 0], k: 1 })).ids, ['a']);
    await c.add([{ id: 'ok', vector: [3.4e38, 0] }]); // the largest float32 range is accepted
    assert.equal((await c.count()), 4);
    assert.equal((await c.verify()).ok, true);
  });
});

for (const index of ['flat', 'hnsw'] as const) {
  test(`item 1: a stored non-finite vector (from 0.1.0) never makes the collection unusable (${index}); verify names it, delete repairs`, async () => {
    await withTempDir('omnivec-hard-plant-', async (dir) => {
      let db = await openDatabase(dir);
      await three(db, index);
      await db.close();
      plantRecord(dir, 't', 'big', [Infinity, 1]);
      db = await openDatabase(dir);
      try {
        const c = await db.getCollection('t');
        // Every operation works; the bad row is simply not in the index.
        await c.add([{ id: 'd', vector: [2, 2] }]);
        await c.upsert([{ id: 'a', vector: [1, 0.1] }]);
        assert.deepEqual((await c.query({ vector: [1, 0], k: 10 })).ids.sort(), ['a', 'b', 'c', 'd']);
        assert.equal((await c.count()), 5);
        assert.equal((await c.get({ ids: ['big'], include: ['vectors'] })).vectors![0]![0], Infinity);
        await rejectsCode(c.queryById('big'), 'invalid_argument', /stored vector of "big" is not 2 finite numbers/);
        const v = await c.verify();
        assert.equal(v.ok, false);
        assert.deepEqual(v.invalid, ['big']);
        assert.equal(v.problems.length, 1, v.problems.join('\n'));
        assert.match(v.problems[0]!, /record "big": vector holds a non-finite value \(not indexed; delete it/);
        const report = await c.compact();
        assert.deepEqual(report.invalid, ['big']);
        assert.deepEqual(report.dropped, []);
        assert.equal(report.indexed, 4);
        assert.equal(await c.delete({ ids: ['big'] }), 1);
        assert.deepEqual(await c.verify().then((r) => [r.ok, r.problems]), [true, []]);
      } finally {
        await db.close();
      }
      db = await openDatabase(dir);
      assert.equal((await db.verify()).t!.ok, true);
      await db.close();
    });
  });
}

test('item 1: compact({ dropInvalid }) deletes stored non-finite records and says which', async () => {
  await withTempDir('omnivec-hard-drop-', async (dir) => {
    let db = await openDatabase(dir);
    await three(db);
    await db.close();
    plantRecord(dir, 't', 'nan', [NaN, 0]);
    plantRecord(dir, 't', 'inf', [1, -Infinity]);
    db = await openDatabase(dir);
    try {
      const reports = await db.compact(undefined, { dropInvalid: true });
      assert.deepEqual(reports.t!.dropped.sort(), ['inf', 'nan']);
      assert.equal(await (await db.getCollection('t')).count(), 3);
      assert.equal((await db.verify()).t!.ok, true);
    } finally {
      await db.close();
    }
  });
});

test('item 2: a NUL in a metadata or filter key is refused (it aliased the key before it), and nothing is deleted', async () => {
  await withDatabase('omnivec-hard-nul-', async (db) => {
    const c = await db.createCollection({ name: 't', dim: 2, metric: 'l2', index: 'flat' });
    await c.add([{ id: 'x', vector: [1, 0], metadata: { ctl: 'k1', a: 'v' } }, { id: 'y', vector: [0, 1], metadata: { ctl: 'k2' } }]);
    await rejectsCode(c.add([{ id: 'z', vector: [1, 1], metadata: { 'a\u0000b': 'v' } }]), 'invalid_argument', /metadata\["a\\u0000b"\]: metadata key names may not contain NUL/);
    await rejectsCode(c.get({ where: { 'ctl\u0000anything': 'k1' } }), 'invalid_argument', /where\["ctl\\u0000anything"\]: field names may not contain NUL/);
    await rejectsCode(c.query({ vector: [1, 0], where: { 'ctl\u0000x': 'k1' } }), 'invalid_argument', /NUL/);
    await rejectsCode(c.delete({ where: { $or: [{ 'ctl\u0000': 'k1' }] } }), 'invalid_argument', /NUL/);
    assert.equal((await c.count()), 2);
    // Other unusual keys are distinct fields: quotes, dots, brackets, backslashes, control characters.
    await c.upsert([{ id: 'x', vector: [1, 0], metadata: { 'ctl"': 'q', 'ctl.a': 'd', 'ctl[0]': 'b', 'ctl\\': 's', 'ctl\u0001': 'c' } }]);
    for (const key of ['ctl"', 'ctl.a', 'ctl[0]', 'ctl\\', 'ctl\u0001']) {
      assert.deepEqual((await c.get({ where: { [key]: { $exists: true } } })).ids, ['x'], key);
    }
    assert.deepEqual((await c.get({ where: { ctl: { $exists: true } } })).ids, ['y']);
  });
});

test('item 3: wide filters (1,000-branch $or, 1,000 keys, wide $and of $or) answer like the JS evaluator; past the limit a clear error', async () => {
  await withDatabase('omnivec-hard-wide-', async (db) => {
    const c = await db.createCollection({ name: 't', dim: 2, metric: 'l2', index: 'flat' });
    const metas: Metadata[] = [];
    for (let i = 0; i < 300; i++) metas.push({ user: `u${i}`, n: i, [`f${i % 50}`]: i % 7, tags: [`t${i % 11}`, `t${i % 13}`] });
    await c.add({ ids: metas.map((_, i) => `r${i}`), vectors: metas.map((_, i) => [i, 1]), metadatas: metas });
    const oracle = (w: Where): string[] => metas.flatMap((m, i) => (matchesWhere(m, w) ? [`r${i}`] : []));
    const filters: Where[] = [
      { $or: Array.from({ length: 1000 }, (_, i) => ({ user: `u${i * 3}` })) },
      { $or: Array.from({ length: 1000 }, (_, i) => ({ [`f${i % 50}`]: i % 7, n: { $gte: i % 300 } })) },
      Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, { $ne: i }])),
      { $and: Array.from({ length: 1000 }, (_, i) => ({ $or: [{ n: { $ne: i } }, { tags: 't3' }] })) },
      { $or: [...Array.from({ length: 999 }, (_, i) => ({ tags: { $in: [`t${i % 20}`, 'none'] } })), { user: { $nin: ['u1'] } }] },
    ];
    for (const w of filters) {
      assert.deepEqual((await c.get({ where: w, include: [] })).ids, oracle(w));
      const hits = await c.query({ vector: [0, 1], k: 300, where: w, include: [] });
      assert.deepEqual([...hits.ids].sort(), oracle(w).sort());
    }
    const wd = { $or: Array.from({ length: 1000 }, (_, i) => ({ $contains: `doc${i}` })) };
    assert.deepEqual((await c.get({ whereDocument: wd })).ids, []);
    const tooWide = { $or: Array.from({ length: MAX_FILTER_CONDITIONS + 1 }, (_, i) => ({ [`f${i}`]: i })) };
    await rejectsCode(c.get({ where: tooWide }), 'invalid_argument', /at most 4096 field conditions; for a long list of values of one field use \{ field: \{ \$in/);
    // One $in holds any number of values.
    assert.equal((await c.get({ where: { user: { $in: Array.from({ length: 20_000 }, (_, i) => `u${i}`) } }, include: [] })).ids.length, 300);
  });
});

test('item 5: ids with lone surrogates are refused everywhere (they collapsed into one U+FFFD id); documents too', async () => {
  await withDatabase('omnivec-hard-utf16-', async (db) => {
    const c = await db.createCollection({ name: 't', dim: 2, metric: 'l2', index: 'flat' });
    await rejectsCode(c.add([{ id: '\ud800', vector: [1, 0] }]), 'invalid_argument', /add\[0\]\.id: expected well-formed Unicode text, got an id with a lone surrogate/);
    await rejectsCode(c.add({ ids: ['ok', 'x\udc00'], vectors: [[1, 0], [0, 1]] }), 'invalid_argument', /add\[1\]\.id: .*lone surrogate/);
    await rejectsCode(c.upsert([{ id: 'doc', vector: [1, 0], document: 'text \ud83d' }]), 'invalid_argument', /document: expected well-formed Unicode text, got a lone surrogate at position 5/);
    await rejectsCode(c.add([{ id: 'nul\u0000', vector: [1, 0] }]), 'invalid_argument', /without NUL/);
    await rejectsCode(c.get({ ids: ['\udc00'] }), 'invalid_argument', /get\.ids\[0\].*lone surrogate/);
    await rejectsCode(c.delete({ ids: ['\ud800'] }), 'invalid_argument', /lone surrogate/);
    assert.equal((await c.count()), 0);
    await c.add([{ id: '\ud83d\ude00', vector: [1, 0], document: 'a pair is fine \ud83d\ude00' }, { id: '\ufffd', vector: [0, 1] }]);
    assert.deepEqual((await c.get({ ids: ['\ud83d\ude00', '\ufffd'] })).ids, ['\ud83d\ude00', '\ufffd']);
  });
});

test('item 6: the same id twice in one upsert / update / add is refused (upsert answered count 2 and stored one)', async () => {
  await withDatabase('omnivec-hard-dup-', async (db) => {
    const c = await three(db);
    await rejectsCode(c.upsert([{ id: 'x', vector: [1, 0] }, { id: 'x', vector: [0, 1] }]), 'invalid_argument', /upsert\[1\]\.id: the id "x" appears twice in this call \(also at upsert\[0\]\)/);
    await rejectsCode(c.upsert({ ids: ['a', 'a'], vectors: [[5, 5], [6, 6]] }), 'invalid_argument', /"a" appears twice/);
    await rejectsCode(c.update([{ id: 'a', metadata: { n: 1 } }, { id: 'a', metadata: { n: 2 } }]), 'invalid_argument', /update\[1\].*"a" appears twice/);
    // Across the 4,096-record chunks of one call.
    const ids = Array.from({ length: 5000 }, (_, i) => (i === 4500 ? 'dup' : i === 10 ? 'dup' : `n${i}`));
    await rejectsCode(c.upsert({ ids, vectors: new Float32Array(5000 * 2).fill(1) }), 'invalid_argument', /upsert\[4500\]\.id: the id "dup" appears twice in this call \(also at upsert\[10\]\)/);
    await rejectsCode(c.add({ ids, vectors: new Float32Array(5000 * 2).fill(1) }), 'invalid_argument', /add\[4500\]\.id: the id "dup" appears twice in this call/);
    assert.equal((await c.count()), 3);
    assert.deepEqual((await c.get({ ids: ['a'], include: ['vectors', 'metadatas'] })).vectors!.map((v) => Array.from(v)), [[1, 0]]);
    assert.equal(await c.upsert([{ id: 'x', vector: [1, 0] }, { id: 'y', vector: [0, 1] }]), 2);
    assert.equal((await c.count()), 5);
  });
});

test('item 13: results print as JSON with plain arrays (query, queryById, get with vectors, queryBatch)', async () => {
  await withDatabase('omnivec-hard-json-', async (db) => {
    const c = await three(db);
    const res = await c.query({ vector: [1, 0], k: 2, include: ['vectors'] });
    const json = JSON.parse(JSON.stringify(res)) as Record<string, unknown>;
    assert.deepEqual(json.ids, ['a', 'c']);
    assert.deepEqual(json.distances, [0, 1]);
    assert.ok(Array.isArray(json.scores));
    assert.deepEqual(json.vectors, [[1, 0], [1, 1]]);
    assert.ok(res.distances instanceof Float32Array, 'the result itself keeps its typed arrays');
    assert.deepEqual(Object.keys(res).sort(), ['distances', 'ids', 'scores', 'vectors'], 'toJSON is not an enumerable key');
    const byId = JSON.parse(JSON.stringify(await c.queryById('a', { k: 1 }))) as Record<string, unknown>;
    assert.deepEqual(byId, { ids: ['c'], distances: [1], scores: [1], documents: [null], metadatas: [null] });
    const idsOnly = JSON.parse(JSON.stringify(await c.query({ vector: [0, 1], k: 1, include: [] }))) as Record<string, unknown>;
    assert.deepEqual(idsOnly, { ids: ['b'], distances: [0], scores: [0] });
    assert.deepEqual(JSON.parse(JSON.stringify((await c.get({ ids: ['b'], include: ['vectors'] })))), { ids: ['b'], vectors: [[0, 1]] });
    const batch = JSON.parse(JSON.stringify(await c.queryBatch({ data: Float32Array.of(1, 0, 0, 1), dim: 2, count: 2 }, 1))) as Record<string, unknown>;
    assert.deepEqual(batch, { k: 1, count: 2, ids: [['a'], ['b']], distances: [0, 0], counts: [1, 1] });
  });
});

test('createCollection({ records }): the collection and its records in one transaction; a refused record creates nothing', async () => {
  await withTempDir('omnivec-hard-create-', async (dir) => {
    const db = await openDatabase(dir);
    try {
      const good = Array.from({ length: 5000 }, (_, i) => ({ id: `r${i}`, vector: [i, 1] }));
      await rejectsCode(db.createCollection({ name: 'new', dim: 2, metric: 'l2', records: [...good, { id: 'bad', vector: [1, NaN] }] }), 'invalid_argument', /add\[5000\]/);
      assert.equal((await db.hasCollection('new')), false);
      assert.deepEqual((await db.listCollections()), []);
      const phases = new Set<string>();
      const c = await db.createCollection({ name: 'new', dim: 2, metric: 'l2', index: 'hnsw', records: good, onProgress: (p) => phases.add(p.phase) });
      assert.deepEqual([...phases].sort(), ['index', 'store']);
      assert.equal((await c.count()), 5000);
      assert.equal(c.indexStatus().size, 5000);
      assert.deepEqual((await c.query({ vector: [42, 1], k: 1 })).ids, ['r42']);
      await rejectsCode(db.createCollection({ name: 'new', dim: 2, records: [{ id: 'x', vector: [1, 1] }] }), 'already_exists', /"new" already exists/);
      assert.equal((await c.count()), 5000);
    } finally {
      await db.close();
    }
    const again = await openDatabase(dir);
    try {
      const c = await again.getCollection('new');
      assert.equal((await c.count()), 5000);
      await c.open();
      assert.equal(c.indexStatus().origin, 'snapshot');
      assert.equal((await again.verify()).new!.ok, true);
    } finally {
      await again.close();
    }
  });
});

test('a read-only directory: openDatabase({ readOnly: true }) reads it; opening it for writing is a clear read_only error', async (t) => {
  const root = process.getuid?.() === 0;
  if (process.platform === 'win32') { t.skip('POSIX permissions'); return; }
  await withTempDir('omnivec-hard-ro-', async (dir) => {
    const db = await openDatabase(dir);
    await three(db);
    await db.close();
    // No WAL files are left after a clean close: a reader cannot create them in a read-only directory.
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('-wal') || f.includes('-shm')), []);
    chmodSync(dir, 0o555);
    chmodSync(join(dir, 'indexes'), 0o555);
    try {
      // As root, permissions do not apply: the check runs as an unprivileged user (nobody).
      const script = `
        import { openDatabase } from ${JSON.stringify(new URL('./database.js', import.meta.url).href.replace(/\.js$/, '.ts'))};
        const out = {};
        const db = await openDatabase(${JSON.stringify(dir)}, { readOnly: true });
        const c = await db.getCollection('t');
        out.count = await c.count();
        out.hits = (await c.query({ vector: [1, 0], k: 2 })).ids;
        out.verify = (await db.verify()).t.ok;
        await db.close();
        try { await openDatabase(${JSON.stringify(dir)}); out.write = 'opened'; } catch (e) { out.write = e.code + ': ' + e.message; }
        console.log(JSON.stringify(out));`;
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        encoding: 'utf8', cwd: process.cwd(), ...(root ? { uid: 65534, gid: 65534 } : {}), env: { ...process.env, HOME: dir },
      });
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { count: number; hits: string[]; verify: boolean; write: string };
      assert.deepEqual(out.count, 3);
      assert.deepEqual(out.hits, ['a', 'c']);
      assert.equal(out.verify, true);
      assert.match(out.write, /^read_only: database .*: the directory is not writable by this user/);
      assert.ok(statSync(dir).isDirectory());
    } finally {
      chmodSync(join(dir, 'indexes'), 0o755);
      chmodSync(dir, 0o755);
    }
  });
});
