/**
 * The collections and records API through real HTTP (docs/server.md, "Endpoints"), with a fake
 * hashing encoder standing in for the served encoders; and /openapi.json against the routes.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type OmnivecServer } from '../src/server/app.js';
import { openDatabase } from '../src/db/database.js';
import { fakeEncoders, hashText, FAKE_MODEL, type FakeEncoders } from './helpers/fake-encoders.js';
import { client, f32base64, type Call } from './helpers/http.js';
import { PG_SKIP, createPgDatabase } from './helpers/postgres.js';

// The same suite on the embedded store and on PostgreSQL (skipped with the reason without a server).
for (const kind of ['embedded', 'postgres'] as const) {
  describe(`collections and records API [${kind}]`, { skip: kind === 'postgres' ? PG_SKIP : false }, () => {
    let dir: string;
    let server: OmnivecServer;
    let enc: FakeEncoders;
    let call: Call;

    let drop: () => Promise<void>;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'omnivec-server-api-'));
      drop = async () => undefined;
      let location = dir;
      if (kind === 'postgres') {
        const pgdb = await createPgDatabase('server_api');
        location = pgdb.url;
        drop = pgdb.drop;
        process.env.OMNIVEC_FILES = join(dir, 'pg-files');
      }
      enc = fakeEncoders({ dim: 16, kind: 'clip' });
      server = await createServer({ db: location, encoderService: enc });
      call = client(await server.listen(0));
    });

    after(async () => {
      await server.close();
      await drop();
      delete process.env.OMNIVEC_FILES;
      rmSync(dir, { recursive: true, force: true });
    });

    const DOCS = [
      { id: 'solar', document: 'solar panels turn sunlight into electricity', metadata: { topic: 'energy', year: 2020 } },
      { id: 'wind', document: 'wind turbines turn moving air into electricity', metadata: { topic: 'energy', year: 2018 } },
      { id: 'bread', document: 'bake bread with flour water salt and yeast', metadata: { topic: 'food', year: 2021 } },
      { id: 'pasta', document: 'fresh pasta needs flour and eggs', metadata: { topic: 'food', year: 2019 } },
      { id: 'cat', document: 'the cat sleeps on the warm windowsill', metadata: { topic: 'pets', year: 2022 } },
      { id: 'dog', document: 'the dog fetches the ball in the park', metadata: { topic: 'pets', year: 2017 } },
    ];

    test('collections: create (with a served encoder and with a dim), list, info', async () => {
      let r = await call('POST', '/api/collections', { name: 'docs', encoder: 'hash' });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const docs = r.body.collection as { name: string; dim: number; encoder: { model: string; dim: number } };
      assert.equal(docs.dim, 16, 'dim defaults to the encoder\'s');
      assert.deepEqual(docs.encoder, { model: FAKE_MODEL, dim: 16 });

      r = await call('POST', '/api/collections', { name: 'vecs', dim: 4, metric: 'l2', index: 'flat' });
      assert.equal(r.status, 201, JSON.stringify(r.body));

      r = await call('GET', '/api/collections');
      assert.equal(r.status, 200);
      assert.deepEqual((r.body.collections as { name: string }[]).map((c) => c.name), ['docs', 'vecs']);

      r = await call('GET', '/api/collections/docs');
      assert.equal(r.status, 200);
      assert.equal(r.body.encoder, 'hash');
      assert.equal((r.body.collection as { count: number }).count, 0);
      assert.equal(typeof (r.body.index as { loaded: boolean }).loaded, 'boolean');

      r = await call('GET', '/api/collections/vecs');
      assert.equal(r.body.encoder, null);
      assert.equal((r.body.collection as { metric: string }).metric, 'l2');

      r = await call('POST', '/api/collections', { name: 'vecs', dim: 4 });
      assert.equal(r.status, 409);
      assert.equal(r.body.error!.code, 'already_exists');
    });

    test('records: documents encoded on add (passage mode), text queries (query mode), hybrid and full text', async () => {
      const before = enc.calls.texts;
      let r = await call('POST', '/api/collections/docs/add', {
        ids: DOCS.map((d) => d.id), documents: DOCS.map((d) => d.document), metadatas: DOCS.map((d) => d.metadata),
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body, { count: 6 });
      assert.equal(enc.calls.texts - before, 6);
      assert.equal(enc.calls.modes.at(-1), 'passage');

      // The stored vectors are the encoder's.
      r = await call('POST', '/api/collections/docs/get', { ids: ['cat'], include: ['vectors', 'documents'] });
      const stored = (r.body.vectors as number[][])[0]!;
      const want = hashText(DOCS[4]!.document, 16);
      for (let j = 0; j < 16; j++) assert.ok(Math.abs(stored[j]! - want[j]!) < 1e-6);

      r = await call('POST', '/api/collections/docs/query', { text: 'electricity from sunlight solar', k: 3 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(enc.calls.modes.at(-1), 'query');
      assert.equal((r.body.ids as string[])[0], 'solar');
      assert.equal((r.body.documents as string[])[0], DOCS[0]!.document);
      assert.deepEqual((r.body.metadatas as object[])[0], DOCS[0]!.metadata);
      const scores = r.body.scores as number[];
      assert.equal(scores.length, 3);
      for (let i = 1; i < scores.length; i++) assert.ok(scores[i - 1]! >= scores[i]!, 'cosine scores: best first');

      // Filtered text query.
      r = await call('POST', '/api/collections/docs/query', { text: 'flour', k: 10, where: { topic: 'food' }, include: [] });
      assert.deepEqual(new Set(r.body.ids as string[]), new Set(['bread', 'pasta']));
      assert.equal(r.body.documents, undefined);

      // Full text alone: BM25; distances are null (no dense distance).
      r = await call('POST', '/api/collections/docs/query', { fullText: 'flour eggs', k: 5 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal((r.body.ids as string[])[0], 'pasta');
      assert.ok((r.body.distances as (number | null)[]).every((d) => d === null));

      // Hybrid: the text is both the dense and the BM25 query; RRF fuses them.
      r = await call('POST', '/api/collections/docs/query', { text: 'the dog in the park', hybrid: true, k: 3 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal((r.body.ids as string[])[0], 'dog');
      assert.equal((r.body.distances as (number | null)[])[0] !== null, true, 'a dense hit keeps its distance');

      // Hybrid with weights, dense vector + full text.
      r = await call('POST', '/api/collections/docs/query', {
        vector: Array.from(hashText('wind air', 16)), fullText: 'turbines', k: 2, fusion: { weights: { dense: 1, fullText: 2 } },
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal((r.body.ids as string[])[0], 'wind');

      // Neighbours of a stored record: itself left out.
      r = await call('POST', '/api/collections/docs/query', { id: 'bread', k: 3 });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.ok(!(r.body.ids as string[]).includes('bread'));
      assert.equal((r.body.ids as string[])[0], 'pasta');
    });

    test('update without vectors: a collection bound to an encoder re-encodes the new documents', async () => {
      let r = await call('POST', '/api/collections/docs/update', { ids: ['cat'], documents: ['the cat chases a red laser dot'] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      r = await call('POST', '/api/collections/docs/get', { ids: ['cat'], include: ['vectors', 'documents', 'metadatas'] });
      assert.deepEqual(r.body.documents, ['the cat chases a red laser dot']);
      assert.deepEqual(r.body.metadatas, [DOCS[4]!.metadata], 'fields not sent are kept');
      const want = hashText('the cat chases a red laser dot', 16);
      (r.body.vectors as number[][])[0]!.forEach((x, j) => assert.ok(Math.abs(x - want[j]!) < 1e-6));
      r = await call('POST', '/api/collections/docs/query', { text: 'laser dot', k: 1 });
      assert.deepEqual(r.body.ids, ['cat']);
    });

    test('records: images through the collection\'s encoder, queried by image', async () => {
      const img = (seed: number): string => Buffer.from(Array.from({ length: 64 }, (_, i) => (i * seed) % 251)).toString('base64');
      let r = await call('POST', '/api/collections/docs/add', { ids: ['img1', 'img2'], images: [img(3), img(7)], metadatas: [{ topic: 'img' }, { topic: 'img' }] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(enc.calls.images, 2);
      r = await call('POST', '/api/collections/docs/query', { image: img(7), k: 1, where: { topic: 'img' } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.ids, ['img2']);
      r = await call('POST', '/api/collections/docs/delete', { where: { topic: 'img' } });
      assert.deepEqual(r.body, { deleted: 2 });
    });

    test('records: vectors as arrays and base64; upsert, update, get, count, query by vector and id, delete, drop', async () => {
      const v = { a: [0, 0, 0, 0], b: [1, 0, 0, 0], c: [0, 2, 0, 0], d: [3, 3, 0, 0] };
      let r = await call('POST', '/api/collections/vecs/add', {
        ids: ['a', 'b', 'c'], vectors: [v.a, f32base64(v.b), v.c], documents: ['alpha', null, 'gamma'], metadatas: [{ n: 1 }, null, { n: 3 }],
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body, { count: 3 });

      r = await call('POST', '/api/collections/vecs/get', { ids: ['b', 'missing', 'a'], include: ['vectors', 'documents', 'metadatas'] });
      assert.deepEqual(r.body, { ids: ['b', 'a'], documents: [null, 'alpha'], metadatas: [null, { n: 1 }], vectors: [v.b, v.a] });

      r = await call('POST', '/api/collections/vecs/upsert', { ids: ['c', 'd'], vectors: [[0, 5, 0, 0], v.d] });
      assert.deepEqual(r.body, { count: 2 });
      r = await call('GET', '/api/collections/vecs/count');
      assert.deepEqual(r.body, { count: 4 });

      r = await call('POST', '/api/collections/vecs/update', { ids: ['a'], metadatas: [{ n: 10, tag: 'x' }] });
      assert.deepEqual(r.body, { count: 1 });
      r = await call('POST', '/api/collections/vecs/get', { ids: ['a', 'c'], include: ['vectors', 'metadatas', 'documents'] });
      assert.deepEqual(r.body, { ids: ['a', 'c'], documents: ['alpha', null], metadatas: [{ n: 10, tag: 'x' }, null], vectors: [v.a, [0, 5, 0, 0]] });

      // Filter + paging in storage order.
      r = await call('POST', '/api/collections/vecs/get', { limit: 2, offset: 1, include: [] });
      assert.deepEqual(r.body, { ids: ['b', 'c'] });
      r = await call('POST', '/api/collections/vecs/get', { where: { tag: 'x' } });
      assert.deepEqual(r.body.ids, ['a']);

      // L2: scores are the distances (square-rooted), nearest first.
      r = await call('POST', '/api/collections/vecs/query', { vector: f32base64([1, 0.1, 0, 0]), k: 2, include: ['vectors'] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.ids, ['b', 'a']);
      assert.deepEqual(r.body.vectors, [v.b, v.a]);
      const [s0, s1] = r.body.scores as number[];
      assert.ok(Math.abs(s0! - 0.1) < 1e-6 && Math.abs(s1! - Math.hypot(1, 0.1)) < 1e-6);
      assert.ok(Array.isArray(r.body.distances));

      r = await call('POST', '/api/collections/vecs/query', { id: 'a', k: 1 });
      assert.deepEqual(r.body.ids, ['b']);

      r = await call('POST', '/api/collections/vecs/delete', { ids: ['b', 'nope'] });
      assert.deepEqual(r.body, { deleted: 1 });
      r = await call('POST', '/api/collections/vecs/delete', { where: { n: { $gte: 10 } } });
      assert.deepEqual(r.body, { deleted: 1 });
      r = await call('GET', '/api/collections/vecs/count');
      assert.deepEqual(r.body, { count: 2 });

      r = await call('DELETE', '/api/collections/vecs');
      assert.deepEqual(r.body, { dropped: 'vecs' });
      r = await call('GET', '/api/collections');
      assert.deepEqual((r.body.collections as { name: string }[]).map((c) => c.name), ['docs']);
      r = await call('GET', '/api/collections/vecs/count');
      assert.equal(r.status, 404);
      assert.equal(r.body.error!.code, 'not_found');
    });

    test('an open Database passed in is left open by close()', async () => {
      const other = mkdtempSync(join(tmpdir(), 'omnivec-server-api-db-'));
      const db = await openDatabase(other);
      try {
        const s = await createServer({ db, encoderService: fakeEncoders({ dim: 4 }) });
        const r = await s.app.inject({ method: 'POST', url: '/api/collections', payload: { name: 'x', dim: 4 } });
        assert.equal(r.statusCode, 201, r.body);
        await s.close();
        assert.equal(await (await db.getCollection('x')).count(), 0, 'still usable');
      } finally {
        await db.close();
        rmSync(other, { recursive: true, force: true });
      }
    });

    test('healthz and openapi.json: every registered route is documented', async () => {
      let r = await call('GET', '/healthz');
      assert.equal(r.status, 200);
      assert.equal(r.body.status, 'ok');
      assert.equal(typeof r.body.version, 'string');
      assert.equal(r.body.collections, 1);
      assert.equal(typeof r.body.uptimeSeconds, 'number');

      r = await call('GET', '/openapi.json');
      assert.equal(r.status, 200);
      assert.equal(r.body.openapi, '3.1.0');
      const paths = r.body.paths as Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: object } }> }; parameters?: { name: string; in: string }[] }>>;
      const mine: [string, string][] = [
        ['get', '/healthz'], ['get', '/openapi.json'],
        ['get', '/api/collections'], ['post', '/api/collections'],
        ['get', '/api/collections/{name}'], ['delete', '/api/collections/{name}'],
        ['post', '/api/collections/{name}/add'], ['post', '/api/collections/{name}/upsert'], ['post', '/api/collections/{name}/update'],
        ['post', '/api/collections/{name}/get'], ['post', '/api/collections/{name}/delete'], ['get', '/api/collections/{name}/count'],
        ['post', '/api/collections/{name}/query'],
      ];
      for (const [m, p] of mine) assert.ok(paths[p]?.[m] !== undefined, `${m.toUpperCase()} ${p} is in /openapi.json`);
      assert.ok('vectors' in paths['/api/collections/{name}/add']!.post!.requestBody!.content['application/json']!.schema.properties);
      assert.deepEqual(paths['/api/collections/{name}/count']!.get!.parameters!.map((p) => [p.name, p.in]), [['name', 'path']]);
      // Both ways: every documented operation is a route of the app (including the other route files').
      for (const [p, ops] of Object.entries(paths)) {
        const url = p.replace(/\{path\}/g, '*').replace(/\{(\w+)\}/g, ':$1');
        for (const m of Object.keys(ops)) assert.ok(server.app.hasRoute({ method: m.toUpperCase() as 'GET', url }), `${m} ${p} is a route`);
      }
    });
  });
}
