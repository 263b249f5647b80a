// Compiles src/ into dist/ (tsc -p tsconfig.json, as `npm run build` does) before the tests, when
// dist/index.js is missing or older than a source file: test/readme-project.test.ts installs this
// checkout into a fresh project, and a project runs dist/, not src/. Skipped when dist/ is up to date.
// Type errors do not stop the tests (tsc still writes dist/; `npm run typecheck` and `npm run lint`
// report them, and `npm ci`'s build fails on them).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function newest(dir) {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    if (s.isDirectory()) t = Math.max(t, newest(p));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) t = Math.max(t, s.mtimeMs);
  }
  return t;
}

const out = join(root, 'dist', 'index.js');
const sources = Math.max(newest(join(root, 'src')), statSync(join(root, 'tsconfig.json')).mtimeMs);
if (existsSync(out) && statSync(out).mtimeMs >= sources) process.exit(0);

process.stdout.write(`build-dist: dist/ is ${existsSync(out) ? 'older than src/' : 'missing'}; compiling (tsc -p tsconfig.json) ...\n`);
const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')], { encoding: 'utf8' });
if (r.status !== 0) {
  const lines = `${r.stdout}${r.stderr}`.trimEnd().split('\n');
  process.stdout.write(`build-dist: tsc exited ${r.status}; dist/ was written anyway. First lines:\n${lines.slice(0, 20).join('\n')}\n`);
  if (!existsSync(out)) process.exit(1);
}
