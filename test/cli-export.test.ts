import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../src/db/database.js';
import { projectorColumns } from '../src/io/projector.js';
import { withTempDir } from './helpers/assertions.js';
import { cliInProcess } from './helpers/cli.js';

const cli = cliInProcess;

test('projectorColumns: the union of every record\'s fields (first seen first), document when any has one, reserved names set aside', () => {
  assert.deepEqual(projectorColumns([
    { metadata: { a: 1 } }, { document: 'x', metadata: { b: 2, a: 3, Text: 'no' } }, { metadata: null }, { document: null, metadata: { c: true, '': 1 } },
  ]), { fields: ['a', 'b', 'c'], document: true, skipped: ['Text', ''] });
  assert.deepEqual(projectorColumns([{ metadata: { a: 1 } }, { document: null }]), { fields: ['a'], document: false, skipped: [] });
});

test('export --format projector writes every record\'s fields and the documents, as project --projector does; project says where its config works', { timeout: 60_000 }, async () => {
  await withTempDir('omnivec-export-', async (dir) => {
    const db = join(dir, 'db');
    const d = await openDatabase(db);
    try {
      const c = await d.createCollection({ name: 'pts', dim: 4, index: 'flat' });
      // The first record (in storage order) has no document and only one field.
      const records = [{ id: 'p0', vector: [1, 0, 0, 0], metadata: { group: 'a' } }];
      for (let i = 1; i < 12; i++) {
        records.push({ id: `p${i}`, vector: [Math.cos(i), Math.sin(i), i / 12, 1 - i / 12], metadata: { group: i % 2 === 0 ? 'a' : 'b', ...(i > 5 ? { year: 2000 + i } : {}) }, ...(i === 3 ? { document: 'the third point' } : {}) } as never);
      }
      await c.add(records);
    } finally {
      await d.close();
    }
    const out = join(dir, 'exported');
    const r = await cli(['--db', db, 'export', 'pts', '--format', 'projector', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const meta = readFileSync(join(out, 'metadata.tsv'), 'utf8').split('\n');
    assert.equal(meta[0], 'id\tdocument\tgroup\tyear');
    assert.equal(meta[1], 'p0\t\ta\t');
    assert.equal(meta[4], 'p3\tthe third point\tb\t');
    assert.equal(meta[7], 'p6\t\ta\t2006');
    // project --projector writes the same columns (plus the map's coordinates).
    const proj = join(dir, 'proj');
    const p = await cli(['--db', db, 'project', 'pts', '--method', 'pca', '--projector', proj, '--no-cache']);
    assert.equal(p.code, 0, p.stderr);
    const projHeader = readFileSync(join(proj, 'metadata.tsv'), 'utf8').split('\n')[0]!.split('\t');
    assert.deepEqual(projHeader.filter((h) => !h.startsWith('pca-')), meta[0]!.split('\t'));
    assert.match(p.lines[1]!, /proj\/projector_config\.json names the files by relative paths, so it works only with the Projector page served from that same folder.*projector\.tensorflow\.org, Load vectors\.tsv and metadata\.tsv/);
  });
});
