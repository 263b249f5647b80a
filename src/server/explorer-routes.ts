/** The explorer page's static files at `/` and `/explorer/*` (docs/server.md). Placeholder until the page lands. */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from './context.js';

export function registerExplorerRoutes(app: FastifyInstance, ctx: ServerContext): void {
  void app; void ctx;
}
