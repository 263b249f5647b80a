/**
 * Runs a test against every record store: the embedded one (a temporary directory) and
 * PostgreSQL (a fresh database on OMNIVEC_TEST_PG_URL; skipped with the reason when there is none).
 */
import { test } from 'node:test';
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
