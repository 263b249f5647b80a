/**
 * The Chroma-compatible API (docs/chroma.md) driven by Chroma's official client, `chromadb`, against
 * `omnivec serve` (createServer on a free port, real HTTP): every route, every `where` operator,
 * each `include`, l2 / cosine / ip distances against a brute-force oracle, base64 and float
 * embeddings, a 5,000-record add, the error classes, a rename, and collections crossing between
 * omnivec's own API and Chroma's.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ChromaClient, ChromaClientError, ChromaForbiddenError, ChromaNotFoundError, ChromaUnauthorizedError, ChromaUniqueError, type Collection,
} from 'chromadb';
import { createServer, type OmnivecServer } from '../src/server/app.js';
import { client as http, f32base64, type Call } from './helpers/http.js';
import { bruteForce, documentHolds, rng, vectors, whereHolds, type Meta, type Space } from './helpers/chroma-oracle.js';
import { PG_SKIP, createPgDatabase } from './helpers/postgres.js';

const KEY = 'chroma-test-key';
const BODY_LIMIT = 16 * 1024 * 1024;

/** The official client that never sends base64 (as against a server without base64 support). */
class FloatClient extends ChromaClient {
  override async supportsBase64Encoding(): Promise<boolean> {
    return false;
  }
}

function closeTo(actual: readonly (number | null)[], expected: readonly number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  actual.forEach((a, i) => {
    assert.ok(a !== null && Math.abs(a - expected[i]!) <= 1e-5 * Math.max(1, Math.abs(expected[i]!)), `${what}[${i}]: got ${a}, expected ${expected[i]}`);
  });
}

/**
 * The answer of a k-nearest query against the oracle's. The embedded store's `auto` index is exact
 * below 10,000 records: the same ids. pgvector's HNSW (the PostgreSQL store) is approximate: each
 * answer's distance must be its exact distance, nearest first, and recall@k at least `floor`.
 */
function assertNearest(kind: 'embedded' | 'postgres', space: Space, data: readonly number[][], q: readonly number[], got: { ids: string[]; distances: (number | null)[] }, want: { ids: string[]; distances: number[] }, what: string, floor = 0.9): void {
  const index = (id: string): number => Number(/\d+$/.exec(id)![0]);
  closeTo(got.distances, got.ids.map((id) => bruteForce(space, [data[index(id)]!], [id], q, 1).distances[0]!), `${what}: exact distances`);
  for (let i = 1; i < got.distances.length; i++) assert.ok(got.distances[i - 1]! <= got.distances[i]!, `${what}: nearest first`);
  if (kind === 'embedded') {
    assert.deepEqual(got.ids, want.ids, `${what}: ids`);
  } else {
    const hit = got.ids.filter((id) => want.ids.includes(id)).length;
    assert.ok(got.ids.length === want.ids.length && hit >= Math.ceil(floor * want.ids.length), `${what}: recall ${hit}/${want.ids.length}`);
  }
}

// The same suite on the embedded store and on PostgreSQL (skipped with the reason without a server).
for (const kind of ['embedded', 'postgres'] as const) describe(`Chroma API with the official chromadb client [${kind}]`, { skip: kind === 'postgres' ? PG_SKIP : false }, () => {
  let dir: string;
  let location: string;
  let drop: () => Promise<void> = async () => undefined;
  let server: OmnivecServer;
  let base: string;
  let chroma: ChromaClient;
  let own: Call;
  let raw: Call;

  const start = async (): Promise<void> => {
    server = await createServer({ db: location, apiKey: KEY, threads: 1, bodyLimit: BODY_LIMIT });
    base = await server.listen(0);
    const u = new URL(base);
    chroma = new ChromaClient({ host: u.hostname, port: Number(u.port), headers: { 'x-chroma-token': KEY } });
    own = http(base, KEY);
    raw = http(base, KEY);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'omnivec-chroma-'));
    location = join(dir, 'db');
    if (kind === 'postgres') {
      const pgdb = await createPgDatabase('chroma_api');
      location = pgdb.url;
      drop = pgdb.drop;
      process.env.OMNIVEC_FILES = join(dir, 'pg-files');
    }
    await start();
  });
  after(async () => {
    await server.close();
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('system routes: heartbeat, version, pre-flight checks, identity, healthcheck; reset refused', async () => {
    assert.ok((await chroma.heartbeat()) > 0);
    assert.equal(await chroma.version(), '1.0.0');
    assert.equal(await chroma.getMaxBatchSize(), Math.floor(BODY_LIMIT / 2048));
    assert.equal(await chroma.supportsBase64Encoding(), true);
    assert.deepEqual(await chroma.getUserIdentity(), { user_id: '', tenant: 'default_tenant', databases: ['default_database'] });
    const h = await raw('GET', '/api/v2/healthcheck');
    assert.equal(h.status, 200);
    await assert.rejects(chroma.reset(), ChromaForbiddenError);
  });

  test('tenants and databases: the default pair exists, others are refused clearly', async () => {
    assert.deepEqual((await raw('GET', '/api/v2/tenants/default_tenant')).body, { name: 'default_tenant', resource_name: null });
    const db = await raw('GET', '/api/v2/tenants/default_tenant/databases/default_database');
    assert.equal(db.status, 200);
    assert.equal(db.body.name, 'default_database');
    const other = await raw('GET', '/api/v2/tenants/acme/databases/default_database/collections');
    assert.equal(other.status, 404);
    assert.equal(other.body.error as unknown, 'NotFoundError');
    assert.match(other.body.message as unknown as string, /tenant "acme" not found; this server has one tenant, "default_tenant"/);
    const otherDb = await raw('GET', '/api/v2/tenants/default_tenant/databases/x/collections');
    assert.equal(otherDb.status, 404);
    const made = await raw('POST', '/api/v2/tenants', { name: 'acme' });
    assert.equal(made.status, 400);
    assert.equal(made.body.error as unknown, 'InvalidArgumentError');
    assert.equal((await raw('POST', '/api/v2/tenants/default_tenant/databases', { name: 'default_database' })).status, 409);
  });

  test('the API key: x-chroma-token and bearer accepted; none or a wrong one is ChromaUnauthorizedError in Chroma\'s shape', async () => {
    const u = new URL(base);
    const bearer = new ChromaClient({ host: u.hostname, port: Number(u.port), headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(typeof await bearer.countCollections(), 'number');
    await assert.rejects(new ChromaClient({ host: u.hostname, port: Number(u.port) }).countCollections(), ChromaUnauthorizedError);
    await assert.rejects(new ChromaClient({ host: u.hostname, port: Number(u.port), headers: { 'x-chroma-token': 'wrong' } }).countCollections(), ChromaUnauthorizedError);
    const r = await http(base)('GET', '/api/v2/tenants/default_tenant/databases/default_database/collections');
    assert.equal(r.status, 401);
    assert.equal(r.body.error as unknown, 'ChromaError');
    assert.match(r.body.message as unknown as string, /x-chroma-token/);
    // The heartbeat is behind the key too (only omnivec's /healthz is public).
    assert.equal((await http(base)('GET', '/api/v2/heartbeat')).status, 401);
  });

  test('collections: create (metadata, configuration), get_or_create, get by name, list with limit / offset, count, modify, delete', async () => {
    const a = await chroma.createCollection({ name: 'alpha', embeddingFunction: null, metadata: { topic: 'films', year: 1999 }, configuration: { hnsw: { space: 'cosine', ef_search: 80 } } });
    assert.match(a.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(a.metadata, { topic: 'films', year: 1999 });
    assert.equal(a.configuration.hnsw?.space, 'cosine');
    assert.equal(a.configuration.hnsw?.ef_search, 80);
    const again = await chroma.getOrCreateCollection({ name: 'alpha', embeddingFunction: null });
    assert.equal(again.id, a.id);
    await assert.rejects(chroma.createCollection({ name: 'alpha', embeddingFunction: null }), ChromaUniqueError);
    const b = await chroma.createCollection({ name: 'beta', embeddingFunction: null, metadata: { 'hnsw:space': 'ip' } });
    assert.equal(b.configuration.hnsw?.space, 'ip');
    const c = await chroma.createCollection({ name: 'gamma', embeddingFunction: null });
    assert.equal(c.configuration.hnsw?.space, 'l2', "Chroma's default space");

    const got = await chroma.getCollection({ name: 'beta' });
    assert.equal(got.id, b.id);
    const byId = await chroma.getCollectionById(b.id);
    assert.equal(byId.name, 'beta');
    const names = (await chroma.listCollections()).map((x) => x.name);
    assert.deepEqual(names.filter((n) => ['alpha', 'beta', 'gamma'].includes(n)), ['alpha', 'beta', 'gamma']);
    const page = await chroma.listCollections({ limit: 1, offset: 1 });
    assert.equal(page.length, 1);
    assert.equal(page[0]!.name, names[1]);
    assert.equal(await chroma.countCollections(), names.length);

    // The raw collection object: Chroma's fields, configuration_json always an object.
    const rawGet = await raw('GET', '/api/v2/tenants/default_tenant/databases/default_database/collections/gamma');
    for (const k of ['id', 'name', 'configuration_json', 'metadata', 'dimension', 'tenant', 'database', 'log_position', 'version']) assert.ok(k in rawGet.body, k);
    assert.equal(typeof rawGet.body.configuration_json, 'object');
    assert.equal(rawGet.body.dimension as unknown, null, 'no dimension before the first record');

    // modify replaces the metadata (Chroma's rule).
    await a.modify({ metadata: { mood: 'calm' } });
    assert.deepEqual((await chroma.getCollection({ name: 'alpha' })).metadata, { mood: 'calm' });

    await chroma.deleteCollection({ name: 'gamma' });
    await assert.rejects(chroma.getCollection({ name: 'gamma' }), ChromaNotFoundError);
    await assert.rejects(chroma.deleteCollection({ name: 'gamma' }), ChromaNotFoundError);
    // A pending (empty) collection answers like an empty Chroma collection.
    assert.equal(await b.count(), 0);
    assert.deepEqual((await b.query({ queryEmbeddings: [[1, 2]], nResults: 3 })).ids, [[]]);
    assert.deepEqual((await b.get()).ids, []);
  });

  for (const space of ['l2', 'cosine', 'ip'] as Space[]) {
    test(`query distances in ${space} against a brute-force oracle (${space === 'cosine' ? 'float arrays' : 'base64'} embeddings)`, async () => {
      const dim = 12;
      const n = 400;
      const data = vectors(n, dim, 7 + space.length);
      const ids = data.map((_, i) => `r${i}`);
      const metas: Meta[] = data.map((_, i) => ({ g: i % 4, odd: i % 2 === 1 }));
      const u = new URL(base);
      const cl = space === 'cosine' ? new FloatClient({ host: u.hostname, port: Number(u.port), headers: { 'x-chroma-token': KEY } }) : chroma;
      const col = await cl.createCollection({ name: `dist-${space}`, embeddingFunction: null, configuration: { hnsw: { space } } });
      await col.add({ ids, embeddings: data, metadatas: metas, documents: ids.map((id) => `doc ${id}`) });
      assert.equal(await col.count(), n);
      // Stored exactly (float32), whichever encoding carried them.
      const back = await col.get({ ids: ['r3', 'r250'], include: ['embeddings'] });
      assert.deepEqual(back.embeddings, [data[3], data[250]]);

      const queries = vectors(5, dim, 99);
      const r = await col.query({ queryEmbeddings: queries, nResults: 10, include: ['distances', 'documents', 'metadatas', 'embeddings'] });
      queries.forEach((q, qi) => {
        const want = bruteForce(space, data, ids, q, 10);
        assertNearest(kind, space, data, q, { ids: r.ids[qi]!, distances: r.distances[qi]! }, want, `query ${qi}`);
        assert.deepEqual(r.documents[qi], r.ids[qi]!.map((id) => `doc ${id}`));
        assert.deepEqual(r.metadatas[qi], r.ids[qi]!.map((id) => metas[Number(id.slice(1))]));
        assert.deepEqual(r.embeddings[qi], r.ids[qi]!.map((id) => data[Number(id.slice(1))]));
      });

      // With a filter, and restricted to ids (an exact search over those records).
      const f = await col.query({ queryEmbeddings: [queries[0]!], nResults: 7, where: { g: { $in: [1, 3] } } });
      const wantF = bruteForce(space, data, ids, queries[0]!, 7, (i) => i % 4 === 1 || i % 4 === 3);
      assertNearest(kind, space, data, queries[0]!, { ids: f.ids[0]!, distances: f.distances[0]! }, wantF, 'filtered');
      const subset = ['r5', 'r17', 'r42', 'r300', 'r399', 'missing'];
      const s = await col.query({ queryEmbeddings: [queries[1]!], nResults: 3, ids: subset, where: { odd: true } });
      const keep = new Set(subset);
      const wantS = bruteForce(space, data, ids, queries[1]!, 3, (i) => keep.has(ids[i]!) && i % 2 === 1);
      assert.deepEqual(s.ids[0], wantS.ids);
      closeTo(s.distances[0]!, wantS.distances, 'ids-restricted distances');
    });
  }

  test('every where operator and where_document operator, against an evaluator of Chroma\'s semantics', async () => {
    const r = rng(3);
    const n = 120;
    const words = ['alpha', 'beta', 'gamma', 'delta'];
    const metas: (Meta | null)[] = Array.from({ length: n }, (_, i) => {
      if (i % 17 === 0) return null;
      const m: Meta = { n: i, w: words[i % 4]!, flag: i % 3 === 0, tags: [words[i % 4]!, words[(i + 1) % 4]!] };
      if (i % 5 === 0) delete m.w; // records without the key: $ne / $nin match them
      if (r() < 0.3) m.price = Math.round(r() * 1000) / 10;
      return m;
    });
    const docs = Array.from({ length: n }, (_, i) => (i % 11 === 0 ? null : `record ${i} about ${words[i % 4]} and ${words[(i + 2) % 4]}`));
    const col = await chroma.createCollection({ name: 'filters', embeddingFunction: null });
    const data = vectors(n, 4, 11);
    const ids = data.map((_, i) => `f${i}`);
    // Records without a document or metadata: the client refuses nulls, so they go over raw HTTP.
    const added = await raw('POST', `/api/v2/tenants/default_tenant/databases/default_database/collections/${col.id}/add`, { ids, embeddings: data, metadatas: metas, documents: docs });
    assert.equal(added.status, 201);

    const wheres: Record<string, unknown>[] = [
      { w: 'beta' }, { w: { $eq: 'gamma' } }, { w: { $ne: 'gamma' } }, { n: { $gt: 60 } }, { n: { $gte: 60 } }, { n: { $lt: 7 } }, { n: { $lte: 7 } },
      { price: { $gt: 50 } }, { w: { $in: ['alpha', 'delta'] } }, { w: { $nin: ['alpha', 'delta'] } }, { flag: true }, { flag: { $ne: true } },
      { tags: { $contains: 'beta' } }, { tags: { $not_contains: 'beta' } },
      { $and: [{ n: { $gte: 10 } }, { w: 'alpha' }] }, { $or: [{ n: { $lt: 5 } }, { flag: true }] },
      { $and: [{ $or: [{ w: 'beta' }, { w: 'delta' }] }, { n: { $nin: [1, 2, 3, 5, 9] } }] },
    ];
    for (const where of wheres) {
      const got = await col.get({ where: where as never, include: [] });
      const want = ids.filter((_, i) => whereHolds(where, metas[i]!));
      assert.deepEqual(got.ids, want, JSON.stringify(where));
    }
    const documentFilters: Record<string, unknown>[] = [
      { $contains: 'gamma' }, { $not_contains: 'gamma' }, { $and: [{ $contains: 'alpha' }, { $not_contains: 'record 1' }] }, { $or: [{ $contains: 'record 7' }, { $contains: 'beta and' }] },
    ];
    for (const wd of documentFilters) {
      const got = await col.get({ whereDocument: wd as never, include: [] });
      assert.deepEqual(got.ids, ids.filter((_, i) => documentHolds(wd, docs[i]!)), JSON.stringify(wd));
    }
    // Both at once, paged, on get and delete.
    const both = { where: { n: { $gte: 20 } }, whereDocument: { $contains: 'delta' } };
    const all = ids.filter((_, i) => whereHolds(both.where, metas[i]!) && documentHolds(both.whereDocument, docs[i]!));
    assert.deepEqual((await col.get({ ...both, limit: 5, offset: 3, include: [] })).ids, all.slice(3, 8));
    const del = await col.delete({ ...both });
    assert.equal(del.deleted, all.length);
    assert.equal(await col.count(), n - all.length);
    // Unsupported: $regex (400 → ChromaClientError).
    await assert.rejects(col.get({ whereDocument: { $regex: 'a+' } }), ChromaClientError);
  });

  test('include variants on get and query; metadata {} is null; uris are nulls', async () => {
    const col = await chroma.createCollection({ name: 'includes', embeddingFunction: null });
    await col.add({ ids: ['a', 'b'], embeddings: [[1, 0], [0, 1]], documents: ['A', 'B'], metadatas: [{ k: 1 }, { k: 2 }] });
    const get = async (include: never[]): Promise<Record<string, unknown>> => (await raw('POST', `/api/v2/tenants/default_tenant/databases/default_database/collections/${col.id}/get`, { include })).body;
    const g0 = await get([]);
    assert.deepEqual(g0, { ids: ['a', 'b'], include: [], documents: null, metadatas: null, embeddings: null, uris: null });
    const g1 = await get(['documents', 'metadatas', 'embeddings', 'uris'] as never[]);
    assert.deepEqual(g1, { ids: ['a', 'b'], include: ['documents', 'metadatas', 'embeddings', 'uris'], documents: ['A', 'B'], metadatas: [{ k: 1 }, { k: 2 }], embeddings: [[1, 0], [0, 1]], uris: [null, null] });
    const def = await col.get();
    assert.deepEqual(def.include, ['documents', 'metadatas']);
    const q = await col.query({ queryEmbeddings: [[1, 0]], nResults: 1, include: ['embeddings'] });
    assert.deepEqual(q.include, ['embeddings']);
    assert.deepEqual(q.embeddings, [[[1, 0]]]);
    assert.deepEqual(q.distances, []);
    const qDefault = await col.query({ queryEmbeddings: [[1, 0], [0, 1]], nResults: 1 });
    assert.deepEqual(qDefault.ids, [['a'], ['b']]);
    assert.deepEqual(qDefault.include, ['metadatas', 'documents', 'distances']);
    const distancesOnGet = await raw('POST', `/api/v2/tenants/default_tenant/databases/default_database/collections/${col.id}/get`, { include: ['distances'] });
    assert.equal(distancesOnGet.status, 400);
  });

  test('Chroma\'s write semantics: add skips stored ids, update skips missing ones, update / upsert merge metadata, upsert keeps the document', async () => {
    const col = await chroma.createCollection({ name: 'semantics', embeddingFunction: null });
    await col.add({ ids: ['a', 'b'], embeddings: [[1, 0], [0, 1]], documents: ['A', 'B'], metadatas: [{ x: 1, y: 'keep' }, { x: 2 }] });
    // Adding an existing id is ignored (not an error); the new one is added.
    await col.add({ ids: ['a', 'c'], embeddings: [[5, 5], [1, 1]], documents: ['A2', 'C'], metadatas: [{ x: 9 }, { x: 3 }] });
    const g = await col.get({ include: ['documents', 'metadatas', 'embeddings'] });
    assert.deepEqual(g.ids, ['a', 'b', 'c']);
    assert.deepEqual(g.documents, ['A', 'B', 'C']);
    assert.deepEqual(g.embeddings[0], [1, 0]);
    // update merges metadata and skips an id that is not stored.
    await col.update({ ids: ['a', 'nope'], metadatas: [{ x: 10, z: true }, { x: 0 }] });
    assert.deepEqual((await col.get({ ids: ['a'] })).metadatas, [{ x: 10, y: 'keep', z: true }]);
    assert.deepEqual((await col.get({ ids: ['nope'] })).ids, []);
    // upsert: stored record updated (metadata merged, document kept), new one added.
    await col.upsert({ ids: ['b', 'd'], embeddings: [[0, 2], [3, 3]], metadatas: [{ w: 'new' }, { w: 'd' }] });
    const u = await col.get({ ids: ['b', 'd'], include: ['documents', 'metadatas', 'embeddings'] });
    assert.deepEqual(u.documents, ['B', null]);
    assert.deepEqual(u.metadatas, [{ x: 2, w: 'new' }, { w: 'd' }]);
    assert.deepEqual(u.embeddings, [[0, 2], [3, 3]]);
    // update of embeddings and documents only.
    await col.update({ ids: ['c'], embeddings: [[7, 7]], documents: ['C2'] });
    const c = await col.get({ ids: ['c'], include: ['documents', 'metadatas', 'embeddings'] });
    assert.deepEqual([c.documents, c.metadatas, c.embeddings], [['C2'], [{ x: 3 }], [[7, 7]]]);
    // get by ids with limit / offset; delete by ids answers how many went.
    assert.deepEqual((await col.get({ ids: ['d', 'c', 'b', 'a'], limit: 2, offset: 1, include: [] })).ids, ['c', 'b']);
    // $ne and $nin match records without the key.
    assert.deepEqual((await col.get({ where: { z: { $ne: true } }, include: [] })).ids.sort(), ['b', 'c', 'd']);
    assert.deepEqual((await col.get({ where: { w: { $nin: ['new'] } }, include: [] })).ids.sort(), ['a', 'c', 'd']);
    assert.deepEqual(await col.delete({ ids: ['a', 'd', 'nope'] }), { deleted: 2 });
    assert.deepEqual((await col.get({ include: [] })).ids.sort(), ['b', 'c']);
  });

  test('HNSW parameters (configuration.hnsw or the legacy hnsw:* metadata) become the omnivec index spec', async () => {
    const a = await chroma.createCollection({ name: 'hnsw-config', embeddingFunction: null, configuration: { hnsw: { space: 'ip', max_neighbors: 8, ef_construction: 50, ef_search: 20 } } });
    await a.add({ ids: ['x'], embeddings: [[1, 0, 0, 0]] });
    const ownA = (await own('GET', '/api/collections/hnsw-config')).body.collection as { metric: string; index: Record<string, unknown>; dim: number };
    assert.deepEqual([ownA.metric, ownA.dim, ownA.index], ['ip', 4, { kind: 'auto', m: 8, efConstruction: 50, efSearch: 20 }]);
    const b = await chroma.createCollection({ name: 'hnsw-legacy', embeddingFunction: null, metadata: { 'hnsw:space': 'cosine', 'hnsw:M': 12, 'hnsw:construction_ef': 64 } });
    await b.add({ ids: ['y'], embeddings: [[0, 1]] });
    const ownB = (await own('GET', '/api/collections/hnsw-legacy')).body.collection as { metric: string; index: Record<string, unknown> };
    assert.deepEqual([ownB.metric, ownB.index], ['cosine', { kind: 'auto', m: 12, efConstruction: 64 }]);
    const bad = await raw('POST', '/api/v2/tenants/default_tenant/databases/default_database/collections', { name: 'hnsw-bad', configuration: { hnsw: { max_neighbors: 1 } } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message as unknown as string, /\bm\b/);
  });

  test('concurrent first adds into a new collection, with overlapping ids: one collection, every id once', async () => {
    const col = await chroma.createCollection({ name: 'concurrent', embeddingFunction: null });
    const batch = (from: number): Promise<void> => col.add({
      ids: Array.from({ length: 50 }, (_, i) => `c${from + i}`), embeddings: Array.from({ length: 50 }, (_, i) => [from + i, 1]),
    });
    await Promise.all([batch(0), batch(25), batch(40), batch(100)]);
    // c0–c89 (three overlapping batches) and c100–c149.
    assert.equal(await col.count(), 140);
    const ids = (await col.get({ include: [] })).ids;
    assert.equal(new Set(ids).size, 140);
    assert.equal((await chroma.getCollection({ name: 'concurrent' })).id, col.id);
  });

  test('a 5,000-record add in one call (base64), then count and a query against the oracle', async () => {
    const dim = 32;
    const data = vectors(5000, dim, 5);
    const ids = data.map((_, i) => `big-${i}`);
    const col = await chroma.createCollection({ name: 'big', embeddingFunction: null, configuration: { hnsw: { space: 'l2' } } });
    await col.add({ ids, embeddings: data, metadatas: ids.map((_, i) => ({ i })) });
    assert.equal(await col.count(), 5000);
    const q = vectors(1, dim, 6)[0]!;
    const r = await col.query({ queryEmbeddings: [q], nResults: 10, include: ['distances'] });
    assertNearest(kind, 'l2', data, q, { ids: r.ids[0]!, distances: r.distances[0]! }, bruteForce('l2', data, ids, q, 10), '5,000 records', 0.8);
  });

  test('error classes: 404 NotFound, 409 Unique, 400 bad value, 422 wrong shape, in Chroma\'s body shape', async () => {
    await assert.rejects(chroma.getCollection({ name: 'no-such' }), ChromaNotFoundError);
    const col = await chroma.createCollection({ name: 'errors', embeddingFunction: null });
    await col.add({ ids: ['a'], embeddings: [[1, 2, 3]] });
    await assert.rejects(col.add({ ids: ['b'], embeddings: [[1, 2]] }), ChromaClientError);
    await assert.rejects(col.query({ queryEmbeddings: [[1, 2]], nResults: 1 }), ChromaClientError);
    const path = `/api/v2/tenants/default_tenant/databases/default_database/collections/${col.id}`;
    const badDim = await raw('POST', `${path}/query`, { query_embeddings: [[1, 2]] });
    assert.equal(badDim.status, 400);
    assert.deepEqual(Object.keys(badDim.body).sort(), ['error', 'message']);
    assert.equal(badDim.body.error as unknown, 'InvalidArgumentError');
    assert.match(badDim.body.message as unknown as string, /query_embeddings\[0\]: expected 3 numbers/);
    const badBase64 = await raw('POST', `${path}/add`, { ids: ['z'], embeddings: ['AAAA'] });
    assert.equal(badBase64.status, 400);
    assert.match(badBase64.body.message as unknown as string, /dimension|3/);
    const shape = await raw('POST', `${path}/get`, { ids: 'a' });
    assert.equal(shape.status, 422);
    assert.equal(shape.body.error as unknown, 'ChromaError');
    assert.match(shape.body.message as unknown as string, /ids: expected an array of strings/);
    const badWhere = await raw('POST', `${path}/get`, { where: { n: { $gt: true } } });
    assert.equal(badWhere.status, 400);
    assert.match(badWhere.body.message as unknown as string, /where\.n\.\$gt/);
    const notUuid = await raw('GET', `${path.replace(col.id, 'not-a-uuid')}/count`);
    assert.equal(notUuid.status, 400);
    const unknownId = await raw('GET', `${path.replace(col.id, '00000000-0000-4000-8000-000000000001')}/count`);
    assert.equal(unknownId.status, 404);
    assert.equal(unknownId.body.error as unknown, 'NotFoundError');
    const noRoute = await raw('POST', `${path}/fork`, { new_name: 'x' });
    assert.equal(noRoute.status, 404);
    assert.equal(noRoute.body.error as unknown, 'NotFoundError');
    const badName = await raw('POST', '/api/v2/tenants/default_tenant/databases/default_database/collections', { name: 'a' });
    assert.equal(badName.status, 400);
    assert.match(badName.body.message as unknown as string, /3–512 characters/);
    const badSpace = await raw('POST', '/api/v2/tenants/default_tenant/databases/default_database/collections', { name: 'bad-space', configuration: { hnsw: { space: 'manhattan' } } });
    assert.equal(badSpace.status, 400);
  });

  test('a renamed collection keeps its id and records; the old name is gone; a taken name is refused', async () => {
    const col = await chroma.createCollection({ name: 'before', embeddingFunction: null, metadata: { v: 1 } });
    await col.add({ ids: ['a', 'b'], embeddings: [[1, 0], [0, 1]], documents: ['A', 'B'] });
    await col.modify({ name: 'after' });
    const renamed = await chroma.getCollection({ name: 'after' });
    assert.equal(renamed.id, col.id);
    assert.deepEqual(renamed.metadata, { v: 1 });
    assert.equal(await renamed.count(), 2);
    await assert.rejects(chroma.getCollection({ name: 'before' }), ChromaNotFoundError);
    await chroma.createCollection({ name: 'taken', embeddingFunction: null });
    await assert.rejects(renamed.modify({ name: 'taken' }), ChromaUniqueError);
    // A new collection may take the old Chroma name.
    const fresh = await chroma.createCollection({ name: 'before', embeddingFunction: null });
    assert.notEqual(fresh.id, col.id);
    await fresh.add({ ids: ['x'], embeddings: [[1, 2, 3]] });
    assert.equal(await fresh.count(), 1);
    assert.equal(await (await chroma.getCollection({ name: 'after' })).count(), 2);
    // A collection renamed while still pending takes its new name in omnivec's API too.
    const pending = await chroma.createCollection({ name: 'pend-a', embeddingFunction: null });
    await pending.modify({ name: 'pend-b' });
    await pending.add({ ids: ['p'], embeddings: [[1, 1]] });
    assert.equal((await own('GET', '/api/collections/pend-b')).status, 200);
    assert.equal((await own('GET', '/api/collections/pend-a')).status, 404);
    assert.equal((await chroma.getCollection({ name: 'pend-b' })).id, pending.id);
  });

  test('collections cross between omnivec\'s own API and Chroma\'s; ids survive a restart', async () => {
    // Created through omnivec's API, read through Chroma's.
    assert.equal((await own('POST', '/api/collections', { name: 'native', dim: 3, metric: 'ip' })).status, 201);
    assert.equal((await own('POST', '/api/collections/native/add', { ids: ['n1', 'n2'], vectors: [[1, 0, 0], f32base64([0, 1, 0])], documents: ['one', 'two'], metadatas: [{ k: 'a' }, null] })).status, 200);
    const native = await chroma.getCollection({ name: 'native' });
    assert.equal(native.configuration.hnsw?.space, 'ip');
    assert.equal(await native.count(), 2);
    const q = await native.query({ queryEmbeddings: [[0.9, 0.1, 0]], nResults: 2 });
    assert.deepEqual(q.ids, [['n1', 'n2']]);
    closeTo(q.distances[0]!, [1 - 0.9, 1 - 0.1], 'ip distances');
    assert.deepEqual(q.metadatas, [[{ k: 'a' }, null]]);
    const nativeAgain = await chroma.getCollection({ name: 'native' });
    assert.equal(nativeAgain.id, native.id, 'a derived id is stable');
    // Created through Chroma's API, read through omnivec's once it has records.
    const made = await chroma.createCollection({ name: 'from-chroma', embeddingFunction: null, configuration: { hnsw: { space: 'cosine' } } });
    assert.equal((await own('GET', '/api/collections/from-chroma')).status, 404, 'pending: no omnivec collection yet');
    await made.add({ ids: ['c1', 'c2'], embeddings: [[3, 4], [4, 3]], documents: ['x', 'y'], metadatas: [{ m: 1 }, { m: 2 }] });
    const info = await own('GET', '/api/collections/from-chroma');
    assert.equal(info.status, 200);
    assert.equal((info.body.collection as { dim: number; metric: string; count: number }).dim, 2);
    assert.equal((info.body.collection as { metric: string }).metric, 'cosine');
    const ownQuery = await own('POST', '/api/collections/from-chroma/query', { vector: [3, 4], k: 1, include: ['documents'] });
    assert.deepEqual(ownQuery.body.ids, ['c1']);
    // Metadata set on an omnivec-made collection through Chroma, then a restart: same ids, names, metadata.
    await native.modify({ metadata: { source: 'omnivec' } });
    const before = new Map((await chroma.listCollections()).map((c) => [c.name, c.id]));
    await server.close();
    await start();
    const afterList = await chroma.listCollections();
    assert.deepEqual(new Map(afterList.map((c) => [c.name, c.id])), before);
    assert.deepEqual((await chroma.getCollection({ name: 'native' })).metadata, { source: 'omnivec' });
    assert.equal((await chroma.getCollection({ name: 'native' })).id, native.id);
    // Dropped through omnivec's API: gone from Chroma's too.
    await own('DELETE', '/api/collections/native');
    await assert.rejects(chroma.getCollection({ name: 'native' }), ChromaNotFoundError);
  });

  test('max_batch_size is accepted: that many records of 2 KiB of JSON each fit the body limit', async () => {
    const max = await chroma.getMaxBatchSize();
    const col: Collection = await chroma.createCollection({ name: 'batch', embeddingFunction: null });
    const dim = 372; // base64: 1,984 characters; with its id and punctuation each record is just under 2 KiB
    const vec = f32base64(Float32Array.from({ length: dim }, (_, i) => i / dim));
    const body = { ids: Array.from({ length: max }, (_, i) => `id-${i}`), embeddings: Array.from({ length: max }, () => vec) };
    const bytes = Buffer.byteLength(JSON.stringify(body));
    assert.ok(bytes <= BODY_LIMIT && bytes > BODY_LIMIT * 0.9, `the test batch is near the limit: ${bytes} bytes`);
    const r = await raw('POST', `/api/v2/tenants/default_tenant/databases/default_database/collections/${col.id}/add`, body);
    assert.equal(r.status, 201);
    assert.equal(await col.count(), max);
  });
});
