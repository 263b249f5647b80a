/**
 * `npm run bench:db -- --store postgres://…`: the embedded store and a server store side by side in
 * one run, on the same data and through the same collection API (docs/benchmarks.md, "bench:db"):
 *
 *   - import: the records (id, vector, metadata `{ bucket }`) in one `add` call into a flat
 *     collection (records/s: the storage alone) and into an HNSW collection (m 16, efConstruction
 *     200: storage and index), then `flush()`;
 *   - queries: sequential single queries (`include: []`), efSearch swept; recall@10 against exact
 *     search (brute force over all the vectors) and queries/second at each efSearch, QPS at recall
 *     0.95 interpolated as in bench:ann;
 *   - filters on `bucket` (independent of the clusters) selecting 50 %, 1 % and 0.1 %: recall@10
 *     against exact search over the matching records, the fewest hits, and QPS with one filter
 *     repeated and with a new filter every query.
 *
 * Each figure is measured for both stores one right after the other (the machine drifts), and
 * given as PostgreSQL ÷ embedded.
 */
import { mkdtempSync, rmSync, existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { syntheticClusters } from './datasets.js';
import { groundTruth, meanRecall, queryRate, K } from './measure.js';
import { updateBenchmarksMd } from './report.js';
import { FlatIndex } from '../../src/indexes/flat/flat-index.js';
import { IdSet } from '../../src/indexes/common.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import type { Collection } from '../../src/db/collection.js';
import type { RecordInput } from '../../src/db/records.js';
import { Random } from '../../src/vector/random.js';

export interface StoreBenchOptions {
  url: string;
  quick: boolean;
  n: number;
  write: boolean;
  root: string;
  tmp: string;
  log: (m: string) => void;
}

type Side = 'embedded' | 'postgres';
const SIDES: Side[] = ['embedded', 'postgres'];
const INDEX = { kind: 'hnsw', m: 16, efConstruction: 200 } as const;
const DIM = 128;

interface Point { efSearch: number; recall: number; qps: number }
interface FilterRow { selectivity: string; recall: number; minHits: number; qpsRepeated: number; qpsDistinct: number }
interface SideResult {
  flatImport: { seconds: number; perSecond: number };
  hnswImport: { seconds: number; perSecond: number; flushSeconds: number };
  analyzeSeconds?: number;
  curve: Point[];
  at95: { qps: number; how: string } | null;
  filters: FilterRow[];
}

const secs = (a: number): number => (performance.now() - a) / 1000;

const rate = queryRate;

/** QPS at recall 0.95 along a sweep: log(QPS) interpolated between the points around it (as bench:ann). */
function at95(curve: Point[]): { qps: number; how: string } | null {
  const i = curve.findIndex((p) => p.recall >= 0.95);
  if (i < 0) return null;
  const b = curve[i]!;
  if (i === 0) return { qps: b.qps, how: `≥: already ${b.recall.toFixed(4)} at efSearch ${b.efSearch}` };
  const a = curve[i - 1]!;
  const t = (0.95 - a.recall) / (b.recall - a.recall);
  return { qps: Math.exp(Math.log(a.qps) + t * (Math.log(b.qps) - Math.log(a.qps))), how: `between efSearch ${a.efSearch} and ${b.efSearch}` };
}

/** `postgres://user:secret@host/db` → `postgres://user@host/db`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//…@');
  }
}

/** The server's software, and its Citus cluster when it is a coordinator (then the collections are sharded by id over the workers). */
async function serverVersions(url: string): Promise<{ software: string; citus: boolean }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const v = await c.query<{ v: string }>('SELECT current_setting($$server_version$$) AS v');
    const e = await c.query<{ v: string }>("SELECT coalesce(installed_version, default_version) AS v FROM pg_available_extensions WHERE name = 'vector'");
    let software = `PostgreSQL ${v.rows[0]!.v.split(' ')[0]}, pgvector ${e.rows[0]?.v ?? '(not available)'}`;
    const citus = (await c.query<{ v: string }>("SELECT extversion AS v FROM pg_extension WHERE extname = 'citus'")).rows[0]?.v;
    if (citus !== undefined) {
      const workers = (await c.query<{ n: string }>("SELECT count(*) AS n FROM pg_dist_node WHERE noderole = 'primary' AND groupid <> 0")).rows[0]!.n;
      const shards = (await c.query<{ v: string }>("SELECT current_setting('citus.shard_count') AS v")).rows[0]!.v;
      software += `, Citus ${citus} (a coordinator + ${workers} workers, all on this machine; collections sharded by id, ${shards} shards)`;
    }
    return { software, citus: citus !== undefined };
  } finally {
    await c.end();
  }
}

export async function runStoreComparison(o: StoreBenchOptions): Promise<void> {
  const { url, quick, n: N, log } = o;
  const EF = quick ? [10, 16, 32, 64, 128] : [10, 16, 24, 32, 48, 64, 96, 128, 192, 256];
  const load0 = loadavg();
  const started = new Date();
  const { software, citus } = await serverVersions(url);
  const section = citus ? 'db-citus' : 'db-postgres';
  log(`data: ${N} × ${DIM} synthetic clusters + 1000 queries; embedded store vs ${redactUrl(url)} (${software})`);
  const ds = syntheticClusters(`synthetic-${N / 1000}k`, N);
  const gt = groundTruth(ds);
  const nq = ds.queries.count;
  const qv = (q: number): Float32Array => ds.queries.data.subarray(q * DIM, (q + 1) * DIM);
  const bucket = (i: number): number => (i * 7919 + 13) % 1000;
  function* records(): Generator<RecordInput> {
    for (let i = 0; i < N; i++) yield { id: String(i), vector: ds.base.data.subarray(i * DIM, (i + 1) * DIM), metadata: { bucket: bucket(i) } };
  }

  const work = mkdtempSync(join(o.tmp, 'bench-db-stores-'));
  const names: string[] = [];
  const suffix = `${process.pid}_${Date.now().toString(36)}`;
  const dbs: Record<Side, Database> = {
    embedded: await openDatabase(join(work, 'embedded')),
    postgres: await openDatabase(url),
  };
  const result = { embedded: {}, postgres: {} } as Record<Side, SideResult>;
  try {
    // 1. Imports, one after the other for each kind of collection.
    const importInto = async (side: Side, kind: 'flat' | 'hnsw'): Promise<{ c: Collection; seconds: number; flushSeconds: number }> => {
      const name = `bench_${kind}_${suffix}`;
      names.push(name);
      const c = await dbs[side].createCollection({ name, dim: DIM, metric: 'l2', index: kind === 'flat' ? 'flat' : INDEX, ...(citus ? { shardBy: 'id' as const } : {}) });
      const s = performance.now();
      await c.add(records());
      const added = performance.now();
      await c.flush();
      return { c, seconds: secs(s), flushSeconds: secs(added) };
    };
    for (const side of SIDES) {
      log(`${side}: import into a flat collection`);
      const r = await importInto(side, 'flat');
      result[side].flatImport = { seconds: r.seconds, perSecond: N / r.seconds };
      log(`  ${r.seconds.toFixed(1)} s: ${(N / r.seconds).toFixed(0)} records/s`);
      await dbs[side].dropCollection(names.pop()!);
    }
    const hnsw = {} as Record<Side, Collection>;
    for (const side of SIDES) {
      log(`${side}: import into an HNSW collection (m ${INDEX.m}, efConstruction ${INDEX.efConstruction})`);
      const r = await importInto(side, 'hnsw');
      hnsw[side] = r.c;
      result[side].hnswImport = { seconds: r.seconds, perSecond: N / r.seconds, flushSeconds: r.flushSeconds };
      log(`  ${r.seconds.toFixed(1)} s (flush ${r.flushSeconds.toFixed(1)} s): ${(N / r.seconds).toFixed(0)} records/s`);
    }

    // 2. Recall and QPS along efSearch, the two stores at each point in turn.
    for (const side of SIDES) result[side].curve = [];
    for (const ef of EF) {
      for (const side of SIDES) {
        const c = hnsw[side];
        const got: number[][] = [];
        for (let q = 0; q < nq; q++) got.push((await c.query({ vector: qv(q), k: K, efSearch: ef, include: [] })).ids.map(Number));
        const recall = meanRecall(ds, gt, (q) => got[q]!);
        const qps = await rate(nq, async () => { for (let q = 0; q < nq; q++) await c.query({ vector: qv(q), k: K, efSearch: ef, include: [] }); });
        result[side].curve.push({ efSearch: ef, recall, qps });
      }
      const [e, p] = [result.embedded.curve.at(-1)!, result.postgres.curve.at(-1)!];
      log(`  efSearch ${ef}: embedded recall ${e.recall.toFixed(4)} ${e.qps.toFixed(0)} q/s; postgres recall ${p.recall.toFixed(4)} ${p.qps.toFixed(0)} q/s (${(p.qps / e.qps).toFixed(2)}×)`);
    }
    for (const side of SIDES) result[side].at95 = at95(result[side].curve);

    // 3. Filters. Exact answers from a flat index over the matching records.
    const flat = new FlatIndex({ dim: DIM, metric: 'l2' });
    flat.add(Uint32Array.from({ length: N }, (_, i) => i), ds.base);
    const fq = quick ? 100 : 300;
    for (const side of SIDES) result[side].filters = [];
    for (const f of [{ label: '50%', width: 500 }, { label: '1%', width: 10 }, { label: '0.1%', width: 1 }]) {
      const rng = new Random(f.width);
      const starts = Array.from({ length: fq }, () => rng.int(1000 - f.width + 1));
      const whereOf = (start: number): Record<string, unknown> => (f.width === 1 ? { bucket: start } : { bucket: { $gte: start, $lt: start + f.width } });
      const truths = starts.map((start, q) => {
        const allow = new IdSet(Array.from({ length: N }, (_, i) => i).filter((i) => bucket(i) >= start && bucket(i) < start + f.width));
        return new Set(Array.from(flat.search(qv(q), K, { allow }).ids, String));
      });
      for (const side of SIDES) {
        const c = hnsw[side];
        let hits = 0; let want = 0; let minHits = Infinity;
        for (let q = 0; q < fq; q++) {
          const res = await c.query({ vector: qv(q), k: K, where: whereOf(starts[q]!), include: [] });
          minHits = Math.min(minHits, res.ids.length);
          want += truths[q]!.size;
          for (const id of res.ids) if (truths[q]!.has(id)) hits++;
        }
        const fixed = whereOf(starts[0]!);
        const qpsRepeated = await rate(fq, async () => { for (let q = 0; q < fq; q++) await c.query({ vector: qv(q), k: K, where: fixed, include: [] }); });
        let distinct = 0;
        const qpsDistinct = await rate(fq, async () => {
          // A filter never seen before for every query.
          for (let q = 0; q < fq; q++) await c.query({ vector: qv(q), k: K, where: { $and: [whereOf(starts[q]!), { bucket: { $ne: -1 - distinct++ } }] }, include: [] });
        });
        result[side].filters.push({ selectivity: f.label, recall: hits / want, minHits, qpsRepeated, qpsDistinct });
        log(`  ${f.label} ${side}: recall ${(hits / want).toFixed(4)}, fewest hits ${minHits}, ${qpsRepeated.toFixed(0)} q/s repeated filter, ${qpsDistinct.toFixed(0)} q/s distinct filters`);
      }
    }
  } finally {
    for (const side of SIDES) {
      for (const name of names) await dbs[side].dropCollection(name).catch(() => undefined);
      await dbs[side].close();
    }
    rmSync(work, { recursive: true, force: true });
  }

  const report = {
    date: started.toISOString(), node: process.version, n: N, dim: DIM, quick, dataset: ds.description, index: INDEX,
    server: redactUrl(url), software, loadavg: { start: load0, end: loadavg() }, cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    commit: commitOf(o.root), embedded: result.embedded, postgres: result.postgres,
  };
  const md = markdown(report);
  process.stdout.write(md + '\n');
  if (o.write) {
    mkdirSync(join(o.root, 'bench', 'results'), { recursive: true });
    writeFileSync(join(o.root, 'bench', 'results', `${section}.json`), JSON.stringify(report, null, 2) + '\n');
    writeFileSync(join(o.root, 'bench', 'results', `${section}.md`), md + '\n');
    const file = join(o.root, 'BENCHMARKS.md');
    // The section sits after the database sections the first time.
    if (existsSync(file)) {
      const text = readFileSync(file, 'utf8');
      const after = text.includes('<!-- db-postgres:end -->') ? '<!-- db-postgres:end -->' : '<!-- db:end -->';
      if (!text.includes(`<!-- ${section}:begin -->`) && text.includes(after)) {
        writeFileSync(file, text.replace(after, `${after}\n\n<!-- ${section}:begin -->\n<!-- ${section}:end -->`));
      }
    }
    updateBenchmarksMd(file, md, section);
  }
}

function commitOf(root: string): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head} (with uncommitted changes to src/)` : head;
  } catch {
    return '?';
  }
}

function fmt(x: number | null | undefined, d = 0): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
}

/** PostgreSQL ÷ embedded, to two significant digits (0.0016×, 0.21×, 6.6×). */
function ratio(pgValue: number | null | undefined, embedded: number | null | undefined): string {
  if (pgValue == null || embedded == null || !Number.isFinite(pgValue) || !Number.isFinite(embedded) || embedded === 0) return '—';
  const r = pgValue / embedded;
  return `${r >= 100 ? fmt(r) : Number(r.toPrecision(2)).toString()}×`;
}

interface Report {
  date: string; node: string; n: number; dim: number; quick: boolean; dataset: string; index: typeof INDEX; server: string; software: string;
  loadavg: { start: number[]; end: number[] }; cpus: string; commit: string; embedded: SideResult; postgres: SideResult;
}

function markdown(r: Report): string {
  const e = r.embedded;
  const p = r.postgres;
  const la = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' ');
  const lines: string[] = [];
  const server = r.software.includes('Citus') ? 'a Citus cluster (PostgreSQL + pgvector)' : 'PostgreSQL + pgvector';
  lines.push(`### Database: the embedded store beside ${server} (\`npm run bench:db -- --store ${r.server}${r.quick ? ' --quick' : ''}\`)`, '');
  lines.push(`- ${r.date.slice(0, 16).replace('T', ' ')} UTC, commit ${r.commit}; Node ${r.node}; ${r.software} on the same machine (${r.cpus}), on loopback. ` +
    `Load average ${la(r.loadavg.start)} at the start, ${la(r.loadavg.end)} at the end${Math.max(...r.loadavg.start, ...r.loadavg.end) > 2.5 ? ' (the machine was busy: other work shared its 2 cores; each figure is measured for both stores one right after the other)' : ''}.`);
  lines.push(`- Data: ${r.dataset}; metadata \`{ bucket }\` (a hash of the row, independent of the clusters). Both collections: HNSW, m ${r.index.m}, efConstruction ${r.index.efConstruction}, L2.`);
  lines.push('- Embedded: records in SQLite, the in-memory HNSW index (one thread). PostgreSQL: pgvector\'s HNSW index, queries over one pooled connection; the server process shares the machine with the bench.', '');
  lines.push('| figure | embedded | PostgreSQL | PostgreSQL ÷ embedded |', '| --- | ---: | ---: | ---: |');
  lines.push(`| import into a flat collection (one \`add\` call), records/s | ${fmt(e.flatImport.perSecond)} | ${fmt(p.flatImport.perSecond)} | ${ratio(p.flatImport.perSecond, e.flatImport.perSecond)} |`);
  lines.push(`| import into an HNSW collection (one \`add\` call + \`flush\`), records/s | ${fmt(e.hnswImport.perSecond)} (${fmt(e.hnswImport.seconds, 1)} s) | ${fmt(p.hnswImport.perSecond)} (${fmt(p.hnswImport.seconds, 1)} s) | ${ratio(p.hnswImport.perSecond, e.hnswImport.perSecond)} |`);
  // A sweep whose first point already reaches 0.95 gives a lower bound ("≥").
  const at = (a: SideResult['at95']): string => (a === null ? '— (never reaches 0.95)' : `${a.how.startsWith('≥') ? '≥ ' : ''}${fmt(a.qps)}`);
  lines.push(`| query QPS at recall@10 = 0.95 (sequential, \`include: []\`; ≥: already above 0.95 at the smallest efSearch) | ${at(e.at95)} | ${at(p.at95)} | ${ratio(p.at95?.qps, e.at95?.qps)} |`);
  for (const f of e.filters) {
    const g = p.filters.find((x) => x.selectivity === f.selectivity)!;
    lines.push(`| filter ${f.selectivity}: QPS, one filter repeated | ${fmt(f.qpsRepeated)} | ${fmt(g.qpsRepeated)} | ${ratio(g.qpsRepeated, f.qpsRepeated)} |`);
    lines.push(`| filter ${f.selectivity}: QPS, a new filter every query | ${fmt(f.qpsDistinct)} | ${fmt(g.qpsDistinct)} | ${ratio(g.qpsDistinct, f.qpsDistinct)} |`);
  }
  lines.push('', 'Recall@10 against exact search and QPS at each efSearch:', '');
  lines.push('| efSearch | embedded recall@10 | embedded QPS | PostgreSQL recall@10 | PostgreSQL QPS | QPS ratio |', '| ---: | ---: | ---: | ---: | ---: | ---: |');
  for (let i = 0; i < e.curve.length; i++) {
    const a = e.curve[i]!;
    const b = p.curve[i]!;
    lines.push(`| ${a.efSearch} | ${a.recall.toFixed(4)} | ${fmt(a.qps)} | ${b.recall.toFixed(4)} | ${fmt(b.qps)} | ${ratio(b.qps, a.qps)} |`);
  }
  lines.push('', 'Filtered queries (default efSearch; recall@10 against exact search over the matching records):', '');
  lines.push('| selectivity | recall@10 embedded / PostgreSQL | fewest hits (k = 10) embedded / PostgreSQL | QPS repeated filter: embedded / PostgreSQL (ratio) | QPS new filter every query: embedded / PostgreSQL (ratio) |', '| --- | ---: | ---: | ---: | ---: |');
  for (const f of e.filters) {
    const g = p.filters.find((x) => x.selectivity === f.selectivity)!;
    lines.push(`| ${f.selectivity} | ${f.recall.toFixed(4)} / ${g.recall.toFixed(4)} | ${f.minHits} / ${g.minHits} | ${fmt(f.qpsRepeated)} / ${fmt(g.qpsRepeated)} (${ratio(g.qpsRepeated, f.qpsRepeated)}) | ${fmt(f.qpsDistinct)} / ${fmt(g.qpsDistinct)} (${ratio(g.qpsDistinct, f.qpsDistinct)}) |`);
  }
  return lines.join('\n');
}
