import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ROOT, SHARED, assertCloneUnchanged, cloneState, omnivec, omnivecLines, readmeBlock, runBlock } from './helpers/readme.js';

/** What the walkthrough writes into its folder: none of it may appear in the clone. */
const WRITES = ['lee.vec', 'lee.vocab', 'lee-sif', 'films.npy', 'omnivec-data'];

/** Collection names a block makes: `omnivec create|import NAME` and `--into NAME`. */
function collections(block: string): Set<string> {
  const names = new Set<string>();
  for (const l of omnivecLines(block)) {
    const made = /^omnivec (?:create|import) (\S+)/.exec(l);
    if (made !== null) names.add(made[1]!);
    for (const m of l.matchAll(/--into (\S+)/g)) names.add(m[1]!);
  }
  return names;
}

test('the README walkthroughs make distinct collections (so they can share one database)', () => {
  const db = collections(readmeBlock('cli-walkthrough'));
  const train = collections(readmeBlock('train-walkthrough'));
  assert.ok(db.has('films') && train.has('words'), 'both blocks were read');
  assert.deepEqual([...train].filter((n) => db.has(n)), [], 'a collection name in both walkthroughs');
});

test('the README trained-embeddings walkthrough runs as written in a fresh folder (nothing written into the clone)', async (t) => {
  if (!existsSync(join(SHARED, 'text-en-lee-news'))) {
    t.skip(`the shared data is not at ${SHARED}; the walkthrough reads it`);
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'omnivec-train-readme-'));
  try {
    const before = cloneState(WRITES);
    t.after(() => assertCloneUnchanged(before, 'the trained-embeddings walkthrough'));
    const block = readmeBlock('train-walkthrough');
    assert.match(block.split('\n')[0]!, /^cd "\$\(mktemp -d\)"/, 'the walkthrough starts in a scratch folder');
    const lines = omnivecLines(block);
    assert.ok(lines.length >= 6);
    // Started in the clone, as a reader would; $OMNIVEC is the clone (the data is beside it).
    const run = await runBlock(block, { cwd: ROOT, tmp });
    assert.equal(run.status, 0, run.explain);
    assert.equal(run.calls.length, lines.length, `one call per omnivec line\n${run.explain}`);
    const dir = run.calls[0]!.cwd;
    assert.ok(!relative(join(tmp, 'tmp'), dir).startsWith('..'), `the walkthrough ran in a folder made by mktemp (${dir})`);
    const out = (prefix: string): string[] => {
      const i = lines.findIndex((l) => l.startsWith(prefix));
      assert.ok(i >= 0, `the walkthrough has a line starting with ${prefix}`);
      return run.calls[i]!.out.trimEnd().split('\n');
    };
    assert.ok(existsSync(join(dir, 'lee.vec')) && existsSync(join(dir, 'lee.vocab')) && existsSync(join(dir, 'films.npy')));
    assert.equal(out('omnivec similar --vectors').length, 5);
    assert.match(out('omnivec eval sts').join('\n'), /SIF\s+\d/);
    assert.equal(out('omnivec query words').length, 5);
    const listed = await omnivec(['list'], dir);
    assert.match(listed.out, /^film-features\t1012\t/m);
    assert.match(listed.out, /^words\t50\t/m);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
