/**
 * The worker pool of the indexes' threaded paths (docs/indexes/threads.md): HNSW batch search and
 * parallel build, flat / IVF batch search, k-means assignment.
 *
 * - One pool per process, started lazily (the first job that asks for more than one thread),
 *   reused by every index, grown to the largest `threads` asked for (threads − 1 workers: the
 *   calling thread is the remaining participant). Workers are `unref`'d: an idle pool never keeps
 *   the process alive. Started through src/workers.ts (`startWorker`), so the same code runs from
 *   src/ under tsx and from dist/.
 * - A job is a task (a module exporting a `Task`, see `defineTask`) applied to the range [0, n),
 *   cut into chunks of `grain` items that the participants claim from a shared counter (dynamic
 *   balancing: a worker that is slow to start, or a core taken by another process, just claims
 *   fewer chunks). The calling thread works too, then blocks (`Atomics.wait`) until every claimed
 *   chunk is done — `parallelFor` is synchronous, like the index API it serves.
 * - Jobs read and write shared memory only (the arena's `WebAssembly.Memory`, SharedArrayBuffers):
 *   the job's `data` is structured-cloned to each worker, which shares (never copies) memories,
 *   SharedArrayBuffers and compiled modules.
 * - An error thrown in any participant stops the others claiming work and is rethrown by
 *   `parallelFor` with its original message (and OmnivecError code).
 */
import os from 'node:os';
import { MessageChannel, receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads';
import { OmnivecError, describe, type ErrorCode } from '../errors.js';
import { startWorker } from '../workers.js';

/** Largest `threads` accepted (a guard against typos, far above any machine this runs on). */
export const MAX_THREADS = 1024;

/**
 * What every threaded distance job carries (flat-jobs.ts, ivf-jobs.ts): the index's shared memory
 * and its compiled kernels (`Arena.kernels()`), attached by each participant, and how to read the
 * vectors there.
 */
export interface KernelJob {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  /** Metric code (vector/metric.ts). */
  code: number;
  dim: number;
  /** Bytes per stored vector (dim × 4 for float32). */
  stride: number;
  /** Vectors per kernel call (the index's #block). */
  block: number;
}

/** The default thread count: every core the process may use (`os.availableParallelism()`). */
export function defaultThreads(): number {
  return Math.max(1, Math.min(MAX_THREADS, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length));
}

/** Checks a thread count: an integer ≥ 1 (else `invalid_argument` naming what came). */
export function checkThreads(value: unknown, what = 'threads'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_THREADS) {
    throw new OmnivecError('invalid_argument', `${what}: expected an integer from 1 to ${MAX_THREADS} (worker threads), got ${describe(value)}`);
  }
  return value;
}

/** `value` checked when given, else `fallback` (itself checked), else `defaultThreads()`. */
export function resolveThreads(value: unknown, fallback?: number, what = 'threads'): number {
  if (value !== undefined) return checkThreads(value, what);
  return fallback ?? defaultThreads();
}

/**
 * What a task does, in every participant (the calling thread and the workers). All synchronous.
 * - `setup(data, participant)`: prepares this participant's state (attach the memories, make
 *   views, find its scratch). Called once per job by each participant that claims a chunk, before
 *   its first chunk. `participant` is 0 for the calling thread, 1 … threads − 1 for the workers.
 * - `run(state, start, end)`: does items [start, end).
 * - `finish(state)`: this participant's result (k-means partial sums …), returned by
 *   `parallelFor`; optional.
 */
export interface TaskImpl<D, S, R = void> {
  setup(data: D, participant: number): S;
  run(state: S, start: number, end: number): void;
  finish?(state: S): R;
}

/** A task and where a worker finds it: export `name` of the module at `url`. */
export interface Task<D, S, R = void> {
  readonly url: string;
  readonly name: string;
  readonly impl: TaskImpl<D, S, R>;
}

/**
 * Declares a task. Call it in the task's own module and export the result under `name`:
 *
 *     export const flatSearchTask = defineTask(import.meta.url, 'flatSearchTask', { setup, run });
 *
 * The module must be importable in a worker without side effects beyond defining tasks.
 */
export function defineTask<D, S, R = void>(url: string, name: string, impl: TaskImpl<D, S, R>): Task<D, S, R> {
  return Object.freeze({ url, name, impl });
}

/** Control words of one job (an Int32Array on its own SharedArrayBuffer). */
export const CTRL = { next: 0, done: 1, abort: 2 } as const;

/** A job as posted to a worker. */
export interface JobMessage {
  id: number;
  url: string;
  name: string;
  data: unknown;
  participant: number;
  n: number;
  grain: number;
  ctrl: Int32Array;
}

/** A worker's answer (posted only by a worker that claimed at least one chunk). */
export interface JobReply {
  id: number;
  participant: number;
  result?: unknown;
  error?: { message: string; name: string; code?: ErrorCode; details?: Record<string, unknown>; stack?: string };
}

interface PoolWorker {
  worker: Worker;
  port: MessagePort;
  dead: boolean;
}

const pool: PoolWorker[] = [];
let nextJob = 1;

/** Starts workers until the pool holds `count` live ones. */
function ensureWorkers(count: number): void {
  for (let i = pool.length - 1; i >= 0; i--) if (pool[i]!.dead) pool.splice(i, 1);
  while (pool.length < count) {
    const { port1, port2 } = new MessageChannel();
    const worker = startWorker(import.meta.url, 'worker', { workerData: { port: port2 }, transferList: [port2] });
    const entry: PoolWorker = { worker, port: port1, dead: false };
    // A worker that fails outside a job (start-up) or exits is dropped; the jobs it would have
    // shared are done by the others (work is claimed, never assigned).
    worker.on('error', () => { entry.dead = true; });
    worker.on('exit', () => { entry.dead = true; });
    worker.unref();
    port1.unref();
    pool.push(entry);
  }
}

/** Workers in the pool now (for tests and stats). */
export function poolSize(): number {
  return pool.filter((w) => !w.dead).length;
}

/** Terminates the pool's workers (tests; a later job starts new ones). */
export async function closePool(): Promise<void> {
  const all = pool.splice(0, pool.length);
  await Promise.all(all.map((w) => { w.port.close(); return w.worker.terminate(); }));
}

/** The work loop of one participant; returns how many chunks it owns (done or taken on error). */
export function claimLoop<D, S, R>(impl: TaskImpl<D, S, R>, data: D, participant: number, n: number, grain: number, ctrl: Int32Array,
  onChunk?: () => void): { owned: number; result?: R; error?: unknown } {
  const chunks = Math.ceil(n / grain);
  let owned = 0;
  let state: S | undefined;
  let started = false;
  try {
    for (;;) {
      if (Atomics.load(ctrl, CTRL.abort) !== 0) break;
      const c = Atomics.add(ctrl, CTRL.next, 1);
      if (c >= chunks) break;
      owned++;
      if (!started) {
        state = impl.setup(data, participant);
        started = true;
      }
      impl.run(state as S, c * grain, Math.min(n, (c + 1) * grain));
      onChunk?.();
    }
    const result = started && impl.finish !== undefined ? impl.finish(state as S) : undefined;
    return { owned, result };
  } catch (error) {
    // Stop the others claiming, and own every chunk nobody claimed yet (so the count completes).
    Atomics.store(ctrl, CTRL.abort, 1);
    const before = Atomics.exchange(ctrl, CTRL.next, chunks);
    owned += Math.max(0, chunks - before);
    return { owned, error };
  }
}

function rebuild(e: NonNullable<JobReply['error']>): Error {
  const err = e.code !== undefined ? new OmnivecError(e.code, e.message, e.details) : new Error(e.message);
  if (e.name !== 'OmnivecError' && e.name !== 'Error') err.name = e.name;
  if (e.stack !== undefined) err.stack = `${err.name}: ${e.message}\n    in a worker thread:\n${e.stack.split('\n').slice(1).join('\n')}`;
  return err;
}

export interface ParallelForOptions {
  /** Items per claimed chunk (default: about 8 chunks per participant, at least 1 item). */
  grain?: number;
  /** Called on the calling thread after each chunk it did (progress reports; must not throw). */
  onChunk?: () => void;
}

/**
 * Runs `task` over the items [0, n) on up to `threads` threads (the calling thread and
 * threads − 1 pool workers) and returns the results of `finish` of the participants that did any
 * work, the calling thread's first when it did. Synchronous: returns when every item is done.
 * With `threads` 1 (or a single chunk) everything runs on the calling thread, no worker started.
 */
export function parallelFor<D, S, R>(threads: number, n: number, task: Task<D, S, R>, data: D, options: ParallelForOptions = {}): R[] {
  checkThreads(threads);
  if (n <= 0) return [];
  const grain = Math.max(1, Math.floor(options.grain ?? Math.ceil(n / (threads * 8))));
  const chunks = Math.ceil(n / grain);
  const helpers = Math.min(threads, chunks) - 1;
  const ctrl = new Int32Array(new SharedArrayBuffer(16));
  const id = nextJob++;
  const posted: PoolWorker[] = [];
  let mine: ReturnType<typeof claimLoop<D, S, R>> | undefined;
  if (helpers > 0) {
    try {
      ensureWorkers(helpers);
      for (const w of pool.slice(0, helpers)) {
        const msg: JobMessage = { id, url: task.url, name: task.name, data, participant: posted.length + 1, n, grain, ctrl };
        w.port.postMessage(msg); // throws DataCloneError on data that cannot cross threads
        posted.push(w);
      }
    } catch (error) {
      // Workers already posted to may be working: take every unclaimed chunk, wait for theirs.
      Atomics.store(ctrl, CTRL.abort, 1);
      const before = Atomics.exchange(ctrl, CTRL.next, chunks);
      mine = { owned: Math.max(0, chunks - before), error };
    }
  }
  mine ??= claimLoop(task.impl, data, 0, n, grain, ctrl, options.onChunk);
  Atomics.add(ctrl, CTRL.done, mine.owned);
  for (;;) {
    const done = Atomics.load(ctrl, CTRL.done);
    if (done >= chunks) break;
    Atomics.wait(ctrl, CTRL.done, done, 1000);
  }
  const results: R[] = [];
  let error: Error | undefined = mine.error instanceof Error ? mine.error : mine.error !== undefined ? new Error(String(mine.error)) : undefined;
  if (mine.owned > 0 && mine.error === undefined && task.impl.finish !== undefined) results.push(mine.result as R);
  for (const w of posted) {
    for (let m = receiveMessageOnPort(w.port); m !== undefined; m = receiveMessageOnPort(w.port)) {
      const reply = m.message as JobReply;
      if (reply.id !== id) continue;
      if (reply.error !== undefined) error ??= rebuild(reply.error);
      else if (task.impl.finish !== undefined) results.push(reply.result as R);
    }
  }
  if (error !== undefined) throw error;
  return results;
}
