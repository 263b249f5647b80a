/**
 * `omnivec migrate` (src/db/migrate.ts): a collection with everything a record can hold — ids,
 * vectors, documents, metadata with awkward keys and values, sparse vectors, multi-vectors, an
 * HNSW spec with its parameters, Matryoshka index dimensions, a bound encoder and its stored model
 * folder — goes embedded → PostgreSQL → embedded, and `omnivec export` gives the same bytes from all
 * three. A failure half-way (a record PostgreSQL cannot hold) leaves nothing at the destination and
 * the source unchanged; a name already taken there copies nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../src/db/database.js';
import { storedModelDir } from '../src/encoders/stored-models.js';
import { Random } from '../src/vector/random.js';
import type { RecordInput } from '../src/db/records.js';
import { withTempDir } from './helpers/assertions.js';
import { cliInProcess as cli } from './helpers/cli.js';
import { PG_SKIP, withPgDatabase } from './helpers/postgres.js';

const MODEL = 'sif:0123456789abcdef';

/** 2 600 records (more than one --batch of 1000): every field, some left empty. */
function records(): RecordInput[] {
  const rng = new Random(7);
  const out: RecordInput[] = [];
  for (let i = 0; i < 2600; i++) {
    const r: RecordInput = { id: i === 5 ? 'ünïcødé 😀 "id"' : `r${i}`, vector: Array.from({ length: 16 }, () => rng.gaussian()) };
    if (i % 3 !== 0) r.document = `document ${i} about ${['space', 'the sea', 'crime'][i % 3]}`;
    if (i % 4 !== 0) {
      r.metadata = { zeta: i, alpha: i % 7 === 0 ? null : `a${i % 5}`, tags: ['x', i % 2 === 0], big: 2 ** 60 + i * 4096, small: 5e-324, 'é.k"ey': 0.1 + 0.2 };
      if (i % 10 === 1) Object.defineProperty(r.metadata, '__proto__', { value: 'own', enumerable: true, writable: true, configurable: true });
    }
    if (i % 2 === 0) r.sparse = { [`t${i % 13}`]: 0.5 + i / 1000, [`u${i % 7}`]: 1.25, zz: rng.next() };
    if (i % 5 === 0) r.multiVector = Array.from({ length: 1 + (i % 4) }, () => Array.from({ length: 6 }, () => rng.gaussian()));
    out.push(r);
  }
  return out;
}

async function build(dir: string): Promise<void> {
  const db = await openDatabase(dir);
  try {
    await db.createCollection({
      name: 'docs', dim: 16, metric: 'cosine', index: { kind: 'hnsw', m: 12, efConstruction: 100, efSearch: 80 }, indexDims: 8,
      encoder: { model: MODEL, kind: 'sif', dim: 16 }, records: records(),
    });
    await db.createCollection({ name: 'empty', dim: 3, metric: 'l2' });
  } finally {
    await db.close();
  }
  // A stored model folder the encoder spec names (what `train sif --into` leaves there).
  mkdirSync(storedModelDir(dir, MODEL), { recursive: true });
  writeFileSync(join(storedModelDir(dir, MODEL), 'sif.json'), JSON.stringify({ kind: 'sif', fingerprint: '0123456789abcdef' }));
}

async function exported(location: string, out: string): Promise<string> {
  const r = await cli(['--db', location, 'export', 'docs', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  return readFileSync(out, 'utf8');
}

async function definition(location: string): Promise<unknown> {
  const db = await openDatabase(location, { readOnly: true });
  try {
    const c = await db.getCollection('docs');
    const info = await c.info();
    return { dim: info.dim, metric: info.metric, index: info.index, indexDims: info.indexDims, encoder: info.encoder, count: info.count, tokenize: c.tokenize };
  } finally {
    await db.close();
  }
}

test('migrate between two directories: every field, the definition and the stored model; export byte-equal; a taken name copies nothing', { timeout: 120_000 }, async () => {
  await withTempDir('omnivec-migrate-', async (tmp) => {
    const a = join(tmp, 'a');
    const b = join(tmp, 'b');
    await build(a);
    const before = await exported(a, join(tmp, 'a.jsonl'));
    assert.equal(before.trim().split('\n').length, 2600);
    assert.match(before, /"sparse":\{/);
    assert.match(before, /"multiVector":\[\[/);
    assert.match(before, /"__proto__":"own"/);

    const r = await cli(['migrate', '--from', a, '--to', b, '--batch', '1000']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.lines.join('\n'), /migrated docs: 2,600 records/);
    assert.match(r.lines.join('\n'), /migrated empty: 0 records/);
    assert.equal(await exported(b, join(tmp, 'b.jsonl')), before);
    assert.deepEqual(await definition(b), await definition(a));
    assert.ok(existsSync(join(storedModelDir(b, MODEL), 'sif.json')), 'the stored model went along');

    // The export is a backup: imported into a new collection it exports the same bytes (sparse,
    // multi-vectors and a "__proto__" metadata key included).
    const imp = await cli(['--db', b, 'import', 'copy', join(tmp, 'a.jsonl'), '--metric', 'cosine']);
    assert.equal(imp.code, 0, imp.stderr);
    const copy = await cli(['--db', b, 'export', 'copy', '--out', join(tmp, 'copy.jsonl')]);
    assert.equal(copy.code, 0, copy.stderr);
    assert.equal(readFileSync(join(tmp, 'copy.jsonl'), 'utf8'), before);
    assert.equal((await cli(['--db', b, 'drop', 'copy'])).code, 0);

    // Again: both names are taken now; nothing is copied, exit 4 (already_exists).
    const again = await cli(['migrate', '--from', a, '--to', b]);
    assert.equal(again.code, 4, again.stderr);
    assert.match(again.stderr, /already has "docs", "empty"; drop them there first .*nothing was copied/);
    // An unknown name: not_found before anything is copied.
    const missing = await cli(['migrate', 'nope', '--from', a, '--to', join(tmp, 'c')]);
    assert.equal(missing.code, 3, missing.stderr);
  });
});

test('migrate embedded → PostgreSQL → embedded: export byte-equal from all three; a record PostgreSQL cannot hold leaves nothing behind', { skip: PG_SKIP, timeout: 180_000 }, async () => {
  await withTempDir('omnivec-migrate-pg-', async (tmp) => {
    const prevFiles = process.env.OMNIVEC_FILES;
    process.env.OMNIVEC_FILES = join(tmp, 'pg-files');
    try {
      await withPgDatabase('migrate', async (url) => {
        const a = join(tmp, 'a');
        const back = join(tmp, 'back');
        await build(a);
        const before = await exported(a, join(tmp, 'a.jsonl'));

        const there = await cli(['migrate', 'docs', '--from', a, '--to', url, '--batch', '1000']);
        assert.equal(there.code, 0, there.stderr);
        assert.equal(await exported(url, join(tmp, 'pg.jsonl')), before, 'export from PostgreSQL');
        assert.deepEqual(await definition(url), await definition(a));
        assert.ok(existsSync(join(storedModelDir(join(tmp, 'pg-files'), MODEL), 'sif.json')), 'the stored model is in the PostgreSQL database\'s files folder');

        const home = await cli(['migrate', '--from', url, '--to', back]);
        assert.equal(home.code, 0, home.stderr);
        assert.equal(await exported(back, join(tmp, 'back.jsonl')), before, 'export after the round trip');
        assert.deepEqual(await definition(back), await definition(a));

        // A document with NUL: the embedded store holds it, PostgreSQL text cannot. The migration
        // fails at that batch, drops what it had copied, and leaves the source as it was.
        const db = await openDatabase(a);
        try {
          await (await db.getCollection('docs')).add([{ id: 'nul', vector: new Array(16).fill(0.5), document: 'a\u0000b' }]);
        } finally {
          await db.close();
        }
        const withNul = await exported(a, join(tmp, 'a2.jsonl'));
        const dropped = await cli(['--db', url, 'drop', 'docs']);
        assert.equal(dropped.code, 0, dropped.stderr);
        const failed = await cli(['migrate', 'docs', '--from', a, '--to', url, '--batch', '1000']);
        assert.equal(failed.code, 2, failed.stderr);
        assert.match(failed.stderr, /NUL/);
        assert.match(failed.stderr, /partial copy was dropped/);
        const list = await cli(['--db', url, 'list']);
        assert.deepEqual(list.lines, [], 'nothing of the failed migration is left');
        assert.equal(await exported(a, join(tmp, 'a3.jsonl')), withNul, 'the source is unchanged');
      });
    } finally {
      if (prevFiles === undefined) delete process.env.OMNIVEC_FILES; else process.env.OMNIVEC_FILES = prevFiles;
    }
  });
});
