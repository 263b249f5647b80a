/**
 * A scan reader thread (scan-pool.ts): its own read-only connection to the database file, on which
 * it answers the two scan reads of scan-sql.ts, each inside one read transaction together with
 * the collection's change number and next slot at that moment (the state its answer is of).
 */
import { parentPort, workerData } from 'node:worker_threads';
import Sqlite3 from 'better-sqlite3';
import { fullTextOn, headOf, idsOfSlots, matchingSlotsOn } from './scan-sql.js';
import type { ScanJob, ScanReply } from './scan-pool.js';

const { source } = workerData as { source: string };
const db = new Sqlite3(source, { readonly: true, fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('cache_size = -65536');
db.pragma('mmap_size = 1073741824');

parentPort!.on('message', (job: ScanJob) => {
  let reply: ScanReply;
  const transfer: ArrayBuffer[] = [];
  try {
    reply = db.transaction((): ScanReply => {
      const head = headOf(db, job.cid);
      if (head === undefined) return { id: job.id, ok: false, code: 'not_found', message: `collection ${job.cid} is gone` };
      if (job.kind === 'slots') {
        const slots = Uint32Array.from(matchingSlotsOn(db, job.cid, job.filter));
        transfer.push(slots.buffer);
        return { id: job.id, ok: true, seq: head.seq, nextSlot: head.nextSlot, slots };
      }
      const r = fullTextOn(db, job.cid, job.text, job.limit, job.filter);
      transfer.push(r.slots.buffer as ArrayBuffer, r.scores.buffer as ArrayBuffer);
      return { id: job.id, ok: true, seq: head.seq, nextSlot: head.nextSlot, slots: r.slots, scores: r.scores, ids: idsOfSlots(db, job.cid, r.slots) };
    })();
  } catch (e) {
    reply = { id: job.id, ok: false, code: (e as { code?: string }).code ?? 'internal', message: (e as Error).message };
  }
  parentPort!.postMessage(reply, transfer);
});
