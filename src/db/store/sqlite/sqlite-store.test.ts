import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runRecordStoreConformance } from '../conformance.js';
import { SqliteStore } from './sqlite-store.js';

runRecordStoreConformance('sqlite (embedded)', {
  open: async () => SqliteStore.open(mkdtempSync(join(tmpdir(), 'omnivec-store-'))),
  cleanup: async (store) => rmSync(store.location, { recursive: true, force: true }),
});
