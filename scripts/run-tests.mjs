// Runs every *.test.ts under src/ and test/ with Node's test runner (Node 20 takes no globs).
//
//   npm test                               concise: one line per file, failures in full, the 10
//                                          slowest files, then the summary (scripts/reporter.mjs)
//   npm test -- --tap                      raw TAP on stdout instead (the runner's own reporter)
//   npm test -- test/cli-readme.test.ts    some files only (any argument not starting with -)
//   npm test -- --test-name-pattern=walk   other --options go to `node --test` (use the = form)
//   npm run test:fast                      the fast lane (--fast): the unit tests beside the code,
//                                          src/**/*.test.ts, without the end-to-end files in SLOW below
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

/**
 * The fast lane leaves out these unit files: they are end-to-end tests by what they spend their time
 * on. The rule (docs/testing.md): a file under src/ goes here when a full run (test-output/tap.txt)
 * shows its tests taking more than 5 s together and that time goes to end-to-end work: a whole
 * command run in-process, training on a real data set from ../shared/data, a browser. A unit file
 * that is merely slow stays in the lane. Each entry: the file, its time in a full run, and why.
 * (Their place by the style guide, point 13, is test/; they stay beside their code until the
 * src/db refactor has settled.)
 */
const SLOW = new Map([
  ['src/tasks/recommend.test.ts', '20 s: trains Item2Vec on MovieLens (../shared/data) and asks the collection for every held-out user'],
  ['src/cli/embed-commands.test.ts', '17 s: whole `omnivec embed` / `similarity` commands through ONNX models, one with a 2048-d image tower'],
  ['src/cli/demo-command.test.ts', '7 s: `omnivec demo` builds the whole demo twice (Word2Vec, SIF and Item2Vec trained) and serves it'],
]);

const args = process.argv.slice(2);
const tap = args.includes('--tap');
const fast = args.includes('--fast');
const options = args.filter((a) => a.startsWith('-') && a !== '--tap' && a !== '--fast');
const named = args.filter((a) => !a.startsWith('-'));
let files;
if (named.length > 0) files = named;
else if (!fast) files = ['src', 'test'].flatMap((d) => find(d, [])).sort();
else {
  const unit = find('src', []).sort();
  for (const f of SLOW.keys()) if (!unit.includes(f)) process.stderr.write(`run-tests: SLOW names ${f}, which is not a test file under src/ any more: update the list\n`);
  files = unit.filter((f) => !SLOW.has(f));
  // (On stderr with --tap, whose stdout is TAP alone.)
  (tap ? process.stderr : process.stdout).write(`fast lane: ${files.length} unit test files; left out as end-to-end (npm test runs them):\n` +
    [...SLOW].map(([f, why]) => `  ${f} (${why})`).join('\n') + '\n\n');
}

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
