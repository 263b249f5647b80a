/**
 * What a user sees when a postgres:// database is not what omnivec needs (docs/postgres.md,
 * "Setup"): an unreachable server, a missing database, a role that may not create the extension
 * (the message says what to run; once run, the same role works), a schema from a newer omnivec, a
 * URL of another scheme — each a typed error and its exit code, nothing created in the current
 * folder; and a connection the server drops between calls is replaced without the caller noticing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { OmnivecError } from '../src/errors.js';
import { openDatabase } from '../src/db/database.js';
import { withTempDir } from './helpers/assertions.js';
import { cliInProcess as cli } from './helpers/cli.js';
import { PG_SKIP, PG_URL, withPgDatabase } from './helpers/postgres.js';

async function refused(location: string, code: string, message: RegExp, options: { readOnly?: boolean } = {}): Promise<void> {
  await assert.rejects(openDatabase(location, options), (e: unknown) => {
    assert.ok(e instanceof OmnivecError, `expected an OmnivecError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    assert.doesNotMatch(e.message, /secret/, 'the password is not in the message');
    return true;
  });
}

async function admin(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try { return (await c.query(sql)).rows as Record<string, unknown>[]; } finally { await c.end(); }
}

test('an unreachable server, another scheme: typed errors and exit codes, no folder named after the URL', async () => {
  await withTempDir('omnivec-pg-errors-', async (dir) => {
    const prev = process.cwd();
    process.chdir(dir);
    try {
      // Port 1 on loopback: nothing listens there.
      await refused('postgres://me:secret@127.0.0.1:1/films', 'unavailable', /cannot be reached|cannot connect/);
      await refused('postgresql://me:secret@127.0.0.1:1/films', 'unavailable', /127\.0\.0\.1:1/);
      await refused('mysql://me:secret@localhost/films', 'invalid_argument', /postgres:\/\/ URL, got a mysql:\/\/ location/);
      await refused('postgres://me:secret@127.0.0.1:1/', 'invalid_argument', /database name/);
      const r = await cli(['--db', 'postgres://me:secret@127.0.0.1:1/films', 'list']);
      assert.equal(r.code, 10, r.stderr);
      assert.match(r.stderr, /^omnivec: unavailable: /);
      assert.equal((await cli(['--db', 'http://localhost:8000/x', 'create', 'a', '--dim', '2'])).code, 2);
      assert.deepEqual(readdirSync(dir), [], 'nothing was created in the current folder');
    } finally {
      process.chdir(prev);
    }
  });
});

test('a missing database, a role that may not create the extension, a newer schema; a dropped connection replaced', { skip: PG_SKIP, timeout: 60_000 }, async () => {
  const missing = new URL(PG_URL!);
  missing.pathname = '/omnivec_no_such_database';
  await refused(missing.toString(), 'not_found', /no such database.*CREATE DATABASE/);

  await withPgDatabase('pg_errors', async (url) => {
    // A plain role owning the database: PostgreSQL lets only a superuser create pgvector.
    const role = `omnivec_plain_${Date.now()}`;
    const db = new URL(url).pathname.slice(1);
    await admin(PG_URL!, `CREATE ROLE ${role} LOGIN PASSWORD 'secret'`);
    try {
      await admin(PG_URL!, `ALTER DATABASE "${db}" OWNER TO ${role}`);
      const asRole = new URL(url);
      asRole.username = role;
      asRole.password = 'secret';
      await refused(asRole.toString(), 'read_only', /may not create the extension "vector".*CREATE EXTENSION vector/);
      const r = await cli(['--db', asRole.toString(), 'create', 'a', '--dim', '2']);
      assert.equal(r.code, 6, r.stderr);
      assert.match(r.stderr, /:…@127\.0\.0\.1/, 'the password is shown as …');
      // What the message says to run, run by a superuser: then the same role works.
      await admin(url, 'CREATE EXTENSION vector; CREATE EXTENSION unaccent');
      const d = await openDatabase(asRole.toString());
      try {
        await (await d.createCollection({ name: 'a', dim: 2 })).add([{ id: 'x', vector: [1, 0] }]);
        // The server drops every connection of the role; the next call gets a new one.
        await admin(PG_URL!, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${role}'`);
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(await (await d.getCollection('a')).count(), 1);
      } finally {
        await d.close();
      }
      await admin(PG_URL!, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${role}'`);
    } finally {
      await admin(url, `REASSIGN OWNED BY ${role} TO postgres`).catch(() => undefined);
      await admin(PG_URL!, `ALTER DATABASE "${db}" OWNER TO postgres`).catch(() => undefined);
      await admin(url, `DROP OWNED BY ${role}`).catch(() => undefined);
      await admin(PG_URL!, `DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    }

    // A schema written by a newer omnivec: refused, writable or read-only, and left as it was.
    await admin(url, `UPDATE omnivec.meta SET value = '999' WHERE key = 'schema_version'`);
    await refused(url, 'unsupported_version', /version 999, written by a newer omnivec/);
    await refused(url, 'unsupported_version', /newer omnivec/, { readOnly: true });
    const r = await cli(['--db', url, 'list']);
    assert.equal(r.code, 5, r.stderr);
  });
});

test('full-text version: a database indexed by an older omnivec is reindexed at open, one by a newer refused; shardBy checked', { skip: PG_SKIP, timeout: 60_000 }, async () => {
  await withPgDatabase('pg_ftver', async (url) => {
    let db = await openDatabase(url);
    try {
      await db.createCollection({ name: 'docs', dim: 2, records: [{ id: 'a', vector: [1, 0], document: 'boundary layer flow' }, { id: 'b', vector: [0, 1], document: 'heat transfer' }] });
      await assert.rejects(db.createCollection({ name: 'x', dim: 2, shardBy: 'rows' as never }), (e: unknown) => e instanceof OmnivecError && e.code === 'invalid_argument' && /shardBy: expected "collection" or "id"/.test(e.message));
    } finally {
      await db.close();
    }
    // As an older version left it: its tokens gone, its version behind.
    const cid = Number((await admin(url, `SELECT cid FROM omnivec.collections WHERE name = 'docs'`))[0]!.cid);
    await admin(url, `ALTER TABLE omnivec.c${cid}_r DISABLE TRIGGER fts_row; UPDATE omnivec.c${cid}_r SET tsv = NULL, doclen = NULL; ALTER TABLE omnivec.c${cid}_r ENABLE TRIGGER fts_row; UPDATE omnivec.meta SET value = '0' WHERE key = 'fulltext_version'`);
    db = await openDatabase(url);
    try {
      assert.deepEqual((await (await db.getCollection('docs')).query({ fullText: 'flows', k: 5, include: [] })).ids, ['a'], 'reindexed at open');
    } finally {
      await db.close();
    }
    await admin(url, `UPDATE omnivec.meta SET value = '99' WHERE key = 'fulltext_version'`);
    await refused(url, 'unsupported_version', /full-text index is version 99, written by a newer omnivec/);
  });
});
