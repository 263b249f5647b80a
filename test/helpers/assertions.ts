/** Small helpers shared by the test files. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OmnivecError } from '../../src/errors.js';
import { openDatabase, type Database } from '../../src/db/database.js';

/** Runs fn with a fresh temporary directory, removed afterwards whatever happens. */
export async function withTempDir(prefix: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs fn with a fresh database in a temporary directory; closes and removes it afterwards. */
export async function withDatabase(prefix: string, fn: (db: Database) => Promise<void>): Promise<void> {
  await withTempDir(prefix, async (dir) => {
    const db = await openDatabase(dir);
    try {
      await fn(db);
    } finally {
      await db.close();
    }
  });
}

/** A predicate for assert.throws / rejects: an OmnivecError with this code. */
export const hasCode = (code: string) => (e: unknown): boolean => e instanceof OmnivecError && e.code === code;

function isOmnivecError(code: string, message: RegExp): (e: unknown) => true {
  return (e: unknown) => {
    assert.ok(e instanceof OmnivecError, `expected an OmnivecError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  };
}

/** fn throws an OmnivecError with this code and a message matching the pattern. */
export function throwsCode(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, isOmnivecError(code, message));
}

/** p rejects with an OmnivecError with this code and a message matching the pattern. */
export async function rejectsCode(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, isOmnivecError(code, message));
}

/**
 * A tolerance: an absolute bound, or `{ relative: r }` for r × max(1, |expected|) (absolute near
 * zero, relative beyond 1).
 */
export type Tolerance = number | { relative: number };

const bound = (expected: number, tol: Tolerance): number => (typeof tol === 'number' ? tol : tol.relative * Math.max(1, Math.abs(expected)));

/**
 * actual equals expected within tol: two numbers, or two arrays of one length component by
 * component. NaN is close to nothing.
 */
export function isClose(actual: number | ArrayLike<number>, expected: number | ArrayLike<number>, tol: Tolerance = 1e-6): boolean {
  if (typeof actual === 'number' || typeof expected === 'number') {
    return typeof actual === 'number' && typeof expected === 'number' && Math.abs(actual - expected) <= bound(expected, tol);
  }
  if (actual.length !== expected.length) return false;
  for (let i = 0; i < expected.length; i++) if (!(Math.abs(actual[i]! - expected[i]!) <= bound(expected[i]!, tol))) return false;
  return true;
}

/**
 * Asserts isClose(actual, expected, tol); the message names `what`, the first component that
 * differs, both values and the tolerance (and both arrays when they are short).
 */
export function assertClose(actual: number | ArrayLike<number>, expected: number | ArrayLike<number>, tol: Tolerance = 1e-6, what = ''): void {
  const name = what === '' ? '' : `${what}: `;
  const within = typeof tol === 'number' ? `within ${tol}` : `within ${tol.relative} × max(1, |expected|)`;
  if (typeof actual === 'number' || typeof expected === 'number') {
    assert.ok(typeof actual === 'number' && typeof expected === 'number', `${name}expected two numbers or two arrays, got ${typeof actual} and ${typeof expected}`);
    assert.ok(isClose(actual, expected, tol), `${name}${actual} vs ${expected}, not ${within}`);
    return;
  }
  assert.equal(actual.length, expected.length, `${name}length ${actual.length}, expected ${expected.length}`);
  const arrays = expected.length <= 16 ? ` (got [${Array.from(actual).join(', ')}], expected [${Array.from(expected).join(', ')}])` : '';
  for (let i = 0; i < expected.length; i++) {
    if (!isClose(actual[i]!, expected[i]!, tol)) assert.fail(`${what}[${i}]: ${actual[i]} vs ${expected[i]}, not ${within}${arrays}`);
  }
}

/**
 * Polls `done` every `everyMs` until it is true; fails, saying what it waited for (`what`, or what
 * it returns then) and for how long, when it is not by the deadline. A loop that waits for ever
 * holds its file's process, and the whole run with it, past the test's own timeout.
 */
export async function waitUntil(done: () => boolean | Promise<boolean>, what: string | (() => string), { timeoutMs = 30_000, everyMs = 10 } = {}): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await done())) {
    if (performance.now() > deadline) assert.fail(`waited ${(timeoutMs / 1000).toFixed(1)} s for ${typeof what === 'string' ? what : what()}, in vain`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
