/**
 * Payload (metadata field) indexes: what a declaration is, its checks, and which filter values an
 * index of each type can answer (docs/db.md, "Payload indexes"). The stores keep the index itself
 * (sqlite/field-index-sql.ts, postgres/field-index-pg.ts); the filter compilers use it for the
 * atoms it serves and keep the JSON path for everything else, so an answer never depends on
 * whether a field is indexed — only its cost does.
 */
import { invalidArgument } from '../errors.js';
import { got, isWellFormed, type Scalar } from './where.js';

/**
 * What an index holds of a field's values (scalars, and each element of an array value):
 * - `keyword`: strings (`$eq`/`$in`/`$ne`/`$nin`, and ranges by code point);
 * - `integer` / `float`: numbers, integers and reals alike (the filter language compares numbers
 *   numerically, so both index every number; the name records what the data is meant to be);
 * - `bool`: true and false.
 * Values of other types are not in the index; conditions on them take the JSON path.
 */
export const FIELD_INDEX_TYPES = ['keyword', 'integer', 'float', 'bool'] as const;
export type FieldIndexType = (typeof FIELD_INDEX_TYPES)[number];

export interface FieldIndexInfo {
  field: string;
  type: FieldIndexType;
}

/** The most field indexes one collection may declare (each costs a trigger pass per write). */
export const MAX_FIELD_INDEXES = 64;

/** Checks a field name as metadata keys are checked (non-empty, no leading `$`, no NUL, valid Unicode). */
export function checkFieldName(field: unknown, what = 'field'): string {
  if (typeof field !== 'string' || field === '') throw invalidArgument(`${what}: expected a non-empty metadata field name, got ${got(field)}`, { path: what });
  if (field.startsWith('$')) throw invalidArgument(`${what}: expected a metadata field name, got ${JSON.stringify(field)} (names starting with "$" are filter operators)`, { path: what });
  if (field.includes('\u0000')) throw invalidArgument(`${what}: field names may not contain NUL (U+0000)`, { path: what });
  if (!isWellFormed(field)) throw invalidArgument(`${what}: the field name has a lone surrogate (not valid Unicode)`, { path: what });
  return field;
}

export function checkFieldType(type: unknown, what = 'type'): FieldIndexType {
  if (typeof type !== 'string' || !(FIELD_INDEX_TYPES as readonly string[]).includes(type)) {
    throw invalidArgument(`${what}: expected one of ${FIELD_INDEX_TYPES.join(', ')}, got ${got(type)}`, { path: what });
  }
  return type as FieldIndexType;
}

/** True when an index of `type` holds every stored element equal to `v` (so it can answer `= v`). */
export function servesValue(type: FieldIndexType, v: Scalar): boolean {
  switch (type) {
    case 'keyword': return typeof v === 'string';
    case 'integer':
    case 'float': return typeof v === 'number';
    case 'bool': return typeof v === 'boolean';
  }
}

/** True when an index of `type` can answer a range bound of this value's type. */
export function servesRange(type: FieldIndexType, v: number | string): boolean {
  return type === 'keyword' ? typeof v === 'string' : (type === 'integer' || type === 'float') && typeof v === 'number';
}

/** The declared indexes by field, for the filter compilers. */
export type FieldIndexMap = ReadonlyMap<string, FieldIndexType>;

export function fieldIndexMap(list: readonly FieldIndexInfo[]): FieldIndexMap {
  return new Map(list.map((x) => [x.field, x.type]));
}
