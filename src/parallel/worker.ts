/**
 * A pool worker (started by pool.ts through src/workers.ts): runs the jobs posted on its port one
 * after the other, each synchronously (see `claimLoop`), importing a task's module the first time
 * it is named.
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import { CTRL, claimLoop, type JobMessage, type JobReply, type Task } from './pool.js';

const port = (workerData as { port: MessagePort }).port;
const modules = new Map<string, Promise<Record<string, unknown>>>();

function describeError(e: unknown): NonNullable<JobReply['error']> {
  if (e instanceof Error) {
    const { code, details } = e as Error & { code?: unknown; details?: unknown };
    return {
      message: e.message, name: e.name, stack: e.stack,
      ...(typeof code === 'string' && e.name === 'OmnivecError' ? { code: code as never } : {}),
      ...(details !== undefined && typeof details === 'object' ? { details: details as Record<string, unknown> } : {}),
    };
  }
  return { message: String(e), name: 'Error' };
}

async function runJob(job: JobMessage): Promise<void> {
  let loaded: Record<string, unknown>;
  try {
    let p = modules.get(job.url);
    if (p === undefined) {
      p = import(job.url) as Promise<Record<string, unknown>>;
      modules.set(job.url, p);
    }
    loaded = await p;
  } catch (e) {
    // The task cannot even be loaded: fail the job (take the unclaimed chunks so it completes).
    fail(job, e);
    return;
  }
  const task = loaded[job.name] as Task<unknown, unknown, unknown> | undefined;
  if (task === undefined || typeof task.impl?.run !== 'function') {
    fail(job, new Error(`parallel: ${job.url} exports no task named ${job.name}`));
    return;
  }
  const out = claimLoop(task.impl, job.data, job.participant, job.n, job.grain, job.ctrl);
  if (out.owned > 0) {
    const reply: JobReply = out.error !== undefined
      ? { id: job.id, participant: job.participant, error: describeError(out.error) }
      : { id: job.id, participant: job.participant, result: out.result };
    port.postMessage(reply);
  }
  // Only after the reply is queued: the caller reads replies once every chunk is counted.
  Atomics.add(job.ctrl, CTRL.done, out.owned);
  Atomics.notify(job.ctrl, CTRL.done);
}

function fail(job: JobMessage, e: unknown): void {
  const chunks = Math.ceil(job.n / job.grain);
  Atomics.store(job.ctrl, CTRL.abort, 1);
  const before = Atomics.exchange(job.ctrl, CTRL.next, chunks);
  const owned = Math.max(0, chunks - before);
  if (owned > 0) {
    port.postMessage({ id: job.id, participant: job.participant, error: describeError(e) } satisfies JobReply);
    Atomics.add(job.ctrl, CTRL.done, owned);
    Atomics.notify(job.ctrl, CTRL.done);
  }
}

// Jobs run in order: a job waits for the one before it (only a first import is asynchronous).
let queue: Promise<void> = Promise.resolve();
port.on('message', (job: JobMessage) => {
  queue = queue.then(() => runJob(job));
});
