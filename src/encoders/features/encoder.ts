/**
 * `FeatureEncoder`: a complete (fitted) feature schema applied to rows — each field's slice written
 * at its offset, fields in schema order, optionally the whole vector scaled to unit length.
 * Design: docs/features.md.
 */
import { OmnivecError } from '../../errors.js';
import type { VectorBatch } from '../../vector/batch.js';
import { normalizeInPlace } from '../../vector/normalize.js';
import { hashSlot } from './hash.js';
import {
  MAX_FEATURE_DIM, categoricalDims, missingStatistics, parseFeatureSchema,
  type FeatureType, type ResolvedField, type ResolvedSchema,
} from './schema.js';
import { categoryOf, checkRow, isMissing, numberOf, rowError, tokensOf, valueOf, type FeatureRow } from './values.js';

/** Where a field's columns are in the vector. */
export interface FeatureSlice {
  name: string;
  type: FeatureType;
  /** First column of the slice. */
  offset: number;
  /** Number of columns. */
  dims: number;
  /** Categorical fields: the category of each column, in order (column `offset + i` is `categories[i]`). */
  categories?: string[];
  /** Categorical fields with `unknown: 'bucket'`: the last column (`offset + dims − 1`) counts unknown categories. */
  unknownBucket?: boolean;
}

/** One non-zero component of a vector, as `explain` names it. */
export interface FeatureComponent {
  /** Column in the vector. */
  index: number;
  field: string;
  /** The category, `(unknown)` for the bucket, the field name for a numeric column, `#j` for column j of a hashed slice. */
  label: string;
  value: number;
}

interface Plan {
  field: ResolvedField;
  offset: number;
  dims: number;
  /** Categorical: category → column within the slice. */
  index?: Map<string, number>;
}

/** Refuses a schema whose vectors would be wider than MAX_FEATURE_DIM. */
function totalDims(plans: { field: ResolvedField; dims: number }[]): number {
  let total = 0;
  for (const p of plans) {
    total += p.dims;
    if (total > MAX_FEATURE_DIM) {
      throw new OmnivecError('invalid_argument',
        `schema: expected at most ${MAX_FEATURE_DIM} dimensions in all, got more by field ${JSON.stringify(p.field.name)} (lower maxCategories or dims)`);
    }
  }
  return total;
}

/** Columns of a field's slice (categorical fields: once their categories are known). */
export function fieldDims(f: ResolvedField): number {
  if (f.type === 'onehot' || f.type === 'multihot') return categoricalDims(f);
  if (f.type === 'hashed') return f.dims;
  return 1;
}

/**
 * Encodes rows (objects of field → value) into vectors by a complete feature schema: every
 * categorical field has its categories and every numeric field the statistics its scale and missing
 * policy use (fit the schema first with `fitFeatureSchema` when they are not written in it).
 *
 * ```ts
 * const schema = fitFeatureSchema({ fields: [{ name: 'genre', type: 'onehot' }, { name: 'rating', type: 'numeric', scale: 'minmax' }] }, rows);
 * const enc = new FeatureEncoder(schema);
 * enc.encode({ genre: 'Drama', rating: '7.5' });   // Float32Array(enc.dim)
 * enc.layout();                                      // [{ name: 'genre', type: 'onehot', offset: 0, dims: 10, categories: [...] }, ...]
 * JSON.stringify(enc.schema);                        // reproduces the encoder: new FeatureEncoder(JSON.parse(text))
 * ```
 */
export class FeatureEncoder {
  /** The complete schema, every default written out: serialise it to encode the same way later. */
  readonly schema: ResolvedSchema;
  /** Components of every vector. */
  readonly dim: number;
  readonly #plans: Plan[];

  /**
   * Validates `schema` (an object or its JSON text). Throws `invalid_argument` for a malformed
   * schema and `not_trained` naming the first field whose categories or statistics are missing.
   */
  constructor(schema: unknown) {
    const s = parseFeatureSchema(schema);
    s.fields.forEach((f, i) => {
      const need = missingStatistics(f);
      if (need.length > 0) {
        throw new OmnivecError('not_trained',
          `schema.fields[${i}] (${JSON.stringify(f.name)}): no ${need.join(', ')}; fit the schema on data first ` +
          `(fitFeatureSchema, or omnivec encode features --fit) or write them in the schema` +
          (f.type === 'numeric' && f.scale !== 'standard' && need.includes('mean') ? ' (missing: "mean" uses the mean; missing: "zero" does without)' : ''),
          { field: f.name, missing: need });
      }
    });
    this.schema = s;
    let offset = 0;
    const plans: Plan[] = s.fields.map((field) => {
      const dims = fieldDims(field);
      const plan: Plan = { field, offset, dims };
      if (field.type === 'onehot' || field.type === 'multihot') plan.index = new Map(field.categories!.map((c, i) => [c, i]));
      offset += dims;
      return plan;
    });
    this.dim = totalDims(plans);
    this.#plans = plans;
  }

  /** Builds an encoder from a saved schema (an object or JSON text); the same as the constructor. */
  static fromJSON(schema: unknown): FeatureEncoder {
    return new FeatureEncoder(schema);
  }

  /** The complete schema (for `JSON.stringify`). */
  toJSON(): ResolvedSchema {
    return this.schema;
  }

  /** Each field's slice: name, type, first column, number of columns, and the categories' order. */
  layout(): FeatureSlice[] {
    return this.#plans.map(({ field, offset, dims }) => {
      const s: FeatureSlice = { name: field.name, type: field.type, offset, dims };
      if (field.type === 'onehot' || field.type === 'multihot') {
        s.categories = [...field.categories!];
        if (field.unknown === 'bucket') s.unknownBucket = true;
      }
      return s;
    });
  }

  /** A readable name of column `j`: `genre=Drama`, `genre=(unknown)`, `duration`, `tags#17`. */
  columnName(j: number): string {
    const { field, label } = this.#locate(j);
    return field.type === 'numeric' ? label : field.type === 'hashed' ? `${field.name}${label}` : `${field.name}=${label}`;
  }

  #locate(j: number): { field: ResolvedField; label: string } {
    if (!Number.isInteger(j) || j < 0 || j >= this.dim) {
      throw new OmnivecError('invalid_argument', `column: expected an integer from 0 to ${this.dim - 1}, got ${String(j)}`);
    }
    let lo = 0;
    let hi = this.#plans.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#plans[mid]!.offset <= j) lo = mid;
      else hi = mid - 1;
    }
    // Every slice has at least one column, so offsets strictly increase.
    const p = this.#plans[lo]!;
    const k = j - p.offset;
    const f = p.field;
    if (f.type === 'numeric') return { field: f, label: f.name };
    if (f.type === 'hashed') return { field: f, label: `#${k}` };
    return { field: f, label: k < f.categories!.length ? f.categories![k]! : '(unknown)' };
  }

  /** The non-zero components of a vector of this encoder, named by field and category. */
  explain(vector: ArrayLike<number>): FeatureComponent[] {
    if (vector === null || typeof vector !== 'object' || vector.length !== this.dim) {
      throw new OmnivecError('dimension_mismatch', `vector: expected ${this.dim} components, got ${vector?.length ?? String(vector)}`);
    }
    const out: FeatureComponent[] = [];
    for (let j = 0; j < this.dim; j++) {
      const value = vector[j]!;
      if (value === 0) continue;
      const { field, label } = this.#locate(j);
      out.push({ index: j, field: field.name, label, value });
    }
    return out;
  }

  /**
   * Encodes one row into a new vector. `label` names the row in errors (default "row"): a value
   * that is not a number in a numeric field, a missing value under `missing: 'error'`, a category
   * outside the list under `unknown: 'error'` are `invalid_argument` naming the row and the field.
   */
  encode(row: FeatureRow, label = 'row'): Float32Array {
    const out = new Float32Array(this.dim);
    this.encodeInto(row, out, 0, label);
    return out;
  }

  /** Encodes one row into `out[offset, offset + dim)` (overwriting it). */
  encodeInto(row: FeatureRow, out: Float32Array, offset = 0, label = 'row'): void {
    checkRow(row, label);
    if (!(out instanceof Float32Array) || !Number.isInteger(offset) || offset < 0 || offset + this.dim > out.length) {
      throw new OmnivecError('invalid_argument', `out: expected a Float32Array with ${this.dim} components from offset ${String(offset)}`);
    }
    out.fill(0, offset, offset + this.dim);
    for (const p of this.#plans) this.#encodeField(p, valueOf(row, p.field.name), out, offset + p.offset, label);
    if (this.schema.normalize) normalizeInPlace(out, offset, this.dim);
  }

  /** Encodes rows into one batch (`count × dim`); row i is named `row i` in errors. */
  encodeBatch(rows: Iterable<FeatureRow>): VectorBatch {
    if (rows === null || typeof rows !== 'object' || typeof (rows as Iterable<FeatureRow>)[Symbol.iterator] !== 'function') {
      throw new OmnivecError('invalid_argument', 'rows: expected an iterable of row objects');
    }
    const list = Array.isArray(rows) ? (rows as FeatureRow[]) : [...rows];
    const data = new Float32Array(list.length * this.dim);
    list.forEach((r, i) => this.encodeInto(r, data, i * this.dim, `row ${i}`));
    return { data, dim: this.dim, count: list.length };
  }

  #encodeField(p: Plan, v: unknown, out: Float32Array, at: number, row: string): void {
    const f = p.field;
    const w = f.weight;
    const missing = isMissing(v);
    if (missing && f.missing === 'error') throw rowError(row, f.name, 'a value (the field\'s missing policy is "error")', v === undefined ? 'no such field' : v === null ? 'null' : 'an empty value');
    switch (f.type) {
      case 'onehot': {
        if (missing) return;
        const c = categoryOf(v, row, f.name);
        if (c === '') return;
        const k = p.index!.get(c);
        if (k !== undefined) out[at + k] = w;
        else this.#unknown(p, c, out, at, row);
        return;
      }
      case 'multihot': {
        if (missing) return;
        for (const c of tokensOf(v, f.separator, row, f.name)) {
          const k = p.index!.get(c);
          if (k !== undefined) out[at + k] = w;
          else this.#unknown(p, c, out, at, row);
        }
        return;
      }
      case 'numeric': {
        let x: number;
        if (missing) {
          if (f.missing === 'zero') return;
          x = f.mean!;
        } else {
          x = numberOf(v, row, f.name);
        }
        const y = scaleValue(f, x) * w;
        if (!Number.isFinite(Math.fround(y))) {
          throw rowError(row, f.name, `a value whose scaled form fits a float32 (scale ${f.scale})`, `${x}, scaled to ${y}`);
        }
        out[at] = y;
        return;
      }
      case 'hashed': {
        if (missing) return;
        for (const t of tokensOf(v, f.separator, row, f.name)) {
          const { index, sign } = hashSlot(t, f.dims, f.seed);
          out[at + index] = out[at + index]! + (f.signed ? sign * w : w);
        }
        return;
      }
    }
  }

  #unknown(p: Plan, category: string, out: Float32Array, at: number, row: string): void {
    const f = p.field as Extract<ResolvedField, { type: 'onehot' | 'multihot' }>;
    if (f.unknown === 'ignore') return;
    if (f.unknown === 'bucket') { out[at + p.dims - 1] = f.weight; return; }
    const some = f.categories!.slice(0, 5).map((c) => JSON.stringify(c)).join(', ');
    throw rowError(row, f.name, `one of its ${f.categories!.length} categories (${some}${f.categories!.length > 5 ? ', …' : ''})`,
      `the unknown category ${JSON.stringify(category)}`);
  }
}

/**
 * A numeric field's scaling of a raw value `x` (before the weight):
 * standard (x − mean) / std (std 0 → x − mean), minmax (x − min) / (max − min) (max = min → x − min),
 * log sign(x)·ln(1 + |x|), none x.
 */
export function scaleValue(f: Extract<ResolvedField, { type: 'numeric' }>, x: number): number {
  switch (f.scale) {
    case 'none': return x;
    case 'standard': return f.std! > 0 ? (x - f.mean!) / f.std! : x - f.mean!;
    case 'minmax': return f.max! > f.min! ? (x - f.min!) / (f.max! - f.min!) : x - f.min!;
    case 'log': return Math.sign(x) * Math.log1p(Math.abs(x));
  }
}
