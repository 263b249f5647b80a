/**
 * The package's entries (package.json `exports`) and the lazy seams behind them: every subpath has
 * its source entry and the root re-exports all of it; no entry loads a heavy dependency at import;
 * each of those is imported in one file only. Load times are bench:startup's (timing is no test).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { types: string; import: string }>;
  dependencies: Record<string, string>; optionalDependencies?: Record<string, string>;
};

/** Each heavy dependency and the one file that may import it (docs: the seam headers). */
const SEAMS: Record<string, string> = {
  'sharp': 'src/encoders/image/sharp.ts',
  'fastify': 'src/server/fastify.ts',
  '@fastify/ajv-compiler': 'src/server/fastify.ts',
  'onnxruntime-node': 'src/encoders/onnx/session.ts',
  'umap-js': 'src/viz/projection-libraries.ts',
  'ml-pca': 'src/viz/projection-libraries.ts',
};

const entries = Object.entries(pkg.exports)
  .filter((e): e is [string, { types: string; import: string }] => typeof e[1] === 'object')
  .map(([key, v]) => ({ key, dist: v.import, types: v.types, src: v.import.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts') }));

test('every subpath of package.json exports has a source entry, types beside its import, and the root re-exports all of it', async () => {
  assert.ok(entries.length >= 8, `expected the root and at least 7 subpaths, got ${entries.map((e) => e.key).join(', ')}`);
  const root = await import(pathToFileURL(join(ROOT, 'src', 'index.ts')).href) as Record<string, unknown>;
  for (const e of entries) {
    assert.ok(existsSync(join(ROOT, e.src)), `${e.key}: ${e.src} is missing`);
    assert.equal(e.types, e.dist.replace(/\.js$/, '.d.ts'), `${e.key}: types beside the import`);
    const m = await import(pathToFileURL(join(ROOT, e.src)).href) as Record<string, unknown>;
    for (const [name, value] of Object.entries(m)) assert.equal(root[name], value, `${e.key} exports ${name}; the root must export the same value`);
  }
});

/**
 * A child process imports `specifiers` in turn under a resolve hook that refuses every package
 * in SEAMS, then runs `after` (an expression): exit 0 when nothing reached a refused package.
 */
function importRefusing(files: string[], after = ''): { status: number | null; stderr: string } {
  const pattern = Object.keys(SEAMS).map((p) => p.replace(/[/.]/g, '\\$&')).join('|');
  const hook = `export async function resolve(s, c, next) {
    const r = await next(s, c);
    const m = /\\/node_modules\\/(${pattern})\\//.exec(r.url);
    if (m) throw new Error('LOADED ' + m[1] + ' (from ' + c.parentURL + ')');
    return r;
  }`;
  const code = [
    "import { register } from 'node:module';",
    `register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));`,
    ...files.map((f, i) => `const m${i} = await import(${JSON.stringify(pathToFileURL(join(ROOT, f)).href)});`),
    after,
  ].join('\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

test('importing the root and every subpath loads none of sharp, fastify, onnxruntime-node, umap-js, ml-pca', () => {
  const r = importRefusing(entries.map((e) => e.src));
  assert.equal(r.status, 0, r.stderr);
});

test('the hook sees a real load: the sharp seam, called, trips it (so the test above can fail)', () => {
  const r = importRefusing(['src/encoders/image/sharp.ts'], 'await m0.loadSharp();');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /LOADED sharp/);
});

test('each heavy dependency is imported (as a value) by its seam file only', () => {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, d.name);
      if (d.isDirectory()) walk(p);
      else if (d.name.endsWith('.ts') && !d.name.endsWith('.test.ts')) files.push(p);
    }
  };
  walk(join(ROOT, 'src'));
  const offenders: string[] = [];
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const rel = relative(ROOT, f);
    for (const [name, seam] of Object.entries(SEAMS)) {
      const q = name.replace(/[/.]/g, '\\$&');
      // `import x from 'p'`, `export … from 'p'`, `import('p')`, `require('p')`; `import type` is free.
      const value = new RegExp(`^\\s*(import(?!\\s+type\\b)[^;]*?from\\s*|export[^;]*?from\\s*|.*\\bimport\\(|.*\\brequire\\()['"]${q}['"]`, 'm');
      if (rel !== seam && value.test(text)) offenders.push(`${rel} imports ${name} (only ${seam} may)`);
    }
  }
  assert.deepEqual(offenders, []);
  assert.ok(pkg.optionalDependencies?.['onnxruntime-node'] !== undefined && pkg.dependencies['onnxruntime-node'] === undefined,
    'onnxruntime-node is an optional dependency (the encoders say how to install it when it is missing)');
});
