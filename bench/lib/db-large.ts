/**
 * `npm run bench:db -- --large`: the ten-million-record run (issue 17, item 7). One collection of
 * `n` × `dim` float32 vectors (default 10,000,000 × 96) with an integer metadata field `user`
 * (n / 100 distinct values, so every value matches 100 records) is imported through the public
 * collection API in write calls of `chunk` records, closed, reopened in a fresh process (open + the
 * first query timed there), queried (recall@10 against an exact scan, queries/second along nProbe)
 * and filtered by `user` with a value never asked before for every query (plan + search time,
 * recall against the exact answer among the matching records, fewest hits).
 *
 * The vectors are a function of the record number alone (seeded per record), so the exact answers
 * are recomputed from the generator instead of being held in memory: the global ground truth by a
 * chunked scan through the flat index's kernels, a filter's by generating its 100 records.
 *
 * The collection directory is kept (`READY` marks a finished import) so a second run measures the
 * reopen and queries without importing again; `--large-fresh` rebuilds it.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { openDatabase } from '../../src/db/database.js';
import { FlatIndex } from '../../src/indexes/flat/flat-index.js';
import { directoryBytes } from './lancedb-peer.js';

export interface LargeOptions {
  dir: string;
  n: number;
  dim: number;
  /** Records per write call. */
  chunk: number;
  /** The collection's index spec. */
  index: Record<string, unknown>;
  fresh: boolean;
  log: (m: string) => void;
}

const CLUSTERS = 1000;
const SEED = 0x5eed17;
export const USERS_PER = 100;

/** splitmix32: a small, well-mixed integer hash used as a per-record seed. */
function mix(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** The generator: cluster centres (seeded), then record i = centre[c(i)] + σ(c) · N(0, 1) noise seeded by i. */
export class LargeData {
  readonly centres: Float32Array;
  readonly spread: Float32Array;
  constructor(readonly dim: number) {
    this.centres = new Float32Array(CLUSTERS * dim);
    this.spread = new Float32Array(CLUSTERS);
    let s = SEED;
    const next = (): number => { s = mix(s); return (s + 0.5) / 4294967296; };
    const gauss = (): number => Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
    for (let i = 0; i < this.centres.length; i++) this.centres[i] = gauss();
    for (let c = 0; c < CLUSTERS; c++) this.spread[c] = 0.3 + 0.7 * next();
  }

  /** Writes record i's vector at dst[off..off+dim). */
  vector(i: number, dst: Float32Array, off: number): void {
    let s = mix(i ^ SEED) ^ 0x2545f491;
    const next = (): number => { s = mix(s); return (s + 0.5) / 4294967296; };
    const c = mix(i * 2 + 1) % CLUSTERS;
    const sd = this.spread[c]!;
    const co = c * this.dim;
    for (let j = 0; j < this.dim; j += 2) {
      const r = Math.sqrt(-2 * Math.log(next()));
      const a = 2 * Math.PI * next();
      dst[off + j] = this.centres[co + j]! + sd * r * Math.cos(a);
      if (j + 1 < this.dim) dst[off + j + 1] = this.centres[co + j + 1]! + sd * r * Math.sin(a);
    }
  }

  batch(first: number, count: number): Float32Array {
    const out = new Float32Array(count * this.dim);
    for (let i = 0; i < count; i++) this.vector(first + i, out, i * this.dim);
    return out;
  }

  /** Query q: a record-like vector from a record number far beyond n (never stored). */
  query(q: number): Float32Array {
    const out = new Float32Array(this.dim);
    this.vector(0x40000000 + q, out, 0);
    return out;
  }
}

export function userOf(i: number, n: number): number {
  return i % Math.max(1, Math.floor(n / USERS_PER));
}

export interface LargeReport {
  n: number;
  dim: number;
  index: Record<string, unknown>;
  import: { seconds: number; recordsPerSecond: number; reused: boolean };
  diskBytes: number;
  diskPerVector: number;
  reopen: { seconds: number; firstQueryMs: number; origin: string; caughtUp: number; size: number }[];
  queries: { nProbe: number; recall: number; qps: number }[];
  filters: { queries: number; msP50: number; msP99: number; recall: number; minHits: number; fieldIndex: boolean };
}

const secs = (t: number): number => (performance.now() - t) / 1000;

export async function runLarge(o: LargeOptions): Promise<LargeReport> {
  const { dir, n, dim, chunk, log } = o;
  const data = new LargeData(dim);
  const ready = join(dir, 'READY');
  let importSeconds: number;
  let reused = false;
  if (!o.fresh && existsSync(ready) && JSON.parse(readFileSync(ready, 'utf8')).n === n) {
    importSeconds = JSON.parse(readFileSync(ready, 'utf8')).seconds as number;
    reused = true;
    log(`large: reusing the ${n.toLocaleString('en-US')}-record collection in ${dir} (imported in ${importSeconds.toFixed(0)} s)`);
  } else {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    log(`large: importing ${n.toLocaleString('en-US')} × ${dim} into ${dir} (${JSON.stringify(o.index)}), ${chunk} records a write`);
    const db = await openDatabase(join(dir, 'db'));
    const col = await db.createCollection({ name: 'large', dim, metric: 'l2', index: o.index as never });
    const fieldIndex = (col as unknown as { createFieldIndex?: (f: string, o: { type: string }) => Promise<unknown> }).createFieldIndex;
    if (fieldIndex !== undefined) await fieldIndex.call(col, 'user', { type: 'integer' });
    const t = performance.now();
    let lastLog = t;
    for (let first = 0; first < n; first += chunk) {
      const count = Math.min(chunk, n - first);
      const ids = new Array<string>(count);
      const metadatas = new Array<Record<string, number>>(count);
      for (let i = 0; i < count; i++) { ids[i] = String(first + i); metadatas[i] = { user: userOf(first + i, n) }; }
      await col.add({ ids, vectors: data.batch(first, count), metadatas });
      if (performance.now() - lastLog > 30_000) {
        lastLog = performance.now();
        const done = first + count;
        log(`  ${done.toLocaleString('en-US')} records, ${(done / secs(t)).toFixed(0)} records/s`);
      }
    }
    await db.close();
    importSeconds = secs(t);
    writeFileSync(ready, JSON.stringify({ n, seconds: importSeconds }));
    log(`  imported in ${importSeconds.toFixed(0)} s: ${(n / importSeconds).toFixed(0)} records/s (generation of the vectors included)`);
  }
  const diskBytes = directoryBytes(join(dir, 'db'));
  log(`  on disk: ${(diskBytes / 2 ** 30).toFixed(2)} GiB, ${(diskBytes / n).toFixed(0)} B per record`);

  const reopen: LargeReport['reopen'] = [];
  for (let r = 0; r < 2; r++) {
    const out = execFileSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'db-reopen.ts'), join(dir, 'db'), 'large', '--query'], { encoding: 'utf8', maxBuffer: 1 << 20 });
    reopen.push(JSON.parse(out.trim().split('\n').pop()!) as LargeReport['reopen'][number]);
    log(`  reopen ${r + 1}: ${reopen[r]!.seconds.toFixed(2)} s (${reopen[r]!.origin}, caught up ${reopen[r]!.caughtUp}), first query ${reopen[r]!.firstQueryMs.toFixed(1)} ms`);
  }

  // Exact ground truth for NQ queries: a chunked scan of regenerated vectors through the flat kernels.
  const NQ = 50;
  const K = 10;
  const qs = Array.from({ length: NQ }, (_, q) => data.query(q));
  const qdata = new Float32Array(NQ * dim);
  qs.forEach((q, i) => qdata.set(q, i * dim));
  log(`  exact ground truth of ${NQ} queries (a scan of every regenerated vector)`);
  const best: { d: number; id: number }[][] = qs.map(() => []);
  const SCAN = 200_000;
  for (let first = 0; first < n; first += SCAN) {
    const count = Math.min(SCAN, n - first);
    const flat = new FlatIndex({ dim, metric: 'l2' });
    flat.add(Uint32Array.from({ length: count }, (_, i) => first + i), { data: data.batch(first, count), dim, count });
    const res = flat.searchBatch({ data: qdata, dim, count: NQ }, K);
    for (let q = 0; q < NQ; q++) {
      for (let j = 0; j < res.counts[q]!; j++) best[q]!.push({ d: res.distances[q * K + j]!, id: res.ids[q * K + j]! });
      best[q]!.sort((a, b) => a.d - b.d).splice(K);
    }
  }
  const truth = best.map((b) => new Set(b.map((x) => String(x.id))));

  const db = await openDatabase(join(dir, 'db'), { readOnly: true });
  const col = await db.getCollection('large');
  await col.open();
  const queries: LargeReport['queries'] = [];
  for (const nProbe of [4, 8, 16, 32, 64]) {
    let hits = 0;
    const t = performance.now();
    for (let q = 0; q < NQ; q++) {
      const res = await col.query({ vector: qs[q]!, k: K, nProbe, include: [] } as never);
      for (const id of res.ids) if (truth[q]!.has(id)) hits++;
    }
    const qps = NQ / secs(t);
    queries.push({ nProbe, recall: hits / (NQ * K), qps });
    log(`  nProbe ${nProbe}: recall@10 ${(hits / (NQ * K)).toFixed(4)}, ${qps.toFixed(1)} q/s`);
    if (hits / (NQ * K) > 0.99) break;
  }

  // Filters: a user value never asked before for every query; each matches USERS_PER records.
  const users = Math.max(1, Math.floor(n / USERS_PER));
  const FQ = 200;
  const times: number[] = [];
  let fhits = 0; let fwant = 0; let minHits = Infinity;
  for (let q = 0; q < FQ; q++) {
    const user = mix(q + 77) % users;
    const t = performance.now();
    const res = await col.query({ vector: qs[q % NQ]!, k: K, where: { user }, include: [] });
    times.push(performance.now() - t);
    minHits = Math.min(minHits, res.ids.length);
    const cand: { d: number; id: number }[] = [];
    const v = new Float32Array(dim);
    for (let i = user; i < n; i += users) {
      if (userOf(i, n) !== user) continue;
      data.vector(i, v, 0);
      let d = 0;
      const qv = qs[q % NQ]!;
      for (let j = 0; j < dim; j++) { const x = v[j]! - qv[j]!; d += x * x; }
      cand.push({ d, id: i });
    }
    cand.sort((a, b) => a.d - b.d);
    const want = new Set(cand.slice(0, K).map((c) => String(c.id)));
    fwant += want.size;
    for (const id of res.ids) if (want.has(id)) fhits++;
  }
  times.sort((a, b) => a - b);
  const hasFieldIndex = typeof (col as unknown as { listFieldIndexes?: unknown }).listFieldIndexes === 'function';
  const filters = { queries: FQ, msP50: times[Math.floor(FQ * 0.5)]!, msP99: times[Math.floor(FQ * 0.99)]!, recall: fhits / fwant, minHits, fieldIndex: hasFieldIndex };
  log(`  filtered by a new user value each query: p50 ${filters.msP50.toFixed(1)} ms, p99 ${filters.msP99.toFixed(1)} ms, recall@10 ${filters.recall.toFixed(4)}, fewest hits ${minHits}`);
  await db.close();
  return {
    n, dim, index: o.index,
    import: { seconds: importSeconds, recordsPerSecond: n / importSeconds, reused },
    diskBytes, diskPerVector: diskBytes / n, reopen, queries, filters,
  };
}

export function formatLarge(r: LargeReport): string {
  const f = (x: number, d = 0): string => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  const lines: string[] = [];
  lines.push(`### Ten million records (\`npm run bench:db -- --large\`, ${new Date().toISOString().slice(0, 10)}, Node ${process.version})`, '');
  lines.push(`${f(r.n)} × ${r.dim} float32 vectors (1,000 seeded Gaussian clusters, generated per record) with an integer field \`user\` of ${f(Math.floor(r.n / USERS_PER))} values (${USERS_PER} records each)${r.filters.fieldIndex ? ', declared as a payload index before the import' : ''}; collection index ${JSON.stringify(r.index)}; 2 cores. No peer runs at this size here (LanceDB's figures at 100k are in the table above).`, '');
  lines.push('| figure | omnivec |', '| --- | ---: |');
  lines.push(`| import through \`collection.add\` in write calls of 100,000 (durability full; vector generation included)${r.import.reused ? ' — from an earlier run' : ''} | ${f(r.import.seconds)} s, ${f(r.import.recordsPerSecond)} records/s |`);
  lines.push(`| on disk | ${f(r.diskBytes / 2 ** 30, 2)} GiB, ${f(r.diskPerVector)} B per record (raw vector ${r.dim * 4} B) |`);
  for (const [i, ro] of r.reopen.entries()) lines.push(`| reopen ${i + 1} in a fresh process (open + index from ${ro.origin}, ${ro.caughtUp} caught up) / first k = 10 query | ${f(ro.seconds, 2)} s / ${f(ro.firstQueryMs, 1)} ms |`);
  for (const q of r.queries) lines.push(`| nProbe ${q.nProbe}: recall@10 (50 queries, exact scan as truth) / queries per second | ${q.recall.toFixed(4)} / ${f(q.qps, 1)} |`);
  lines.push(`| a new \`user\` value every query (${r.filters.queries} queries, k = 10): latency p50 / p99, recall@10, fewest hits | ${f(r.filters.msP50, 1)} / ${f(r.filters.msP99, 1)} ms, ${r.filters.recall.toFixed(4)}, ${r.filters.minHits} |`);
  return lines.join('\n');
}
