/**
 * The issue-16 target blocks of the ANN benchmark: threads, int8, binary and IVF-PQ, each engine
 * in its own process (bench/lib/target-worker.ts; the Python peers through bench/lib/ann-peers.py).
 * Every search here is a batch call (all queries in one call: omnivec `searchBatch`, usearch
 * `search` on the query matrix, hnswlib `knn_query`, Faiss `search`), so that the threaded and the
 * one-thread rows and the Python peers are timed the same way.
 *
 * The omnivec side uses only the public option names of docs/indexes/scale.md (`threads`,
 * `quantization`, `rescore`, `pqM`; SearchOptions.threads / .rescore; AddOptions.threads). A build
 * that refuses one of them (OmnivecError) or ignores it (index.threads, params / stats() do not
 * report it) gives an "unavailable" entry instead of rows: the report prints "not available in
 * this build" for it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import usearch from 'usearch';
import { OmnivecError } from '../../src/errors.js';
import { createIndex, type IndexSpec } from '../../src/indexes/registry.js';
import type { AddOptions, SearchOptions, VectorIndex } from '../../src/indexes/types.js';
import type { BenchDataset } from './datasets.js';
import { hnswlibBytesPerVector } from './engines.js';
import { K, dist64, log, measureRate, meanRecall, settle, settledRss, timed, type GroundTruth, type TimingConfig } from './measure.js';

export const TARGET_GROUPS = ['threads', 'int8', 'binary', 'ivfpq'] as const;
export type TargetGroup = (typeof TARGET_GROUPS)[number];

/** One engine variant of one group = one worker process. */
export const TARGET_BLOCKS = [
  'threads/omnivec-1', 'threads/omnivec-N', 'threads/usearch-1', 'threads/usearch-N', 'threads/hnswlib-py-1', 'threads/hnswlib-py-N',
  'int8/omnivec-float', 'int8/omnivec-int8', 'int8/usearch-i8',
  'binary/omnivec-flat-float', 'binary/omnivec-flat-binary', 'binary/omnivec-hnsw-float', 'binary/omnivec-hnsw-binary',
  'binary/usearch-b1', 'binary/faiss-flat', 'binary/faiss-hnsw',
  'ivfpq/omnivec-pq', 'ivfpq/faiss-ivfpq',
] as const;
export type TargetBlock = (typeof TARGET_BLOCKS)[number];

export function groupOf(b: TargetBlock): TargetGroup {
  return b.slice(0, b.indexOf('/')) as TargetGroup;
}

export interface TargetPlan {
  timing: TimingConfig;
  /** Thread count of the threaded rows (issue 16: 2). */
  threads: number;
  m: number;
  efConstruction: number;
  seed: number;
  efSweep: number[];
  /** Candidates re-scored per result (× k) swept by the quantised HNSW / binary blocks. */
  rescoreSweep: number[];
  /** Re-scoring factors of the binary flat scans (they have no efSearch to sweep). */
  binaryFlatRescore: number[];
  /** Re-scoring factors of the binary HNSW rows (each with the whole efSearch sweep). */
  binaryHnswRescore: number[];
  /** IVF-PQ: coarse k-means `iterations` for both engines (omnivec `iterations`, Faiss `cp.niter`). */
  ivf: { nList: number; pqM: number; iterations: number; nProbeSweep: number[]; rescoreAfter: number[] };
  /** .fvecs copies of base and queries for the Python peers. */
  baseFvecs: string;
  queriesFvecs: string;
}

export interface TargetRow extends TargetRowBody {
  group: TargetGroup;
  dataset: string;
}

/** A row's figures (what a block measures; the run adds group and dataset). */
export interface TargetRowBody {
  /** omnivec, usearch, hnswlib-py (Debian's python3-hnswlib), faiss (python3-faiss). */
  engine: string;
  /** What is measured, e.g. "hnsw float", "hnsw int8", "flat binary", "ivf-pq". */
  variant: string;
  threads: number;
  params: Record<string, number>;
  buildSeconds: number;
  buildCpuPerWall: number;
  recallAt10: number;
  qps: number;
  cpuPerWall: number;
  /** The engine's own memory figure ÷ vectors (omnivec: stats().memoryBytes, which excludes the re-scoring floats). */
  bytesPerVector: number | null;
  bytesSource: string;
  rssBytesPerVector: number | null;
  /** omnivec: stats().rescoreBytes ÷ vectors (the float32 vectors kept for re-scoring), when reported. */
  rescoreBytesPerVector?: number;
  [extra: string]: unknown;
}

export interface Unavailable {
  group: TargetGroup;
  engine: string;
  variant: string;
  why: string;
}

export interface TargetBlockResult {
  rows: TargetRow[];
  unavailable: Unavailable[];
  notes: string[];
  failures: number;
  starved: number;
  versions: Record<string, string>;
}

class NotAvailable extends Error {}

const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
const PY = '/usr/bin/python3';
const PEERS = fileURLToPath(new URL('./ann-peers.py', import.meta.url));

// ---------------------------------------------------------------------------------------------
// omnivec

interface OmnivecWant {
  quantization?: string;
  threads?: number;
  pqM?: number;
}

/**
 * Whether the built index honours the issue-16 options asked for: `quantization` and `pqM` must
 * appear in `params` or `stats()`, `threads` in `index.threads` (docs/indexes/scale.md). Returns
 * why not, or undefined.
 */
export function ignoredOption(index: VectorIndex, want: OmnivecWant): string | undefined {
  const params = index.params as Readonly<Record<string, unknown>>;
  const stats = index.stats() as Record<string, unknown>;
  if (want.quantization !== undefined && want.quantization !== 'none') {
    const got = params.quantization ?? stats.quantization;
    if (got !== want.quantization) return `option quantization: '${want.quantization}' ignored (params / stats() report ${JSON.stringify(got ?? null)})`;
  }
  if (want.pqM !== undefined) {
    const got = params.pqM ?? stats.pqM;
    if (got !== want.pqM) return `option pqM: ${want.pqM} ignored (params / stats() report ${JSON.stringify(got ?? null)})`;
  }
  if (want.threads !== undefined && want.threads !== 1) {
    const got = (index as unknown as { threads?: unknown }).threads;
    if (got !== want.threads) return `option threads: ${want.threads} ignored (index.threads is ${JSON.stringify(got ?? null)})`;
  }
  return undefined;
}

interface OmnivecBuilt {
  index: VectorIndex;
  buildSeconds: number;
  buildCpuPerWall: number;
  bytesPerVector: number;
  rssBytesPerVector: number;
  rescoreBytesPerVector?: number;
  extra: Record<string, number | string>;
}

/**
 * createIndex (refusal → not available), a check that the options were taken, then the timed
 * build: createIndex + train(base) + one add of the whole base with `addOptions`.
 */
async function buildOmnivecTarget(ds: BenchDataset, spec: Record<string, unknown>, want: OmnivecWant, addOptions: Record<string, unknown>): Promise<OmnivecBuilt> {
  try {
    const probe = createIndex(spec as unknown as IndexSpec);
    const why = ignoredOption(probe, want);
    if (why !== undefined) throw new NotAvailable(why);
  } catch (e) {
    if (e instanceof OmnivecError) throw new NotAvailable(`${e.code}: ${e.message}`);
    throw e;
  }
  await settle();
  const ids = Uint32Array.from({ length: ds.base.count }, (_, i) => i);
  const rss0 = await settledRss();
  let last = performance.now();
  const onProgress = (done: number, total: number): void => {
    if (done < total && performance.now() - last >= 5000) {
      last = performance.now();
      log(`  omnivec ${String(spec.kind)}: ${done}/${total} added`);
    }
  };
  const t = timed(() => {
    const index = createIndex(spec as unknown as IndexSpec);
    index.train(ds.base);
    index.add(ids, ds.base, { ...addOptions, onProgress } as AddOptions);
    return index;
  });
  const rss1 = await settledRss();
  const index = t.value;
  const stats = index.stats();
  if (stats.size !== ds.base.count) throw new Error(`omnivec ${String(spec.kind)}: size ${stats.size} after adding ${ds.base.count} vectors`);
  const extra: Record<string, number | string> = {};
  for (const [key, value] of Object.entries(stats)) {
    if (!['kind', 'dim', 'metric', 'size', 'memoryBytes', 'vectorBytes'].includes(key)) extra[`stats.${key}`] = value;
  }
  const rescoreBytes = typeof stats.rescoreBytes === 'number' ? stats.rescoreBytes / stats.size : undefined;
  return {
    index, buildSeconds: t.seconds, buildCpuPerWall: t.cpuPerWall, bytesPerVector: stats.memoryBytes / stats.size,
    rssBytesPerVector: (rss1 - rss0) / ds.base.count, ...(rescoreBytes !== undefined ? { rescoreBytesPerVector: rescoreBytes } : {}), extra,
  };
}

// ---------------------------------------------------------------------------------------------
// usearch

type UsearchIndex = InstanceType<typeof usearch.Index>;

interface UsearchConfig {
  dim: number;
  metric: (typeof usearch.MetricKind)[keyof typeof usearch.MetricKind];
  quantization: (typeof usearch.ScalarKind)[keyof typeof usearch.ScalarKind];
  m: number;
  efConstruction: number;
}

function usearchIndex(c: UsearchConfig, efSearch: number): UsearchIndex {
  return new usearch.Index({
    dimensions: c.dim, metric: c.metric, quantization: c.quantization, connectivity: c.m,
    expansion_add: c.efConstruction, expansion_search: efSearch, multi: false,
  });
}

/**
 * Builds once (timed: one add of the whole base with `threads`), saves to a temporary file, and
 * hands out the index loaded with a given expansion_search (the JS binding cannot change it after
 * construction; see docs/benchmarks.md). Memory: resident growth across the build.
 */
async function buildUsearchTarget(c: UsearchConfig, base: Float32Array, n: number, threads: number): Promise<{
  buildSeconds: number; buildCpuPerWall: number; rssBytesPerVector: number; fileBytesPerVector: number;
  at(ef: number): Promise<UsearchIndex>; dispose(): void;
}> {
  const keys = BigUint64Array.from({ length: n }, (_, i) => BigInt(i));
  const rss0 = await settledRss();
  const t = timed(() => {
    const index = usearchIndex(c, 64);
    index.add(keys, base, threads);
    return index;
  });
  let built: UsearchIndex | undefined = t.value;
  const rss1 = await settledRss();
  if (built.size() !== n) throw new Error(`usearch: size ${built.size()} after adding ${n}`);
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-bench-usearch-'));
  const file = join(dir, 'index.usearch');
  built.save(file);
  const fileBytes = statSync(file).size;
  built = undefined;
  let current: { ef: number; index: UsearchIndex } | undefined;
  return {
    buildSeconds: t.seconds, buildCpuPerWall: t.cpuPerWall, rssBytesPerVector: (rss1 - rss0) / n, fileBytesPerVector: fileBytes / n,
    async at(ef) {
      if (current?.ef !== ef) {
        current = undefined;
        await settle();
        const index = usearchIndex(c, ef);
        index.load(file);
        current = { ef, index };
      }
      return current.index;
    },
    dispose() {
      current = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** usearch batch search: `want` ids per query (flattened, −1 where fewer were found). */
function usearchBatch(index: UsearchIndex, queries: Float32Array, nq: number, want: number, threads: number): Int32Array {
  const r = index.search(queries, want, threads) as InstanceType<typeof usearch.BatchMatches>;
  const out = new Int32Array(nq * want).fill(-1);
  for (let q = 0; q < nq; q++) {
    const count = Number(r.counts[q]!);
    for (let j = 0; j < count; j++) out[q * want + j] = Number(r.keys[q * want + j]!);
  }
  return out;
}

/**
 * Exact re-ranking (float32 vectors, squared L2 in float64) of `per` candidates per query, keeping
 * the best K: what omnivec's `rescore` does, applied to a peer's candidates so the comparison is fair.
 */
export function rerank(ds: BenchDataset, cand: Int32Array, per: number): Int32Array {
  const nq = ds.queries.count;
  const dim = ds.dim;
  const out = new Int32Array(nq * K).fill(-1);
  const d = new Float64Array(per);
  const order = new Uint32Array(per);
  for (let q = 0; q < nq; q++) {
    let c = 0;
    for (let j = 0; j < per; j++) {
      const id = cand[q * per + j]!;
      if (id < 0) continue;
      d[c] = dist64(ds.queries.data, q * dim, ds.base.data, id * dim, dim);
      order[c] = id;
      c++;
    }
    const idx = Array.from({ length: c }, (_, i) => i).sort((a, b) => d[a]! - d[b]!);
    for (let j = 0; j < Math.min(K, c); j++) out[q * K + j] = order[idx[j]!]!;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Python peers

interface PeerOutput {
  engine: string;
  version: string;
  buildSeconds: number;
  buildCpuPerWall: number;
  bytesPerVector: number | null;
  bytesSource?: string;
  points: { params: Record<string, number>; ids: number[]; qps: number; cpuPerWall: number }[];
}

/** Runs bench/lib/ann-peers.py with a spec (OpenMP / BLAS limited to `threads`); returns its JSON. */
function runPeers(spec: Record<string, unknown>, threads: number): PeerOutput {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-bench-peers-'));
  try {
    const file = join(dir, 'spec.json');
    writeFileSync(file, JSON.stringify(spec));
    const t = String(threads);
    const out = execFileSync(PY, [PEERS, file], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 30,
      env: { ...process.env, OMP_NUM_THREADS: t, OPENBLAS_NUM_THREADS: t, MKL_NUM_THREADS: t },
    });
    return JSON.parse(out.trim().split('\n').pop() ?? '') as PeerOutput;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { status?: number };
    if (err.code === 'ENOENT') throw new NotAvailable(`${PY} not found`);
    throw e;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The module's __version__, else its Debian package's version (python3-NAME), else "installed"; undefined when it cannot be imported. */
function pythonModule(name: string): string | undefined {
  let v: string;
  try {
    v = execFileSync(PY, ['-c', `import ${name}; print(getattr(${name}, '__version__', ''))`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
  if (v) return v;
  try {
    return `python3-${name} ${execFileSync('dpkg-query', ['-W', '-f=${Version}', `python3-${name}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()}`;
  } catch {
    return 'installed';
  }
}

// ---------------------------------------------------------------------------------------------
// The run of one block

class TargetRun {
  readonly result: TargetBlockResult = { rows: [], unavailable: [], notes: [], failures: 0, starved: 0, versions: {} };

  constructor(readonly group: TargetGroup, readonly ds: BenchDataset, readonly gt: GroundTruth, readonly plan: TargetPlan) {}

  get nq(): number {
    return this.ds.queries.count;
  }

  recall(ids: ArrayLike<number>, per = K): number {
    return meanRecall(this.ds, this.gt, (q) => Array.prototype.slice.call(ids, q * per, q * per + K) as number[]);
  }

  /** Recall from an untimed warm-up pass, then the timed batch passes. */
  measure(pass: () => ArrayLike<number>, per = K): { recall: number; qps: number; cpuPerWall: number } {
    const recall = this.recall(pass(), per);
    const rate = measureRate(this.nq, () => pass()[0] ?? 0, this.plan.timing);
    return { recall, qps: rate.perSecond, cpuPerWall: rate.cpuPerWall };
  }

  row(r: TargetRowBody): void {
    const row: TargetRow = { group: this.group, dataset: this.ds.name, ...r };
    this.result.rows.push(row);
    const p = Object.entries(r.params).map(([k, v]) => `${k}=${v}`).join(' ');
    log(`  ${r.engine} ${r.variant} t${r.threads} ${p}: recall@10 ${r.recallAt10.toFixed(4)}, ${fmt(r.qps)} QPS, cpu/wall ${r.cpuPerWall.toFixed(2)}`);
    if (r.cpuPerWall < 0.9 * r.threads) this.result.starved++;
  }

  unavailable(engine: string, variant: string, why: string): void {
    this.result.unavailable.push({ group: this.group, engine, variant, why });
    log(`  ${engine} ${variant}: ${engine === 'omnivec' ? 'not available in this build' : 'not run'} (${why})`);
  }

  /** omnivec: build with `spec`, then a batch sweep over `points` (search options and the row's params). */
  async omnivec(variant: string, threads: number, spec: Record<string, unknown>, want: OmnivecWant,
    points: { options: SearchOptions & Record<string, unknown>; params: Record<string, number> }[]): Promise<void> {
    const { ds } = this;
    log(`[${ds.name}] omnivec ${variant} (threads ${threads}): building ${fmt(ds.base.count)} vectors…`);
    let b: OmnivecBuilt;
    try {
      b = await buildOmnivecTarget(ds, spec, want, { threads });
    } catch (e) {
      if (e instanceof NotAvailable) {
        this.unavailable('omnivec', variant, e.message);
        return;
      }
      throw e;
    }
    log(`  built in ${b.buildSeconds.toFixed(2)} s (cpu/wall ${b.buildCpuPerWall.toFixed(2)}), ${fmt(b.bytesPerVector)} B/vector (stats().memoryBytes)` +
      (b.rescoreBytesPerVector !== undefined ? ` + ${fmt(b.rescoreBytesPerVector)} B/vector for re-scoring (stats().rescoreBytes)` : ''));
    for (const pt of points) {
      const opts = { ...pt.options, threads };
      const m = this.measure(() => b.index.searchBatch(ds.queries, K, opts).ids);
      this.row({
        engine: 'omnivec', variant, threads, params: pt.params, buildSeconds: b.buildSeconds, buildCpuPerWall: b.buildCpuPerWall,
        recallAt10: m.recall, qps: m.qps, cpuPerWall: m.cpuPerWall, bytesPerVector: b.bytesPerVector,
        bytesSource: 'stats().memoryBytes / size (excludes the re-scoring floats)', rssBytesPerVector: b.rssBytesPerVector,
        ...(b.rescoreBytesPerVector !== undefined ? { rescoreBytesPerVector: b.rescoreBytesPerVector } : {}), ...b.extra,
      });
    }
  }

  /**
   * usearch: build (`data` as given: scaled for i8, centred for b1), then per efSearch a batch
   * search of `rescore × k` candidates (queries prepared like the base), re-ranked exactly when rescore > 1.
   */
  async usearch(variant: string, threads: number, c: UsearchConfig, base: Float32Array, queries: Float32Array, rescores: number[]): Promise<void> {
    const { ds, plan } = this;
    if (threads > availableParallelism()) {
      // A loaded usearch index has search contexts for the machine's cores only: searching it with
      // more threads fails ("Reserve capacity ahead of searches!").
      this.unavailable('usearch', variant, `threads ${threads} > ${availableParallelism()} cores: usearch cannot search a loaded index with more threads than cores`);
      return;
    }
    log(`[${ds.name}] usearch ${variant} (threads ${threads}): building ${fmt(ds.base.count)} vectors…`);
    const b = await buildUsearchTarget(c, base, ds.base.count, threads);
    log(`  built in ${b.buildSeconds.toFixed(2)} s (cpu/wall ${b.buildCpuPerWall.toFixed(2)}), RSS growth ${fmt(b.rssBytesPerVector)} B/vector, file ${fmt(b.fileBytesPerVector)} B/vector`);
    try {
      for (const ef of plan.efSweep) {
        const index = await b.at(ef);
        for (const r of rescores) {
          const per = r * K;
          const pass = (): Int32Array => {
            const cand = usearchBatch(index, queries, this.nq, per, threads);
            return r > 1 ? rerank(ds, cand, per) : cand;
          };
          const m = this.measure(pass, r > 1 ? K : per);
          this.row({
            engine: 'usearch', variant, threads, params: rescores.length > 1 || r > 1 ? { efSearch: ef, rescore: r } : { efSearch: ef },
            buildSeconds: b.buildSeconds, buildCpuPerWall: b.buildCpuPerWall, recallAt10: m.recall, qps: m.qps, cpuPerWall: m.cpuPerWall,
            bytesPerVector: b.rssBytesPerVector, bytesSource: 'resident growth across the build (no memory API in the binding)',
            rssBytesPerVector: b.rssBytesPerVector, fileBytesPerVector: b.fileBytesPerVector,
          });
        }
      }
    } finally {
      b.dispose();
    }
  }

  /** A Python peer: rows from ann-peers.py's points, recall computed here. */
  peer(task: string, variant: string, threads: number, extra: Record<string, unknown>, module: string, bytes?: (n: number) => number): void {
    const { ds, plan } = this;
    const version = pythonModule(module);
    if (version === undefined) {
      this.unavailable(module === 'hnswlib' ? 'hnswlib-py' : module, variant, `${PY} cannot import ${module} (apt-get install python3-${module})`);
      return;
    }
    log(`[${ds.name}] ${task} ${variant} (threads ${threads}, ${PY})…`);
    const out = runPeers({
      task, base: plan.baseFvecs, queries: plan.queriesFvecs, k: K, threads, m: plan.m, efConstruction: plan.efConstruction, seed: plan.seed,
      minSeconds: plan.timing.minSeconds, reps: plan.timing.reps, ...extra,
    }, threads);
    this.result.versions[out.engine] = `${module} ${version}`;
    log(`  built in ${out.buildSeconds.toFixed(2)} s (cpu/wall ${out.buildCpuPerWall.toFixed(2)})`);
    const byteFigure = bytes?.(ds.base.count) ?? out.bytesPerVector;
    for (const p of out.points) {
      this.row({
        engine: out.engine, variant, threads, params: p.params, buildSeconds: out.buildSeconds, buildCpuPerWall: out.buildCpuPerWall,
        recallAt10: this.recall(p.ids), qps: p.qps, cpuPerWall: p.cpuPerWall, bytesPerVector: byteFigure,
        bytesSource: bytes !== undefined ? 'hnswlib layout formula (docs/benchmarks.md)' : out.bytesSource ?? '–', rssBytesPerVector: null,
      });
    }
  }
}

function globalMaxAbs(data: Float32Array): number {
  let m = 0;
  for (let i = 0; i < data.length; i++) m = Math.max(m, Math.abs(data[i]!));
  return m;
}

function scaled(data: Float32Array, s: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! * s;
  return out;
}

/** The base mean (float64 sums): the centre binary codes are taken around. */
function baseMean(ds: BenchDataset): Float32Array {
  const sum = new Float64Array(ds.dim);
  const { data, dim, count } = ds.base;
  for (let i = 0; i < count; i++) for (let j = 0; j < dim; j++) sum[j]! += data[i * dim + j]!;
  return Float32Array.from(sum, (s) => s / count);
}

function centred(data: Float32Array, mean: Float32Array): Float32Array {
  const dim = mean.length;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! - mean[i % dim]!;
  return out;
}

const RUNNERS: Record<TargetBlock, (run: TargetRun) => Promise<void>> = {
  // ---- threads: 100k × 128 HNSW, build and batch search, 1 vs N threads, with the peers.
  async 'threads/omnivec-1'(run) {
    const { ds, plan } = run;
    const spec = { kind: 'hnsw', dim: ds.dim, metric: 'l2', m: plan.m, efConstruction: plan.efConstruction, seed: plan.seed, threads: 1 };
    await run.omnivec('hnsw', 1, spec, { threads: 1 }, plan.efSweep.map((ef) => ({ options: { efSearch: ef }, params: { efSearch: ef } })));
  },
  async 'threads/omnivec-N'(run) {
    const { ds, plan } = run;
    const t = plan.threads;
    const spec = { kind: 'hnsw', dim: ds.dim, metric: 'l2', m: plan.m, efConstruction: plan.efConstruction, seed: plan.seed, threads: t };
    await run.omnivec('hnsw', t, spec, { threads: t }, plan.efSweep.map((ef) => ({ options: { efSearch: ef }, params: { efSearch: ef } })));
  },
  async 'threads/usearch-1'(run) {
    const { ds, plan } = run;
    await run.usearch('hnsw', 1, { dim: ds.dim, metric: usearch.MetricKind.L2sq, quantization: usearch.ScalarKind.F32, m: plan.m, efConstruction: plan.efConstruction },
      ds.base.data, ds.queries.data, [1]);
  },
  async 'threads/usearch-N'(run) {
    const { ds, plan } = run;
    await run.usearch('hnsw', plan.threads, { dim: ds.dim, metric: usearch.MetricKind.L2sq, quantization: usearch.ScalarKind.F32, m: plan.m, efConstruction: plan.efConstruction },
      ds.base.data, ds.queries.data, [1]);
  },
  async 'threads/hnswlib-py-1'(run) {
    run.peer('hnswlib-hnsw', 'hnsw', 1, { sweep: run.plan.efSweep }, 'hnswlib', (n) => hnswlibBytesPerVector(n, run.ds.dim, run.plan.m));
  },
  async 'threads/hnswlib-py-N'(run) {
    run.peer('hnswlib-hnsw', 'hnsw', run.plan.threads, { sweep: run.plan.efSweep }, 'hnswlib', (n) => hnswlibBytesPerVector(n, run.ds.dim, run.plan.m));
  },

  // ---- int8 HNSW against float HNSW (omnivec) and usearch i8, one thread.
  async 'int8/omnivec-float'(run) {
    const { ds, plan } = run;
    const spec = { kind: 'hnsw', dim: ds.dim, metric: 'l2', m: plan.m, efConstruction: plan.efConstruction, seed: plan.seed, threads: 1 };
    await run.omnivec('hnsw float', 1, spec, {}, plan.efSweep.map((ef) => ({ options: { efSearch: ef }, params: { efSearch: ef } })));
  },
  async 'int8/omnivec-int8'(run) {
    const { ds, plan } = run;
    const spec = { kind: 'hnsw', dim: ds.dim, metric: 'l2', m: plan.m, efConstruction: plan.efConstruction, seed: plan.seed, threads: 1, quantization: 'int8' };
    await run.omnivec('hnsw int8', 1, spec, { quantization: 'int8' },
      plan.rescoreSweep.flatMap((r) => plan.efSweep.map((ef) => ({ options: { efSearch: ef, rescore: r }, params: { rescore: r, efSearch: ef } }))));
  },
  async 'int8/usearch-i8'(run) {
    const { ds, plan } = run;
    // usearch's f32 → i8 cast multiplies by 127 and clamps to [−127, 127] (made for unit vectors):
    // the data are scaled by 1 / max|x| first (a uniform scale keeps the L2 order).
    const s = 1 / globalMaxAbs(ds.base.data);
    run.result.notes.push(`usearch i8: base and queries scaled by 1/max|x| = ${s.toPrecision(4)} before its f32 → i8 cast (×127, clamped); re-scoring uses the original floats`);
    await run.usearch('hnsw i8', 1, { dim: ds.dim, metric: usearch.MetricKind.L2sq, quantization: usearch.ScalarKind.I8, m: plan.m, efConstruction: plan.efConstruction },
      scaled(ds.base.data, s), scaled(ds.queries.data, s), [1, ...plan.rescoreSweep.filter((r) => r > 1)]);
  },

  // ---- binary codes on 1024-d embeddings: flat and HNSW, float vs binary (omnivec), usearch b1, Faiss.
  async 'binary/omnivec-flat-float'(run) {
    const { ds } = run;
    await run.omnivec('flat float', 1, { kind: 'flat', dim: ds.dim, metric: 'cosine', threads: 1 }, {}, [{ options: {}, params: {} }]);
  },
  async 'binary/omnivec-flat-binary'(run) {
    const { ds, plan } = run;
    await run.omnivec('flat binary', 1, { kind: 'flat', dim: ds.dim, metric: 'cosine', threads: 1, quantization: 'binary' }, { quantization: 'binary' },
      plan.binaryFlatRescore.map((r) => ({ options: { rescore: r }, params: { rescore: r } })));
  },
  async 'binary/omnivec-hnsw-float'(run) {
    const { ds, plan } = run;
    const spec = { kind: 'hnsw', dim: ds.dim, metric: 'cosine', m: plan.m, efConstruction: plan.efConstruction, seed: plan.seed, threads: 1 };
    await run.omnivec('hnsw float', 1, spec, {}, plan.efSweep.map((ef) => ({ options: { efSearch: ef }, params: { efSearch: ef } })));
  },
  async 'binary/omnivec-hnsw-binary'(run) {
    const { ds, plan } = run;
    const spec = { kind: 'hnsw', dim: ds.dim, metric: 'cosine', m: plan.m, efConstruction: plan.efConstruction, seed: plan.seed, threads: 1, quantization: 'binary' };
    await run.omnivec('hnsw binary', 1, spec, { quantization: 'binary' },
      plan.binaryHnswRescore.flatMap((r) => plan.efSweep.map((ef) => ({ options: { efSearch: ef, rescore: r }, params: { rescore: r, efSearch: ef } }))));
  },
  async 'binary/usearch-b1'(run) {
    const { ds, plan } = run;
    // usearch casts f32 → b1 by sign (bit = x > 0): given x − mean(base), that is omnivec's binarisation.
    const mean = baseMean(ds);
    run.result.notes.push('usearch b1: given x − mean(base) as f32, binarised by its own cast (bit = value > 0), Hamming metric; candidates re-ranked exactly with the original floats');
    await run.usearch('hnsw b1', 1, { dim: ds.dim, metric: usearch.MetricKind.Hamming, quantization: usearch.ScalarKind.B1, m: plan.m, efConstruction: plan.efConstruction },
      centred(ds.base.data, mean), centred(ds.queries.data, mean), plan.binaryHnswRescore);
  },
  async 'binary/faiss-flat'(run) {
    run.peer('faiss-binary', 'flat binary', 1, { kind: 'flat', rescore: run.plan.binaryFlatRescore }, 'faiss');
  },
  async 'binary/faiss-hnsw'(run) {
    run.peer('faiss-binary', 'hnsw binary', 1, { kind: 'hnsw', sweep: run.plan.efSweep, rescore: run.plan.binaryHnswRescore }, 'faiss');
  },

  // ---- IVF-PQ against Faiss IndexIVFPQ at the same nList, m, nProbe, one thread.
  async 'ivfpq/omnivec-pq'(run) {
    const { ds, plan } = run;
    const { nList, pqM, iterations, nProbeSweep, rescoreAfter } = plan.ivf;
    const spec = { kind: 'ivf', dim: ds.dim, metric: 'l2', nList, iterations, seed: plan.seed, threads: 1, quantization: 'pq', pqM };
    await run.omnivec('ivf-pq', 1, spec, { quantization: 'pq', pqM },
      [1, ...rescoreAfter].flatMap((r) => nProbeSweep.filter((p) => p <= nList).map((p) => ({ options: { nProbe: p, rescore: r }, params: { nList, pqM, nProbe: p, rescore: r } }))));
  },
  async 'ivfpq/faiss-ivfpq'(run) {
    const { nList, pqM, iterations, nProbeSweep, rescoreAfter } = run.plan.ivf;
    run.peer('faiss-ivfpq', 'ivf-pq', 1, { nList, pqM, iterations, sweep: nProbeSweep.filter((p) => p <= nList), rescore: [1, ...rescoreAfter] }, 'faiss');
  },
};

/** Runs one target block; "not available" is an entry of `unavailable`, any other error a failure note. */
export async function runTargetBlock(name: TargetBlock, ds: BenchDataset, gt: GroundTruth, plan: TargetPlan): Promise<TargetBlockResult> {
  const run = new TargetRun(groupOf(name), ds, gt, plan);
  try {
    await RUNNERS[name](run);
  } catch (e) {
    if (e instanceof NotAvailable) {
      run.unavailable(name.replace(/^.*\//, ''), name, e.message);
    } else {
      run.result.failures++;
      const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      run.result.notes.push(`${name}: FAILED: ${msg}`);
      log(`${name}: FAILED: ${e instanceof Error ? e.stack : msg}`);
    }
  }
  return run.result;
}
