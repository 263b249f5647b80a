/**
 * Results of the ANN benchmark: the rows, the ratios derived from them, and their text forms
 * (stdout table, markdown, JSON, the section of BENCHMARKS.md).
 */
import { existsSync, readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { EngineName } from './engines.js';

export type IndexName = 'flat' | 'ivf' | 'hnsw' | 'exact';

export interface ResultRow {
  dataset: string;
  engine: EngineName;
  index: IndexName;
  params: Record<string, number>;
  buildSeconds: number;
  recallAt10: number;
  qps: number;
  bytesPerVector: number | null;
  /** flat and exact: 'single' (one search call per query) or 'batch' (all queries in one call). */
  mode: 'single' | 'batch';
  bytesSource?: string;
  rssBytesPerVector?: number | null;
  /** CPU seconds ÷ wall seconds of the timed query loop and of the build (≈ 1 when single-threaded). */
  cpuPerWall: number;
  buildCpuPerWall?: number;
  [extra: string]: unknown;
}

export interface DatasetInfo {
  name: string;
  description: string;
  n: number;
  nq: number;
  dim: number;
  groundTruth: string;
  /** Lines about engines that were skipped or failed. */
  notes: string[];
  m: number;
}

export const TARGET_RECALL = 0.95;

// ---------------------------------------------------------------------------------------------
// Ratios

export interface AtRecall {
  qps: number;
  /** How the figure was obtained, for the report. */
  how: string;
  kind: 'interpolated' | 'lower-bound' | 'never';
}

/**
 * Queries/second at recall@10 = target along one sweep (in sweep order): log(QPS) interpolated
 * linearly in recall between the last point below the target and the first point at or above it.
 * When the first point already reaches the target the result is that point's QPS, a lower bound;
 * when no point does, `kind` is 'never' and `qps` is NaN.
 */
export function qpsAtRecall(points: readonly ResultRow[], label: (r: ResultRow) => string, target = TARGET_RECALL): AtRecall {
  const i = points.findIndex((p) => p.recallAt10 >= target);
  if (points.length === 0) return { qps: NaN, how: 'no points', kind: 'never' };
  if (i < 0) {
    const best = Math.max(...points.map((p) => p.recallAt10));
    return { qps: NaN, how: `never reaches ${target} (best recall ${best.toFixed(4)})`, kind: 'never' };
  }
  const b = points[i]!;
  if (i === 0) return { qps: b.qps, how: `≥ ${fmtQps(b.qps)}: already ${b.recallAt10.toFixed(4)} at ${label(b)}`, kind: 'lower-bound' };
  const a = points[i - 1]!;
  const t = (target - a.recallAt10) / (b.recallAt10 - a.recallAt10);
  const qps = Math.exp(Math.log(a.qps) + t * (Math.log(b.qps) - Math.log(a.qps)));
  return { qps, how: `between ${label(a)} (${a.recallAt10.toFixed(4)}) and ${label(b)} (${b.recallAt10.toFixed(4)})`, kind: 'interpolated' };
}

/** Raw bytes of an HNSW index per vector: the vector, level-0 links (2m × 4) and the expected upper links (4m / (m − 1)). */
export function rawHnswBytes(dim: number, m: number): number {
  return dim * 4 + 2 * m * 4 + (4 * m) / (m - 1);
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return 'n/a';
  return `${(a / b).toFixed(2)}×`;
}

/** The ratio lines of one dataset. */
export function ratioLines(info: DatasetInfo, rows: readonly ResultRow[]): string[] {
  const lines: string[] = [];
  const find = (engine: EngineName, index: IndexName, mode?: 'single' | 'batch'): ResultRow | undefined =>
    rows.find((r) => r.engine === engine && r.index === index && (mode === undefined || r.mode === mode));
  const flatSingle = find('omnivec', 'flat', 'single');
  const flatBatch = find('omnivec', 'flat', 'batch');
  const exact = find('usearch', 'exact', 'batch');

  lines.push(`flat batched ÷ usearch exactSearch (both batched, 1 thread): ${ratio(flatBatch?.qps, exact?.qps)}` +
    (flatBatch && exact ? ` (${fmtQps(flatBatch.qps)} vs ${fmtQps(exact.qps)} QPS)` : ''));
  lines.push(`flat batched ÷ flat single-query loop: ${ratio(flatBatch?.qps, flatSingle?.qps)}`);

  // IVF: best nList at the target recall.
  const ivf = rows.filter((r) => r.engine === 'omnivec' && r.index === 'ivf');
  if (ivf.length === 0) {
    lines.push(`IVF QPS at recall@10 = ${TARGET_RECALL} ÷ flat single-query QPS: n/a (no IVF rows)`);
  } else {
    const lists = [...new Set(ivf.map((r) => r.params.nList!))];
    let best: { at: AtRecall; nList: number } | undefined;
    const parts: string[] = [];
    for (const nList of lists) {
      const at = qpsAtRecall(ivf.filter((r) => r.params.nList === nList), (r) => `nProbe ${r.params.nProbe}`);
      parts.push(`nList ${nList}: ${at.kind === 'never' ? at.how : `${fmtQps(at.qps)} QPS (${at.how})`}`);
      if (at.kind !== 'never' && (best === undefined || at.qps > best.at.qps)) best = { at, nList };
    }
    lines.push(`IVF QPS at recall@10 = ${TARGET_RECALL} ÷ flat single-query QPS: ${best ? `${ratio(best.at.qps, flatSingle?.qps)} (best nList ${best.nList}${best.at.kind === 'lower-bound' ? ', lower bound' : ''})` : 'n/a (IVF never reaches the target)'}`);
    lines.push(`  IVF at ${TARGET_RECALL}: ${parts.join('; ')}`);
  }

  // HNSW across engines: at the target recall, and at 0.99 (on easy data every engine may pass 0.95 at the smallest ef).
  const engines: EngineName[] = ['omnivec', 'hnswlib-node', 'usearch'];
  const hnsw = new Map<EngineName, { pts: ResultRow[]; build: number; bytes: number | null; rss: number | null }>();
  for (const e of engines) {
    const pts = rows.filter((r) => r.engine === e && r.index === 'hnsw');
    if (pts.length === 0) continue;
    hnsw.set(e, {
      pts,
      build: pts[0]!.buildSeconds,
      bytes: pts[0]!.bytesPerVector,
      rss: (pts[0]!.rssBytesPerVector as number | null | undefined) ?? null,
    });
  }
  if (hnsw.size === 0) lines.push('HNSW: n/a (no HNSW rows)');
  for (const target of [TARGET_RECALL, 0.99]) {
    if (hnsw.size === 0) break;
    const at = new Map<EngineName, AtRecall>();
    for (const [e, h] of hnsw) at.set(e, qpsAtRecall(h.pts, (r) => `ef ${r.params.efSearch}`, target));
    for (const [e, a] of at) lines.push(`HNSW ${e} at recall@10 = ${target}: ${a.kind === 'never' ? a.how : `${fmtQps(a.qps)} QPS (${a.how})`}`);
    const qpsOf = (e: EngineName): number | undefined => {
      const a = at.get(e);
      return a && a.kind !== 'never' ? a.qps : undefined;
    };
    const note = (x: EngineName, y: EngineName): string =>
      at.get(x)?.kind === 'lower-bound' || at.get(y)?.kind === 'lower-bound' ? ' (lower bound involved: a first ef already reaches the target)' : '';
    const pairs: [EngineName, EngineName][] = [['omnivec', 'hnswlib-node'], ['omnivec', 'usearch'], ['hnswlib-node', 'usearch']];
    for (const [x, y] of pairs) {
      if (!hnsw.has(x) && !hnsw.has(y)) continue;
      lines.push(`HNSW QPS at recall@10 = ${target}, ${x} ÷ ${y}: ${ratio(qpsOf(x), qpsOf(y))}${note(x, y)}`);
    }
  }
  for (const peer of ['hnswlib-node', 'usearch'] as const) {
    if (hnsw.size === 0) break;
    lines.push(`HNSW build time, omnivec ÷ ${peer}: ${ratio(hnsw.get('omnivec')?.build, hnsw.get(peer)?.build)}`);
  }
  const raw = rawHnswBytes(info.dim, info.m);
  const bytesParts = engines.filter((e) => hnsw.has(e)).map((e) => {
    const h = hnsw.get(e)!;
    return `${e} ${ratio(h.bytes ?? undefined, raw)}` + (h.rss !== null ? ` (RSS growth ${ratio(h.rss, raw)})` : '');
  });
  if (bytesParts.length) lines.push(`HNSW bytes/vector ÷ raw (${raw.toFixed(1)} B = ${info.dim}·4 + 2·${info.m}·4 + 4·${info.m}/(${info.m}−1)): ${bytesParts.join(', ')}`);
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Formatting

export function fmtQps(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  if (x >= 100) return Math.round(x).toLocaleString('en-US');
  return x.toPrecision(3);
}

function fmtSeconds(x: number): string {
  if (x === 0) return '–';
  return x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function fmtBytes(x: number | null): string {
  return x === null ? '–' : Math.round(x).toLocaleString('en-US');
}

function fmtParams(r: ResultRow): string {
  const p = Object.entries(r.params).map(([k, v]) => `${k}=${v}`).join(' ');
  return r.index === 'flat' || r.index === 'exact' ? [p, r.mode].filter(Boolean).join(' ') : p;
}

const HEADERS = ['engine', 'index', 'params', 'build s', 'recall@10', 'QPS', 'bytes/vec', 'RSS B/vec', 'cpu/wall'];
const RIGHT = [false, false, false, true, true, true, true, true, true];

function cells(r: ResultRow): string[] {
  return [
    r.engine, r.index, fmtParams(r), fmtSeconds(r.buildSeconds), r.recallAt10.toFixed(4), fmtQps(r.qps),
    fmtBytes(r.bytesPerVector), fmtBytes((r.rssBytesPerVector as number | null | undefined) ?? null), r.cpuPerWall.toFixed(2),
  ];
}

export function textTable(rows: readonly ResultRow[]): string {
  const body = rows.map(cells);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...body.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((s, i) => (RIGHT[i] ? s.padStart(widths[i]!) : s.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(HEADERS), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function markdownTable(rows: readonly ResultRow[]): string {
  const line = (c: string[]): string => `| ${c.join(' | ')} |`;
  return [line(HEADERS), line(RIGHT.map((r) => (r ? '---:' : '---'))), ...rows.map((r) => line(cells(r)))].join('\n');
}

export interface RunInfo {
  date: string;
  commit: string;
  command: string;
  machine: string;
  software: string;
  timing: string;
}

export function datasetHeader(info: DatasetInfo): string {
  return `${info.name}: ${info.description}; ground truth: ${info.groundTruth}`;
}

/** The markdown of a whole run (also the BENCHMARKS.md section). */
export function markdownReport(run: RunInfo, sets: { info: DatasetInfo; rows: ResultRow[] }[], docsLink: string): string {
  const out: string[] = [];
  out.push('## ANN search (`npm run bench:ann`)', '');
  out.push(`- Machine: ${run.machine}`);
  out.push(`- Software: ${run.software}`);
  out.push(`- Date: ${run.date}; commit ${run.commit}`);
  out.push(`- Command: \`${run.command}\``);
  out.push(`- ${run.timing}`);
  out.push('- Columns: build s = wall time of the build (omnivec: createIndex + train + add; hnswlib-node: n addPoint calls; usearch: one add call); ' +
    'bytes/vec = the engine\'s own memory figure ÷ vectors (omnivec stats().memoryBytes, hnswlib-node its allocation layout, usearch the resident growth: its binding has no memory API); ' +
    'RSS B/vec = resident-memory growth across the build in a fresh process; cpu/wall = CPU seconds ÷ wall seconds of the timed loop (≈ 1.0 on one thread; below 0.9 the machine was busy).');
  out.push(`- Method, datasets and ratio definitions: [docs/benchmarks.md](${docsLink}).`, '');
  for (const { info, rows } of sets) {
    out.push(`### ${info.name}`, '');
    out.push(`${info.description}. Ground truth: ${info.groundTruth}. ${info.n.toLocaleString('en-US')} base vectors, ${info.nq.toLocaleString('en-US')} queries, k = 10.`, '');
    for (const n of info.notes) out.push(`- ${n}`);
    if (info.notes.length) out.push('');
    if (rows.length) out.push(markdownTable(rows), '');
    out.push('Ratios:', '');
    for (const l of ratioLines(info, rows)) out.push(l.startsWith('  ') ? `  - ${l.trim()}` : `- ${l}`);
    out.push('');
  }
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Files

function writeAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export function writeJson(path: string, rows: readonly ResultRow[]): void {
  writeAtomic(path, JSON.stringify(rows, null, 2) + '\n');
}

export function writeText(path: string, text: string): void {
  writeAtomic(path, text.endsWith('\n') ? text : text + '\n');
}

/**
 * Replaces the text between one benchmark's markers of BENCHMARKS.md, `<!-- NAME:begin -->` …
 * `<!-- NAME:end -->` (creating the file or the markers when missing). Every bench:* script writes
 * its section through this.
 */
export function updateBenchmarksMd(path: string, section: string, name = 'ann'): void {
  const BEGIN = `<!-- ${name}:begin -->`;
  const END = `<!-- ${name}:end -->`;
  const block = `${BEGIN}\n${section.trimEnd()}\n${END}`;
  let text: string;
  if (!existsSync(path)) {
    text = [
      '# Benchmarks',
      '',
      'Measured numbers for omnivec, regenerated by the benchmark scripts (do not edit between the markers by hand).',
      'What each figure means and how it is measured: [docs/benchmarks.md](docs/benchmarks.md).',
      '',
      block,
      '',
    ].join('\n');
  } else {
    const old = readFileSync(path, 'utf8');
    const b = old.indexOf(BEGIN);
    const e = old.indexOf(END);
    if (b >= 0 && e > b) text = old.slice(0, b) + block + old.slice(e + END.length);
    else text = old.trimEnd() + '\n\n' + block + '\n';
  }
  writeAtomic(path, text);
}
