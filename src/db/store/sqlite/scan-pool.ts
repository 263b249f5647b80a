/**
 * Scan reader threads (docs/db.md, "Scans off the query path"). Two reads of the embedded store
 * cost a scan inside one synchronous SQLite call: the slots a filter on an undeclared field
 * matches (a JSON scan of every record) and a full-text query's BM25 list (every document a common
 * word matches) — 10–40 ms each at 50,000 records, during which a server's loop answered nothing.
 * With `scanThreads` (OpenOptions; the server sets 1), they run on reader threads, each with its
 * own read-only connection, and the caller's loop stays free.
 *
 * A reader's answer is of the state at its read (change `seq`, next slot `nextSlot`); the caller
 * looks at it on its own connection (sqlite-records.ts):
 * - filter slots: the slots deleted, changed or updated in place since are dropped, and those of
 *   them the filter matches now added: exactly the current answer (cheap: only those slots).
 * - full text: the list is the one of the reader's read (the query's full-text part is of that
 *   moment, which follows every write acknowledged before the query came); the reader sends each
 *   hit's id and the caller maps the ids to their current slots (a record a vector change moved is
 *   followed, a deleted one dropped). Scoring the slots written since on the caller's thread instead
 *   walked every matching term's whole doclist again (measured: ~7 ms a query under bench:server's
 *   writers), the cost the reader is there to take off that thread.
 * For filters, when the tombstones needed were pruned (a snapshot meanwhile), or too many slots
 * changed, the caller answers on its own connection as before. A reader that fails falls back the
 * same way.
 */
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../../workers.js';
import type { RecordFilter } from '../types.js';

export type ScanJob =
  | { id: number; kind: 'slots'; cid: number; filter: RecordFilter }
  | { id: number; kind: 'fullText'; cid: number; text: string; limit: number; filter: RecordFilter };

export type ScanReply =
  | { id: number; ok: true; seq: number; nextSlot: number; slots: Uint32Array; scores?: Float32Array; ids?: (string | undefined)[] }
  | { id: number; ok: false; code: string; message: string };

export type ScanAnswer = Extract<ScanReply, { ok: true }>;

type JobInput = { kind: 'slots'; cid: number; filter: RecordFilter } | { kind: 'fullText'; cid: number; text: string; limit: number; filter: RecordFilter };

/**
 * @internal Tests only: when set, each reply is held after it arrives (`arrived` is called) until
 * `release` settles, so that a test can commit writes between a reader's read and the patch.
 */
export const scanTestHooks: { gate?: { arrived: () => void; release: Promise<void> } } = {};

interface Reader {
  worker: Worker;
  busy: number;
}

export class ScanPool {
  readonly #source: string;
  readonly #size: number;
  #readers: Reader[] = [];
  #next = 0;
  readonly #pending = new Map<number, { resolve: (r: ScanAnswer) => void; reject: (e: Error) => void; reader: Reader }>();
  #closed = false;

  /** `source`: the database file (or the immutable URI a read-only handle uses); `size` threads, started on first use. */
  constructor(source: string, size: number) {
    this.#source = source;
    this.#size = size;
  }

  /** Runs a scan on the least busy reader. Rejects when the reader fails (the caller then scans itself). */
  run(job: JobInput): Promise<ScanAnswer> {
    if (this.#closed) return Promise.reject(new Error('scan readers closed'));
    const reader = this.#pick();
    const id = this.#next++;
    return new Promise<ScanAnswer>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, reader });
      if (reader.busy++ === 0) reader.worker.ref(); // a job in flight keeps the process alive
      reader.worker.postMessage({ ...job, id } as ScanJob);
    });
  }

  #pick(): Reader {
    if (this.#readers.length < this.#size) {
      const worker = startWorker(import.meta.url, 'scan-worker', { workerData: { source: this.#source } });
      const reader: Reader = { worker, busy: 0 };
      worker.unref();
      worker.on('message', (m: ScanReply) => {
        const p = this.#pending.get(m.id);
        if (p === undefined) return;
        this.#pending.delete(m.id);
        if (--reader.busy === 0) worker.unref();
        const settle = (): void => {
          if (m.ok) p.resolve(m);
          else p.reject(Object.assign(new Error(m.message), { code: m.code }));
        };
        const gate = scanTestHooks.gate;
        if (gate === undefined) settle();
        else {
          gate.arrived();
          void gate.release.then(settle);
        }
      });
      const fail = (e: Error): void => {
        this.#readers = this.#readers.filter((r) => r !== reader);
        for (const [id, p] of this.#pending) {
          if (p.reader !== reader) continue;
          this.#pending.delete(id);
          p.reject(e);
        }
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`scan reader exited (code ${code})`)));
      this.#readers.push(reader);
      return reader;
    }
    let best = this.#readers[0]!;
    for (const r of this.#readers) if (r.busy < best.busy) best = r;
    return best;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const readers = this.#readers;
    this.#readers = [];
    await Promise.all(readers.map((r) => r.worker.terminate()));
  }
}
