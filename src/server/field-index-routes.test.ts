/**
 * Payload indexes over HTTP and the CLI: declare, list (and in info), idempotent re-declare,
 * filters answered the same, drop, typed errors (400 / 404 / 403 read-only), /openapi.json.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../db/database.js';
import { createServer } from './app.js';
import { fakeEncoders } from '../../test/helpers/fake-encoders.js';
import { client } from '../../test/helpers/http.js';
import { cliInProcess } from '../../test/helpers/cli.js';

const META = (i: number): Record<string, unknown> => ({ n: i % 5, tag: i % 2 === 0 ? ['even', 'x'] : 'odd' });

test('HTTP /api/collections/:name/field-indexes: declare, list, re-declare, filter, drop, errors, read-only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-fi-routes-'));
  const setup = await openDatabase(dir);
  const c = await setup.createCollection({ name: 'pts', dim: 2, metric: 'l2', index: 'flat' });
  await c.add(Array.from({ length: 40 }, (_, i) => ({ id: `r${i}`, vector: [i, 1], metadata: META(i) })));
  await setup.close();
  const server = await createServer({ db: dir, encoderService: fakeEncoders({ dim: 2 }) });
  try {
    const call = client(await server.listen(0));
    const before = await call('POST', '/api/collections/pts/get', { where: { n: { $gte: 3 } }, limit: 100 });
    let r = await call('POST', '/api/collections/pts/field-indexes', { field: 'n', type: 'integer' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual(r.body.fieldIndexes, [{ field: 'n', type: 'integer' }]);
    r = await call('POST', '/api/collections/pts/field-indexes', { field: 'n', type: 'integer' });
    assert.equal(r.status, 200);
    assert.equal(r.body.created, false);
    r = await call('POST', '/api/collections/pts/field-indexes', { field: 'tag' });
    assert.equal(r.status, 201);
    r = await call('GET', '/api/collections/pts/field-indexes');
    assert.deepEqual(r.body.fieldIndexes, [{ field: 'n', type: 'integer' }, { field: 'tag', type: 'keyword' }]);
    r = await call('GET', '/api/collections/pts');
    assert.equal(((r.body.collection as { fieldIndexes: unknown[] }).fieldIndexes).length, 2);
    r = await call('POST', '/api/collections/pts/get', { where: { n: { $gte: 3 } }, limit: 100 });
    assert.deepEqual(r.body.ids, before.body.ids);
    r = await call('POST', '/api/collections/pts/get', { where: { tag: 'even' }, limit: 100 });
    assert.equal((r.body.ids as string[]).length, 20);

    // Errors: the type (schema), the field (library), another type, unknown collection / field.
    r = await call('POST', '/api/collections/pts/field-indexes', { field: 'n', type: 'text' });
    assert.equal(r.status, 400);
    assert.equal(r.body.error!.code, 'invalid_argument');
    r = await call('POST', '/api/collections/pts/field-indexes', { field: '$n', type: 'keyword' });
    assert.equal(r.status, 400);
    assert.match(r.body.error!.message, /field/);
    r = await call('POST', '/api/collections/pts/field-indexes', { field: 'n', type: 'keyword' });
    assert.equal(r.status, 409, JSON.stringify(r.body));
    r = await call('POST', '/api/collections/nope/field-indexes', { field: 'n' });
    assert.equal(r.status, 404);
    r = await call('DELETE', '/api/collections/pts/field-indexes/none');
    assert.equal(r.status, 404);
    r = await call('DELETE', '/api/collections/pts/field-indexes/n');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.fieldIndexes, [{ field: 'tag', type: 'keyword' }]);

    r = await call('GET', '/openapi.json');
    const paths = r.body.paths as Record<string, unknown>;
    assert.ok(paths['/api/collections/{name}/field-indexes'] !== undefined);
    assert.ok(paths['/api/collections/{name}/field-indexes/{field}'] !== undefined);
  } finally {
    await server.close();
  }
  const roDb = await openDatabase(dir, { readOnly: true });
  const ro = await createServer({ db: roDb, encoderService: fakeEncoders({ dim: 2 }) });
  try {
    const call = client(await ro.listen(0));
    let r = await call('GET', '/api/collections/pts/field-indexes');
    assert.deepEqual(r.body.fieldIndexes, [{ field: 'tag', type: 'keyword' }]);
    r = await call('POST', '/api/collections/pts/field-indexes', { field: 'n' });
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.equal(r.body.error!.code, 'read_only');
  } finally {
    await ro.close();
    await roDb.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CLI omnivec index-field: declare (default keyword), list, in info, drop, errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-fi-cli-'));
  try {
    const setup = await openDatabase(dir);
    const c = await setup.createCollection({ name: 'pts', dim: 2, metric: 'l2', index: 'flat' });
    await c.add(Array.from({ length: 10 }, (_, i) => ({ id: `r${i}`, vector: [i, 1], metadata: META(i) })));
    await setup.close();
    let r = await cliInProcess(['--db', dir, 'index-field', 'pts', 'n', '--type', 'integer']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.lines[0]!, /indexed "n" \(integer\) in pts/);
    r = await cliInProcess(['--db', dir, 'index-field', 'pts', 'n', '--type', 'integer']);
    assert.match(r.lines[0]!, /already indexed/);
    r = await cliInProcess(['--db', dir, 'index-field', 'pts', 'tag']);
    assert.equal(r.code, 0, r.stderr);
    r = await cliInProcess(['--db', dir, 'index-field', 'pts']);
    assert.deepEqual(r.lines, ['n\tinteger', 'tag\tkeyword']);
    r = await cliInProcess(['--db', dir, 'info', 'pts']);
    assert.ok(r.lines.includes('fields   n (integer), tag (keyword)'), r.lines.join('\n'));
    r = await cliInProcess(['--db', dir, 'info', 'pts', '--json']);
    assert.deepEqual(JSON.parse(r.lines.join('\n')).fieldIndexes, [{ field: 'n', type: 'integer' }, { field: 'tag', type: 'keyword' }]);
    r = await cliInProcess(['--db', dir, 'index-field', 'pts', 'n', '--type', 'text']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--type: expected one of keyword, integer, float, bool/);
    r = await cliInProcess(['--db', dir, 'index-field', 'pts', 'n', '--drop']);
    assert.equal(r.code, 0, r.stderr);
    r = await cliInProcess(['--db', dir, 'index-field', 'pts', 'n', '--drop']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no payload index/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
