/**
 * Plants a record the way omnivec 0.1.0 could commit it: a row whose vector holds a value that is
 * not finite float32 (docs/hardening.md §2), written straight into the store (schema 2: the vector
 * file's next slot and an SQLite row with its CRC) as one committed change.
 * The database must not be open for writing by anyone while this runs.
 */
import Sqlite3 from 'better-sqlite3';
import { join } from 'node:path';
import { VectorFile, rowCrc, vectorFilePath } from '../../src/db/store/sqlite/vector-file.js';

export function plantRecord(dir: string, collection: string, id: string, vector: readonly number[]): void {
  const db = new Sqlite3(join(dir, 'omnivec.sqlite'));
  try {
    const row = db.prepare('SELECT cid, dim, seq, next_slot FROM collections WHERE name = ?').get(collection) as { cid: number; dim: number; seq: number; next_slot: number } | undefined;
    if (row === undefined) throw new Error(`plantRecord: no collection ${collection} in ${dir}`);
    const seq = row.seq + 1;
    const blob = new Uint8Array(Float32Array.from(vector).buffer);
    const file = VectorFile.open(vectorFilePath(dir, row.cid), row.dim, row.cid, { readOnly: false, create: true });
    try {
      file.writeRows(row.next_slot, blob);
      file.sync();
    } finally {
      file.close();
    }
    db.transaction(() => {
      db.prepare(`INSERT INTO c${row.cid}_r(slot, id, vcrc, document, metadata, sparse, multivector, vseq) VALUES (?, ?, ?, NULL, NULL, NULL, NULL, ?)`).run(row.next_slot, id, rowCrc(blob), seq);
      db.prepare('UPDATE collections SET seq = ?, next_slot = ? WHERE cid = ?').run(seq, row.next_slot + 1, row.cid);
    })();
  } finally {
    db.close();
  }
}
