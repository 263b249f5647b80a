/**
 * Errors over HTTP (docs/server.md, "Conventions"): one table from the error code to the status,
 * one body shape `{ error: { code, message, type, param: null } }` (`type` and `param` so OpenAI's
 * clients read it), and the fastify error handler that maps fastify's own errors (body parsing,
 * size, media type, schema validation) onto the same codes.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { OmnivecError, describe, type ErrorCode } from '../errors.js';

export const STATUS: Readonly<Record<ErrorCode, number>> = {
  invalid_json: 400,
  invalid_argument: 400,
  dimension_mismatch: 400,
  unauthorized: 401,
  read_only: 403,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  already_exists: 409,
  not_trained: 409,
  empty_index: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  encoder_error: 422,
  capacity_exceeded: 507,
  locked: 503,
  unavailable: 503,
  shutting_down: 503,
  // Never sent by the server (a CLI user's Ctrl-C); 503 if a long task ever reports it.
  interrupted: 503,
  corrupt_file: 500,
  unsupported_version: 500,
  internal: 500,
};

export interface ErrorBody {
  error: { code: ErrorCode; message: string; type: string; param: null };
}

export function errorBody(code: ErrorCode, message: string): ErrorBody {
  const status = STATUS[code];
  const type = status === 401 ? 'authentication_error' : status < 500 ? 'invalid_request_error' : 'server_error';
  return { error: { code, message, type, param: null } };
}

/** Sends an error answer (hooks use this; handlers throw OmnivecError). */
export function sendError(reply: FastifyReply, code: ErrorCode, message: string): FastifyReply {
  return reply.code(STATUS[code]).type('application/json').send(errorBody(code, message));
}

// ---------------------------------------------------------------------------------------------
// Schema validation messages: the field, what was expected, what came.

/** The parts of an ajv error object the messages use (ajv runs with `verbose: true`). */
interface AjvError {
  keyword: string;
  instancePath: string;
  schemaPath: string;
  params: Record<string, unknown>;
  message?: string;
  data?: unknown;
  parentSchema?: Schema;
}

type Schema = Record<string, unknown>;

/** `/vectors/0/1` → `vectors[0][1]`; `/where/a b` → `where["a b"]`. */
export function fieldPath(pointer: string, prefix = ''): string {
  let out = prefix;
  if (pointer === '') return out;
  for (const raw of pointer.slice(1).split('/')) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(part)) out += `[${part}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(part)) out += out === '' ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

function join(path: string, key: string): string {
  return fieldPath(`/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, path);
}

const NOUNS: Record<string, string> = { number: 'numbers', integer: 'integers', string: 'strings', object: 'objects', array: 'arrays', boolean: 'booleans' };

/** What a schema accepts, in words ("an integer from 1 to 10000", "an array of numbers or a base64 string"). */
export function expectation(s: Schema | undefined): string {
  if (s === undefined || s === null || typeof s !== 'object') return 'a valid value';
  if (Array.isArray(s.enum)) return `one of ${(s.enum as unknown[]).map((x) => JSON.stringify(x)).join(', ')}`;
  if (s.const !== undefined) return JSON.stringify(s.const);
  const alts = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (Array.isArray(alts)) return alts.map(expectation).join(' or ');
  const types = Array.isArray(s.type) ? s.type as string[] : typeof s.type === 'string' ? [s.type] : [];
  if (types.length === 0) return 'a valid value';
  return types.map((t) => one(t, s)).join(' or ');
}

function one(type: string, s: Schema): string {
  const min = s.minimum as number | undefined;
  const max = s.maximum as number | undefined;
  switch (type) {
    case 'integer':
    case 'number': {
      const noun = type === 'integer' ? 'an integer' : 'a number';
      if (min !== undefined && max !== undefined) return `${noun} from ${min} to ${max}`;
      if (min !== undefined) return `${noun} ≥ ${min}`;
      if (max !== undefined) return `${noun} ≤ ${max}`;
      if (s.exclusiveMinimum !== undefined) return `${noun} > ${String(s.exclusiveMinimum)}`;
      return noun;
    }
    case 'string': {
      if (s.contentEncoding === 'base64') return 'a base64 string';
      if (typeof s.pattern === 'string') return `a string matching /${s.pattern}/`;
      if (s.minLength === 1) return 'a non-empty string';
      return 'a string';
    }
    case 'array': {
      const items = s.items as Schema | undefined;
      const lo = s.minItems as number | undefined;
      const hi = s.maxItems as number | undefined;
      const count = lo !== undefined && hi !== undefined ? `${lo} to ${hi} ` : hi !== undefined ? `at most ${hi} ` : lo !== undefined && lo > 0 ? `at least ${lo} ` : '';
      if (items === undefined) return `an array${count === '' ? '' : ` of ${count}values`}`;
      const t = typeof items.type === 'string' && items.anyOf === undefined && items.enum === undefined ? NOUNS[items.type] : undefined;
      return `an array of ${count}${t ?? `(${expectation(items)})`}`;
    }
    case 'object': return 'an object';
    case 'boolean': return 'true or false';
    case 'null': return 'null';
    default: return type;
  }
}

/**
 * The message of a schema validation error. For a failed `anyOf` (a vector as an array or a
 * base64 string) the deepest error of the branches is the useful one: `vectors[0][2]: expected
 * a number, got the string "a"` rather than "vectors[0]: expected … or …".
 */
export function validationMessage(errors: readonly AjvError[], context: string): string {
  let e = errors[errors.length - 1];
  if (e === undefined) return `${context}: invalid`;
  if ((e.keyword === 'anyOf' || e.keyword === 'oneOf') && errors.length > 1) {
    const inner = errors.filter((x) => x !== e && x.schemaPath.startsWith(e!.schemaPath.replace(/\/(anyOf|oneOf)$/, '')) && x.instancePath.length > e!.instancePath.length);
    inner.sort((a, b) => b.instancePath.length - a.instancePath.length);
    if (inner[0] !== undefined) e = inner[0];
  }
  const at = fieldPath(e.instancePath);
  const where = (p: string): string => (p === '' ? context : context === 'body' ? p : `${context}.${p}`);
  if (e.keyword === 'required') {
    return `${where(join(at, String(e.params.missingProperty)))}: required, got nothing`;
  }
  if (e.keyword === 'additionalProperties') {
    const known = Object.keys((e.parentSchema?.properties ?? {}) as Schema);
    return `${where(join(at, String(e.params.additionalProperty)))}: unknown field; expected ${known.length === 0 ? 'no fields' : `one of ${known.join(', ')}`}`;
  }
  if (e.keyword === 'minProperties' && e.instancePath === '' && context === 'body') return 'body: expected a non-empty object, got {}';
  if (e.instancePath === '' && e.keyword === 'type' && (e.data === undefined || e.data === null) && context === 'body') return `body: expected ${expectation(e.parentSchema)}, got ${e.data === null ? 'null or no body' : 'no body'}`;
  return `${where(at)}: expected ${expectation(e.parentSchema)}, got ${describe(e.data)}`;
}

// ---------------------------------------------------------------------------------------------
// The error handler

export interface ErrorContext {
  bodyLimit: number;
  /** The request's content-type header, for the 415 message. */
  contentType?: string;
}

/** Maps any error a route or fastify throws to the code and message the client gets. */
export function toError(err: unknown, c: ErrorContext): { code: ErrorCode; message: string } {
  if (err instanceof OmnivecError) return { code: err.code, message: err.message };
  const fe = err as Partial<FastifyError> & { validation?: AjvError[]; validationContext?: string };
  if (Array.isArray(fe.validation)) {
    return { code: 'invalid_argument', message: validationMessage(fe.validation, fe.validationContext ?? 'body') };
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { code: 'invalid_json', message: 'body: expected JSON (content-type application/json), got text that does not parse as JSON' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { code: 'invalid_json', message: 'body: expected JSON (content-type application/json), got an empty body' };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { code: 'payload_too_large', message: `body: expected at most ${c.bodyLimit} bytes (the server's --body-limit), got more` };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { code: 'unsupported_media_type', message: `content-type: expected application/json, got ${c.contentType === undefined ? 'none' : JSON.stringify(c.contentType)}` };
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { code: 'invalid_argument', message: 'content-length: expected the length of the body, got another number' };
    default:
  }
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (status === 404) return { code: 'not_found', message: fe.message ?? 'not found' };
  if (status === 413) return { code: 'payload_too_large', message: fe.message ?? 'body too large' };
  if (status === 415) return { code: 'unsupported_media_type', message: fe.message ?? 'unsupported media type' };
  if (status >= 400 && status < 500) return { code: 'invalid_argument', message: fe.message ?? 'bad request' };
  return { code: 'internal', message: 'internal error (the server log has the details)' };
}

export interface ErrorHandlerOptions {
  bodyLimit: number;
  /** Where 5xx errors go with their stack (the client only gets the code and a short message). */
  log: (err: unknown, request: FastifyRequest) => void;
}

export function errorHandler(o: ErrorHandlerOptions) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const { code, message } = toError(err, { bodyLimit: o.bodyLimit, contentType: request.headers['content-type'] });
    if (STATUS[code] >= 500) o.log(err, request);
    if (code === 'unauthorized') reply.header('www-authenticate', 'Bearer');
    return sendError(reply, code, message);
  };
}
