import { describe, invalidArgument } from '../errors.js';
import { svgToPng } from '../encoders/image/sharp.js';

/**
 * A scatter plot of 2-D points coloured by label, as SVG (text) or PNG (the SVG rendered by
 * sharp's librsvg): the map `omnivec project` writes.
 */
export interface ScatterOptions {
  /** One label per point (colours and legend); none: one colour. */
  labels?: readonly (string | number | null | undefined)[];
  width?: number;
  height?: number;
  title?: string;
  /** Point radius in pixels (default 4, 2.5 above 2,000 points). */
  radius?: number;
}

/** Tableau 10, then darker and lighter variants for more labels. */
export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac',
  '#1f3b5c', '#8a4a0f', '#7c1f21', '#2e6461', '#2b5a24', '#8a7217', '#5b3a55', '#b04a57', '#4c3526', '#6b635f'];

const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function scatterSvg(points: Float32Array, options: ScatterOptions = {}): string {
  const n = points.length / 2;
  if (!Number.isInteger(n) || n < 1) throw invalidArgument(`points: expected [x0, y0, x1, y1, …], got ${describe(points)}`);
  const labels = options.labels;
  if (labels !== undefined && labels.length !== n) throw invalidArgument(`labels: expected ${n} labels (one per point), got ${labels.length}`);
  const width = options.width ?? 900;
  const height = options.height ?? 700;
  const legendW = labels === undefined ? 0 : 180;
  const pad = 30;
  const top = options.title === undefined ? pad : pad + 24;
  let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    minX = Math.min(minX, points[2 * i]!);
    maxX = Math.max(maxX, points[2 * i]!);
    minY = Math.min(minY, points[2 * i + 1]!);
    maxY = Math.max(maxY, points[2 * i + 1]!);
  }
  const sx = (width - legendW - 2 * pad) / (maxX - minX || 1);
  const sy = (height - top - pad) / (maxY - minY || 1);
  const names = labels === undefined ? [] : [...new Set(labels.map((l) => String(l ?? '—')))].sort();
  const colour = new Map(names.map((l, i) => [l, PALETTE[i % PALETTE.length]!]));
  const r = options.radius ?? (n > 2000 ? 2.5 : 4);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  if (options.title !== undefined) parts.push(`<text x="${pad}" y="${pad}" font-family="sans-serif" font-size="18">${escape(options.title)}</text>`);
  for (let i = 0; i < n; i++) {
    const x = pad + (points[2 * i]! - minX) * sx;
    const y = top + (maxY - points[2 * i + 1]!) * sy;
    const c = labels === undefined ? PALETTE[0] : colour.get(String(labels[i] ?? '—'));
    parts.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="${r}" fill="${c}" fill-opacity="0.8"/>`);
  }
  names.slice(0, 40).forEach((l, i) => {
    const y = top + 10 + i * 20;
    const x = width - legendW + 10;
    parts.push(`<circle cx="${x}" cy="${y}" r="6" fill="${colour.get(l)}"/>`, `<text x="${x + 14}" y="${y + 5}" font-family="sans-serif" font-size="14">${escape(l.length > 22 ? l.slice(0, 21) + '…' : l)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export async function scatterPng(points: Float32Array, options: ScatterOptions = {}): Promise<Buffer> {
  return svgToPng(scatterSvg(points, options));
}
