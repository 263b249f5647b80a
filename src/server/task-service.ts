/**
 * The server's tasks (docs/server.md, "Tasks"): cluster (choosing k included), outliers (k-NN
 * distance, LOF), dedupe, diversity and the classifier's leave-one-out evaluation, each run in a
 * worker thread (task-worker.ts) so the server's event loop keeps answering while they compute —
 * the projections' design (src/viz/projection-service.ts): one worker per computation, progress
 * posted by the worker, cancellation by terminating it, at most `maxWorkers` at once and the rest
 * queued.
 *
 * The worker opens the database read-only and reads the records itself (see task-worker.ts for the
 * measurement). What writes (cluster's `writeField`) is done here after the worker answered, in one
 * update, as the library does. A database the worker cannot reopen by its location (a PostgreSQL
 * store, whose location here has no password) runs the task on this thread instead.
 */
import type { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { randomUUID } from 'node:crypto';
import { OmnivecError, describe, invalidArgument } from '../errors.js';
import type { Database } from '../db/database.js';
import { startWorker } from '../workers.js';
import type { TaskProgress } from '../tasks/common.js';
import { runTask, type TaskWorkerInput, type TaskWorkerMessage, type WorkerTaskKind } from './task-worker.js';

export type TaskKind = WorkerTaskKind;
export const TASK_KINDS: readonly TaskKind[] = ['cluster', 'outliers', 'dedupe', 'diversity', 'evaluate'];

export type TaskStatus = 'queued' | 'running' | 'done' | 'error' | 'cancelled';

export interface TaskRequest {
  kind: TaskKind;
  collection: string;
  /** The library options of the task (no onProgress; cluster: no writeField, see `finish`). */
  options: Record<string, unknown>;
  /**
   * Runs on this thread once the worker answered, with the collection: turns the library's answer
   * into the answer kept and sent (and does a task's write, e.g. cluster's `writeField`).
   */
  finish?: (result: unknown) => Promise<unknown> | unknown;
}

/** What `GET /api/tasks/:id` answers. */
export interface TaskState {
  id: string;
  kind: TaskKind;
  collection: string;
  status: TaskStatus;
  /** The current phase (`queued`, `starting`, `reading`, `neighbours`, `k-means k=4`, …) and its share done, 0..1. */
  phase: string;
  progress: number;
  done: number;
  total: number;
  /** ISO times. */
  created: string;
  ended?: string;
  /** status done: the task's answer (the same body the synchronous route sends). */
  result?: unknown;
  /** status error or cancelled. */
  error?: { code: string; message: string };
}

export interface TaskServiceOptions {
  db: Database;
  /** Tasks computing at once (each a worker thread); others wait in phase `queued`. Default max(1, cores − 1). */
  maxWorkers?: number;
  /** Index threads of each worker's database handle (default 1: the other cores stay with the server's loop and other tasks). */
  threads?: number;
  /** Finished tasks remembered for `GET /api/tasks/:id` (oldest forgotten first). Default 64. */
  keepFinished?: number;
  /** Run on this thread instead of a worker (tests, stores a worker cannot reopen). Default: a worker when the database is a directory. */
  inline?: boolean;
}

export interface TaskHandle {
  readonly id: string;
  /** Settles with the answer, or rejects with the task's OmnivecError (`interrupted` when cancelled). */
  readonly promise: Promise<unknown>;
}

interface Job {
  state: TaskState;
  request: TaskRequest;
  promise: Promise<unknown>;
  worker: Worker | undefined;
  /** Ends the job from outside: terminates the worker (or leaves the queue) and rejects. */
  abort: ((e: OmnivecError) => void) | undefined;
}

const URL_LOCATION = /^[a-z][a-z0-9+.-]*:\/\//i;

export class TaskService {
  readonly #db: Database;
  readonly #maxWorkers: number;
  readonly #threads: number;
  readonly #keep: number;
  readonly #inline: boolean;
  readonly #jobs = new Map<string, Job>();
  readonly #waiting: (() => void)[] = [];
  #running = 0;
  #started = 0;
  #closed = false;

  constructor(o: TaskServiceOptions) {
    if (o === null || typeof o !== 'object' || o.db === undefined) throw invalidArgument('TaskService: expected { db, maxWorkers?, threads?, keepFinished? }');
    this.#db = o.db;
    this.#maxWorkers = o.maxWorkers ?? Math.max(1, availableParallelism() - 1);
    this.#threads = o.threads ?? 1;
    this.#keep = o.keepFinished ?? 64;
    this.#inline = o.inline ?? URL_LOCATION.test(o.db.dir);
  }

  /** Worker threads started so far. */
  get workersStarted(): number {
    return this.#started;
  }

  /** Registers and starts (or queues) a task. The collection is checked first: not_found answers at once. */
  async start(request: TaskRequest): Promise<TaskHandle> {
    if (this.#closed) throw new OmnivecError('shutting_down', 'tasks: the server is shutting down');
    if (!TASK_KINDS.includes(request.kind)) throw invalidArgument(`task: expected one of ${TASK_KINDS.join(', ')}, got ${describe(request.kind)}`);
    await this.#db.getCollection(request.collection);
    const id = randomUUID();
    const state: TaskState = {
      id, kind: request.kind, collection: request.collection, status: 'queued', phase: 'queued',
      progress: 0, done: 0, total: 0, created: new Date().toISOString(),
    };
    const job: Job = { state, request, promise: undefined as unknown as Promise<unknown>, worker: undefined, abort: undefined };
    this.#jobs.set(id, job);
    job.promise = this.#run(job).then((result) => {
      this.#end(job, 'done');
      job.state.result = result;
      return result;
    }, (e: unknown) => {
      const err = e instanceof OmnivecError ? e : new OmnivecError('internal', `task failed: ${e instanceof Error ? e.message : String(e)}`);
      job.state.error = { code: err.code, message: err.message };
      this.#end(job, job.state.status === 'cancelled' ? 'cancelled' : 'error');
      throw err;
    });
    // Callers of the asynchronous API may never await it: the outcome is kept in the state.
    job.promise.catch(() => undefined);
    return { id, promise: job.promise };
  }

  get(id: string): TaskState {
    const job = this.#jobs.get(id);
    if (job === undefined) throw new OmnivecError('not_found', `task ${JSON.stringify(id)} not found: finished tasks are kept until ${this.#keep} newer ones have finished; GET /api/tasks lists them`);
    return { ...job.state };
  }

  /** Every task remembered, newest first (answers left out: GET /api/tasks/:id gives them). */
  list(): TaskState[] {
    return [...this.#jobs.values()].map((j) => { const { result: _, ...s } = j.state; return s; }).reverse();
  }

  /**
   * Stops a queued or running task (its worker is terminated; the promise rejects `interrupted`);
   * a finished task is forgotten. Answers the state as it ended.
   */
  cancel(id: string): TaskState {
    const job = this.#jobs.get(id);
    if (job === undefined) return this.get(id);
    if (job.state.status === 'queued' || job.state.status === 'running') {
      job.state.status = 'cancelled';
      job.abort?.(new OmnivecError('interrupted', `task ${id} (${job.state.kind} of ${job.state.collection}) was cancelled`));
    } else {
      this.#jobs.delete(id);
    }
    return { ...job.state };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const running = [...this.#jobs.values()].filter((j) => j.state.status === 'queued' || j.state.status === 'running');
    for (const j of running) {
      j.state.status = 'cancelled';
      j.abort?.(new OmnivecError('shutting_down', `task ${j.state.id}: the server is shutting down; the task was stopped`));
    }
    await Promise.all(running.map((j) => j.promise.catch(() => undefined)));
  }

  #end(job: Job, status: TaskStatus): void {
    job.state.status = status;
    job.state.ended = new Date().toISOString();
    job.worker = undefined;
    job.abort = undefined;
    if (status === 'done') { job.state.phase = 'done'; job.state.progress = 1; }
    // Forget the oldest finished ones beyond the limit.
    let finished = 0;
    for (const j of this.#jobs.values()) if (j.state.ended !== undefined) finished++;
    for (const [id, j] of this.#jobs) {
      if (finished <= this.#keep) break;
      if (j.state.ended !== undefined) { this.#jobs.delete(id); finished--; }
    }
  }

  #report(job: Job, p: TaskProgress): void {
    if (job.state.status !== 'running') return;
    job.state.phase = p.phase;
    job.state.done = p.done;
    job.state.total = p.total;
    job.state.progress = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
  }

  async #slot(job: Job): Promise<void> {
    while (this.#running >= this.#maxWorkers) {
      await new Promise<void>((resolve, reject) => {
        const wake = (): void => { job.abort = undefined; resolve(); };
        this.#waiting.push(wake);
        job.abort = (e) => {
          const i = this.#waiting.indexOf(wake);
          if (i >= 0) this.#waiting.splice(i, 1);
          job.abort = undefined;
          reject(e);
        };
      });
    }
    this.#running++;
  }

  #release(): void {
    this.#running--;
    this.#waiting.shift()?.();
  }

  async #run(job: Job): Promise<unknown> {
    await this.#slot(job);
    try {
      if (this.#closed) throw new OmnivecError('shutting_down', 'tasks: the server is shutting down');
      job.state.status = 'running';
      this.#report(job, { phase: 'starting', done: 0, total: 1 });
      const { kind, collection, options, finish } = job.request;
      let result: unknown;
      if (this.#inline) {
        result = await runTask(kind, await this.#db.getCollection(collection), options, (p) => this.#report(job, p));
      } else {
        result = await this.#inWorker(job, { location: this.#db.dir, collection, kind, options, threads: this.#threads });
      }
      if (job.state.status !== 'running') throw new OmnivecError('interrupted', `task ${job.state.id} was cancelled`);
      if (finish === undefined) return result;
      this.#report(job, { phase: 'finishing', done: 0, total: 1 });
      return await finish(result);
    } finally {
      this.#release();
    }
  }

  #inWorker(job: Job, input: TaskWorkerInput): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const w = startWorker(import.meta.url, 'task-worker', { workerData: input });
      this.#started++;
      job.worker = w;
      let settled = false;
      const end = (e: Error | undefined, result?: unknown): void => {
        if (settled) return;
        settled = true;
        job.worker = undefined;
        job.abort = undefined;
        if (e !== undefined) reject(e);
        else resolve(result);
        void w.terminate();
      };
      job.abort = (e) => end(e);
      w.on('message', (m: TaskWorkerMessage) => {
        if (m.type === 'progress') this.#report(job, m);
        else if (m.type === 'done') end(undefined, m.result);
        else end(new OmnivecError(m.code as OmnivecError['code'], m.message));
      });
      w.on('error', (e) => end(new OmnivecError('internal', `task worker failed: ${e.message}`)));
      w.on('exit', (code) => end(new OmnivecError('internal', `task worker exited (code ${code}) before it answered`)));
    });
  }
}
