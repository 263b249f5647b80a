/**
 * Results keep their typed arrays (style: typed arrays at every boundary), but a user's first move
 * is often `JSON.stringify(result)`, which writes a Float32Array as `{"0": 0.07, …}`. `jsonable`
 * gives a result object a non-enumerable `toJSON` that writes typed arrays (also inside arrays) as
 * plain arrays of numbers; non-finite numbers become null, as JSON.stringify writes them.
 */
function plain(v: unknown): unknown {
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number | bigint>, (x) => (typeof x === 'bigint' ? Number(x) : x));
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

function toJSON(this: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(this)) out[key] = plain(this[key]);
  return out;
}

/** Returns `result` with a non-enumerable `toJSON` (spreading the object does not copy it). */
export function jsonable<T extends object>(result: T): T {
  Object.defineProperty(result, 'toJSON', { value: toJSON, enumerable: false, configurable: true, writable: true });
  return result;
}
