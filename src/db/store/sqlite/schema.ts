import type BetterSqlite3 from 'better-sqlite3';
import { OmnivecError } from '../../../errors.js';

/**
 * The SQLite schema of a database (docs/db.md, docs/file-format.md). `user_version` holds the
 * schema version; a newer one is refused, an older one migrated by a writable open (migrate-v1.ts).
 * Version 2: the vectors live in `vectors/c<cid>.vec` (vector-file.ts); a record row holds the
 * CRC-32 of its vector (`vcrc`), `collections.next_slot` counts the slots ever given out and
 * `collections.vec_gen` names the vector file's generation (compaction rewrites it as the next).
 */
export const SCHEMA_VERSION = 2;
export const DB_FILE = 'omnivec.sqlite';
export const INDEX_DIR = 'indexes';

export type Sqlite = BetterSqlite3.Database;

/** The schema version of an open database (0: empty file). */
export function schemaVersion(db: Sqlite): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Creates the schema in an empty file, refuses a newer one; returns the version found (older ones are the caller's to migrate). */
export function initSchema(db: Sqlite, path: string): number {
  const version = schemaVersion(db);
  if (version > SCHEMA_VERSION) {
    throw new OmnivecError('unsupported_version',
      `database ${path}: schema version ${version} was written by a newer omnivec; this one reads up to version ${SCHEMA_VERSION} — upgrade omnivec`,
      { version, supported: SCHEMA_VERSION });
  }
  if (version === 0) {
    const tables = db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'`).get() as { n: number };
    if (tables.n > 0) {
      throw new OmnivecError('corrupt_file', `database ${path}: an SQLite file that omnivec did not write (it has tables but no omnivec schema version)`);
    }
    db.exec(`
      BEGIN;
      CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE collections(
        cid INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        dim INTEGER NOT NULL,
        metric TEXT NOT NULL,
        index_spec TEXT NOT NULL,
        encoder TEXT,
        options TEXT NOT NULL,
        seq INTEGER NOT NULL DEFAULT 0,
        tomb_floor INTEGER NOT NULL DEFAULT 0,
        created TEXT NOT NULL,
        next_slot INTEGER NOT NULL DEFAULT 0,
        vec_gen INTEGER NOT NULL DEFAULT 0
      );
      INSERT INTO meta(key, value) VALUES ('format', 'omnivec'), ('created', '${new Date().toISOString()}');
      PRAGMA user_version = ${SCHEMA_VERSION};
      COMMIT;`);
  }
  const format = db.prepare(`SELECT value FROM meta WHERE key = 'format'`).get() as { value: string } | undefined;
  if (format?.value !== 'omnivec') throw new OmnivecError('corrupt_file', `database ${path}: the meta table does not name the omnivec format`);
  return version === 0 ? SCHEMA_VERSION : version;
}

/** Table names of collection `cid`. */
export function tables(cid: number): { records: string; tombs: string; fts: string } {
  return { records: `c${cid}_r`, tombs: `c${cid}_t`, fts: `c${cid}_fts` };
}

/** The records table (schema 2): the vector is row `slot` of the vector file, `vcrc` its CRC-32. */
export function recordsTableSql(name: string): string {
  return `CREATE TABLE ${name}(
      slot INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      vcrc INTEGER NOT NULL,
      document TEXT,
      metadata BLOB, -- SQLite JSONB (read back with json())
      sparse TEXT,
      multivector BLOB,
      vseq INTEGER NOT NULL
    );`;
}

/** The records table's index and the triggers that keep the full-text index in step. */
export function recordsTriggersSql(cid: number): string {
  const { records: r, fts: f } = tables(cid);
  return `
    CREATE INDEX ${r}_vseq ON ${r}(vseq);
    CREATE TRIGGER ${r}_ai AFTER INSERT ON ${r} WHEN new.document IS NOT NULL BEGIN
      INSERT INTO ${f}(rowid, document) VALUES (new.slot, new.document);
    END;
    CREATE TRIGGER ${r}_ad AFTER DELETE ON ${r} WHEN old.document IS NOT NULL BEGIN
      INSERT INTO ${f}(${f}, rowid, document) VALUES ('delete', old.slot, old.document);
    END;
    CREATE TRIGGER ${r}_au AFTER UPDATE OF document ON ${r} BEGIN
      INSERT INTO ${f}(${f}, rowid, document) SELECT 'delete', old.slot, old.document WHERE old.document IS NOT NULL;
      INSERT INTO ${f}(rowid, document) SELECT new.slot, new.document WHERE new.document IS NOT NULL;
    END;`;
}

export function createCollectionTables(db: Sqlite, cid: number, tokenize: string): void {
  const { records: r, tombs: t, fts: f } = tables(cid);
  db.exec(`
    ${recordsTableSql(r)}
    CREATE TABLE ${t}(slot INTEGER NOT NULL, seq INTEGER NOT NULL);
    CREATE INDEX ${t}_seq ON ${t}(seq);
    CREATE VIRTUAL TABLE ${f} USING fts5(document, content='${r}', content_rowid='slot', tokenize='${tokenize.replace(/'/g, "''")}');
    ${recordsTriggersSql(cid)}`);
}

export function dropCollectionTables(db: Sqlite, cid: number): void {
  const { records: r, tombs: t, fts: f } = tables(cid);
  db.exec(`DROP TABLE IF EXISTS ${f}; DROP TABLE IF EXISTS ${r}; DROP TABLE IF EXISTS ${t};`);
}
