/**
 * The projection worker thread: takes one sample of vectors (a single Float32Array, moved rather
 * than copied), runs `projectSteps` on it and posts its progress and the 2-D points back. One worker
 * per computation; the service terminates it to cancel (`close()`), so nothing here polls for a stop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { OmnivecError } from '../errors.js';
import { projectSteps, type ProjectOptions, type ProjectionPhase } from './projection.js';

export interface ProjectionWorkerInput {
  /** n × dim, row-major. */
  vectors: Float32Array;
  n: number;
  dim: number;
  options: ProjectOptions;
}

export type ProjectionWorkerMessage =
  | { type: 'step'; phase: ProjectionPhase; done: number; total: number }
  | { type: 'done'; points: Float32Array }
  | { type: 'error'; code: string; message: string };

/** Progress messages at most this often (ms), plus one at every change of phase. */
const STEP_INTERVAL = 50;

function run(input: ProjectionWorkerInput): void {
  const port = parentPort!;
  const rows: Float32Array[] = [];
  for (let i = 0; i < input.n; i++) rows.push(input.vectors.subarray(i * input.dim, (i + 1) * input.dim));
  const steps = projectSteps(rows, input.options);
  let phase = '';
  let last = 0;
  for (;;) {
    const r = steps.next();
    if (r.done === true) {
      const msg: ProjectionWorkerMessage = { type: 'done', points: r.value };
      port.postMessage(msg, [r.value.buffer as ArrayBuffer]);
      return;
    }
    const now = performance.now();
    if (r.value.phase !== phase || now - last >= STEP_INTERVAL) {
      phase = r.value.phase;
      last = now;
      const msg: ProjectionWorkerMessage = { type: 'step', ...r.value };
      port.postMessage(msg);
    }
  }
}

if (parentPort !== null) {
  try {
    run(workerData as ProjectionWorkerInput);
  } catch (e) {
    const msg: ProjectionWorkerMessage = e instanceof OmnivecError
      ? { type: 'error', code: e.code, message: e.message }
      : { type: 'error', code: 'internal', message: `projection failed: ${e instanceof Error ? e.message : String(e)}` };
    parentPort.postMessage(msg);
  }
}
