// Colouring the map by a metadata field: categories get distinct colours (most frequent first, the
// rest grouped as "other"), a numeric field with many values a gradient by rank (quantiles), so a
// skewed field (counts with a long tail) still spreads over the whole gradient.

/** Twelve colours far apart in hue and lightness, readable on white. */
export const PALETTE = [
  '#1f77d0', '#e8710a', '#2ca02c', '#d62728', '#8e5bc6', '#8c564b',
  '#e05fb4', '#6b6b6b', '#b5b800', '#17b3c8', '#0b3f8c', '#f2b134',
];
export const OTHER = '#b9bec7';
export const MISSING = '#dde1e6';
const DEFAULT = '#3a6fc4';

/** Gradient stops, dark blue → teal → yellow (perceptually ordered, legible for colour-blind readers). */
const RAMP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

/** @param {number} t in [0, 1] */
export function ramp(t) {
  const x = Math.min(1, Math.max(0, t)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  const c = RAMP[i].map((v, j) => Math.round(v + (RAMP[i + 1][j] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/** Fields present in the metadatas, the most common first. */
export function metadataFields(metadatas) {
  const seen = new Map();
  for (const m of metadatas ?? []) {
    if (m === null || typeof m !== 'object') continue;
    for (const k of Object.keys(m)) seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  return [...seen.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([k]) => k);
}

/** A field worth colouring by at first sight: between 2 and 20 distinct plain values. */
export function defaultField(metadatas, fields) {
  for (const f of fields) {
    const values = new Set();
    for (const m of metadatas) {
      const v = m?.[f];
      if (v === undefined || v === null || typeof v === 'object') continue;
      values.add(v);
      if (values.size > 20) break;
    }
    if (values.size >= 2 && values.size <= 20) return f;
  }
  return '';
}

function label(v) {
  if (v === undefined || v === null) return '(none)';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/**
 * The colour of every point and the legend for one field.
 * @returns {{ colorIndex: Uint16Array, colors: string[], legend: {color: string, label: string, count?: number, note?: string}[], kind: 'none' | 'category' | 'number', scale?: 'rank' }}
 *   point i is drawn in colors[colorIndex[i]]: one colour per group, so the map draws one path per colour.
 */
export function colorScheme(metadatas, count, field) {
  const colorIndex = new Uint16Array(count);
  if (!field || !metadatas) return { colorIndex, colors: [DEFAULT], legend: [], kind: 'none' };
  const values = new Array(count);
  let numbers = 0, present = 0;
  const distinct = new Map();
  for (let i = 0; i < count; i++) {
    const v = metadatas[i]?.[field];
    values[i] = v;
    if (v === undefined || v === null) continue;
    present++;
    if (typeof v === 'number' && Number.isFinite(v)) numbers++;
    const key = label(v);
    distinct.set(key, (distinct.get(key) ?? 0) + 1);
  }
  if (numbers === present && present > 0 && distinct.size > PALETTE.length) return numberScheme(values, count, present);
  const ranked = [...distinct.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shown = ranked.length > PALETTE.length ? ranked.slice(0, PALETTE.length - 1) : ranked;
  const slot = new Map(shown.map(([key], i) => [key, i]));
  const colors = [...shown.map((_, i) => PALETTE[i]), OTHER, MISSING];
  const otherSlot = shown.length, missingSlot = shown.length + 1;
  for (let i = 0; i < count; i++) {
    const v = values[i];
    colorIndex[i] = v === undefined || v === null ? missingSlot : slot.get(label(v)) ?? otherSlot;
  }
  const legend = shown.map(([key, n], i) => ({ color: PALETTE[i], label: key, count: n }));
  const others = ranked.slice(shown.length).reduce((s, [, n]) => s + n, 0);
  if (others > 0) legend.push({ color: OTHER, label: `other (${ranked.length - shown.length} values)`, count: others });
  if (present < count) legend.push({ color: MISSING, label: '(none)', count: count - present });
  return { colorIndex, colors, legend, kind: 'category' };
}

/** Gradient steps: enough to read, few enough colours to keep one path per colour. */
const STEPS = 32;
/** The legend's stops: the quantiles whose values it shows, with their names. */
const STOPS = [[0, 'min'], [0.1, '10%'], [0.25, '25%'], [0.5, 'median'], [0.75, '75%'], [0.9, '90%'], [1, 'max']];

/** A value as the legend shows it: integers in full with separators, others to 3 significant digits. */
export function formatValue(x) {
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return x.toLocaleString('en');
  if (x !== 0 && (Math.abs(x) >= 1e9 || Math.abs(x) < 1e-3)) return x.toExponential(2);
  return Number(x.toPrecision(3)).toLocaleString('en', { maximumFractionDigits: 6 });
}

/**
 * A numeric field by rank: a point's colour is its value's quantile among the mapped values (the
 * mid-rank of ties / (n − 1)), in STEPS steps, so each step holds about 1/STEPS of the points
 * whatever the distribution (a linear scale draws a long-tailed field in one colour: the tail
 * stretches the range). The price: equal colour steps are equal shares of the points, not equal
 * differences of value, so the legend gives the real values at its stops (docs/projections.md).
 */
function numberScheme(values, count, present) {
  const sorted = new Float64Array(present);
  let k = 0;
  for (const v of values) if (typeof v === 'number') sorted[k++] = v;
  sorted.sort();
  const n = sorted.length;
  /** Index of the first element ≥ v (strict: > v) in `sorted`. */
  const bound = (v, strict) => {
    let lo = 0, hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid] < v || (strict && sorted[mid] === v)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const step = (v) => {
    const rank = (bound(v, false) + bound(v, true) - 1) / 2;
    return n === 1 ? 0 : Math.round((rank / (n - 1)) * (STEPS - 1));
  };
  const colors = [MISSING];
  for (let s = 0; s < STEPS; s++) colors.push(ramp(s / (STEPS - 1)));
  const colorIndex = new Uint16Array(count);
  for (let i = 0; i < count; i++) {
    const v = values[i];
    colorIndex[i] = typeof v === 'number' ? 1 + step(v) : 0;
  }
  // The value at each stop, in the colour its points are drawn in; stops of one value are merged.
  const legend = [];
  for (const [q, name] of STOPS) {
    const value = sorted[Math.round(q * (n - 1))];
    const last = legend.at(-1);
    if (last !== undefined && last.value === value) { last.note += ` · ${name}`; continue; }
    legend.push({ color: colors[1 + step(value)], label: formatValue(value), note: name, value });
  }
  if (present < count) legend.push({ color: MISSING, label: '(none)', count: count - present });
  return { colorIndex, colors, legend, kind: 'number', scale: 'rank' };
}
