/** What in-process code writes to process.stderr (and process.stdout), captured. */

export interface Captured<T> { result: T; stdout: string; stderr: string }

export interface CaptureOptions {
  /**
   * Capture process.stdout too (default: stderr only). Under `node --test` the runner reports this
   * file's results through process.stdout: whatever it writes while `fn` runs is captured as well
   * (and lost to the report), so capture stdout only around code that runs no test of its own.
   */
  stdout?: boolean;
  /** Sees each chunk as it is written (to wait for a line, or to look at chunks one by one). */
  tee?: (chunk: string, stream: 'stdout' | 'stderr') => void;
}

/**
 * Runs `fn` with process.stderr.write (and process.stdout.write when `stdout`) replaced by a
 * recorder, and puts them back afterwards whatever happens; resolves to fn's result and what was
 * written. A write's callback, when given, is called as a stream would.
 */
export async function capture<T>(fn: () => T | Promise<T>, options: CaptureOptions = {}): Promise<Captured<T>> {
  const got = { stdout: '', stderr: '' };
  const streams = options.stdout === true ? (['stdout', 'stderr'] as const) : (['stderr'] as const);
  const saved = streams.map((name) => [name, process[name].write] as const);
  for (const name of streams) {
    process[name].write = ((chunk: string | Uint8Array, encoding?: unknown, cb?: unknown): boolean => {
      const s = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      got[name] += s;
      options.tee?.(s, name);
      const done = typeof encoding === 'function' ? encoding : cb;
      if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
      return true;
    }) as typeof process.stderr.write;
  }
  try {
    const result = await fn();
    return { result, ...got };
  } finally {
    for (const [name, write] of saved) process[name].write = write;
  }
}
