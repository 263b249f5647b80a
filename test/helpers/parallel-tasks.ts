/**
 * Tasks for the worker pool's tests (src/parallel/pool.test.ts). With a `gate`, the
 * calling thread (participant 0) waits until a worker has done a chunk before it works, so that
 * the workers' path is exercised however fast the calling thread is.
 */
import { defineTask } from '../../src/parallel/pool.js';
import { OmnivecError } from '../../src/errors.js';

function waitGate(gate: Int32Array | undefined, participant: number): void {
  if (gate !== undefined && participant === 0) Atomics.wait(gate, 0, 0, 20_000);
}
function openGate(gate: Int32Array | undefined, participant: number): void {
  if (gate !== undefined && participant > 0) {
    Atomics.store(gate, 0, 1);
    Atomics.notify(gate, 0);
  }
}

/** Squares items into `out` and sums what each participant did. */
export const squareTask = defineTask(import.meta.url, 'squareTask', {
  setup(d: { input: Float64Array; out: Float64Array; gate?: Int32Array }, participant: number) {
    waitGate(d.gate, participant);
    return { d, participant, sum: 0, items: 0 };
  },
  run(s, start, end) {
    for (let i = start; i < end; i++) {
      s.d.out[i] = s.d.input[i]! * s.d.input[i]!;
      s.sum += s.d.out[i]!;
      s.items++;
    }
    openGate(s.d.gate, s.participant);
  },
  finish: (s) => ({ participant: s.participant, sum: s.sum, items: s.items }),
});

/** Throws in the workers (an OmnivecError when `code` is set); the calling thread waits for that. */
export const failingTask = defineTask(import.meta.url, 'failingTask', {
  setup(d: { gate: Int32Array; code?: string }, participant: number) {
    waitGate(d.gate, participant);
    return { d, participant };
  },
  run(s, start) {
    if (s.participant === 0) return;
    openGate(s.d.gate, s.participant);
    if (s.d.code !== undefined) throw new OmnivecError(s.d.code as never, `item ${start} is bad`, { item: start });
    throw new RangeError('a worker failed');
  },
});
