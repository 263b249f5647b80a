/**
 * ANN benchmark: omnivec's flat, IVF and HNSW indexes against hnswlib-node and usearch, all on one
 * thread; then the targets of issue 16 (threads, int8, binary, IVF-PQ) against usearch, Python
 * hnswlib and Faiss in the same run (bench/lib/target-*.ts, bench/lib/ann-peers.py).
 * `npm run bench:ann -- --help` for the options; docs/benchmarks.md for what is measured.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BLOCKS, BLOCK_ENGINE, type BlockName, type BlockPlan, type BlockResult } from './lib/blocks.js';
import { writeCache, writeFvecs } from './lib/cache.js';
import {
  DatasetError, loadMnist, loadVecsDataset, mnistPath, syntheticClusters, type BenchDataset,
} from './lib/datasets.js';
import { syntheticEmbeddings, wordVectors } from './lib/embeddings.js';
import { ENGINE_NAMES, type EngineName } from './lib/engines.js';
import { benchStart, groundTruth, log, timed, type TimingConfig } from './lib/measure.js';
import {
  datasetHeader, markdownReport, ratioLines, textTable, updateBenchmarksMd, writeJson, writeText,
  type DatasetInfo, type ResultRow, type RunInfo,
} from './lib/report.js';
import {
  TARGET_BLOCKS, TARGET_GROUPS, groupOf, type TargetBlock, type TargetBlockResult, type TargetGroup, type TargetPlan, type TargetRow,
} from './lib/target-blocks.js';
import { formatLine, targetLines, targetSetHeader, targetsMarkdown, targetTextTable, type TargetSet } from './lib/target-report.js';

const USAGE = `Usage: npm run bench:ann -- [options]

  (no option)            mnist + synthetic-100k + words, full sweeps, then the issue-16 targets;
                         writes bench/results/ann.{json,md}, ann-targets.json and the ann section
                         of BENCHMARKS.md
  --large                also synthetic-1m (1,000,000 × 128)
  --quick                smoke test: mnist + synthetic-20k + words-10k, fewer sweep points, short
                         timings, every target block at small size; writes bench/results/ann-quick.*
                         only
  --only NAME[,NAME]     only these datasets (mnist, synthetic-20k, synthetic-100k, synthetic-1m,
                         words, words-10k, or the name of a --base file)
  --only-targets         only the issue-16 target blocks (no dataset of the main tables); writes
                         bench/results/ann-targets.* (ann-targets-quick.* with --quick), never
                         BENCHMARKS.md
  --no-targets           no target block (the main tables only, as before issue 16)
  --targets LIST         these target groups only: threads,int8,binary,ivfpq (default all)
  --threads N            thread count of the threaded target rows (default 2, as in issue 16)
  --engines LIST         omnivec,hnswlib-node,usearch (default: all)
  --data DIR             shared data directory holding vectors-mnist-test/ (default ../shared/data)
  --base X.fvecs --queries Y.fvecs [--gt Z.ivecs]
                         a TEXMEX dataset (L2); replaces the default datasets unless --only names them
  --rounds N             run the three HNSW blocks N times, interleaved (omnivec, hnswlib-node,
                         usearch, omnivec, …), and keep each engine's best build time and best QPS
                         per efSearch: the host's speed drifts over minutes (default 2; 1 with --quick);
                         the blocks of each target group likewise
  --no-write             print only, write no result file
`;

interface Options {
  quick: boolean;
  large: boolean;
  only: string[] | undefined;
  engines: EngineName[];
  dataDir: string;
  base: string | undefined;
  queries: string | undefined;
  gt: string | undefined;
  write: boolean;
  rounds: number | undefined;
  targets: TargetGroup[];
  onlyTargets: boolean;
  threads: number;
}

function fail(message: string): never {
  process.stderr.write(`bench:ann: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    quick: false, large: false, only: undefined, engines: [...ENGINE_NAMES],
    dataDir: fileURLToPath(new URL('../../shared/data/', import.meta.url)),
    base: undefined, queries: undefined, gt: undefined, write: true, rounds: undefined,
    targets: [...TARGET_GROUPS], onlyTargets: false, threads: 2,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) fail(`${a} expects a value\n\n${USAGE}`);
      return v;
    };
    switch (a) {
      case '--quick': o.quick = true; break;
      case '--large': o.large = true; break;
      case '--no-write': o.write = false; break;
      case '--only': o.only = value().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--engines': {
        const list = value().split(',').map((s) => s.trim()).filter(Boolean);
        for (const e of list) if (!ENGINE_NAMES.includes(e as EngineName)) fail(`--engines: unknown engine "${e}", expected ${ENGINE_NAMES.join(', ')}`);
        o.engines = list as EngineName[];
        break;
      }
      case '--data': o.dataDir = value(); break;
      case '--rounds': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1 || n > 10) fail(`--rounds: expected an integer from 1 to 10, got "${argv[i]}"`);
        o.rounds = n;
        break;
      }
      case '--only-targets': o.onlyTargets = true; break;
      case '--no-targets': o.targets = []; break;
      case '--targets': {
        const list = value().split(',').map((s) => s.trim()).filter(Boolean);
        for (const t of list) if (!TARGET_GROUPS.includes(t as TargetGroup)) fail(`--targets: unknown group "${t}", expected ${TARGET_GROUPS.join(', ')}`);
        o.targets = list as TargetGroup[];
        break;
      }
      case '--threads': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 2 || n > 256) fail(`--threads: expected an integer from 2 to 256, got "${argv[i]}"`);
        o.threads = n;
        break;
      }
      case '--base': o.base = value(); break;
      case '--queries': o.queries = value(); break;
      case '--gt': o.gt = value(); break;
      case '--help': case '-h': process.stdout.write(USAGE); process.exit(0); break;
      default: fail(`unknown option "${a}"\n\n${USAGE}`);
    }
  }
  if ((o.base === undefined) !== (o.queries === undefined)) fail('--base and --queries go together');
  if (o.gt !== undefined && o.base === undefined) fail('--gt needs --base and --queries');
  if (o.onlyTargets && o.targets.length === 0) fail('--only-targets and --no-targets exclude each other');
  return o;
}

// ---------------------------------------------------------------------------------------------
// Plan

interface Plan {
  datasets: { name: string; load: () => BenchDataset | Promise<BenchDataset> }[];
  timing: TimingConfig;
  efSweep: number[];
  /** The words set's sweep: graph indexes need a high efSearch there. */
  efSweepHard: number[];
  nProbeSweep: number[];
  nLists: (n: number) => number[];
  m: number;
  efConstruction: number;
  seed: number;
  rounds: number;
  targets: TargetGroupPlan[];
}

/** One target group: its dataset (loaded once for all its blocks) and its blocks, in order. */
interface TargetGroupPlan {
  group: TargetGroup;
  load: () => BenchDataset;
  blocks: TargetBlock[];
  plan: Omit<TargetPlan, 'baseFvecs' | 'queriesFvecs'>;
}

/**
 * n evenly spaced base rows (row ⌊i · count / n⌋: the word vectors are in frequency order, so this
 * keeps frequent and rare words alike) and the first nq queries of a dataset.
 */
function subsample(ds: BenchDataset, name: string, n: number, nq: number): BenchDataset {
  const b = Math.min(n, ds.base.count);
  const q = Math.min(nq, ds.queries.count);
  const base = new Float32Array(b * ds.dim);
  for (let i = 0; i < b; i++) {
    const r = Math.floor((i * ds.base.count) / b);
    base.set(ds.base.data.subarray(r * ds.dim, (r + 1) * ds.dim), i * ds.dim);
  }
  return {
    ...ds,
    name,
    description: `${ds.description}; ${b.toLocaleString('en-US')} evenly spaced base rows and ${q} queries`,
    base: { data: base, dim: ds.dim, count: b },
    queries: { data: ds.queries.data.slice(0, q * ds.dim), dim: ds.dim, count: q },
  };
}

const SYNTHETIC_SIZES: Record<string, number> = { 'synthetic-10k': 10_000, 'synthetic-20k': 20_000, 'synthetic-100k': 100_000, 'synthetic-1m': 1_000_000 };

function makePlan(o: Options): Plan {
  const loaders = new Map<string, () => BenchDataset | Promise<BenchDataset>>();
  loaders.set('mnist', () => loadMnist(o.dataDir));
  loaders.set('words', () => wordVectors(o.dataDir));
  loaders.set('words-10k', async () => subsample(await wordVectors(o.dataDir), 'words-10k', 10_000, 1000));
  for (const [name, n] of Object.entries(SYNTHETIC_SIZES)) loaders.set(name, () => syntheticClusters(name, n));
  let fileName: string | undefined;
  if (o.base !== undefined) {
    fileName = o.base.replace(/^.*\//, '').replace(/\.fvecs$/, '');
    loaders.set(fileName, () => loadVecsDataset(o.base!, o.queries!, o.gt));
  }
  let names: string[];
  if (o.only !== undefined) {
    for (const n of o.only) if (!loaders.has(n)) fail(`--only: unknown dataset "${n}", expected one of ${[...loaders.keys()].join(', ')}`);
    names = o.only;
  } else if (fileName !== undefined) {
    names = [fileName];
  } else {
    names = o.quick ? ['mnist', 'synthetic-20k', 'words-10k'] : ['mnist', 'synthetic-100k', 'words'];
    if (o.large) names.push('synthetic-1m');
  }
  if (o.onlyTargets) names = [];
  if (names.includes('mnist')) {
    try {
      mnistPath(o.dataDir);
    } catch (e) {
      fail((e as Error).message);
    }
  }
  const nLists = (n: number): number[] => {
    const all = n <= 12_000 ? [64, 128] : n <= 50_000 ? [128, 256] : n <= 200_000 ? [256, 1024] : [1024, 2048];
    return o.quick ? all.slice(0, 1) : all;
  };
  const timing = o.quick ? { minSeconds: 0.2, reps: 2, longRepSeconds: 2 } : { minSeconds: 1, reps: 3, longRepSeconds: 10 };
  const efSweep = o.quick ? [10, 24, 64, 128, 256] : [10, 16, 24, 32, 48, 64, 96, 128, 192, 256];
  const m = 16;
  const efConstruction = 200;
  const seed = 42;
  // The issue-16 targets: 100k × 128 (threads, int8, IVF-PQ) and 100k × 1024 embeddings (binary);
  // --quick: 20k and 10k, fewer sweep points, so that every block is smoke-tested in about two minutes.
  const targetPlan: TargetGroupPlan['plan'] = {
    timing, threads: o.threads, m, efConstruction, seed, efSweep,
    rescoreSweep: o.quick ? [2] : [2, 4],
    binaryFlatRescore: o.quick ? [1, 4, 16] : [1, 2, 4, 8, 16, 32],
    binaryHnswRescore: o.quick ? [8] : [4, 8, 16],
    // pqM 32: 4 dimensions per sub-quantiser, 32 bytes of code per 128-d vector (1/16 of float32).
    // rescore 8 is omnivec's default for pq (docs/indexes/ivf.md); 20 k-means iterations its IVF default.
    ivf: o.quick ? { nList: 64, pqM: 32, iterations: 20, nProbeSweep: [1, 4, 16], rescoreAfter: [8] }
      : { nList: 1024, pqM: 32, iterations: 20, nProbeSweep: [1, 2, 4, 8, 16, 32, 64, 128], rescoreAfter: [4, 8] },
  };
  const synth = o.quick ? 'synthetic-10k' : 'synthetic-100k';
  const embedN = o.quick ? 5_000 : 100_000;
  const embedName = o.quick ? 'embed1024-5k' : 'embed1024-100k';
  const blocksOf = (g: TargetGroup): TargetBlock[] => TARGET_BLOCKS.filter((b) => groupOf(b) === g);
  const targets: TargetGroupPlan[] = o.targets.map((group) => ({
    group,
    load: group === 'binary' ? () => syntheticEmbeddings(embedName, embedN) : () => syntheticClusters(synth, SYNTHETIC_SIZES[synth]!),
    blocks: blocksOf(group),
    plan: targetPlan,
  }));
  return {
    datasets: names.map((name) => ({ name, load: loaders.get(name)! })),
    timing,
    efSweep,
    efSweepHard: o.quick ? [10, 64, 256, 1024] : [...efSweep, 384, 512, 768, 1024, 1536],
    nProbeSweep: o.quick ? [1, 4, 16, 64] : [1, 2, 4, 8, 16, 32, 64, 128],
    nLists,
    m,
    efConstruction,
    seed,
    rounds: o.rounds ?? (o.quick ? 1 : 2),
    targets,
  };
}

// ---------------------------------------------------------------------------------------------
// Environment

function sh(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

function machine(): string {
  const info = sh('lscpu', []) ?? '';
  const field = (name: string): string | undefined => info.match(new RegExp(`^${name}:\\s*(.+)$`, 'm'))?.[1]?.trim();
  const model = field('Model name') ?? cpus()[0]?.model ?? 'unknown CPU';
  const count = field('CPU\\(s\\)') ?? String(cpus().length);
  const cores = field('Core\\(s\\) per socket');
  const sockets = field('Socket\\(s\\)');
  const threads = field('Thread\\(s\\) per core');
  const topo = cores && sockets && threads ? ` (${sockets} socket(s) × ${cores} core(s) × ${threads} thread(s) per core)` : '';
  return `${model}, ${count} logical CPUs${topo} (lscpu); ${process.platform} ${process.arch}`;
}

function version(pkg: string): string {
  try {
    const json = JSON.parse(readFileSync(new URL(`../node_modules/${pkg}/package.json`, import.meta.url), 'utf8')) as { version?: string };
    return json.version ?? '?';
  } catch {
    return '?';
  }
}

function command(argv: string[]): string {
  const args = argv.map((a) => (/^[\w.,/=:@+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
  return process.env.npm_lifecycle_event === 'bench:ann'
    ? `npm run bench:ann${args ? ` -- ${args}` : ''}`
    : `node --import tsx bench/ann.ts${args ? ` ${args}` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// Running

function fmt(x: number): string {
  return Math.round(x).toLocaleString('en-US');
}

const HNSW_BLOCKS: readonly BlockName[] = ['omnivec-hnsw', 'hnswlib-node-hnsw', 'usearch-hnsw'];

/**
 * Merges the rows of repeated rounds: per (engine, index, params, mode) the row with the highest
 * QPS, carrying the fastest build of that engine over all rounds. Recall does not change between
 * rounds (same data, same seed); a difference would be reported as a note by the caller.
 */
function bestOfRounds(rows: ResultRow[], rounds: number): ResultRow[] {
  const best = new Map<string, ResultRow>();
  const build = new Map<string, number>();
  for (const r of rows) {
    build.set(r.engine, Math.min(build.get(r.engine) ?? Infinity, r.buildSeconds));
    const key = `${r.engine}|${r.index}|${r.mode}|${JSON.stringify(r.params)}`;
    const cur = best.get(key);
    if (cur === undefined || r.qps > cur.qps) best.set(key, r);
  }
  return [...best.values()].map((r) => (rounds > 1 ? { ...r, buildSeconds: build.get(r.engine)!, rounds } : r));
}

const WORKER = fileURLToPath(new URL('./lib/worker.ts', import.meta.url));
const TARGET_WORKER = fileURLToPath(new URL('./lib/target-worker.ts', import.meta.url));

/** Runs one block in a fresh Node process (same loader flags as this one) and returns its result. */
function runWorker(dir: string, block: BlockName, plan: BlockPlan): Promise<BlockResult> {
  return runChild(WORKER, dir, block, plan, (why) => ({ rows: [], notes: [`${block}: FAILED: ${why}`], failures: 1, starved: 0 }));
}

function runTargetWorker(dir: string, block: TargetBlock, plan: TargetPlan): Promise<TargetBlockResult> {
  return runChild(TARGET_WORKER, dir, block, plan, (why) => ({ rows: [], unavailable: [], notes: [`${block}: FAILED: ${why}`], failures: 1, starved: 0, versions: {} }));
}

function runChild<R extends { notes: string[] }>(worker: string, dir: string, block: string, plan: unknown, failure: (why: string) => R): Promise<R> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, worker, dir, block, JSON.stringify(plan)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, OMNIVEC_BENCH_T0: String(benchStart()) },
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
    });
    const failed = (why: string): R => {
      log(`${block}: FAILED: ${why}`);
      return failure(why);
    };
    child.on('error', (e) => resolve(failed(`could not start the worker: ${e.message}`)));
    child.on('close', (code, signal) => {
      const last = out.trim().split('\n').pop() ?? '';
      try {
        const result = JSON.parse(last) as R;
        if (code !== 0) result.notes.push(`${block}: worker exited with code ${code}`);
        resolve(result);
      } catch {
        resolve(failed(`worker exited with ${signal ? `signal ${signal}` : `code ${code}`} without a result`));
      }
    });
  });
}

async function runDataset(d: Plan['datasets'][number], plan: Plan, engines: EngineName[]):
  Promise<{ info: DatasetInfo; result: BlockResult }> {
  log(`[${d.name}] loading…`);
  let ds: BenchDataset;
  try {
    ds = await d.load();
  } catch (e) {
    if (e instanceof DatasetError) fail(e.message);
    throw e;
  }
  log(`[${ds.name}] ${ds.description}`);
  log(`[${ds.name}] ground truth (${ds.fileGroundTruth ? 'from file' : `exact, FlatIndex.searchBatch over ${fmt(ds.base.count)} vectors`})…`);
  const g = timed(() => groundTruth(ds));
  log(`[${ds.name}] ground truth in ${g.seconds.toFixed(1)} s`);
  const info: DatasetInfo = {
    name: ds.name, description: ds.description, n: ds.base.count, nq: ds.queries.count, dim: ds.dim,
    groundTruth: g.value.source, notes: [], m: plan.m,
  };
  const blockPlan: BlockPlan = {
    timing: plan.timing, efSweep: ds.name.startsWith('words') ? plan.efSweepHard : plan.efSweep, nProbeSweep: plan.nProbeSweep, nLists: plan.nLists(ds.base.count),
    m: plan.m, efConstruction: plan.efConstruction, seed: plan.seed,
  };
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-bench-data-'));
  const total: BlockResult = { rows: [], notes: [], failures: 0, starved: 0 };
  try {
    writeCache(dir, ds, g.value);
    const add = (r: BlockResult): void => {
      total.rows.push(...r.rows);
      total.notes.push(...r.notes);
      total.failures += r.failures;
      total.starved += r.starved;
    };
    const hnswBlocks = BLOCKS.filter((b) => HNSW_BLOCKS.includes(b) && engines.includes(BLOCK_ENGINE[b]));
    for (const block of BLOCKS) {
      if (!engines.includes(BLOCK_ENGINE[block]) || HNSW_BLOCKS.includes(block)) continue;
      add(await runWorker(dir, block, blockPlan));
    }
    // The HNSW engines are compared with each other: run them in interleaved rounds so that a slow
    // spell of the host does not land on one engine only, then keep each engine's best.
    const hnswRows: ResultRow[] = [];
    for (let round = 1; round <= plan.rounds; round++) {
      if (plan.rounds > 1) log(`[${ds.name}] HNSW round ${round} of ${plan.rounds}`);
      for (const block of hnswBlocks) {
        const r = await runWorker(dir, block, blockPlan);
        hnswRows.push(...r.rows);
        add({ ...r, rows: [] });
      }
    }
    total.rows.push(...bestOfRounds(hnswRows, plan.rounds));
    if (plan.rounds > 1) {
      total.notes.push(`HNSW rows: best of ${plan.rounds} interleaved rounds per engine (build: fastest round; QPS: best round per efSearch).`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (total.starved > 0) {
    total.notes.push(`${total.starved} timed loop(s) got less than 0.9 s of CPU per wall second (see cpu/wall): the machine was busy and those QPS are understated`);
  }
  info.notes = total.notes;
  return { info, result: total };
}

/** Per (engine, variant, threads, params) the row with the best QPS, carrying the fastest build of its (engine, variant, threads). */
function bestTargetRows(rows: TargetRow[]): TargetRow[] {
  const best = new Map<string, TargetRow>();
  const build = new Map<string, number>();
  for (const r of rows) {
    const b = `${r.engine}|${r.variant}|${r.threads}`;
    build.set(b, Math.min(build.get(b) ?? Infinity, r.buildSeconds));
    const key = `${b}|${JSON.stringify(r.params)}`;
    const cur = best.get(key);
    if (cur === undefined || r.qps > cur.qps) best.set(key, r);
  }
  return [...best.values()].map((r) => ({ ...r, buildSeconds: build.get(`${r.engine}|${r.variant}|${r.threads}`)! }));
}

/**
 * One target group: its dataset and exact ground truth once, handed to every block (raw arrays
 * for the Node workers, .fvecs for the Python peers), then each block in its own process.
 */
async function runTargetGroup(g: TargetGroupPlan, rounds: number): Promise<{ set: TargetSet; failures: number; versions: Record<string, string> }> {
  log(`[targets: ${g.group}] loading…`);
  let ds: BenchDataset;
  try {
    ds = g.load();
  } catch (e) {
    if (e instanceof DatasetError) fail(e.message);
    throw e;
  }
  log(`[${ds.name}] ${ds.description}`);
  const gt = timed(() => groundTruth(ds));
  log(`[${ds.name}] exact ground truth in ${gt.seconds.toFixed(1)} s`);
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-bench-targets-'));
  const set: TargetSet = {
    group: g.group, dataset: ds.name, description: ds.description, n: ds.base.count, nq: ds.queries.count, dim: ds.dim,
    threads: g.plan.threads, rows: [], unavailable: [], notes: [],
  };
  let failures = 0;
  let starved = 0;
  const versions: Record<string, string> = {};
  try {
    writeCache(dir, ds, gt.value);
    const plan: TargetPlan = { ...g.plan, baseFvecs: join(dir, 'base.fvecs'), queriesFvecs: join(dir, 'queries.fvecs') };
    writeFvecs(plan.baseFvecs, ds.base.data, ds.dim);
    writeFvecs(plan.queriesFvecs, ds.queries.data, ds.dim);
    const rows: TargetRow[] = [];
    for (let round = 1; round <= rounds; round++) {
      if (rounds > 1) log(`[targets: ${g.group}] round ${round} of ${rounds}`);
      for (const block of g.blocks) {
        const r = await runTargetWorker(dir, block, plan);
        rows.push(...r.rows);
        for (const u of r.unavailable) if (!set.unavailable.some((x) => x.engine === u.engine && x.variant === u.variant)) set.unavailable.push(u);
        for (const n of r.notes) if (!set.notes.includes(n)) set.notes.push(n);
        failures += r.failures;
        starved += r.starved;
        Object.assign(versions, r.versions);
      }
    }
    set.rows = bestTargetRows(rows);
    if (rounds > 1) set.notes.push(`best of ${rounds} interleaved rounds per block (build: fastest round; QPS: best round per sweep point)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (starved > 0) set.notes.push(`${starved} timed loop(s) got less than 0.9 s of CPU per wall second per thread: the machine was busy and those QPS are understated`);
  return { set, failures, versions };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const o = parseArgs(argv);
  const plan = makePlan(o);
  const runInfo: RunInfo = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    commit: sh('git', ['describe', '--always', '--dirty']) ?? 'unknown',
    command: command(argv),
    machine: machine(),
    software: `Node ${process.version}, usearch ${version('usearch')}, hnswlib-node ${version('hnswlib-node')}`,
    timing: `One thread everywhere (usearch called with threads = 1). k = 10. QPS: single-query search calls in a loop unless marked batch; ` +
      `best of ${plan.timing.reps} repetitions, each repeating whole passes over the queries for ≥ ${plan.timing.minSeconds} s, after an untimed warm-up pass that also gives recall@10.`,
  };
  process.stdout.write(`ANN benchmark — ${runInfo.command}\n${runInfo.machine}\n${runInfo.software}\n${runInfo.date}, commit ${runInfo.commit}\n`);
  if (o.quick) process.stdout.write('--quick: smoke-test settings (short timings, fewer sweep points); not for publication\n');

  const sets: { info: DatasetInfo; rows: ResultRow[] }[] = [];
  let failures = 0;
  for (const d of plan.datasets) {
    const { info, result } = await runDataset(d, plan, o.engines);
    failures += result.failures;
    sets.push({ info, rows: result.rows });
    process.stdout.write(`\n=== ${datasetHeader(info)}\n`);
    for (const n of info.notes) process.stdout.write(`${n}\n`);
    if (result.rows.length) process.stdout.write(`${textTable(result.rows)}\n`);
    process.stdout.write('Ratios:\n');
    for (const l of ratioLines(info, result.rows)) process.stdout.write(`  ${l}\n`);
  }

  const targetSets: TargetSet[] = [];
  const peerVersions: Record<string, string> = {};
  for (const g of plan.targets) {
    const { set, failures: f, versions } = await runTargetGroup(g, plan.rounds);
    failures += f;
    Object.assign(peerVersions, versions);
    targetSets.push(set);
    process.stdout.write(`\n=== ${targetSetHeader(set)}\n`);
    for (const n of set.notes) process.stdout.write(`${n}\n`);
    for (const u of set.unavailable) process.stdout.write(`${u.engine} ${u.variant}: ${u.engine === 'omnivec' ? 'not available in this build' : 'not run'} (${u.why})\n`);
    if (set.rows.length) process.stdout.write(`${targetTextTable(set.rows)}\n`);
  }
  if (targetSets.length) {
    const peers = Object.entries(peerVersions).map(([e, v]) => `${e}: ${v}`).join(', ');
    process.stdout.write(`\n=== Issue 16 targets (threaded rows: ${o.threads} threads; every search batched; ${peers || 'no Python peer ran'})\n`);
    for (const set of targetSets) {
      for (const l of targetLines(set)) process.stdout.write(`  ${set.group.padEnd(7)} ${formatLine(l)}\n`);
    }
    if (peers) runInfo.software += `; Python peers (/usr/bin/python3): ${peers}`;
  }

  if (o.write) {
    const rows = sets.flatMap((s) => s.rows);
    const dir = new URL('./results/', import.meta.url);
    // ann[-quick].{json,md} and ann-targets[-quick].json; --only-targets: ann-targets[-quick].{json,md}
    // (bench/.gitignore ignores results/*-quick.*).
    const suffix = o.quick ? '-quick' : '';
    const stem = `${o.onlyTargets ? 'ann-targets' : 'ann'}${suffix}`;
    const md = (link: string): string => markdownReport(runInfo, sets, link) + (targetSets.length ? `\n${targetsMarkdown(targetSets, link)}` : '');
    if (!o.onlyTargets) writeJson(fileURLToPath(new URL(`${stem}.json`, dir)), rows);
    if (targetSets.length) {
      const json = targetSets.map((s) => ({ ...s, targets: targetLines(s) }));
      writeText(fileURLToPath(new URL(`ann-targets${suffix}.json`, dir)), JSON.stringify(json, null, 2));
    }
    writeText(fileURLToPath(new URL(`${stem}.md`, dir)), md('../../docs/benchmarks.md'));
    const benchmarksMd = !o.quick && !o.onlyTargets;
    if (benchmarksMd) updateBenchmarksMd(fileURLToPath(new URL('../BENCHMARKS.md', import.meta.url)), md('docs/benchmarks.md'));
    log(`wrote bench/results/${stem}.*${benchmarksMd ? ' and BENCHMARKS.md' : ''}`);
  }
  log(`done${failures ? ` with ${failures} failure(s)` : ''}`);
  if (failures) process.exitCode = 1;
}

await main();
