/**
 * Ctrl-C during a long command (docs/hardening.md §7). Only commands that can stop at a safe point
 * install the handler, and only while they run: a JavaScript SIGINT handler replaces Node's default
 * (exit at once), so a command that could not honour it would become impossible to stop.
 *
 * - The first SIGINT aborts the signal handed to the command, which stops at its next batch
 *   boundary, closes the database (index snapshot written, LOCK released) and throws
 *   `interrupted` (exit 130) saying what was committed. One line on stderr says so.
 * - A second SIGINT removes this process's LOCK files synchronously and exits 130 at once: the
 *   committed batches are safe, SQLite rolls back the one in progress, and the next open catches
 *   the index up.
 */
import { releaseHeldLocksSync } from '../db/lock.js';
import { endProgressLines } from './progress.js';

export interface InterruptOptions {
  /** Where SIGINT comes from (default: the process; tests pass an EventEmitter). */
  signals?: NodeJS.EventEmitter;
  /** How to leave at once on the second SIGINT (default process.exit). */
  exit?: (code: number) => void;
}

/**
 * Runs `fn` with a SIGINT handler installed; `finishing` says what the command completes before
 * it stops (e.g. "the current batch"). The handler is removed when `fn` settles.
 */
export async function whileInterruptible<T>(finishing: string, fn: (signal: AbortSignal) => Promise<T>, options: InterruptOptions = {}): Promise<T> {
  const signals = options.signals ?? process;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const controller = new AbortController();
  const onSigint = (): void => {
    endProgressLines();
    if (controller.signal.aborted) {
      const removed = releaseHeldLocksSync();
      process.stderr.write(`omnivec: interrupted again: exiting now${removed.length > 0 ? ` (lock removed: ${removed.join(', ')})` : ''}; ` +
        'the committed batches are kept, the one in progress is rolled back\n');
      exit(130);
      return;
    }
    process.stderr.write(`omnivec: interrupt: finishing ${finishing}, then stopping (Ctrl-C again to quit at once)\n`);
    controller.abort();
  };
  signals.on('SIGINT', onSigint);
  try {
    return await fn(controller.signal);
  } finally {
    signals.off('SIGINT', onSigint);
  }
}
