/**
 * Schema 1 → 2 (docs/db.md, "Vectors stored once"): version 1 kept each vector in its SQLite row
 * (`vector BLOB`) and again in the index snapshot. A writable open migrates once:
 * 1. per collection, the rows' vectors are written to `vectors/c<cid>.vec` at their slots and the
 *    file is fsynced (a blob of the wrong length, never written by omnivec, becomes a row of NaN:
 *    an invalid stored vector as before, named by verify);
 * 2. one transaction rebuilds every records table without `vector` and with `vcrc`, adds
 *    `collections.next_slot` = 1 + the highest slot of a record or tombstone (and `vec_gen` = 0), and sets
 *    `user_version = 2`.
 * A crash before that commit leaves schema 1 as it was (the vector files are rewritten by the next
 * open); after it, both halves are durable. The full-text index is kept: its rowids are the slots,
 * which do not change. Old snapshots (with vectors) stay loadable and are replaced at the next one.
 */
import { rowCrc, VectorFile, vectorFilePath } from './vector-file.js';
import { recordsTableSql, recordsTriggersSql, tables, type Sqlite } from './schema.js';

/** Rows read per batch while writing a vector file. */
const BATCH = 4096;

export function migrateV1(db: Sqlite, dir: string): void {
  const cols = db.prepare('SELECT cid, dim FROM collections ORDER BY cid').all() as { cid: number; dim: number }[];
  const crcs = new Map<number, Map<number, number>>();
  for (const { cid, dim } of cols) crcs.set(cid, writeVectorFile(db, dir, cid, dim));
  db.function('omnivec_migrated_crc', { deterministic: true }, (cid: unknown, slot: unknown) => crcs.get(Number(cid))!.get(Number(slot)) ?? 0);
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec('ALTER TABLE collections ADD COLUMN next_slot INTEGER NOT NULL DEFAULT 0');
    db.exec('ALTER TABLE collections ADD COLUMN vec_gen INTEGER NOT NULL DEFAULT 0');
    for (const { cid } of cols) {
      const { records: r, tombs: t } = tables(cid);
      db.exec(`
        ${recordsTableSql(`${r}_v2`)}
        INSERT INTO ${r}_v2(slot, id, vcrc, document, metadata, sparse, multivector, vseq)
          SELECT slot, id, omnivec_migrated_crc(${cid}, slot), document, metadata, sparse, multivector, vseq FROM ${r};
        DROP TABLE ${r};
        ALTER TABLE ${r}_v2 RENAME TO ${r};
        ${recordsTriggersSql(cid)}
        UPDATE collections SET next_slot = 1 + max(
          coalesce((SELECT max(slot) FROM ${r}), -1), coalesce((SELECT max(slot) FROM ${t}), -1)) WHERE cid = ${cid};`);
    }
    db.exec('PRAGMA user_version = 2');
    db.exec('COMMIT');
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw e;
  }
}

/** Writes collection `cid`'s row vectors to its vector file (fsynced); returns each slot's CRC. */
function writeVectorFile(db: Sqlite, dir: string, cid: number, dim: number): Map<number, number> {
  const path = vectorFilePath(dir, cid);
  const file = VectorFile.open(path, dim, cid, { readOnly: false, create: true });
  const crcs = new Map<number, number>();
  const rowBytes = dim * 4;
  const st = db.prepare(`SELECT slot, vector FROM ${tables(cid).records} WHERE slot > ? ORDER BY slot LIMIT ?`).raw();
  const nan = Buffer.from(new Float32Array(dim).fill(NaN).buffer);
  try {
    file.truncate(0);
    let after = -1;
    for (;;) {
      const rows = st.all(after, BATCH) as [number, Buffer | null][];
      // Runs of consecutive slots go out in one positional write.
      let i = 0;
      while (i < rows.length) {
        let j = i + 1;
        while (j < rows.length && rows[j]![0] === rows[j - 1]![0] + 1) j++;
        const buf = Buffer.allocUnsafe((j - i) * rowBytes);
        for (let k = i; k < j; k++) {
          const [slot, blob] = rows[k]!;
          const row = blob !== null && blob.byteLength === rowBytes ? blob : nan;
          row.copy(buf, (k - i) * rowBytes);
          crcs.set(slot, rowCrc(row));
        }
        file.writeRows(rows[i]![0], buf);
        i = j;
      }
      if (rows.length < BATCH) break;
      after = rows[rows.length - 1]![0];
    }
    file.sync();
  } finally {
    file.close();
  }
  return crcs;
}
