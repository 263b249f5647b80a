/**
 * `omnivec index-field NAME FIELD [--type keyword|integer|float|bool] [--drop]` (docs/cli.md):
 * declares a payload index on a metadata field of a collection (back-filled at once, kept in step
 * by every write), or drops it; `omnivec index-field NAME` alone lists the declared ones
 * (as `omnivec info` does). The database is `--db`, as for every command.
 */
import type { Command } from 'commander';
import { invalidArgument } from '../errors.js';
import { openDatabase } from '../db/database.js';
import { FIELD_INDEX_TYPES, checkFieldType } from '../db/field-index.js';
import type { Out } from './db-commands.js';

export interface IndexFieldOpts {
  type?: string;
  drop?: boolean;
  json?: boolean;
}

export async function cmdIndexField(dir: string, name: string, field: string | undefined, o: IndexFieldOpts, out: Out): Promise<void> {
  if (field === undefined) {
    if (o.drop === true || o.type !== undefined) throw invalidArgument(`${o.drop === true ? '--drop' : '--type'}: goes with a FIELD (omnivec index-field NAME FIELD …)`);
    const db = await openDatabase(dir, { readOnly: true, create: false });
    try {
      const list = await (await db.getCollection(name)).listFieldIndexes();
      if (o.json === true) out.json(list);
      else for (const x of list) out.line(`${x.field}\t${x.type}`);
    } finally {
      await db.close();
    }
    return;
  }
  if (o.drop === true && o.type !== undefined) throw invalidArgument('expected one of --drop and --type, got both');
  // Checked before the database is opened for writing (a typo should not wait for the lock).
  const type = o.drop === true ? undefined : checkFieldType(o.type ?? 'keyword', '--type');
  const db = await openDatabase(dir, { create: false });
  try {
    const c = await db.getCollection(name);
    if (type === undefined) {
      await c.dropFieldIndex(field);
      out.line(`dropped the index of ${JSON.stringify(field)} in ${name}`);
    } else {
      const s = performance.now();
      const made = await c.createFieldIndex(field, { type });
      out.line(made
        ? `indexed ${JSON.stringify(field)} (${type}) in ${name} in ${((performance.now() - s) / 1000).toFixed(2)} s`
        : `${JSON.stringify(field)} is already indexed (${type}) in ${name}`);
    }
  } finally {
    await db.close();
  }
}

export function registerFieldIndexCommand(p: Command, db: () => string, out: Out): void {
  p.command('index-field <name> [field]')
    .description('declare a payload index on a metadata field (filters on it seek instead of scanning); without FIELD, list them')
    .option('--type <type>', `${FIELD_INDEX_TYPES.join(' | ')}: the values indexed (default keyword)`)
    .option('--drop', 'remove the field\'s index')
    .option('--json', 'print JSON (the list)')
    .action((name: string, field: string | undefined, o: IndexFieldOpts) => cmdIndexField(db(), name, field, o, out));
}
