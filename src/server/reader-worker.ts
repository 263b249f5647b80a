/**
 * The reader thread (reader-pool.ts): a read-only handle of the server's database (no writer lock;
 * each query reads the writer's last commit, its own copy of the index catching up first) that
 * answers the queries whose cost is a scan held in one synchronous SQLite call — a metadata
 * filter, a document filter, full text, sparse — so that scan does not hold the server's loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { OmnivecError } from '../errors.js';
import { openDatabase, type Database } from '../db/database.js';
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

/**
 * A read-only handle never writes, so `already_exists` from it is the index catch-up race (its
 * reads of the changes since its last sync are separate statements, and a commit between them hands
 * it a slot it already holds; docs/server.md, "What holds the loop"). Its index is then not to be
 * trusted: the query is answered again on a fresh handle, which loads the index anew.
 */
const isCatchUpRace = (e: unknown): boolean => e instanceof OmnivecError && e.code === 'already_exists';

interface Handle {
  db: Database;
  inflight: number;
  retired: boolean;
}

async function main(input: ReaderInput): Promise<void> {
  const port = parentPort!;
  const open = async (): Promise<Handle> => ({ db: await openDatabase(input.location, { readOnly: true, create: false, threads: input.threads }), inflight: 0, retired: false });
  let current = open();
  await current;
  const run = async (r: ReaderRequest): Promise<QueryResult> => {
    const h = await current;
    h.inflight++;
    try {
      const c = await h.db.getCollection(r.collection);
      return r.byId !== undefined ? await c.queryById(r.byId, r.options) : await c.query(r.options);
    } catch (e) {
      if (isCatchUpRace(e) && !h.retired) {
        h.retired = true;
        current = open();
      }
      throw e;
    } finally {
      h.inflight--;
      if (h.retired && h.inflight === 0) void h.db.close().catch(() => undefined);
    }
  };
  port.on('message', (r: ReaderRequest) => {
    void (async () => {
      let msg: ReaderMessage;
      try {
        let result: QueryResult;
        try {
          result = await run(r);
        } catch (e) {
          if (!isCatchUpRace(e)) throw e;
          result = await run(r);
        }
        msg = { id: r.id, type: 'done', result };
      } catch (e) {
        msg = e instanceof OmnivecError
          ? { id: r.id, type: 'error', code: e.code, message: e.message }
          : { id: r.id, type: 'error', code: 'internal', message: `query failed: ${e instanceof Error ? e.message : String(e)}` };
      }
      port.postMessage(msg);
    })();
  });
  port.postMessage({ id: -1, type: 'ready' });
}

if (parentPort !== null) void main(workerData as ReaderInput);
