/**
 * How omnivec starts a worker thread on one of its own modules — the one place that knows.
 *
 * - From `dist/` (the published package) the caller is a `.js` file, and so is its worker beside
 *   it: started directly.
 * - From `src/` under tsx (`node --import tsx`: the tests, the benches) the caller is `.ts`, but
 *   Node 20 does not run the parent's `--import` hooks for a worker's entry module, so a one-line
 *   bootstrap (run with `eval`) registers tsx in the worker first and then imports the `.ts`
 *   worker. That costs about 0.2 s a worker (measured: 250 ms to the first message against 55 ms
 *   for a plain eval'd worker), paid only in development.
 * - `.ts` without tsx installed (another TypeScript runtime, or Node's own type stripping, which
 *   applies to workers too): started directly.
 *
 * Used by the encoder service (server/encoders.ts), the projection service (viz/projection-service.ts)
 * and the Word2Vec trainer (encoders/word2vec/trainer.ts).
 */
import { extname } from 'node:path';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts the worker module `name` (no extension) that lies beside the calling module, whose
 * `import.meta.url` is `from`, with the caller's extension. `options` go to the Worker as given
 * (workerData, transferList, resourceLimits …).
 */
export function startWorker(from: string, name: string, options: WorkerOptions = {}): Worker {
  const here = new URL(from);
  const ext = extname(here.pathname);
  const entry = new URL(`./${name}${ext}`, here);
  if (ext !== '.ts') return new Worker(entry, options);
  let tsx: string;
  try {
    tsx = import.meta.resolve('tsx/esm/api');
  } catch {
    return new Worker(entry, options);
  }
  const boot = `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { ...options, eval: true });
}
