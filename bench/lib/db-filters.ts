/**
 * Filters on a declared payload index (issue 17's filter targets; docs/db.md, "Payload indexes"):
 * on an HNSW collection of N synthetic-cluster records with an integer field `bucket` of 1,000
 * values (a hash of the row, independent of the clusters), declared with createFieldIndex after
 * the import (so the back-fill is timed too):
 *
 * - the latency of 1,000 distinct NEW equality filters (`{ bucket: v }`, each value once, so
 *   none is in the planner's filter cache): p50 / p99 of the whole query (plan + search), which
 *   bounds the plan time from above, and of `get({ where, include: [] })` over the same filters
 *   (the same compiled SQL the planner runs for its allow-list, plus reading the ids);
 * - recall@10 against exact search over the matching records, and the fewest hits (k = 10);
 * - queries/second at 50 / 10 / 1 / 0.1 % selectivity with a new filter every query (ranges on
 *   the declared field; the 0.1 % one an equality) and with one filter repeated.
 *
 * `runFieldFilterBench` is called from bench/db.ts; run alone:
 *   node --import tsx bench/lib/db-filters.ts [--n 100000] [--quick]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { syntheticClusters } from './datasets.js';
import { queryRate, K } from './measure.js';
import { FlatIndex } from '../../src/indexes/flat/flat-index.js';
import { IdSet } from '../../src/indexes/common.js';
import { openDatabase } from '../../src/db/database.js';
import { Random } from '../../src/vector/random.js';

export interface FieldFilterBenchOptions {
  /** Records (1M in the full run). */
  n: number;
  /** A scratch directory for the database (removed afterwards). */
  dir: string;
  /** Queries per selectivity for recall and QPS (default 300; 100 with quick). */
  queries?: number;
  /** Distinct equality filters timed (default 1,000). */
  planFilters?: number;
  log?: (message: string) => void;
}

export interface FieldFilterRow {
  selectivity: string;
  recall: number;
  minHits: number;
  qpsDistinctFilters: number;
  qpsRepeatedFilter: number;
}

export interface FieldFilterReport {
  n: number;
  dim: number;
  distinctValues: number;
  importSeconds: number;
  backfillSeconds: number;
  /** A new equality filter: the whole query (plan + search), ms. */
  newFilterQueryMs: { p50: number; p99: number; max: number };
  /** A new equality filter: the matching ids alone (the planner's slot lookup plus the ids), ms. */
  newFilterPlanMs: { p50: number; p99: number; max: number };
  /** Equality filters (0.1 %): recall@10 against exact search over the matching records, fewest hits. */
  equality: { recall: number; minHits: number };
  rows: FieldFilterRow[];
  unfilteredQps: number;
  /** True when no row's distinct-filter QPS is below that of a less selective row (the target). */
  monotone: boolean;
}

const DIM = 128;
const VALUES = 1000;
const bucket = (i: number): number => (i * 7919 + 13) % VALUES;

function percentiles(ms: number[]): { p50: number; p99: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (p: number): number => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1]! };
}

export async function runFieldFilterBench(o: FieldFilterBenchOptions): Promise<FieldFilterReport> {
  const log = o.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const nq = o.queries ?? 300;
  const planFilters = Math.min(o.planFilters ?? 1000, VALUES);
  const ds = syntheticClusters('db-filters', o.n, nq, DIM);
  const dir = mkdtempSync(join(o.dir, 'db-filters-'));
  const db = await openDatabase(dir);
  try {
    const c = await db.createCollection({ name: 'f', dim: DIM, metric: 'l2', index: 'hnsw' });
    log(`db-filters: importing ${o.n} × ${DIM} with an integer field of ${VALUES} values`);
    let s = performance.now();
    const chunk = 50_000;
    for (let a = 0; a < o.n; a += chunk) {
      const b = Math.min(o.n, a + chunk);
      const ids = Array.from({ length: b - a }, (_, i) => String(a + i));
      await c.add({ ids, vectors: ds.base.data.subarray(a * DIM, b * DIM), metadatas: ids.map((_, i) => ({ bucket: bucket(a + i) })) });
    }
    await c.flush();
    const importSeconds = (performance.now() - s) / 1000;
    s = performance.now();
    await c.createFieldIndex('bucket', { type: 'integer' });
    const backfillSeconds = (performance.now() - s) / 1000;
    log(`  import ${importSeconds.toFixed(1)} s, back-fill of the declared field ${backfillSeconds.toFixed(2)} s`);

    const qv = (q: number): Float32Array => ds.queries.data.subarray((q % nq) * DIM, ((q % nq) + 1) * DIM);
    const flat = new FlatIndex({ dim: DIM, metric: 'l2' });
    flat.add(Uint32Array.from({ length: o.n }, (_, i) => i), ds.base);
    const members = (lo: number, hi: number): IdSet => {
      const out: number[] = [];
      for (let i = 0; i < o.n; i++) { const v = bucket(i); if (v >= lo && v < hi) out.push(i); }
      return new IdSet(out);
    };

    // New equality filters: each value once, in a shuffled order (no filter cache hit).
    const rng = new Random(17);
    const values = Array.from({ length: VALUES }, (_, i) => i);
    for (let i = values.length - 1; i > 0; i--) { const j = rng.int(i + 1); [values[i], values[j]] = [values[j]!, values[i]!]; }
    // Timed first, scored after: the ground truth's allocations would put GC pauses into the timings.
    const queryMs: number[] = [];
    const answers: string[][] = [];
    for (let f = 0; f < planFilters; f++) {
      const t = performance.now();
      const res = await c.query({ vector: qv(f), k: K, where: { bucket: values[f]! }, include: [] });
      queryMs.push(performance.now() - t);
      answers.push(res.ids);
    }
    let hits = 0; let want = 0; let minHits = Infinity;
    for (let f = 0; f < planFilters; f++) {
      minHits = Math.min(minHits, answers[f]!.length);
      if (f >= nq) continue;
      const v = values[f]!;
      const truth = new Set(Array.from(flat.search(qv(f), K, { allow: members(v, v + 1) }).ids, String));
      want += truth.size;
      for (const id of answers[f]!) if (truth.has(id)) hits++;
    }
    // The matching ids alone (get has no filter cache: each runs the SQL).
    const planMs: number[] = [];
    for (let f = 0; f < planFilters; f++) {
      const t = performance.now();
      await c.get({ where: { bucket: values[f]! }, include: [] });
      planMs.push(performance.now() - t);
    }
    const newFilterQueryMs = percentiles(queryMs);
    const newFilterPlanMs = percentiles(planMs);
    log(`  new equality filter: query p50 ${newFilterQueryMs.p50.toFixed(2)} ms p99 ${newFilterQueryMs.p99.toFixed(2)} ms; ids alone p50 ${newFilterPlanMs.p50.toFixed(2)} ms p99 ${newFilterPlanMs.p99.toFixed(2)} ms; recall ${(hits / want).toFixed(4)}, fewest hits ${minHits}`);

    const unfilteredQps = await queryRate(nq, async () => { for (let q = 0; q < nq; q++) await c.query({ vector: qv(q), k: K, include: [] }); });
    const rows: FieldFilterRow[] = [];
    for (const { label, width } of [{ label: '50%', width: 500 }, { label: '10%', width: 100 }, { label: '1%', width: 10 }, { label: '0.1%', width: 1 }]) {
      const r = new Random(width);
      const starts = Array.from({ length: nq }, () => r.int(VALUES - width + 1));
      const whereOf = (lo: number): Record<string, unknown> => (width === 1 ? { bucket: lo } : { bucket: { $gte: lo, $lt: lo + width } });
      let h = 0; let w = 0; let fewest = Infinity;
      for (let q = 0; q < nq; q++) {
        const res = await c.query({ vector: qv(q), k: K, where: whereOf(starts[q]!), include: [] });
        fewest = Math.min(fewest, res.ids.length);
        const truth = new Set(Array.from(flat.search(qv(q), K, { allow: members(starts[q]!, starts[q]! + width) }).ids, String));
        w += truth.size;
        for (const id of res.ids) if (truth.has(id)) h++;
      }
      let distinct = 0;
      const qpsDistinctFilters = await queryRate(nq, async () => {
        // A filter never seen before every query: OR a value no record holds (the same records,
        // a new cache key; bench:db's own filter section ANDs a `$ne` instead, which the payload
        // index answers with a NOT over the records, not from the index alone).
        for (let q = 0; q < nq; q++) await c.query({ vector: qv(q), k: K, where: { $or: [whereOf(starts[q]!), { bucket: -1 - distinct++ }] }, include: [] });
      });
      const fixed = whereOf(starts[0]!);
      const qpsRepeatedFilter = await queryRate(nq, async () => { for (let q = 0; q < nq; q++) await c.query({ vector: qv(q), k: K, where: fixed, include: [] }); });
      rows.push({ selectivity: label, recall: h / w, minHits: fewest, qpsDistinctFilters, qpsRepeatedFilter });
      log(`  ${label}: recall ${(h / w).toFixed(4)}, fewest hits ${fewest}, ${qpsDistinctFilters.toFixed(0)} q/s new filters, ${qpsRepeatedFilter.toFixed(0)} q/s repeated (unfiltered ${unfilteredQps.toFixed(0)})`);
    }
    const monotone = rows.every((row, i) => i === 0 || row.qpsDistinctFilters >= rows[i - 1]!.qpsDistinctFilters);
    return {
      n: o.n, dim: DIM, distinctValues: VALUES, importSeconds, backfillSeconds, newFilterQueryMs, newFilterPlanMs,
      equality: { recall: hits / want, minHits }, rows, unfilteredQps, monotone,
    };
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.filename === process.argv[1]) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--n');
  const quick = args.includes('--quick');
  const n = at >= 0 ? Number(args[at + 1]) : quick ? 20_000 : 100_000;
  const dir = join(import.meta.dirname, '..', '..', '.omnivec-tmp');
  (await import('node:fs')).mkdirSync(dir, { recursive: true });
  const report = await runFieldFilterBench({ n, dir, queries: quick ? 100 : 300 });
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
}
