import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { OmnivecError } from '../errors.js';
import { checkThreads, defaultThreads, parallelFor, poolSize, resolveThreads } from './pool.js';
import { failingTask, squareTask } from '../../test/helpers/parallel-tasks.js';

function squares(threads: number, n: number, grain?: number, gated = false): { out: Float64Array; parts: { participant: number; sum: number; items: number }[] } {
  const input = new Float64Array(new SharedArrayBuffer(n * 8)).map((_, i) => i);
  const out = new Float64Array(new SharedArrayBuffer(n * 8));
  const gate = gated ? new Int32Array(new SharedArrayBuffer(4)) : undefined;
  const parts = parallelFor(threads, n, squareTask, { input, out, gate }, grain === undefined ? {} : { grain });
  return { out, parts };
}

test('parallel: every item is done once, over the calling thread and the workers', () => {
  const n = 20_000;
  const { out, parts } = squares(3, n, 16, true);
  for (let i = 0; i < n; i++) assert.equal(out[i], i * i);
  assert.ok(parts.some((p) => p.participant > 0 && p.items > 0), 'a worker did some');
  assert.equal(parts.reduce((s, p) => s + p.items, 0), n);
  assert.equal(parts.reduce((s, p) => s + p.sum, 0), out.reduce((s, v) => s + v, 0));
  assert.ok(poolSize() >= 2);
  // Reused: asking for fewer threads starts nothing new.
  const before = poolSize();
  squares(2, 1000);
  assert.equal(poolSize(), before);
});

test('parallel: one thread (or one chunk) runs on the calling thread alone', () => {
  const { parts } = squares(1, 100);
  assert.deepEqual(parts.map((p) => p.participant), [0]);
  const one = squares(4, 10, 100);
  assert.deepEqual(one.parts.map((p) => p.participant), [0]);
});

test('parallel: an error in a worker fails the job with its message and code', () => {
  const gate = (): Int32Array => new Int32Array(new SharedArrayBuffer(4));
  assert.throws(() => parallelFor(2, 1000, failingTask, { gate: gate() }, { grain: 1 }),
    (e: Error) => e.name === 'RangeError' && e.message === 'a worker failed' && /in a worker thread/.test(e.stack ?? ''));
  assert.throws(() => parallelFor(2, 1000, failingTask, { gate: gate(), code: 'invalid_argument' }, { grain: 1 }),
    (e: unknown) => e instanceof OmnivecError && e.code === 'invalid_argument' && /^item \d+ is bad$/.test(e.message) && typeof e.details?.item === 'number');
  // Data that cannot cross threads (a function) fails the job with the clone error, nothing half done.
  assert.throws(() => parallelFor(2, 1000, squareTask, { input: new Float64Array(1000), out: new Float64Array(1000), f: () => 1 } as never),
    (e: Error) => e.name === 'DataCloneError');
  // The pool still works afterwards.
  const { out } = squares(2, 5000, 8, true);
  assert.equal(out[4999], 4999 * 4999);
});

test('parallel: thread counts are integers ≥ 1', () => {
  assert.ok(defaultThreads() >= 1);
  assert.equal(checkThreads(2), 2);
  assert.equal(resolveThreads(undefined, 3), 3);
  for (const bad of [0, -1, 1.5, NaN, '2', null]) {
    assert.throws(() => checkThreads(bad), (e: unknown) => e instanceof OmnivecError && e.code === 'invalid_argument' && /threads/.test(e.message));
  }
  assert.throws(() => parallelFor(0, 10, squareTask, { input: new Float64Array(10), out: new Float64Array(10) }), /threads/);
});

test('parallel: the pool does not keep the process alive', () => {
  const code = `
    import { parallelFor } from ${JSON.stringify(new URL('./pool.ts', import.meta.url).href)};
    import { squareTask } from ${JSON.stringify(new URL('../../test/helpers/parallel-tasks.ts', import.meta.url).href)};
    const n = 10000;
    const input = new Float64Array(new SharedArrayBuffer(n * 8)).fill(2);
    const out = new Float64Array(new SharedArrayBuffer(n * 8));
    const gate = new Int32Array(new SharedArrayBuffer(4));
    const parts = parallelFor(2, n, squareTask, { input, out, gate }, { grain: 10 });
    console.log(parts.length, out[n - 1]);`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.error, undefined, 'the child exits on its own');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^2 4$/m, 'both threads worked');
});
