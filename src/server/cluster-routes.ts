/**
 * `POST /api/collections/:name/cluster | outliers | dedupe` (docs/tasks.md, docs/server.md): the
 * tasks over a collection, answering what the library returns (as JSON). Bodies are strict
 * (unknown fields refused); the library's checks stay the last word on values. `writeField`
 * writes: a read-only database refuses it with `read_only` (403) from the library.
 *
 * The computation runs in a worker thread (task-service.ts, task-routes.ts), so the server keeps
 * answering; `Prefer: respond-async` answers 202 with a task to poll at `/api/tasks/:id`, and a
 * client that disconnects cancels a synchronous one. `writeField` is written here, after the
 * worker answered.
 */
import type { FastifyInstance } from 'fastify';
import type { Collection } from '../db/collection.js';
import type { Where } from '../db/where.js';
import { OmnivecError } from '../errors.js';
import { checkWriteField, clusterJson, writeLabels, type ClusterResult } from '../tasks/cluster.js';
import type { OutlierMethod } from '../tasks/outliers.js';
import type { KMeansMethod } from '../tasks/kmeans.js';
import { MAX_RECORDS } from '../tasks/common.js';
import { checkCollectionName } from '../db/names.js';
import type { ServerContext } from './context.js';
import { answerTask } from './task-routes.js';

const NAME_PARAMS = { type: 'object', properties: { name: { type: 'string', description: 'collection name' } }, required: ['name'] };
const WHERE = { type: 'object', description: 'metadata filter choosing the records (docs/filters.md)' };
const SAMPLE = { type: 'integer', minimum: 1, maximum: MAX_RECORDS, description: 'the first N records in id order after the filter (default: all)' };
const K = { type: 'integer', minimum: 1, maximum: 100000 };

const CLUSTER_BODY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    k: { ...K, description: 'the number of clusters (default: the best silhouette of kMin..kMax)' },
    kMin: { type: 'integer', minimum: 2, maximum: 100000, description: 'smallest k tried (default 2)' },
    kMax: { type: 'integer', minimum: 2, maximum: 100000, description: 'largest k tried (default 10)' },
    method: { type: 'string', enum: ['kmeans', 'minibatch'] },
    where: WHERE,
    sample: SAMPLE,
    seed: { type: 'integer', minimum: 0, maximum: 0xffffffff },
    maxIter: { type: 'integer', minimum: 1, maximum: 100000, description: 'most Lloyd updates (default 300) or mini-batch epochs (default 100)' },
    nInit: { type: 'integer', minimum: 1, maximum: 100, description: 'restarts per k, the lowest inertia kept (default 3)' },
    writeField: { type: 'string', description: 'write each record\'s cluster number into this metadata field' },
    includeCentroids: { type: 'boolean', description: 'also answer the k centroids (k arrays of dim numbers)' },
  },
};

const OUTLIERS_BODY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    method: { type: 'string', enum: ['knn', 'lof'] },
    k: { ...K, description: 'neighbours per record (default 10)' },
    top: { type: 'integer', minimum: 1, description: 'how many to answer (default 20, or all above threshold)' },
    threshold: { type: 'number', description: 'only scores above this' },
    where: WHERE,
    sample: SAMPLE,
  },
};

const DEDUPE_BODY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    threshold: { type: 'number', description: 'cosine and ip collections: the smallest similarity of a pair (default 0.95)' },
    maxDistance: { type: 'number', minimum: 0, description: 'l2 collections (required there): the largest Euclidean distance of a pair' },
    k: { ...K, description: 'neighbours looked at per record (default 10)' },
    where: WHERE,
    sample: SAMPLE,
  },
};

interface ClusterBody {
  k?: number; kMin?: number; kMax?: number; method?: KMeansMethod; where?: Where; sample?: number; seed?: number;
  maxIter?: number; nInit?: number; writeField?: string; includeCentroids?: boolean;
}
interface OutliersBody { method?: OutlierMethod; k?: number; top?: number; threshold?: number; where?: Where; sample?: number }
interface DedupeBody { threshold?: number; maxDistance?: number; k?: number; where?: Where; sample?: number }

/** The body's fields that are set (a worker gets plain data: no undefined keys). */
export function defined(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}

export function registerClusterRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const collection = (name: string): Promise<Collection> => ctx.db.getCollection(checkCollectionName(name));
  const tags = ['tasks'];

  app.post('/api/collections/:name/cluster', {
    schema: { summary: 'k-means clusters (k given or chosen by the silhouette); writeField stores each record\'s cluster number', tags, params: NAME_PARAMS, body: CLUSTER_BODY },
  }, async (req, reply) => {
    const name = (req.params as { name: string }).name;
    const { writeField, includeCentroids, ...b } = (req.body ?? {}) as ClusterBody;
    if (writeField !== undefined) {
      checkWriteField(writeField);
      if (ctx.db.readOnly) throw new OmnivecError('read_only', `writeField: collection "${name}": the database is open read-only; open it for writing to change it`);
    }
    return answerTask(ctx, req, reply, {
      kind: 'cluster', collection: name, options: defined({ ...b }),
      finish: async (r) => {
        const result = r as ClusterResult;
        if (writeField !== undefined) result.written = { field: writeField, count: await writeLabels(await collection(name), result.ids, result.labels, writeField) };
        return clusterJson(result, includeCentroids === true);
      },
    });
  });

  app.post('/api/collections/:name/outliers', {
    schema: { summary: 'the records farthest from their neighbours (k-th neighbour distance or LOF), most outlying first', tags, params: NAME_PARAMS, body: OUTLIERS_BODY },
  }, async (req, reply) => answerTask(ctx, req, reply, {
    kind: 'outliers', collection: (req.params as { name: string }).name, options: defined({ ...(req.body as OutliersBody | undefined) }),
    finish: (r) => ({ outliers: r }),
  }));

  app.post('/api/collections/:name/dedupe', {
    schema: { summary: 'near-duplicate pairs and their groups', tags, params: NAME_PARAMS, body: DEDUPE_BODY },
  }, async (req, reply) => answerTask(ctx, req, reply, {
    kind: 'dedupe', collection: (req.params as { name: string }).name, options: defined({ ...(req.body as DedupeBody | undefined) }),
  }));
}
