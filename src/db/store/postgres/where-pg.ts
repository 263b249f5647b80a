/**
 * `where` / `whereDocument` compiled to one PostgreSQL boolean expression over a records table's
 * `metadata jsonb` and `document text` (the PostgreSQL store). The language and its JS evaluator
 * live in ../../where.ts; the filter property tests hold this compilation to that evaluator on every
 * record, as they hold the SQLite one (../sqlite/where-sql.ts).
 *
 * Every sub-expression is true or false, never NULL, so NOT is exact. Each field test is one
 * `CASE jsonb_typeof(metadata -> key) … END`: the stored value's type picks the branch. Numbers
 * compare as `numeric` against the parameter written as the double's shortest decimal (what
 * JSON.stringify stored), so comparisons are exact; strings compare in the "C" collation, which is
 * code point order, as the evaluator's `compareCodePoints`. Keys and values travel as parameters;
 * PostgreSQL text cannot hold NUL (U+0000), so a filter value with one is refused.
 */
import { OmnivecError } from '../../../errors.js';
import { checkWhere, checkWhereDocument, type Scalar, type Where, type WhereDocument } from '../../where.js';
import { compileWhere, compileWhereDocument, formulaOf, sqlAnd, sqlNot, type Atom, type Expr, type Formula, type Fragment } from '../filter-sql.js';
import { servesRange, type FieldIndexMap, type FieldIndexType } from '../../field-index.js';
import { fieldIsArray, fieldScalar } from './field-index-pg.js';

/** The JSON types a stored value can have (`jsonb_typeof`, booleans split), plus `missing`. */
const BRANCHES = ['string', 'number', 'array', 'true', 'false', 'null'] as const;
type Branch = (typeof BRANCHES)[number] | 'missing';

function noNul(s: string): string {
  if (s.includes('\u0000')) {
    throw new OmnivecError('invalid_argument', `where: PostgreSQL text cannot hold NUL (U+0000), got a value with one (${JSON.stringify(s.slice(0, 40))}); no record stored there can hold it either`);
  }
  return s;
}

/** A number as the shortest decimal of the double (what JSON.stringify stored), for a `numeric` parameter. */
function decimal(x: number): string {
  return Object.is(x, -0) ? '0' : String(x);
}

function strings(values: Scalar[]): string[] {
  return [...new Set(values.filter((v): v is string => typeof v === 'string'))].map(noNul);
}

function numbers(values: Scalar[]): string[] {
  return [...new Set(values.filter((v): v is number => typeof v === 'number').map(decimal))];
}

/** `lhs = ?` or `lhs = ANY(?::type[])` for a non-empty list. */
function inList(lhs: Fragment, values: string[], type: 'text' | 'numeric'): Expr {
  if (values.length === 0) return false;
  if (values.length === 1) return { sql: `(${lhs.sql} = ?::${type})`, params: [...lhs.params, values[0]] };
  return { sql: `(${lhs.sql} = ANY(?::${type}[]))`, params: [...lhs.params, values] };
}

/**
 * The test of one array element (`e_.v`, a jsonb scalar) for an atom: one CASE on the element's
 * type, so a cast only ever sees a value of its type (PostgreSQL does not promise to short-circuit AND).
 */
function elementTest(atom: Atom): Expr {
  if (atom.kind === 'exists') return true;
  const whens: [string, Expr][] = [];
  if (atom.kind === 'cmp') {
    if (typeof atom.value === 'number') whens.push(['number', { sql: `((e_.v)::numeric ${atom.op} ?::numeric)`, params: [decimal(atom.value)] }]);
    else whens.push(['string', { sql: `((e_.v #>> '{}') COLLATE "C" ${atom.op} ?::text)`, params: [noNul(atom.value)] }]);
  } else {
    const s = strings(atom.values);
    if (s.length > 0) whens.push(['string', inList({ sql: `(e_.v #>> '{}')`, params: [] }, s, 'text')]);
    const n = numbers(atom.values);
    if (n.length > 0) whens.push(['number', inList({ sql: '(e_.v)::numeric', params: [] }, n, 'numeric')]);
    const t = atom.values.includes(true);
    const f = atom.values.includes(false);
    if (t || f) whens.push(['boolean', t && f ? true : { sql: `(e_.v = ?::jsonb)`, params: [t ? 'true' : 'false'] }]);
    if (atom.values.includes(null)) whens.push(['null', true]);
  }
  const live = whens.filter(([, e]) => e !== false);
  if (live.length === 0) return false;
  const params: unknown[] = [];
  let sql = '(CASE jsonb_typeof(e_.v)';
  for (const [type, e] of live) {
    if (typeof e === 'boolean') sql += ` WHEN '${type}' THEN TRUE`;
    else { sql += ` WHEN '${type}' THEN ${e.sql}`; params.push(...e.params); }
  }
  return { sql: `${sql} ELSE FALSE END)`, params };
}

/** The stored value at `key` (`column -> key`). */
function value(column: string, key: string): Fragment {
  return { sql: `(${column} -> ?::text)`, params: [key] };
}

function atomAt(atom: Atom, branch: Branch, column: string, key: string): Expr {
  if (atom.kind === 'exists') return branch !== 'missing';
  if (branch === 'array') {
    const test = elementTest(atom);
    if (typeof test === 'boolean') return test;
    return { sql: `EXISTS (SELECT 1 FROM jsonb_array_elements(${column} -> ?::text) AS e_(v) WHERE ${test.sql})`, params: [key, ...test.params] };
  }
  if (atom.kind === 'cmp') {
    if (typeof atom.value === 'number') {
      if (branch !== 'number') return false;
      const v = value(column, key);
      return { sql: `(${v.sql}::numeric ${atom.op} ?::numeric)`, params: [...v.params, decimal(atom.value)] };
    }
    if (branch !== 'string') return false;
    return { sql: `((${column} ->> ?::text) COLLATE "C" ${atom.op} ?::text)`, params: [key, noNul(atom.value)] };
  }
  switch (branch) {
    case 'missing':
    case 'null': return atom.values.includes(null);
    case 'true': return atom.values.includes(true);
    case 'false': return atom.values.includes(false);
    case 'string': return inList({ sql: `(${column} ->> ?::text)`, params: [key] }, strings(atom.values), 'text');
    case 'number': {
      const v = value(column, key);
      return inList({ sql: `${v.sql}::numeric`, params: v.params }, numbers(atom.values), 'numeric');
    }
  }
}

function formulaAt(f: Formula, branch: Branch, column: string, key: string): Expr {
  switch (f.kind) {
    case 'atom': return atomAt(f.atom, branch, column, key);
    case 'and': return sqlAnd(f.items.map((item) => formulaAt(item, branch, column, key)));
    case 'not': return sqlNot(formulaAt(f.item, branch, column, key));
  }
}

/** The CASE that tells the stored value's type, with `true` / `false` told apart. */
function typeCase(column: string, key: string): Fragment {
  return {
    sql: `(CASE jsonb_typeof(${column} -> ?::text) WHEN 'boolean' THEN (${column} ->> ?::text) ELSE jsonb_typeof(${column} -> ?::text) END)`,
    params: [key, key, key],
  };
}

/** Values of a prefilter's `@>` tests at most; a longer `$in` is left to the CASE alone. */
const PREFILTER_MAX = 16;

/**
 * The values one of which a matching record's field must hold (itself or as an array element),
 * when the formula says so: an equality or `$in` of non-null values, alone or in an AND.
 */
function requiredValues(f: Formula): Scalar[] | undefined {
  if (f.kind === 'atom') {
    const a = f.atom;
    if (a.kind !== 'in' || a.values.length === 0 || a.values.length > PREFILTER_MAX || a.values.includes(null)) return undefined;
    return a.values;
  }
  if (f.kind === 'and') {
    for (const item of f.items) {
      const v = requiredValues(item);
      if (v !== undefined) return v;
    }
  }
  return undefined;
}

/**
 * A condition every matching record meets that the GIN index on the column (`jsonb_path_ops`)
 * answers: `col @> {"key": v}` (the value) or `col @> {"key": [v]}` (an array holding it), ORed
 * over the values. ANDed before the exact CASE, it lets the planner find a selective equality
 * filter's records by the index instead of testing every row (the CASE still decides).
 */
function prefilter(column: string, key: string, f: Formula): Fragment | undefined {
  const values = requiredValues(f);
  if (values === undefined) return undefined;
  const docs: string[] = [];
  for (const v of [...new Set(values)]) {
    if (typeof v === 'string') noNul(v);
    docs.push(JSON.stringify(Object.defineProperty({}, key, { value: v, enumerable: true })));
    docs.push(JSON.stringify(Object.defineProperty({}, key, { value: [v], enumerable: true })));
  }
  return { sql: `(${docs.map(() => `${column} @> ?::jsonb`).join(' OR ')})`, params: docs };
}

/** The range atoms every matching record meets (one alone, or those of an AND), whose bound the declared index orders. */
function requiredRanges(f: Formula, type: FieldIndexType): { op: string; value: number | string }[] {
  if (f.kind === 'atom') return f.atom.kind === 'cmp' && servesRange(type, f.atom.value) ? [{ op: f.atom.op, value: f.atom.value }] : [];
  if (f.kind === 'and') return f.items.flatMap((item) => requiredRanges(item, type));
  return [];
}

/**
 * For a field with a declared payload index (field-index-pg.ts): its ranges as
 * `(scalar op bound AND …) OR value is an array`, which the B-tree on the scalar and the partial
 * index on arrays answer (a BitmapOr). Like `prefilter`, only ANDed before the exact CASE.
 */
function rangePrefilter(column: string, key: string, f: Formula, type: FieldIndexType): Fragment | undefined {
  const ranges = requiredRanges(f, type);
  const scalar = fieldScalar(column, key, type);
  if (ranges.length === 0 || scalar === undefined) return undefined;
  const cast = type === 'keyword' ? 'text' : 'numeric';
  const tests = ranges.map((r) => `${scalar} ${r.op} ?::${cast}`);
  return {
    sql: `((${tests.join(' AND ')}) OR ${fieldIsArray(column, key)})`,
    params: ranges.map((r) => (typeof r.value === 'number' ? decimal(r.value) : noNul(r.value))),
  };
}

function compileField(column: string, key: string, condition: unknown, type?: FieldIndexType): Expr {
  const e = compileFieldCase(column, key, condition);
  if (typeof e === 'boolean') return e;
  const formula = formulaOf(condition);
  const pre = prefilter(column, key, formula) ?? (type === undefined ? undefined : rangePrefilter(column, key, formula, type));
  return pre === undefined ? e : { sql: `(${pre.sql} AND ${e.sql})`, params: [...pre.params, ...e.params] };
}

function compileFieldCase(column: string, key: string, condition: unknown): Expr {
  const formula = formulaOf(condition);
  const missing = formulaAt(formula, 'missing', column, key);
  if (typeof missing !== 'boolean') throw new Error('where: a missing field must fold to a constant');
  const whens: [Branch, Expr][] = [];
  for (const branch of BRANCHES) {
    const e = formulaAt(formula, branch, column, key);
    if (e !== missing) whens.push([branch, e]);
  }
  if (whens.length === 0) return missing;
  if (whens.length === BRANCHES.length && whens.every(([, e]) => e === !missing)) {
    return { sql: `(jsonb_typeof(${column} -> ?::text) IS ${missing ? '' : 'NOT '}NULL)`, params: [key] };
  }
  const t = typeCase(column, key);
  const params: unknown[] = [...t.params];
  let sql = `(CASE ${t.sql}`;
  for (const [branch, e] of whens) {
    if (typeof e === 'boolean') sql += ` WHEN '${branch}' THEN ${e ? 'TRUE' : 'FALSE'}`;
    else { sql += ` WHEN '${branch}' THEN ${e.sql}`; params.push(...e.params); }
  }
  sql += ` ELSE ${missing ? 'TRUE' : 'FALSE'} END)`;
  return { sql, params };
}

/**
 * Both filters as one PostgreSQL boolean expression (`TRUE` when absent) with `$n` placeholders
 * numbered from `firstParam`, over the given `metadata` (jsonb) and `document` (text) columns.
 * Validates the filters first.
 */
export function compileFilterPg(
  where: Where | undefined,
  whereDocument: WhereDocument | undefined,
  columns: { metadata: string; document: string },
  firstParam = 1,
  fieldIndexes?: FieldIndexMap,
): { sql: string; params: unknown[] } {
  const parts: Expr[] = [];
  if (where !== undefined && where !== null) {
    checkWhere(where);
    parts.push(compileWhere(where, (key, condition) => compileField(columns.metadata, key, condition, fieldIndexes?.get(key))));
  }
  if (whereDocument !== undefined && whereDocument !== null) {
    checkWhereDocument(whereDocument);
    const column = columns.document;
    parts.push(compileWhereDocument(whereDocument, (needle, negated) => (negated
      ? { sql: `(${column} IS NULL OR strpos(${column}, ?::text) = 0)`, params: [noNul(needle)] }
      : { sql: `(${column} IS NOT NULL AND strpos(${column}, ?::text) > 0)`, params: [noNul(needle)] })));
  }
  const e = sqlAnd(parts);
  if (typeof e === 'boolean') return { sql: e ? 'TRUE' : 'FALSE', params: [] };
  // `?` never appears in the SQL above but as a placeholder (no jsonb `?` operators, no literals with one).
  let n = firstParam;
  return { sql: e.sql.replace(/\?/g, () => `$${n++}`), params: e.params };
}
