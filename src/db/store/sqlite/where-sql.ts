/**
 * `where` / `whereDocument` compiled to one SQLite boolean expression over a records table (the
 * embedded store). The language and its JS evaluator live in ../../where.ts; the tests hold this
 * compilation to that evaluator on every record (where.test.ts, where-adversarial.test.ts).
 *
 * The SQL evaluates every sub-expression to 0 or 1 (never NULL), so NOT is exact. Each field test
 * is one `CASE json_type(metadata, path) … END`: the type of the stored value is looked up once and
 * picks the branch (an array branch scans the elements with json_each).
 */
import { checkWhere, checkWhereDocument, fail, got, type Scalar, type Where, type WhereDocument } from '../../where.js';
import { compileWhere, compileWhereDocument, formulaOf, mergeOr, sqlAnd, sqlNot, sqlOr, type Atom, type Expr, type Formula, type Fragment } from '../filter-sql.js';
import { servesRange, servesValue, type FieldIndexMap, type FieldIndexType } from '../../field-index.js';

/** SQLite's limit on parameters in one statement (SQLITE_MAX_VARIABLE_NUMBER of this build). */
const MAX_SQL_PARAMS = 32766;

/** Above this many values of one type, $in / $nin pass their list as one JSON parameter. */
const INLINE_LIST_MAX = 16;

// ---------------------------------------------------------------------------------------------
// Compilation to SQL
// ---------------------------------------------------------------------------------------------

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
  return compileFormula(column, jsonPath(key), formulaOf(condition));
}

/** A field's formula on the JSON value at `path`. */
function compileFormula(column: string, path: string, formula: Formula): Expr {
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

// ---------------------------------------------------------------------------------------------
// Payload indexes (docs/db.md, "Payload indexes"; the values table is field-index-sql.ts's)
// ---------------------------------------------------------------------------------------------

/** The declared payload indexes a compilation may use: which fields, their values table, the records' slot column. */
export interface FieldIndexes {
  map: FieldIndexMap;
  /** `c<cid>_fv`: rows (field, v, slot). */
  table: string;
  /** `c<cid>_fa`: rows (field, slot) of the records whose field holds an array. */
  arrays: string;
  /** The slot column of the filtered records (`slot`, or `r.slot` in a join). */
  slot: string;
}

function bindValue(v: Scalar): string | number {
  return typeof v === 'boolean' ? (v ? 1 : 0) : v as string | number;
}

/**
 * The records whose field holds an array with an element meeting each bound (not necessarily the
 * same one): driven from the arrays table, each bound checked on that record's own rows (the
 * values table's slot index), so a range costs nothing extra when no record holds an array.
 */
function arraysApart(ix: FieldIndexes, field: string, bounds: Fragment[]): Fragment {
  const tests = bounds.map((b) => `EXISTS (SELECT 1 FROM ${ix.table} x_ WHERE x_.slot = a_.slot AND x_.field = ? AND ${b.sql.replace(/\bv\b/g, 'x_.v')})`);
  return {
    sql: `SELECT a_.slot FROM ${ix.arrays} a_ WHERE a_.field = ? AND ${tests.join(' AND ')}`,
    params: [field, ...bounds.flatMap((b) => [field, ...b.params])],
  };
}

/** `slot IN (SELECT slot FROM values WHERE field = ? AND cond)`: a seek on the values table's (field, v) key. */
function viaIndex(ix: FieldIndexes, field: string, cond: Expr): Expr {
  if (typeof cond === 'boolean') return cond;
  return { sql: `(${ix.slot} IN (SELECT slot FROM ${ix.table} WHERE field = ? AND ${cond.sql}))`, params: [field, ...cond.params] };
}

/**
 * A formula on an indexed field, atom by atom (each atom is "some element satisfies it", so the
 * formula's and / not apply to the atoms' answers whatever answers them): an atom the index
 * serves — equality with values of its type, a range with a bound of its type — reads the values
 * table; the values of other types in an `$in` (null, or a string on a numeric field) and every
 * other atom (`$exists`) take the JSON path. `$ne` / `$nin` are the NOT of an indexed atom.
 */
function indexedFormula(ix: FieldIndexes, type: FieldIndexType, column: string, field: string, path: string, f: Formula): Expr {
  switch (f.kind) {
    case 'and': {
      const ranges = f.items.filter((item) => item.kind === 'atom' && item.atom.kind === 'cmp' && servesRange(type, item.atom.value));
      const rest = f.items.filter((item) => !ranges.includes(item)).map((item) => indexedFormula(ix, type, column, field, path, item));
      if (ranges.length < 2) return sqlAnd([...ranges.map((item) => indexedFormula(ix, type, column, field, path, item)), ...rest]);
      // Bounds of one range: one seek on [a, b) answers a scalar value; an array may meet each
      // bound with another element, so array records also pass when they meet each apart.
      const bounds = ranges.map((item) => {
        const a = (item as { atom: { op: string; value: number | string } }).atom;
        return { sql: `(v ${a.op} ?)`, params: [a.value] } as Fragment;
      });
      const joint = viaIndex(ix, field, sqlAnd(bounds));
      const apart = arraysApart(ix, field, bounds);
      return sqlAnd([sqlOr([joint, { sql: `(${ix.slot} IN (${apart.sql}))`, params: apart.params }]), ...rest]);
    }
    case 'not': return sqlNot(indexedFormula(ix, type, column, field, path, f.item));
    case 'atom': {
      const a = f.atom;
      if (a.kind === 'in') {
        const served = dedupe(a.values.filter((v) => servesValue(type, v)).map(bindValue));
        if (served.length === 0) return compileFormula(column, path, f);
        const hit = viaIndex(ix, field, inList('v', [], served, type === 'integer' || type === 'float'));
        const rest = a.values.filter((v) => !servesValue(type, v));
        return rest.length === 0 ? hit : sqlOr([hit, compileFormula(column, path, { kind: 'atom', atom: { kind: 'in', values: rest } })]);
      }
      if (a.kind === 'cmp' && servesRange(type, a.value)) return viaIndex(ix, field, { sql: `(v ${a.op} ?)`, params: [a.value] });
      return compileFormula(column, path, f);
    }
  }
}

/**
 * How to find a filter's slots from the payload indexes alone: seeks on the values table (each a
 * plain `SELECT slot …` on its key, which SQLite streams at ~0.1 µs a row) combined in JS with a
 * bitmap over the slots. Measured at 20k records, a 50 % range: 1 ms for the seek, where SQL's
 * DISTINCT / UNION / INTERSECT temp B-trees took 15–19 ms.
 */
export type SlotPlan =
  | { seek: Fragment; unique: boolean }
  | { op: 'and' | 'or'; items: SlotPlan[] };

/** The slots whose `field` has an element meeting `cond` (one seek on the values table's key). */
function seek(ix: FieldIndexes, field: string, cond: Fragment, unique: boolean): SlotPlan {
  return { seek: { sql: `SELECT slot FROM ${ix.table} WHERE field = ? AND ${cond.sql}`, params: [field, ...cond.params] }, unique };
}

/** A field formula as a slot plan when the index answers all of it (no NOT, no value of another type, no $exists). */
function formulaSlots(ix: FieldIndexes, type: FieldIndexType, field: string, f: Formula): SlotPlan | undefined {
  if (f.kind === 'not') return undefined;
  if (f.kind === 'atom') {
    const a = f.atom;
    if (a.kind === 'in') {
      if (!a.values.every((v) => servesValue(type, v))) return undefined;
      const values = dedupe(a.values.map(bindValue));
      const list = inList('v', [], values, type === 'integer' || type === 'float');
      // One value: the key (field, v, slot) holds each slot once.
      return typeof list === 'boolean' ? undefined : seek(ix, field, list, values.length === 1);
    }
    if (a.kind === 'cmp' && servesRange(type, a.value)) return seek(ix, field, { sql: `(v ${a.op} ?)`, params: [a.value] }, false);
    return undefined;
  }
  const ranges = f.items.filter((item) => item.kind === 'atom' && item.atom.kind === 'cmp' && servesRange(type, item.atom.value));
  const items: SlotPlan[] = [];
  for (const item of f.items) {
    if (ranges.length >= 2 && ranges.includes(item)) continue;
    const q = formulaSlots(ix, type, field, item);
    if (q === undefined) return undefined;
    items.push(q);
  }
  if (ranges.length >= 2) {
    // As indexedFormula: one seek on the joint range, or array records meeting each bound apart.
    const bounds = ranges.map((item) => {
      const a = (item as { atom: { op: string; value: number | string } }).atom;
      return { sql: `(v ${a.op} ?)`, params: [a.value] } as Fragment;
    });
    items.push({ op: 'or', items: [seek(ix, field, sqlAnd(bounds) as Fragment, false), { seek: arraysApart(ix, field, bounds), unique: true }] });
  }
  return items.length === 1 ? items[0] : { op: 'and', items };
}

function whereSlots(ix: FieldIndexes, where: Where): SlotPlan | undefined {
  const items: SlotPlan[] = [];
  for (const key of Object.keys(where)) {
    const value = where[key];
    let q: SlotPlan | undefined;
    if (key === '$and' || key === '$or') {
      const branches = key === '$or' ? mergeOr(value as Where[]) : value as Where[];
      const qs: SlotPlan[] = [];
      for (const w of branches) {
        const b = whereSlots(ix, w);
        if (b === undefined) return undefined;
        qs.push(b);
      }
      q = qs.length === 1 ? qs[0] : { op: key === '$and' ? 'and' : 'or', items: qs };
    } else if (key === '$not') {
      return undefined;
    } else {
      const type = ix.map.get(key);
      if (type === undefined) return undefined;
      q = formulaSlots(ix, type, key, formulaOf(value));
    }
    if (q === undefined) return undefined;
    items.push(q);
  }
  if (items.length === 0) return undefined;
  return items.length === 1 ? items[0] : { op: 'and', items };
}

function seeks(plan: SlotPlan): number {
  return 'seek' in plan ? 1 : plan.items.reduce((n, p) => n + seeks(p), 0);
}

/** How many seeks a slot plan may hold (each is one statement; a wider filter takes the records path). */
const MAX_SLOT_SEEKS = 256;

/**
 * The plan reading the slots matching `where` from the payload indexes alone, never touching the
 * records, when the indexes answer every part of it: every field declared, every condition an
 * equality / `$in` / range of the declared type, combined by `$and` / `$or` — no `$not` / `$ne` /
 * `$nin` / `$exists`. Undefined otherwise (the records are filtered with compileFilter). The values
 * table is written in the records' own transactions, so its slots are exactly the live records'.
 */
export function compileSlotPlan(where: Where | undefined, ix: FieldIndexes | undefined): SlotPlan | undefined {
  if (where === undefined || where === null || ix === undefined || ix.map.size === 0) return undefined;
  checkWhere(where);
  const plan = whereSlots(ix, where);
  return plan === undefined || seeks(plan) > MAX_SLOT_SEEKS ? undefined : plan;
}

/** Runs a slot plan (`all` runs one seek's SQL): the matching slots, each once, in no particular order. */
export function runSlotPlan(plan: SlotPlan, all: (sql: string, params: unknown[]) => number[]): number[] {
  if ('seek' in plan) {
    const rows = all(plan.seek.sql, plan.seek.params);
    return plan.unique ? rows : dedupeSlots([rows]);
  }
  const parts = plan.items.map((p) => runSlotPlan(p, all));
  if (plan.op === 'or') return dedupeSlots(parts);
  parts.sort((a, b) => a.length - b.length);
  if (parts[0]!.length === 0) return [];
  // AND: a slot of the smallest part counted in every other (each part holds a slot once).
  let max = 0;
  for (const s of parts[0]!) if (s > max) max = s;
  const count = new Uint8Array(max + 1);
  for (const s of parts[0]!) count[s] = 1;
  for (let i = 1; i < parts.length; i++) for (const s of parts[i]!) if (s <= max && count[s] === i) count[s] = i + 1;
  return parts[0]!.filter((s) => count[s] === parts.length);
}

/** The union of slot lists, each slot once (a bitmap over the largest slot). */
function dedupeSlots(parts: number[][]): number[] {
  let max = 0;
  for (const p of parts) for (const s of p) if (s > max) max = s;
  const seen = new Uint8Array(max + 1);
  const out: number[] = [];
  for (const p of parts) for (const s of p) if (seen[s] === 0) { seen[s] = 1; out.push(s); }
  return out;
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
  fieldIndexes?: FieldIndexes,
): { sql: string; params: unknown[] } {
  const parts: Expr[] = [];
  if (where !== undefined && where !== null) {
    checkWhere(where);
    const column = checkColumn(columns.metadata, 'columns.metadata');
    const ix = fieldIndexes !== undefined && fieldIndexes.map.size > 0 ? fieldIndexes : undefined;
    if (ix !== undefined) {
      checkColumn(ix.slot, 'fieldIndexes.slot');
      checkColumn(ix.table, 'fieldIndexes.table');
      checkColumn(ix.arrays, 'fieldIndexes.arrays');
    }
    parts.push(compileWhere(where, (key, condition) => {
      const type = ix?.map.get(key);
      return type === undefined ? compileField(column, key, condition) : indexedFormula(ix!, type, column, key, jsonPath(key), formulaOf(condition));
    }));
  }
  if (whereDocument !== undefined && whereDocument !== null) {
    checkWhereDocument(whereDocument);
    const column = checkColumn(columns.document, 'columns.document');
    parts.push(compileWhereDocument(whereDocument, (needle, negated) => (negated
      ? { sql: `(${column} IS NULL OR instr(${column}, ?) = 0)`, params: [needle] }
      : { sql: `(${column} IS NOT NULL AND instr(${column}, ?) > 0)`, params: [needle] })));
  }
  const e = sqlAnd(parts);
  if (typeof e === 'boolean') return { sql: e ? '1' : '0', params: [] };
  if (e.params.length > MAX_SQL_PARAMS - 16) {
    // Unreachable within MAX_FILTER_CONDITIONS (≤ 5 parameters a condition); kept as a clear 400.
    fail('where', `the filter compiles to ${e.params.length} SQL parameters, more than SQLite takes (${MAX_SQL_PARAMS}); use $in for long lists of values`);
  }
  return e;
}

