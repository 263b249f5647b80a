// Colouring the map by a metadata field: categories get distinct colours (most frequent first, the
// rest grouped as "other"), a numeric field with many values gets a gradient.

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
 * @returns {{ colorIndex: Uint16Array, colors: string[], legend: {color: string, label: string, count?: number}[], kind: 'none' | 'category' | 'number' }}
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
  if (numbers === present && present > 0 && distinct.size > PALETTE.length) {
    // A gradient in 32 steps: enough to read, few enough colours to keep one path per colour.
    let lo = Infinity, hi = -Infinity;
    for (const v of values) if (typeof v === 'number') { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const steps = 32;
    const colors = [MISSING];
    for (let s = 0; s < steps; s++) colors.push(ramp(s / (steps - 1)));
    for (let i = 0; i < count; i++) {
      const v = values[i];
      colorIndex[i] = typeof v === 'number' ? 1 + Math.round(((v - lo) / (hi - lo || 1)) * (steps - 1)) : 0;
    }
    const fmt = (x) => (Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-2 && x !== 0) ? x.toExponential(2) : String(+x.toFixed(3)));
    const legend = [
      { color: ramp(0), label: fmt(lo) },
      { color: ramp(0.5), label: fmt((lo + hi) / 2) },
      { color: ramp(1), label: fmt(hi) },
    ];
    if (present < count) legend.push({ color: MISSING, label: '(none)', count: count - present });
    return { colorIndex, colors, legend, kind: 'number' };
  }
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
