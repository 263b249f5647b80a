/** Task routes (docs/tasks.md). Placeholder: the routes land with the tasks. */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from './context.js';

export function registerClusterRoutes(app: FastifyInstance, ctx: ServerContext): void {
  void app; void ctx;
}
