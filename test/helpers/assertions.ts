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
