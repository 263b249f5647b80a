/**
 * The API key on the Chroma routes (docs/chroma.md, "Authentication"): Chroma's clients send it
 * as `Authorization: Bearer <key>` or as `x-chroma-token: <key>`; either is accepted, compared in
 * constant time, and a refusal is a 401 in Chroma's error shape.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendChromaError } from './errors.js';

/** The routes of the Chroma face (by their registered URL). */
export function isChromaRoute(url: string | undefined): boolean {
  return url !== undefined && (url === '/api/v2' || url.startsWith('/api/v2/'));
}

function sameKey(given: string, key: string): boolean {
  return timingSafeEqual(createHash('sha256').update(given).digest(), createHash('sha256').update(key).digest());
}

/** The key a Chroma client sent, if any: the bearer token, else the `x-chroma-token` header. */
export function chromaKey(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
  if (m !== null) return m[1]!;
  const t = request.headers['x-chroma-token'];
  return typeof t === 'string' && t.length > 0 ? t.trim() : undefined;
}

/** The onRequest check of a Chroma route on a server with a key: answers 401 itself, or lets the request through. */
export async function checkChromaKey(request: FastifyRequest, reply: FastifyReply, apiKey: string): Promise<FastifyReply | undefined> {
  const given = chromaKey(request);
  if (given === undefined) {
    reply.header('www-authenticate', 'Bearer');
    return sendChromaError(reply, 401, 'authorization: expected "Authorization: Bearer <key>" or "x-chroma-token: <key>" (the server has an API key), got neither');
  }
  if (!sameKey(given, apiKey)) {
    reply.header('www-authenticate', 'Bearer');
    return sendChromaError(reply, 401, 'authorization: the key sent is not the server\'s key');
  }
  return undefined;
}
