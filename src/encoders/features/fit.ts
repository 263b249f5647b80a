/**
 * Fitting a feature schema: one pass over rows learns what the schema does not state — each
 * categorical field's categories (the `maxCategories` most frequent, seen in at least `minCount`
 * rows, ties in first-seen order) and each numeric field's mean, standard deviation, minimum and
 * maximum. What the schema states is kept as it is. Design: docs/features.md#fitting.
 */
import { OmnivecError } from '../../errors.js';
import { fieldDims } from './encoder.js';
import { MAX_FEATURE_DIM, missingStatistics, parseFeatureSchema, type ResolvedField, type ResolvedSchema } from './schema.js';
import { categoryOf, checkRow, isMissing, numberOf, tokensOf, valueOf, type FeatureRow } from './values.js';

/** What fitting saw and learnt for one field. */
export interface FieldFitReport {
  name: string;
  type: ResolvedField['type'];
  /** What was learnt: `categories`, `mean`, `std`, `min`, `max` (empty when the schema stated it all). */
  learnt: string[];
  /** Rows where the field was absent or empty (counted for the fields that learnt something). */
  missing?: number;
  /** Categorical: distinct categories seen. */
  distinct?: number;
  /** Categorical: categories kept (the slice's columns, without the unknown bucket). */
  kept?: number;
}

interface CategoricalState { kind: 'categorical'; counts: Map<string, number>; missing: number }
interface NumericState { kind: 'numeric'; n: number; mean: number; m2: number; min: number; max: number; missing: number }
type State = CategoricalState | NumericState | null;

/**
 * Learns a schema's missing categories and statistics from rows given one at a time (for inputs
 * streamed from a file); `fitFeatureSchema` is the one-call form.
 */
export class FeatureFitter {
  readonly #schema: ResolvedSchema;
  readonly #states: State[];
  #rows = 0;
  #report: FieldFitReport[] | undefined;

  /** Validates `schema` (object or JSON text); throws `invalid_argument` for a malformed one. */
  constructor(schema: unknown) {
    this.#schema = parseFeatureSchema(schema);
    this.#states = this.#schema.fields.map((f): State => {
      if (missingStatistics(f).length === 0) return null;
      if (f.type === 'numeric') return { kind: 'numeric', n: 0, mean: 0, m2: 0, min: Infinity, max: -Infinity, missing: 0 };
      return { kind: 'categorical', counts: new Map(), missing: 0 };
    });
  }

  /** Rows added so far. */
  get rows(): number {
    return this.#rows;
  }

  /** Whether the schema lacks anything that rows must supply. */
  get needsRows(): boolean {
    return this.#states.some((s) => s !== null);
  }

  /** Adds one row; `label` names it in errors (default `row N`). */
  add(row: FeatureRow, label = `row ${this.#rows}`): void {
    checkRow(row, label);
    const fields = this.#schema.fields;
    for (let i = 0; i < fields.length; i++) {
      const s = this.#states[i];
      if (s === null || s === undefined) continue;
      const f = fields[i]!;
      const v = valueOf(row, f.name);
      if (isMissing(v)) { s.missing++; continue; }
      if (s.kind === 'numeric') {
        const x = numberOf(v, label, f.name);
        // Welford's running mean and sum of squared deviations.
        s.n++;
        const d = x - s.mean;
        s.mean += d / s.n;
        s.m2 += d * (x - s.mean);
        if (x < s.min) s.min = x;
        if (x > s.max) s.max = x;
      } else if (f.type === 'onehot') {
        const c = categoryOf(v, label, f.name);
        if (c === '') s.missing++;
        else s.counts.set(c, (s.counts.get(c) ?? 0) + 1);
      } else if (f.type === 'multihot') {
        // Counted once per row (document frequency), however often a row lists it.
        const tokens = new Set(tokensOf(v, f.separator, label, f.name));
        for (const c of tokens) s.counts.set(c, (s.counts.get(c) ?? 0) + 1);
      }
    }
    this.#rows++;
  }

  /**
   * The complete schema: the input schema with the learnt categories and statistics written in.
   * Throws `invalid_argument` when something had to be learnt and there were no rows, when a
   * numeric field had no value, or when no category of a field reached `minCount`.
   */
  finish(): ResolvedSchema {
    const fields = this.#schema.fields;
    const needing = fields.filter((_, i) => this.#states[i] !== null);
    if (this.#rows === 0 && needing.length > 0) {
      throw new OmnivecError('invalid_argument',
        `fit: expected rows to learn from, got none (empty input); ${needing.map((f) => `${JSON.stringify(f.name)} needs ${missingStatistics(f).join(', ')}`).join('; ')}`);
    }
    const report: FieldFitReport[] = [];
    const out = fields.map((f, i): ResolvedField => {
      const s = this.#states[i];
      const r: FieldFitReport = { name: f.name, type: f.type, learnt: [] };
      report.push(r);
      if (s === null || s === undefined) return { ...f } as ResolvedField;
      r.missing = s.missing;
      r.learnt = missingStatistics(f);
      if (s.kind === 'numeric') {
        const g = { ...f } as Extract<ResolvedField, { type: 'numeric' }>;
        if (s.n === 0) {
          throw new OmnivecError('invalid_argument',
            `fit: field ${JSON.stringify(f.name)}: expected numbers to learn ${r.learnt.join(', ')} from, got none (missing in all ${this.#rows} rows)`);
        }
        g.mean ??= s.mean;
        g.std ??= Math.sqrt(s.m2 / s.n);
        g.min ??= s.min;
        g.max ??= s.max;
        r.learnt = ['mean', 'std', 'min', 'max'].filter((k) => f[k as keyof typeof f] === undefined);
        return g;
      }
      const g = { ...f } as Extract<ResolvedField, { type: 'onehot' | 'multihot' }>;
      // A Map iterates in insertion (first-seen) order and Array#sort is stable: ties stay first-seen.
      const ranked = [...s.counts].filter(([, n]) => n >= g.minCount).sort((a, b) => b[1] - a[1]);
      r.distinct = s.counts.size;
      if (ranked.length === 0) {
        throw new OmnivecError('invalid_argument',
          `fit: field ${JSON.stringify(f.name)}: expected categories seen in at least minCount (${g.minCount}) rows, got ` +
          (s.counts.size === 0 ? `no value in ${this.#rows} rows` : `${s.counts.size} distinct, none that often`));
      }
      g.categories = ranked.slice(0, g.maxCategories).map(([c]) => c);
      r.kept = g.categories.length;
      return g;
    });
    let total = 0;
    for (const f of out) total += fieldDims(f);
    if (total > MAX_FEATURE_DIM) {
      throw new OmnivecError('invalid_argument', `fit: the fitted schema has ${total} dimensions, more than ${MAX_FEATURE_DIM}; lower maxCategories or dims`);
    }
    this.#report = report;
    return { version: this.#schema.version, fields: out, normalize: this.#schema.normalize };
  }

  /** What the last `finish` learnt, field by field. */
  report(): FieldFitReport[] {
    if (this.#report === undefined) throw new OmnivecError('invalid_argument', 'report: call finish() first');
    return this.#report.map((r) => ({ ...r, learnt: [...r.learnt] }));
  }
}

/**
 * Fits a feature schema on rows: returns the complete schema (every default written out, the
 * categories and statistics the schema did not state learnt from `rows`), ready for
 * `new FeatureEncoder(schema)` and for `JSON.stringify`. Row i is named `row i` in errors.
 */
export function fitFeatureSchema(schema: unknown, rows: Iterable<FeatureRow>): ResolvedSchema {
  const fitter = new FeatureFitter(schema);
  if (rows === null || typeof rows !== 'object' || typeof (rows as Iterable<FeatureRow>)[Symbol.iterator] !== 'function') {
    throw new OmnivecError('invalid_argument', 'rows: expected an iterable of row objects');
  }
  for (const row of rows) fitter.add(row);
  return fitter.finish();
}
