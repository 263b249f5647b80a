/**
 * Projection maps on disk: `DIR/projections/<collection>/<method>-<sample>-<seed>.json`, one file a
 * map, written atomically (temporary file, then rename). JSON because the page and people read it;
 * the points travel as base64 of little-endian float32 (not a JSON array of numbers) so a 100k-point
 * map stays a few hundred kB and round-trips bit-exact.
 *
 * A cache file is never an authority: one that is unreadable, of another version, or of another
 * generation of the collection (dropped and re-created: another `cid` or `created`) is a miss and
 * is overwritten by the next computation.
 */
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProjectionResult } from './types.js';
import type { ProjectionMethod } from './projection.js';

export const CACHE_FORMAT = 'omnivec-projection';
/**
 * 2: the sample is spread over the collection (a seeded hash of the ids) and `total` says how many
 * records it was drawn from. A version-1 file holds a map of the first N records in id order: a miss.
 */
export const CACHE_VERSION = 2;

/** A computed map: the contract's result, plus how many records the collection had when the sample was drawn. */
export interface MapResult extends ProjectionResult {
  /** Records in the collection at `seq` (ids.length of them were mapped). */
  total: number;
}

/** Which incarnation of a collection a map belongs to: a dropped and re-created one is another. */
export interface Generation {
  cid: number;
  created: string;
}

interface CacheFile {
  format: string;
  version: number;
  collection: string;
  cid: number;
  created: string;
  method: ProjectionMethod;
  sample: number;
  seed: number;
  seq: number;
  /** Records in the collection at `seq`; `count` of them were mapped. */
  total: number;
  count: number;
  ids: string[];
  /** base64 of count × 2 little-endian float32: x0, y0, x1, y1, … */
  points: string;
}

export function cachePath(dir: string, collection: string, method: ProjectionMethod, sample: number, seed: number): string {
  return join(dir, collection, `${method}-${sample}-${seed}.json`);
}

const littleEndian = new Uint8Array(Float32Array.of(1).buffer)[3] === 0x3f;

function pointsToBase64(points: Float32Array): string {
  const bytes = Buffer.from(points.buffer, points.byteOffset, points.byteLength);
  if (littleEndian) return bytes.toString('base64');
  const le = Buffer.alloc(points.byteLength);
  for (let i = 0; i < points.length; i++) le.writeFloatLE(points[i]!, 4 * i);
  return le.toString('base64');
}

function pointsFromBase64(text: string, count: number): Float32Array | undefined {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== count * 8) return undefined;
  const out = new Float32Array(count * 2);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(4 * i);
  return out;
}

/** The cached map of this generation of the collection, or undefined (missing, unreadable, another generation). */
export async function readCached(path: string, collection: string, gen: Generation): Promise<MapResult | undefined> {
  let f: CacheFile;
  try {
    f = JSON.parse(await readFile(path, 'utf8')) as CacheFile;
  } catch {
    return undefined;
  }
  if (f === null || typeof f !== 'object' || f.format !== CACHE_FORMAT || f.version !== CACHE_VERSION) return undefined;
  if (f.collection !== collection || f.cid !== gen.cid || f.created !== gen.created) return undefined;
  if (!Array.isArray(f.ids) || f.ids.length !== f.count || typeof f.points !== 'string' || !Number.isInteger(f.seq)) return undefined;
  if (!Number.isInteger(f.total) || f.total < f.count) return undefined;
  const points = pointsFromBase64(f.points, f.count);
  if (points === undefined) return undefined;
  return { method: f.method, sample: f.sample, seed: f.seed, seq: f.seq, total: f.total, ids: f.ids, points };
}

/** Writes the map (temporary file + rename, so a reader never sees half a file). */
export async function writeCached(path: string, dir: string, collection: string, gen: Generation, r: MapResult): Promise<void> {
  const points = r.points instanceof Float32Array ? r.points : Float32Array.from(r.points);
  const file: CacheFile = {
    format: CACHE_FORMAT, version: CACHE_VERSION, collection, cid: gen.cid, created: gen.created,
    method: r.method, sample: r.sample, seed: r.seed, seq: r.seq, total: r.total, count: r.ids.length, ids: r.ids, points: pointsToBase64(points),
  };
  await mkdir(join(dir, collection), { recursive: true });
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await writeFile(tmp, JSON.stringify(file));
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}
