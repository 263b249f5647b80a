/**
 * `POST /api/collections/:name/recommendations`: items for users, from a history (and a user id
 * for models trained with user features), for Item2Vec, YouTube DNN and two-tower collections
 * alike (`recommendForUsers`, docs/recommenders.md#serving). One user (`history`) answers
 * `{ items }`; many (`users`) answer `{ users: [items…] }`, each list what the single query
 * answers. The older `/recommend` route (item vectors only: `item`, `recent`, `decay`) stays.
 */
import type { FastifyInstance } from 'fastify';
import { MAX_K } from '../checks.js';
import { invalidArgument } from '../errors.js';
import { checkCollectionName } from '../db/names.js';
import type { Where } from '../db/where.js';
import { collectionModel, recommendForUsers, type UserQueryInput } from '../tasks/recommend.js';
import type { ServerContext } from './context.js';

const HISTORY = { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, description: 'items the user consumed, oldest first (never returned)' };

const BODY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    history: HISTORY,
    userId: { type: 'string', minLength: 1, description: 'the user, for a model trained with user features' },
    users: {
      type: 'array', minItems: 1, maxItems: 10_000,
      items: { type: 'object', additionalProperties: false, required: ['history'], properties: { history: HISTORY, userId: { type: 'string', minLength: 1 } } },
      description: 'many users at once: { history, userId? } each',
    },
    k: { type: 'integer', minimum: 1, maximum: MAX_K, description: 'items per user (default 10)' },
    exclude: { type: 'array', items: { type: 'string' }, description: 'never recommended' },
    where: { type: 'object', description: 'recommend only records matching this filter (e.g. {"count": {"$gte": 10}})' },
    recent: { type: 'integer', minimum: 1, description: 'item-vector collections: the last n history items make the query (default 5)' },
    decay: { type: 'number', exclusiveMinimum: 0, maximum: 1, description: 'item-vector collections: weight decay^j of the j-th most recent item (default 0.8)' },
  },
};

interface Body {
  history?: string[]; userId?: string; users?: UserQueryInput[]; k?: number; exclude?: string[]; where?: Where; recent?: number; decay?: number;
}

export function registerRecommendRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/api/collections/:name/recommendations', {
    schema: {
      summary: 'items for one user (history) or many (users): the model\'s user vector for youtube-dnn / two-tower collections, the recency-weighted mean of item vectors otherwise',
      tags: ['tasks'],
      params: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
      body: BODY,
    },
  }, async (req) => {
    const c = await ctx.db.getCollection(checkCollectionName((req.params as { name: string }).name));
    const b = (req.body ?? {}) as Body;
    if ((b.history === undefined) === (b.users === undefined)) throw invalidArgument('expected one of history and users');
    if (b.users !== undefined && b.userId !== undefined) throw invalidArgument('userId: goes with history; give each of users its own userId');
    const model = await collectionModel(ctx.db.filesDir, c);
    if (model !== null && (b.recent !== undefined || b.decay !== undefined)) throw invalidArgument(`recent / decay: ${c.name} is served by its ${model.kind} model, which makes the user vector itself`);
    const users = b.users ?? [{ history: b.history!, ...(b.userId !== undefined ? { userId: b.userId } : {}) }];
    const recs = await recommendForUsers(c, model, users, {
      ...(b.k !== undefined ? { k: b.k } : {}), ...(b.exclude !== undefined ? { exclude: b.exclude } : {}), ...(b.where !== undefined ? { where: b.where } : {}),
      ...(b.recent !== undefined ? { recent: b.recent } : {}), ...(b.decay !== undefined ? { decay: b.decay } : {}),
    });
    return b.users !== undefined ? { users: recs } : { items: recs[0] };
  });
}
