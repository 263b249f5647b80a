/**
 * Chroma's v2 HTTP API (docs/chroma.md) over the server's own Database: the routes the official
 * JavaScript client `chromadb@3.5.0` calls, registered under `/api/v2` as one fastify plugin with
 * Chroma's error shape. Collections are resolved through the catalogue (catalogue.ts); records go
 * through the same Collection calls as omnivec's own routes (records.ts adds Chroma's semantics).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { OmnivecError, describe, invalidArgument } from '../../errors.js';
import { isCollectionName } from '../../db/names.js';
import { MAX_K } from '../../checks.js';
import { parseIndexSpec } from '../../db/index-spec.js';
import { checkMetadata } from '../../db/where.js';
import type { Collection, QueryOptions } from '../../db/collection.js';
import type { Metric } from '../../vector/metric.js';
import type { ServerContext } from '../context.js';
import { ChromaCatalogue, DEFAULT_DATABASE, DEFAULT_TENANT, isUuid, type CatalogueEntry, type ChromaCollection } from './catalogue.js';
import { chromaErrorHandler, sendChromaError } from './errors.js';
import { chromaWhere, chromaWhereDocument } from './filters.js';
import {
  checkColumns, checkInclude, checkQueryDim, chromaAdd, chromaUpdate, chromaUpsert, decodeEmbedding, getAnswer, nearestAmong,
  omnivecInclude, queryAnswer, type EmbeddingIn, type Hits, type WriteBody,
} from './records.js';

/** Bytes of JSON one record may take for a batch of `max_batch_size` records to fit the body limit. */
export const BYTES_PER_RECORD = 2048;

export interface ChromaRouteOptions {
  bodyLimit: number;
  log: (err: unknown, request: FastifyRequest) => void;
}

// ---------------------------------------------------------------------------------------------
// Schemas: a body of the wrong shape is Chroma's 422. Unknown fields are ignored, as Chroma does.

const NULLABLE_ARRAY = (items: object): object => ({ anyOf: [{ type: 'array', items }, { type: 'null' }] });
const EMBEDDING = { anyOf: [{ type: 'array', items: { type: 'number' } }, { type: 'string' }, { type: 'null' }] };
const IDS = { type: 'array', items: { type: 'string' } };
const OBJECT_OR_NULL = { type: ['object', 'null'] };
const INT_OR_NULL = { type: ['integer', 'null'], minimum: 0 };

const WRITE_BODY = {
  type: 'object', required: ['ids'],
  properties: {
    ids: IDS,
    embeddings: NULLABLE_ARRAY(EMBEDDING),
    documents: NULLABLE_ARRAY({ type: ['string', 'null'] }),
    metadatas: NULLABLE_ARRAY(OBJECT_OR_NULL),
    uris: NULLABLE_ARRAY({ type: ['string', 'null'] }),
  },
};
const GET_BODY = {
  type: ['object', 'null'],
  properties: { ids: { anyOf: [IDS, { type: 'null' }] }, where: {}, where_document: {}, limit: INT_OR_NULL, offset: INT_OR_NULL, include: { type: 'array', items: { type: 'string' } } },
};
const QUERY_BODY = {
  type: 'object', required: ['query_embeddings'],
  properties: {
    query_embeddings: { type: 'array', items: EMBEDDING }, n_results: { type: ['integer', 'null'], minimum: 1 },
    ids: { anyOf: [IDS, { type: 'null' }] }, where: {}, where_document: {}, include: { type: 'array', items: { type: 'string' } },
  },
};
const DELETE_BODY = { type: ['object', 'null'], properties: { ids: { anyOf: [IDS, { type: 'null' }] }, where: {}, where_document: {}, limit: INT_OR_NULL } };
const CREATE_BODY = {
  type: 'object', required: ['name'],
  properties: { name: { type: 'string' }, configuration: OBJECT_OR_NULL, metadata: OBJECT_OR_NULL, get_or_create: { type: 'boolean' } },
};
const UPDATE_BODY = { type: 'object', properties: { new_name: { type: ['string', 'null'] }, new_metadata: OBJECT_OR_NULL, new_configuration: OBJECT_OR_NULL } };
const NAME_BODY = { type: 'object', required: ['name'], properties: { name: { type: 'string' } } };

interface Scope { tenant: string; database: string }
interface CollectionParams extends Scope { collection: string }

// ---------------------------------------------------------------------------------------------
// Names, spaces, index parameters

/** Chroma's name rule: 3–512 of [A-Za-z0-9._-], starting and ending with a letter or digit, no "..", not an IPv4 address. */
export function checkChromaName(name: unknown, what = 'name'): string {
  const ok = typeof name === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$/.test(name) && !name.includes('..') && !/^\d{1,3}(\.\d{1,3}){3}$/.test(name);
  if (!ok) throw invalidArgument(`${what}: expected 3–512 characters of letters, digits, '.', '_' or '-', starting and ending with a letter or digit, without ".." and not an IPv4 address, got ${describe(name)}`);
  return name as string;
}

const SPACES: readonly Metric[] = ['l2', 'cosine', 'ip'];

function num(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

/** The metric and index spec a Chroma collection is created with (docs/chroma.md, "Distances"). */
export function chromaSpec(configuration: Record<string, unknown> | null | undefined, metadata: Record<string, unknown> | null | undefined): { metric: Metric; index: Record<string, unknown> | string } {
  const hnsw = (configuration?.hnsw ?? undefined) as Record<string, unknown> | undefined;
  const spann = (configuration?.spann ?? undefined) as Record<string, unknown> | undefined;
  const space = hnsw?.space ?? spann?.space ?? metadata?.['hnsw:space'] ?? 'l2';
  if (typeof space !== 'string' || !SPACES.includes(space as Metric)) {
    throw invalidArgument(`configuration.hnsw.space: expected one of "l2", "cosine", "ip", got ${describe(space)}`);
  }
  const m = num(hnsw?.max_neighbors) ?? num(metadata?.['hnsw:M']);
  const efConstruction = num(hnsw?.ef_construction) ?? num(metadata?.['hnsw:construction_ef']);
  const efSearch = num(hnsw?.ef_search) ?? num(spann?.ef_search) ?? num(metadata?.['hnsw:search_ef']);
  const params = { ...(m !== undefined ? { m } : {}), ...(efConstruction !== undefined ? { efConstruction } : {}), ...(efSearch !== undefined ? { efSearch } : {}) };
  const index = Object.keys(params).length === 0 ? 'auto' : { kind: 'auto', ...params };
  // Checked now (with a stand-in dimension), not at the first add.
  parseIndexSpec(index, 8, space as Metric);
  return { metric: space as Metric, index };
}

/** The collection object as Chroma returns it. */
export function collectionJson(x: ChromaCollection): Record<string, unknown> {
  const e = x.entry;
  const c = x.collection;
  const spec = (c?.indexSpec ?? (typeof e.index === 'string' ? { kind: e.index } : e.index)) as Record<string, unknown>;
  const given = (e.configuration.hnsw ?? {}) as Record<string, unknown>;
  const hnsw = {
    ...given,
    space: c?.metric ?? e.metric,
    ef_construction: num(spec.efConstruction) ?? 200,
    ef_search: num(given.ef_search) ?? num(spec.efSearch) ?? 64,
    max_neighbors: num(spec.m) ?? 16,
  };
  return {
    id: e.id,
    name: e.name,
    configuration_json: { hnsw, spann: null, embedding_function: e.configuration.embedding_function ?? null },
    metadata: e.metadata,
    dimension: c?.dim ?? null,
    tenant: DEFAULT_TENANT,
    database: DEFAULT_DATABASE,
    log_position: 0,
    version: 0,
    schema: null,
  };
}

// ---------------------------------------------------------------------------------------------

export function registerChromaRoutes(app: FastifyInstance, ctx: ServerContext, o: ChromaRouteOptions): void {
  const catalogue = new ChromaCatalogue(ctx.db);

  const scope = (p: Scope): void => {
    if (p.tenant !== DEFAULT_TENANT) throw new OmnivecError('not_found', `tenant ${JSON.stringify(p.tenant)} not found; this server has one tenant, "${DEFAULT_TENANT}"`);
    if (p.database !== DEFAULT_DATABASE) throw new OmnivecError('not_found', `database ${JSON.stringify(p.database)} not found in tenant "${DEFAULT_TENANT}"; this server has one database, "${DEFAULT_DATABASE}"`);
  };

  const byId = async (p: CollectionParams): Promise<ChromaCollection> => {
    scope(p);
    if (!isUuid(p.collection)) throw invalidArgument(`collection_id: expected a collection id (a UUID), got ${describe(p.collection)}`);
    const x = await catalogue.byId(p.collection.toLowerCase());
    if (x === undefined) throw new OmnivecError('not_found', `collection ${p.collection} not found`);
    return x;
  };

  const byName = async (p: CollectionParams): Promise<ChromaCollection> => {
    scope(p);
    const x = await catalogue.byName(p.collection) ?? (isUuid(p.collection) ? await catalogue.byId(p.collection.toLowerCase()) : undefined);
    if (x === undefined) throw new OmnivecError('not_found', `collection ${JSON.stringify(p.collection)} not found; list them with GET /api/v2/tenants/${DEFAULT_TENANT}/databases/${DEFAULT_DATABASE}/collections`);
    return x;
  };

  /** The omnivec collection of a pending Chroma collection, created with the first embedding's dimension. */
  const materialize = (x: ChromaCollection, dim: number): Promise<Collection> => catalogue.change(async () => {
    const now = await catalogue.byId(x.entry.id);
    if (now === undefined) throw new OmnivecError('not_found', `collection ${x.entry.id} not found (it was deleted)`);
    if (now.collection !== undefined) return now.collection;
    const e = now.entry;
    // Named after the Chroma name it has now (a pending collection may have been renamed).
    let storage = e.name;
    if (!isCollectionName(storage) || await ctx.db.hasCollection(storage)) storage = `${e.name.slice(0, 119)}-${e.id.slice(0, 8)}`;
    const c = await ctx.db.createCollection({ name: storage, dim, metric: e.metric, index: e.index });
    await catalogue.materialized(now, c);
    return c;
  });

  app.register(async (api) => {
    api.setErrorHandler(chromaErrorHandler({ bodyLimit: o.bodyLimit, log: o.log }));
    api.setNotFoundHandler((request, reply) => sendChromaError(reply, 404, `${request.method} ${request.url.split('?')[0]}: no such route in this server's Chroma API (docs/chroma.md lists the supported ones)`));
    const schema = (s: Record<string, unknown> = {}): { schema: Record<string, unknown> } => ({ schema: { hide: true, ...s } });

    // --- System
    // Nanoseconds since the epoch, as Chroma's server sends them (a double: microsecond precision).
    const heartbeat = async (): Promise<unknown> => ({ 'nanosecond heartbeat': Date.now() * 1_000_000 });
    api.get('', schema(), heartbeat);
    api.get('/heartbeat', schema(), heartbeat);
    api.get('/healthcheck', schema(), async () => ({ is_executor_ready: true, is_log_client_ready: true }));
    // A JSON string, as Chroma sends it (fastify would send a bare string as text/plain).
    api.get('/version', schema(), async (_req, reply) => reply.type('application/json').send(JSON.stringify('1.0.0')));
    api.get('/pre-flight-checks', schema(), async () => ({ max_batch_size: Math.max(1, Math.floor(o.bodyLimit / BYTES_PER_RECORD)), supports_base64_encoding: true }));
    api.get('/auth/identity', schema(), async () => ({ user_id: '', tenant: DEFAULT_TENANT, databases: [DEFAULT_DATABASE] }));
    api.post('/reset', schema(), async () => {
      throw new OmnivecError('forbidden', 'reset: refused; it would drop every collection of the database (drop them one by one with DELETE …/collections/{name})');
    });

    // --- Tenants and databases: the one pair there is
    api.post('/tenants', schema({ body: NAME_BODY }), async (req) => {
      const { name } = req.body as { name: string };
      if (name === DEFAULT_TENANT) throw new OmnivecError('already_exists', `tenant "${name}" already exists`);
      throw invalidArgument(`tenant ${JSON.stringify(name)}: this server has one tenant, "${DEFAULT_TENANT}"; it creates no others`);
    });
    api.get('/tenants/:tenant', schema(), async (req) => {
      const { tenant } = req.params as { tenant: string };
      scope({ tenant, database: DEFAULT_DATABASE });
      return { name: tenant, resource_name: null };
    });
    api.get('/tenants/:tenant/databases', schema(), async (req) => {
      scope({ tenant: (req.params as Scope).tenant, database: DEFAULT_DATABASE });
      return [{ id: '00000000-0000-4000-8000-000000000000', name: DEFAULT_DATABASE, tenant: DEFAULT_TENANT }];
    });
    api.post('/tenants/:tenant/databases', schema({ body: NAME_BODY }), async (req) => {
      scope({ tenant: (req.params as Scope).tenant, database: DEFAULT_DATABASE });
      const { name } = req.body as { name: string };
      if (name === DEFAULT_DATABASE) throw new OmnivecError('already_exists', `database "${name}" already exists`);
      throw invalidArgument(`database ${JSON.stringify(name)}: this server has one database, "${DEFAULT_DATABASE}"; it creates no others`);
    });
    api.get('/tenants/:tenant/databases/:database', schema(), async (req) => {
      scope(req.params as Scope);
      return { id: '00000000-0000-4000-8000-000000000000', name: DEFAULT_DATABASE, tenant: DEFAULT_TENANT };
    });
    api.delete('/tenants/:tenant/databases/:database', schema(), async (req) => {
      scope(req.params as Scope);
      throw new OmnivecError('forbidden', `database "${DEFAULT_DATABASE}": refused; deleting it would drop every collection`);
    });

    // --- Collections
    const base = '/tenants/:tenant/databases/:database';
    api.post(`${base}/collections`, schema({ body: CREATE_BODY }), async (req) => {
      scope(req.params as Scope);
      const b = req.body as { name: string; configuration?: Record<string, unknown> | null; metadata?: Record<string, unknown> | null; get_or_create?: boolean };
      const name = checkChromaName(b.name);
      const metadata = b.metadata == null || Object.keys(b.metadata).length === 0 ? null : checkMetadata(b.metadata, 'metadata') as Record<string, unknown>;
      const { metric, index } = chromaSpec(b.configuration, metadata);
      const entry = await catalogue.change(async () => {
        const have = await catalogue.byName(name);
        if (have !== undefined) {
          if (b.get_or_create === true) return have;
          throw new OmnivecError('already_exists', `collection ${JSON.stringify(name)} already exists (id ${have.entry.id}); use get_or_create, or another name`);
        }
        const e: CatalogueEntry = await catalogue.addPending({ name, metadata, configuration: b.configuration ?? {}, metric, index });
        return { entry: e, collection: undefined };
      });
      return collectionJson(entry);
    });
    api.get(`${base}/collections`, schema(), async (req) => {
      scope(req.params as Scope);
      const q = req.query as { limit?: string; offset?: string };
      const limit = q.limit === undefined ? undefined : Number(q.limit);
      const offset = q.offset === undefined ? 0 : Number(q.offset);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) throw invalidArgument(`limit: expected an integer ≥ 0, got ${describe(q.limit)}`);
      if (!Number.isInteger(offset) || offset < 0) throw invalidArgument(`offset: expected an integer ≥ 0, got ${describe(q.offset)}`);
      const all = await catalogue.list();
      return all.slice(offset, limit === undefined ? undefined : offset + limit).map(collectionJson);
    });
    api.get(`${base}/collections_count`, schema(), async (req) => {
      scope(req.params as Scope);
      return (await catalogue.list()).length;
    });
    api.get(`${base}/collections/by-id/:collection`, schema(), async (req) => collectionJson(await byId(req.params as CollectionParams)));
    api.get(`${base}/collections/:collection`, schema(), async (req) => collectionJson(await byName(req.params as CollectionParams)));
    api.delete(`${base}/collections/:collection`, schema(), async (req) => {
      const x = await byName(req.params as CollectionParams);
      await catalogue.change(async () => {
        if (x.collection !== undefined) await ctx.db.dropCollection(x.collection.name);
        await catalogue.remove(x.entry.id);
      });
      return {};
    });
    api.put(`${base}/collections/:collection`, schema({ body: UPDATE_BODY }), async (req) => {
      const x = await byId(req.params as CollectionParams);
      const b = req.body as { new_name?: string | null; new_metadata?: Record<string, unknown> | null; new_configuration?: Record<string, unknown> | null };
      const patch: Partial<Pick<CatalogueEntry, 'name' | 'metadata' | 'configuration'>> = {};
      if (b.new_name != null) patch.name = checkChromaName(b.new_name, 'new_name');
      if (b.new_metadata != null) patch.metadata = Object.keys(b.new_metadata).length === 0 ? null : checkMetadata(b.new_metadata, 'new_metadata') as Record<string, unknown>;
      if (b.new_configuration != null) {
        const hnsw = (b.new_configuration.hnsw ?? undefined) as Record<string, unknown> | undefined;
        if (hnsw?.ef_search !== undefined) parseIndexSpec({ kind: 'hnsw', efSearch: hnsw.ef_search }, 8, x.entry.metric);
        patch.configuration = { ...x.entry.configuration, ...(hnsw !== undefined ? { hnsw: { ...(x.entry.configuration.hnsw as object | undefined), ...hnsw } } : {}) };
      }
      await catalogue.change(async () => {
        const now = await catalogue.byId(x.entry.id);
        if (now === undefined) throw new OmnivecError('not_found', `collection ${x.entry.id} not found`);
        if (patch.name !== undefined && patch.name !== now.entry.name) {
          const other = await catalogue.byName(patch.name);
          if (other !== undefined) throw new OmnivecError('already_exists', `new_name: a collection named ${JSON.stringify(patch.name)} already exists (id ${other.entry.id})`);
        }
        await catalogue.update(now, patch);
      });
      return {};
    });

    // --- Records
    const records = `${base}/collections/:collection`;
    api.get(`${records}/count`, schema(), async (req) => {
      const x = await byId(req.params as CollectionParams);
      return x.collection === undefined ? 0 : x.collection.count();
    });

    for (const mode of ['add', 'upsert', 'update'] as const) {
      api.post(`${records}/${mode}`, schema({ body: WRITE_BODY }), async (req, reply) => {
        const x = await byId(req.params as CollectionParams);
        const b = req.body as WriteBody;
        checkColumns(b);
        let c = x.collection;
        if (c === undefined) {
          if (mode === 'update' || b.ids.length === 0) return reply.code(mode === 'add' ? 201 : 200).send({});
          const first = b.embeddings?.[0];
          if (first === undefined || first === null) throw invalidArgument(`embeddings: required for ${mode} (${b.ids.length} ids), got nothing; this server runs no embedding function, so send the embeddings`);
          c = await materialize(x, decodeEmbedding(first as EmbeddingIn, 'embeddings[0]').length);
        }
        if (mode === 'add') await chromaAdd(c, b);
        else if (mode === 'upsert') await chromaUpsert(c, b);
        else await chromaUpdate(c, b);
        return reply.code(mode === 'add' ? 201 : 200).send({});
      });
    }

    api.post(`${records}/get`, schema({ body: GET_BODY }), async (req) => {
      const x = await byId(req.params as CollectionParams);
      const b = (req.body ?? {}) as { ids?: string[] | null; where?: unknown; where_document?: unknown; limit?: number | null; offset?: number | null; include?: unknown };
      const include = checkInclude(b.include, 'get');
      const where = chromaWhere(b.where);
      const whereDocument = chromaWhereDocument(b.where_document);
      const c = x.collection;
      if (c === undefined || b.limit === 0) return getAnswer({ ids: [] }, include);
      const offset = b.offset ?? 0;
      if (b.ids != null) {
        const r = await c.get({ ids: b.ids, where, whereDocument, include: omnivecInclude(include) });
        const end = b.limit == null ? undefined : offset + b.limit;
        return getAnswer({ ids: r.ids.slice(offset, end), documents: r.documents?.slice(offset, end), metadatas: r.metadatas?.slice(offset, end), vectors: r.vectors?.slice(offset, end) }, include);
      }
      const r = await c.get({ where, whereDocument, include: omnivecInclude(include), offset, ...(b.limit != null ? { limit: b.limit } : {}) });
      return getAnswer(r, include);
    });

    api.post(`${records}/query`, schema({ body: QUERY_BODY }), async (req) => {
      const x = await byId(req.params as CollectionParams);
      const b = req.body as { query_embeddings: EmbeddingIn[]; n_results?: number | null; ids?: string[] | null; where?: unknown; where_document?: unknown; include?: unknown };
      const include = checkInclude(b.include, 'query');
      const where = chromaWhere(b.where);
      const whereDocument = chromaWhereDocument(b.where_document);
      const n = b.n_results ?? 10;
      if (n > MAX_K) throw invalidArgument(`n_results: expected an integer from 1 to ${MAX_K}, got ${n}`);
      const queries = b.query_embeddings.map((q, i) => decodeEmbedding(q, `query_embeddings[${i}]`));
      const c = x.collection;
      if (c === undefined) return queryAnswer(queries.map(() => ({ ids: [], distances: [] })), include);
      queries.forEach((q, i) => checkQueryDim(q, c.dim, `query_embeddings[${i}]`));
      const fields = omnivecInclude(include);
      const rows: Hits[] = [];
      if (b.ids != null) {
        // Restricted to these ids: an exact search over their stored vectors.
        const candidates = await c.get({ ids: b.ids, where, whereDocument, include: [...fields.filter((f) => f !== 'vectors'), 'vectors'] });
        for (const q of queries) rows.push(nearestAmong(c.metric, q, candidates, n));
        return queryAnswer(rows, include);
      }
      for (const q of queries) {
        const opts: QueryOptions = { vector: q, k: n, where, whereDocument, include: fields };
        rows.push(await c.query(opts));
      }
      return queryAnswer(rows, include);
    });

    api.post(`${records}/delete`, schema({ body: DELETE_BODY }), async (req) => {
      const x = await byId(req.params as CollectionParams);
      const b = (req.body ?? {}) as { ids?: string[] | null; where?: unknown; where_document?: unknown; limit?: number | null };
      if (b.limit != null) throw invalidArgument('limit: not supported on delete by this server; delete by ids, or by a filter without a limit');
      const where = chromaWhere(b.where);
      const whereDocument = chromaWhereDocument(b.where_document);
      const c = x.collection;
      if (c === undefined) return { deleted: 0 };
      if (b.ids == null && where === undefined && whereDocument === undefined) {
        throw invalidArgument('delete: expected ids, where or where_document, got none (this would delete every record; delete the collection instead)');
      }
      return { deleted: await c.delete({ ...(b.ids != null ? { ids: b.ids } : {}), ...(where !== undefined ? { where } : {}), ...(whereDocument !== undefined ? { whereDocument } : {}) }) };
    });
  }, { prefix: '/api/v2' });
}
