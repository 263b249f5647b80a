/**
 * A real PostgreSQL + pgvector server for the tests (docs/postgres.md, "Tests"): `.ci/run` starts
 * one and sets OMNIVEC_TEST_PG_URL (a superuser URL on loopback); without it the PostgreSQL tests
 * skip, saying why. Each test gets a database of its own, dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server's URL, or undefined. */
export const PG_URL = process.env.OMNIVEC_TEST_PG_URL || undefined;

/** The reason PostgreSQL tests skip (false when a server is there). */
export const PG_SKIP: string | false = PG_URL === undefined
  ? 'no PostgreSQL server: set OMNIVEC_TEST_PG_URL=postgres://… (`sudo .ci/postgres-up.sh` starts one with pgvector and prints its URL; .ci/run does so before npm test)'
  : false;

/** The URL of database `name` on the test server. */
export function databaseUrl(name: string): string {
  const u = new URL(PG_URL!);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A fresh database on the test server: its URL, and `drop()` to remove it (connections forced off). */
export async function createPgDatabase(prefix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  if (PG_URL === undefined) throw new Error(PG_SKIP as string);
  const name = `${prefix.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return {
    url: databaseUrl(name),
    drop: async () => {
      const again = new pg.Client({ connectionString: PG_URL });
      await again.connect();
      try {
        await again.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await again.end();
      }
    },
  };
}

/** Runs `fn` with the URL of a fresh database, dropped afterwards whatever happens. */
export async function withPgDatabase(prefix: string, fn: (url: string) => Promise<void>): Promise<void> {
  const d = await createPgDatabase(prefix);
  try {
    await fn(d.url);
  } finally {
    await d.drop();
  }
}
