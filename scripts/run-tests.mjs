// Runs every *.test.ts under src/ and test/ with Node's test runner (Node 20 takes no globs).
//
//   npm test                               concise: one line per file, failures in full, the 10
//                                          slowest files, then the summary (scripts/reporter.mjs)
//   npm test -- --tap                      raw TAP on stdout instead (the runner's own reporter)
//   npm test -- test/cli-readme.test.ts    some files only (any argument not starting with -)
//   npm test -- --test-name-pattern=walk   other --options go to `node --test` (use the = form)
//
// Either way the whole TAP stream is also written to test-output/tap.txt (gitignored), and the
// output ends with the runner's summary lines `# tests N`, `# pass N`, `# fail N`, ... that CI reads.
// The exit code is the runner's: non-zero when any test fails.
import { readdirSync, statSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function find(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const tap = args.includes('--tap');
const options = args.filter((a) => a.startsWith('-') && a !== '--tap');
const named = args.filter((a) => !a.startsWith('-'));
const files = named.length > 0 ? named : ['src', 'test'].flatMap((d) => find(d, [])).sort();

mkdirSync(join(root, 'test-output'), { recursive: true });
const tapFile = join(root, 'test-output', 'tap.txt');
const reporters = tap
  ? ['--test-reporter=tap', '--test-reporter-destination=stdout']
  : [
      `--test-reporter=${join(root, 'scripts', 'reporter.mjs')}`, '--test-reporter-destination=stdout',
      '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
    ];
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...reporters, ...options, ...files], {
  stdio: 'inherit',
  env: { ...process.env, OMNIVEC_TEST_FILES: String(files.length), ...(tap ? {} : { OMNIVEC_TAP_FILE: join('test-output', 'tap.txt') }) },
});
process.exit(r.status ?? 1);
