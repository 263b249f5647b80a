import { describe, invalidArgument } from '../errors.js';

/**
 * The metadata filter language (`where`) and the document filter (`whereDocument`): validation,
 * compilation to one SQLite boolean expression, and an evaluator in JS with the same semantics.
 * `docs/filters.md` is the user-facing description; the rules in short:
 *
 * - a field's condition holds when ANY element of an array value satisfies it ($eq, $in, $gt, …);
 *   $ne, $nin and $not are the exact negations of $eq, $in and their operand (so they match
 *   records missing the field), as in MongoDB;
 * - values compare only with values of their own type: numbers numerically (integers and reals
 *   alike), strings by code point, booleans and null by identity (true is not 1);
 * - `null` in $eq / $in matches a stored null and a missing field.
 *
 * The SQL evaluates every sub-expression to 0 or 1 (never NULL), so NOT is exact. Each field test
 * is one `CASE json_type(metadata, path) … END`: the type of the stored value is looked up once and
 * picks the branch (an array branch scans the elements with json_each).
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

/** SQLite's limit on parameters in one statement (SQLITE_MAX_VARIABLE_NUMBER of this build). */
const MAX_SQL_PARAMS = 32766;

/** Above this many values of one type, $in / $nin pass their list as one JSON parameter. */
const INLINE_LIST_MAX = 16;

const FIELD_OPERATORS = ['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists', '$not'] as const;
type FieldOperator = (typeof FIELD_OPERATORS)[number];
const FIELD_OPERATOR_SET: ReadonlySet<string> = new Set(FIELD_OPERATORS);
const FIELD_OPERATOR_LIST = FIELD_OPERATORS.join(', ');

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when the string is well-formed UTF-16 (SQLite stores UTF-8, which cannot hold a lone surrogate). */
export function isWellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

/** What came, for messages: describe() plus booleans and the keys of an object. */
function got(value: unknown): string {
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

function fail(path: string, message: string): never {
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
// Compilation to SQL
// ---------------------------------------------------------------------------------------------

/** A piece of SQL that evaluates to 0 or 1 and is safe to embed as an operand (self-delimited). */
interface Fragment {
  sql: string;
  params: unknown[];
}
/** A constant (folded at compile time) or SQL. */
type Expr = boolean | Fragment;

/** Operands joined flat (`a OR b OR …`) up to this many; wider lists nest in groups of it. */
const JOIN_FANOUT = 16;

/**
 * `(a OP b OP …)` as a balanced tree: SQLite parses a flat chain of n operators into an expression
 * n deep and refuses depth 1 000, so a 1 000-branch `$or` failed; groups of JOIN_FANOUT nested
 * keep the depth at ~JOIN_FANOUT × log_JOIN_FANOUT(n) (64 at 4 096 operands).
 */
function joinBalanced(parts: Fragment[], op: 'AND' | 'OR'): Fragment {
  if (parts.length <= JOIN_FANOUT) {
    return { sql: `(${parts.map((p) => p.sql).join(` ${op} `)})`, params: parts.flatMap((p) => p.params) };
  }
  const groups: Fragment[] = [];
  const size = Math.ceil(parts.length / JOIN_FANOUT);
  for (let i = 0; i < parts.length; i += size) groups.push(joinBalanced(parts.slice(i, i + size), op));
  return joinBalanced(groups, op);
}

function sqlAnd(items: Expr[]): Expr {
  const parts: Fragment[] = [];
  for (const item of items) {
    if (item === false) return false;
    if (item !== true) parts.push(item);
  }
  if (parts.length === 0) return true;
  if (parts.length === 1) return parts[0]!;
  return joinBalanced(parts, 'AND');
}

function sqlOr(items: Expr[]): Expr {
  const parts: Fragment[] = [];
  for (const item of items) {
    if (item === true) return true;
    if (item !== false) parts.push(item);
  }
  if (parts.length === 0) return false;
  if (parts.length === 1) return parts[0]!;
  return joinBalanced(parts, 'OR');
}

function sqlNot(item: Expr): Expr {
  if (typeof item === 'boolean') return !item;
  return { sql: `(NOT ${item.sql})`, params: item.params };
}

/** A field condition as a formula over atoms that each hold when ANY element matches. */
type Atom =
  | { kind: 'in'; values: Scalar[] } // $eq (one value) and $in
  | { kind: 'cmp'; op: '>' | '>=' | '<' | '<='; value: number | string }
  | { kind: 'exists' };
type Formula =
  | { kind: 'atom'; atom: Atom }
  | { kind: 'and'; items: Formula[] }
  | { kind: 'not'; item: Formula };

const CMP = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' } as const;

function formulaOf(condition: unknown): Formula {
  if (condition === null || typeof condition !== 'object') return { kind: 'atom', atom: { kind: 'in', values: [condition as Scalar] } };
  const ops = condition as Record<string, unknown>;
  const items: Formula[] = [];
  for (const op of Object.keys(ops)) {
    const operand = ops[op];
    switch (op as FieldOperator) {
      case '$eq': items.push({ kind: 'atom', atom: { kind: 'in', values: [operand as Scalar] } }); break;
      case '$ne': items.push({ kind: 'not', item: { kind: 'atom', atom: { kind: 'in', values: [operand as Scalar] } } }); break;
      case '$in': items.push({ kind: 'atom', atom: { kind: 'in', values: operand as Scalar[] } }); break;
      case '$nin': items.push({ kind: 'not', item: { kind: 'atom', atom: { kind: 'in', values: operand as Scalar[] } } }); break;
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte':
        items.push({ kind: 'atom', atom: { kind: 'cmp', op: CMP[op as keyof typeof CMP], value: operand as number | string } });
        break;
      case '$exists': {
        const exists: Formula = { kind: 'atom', atom: { kind: 'exists' } };
        items.push(operand === true ? exists : { kind: 'not', item: exists });
        break;
      }
      case '$not': items.push({ kind: 'not', item: formulaOf(operand) }); break;
    }
  }
  return items.length === 1 ? items[0]! : { kind: 'and', items };
}

/**
 * The JSON types a stored value can have (`json_type`), in the order the CASE tests them, plus
 * `missing` (json_type is NULL: no such key, or no metadata at all).
 */
const BRANCHES = ['text', 'integer', 'real', 'array', 'true', 'false', 'null'] as const;
type Branch = (typeof BRANCHES)[number] | 'missing';

function dedupe<T>(values: T[]): T[] {
  return [...new Set(values)];
}

/**
 * `lhs = ?` / `lhs IN (?, …)` / `lhs IN (SELECT … FROM json_each(?))` for a non-empty list of
 * strings or numbers (false for an empty one). Long lists travel as one JSON parameter so a
 * filter never runs out of SQL variables; numbers are compared as REAL on both sides.
 */
function inList(lhs: string, lhsParams: unknown[], values: (string | number)[], numeric: boolean): Expr {
  if (values.length === 0) return false;
  if (values.length === 1) return { sql: `(${lhs} = ?)`, params: [...lhsParams, values[0]] };
  if (values.length <= INLINE_LIST_MAX) {
    return { sql: `(${lhs} IN (${values.map(() => '?').join(', ')}))`, params: [...lhsParams, ...values] };
  }
  const item = numeric ? 'CAST(value AS REAL)' : 'value';
  return { sql: `(${lhs} IN (SELECT ${item} FROM json_each(?)))`, params: [...lhsParams, JSON.stringify(values)] };
}

/**
 * The stored scalar at `path` for a branch whose type is known. Integers are read as REAL: a
 * double above 2⁵³ is written to JSON as its shortest decimal (633762049816333400), which SQLite
 * parses as that exact 64-bit integer; converting it back to REAL gives the original double.
 */
function storedScalar(column: string, path: string, branch: 'text' | 'integer' | 'real'): Fragment {
  return branch === 'integer'
    ? { sql: `CAST(json_extract(${column}, ?) AS REAL)`, params: [path] }
    : { sql: `json_extract(${column}, ?)`, params: [path] };
}

const ELEMENT = 'e_';

/** The test of one array element (json_each row `e_`) for an atom. */
function elementTest(atom: Atom): Expr {
  if (atom.kind === 'exists') return true;
  if (atom.kind === 'cmp') {
    if (typeof atom.value === 'number') {
      return { sql: `(${ELEMENT}.type IN ('integer', 'real') AND CAST(${ELEMENT}.value AS REAL) ${atom.op} ?)`, params: [atom.value] };
    }
    return { sql: `(${ELEMENT}.type = 'text' AND ${ELEMENT}.value ${atom.op} ?)`, params: [atom.value] };
  }
  const strings = dedupe(atom.values.filter((v): v is string => typeof v === 'string'));
  const numbers = dedupe(atom.values.filter((v): v is number => typeof v === 'number'));
  const types: string[] = [];
  if (atom.values.includes(true)) types.push("'true'");
  if (atom.values.includes(false)) types.push("'false'");
  if (atom.values.includes(null)) types.push("'null'");
  const parts: Expr[] = [];
  if (strings.length > 0) {
    parts.push(sqlAnd([{ sql: `(${ELEMENT}.type = 'text')`, params: [] }, inList(`${ELEMENT}.value`, [], strings, false)]));
  }
  if (numbers.length > 0) {
    parts.push(sqlAnd([
      { sql: `(${ELEMENT}.type IN ('integer', 'real'))`, params: [] },
      inList(`CAST(${ELEMENT}.value AS REAL)`, [], numbers, true),
    ]));
  }
  if (types.length > 0) parts.push({ sql: `(${ELEMENT}.type IN (${types.join(', ')}))`, params: [] });
  return sqlOr(parts);
}

/** An atom on the stored value when its JSON type is `branch`. */
function atomAt(atom: Atom, branch: Branch, column: string, path: string): Expr {
  if (atom.kind === 'exists') return branch !== 'missing';
  if (branch === 'array') {
    const test = elementTest(atom);
    if (typeof test === 'boolean') return test;
    return { sql: `EXISTS (SELECT 1 FROM json_each(${column}, ?) AS ${ELEMENT} WHERE ${test.sql})`, params: [path, ...test.params] };
  }
  if (atom.kind === 'cmp') {
    const numeric = typeof atom.value === 'number';
    if (numeric ? branch !== 'integer' && branch !== 'real' : branch !== 'text') return false;
    const lhs = storedScalar(column, path, branch as 'text' | 'integer' | 'real');
    return { sql: `(${lhs.sql} ${atom.op} ?)`, params: [...lhs.params, atom.value] };
  }
  switch (branch) {
    case 'missing':
    case 'null': return atom.values.includes(null);
    case 'true': return atom.values.includes(true);
    case 'false': return atom.values.includes(false);
    case 'text': {
      const strings = dedupe(atom.values.filter((v): v is string => typeof v === 'string'));
      if (strings.length === 0) return false;
      const lhs = storedScalar(column, path, branch);
      return inList(lhs.sql, lhs.params, strings, false);
    }
    default: {
      const numbers = dedupe(atom.values.filter((v): v is number => typeof v === 'number'));
      if (numbers.length === 0) return false;
      const lhs = storedScalar(column, path, branch);
      return inList(lhs.sql, lhs.params, numbers, true);
    }
  }
}

function formulaAt(f: Formula, branch: Branch, column: string, path: string): Expr {
  switch (f.kind) {
    case 'atom': return atomAt(f.atom, branch, column, path);
    case 'and': return sqlAnd(f.items.map((item) => formulaAt(item, branch, column, path)));
    case 'not': return sqlNot(formulaAt(f.item, branch, column, path));
  }
}

/** The SQLite JSON path of a top-level key: `$."…"`, the key written as a JSON string (escapes included). */
export function jsonPath(key: string): string {
  return `$.${JSON.stringify(key)}`;
}

/**
 * One field's condition: `CASE json_type(col, path) WHEN 'text' THEN … WHEN 'array' THEN
 * EXISTS(…) … ELSE <missing> END`, with the branches whose outcome is the missing one left out.
 * An object value (never stored: metadata is validated) falls into ELSE like a missing key.
 */
function compileField(column: string, key: string, condition: unknown): Expr {
  const formula = formulaOf(condition);
  const path = jsonPath(key);
  const missing = formulaAt(formula, 'missing', column, path);
  if (typeof missing !== 'boolean') throw new Error('where: a missing field must fold to a constant');
  const whens: [string, Expr][] = [];
  for (const branch of BRANCHES) {
    const e = formulaAt(formula, branch, column, path);
    if (e !== missing) whens.push([branch, e]);
  }
  if (whens.length === 0) return missing;
  if (whens.length === BRANCHES.length && whens.every(([, e]) => e === !missing)) {
    return { sql: `(json_type(${column}, ?) IS ${missing ? '' : 'NOT '}NULL)`, params: [path] };
  }
  const params: unknown[] = [path];
  let sql = `CASE json_type(${column}, ?)`;
  for (const [branch, e] of whens) {
    if (typeof e === 'boolean') {
      sql += ` WHEN '${branch}' THEN ${e ? 1 : 0}`;
    } else {
      sql += ` WHEN '${branch}' THEN ${e.sql}`;
      params.push(...e.params);
    }
  }
  sql += ` ELSE ${missing ? 1 : 0} END`;
  return { sql, params };
}

/** The values of a branch that only tests one field for equality (`{ f: v }`, `{ f: { $eq: v } }`, `{ f: { $in: [...] } }`). */
function equalityBranch(w: Where): { key: string; values: Scalar[] } | undefined {
  const keys = Object.keys(w);
  if (keys.length !== 1 || keys[0]!.startsWith('$')) return undefined;
  const key = keys[0]!;
  const c = w[key];
  if (c === null || typeof c !== 'object') return { key, values: [c as Scalar] };
  const ops = Object.keys(c);
  if (ops.length !== 1) return undefined;
  const operand = (c as Record<string, unknown>)[ops[0]!];
  if (ops[0] === '$eq') return { key, values: [operand as Scalar] };
  if (ops[0] === '$in') return { key, values: operand as Scalar[] };
  return undefined;
}

/**
 * An `$or`'s branches with the equality tests of one field merged into one `$in` (the same
 * records: "some element equals v₁" or "… v₂" is "some element is in {v₁, v₂}"), so a wide
 * `$or` over one field's values compiles to one list lookup instead of n comparisons.
 */
function mergeOr(branches: Where[]): Where[] {
  const byKey = new Map<string, { at: number; values: Scalar[]; count: number }>();
  const out: (Where | undefined)[] = [];
  for (const w of branches) {
    const eq = equalityBranch(w);
    if (eq === undefined) { out.push(w); continue; }
    const have = byKey.get(eq.key);
    if (have === undefined) {
      byKey.set(eq.key, { at: out.length, values: [...eq.values], count: 1 });
      out.push(w);
    } else {
      for (const v of eq.values) have.values.push(v);
      have.count++;
    }
  }
  for (const [key, g] of byKey) if (g.count > 1) out[g.at] = { [key]: { $in: g.values } };
  return out as Where[];
}

function compileWhere(where: Where, column: string): Expr {
  const parts: Expr[] = [];
  for (const key of Object.keys(where)) {
    const value = where[key];
    if (key === '$and') parts.push(sqlAnd((value as Where[]).map((w) => compileWhere(w, column))));
    else if (key === '$or') parts.push(sqlOr(mergeOr(value as Where[]).map((w) => compileWhere(w, column))));
    else if (key === '$not') parts.push(sqlNot(compileWhere(value as Where, column)));
    else parts.push(compileField(column, key, value));
  }
  return sqlAnd(parts);
}

function compileWhereDocument(wd: WhereDocument, column: string): Expr {
  const parts: Expr[] = [];
  for (const key of Object.keys(wd)) {
    const value = wd[key];
    switch (key) {
      case '$contains':
        parts.push({ sql: `(${column} IS NOT NULL AND instr(${column}, ?) > 0)`, params: [value] });
        break;
      case '$not_contains':
        parts.push({ sql: `(${column} IS NULL OR instr(${column}, ?) = 0)`, params: [value] });
        break;
      case '$and':
        parts.push(sqlAnd((value as WhereDocument[]).map((w) => compileWhereDocument(w, column))));
        break;
      case '$or':
        parts.push(sqlOr((value as WhereDocument[]).map((w) => compileWhereDocument(w, column))));
        break;
    }
  }
  return sqlAnd(parts);
}

const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

function checkColumn(name: unknown, what: string): string {
  if (typeof name !== 'string' || !COLUMN_NAME.test(name)) {
    fail(what, `expected a column name (letters, digits, _; optionally table.column), got ${got(name)}`);
  }
  return name;
}

/**
 * Compiles both filters into one SQL boolean expression over a table with a JSON text column
 * holding the metadata object (or NULL) and a TEXT column holding the document (or NULL). The
 * expression is 0 or 1 on every row (never NULL). `{ sql: '1', params: [] }` when both filters
 * are absent or empty; '0' when they can never match. Params are positional (`?`). Validates
 * the filters first (OmnivecError 'invalid_argument').
 */
export function compileFilter(
  where: Where | undefined,
  whereDocument: WhereDocument | undefined,
  columns: { metadata: string; document: string },
): { sql: string; params: unknown[] } {
  const parts: Expr[] = [];
  if (where !== undefined && where !== null) {
    checkWhere(where);
    parts.push(compileWhere(where, checkColumn(columns.metadata, 'columns.metadata')));
  }
  if (whereDocument !== undefined && whereDocument !== null) {
    checkWhereDocument(whereDocument);
    parts.push(compileWhereDocument(whereDocument, checkColumn(columns.document, 'columns.document')));
  }
  const e = sqlAnd(parts);
  if (typeof e === 'boolean') return { sql: e ? '1' : '0', params: [] };
  if (e.params.length > MAX_SQL_PARAMS - 16) {
    // Unreachable within MAX_FILTER_CONDITIONS (≤ 5 parameters a condition); kept as a clear 400.
    fail('where', `the filter compiles to ${e.params.length} SQL parameters, more than SQLite takes (${MAX_SQL_PARAMS}); use $in for long lists of values`);
  }
  return e;
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
  return JSON.stringify([
    isEmpty(where) ? null : canonical(where),
    isEmpty(whereDocument) ? null : canonical(whereDocument),
  ]);
}
