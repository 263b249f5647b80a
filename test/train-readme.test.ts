import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../src/cli/main.js';

const root = resolve(import.meta.dirname, '..');
const shared = resolve(root, '../shared/data');

/** The lines of the README's train-walkthrough block. */
function walkthrough(): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const at = readme.indexOf('<!-- train-walkthrough');
  assert.ok(at >= 0, 'README has the train-walkthrough block');
  const start = readme.indexOf('```sh', at) + 5;
  return readme.slice(start, readme.indexOf('```', start)).split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith('#'));
}

test('the README trained-embeddings walkthrough runs as written', async (t) => {
  if (!existsSync(join(shared, 'text-en-lee-news'))) {
    t.skip(`the shared data is not at ${shared}; the walkthrough reads it`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'omnivec-train-readme-'));
  const cwd = process.cwd();
  const env = process.env.OMNIVEC_DB;
  try {
    process.chdir(dir);
    process.env.OMNIVEC_DB = join(dir, 'omnivec-data');
    const lines = walkthrough();
    assert.ok(lines.length >= 6);
    const outputs = new Map<string, string[]>();
    for (const line of lines) {
      // Paths in the README are relative to the clone: the shared data beside it, the examples in it.
      const argv = line.split(/\s+/).map((w) => w.replace(/^\.\.\/shared\/data/, shared).replace(/^examples\//, join(root, 'examples') + '/'));
      assert.equal(argv[0], 'omnivec', line);
      const printed: string[] = [];
      const code = await main(argv.slice(1), { line: (s) => printed.push(s), json: (v) => printed.push(JSON.stringify(v)) });
      assert.equal(code, 0, `exit code of: ${line}\n${printed.join('\n')}`);
      outputs.set(argv.slice(1, 3).join(' '), printed);
    }
    assert.ok(existsSync(join(dir, 'lee.vec')) && existsSync(join(dir, 'lee.vocab')) && existsSync(join(dir, 'films.npy')));
    assert.equal(outputs.get('similar --vectors')!.length, 5);
    assert.match(outputs.get('eval sts')!.join('\n'), /SIF\s+\d/);
    const q = outputs.get('query words')!;
    assert.equal(q.length, 5);
  } finally {
    process.chdir(cwd);
    if (env === undefined) delete process.env.OMNIVEC_DB; else process.env.OMNIVEC_DB = env;
    rmSync(dir, { recursive: true, force: true });
  }
});
