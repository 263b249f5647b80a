/**
 * A database written by the release before the vector file (schema 1: vectors in the SQLite rows
 * and in the snapshots; test/fixtures/db-v1, made by make-db-v1.ts) opens with this one: a
 * read-only open says it needs one writable open; a writable open migrates it to schema 2 (vector
 * files, vcrc, next_slot) and every record, query and verify is as the fixture's seeded data says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Sqlite3 from 'better-sqlite3';
import { openDatabase } from '../src/db/database.js';
import { FlatIndex } from '../src/indexes/flat/flat-index.js';
import { decodeHeader, HEADER_BYTES } from '../src/storage/header.js';
import { readFileSync } from 'node:fs';
import { fixtureRecord, V1_COLLECTIONS } from './fixtures/db-v1-data.js';
import { rejectsCode, withTempDir } from './helpers/assertions.js';

const FIXTURE = new URL('./fixtures/db-v1', import.meta.url).pathname;

function userVersion(dir: string): number {
  const db = new Sqlite3(join(dir, 'omnivec.sqlite'), { readonly: true });
  try { return db.pragma('user_version', { simple: true }) as number; } finally { db.close(); }
}

function snapshotVersions(dir: string): number[] {
  return readdirSync(join(dir, 'indexes')).filter((f) => f.endsWith('.idx')).sort().map((f) => {
    const b = readFileSync(join(dir, 'indexes', f));
    return decodeHeader(b.subarray(0, HEADER_BYTES), b.length - HEADER_BYTES).version;
  });
}

test('a schema-1 database: read-only open asks for one writable open; a writable open migrates it and every record, query and verify holds', async () => {
  await withTempDir('omnivec-migrate-v1-', async (dir) => {
    cpSync(FIXTURE, dir, { recursive: true });
    assert.equal(userVersion(dir), 1);
    await rejectsCode(openDatabase(dir, { readOnly: true }), 'read_only', /schema version 1.*open it once for writing/);
    assert.equal(userVersion(dir), 1, 'the read-only attempt changed nothing');

    let db = await openDatabase(dir);
    try {
      assert.equal(userVersion(dir), 2);
      for (const spec of V1_COLLECTIONS) {
        const c = await db.getCollection(spec.name);
        assert.ok(existsSync(join(dir, 'vectors', `c${c.cid}.vec`)), 'the vector file was written');
        const deleted = new Set(spec.deleted);
        const want = Array.from({ length: spec.count }, (_, i) => fixtureRecord(spec, i)).filter((r) => !deleted.has(r.id));
        assert.equal(await c.count(), want.length);
        // Every record exactly: vector (float32 bits), document, metadata.
        const got = await c.get({ ids: want.map((r) => r.id), include: ['vectors', 'documents', 'metadatas'] });
        assert.deepEqual(got.ids, want.map((r) => r.id));
        want.forEach((r, i) => {
          assert.deepEqual(Array.from(got.vectors![i]!), r.vector, `${spec.name} ${r.id} vector`);
          assert.equal(got.documents![i], r.document ?? null);
          assert.deepEqual(got.metadatas![i], r.metadata ?? null);
        });
        assert.deepEqual((await c.get({ ids: spec.deleted })).ids, [], 'deleted records stay deleted');
        // Queries against an exact oracle over the expected records.
        const oracle = new FlatIndex({ dim: spec.dim, metric: spec.metric });
        oracle.add(Uint32Array.from(want, (_, i) => i), { data: Float32Array.from(want.flatMap((r) => r.vector)), dim: spec.dim, count: want.length });
        for (const qi of [0, 5, 17]) {
          const q = Float32Array.from(want[qi]!.vector);
          const truth = oracle.search(q, 5);
          const res = await c.query({ vector: q, k: 5, efSearch: 200 });
          assert.deepEqual(res.ids, Array.from(truth.ids, (i) => want[i]!.id), `${spec.name} query ${qi}`);
        }
        const ft = await c.query({ fullText: 'river', k: 100, include: ['documents'] });
        const withRiver = want.filter((r) => r.document !== undefined && /\briver\b/.test(r.document)).map((r) => r.id).sort();
        assert.deepEqual([...ft.ids].sort(), withRiver, `${spec.name} full text`);
        assert.deepEqual((await c.get({ where: { tag: 'dog' } })).ids.sort(), want.filter((r) => r.metadata?.tag === 'dog').map((r) => r.id).sort());
        assert.deepEqual((await c.verify()).problems, [], `${spec.name} verify`);
        // Writes after the migration: new slots above every old one and its tombstones.
        await c.add([{ id: 'after', vector: want[0]!.vector, document: 'a river after' }]);
        assert.deepEqual((await c.query({ vector: want[0]!.vector, k: 2 })).ids.sort(), [want[0]!.id, 'after'].sort());
        await c.upsert([{ id: want[1]!.id, vector: want[2]!.vector }]);
        assert.deepEqual(Array.from((await c.get({ ids: [want[1]!.id], include: ['vectors'] })).vectors![0]!), want[2]!.vector);
        assert.deepEqual((await c.verify()).problems, []);
      }
    } finally {
      await db.close();
    }
    assert.deepEqual(snapshotVersions(dir), [3, 3], 'the snapshots were rewritten without their vectors');
    db = await openDatabase(dir, { readOnly: true });
    try {
      for (const spec of V1_COLLECTIONS) {
        const c = await db.getCollection(spec.name);
        await c.open();
        assert.equal(c.indexStatus().origin, 'snapshot');
        assert.deepEqual((await c.verify()).problems, []);
        assert.equal(await c.count(), spec.count - spec.deleted.length + 1);
      }
    } finally {
      await db.close();
    }
  });
});
