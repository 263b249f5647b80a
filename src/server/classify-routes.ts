/**
 * Task routes of docs/tasks.md: `POST /api/collections/:name/classify` (k-NN, nearest centroid,
 * leave-one-out evaluation, zero-shot through the collection's served encoder), `/recommend` and
 * `/diversity`. The schemas catch wrong types; the tasks' own checks have the last word. The long
 * ones (`evaluate`, `diversity`) run in a worker thread (task-routes.ts).
 */
import { MAX_K } from '../checks.js';
import type { FastifyInstance } from 'fastify';
import { OmnivecError, invalidArgument } from '../errors.js';
import type { Collection } from '../db/collection.js';
import type { Where } from '../db/where.js';
import type { VectorBatch } from '../vector/batch.js';
import { classifyCentroid, classifyKnn, zeroShot } from '../tasks/classify.js';
import { recommendFromCollection } from '../tasks/recommend.js';
import type { DiversityOptions } from '../tasks/diversity.js';
import { checkCollectionName } from '../db/names.js';
import { decodeVector } from './collections-routes.js';
import type { ServerContext } from './context.js';
import { answerTask } from './task-routes.js';

const VECTOR = {
  anyOf: [
    { type: 'array', items: { type: 'number' } },
    { type: 'string', contentEncoding: 'base64' },
  ],
  description: 'an array of numbers, or base64 of little-endian float32 (4 × dim bytes)',
};
const WHERE = { type: 'object', description: 'metadata filter (docs/filters.md)' };
const IDS = { type: 'array', items: { type: 'string' }, minItems: 1 };
const NAME_PARAMS = { type: 'object', properties: { name: { type: 'string', description: 'collection name' } }, required: ['name'] };

const CLASSIFY_BODY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    method: { type: 'string', enum: ['knn', 'centroid', 'zero-shot'], description: 'default: knn with labelField, zero-shot with labels' },
    labelField: { type: 'string', minLength: 1, description: 'knn / centroid: the metadata field holding the known labels' },
    k: { type: 'integer', minimum: 1, maximum: MAX_K, description: 'knn: neighbours that vote (default 5)' },
    weighted: { type: 'boolean', description: 'knn: votes weighted by similarity' },
    ids: { ...IDS, description: 'classify these stored records (knn: each left out of its own neighbours); default: the unlabelled records (zero-shot: every record)' },
    vectors: { type: 'array', items: VECTOR, minItems: 1, description: 'knn / centroid: classify these query vectors' },
    labels: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, description: 'zero-shot: the candidate labels, encoded by the collection\'s encoder' },
    template: { type: 'string', description: 'zero-shot: prompt with {label} (default "{label}", CLIP\'s "a photo of a {label}." for a CLIP encoder)' },
    evaluate: { type: 'boolean', description: 'knn / centroid: leave-one-out accuracy over the labelled records instead of predictions' },
    where: WHERE,
    sample: { type: 'integer', minimum: 1, description: 'centroid / zero-shot: the first N records in id order' },
  },
};

const RECOMMEND_BODY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    item: { type: 'string', minLength: 1, description: 'items like this record' },
    history: { ...IDS, description: 'records the user consumed, oldest first' },
    k: { type: 'integer', minimum: 1, maximum: MAX_K },
    recent: { type: 'integer', minimum: 1, description: 'the last n history items make the query (default 5)' },
    decay: { type: 'number', exclusiveMinimum: 0, maximum: 1, description: 'weight decay^j of the j-th most recent item (default 0.8)' },
    exclude: { type: 'array', items: { type: 'string' }, description: 'never recommended' },
    where: { ...WHERE, description: 'recommend only records matching this filter (e.g. {"count": {"$gte": 10}})' },
  },
};

const DIVERSITY_BODY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    where: WHERE,
    sample: { type: 'integer', minimum: 1 },
    subset: {
      type: 'object', additionalProperties: false, minProperties: 1, maxProperties: 1,
      properties: { where: WHERE, ids: IDS },
      description: 'the subset to measure the coverage of: { where } or { ids }',
    },
    radius: { type: 'number', minimum: 0, description: 'coverage radius (default: the median nearest-neighbour distance)' },
    bins: { type: 'integer', minimum: 1, maximum: 1000 },
    seed: { type: 'integer', minimum: 0 },
  },
};

interface ClassifyBody {
  method?: 'knn' | 'centroid' | 'zero-shot'; labelField?: string; k?: number; weighted?: boolean; ids?: string[];
  vectors?: (number[] | string)[]; labels?: string[]; template?: string; evaluate?: boolean; where?: Where; sample?: number;
}
interface RecommendBody { item?: string; history?: string[]; k?: number; recent?: number; decay?: number; exclude?: string[]; where?: Where }
interface DiversityBody { where?: Where; sample?: number; subset?: { where?: Where; ids?: string[] }; radius?: number; bins?: number; seed?: number }

function batchOf(c: Collection, vectors: (number[] | string)[]): VectorBatch {
  const data = new Float32Array(vectors.length * c.dim);
  vectors.forEach((v, i) => {
    const x = decodeVector(v, c.dim, `vectors[${i}]`);
    if (x.length !== c.dim) throw new OmnivecError('dimension_mismatch', `vectors[${i}]: expected ${c.dim} numbers (the collection's dimension), got ${x.length}`);
    for (let j = 0; j < c.dim; j++) {
      const n = x[j]!;
      if (typeof n !== 'number' || !Number.isFinite(n)) throw invalidArgument(`vectors[${i}][${j}]: expected a finite number, got ${String(n)}`);
      data[i * c.dim + j] = n;
    }
  });
  return { data, dim: c.dim, count: vectors.length };
}

const only = (b: object, allowed: readonly string[], method: string): void => {
  const extra = Object.keys(b).filter((k) => !allowed.includes(k));
  if (extra.length > 0) throw invalidArgument(`${extra.join(', ')}: not used by method ${method}`);
};

export function registerClassifyRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const collection = (name: string): Promise<Collection> => ctx.db.getCollection(checkCollectionName(name));
  const tags = ['tasks'];

  app.post('/api/collections/:name/classify', {
    schema: { summary: 'classify records or vectors: k-NN or nearest centroid from a label field, zero-shot labels through the collection\'s encoder', tags, params: NAME_PARAMS, body: CLASSIFY_BODY },
  }, async (req, reply) => {
    const c = await collection((req.params as { name: string }).name);
    const b = (req.body ?? {}) as ClassifyBody;
    const method = b.method ?? (b.labels !== undefined ? 'zero-shot' : 'knn');
    const where = b.where === undefined ? {} : { where: b.where };
    if (method === 'zero-shot') {
      only(b, ['method', 'labels', 'template', 'ids', 'where', 'sample'], method);
      if (b.labels === undefined) throw invalidArgument('labels: required for zero-shot (the candidate labels), got nothing');
      const enc = await ctx.encoders.forCollection(c);
      if (enc.name === undefined) throw invalidArgument(`labels: the collection "${c.name}" has no served encoder to encode them (${enc.reason})`);
      if (enc.kind === 'image') throw invalidArgument(`labels: the collection's encoder "${enc.name}" encodes images, not label texts`);
      const name = enc.name;
      const predictions = await zeroShot(c, {
        labels: b.labels, clip: enc.kind === 'clip', ...(b.template !== undefined ? { template: b.template } : {}),
        ...(b.ids !== undefined ? { ids: b.ids } : {}), ...where, ...(b.sample !== undefined ? { sample: b.sample } : {}),
        encode: async (texts) => (await ctx.encoders.embedTexts(name, texts, { mode: 'query' })).vectors,
      });
      return { predictions };
    }
    if (b.labelField === undefined) throw invalidArgument(`labelField: required for ${method} (the metadata field with the known labels), got nothing`);
    if (b.evaluate === true) {
      only(b, ['method', 'labelField', 'k', 'weighted', 'evaluate', 'where'], `${method} with evaluate`);
      // Leave-one-out over every labelled record: a long task, in a worker (task-routes.ts).
      return answerTask(ctx, req, reply, {
        kind: 'evaluate', collection: c.name,
        options: { labelField: b.labelField, method, ...(b.k !== undefined ? { k: b.k } : {}), weighted: b.weighted === true, ...where },
        finish: (evaluation) => ({ evaluation }),
      });
    }
    if (b.ids !== undefined && b.vectors !== undefined) throw invalidArgument('expected ids or vectors, not both');
    const targets = b.ids !== undefined ? { ids: b.ids } : b.vectors !== undefined ? { vectors: batchOf(c, b.vectors) } : {};
    if (method === 'knn') {
      only(b, ['method', 'labelField', 'k', 'weighted', 'ids', 'vectors', 'where', 'evaluate'], method);
      return { predictions: await classifyKnn(c, { labelField: b.labelField, ...(b.k !== undefined ? { k: b.k } : {}), weighted: b.weighted === true, ...targets, ...where }) };
    }
    only(b, ['method', 'labelField', 'ids', 'vectors', 'where', 'sample', 'evaluate'], method);
    return { predictions: await classifyCentroid(c, { labelField: b.labelField, ...targets, ...where, ...(b.sample !== undefined ? { sample: b.sample } : {}) }) };
  });

  app.post('/api/collections/:name/recommend', {
    schema: { summary: 'records near an item, or near the recency-weighted mean of a history (history and item never returned)', tags, params: NAME_PARAMS, body: RECOMMEND_BODY },
  }, async (req) => {
    const c = await collection((req.params as { name: string }).name);
    const b = (req.body ?? {}) as RecommendBody;
    return { items: await recommendFromCollection(c, b) };
  });

  app.post('/api/collections/:name/diversity', {
    schema: { summary: 'mean pairwise distance, pairwise cosine similarity histogram, coverage of a subset', tags, params: NAME_PARAMS, body: DIVERSITY_BODY },
  }, async (req, reply) => {
    const name = checkCollectionName((req.params as { name: string }).name);
    const b = (req.body ?? {}) as DiversityBody;
    const o: DiversityOptions = {
      ...(b.where !== undefined ? { where: b.where } : {}),
      ...(b.sample !== undefined ? { sample: b.sample } : {}),
      ...(b.radius !== undefined ? { radius: b.radius } : {}),
      ...(b.bins !== undefined ? { bins: b.bins } : {}),
      ...(b.seed !== undefined ? { seed: b.seed } : {}),
    };
    if (b.subset !== undefined) o.subset = b.subset.ids !== undefined ? { ids: b.subset.ids } : { where: b.subset.where! };
    return answerTask(ctx, req, reply, { kind: 'diversity', collection: name, options: o as Record<string, unknown> });
  });
}
