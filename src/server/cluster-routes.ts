/**
 * `POST /api/collections/:name/cluster | outliers | dedupe` (docs/tasks.md, docs/server.md): the
 * tasks over a collection, answering what the library returns (as JSON). Bodies are strict
 * (unknown fields refused); the library's checks stay the last word on values. `writeField`
 * writes: a read-only database refuses it with `read_only` (403) from the library.
 *
 * The computation runs on the server's thread (k-means over 10,000 × 784 takes about a second);
 * the cluster task yields between the k's it tries.
 */
import type { FastifyInstance } from 'fastify';
import type { Collection } from '../db/collection.js';
import type { Where } from '../db/where.js';
import { clusterCollection, clusterJson } from '../tasks/cluster.js';
import { outliers, type OutlierMethod } from '../tasks/outliers.js';
import { dedupe } from '../tasks/dedupe.js';
import type { KMeansMethod } from '../tasks/kmeans.js';
import { MAX_RECORDS } from '../tasks/common.js';
import { checkCollectionName } from '../db/names.js';
import type { ServerContext } from './context.js';

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

export function registerClusterRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const collection = (name: string): Promise<Collection> => ctx.db.getCollection(checkCollectionName(name));
  const tags = ['tasks'];

  app.post('/api/collections/:name/cluster', {
    schema: { summary: 'k-means clusters (k given or chosen by the silhouette); writeField stores each record\'s cluster number', tags, params: NAME_PARAMS, body: CLUSTER_BODY },
  }, async (req) => {
    const c = await collection((req.params as { name: string }).name);
    const b = (req.body ?? {}) as ClusterBody;
    const r = await clusterCollection(c, {
      k: b.k, kMin: b.kMin, kMax: b.kMax, method: b.method, where: b.where, sample: b.sample, seed: b.seed,
      maxIter: b.maxIter, nInit: b.nInit, writeField: b.writeField,
    });
    return clusterJson(r, b.includeCentroids === true);
  });

  app.post('/api/collections/:name/outliers', {
    schema: { summary: 'the records farthest from their neighbours (k-th neighbour distance or LOF), most outlying first', tags, params: NAME_PARAMS, body: OUTLIERS_BODY },
  }, async (req) => {
    const c = await collection((req.params as { name: string }).name);
    const b = (req.body ?? {}) as OutliersBody;
    return { outliers: await outliers(c, { method: b.method, k: b.k, top: b.top, threshold: b.threshold, where: b.where, sample: b.sample }) };
  });

  app.post('/api/collections/:name/dedupe', {
    schema: { summary: 'near-duplicate pairs and their groups', tags, params: NAME_PARAMS, body: DEDUPE_BODY },
  }, async (req) => {
    const c = await collection((req.params as { name: string }).name);
    const b = (req.body ?? {}) as DedupeBody;
    return dedupe(c, { threshold: b.threshold, maxDistance: b.maxDistance, k: b.k, where: b.where, sample: b.sample });
  });
}
