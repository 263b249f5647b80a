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
    points: {
      type: 'string', enum: ['json', 'binary'], default: 'json',
      description: 'json: the points as numbers in the answer; binary: left out, to be fetched from …/projection/points (float32)',
    },
  },
  additionalProperties: false,
};

const POINTS_QUERY = {
  type: 'object',
  properties: { method: QUERY.properties.method, sample: QUERY.properties.sample, seed: QUERY.properties.seed },
  additionalProperties: false,
};

/**
 * The binary form of a map's points (`GET …/projection/points`, docs/projections.md): a 24-byte
 * header — "OVMP", version 1 (u32), count (u32), flags (u32: bit 0 = stale), the collection's
 * change number (f64) — then count × 2 float32, all little-endian: 800 KB for 100,000 points
 * where JSON numbers take ~2 MB and a parse. The page matches it to the JSON answer by `seq` and
 * `sampled`.
 */
export const POINTS_MAGIC = 'OVMP';
export const POINTS_VERSION = 1;
export const POINTS_HEADER_BYTES = 24;

export function encodePoints(r: ProjectionResult, stale: boolean): Buffer {
  const count = r.ids.length;
  const buf = Buffer.alloc(POINTS_HEADER_BYTES + count * 8);
  buf.write(POINTS_MAGIC, 0, 'latin1');
  buf.writeUInt32LE(POINTS_VERSION, 4);
  buf.writeUInt32LE(count, 8);
  buf.writeUInt32LE(stale ? 1 : 0, 12);
  buf.writeDoubleLE(r.seq, 16);
  const pts = r.points instanceof Float32Array ? r.points : Float32Array.from(r.points);
  const out = new Float32Array(buf.buffer, buf.byteOffset + POINTS_HEADER_BYTES, count * 2);
  out.set(pts.subarray(0, count * 2));
  return buf;
}

interface Query {
  method: ProjectionRequest['method'];
  sample: number;
  seed: number;
  include?: string;
  points?: 'json' | 'binary';
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
async function mapBody(ctx: ServerContext, name: string, r: ProjectionResult & { total?: number }, include: readonly string[], binary = false): Promise<Record<string, unknown>> {
  const c = await ctx.db.getCollection(name);
  const count = await c.count();
  const body: Record<string, unknown> = {
    method: r.method, sample: r.sample, seed: r.seed, seq: r.seq, count,
    sampled: r.ids.length, total: r.total ?? count, ids: r.ids, ...(binary ? {} : { points: pointList(r.points) }),
  };
  const wantDocs = include.includes('documents');
  const wantMeta = include.includes('metadatas');
  if (wantDocs || wantMeta) {
    // Records deleted since the map was computed (a stale map) get null.
    const include = [...(wantDocs ? ['documents' as const] : []), ...(wantMeta ? ['metadatas' as const] : [])];
    // A map of the whole collection reads it whole: measured at 100,000 records, 0.4–0.7 s against
    // 1.4–1.7 s for the same records by id (the first map's wait in the explorer).
    const got = r.ids.length === count ? await c.get({ include }) : await c.get({ ids: r.ids, include });
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
    const binary = q.points === 'binary';
    if (state.status === 'done') return { status: 'done', ...(await mapBody(ctx, name, state.result, include, binary)) };
    reply.code(202);
    return {
      status: 'running', phase: state.phase, progress: state.progress,
      ...(state.stale !== undefined ? { stale: true, ...(await mapBody(ctx, name, state.stale, include, binary)) } : {}),
    };
  });

  app.get<{ Params: { name: string }; Querystring: Omit<Query, 'include' | 'points'> }>('/api/collections/:name/projection/points', {
    schema: {
      summary: 'the points of a map as float32 (application/octet-stream, see encodePoints): 200 with the done map (or the previous one, flagged stale, while it is recomputed), 202 {status: "running"} before any',
      tags: ['projections'],
      params: PARAMS,
      querystring: POINTS_QUERY,
    },
  }, async (req, reply) => {
    const q = req.query;
    const state = await ctx.projections.get(req.params.name, { method: q.method, sample: q.sample, seed: q.seed });
    if (state.status === 'error') throw new OmnivecError(state.code as OmnivecError['code'], state.message);
    const map = state.status === 'done' ? state.result : state.stale;
    if (map === undefined) {
      reply.code(202);
      return { status: 'running', phase: state.status === 'running' ? state.phase : '', progress: state.status === 'running' ? state.progress : 0 };
    }
    reply.header('content-type', 'application/octet-stream');
    return reply.send(encodePoints(map, state.status !== 'done'));
  });
}
