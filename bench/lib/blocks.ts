/**
 * The engine blocks of the ANN benchmark. Each block (build one engine's index or indexes, then
 * measure its sweep) runs in a fresh Node process (bench/lib/worker.ts), so no block inherits the
 * heap, the malloc arenas or the JIT state of another: resident-memory growth and timings are the
 * block's own.
 */
import { OmnivecError } from '../../src/errors.js';
import type { BenchDataset } from './datasets.js';
import {
  bigIdsToNumbers, buildHnswlib, buildOmnivec, buildUsearch, checkOmnivecAvailable, prepareQueries,
  usearchExact, usearchExactChunks, type BuiltIndex, type EngineName, type PreparedQueries, type Searcher,
} from './engines.js';
import { K, log, measureRate, meanRecall, settle, timed, type GroundTruth, type TimingConfig } from './measure.js';
import type { IndexName, ResultRow } from './report.js';

export const BLOCKS = ['omnivec-flat', 'usearch-exact', 'omnivec-ivf', 'omnivec-hnsw', 'hnswlib-node-hnsw', 'usearch-hnsw'] as const;
export type BlockName = (typeof BLOCKS)[number];

export const BLOCK_ENGINE: Record<BlockName, EngineName> = {
  'omnivec-flat': 'omnivec',
  'usearch-exact': 'usearch',
  'omnivec-ivf': 'omnivec',
  'omnivec-hnsw': 'omnivec',
  'hnswlib-node-hnsw': 'hnswlib-node',
  'usearch-hnsw': 'usearch',
};

export interface BlockPlan {
  timing: TimingConfig;
  efSweep: number[];
  nProbeSweep: number[];
  /** IVF list counts for this dataset. */
  nLists: number[];
  m: number;
  efConstruction: number;
  seed: number;
}

export interface BlockResult {
  rows: ResultRow[];
  notes: string[];
  failures: number;
  /** Timed loops whose CPU time fell well short of wall time (the process was not always running). */
  starved: number;
}

const progress = (message: string): void => log(`  ${message}`);

/**
 * The main tables run omnivec on one thread: `threads: 1` (docs/indexes/scale.md) on every index
 * and batch search, since the default becomes all cores once threads land (ignored before).
 */
const ONE_THREAD = { threads: 1 } as Record<string, unknown>;
function oneThread<S extends object>(spec: S): S {
  return { ...spec, ...ONE_THREAD };
}

function fmt(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}

class SkipEngine extends Error {}

/** createIndex refuses a kind that is not registered (or parameters it does not know) with an OmnivecError. */
function requireOmnivec(spec: Parameters<typeof checkOmnivecAvailable>[0]): void {
  try {
    checkOmnivecAvailable(spec);
  } catch (e) {
    if (e instanceof OmnivecError) throw new SkipEngine(e.message);
    throw e;
  }
}

type BuildFigures = Pick<BuiltIndex, 'buildSeconds' | 'buildCpuPerWall' | 'bytesPerVector' | 'bytesSource' | 'rssBytesPerVector' | 'extra'>;

class BlockRun {
  readonly result: BlockResult = { rows: [], notes: [], failures: 0, starved: 0 };
  readonly qs: PreparedQueries;

  constructor(readonly ds: BenchDataset, readonly gt: GroundTruth, readonly plan: BlockPlan) {
    this.qs = prepareQueries(ds);
  }

  get nq(): number {
    return this.ds.queries.count;
  }

  /** Warm-up pass (which also gives recall), then the timed single-query loop. */
  point(searcher: Searcher): { recall: number; qps: number; cpuPerWall: number } {
    const recall = meanRecall(this.ds, this.gt, (q) => searcher.ids(q));
    const nq = this.nq;
    const rate = measureRate(nq, () => {
      let s = 0;
      for (let q = 0; q < nq; q++) s = (s + searcher.run(q)) | 0;
      return s;
    }, this.plan.timing);
    return { recall, qps: rate.perSecond, cpuPerWall: rate.cpuPerWall };
  }

  row(engine: EngineName, index: IndexName, params: Record<string, number>, built: BuildFigures | undefined,
    m: { recall: number; qps: number; cpuPerWall: number }, mode: 'single' | 'batch' = 'single'): void {
    const r: ResultRow = {
      dataset: this.ds.name, engine, index, params,
      buildSeconds: built?.buildSeconds ?? 0,
      recallAt10: m.recall,
      qps: m.qps,
      bytesPerVector: built?.bytesPerVector ?? null,
      mode,
      bytesSource: built?.bytesSource,
      rssBytesPerVector: built?.rssBytesPerVector ?? null,
      cpuPerWall: m.cpuPerWall,
      buildCpuPerWall: built?.buildCpuPerWall,
      ...(built?.extra ?? {}),
    };
    if (r.bytesSource === undefined) delete r.bytesSource;
    if (r.buildCpuPerWall === undefined) delete r.buildCpuPerWall;
    this.result.rows.push(r);
    const p = Object.entries(params).map(([k, v]) => `${k}=${v}`).join(' ');
    log(`  ${engine} ${index} ${p} ${mode}: recall@10 ${m.recall.toFixed(4)}, ${fmt(m.qps)} QPS, cpu/wall ${m.cpuPerWall.toFixed(2)}`);
    if (m.cpuPerWall > 1.3) log(`  warning: CPU time ${m.cpuPerWall.toFixed(2)}× wall time: more than one thread was busy`);
    if (m.cpuPerWall < 0.9) {
      this.result.starved++;
      log(`  warning: CPU time ${m.cpuPerWall.toFixed(2)}× wall time: the process did not get a full core (busy machine?)`);
    }
  }

  async sweep(engine: EngineName, index: 'hnsw' | 'ivf', built: BuiltIndex, values: number[], params: (v: number) => Record<string, number>): Promise<void> {
    for (const v of values) this.row(engine, index, params(v), built, this.point(await built.searcher(v)));
  }

  built(label: string, b: BuiltIndex): void {
    log(`${label}: built in ${b.buildSeconds.toFixed(2)} s (cpu/wall ${b.buildCpuPerWall.toFixed(2)}), ` +
      `${b.bytesPerVector === null ? '–' : fmt(b.bytesPerVector)} B/vector (${b.bytesSource}), RSS growth ${fmt(b.rssBytesPerVector)} B/vector`);
    if (b.buildCpuPerWall > 1.3 && b.buildSeconds >= 0.5) log(`  warning: build CPU time ${b.buildCpuPerWall.toFixed(2)}× wall time: more than one thread was busy`);
  }
}

const RUNNERS: Record<BlockName, (run: BlockRun) => Promise<void>> = {
  async 'omnivec-flat'(run) {
    const { ds, plan } = run;
    log(`[${ds.name}] omnivec flat: building (${fmt(ds.base.count)} vectors)…`);
    const b = await buildOmnivec(ds, oneThread({ kind: 'flat' as const, dim: ds.dim, metric: 'l2' as const }), run.qs, undefined, progress);
    run.built('omnivec flat', b);
    run.row('omnivec', 'flat', {}, b, run.point(await b.searcher(0)), 'single');
    const batch = b.index.searchBatch(ds.queries, K, ONE_THREAD);
    const recall = meanRecall(ds, run.gt, (q) => batch.ids.subarray(q * K, q * K + batch.counts[q]!));
    const rate = measureRate(run.nq, () => b.index.searchBatch(ds.queries, K, ONE_THREAD).ids[0]!, plan.timing);
    run.row('omnivec', 'flat', {}, b, { recall, qps: rate.perSecond, cpuPerWall: rate.cpuPerWall }, 'batch');
    for (const r of run.result.rows) {
      if (r.recallAt10 < 1) {
        run.result.notes.push(`omnivec flat (${r.mode}): recall@10 ${r.recallAt10.toFixed(4)} < 1 — an exact index should find every true neighbour`);
        log(`warning: omnivec flat ${r.mode} recall ${r.recallAt10} < 1`);
      }
    }
    b.dispose();
  },

  async 'usearch-exact'(run) {
    const { ds, plan } = run;
    const n = ds.base.count;
    const nq = run.nq;
    // exactSearch builds the whole distance matrix per call: try a few query counts per call, keep the fastest.
    let best: { perCall: number; seconds: number; keys: BigUint64Array } | undefined;
    for (const perCall of usearchExactChunks(n, nq)) {
      const chunks = chunkQueries(ds, perCall);
      const t = timed(() => usearchExact(ds, chunks));
      log(`[${ds.name}] usearch exactSearch, ${perCall} queries per call (threads = 1): ${fmt(nq / t.seconds)} QPS (one pass)`);
      if (best === undefined || t.seconds < best.seconds) best = { perCall, seconds: t.seconds, keys: t.value };
      await settle();
    }
    const { perCall, keys } = best!;
    const chunks = chunkQueries(ds, perCall);
    const recall = meanRecall(ds, run.gt, (q) => bigIdsToNumbers(keys.subarray(q * K, (q + 1) * K)));
    const rate = measureRate(nq, () => Number(usearchExact(ds, chunks)[0]!), plan.timing);
    run.row('usearch', 'exact', { queriesPerCall: perCall }, undefined, { recall, qps: rate.perSecond, cpuPerWall: rate.cpuPerWall }, 'batch');
  },

  async 'omnivec-ivf'(run) {
    const { ds, plan } = run;
    const n = ds.base.count;
    for (const nList of plan.nLists) {
      const spec = oneThread({ kind: 'ivf' as const, dim: ds.dim, metric: 'l2' as const, nList, seed: plan.seed });
      requireOmnivec(spec);
      log(`[${ds.name}] omnivec ivf nList=${nList}: train(base) (k-means on ≤ ${fmt(Math.min(n, 256 * nList))} rows) and add ${fmt(n)}…`);
      const b = await buildOmnivec(ds, spec, run.qs, 'nProbe', progress);
      run.built(`omnivec ivf nList=${nList}`, b);
      await run.sweep('omnivec', 'ivf', b, plan.nProbeSweep.filter((p) => p <= nList), (p) => ({ nList, nProbe: p }));
      b.dispose();
      await settle();
    }
  },

  async 'omnivec-hnsw'(run) {
    const { ds, plan } = run;
    const { m, efConstruction, seed } = plan;
    const spec = oneThread({ kind: 'hnsw' as const, dim: ds.dim, metric: 'l2' as const, m, efConstruction, seed });
    requireOmnivec(spec);
    log(`[${ds.name}] omnivec hnsw: building (${fmt(ds.base.count)} vectors, m=${m}, efConstruction=${efConstruction}, one add call)…`);
    const b = await buildOmnivec(ds, spec, run.qs, 'efSearch', progress);
    run.built('omnivec hnsw', b);
    await run.sweep('omnivec', 'hnsw', b, plan.efSweep, (ef) => ({ m, efConstruction, efSearch: ef }));
    b.dispose();
  },

  async 'hnswlib-node-hnsw'(run) {
    const { ds, plan } = run;
    const { m, efConstruction, seed } = plan;
    log(`[${ds.name}] hnswlib-node: building (${fmt(ds.base.count)} addPoint calls, M=${m}, efConstruction=${efConstruction})…`);
    const b = await buildHnswlib(ds, run.qs, m, efConstruction, seed, progress);
    run.built('hnswlib-node hnsw', b);
    await run.sweep('hnswlib-node', 'hnsw', b, plan.efSweep, (ef) => ({ m, efConstruction, efSearch: ef }));
    b.dispose();
  },

  async 'usearch-hnsw'(run) {
    const { ds, plan } = run;
    const { m, efConstruction } = plan;
    log(`[${ds.name}] usearch: building (one add call, threads = 1, connectivity=${m}, expansion_add=${efConstruction})…`);
    const b = await buildUsearch(ds, run.qs, m, efConstruction);
    run.built('usearch hnsw', b);
    try {
      await run.sweep('usearch', 'hnsw', b, plan.efSweep, (ef) => ({ m, efConstruction, efSearch: ef }));
    } finally {
      b.dispose();
    }
  },
};

/**
 * Copies of the query set in groups of `perCall` rows. The copies are needed, not just tidy:
 * usearch 2.25.3's exactSearch reads a typed array from the start of its ArrayBuffer, ignoring
 * the view's byteOffset, so a subarray view would search the wrong queries.
 */
function chunkQueries(ds: BenchDataset, perCall: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let q0 = 0; q0 < ds.queries.count; q0 += perCall) {
    out.push(ds.queries.data.slice(q0 * ds.dim, Math.min(ds.queries.count, q0 + perCall) * ds.dim));
  }
  return out;
}

/** Runs one block, turning "not available" into a skip note and any other error into a failure note. */
export async function runBlock(name: BlockName, ds: BenchDataset, gt: GroundTruth, plan: BlockPlan): Promise<BlockResult> {
  const run = new BlockRun(ds, gt, plan);
  const label = name.replace(/-(flat|exact|ivf|hnsw)$/, ' $1');
  try {
    await RUNNERS[name](run);
  } catch (e) {
    if (e instanceof SkipEngine) {
      run.result.notes.push(`${label}: skipped: not available (${e.message})`);
      log(`${label}: skipped: not available (${e.message})`);
    } else {
      run.result.failures++;
      const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      run.result.notes.push(`${label}: FAILED: ${msg}`);
      log(`${label}: FAILED: ${e instanceof Error ? e.stack : msg}`);
    }
  }
  return run.result;
}
