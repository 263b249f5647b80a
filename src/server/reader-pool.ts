/**
 * Queries off the server's loop (docs/server.md, "What holds the loop"). A query with a metadata
 * filter, a document filter, full text or a sparse part spends most of its time in one synchronous
 * SQLite call (a JSON scan of every record for a filter value not seen before; BM25 over every
 * document a common word matches): measured on 50,000 × 64 under load, 30–45 ms each, during
 * which the server answered nothing else. Those queries go to a reader thread (reader-worker.ts)
 * with its own read-only handle of the database; plain vector queries stay on the server's thread,
 * where the index already is (a round trip to a thread would cost them more than they take).
 *
 * Consistency: the reader reads the last commit at each query, so a write acknowledged before the
 * query was sent is in its answer, as on the server's thread. Cost: the reader holds its own copy
 * of each index it has queried (loaded from the snapshot, then kept up with the writes), i.e. the
 * index memory of those collections twice, and repeats the index's work for each write it sees.
 */
import type { Worker } from 'node:worker_threads';
import { OmnivecError } from '../errors.js';
import type { QueryOptions, QueryResult } from '../db/collection.js';
import { startWorker } from '../workers.js';
import type { ReaderInput, ReaderMessage, ReaderRequest } from './reader-worker.js';

/** The queries a reader answers: those with a scan in SQLite (see the file's comment). */
export function isScanQuery(o: QueryOptions): boolean {
  return o.where !== undefined || o.whereDocument !== undefined || o.fullText !== undefined || o.sparse !== undefined;
}

export class ReaderPool {
  readonly #input: ReaderInput;
  #worker: Worker | undefined;
  #ready: Promise<Worker> | undefined;
  #next = 0;
  readonly #pending = new Map<number, { resolve: (r: QueryResult) => void; reject: (e: Error) => void }>();
  #closed = false;
  #answered = 0;

  constructor(location: string, threads = 1) {
    this.#input = { location, threads };
  }

  /** Queries the reader has answered (errors included). */
  get answered(): number {
    return this.#answered;
  }

  /** Answers a query on the reader thread (started on first use: ~0.25 s under tsx, ~50 ms from dist/). */
  async query(collection: string, options: QueryOptions, byId?: string): Promise<QueryResult> {
    if (this.#closed) throw new OmnivecError('shutting_down', 'the server is shutting down');
    const w = await this.#start();
    const id = this.#next++;
    return new Promise<QueryResult>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      const msg: ReaderRequest = { id, collection, options, ...(byId !== undefined ? { byId } : {}) };
      w.postMessage(msg);
    });
  }

  #start(): Promise<Worker> {
    this.#ready ??= new Promise<Worker>((resolve, reject) => {
      const w = startWorker(import.meta.url, 'reader-worker', { workerData: this.#input });
      this.#worker = w;
      const fail = (e: Error): void => {
        // Pending queries fail; the next one starts a new reader.
        this.#worker = undefined;
        this.#ready = undefined;
        for (const p of this.#pending.values()) p.reject(e);
        this.#pending.clear();
        reject(e);
      };
      w.on('message', (m: ReaderMessage | { id: -1; type: 'ready' }) => {
        if (m.id === -1) { resolve(w); return; }
        const p = this.#pending.get(m.id);
        if (p === undefined) return;
        this.#pending.delete(m.id);
        this.#answered++;
        if (m.type === 'done') p.resolve(m.result);
        else p.reject(new OmnivecError((m as { code: string }).code as OmnivecError['code'], (m as { message: string }).message));
      });
      w.on('error', (e) => fail(new OmnivecError('internal', `reader thread failed: ${e.message}`)));
      w.on('exit', (code) => { if (!this.#closed) fail(new OmnivecError('internal', `reader thread exited (code ${code})`)); });
      // The reader does not keep the process alive on its own.
      w.unref();
    });
    return this.#ready;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const w = this.#worker;
    this.#worker = undefined;
    for (const p of this.#pending.values()) p.reject(new OmnivecError('shutting_down', 'the server is shutting down'));
    this.#pending.clear();
    if (w !== undefined) await w.terminate();
  }
}
