/**
 * The explorer page's static files (docs/server.md, "The explorer"): `explorer/index.html` at `/`,
 * the rest of `explorer/` at `/explorer/*`. The folder sits at the package root, two levels above
 * this file both as `src/server/explorer-routes.ts` (tsx) and as `dist/server/explorer-routes.js`.
 *
 * Files are read per request (a few small files; edits show without a restart) and revalidated
 * by the browser each time (`no-cache` + ETag, so a reload costs 304s): the names carry no content
 * hash, so a long max-age would serve an old page after an upgrade.
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OmnivecError } from '../errors.js';
import type { ServerContext } from './context.js';

/** The `explorer/` folder of the package. */
export const EXPLORER_DIR = fileURLToPath(new URL('../../explorer/', import.meta.url));

/** Only these kinds are served; anything else under the folder is a 404. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** A relative path inside the folder: plain segments of safe characters, no `.`/`..`, no hidden files. */
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

function notFound(path: string): OmnivecError {
  return new OmnivecError('not_found', `explorer: no file ${JSON.stringify(path)}`);
}

/**
 * The file for a relative path under `root`, or undefined when the path is not a plain path inside
 * it (traversal, absolute, encoded separators, hidden files) or has a kind that is not served.
 */
export function resolveExplorerFile(root: string, relative: string): string | undefined {
  if (relative.length === 0 || relative.length > 200) return undefined;
  const segments = relative.split('/');
  if (!segments.every((s) => SEGMENT.test(s))) return undefined;
  if (!(extname(relative) in CONTENT_TYPES)) return undefined;
  const base = resolve(root);
  const file = resolve(base, ...segments);
  // The segment check already rules out escaping; this says it again in terms of the result.
  return file.startsWith(base + sep) ? file : undefined;
}

async function sendFile(request: FastifyRequest, reply: FastifyReply, file: string, shown: string): Promise<FastifyReply> {
  let info;
  try {
    info = await stat(file);
  } catch {
    throw notFound(shown);
  }
  if (!info.isFile()) throw notFound(shown);
  const etag = `"${info.size.toString(36)}-${Math.floor(info.mtimeMs).toString(36)}"`;
  reply
    .header('content-type', CONTENT_TYPES[extname(file)]!)
    .header('cache-control', 'no-cache')
    .header('etag', etag)
    .header('last-modified', info.mtime.toUTCString())
    .header('x-content-type-options', 'nosniff');
  if (request.headers['if-none-match'] === etag) return reply.code(304).send();
  return reply.send(await readFile(file));
}

export function registerExplorerRoutes(app: FastifyInstance, ctx: ServerContext): void {
  void ctx;
  const root = EXPLORER_DIR;
  const page = { schema: { summary: 'the explorer page (HTML)', tags: ['explorer'] } };
  const hidden = { schema: { hide: true } };
  app.get('/', page, (request, reply) => sendFile(request, reply, join(root, 'index.html'), 'index.html'));
  // The page lives at `/` only: its relative links (`explorer/app.js`, `api/…`) resolve from there.
  // The redirects are relative too, so a reverse proxy may mount the server under a prefix.
  app.get('/explorer', hidden, (_request, reply) => reply.redirect('./', 302));
  app.get('/explorer/', hidden, (_request, reply) => reply.redirect('../', 302));
  app.get('/explorer/*', { schema: { summary: "the explorer page's scripts and styles", tags: ['explorer'] } }, (request, reply) => {
    const relative = (request.params as { '*': string })['*'];
    if (relative === 'index.html') return reply.redirect('../', 302);
    const file = resolveExplorerFile(root, relative);
    if (file === undefined) throw notFound(relative);
    return sendFile(request, reply, file, relative);
  });
}
