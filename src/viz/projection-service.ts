/**
 * Projections of collections (docs/server.md, "Projections"; docs/projections.md): computed in a
 * worker thread with progress by phase, one computation per (collection, method, sample, seed) at
 * a time (later callers join it), cached in memory and on disk (`projection-cache.ts`) against the
 * collection's change number `seq` and its generation (`cid`, `created`). A map whose collection
 * changed since is served as `stale` while the new one runs. The server and `omnivec project` both
 * use it.
 *
 * The sample is read here, on the calling thread (a few ms for 5,000 records: one SQLite read per
 * id), and moved to the worker as one Float32Array; the worker runs `projectSteps`, the very steps
 * of `project()`, so the map equals `project()` on the same vectors and seed.
 */
import { selectRecords, type Selection } from '../tasks/common.js';
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../workers.js';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { OmnivecError, describe, invalidArgument } from '../errors.js';
import type { Database } from '../db/database.js';
import type { Collection } from '../db/collection.js';
import type { ProjectionRequest, ProjectionService, ProjectionState } from './types.js';
import { PROJECTION_METHODS, type ProjectionMethod } from './projection.js';
import type { ProjectionWorkerInput, ProjectionWorkerMessage } from './projection-worker.js';
import { cachePath, readCached, writeCached, type Generation, type MapResult } from './projection-cache.js';

export interface ProjectionServiceOptions {
  db: Database;
  dbDir: string;
  /** Default DIR/projections. */
  cacheDir?: string;
  /** false: neither read nor write cached maps, in memory or on disk (`omnivec project --no-cache`). Default true. */
  cache?: boolean;
  /** Computations running at once (each a worker thread); others wait in phase `queued`. Default max(1, cores − 1). */
  maxWorkers?: number;
  /** A running map nobody asked about for this long is stopped when another waits (default ABANDONED_MS). */
  abandonedMs?: number;
  /** Maps kept in memory (least recently used dropped first; the disk keeps them all). Default 32. */
  memoryEntries?: number;
}

/** The service with what tests and the CLI look at besides the contract. */
export interface LocalProjectionService extends ProjectionService {
  /** The map, with `total`: how many records the collection had when its sample was drawn. */
  compute(collection: string, request: ProjectionRequest, onProgress?: (phase: string, progress: number) => void): Promise<MapResult>;
  /** Worker threads started so far (a cache hit starts none). */
  readonly workersStarted: number;
}

/**
 * Largest sample per method. t-SNE is Barnes–Hut (src/viz/tsne/: O(n log n) a step, memory linear
 * in n): 100,000 like PCA (druidjs's exact t-SNE, before issue 20, stopped at 5,000).
 */
export const MAX_SAMPLE: Readonly<Record<ProjectionMethod, number>> = { pca: 100_000, umap: 50_000, tsne: 100_000 };
export const DEFAULT_REQUEST: Readonly<ProjectionRequest> = { method: 'umap', sample: 5000, seed: 42 };

/**
 * Overall progress 0..1 is stitched from the phases: each phase owns a slice, in proportion to its
 * measured share of the time (bench/projection.ts, 5,000–10,000 points: t-SNE ~15 % on neighbours and affinities, the rest optimising;
 * UMAP ~15 % on neighbours, ~40 % building the graph, ~45 % optimising).
 */
const SLICES: Readonly<Record<ProjectionMethod, Readonly<Record<string, readonly [number, number]>>>> = {
  pca: { reading: [0, 0.1], pca: [0.1, 1] },
  tsne: { reading: [0, 0.02], affinities: [0.02, 0.15], optimising: [0.15, 1] },
  umap: { reading: [0, 0.02], knn: [0.02, 0.17], graph: [0.17, 0.55], optimising: [0.55, 1] },
};

/** Checks a request (the route's schema checks the same; the CLI and library callers come here). */
export function checkRequest(r: Partial<ProjectionRequest> | undefined): ProjectionRequest {
  const method = r?.method ?? DEFAULT_REQUEST.method;
  if (!PROJECTION_METHODS.includes(method)) throw invalidArgument(`method: expected pca, tsne or umap, got ${describe(method)}`);
  const sample = r?.sample ?? DEFAULT_REQUEST.sample;
  const max = MAX_SAMPLE[method];
  if (!Number.isInteger(sample) || sample < 3 || sample > max) {
    throw invalidArgument(`sample: expected an integer from 3 to ${max.toLocaleString('en-US')} for ${method}, got ${describe(sample)}`);
  }
  const seed = r?.seed ?? DEFAULT_REQUEST.seed;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw invalidArgument(`seed: expected an integer from 0 to 4294967295, got ${describe(seed)}`);
  return { method, sample, seed };
}

interface Sample {
  ids: string[];
  vectors: Float32Array;
  dim: number;
  seq: number;
  total: number;
}

/**
 * `sample` records spread evenly over the collection: the tasks' selection with `sampling: 'spread'`
 * and the map's seed (a seeded hash of each id picks them: every record equally likely, whatever
 * its place in id order; docs/projections.md, "The sample"), in id order; all of them when the
 * collection has no more. It is re-read if a write came between its statements, and labelled with
 * the change number it saw.
 */
async function readSample(c: Collection, sample: number, seed: number): Promise<Sample> {
  let sel: Selection | undefined;
  try {
    sel = await selectRecords(c, { sample, sampling: 'spread', seed });
  } catch (e) {
    if (!(e instanceof OmnivecError && e.code === 'empty_index')) throw e;
  }
  const n = sel?.n ?? 0;
  if (sel === undefined || n < 3) throw invalidArgument(`${c.name}: a map needs at least 3 records, the collection has ${n}`);
  return { ids: sel.ids, vectors: sel.vectors, dim: sel.dim, seq: sel.seq, total: sel.total };
}

type Listener = (phase: string, progress: number) => void;

interface Job {
  collection: string;
  request: ProjectionRequest;
  gen: Generation;
  phase: string;
  progress: number;
  listeners: Set<Listener>;
  promise: Promise<MapResult>;
  worker: Worker | undefined;
  /** Ends the job from outside (close): terminates the worker, rejects the promise. */
  abort: ((e: Error) => void) | undefined;
  /** When get() last asked for it (ms); compute() callers waiting on it. */
  lastAsked: number;
  waiters: number;
  /** Stopped because nobody asked for it while another map waited: not a failure to remember. */
  abandoned: boolean;
}

/**
 * A running map nobody has asked about for this long (the explorer polls at least every second)
 * is stopped when another map is waiting for its worker slot, so a t-SNE the user left does not hold
 * the next map back for minutes.
 */
export const ABANDONED_MS = 10_000;

interface Entry {
  gen: Generation;
  result: MapResult;
}

interface Failure {
  gen: Generation;
  seq: number;
  code: string;
  message: string;
}

const sameGen = (a: Generation, b: Generation): boolean => a.cid === b.cid && a.created === b.created;

/** A map's thread: projection-worker.ts beside this file, started as every omnivec worker is (src/workers.ts). */
function startProjectionWorker(input: ProjectionWorkerInput): Worker {
  return startWorker(import.meta.url, 'projection-worker', { workerData: input, transferList: [input.vectors.buffer as ArrayBuffer] });
}

export function createProjectionService(options: ProjectionServiceOptions): LocalProjectionService {
  return new Projections(options);
}

class Projections implements LocalProjectionService {
  readonly #db: Database;
  readonly #dir: string;
  readonly #useCache: boolean;
  readonly #maxWorkers: number;
  readonly #abandonedMs: number;
  readonly #memoryEntries: number;
  readonly #memory = new Map<string, Entry>();
  readonly #jobs = new Map<string, Job>();
  readonly #failures = new Map<string, Failure>();
  readonly #waiting: (() => void)[] = [];
  #running = 0;
  #started = 0;
  #closed = false;

  constructor(o: ProjectionServiceOptions) {
    if (o === null || typeof o !== 'object' || o.db === undefined) throw invalidArgument('createProjectionService: expected { db, dbDir, cacheDir?, cache?, maxWorkers? }');
    this.#db = o.db;
    this.#dir = o.cacheDir ?? join(o.dbDir, 'projections');
    this.#useCache = o.cache ?? true;
    this.#maxWorkers = o.maxWorkers ?? Math.max(1, availableParallelism() - 1);
    this.#abandonedMs = o.abandonedMs ?? ABANDONED_MS;
    this.#memoryEntries = o.memoryEntries ?? 32;
  }

  get workersStarted(): number {
    return this.#started;
  }

  async get(collection: string, request: ProjectionRequest): Promise<ProjectionState> {
    const { c, r, key, gen, seq } = await this.#open(collection, request);
    const cached = await this.#cached(key, collection, r, gen);
    if (cached !== undefined && cached.seq === seq) return { status: 'done', result: cached };
    let job = this.#jobs.get(key);
    if (job === undefined) {
      const failed = this.#failures.get(key);
      if (failed !== undefined && sameGen(failed.gen, gen) && failed.seq === seq) return { status: 'error', code: failed.code, message: failed.message };
      job = this.#start(c, key, r, gen);
    }
    job.lastAsked = Date.now();
    return { status: 'running', phase: job.phase, progress: job.progress, ...(cached !== undefined ? { stale: cached } : {}) };
  }

  async compute(collection: string, request: ProjectionRequest, onProgress?: Listener): Promise<MapResult> {
    for (;;) {
      const { c, r, key, gen, seq } = await this.#open(collection, request);
      const cached = await this.#cached(key, collection, r, gen);
      if (cached !== undefined && cached.seq === seq) {
        onProgress?.('done', 1);
        return cached;
      }
      const job = this.#jobs.get(key) ?? this.#start(c, key, r, gen);
      if (onProgress !== undefined) {
        job.listeners.add(onProgress);
        onProgress(job.phase, job.progress);
      }
      let result: MapResult;
      job.waiters++;
      try {
        result = await job.promise;
      } finally {
        job.waiters--;
        if (onProgress !== undefined) job.listeners.delete(onProgress);
      }
      // A job started before this call may have read an older state (or another generation): then go again.
      if (sameGen(job.gen, gen) && result.seq >= seq) {
        onProgress?.('done', 1);
        return result;
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const stop = new OmnivecError('shutting_down', 'projections: the service is closing; the computation was stopped');
    const jobs = [...this.#jobs.values()];
    await Promise.all(jobs.map(async (j) => {
      j.abort?.(stop);
      await j.promise.catch(() => undefined);
    }));
    this.#memory.clear();
  }

  async #open(collection: string, request: ProjectionRequest): Promise<{ c: Collection; r: ProjectionRequest; key: string; gen: Generation; seq: number }> {
    if (this.#closed) throw new OmnivecError('shutting_down', 'projections: the service is closed');
    if (typeof collection !== 'string') throw invalidArgument(`collection: expected a name, got ${describe(collection)}`);
    const r = checkRequest(request);
    const c = await this.#db.getCollection(collection);
    const seq = (await c.info()).seq;
    return { c, r, key: `${collection}\u0000${r.method}\u0000${r.sample}\u0000${r.seed}`, gen: { cid: c.cid, created: c.created }, seq };
  }

  async #cached(key: string, collection: string, r: ProjectionRequest, gen: Generation): Promise<MapResult | undefined> {
    if (!this.#useCache) return undefined;
    const m = this.#memory.get(key);
    if (m !== undefined && sameGen(m.gen, gen)) {
      this.#memory.delete(key);
      this.#memory.set(key, m);
      return m.result;
    }
    const found = await readCached(cachePath(this.#dir, collection, r.method, r.sample, r.seed), collection, gen);
    if (found === undefined || found.method !== r.method || found.sample !== r.sample || found.seed !== r.seed) return undefined;
    // Another call may have computed a newer map while the file was read.
    const now = this.#memory.get(key);
    if (now !== undefined && sameGen(now.gen, gen) && now.result.seq >= found.seq) return now.result;
    this.#remember(key, gen, found);
    return found;
  }

  #remember(key: string, gen: Generation, result: MapResult): void {
    if (!this.#useCache) return;
    this.#memory.delete(key);
    this.#memory.set(key, { gen, result });
    while (this.#memory.size > this.#memoryEntries) this.#memory.delete(this.#memory.keys().next().value!);
  }

  /** Registers the job synchronously (so a caller arriving next joins it), then runs it. */
  #start(c: Collection, key: string, r: ProjectionRequest, gen: Generation): Job {
    const job: Job = {
      collection: c.name, request: r, gen, phase: 'queued', progress: 0, listeners: new Set(),
      promise: undefined as unknown as Promise<MapResult>, worker: undefined, abort: undefined,
      lastAsked: Date.now(), waiters: 0, abandoned: false,
    };
    this.#jobs.set(key, job);
    this.#failures.delete(key);
    job.promise = this.#run(job, c).then((result) => {
      this.#remember(key, gen, result);
      return result;
    }, (e: unknown) => {
      if (!this.#closed && !job.abandoned) {
        const code = e instanceof OmnivecError ? e.code : 'internal';
        this.#failures.set(key, { gen, seq: c.seq, code, message: e instanceof Error ? e.message : String(e) });
      }
      throw e;
    }).finally(() => {
      if (this.#jobs.get(key) === job) this.#jobs.delete(key);
    });
    // get() callers may never await the promise: its failure is kept in #failures, not thrown at nobody.
    job.promise.catch(() => undefined);
    return job;
  }

  #report(job: Job, phase: string, done: number, total: number): void {
    const slice = SLICES[job.request.method][phase];
    let p = job.progress;
    if (slice !== undefined) p = slice[0] + (slice[1] - slice[0]) * (total > 0 ? Math.min(1, done / total) : 0);
    job.phase = phase;
    job.progress = Math.max(job.progress, p);
    for (const l of job.listeners) l(job.phase, job.progress);
  }

  /** Stops running maps nobody waits for or has asked about lately (ABANDONED_MS): another map needs the slot. */
  #preempt(now = Date.now()): void {
    for (const j of this.#jobs.values()) {
      if (j.worker === undefined || j.abandoned || j.waiters > 0 || now - j.lastAsked < this.#abandonedMs) continue;
      j.abandoned = true;
      j.abort?.(new OmnivecError('shutting_down', `projections: the ${j.request.method} map of ${j.collection} was stopped: nobody asked for it for ${this.#abandonedMs / 1000} s and another map was waiting`));
    }
  }

  async #slot(job: Job): Promise<void> {
    while (this.#running >= this.#maxWorkers) {
      this.#preempt();
      if (this.#running < this.#maxWorkers) break;
      // Woken by a released slot, or after a second to look again for an abandoned map to stop.
      await new Promise<void>((resolve, reject) => {
        const leave = (): void => {
          clearTimeout(timer);
          const i = this.#waiting.indexOf(wake);
          if (i >= 0) this.#waiting.splice(i, 1);
          job.abort = undefined;
        };
        const wake = (): void => { leave(); resolve(); };
        const timer = setTimeout(wake, 1000);
        this.#waiting.push(wake);
        job.abort = (e) => { leave(); reject(e); };
      });
    }
    this.#running++;
  }

  #release(): void {
    this.#running--;
    this.#waiting.shift()?.();
  }

  async #run(job: Job, c: Collection): Promise<MapResult> {
    await this.#slot(job);
    try {
      if (this.#closed) throw new OmnivecError('shutting_down', 'projections: the service is closing');
      this.#report(job, 'reading', 0, 1);
      const s = await readSample(c, job.request.sample, job.request.seed);
      this.#report(job, 'reading', 1, 1);
      // Worker start-up (module loading; about a second under tsx) shows as its own phase.
      this.#report(job, 'starting', 0, 1);
      const n = s.ids.length;
      const points = await this.#inWorker(job, { vectors: s.vectors, n, dim: s.dim, options: { method: job.request.method, seed: job.request.seed } });
      const result: MapResult = { ...job.request, seq: s.seq, total: s.total, ids: s.ids, points };
      if (this.#useCache) {
        const path = cachePath(this.#dir, job.collection, result.method, result.sample, result.seed);
        // The cache is an optimisation: a read-only or full disk must not fail the map.
        await writeCached(path, this.#dir, job.collection, job.gen, result).catch(() => undefined);
      }
      return result;
    } finally {
      this.#release();
    }
  }

  #inWorker(job: Job, input: ProjectionWorkerInput): Promise<Float32Array> {
    return new Promise<Float32Array>((resolve, reject) => {
      const w = startProjectionWorker(input);
      this.#started++;
      job.worker = w;
      let settled = false;
      const finish = (e: Error | undefined, points?: Float32Array): void => {
        if (settled) return;
        settled = true;
        job.worker = undefined;
        job.abort = undefined;
        if (e !== undefined) reject(e);
        else resolve(points!);
        void w.terminate();
      };
      job.abort = (e) => finish(e);
      w.on('message', (m: ProjectionWorkerMessage) => {
        if (m.type === 'step') this.#report(job, m.phase, m.done, m.total);
        else if (m.type === 'done') finish(undefined, m.points);
        else finish(new OmnivecError(m.code as OmnivecError['code'], m.message));
      });
      w.on('error', (e) => finish(new OmnivecError('internal', `projection worker failed: ${e.message}`)));
      w.on('exit', (code) => finish(new OmnivecError('internal', `projection worker exited (code ${code}) before it answered`)));
    });
  }
}
