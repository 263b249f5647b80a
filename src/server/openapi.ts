/**
 * `GET /openapi.json`: an OpenAPI 3.1 document assembled from the JSON schemas of the routes as
 * they are registered (fastify's `onRoute` hook), so the route files of the other pieces appear
 * without a list kept by hand. A route opts out with `schema: { hide: true }`.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';

type Schema = Record<string, unknown>;

// The documentation fields a route's schema may carry (fastify ignores them; the document uses them).
declare module 'fastify' {
  interface FastifySchema {
    summary?: string;
    description?: string;
    tags?: string[];
    /** Leave the route out of /openapi.json. */
    hide?: boolean;
  }
}

interface Collected {
  method: string;
  url: string;
  schema: Schema;
}

export interface OpenApiOptions {
  version: string;
  /** Declares the bearer scheme as required (the server has a key). */
  secured: boolean;
  /** Paths that need no key (docs/server.md, "Authentication"). */
  isPublic: (method: string, url: string) => boolean;
}

/** Starts collecting routes; call before any route is registered. */
export function collectRoutes(app: FastifyInstance): Collected[] {
  const routes: Collected[] = [];
  app.addHook('onRoute', (r: RouteOptions) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    for (const m of methods) routes.push({ method: m, url: r.url, schema: (r.schema ?? {}) as Schema });
  });
  return routes;
}

/** `/api/collections/:name/add` → `/api/collections/{name}/add`; `/explorer/*` → `/explorer/{path}`. */
export function openApiPath(url: string): { path: string; params: string[] } {
  const params: string[] = [];
  const path = url.split('/').map((seg) => {
    if (seg.startsWith(':')) { const n = seg.slice(1).replace(/\(.*\)$/, ''); params.push(n); return `{${n}}`; }
    if (seg === '*') { params.push('path'); return '{path}'; }
    return seg;
  }).join('/');
  return { path, params };
}

const ERROR_SCHEMA = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string', description: 'stable error code (docs/server.md)' },
        message: { type: 'string', description: 'the field, what was expected and what came' },
        type: { type: 'string' },
        param: { type: 'null' },
      },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
};

export function buildOpenApi(routes: readonly Collected[], o: OpenApiOptions): Schema {
  const paths: Record<string, Record<string, Schema>> = {};
  const gets = new Set(routes.filter((r) => r.method === 'GET').map((r) => r.url));
  for (const r of routes) {
    if (r.schema.hide === true || r.method === 'OPTIONS') continue;
    // fastify adds a HEAD route beside every GET: not documented separately.
    if (r.method === 'HEAD' && gets.has(r.url)) continue;
    const { path, params } = openApiPath(r.url);
    const op: Schema = {};
    if (typeof r.schema.summary === 'string') op.summary = r.schema.summary;
    if (typeof r.schema.description === 'string') op.description = r.schema.description;
    if (Array.isArray(r.schema.tags)) op.tags = r.schema.tags;
    op.operationId = `${r.method.toLowerCase()}${path.replace(/[{}]/g, '').split(/[/._-]/).filter(Boolean).map((s) => s[0]!.toUpperCase() + s.slice(1)).join('')}`;
    const parameters: Schema[] = [];
    const pSchema = (r.schema.params ?? {}) as Schema;
    const pProps = (pSchema.properties ?? {}) as Record<string, Schema>;
    for (const name of params) parameters.push({ name, in: 'path', required: true, schema: pProps[name] ?? { type: 'string' } });
    const q = (r.schema.querystring ?? {}) as Schema;
    const qReq = new Set((q.required ?? []) as string[]);
    for (const [name, s] of Object.entries((q.properties ?? {}) as Record<string, Schema>)) {
      parameters.push({ name, in: 'query', required: qReq.has(name), schema: s, ...(typeof s.description === 'string' ? { description: s.description } : {}) });
    }
    if (parameters.length > 0) op.parameters = parameters;
    if (r.schema.body !== undefined) op.requestBody = { required: true, content: { 'application/json': { schema: r.schema.body } } };
    const responses: Record<string, Schema> = {};
    const declared = (r.schema.response ?? {}) as Record<string, Schema>;
    for (const [status, s] of Object.entries(declared)) {
      responses[status] = { description: typeof s.description === 'string' ? s.description : 'answer', content: { 'application/json': { schema: s } } };
    }
    if (Object.keys(responses).length === 0) responses['200'] = { description: 'OK' };
    responses.default = { description: 'an error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    op.responses = responses;
    if (o.secured && o.isPublic(r.method, r.url)) op.security = [];
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  const doc: Schema = {
    openapi: '3.1.0',
    info: { title: 'omnivec', version: o.version, description: 'omnivec server: collections, records, queries, embeddings (docs/server.md)' },
    paths,
    components: {
      schemas: { Error: ERROR_SCHEMA },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the server\'s --api-key' } },
    },
  };
  if (o.secured) doc.security = [{ bearer: [] }];
  return doc;
}

/** Registers `GET /openapi.json` over the collected routes (the document is built once, on first call). */
export function registerOpenApiRoute(app: FastifyInstance, routes: Collected[], o: OpenApiOptions): void {
  let doc: Schema | undefined;
  app.get('/openapi.json', { schema: { summary: 'this document (OpenAPI 3.1)', tags: ['meta'] } }, () => (doc ??= buildOpenApi(routes, o)));
}
