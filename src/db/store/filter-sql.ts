/**
 * What the stores' filter compilers share (store/sqlite/where-sql.ts, store/postgres/where-pg.ts):
 * SQL fragments with `?` placeholders that are true or false (never NULL) and fold constants, a
 * field condition as a formula over atoms, an `$or`'s equality branches merged into one `$in`, and
 * the walk of `where` / `whereDocument`. Each store supplies how a field, and a document's
 * `$contains`, become SQL in its dialect.
 */
import type { FieldOperator, Scalar, Where, WhereDocument } from '../where.js';

/** A piece of SQL that is true or false on every row, safe to embed as an operand (self-delimited). */
export interface Fragment {
  sql: string;
  params: unknown[];
}
/** A constant (folded at compile time) or SQL. */
export type Expr = boolean | Fragment;

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

/** `a AND b …` with constants folded (an empty list is true). */
export function sqlAnd(items: Expr[]): Expr {
  const parts: Fragment[] = [];
  for (const item of items) {
    if (item === false) return false;
    if (item !== true) parts.push(item);
  }
  if (parts.length === 0) return true;
  if (parts.length === 1) return parts[0]!;
  return joinBalanced(parts, 'AND');
}

/** `a OR b …` with constants folded (an empty list is false). */
export function sqlOr(items: Expr[]): Expr {
  const parts: Fragment[] = [];
  for (const item of items) {
    if (item === true) return true;
    if (item !== false) parts.push(item);
  }
  if (parts.length === 0) return false;
  if (parts.length === 1) return parts[0]!;
  return joinBalanced(parts, 'OR');
}

export function sqlNot(item: Expr): Expr {
  if (typeof item === 'boolean') return !item;
  return { sql: `(NOT ${item.sql})`, params: item.params };
}

/** A field condition as a formula over atoms that each hold when ANY element matches. */
export type Atom =
  | { kind: 'in'; values: Scalar[] } // $eq (one value) and $in
  | { kind: 'cmp'; op: '>' | '>=' | '<' | '<='; value: number | string }
  | { kind: 'exists' };
export type Formula =
  | { kind: 'atom'; atom: Atom }
  | { kind: 'and'; items: Formula[] }
  | { kind: 'not'; item: Formula };

const CMP = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' } as const;

/** A (validated) field condition as a formula. */
export function formulaOf(condition: unknown): Formula {
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
export function mergeOr(branches: Where[]): Where[] {
  const byKey = new Map<string, { at: number; values: Scalar[]; count: number }>();
  const out: Where[] = [];
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
  return out;
}

/** A (validated) `where` as SQL, each field's condition compiled by `field`. */
export function compileWhere(where: Where, field: (key: string, condition: unknown) => Expr): Expr {
  const parts: Expr[] = [];
  for (const key of Object.keys(where)) {
    const value = where[key];
    if (key === '$and') parts.push(sqlAnd((value as Where[]).map((w) => compileWhere(w, field))));
    else if (key === '$or') parts.push(sqlOr(mergeOr(value as Where[]).map((w) => compileWhere(w, field))));
    else if (key === '$not') parts.push(sqlNot(compileWhere(value as Where, field)));
    else parts.push(field(key, value));
  }
  return sqlAnd(parts);
}

/** A (validated) `whereDocument` as SQL, `$contains` compiled by `contains` (and negated for `$not_contains`). */
export function compileWhereDocument(wd: WhereDocument, contains: (needle: string, negated: boolean) => Fragment): Expr {
  const parts: Expr[] = [];
  for (const key of Object.keys(wd)) {
    const value = wd[key];
    switch (key) {
      case '$contains': parts.push(contains(value as string, false)); break;
      case '$not_contains': parts.push(contains(value as string, true)); break;
      case '$and': parts.push(sqlAnd((value as WhereDocument[]).map((w) => compileWhereDocument(w, contains)))); break;
      case '$or': parts.push(sqlOr((value as WhereDocument[]).map((w) => compileWhereDocument(w, contains)))); break;
    }
  }
  return sqlAnd(parts);
}
