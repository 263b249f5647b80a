/** `POST /v1/embeddings`, `GET /v1/models` (docs/server.md). Placeholder: the routes land with the encoder service. */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from './context.js';

export function registerOpenAIRoutes(app: FastifyInstance, ctx: ServerContext): void {
  void app; void ctx;
}
