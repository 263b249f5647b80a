/** The vector the crash test writes for (id, version): a pure function, so the test can check every stored vector's bytes after a kill. */
import { Random } from '../../src/vector/random.js';

export const CRASH_DIM = 8;

export function crashVector(id: string, version: number): Float32Array {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619) >>> 0;
  const rng = new Random((h ^ Math.imul(version, 2654435761)) >>> 0);
  const v = new Float32Array(CRASH_DIM);
  for (let j = 0; j < CRASH_DIM; j++) v[j] = rng.gaussian();
  return v;
}
