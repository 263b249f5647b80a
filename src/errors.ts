/**
 * The one error type omnivec throws on purpose. `code` is stable (callers, the server and the CLI
 * switch on it); `message` names the property, what was expected and what came.
 */
export type ErrorCode =
  | 'invalid_argument'
  | 'dimension_mismatch'
  | 'not_found'
  | 'already_exists'
  | 'not_trained'
  | 'empty_index'
  | 'corrupt_file'
  | 'unsupported_version'
  | 'capacity_exceeded'
  | 'encoder_error'
  | 'locked'
  | 'read_only'
  // A database server that cannot be reached, or went away (docs/postgres.md).
  | 'unavailable'
  // A long command stopped by the user (SIGINT): the CLI exits 130 (docs/hardening.md).
  | 'interrupted'
  // The server's own (docs/server.md):
  | 'invalid_json'
  | 'unauthorized'
  // A request whose Host header the server does not answer (docs/hardening.md, DNS rebinding).
  | 'forbidden'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'shutting_down'
  | 'internal';

export class OmnivecError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'OmnivecError';
    this.code = code;
    this.details = details;
  }
}

/** Short description of a value for error messages: its type and, when small, its value. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : `the number ${value}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of length ${(value as unknown as ArrayLike<number>).length}`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return `a value of type ${typeof value}`;
}

export function invalidArgument(message: string, details?: Record<string, unknown>): OmnivecError {
  return new OmnivecError('invalid_argument', message, details);
}
