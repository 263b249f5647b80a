import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { OmnivecError } from '../errors.js';
import { openDatabase } from '../db/database.js';
import { createServer } from '../server/app.js';
import { listStoredModels } from '../encoders/stored-models.js';
import { withTempDir } from '../../test/helpers/assertions.js';
import type { Out } from './db-commands.js';
import { cmdDemo, DEMO_MARKER, registerDemoCommand } from './demo-command.js';
import { listeningHistory, markdownParagraphs, plainText } from './demo-build.js';

function capture(): Out & { lines: string[]; next: (match: RegExp) => Promise<string> } {
  const lines: string[] = [];
  let waiter: { match: RegExp; resolve: (s: string) => void } | undefined;
  return {
    lines,
    line: (s) => {
      lines.push(s);
      if (waiter?.match.test(s) === true) {
        waiter.resolve(s);
        waiter = undefined;
      }
    },
    json: (v) => { lines.push(JSON.stringify(v)); },
    next: (match) => new Promise((resolve) => { waiter = { match, resolve }; }),
  };
}

/** The program's shape as main.ts builds it: a global --db, the demo command under it. */
function program(out: Out): Command {
  const p = new Command('omnivec').exitOverride()
    .addOption(new Option('--db <dir>', 'database directory').env('OMNIVEC_DB').default('./omnivec-data'));
  registerDemoCommand(p, () => p.opts<{ db: string }>().db, out);
  return p;
}

test('markdown paragraphs: headings give sections, code fences are left out, marks removed', () => {
  const md = [
    '# HNSW index', '', 'Hierarchical **graphs** for [search](x.md), with `efSearch` as the knob.', '',
    '```ts', 'const index = new HnswIndex({ dim: 128, metric: "cosine" });', '```', '',
    '## Parameters', '', '| parameter | default |', '| --- | --- |', '| `m` | 16 links per node on each layer |', '',
    'short line', '', '- a list item that is long enough', '- and another one',
  ].join('\n');
  const ps = markdownParagraphs(md, 'docs/indexes/hnsw.md');
  assert.deepEqual(ps.map((p) => [p.section, p.line, p.text]), [
    ['HNSW index', 3, 'Hierarchical graphs for search, with efSearch as the knob.'],
    ['Parameters', 11, 'parameter default m 16 links per node on each layer'],
    ['Parameters', 17, 'a list item that is long enough and another one'],
  ]);
  assert.ok(ps.every((p) => p.title === 'HNSW index' && p.file === 'docs/indexes/hnsw.md'));
  assert.equal(plainText('see *this* and [that](a.md) `x`'), 'see this and that x');
});

test('the listening history is seeded and mostly within a genre', () => {
  const a = listeningHistory({ users: 50 });
  const b = listeningHistory({ users: 50 });
  assert.deepEqual(a, b);
  assert.equal(a.albums.length, 240);
  const genreOf = new Map(a.albums.map((x) => [x.id, x.genre]));
  let same = 0;
  let pairs = 0;
  for (const s of a.sequences) for (let i = 1; i < s.length; i++, pairs++) if (genreOf.get(s[i]!) === genreOf.get(s[i - 1]!)) same++;
  assert.ok(same / pairs > 0.4, `consecutive plays in one genre: ${same / pairs}`);
});

test('omnivec demo --no-serve builds docs, words and albums offline; text queries find the right file; a second run reuses it', { timeout: 55_000 }, (t) => withTempDir('omnivec-demo-', async (tmp) => {
  const dir = join(tmp, 'demo');
  const out = capture();
  const t0 = performance.now();
  await program(out).parseAsync(['--db', dir, 'demo', '--no-serve'], { from: 'user' });
  const seconds = (performance.now() - t0) / 1000;
  // A generous bound, not a benchmark: docs/cli.md says ~3 s on 2 cores (2.3 s in a full run, the
  // machine shared); 30 s, 10× that, fails only for a build gone wrong (a training loop that does
  // not end, the corpus read per paragraph), not for a busy machine.
  assert.ok(seconds < 30, `built in ${seconds.toFixed(1)} s`);
  const marker = JSON.parse(readFileSync(join(dir, DEMO_MARKER), 'utf8')) as { complete: boolean };
  assert.equal(marker.complete, true);
  assert.ok(out.lines.some((l) => /omnivec serve --db/.test(l)), out.lines.join('\n'));

  const db = await openDatabase(dir, { readOnly: true });
  try {
    const counts = Object.fromEntries((await db.listCollections()).map((c) => [c.name, c.count]));
    assert.ok(counts.docs! > 300, `docs: ${counts.docs}`);
    assert.ok(counts.words! > 1000, `words: ${counts.words}`);
    assert.equal(counts.albums, 240);
    assert.equal((await db.getCollection('docs')).encoder?.kind, 'sif');
    const got = await (await db.getCollection('albums')).get({ ids: ['jazz-01'], include: ['metadatas'] });
    assert.equal(got.metadatas?.[0]?.genre, 'jazz');
    // Albums of a genre gather: most neighbours of a jazz album are jazz.
    const near = await (await db.getCollection('albums')).queryById('jazz-01', { k: 10 });
    assert.ok(near.ids.filter((id) => id.startsWith('jazz-')).length >= 7, near.ids.join(' '));
  } finally {
    await db.close();
  }
  assert.equal(listStoredModels(dir).length, 1);

  // The SIF model in DIR/models/ serves text queries through the server, no flag needed.
  const server = await createServer({ db: dir });
  try {
    for (const [q, file] of [['HNSW efSearch recall', 'docs/indexes/hnsw.md'], ['CLIP zero-shot labels', 'docs/clip.md']] as const) {
      const r = await server.app.inject({ method: 'POST', url: '/api/collections/docs/query', payload: { text: q, k: 5 } });
      assert.equal(r.statusCode, 200, r.body);
      const body = r.json<{ ids: string[]; metadatas: { file: string }[] }>();
      assert.ok(body.metadatas.some((m) => m.file === file), `${q}: ${body.ids.join(', ')}`);
    }
  } finally {
    await server.close();
  }

  // A second run reuses the folder: the marker's build time stays (the clock cannot tell, a rebuild
  // takes 2–3 s); --force rebuilds it.
  const builtFirst = (JSON.parse(readFileSync(join(dir, DEMO_MARKER), 'utf8')) as { built: string }).built;
  const again = capture();
  const t1 = performance.now();
  await program(again).parseAsync(['--db', dir, 'demo', '--no-serve'], { from: 'user' });
  t.diagnostic(`demo: built in ${seconds.toFixed(1)} s (docs/cli.md: ~3 s on 2 cores); reused in ${(performance.now() - t1).toFixed(0)} ms`);
  assert.ok(again.lines.some((l) => /docs .* records/.test(l)), again.lines.join('\n'));
  const before = (JSON.parse(readFileSync(join(dir, DEMO_MARKER), 'utf8')) as { built: string }).built;
  assert.equal(before, builtFirst, 'the second run rebuilt the demo instead of reusing it');
  await program(capture()).parseAsync(['--db', dir, 'demo', '--no-serve', '--force'], { from: 'user' });
  assert.notEqual((JSON.parse(readFileSync(join(dir, DEMO_MARKER), 'utf8')) as { built: string }).built, before, '--force rebuilds');
}));

test('omnivec demo: refuses a folder that is not a demo; rebuilds an unfinished one', { timeout: 55_000 }, () => withTempDir('omnivec-demo-', async (tmp) => {
  const other = join(tmp, 'mine');
  mkdirSync(other);
  writeFileSync(join(other, 'notes.txt'), 'mine');
  await assert.rejects(cmdDemo(other, { serve: false }, capture()),
    (e: unknown) => e instanceof OmnivecError && e.code === 'already_exists' && /not an omnivec demo/.test(e.message));
  await assert.rejects(cmdDemo(other, { serve: false, force: true }, capture()), /not an omnivec demo/);
  assert.ok(existsSync(join(other, 'notes.txt')), 'a folder that is not a demo is never removed, even with --force');
  await assert.rejects(cmdDemo(join(tmp, 'x'), { host: '0.0.0.0' }, capture()), /loopback/);

  const dir = join(tmp, 'half');
  mkdirSync(dir);
  writeFileSync(join(dir, DEMO_MARKER), JSON.stringify({ complete: false, version: 1 }));
  writeFileSync(join(dir, 'leftover'), '');
  const out = capture();
  await cmdDemo(dir, { serve: false }, out);
  assert.ok(!existsSync(join(dir, 'leftover')));
  assert.equal((JSON.parse(readFileSync(join(dir, DEMO_MARKER), 'utf8')) as { complete: boolean }).complete, true);

  // Serving: prints the explorer's URL, answers, closes on SIGINT.
  const signals = new EventEmitter();
  const serving = capture();
  const printed = serving.next(/explorer is at/);
  const running = cmdDemo(dir, { port: '0' }, serving, signals);
  try {
    const line = await printed;
    const url = /(http:\/\/\S+)\/\?collection=docs/.exec(line)?.[1];
    assert.ok(url !== undefined, line);
    const page = await fetch(`${url}/?collection=docs`);
    assert.equal(page.status, 200);
    const health = await (await fetch(`${url}/healthz`)).json() as { collections: number };
    assert.equal(health.collections, 3);
  } finally {
    signals.emit('SIGINT');
    await running;
  }
  assert.equal(serving.lines.at(-1), 'omnivec: closed');
}));
