import { closeSync, openSync, readFileSync, unlinkSync, writeSync, fsyncSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { OmnivecError } from '../errors.js';

/**
 * The writer lock of a database directory: a file `LOCK` created with O_EXCL holding the pid and
 * host of the process that holds it. A lock left by a process that no longer runs on this host
 * (killed with SIGKILL, machine crash) is stale and taken over.
 */
export interface LockInfo { pid: number; host: string; since: string }

export const LOCK_FILE = 'LOCK';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(path: string): LockInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
    return typeof info.pid === 'number' ? info : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the lock of `dir`; returns the function that releases it. */
export function acquireLock(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  const me: LockInfo = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const held = readLock(path);
      if (held !== undefined && held.pid === process.pid && held.host === me.host) {
        throw new OmnivecError('locked',
          `database ${dir}: already open for writing in this process (pid ${process.pid}); share the one Database object, or open another with { readOnly: true }`,
          { pid: held.pid });
      }
      if (held !== undefined && (held.host !== me.host || alive(held.pid))) {
        throw new OmnivecError('locked',
          `database ${dir}: locked by another writer (pid ${held.pid} on ${held.host} since ${held.since}); ` +
          'one process writes at a time — close it, or open this one with { readOnly: true }', { pid: held.pid, host: held.host });
      }
      // Stale (holder gone) or unreadable (holder died while writing it): take it over.
      try { unlinkSync(path); } catch { /* another process took it over first */ }
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(me));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const held = readLock(path);
      if (held?.pid === me.pid && held.host === me.host) {
        try { unlinkSync(path); } catch { /* already gone */ }
      }
    };
  }
  throw new OmnivecError('locked', `database ${dir}: could not take the writer lock ${path} (it keeps reappearing)`);
}
