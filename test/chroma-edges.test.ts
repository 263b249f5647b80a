/**
 * The Chroma face's edges (docs/chroma.md): the body limit and max_batch_size, a read-only
 * database, the catalogue file (an unknown version refused, stale entries after a drop and
 * re-creation through omnivec's API), and the routes the client does not reach by itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChromaClient, ChromaForbiddenError, ChromaNotFoundError } from 'chromadb';
import { createServer, type OmnivecServer } from '../src/server/app.js';
import { openDatabase } from '../src/db/database.js';
import { derivedId } from '../src/server/chroma/catalogue.js';
import { client as http, type Call } from './helpers/http.js';

const DB = '/api/v2/tenants/default_tenant/databases/default_database';

async function serve(db: Parameters<typeof createServer>[0]['db'], bodyLimit?: number): Promise<{ server: OmnivecServer; chroma: ChromaClient; call: Call }> {
  const server = await createServer({ db, threads: 1, ...(bodyLimit !== undefined ? { bodyLimit } : {}) });
  const base = await server.listen(0);
  const u = new URL(base);
  return { server, chroma: new ChromaClient({ host: u.hostname, port: Number(u.port) }), call: http(base) };
}

test('body limit: max_batch_size follows it, a larger body is a 413 in Chroma\'s shape', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-chroma-edges-'));
  const { server, chroma, call } = await serve(join(dir, 'db'), 64 * 1024);
  try {
    assert.equal(await chroma.getMaxBatchSize(), 32);
    const c = await chroma.createCollection({ name: 'small', embeddingFunction: null });
    const big = await call('POST', `${DB}/collections/${c.id}/add`, { ids: ['a'], embeddings: [Array.from({ length: 20_000 }, () => 0.5)] });
    assert.equal(big.status, 413);
    assert.equal(big.body.error as unknown, 'ChromaError');
    assert.match(big.body.message as unknown as string, /at most 65536 bytes/);
    // The routes a client reaches only through the admin API, and the root.
    const beat = (await call('GET', '/api/v2')).body['nanosecond heartbeat'] as unknown as number;
    assert.ok(Math.abs(beat / 1e6 - Date.now()) < 60_000, 'nanoseconds since the epoch');
    const version = await call('GET', '/api/v2/version');
    assert.match(version.headers.get('content-type') ?? '', /application\/json/);
    assert.equal(version.body as unknown, '1.0.0');
    assert.deepEqual((await call('GET', '/api/v2/tenants/default_tenant/databases')).body as unknown, [{ id: '00000000-0000-4000-8000-000000000000', name: 'default_database', tenant: 'default_tenant' }]);
    assert.equal((await call('DELETE', DB)).status, 403);
    const none = await call('GET', '/api/v2/no/such/route');
    assert.equal(none.status, 404);
    assert.equal(none.body.error as unknown, 'NotFoundError');
    // omnivec's own routes keep their own error shape.
    const own = await call('GET', '/api/collections/nope');
    assert.equal((own.body.error as { code: string }).code, 'not_found');
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a read-only database: Chroma reads work, changes are ChromaForbiddenError', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-chroma-edges-'));
  {
    const db = await openDatabase(join(dir, 'db'));
    const c = await db.createCollection({ name: 'frozen', dim: 2, metric: 'l2' });
    await c.add({ ids: ['a', 'b'], vectors: [[0, 0], [3, 4]] });
    await db.close();
  }
  const db = await openDatabase(join(dir, 'db'), { readOnly: true });
  const { server, chroma } = await serve(db);
  try {
    const c = await chroma.getCollection({ name: 'frozen' });
    assert.equal(c.id, derivedId('frozen', (await db.getCollection('frozen')).created));
    const r = await c.query({ queryEmbeddings: [[0, 1]], nResults: 2, include: ['distances'] });
    assert.deepEqual(r.ids, [['a', 'b']]);
    assert.deepEqual(r.distances, [[1, 18]]);
    await assert.rejects(chroma.createCollection({ name: 'new-one', embeddingFunction: null }), ChromaForbiddenError);
    await assert.rejects(c.add({ ids: ['c'], embeddings: [[1, 1]] }), ChromaForbiddenError);
    await assert.rejects(c.modify({ metadata: { x: 1 } }), ChromaForbiddenError);
  } finally {
    await server.close();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the catalogue: stale entries after a drop and re-creation through omnivec\'s API; an unknown version is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-chroma-edges-'));
  const { server, chroma, call } = await serve(join(dir, 'db'));
  try {
    const c = await chroma.createCollection({ name: 'first', embeddingFunction: null, metadata: { v: 1 } });
    await c.add({ ids: ['a'], embeddings: [[1, 2]] });
    await c.modify({ name: 'renamed' });
    const file = join(dir, 'db', 'chroma', 'catalogue.json');
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { kind: string; version: number; collections: { id: string; name: string; storage: string }[] };
    assert.equal(saved.kind, 'omnivec-chroma-catalogue');
    assert.deepEqual(saved.collections.map((e) => [e.id, e.name, e.storage]), [[c.id, 'renamed', 'first']]);
    // Dropped and re-created under the same storage name through omnivec's API: a new collection, a new id.
    assert.equal((await call('DELETE', '/api/collections/first')).status, 200);
    assert.equal((await call('POST', '/api/collections', { name: 'first', dim: 3 })).status, 201);
    await assert.rejects(chroma.getCollection({ name: 'renamed' }), ChromaNotFoundError);
    await assert.rejects(chroma.getCollectionById(c.id), ChromaNotFoundError);
    const again = await chroma.getCollection({ name: 'first' });
    assert.notEqual(again.id, c.id);
    assert.equal(again.metadata, undefined);
    // The next catalogue write drops the stale entry.
    await again.modify({ metadata: { v: 2 } });
    const now = JSON.parse(readFileSync(file, 'utf8')) as typeof saved;
    assert.deepEqual(now.collections.map((e) => [e.id, e.name]), [[again.id, 'first']]);
  } finally {
    await server.close();
  }
  // A catalogue of a version this omnivec does not know is refused, not guessed at.
  mkdirSync(join(dir, 'db', 'chroma'), { recursive: true });
  writeFileSync(join(dir, 'db', 'chroma', 'catalogue.json'), JSON.stringify({ kind: 'omnivec-chroma-catalogue', version: 99, collections: [] }));
  const again = await serve(join(dir, 'db'));
  const stderr = process.stderr.write;
  try {
    process.stderr.write = (() => true) as typeof process.stderr.write; // the 500's stack goes to the log
    const r = await again.call('GET', `${DB}/collections`);
    assert.equal(r.status, 500);
    assert.equal(r.body.error as unknown, 'InternalError');
    assert.match(r.body.message as unknown as string, /Chroma catalogue version 99; this omnivec reads version 1/);
  } finally {
    process.stderr.write = stderr;
    await again.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
