/**
 * Plants a record the way omnivec 0.1.0 could commit it: a row whose vector holds a value that is
 * not finite float32 (docs/hardening.md §2), written straight into SQLite as one committed change.
 * The database must not be open for writing by anyone while this runs.
 */
import Sqlite3 from 'better-sqlite3';
import { join } from 'node:path';

export function plantRecord(dir: string, collection: string, id: string, vector: readonly number[]): void {
  const db = new Sqlite3(join(dir, 'omnivec.sqlite'));
  try {
    const row = db.prepare('SELECT cid, seq FROM collections WHERE name = ?').get(collection) as { cid: number; seq: number } | undefined;
    if (row === undefined) throw new Error(`plantRecord: no collection ${collection} in ${dir}`);
    const seq = row.seq + 1;
    const blob = Buffer.from(Float32Array.from(vector).buffer);
    db.transaction(() => {
      db.prepare(`INSERT INTO c${row.cid}_r(id, vector, document, metadata, sparse, multivector, vseq) VALUES (?, ?, NULL, NULL, NULL, NULL, ?)`).run(id, blob, seq);
      db.prepare('UPDATE collections SET seq = ? WHERE cid = ?').run(seq, row.cid);
    })();
  } finally {
    db.close();
  }
}
