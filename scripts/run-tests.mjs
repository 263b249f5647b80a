// Runs every *.test.ts under src/ and test/ with Node's test runner (Node 20 takes no globs).
// Extra arguments are passed on (e.g. a file name to run one suite). CI reads the runner's
// closing "# pass N" / "# fail N" lines.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const files = args.length > 0 ? args : ['src', 'test'].flatMap((d) => find(d, [])).sort();
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
