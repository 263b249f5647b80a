/**
 * Runs a test against every record store: the embedded one (a temporary directory) and
 * PostgreSQL (a fresh database on OMNIVEC_TEST_PG_URL; skipped with the reason when there is none).
 */
import { test } from 'node:test';
import { join } from 'node:path';
import { openDatabase, type Database } from '../../src/db/database.js';
import { withTempDir } from './assertions.js';
import { PG_SKIP, withPgDatabase } from './postgres.js';

export type StoreKind = 'embedded' | 'postgres';

/** Opens a database of the kind in a fresh place, runs fn, closes and removes it. */
export async function withStore(kind: StoreKind, prefix: string, fn: (db: Database) => Promise<void>): Promise<void> {
  const run = async (location: string): Promise<void> => {
    const db = await openDatabase(location);
    try {
      await fn(db);
    } finally {
      await db.close();
    }
  };
  if (kind === 'embedded') await withTempDir(prefix, run);
  else await withPgDatabase(prefix, run);
}

/** `test(title [store])` once per store; the PostgreSQL one is skipped (with the reason) when no server is given. */
export function testEachStore(title: string, fn: (db: Database, kind: StoreKind) => Promise<void>, options: { timeout?: number } = {}): void {
  for (const kind of ['embedded', 'postgres'] as const) {
    const skip = kind === 'postgres' ? PG_SKIP : false;
    test(`${title} [${kind}]`, { skip, timeout: options.timeout }, () => withStore(kind, `omnivec_${kind}_`, (db) => fn(db, kind)));
  }
}

/**
 * A database location of the kind and a scratch folder: for the embedded store the folder itself,
 * for PostgreSQL a fresh database's URL, with OMNIVEC_FILES (its models and map caches) pointed into
 * the folder. Everything is removed afterwards.
 */
export async function withLocation(kind: StoreKind, prefix: string, fn: (location: string, tmp: string) => Promise<void>): Promise<void> {
  await withTempDir(prefix, async (tmp) => {
    if (kind === 'embedded') return fn(tmp, tmp);
    const prev = process.env.OMNIVEC_FILES;
    process.env.OMNIVEC_FILES = join(tmp, 'pg-files');
    try {
      await withPgDatabase(prefix, (url) => fn(url, tmp));
    } finally {
      if (prev === undefined) delete process.env.OMNIVEC_FILES; else process.env.OMNIVEC_FILES = prev;
    }
  });
}

/** `test(title [store])` once per store with a location (withLocation); PostgreSQL skipped with the reason when no server is given. */
export function testEachLocation(title: string, fn: (location: string, tmp: string, kind: StoreKind) => Promise<void>, options: { timeout?: number } = {}): void {
  for (const kind of ['embedded', 'postgres'] as const) {
    const skip = kind === 'postgres' ? PG_SKIP : false;
    test(`${title} [${kind}]`, { skip, timeout: options.timeout }, () => withLocation(kind, `omnivec_${kind}_`, (location, tmp) => fn(location, tmp, kind)));
  }
}
