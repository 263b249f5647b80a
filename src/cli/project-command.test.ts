import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { openDatabase } from '../db/database.js';
import { Random } from '../vector/random.js';
import { project } from '../viz/projection.js';
import { spreadSample } from '../tasks/common.js';
import { openRecords, type ImportRecord } from '../io/index.js';
import { registerProjectCommand } from './project-command.js';
import type { Out } from './db-commands.js';
import { withTempDir } from '../../test/helpers/assertions.js';

interface Fixture { db: string; recs: { id: string; vector: Float32Array; document: string; metadata: Record<string, unknown> }[] }

async function fixture(dir: string): Promise<Fixture> {
  const rng = new Random(11);
  const centres = Array.from({ length: 3 }, () => Float32Array.from({ length: 10 }, () => rng.gaussian() * 5));
  const recs = Array.from({ length: 90 }, (_, i) => ({
    id: `p${String(i).padStart(3, '0')}`,
    vector: Float32Array.from(centres[i % 3]!, (x) => x + rng.gaussian()),
    // Markup in documents must stay text in the page.
    document: i === 1 ? '</script><img src=x onerror=alert(1)> & "quotes"\u2028after' : `document ${i} ${'long '.repeat(i === 2 ? 200 : 1)}`,
    metadata: { group: ['alpha', 'beta', 'gamma'][i % 3]!, n: i },
  }));
  const db = join(dir, 'db');
  const d = await openDatabase(db);
  const c = await d.createCollection({ name: 'pts', dim: 10 });
  await c.add([...recs].reverse());
  await d.close();
  return { db, recs };
}

async function run(db: string, args: string[]): Promise<string[]> {
  const lines: string[] = [];
  const out: Out = { line: (s) => { lines.push(s); }, json: () => undefined };
  const p = new Command('omnivec').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  p.addOption(new Option('--db <dir>').default(db));
  registerProjectCommand(p, out);
  await p.parseAsync(args, { from: 'user' });
  return lines;
}

function pageData(html: string): { ids: string[]; points: Float32Array; names: string[]; label: number[]; documents: (string | null)[]; metadatas: unknown[] } {
  const m = /<script type="application\/json" id="map-data">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(m !== null, 'the page carries its data inline');
  const d = JSON.parse(m[1]!) as { ids: string[]; points: string; names: string[]; label: number[]; documents: (string | null)[]; metadatas: unknown[] };
  const b = Buffer.from(d.points, 'base64');
  const points = new Float32Array(b.length / 4);
  for (let i = 0; i < points.length; i++) points[i] = b.readFloatLE(4 * i);
  return { ...d, points };
}

function assertOffline(html: string): void {
  assert.doesNotMatch(html, /<script[^>]*\ssrc=/i, 'no external script');
  assert.doesNotMatch(html, /<link\b/i, 'no stylesheet link');
  assert.doesNotMatch(html, /https?:\/\//i, 'no URL at all');
  assert.doesNotMatch(html, /@import|url\(/i, 'no CSS fetches');
}

test('omnivec project --out map.html: a self-contained page with the points, colours and hover data; the cache serves the second run', async () => {
  await withTempDir('omnivec-projcli-', async (dir) => {
    const { db, recs } = await fixture(dir);
    const html = join(dir, 'map.html');
    const lines = await run(db, ['project', 'pts', '--method', 'pca', '--out', html, '--color-by', 'group']);
    assert.match(lines[0]!, /wrote .*map\.html: pca map of 90 records$/);
    const page = readFileSync(html, 'utf8');
    assertOffline(page);
    assert.doesNotMatch(page, /<\/script><img/, 'a document cannot close the data script');
    const d = pageData(page);
    assert.deepEqual(d.ids, recs.map((r) => r.id));
    assert.deepEqual([...d.points], [...project(recs.map((r) => r.vector), { method: 'pca' })]);
    assert.deepEqual(d.names, ['alpha', 'beta', 'gamma']);
    assert.deepEqual(d.label.slice(0, 4), [0, 1, 2, 0]);
    assert.equal(d.documents[1], recs[1]!.document);
    assert.equal(d.documents[2]!.length, 301, 'long documents cut to 300 characters and an ellipsis');
    assert.deepEqual(d.metadatas[4], { group: 'beta', n: 4 });

    const again = await run(db, ['project', 'pts', '--method', 'pca', '--out', join(dir, 'map.svg')]);
    assert.match(again[0]!, /from the cache$/);
    assert.ok(existsSync(join(db, 'projections', 'pts', 'pca-5000-42.json')));
    const fresh = await run(db, ['project', 'pts', '--method', 'pca', '--out', join(dir, 'map2.html'), '--no-cache']);
    assert.doesNotMatch(fresh[0]!, /from the cache/);
    await assert.rejects(run(db, ['project', 'pts', '--out', join(dir, 'map.txt')]), /expected a file ending in \.png, \.svg or \.html/);
    await assert.rejects(run(db, ['project', 'pts']), /--out or --projector/);
  });
});

test('omnivec project --projector DIR: vectors, metadata with the coordinates, a bookmark State and the config; re-imports through our reader', async () => {
  await withTempDir('omnivec-projcli-', async (dir) => {
    const { db, recs } = await fixture(dir);
    const out = join(dir, 'proj');
    const lines = await run(db, ['project', 'pts', '--method', 'umap', '--sample', '60', '--seed', '3', '--projector', out, '--color-by', 'group']);
    assert.match(lines[0]!, /wrote .*proj\/ \(vectors\.tsv, metadata\.tsv, bookmarks\.json, projector_config\.json\): umap map of 60 records \(60 of 90 records, sampled evenly/);
    // The projections' sample: spread over the collection (seeded by --seed), in id order.
    const chosen = new Set(spreadSample(recs.map((r) => r.id), 60, 3));
    const first = recs.filter((r) => chosen.has(r.id));
    const points = project(first.map((r) => r.vector), { method: 'umap', seed: 3 });

    const config = JSON.parse(readFileSync(join(out, 'projector_config.json'), 'utf8')) as { embeddings: Record<string, unknown>[] };
    assert.deepEqual(config.embeddings[0], {
      tensorName: 'pts', tensorShape: [60, 10], tensorPath: 'vectors.tsv', metadataPath: 'metadata.tsv', bookmarksPath: 'bookmarks.json',
    });
    assert.match(readFileSync(join(out, 'projector_config.pbtxt'), 'utf8'), /embeddings \{\n {2}tensor_name: "pts"\n {2}tensor_path: "vectors.tsv"[\s\S]*tensor_shape: 60\n {2}tensor_shape: 10\n\}/);
    const states = JSON.parse(readFileSync(join(out, 'bookmarks.json'), 'utf8')) as Record<string, unknown>[];
    assert.equal(states.length, 1);
    const s = states[0]!;
    assert.equal(s.selectedProjection, 'umap');
    assert.equal(s.umapIs3d, false);
    assert.deepEqual(s.dataSetDimensions, [60, 10]);
    assert.equal(s.selectedColorOptionName, 'group');
    const proj = s.projections as Record<string, number>[];
    assert.equal(proj.length, 60);
    proj.forEach((p, i) => {
      assert.deepEqual(Object.keys(p), ['umap-0', 'umap-1']);
      assert.equal(Math.fround(p['umap-0']!), points[2 * i]);
      assert.equal(Math.fround(p['umap-1']!), points[2 * i + 1]);
    });

    const header = readFileSync(join(out, 'metadata.tsv'), 'utf8').split('\n')[0]!;
    assert.deepEqual(header.split('\t'), ['id', 'document', 'group', 'n', 'umap-0', 'umap-1']);
    const opened = await openRecords(join(out, 'vectors.tsv'), { format: 'projector', metadataPath: join(out, 'metadata.tsv') });
    const back: ImportRecord[] = [];
    for await (const r of opened.records) back.push(r);
    assert.equal(back.length, 60);
    back.forEach((r, i) => {
      assert.equal(r.id, first[i]!.id);
      assert.deepEqual([...r.vector], [...first[i]!.vector]);
      assert.equal(r.document, first[i]!.document.replace(/[\t\r\n\u2028]/g, (c) => (c === '\u2028' ? c : ' ')));
      assert.equal(r.metadata!.group, first[i]!.metadata.group);
      assert.equal(Math.fround(r.metadata!['umap-0'] as number), points[2 * i]);
      assert.equal(Math.fround(r.metadata!['umap-1'] as number), points[2 * i + 1]);
    });
  });
});
