/**
 * A task's thread (docs/server.md, "Tasks"): opens the server's database read-only (no writer
 * lock; it reads the writer's last commit), runs one task of src/tasks/ on its own handle of the
 * collection, and posts progress and the library's answer back. One worker per task; the service
 * terminates it to cancel, so nothing here polls for a stop.
 *
 * Why the worker reads the records itself rather than receiving them: measured on 30,000 × 64
 * (HNSW, l2), reading the selection on the server's thread (`selectRecords`) holds it for ~170 ms,
 * while a read-only open here costs ~1 ms and the first query (the index snapshot loaded) ~110 ms,
 * off the server's thread. The tasks also need the collection's index (neighbour queries above
 * EXACT_LIMIT records), which a bare buffer of vectors would not give.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { OmnivecError } from '../errors.js';
import { openDatabase } from '../db/database.js';
import type { TaskProgress } from '../tasks/common.js';
import { clusterCollection, type ClusterOptions } from '../tasks/cluster.js';
import { outliers, type OutliersOptions } from '../tasks/outliers.js';
import { dedupe, type DedupeOptions } from '../tasks/dedupe.js';
import { diversity, type DiversityOptions } from '../tasks/diversity.js';
import { evaluateClassifier, type EvaluateOptions } from '../tasks/classify.js';

export type WorkerTaskKind = 'cluster' | 'outliers' | 'dedupe' | 'diversity' | 'evaluate';

export interface TaskWorkerInput {
  /** The database directory the server has open. */
  location: string;
  collection: string;
  kind: WorkerTaskKind;
  /** The task's library options, without onProgress (and, for cluster, without writeField: the server writes). */
  options: Record<string, unknown>;
  /** Index threads of the worker's own database handle. */
  threads: number;
}

export type TaskWorkerMessage =
  | { type: 'progress'; phase: string; done: number; total: number }
  | { type: 'done'; result: unknown }
  | { type: 'error'; code: string; message: string };

/** Progress messages at most this often (ms), plus one at every change of phase. */
const PROGRESS_INTERVAL = 50;

/** The library call of each kind, on the worker's collection. */
export async function runTask(kind: WorkerTaskKind, c: Parameters<typeof outliers>[0], options: Record<string, unknown>, onProgress: (p: TaskProgress) => void): Promise<unknown> {
  switch (kind) {
    case 'cluster': return clusterCollection(c, { ...(options as ClusterOptions), onProgress });
    case 'outliers': return outliers(c, { ...(options as OutliersOptions), onProgress });
    case 'dedupe': return dedupe(c, { ...(options as DedupeOptions), onProgress });
    case 'diversity': return diversity(c, { ...(options as DiversityOptions), onProgress });
    case 'evaluate': return evaluateClassifier(c, options as unknown as EvaluateOptions);
  }
}

async function run(input: TaskWorkerInput): Promise<void> {
  const port = parentPort!;
  let phase = '';
  let last = 0;
  const onProgress = (p: TaskProgress): void => {
    const now = performance.now();
    if (p.phase === phase && now - last < PROGRESS_INTERVAL && p.done < p.total) return;
    phase = p.phase;
    last = now;
    const msg: TaskWorkerMessage = { type: 'progress', phase: p.phase, done: p.done, total: p.total };
    port.postMessage(msg);
  };
  // A read-only handle never writes: `already_exists` is its index catch-up racing a commit
  // (reader-worker.ts); the task runs once more on a fresh handle, which loads the index anew.
  for (let attempt = 0; ; attempt++) {
    const db = await openDatabase(input.location, { readOnly: true, create: false, threads: input.threads });
    try {
      const c = await db.getCollection(input.collection);
      onProgress({ phase: 'reading', done: 0, total: 1 });
      const result = await runTask(input.kind, c, input.options, onProgress);
      const msg: TaskWorkerMessage = { type: 'done', result };
      port.postMessage(msg);
      return;
    } catch (e) {
      if (!(attempt === 0 && e instanceof OmnivecError && e.code === 'already_exists')) throw e;
    } finally {
      await db.close();
    }
  }
}

if (parentPort !== null) {
  run(workerData as TaskWorkerInput).catch((e: unknown) => {
    const msg: TaskWorkerMessage = e instanceof OmnivecError
      ? { type: 'error', code: e.code, message: e.message }
      : { type: 'error', code: 'internal', message: `task failed: ${e instanceof Error ? e.message : String(e)}` };
    parentPort!.postMessage(msg);
  });
}
