/**
 * `/api/collections…` (docs/server.md, "Endpoints"): collections, records and queries over the
 * library's Database and Collection. The JSON schemas catch wrong types early (and feed
 * /openapi.json); the library's own checks stay the last word on values (dimension, ids, filters).
 * Texts and images without vectors go through the collection's served encoder.
 */
import { MAX_K } from '../checks.js';
import type { FastifyInstance } from 'fastify';
import { OmnivecError, describe, invalidArgument } from '../errors.js';
import type { Collection, Include, QueryOptions, QueryResult } from '../db/collection.js';
import type { ServerContext } from './context.js';
import { checkCollectionName, MAX_COLLECTION_NAME } from '../db/names.js';

// ---------------------------------------------------------------------------------------------
// Schemas

const VECTOR = {
  anyOf: [
    { type: 'array', items: { type: 'number' } },
    { type: 'string', contentEncoding: 'base64' },
  ],
  description: 'an array of numbers, or base64 of little-endian float32 (4 × dim bytes)',
};
const INCLUDE = { type: 'array', items: { type: 'string', enum: ['documents', 'metadatas', 'vectors'] }, description: 'fields to return beside the ids' };
const WHERE = { type: 'object', description: 'metadata filter (docs/db.md): {"field": value}, {"field": {"$gte": 3}}, {"$and": […]}' };
const WHERE_DOCUMENT = { type: 'object', description: 'document filter: {"$contains": "text"}, {"$not_contains": …}' };
const IDS = { type: 'array', items: { type: 'string' } };
const NAME_PARAMS = { type: 'object', properties: { name: { type: 'string', description: `collection name: 1–${MAX_COLLECTION_NAME} letters, digits, ".", "_" or "-", starting with a letter or digit` } }, required: ['name'] };

const CREATE_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', description: `1–${MAX_COLLECTION_NAME} letters, digits, ".", "_" or "-", starting with a letter or digit` },
    dim: { type: 'integer', minimum: 1, maximum: 65536, description: 'the vectors\' dimension (default: the encoder\'s)' },
    metric: { type: 'string', enum: ['cosine', 'l2', 'ip'] },
    index: { anyOf: [{ type: 'string', enum: ['auto', 'flat', 'ivf', 'hnsw'] }, { type: 'object' }], description: '"auto" (default), "flat", "ivf", "hnsw", or { kind, m, efConstruction, efSearch, nList, nProbe, quantization, rescore, pqM }' },
    encoder: { type: 'string', description: 'a served encoder\'s name: its spec is bound to the collection' },
    indexDims: { type: 'integer', minimum: 1, description: 'Matryoshka funnel: index only the first indexDims components' },
    tokenize: { type: 'string', description: 'FTS5 tokenizer of the documents' },
  },
};

const RECORDS_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['ids'],
  properties: {
    ids: IDS,
    vectors: { type: 'array', items: VECTOR },
    documents: { type: 'array', items: { type: ['string', 'null'] } },
    metadatas: { type: 'array', items: { type: ['object', 'null'] } },
    sparse: { type: 'array', items: { type: ['object', 'null'] }, description: 'per record: { token: weight } or { indices, values }' },
    multiVectors: { type: 'array', items: { anyOf: [{ type: 'array', items: VECTOR }, { type: 'null' }] } },
    images: { type: 'array', items: { type: ['string', 'null'], contentEncoding: 'base64' }, description: 'image files (JPEG, PNG, WebP…) as base64, encoded by the collection\'s encoder' },
  },
};

const GET_BODY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ids: IDS,
    where: WHERE,
    whereDocument: WHERE_DOCUMENT,
    limit: { type: 'integer', minimum: 1, maximum: MAX_K, description: 'default 100 (ignored with ids)' },
    offset: { type: 'integer', minimum: 0 },
    include: INCLUDE,
  },
};

const DELETE_BODY = {
  type: 'object',
  additionalProperties: false,
  properties: { ids: IDS, where: WHERE, whereDocument: WHERE_DOCUMENT },
};

const QUERY_BODY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    vector: VECTOR,
    text: { type: 'string', description: 'encoded by the collection\'s encoder (query mode) into the dense query' },
    image: { type: 'string', contentEncoding: 'base64', description: 'an image file as base64, encoded by the collection\'s image or CLIP encoder' },
    id: { type: 'string', description: 'the stored record\'s vector is the query (the record itself is left out)' },
    fullText: { type: 'string', description: 'BM25 query over the documents' },
    sparse: { type: 'object', description: '{ token: weight } or { indices, values }' },
    multiVector: { type: 'array', items: VECTOR, description: 'query token vectors: re-rank the candidates by MaxSim' },
    hybrid: { type: 'boolean', description: 'with text: the text is also the fullText query' },
    k: { type: 'integer', minimum: 1, maximum: MAX_K },
    where: WHERE,
    whereDocument: WHERE_DOCUMENT,
    fusion: {
      anyOf: [
        { type: 'string', enum: ['rrf'] },
        {
          type: 'object', additionalProperties: false, required: ['weights'],
          properties: { weights: { type: 'object', additionalProperties: false, properties: { dense: { type: 'number' }, fullText: { type: 'number' }, sparse: { type: 'number' } } } },
        },
      ],
      description: '"rrf" (default) or { weights: { dense, fullText, sparse } } over min-max normalised scores',
    },
    candidates: { type: 'integer', minimum: 1, maximum: MAX_K },
    funnel: { type: 'integer', minimum: 1, maximum: 1000 },
    efSearch: { type: 'integer', minimum: 1, maximum: 100000 },
    nProbe: { type: 'integer', minimum: 1, maximum: 1000000 },
    rescore: { type: 'integer', minimum: 1, maximum: 1000 },
    include: INCLUDE,
  },
};

// ---------------------------------------------------------------------------------------------
// Request bodies as the schemas let them through

type VectorIn = number[] | string;

interface CreateBody { name: string; dim?: number; metric?: 'cosine' | 'l2' | 'ip'; index?: unknown; encoder?: string; indexDims?: number; tokenize?: string }
interface RecordsBody {
  ids: string[];
  vectors?: VectorIn[];
  documents?: (string | null)[];
  metadatas?: (Record<string, unknown> | null)[];
  sparse?: unknown[];
  multiVectors?: (VectorIn[] | null)[];
  images?: (string | null)[];
}
interface GetBody { ids?: string[]; where?: object; whereDocument?: object; limit?: number; offset?: number; include?: Include[] }
interface DeleteBody { ids?: string[]; where?: object; whereDocument?: object }
interface QueryBody {
  vector?: VectorIn; text?: string; image?: string; id?: string; fullText?: string; sparse?: object; multiVector?: VectorIn[];
  hybrid?: boolean; k?: number; where?: object; whereDocument?: object;
  fusion?: 'rrf' | { weights: { dense?: number; fullText?: number; sparse?: number } };
  candidates?: number; funnel?: number; efSearch?: number; nProbe?: number; rescore?: number; include?: Include[];
}

// ---------------------------------------------------------------------------------------------
// Helpers

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/** Bytes of a base64 string (the standard alphabet, padding optional); invalid_argument otherwise. */
export function decodeBase64(s: string, what: string): Buffer {
  if (!BASE64.test(s)) throw invalidArgument(`${what}: expected base64 (A–Z, a–z, 0–9, '+', '/', '=' padding), got ${describe(s)}`);
  return Buffer.from(s, 'base64');
}

/** A vector as sent: an array (checked by the library) or base64 of little-endian float32. */
export function decodeVector(v: VectorIn, dim: number, what: string): ArrayLike<number> {
  if (typeof v !== 'string') return v;
  const b = decodeBase64(v, what);
  if (b.length !== dim * 4) {
    throw new OmnivecError('dimension_mismatch', `${what}: expected ${dim * 4} bytes of base64 float32 (4 × ${dim}, the collection's dimension), got ${b.length} bytes`);
  }
  const out = new Float32Array(dim);
  for (let j = 0; j < dim; j++) out[j] = b.readFloatLE(j * 4);
  return out;
}

/** A token vector of a multi-vector: any dimension (the library checks they agree). */
function tokenVector(v: VectorIn, what: string): ArrayLike<number> {
  if (typeof v !== 'string') return v;
  const n = decodeBase64(v, what).length;
  if (n === 0 || n % 4 !== 0) throw invalidArgument(`${what}: expected base64 of little-endian float32 (a non-zero multiple of 4 bytes), got ${n} bytes`);
  return decodeVector(v, n / 4, what);
}

function numbers(a: Float32Array): (number | null)[] {
  return Array.from(a, (x) => (Number.isFinite(x) ? x : null));
}

function queryJson(r: QueryResult): Record<string, unknown> {
  const out: Record<string, unknown> = { ids: r.ids, scores: numbers(r.scores), distances: numbers(r.distances) };
  if (r.documents !== undefined) out.documents = r.documents;
  if (r.metadatas !== undefined) out.metadatas = r.metadatas;
  if (r.vectors !== undefined) out.vectors = r.vectors.map((v) => Array.from(v));
  return out;
}

function sameLength(body: { ids: unknown[] }, field: string, col: unknown[] | undefined): void {
  if (col !== undefined && col.length !== body.ids.length) {
    throw invalidArgument(`${field}: expected ${body.ids.length} entries (one per id), got ${col.length}`);
  }
}

export function registerCollectionRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const collection = (name: string): Promise<Collection> => ctx.db.getCollection(checkCollectionName(name));

  /** The served encoder that encodes `field` for the collection; 400 saying why when there is none. */
  const encoderFor = async (c: Collection, want: 'text' | 'image', field: string): Promise<string> => {
    const f = await ctx.encoders.forCollection(c);
    if (f.name === undefined) {
      const alt = field === 'text' ? '; send a vector, or use fullText for a BM25 query over the documents' : '; send vectors';
      throw invalidArgument(`${field}: the collection "${c.name}" has no served encoder to encode it (${f.reason})${alt}`);
    }
    if (want === 'text' && f.kind === 'image') throw invalidArgument(`${field}: the collection's encoder "${f.name}" encodes images, not text`);
    if (want === 'image' && f.kind !== 'image' && f.kind !== 'clip') throw invalidArgument(`${field}: the collection's encoder "${f.name}" (${f.kind}) does not encode images`);
    return f.name;
  };

  const images = (list: (string | null)[], field: string): Uint8Array[] => list.map((s, i) => {
    if (typeof s !== 'string') throw invalidArgument(`${field}[${i}]: expected a base64 image to encode (no vectors were given), got ${describe(s)}`);
    return decodeBase64(s, `${field}[${i}]`);
  });

  /** The vectors of a write: as sent, or encoded from the documents / images. */
  const vectorsOf = async (c: Collection, mode: 'add' | 'upsert' | 'update', b: RecordsBody): Promise<ArrayLike<number>[] | undefined> => {
    if (b.vectors !== undefined) return b.vectors.map((v, i) => decodeVector(v, c.dim, `vectors[${i}]`));
    if (b.images !== undefined) {
      sameLength(b, 'images', b.images);
      const name = await encoderFor(c, 'image', 'images');
      return (await ctx.encoders.embedImages(name, images(b.images, 'images'))).vectors;
    }
    // update without vectors changes documents only, unless the collection is bound to an encoder
    // (its vectors must keep following its documents).
    if (b.documents !== undefined && (mode !== 'update' || c.encoder !== null)) {
      sameLength(b, 'documents', b.documents);
      const name = await encoderFor(c, 'text', 'documents');
      const texts = b.documents.map((d, i) => {
        if (typeof d !== 'string') throw invalidArgument(`documents[${i}]: expected a text to encode (no vectors were given), got ${describe(d)}`);
        return d;
      });
      return (await ctx.encoders.embedTexts(name, texts, { mode: 'passage' })).vectors;
    }
    if (mode === 'update') return undefined;
    throw invalidArgument(`vectors: required for ${mode} (${b.ids.length} ids), got nothing; or send documents or images for the collection's encoder`);
  };

  const tags = ['collections'];

  app.get('/api/collections', { schema: { summary: 'list the collections', tags } }, async () => ({ collections: await ctx.db.listCollections() }));

  app.post('/api/collections', { schema: { summary: 'create a collection', tags, body: CREATE_BODY } }, async (req, reply) => {
    const b = req.body as CreateBody;
    checkCollectionName(b.name);
    let dim = b.dim;
    let encoder: { model: string; dim?: number; [k: string]: unknown } | undefined;
    if (b.encoder !== undefined) {
      const info = await ctx.encoders.info(b.encoder);
      encoder = { ...info.spec, dim: info.dim };
      dim ??= info.dim;
    }
    if (dim === undefined) throw invalidArgument('dim: required (the vectors\' dimension) unless encoder names a served encoder, got nothing');
    const c = await ctx.db.createCollection({ name: b.name, dim, metric: b.metric, index: b.index, encoder, indexDims: b.indexDims, tokenize: b.tokenize });
    return reply.code(201).send({ collection: await c.info() });
  });

  app.get('/api/collections/:name', { schema: { summary: 'a collection: info, index status, served encoder', tags, params: NAME_PARAMS } }, async (req) => {
    const c = await collection((req.params as { name: string }).name);
    const enc = await ctx.encoders.forCollection(c);
    return { collection: await c.info(), index: c.indexStatus(), encoder: enc.name ?? null };
  });

  app.delete('/api/collections/:name', { schema: { summary: 'drop a collection', tags, params: NAME_PARAMS } }, async (req) => {
    const name = checkCollectionName((req.params as { name: string }).name);
    await ctx.db.dropCollection(name);
    return { dropped: name };
  });

  for (const mode of ['add', 'upsert', 'update'] as const) {
    const summary = { add: 'add records (refused whole when an id exists)', upsert: 'add or replace records', update: 'change fields of stored records' }[mode];
    app.post(`/api/collections/:name/${mode}`, { schema: { summary, tags, params: NAME_PARAMS, body: RECORDS_BODY } }, async (req) => {
      const c = await collection((req.params as { name: string }).name);
      const b = req.body as RecordsBody;
      const vectors = await vectorsOf(c, mode, b);
      const multiVectors = b.multiVectors?.map((m, i) => (m === null ? null : m.map((v, j) => tokenVector(v, `multiVectors[${i}][${j}]`))));
      const input = {
        ids: b.ids,
        ...(vectors !== undefined ? { vectors } : {}),
        ...(b.documents !== undefined ? { documents: b.documents } : {}),
        ...(b.metadatas !== undefined ? { metadatas: b.metadatas } : {}),
        ...(b.sparse !== undefined ? { sparse: b.sparse } : {}),
        ...(multiVectors !== undefined ? { multiVectors } : {}),
      };
      const count = await c[mode](input);
      return { count };
    });
  }

  app.post('/api/collections/:name/get', { schema: { summary: 'records by id or filter, paged', tags, params: NAME_PARAMS, body: GET_BODY } }, async (req) => {
    const c = await collection((req.params as { name: string }).name);
    const b = (req.body ?? {}) as GetBody;
    const r = await c.get({ ids: b.ids, where: b.where as never, whereDocument: b.whereDocument as never, limit: b.ids === undefined ? b.limit ?? 100 : undefined, offset: b.offset, include: b.include });
    const out: Record<string, unknown> = { ids: r.ids };
    if (r.documents !== undefined) out.documents = r.documents;
    if (r.metadatas !== undefined) out.metadatas = r.metadatas;
    if (r.vectors !== undefined) out.vectors = r.vectors.map((v) => Array.from(v));
    return out;
  });

  app.post('/api/collections/:name/delete', { schema: { summary: 'delete records by id and / or filter', tags, params: NAME_PARAMS, body: DELETE_BODY } }, async (req) => {
    const c = await collection((req.params as { name: string }).name);
    const b = (req.body ?? {}) as DeleteBody;
    return { deleted: await c.delete({ ids: b.ids, where: b.where as never, whereDocument: b.whereDocument as never }) };
  });

  app.get('/api/collections/:name/count', { schema: { summary: 'number of records', tags, params: NAME_PARAMS } }, async (req) => ({ count: await (await collection((req.params as { name: string }).name)).count() }));

  app.post('/api/collections/:name/query', { schema: { summary: 'nearest records to a vector, text, image or stored record; full-text, sparse, hybrid', tags, params: NAME_PARAMS, body: QUERY_BODY } }, async (req) => {
    const c = await collection((req.params as { name: string }).name);
    const b = (req.body ?? {}) as QueryBody;
    const given = (['vector', 'text', 'image', 'id'] as const).filter((k) => b[k] !== undefined);
    if (given.length > 1) throw invalidArgument(`query: expected at most one of vector, text, image, id, got ${given.join(' and ')}`);
    if (given.length === 0 && b.fullText === undefined && b.sparse === undefined) {
      throw invalidArgument('query: expected one of vector, text, image, id (or fullText / sparse alone), got none');
    }
    if (b.hybrid === true && b.text === undefined) throw invalidArgument('hybrid: expected beside text (the text is both the dense and the BM25 query), got no text');
    const o: QueryOptions = {
      k: b.k, where: b.where as never, whereDocument: b.whereDocument as never, candidates: b.candidates, funnel: b.funnel,
      efSearch: b.efSearch, nProbe: b.nProbe, rescore: b.rescore, include: b.include, sparse: b.sparse,
    };
    const fullText = b.fullText ?? (b.hybrid === true ? b.text : undefined);
    if (fullText !== undefined) o.fullText = fullText;
    if (b.fusion !== undefined) {
      const w = typeof b.fusion === 'object' ? b.fusion.weights : undefined;
      o.fusion = w === undefined ? 'rrf' : { weights: { dense: w.dense, fullText: w.fullText, sparse: w.sparse } };
    }
    if (b.multiVector !== undefined) {
      o.multiVector = b.multiVector.map((v, i) => tokenVector(v, `multiVector[${i}]`));
    }
    if (b.vector !== undefined) o.vector = decodeVector(b.vector, c.dim, 'vector');
    if (b.text !== undefined) {
      const name = await encoderFor(c, 'text', 'text');
      o.vector = (await ctx.encoders.embedTexts(name, [b.text], { mode: 'query' })).vectors[0];
    }
    if (b.image !== undefined) {
      const name = await encoderFor(c, 'image', 'image');
      o.vector = (await ctx.encoders.embedImages(name, images([b.image], 'image'))).vectors[0];
    }
    // A filter scan or full text runs on the store's scan reader thread (createServer's scanThreads).
    const r = b.id !== undefined ? await c.queryById(b.id, o) : await c.query(o);
    return queryJson(r);
  });
}
