/**
 * Reading a row's values for the feature encoder and its fitter: what counts as missing, how a
 * value becomes category tokens or a number, and the errors that name the row and the field.
 */
import { OmnivecError, describe } from '../../errors.js';
import { parseNumber } from '../../io/common.js';

/**
 * One input row: an object of field name → value (a string, a number, a boolean, an array of those,
 * or null). Typed `object` so that rows described by an interface are accepted as they are.
 */
export type FeatureRow = object;

/** The value of `field` in a row. */
export function valueOf(row: FeatureRow, field: string): unknown {
  return (row as Record<string, unknown>)[field];
}

/** `invalid_argument` for a value of a row: `<row>, field "<name>": expected …, got …`. */
export function rowError(row: string, field: string, expected: string, got: string): OmnivecError {
  return new OmnivecError('invalid_argument', `${row}, field ${JSON.stringify(field)}: expected ${expected}, got ${got}`, { row, field });
}

/** Absent, null, or a string of spaces only. */
export function isMissing(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === 'string' && v.trim() === '');
}

/** Checks that a row is an object, naming it. */
export function checkRow(row: unknown, label: string): asserts row is FeatureRow {
  if (row === null || typeof row !== 'object' || Array.isArray(row) || ArrayBuffer.isView(row)) {
    throw new OmnivecError('invalid_argument', `${label}: expected a row object { field: value, ... }, got ${describe(row)}`, { row: label });
  }
}

function scalarText(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  if (typeof v === 'boolean') return String(v);
  return undefined;
}

/**
 * The tokens of a list value: a text split on `separator` (the whole text when it is undefined),
 * or an array of strings / numbers / booleans; each trimmed, empty ones dropped. Numbers are written
 * as JavaScript does (`3`, `2.5`).
 */
export function tokensOf(v: unknown, separator: string | undefined, row: string, field: string): string[] {
  if (typeof v === 'string') {
    const parts = separator === undefined ? [v] : v.split(separator);
    const out: string[] = [];
    for (const p of parts) {
      const t = p.trim();
      if (t !== '') out.push(t);
    }
    return out;
  }
  if (Array.isArray(v)) {
    const out: string[] = [];
    for (let i = 0; i < v.length; i++) {
      const t = scalarText(v[i]);
      if (t === undefined) throw rowError(row, field, `a list of strings or numbers, but item ${i} is`, describe(v[i]));
      if (t !== '') out.push(t);
    }
    return out;
  }
  const t = scalarText(v);
  if (t === undefined) throw rowError(row, field, 'a text or a list of strings or numbers', describe(v));
  return t === '' ? [] : [t];
}

/** The category of a one-hot value: a string (trimmed), a number or a boolean as text. */
export function categoryOf(v: unknown, row: string, field: string): string {
  if (Array.isArray(v)) throw rowError(row, field, 'one category (a string or a number; a multihot field takes lists)', describe(v));
  const t = scalarText(v);
  if (t === undefined) throw rowError(row, field, 'one category (a string or a number)', describe(v));
  return t;
}

/** The number of a numeric value: a finite number, or a text that is one (`12`, `-3.5`, `1e3`). */
export function numberOf(v: unknown, row: string, field: string): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw rowError(row, field, 'a finite number', describe(v));
    return v;
  }
  if (typeof v === 'string') {
    const n = parseNumber(v.trim());
    if (n === undefined || !Number.isFinite(n)) throw rowError(row, field, n === undefined ? 'a number' : 'a finite number', describe(v));
    return n;
  }
  throw rowError(row, field, 'a number', describe(v));
}
