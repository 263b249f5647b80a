/**
 * `omnivec/server`: the HTTP server `omnivec serve` runs (docs/server.md). fastify loads when
 * `createServer` builds an app (src/server/fastify.ts), not with this entry.
 */
export { OmnivecError, type ErrorCode } from '../errors.js';
export { createServer, DEFAULT_BODY_LIMIT, type ServerOptions, type OmnivecServer } from './app.js';
export { createEncoderService, type EncoderServiceOptions } from './encoders.js';
export type { EncoderService, ProjectionService, ProjectionRequest, ProjectionResult, ProjectionState, ServerContext } from './context.js';
