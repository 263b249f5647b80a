import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { OmnivecError } from '../errors.js';
import { openDatabase } from '../db/database.js';
import { FeatureEncoder } from '../encoders/features/index.js';
import { openRecords, readFvecs } from '../io/index.js';
import { csvRows } from '../io/csv.js';
import { withReader } from '../io/block-reader.js';
import { cmdEncodeFeatures, registerEncodeCommands, type EncodeFeaturesOpts } from './encode-commands.js';
import type { Out } from './db-commands.js';

const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'films');
const FILMS = join(EXAMPLE, 'films.csv');
const SCHEMA = join(EXAMPLE, 'schema.json');

function capture(): Out & { lines: string[] } {
  const lines: string[] = [];
  return { lines, line: (s) => { lines.push(s); }, json: (v) => { lines.push(JSON.stringify(v)); } };
}

async function refused(o: EncodeFeaturesOpts, code: string, message: RegExp, dir = tmpdir()): Promise<void> {
  await assert.rejects(cmdEncodeFeatures(join(dir, 'db'), o, capture()), (e: unknown) => {
    assert.ok(e instanceof OmnivecError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

/** The example's rows as the CLI reads them (header names → cells). */
async function csvObjects(path: string): Promise<Record<string, string>[]> {
  return withReader(path, undefined, async (r) => {
    const rows: Record<string, string>[] = [];
    let names: string[] | undefined;
    for await (const { cells } of csvRows(r)) {
      if (names === undefined) { names = cells; continue; }
      rows.push(Object.fromEntries(names.map((n, i) => [n, cells[i]!])));
    }
    return rows;
  });
}

test('encode features: the films walkthrough — fit, save the schema, .npy / .jsonl / .fvecs, --into a collection', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-encode-'));
  try {
    const out = capture();
    const fitted = join(dir, 'fitted.json');
    const res = await cmdEncodeFeatures(join(dir, 'db'), {
      schema: SCHEMA, input: FILMS, fit: true, saveSchema: fitted, output: join(dir, 'films.npy'), into: 'films',
    }, out);
    assert.equal(res.rows, 1000);
    assert.equal(res.dim, 1012);
    const text = out.lines.join('\n');
    assert.match(text, /^fitted .*schema\.json on 1,000 rows of .*films\.csv:$/m);
    assert.match(text, /^ {2}cast: 1,000 of 1,025 categories$/m);
    assert.match(text, /^ {2}rating: mean [\d.]+, std [\d.]+, min [\d.]+, max 10, 20 rows missing$/m);
    assert.match(text, /^1,012 dimensions: cast 0–999, duration 1000, genre 1001–1010, rating 1011$/m);
    assert.match(text, /^wrote 1,000 vectors \(1,012-d\) to .*films\.npy/m);
    assert.match(text, /^created films \(1012-d, cosine, index auto\)$/m);
    assert.match(text, /^added 1,000 records to films in [\d.]+ s; 1,000 records now$/m);

    // The saved schema is complete and rebuilds the encoder; the .npy rows are its vectors.
    const enc = new FeatureEncoder(readFileSync(fitted, 'utf8'));
    assert.equal(enc.dim, 1012);
    const rows = await csvObjects(FILMS);
    const npy = await openRecords(join(dir, 'films.npy'));
    assert.deepEqual([npy.count, npy.dim], [1000, 1012]);
    let i = 0;
    for await (const r of npy.records) {
      if (i % 97 === 0) assert.deepEqual(r.vector, enc.encode(rows[i]!), `row ${i}`);
      i++;
    }
    assert.equal(i, 1000);

    // Without --fit, the saved schema encodes the same vectors: JSON Lines with ids and metadata, and .fvecs.
    const again = capture();
    await cmdEncodeFeatures(join(dir, 'db'), { schema: fitted, input: FILMS, output: join(dir, 'films.jsonl') }, again);
    assert.doesNotMatch(again.lines.join('\n'), /fitted/);
    const jsonl = readFileSync(join(dir, 'films.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as {
      id: string; vector: number[]; metadata: Record<string, unknown>;
    });
    assert.equal(jsonl.length, 1000);
    assert.equal(jsonl[0]!.id, 'film-0001');
    assert.deepEqual(Float32Array.from(jsonl[0]!.vector), enc.encode(rows[0]!));
    const m = jsonl[0]!.metadata;
    assert.deepEqual(m.cast, rows[0]!.cast!.split('|'));
    assert.equal(m.genre, rows[0]!.genre);
    assert.equal(m.year, Number(rows[0]!.year));
    assert.equal('id' in m, false);
    await cmdEncodeFeatures(join(dir, 'db'), { schema: fitted, input: FILMS, output: join(dir, 'films.fvecs') }, capture());
    const fvecs = await readFvecs(join(dir, 'films.fvecs'));
    assert.deepEqual([fvecs.count, fvecs.dim], [1000, 1012]);
    assert.deepEqual(fvecs.data.subarray(5 * 1012, 6 * 1012), enc.encode(rows[5]!));

    // The collection: ids, metadata, vectors; a film's nearest neighbour is itself.
    const db = await openDatabase(join(dir, 'db'), { readOnly: true });
    try {
      const c = await db.getCollection('films');
      assert.equal((await c.count()), 1000);
      const got = await c.get({ ids: ['film-0042'], include: ['metadatas', 'vectors'] });
      assert.deepEqual(got.vectors![0], enc.encode(rows[41]!));
      assert.deepEqual(got.metadatas![0]!.cast, rows[41]!.cast!.split('|'));
      const hits = await c.query({ vector: enc.encode(rows[41]!), k: 1 });
      assert.equal(hits.ids[0], 'film-0042');
    } finally {
      await db.close();
    }
    // Adding the same ids again is refused; --upsert replaces them.
    await refused({ schema: fitted, input: FILMS, into: 'films' }, 'already_exists', /film-0001/, dir);
    const up = capture();
    await cmdEncodeFeatures(join(dir, 'db'), { schema: fitted, input: FILMS, into: 'films', upsert: true }, up);
    assert.match(up.lines.join('\n'), /added 1,000 records to films .* 1,000 records now/);
    // Another schema's dimension does not fit the collection.
    await refused({ schema: join(EXAMPLE, 'schema-tags.json'), input: FILMS, fit: true, into: 'films' }, 'dimension_mismatch',
      /--into films: the collection holds 1012-d vectors, the schema makes 737-d ones/, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('encode features is registered under `encode` and reads the root --db; JSON Lines input, row ids, --id-field', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-encode-'));
  try {
    writeFileSync(join(dir, 'schema.json'), JSON.stringify({
      fields: [{ name: 'genre', type: 'onehot', categories: ['a', 'b'] }, { name: 'tags', type: 'multihot', categories: ['x', 'y'] }],
    }));
    writeFileSync(join(dir, 'rows.jsonl'), '{"key": "k1", "genre": "a", "tags": ["x", "y"], "extra": {"deep": 1}}\n\n{"key": 7, "genre": "b"}\n');
    const out = capture();
    const p = new Command('omnivec').exitOverride()
      .addOption(new Option('--db <dir>', 'database directory').default('./omnivec-data'));
    p.command('encode').description('another engineer\'s encoders').command('text'); // `encode` may exist already: it is reused
    registerEncodeCommands(p, out);
    assert.deepEqual(p.commands.filter((c) => c.name() === 'encode').flatMap((c) => c.commands.map((x) => x.name())), ['text', 'features']);
    await p.parseAsync(['--db', join(dir, 'db'), 'encode', 'features', '--schema', join(dir, 'schema.json'),
      '--input', join(dir, 'rows.jsonl'), '--id-field', 'key', '--into', 'rows', '--index', 'flat', '--metric', 'ip'], { from: 'user' });
    const db = await openDatabase(join(dir, 'db'), { readOnly: true });
    try {
      const c = await db.getCollection('rows');
      assert.deepEqual([c.dim, c.metric, c.indexSpec.kind], [4, 'ip', 'flat']);
      const got = await c.get({ include: ['metadatas', 'vectors'] });
      assert.deepEqual(got.ids, ['k1', '7']);
      assert.deepEqual(got.vectors!.map((v) => [...v]), [[1, 0, 1, 1], [0, 1, 0, 0]]);
      assert.deepEqual(got.metadatas![0], { genre: 'a', tags: ['x', 'y'], extra: '{"deep":1}' });
    } finally {
      await db.close();
    }
    // Without an id field, ids are the row numbers; --no-metadata leaves metadata out.
    await cmdEncodeFeatures(join(dir, 'db'), { schema: join(dir, 'schema.json'), input: join(dir, 'rows.jsonl'), output: join(dir, 'o.jsonl'), metadata: false }, capture());
    assert.deepEqual(readFileSync(join(dir, 'o.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown),
      [{ id: '0', vector: [1, 0, 1, 1] }, { id: '1', vector: [0, 1, 0, 0] }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('encode features: errors name the file, the line and the field; a failed encode leaves no output file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-encode-'));
  try {
    const csv = (name: string, text: string): string => { writeFileSync(join(dir, name), text); return join(dir, name); };
    const schema = (name: string, s: unknown): string => { writeFileSync(join(dir, name), JSON.stringify(s)); return join(dir, name); };
    const films = schema('films.json', { fields: [{ name: 'duration', type: 'numeric' }, { name: 'genre', type: 'onehot' }] });
    const bad = csv('bad.csv', 'id,duration,genre\nf1,90,Drama\nf2,long,Comedy\n');
    const out = join(dir, 'out.npy');
    await refused({ schema: films, input: bad, fit: true, output: out }, 'invalid_argument',
      /bad\.csv:3, field "duration": expected a number, got the string "long"$/);
    // Fitted elsewhere, the bad row is found while encoding: the output is not left half-written.
    const fitted = schema('fitted.json', { fields: [{ name: 'duration', type: 'numeric', mean: 100, std: 10 }, { name: 'genre', type: 'onehot', categories: ['Drama'], unknown: 'error' }] });
    await refused({ schema: fitted, input: bad, output: out }, 'invalid_argument', /bad\.csv:3, field "duration": expected a number/);
    const unknown = csv('unknown.csv', 'id,duration,genre\nf1,90,Drama\nf2,95,Musical\n');
    await refused({ schema: fitted, input: unknown, output: out }, 'invalid_argument',
      /unknown\.csv:3, field "genre": expected one of its 1 categories \("Drama"\), got the unknown category "Musical"$/);
    assert.equal(existsSync(out), false);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
    // Empty input: a header only, or nothing at all.
    for (const text of ['id,duration,genre\n', '']) {
      const empty = csv('empty.csv', text);
      await refused({ schema: films, input: empty, fit: true, output: out }, 'invalid_argument', /--input .*empty\.csv: expected rows, got none \(empty input\)/);
      await refused({ schema: fitted, input: empty, output: out }, 'invalid_argument', /expected rows, got none \(empty input\)/);
    }
    // A field the schema needs is not a column; a row lacks a required field.
    await refused({ schema: fitted, input: csv('cols.csv', 'id,length,genre\nf1,90,Drama\n'), output: out }, 'invalid_argument',
      /cols\.csv:1: the schema's field "duration" is not a column \(columns: "id, length, genre"\)/);
    await refused({ schema: fitted, input: FILMS, output: out, idField: 'code' }, 'invalid_argument', /--id-field "code" is not a column/);
    const required = schema('required.json', { fields: [{ name: 'duration', type: 'numeric', scale: 'none', missing: 'error' }] });
    writeFileSync(join(dir, 'rows.jsonl'), '{"duration": 1}\n{"length": 2}\n');
    await refused({ schema: required, input: join(dir, 'rows.jsonl'), output: out }, 'invalid_argument',
      /rows\.jsonl:2, field "duration": expected a value \(the field's missing policy is "error"\), got no such field$/);
    // The schema: not fitted, malformed, missing.
    await refused({ schema: films, input: bad, output: out }, 'not_trained', /--schema .*films\.json: schema\.fields\[0\] \("duration"\): no mean, std; fit the schema .*--fit/);
    await refused({ schema: schema('typo.json', { fields: [{ name: 'g', type: 'onehot', unknwn: 'error' }] }), input: bad, output: out }, 'invalid_argument',
      /--schema .*typo\.json: schema\.fields\[0\] \("g"\)\.unknwn: not an option of a onehot field/);
    await refused({ schema: csv('broken.json', '{"fields": ['), input: bad, output: out }, 'invalid_argument', /broken\.json: expected a JSON feature schema, got invalid JSON/);
    await refused({ schema: join(dir, 'nope.json'), input: bad, output: out }, 'not_found', /nope\.json: file not found/);
    await refused({ schema: fitted, input: join(dir, 'nope.csv'), output: out }, 'not_found', /nope\.csv: file not found/);
    // Options.
    await refused({ schema: fitted, input: bad }, 'invalid_argument', /nothing to do; expected --output FILE, --into COLLECTION and \/ or --save-schema FILE/);
    await refused({ schema: fitted, input: bad, output: join(dir, 'v.csv') }, 'invalid_argument', /--output: expected a file ending in \.npy, \.jsonl or \.fvecs/);
    await refused({ schema: fitted, input: join(dir, 'rows.txt'), output: out }, 'invalid_argument', /cannot tell the format of .*rows\.txt/);
    await refused({ schema: fitted, input: bad, output: bad.replace('.csv', '.jsonl'), format: 'tsv' }, 'invalid_argument', /--format: expected csv or jsonl, got "tsv"/);
    await refused({ schema: fitted, input: csv('ragged.csv', 'id,duration,genre\nf1,90\n'), output: out }, 'corrupt_file', /ragged\.csv:2: expected 3 cells \(as the header\), got 2/);
    await refused({ schema: fitted, input: csv('noid.csv', 'id,duration,genre\n,90,Drama\n'), output: out }, 'invalid_argument',
      /noid\.csv:2: expected an id in the field "id" \(a non-empty string or an integer\), got ""/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
