import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { OmnivecError } from '../errors.js';
import { openDatabase, type Database } from '../db/database.js';
import { Random } from '../vector/random.js';
import { createProjectionService } from '../viz/projection-service.js';
import { spreadSample } from '../tasks/common.js';
import { registerProjectionRoutes, DOCUMENT_CHARS } from './projection-routes.js';
import { createServer } from './app.js';
import type { EncoderService, ServerContext } from './context.js';
import { waitUntil, withTempDir } from '../../test/helpers/assertions.js';

/**
 * A minimal app: the projection routes plus an error handler mapping codes to statuses as the
 * server's does (docs/server.md), so the route file is tested alone.
 */
function minimalApp(db: Database, dir: string): { app: FastifyInstance; ctx: ServerContext } {
  const projections = createProjectionService({ db, dbDir: dir });
  const ctx: ServerContext = { db, dbDir: dir, encoders: {} as EncoderService, projections, tasks: {} as ServerContext['tasks'], version: 'test', startedAt: Date.now() };
  const app = Fastify();
  const status: Record<string, number> = { invalid_argument: 400, not_found: 404, shutting_down: 503 };
  app.setErrorHandler((err, _req, reply) => {
    const e = err as Partial<OmnivecError> & { validation?: unknown };
    const code = e instanceof OmnivecError ? e.code : e.validation !== undefined ? 'invalid_argument' : 'internal';
    return reply.code(status[code] ?? 500).send({ error: { code, message: (err as Error).message } });
  });
  registerProjectionRoutes(app, ctx);
  app.addHook('onClose', async () => { await projections.close(); });
  return { app, ctx };
}

async function poll(app: FastifyInstance, url: string): Promise<{ codes: number[]; body: Record<string, unknown> }> {
  const codes: number[] = [];
  let body: Record<string, unknown> = {};
  await waitUntil(async () => {
    const res = await app.inject({ method: 'GET', url });
    codes.push(res.statusCode);
    body = res.json<Record<string, unknown>>();
    if (res.statusCode !== 202) return true;
    assert.equal(body.status, 'running');
    assert.ok(typeof body.phase === 'string' && typeof body.progress === 'number' && body.progress >= 0 && body.progress <= 1);
    return false;
  }, () => `GET ${url} to answer other than 202 (${codes.length} polls; the last said ${JSON.stringify(body)})`, { timeoutMs: 60_000, everyMs: 30 });
  return { codes, body };
}

test('GET /api/collections/:name/projection: 202 while running, 200 with the map, metadatas and cut documents; stale while recomputing', async () => {
  await withTempDir('omnivec-projroute-', async (tmp) => {
    const dir = join(tmp, 'db');
    const db = await openDatabase(dir);
    const { app } = minimalApp(db, dir);
    try {
      const rng = new Random(3);
      const c = await db.createCollection({ name: 'docs', dim: 6 });
      await c.add(Array.from({ length: 40 }, (_, i) => ({
        id: `d${String(i).padStart(2, '0')}`, vector: Float32Array.from({ length: 6 }, () => rng.gaussian() + (i % 2) * 5),
        document: i === 0 ? 'x'.repeat(1000) : `text ${i}`, metadata: { half: i % 2 },
      })));
      const url = '/api/collections/docs/projection?method=pca&sample=30&seed=7&include=documents,metadatas';
      const { codes, body } = await poll(app, url);
      assert.equal(codes[0], 202, 'the first call starts the computation');
      assert.equal(codes.at(-1), 200);
      assert.equal(body.status, 'done');
      assert.equal(body.method, 'pca');
      assert.equal(body.seq, c.seq);
      assert.equal(body.count, 40);
      const ids = body.ids as string[];
      // 30 of the 40 records, spread over the collection (seeded by seed=7), in id order; the answer says so.
      const all = Array.from({ length: 40 }, (_, i) => `d${String(i).padStart(2, '0')}`);
      assert.deepEqual(ids, spreadSample(all, 30, 7));
      assert.equal(body.sampled, 30);
      assert.equal(body.total, 40);
      const points = body.points as number[];
      assert.equal(points.length, 60);
      assert.ok(points.every((p) => typeof p === 'number' && Number.isFinite(p)));
      const docs = body.documents as string[];
      assert.equal(ids[0], 'd00');
      assert.equal(docs[0]!.length, DOCUMENT_CHARS);
      ids.forEach((id, i) => {
        const n = Number(id.slice(1));
        if (n > 0) assert.equal(docs[i], `text ${n}`, `documents follow ids (${id})`);
        assert.deepEqual((body.metadatas as unknown[])[i], { half: n % 2 }, `metadatas follow ids (${id})`);
      });

      // Cached: 200 at once; without include, no documents or metadatas.
      const again = await app.inject({ method: 'GET', url: '/api/collections/docs/projection?method=pca&sample=30&seed=7' });
      assert.equal(again.statusCode, 200);
      assert.equal(again.json<Record<string, unknown>>().documents, undefined);
      assert.deepEqual(again.json<Record<string, unknown>>().points, points);

      // A write: 202 with the old map marked stale, then the new map.
      await c.upsert([{ id: 'd00', vector: new Float32Array(6).fill(3), document: 'changed' }]);
      const stale = await app.inject({ method: 'GET', url });
      assert.equal(stale.statusCode, 202);
      const sb = stale.json<Record<string, unknown>>();
      assert.equal(sb.stale, true);
      assert.deepEqual(sb.points, points);
      assert.equal(sb.sampled, 30);
      assert.equal(sb.total, 40);
      assert.equal((sb.documents as string[])[0], 'changed', 'documents are read now, beside the old points');
      const next = await poll(app, url);
      assert.equal(next.body.seq, c.seq);
      assert.notDeepEqual(next.body.points, points);

      // Errors.
      const missing = await app.inject({ method: 'GET', url: '/api/collections/nope/projection' });
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json<{ error: { code: string } }>().error.code, 'not_found');
      for (const q of ['method=mds', 'sample=2', 'seed=-1', 'include=vectors', 'method=tsne&sample=200000']) {
        const bad = await app.inject({ method: 'GET', url: `/api/collections/docs/projection?${q}` });
        assert.equal(bad.statusCode, 400, q);
        assert.equal(bad.json<{ error: { code: string } }>().error.code, 'invalid_argument', q);
      }
    } finally {
      await app.close();
      await db.close();
    }
  });
});

test('through createServer: the route, its errors in the server\'s shape, and the OpenAPI entry', async () => {
  await withTempDir('omnivec-projroute-', async (tmp) => {
    const dir = join(tmp, 'db');
    const db = await openDatabase(dir);
    const rng = new Random(4);
    const c = await db.createCollection({ name: 'v', dim: 4 });
    await c.add(Array.from({ length: 12 }, (_, i) => ({ id: `v${i}`, vector: Float32Array.from({ length: 4 }, () => rng.gaussian()) })));
    const server = await createServer({ db });
    try {
      const { body } = await poll(server.app, '/api/collections/v/projection?method=pca&sample=10');
      assert.equal(body.status, 'done');
      assert.equal((body.ids as string[]).length, 10);
      assert.equal(body.count, 12);
      assert.equal(body.sampled, 10);
      assert.equal(body.total, 12);
      const bad = await server.app.inject({ method: 'GET', url: '/api/collections/v/projection?method=mds' });
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json<{ error: { code: string } }>().error.code, 'invalid_argument');
      const missing = await server.app.inject({ method: 'GET', url: '/api/collections/nope/projection' });
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json<{ error: { code: string } }>().error.code, 'not_found');
      const api = (await server.app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, unknown> }>();
      assert.ok('/api/collections/{name}/projection' in api.paths);
    } finally {
      await server.close();
      await db.close();
    }
  });
});

test('GET …/projection/points: the map\'s points as float32 after a 24-byte header, equal to the JSON numbers; points=binary leaves them out of the JSON', async () => {
  await withTempDir('omnivec-projpoints-', async (tmp) => {
    const dir = join(tmp, 'db');
    const db = await openDatabase(dir);
    const { app } = minimalApp(db, dir);
    try {
      const rng = new Random(4);
      const c = await db.createCollection({ name: 'pts', dim: 5 });
      await c.add(Array.from({ length: 50 }, (_, i) => ({ id: `p${String(i).padStart(2, '0')}`, vector: Float32Array.from({ length: 5 }, () => rng.gaussian()) })));
      const first = await app.inject({ method: 'GET', url: '/api/collections/pts/projection/points?method=pca&sample=50' });
      assert.ok(first.statusCode === 202 || first.statusCode === 200);
      const { body } = await poll(app, '/api/collections/pts/projection?method=pca&sample=50');
      const res = await app.inject({ method: 'GET', url: '/api/collections/pts/projection/points?method=pca&sample=50' });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'application/octet-stream');
      const buf = res.rawPayload;
      assert.equal(buf.subarray(0, 4).toString('latin1'), 'OVMP');
      assert.equal(buf.readUInt32LE(4), 1);
      assert.equal(buf.readUInt32LE(8), 50);
      assert.equal(buf.readUInt32LE(12), 0, 'not stale');
      assert.equal(buf.readDoubleLE(16), body.seq);
      assert.equal(buf.length, 24 + 50 * 8);
      const xy = new Float32Array(buf.buffer.slice(buf.byteOffset + 24, buf.byteOffset + buf.length));
      assert.deepEqual(Array.from(xy), (body.points as number[]).map((v) => Math.fround(v)));
      const lean = (await app.inject({ method: 'GET', url: '/api/collections/pts/projection?method=pca&sample=50&points=binary' })).json<Record<string, unknown>>();
      assert.equal(lean.points, undefined);
      assert.deepEqual(lean.ids, body.ids);
      const bad = await app.inject({ method: 'GET', url: '/api/collections/pts/projection/points?method=mds&sample=50' });
      assert.equal(bad.statusCode, 400);
    } finally {
      await app.close();
      await db.close();
    }
  });
});
