/**
 * The LanceDB side of the database benchmark (`npm run bench:db`): LanceDB's embedded API on a
 * local directory, on the same vectors as omnivec, measured the way docs/benchmarks.md measures the
 * ANN peers (sequential single queries, warm-up excluded, recall@k against exact ground truth).
 *
 * What is built (LanceDB 0.31.0, `@lancedb/lancedb`, with apache-arrow 18.1.0):
 *
 * - a table `vectors` with two columns, `id` (Utf8: the row number as a string) and `vector`
 *   (FixedSizeList<Float32>[dim]), created by one `db.createTable(name, arrowTable)` holding every
 *   row. `importSeconds` times building the Arrow table from the Float32Array plus createTable.
 * - an index on `vector`, L2, every parameter left at LanceDB's default:
 *   - `'ivf'`  → `Index.ivfFlat({ distanceType: 'l2' })`: IVF_FLAT, the like-for-like peer of
 *     omnivec's IVF (also IVF-Flat: full float32 vectors, exact distances inside the probed lists),
 *     so the comparison is partitioning + engine, not quantisation. Defaults: k-means with
 *     maxIterations 50 on sampleRate 256 × numPartitions rows; numPartitions chosen by Lance from
 *     the row count (0.31.0 gives ≈ n / 4 096: 4 partitions at 20k rows, 24 at 100k — not the
 *     √n its doc comment still states). Search knob: nprobes.
 *   - `'hnsw'` → `Index.hnswSq({ distanceType: 'l2' })`: IVF_HNSW_SQ, LanceDB's HNSW. There is no
 *     HNSW over plain float32 in the JS API; the choice is HNSW_SQ (8-bit scalar quantisation, 4×
 *     smaller vectors) or HNSW_PQ (product quantisation, far lossier); SQ is the closer peer of an
 *     HNSW over float32. Defaults: m 20, efConstruction 300, numPartitions =
 *     max(1, n·dim / 1.28e9) (one partition, i.e. one graph, below ~10M 128-d rows), search ef
 *     1.5 × limit. Search knobs: ef, and refineFactor: the 8-bit distances cap recall whatever the
 *     ef (on the synthetic 128-d set: ≈ 0.958 at 20k rows, ≈ 0.945 at 100k), so a second sweep
 *     re-ranks limit × 2 candidates with the full vectors read back from the table.
 *   - `'ivf-pq'` (extra, not asked for by bench:db) → `Index.ivfPq({ distanceType: 'l2' })`:
 *     IVF_PQ, what `createIndex('vector')` builds when given no config. Defaults: dim / 16
 *     sub-vectors of 8 bits (8 bytes per 128-d vector), numPartitions ≈ n / 8 192. Its PQ distances
 *     are coarse: it needs refineFactor to get anywhere near recall 0.95. Knobs: nprobes ×
 *     refineFactor.
 *
 * Querying: each query is one `table.vectorSearch(vector).distanceType('l2').limit(k)
 * .select(['id', '_distance'])[.nprobes(p) | .ef(e) | .refineFactor(r)].toArrow()`, awaited before
 * the next (sequential, one query in flight). `toArrow()` is the cheapest way out of the query
 * builder (`toArray()` builds it and then converts the rows to objects). `_distance` is selected on
 * purpose: selecting only `id` makes Lance 0.31 print a deprecation warning on stderr for every
 * query. Recall uses the `id` column (the string parsed back to a row number).
 *
 * Things to know about LanceDB 0.31.0 from Node (found while writing this):
 * - apache-arrow is a peer dependency that LanceDB `require()`s (CommonJS). Importing apache-arrow
 *   from an ES module loads its *ESM* build: different classes, so LanceDB's `instanceof Table`
 *   fails, its "sanitize" copy drops the FixedSizeList's child data, and createTable silently
 *   writes a table with **zero rows** (the later createIndex then fails with a misleading
 *   "Creating empty vector indices with train=False"). This module therefore loads apache-arrow
 *   through `createRequire`, the same CommonJS instance LanceDB uses, and checks the row count.
 * - Threads: Lance's compute pool has `LANCE_CPU_THREADS` threads (default: cores − 2 IO-reserved
 *   cores, at least 1: one on a 2-core machine), its k-means / HNSW build runs on rayon's global
 *   pool (`RAYON_NUM_THREADS`, default all cores) and queries go through a tokio runtime. These are
 *   read once, at the first LanceDB call of the process: see `limitLanceDbThreads`. The cpuPerWall
 *   figures in the result show what was used.
 */
import { lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import type { VectorBatch } from '../../src/vector/batch.js';
import { dist64 } from './measure.js';

const requireCjs = createRequire(import.meta.url);
/** apache-arrow's CommonJS build: the very module instance LanceDB itself requires (see above). */
const arrow = requireCjs('apache-arrow') as typeof import('apache-arrow');

/** The installed LanceDB version (read from its package.json). */
export const LANCEDB_VERSION: string = (JSON.parse(readFileSync(join(dirname(requireCjs.resolve('@lancedb/lancedb')), '..', 'package.json'), 'utf8')) as { version: string }).version;

export type LanceIndexKind = 'ivf' | 'hnsw' | 'ivf-pq';

export interface PeerTiming {
  /** Each timed repetition repeats whole passes over the queries until at least this long (default 1). */
  minSeconds: number;
  /** Timed repetitions per sweep point; the fastest is reported (default 2). */
  reps: number;
}

export interface PeerInput {
  /** Empty scratch directory (created if missing; refused if not empty, so its size is the database's). */
  dir: string;
  base: VectorBatch;
  queries: VectorBatch;
  /** Exact top-k ids (base row numbers) per query, row-major: `gt[q * k + j]`. */
  gt: Int32Array;
  /** Neighbours per query (10). */
  k: number;
  index: LanceIndexKind;
  /**
   * Optional: IVF partitions of the index. Default (and what bench:db asks for): LanceDB's own
   * choice from the row count. Setting it allows a like-for-like comparison with a given nList.
   */
  numPartitions?: number;
  /** Optional: timing of each sweep point (defaults: 2 repetitions of ≥ 1 s). */
  timing?: Partial<PeerTiming>;
  /** Optional: progress messages (index builds of 100k rows take tens of seconds). */
  progress?: (message: string) => void;
}

export interface CurvePoint {
  /** The search settings of this point, e.g. `nprobes=4`, `ef=64`, `ef=64 refineFactor=2`. */
  param: string;
  /** Mean recall@k over all queries. */
  recall: number;
  /** Queries per second: sequential single queries, best repetition. */
  qps: number;
  /** The sweep this point belongs to (points of one series are in sweep order), e.g. `ef`, `ef refineFactor=2`. */
  series: string;
  /** Process CPU seconds ÷ wall seconds in the best repetition (> 1: LanceDB used more than one thread). */
  cpuPerWall: number;
}

export interface PeerResult {
  /** e.g. `lancedb 0.31.0 IVF_HNSW_SQ`. */
  engine: string;
  /** Arrow table from the Float32Array (ids as strings, vector column) + `createTable` with all rows. */
  importSeconds: number;
  /** `createIndex` (training + assignment/graph + writing the index files). */
  indexSeconds: number;
  /** Bytes of every file under `dir` after import and index (apparent sizes, as `du -sb`). */
  diskBytes: number;
  /** diskBytes ÷ rows. */
  bytesPerVector: number;
  curve: CurvePoint[];
  details: {
    /** LanceDB's own name of the index (listIndices().indexType), e.g. `IvfHnswSq`. */
    indexType: string;
    /** IVF partitions of the index (from the query plan's `partitions_ranked`), null if not found. */
    partitions: number | null;
    /** The index builder call and its (default) parameters. */
    config: string;
    /** What LanceDB reports about the built index (listIndices().indexDetails). */
    indexDetails: unknown;
    /** Size of the index files as LanceDB reports it (listIndices().sizeBytes). */
    indexBytes: number | null;
    /** Bytes under `dir` after the import alone. */
    importDiskBytes: number;
    importCpuPerWall: number;
    indexCpuPerWall: number;
    /** The thread-related environment variables as seen by this process. */
    threads: string;
    timing: PeerTiming;
  };
}

const TABLE = 'vectors';
const NPROBES = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256];
const EFS = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 400];
/** refineFactor for the second HNSW_SQ sweep: 2 × k candidates re-ranked with the full vectors. */
const HNSW_REFINE = 2;
const PQ_REFINES = [undefined, 5, 20];

/**
 * Caps LanceDB's worker threads (rayon's global pool for index builds, Lance's compute pool, the
 * tokio runtime). Takes effect only if called before the first LanceDB call of the process (the
 * pools are created once, on first use); later calls change nothing. For a whole run, setting the
 * same variables in the environment of the process is equivalent.
 */
export function limitLanceDbThreads(threads: number): void {
  const n = String(Math.max(1, Math.floor(threads)));
  process.env.RAYON_NUM_THREADS = n;
  process.env.LANCE_CPU_THREADS = n;
  process.env.TOKIO_WORKER_THREADS = n;
}

function threadEnv(): string {
  const vars = ['RAYON_NUM_THREADS', 'LANCE_CPU_THREADS', 'LANCE_IO_THREADS', 'TOKIO_WORKER_THREADS'];
  const set = vars.filter((v) => process.env[v] !== undefined).map((v) => `${v}=${process.env[v]}`);
  return set.length > 0 ? set.join(' ') : 'LanceDB defaults';
}

/** Total apparent size of the files under `dir` (like `du -sb`; symbolic links are not followed). */
export function directoryBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += directoryBytes(path);
    else total += lstatSync(path).size;
  }
  return total;
}

/**
 * QPS at a target recall along a curve, the rule of docs/benchmarks.md: within each series (in
 * sweep order), log(QPS) is interpolated linearly in recall between the last point below the target
 * and the first at or above it; a series whose first point already reaches the target gives that
 * point's QPS as a lower bound. The best series wins. Null when no point reaches the target.
 */
export function qpsAtRecall(curve: readonly CurvePoint[], target: number): { qps: number; series: string; lowerBound: boolean } | null {
  let best: { qps: number; series: string; lowerBound: boolean } | null = null;
  const series = [...new Set(curve.map((p) => p.series))];
  for (const s of series) {
    const pts = curve.filter((p) => p.series === s);
    const i = pts.findIndex((p) => p.recall >= target);
    if (i < 0) continue;
    let found: { qps: number; series: string; lowerBound: boolean };
    if (i === 0) {
      found = { qps: pts[0]!.qps, series: s, lowerBound: true };
    } else {
      const a = pts[i - 1]!;
      const b = pts[i]!;
      const t = b.recall === a.recall ? 1 : (target - a.recall) / (b.recall - a.recall);
      found = { qps: Math.exp(Math.log(a.qps) + t * (Math.log(b.qps) - Math.log(a.qps))), series: s, lowerBound: false };
    }
    if (best === null || found.qps > best.qps) best = found;
  }
  return best;
}

// ---------------------------------------------------------------------------------------------

function checkInput(input: PeerInput): void {
  const { base, queries, gt, k } = input;
  if (base.dim !== queries.dim) throw new Error(`lancedb peer: queries have dimension ${queries.dim}, base ${base.dim}`);
  if (base.count < 1 || queries.count < 1) throw new Error('lancedb peer: empty base or query set');
  if (!Number.isInteger(k) || k < 1 || k > base.count) throw new Error(`lancedb peer: k = ${k} is not in 1–${base.count}`);
  if (gt.length !== queries.count * k) throw new Error(`lancedb peer: gt holds ${gt.length} ids, expected queries × k = ${queries.count * k}`);
  for (let i = 0; i < gt.length; i++) {
    if (gt[i]! < 0 || gt[i]! >= base.count) throw new Error(`lancedb peer: gt[${i}] = ${gt[i]} is not a base row`);
  }
  if (input.numPartitions !== undefined && (!Number.isInteger(input.numPartitions) || input.numPartitions < 1 || input.numPartitions > base.count)) {
    throw new Error(`lancedb peer: numPartitions = ${input.numPartitions} is not in 1–${base.count}`);
  }
  mkdirSync(input.dir, { recursive: true });
  if (readdirSync(input.dir).length > 0) throw new Error(`lancedb peer: ${input.dir} is not empty (its size would not be LanceDB's)`);
}

/** The base as an Arrow table: `id` Utf8 (row number as a string), `vector` FixedSizeList<Float32>[dim]. */
function arrowTable(base: VectorBatch) {
  const { dim, count } = base;
  const values = base.data.subarray(0, count * dim);
  const child = arrow.makeData({ type: new arrow.Float32(), length: count * dim, data: values });
  const vectorType = new arrow.FixedSizeList(dim, new arrow.Field('item', new arrow.Float32(), true));
  const vectors = arrow.makeVector(arrow.makeData({ type: vectorType, length: count, nullCount: 0, child }));
  const ids = arrow.vectorFromArray(Array.from({ length: count }, (_, i) => String(i)), new arrow.Utf8());
  return new arrow.Table({ id: ids, vector: vectors });
}

function indexConfig(kind: LanceIndexKind, numPartitions: number | undefined): { index: lancedb.Index; config: string; label: string } {
  const opts = numPartitions === undefined ? { distanceType: 'l2' as const } : { distanceType: 'l2' as const, numPartitions };
  const call = numPartitions === undefined ? "{ distanceType: 'l2' }" : `{ distanceType: 'l2', numPartitions: ${numPartitions} }`;
  const parts = numPartitions === undefined ? 'numPartitions, ' : '';
  switch (kind) {
    case 'ivf':
      return { index: lancedb.Index.ivfFlat(opts), config: `Index.ivfFlat(${call}) (${parts}sampleRate 256, maxIterations 50: defaults)`, label: 'IVF_FLAT' };
    case 'hnsw':
      return { index: lancedb.Index.hnswSq(opts), config: `Index.hnswSq(${call}) (m 20, efConstruction 300, ${parts}8-bit SQ: defaults)`, label: 'IVF_HNSW_SQ' };
    case 'ivf-pq':
      return { index: lancedb.Index.ivfPq(opts), config: `Index.ivfPq(${call}) (${parts}numSubVectors dim/16, numBits 8: defaults)`, label: 'IVF_PQ' };
  }
}

interface Knobs {
  nprobes?: number;
  ef?: number;
  refineFactor?: number;
}

function knobText(k: Knobs): string {
  const parts: string[] = [];
  if (k.nprobes !== undefined) parts.push(`nprobes=${k.nprobes}`);
  if (k.ef !== undefined) parts.push(`ef=${k.ef}`);
  if (k.refineFactor !== undefined) parts.push(`refineFactor=${k.refineFactor}`);
  return parts.join(' ');
}

type ArrowResult = Awaited<ReturnType<lancedb.VectorQuery['toArrow']>>;

/** One complete query, exactly as timed. */
function search(table: lancedb.Table, vector: Float32Array, k: number, knobs: Knobs): Promise<ArrowResult> {
  let q = table.vectorSearch(vector).distanceType('l2').limit(k).select(['id', '_distance']);
  if (knobs.nprobes !== undefined) q = q.nprobes(knobs.nprobes);
  if (knobs.ef !== undefined) q = q.ef(knobs.ef);
  if (knobs.refineFactor !== undefined) q = q.refineFactor(knobs.refineFactor);
  return q.toArrow();
}

function idsOf(result: ArrowResult): number[] {
  const col = result.getChild('id');
  if (col === null) throw new Error('lancedb peer: the result has no id column');
  const out: number[] = [];
  for (let i = 0; i < col.length; i++) out.push(Number(col.get(i)));
  return out;
}


/**
 * Recall@k as in bench:ann: returned ids among the true top-k, ÷ k; an id outside the list still
 * counts when its exact (float64) distance ties the k-th true distance (relative 1e-6).
 */
class RecallJudge {
  private readonly kth: Float64Array;

  constructor(private readonly input: PeerInput) {
    const { base, queries, gt, k } = input;
    this.kth = new Float64Array(queries.count);
    for (let q = 0; q < queries.count; q++) {
      let m = 0;
      for (let j = 0; j < k; j++) m = Math.max(m, dist64(queries.data, q * queries.dim, base.data, gt[q * k + j]! * base.dim, base.dim));
      this.kth[q] = m;
    }
  }

  recall(q: number, got: readonly number[]): number {
    const { base, queries, gt, k } = this.input;
    const limit = this.kth[q]! * (1 + 1e-6) + 1e-9;
    let hits = 0;
    for (let j = 0; j < Math.min(k, got.length); j++) {
      const id = got[j]!;
      let found = false;
      for (let t = 0; t < k; t++) {
        if (gt[q * k + t] === id) {
          found = true;
          break;
        }
      }
      if (!found && Number.isInteger(id) && id >= 0 && id < base.count &&
        dist64(queries.data, q * queries.dim, base.data, id * base.dim, base.dim) <= limit) found = true;
      if (found) hits++;
    }
    return hits / k;
  }
}

/** IVF partitions of the index: ask for every partition and read `partitions_ranked` from the executed plan. */
async function partitionCount(table: lancedb.Table, vector: Float32Array, k: number): Promise<number | null> {
  const plan = await table.vectorSearch(vector).distanceType('l2').limit(k).nprobes(1_000_000).select(['id', '_distance']).analyzePlan();
  const m = /partitions_ranked=(\d+)/.exec(plan);
  return m === null ? null : Number(m[1]);
}

/** The sweeps of one index kind. HNSW refuses ef below the number of candidates it must return (k, or k × refineFactor). */
function sweepFor(kind: LanceIndexKind, partitions: number | null, k: number): { series: string; knobs: Knobs[] }[] {
  const probes = (): number[] => {
    if (partitions === null) return NPROBES;
    const p = NPROBES.filter((x) => x < partitions);
    return [...p, partitions];
  };
  switch (kind) {
    case 'ivf':
      return [{ series: 'nprobes', knobs: probes().map((nprobes) => ({ nprobes })) }];
    case 'hnsw':
      // One partition below ~10M 128-d rows; with more, LanceDB's default nprobes (20) applies.
      return [
        { series: 'ef', knobs: EFS.filter((ef) => ef >= k).map((ef) => ({ ef })) },
        { series: `ef refineFactor=${HNSW_REFINE}`, knobs: EFS.filter((ef) => ef >= k * HNSW_REFINE).map((ef) => ({ ef, refineFactor: HNSW_REFINE })) },
      ];
    case 'ivf-pq':
      return PQ_REFINES.map((refineFactor) => ({
        series: refineFactor === undefined ? 'nprobes' : `nprobes refineFactor=${refineFactor}`,
        knobs: probes().map((nprobes) => (refineFactor === undefined ? { nprobes } : { nprobes, refineFactor })),
      }));
  }
}

/**
 * Builds a LanceDB table and index in `input.dir` and measures import, index build, disk use and
 * the recall/QPS curve of sequential single queries. The connection is closed before returning;
 * the directory is left for the caller to delete.
 */
export async function runLanceDb(input: PeerInput): Promise<PeerResult> {
  checkInput(input);
  const { base, queries, k } = input;
  const n = base.count;
  const timing: PeerTiming = { minSeconds: input.timing?.minSeconds ?? 1, reps: input.timing?.reps ?? 2 };
  const progress = input.progress ?? ((): void => undefined);
  const { index, config, label } = indexConfig(input.index, input.numPartitions);
  const engine = `lancedb ${LANCEDB_VERSION} ${label}`;

  const db = await lancedb.connect(input.dir);
  let table: lancedb.Table | undefined;
  try {
    progress(`${engine}: createTable with ${n.toLocaleString('en-US')} rows…`);
    let c0 = process.cpuUsage();
    let t0 = performance.now();
    table = await db.createTable(TABLE, arrowTable(base));
    const importSeconds = (performance.now() - t0) / 1000;
    let cpu = process.cpuUsage(c0);
    const importCpuPerWall = (cpu.user + cpu.system) / 1e6 / importSeconds;
    const rows = await table.countRows();
    if (rows !== n) throw new Error(`lancedb peer: the table holds ${rows} rows after importing ${n}`);
    const importDiskBytes = directoryBytes(input.dir);

    progress(`${engine}: createIndex (${config})…`);
    c0 = process.cpuUsage();
    t0 = performance.now();
    await table.createIndex('vector', { config: index });
    const indexSeconds = (performance.now() - t0) / 1000;
    cpu = process.cpuUsage(c0);
    const indexCpuPerWall = (cpu.user + cpu.system) / 1e6 / indexSeconds;
    const info = (await table.listIndices()).find((i) => i.columns.includes('vector'));
    if (info === undefined) throw new Error('lancedb peer: no index on "vector" after createIndex');
    if (info.numIndexedRows !== undefined && info.numIndexedRows !== n) throw new Error(`lancedb peer: the index holds ${info.numIndexedRows} of ${n} rows`);
    if (info.numUnindexedRows !== undefined && info.numUnindexedRows !== 0) throw new Error(`lancedb peer: ${info.numUnindexedRows} rows left unindexed`);
    const diskBytes = directoryBytes(input.dir);
    progress(`${engine}: imported in ${importSeconds.toFixed(2)} s, indexed in ${indexSeconds.toFixed(2)} s (cpu/wall ${indexCpuPerWall.toFixed(2)}), ${(diskBytes / n).toFixed(0)} B/vector on disk`);

    const qs: Float32Array[] = [];
    for (let q = 0; q < queries.count; q++) qs.push(queries.data.slice(q * queries.dim, (q + 1) * queries.dim));
    const partitions = await partitionCount(table, qs[0]!, k);
    const judge = new RecallJudge(input);
    const tbl = table;

    const curve: CurvePoint[] = [];
    for (const { series, knobs: list } of sweepFor(input.index, partitions, k)) {
      for (const knobs of list) {
        // Warm-up pass (untimed), which is also the pass whose results give recall.
        let sum = 0;
        for (let q = 0; q < qs.length; q++) sum += judge.recall(q, idsOf(await search(tbl, qs[q]!, k, knobs)));
        const recall = Math.round((sum / qs.length) * 1e6) / 1e6;
        let best = 0;
        let bestCpu = 0;
        for (let r = 0; r < timing.reps; r++) {
          const c = process.cpuUsage();
          const t = performance.now();
          let done = 0;
          let elapsed = 0;
          let rowsSeen = 0;
          do {
            for (let q = 0; q < qs.length; q++) rowsSeen += (await search(tbl, qs[q]!, k, knobs)).numRows;
            done += qs.length;
            elapsed = (performance.now() - t) / 1000;
          } while (elapsed < timing.minSeconds);
          const used = process.cpuUsage(c);
          if (rowsSeen !== done * k) throw new Error(`lancedb peer: ${knobText(knobs)}: ${rowsSeen} rows for ${done} queries of k = ${k}`);
          if (done / elapsed > best) {
            best = done / elapsed;
            bestCpu = (used.user + used.system) / 1e6 / elapsed;
          }
        }
        const point: CurvePoint = { param: knobText(knobs), recall, qps: best, series, cpuPerWall: bestCpu };
        curve.push(point);
        progress(`${engine}: ${point.param}: recall@${k} ${recall.toFixed(4)}, ${best.toFixed(0)} QPS, cpu/wall ${bestCpu.toFixed(2)}`);
      }
    }

    return {
      engine,
      importSeconds,
      indexSeconds,
      diskBytes,
      bytesPerVector: diskBytes / n,
      curve,
      details: {
        indexType: info.indexType,
        partitions,
        config,
        indexDetails: info.indexDetails,
        indexBytes: info.sizeBytes ?? null,
        importDiskBytes,
        importCpuPerWall,
        indexCpuPerWall,
        threads: threadEnv(),
        timing,
      },
    };
  } finally {
    table?.close();
    db.close();
  }
}
