/**
 * `npm run bench:db`: the database benchmark (docs/benchmarks.md, "bench:db").
 *
 *   1. Import 100,000 × 128 from .fvecs into an HNSW collection (records in SQLite + index + the
 *      snapshot) vs. the bare HnswIndex build of the same vectors (measured before and after).
 *   2. Import the same file into a flat collection: records per second.
 *   3. Query rate at recall 0.95 through the collection API (id lookup included), beside the bare
 *      index at the same efSearch.
 *   4. Filtered queries at 50 %, 10 %, 1 %, 0.1 % selectivity: recall@10 against exact search over
 *      the matching records, the fewest hits returned, and queries/second — with one filter
 *      repeated (allow-list cached) and with a different filter for every query (planned afresh).
 *   5. Reopening a 1,000,000 × 128 HNSW collection (built once and kept in .omnivec-tmp/), timed in a
 *      fresh process: open + load the snapshot; it must come from the snapshot with nothing caught up.
 *   6. LanceDB 0.31 (embedded) on the same data: import, index, QPS at recall 0.95, disk bytes per vector.
 *
 * Options: --quick (20k vectors, 200k reopen, fewer sweep points), --n N, --reopen-n N (0: skip),
 *   --filters-n N (the payload-index filter section's records, default 1M, 20k quick; 0: skip),
 * --no-lancedb, --no-write (do not update bench/results and BENCHMARKS.md), --bm25 (full text on
 * Cranfield: MAP@100 / nDCG@10 beside a reference BM25, bench/lib/db-bm25.ts).
 *
 * `--large` runs instead the ten-million-record collection (bench/lib/db-large.ts; --large-n,
 * --large-dim, --large-nlist, --large-fresh) into the `db-large` section of BENCHMARKS.md.
 *
 * `--store postgres://…` runs instead the embedded store and that PostgreSQL database side by side
 * (bench/lib/db-stores.ts: import, recall and QPS along efSearch, filters at 50 / 1 / 0.1 %, with
 * ratios) into the `db-postgres` section of BENCHMARKS.md; with --quick, --n and --no-write.
 */
import { mkdirSync, mkdtempSync, rmSync, existsSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { syntheticClusters, type BenchDataset } from './lib/datasets.js';
import { groundTruth, meanRecall, queryRate, K } from './lib/measure.js';
import { updateBenchmarksMd } from './lib/report.js';
import { runStoreComparison } from './lib/db-stores.js';
import { runLarge, formatLarge } from './lib/db-large.js';
import { runCranfieldBm25, formatCranfieldBm25, type CranfieldBm25Report } from './lib/db-bm25.js';
import { runFieldFilterBench, type FieldFilterReport } from './lib/db-filters.js';
import { runLanceDb, qpsAtRecall, directoryBytes, LANCEDB_VERSION, type CurvePoint, type PeerResult } from './lib/lancedb-peer.js';
import { HnswIndex } from '../src/indexes/hnsw/hnsw-index.js';
import { FlatIndex } from '../src/indexes/flat/flat-index.js';
import { IdSet } from '../src/indexes/common.js';
import { openDatabase } from '../src/db/database.js';
import type { Collection } from '../src/db/collection.js';
import { openRecords, writeFvecs } from '../src/io/index.js';
import { Random } from '../src/vector/random.js';

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const value = (name: string): string | undefined => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const quick = flag('--quick');
const N = Number(value('--n') ?? (quick ? 20_000 : 100_000));
const REOPEN_N = Number(value('--reopen-n') ?? (quick ? 200_000 : 1_000_000));
const FILTERS_N = Number(value('--filters-n') ?? (quick ? 20_000 : 1_000_000));
const lancedb = !flag('--no-lancedb');
const write = !flag('--no-write');
const store = value('--store');
const large = flag('--large');
const EF = quick ? [16, 32, 64, 128] : [10, 16, 24, 32, 48, 64, 96, 128, 192, 256];
const ROOT = join(import.meta.dirname, '..');
const TMP = join(ROOT, '.omnivec-tmp');
const t0 = performance.now();
const log = (m: string): void => { process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${m}\n`); };
const secs = (a: number): number => (performance.now() - a) / 1000;

mkdirSync(TMP, { recursive: true });
const work = mkdtempSync(join(TMP, 'bench-db-'));

interface Report { [k: string]: unknown }
const report: Report = { date: new Date().toISOString(), node: process.version, n: N, dim: 128 };

const rate = queryRate;

function idsArray(n: number): string[] {
  return Array.from({ length: n }, (_, i) => String(i));
}

async function importFile(dbDir: string, file: string, index: unknown): Promise<{ seconds: number; store: number; indexSecs: number; flush: number; c: Collection; close: () => Promise<void> }> {
  const db = await openDatabase(dbDir);
  const c = await db.createCollection({ name: 'bench', dim: 128, metric: 'l2', index });
  const s = performance.now();
  const src = await openRecords(file);
  let storeDone = 0;
  await c.add(src.records, { onProgress: (p) => { if (p.phase === 'index' && storeDone === 0) storeDone = performance.now(); } });
  const added = performance.now();
  await c.flush();
  const seconds = secs(s);
  const store = storeDone === 0 ? (added - s) / 1000 : (storeDone - s) / 1000;
  return { seconds, store, indexSecs: (added - s) / 1000 - store, flush: secs(added), c, close: () => db.close() };
}

async function main(): Promise<void> {
  if (store !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(store)) throw new Error(`--store: expected a postgres:// URL, got ${JSON.stringify(store)}`);
    rmSync(work, { recursive: true, force: true });
    await runStoreComparison({ url: store, quick, n: N, write, root: ROOT, tmp: TMP, log });
    return;
  }
  if (large) {
    rmSync(work, { recursive: true, force: true });
    const n = Number(value('--large-n') ?? 10_000_000);
    const dim = Number(value('--large-dim') ?? 96);
    const nList = Number(value('--large-nlist') ?? 2048);
    const lr = await runLarge({ dir: join(TMP, `bench-db-large-${n}-${dim}`), n, dim, chunk: 100_000, index: { kind: 'ivf', nList, nProbe: 16 }, fresh: flag('--large-fresh'), log });
    const md = formatLarge(lr);
    process.stdout.write(md + '\n');
    if (write) {
      mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
      writeFileSync(join(ROOT, 'bench', 'results', 'db-large.json'), JSON.stringify(lr, null, 2) + '\n');
      updateBenchmarksMd(join(ROOT, 'BENCHMARKS.md'), md, 'db-large');
    }
    return;
  }
  log(`data: ${N} × 128 synthetic clusters + 1000 queries`);
  const ds: BenchDataset = syntheticClusters(`synthetic-${N / 1000}k`, N);
  const gt = groundTruth(ds);
  const fvecs = join(work, 'base.fvecs');
  await writeFvecs(fvecs, ds.base);
  report.dataset = ds.description;
  const ids = Uint32Array.from({ length: N }, (_, i) => i);

  // 1. HNSW import vs bare build (bare measured before and after the import).
  const bare = (): number => {
    const s = performance.now();
    const h = new HnswIndex({ dim: 128, metric: 'l2' });
    h.add(ids, ds.base);
    return secs(s);
  };
  log('bare HNSW build (1/2)');
  const bare1 = bare();
  log(`  ${bare1.toFixed(1)} s; import into an HNSW collection`);
  const hn = await importFile(join(work, 'hnsw-db'), fvecs, 'hnsw');
  log(`  ${hn.seconds.toFixed(1)} s (store ${hn.store.toFixed(1)}, index ${hn.indexSecs.toFixed(1)}, snapshot ${hn.flush.toFixed(1)}); bare build (2/2)`);
  const bare2 = bare();
  const bareMean = (bare1 + bare2) / 2;
  report.hnswImport = { seconds: hn.seconds, store: hn.store, index: hn.indexSecs, snapshot: hn.flush, bare: [bare1, bare2], ratio: hn.seconds / bareMean, target: 1.1 };
  log(`  bare ${bare2.toFixed(1)} s; import / bare = ${(hn.seconds / bareMean).toFixed(3)}`);

  // 3. Query rate through the collection vs the bare index at the same efSearch.
  const c = hn.c;
  const nq = ds.queries.count;
  const qv = (q: number): Float32Array => ds.queries.data.subarray(q * 128, (q + 1) * 128);
  const h = new HnswIndex({ dim: 128, metric: 'l2' });
  h.add(ids, ds.base);
  const dbCurve: CurvePoint[] = [];
  const bareCurve: CurvePoint[] = [];
  for (const ef of EF) {
    const got: number[][] = [];
    for (let q = 0; q < nq; q++) got.push((await c.query({ vector: qv(q), k: K, efSearch: ef, include: [] })).ids.map(Number));
    const recall = meanRecall(ds, gt, (q) => got[q]!);
    const qps = await rate(nq, async () => { for (let q = 0; q < nq; q++) await c.query({ vector: qv(q), k: K, efSearch: ef, include: [] }); });
    const bareQps = await rate(nq, () => { for (let q = 0; q < nq; q++) h.search(qv(q), K, { efSearch: ef }); });
    const bareRecall = meanRecall(ds, gt, (q) => h.search(qv(q), K, { efSearch: ef }).ids);
    dbCurve.push({ param: `efSearch=${ef}`, recall, qps, series: 'efSearch', cpuPerWall: 1 });
    bareCurve.push({ param: `efSearch=${ef}`, recall: bareRecall, qps: bareQps, series: 'efSearch', cpuPerWall: 1 });
    log(`  ef ${ef}: collection recall ${recall.toFixed(4)} ${qps.toFixed(0)} q/s; bare index ${bareRecall.toFixed(4)} ${bareQps.toFixed(0)} q/s`);
  }
  const at = qpsAtRecall(dbCurve, 0.95);
  const bareAt = qpsAtRecall(bareCurve, 0.95);
  report.query = { curve: dbCurve, bareCurve, qpsAt95: at?.qps ?? null, bareQpsAt95: bareAt?.qps ?? null };
  const hnswDisk = directoryBytes(join(work, 'hnsw-db'));
  // Vectors stored once (docs/db.md): the parts — SQLite (records without vectors), the vector file, the snapshot (links, no vectors).
  const vectorBytes = directoryBytes(join(work, 'hnsw-db', 'vectors'));
  const snapshotBytes = directoryBytes(join(work, 'hnsw-db', 'indexes'));
  report.hnswDisk = { bytes: hnswDisk, perVector: hnswDisk / N, parts: { sqlite: (hnswDisk - vectorBytes - snapshotBytes) / N, vectorFile: vectorBytes / N, snapshot: snapshotBytes / N }, target: 800 };
  log(`  disk ${(hnswDisk / N).toFixed(0)} B/vector: SQLite ${((hnswDisk - vectorBytes - snapshotBytes) / N).toFixed(0)}, vector file ${(vectorBytes / N).toFixed(0)}, snapshot ${(snapshotBytes / N).toFixed(0)}`);

  // 4. Filters: bucket = a hash of the row, independent of the clusters.
  log('filters: writing a bucket field into every record');
  const bucket = (i: number): number => (i * 7919 + 13) % 1000;
  const ids$ = idsArray(N);
  await c.update({ ids: ids$, metadatas: ids$.map((_, i) => ({ bucket: bucket(i) })) });
  const unfilteredQps = await rate(nq, async () => { for (let q = 0; q < nq; q++) await c.query({ vector: qv(q), k: K, include: [] }); });
  const flat = new FlatIndex({ dim: 128, metric: 'l2' });
  flat.add(ids, ds.base);
  const filters: { label: string; width: number }[] = [
    { label: '50%', width: 500 }, { label: '10%', width: 100 }, { label: '1%', width: 10 }, { label: '0.1%', width: 1 },
  ];
  const fq = quick ? 100 : 300;
  const filterRows: Report[] = [];
  for (const f of filters) {
    const rng = new Random(f.width);
    const starts = Array.from({ length: fq }, () => rng.int(1000 - f.width + 1));
    const whereOf = (start: number): Record<string, unknown> => (f.width === 1 ? { bucket: start } : { bucket: { $gte: start, $lt: start + f.width } });
    let hits = 0; let want = 0; let minHits = Infinity;
    for (let q = 0; q < fq; q++) {
      const start = starts[q]!;
      const allow = new IdSet(Array.from({ length: N }, (_, i) => i).filter((i) => bucket(i) >= start && bucket(i) < start + f.width));
      const truth = flat.search(qv(q), K, { allow });
      const res = await c.query({ vector: qv(q), k: K, where: whereOf(start), include: [] });
      minHits = Math.min(minHits, res.ids.length);
      const t = new Set(Array.from(truth.ids, String));
      want += t.size;
      for (const id of res.ids) if (t.has(id)) hits++;
    }
    const fixed = whereOf(starts[0]!);
    const cachedQps = await rate(fq, async () => { for (let q = 0; q < fq; q++) await c.query({ vector: qv(q), k: K, where: fixed, include: [] }); });
    let distinct = 0;
    const distinctQps = await rate(fq, async () => {
      // A filter never seen before for every query: the planner runs the SQL each time.
      for (let q = 0; q < fq; q++) await c.query({ vector: qv(q), k: K, where: { $and: [whereOf(starts[q]!), { bucket: { $ne: -1 - distinct++ } }] }, include: [] });
    });
    const row = { selectivity: f.label, recall: hits / want, minHits, qpsRepeatedFilter: cachedQps, qpsDistinctFilters: distinctQps, unfilteredQps };
    filterRows.push(row);
    log(`  ${f.label}: recall ${(hits / want).toFixed(4)}, fewest hits ${minHits}, ${cachedQps.toFixed(0)} q/s repeated filter, ${distinctQps.toFixed(0)} q/s distinct filters (unfiltered ${unfilteredQps.toFixed(0)})`);
  }
  report.filters = filterRows;
  // 4b. The same on a declared payload index, at FILTERS_N records (bench/lib/db-filters.ts; --filters-n 0 skips).
  if (FILTERS_N > 0) report.fieldFilters = await runFieldFilterBench({ n: FILTERS_N, dir: work, queries: fq, log });
  await hn.close();

  // 2. Flat import rate.
  log('import into a flat collection');
  const fl = await importFile(join(work, 'flat-db'), fvecs, 'flat');
  await fl.close();
  report.flatImport = { seconds: fl.seconds, recordsPerSecond: N / fl.seconds, storeSeconds: fl.store, target: 100_000 };
  log(`  ${fl.seconds.toFixed(2)} s: ${(N / fl.seconds).toFixed(0)} records/s`);

  // 6. LanceDB.
  if (lancedb) {
    const gtIds = Int32Array.from(gt.ids);
    const peers: Record<string, PeerResult> = {};
    for (const kind of ['hnsw', 'ivf'] as const) {
      log(`LanceDB ${kind}`);
      const dir = join(work, `lancedb-${kind}`);
      peers[kind] = await runLanceDb({ dir, base: ds.base, queries: ds.queries, gt: gtIds, k: K, index: kind, onProgress: (m: string) => log(`  ${m}`) } as never);
      const p = peers[kind]!;
      const pat = qpsAtRecall(p.curve, 0.95);
      log(`  import ${p.importSeconds.toFixed(1)} s, index ${p.indexSeconds.toFixed(1)} s, ${p.bytesPerVector.toFixed(0)} B/vector, QPS@0.95 ${pat === null ? 'never' : pat.qps.toFixed(0)}`);
      rmSync(dir, { recursive: true, force: true });
    }
    report.lancedb = { version: LANCEDB_VERSION, hnsw: peers.hnsw, ivf: peers.ivf };
    // omnivec IVF collection for the like-for-like IVF row.
    log('omnivec IVF collection import');
    const iv = await importFile(join(work, 'ivf-db'), fvecs, 'ivf');
    const ivCurve: CurvePoint[] = [];
    for (const np of [1, 2, 4, 8, 16, 32, 64]) {
      const got: number[][] = [];
      for (let q = 0; q < nq; q++) got.push((await iv.c.query({ vector: qv(q), k: K, nProbe: np, include: [] })).ids.map(Number));
      const recall = meanRecall(ds, gt, (q) => got[q]!);
      const qps = await rate(nq, async () => { for (let q = 0; q < nq; q++) await iv.c.query({ vector: qv(q), k: K, nProbe: np, include: [] }); });
      ivCurve.push({ param: `nProbe=${np}`, recall, qps, series: 'nProbe', cpuPerWall: 1 });
      if (recall > 0.99) break;
    }
    await iv.close();
    const ivDisk = directoryBytes(join(work, 'ivf-db'));
    report.ivf = { importSeconds: iv.seconds, curve: ivCurve, qpsAt95: qpsAtRecall(ivCurve, 0.95)?.qps ?? null, diskPerVector: ivDisk / N };
    log(`  import ${iv.seconds.toFixed(1)} s, QPS@0.95 ${(qpsAtRecall(ivCurve, 0.95)?.qps ?? NaN).toFixed(0)}, ${(ivDisk / N).toFixed(0)} B/vector`);
  }
  rmSync(work, { recursive: true, force: true });

  // 5. Reopen a large collection in a fresh process.
  if (REOPEN_N > 0) {
    const dir = join(TMP, `bench-db-reopen-${REOPEN_N}-v2`); // -v2: schema 2 (an older directory would be migrated by the first timed open)
    if (!existsSync(join(dir, 'READY'))) {
      rmSync(dir, { recursive: true, force: true });
      log(`building the ${REOPEN_N} × 128 HNSW collection for the reopen test (kept in ${dir})`);
      const big = syntheticClusters('reopen', REOPEN_N, 1);
      const db = await openDatabase(dir);
      const col = await db.createCollection({ name: 'big', dim: 128, metric: 'l2', index: 'hnsw' });
      const s = performance.now();
      let last = 0;
      await col.add({ ids: idsArray(REOPEN_N), vectors: big.base.data }, { onProgress: (p) => { if (performance.now() - last > 30_000) { last = performance.now(); log(`  ${p.phase} ${p.done}`); } } });
      await db.close();
      writeFileSync(join(dir, 'READY'), String(secs(s)));
    }
    const buildSeconds = Number(readFileSync(join(dir, 'READY'), 'utf8'));
    const runs: { seconds: number; firstQueryMs: number; origin: string; caughtUp: number; size: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const out = execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'lib', 'db-reopen.ts'), dir, 'big', '--query'], { encoding: 'utf8' });
      runs.push(JSON.parse(out) as typeof runs[number]);
      log(`  reopen ${i + 1}: ${runs[i]!.seconds.toFixed(2)} s from ${runs[i]!.origin}, caught up ${runs[i]!.caughtUp}, ${runs[i]!.size} vectors; first query ${runs[i]!.firstQueryMs.toFixed(1)} ms`);
    }
    const sorted = runs.map((r) => r.seconds).sort((a, b) => a - b);
    const firstQuery = runs.map((r) => r.firstQueryMs).sort((a, b) => a - b);
    report.reopen = { n: REOPEN_N, buildSeconds, runs, median: sorted[1], firstQueryMs: firstQuery[1], target: 1, diskBytes: directoryBytes(dir) };
  }

  // 6. Full text on Cranfield beside a reference BM25 (bench/lib/db-bm25.ts; issue 17 item 6), with --bm25.
  if (flag('--bm25')) report.bm25 = await runCranfieldBm25({ log });
  const md = markdown(report) + (report.bm25 === undefined ? '' : `\n\n${formatCranfieldBm25(report.bm25 as CranfieldBm25Report).join('\n')}`);
  process.stdout.write(md + '\n');
  if (write) {
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'results', 'db.json'), JSON.stringify(report, null, 2) + '\n');
    writeFileSync(join(ROOT, 'bench', 'results', 'db.md'), md + '\n');
    updateBenchmarksMd(join(ROOT, 'BENCHMARKS.md'), md, 'db');
  }
}

/** A time ratio (peer ÷ omnivec) in words. */
function faster(r: number): string {
  return Number.isNaN(r) ? '—' : r >= 1 ? `omnivec ${fmt(r, 2)}× faster` : `LanceDB ${fmt(1 / r, 2)}× faster`;
}

function fmt(x: number | null | undefined, d = 0): string {
  return x === null || x === undefined || Number.isNaN(x) ? '—' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
}

function markdown(r: Report): string {
  const hi = r.hnswImport as { seconds: number; store: number; index: number; snapshot: number; bare: number[]; ratio: number };
  const fi = r.flatImport as { seconds: number; recordsPerSecond: number };
  const q = r.query as { qpsAt95: number | null; bareQpsAt95: number | null };
  const lines: string[] = [];
  lines.push(`### Database (\`npm run bench:db${quick ? ' -- --quick' : ''}\`, ${String(r.date).slice(0, 10)}, Node ${r.node})`, '');
  lines.push(`Data: ${String(r.dataset)}. One process, 2 cores; omnivec with its default threads (both cores) for index builds, one query at a time.`, '');
  lines.push('| figure | omnivec | peer / target | ratio |', '| --- | ---: | ---: | ---: |');
  const bareMean = (hi.bare[0]! + hi.bare[1]!) / 2;
  lines.push(`| import .fvecs → HNSW collection (store ${fmt(hi.store, 1)} s + index ${fmt(hi.index, 1)} s + snapshot ${fmt(hi.snapshot, 1)} s) | ${fmt(hi.seconds, 1)} s | bare HnswIndex build ${fmt(bareMean, 1)} s (target ≤ 1.1×) | ${fmt(hi.ratio, 3)}× |`);
  lines.push(`| import .fvecs → flat collection | ${fmt(fi.recordsPerSecond)} records/s | target ≥ 100,000 records/s | ${fmt(fi.recordsPerSecond / 100_000, 2)}× |`);
  lines.push(`| collection query QPS at recall@10 = 0.95 (API incl. id lookup) | ${fmt(q.qpsAt95)} | bare index ${fmt(q.bareQpsAt95)} | ${fmt((q.qpsAt95 ?? NaN) / (q.bareQpsAt95 ?? NaN), 2)}× |`);
  const hd = r.hnswDisk as { perVector: number; parts?: { sqlite: number; vectorFile: number; snapshot: number } };
  const diskParts = hd.parts === undefined ? '' : `: SQLite ${fmt(hd.parts.sqlite)} + vector file ${fmt(hd.parts.vectorFile)} + snapshot ${fmt(hd.parts.snapshot)}`;
  if (r.reopen !== undefined) {
    const ro = r.reopen as { n: number; median: number; firstQueryMs?: number; runs: { origin: string; caughtUp: number }[]; buildSeconds: number };
    lines.push(`| reopen ${fmt(ro.n)} × 128 HNSW collection (fresh process, warm page cache; median of 3) | ${fmt(ro.median, 2)} s, from ${ro.runs[0]!.origin}, ${ro.runs[0]!.caughtUp} caught up | target ≤ 1.0 s, no rebuild | ${fmt(ro.median / 1, 2)}× of target |`);
    if (ro.firstQueryMs !== undefined) lines.push(`| the first k = 10 query after that reopen (median of 3) | ${fmt(ro.firstQueryMs, 1)} ms | target ≤ 50 ms | ${fmt(ro.firstQueryMs / 50, 2)}× of target |`);
  }
  const lance = r.lancedb as { version: string; hnsw: PeerResult; ivf: PeerResult } | undefined;
  if (lance !== undefined) {
    const lh = lance.hnsw;
    const li = lance.ivf;
    const lhAt = qpsAtRecall(lh.curve, 0.95);
    const liAt = qpsAtRecall(li.curve, 0.95);
    const iv = r.ivf as { importSeconds: number; qpsAt95: number | null; diskPerVector: number };
    lines.push(`| HNSW: import + index time | ${fmt(hi.seconds, 1)} s | LanceDB ${lance.version} ${lh.engine.replace(/^lancedb \S+ /, '')} ${fmt(lh.importSeconds + lh.indexSeconds, 1)} s | ${faster((lh.importSeconds + lh.indexSeconds) / hi.seconds)} |`);
    lines.push(`| HNSW: QPS at recall 0.95 | ${fmt(q.qpsAt95)} | LanceDB ${fmt(lhAt?.qps)}${lhAt === null ? ' (never reaches 0.95)' : ''} | ${fmt((q.qpsAt95 ?? NaN) / (lhAt?.qps ?? NaN), 1)}× |`);
    lines.push(`| HNSW: disk bytes per vector (omnivec${diskParts}, each vector stored once; LanceDB: table + 8-bit SQ index; target ≤ 800 and ≤ LanceDB) | ${fmt(hd.perVector)} | LanceDB ${fmt(lh.bytesPerVector)} | ${fmt(hd.perVector / lh.bytesPerVector, 2)}× the bytes |`);
    lines.push(`| IVF-Flat: import + index time (omnivec: nList = 4·√n = ${fmt(Math.round(4 * Math.sqrt(N)))} lists; LanceDB: its default partitions) | ${fmt(iv.importSeconds, 1)} s | LanceDB ${fmt(li.importSeconds + li.indexSeconds, 1)} s | ${faster((li.importSeconds + li.indexSeconds) / iv.importSeconds)} |`);
    lines.push(`| IVF-Flat: QPS at recall 0.95 | ${fmt(iv.qpsAt95)} | LanceDB ${fmt(liAt?.qps)}${liAt === null ? ' (never reaches 0.95)' : ''} | ${fmt((iv.qpsAt95 ?? NaN) / (liAt?.qps ?? NaN), 1)}× |`);
    lines.push(`| IVF-Flat: disk bytes per vector | ${fmt(iv.diskPerVector)} | LanceDB ${fmt(li.bytesPerVector)} | ${fmt(iv.diskPerVector / li.bytesPerVector, 2)}× the bytes |`);
  } else {
    lines.push(`| HNSW collection: disk bytes per vector (${diskParts.slice(2) || 'all files'}) | ${fmt(hd.perVector)} | target ≤ 800 | ${fmt(hd.perVector / 800, 2)}× of target |`);
  }
  lines.push('', 'Filtered queries (HNSW collection, `where` on a metadata field independent of the clusters; recall@10 against exact search over the matching records):', '');
  lines.push('| selectivity | recall@10 | fewest hits (k = 10) | QPS, one filter repeated | QPS, a new filter every query | unfiltered QPS |', '| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const f of r.filters as { selectivity: string; recall: number; minHits: number; qpsRepeatedFilter: number; qpsDistinctFilters: number; unfilteredQps: number }[]) {
    lines.push(`| ${f.selectivity} | ${f.recall.toFixed(4)} | ${f.minHits} | ${fmt(f.qpsRepeatedFilter)} | ${fmt(f.qpsDistinctFilters)} | ${fmt(f.unfilteredQps)} |`);
  }
  const ff = r.fieldFilters as FieldFilterReport | undefined;
  if (ff !== undefined) {
    lines.push('', `Filters on a declared payload index (${fmt(ff.n)} × ${ff.dim}, an integer field of ${ff.distinctValues} values; bench/lib/db-filters.ts): a new equality filter plans and answers in p50 ${ff.newFilterQueryMs.p50.toFixed(2)} ms / p99 ${ff.newFilterQueryMs.p99.toFixed(2)} ms (target p99 ≤ 5 ms), recall@10 ${ff.equality.recall.toFixed(4)}, fewest hits ${ff.equality.minHits}; QPS never lower at a more selective filter: ${ff.monotone ? 'yes' : 'NO'}.`, '');
    lines.push('| selectivity | recall@10 | fewest hits | QPS, a new filter every query | QPS, one filter repeated |', '| --- | ---: | ---: | ---: | ---: |');
    for (const f of ff.rows) lines.push(`| ${f.selectivity} | ${f.recall.toFixed(4)} | ${f.minHits} | ${fmt(f.qpsDistinctFilters)} | ${fmt(f.qpsRepeatedFilter)} |`);
  }
  return lines.join('\n');
}

await main();
