// A concise reporter for `node --test` (scripts/run-tests.mjs uses it by default; `npm test -- --tap`
// prints raw TAP instead). It prints:
//   - one line per test file as the file finishes: ok / FAIL, its counts and its seconds;
//   - every failure in full: the test's path (file › suite › test), the error with its stack, the
//     assertion's actual / expected, the test's diagnostics, and the file's last lines of stdout /
//     stderr when the file failed;
//   - the 10 slowest files;
//   - the skipped tests, one line per distinct reason (how many, in which files): a skip is never
//     silent (the PostgreSQL tests skip without a server, saying why);
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
    enqueued: 0, reportedTop: 0, selfSeen: false, // its top-level tests created and reported; the file reported as a test
    started: false, // its process started (the runner's test:dequeue for the file)
    end: undefined, // its process ended (the runner's test:complete for the file): { ms, passed, failureType }
    done: false, // its line is printed
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
 * How the events arrive (Node 20, one process per file, two files at once): the runner's own
 * events about a file — test:dequeue when its process starts, test:complete when it ends — come as
 * they happen. Everything from inside the file (test:enqueue as its tests are created, then per test
 * test:dequeue, test:complete, test:start, test:pass / test:fail, test:diagnostic; test:stdout and
 * test:stderr) comes as one block per file, the blocks in the order the files started (a file that
 * finishes while another is still reporting waits its turn). So an event belongs to the file whose
 * block is under way, whatever its `file` field says: that field is where the test was declared,
 * which for shared suites (src/indexes/conformance.ts) is not the file that ran it.
 *
 * A block is over when the file's process has ended, each top-level test it created has been
 * reported, and the file itself has been reported as a test if the runner does that (when no test
 * in it was reported, or its process failed for another reason than failed tests). Its tests are
 * all created before the first one runs, unless the file awaits between two test() calls; a
 * test:enqueue declared in the file itself is therefore always kept in its block.
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
  const order = []; // files in the order they started: the order of their blocks
  let head = 0; // order[head] is the file whose block is under way
  let finished = 0;
  let anyFailure = false;
  const skipped = new Map(); // reason → { tests, suites, files }
  const noteSkip = (file, reason, isSuite) => {
    const why = typeof reason === 'string' && reason.trim() !== '' ? reason.trim() : '(no reason given)';
    let k = skipped.get(why);
    if (k === undefined) { k = { tests: 0, suites: 0, files: new Set() }; skipped.set(why, k); }
    if (isSuite) k.suites++;
    else k.tests++;
    k.files.add(show(file));
  };

  const selfExpected = (s) => s.reportedTop === 0 || (s.end.passed === false && s.end.failureType !== 'subtestsFailed');
  const over = (s) => !s.done && s.end !== undefined && s.reportedTop >= s.enqueued && (!selfExpected(s) || s.selfSeen);

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
      // (The events' line:column are those of the code as tsx transpiled it; the stack has the source's.)
      out += `  ${show(file)}${f.declaredIn !== undefined && f.declaredIn !== file ? ` (declared in ${show(f.declaredIn)})` : ''}\n`;
      out += indent(describeError(f.error)) + '\n';
      if (f.diagnostics.length > 0) out += `  diagnostics:\n${indent(f.diagnostics.join('\n'))}\n`;
    }
    return out;
  };

  /** Ends the block under way if it is over, unless the event `keep` is true for may still be its own. */
  function* advance(keep) {
    while (head < order.length) {
      const file = order[head];
      const s = state(file);
      if (!over(s) || keep(file)) return;
      yield report(file, s);
      head++;
    }
  }

  // A finished block waits for the diagnostics that follow its last result (sent right behind it);
  // when nothing else comes within a moment, it is reported anyway.
  const TIMEOUT = Symbol('timeout');
  const it = source[Symbol.asyncIterator]();
  let next = it.next();
  for (;;) {
    const waiting = head < order.length && over(state(order[head]));
    const r = waiting ? await Promise.race([next, new Promise((res) => setTimeout(res, 150, TIMEOUT))]) : await next;
    if (r === TIMEOUT) {
      yield* advance(() => false);
      continue;
    }
    if (r.done) break;
    next = it.next();
    const { type, data } = r.value;
    const declared = data?.file;

    // The runner's own events about a file (no part of a block).
    const aboutFile = declared !== undefined && data.nesting === 0 && data.name === declared;
    if (aboutFile && (type === 'test:dequeue' || type === 'test:enqueue' || type === 'test:complete')) {
      const s = state(declared);
      if (type === 'test:dequeue' && !s.started) { s.started = true; order.push(declared); }
      if (type === 'test:complete') {
        s.end = { ms: data.details?.duration_ms ?? 0, passed: data.details?.passed !== false, failureType: data.details?.error?.failureType };
      }
      continue;
    }
    if (type === 'test:plan' || type === 'test:watch:drained' || type === 'test:coverage') continue;
    if (type === 'test:diagnostic' && declared === undefined) {
      const m = /^(\w+) (.*)$/.exec(data.message);
      if (data.nesting === 0 && m !== null && SUMMARY.has(m[1])) summary.push(data.message);
      else loose.push({ diagnostic: data.message });
      continue;
    }

    // A block's event. It starts the next block if the one under way is over, unless it is a
    // diagnostic (they follow results) or a top-level test declared in the file itself.
    yield* advance((file) => type === 'test:diagnostic' || (type === 'test:enqueue' && data.nesting === 0 && declared === file));
    const file = head < order.length ? order[head] : declared;
    if (file === undefined) {
      if (type === 'test:fail') loose.push({ path: [data.name], error: data.details?.error });
      continue;
    }
    const s = state(file);
    const self = data.nesting === 0 && data.name === file;
    switch (type) {
      case 'test:enqueue':
        if (data.nesting === 0) s.enqueued++;
        break;
      case 'test:start':
        s.stack.length = data.nesting;
        s.stack[data.nesting] = data.name;
        break;
      case 'test:pass':
      case 'test:fail': {
        if (self) s.selfSeen = true;
        else if (data.nesting === 0) s.reportedTop++;
        const isSuite = data.details?.type === 'suite';
        if (type === 'test:pass') {
          if (data.skip !== undefined && data.skip !== false) noteSkip(file, data.skip, isSuite);
          if (isSuite) break;
          if (data.skip !== undefined) s.skip++;
          else if (data.todo !== undefined) s.todo++;
          else s.pass++;
          break;
        }
        if (data.todo !== undefined) { s.todo++; break; } // a failing todo test does not fail the run
        const error = data.details?.error;
        // A parent whose only fault is its failed subtests adds nothing to what the subtests print.
        if (error?.failureType === 'subtestsFailed') break;
        if (!isSuite) s.fail++;
        s.failures.push({
          path: self ? [show(file)] : [...s.stack.slice(0, data.nesting), data.name], declaredIn: self ? file : declared,
          error, ms: data.details?.duration_ms, line: data.line, column: data.column, nesting: data.nesting, diagnostics: [],
        });
        if (s.done) { anyFailure = true; yield `${red('FAIL')} ${show(file)} (reported after its line)\n${failuresOf(file, s)}\n`; s.failures.length = 0; }
        break;
      }
      case 'test:diagnostic': {
        // A test's diagnostics follow its result: attach them to that failure, if it failed.
        const f = s.failures.findLast((x) => x.line === data.line && x.column === data.column && x.nesting === data.nesting);
        if (f !== undefined) f.diagnostics.push(data.message);
        break;
      }
      case 'test:stdout':
        s.stdout.push(data.message);
        break;
      case 'test:stderr':
        s.stderr.push(data.message);
        break;
      default:
        break;
    }
  }

  // Whatever is left (normally nothing: every block ends before the summary), in order.
  for (const file of [...order.slice(head), ...files.keys()]) if (!state(file).done) yield report(file, state(file));

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
  if (skipped.size > 0) {
    out += '\nskipped, by reason:\n';
    for (const [why, k] of skipped) {
      const what = [k.tests > 0 ? `${k.tests} test${k.tests === 1 ? '' : 's'}` : '', k.suites > 0 ? `${k.suites} suite${k.suites === 1 ? '' : 's'}` : ''].filter(Boolean).join(' and ');
      const files = [...k.files];
      const where = files.length <= 3 ? files.join(', ') : `${files.slice(0, 3).join(', ')} and ${files.length - 3} more`;
      out += `  ${what} (${where}): ${why.replace(/\s*\n\s*/g, ' ')}\n`;
    }
  }
  if (process.env.OMNIVEC_TAP_FILE) out += `\nthe full TAP output: ${process.env.OMNIVEC_TAP_FILE}\n`;
  out += '\n' + summary.map((m) => `# ${m}`).join('\n') + '\n';
  yield out;
}
