/**
 * Index snapshot files (docs/db.md, "Durability"): `c<cid>-<seq>.idx` in the database's
 * `indexes/` folder holds a collection's index as of change <seq>; the name and the change it names
 * are one atomic rename. The index cache writes and loads them; the database cleans up.
 */
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Metric } from '../vector/metric.js';
import type { ExternalVectors, VectorIndex } from '../indexes/types.js';
import { loadIndex, saveIndex } from '../indexes/registry.js';

const SNAP = /^c(\d+)-(\d+)\.idx$/;

export interface SnapshotFile { cid: number; seq: number; path: string }

export async function listSnapshots(indexDir: string): Promise<SnapshotFile[]> {
  let names: string[];
  try {
    names = await readdir(indexDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: SnapshotFile[] = [];
  for (const name of names) {
    const m = SNAP.exec(name);
    if (m !== null) out.push({ cid: Number(m[1]), seq: Number(m[2]), path: join(indexDir, name) });
  }
  return out.sort((a, b) => a.cid - b.cid || b.seq - a.seq);
}

/** Temporary files left by a crash in the middle of a snapshot write. */
export async function removeTempFiles(indexDir: string): Promise<void> {
  let names: string[];
  try { names = await readdir(indexDir); } catch { return; }
  for (const n of names) if (n.startsWith('.') && n.endsWith('.tmp')) await unlink(join(indexDir, n)).catch(() => undefined);
}

export function snapshotPath(indexDir: string, cid: number, seq: number): string {
  return join(indexDir, `c${cid}-${seq}.idx`);
}

/**
 * Writes a snapshot. With `external` (the store keeps the vectors in its vector file) the file
 * leaves the float vectors out: they are stored once, in the vector file (docs/db.md).
 */
export async function writeSnapshot(index: VectorIndex, indexDir: string, cid: number, seq: number, external: boolean): Promise<string> {
  const path = snapshotPath(indexDir, cid, seq);
  // No copy of the index's memory: the caller holds the writer mutex, so nothing changes the index
  // until the file is written (queries only read it).
  await saveIndex(index, path, { copy: false, vectors: !external });
  return path;
}

/**
 * The newest snapshot of `cid` that is usable: seq within [floor, maxSeq], not in `skip` (failed a
 * later check), the file's header and structure check, and dim / metric as expected. Problems met on the way are returned (for verify and the logs).
 */
export async function loadNewestSnapshot(indexDir: string, cid: number, floor: number, maxSeq: number, dim: number, metric: Metric, vectors: ExternalVectors | undefined,
  skip: ReadonlySet<string> = new Set()): Promise<{ index: VectorIndex; seq: number; path: string } | { problems: string[] }> {
  const problems: string[] = [];
  for (const s of (await listSnapshots(indexDir)).filter((f) => f.cid === cid && !skip.has(f.path))) {
    if (s.seq > maxSeq) { problems.push(`${s.path}: names change ${s.seq}, beyond the last committed change ${maxSeq}; ignored`); continue; }
    if (s.seq < floor) { problems.push(`${s.path}: older than the pruned tombstones (change ${floor}); ignored`); continue; }
    try {
      // A snapshot saved without its vectors reads them from the store's vector file; an older one
      // (schema 1, vectors inside) ignores the source and is replaced vectors-less at the next snapshot.
      // The payload CRC is left to a check after the load (IndexCache: verifyIndexFile in the
      // background; verify reads every snapshot in full): ~0.1 s CPU of a 1M × 128 reopen
      // (docs/indexes/hnsw.md). The header checksum and every structural check still run here.
      const index = await loadIndex(s.path, { vectors, verifyChecksum: false });
      if (index.dim !== dim || index.metric !== metric) {
        problems.push(`${s.path}: holds a ${index.dim}-d ${index.metric} index, the collection needs ${dim}-d ${metric}; ignored`);
        continue;
      }
      return { index, seq: s.seq, path: s.path };
    } catch (e) {
      problems.push(`${s.path}: ${(e as Error).message}`);
    }
  }
  return { problems };
}
