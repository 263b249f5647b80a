/**
 * `GET /api/collections/:name/projection` (docs/server.md, "Projections"): the 2-D map of a
 * collection from the projection service. 202 while it is computed (with the previous map marked
 * `stale: true` when the collection changed since), 200 when done; `include=documents,metadatas`
 * adds the mapped records' metadata and documents (cut to 300 characters) in the order of `ids`.
 * Every map says how big its sample is and what it was drawn from (`sampled` of `total`).
 */
import type { FastifyInstance } from 'fastify';
import { OmnivecError } from '../errors.js';
import { formatFloat32 } from '../io/common.js';
import type { ProjectionRequest, ProjectionResult, ServerContext } from './context.js';
import { DEFAULT_REQUEST, MAX_SAMPLE } from '../viz/projection-service.js';

/** Documents travel cut to this many UTF-16 units (the page shows them on hover). */
export const DOCUMENT_CHARS = 300;

const PARAMS = { type: 'object', properties: { name: { type: 'string', description: 'collection name' } }, required: ['name'] };

const QUERY = {
  type: 'object',
  properties: {
    method: { type: 'string', enum: ['pca', 'tsne', 'umap'], default: DEFAULT_REQUEST.method, description: 'pca, tsne or umap' },
    sample: {
      type: 'integer', minimum: 3, maximum: Math.max(...Object.values(MAX_SAMPLE)), default: DEFAULT_REQUEST.sample,
      description: `at most N records, sampled evenly over the collection (seeded by seed; t-SNE at most ${MAX_SAMPLE.tsne}, UMAP ${MAX_SAMPLE.umap}, PCA ${MAX_SAMPLE.pca})`,
    },
    seed: { type: 'integer', minimum: 0, maximum: 0xffffffff, default: DEFAULT_REQUEST.seed, description: 'seed of the sample, t-SNE and UMAP' },
    include: { type: 'string', pattern: '^((documents|metadatas)(,(documents|metadatas))*)?$', description: 'documents,metadatas' },
  },
  additionalProperties: false,
};

interface Query {
  method: ProjectionRequest['method'];
  sample: number;
  seed: number;
  include?: string;
}

/** The shortest decimal that reads back as the same float32 (JSON stays small, values exact). */
function pointList(points: Float32Array | number[]): number[] {
  const out = new Array<number>(points.length);
  for (let i = 0; i < points.length; i++) out[i] = Number(formatFloat32(points[i]!));
  return out;
}

function cut(text: string): string {
  if (text.length <= DOCUMENT_CHARS) return text;
  // Do not split a surrogate pair.
  const end = /[\uD800-\uDBFF]/.test(text[DOCUMENT_CHARS - 1]!) ? DOCUMENT_CHARS - 1 : DOCUMENT_CHARS;
  return text.slice(0, end);
}

/**
 * `total` (records the sample was drawn from) comes with the maps of our projection service
 * (`MapResult`); a service that does not give it (a test double) gets the collection's count now.
 */
async function mapBody(ctx: ServerContext, name: string, r: ProjectionResult & { total?: number }, include: readonly string[]): Promise<Record<string, unknown>> {
  const c = await ctx.db.getCollection(name);
  const count = await c.count();
  const body: Record<string, unknown> = {
    method: r.method, sample: r.sample, seed: r.seed, seq: r.seq, count,
    sampled: r.ids.length, total: r.total ?? count, ids: r.ids, points: pointList(r.points),
  };
  const wantDocs = include.includes('documents');
  const wantMeta = include.includes('metadatas');
  if (wantDocs || wantMeta) {
    // Records deleted since the map was computed (a stale map) get null.
    const got = await c.get({ ids: r.ids, include: [...(wantDocs ? ['documents' as const] : []), ...(wantMeta ? ['metadatas' as const] : [])] });
    const at = new Map(got.ids.map((id, i) => [id, i]));
    if (wantMeta) body.metadatas = r.ids.map((id) => { const i = at.get(id); return i === undefined ? null : got.metadatas![i] ?? null; });
    if (wantDocs) {
      body.documents = r.ids.map((id) => {
        const i = at.get(id);
        const d = i === undefined ? null : got.documents![i] ?? null;
        return d === null ? null : cut(d);
      });
    }
  }
  return body;
}

export function registerProjectionRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get<{ Params: { name: string }; Querystring: Query }>('/api/collections/:name/projection', {
    schema: {
      summary: 'the 2-D map of a collection: 202 {status: "running", phase, progress} while computed, then 200 {status: "done", ids, points, …}',
      tags: ['projections'],
      params: PARAMS,
      querystring: QUERY,
    },
  }, async (req, reply) => {
    const { name } = req.params;
    const q = req.query;
    const include = q.include === undefined || q.include === '' ? [] : q.include.split(',');
    const state = await ctx.projections.get(name, { method: q.method, sample: q.sample, seed: q.seed });
    if (state.status === 'error') throw new OmnivecError(state.code as OmnivecError['code'], state.message);
    if (state.status === 'done') return { status: 'done', ...(await mapBody(ctx, name, state.result, include)) };
    reply.code(202);
    return {
      status: 'running', phase: state.phase, progress: state.progress,
      ...(state.stale !== undefined ? { stale: true, ...(await mapBody(ctx, name, state.stale, include)) } : {}),
    };
  });
}
