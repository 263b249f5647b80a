/**
 * The `omnivec` command in tests: as a child process (`node --import tsx src/cli/main.ts ...`) for
 * process behaviour (signals, exit codes, pipes), or in-process through `main()` for speed.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { capture } from './capture.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'src', 'cli', 'main.ts');

/** Starts `omnivec ARGS` (cwd: the repository, so tsx resolves); stdout and stderr are pipes unless `stdio` says otherwise. */
export function startCli(args: string[], options: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...options,
    env: { ...process.env, OMNIVEC_NO_PROGRESS: '1', ...options.env },
  });
}

export interface CliResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }

/** Runs `omnivec ARGS` to the end. */
export function runCli(args: string[], options: SpawnOptions = {}): Promise<CliResult> {
  const t0 = performance.now();
  const child = startCli(args, options);
  return collect(child, t0);
}

/** Waits for a started child's exit, gathering what it printed. */
export function collect(child: ChildProcess, t0 = performance.now()): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 }));
  });
}

/**
 * Runs `main(argv)` in this process, capturing the lines it prints and what it writes to stderr;
 * with `tty`, stderr passes for a terminal (and OMNIVEC_NO_PROGRESS is unset), as for progress lines.
 */
export async function cliInProcess(argv: string[], { tty = false } = {}): Promise<{ code: number; lines: string[]; stderr: string }> {
  const lines: string[] = [];
  const wasTTY = process.stderr.isTTY;
  const noProgress = process.env.OMNIVEC_NO_PROGRESS;
  if (tty) { process.stderr.isTTY = true; delete process.env.OMNIVEC_NO_PROGRESS; }
  try {
    const { result: code, stderr } = await capture(() => main(argv, { line: (s) => lines.push(s), json: (v) => lines.push(JSON.stringify(v)) }));
    return { code, lines, stderr };
  } finally {
    process.stderr.isTTY = wasTTY;
    if (noProgress !== undefined) process.env.OMNIVEC_NO_PROGRESS = noProgress;
  }
}
