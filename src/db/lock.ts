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

/** The locks this process holds (path → its own LockInfo), for `releaseHeldLocksSync`. */
const held = new Map<string, LockInfo>();

function unlinkIfMine(path: string, me: LockInfo): void {
  const info = readLock(path);
  if (info?.pid === me.pid && info.host === me.host) {
    try { unlinkSync(path); } catch { /* already gone */ }
  }
}

/**
 * Removes every `LOCK` file this process holds, synchronously: for a process about to exit at once
 * (the CLI's second Ctrl-C, a closed stdout). The databases are not closed: SQLite rolls back an
 * open transaction on the next open, which also catches the indexes up. Returns the paths removed.
 */
export function releaseHeldLocksSync(): string[] {
  const paths = [...held.keys()];
  for (const [path, me] of held) unlinkIfMine(path, me);
  held.clear();
  return paths;
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
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
        throw new OmnivecError('read_only',
          `database ${dir}: the directory is not writable (${code}): the writer lock ${LOCK_FILE} cannot be created there, so the database can only be opened read-only`,
          { dir, errno: code });
      }
      if (code !== 'EEXIST') throw e;
      const holder = readLock(path);
      if (holder !== undefined && holder.pid === process.pid && holder.host === me.host) {
        throw new OmnivecError('locked',
          `database ${dir}: already open for writing in this process (pid ${process.pid}); share the one Database object, or open another with { readOnly: true }`,
          { pid: holder.pid });
      }
      if (holder !== undefined && (holder.host !== me.host || alive(holder.pid))) {
        throw new OmnivecError('locked',
          `database ${dir}: locked by another writer (pid ${holder.pid} on ${holder.host} since ${holder.since}); ` +
          'one process writes at a time, while any number may read', { pid: holder.pid, host: holder.host });
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
    held.set(path, me);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (held.get(path) === me) held.delete(path);
      unlinkIfMine(path, me);
    };
  }
  throw new OmnivecError('locked', `database ${dir}: could not take the writer lock ${path} (it keeps reappearing)`);
}
