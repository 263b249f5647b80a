import assert from 'node:assert/strict';
import { openDatabase } from '../db/database.js';
import { main } from './main.js';
import type { Out } from './db-commands.js';
import { blobs } from '../../test/helpers/blobs.js';
import { testEachLocation } from '../../test/helpers/stores.js';

function capture(): Out & { lines: string[]; text: () => string; parsed: () => unknown } {
  const lines: string[] = [];
  return {
    lines,
    line: (s) => { lines.push(s); },
    json: (v) => { lines.push(JSON.stringify(v)); },
    text: () => lines.join('\n'),
    parsed: () => JSON.parse(lines.join('\n')) as unknown,
  };
}

testEachLocation('omnivec cluster / outliers / dedupe: tables, --json, --write then a where on the written field', async (dir) => {
  {
    const { batch } = blobs(3, 20, 6, 2, 0.3);
    const ids = Array.from({ length: 60 }, (_, i) => `r${String(i).padStart(2, '0')}`);
    const db = await openDatabase(dir);
    const c = await db.createCollection({ name: 'pts', dim: 6, metric: 'cosine' });
    await c.add({ ids, vectors: batch.data, metadatas: ids.map(() => ({ src: 'test' })) });
    // A far point and a near copy of r00.
    await c.add({ ids: ['far', 'r00-copy'], vectors: [[-50, 40, -30, 20, -10, 60], Array.from(batch.data.subarray(0, 6))] });
    await db.close();

    let out = capture();
    assert.equal(await main(['--db', dir, 'cluster', 'pts', '--k', '3'], out), 0, out.text());
    assert.match(out.lines[0]!, /^pts: 3 clusters of 62 records; silhouette 0\.\d+, inertia/);
    assert.ok(out.lines.some((l) => /^cluster\s+size\s+first ids$/.test(l)), out.text());

    out = capture();
    assert.equal(await main(['--db', dir, 'cluster', 'pts', '--k-max', '5', '--json'], out), 0, out.text());
    const chosen = out.parsed() as { k: number; tried: { k: number }[]; labels: number[]; ids: string[] };
    assert.deepEqual(chosen.tried.map((t) => t.k), [2, 3, 4, 5]);
    assert.equal(chosen.labels.length, 62);

    out = capture();
    assert.equal(await main(['--db', dir, 'cluster', 'pts', '--k', '3', '--write', 'cluster', '--method', 'minibatch'], out), 0, out.text());
    assert.match(out.text(), /wrote the cluster numbers into the metadata field "cluster" of 62 records/);
    out = capture();
    assert.equal(await main(['--db', dir, 'get', 'pts', '--where', '{"cluster": 0}', '--limit', '100'], out), 0, out.text());
    const got = out.lines.map((l) => JSON.parse(l) as { id: string; metadata: { cluster: number; src?: string } });
    assert.ok(got.length > 0 && got.length < 62);
    assert.ok(got.every((r) => r.metadata.cluster === 0));
    assert.ok(got.filter((r) => r.id.startsWith('r') && r.id.length === 3).every((r) => r.metadata.src === 'test'), 'other fields kept');

    out = capture();
    assert.equal(await main(['--db', dir, 'outliers', 'pts', '--top', '3'], out), 0, out.text());
    assert.match(out.lines[0]!, /^rank\s+id\s+k-distance$/);
    assert.match(out.lines[1]!, /^1\s+far\s+\d/);
    out = capture();
    assert.equal(await main(['--db', dir, 'outliers', 'pts', '--method', 'lof', '--k', '5', '--json'], out), 0, out.text());
    const lof = out.parsed() as { outliers: { id: string; score: number }[] };
    assert.equal(lof.outliers[0]!.id, 'far');
    assert.equal(lof.outliers.length, 20);

    out = capture();
    assert.equal(await main(['--db', dir, 'dedupe', 'pts', '--threshold', '0.9999'], out), 0, out.text());
    assert.match(out.lines[0]!, /^pts: 1 near-duplicate pair in 1 group$/);
    assert.ok(out.lines.includes('group 1: r00 r00-copy'), out.text());
    out = capture();
    assert.equal(await main(['--db', dir, 'dedupe', 'pts', '--threshold', '0.9999', '--json'], out), 0, out.text());
    assert.deepEqual((out.parsed() as { groups: string[][] }).groups, [['r00', 'r00-copy']]);

    // Errors: exit codes of the table in docs/cli.md.
    assert.equal(await main(['--db', dir, 'cluster', 'pts', '--k', '100'], capture()), 2);
    assert.equal(await main(['--db', dir, 'cluster', 'pts', '--k', '2', '--where', '{"src": "none"}'], capture()), 8);
    assert.equal(await main(['--db', dir, 'cluster', 'nope', '--k', '2'], capture()), 3);
    assert.equal(await main(['--db', dir, 'outliers', 'pts', '--method', 'zscore'], capture()), 2);
    assert.equal(await main(['--db', dir, 'dedupe', 'pts', '--max-distance', '1'], capture()), 2);
    assert.equal(await main(['--db', dir, 'cluster', 'pts', '--where', '{bad json'], capture()), 2);
  }
}, { timeout: 120_000 });
