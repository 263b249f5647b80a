import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Sqlite3 from 'better-sqlite3';
import { openDatabase } from './database.js';
import { OmnivecError } from '../errors.js';
import { Random } from '../vector/random.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'omnivec-db-'));
}

async function rejects(p: Promise<unknown> | (() => unknown), code: string, re?: RegExp): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.ok(e instanceof OmnivecError, `expected OmnivecError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return;
  }
  assert.fail(`expected ${code}`);
}

function vectors(n: number, dim: number, seed = 1): Float32Array {
  const r = new Random(seed);
  const v = new Float32Array(n * dim);
  for (let i = 0; i < v.length; i++) v[i] = r.gaussian();
  return v;
}

test('collections: create, list, info, get, drop; names and specs are checked', async () => {
  const dir = tmp();
  try {
    const db = await openDatabase(dir);
    const c = await db.createCollection({ name: 'films', dim: 4, metric: 'l2', index: 'flat' });
    assert.equal(c.dim, 4);
    await db.createCollection({ name: 'b', dim: 8, index: { kind: 'hnsw', m: 8 } });
    assert.deepEqual((await db.listCollections()).map((x) => [x.name, x.dim, x.metric, x.count]), [['b', 8, 'cosine', 0], ['films', 4, 'l2', 0]]);
    await rejects(db.createCollection({ name: 'films', dim: 4 }), 'already_exists');
    await rejects(db.createCollection({ name: 'bad name!', dim: 4 }), 'invalid_argument', /collection name/);
    await rejects(db.createCollection({ name: 'x', dim: 0 }), 'invalid_argument');
    await rejects(db.createCollection({ name: 'x', dim: 4, metric: 'manhattan' as never }), 'invalid_argument');
    await rejects(db.createCollection({ name: 'x', dim: 4, index: 'lsh' }), 'invalid_argument', /index.kind/);
    await rejects(db.createCollection({ name: 'x', dim: 4, index: { kind: 'hnsw', nList: 3 } }), 'invalid_argument', /nList/);
    await rejects(db.createCollection({ name: 'x', dim: 4, encoder: { model: 'm', dim: 5 } }), 'dimension_mismatch');
    await rejects(async () => (await db.getCollection('nope')), 'not_found', /there are: b, films/);
    await db.dropCollection('b');
    await rejects(async () => (await db.getCollection('b')), 'not_found');
    assert.deepEqual((await db.listCollections()).map((x) => x.name), ['films']);
    await db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('records: add, get, upsert, update, delete, count, peek, list; refused calls change nothing', async () => {
  const dir = tmp();
  try {
    const db = await openDatabase(dir);
    const c = await db.createCollection({ name: 'c', dim: 3, metric: 'l2', index: 'flat' });
    await c.add([
      { id: 'a', vector: [0, 0, 0], document: 'the cat sat', metadata: { n: 1, tag: 'x' } },
      { id: 'b', vector: [1, 0, 0], document: 'a dog ran' },
    ]);
    await c.add({ ids: ['c', 'd'], vectors: new Float32Array([2, 0, 0, 3, 0, 0]), metadatas: [{ n: 3 }, null] });
    assert.equal((await c.count()), 4);
    assert.deepEqual((await c.get({ ids: ['b', 'zz', 'a'] })).ids, ['b', 'a']);
    assert.deepEqual((await c.get({ ids: ['a'] })).metadatas, [{ n: 1, tag: 'x' }]);
    assert.deepEqual((await c.get({ where: { n: { $gte: 1 } } })).ids, ['a', 'c']);
    assert.deepEqual((await c.peek(2)).ids, ['a', 'b']);
    assert.deepEqual((await c.list({ offset: 1, limit: 2 })), ['b', 'c']);
    // Refused: duplicate id (stored, and within the call), wrong dim, NaN, bad metadata → nothing written.
    await rejects(c.add([{ id: 'e', vector: [4, 0, 0] }, { id: 'a', vector: [9, 9, 9] }]), 'already_exists', /"a"/);
    // The same id twice in one call is malformed input (docs/hardening.md §1), not a clash with what is stored.
    await rejects(c.add([{ id: 'f', vector: [4, 0, 0] }, { id: 'f', vector: [5, 0, 0] }]), 'invalid_argument', /"f" appears twice in this call \(also at add\[0\]\)/);
    await rejects(c.add([{ id: 'g', vector: [1, 2] }]), 'dimension_mismatch', /expected 3/);
    await rejects(c.add([{ id: 'h', vector: [1, NaN, 2] }]), 'invalid_argument', /\[1\]: expected a finite number/);
    await rejects(c.add([{ id: 'i', vector: [1, 2, 3], metadata: { nested: { x: 1 } } as never }]), 'invalid_argument', /metadata/);
    await rejects(c.add({ ids: ['j', 'k'], vectors: new Float32Array(3) }), 'invalid_argument', /2 × 3/);
    assert.equal((await c.count()), 4);
    assert.deepEqual((await c.get({ ids: ['e', 'f', 'g', 'h', 'i', 'j'] })).ids, []);
    // Upsert replaces; update changes only what is given.
    await c.upsert([{ id: 'a', vector: [10, 0, 0], document: 'replaced' }, { id: 'e', vector: [4, 0, 0] }]);
    assert.deepEqual((await c.get({ ids: ['a'], include: ['documents', 'metadatas', 'vectors'] })), {
      ids: ['a'], documents: ['replaced'], metadatas: [null], vectors: [new Float32Array([10, 0, 0])],
    });
    await c.update([{ id: 'b', metadata: { n: 2 } }]);
    assert.deepEqual((await c.get({ ids: ['b'], include: ['documents', 'metadatas'] })), { ids: ['b'], documents: ['a dog ran'], metadatas: [{ n: 2 }] });
    await rejects(c.update([{ id: 'b', document: 'x' }, { id: 'missing', document: 'y' }]), 'not_found', /missing/);
    assert.deepEqual((await c.get({ ids: ['b'] })).documents, ['a dog ran']);
    // Queries see every write.
    const q = await c.query({ vector: [4.1, 0, 0], k: 2 });
    assert.deepEqual(q.ids, ['e', 'd']);
    assert.equal(await c.delete({ ids: ['e', 'nope'] }), 1);
    assert.equal(await c.delete({ where: { n: 3 } }), 1);
    await rejects(async () => c.delete({}), 'invalid_argument', /drop the collection/);
    assert.deepEqual((await c.query({ vector: [4.1, 0, 0], k: 5 })).ids, ['d', 'b', 'a']);
    assert.deepEqual((await c.queryById('b', { k: 1 })).ids, ['d']);
    await rejects(c.queryById('zzz'), 'not_found');
    await rejects(c.query({ vector: [1, 2], k: 1 }), 'dimension_mismatch');
    await rejects(c.query({ vector: [1, 2, Infinity], k: 1 }), 'invalid_argument');
    await rejects(c.query({ vector: [1, 2, 3], k: 1, where: { n: { $gt: true } } }), 'invalid_argument', /where/);
    await rejects(c.query({ vector: [1, 2, 3], k: 0 }), 'invalid_argument', /k/);
    await db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('streaming input: an async iterable of any length goes through in one transaction', async () => {
  const dir = tmp();
  try {
    const db = await openDatabase(dir);
    const c = await db.createCollection({ name: 's', dim: 8, metric: 'ip', index: 'flat' });
    const data = vectors(10_000, 8, 3);
    async function* gen(fail: boolean): AsyncGenerator<{ id: string; vector: Float32Array }> {
      for (let i = 0; i < 10_000; i++) {
        if (fail && i === 9_000) yield { id: `r${i}`, vector: new Float32Array(7) };
        yield { id: `r${i}`, vector: data.subarray(i * 8, (i + 1) * 8) };
      }
    }
    await rejects(c.add(gen(true)), 'dimension_mismatch', /add\[9000\]/);
    assert.equal((await c.count()), 0, 'a refused record rolls back the chunks already stored');
    let progress = 0;
    assert.equal(await c.add(gen(false), { onProgress: (p) => { if (p.phase === 'store') progress = p.done; } }), 10_000);
    assert.equal(progress, 10_000);
    assert.equal((await c.count()), 10_000);
    assert.equal(c.indexStatus().size, 10_000);
    await db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('persistence: reopening loads the snapshot and catches up from the records instead of rebuilding', async () => {
  const dir = tmp();
  try {
    const dim = 16;
    const data = vectors(3000, dim, 5);
    let db = await openDatabase(dir);
    let c = await db.createCollection({ name: 'p', dim, metric: 'cosine', index: 'hnsw' });
    await c.add({ ids: Array.from({ length: 3000 }, (_, i) => `v${i}`), vectors: data });
    await c.delete({ ids: ['v0', 'v1'] });
    await db.close();
    assert.deepEqual(readdirSync(join(dir, 'indexes')).filter((f) => f.endsWith('.idx')).length, 1);

    db = await openDatabase(dir);
    c = await db.getCollection('p');
    await c.open();
    assert.equal(c.indexStatus().origin, 'snapshot');
    assert.equal(c.indexStatus().caughtUp, 0);
    assert.equal(c.indexStatus().size, 2998);
    // Writes after the snapshot, then a "crash" (no close): the next open catches up.
    await c.add([{ id: 'new', vector: data.subarray(0, dim) }]);
    await c.delete({ ids: ['v2'] });
    await c.upsert([{ id: 'v3', vector: data.subarray(dim * 10, dim * 11) }]);
    const before = await c.query({ vector: data.subarray(0, dim), k: 3 });
    (db as unknown as { close(): Promise<void> }).close = async () => undefined; // simulate a crash: nothing flushed
    // Release the lock as a killed process would (its pid is ours, so remove the file by hand).
    rmSync(join(dir, 'LOCK'));
    const db2 = await openDatabase(dir);
    const c2 = await db2.getCollection('p');
    await c2.open();
    const st = c2.indexStatus();
    assert.equal(st.origin, 'snapshot');
    assert.equal(st.caughtUp, 4, 'one add, one delete, one upsert (moved to a new slot: its old slot out, its new one in)');
    assert.equal(st.size, 2998);
    const after = await c2.query({ vector: data.subarray(0, dim), k: 3 });
    assert.deepEqual(after.ids, before.ids);
    assert.equal(after.ids[0], 'new');
    const rep = await c2.verify();
    assert.deepEqual(rep.problems, []);
    await db2.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a damaged snapshot is never fatal: the index is derived from the records and verify names the file', async () => {
  const dir = tmp();
  try {
    let db = await openDatabase(dir);
    const c = await db.createCollection({ name: 'd', dim: 4, metric: 'l2', index: 'hnsw' });
    await c.add({ ids: ['a', 'b', 'c'], vectors: new Float32Array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]) });
    await db.close();
    const snap = readdirSync(join(dir, 'indexes')).find((f) => f.endsWith('.idx'))!;
    writeFileSync(join(dir, 'indexes', snap), 'garbage');
    writeFileSync(join(dir, 'indexes', '.c1-9.idx.abc.tmp'), 'left by a crash');
    db = await openDatabase(dir);
    assert.ok(!readdirSync(join(dir, 'indexes')).some((f) => f.endsWith('.tmp')));
    const c2 = await db.getCollection('d');
    assert.deepEqual((await c2.query({ vector: [1.1, 1, 1, 1], k: 1 })).ids, ['b']);
    assert.equal(c2.indexStatus().origin, 'records');
    const rep = await c2.verify();
    assert.equal(rep.ok, false);
    assert.match(rep.problems.join('\n'), new RegExp(snap.replace('.', '\\.')));
    await c2.compact();
    assert.deepEqual((await c2.verify()).problems, []);
    await db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one writer: a second writer gets `locked`; read-only handles follow the writer; future versions are refused', async () => {
  const dir = tmp();
  try {
    const db = await openDatabase(dir);
    await rejects(openDatabase(dir), 'locked', /already open for writing in this process/);
    const c = await db.createCollection({ name: 'r', dim: 2, metric: 'l2', index: 'flat' });
    await c.add([{ id: 'a', vector: [0, 0] }]);
    const ro = await openDatabase(dir, { readOnly: true });
    const rc = await ro.getCollection('r');
    assert.deepEqual((await rc.query({ vector: [0, 0], k: 5 })).ids, ['a']);
    await c.add([{ id: 'b', vector: [0.1, 0] }]);
    assert.deepEqual((await rc.query({ vector: [0, 0], k: 5 })).ids, ['a', 'b'], 'the reader sees the committed write');
    await c.delete({ ids: ['a'] });
    assert.deepEqual((await rc.query({ vector: [0, 0], k: 5 })).ids, ['b']);
    await rejects(rc.add([{ id: 'x', vector: [0, 0] }]), 'read_only');
    await ro.close();
    await db.close();
    // A stale lock (a dead pid) is taken over.
    writeFileSync(join(dir, 'LOCK'), JSON.stringify({ pid: 999_999_999, host: (await import('node:os')).hostname(), since: 'then' }));
    const again = await openDatabase(dir);
    await again.close();
    // Schema from the future.
    const raw = new Sqlite3(join(dir, 'omnivec.sqlite'));
    raw.pragma('user_version = 99');
    raw.close();
    await rejects(openDatabase(dir), 'unsupported_version', /newer omnivec/);
    // Not an SQLite file.
    const d2 = tmp();
    writeFileSync(join(d2, 'omnivec.sqlite'), 'this is not sqlite, just text long enough to have a header of sorts............');
    await rejects(openDatabase(d2), 'corrupt_file');
    rmSync(d2, { recursive: true, force: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('index kinds: auto switches flat → HNSW, IVF trains once large enough; evaluate reports recall', async () => {
  const dir = tmp();
  try {
    const db = await openDatabase(dir);
    const dim = 8;
    const n = 10_500;
    const data = vectors(n, dim, 9);
    const ids = Array.from({ length: n }, (_, i) => String(i));
    const a = await db.createCollection({ name: 'auto', dim, metric: 'l2' });
    await a.add({ ids: ids.slice(0, 5000), vectors: data.subarray(0, 5000 * dim) });
    assert.equal(a.indexStatus().kind, 'flat');
    await a.add({ ids: ids.slice(5000), vectors: data.subarray(5000 * dim) });
    assert.equal(a.indexStatus().kind, 'hnsw');
    assert.equal(a.indexStatus().size, n);
    const ev = await a.evaluate({ sample: 200, k: 10 });
    assert.ok(ev.recall >= 0.95, `recall ${ev.recall}`);
    const ivf = await db.createCollection({ name: 'ivf', dim, metric: 'l2', index: { kind: 'ivf', nList: 16 } });
    await ivf.add({ ids: ids.slice(0, 500), vectors: data.subarray(0, 500 * dim) });
    assert.equal(ivf.indexStatus().kind, 'flat');
    await ivf.add({ ids: ids.slice(500, 3000), vectors: data.subarray(500 * dim, 3000 * dim) });
    assert.equal(ivf.indexStatus().kind, 'ivf');
    const e2 = await ivf.evaluate({ sample: 100, k: 10, nProbe: 16 });
    assert.equal(e2.recall, 1);
    await db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('id-only queries (ids from memory) agree with full queries through adds, deletes, slot reuse and upserts', async () => {
  const dir = tmp();
  try {
    const db = await openDatabase(dir);
    const c = await db.createCollection({ name: 'ids', dim: 4, metric: 'l2', index: 'flat' });
    const rng = new Random(8);
    const vec = (): number[] => [rng.gaussian(), rng.gaussian(), rng.gaussian(), rng.gaussian()];
    await c.add(Array.from({ length: 50 }, (_, i) => ({ id: `a${i}`, vector: vec() })));
    const same = async (): Promise<void> => {
      for (let q = 0; q < 5; q++) {
        const v = vec();
        const full = await c.query({ vector: v, k: 20 });
        const bare = await c.query({ vector: v, k: 20, include: [] });
        assert.deepEqual(bare.ids, full.ids);
      }
    };
    await same();
    await c.delete({ ids: ['a49', 'a48', 'a3'] });   // the highest slots go: SQLite hands them out again
    await c.add([{ id: 'new1', vector: vec() }, { id: 'new2', vector: vec() }]);
    await same();
    await c.upsert([{ id: 'a5', vector: vec() }, { id: 'new3', vector: vec() }]);
    await assert.rejects(c.delete({ where: {} }), /empty filter matches every record/);
    await same();
    assert.equal((await c.count()), 50);
    await db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
