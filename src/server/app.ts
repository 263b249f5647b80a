/**
 * The server (docs/server.md): one fastify app over one database. Wires the shared context, the
 * auth hook, the error handler, 404 / 405, the route files and the graceful close.
 */
import { checkInt, checkPositiveInt } from '../checks.js';
import { readFileSync } from 'node:fs';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest, FastifyServerOptions } from 'fastify';
import { loadFastify, type FastifyModules } from './fastify.js';
import { OmnivecError, invalidArgument } from '../errors.js';
import { Database, openDatabase } from '../db/database.js';
import { checkCollectionName } from '../db/names.js';
import type { EncoderService, ProjectionService, ServerContext } from './context.js';
import { errorHandler, sendError } from './errors.js';
import { collectRoutes, registerOpenApiRoute } from './openapi.js';
import { registerCollectionRoutes } from './collections-routes.js';
import { registerFieldIndexRoutes } from './field-index-routes.js';
import { createEncoderService } from './encoders.js';
import { createProjectionService } from '../viz/projection-service.js';
import { registerOpenAIRoutes } from './openai-routes.js';
import { registerProjectionRoutes } from './projection-routes.js';
import { registerClusterRoutes } from './cluster-routes.js';
import { registerClassifyRoutes } from './classify-routes.js';
import { registerRecommendRoutes } from './recommend-routes.js';
import { registerExplorerRoutes } from './explorer-routes.js';
import { registerTaskRoutes } from './task-routes.js';
import { TaskService } from './task-service.js';
import { checkAllowedHosts, forbiddenHostMessage, hostAnswered, hostOfHeader } from './hosts.js';
import { registerChromaRoutes } from './chroma/routes.js';
import { checkChromaKey, isChromaRoute } from './chroma/auth.js';

export const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024;

/**
 * The router's limit on one path parameter (fastify's default is 100): above the longest
 * collection name (128), so every name the database accepts is routable and a longer one reaches
 * the name check and its message (docs/hardening.md §4).
 */
export const MAX_PARAM_LENGTH = 256;

export interface ServerOptions {
  /** A database directory (opened here and closed by close()), or an open Database (left open). */
  db: string | Database;
  /** Every route but /healthz and the page's files needs `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /**
   * Without an API key the server answers only requests whose `Host` names this machine
   * (loopback names, IP addresses, the host it listens on) or one of these names
   * (`--allowed-host`; docs/hardening.md §5). Ignored with a key.
   */
  allowedHosts?: string[];
  /** Largest request body in bytes (default 16 MiB); larger ones get 413 before parsing. */
  bodyLimit?: number;
  /** `--encoder NAME=MODEL` pairs, for the encoder service. */
  encoders?: Record<string, string>;
  /** Injected services (tests); otherwise the real ones are created. */
  encoderService?: EncoderService;
  projectionService?: ProjectionService;
  allowNetwork?: boolean;
  threads?: number;
  /**
   * With `db` a directory: scan reader threads of the embedded store (OpenOptions.scanThreads): a
   * filter on an undeclared field and full text run there, not on the server's loop. Default 1.
   */
  scanThreads?: number;
  /** With `db` a directory: OpenOptions.backgroundIndexing (default true: small writes are linked between requests). */
  backgroundIndexing?: boolean;
  /**
   * Tasks (cluster, outliers, …) computing at once, each in a worker thread (default max(1, cores − 1));
   * others queue. 0: on the server's own thread, one at a time (what bench:server compares against).
   */
  taskWorkers?: number;
  /** fastify's logger option (default off: 5xx errors then go to stderr). */
  logger?: FastifyServerOptions['logger'];
}

export interface OmnivecServer {
  app: FastifyInstance;
  ctx: ServerContext;
  /** Listens (default 127.0.0.1:8080; port 0 picks a free one); resolves to the URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** Graceful: new requests get 503, requests in flight finish, then services and the database close. */
  close(): Promise<void>;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** Constant-time comparison of the bearer key (hashes first, so lengths do not leak either). */
function sameKey(given: string, key: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(key).digest();
  return timingSafeEqual(a, b);
}

/** Routes that need no key: the health check and the page's static files. */
export function isPublicRoute(method: string, url: string | undefined): boolean {
  if (url === undefined) return false;
  if (url === '/healthz') return true;
  return (method === 'GET' || method === 'HEAD') && (url === '/' || url === '/explorer' || url.startsWith('/explorer/'));
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/**
 * Body schemas are checked without type coercion (`"dim": "8"` is refused, not read as 8) and
 * without dropping unknown fields (a misspelt `whereDocuments` is refused); query strings and path
 * parameters are strings on the wire, so there coercion stays on. `verbose` gives the error
 * handler the value that came.
 */
function validatorFactory(AjvCompiler: FastifyModules['ajvCompiler']): NonNullable<NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildValidator']> {
  const pool = AjvCompiler();
  type Options = NonNullable<Parameters<typeof pool>[1]>;
  return (externalSchemas, ajvOptions) => {
    const custom = { ...(ajvOptions?.customOptions as object | undefined), allowUnionTypes: true, verbose: true };
    const loose = pool(externalSchemas, { ...ajvOptions, customOptions: custom } as Options);
    const strict = pool(externalSchemas, { ...ajvOptions, customOptions: { ...custom, coerceTypes: false, removeAdditional: false } } as Options);
    return (route) => (route.httpPart === 'body' ? strict(route) : loose(route));
  };
}

/** The message of a router error: a bad collection name says what a name may be, as every route does. */
function routerErrorMessage(error: Error & { code?: string }, url: string): string {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    const segment = /^\/api\/collections\/([^/?#]+)/.exec(url)?.[1];
    if (segment !== undefined) {
      let name: string;
      try { name = decodeURIComponent(segment); } catch { name = segment; }
      try { checkCollectionName(name); } catch (e) { return (e as Error).message; }
    }
    return `url: expected path segments of at most ${MAX_PARAM_LENGTH} characters, got a longer one`;
  }
  return `url: ${error.message}`;
}

/**
 * Why the server could not listen, as one line (no stack): a port in use, a port that needs
 * privileges, a host that is not this machine's or does not resolve. Other errors pass through.
 */
export function listenError(e: unknown, port: number, host: string): unknown {
  const code = (e as { code?: unknown })?.code;
  const where = `port ${port} on ${host}`;
  switch (code) {
    case 'EADDRINUSE':
      return new OmnivecError('invalid_argument', `${where} is in use (EADDRINUSE); pass --port N, or --port 0 for a free one`, { port, host, errno: code });
    case 'EACCES':
      return new OmnivecError('invalid_argument', `${where}: permission denied (EACCES); ports below 1024 need privileges: pass --port N with N above 1023, or --port 0 for a free one`, { port, host, errno: code });
    case 'EADDRNOTAVAIL':
      return new OmnivecError('invalid_argument', `--host ${host}: not an address of this machine (EADDRNOTAVAIL); pass --host 127.0.0.1, or an address of one of its interfaces`, { port, host, errno: code });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new OmnivecError('invalid_argument', `--host ${host}: the name does not resolve (${code}); pass --host 127.0.0.1, or an address of this machine`, { port, host, errno: code });
    default:
      return e;
  }
}

export async function createServer(options: ServerOptions): Promise<OmnivecServer> {
  if (options === null || typeof options !== 'object') throw invalidArgument('createServer: expected options { db, apiKey?, bodyLimit?, … }');
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  checkPositiveInt(bodyLimit, 'bodyLimit');
  const apiKey = options.apiKey;
  if (apiKey !== undefined && (typeof apiKey !== 'string' || apiKey.length === 0)) throw invalidArgument('apiKey: expected a non-empty string');
  const allowedHosts = new Set(checkAllowedHosts(options.allowedHosts));
  const { fastify: Fastify, ajvCompiler } = await loadFastify();
  const ownDb = typeof options.db === 'string';
  const db = typeof options.db === 'string' ? await openDatabase(options.db, { scanThreads: options.scanThreads ?? 1, backgroundIndexing: options.backgroundIndexing ?? true }) : options.db;
  let encoders: EncoderService;
  let projections: ProjectionService;
  try {
    encoders = options.encoderService ?? createEncoderService({ db, dbDir: db.filesDir, encoders: options.encoders, allowNetwork: options.allowNetwork, threads: options.threads });
    projections = options.projectionService ?? createProjectionService({ db, dbDir: db.filesDir });
  } catch (e) {
    if (ownDb) await db.close();
    throw e;
  }
  if (options.taskWorkers !== undefined) checkInt(options.taskWorkers, 'taskWorkers', { min: 0, max: 256 });
  const tasks = new TaskService({ db, ...(options.taskWorkers === 0 ? { inline: true, maxWorkers: 1 } : options.taskWorkers !== undefined ? { maxWorkers: options.taskWorkers } : {}) });
  // A reader thread for queries with a scan when asked for (not for a store a thread cannot reopen by its location: PostgreSQL).
  const ctx: ServerContext = { db, dbDir: db.dir, encoders, projections, tasks, version: packageVersion(), startedAt: Date.now() };

  const logger = options.logger ?? false;
  const app = Fastify({
    logger,
    bodyLimit,
    // Our own 503 (in the documented error shape) comes from the first onRequest hook.
    return503OnClosing: false,
    schemaController: { compilersFactory: { buildValidator: validatorFactory(ajvCompiler) } },
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // A URL that does not decode (`%E0%A4%A`), or a path parameter over MAX_PARAM_LENGTH, fails
    // before routing, outside the error handler.
    frameworkErrors: (error, request, reply) => { void sendError(reply, 'invalid_argument', routerErrorMessage(error, request.url)); },
    // Bytes that are not HTTP (a malformed header line, …): answered in the documented shape too.
    clientErrorHandler: (error, socket) => {
      if (!socket.writable) return;
      const body = JSON.stringify({ error: { code: 'invalid_argument', message: `request: expected an HTTP/1.1 request, got bytes that do not parse (${(error as { code?: string }).code ?? error.message})`, type: 'invalid_request_error', param: null } });
      socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    },
  });
  const log = (err: unknown, request: FastifyRequest): void => {
    if (logger !== false) request.log.error({ err }, `${request.method} ${request.url}`);
    else process.stderr.write(`omnivec serve: ${request.method} ${request.url}: ${(err as Error)?.stack ?? String(err)}\n`);
  };

  const routes = collectRoutes(app);
  // Only JSON bodies (fastify also parses text/plain by default): anything else is 415.
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler(errorHandler({ bodyLimit, log }));

  // Shutdown: requests arriving after close() began get 503; those in flight are waited for.
  let closing = false;
  const inflight = new Set<FastifyRequest>();
  let drained: (() => void) | undefined;
  const done = (request: FastifyRequest): void => {
    if (inflight.delete(request) && inflight.size === 0) drained?.();
  };
  app.addHook('onRequest', async (request, reply) => {
    if (closing) {
      reply.header('connection', 'close');
      return sendError(reply, 'shutting_down', 'the server is shutting down; retry against another instance or after it restarts');
    }
    inflight.add(request);
    // A response whose client left before it was written ends here (onResponse does not run then).
    reply.raw.once('close', () => done(request));
  });
  app.addHook('onResponse', async (request) => {
    done(request);
    // During shutdown a keep-alive connection that has nothing more to answer is closed, so the
    // server can stop; one with a request queued behind (pipelined) answers it (503) first.
    if (closing) setImmediate(() => app.server.closeIdleConnections());
  });
  app.addHook('onRequestAbort', async (request) => done(request));

  if (apiKey !== undefined) {
    app.addHook('onRequest', async (request, reply) => {
      if (isPublicRoute(request.method, request.routeOptions.url)) return;
      // Chroma's routes: its clients' headers (bearer or x-chroma-token) and error shape (docs/chroma.md).
      if (isChromaRoute(request.url.split('?')[0])) return checkChromaKey(request, reply, apiKey);
      const h = request.headers.authorization;
      const m = typeof h === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
      if (m === null) {
        reply.header('www-authenticate', 'Bearer');
        return sendError(reply, 'unauthorized', `authorization: expected the header "Authorization: Bearer <key>" (the server has an API key), got ${h === undefined ? 'none' : 'another scheme'}`);
      }
      if (!sameKey(m[1]!, apiKey)) {
        reply.header('www-authenticate', 'Bearer');
        return sendError(reply, 'unauthorized', 'authorization: the bearer key is not the server\'s key');
      }
    });
  }

  if (apiKey === undefined) {
    // DNS rebinding (docs/hardening.md §5): without a key, only this machine's names are answered.
    app.addHook('onRequest', async (request, reply) => {
      const host = request.headers.host;
      if (hostAnswered(host, allowedHosts)) return;
      return sendError(reply, 'forbidden', forbiddenHostMessage(host!));
    });
  }

  // One name rule at every route with `:name` (docs/hardening.md §4), before the body is read.
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.url?.includes('/:name') === true) checkCollectionName((request.params as { name?: unknown }).name);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const allowed: string[] = [];
    for (const m of METHODS) {
      if (m === request.method) continue;
      try {
        if (app.findRoute({ method: m, url: path }) !== null) allowed.push(m);
      } catch { /* an undecodable path matches nothing */ }
    }
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '));
      return sendError(reply, 'method_not_allowed', `${path}: expected method ${allowed.join(' or ')}, got ${request.method}`);
    }
    return sendError(reply, 'not_found', `no route ${request.method} ${path}; /openapi.json lists the routes`);
  });

  app.get('/healthz', { schema: { summary: 'liveness: status, version, number of collections, uptime', tags: ['meta'] } }, async () => ({
    status: 'ok',
    version: ctx.version,
    collections: (await db.listCollections()).length,
    uptimeSeconds: Math.round((Date.now() - ctx.startedAt) / 1000),
  }));
  registerOpenApiRoute(app, routes, { version: ctx.version, secured: apiKey !== undefined, isPublic: isPublicRoute });
  registerCollectionRoutes(app, ctx);
  registerFieldIndexRoutes(app, ctx);
  registerOpenAIRoutes(app, ctx);
  registerProjectionRoutes(app, ctx);
  registerExplorerRoutes(app, ctx);
  registerClusterRoutes(app, ctx);
  registerClassifyRoutes(app, ctx);
  registerRecommendRoutes(app, ctx);
  registerTaskRoutes(app, ctx);
  registerChromaRoutes(app, ctx, { bodyLimit, log });

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => (closed ??= (async () => {
    closing = true;
    const errors: unknown[] = [];
    const step = async (f: () => Promise<void>): Promise<void> => { try { await f(); } catch (e) { errors.push(e); } };
    // Stops accepting connections; resolves once every connection has ended (in-flight answers sent).
    const appClosed = step(() => app.close());
    if (inflight.size > 0) await new Promise<void>((resolve) => { drained = resolve; });
    // Nothing is in flight now: a connection still open is idle or half-closed by a client that
    // left before its answer (the HTTP server keeps those until a response is written).
    app.server.closeAllConnections();
    await appClosed;
    await step(() => encoders.close());
    await step(() => projections.close());
    await step(() => tasks.close());
    if (ownDb) await step(() => db.close());
    if (errors.length > 0) throw errors[0] instanceof OmnivecError ? errors[0] : new OmnivecError('internal', `close: ${(errors[0] as Error)?.message ?? String(errors[0])}`);
  })());

  const listen = async (port = 8080, host = '127.0.0.1'): Promise<string> => {
    checkInt(port, 'port', { min: 0, max: 65535 });
    try {
      const url = await app.listen({ port, host });
      // The name it listens on is answered by the Host check too (an address already is).
      const own = hostOfHeader(host);
      if (own !== undefined) allowedHosts.add(own);
      return url;
    } catch (e) {
      throw listenError(e, port, host);
    }
  };

  return { app, ctx, listen, close };
}
