/** `GET /api/collections/:name/projection` (docs/server.md). Placeholder until the projection service lands. */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from './context.js';

export function registerProjectionRoutes(app: FastifyInstance, ctx: ServerContext): void {
  void app; void ctx;
}
