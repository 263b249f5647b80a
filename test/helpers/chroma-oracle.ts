/**
 * Oracles for the Chroma API tests, written from Chroma's documented semantics rather than from
 * omnivec's code: brute-force distances in float64 (l2 squared, 1 − a·b, 1 − cos), a `where`
 * evaluator (a field's value equals / compares; arrays for $contains; $ne / $nin also match a
 * missing key), a `where_document` evaluator, and seeded data.
 */
export type Space = 'l2' | 'cosine' | 'ip';
export type Meta = Record<string, string | number | boolean | string[] | number[] | boolean[]>;

/** mulberry32: a small seeded generator. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n vectors of dim components in [-1, 1), as float32 values (what the server stores). */
export function vectors(n: number, dim: number, seed: number): number[][] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Array.from(Float32Array.from({ length: dim }, () => r() * 2 - 1)));
}

export function distance(space: Space, a: readonly number[], b: readonly number[]): number {
  let dot = 0; let na = 0; let nb = 0; let l2 = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!; na += a[i]! * a[i]!; nb += b[i]! * b[i]!; l2 += (a[i]! - b[i]!) ** 2;
  }
  if (space === 'l2') return l2;
  if (space === 'ip') return 1 - dot;
  return 1 - dot / Math.sqrt(na * nb);
}

/** The k nearest ids and their distances, by brute force. */
export function bruteForce(space: Space, data: readonly number[][], ids: readonly string[], q: readonly number[], k: number, keep: (i: number) => boolean = () => true): { ids: string[]; distances: number[] } {
  const all = data.map((v, i) => ({ id: ids[i]!, i, d: distance(space, q, v) })).filter((x) => keep(x.i));
  all.sort((x, y) => x.d - y.d);
  const top = all.slice(0, k);
  return { ids: top.map((x) => x.id), distances: top.map((x) => x.d) };
}

type Scalar = string | number | boolean;

function fieldHolds(value: Meta[string] | undefined, op: string, operand: unknown): boolean {
  const values: Scalar[] = value === undefined ? [] : Array.isArray(value) ? value : [value];
  const eq = (x: Scalar): boolean => x === operand;
  switch (op) {
    case '$eq': return values.some(eq);
    case '$ne': return !values.some(eq);
    case '$gt': return values.some((x) => typeof x === 'number' && x > (operand as number));
    case '$gte': return values.some((x) => typeof x === 'number' && x >= (operand as number));
    case '$lt': return values.some((x) => typeof x === 'number' && x < (operand as number));
    case '$lte': return values.some((x) => typeof x === 'number' && x <= (operand as number));
    case '$in': return values.some((x) => (operand as Scalar[]).includes(x));
    case '$nin': return !values.some((x) => (operand as Scalar[]).includes(x));
    case '$contains': return values.some(eq);
    case '$not_contains': return !values.some(eq);
    default: throw new Error(`oracle: unknown operator ${op}`);
  }
}

export function whereHolds(where: Record<string, unknown>, meta: Meta | null): boolean {
  return Object.entries(where).every(([key, cond]) => {
    if (key === '$and') return (cond as Record<string, unknown>[]).every((w) => whereHolds(w, meta));
    if (key === '$or') return (cond as Record<string, unknown>[]).some((w) => whereHolds(w, meta));
    const value = meta?.[key];
    if (cond !== null && typeof cond === 'object' && !Array.isArray(cond)) {
      return Object.entries(cond).every(([op, operand]) => fieldHolds(value, op, operand));
    }
    return fieldHolds(value, '$eq', cond);
  });
}

export function documentHolds(w: Record<string, unknown>, doc: string | null): boolean {
  return Object.entries(w).every(([op, operand]) => {
    if (op === '$and') return (operand as Record<string, unknown>[]).every((x) => documentHolds(x, doc));
    if (op === '$or') return (operand as Record<string, unknown>[]).some((x) => documentHolds(x, doc));
    if (op === '$contains') return doc !== null && doc.includes(operand as string);
    if (op === '$not_contains') return doc === null || !doc.includes(operand as string);
    throw new Error(`oracle: unknown document operator ${op}`);
  });
}
