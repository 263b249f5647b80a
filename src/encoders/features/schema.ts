/**
 * The feature schema: a JSON description of how the fields of a row (a CSV line, a JSON object)
 * become one vector — one-hot, multi-hot, numeric and hashed slices concatenated in schema order.
 * `parseFeatureSchema` validates a schema written by hand (or read back from a file) and fills in
 * every default, so that a saved schema states everything that decides its vectors.
 * Reference: docs/features.md.
 */
import { OmnivecError, describe } from '../../errors.js';
import { isPlainObject } from '../../checks.js';

/** The largest vector a schema may describe (the database's and the file formats' limit). */
export const MAX_FEATURE_DIM = 65536;

/** The schema format version written into fitted schemas. */
export const FEATURE_SCHEMA_VERSION = 1;

/** What to do with a category the field does not know (not in `categories`). */
export type UnknownPolicy = 'ignore' | 'error' | 'bucket';

/** What to do with a row where the field is absent, null or an empty string. */
export type MissingPolicy = 'zero' | 'error';

export type NumericScale = 'standard' | 'minmax' | 'none' | 'log';

export type NumericMissing = 'mean' | 'zero' | 'error';

interface FieldBase {
  /** The row's key (CSV column) the field reads; also its name in the layout. */
  name: string;
  /** Every component of the field's slice is multiplied by this (default 1). */
  weight?: number;
}

interface CategoricalBase extends FieldBase {
  /** The categories, in slice order. Learnt by fitting when not given. */
  categories?: string[];
  /** Fitting keeps at most this many categories, the most frequent (default 1000). */
  maxCategories?: number;
  /** Fitting keeps categories seen in at least this many rows (default 1). */
  minCount?: number;
  /** A value outside `categories`: 'ignore' (default) adds nothing, 'error' refuses the row, 'bucket' sets one extra last column. */
  unknown?: UnknownPolicy;
  /** An absent / empty value: 'zero' (default) leaves the slice at zero, 'error' refuses the row. */
  missing?: MissingPolicy;
}

/** One category per row: a slice of `categories.length` columns with one set. */
export interface OneHotField extends CategoricalBase {
  type: 'onehot';
}

/** A list of categories per row (`"a|b|c"` or an array): one column per category, several set. */
export interface MultiHotField extends CategoricalBase {
  type: 'multihot';
  /** Splits a text value into categories (default "|"). */
  separator?: string;
}

/** One number per row, scaled into one column. */
export interface NumericField extends FieldBase {
  type: 'numeric';
  /** 'standard' (default): (x − mean) / std; 'minmax': (x − min) / (max − min); 'log': sign(x)·ln(1 + |x|); 'none': x. */
  scale?: NumericScale;
  /** An absent / empty value: 'mean' (default) stands in the fitted mean, 'zero' writes 0 in the column, 'error' refuses the row. */
  missing?: NumericMissing;
  /** Statistics of the raw values, learnt by fitting when not given. */
  mean?: number;
  std?: number;
  min?: number;
  max?: number;
}

/** Tokens hashed into a fixed number of columns (the hashing trick): no vocabulary to fit. */
export interface HashedField extends FieldBase {
  type: 'hashed';
  /** Columns of the slice. */
  dims: number;
  /** Splits a text value into tokens; without it the whole value is one token. */
  separator?: string;
  /** Sign hashing: a token adds ±1 by a bit of its hash (default true), else +1. */
  signed?: boolean;
  /** MurmurHash3 seed, an unsigned 32-bit integer (default 0). */
  seed?: number;
  /** An absent / empty value: 'zero' (default) or 'error'. */
  missing?: MissingPolicy;
}

export type FeatureField = OneHotField | MultiHotField | NumericField | HashedField;

export type FeatureType = FeatureField['type'];

/** A feature schema as written in JSON. */
export interface FeatureSchema {
  /** The schema format version (1); optional in hand-written schemas. */
  version?: number;
  fields: FeatureField[];
  /** Scale each whole vector to unit length after concatenation (default false). */
  normalize?: boolean;
}

/** A field with every default filled in (what a fitted schema holds). */
export type ResolvedField =
  | (Required<Omit<OneHotField, 'categories'>> & { categories?: string[] })
  | (Required<Omit<MultiHotField, 'categories'>> & { categories?: string[] })
  | (Required<Omit<NumericField, 'mean' | 'std' | 'min' | 'max'>> & Pick<NumericField, 'mean' | 'std' | 'min' | 'max'>)
  | (Required<Omit<HashedField, 'separator'>> & { separator?: string });

/** A schema with every default filled in. */
export interface ResolvedSchema {
  version: number;
  fields: ResolvedField[];
  normalize: boolean;
}

const TYPES: readonly FeatureType[] = ['onehot', 'multihot', 'numeric', 'hashed'];
const UNKNOWN: readonly UnknownPolicy[] = ['ignore', 'error', 'bucket'];
const MISSING: readonly MissingPolicy[] = ['zero', 'error'];
const SCALES: readonly NumericScale[] = ['standard', 'minmax', 'none', 'log'];
const NUMERIC_MISSING: readonly NumericMissing[] = ['mean', 'zero', 'error'];

const KEYS: Record<FeatureType, readonly string[]> = {
  onehot: ['name', 'type', 'weight', 'categories', 'maxCategories', 'minCount', 'unknown', 'missing'],
  multihot: ['name', 'type', 'weight', 'categories', 'maxCategories', 'minCount', 'unknown', 'missing', 'separator'],
  numeric: ['name', 'type', 'weight', 'scale', 'missing', 'mean', 'std', 'min', 'max'],
  hashed: ['name', 'type', 'weight', 'dims', 'separator', 'signed', 'seed', 'missing'],
};

function fail(path: string, expected: string, value: unknown): never {
  throw new OmnivecError('invalid_argument', `${path}: expected ${expected}, got ${describe(value)}`, { path });
}

function oneOf<T extends string>(path: string, list: readonly T[], v: unknown, fallback: T): T {
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !list.includes(v as T)) fail(path, `one of ${list.map((x) => JSON.stringify(x)).join(', ')}`, v);
  return v as T;
}

function integer(path: string, v: unknown, min: number, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(path, `an integer from ${min} to ${max}`, v);
  return v;
}

function finite(path: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, 'a finite number', v);
  return v;
}

function bool(path: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') fail(path, 'true or false', v);
  return v;
}

function separatorOf(path: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') fail(path, 'a non-empty string', v);
  return v;
}

function categoriesOf(path: string, v: unknown, separator: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0) fail(path, 'a non-empty array of category names', v);
  if (v.length > MAX_FEATURE_DIM) fail(path, `at most ${MAX_FEATURE_DIM} categories`, v);
  const seen = new Set<string>();
  v.forEach((c: unknown, i) => {
    const p = `${path}[${i}]`;
    if (typeof c !== 'string' || c === '' || c.trim() !== c) fail(p, 'a non-empty string without leading or trailing spaces', c);
    if (separator !== undefined && c.includes(separator)) fail(p, `a category without the separator ${JSON.stringify(separator)}`, c);
    if (seen.has(c)) throw new OmnivecError('invalid_argument', `${p}: expected distinct categories, got ${JSON.stringify(c)} a second time`, { path: p });
    seen.add(c);
  });
  return [...v] as string[];
}

function resolveField(raw: unknown, path: string): ResolvedField {
  if (!isPlainObject(raw)) fail(path, 'a field object { "name", "type", ... }', raw);
  const name = raw.name;
  if (typeof name !== 'string' || name === '') fail(`${path}.name`, 'a non-empty string', name);
  const at = `${path} (${JSON.stringify(name)})`;
  const type = raw.type;
  if (typeof type !== 'string' || !TYPES.includes(type as FeatureType)) {
    fail(`${at}.type`, `one of ${TYPES.map((t) => JSON.stringify(t)).join(', ')}`, type);
  }
  const t = type as FeatureType;
  for (const key of Object.keys(raw)) {
    if (!KEYS[t].includes(key)) {
      throw new OmnivecError('invalid_argument',
        `${at}.${key}: not an option of a ${t} field (expected one of ${KEYS[t].join(', ')})`, { path: `${at}.${key}` });
    }
  }
  const weight = finite(`${at}.weight`, raw.weight) ?? 1;
  if (!(weight > 0)) fail(`${at}.weight`, 'a number greater than 0', weight);
  switch (t) {
    case 'onehot':
    case 'multihot': {
      const separator = t === 'multihot' ? (separatorOf(`${at}.separator`, raw.separator) ?? '|') : undefined;
      const f = {
        name, type: t, weight,
        maxCategories: integer(`${at}.maxCategories`, raw.maxCategories, 1, MAX_FEATURE_DIM, 1000),
        minCount: integer(`${at}.minCount`, raw.minCount, 1, Number.MAX_SAFE_INTEGER, 1),
        unknown: oneOf(`${at}.unknown`, UNKNOWN, raw.unknown, 'ignore'),
        missing: oneOf(`${at}.missing`, MISSING, raw.missing, 'zero'),
      } as ResolvedField & { categories?: string[]; separator?: string };
      if (separator !== undefined) f.separator = separator;
      const categories = categoriesOf(`${at}.categories`, raw.categories, separator);
      if (categories !== undefined) f.categories = categories;
      return f;
    }
    case 'numeric': {
      const f: ResolvedField = {
        name, type: t, weight,
        scale: oneOf(`${at}.scale`, SCALES, raw.scale, 'standard'),
        missing: oneOf(`${at}.missing`, NUMERIC_MISSING, raw.missing, 'mean'),
      };
      const mean = finite(`${at}.mean`, raw.mean);
      const std = finite(`${at}.std`, raw.std);
      const min = finite(`${at}.min`, raw.min);
      const max = finite(`${at}.max`, raw.max);
      if (std !== undefined && std < 0) fail(`${at}.std`, 'a number of at least 0', std);
      if (min !== undefined && max !== undefined && min > max) fail(`${at}.max`, `a number of at least min (${min})`, max);
      if (mean !== undefined) f.mean = mean;
      if (std !== undefined) f.std = std;
      if (min !== undefined) f.min = min;
      if (max !== undefined) f.max = max;
      return f;
    }
    case 'hashed': {
      if (raw.dims === undefined) fail(`${at}.dims`, `the number of columns, an integer from 1 to ${MAX_FEATURE_DIM}`, raw.dims);
      const f: ResolvedField = {
        name, type: t, weight,
        dims: integer(`${at}.dims`, raw.dims, 1, MAX_FEATURE_DIM, 0),
        signed: bool(`${at}.signed`, raw.signed, true),
        seed: integer(`${at}.seed`, raw.seed, 0, 0xffffffff, 0),
        missing: oneOf(`${at}.missing`, MISSING, raw.missing, 'zero'),
      };
      const separator = separatorOf(`${at}.separator`, raw.separator);
      if (separator !== undefined) f.separator = separator;
      return f;
    }
  }
}

/**
 * Validates a feature schema (an object, or its JSON text) and returns it with every default filled
 * in. Throws `invalid_argument` naming the field and option (`schema.fields[2] ("genre").unknown:
 * expected one of "ignore", "error", "bucket", got the string "skip"`). Unknown options are refused
 * (a misspelt `seperator` would otherwise be silently ignored). Categories and numeric statistics
 * may be missing: `fitFeatureSchema` learns them.
 */
export function parseFeatureSchema(schema: unknown): ResolvedSchema {
  let raw = schema;
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw);
    } catch (e) {
      throw new OmnivecError('invalid_argument', `schema: expected JSON, got invalid JSON (${(e as Error).message})`);
    }
  }
  if (!isPlainObject(raw)) fail('schema', 'an object { "fields": [...], "normalize"?: false }', raw);
  for (const key of Object.keys(raw)) {
    if (key !== 'fields' && key !== 'normalize' && key !== 'version') {
      throw new OmnivecError('invalid_argument', `schema.${key}: not a schema option (expected fields, normalize, version)`, { path: `schema.${key}` });
    }
  }
  const version = integer('schema.version', raw.version, 1, Number.MAX_SAFE_INTEGER, FEATURE_SCHEMA_VERSION);
  if (version > FEATURE_SCHEMA_VERSION) {
    throw new OmnivecError('unsupported_version',
      `schema.version: expected ${FEATURE_SCHEMA_VERSION} (this omnivec's feature schema), got ${version}; upgrade omnivec`);
  }
  const fields = raw.fields;
  if (!Array.isArray(fields) || fields.length === 0) fail('schema.fields', 'a non-empty array of fields', fields);
  const resolved = fields.map((f: unknown, i) => resolveField(f, `schema.fields[${i}]`));
  const names = new Set<string>();
  resolved.forEach((f, i) => {
    if (names.has(f.name)) {
      throw new OmnivecError('invalid_argument',
        `schema.fields[${i}].name: expected distinct field names, got ${JSON.stringify(f.name)} a second time`);
    }
    names.add(f.name);
  });
  return { version, fields: resolved, normalize: bool('schema.normalize', raw.normalize, false) };
}

/** Number of columns of a categorical field's slice (its categories, plus one for the unknown bucket). */
export function categoricalDims(f: { categories?: string[]; unknown: UnknownPolicy }): number {
  return (f.categories?.length ?? 0) + (f.unknown === 'bucket' ? 1 : 0);
}

/** What fitting must still learn for a field: an empty list when it can encode as it is. */
export function missingStatistics(f: ResolvedField): string[] {
  switch (f.type) {
    case 'onehot':
    case 'multihot':
      return f.categories === undefined ? ['categories'] : [];
    case 'numeric': {
      const need: string[] = [];
      if (f.scale === 'standard' || f.missing === 'mean') need.push('mean');
      if (f.scale === 'standard') need.push('std');
      if (f.scale === 'minmax') need.push('min', 'max');
      return need.filter((k) => f[k as 'mean'] === undefined);
    }
    case 'hashed':
      return [];
  }
}
