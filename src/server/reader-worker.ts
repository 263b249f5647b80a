/**
 * The reader thread (reader-pool.ts): a read-only handle of the server's database (no writer lock;
 * each query reads the writer's last commit, its own copy of the index catching up first) that
 * answers the queries whose cost is a scan held in one synchronous SQLite call — a metadata
 * filter, a document filter, full text, sparse — so that scan does not hold the server's loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { OmnivecError } from '../errors.js';
import { openDatabase } from '../db/database.js';
import type { QueryOptions, QueryResult } from '../db/collection.js';

export interface ReaderInput {
  location: string;
  threads: number;
}

export interface ReaderRequest {
  id: number;
  collection: string;
  options: QueryOptions;
  /** The stored record whose vector is the query (queryById). */
  byId?: string;
}

export type ReaderMessage =
  | { id: number; type: 'done'; result: QueryResult }
  | { id: number; type: 'error'; code: string; message: string };

async function main(input: ReaderInput): Promise<void> {
  const port = parentPort!;
  const db = await openDatabase(input.location, { readOnly: true, create: false, threads: input.threads });
  port.on('message', (r: ReaderRequest) => {
    void (async () => {
      try {
        const c = await db.getCollection(r.collection);
        const result = r.byId !== undefined ? await c.queryById(r.byId, r.options) : await c.query(r.options);
        const msg: ReaderMessage = { id: r.id, type: 'done', result };
        port.postMessage(msg);
      } catch (e) {
        const msg: ReaderMessage = e instanceof OmnivecError
          ? { id: r.id, type: 'error', code: e.code, message: e.message }
          : { id: r.id, type: 'error', code: 'internal', message: `query failed: ${e instanceof Error ? e.message : String(e)}` };
        port.postMessage(msg);
      }
    })();
  });
  port.postMessage({ id: -1, type: 'ready' });
}

if (parentPort !== null) void main(workerData as ReaderInput);
