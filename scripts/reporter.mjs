// A concise reporter for `node --test` (scripts/run-tests.mjs uses it by default; `npm test -- --tap`
// prints raw TAP instead). It prints:
//   - one line per test file as the file finishes: ok / FAIL, its counts and its seconds;
//   - every failure in full: the test's path (file › suite › test), the error with its stack, the
//     assertion's actual / expected, the test's diagnostics, and the file's last lines of stdout /
//     stderr when the file failed;
//   - the 10 slowest files;
//   - the runner's summary, last, in the TAP reporter's exact words (`# tests N`, `# pass N`,
//     `# fail N`, `# skipped N`, `# todo N`, `# duration_ms N`, ...): CI reads the closing
//     `# pass N` / `# fail N` lines.
// Events: https://nodejs.org/docs/latest-v20.x/api/test.html#event-testcomplete and the ones beside it.
import { inspect } from 'node:util';
import { relative } from 'node:path';
import { setTimeout } from 'node:timers';

const color = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
const paint = (code, s) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
const red = (s) => paint(31, s);
const green = (s) => paint(32, s);
const dim = (s) => paint(2, s);

const SUMMARY = new Set(['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo', 'duration_ms']);
const TAIL = 40; // lines of a failing file's stdout / stderr to show

const show = (file) => (file === undefined ? '(no file)' : relative(process.cwd(), file) || file);
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const duration = (ms) => (ms < 1000 ? `${Math.round(ms)} ms` : seconds(ms));
const indent = (text, pad = '    ') => text.split('\n').map((l) => (l.length > 0 ? pad + l : l)).join('\n');

/** Everything one file reported. */
function fileState() {
  return {
    pass: 0, fail: 0, skip: 0, todo: 0, stack: [], failures: [], stdout: [], stderr: [],
    completed: 0, reported: 0, // tests finished (test:complete, completion order) and reported (test:pass / test:fail, report order)
    end: undefined, // the file's own test:complete: { ms, selfReported }
    done: false,
  };
}

function describeError(error) {
  if (error === undefined || error === null) return 'failed (no error reported)';
  const cause = error.cause;
  const parts = [];
  if (error.failureType === 'testCodeFailure' && typeof cause === 'string' && error.exitCode !== undefined) {
    // The file's process itself failed (exit code or signal outside any test).
    parts.push(`${cause}: the test process exited with ${error.signal ? `signal ${error.signal}` : `code ${error.exitCode}`}`);
  } else if (cause !== undefined && cause !== null && typeof cause === 'object') {
    parts.push(inspect(cause, { depth: 6, colors: color, breakLength: 100 }));
  } else if (cause !== undefined) {
    parts.push(String(cause));
  } else {
    parts.push(inspect(error, { depth: 6, colors: color, breakLength: 100 }));
  }
  if (error.failureType !== undefined && error.failureType !== 'testCodeFailure') parts.push(`(${error.failureType})`);
  return parts.join('\n');
}

function tail(chunks) {
  const lines = chunks.join('').split('\n');
  if (lines.at(-1) === '') lines.pop();
  const cut = lines.length > TAIL ? [`… ${lines.length - TAIL} earlier lines`, ...lines.slice(-TAIL)] : lines;
  return cut.join('\n');
}

/**
 * The runner sends two streams of events: test:complete in the order tests finish (two files run
 * at once), and test:start / test:pass / test:fail / test:diagnostic in report order, one file
 * after another. A file is reported once its own test:complete has come and every test that
 * completed in it has been reported (plus the file itself when the runner reports it as a test:
 * a file with no tests, or one whose process failed outside any test).
 */
export default async function* concise(source) {
  const files = new Map();
  const state = (file) => {
    let s = files.get(file);
    if (s === undefined) { s = fileState(); files.set(file, s); }
    return s;
  };
  const total = Number(process.env.OMNIVEC_TEST_FILES) || undefined;
  const durations = [];
  const summary = [];
  const loose = []; // diagnostics and failures that belong to no file
  let finished = 0;
  let anyFailure = false;

  const ready = (s) => !s.done && s.end !== undefined && s.reported >= s.completed + (s.end.selfReported ? 1 : 0);

  const report = (file, s) => {
    s.done = true;
    finished++;
    const ms = s.end?.ms ?? 0;
    durations.push({ file, ms });
    const counts = [`${s.pass} passed`];
    if (s.fail > 0) counts.push(`${s.fail} failed`);
    if (s.skip > 0) counts.push(`${s.skip} skipped`);
    if (s.todo > 0) counts.push(`${s.todo} todo`);
    const failed = s.fail > 0 || s.failures.length > 0;
    const n = total !== undefined ? `[${String(finished).padStart(String(total).length)}/${total}] ` : '';
    let out = `${failed ? red('FAIL') : green('ok  ')} ${n}${show(file).padEnd(52)} ${counts.join(', ').padEnd(30)} ${seconds(ms).padStart(8)}\n`;
    if (failed) {
      anyFailure = true;
      out += failuresOf(file, s);
      if (s.stdout.length > 0) out += `\n  stdout of ${show(file)}:\n${indent(tail(s.stdout))}\n`;
      if (s.stderr.length > 0) out += `\n  stderr of ${show(file)}:\n${indent(tail(s.stderr))}\n`;
      out += '\n';
    }
    s.failures.length = 0;
    s.stdout.length = 0;
    s.stderr.length = 0;
    return out;
  };

  const failuresOf = (file, s) => {
    let out = '';
    for (const f of s.failures) {
      out += `\n${red('✖')} ${f.path.join(' › ')}${f.ms !== undefined ? dim(` (${duration(f.ms)})`) : ''}\n`;
      out += `  ${show(file)}\n`; // (the event's line:column are the transpiled code's under tsx; the stack has the source's)
      out += indent(describeError(f.error)) + '\n';
      if (f.diagnostics.length > 0) out += `  diagnostics:\n${indent(f.diagnostics.join('\n'))}\n`;
    }
    return out;
  };

  // A ready file waits for the diagnostics that follow its last result (sent right behind it);
  // when nothing else comes within a moment, it is reported anyway.
  const TIMEOUT = Symbol('timeout');
  const it = source[Symbol.asyncIterator]();
  let next = it.next();
  for (;;) {
    const waiting = [...files].filter(([, s]) => ready(s));
    const r = waiting.length > 0 ? await Promise.race([next, new Promise((res) => setTimeout(res, 150, TIMEOUT))]) : await next;
    if (r === TIMEOUT) {
      for (const [file, s] of waiting) yield report(file, s);
      continue;
    }
    if (r.done) break;
    next = it.next();
    const { type, data } = r.value;
    const file = data?.file;
    // Anything but a ready file's own diagnostics means that file has said all it will.
    for (const [f, s] of waiting) if (!(type === 'test:diagnostic' && file === f)) yield report(f, s);

    switch (type) {
      case 'test:start': {
        if (file === undefined) break;
        const s = state(file);
        s.stack.length = data.nesting;
        s.stack[data.nesting] = data.name;
        break;
      }
      case 'test:pass':
      case 'test:fail': {
        const s = file === undefined ? undefined : state(file);
        if (s !== undefined) s.reported++;
        const isSuite = data.details?.type === 'suite';
        const self = data.nesting === 0 && data.name === file;
        if (type === 'test:pass') {
          if (s === undefined || isSuite) break;
          if (data.skip !== undefined) s.skip++;
          else if (data.todo !== undefined) s.todo++;
          else s.pass++;
          break;
        }
        if (data.todo !== undefined) { if (s !== undefined) s.todo++; break; } // a failing todo test does not fail the run
        const error = data.details?.error;
        const failure = {
          path: self ? [show(file)] : [...(s?.stack.slice(0, data.nesting) ?? []), data.name],
          error, ms: data.details?.duration_ms, line: data.line, column: data.column, nesting: data.nesting, self, diagnostics: [],
        };
        if (s === undefined) { loose.push(failure); break; }
        // A parent whose only fault is its failed subtests adds nothing to what the subtests print.
        if (error?.failureType === 'subtestsFailed') break;
        if (!isSuite) s.fail++;
        s.failures.push(failure);
        if (s.done) { anyFailure = true; yield `${red('FAIL')} ${show(file)} (reported after its summary line)\n${failuresOf(file, s)}\n`; s.failures.length = 0; }
        break;
      }
      case 'test:diagnostic': {
        if (file === undefined) {
          const m = /^(\w+) (.*)$/.exec(data.message);
          if (data.nesting === 0 && m !== null && SUMMARY.has(m[1])) summary.push(data.message);
          else loose.push({ diagnostic: data.message });
          break;
        }
        // A test's diagnostics follow its result: attach them to that failure, if it failed.
        const s = state(file);
        const f = s.failures.findLast((x) => x.line === data.line && x.column === data.column && x.nesting === data.nesting);
        if (f !== undefined) f.diagnostics.push(data.message);
        break;
      }
      case 'test:stdout':
        if (file !== undefined) state(file).stdout.push(data.message);
        break;
      case 'test:stderr':
        if (file !== undefined) state(file).stderr.push(data.message);
        break;
      case 'test:complete': {
        if (file === undefined) break;
        const s = state(file);
        if (data.nesting === 0 && data.name === file) {
          // The file's own end: its wall time under the runner (its process, start to exit). The
          // runner reports the file itself as a test when nothing in it completed, or when its
          // process failed for another reason than failed tests (an exit code, a crash).
          const error = data.details?.error;
          s.end = {
            ms: data.details?.duration_ms ?? 0,
            selfReported: s.completed === 0 || (data.details?.passed === false && error?.failureType !== 'subtestsFailed'),
          };
        } else {
          s.completed++;
        }
        break;
      }
      default:
        break;
    }
  }

  // Whatever is left (normally nothing: every file is reported as it ends).
  for (const [file, s] of files) if (!s.done) yield report(file, s);

  let out = '';
  const failuresOutside = loose.filter((x) => x.diagnostic === undefined);
  const notes = loose.filter((x) => x.diagnostic !== undefined);
  if (failuresOutside.length > 0) {
    anyFailure = true;
    for (const f of failuresOutside) out += `\n${red('✖')} ${f.path.join(' › ')}\n${indent(describeError(f.error))}\n`;
  }
  if (notes.length > 0) out += `\nrunner diagnostics:\n${notes.map((d) => `  ${d.diagnostic}`).join('\n')}\n`;
  if (durations.length > 0) {
    out += `\nslowest test files:\n`;
    for (const d of [...durations].sort((a, b) => b.ms - a.ms).slice(0, 10)) out += `  ${seconds(d.ms).padStart(8)}  ${show(d.file)}\n`;
  }
  if (anyFailure) {
    const failed = [...files].filter(([, s]) => s.fail > 0).map(([f]) => show(f));
    if (failed.length > 0) out += `\n${red('failed files')} (details above):\n${failed.map((f) => `  ${f}`).join('\n')}\n`;
  }
  if (process.env.OMNIVEC_TAP_FILE) out += `\nthe full TAP output: ${process.env.OMNIVEC_TAP_FILE}\n`;
  out += '\n' + summary.map((m) => `# ${m}`).join('\n') + '\n';
  yield out;
}
