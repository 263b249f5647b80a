/**
 * The argument checks every layer shares (library, CLI, server), written once. Each takes the
 * value first, then `what` (the property or flag as the caller knows it, e.g. `k`, `query.k`,
 * `--ef-search`), then an options object; each returns the checked value or throws
 * `invalid_argument` whose message names `what`, says what was expected and what came
 * (docs/architecture.md, "Errors"). Imports nothing but errors.ts, so any layer may use it.
 *
 * Wording, fixed here so every layer says it the same way:
 * - `checkInt(v, w, { min, max })` → "an integer from min to max"; `{ min }` only → "an integer ≥ min";
 * - `checkPositiveInt` → "a positive integer"; `checkNonNegativeInt` / `checkOffset` → "a non-negative integer";
 * - `checkNumber` (finite) → "a finite number", "a number ≥ min", "a number above min", "a number from min to max";
 * - command-line text (`intArg`, `numberArg`) quotes the text as typed: `--k: expected an integer from 1 to 100000, got "0"`.
 */
import { OmnivecError, describe } from './errors.js';

/**
 * The most neighbours one search returns (`k`), everywhere: the library (collections and
 * indexes), the CLI (`query -k`, its help) and HTTP (the JSON schemas' `maximum`, docs/server.md).
 *
 * Why 100,000 and not 10,000 (the two limits this replaced: HTTP had 10,000, the library and CLI
 * 100,000): the larger one refuses nothing any layer accepted before, and it is what exact
 * evaluation needs (recall@k against the flat index's top 100,000 is a documented use; the
 * sparse index's tests ask for k = 100,000 to get every match). The cost is bounded: one result
 * of 100,000 hits is 800 KB of typed arrays (4-byte id + 4-byte distance), a few MB as JSON with
 * ids and distances only; HNSW raises efSearch to k, so a large k is an exhaustive-ish search the
 * caller asked for. Pages of records (`get`'s `limit`) have the same bound.
 */
export const MAX_K = 100_000;

/** Bounds of an integer check; `fallback` is returned for `undefined` (an optional argument). */
export interface IntOptions {
  min?: number;
  max?: number;
  fallback?: number;
  /** Words after the expectation, e.g. `values above nList = 64 scan every list`. */
  note?: string;
}

/** Bounds of a number check: `minExclusive` makes `min` itself refused ("above"). */
export interface NumberOptions {
  min?: number;
  max?: number;
  minExclusive?: boolean;
  fallback?: number;
}

function fail(what: string, expected: string, got: string, note: string | undefined): never {
  throw new OmnivecError('invalid_argument', `${what}: expected ${expected}${note === undefined ? '' : ` (${note})`}, got ${got}`);
}

function intWords(o: IntOptions): string {
  if (o.min !== undefined && o.max !== undefined) return `an integer from ${o.min} to ${o.max}`;
  if (o.min !== undefined) return `an integer ≥ ${o.min}`;
  if (o.max !== undefined) return `an integer ≤ ${o.max}`;
  return 'an integer';
}

function isIntIn(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

/** An integer within `min` … `max` (default: the safe integers), or `fallback` when undefined and given. */
export function checkInt(value: unknown, what: string, options: IntOptions = {}): number {
  if (value === undefined && options.fallback !== undefined) return options.fallback;
  if (!isIntIn(value, options.min ?? Number.MIN_SAFE_INTEGER, options.max ?? Number.MAX_SAFE_INTEGER)) {
    fail(what, intWords(options), describe(value), options.note);
  }
  return value;
}

/** An integer ≥ 1 (a count, a size), said as "a positive integer". */
export function checkPositiveInt(value: unknown, what: string, options: Pick<IntOptions, 'fallback'> = {}): number {
  if (value === undefined && options.fallback !== undefined) return options.fallback;
  if (!isIntIn(value, 1, Number.MAX_SAFE_INTEGER)) fail(what, 'a positive integer', describe(value), undefined);
  return value;
}

/** An integer ≥ 0 (a limit, a retry count), said as "a non-negative integer". */
export function checkNonNegativeInt(value: unknown, what: string, options: Pick<IntOptions, 'fallback'> = {}): number {
  if (value === undefined && options.fallback !== undefined) return options.fallback;
  if (!isIntIn(value, 0, Number.MAX_SAFE_INTEGER)) fail(what, 'a non-negative integer', describe(value), undefined);
  return value;
}

/** A position to start reading from (`get`'s `offset`): a non-negative integer. */
export function checkOffset(value: unknown, what = 'offset'): number {
  return checkNonNegativeInt(value, what);
}

/** How many neighbours to return: an integer from 1 to MAX_K. */
export function checkK(value: unknown, what = 'k'): number {
  return checkInt(value, what, { min: 1, max: MAX_K });
}

function numberWords(o: NumberOptions): string {
  const lo = o.min === undefined ? undefined : o.minExclusive === true ? `above ${o.min}` : o.max === undefined ? `≥ ${o.min}` : `from ${o.min}`;
  if (lo !== undefined && o.max !== undefined) return `a number ${lo} to ${o.max}`;
  if (lo !== undefined) return `a number ${lo}`;
  if (o.max !== undefined) return `a number ≤ ${o.max}`;
  return 'a finite number';
}

/** A finite number within the bounds, or `fallback` when undefined and given. */
export function checkNumber(value: unknown, what: string, options: NumberOptions = {}): number {
  if (value === undefined && options.fallback !== undefined) return options.fallback;
  const { min = -Infinity, max = Infinity } = options;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (options.minExclusive === true && value === min)) {
    fail(what, numberWords(options), describe(value), undefined);
  }
  return value;
}

/**
 * True for a plain object — made by `{…}`, `JSON.parse` or `Object.create(null)` — and false for
 * null, arrays, typed arrays, Maps, Dates and class instances: what a JSON object, an options bag
 * or a spec is.
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

// Command-line text: the flag's text as typed, parsed strictly (no "12abc", no "1e3" for an integer),
// undefined when the flag was not given. The message quotes the text.

/** An integer flag (`--k 10`); `min` defaults to 1 (most flags are counts). */
export function intArg(text: string | undefined, what: string, options: Omit<IntOptions, 'fallback'> = {}): number | undefined {
  if (text === undefined) return undefined;
  const { min = 1, max } = options;
  const n = Number(text);
  if (!/^\s*-?\d+\s*$/.test(text) || !isIntIn(n, min, max ?? Number.MAX_SAFE_INTEGER)) {
    fail(what, max === undefined ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`, JSON.stringify(text), options.note);
  }
  return n;
}

/** A number flag (`--alpha 0.025`): any finite number within the bounds. */
export function numberArg(text: string | undefined, what: string, options: Omit<NumberOptions, 'fallback'> = {}): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  const { min = -Infinity, max = Infinity } = options;
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max || (options.minExclusive === true && n === min)) {
    fail(what, options.min === undefined && options.max === undefined ? 'a number' : numberWords(options), JSON.stringify(text), undefined);
  }
  return n;
}
