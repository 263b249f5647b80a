/**
 * The issue-16 targets of the ANN benchmark as measured: one line per target with the measured
 * figure, the target and PASS / FAIL (or "not available in this build" when omnivec's build does
 * not have the option yet), ratios taken against the peers of the same run; plus the tables.
 */
import { K } from './measure.js';
import { fmtQps, qpsAtRecall, TARGET_RECALL, type AtRecall, type ResultRow } from './report.js';
import type { TargetGroup, TargetRow, Unavailable } from './target-blocks.js';

export interface TargetSet {
  group: TargetGroup;
  dataset: string;
  description: string;
  n: number;
  nq: number;
  dim: number;
  threads: number;
  rows: TargetRow[];
  unavailable: Unavailable[];
  notes: string[];
}

/** 'info': a side-by-side figure without a threshold; 'n/a': the figure could not be measured (a peer missing, no rows). */
type Status = 'PASS' | 'FAIL' | 'info' | 'n/a' | 'not available in this build';

export interface TargetLine {
  group: TargetGroup;
  /** What the issue asks, in words. */
  target: string;
  /** The measured figure(s). */
  measured: string;
  status: Status;
}

const x2 = (v: number): string => `${v.toFixed(2)}×`;
const s2 = (v: number): string => (v >= 10 ? v.toFixed(1) : v.toFixed(2));

function rowsOf(set: TargetSet, engine: string, variant: string, threads?: number): TargetRow[] {
  return set.rows.filter((r) => r.engine === engine && r.variant === variant && (threads === undefined || r.threads === threads));
}

function missing(set: TargetSet, engine: string, variant: string): Unavailable | undefined {
  return set.unavailable.find((u) => u.engine === engine && u.variant === variant);
}

/** Why a group of rows is absent: "not available in this build (…)" for omnivec options, else "no rows". */
function absent(set: TargetSet, engine: string, variant: string): { status: Status; measured: string } {
  const u = missing(set, engine, variant);
  if (u !== undefined) return { status: u.engine === 'omnivec' ? 'not available in this build' : 'n/a', measured: `${engine} ${variant}: ${u.why}` };
  return { status: 'n/a', measured: `${engine} ${variant}: no rows (skipped or failed, see the notes)` };
}

/**
 * QPS at recall@10 = 0.95 over rows that may hold several curves (one per value of the params other
 * than `sweep`, e.g. one per rescore factor): each curve is interpolated as in the main report, the
 * best QPS is kept.
 */
export function bestAtRecall(rows: readonly TargetRow[], sweep: string, target = TARGET_RECALL): AtRecall & { curve: string } {
  const curves = new Map<string, TargetRow[]>();
  for (const r of rows) {
    const key = Object.entries(r.params).filter(([k]) => k !== sweep).map(([k, v]) => `${k} ${v}`).join(', ');
    if (!curves.has(key)) curves.set(key, []);
    curves.get(key)!.push(r);
  }
  let best: (AtRecall & { curve: string }) | undefined;
  let bestRecall = 0;
  for (const [curve, pts] of curves) {
    const sorted = [...pts].sort((a, b) => (a.params[sweep] ?? 0) - (b.params[sweep] ?? 0));
    const at = qpsAtRecall(sorted as unknown as ResultRow[], (r) => (sweep in r.params ? `${sweep} ${r.params[sweep]}` : curve || 'the only point'), target);
    bestRecall = Math.max(bestRecall, ...pts.map((p) => p.recallAt10));
    if (at.kind !== 'never' && (best === undefined || best.kind === 'never' || at.qps > best.qps)) best = { ...at, curve };
  }
  return best ?? { qps: NaN, kind: 'never', how: `never reaches ${target} (best recall ${bestRecall.toFixed(4)})`, curve: '' };
}

function atText(a: AtRecall & { curve: string }): string {
  if (a.kind === 'never') return a.how;
  return `${fmtQps(a.qps)} QPS${a.curve ? ` (${a.curve}; ${a.how})` : ` (${a.how})`}`;
}

function maxRecall(rows: readonly TargetRow[]): TargetRow | undefined {
  let best: TargetRow | undefined;
  for (const r of rows) if (best === undefined || r.recallAt10 > best.recallAt10) best = r;
  return best;
}

function params(r: TargetRow): string {
  return Object.entries(r.params).map(([k, v]) => `${k} ${v}`).join(', ');
}

function judge(value: number, ok: (v: number) => boolean): Status {
  return Number.isFinite(value) ? (ok(value) ? 'PASS' : 'FAIL') : 'n/a';
}

const LB = ' (lower bound involved: a first sweep point already reaches the recall)';

// ---------------------------------------------------------------------------------------------

function threadLines(set: TargetSet): TargetLine[] {
  const T = set.threads;
  const out: TargetLine[] = [];
  const g = set.group;
  const o1 = rowsOf(set, 'omnivec', 'hnsw', 1);
  const oN = rowsOf(set, 'omnivec', 'hnsw', T);
  const peers = [['usearch', `usearch add(threads=${T})`, `usearch search(threads=${T})`], ['hnswlib-py', `Python hnswlib add_items(num_threads=${T})`, `Python hnswlib knn_query(num_threads=${T})`]] as const;
  // Build.
  const buildTarget = `${T}-thread HNSW build of ${set.n.toLocaleString('en-US')} × ${set.dim}: ≥ 1.7× omnivec's 1-thread build`;
  if (oN.length === 0 || o1.length === 0) {
    const a = oN.length === 0 ? absent(set, 'omnivec', 'hnsw') : absent(set, 'omnivec', 'hnsw');
    out.push({ group: g, target: buildTarget, ...a });
  } else {
    const sp = o1[0]!.buildSeconds / oN[0]!.buildSeconds;
    out.push({ group: g, target: buildTarget, measured: `${x2(sp)} (${s2(o1[0]!.buildSeconds)} s → ${s2(oN[0]!.buildSeconds)} s; build cpu/wall ${oN[0]!.buildCpuPerWall.toFixed(2)})`, status: judge(sp, (v) => v >= 1.7) });
  }
  for (const [peer, call] of peers) {
    const target = `${T}-thread HNSW build: no slower than ${call} (speed ratio ≥ 1.0×)`;
    const p = rowsOf(set, peer, 'hnsw', T);
    if (oN.length === 0) out.push({ group: g, target, ...absent(set, 'omnivec', 'hnsw') });
    else if (p.length === 0) out.push({ group: g, target, ...absent(set, peer, 'hnsw') });
    else {
      const r = p[0]!.buildSeconds / oN[0]!.buildSeconds;
      out.push({ group: g, target, measured: `${x2(r)} (omnivec ${s2(oN[0]!.buildSeconds)} s, ${peer} ${s2(p[0]!.buildSeconds)} s)`, status: judge(r, (v) => v >= 1.0) });
    }
  }
  // Search.
  const at = (rows: TargetRow[]): AtRecall & { curve: string } => bestAtRecall(rows, 'efSearch');
  const searchTarget = `${T}-thread batch search at recall@10 = ${TARGET_RECALL}: ≥ 1.8× omnivec's 1-thread QPS`;
  if (oN.length === 0 || o1.length === 0) out.push({ group: g, target: searchTarget, ...absent(set, 'omnivec', 'hnsw') });
  else {
    const a1 = at(o1);
    const aN = at(oN);
    const r = aN.qps / a1.qps;
    out.push({ group: g, target: searchTarget, measured: `${Number.isFinite(r) ? x2(r) : 'n/a'} (1 thread: ${atText(a1)}; ${T} threads: ${atText(aN)})${a1.kind === 'lower-bound' || aN.kind === 'lower-bound' ? LB : ''}`, status: judge(r, (v) => v >= 1.8) });
  }
  for (const [peer, , call] of peers) {
    const target = `${T}-thread batch search at recall@10 = ${TARGET_RECALL}: ≥ 1.0× ${call}`;
    const p = rowsOf(set, peer, 'hnsw', T);
    if (oN.length === 0) out.push({ group: g, target, ...absent(set, 'omnivec', 'hnsw') });
    else if (p.length === 0) out.push({ group: g, target, ...absent(set, peer, 'hnsw') });
    else {
      const ao = at(oN);
      const ap = at(p);
      const r = ao.qps / ap.qps;
      out.push({ group: g, target, measured: `${Number.isFinite(r) ? x2(r) : 'n/a'} (omnivec ${atText(ao)}; ${peer} ${atText(ap)})${ao.kind === 'lower-bound' || ap.kind === 'lower-bound' ? LB : ''}`, status: judge(r, (v) => v >= 1.0) });
    }
  }
  return out;
}

function int8Lines(set: TargetSet): TargetLine[] {
  const g = set.group;
  const out: TargetLine[] = [];
  const f = rowsOf(set, 'omnivec', 'hnsw float');
  const q = rowsOf(set, 'omnivec', 'hnsw int8');
  const us = rowsOf(set, 'usearch', 'hnsw i8');
  const tRecall = `int8 HNSW: recall@10 ≥ ${TARGET_RECALL} after re-scoring`;
  const tBytes = 'int8 HNSW: in-memory bytes per vector ≤ 0.45× the float HNSW\'s';
  const tQps = `int8 HNSW: QPS at recall@10 = ${TARGET_RECALL} ≥ 1.0× the float HNSW's`;
  if (q.length === 0) {
    const a = absent(set, 'omnivec', 'hnsw int8');
    for (const target of [tRecall, tBytes, tQps]) out.push({ group: g, target, ...a });
  } else {
    const best = maxRecall(q)!;
    out.push({ group: g, target: tRecall, measured: `best ${best.recallAt10.toFixed(4)} (${params(best)})`, status: judge(best.recallAt10, (v) => v >= TARGET_RECALL) });
    if (f.length === 0) {
      out.push({ group: g, target: tBytes, ...absent(set, 'omnivec', 'hnsw float') });
      out.push({ group: g, target: tQps, ...absent(set, 'omnivec', 'hnsw float') });
    } else {
      const bq = q[0]!.bytesPerVector ?? NaN;
      const bf = f[0]!.bytesPerVector ?? NaN;
      const rb = bq / bf;
      const resc = q[0]!.rescoreBytesPerVector;
      out.push({ group: g, target: tBytes, measured: `${x2(rb)} (${Math.round(bq)} B vs ${Math.round(bf)} B, stats().memoryBytes / size${resc !== undefined ? `; the re-scoring floats, ${Math.round(resc)} B/vector, are outside it (stats().rescoreBytes)` : ''})`, status: judge(rb, (v) => v <= 0.45) });
      const aq = bestAtRecall(q, 'efSearch');
      const af = bestAtRecall(f, 'efSearch');
      const r = aq.qps / af.qps;
      out.push({ group: g, target: tQps, measured: `${Number.isFinite(r) ? x2(r) : 'n/a'} (int8 ${atText(aq)}; float ${atText(af)})${aq.kind === 'lower-bound' || af.kind === 'lower-bound' ? LB : ''}`, status: judge(r, (v) => v >= 1.0) });
    }
  }
  // Side by side with usearch i8 (no target in the issue: printed for reference).
  if (us.length > 0) {
    const raw = us.filter((r) => (r.params.rescore ?? 1) === 1);
    const best = maxRecall(raw);
    const au = bestAtRecall(us, 'efSearch');
    const aq = q.length ? bestAtRecall(q, 'efSearch') : undefined;
    out.push({
      group: g, target: 'side by side: usearch i8 (same M / efConstruction, one thread)', status: 'info',
      measured: `usearch i8 best recall without re-scoring ${best ? best.recallAt10.toFixed(4) : 'n/a'}; at ${TARGET_RECALL} (re-scored as omnivec does): ${atText(au)}; ` +
        `omnivec int8 ÷ usearch i8 at ${TARGET_RECALL}: ${aq && Number.isFinite(aq.qps / au.qps) ? x2(aq.qps / au.qps) : 'n/a'}; usearch RSS growth ${us[0]!.rssBytesPerVector !== null ? Math.round(us[0]!.rssBytesPerVector) : '–'} B/vector`,
    });
  } else {
    out.push({ group: g, target: 'side by side: usearch i8', ...absent(set, 'usearch', 'hnsw i8') });
  }
  return out;
}

function binaryLines(set: TargetSet): TargetLine[] {
  const g = set.group;
  const out: TargetLine[] = [];
  for (const kind of ['flat', 'hnsw'] as const) {
    const f = rowsOf(set, 'omnivec', `${kind} float`);
    const b = rowsOf(set, 'omnivec', `${kind} binary`);
    const tRecall = `binary ${kind} on ${set.dim}-d: recall@10 ≥ ${TARGET_RECALL} after re-scoring`;
    const tBytes = `binary ${kind}: index memory ≤ 1/16 (0.0625×) of the float ${kind}'s`;
    if (b.length === 0) {
      const a = absent(set, 'omnivec', `${kind} binary`);
      out.push({ group: g, target: tRecall, ...a }, { group: g, target: tBytes, ...a });
      continue;
    }
    const best = maxRecall(b)!;
    out.push({ group: g, target: tRecall, measured: `best ${best.recallAt10.toFixed(4)} (${params(best)})`, status: judge(best.recallAt10, (v) => v >= TARGET_RECALL) });
    if (f.length === 0) out.push({ group: g, target: tBytes, ...absent(set, 'omnivec', `${kind} float`) });
    else {
      const r = (b[0]!.bytesPerVector ?? NaN) / (f[0]!.bytesPerVector ?? NaN);
      out.push({ group: g, target: tBytes, measured: `${r.toFixed(4)}× (${Math.round(b[0]!.bytesPerVector ?? NaN)} B vs ${Math.round(f[0]!.bytesPerVector ?? NaN)} B per vector, stats().memoryBytes / size)`, status: judge(r, (v) => v <= 1 / 16) });
    }
  }
  // Side by side (no target in the issue): QPS at 0.95 after exact re-scoring, every engine.
  const sweeps: [string, string, string][] = [
    ['omnivec', 'flat binary', 'rescore'], ['faiss', 'flat binary', 'rescore'],
    ['omnivec', 'hnsw binary', 'efSearch'], ['usearch', 'hnsw b1', 'efSearch'], ['faiss', 'hnsw binary', 'efSearch'],
    ['omnivec', 'flat float', 'rescore'], ['omnivec', 'hnsw float', 'efSearch'],
  ];
  const parts: string[] = [];
  const at = new Map<string, number>();
  for (const [e, v, sweep] of sweeps) {
    const rows = rowsOf(set, e, v);
    if (rows.length === 0) {
      parts.push(`${e} ${v}: ${missing(set, e, v) ? (e === 'omnivec' ? 'not available in this build' : 'n/a') : 'no rows'}`);
      continue;
    }
    const a = bestAtRecall(rows, sweep);
    if (a.kind !== 'never') at.set(`${e} ${v}`, a.qps);
    parts.push(`${e} ${v}: ${atText(a)}${rows[0]!.bytesPerVector !== null ? `, ${Math.round(rows[0]!.bytesPerVector)} B/vector` : ''}`);
  }
  out.push({ group: g, target: `side by side at recall@10 = ${TARGET_RECALL} (peers' candidates re-scored exactly, as omnivec does)`, status: 'info', measured: parts.join('; ') });
  const ratio = (a: string, b: string): string => {
    const x = at.get(a);
    const y = at.get(b);
    return x !== undefined && y !== undefined ? x2(x / y) : 'n/a';
  };
  out.push({
    group: g, target: `ratios at recall@10 = ${TARGET_RECALL}`, status: 'info',
    measured: `omnivec flat binary ÷ Faiss IndexBinaryFlat ${ratio('omnivec flat binary', 'faiss flat binary')}; omnivec hnsw binary ÷ usearch b1 ${ratio('omnivec hnsw binary', 'usearch hnsw b1')}, ÷ Faiss IndexBinaryHNSW ${ratio('omnivec hnsw binary', 'faiss hnsw binary')}`,
  });
  return out;
}

function ivfpqLines(set: TargetSet): TargetLine[] {
  const g = set.group;
  const out: TargetLine[] = [];
  const o = rowsOf(set, 'omnivec', 'ivf-pq');
  const f = rowsOf(set, 'faiss', 'ivf-pq');
  const tRecall = 'IVF-PQ before re-scoring (rescore 1): recall@10 within 0.01 of Faiss IndexIVFPQ at the same nList, m, nProbe';
  const tQps = 'IVF-PQ before re-scoring: QPS ≥ 1.0× Faiss IndexIVFPQ at the same nList, m, nProbe';
  const tAfter = `IVF-PQ after re-scoring: recall@10 ≥ ${TARGET_RECALL}`;
  if (o.length === 0) {
    const a = absent(set, 'omnivec', 'ivf-pq');
    for (const target of [tRecall, tQps, tAfter]) out.push({ group: g, target, ...a });
  } else if (f.length === 0) {
    const a = absent(set, 'faiss', 'ivf-pq');
    out.push({ group: g, target: tRecall, ...a }, { group: g, target: tQps, ...a });
  } else {
    const pairs: { p: number; o: TargetRow; f: TargetRow }[] = [];
    for (const r of o.filter((x) => x.params.rescore === 1)) {
      const m = f.find((x) => x.params.rescore === 1 && x.params.nProbe === r.params.nProbe);
      if (m) pairs.push({ p: r.params.nProbe!, o: r, f: m });
    }
    if (pairs.length === 0) {
      out.push({ group: g, target: tRecall, status: 'n/a', measured: 'no nProbe measured by both' }, { group: g, target: tQps, status: 'n/a', measured: 'no nProbe measured by both' });
    } else {
      const worstR = pairs.reduce((w, x) => (x.o.recallAt10 - x.f.recallAt10 < w.o.recallAt10 - w.f.recallAt10 ? x : w));
      const d = worstR.o.recallAt10 - worstR.f.recallAt10;
      out.push({
        group: g, target: tRecall, status: judge(d, (v) => v >= -0.01),
        measured: `worst omnivec − Faiss ${d >= 0 ? '+' : ''}${d.toFixed(4)} at nProbe ${worstR.p} (${pairs.map((x) => `nProbe ${x.p}: ${x.o.recallAt10.toFixed(4)} vs ${x.f.recallAt10.toFixed(4)}`).join('; ')})`,
      });
      const worstQ = pairs.reduce((w, x) => (x.o.qps / x.f.qps < w.o.qps / w.f.qps ? x : w));
      const r = worstQ.o.qps / worstQ.f.qps;
      out.push({
        group: g, target: tQps, status: judge(r, (v) => v >= 1.0),
        measured: `worst ${x2(r)} at nProbe ${worstQ.p} (${pairs.map((x) => `nProbe ${x.p}: ${x2(x.o.qps / x.f.qps)}`).join('; ')})`,
      });
    }
  }
  if (o.length > 0) {
    const after = o.filter((x) => (x.params.rescore ?? 1) > 1);
    const best = maxRecall(after);
    const fa = maxRecall(f.filter((x) => (x.params.rescore ?? 1) > 1));
    out.push({
      group: g, target: tAfter, status: best ? judge(best.recallAt10, (v) => v >= TARGET_RECALL) : 'n/a',
      measured: best ? `best ${best.recallAt10.toFixed(4)} (${params(best)}); Faiss with the same exact re-scoring: ${fa ? `${fa.recallAt10.toFixed(4)} (${params(fa)})` : 'n/a'}` : 'no re-scored rows',
    });
  }
  return out;
}

export function targetLines(set: TargetSet): TargetLine[] {
  switch (set.group) {
    case 'threads': return threadLines(set);
    case 'int8': return int8Lines(set);
    case 'binary': return binaryLines(set);
    case 'ivfpq': return ivfpqLines(set);
  }
}

export function formatLine(l: TargetLine): string {
  return `[${l.status}] ${l.target}: ${l.measured}`;
}

// ---------------------------------------------------------------------------------------------
// Tables

const HEADERS = ['engine', 'variant', 'threads', 'params', 'build s', 'recall@10', 'QPS', 'bytes/vec', 'RSS B/vec', 'cpu/wall'];
const RIGHT = [false, false, true, false, true, true, true, true, true, true];

function cells(r: TargetRow): string[] {
  return [
    r.engine, r.variant, String(r.threads), Object.entries(r.params).map(([k, v]) => `${k}=${v}`).join(' '), s2(r.buildSeconds),
    r.recallAt10.toFixed(4), fmtQps(r.qps), r.bytesPerVector === null ? '–' : Math.round(r.bytesPerVector).toLocaleString('en-US'),
    r.rssBytesPerVector === null ? '–' : Math.round(r.rssBytesPerVector).toLocaleString('en-US'), r.cpuPerWall.toFixed(2),
  ];
}

export function targetTextTable(rows: readonly TargetRow[]): string {
  const body = rows.map(cells);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...body.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((s, i) => (RIGHT[i] ? s.padStart(widths[i]!) : s.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(HEADERS), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function targetMarkdownTable(rows: readonly TargetRow[]): string {
  const line = (c: string[]): string => `| ${c.join(' | ')} |`;
  return [line(HEADERS), line(RIGHT.map((r) => (r ? '---:' : '---'))), ...rows.map((r) => line(cells(r)))].join('\n');
}

const GROUP_TITLE: Record<TargetGroup, string> = {
  threads: 'Threads: HNSW build and batch search',
  int8: 'int8 HNSW with re-scoring',
  binary: 'Binary codes on 1024-d embeddings',
  ivfpq: 'IVF-PQ against Faiss IndexIVFPQ',
};

export function targetSetHeader(set: TargetSet): string {
  return `${GROUP_TITLE[set.group]} — ${set.dataset}: ${set.description}; ${set.n.toLocaleString('en-US')} base, ${set.nq} queries, k = ${K}`;
}

/** The targets part of the ann section (markdown). */
export function targetsMarkdown(sets: readonly TargetSet[], docsLink: string): string {
  const out: string[] = ['### Issue 16 targets', ''];
  out.push(`Every search batched (all queries in one call); one thread unless the row says otherwise. Method: [docs/benchmarks.md](${docsLink}#issue-16-targets).`, '');
  out.push('| group | target | measured | status |', '|---|---|---|---|');
  for (const set of sets) {
    for (const l of targetLines(set)) out.push(`| ${set.group} | ${l.target} | ${l.measured.replace(/\|/g, '\\|')} | ${l.status} |`);
  }
  out.push('');
  for (const set of sets) {
    out.push(`#### ${targetSetHeader(set)}`, '');
    for (const n of set.notes) out.push(`- ${n}`);
    for (const u of set.unavailable) out.push(`- ${u.engine} ${u.variant}: ${u.engine === 'omnivec' ? 'not available in this build' : 'not run'} (${u.why})`);
    if (set.notes.length || set.unavailable.length) out.push('');
    if (set.rows.length) out.push(targetMarkdownTable(set.rows), '');
  }
  return out.join('\n');
}
