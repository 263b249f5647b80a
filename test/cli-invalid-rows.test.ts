import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../src/db/database.js';
import { withTempDir } from './helpers/assertions.js';
import { plantRecord } from './helpers/plant.js';
import { cliInProcess } from './helpers/cli.js';

/**
 * A stored row whose vector is not finite (version 0.1.0 could commit one; docs/hardening.md §2):
 * the CLI's verify reports it (exit 1, naming the id), export skips it with a warning, compact says
 * it is left out and --drop-invalid deletes it, delete removes it, and verify then exits 0.
 */

const cli = cliInProcess;

test('a stored non-finite vector: verify names it (exit 1), export skips it with a warning, compact reports it, delete then verify exit 0; compact --drop-invalid deletes it', async () => {
  await withTempDir('omnivec-invalid-', async (dir) => {
    const db = await openDatabase(dir);
    try {
      const c = await db.createCollection({ name: 'films', dim: 3 });
      await c.add([{ id: 'alien', vector: [1, 0, 0] }, { id: 'heat', vector: [0, 1, 0] }, { id: 'up', vector: [0, 0, 1] }]);
    } finally {
      await db.close();
    }
    plantRecord(dir, 'films', 'big', [1, Infinity, 0]);

    const v = await cli(['--db', dir, 'verify']);
    assert.equal(v.code, 1, `${v.lines.join('\n')}${v.stderr}`);
    assert.equal(v.stderr, '');
    assert.match(v.lines[0]!, /^films: PROBLEMS \(4 records/);
    assert.ok(v.lines.some((l) => /record "big": vector holds a non-finite value/.test(l)), v.lines.join('\n'));
    const vj = await cli(['--db', dir, 'verify', '--json']);
    assert.equal(vj.code, 1);
    assert.deepEqual((JSON.parse(vj.lines[0]!) as Record<string, { invalid: string[] }>).films.invalid, ['big']);

    // Every other command still works.
    const q = await cli(['--db', dir, 'query', 'films', '--vector', '1,0,0', '-k', '2']);
    assert.equal(q.code, 0, q.stderr);
    assert.match(q.lines[0]!, /^alien\t/);
    const g = await cli(['--db', dir, 'get', 'films', 'big']);
    assert.equal(g.code, 0, g.stderr);
    const out = join(dir, 'films.jsonl');
    const e = await cli(['--db', dir, 'export', 'films', '--out', out]);
    assert.equal(e.code, 0, e.stderr);
    assert.deepEqual(e.lines, [`exported 3 records to ${out}`]);
    assert.match(e.stderr, /^omnivec: warning: 1 record of "films" not exported: the stored vector holds a non-finite value: "big"; delete them or upsert them with finite vectors/);
    assert.deepEqual(readFileSync(out, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id), ['alien', 'heat', 'up']);
    const proj = await cli(['--db', dir, 'export', 'films', '--format', 'projector', '--out', join(dir, 'proj')]);
    assert.equal(proj.code, 0, proj.stderr);
    assert.match(proj.stderr, /not exported: .*"big"/);

    const k = await cli(['--db', dir, 'compact', 'films']);
    assert.equal(k.code, 0, k.stderr);
    assert.match(k.lines.join('\n'), /films: 1 record left out of the index, the stored vector holding a non-finite value: "big"; delete them, upsert them with finite vectors, or run compact --drop-invalid/);

    const d = await cli(['--db', dir, 'delete', 'films', 'big']);
    assert.equal(d.code, 0, d.stderr);
    assert.deepEqual(d.lines, ['deleted 1 records from films; 3 left']);
    const v2 = await cli(['--db', dir, 'verify']);
    assert.equal(v2.code, 0, v2.lines.join('\n'));

    // compact --drop-invalid deletes such rows in the same step.
    plantRecord(dir, 'films', 'nan', [Number.NaN, 0, 0]);
    assert.equal((await cli(['--db', dir, 'verify'])).code, 1);
    const kd = await cli(['--db', dir, 'compact', '--drop-invalid']);
    assert.equal(kd.code, 0, kd.stderr);
    assert.match(kd.lines.join('\n'), /films: deleted 1 record whose stored vector held a non-finite value: "nan"/);
    const v3 = await cli(['--db', dir, 'verify']);
    assert.equal(v3.code, 0, v3.lines.join('\n'));
    assert.match(v3.lines[0]!, /^films: ok \(3 records, 3 indexed/);
  });
});
