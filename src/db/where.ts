import { describe, invalidArgument } from '../errors.js';
import { isPlainObject } from '../checks.js';

/**
 * The metadata filter language (`where`) and the document filter (`whereDocument`): validation and
 * an evaluator in JS — the oracle every record store's compilation is tested against (the embedded
 * store's SQL is in store/sqlite/where-sql.ts).
 * `docs/filters.md` is the user-facing description; the rules in short:
 *
 * - a field's condition holds when ANY element of an array value satisfies it ($eq, $in, $gt, …);
 *   $ne, $nin and $not are the exact negations of $eq, $in and their operand (so they match
 *   records missing the field), as in MongoDB;
 * - values compare only with values of their own type: numbers numerically (integers and reals
 *   alike), strings by code point, booleans and null by identity (true is not 1);
 * - `null` in $eq / $in matches a stored null and a missing field.
 *
 */

export type Scalar = string | number | boolean | null;
export type MetadataValue = Scalar | Scalar[];
export type Metadata = Record<string, MetadataValue>;
/** A metadata filter; `checkWhere` validates the shape (see docs/filters.md). */
export type Where = Record<string, unknown>;
/** A document filter; `checkWhereDocument` validates the shape (see docs/filters.md). */
export type WhereDocument = Record<string, unknown>;

/** The deepest nesting of $and / $or / $not a filter may have (SQLite limits expression depth). */
export const MAX_FILTER_DEPTH = 32;

/**
 * The most field conditions (a field's scalar or each of its operators) one filter may hold. Wide
 * filters compile to balanced trees (depth ~ log of the width), and each condition takes up to
 * five SQL parameters: 4 096 keeps the worst case well inside SQLite's 32 766 (docs/filters.md).
 * A long list of values belongs in one `$in`, which counts once whatever its length.
 */
export const MAX_FILTER_CONDITIONS = 4096;

const FIELD_OPERATORS = ['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$not'] as const;
export type FieldOperator = (typeof FIELD_OPERATORS)[number];
const FIELD_OPERATOR_SET: ReadonlySet<string> = new Set(FIELD_OPERATORS);
const FIELD_OPERATOR_LIST = FIELD_OPERATORS.join(', ');

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------


export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when the string is well-formed UTF-16 (SQLite stores UTF-8, which cannot hold a lone surrogate). */
export function isWellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

/** What came, for messages: describe() plus booleans and the keys of an object. */
export function got(value: unknown): string {
  if (typeof value === 'boolean') return `the boolean ${value}`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) return 'an empty object';
    const shown = keys.slice(0, 4).map((k) => JSON.stringify(k)).join(', ');
    return `an object with key${keys.length > 1 ? 's' : ''} ${shown}${keys.length > 4 ? ', …' : ''}`;
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && !ArrayBuffer.isView(value)) {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === 'string' && name !== '' ? `an instance of ${name}` : describe(value);
  }
  return describe(value);
}

/** `base.key` for identifier-like keys, `base["odd key"]` otherwise. */
function child(base: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

export function fail(path: string, message: string): never {
  throw invalidArgument(`${path}: ${message}`, { path });
}

function isScalar(value: unknown): value is Scalar {
  return value === null || typeof value === 'boolean' || typeof value === 'string' ||
    (typeof value === 'number' && Number.isFinite(value));
}

/** Checks a scalar (string, finite number, boolean, null); `expected` names the wider context. */
function checkScalar(value: unknown, path: string, expected: string): void {
  if (typeof value === 'string') {
    if (!isWellFormed(value)) fail(path, `expected ${expected}, got a string with a lone surrogate (not valid Unicode)`);
    return;
  }
  if (isScalar(value)) return;
  fail(path, `expected ${expected}, got ${got(value)}`);
}

/**
 * Keys become SQLite JSON paths: a NUL ends the path there (`"a\u0000b"` would read `a`), so a
 * key with NUL can be neither stored nor filtered on without aliasing another key.
 */
function checkKey(key: string, path: string, kind: string): void {
  if (key === '') fail(path, `${kind} names must be non-empty strings`);
  if (!isWellFormed(key)) fail(child(path, key), `${kind} name has a lone surrogate (not valid Unicode)`);
  if (key.includes('\u0000')) fail(child(path, key), `${kind} names may not contain NUL (U+0000)`);
}

/**
 * Validates metadata for storage: a plain object whose values are strings, finite numbers,
 * booleans, null, or arrays of those. Keys are non-empty and do not start with '$' (which marks
 * operators in filters). Returns the object itself, or null for undefined / null.
 */
export function checkMetadata(value: unknown, what = 'metadata'): Metadata | null {
  if (value === undefined || value === null) return null;
  if (!isPlainObject(value)) {
    fail(what, `expected a plain object of string, number, boolean or null values (or arrays of them), got ${got(value)}`);
  }
  for (const key of Object.keys(value)) {
    checkKey(key, what, 'metadata key');
    const path = child(what, key);
    if (key.startsWith('$')) fail(path, 'metadata keys may not start with "$" (it marks filter operators)');
    const v = value[key];
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const e: unknown = v[i];
        checkScalar(e, `${path}[${i}]`, 'a string, finite number, boolean or null (arrays hold scalars only)');
      }
    } else {
      checkScalar(v, path, 'a string, finite number, boolean, null or an array of those (no nested objects)');
    }
  }
  return value as Metadata;
}

/**
 * Validates a metadata filter. Throws OmnivecError('invalid_argument') naming the path of the
 * first malformed part (`where.$and[1].price.$gt: expected …, got …`).
 */
export function checkWhere(where: unknown, what = 'where'): asserts where is Where {
  const budget = { left: MAX_FILTER_CONDITIONS };
  checkWhereObject(where, what, true, 0, budget);
}

/** Counts one field condition against the filter's budget. */
function spend(budget: { left: number }, path: string): void {
  if (--budget.left < 0) {
    fail(path, `a filter may hold at most ${MAX_FILTER_CONDITIONS} field conditions; for a long list of values of one field use { field: { $in: [...] } }, which counts once`);
  }
}

function checkWhereObject(where: unknown, path: string, allowEmpty: boolean, depth: number, budget: { left: number }): void {
  if (depth > MAX_FILTER_DEPTH) fail(path, `filters may nest at most ${MAX_FILTER_DEPTH} levels of $and / $or / $not`);
  if (!isPlainObject(where)) {
    fail(path, `expected a filter object ({ field: value }, { field: { $op: value } }, $and, $or or $not), got ${got(where)}`);
  }
  const keys = Object.keys(where);
  if (keys.length === 0 && !allowEmpty) fail(path, 'expected a filter object with at least one condition, got an empty object');
  for (const key of keys) {
    const value = where[key];
    const p = child(path, key);
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(value) || value.length === 0) {
        fail(p, `expected a non-empty array of filter objects, got ${got(value)}`);
      }
      for (let i = 0; i < value.length; i++) checkWhereObject(value[i], `${p}[${i}]`, false, depth + 1, budget);
    } else if (key === '$not') {
      checkWhereObject(value, p, false, depth + 1, budget);
    } else if (key.startsWith('$')) {
      if (FIELD_OPERATOR_SET.has(key)) {
        fail(p, `${key} applies to a field: write { field: { ${key}: … } }; at this level expected $and, $or, $not or a field name`);
      }
      fail(p, `unknown operator ${key}; expected $and, $or, $not or a field name`);
    } else {
      checkKey(key, path, 'field');
      checkCondition(value, p, depth, budget);
    }
  }
}

/** A field's condition: a scalar (meaning $eq) or an operator object. */
function checkCondition(value: unknown, path: string, depth: number, budget: { left: number }): void {
  if (isScalar(value)) {
    spend(budget, path);
    checkScalar(value, path, 'a scalar');
    return;
  }
  if (Array.isArray(value)) {
    fail(path, `expected a scalar or an operator object, got ${got(value)} (to match any of several values use { $in: [...] })`);
  }
  checkOperatorObject(value, path, depth, budget);
}

function checkOperatorObject(value: unknown, path: string, depth: number, budget: { left: number }): void {
  if (depth > MAX_FILTER_DEPTH) fail(path, `filters may nest at most ${MAX_FILTER_DEPTH} levels of $and / $or / $not`);
  if (!isPlainObject(value)) {
    fail(path, `expected a string, finite number, boolean, null or an operator object (${FIELD_OPERATOR_LIST}), got ${got(value)}`);
  }
  const keys = Object.keys(value);
  if (keys.length === 0) fail(path, `expected an operator object with at least one of ${FIELD_OPERATOR_LIST}, got an empty object`);
  for (const op of keys) {
    const p = child(path, op);
    if (!FIELD_OPERATOR_SET.has(op)) {
      if (op === '$contains' || op === '$not_contains') {
        fail(p, `unknown operator ${op}; an array field matches when any element does: write { field: value } ` +
          `for "contains" and { field: { $ne: value } } for "does not contain" (${op} is for whereDocument)`);
      }
      if (op.startsWith('$')) fail(p, `unknown operator ${op}; expected one of ${FIELD_OPERATOR_LIST}`);
      fail(path, `expected an operator object (${FIELD_OPERATOR_LIST}), got ${got(value)}: nested objects cannot be stored or filtered on`);
    }
    const operand = value[op];
    if (op !== '$not') spend(budget, p);
    switch (op as FieldOperator) {
      case '$eq':
      case '$ne':
        if (Array.isArray(operand)) {
          fail(p, `expected a scalar, got ${got(operand)}: arrays cannot be compared whole; use $in to match any of several values`);
        }
        checkScalar(operand, p, 'a string, finite number, boolean or null');
        break;
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte':
        if (typeof operand !== 'string' && !(typeof operand === 'number' && Number.isFinite(operand))) {
          fail(p, `expected a finite number or a string, got ${got(operand)}`);
        }
        checkScalar(operand, p, 'a finite number or a string');
        break;
      case '$in':
      case '$nin':
        if (!Array.isArray(operand) || operand.length === 0) {
          fail(p, `expected a non-empty array of strings, finite numbers, booleans or nulls, got ${got(operand)}`);
        }
        for (let i = 0; i < operand.length; i++) {
          checkScalar(operand[i], `${p}[${i}]`, 'a string, finite number, boolean or null');
        }
        break;
      case '$exists':
        if (typeof operand !== 'boolean') fail(p, `expected true or false, got ${got(operand)}`);
        break;
      case '$not':
        if (Array.isArray(operand)) fail(p, `expected a scalar or an operator object, got ${got(operand)}`);
        if (isScalar(operand)) {
          spend(budget, p);
          checkScalar(operand, p, 'a scalar');
        } else {
          checkOperatorObject(operand, p, depth + 1, budget);
        }
        break;
    }
  }
}

/** Validates a document filter ($contains, $not_contains, $and, $or). */
export function checkWhereDocument(wd: unknown, what = 'whereDocument'): asserts wd is WhereDocument {
  checkWhereDocumentObject(wd, what, true, 0, { left: MAX_FILTER_CONDITIONS });
}

function checkWhereDocumentObject(wd: unknown, path: string, allowEmpty: boolean, depth: number, budget: { left: number }): void {
  if (depth > MAX_FILTER_DEPTH) fail(path, `filters may nest at most ${MAX_FILTER_DEPTH} levels of $and / $or`);
  if (!isPlainObject(wd)) {
    fail(path, `expected a document filter object ({ $contains: "text" }, { $not_contains: "text" }, $and or $or), got ${got(wd)}`);
  }
  const keys = Object.keys(wd);
  if (keys.length === 0 && !allowEmpty) fail(path, 'expected a document filter with at least one condition, got an empty object');
  for (const key of keys) {
    const value = wd[key];
    const p = child(path, key);
    if (key === '$contains' || key === '$not_contains') {
      spend(budget, p);
      if (typeof value !== 'string' || value === '') fail(p, `expected a non-empty string, got ${got(value)}`);
      checkScalar(value, p, 'a non-empty string');
    } else if (key === '$and' || key === '$or') {
      if (!Array.isArray(value) || value.length === 0) {
        fail(p, `expected a non-empty array of document filter objects, got ${got(value)}`);
      }
      for (let i = 0; i < value.length; i++) checkWhereDocumentObject(value[i], `${p}[${i}]`, false, depth + 1, budget);
    } else {
      fail(p, `unknown operator ${JSON.stringify(key)}; expected $contains, $not_contains, $and or $or`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation in JS
// ---------------------------------------------------------------------------------------------

/** Compares strings by code point (SQLite's BINARY order on UTF-8), not by UTF-16 code unit. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (D800–DFFF) encode code points above FFFF: move them above E000–FFFF.
    if (x >= 0xd800) x += x <= 0xdfff ? 0x2000 : -0x800;
    if (y >= 0xd800) y += y <= 0xdfff ? 0x2000 : -0x800;
    return x - y;
  }
  return a.length - b.length;
}

/** True when some element of `stored` (or `stored` itself, for a scalar) satisfies `test`. */
function any(stored: MetadataValue | undefined, test: (e: Scalar) => boolean): boolean {
  if (stored === undefined) return false;
  if (Array.isArray(stored)) {
    for (const e of stored) if (test(e)) return true;
    return false;
  }
  return test(stored);
}

function equals(stored: MetadataValue | undefined, value: Scalar): boolean {
  if (value === null && stored === undefined) return true;
  return any(stored, (e) => e === value);
}

function compares(stored: MetadataValue | undefined, op: FieldOperator, value: number | string): boolean {
  return any(stored, (e) => {
    let c: number;
    if (typeof value === 'number') {
      if (typeof e !== 'number') return false;
      c = e < value ? -1 : e > value ? 1 : 0;
    } else {
      if (typeof e !== 'string') return false;
      c = compareCodePoints(e, value);
    }
    switch (op) {
      case '$gt': return c > 0;
      case '$gte': return c >= 0;
      case '$lt': return c < 0;
      default: return c <= 0;
    }
  });
}

function matchesCondition(stored: MetadataValue | undefined, condition: unknown): boolean {
  if (condition === null || typeof condition !== 'object') return equals(stored, condition as Scalar);
  const ops = condition as Record<string, unknown>;
  for (const op of Object.keys(ops)) {
    const operand = ops[op];
    let ok: boolean;
    switch (op as FieldOperator) {
      case '$eq': ok = equals(stored, operand as Scalar); break;
      case '$ne': ok = !equals(stored, operand as Scalar); break;
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte': ok = compares(stored, op as FieldOperator, operand as number | string); break;
      case '$in': ok = (operand as Scalar[]).some((v) => equals(stored, v)); break;
      case '$nin': ok = !(operand as Scalar[]).some((v) => equals(stored, v)); break;
      case '$exists': ok = (stored !== undefined) === operand; break;
      case '$not': ok = !matchesCondition(stored, operand); break;
      default: ok = false;
    }
    if (!ok) return false;
  }
  return true;
}

/** Evaluates a validated `where` on one record's metadata (null = no keys). */
export function matchesWhere(metadata: Metadata | null, where: Where): boolean {
  for (const key of Object.keys(where)) {
    const value = where[key];
    if (key === '$and') {
      for (const w of value as Where[]) if (!matchesWhere(metadata, w)) return false;
    } else if (key === '$or') {
      if (!(value as Where[]).some((w) => matchesWhere(metadata, w))) return false;
    } else if (key === '$not') {
      if (matchesWhere(metadata, value as Where)) return false;
    } else {
      const stored = metadata !== null && Object.hasOwn(metadata, key) ? metadata[key] : undefined;
      if (!matchesCondition(stored, value)) return false;
    }
  }
  return true;
}

/** Evaluates a validated `whereDocument` on one record's document (null = no document). */
export function matchesWhereDocument(document: string | null, wd: WhereDocument): boolean {
  for (const key of Object.keys(wd)) {
    const value = wd[key];
    switch (key) {
      case '$contains':
        if (document === null || !document.includes(value as string)) return false;
        break;
      case '$not_contains':
        if (document !== null && document.includes(value as string)) return false;
        break;
      case '$and':
        for (const w of value as WhereDocument[]) if (!matchesWhereDocument(document, w)) return false;
        break;
      case '$or':
        if (!(value as WhereDocument[]).some((w) => matchesWhereDocument(document, w))) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Cache key
// ---------------------------------------------------------------------------------------------

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return Object.fromEntries(Object.keys(obj).sort().map((key) => [key, canonical(obj[key])]));
  }
  return value;
}

function isEmpty(filter: Record<string, unknown> | undefined): boolean {
  return filter === undefined || filter === null || Object.keys(filter).length === 0;
}

/**
 * A canonical string of the filters (object keys sorted, array order kept), usable as a cache
 * key: equal for filters that differ only in key order, and an absent filter equals an empty one.
 * Validates the filters first (so a malformed one is an 'invalid_argument', never a TypeError).
 */
export function filterKey(where?: Where, whereDocument?: WhereDocument): string {
  if (where !== undefined && where !== null) checkWhere(where);
  if (whereDocument !== undefined && whereDocument !== null) checkWhereDocument(whereDocument);
  return checkedFilterKey(where, whereDocument);
}

/** `filterKey` of filters already validated (the query planner's: checked once per query). */
export function checkedFilterKey(where?: Where, whereDocument?: WhereDocument): string {
  return JSON.stringify([
    isEmpty(where) ? null : canonical(where),
    isEmpty(whereDocument) ? null : canonical(whereDocument),
  ]);
}
