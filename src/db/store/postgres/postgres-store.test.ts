import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { runRecordStoreConformance } from '../conformance.js';
import { PostgresStore } from './postgres-store.js';
import { PG_SKIP, PG_URL, databaseUrl } from '../../../../test/helpers/postgres.js';

if (PG_SKIP !== false) {
  test('record store conformance: postgres', { skip: PG_SKIP }, () => undefined);
} else {
  const names = new Map<PostgresStore, string>();
  const admin = async (sql: string): Promise<void> => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try { await c.query(sql); } finally { await c.end(); }
  };
  runRecordStoreConformance('postgres (pgvector)', {
    open: async () => {
      const name = `omnivec_conf_${randomBytes(4).toString('hex')}`;
      await admin(`CREATE DATABASE "${name}"`);
      const store = await PostgresStore.open(databaseUrl(name));
      names.set(store, name);
      return store;
    },
    cleanup: async (store) => {
      await admin(`DROP DATABASE IF EXISTS "${names.get(store as PostgresStore)!}" WITH (FORCE)`);
    },
  });
}
