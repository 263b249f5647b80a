/**
 * Errors on the Chroma routes (docs/chroma.md, "Errors"): Chroma's body `{ error, message }` and
 * its status codes, so Chroma's clients raise their own classes (`ChromaNotFoundError` for 404,
 * `ChromaUniqueError` for 409, …: the JS client switches on the status alone). The type names are
 * those Chroma's server derives from its error codes: `InvalidArgumentError`, `NotFoundError`,
 * `InternalError`, and `ChromaError` for every other code. Messages stay omnivec's.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS, toError } from '../errors.js';

export interface ChromaErrorBody {
  error: string;
  message: string;
}

/** Chroma's type name for a status (its `ErrorCodes::name()` through the status it maps to). */
export function chromaErrorType(status: number): string {
  if (status === 400) return 'InvalidArgumentError';
  if (status === 404) return 'NotFoundError';
  if (status === 500) return 'InternalError';
  return 'ChromaError';
}

export function sendChromaError(reply: FastifyReply, status: number, message: string): FastifyReply {
  const body: ChromaErrorBody = { error: chromaErrorType(status), message };
  return reply.code(status).type('application/json').send(body);
}

/**
 * The status and message of any error a Chroma route throws. A body that parses as JSON but does
 * not fit the route's schema is Chroma's 422 (its JSON extractor's rejection); omnivec's own
 * codes keep their statuses (400 bad value, 404, 409, 413, …).
 */
export function toChromaError(err: unknown, bodyLimit: number, contentType: string | undefined): { status: number; message: string } {
  if (Array.isArray((err as { validation?: unknown })?.validation)) {
    return { status: 422, message: toError(err, { bodyLimit, contentType }).message };
  }
  const { code, message } = toError(err, { bodyLimit, contentType });
  return { status: STATUS[code], message };
}

export interface ChromaErrorHandlerOptions {
  bodyLimit: number;
  log: (err: unknown, request: FastifyRequest) => void;
}

export function chromaErrorHandler(o: ChromaErrorHandlerOptions) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const { status, message } = toChromaError(err, o.bodyLimit, request.headers['content-type']);
    if (status >= 500) o.log(err, request);
    return sendChromaError(reply, status, message);
  };
}
