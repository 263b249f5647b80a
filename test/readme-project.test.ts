import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, assertCloneUnchanged, cloneState, exec, newerThanDist, readmeBlock, runBlock } from './helpers/readme.js';

/** What the steps write into the project: none of it may appear in the clone. */
const WRITES = ['my-app', 'index.js', 'index.ts', 'db.js', 'omnivec-data', 'omnivec-0.1.0.tgz', 'build', 'db-run'];

test('the README\'s "use it from your project" steps run as written in a fresh folder, offline: folder install, the snippet twice, npx omnivec, tsc with the README\'s tsconfig, the database snippet twice, npm pack', async (t) => {
  assert.ok(existsSync(join(ROOT, 'dist', 'index.js')), 'dist/ is missing: npm run build (npm ci and npm test build it); a project runs dist/');
  const stale = newerThanDist();
  if (stale !== undefined) t.diagnostic(`dist/ is older than ${stale}: this test runs the package as built (npm run build, or npm test's pretest, rebuilds it)`);

  const tmp = mkdtempSync(join(tmpdir(), 'omnivec-project-readme-'));
  const before = cloneState(WRITES);
  const manifest = readFileSync(join(ROOT, 'package.json'), 'utf8');
  const lock = readFileSync(join(ROOT, 'package-lock.json'), 'utf8');
  t.after(() => {
    assertCloneUnchanged(before, 'the project steps');
    assert.equal(readFileSync(join(ROOT, 'package.json'), 'utf8'), manifest, "the clone's package.json is unchanged");
    assert.equal(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'), lock, "the clone's package-lock.json is unchanged");
  });
  // npm offline, with an empty cache of its own: a folder install must need nothing from the registry.
  const npmEnv = {
    npm_config_offline: 'true', npm_config_cache: join(tmp, 'npm-cache'),
    npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false',
  };
  try {
    // 1. The project: the README's lines, in a fresh folder.
    const setup = await runBlock(readmeBlock('project-setup'), { cwd: tmp, tmp, env: npmEnv, timeoutMs: 120_000 });
    assert.equal(setup.status, 0, `${setup.explain}\n--- stdout:\n${setup.stdout}`);
    const app = join(tmp, 'my-app');
    const pkg = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { type?: string; dependencies?: Record<string, string> };
    assert.equal(pkg.type, 'module');
    assert.match(pkg.dependencies?.omnivec ?? '', /^file:/);
    assert.equal(realpathSync(join(app, 'node_modules', 'omnivec')), realpathSync(ROOT), 'the folder install links the clone');
    assert.doesNotMatch(setup.stdout + setup.stderr, /prepare|npm run build/, 'no install script ran in the clone');

    // 2. The snippet, as index.js, twice: the same output each time.
    writeFileSync(join(app, 'index.js'), readmeBlock('project-snippet'));
    const expected = readmeBlock('project-output');
    for (const run of [1, 2]) {
      const r = await exec(process.execPath, ['index.js'], { cwd: app });
      assert.equal(r.status, 0, `node index.js, run ${run}:\n${r.stderr}`);
      assert.equal(r.stdout, expected, `node index.js, run ${run}, prints what the README shows`);
    }

    // 3. The project's command (bin/omnivec.js of the linked clone, through node_modules/.bin).
    const npx = await exec('npx', ['omnivec', 'list'], { cwd: app, env: npmEnv });
    assert.equal(npx.status, 0, `npx omnivec list:\n${npx.stderr}`);
    assert.match(npx.stdout, /^films\t4\tcosine\tauto\t3$/m);

    // 4. TypeScript: the same file as index.ts type-checks with the README's tsconfig.json.
    writeFileSync(join(app, 'tsconfig.json'), readmeBlock('project-tsconfig'));
    copyFileSync(join(app, 'index.js'), join(app, 'index.ts'));
    const tsc = await exec(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app, '--noEmit'], { cwd: app });
    assert.equal(tsc.status, 0, `tsc --noEmit with the README's tsconfig:\n${tsc.stdout}${tsc.stderr}`);

    // 5. "The database from code", as db.js, twice in a fresh folder: `true 1` each time.
    writeFileSync(join(app, 'db.js'), readmeBlock('db-snippet'));
    const runs = join(app, 'db-run');
    mkdirSync(runs);
    for (const run of [1, 2]) {
      const r = await exec(process.execPath, [join(app, 'db.js')], { cwd: runs });
      assert.equal(r.status, 0, `node db.js, run ${run}:\n${r.stderr}`);
      assert.equal(r.stdout, 'true 1\n', `node db.js, run ${run}`);
    }

    // 6. The tarball: the npm pack line (offline); the install line needs the registry, so it is not run.
    const tarball = readmeBlock('project-tarball').split('\n').filter((l) => l.trim().length > 0);
    assert.match(tarball[0]!, /^npm pack /);
    assert.match(tarball[1]!, /npm install \.\/omnivec-0\.1\.0\.tgz/);
    const pack = await runBlock(tarball[0]! + '\n', { cwd: app, tmp, env: npmEnv, timeoutMs: 120_000 });
    assert.equal(pack.status, 0, pack.explain);
    assert.ok(existsSync(join(app, 'omnivec-0.1.0.tgz')), 'npm pack wrote omnivec-0.1.0.tgz in the project');
    const list = await exec('tar', ['-tzf', join(app, 'omnivec-0.1.0.tgz')], { cwd: app });
    assert.equal(list.status, 0, list.stderr);
    const files = new Set(list.stdout.split('\n'));
    for (const f of ['package/package.json', 'package/bin/omnivec.js', 'package/dist/index.js', 'package/dist/index.d.ts', 'package/dist/cli/main.js']) {
      assert.ok(files.has(f), `the tarball holds ${f}`);
    }
    assert.deepEqual([...files].filter((f) => /^package\/(src|test|node_modules)\//.test(f) || f.endsWith('.test.js')), [], 'no sources, tests or dependencies in the tarball');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
