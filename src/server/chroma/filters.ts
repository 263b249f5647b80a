/**
 * Chroma's `where` and `where_document` in omnivec's filter language (docs/filters.md). omnivec's
 * language was written as a superset of Chroma's, so most of a Chroma filter passes as it is:
 * the comparison operators, `$in` / `$nin`, `$and` / `$or`, `$ne` / `$nin` matching records
 * without the key (Chroma's rule and MongoDB's). What differs:
 *
 * - metadata `$contains` / `$not_contains` (array membership) become `{ field: v }` /
 *   `{ field: { $ne: v } }`: an array field matches an equality when any element does;
 * - `where_document` `$regex`, `$not_regex`, `$matches`, `$not_matches` are refused (omnivec's
 *   document filter is a substring test; a regex needs a scan of every document);
 * - an empty object is no filter.
 *
 * The result goes through omnivec's own checks, whose messages name the path of a bad part.
 */
import { invalidArgument, describe } from '../../errors.js';
import type { Where, WhereDocument } from '../../db/where.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function translateWhere(w: unknown, path: string): unknown {
  if (!isObject(w)) return w; // omnivec's check names what came
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(w)) {
    if (key === '$and' || key === '$or') {
      out[key] = Array.isArray(value) ? value.map((x, i) => translateWhere(x, `${path}.${key}[${i}]`)) : value;
      continue;
    }
    if (!isObject(value)) { out[key] = value; continue; }
    const cond: Record<string, unknown> = {};
    for (const [op, operand] of Object.entries(value)) {
      if (op === '$contains') cond.$eq = operand;
      else if (op === '$not_contains') cond.$ne = operand;
      else cond[op] = operand;
    }
    out[key] = cond;
  }
  return out;
}

/** A Chroma `where` as omnivec's; undefined for none (absent, null or `{}`). */
export function chromaWhere(where: unknown): Where | undefined {
  if (where === undefined || where === null) return undefined;
  if (isObject(where) && Object.keys(where).length === 0) return undefined;
  if (!isObject(where)) throw invalidArgument(`where: expected an object such as {"genre": "jazz"} or {"$and": [...]}, got ${describe(where)}`);
  return translateWhere(where, 'where') as Where;
}

const UNSUPPORTED_DOCUMENT_OPS = new Set(['$regex', '$not_regex', '$matches', '$not_matches']);

function checkDocumentOps(w: unknown, path: string): void {
  if (!isObject(w)) return;
  for (const [key, value] of Object.entries(w)) {
    if (UNSUPPORTED_DOCUMENT_OPS.has(key)) {
      throw invalidArgument(`${path}.${key}: not supported by this server (omnivec's document filter is a substring test); use $contains / $not_contains, or omnivec's full-text query (/api/collections/{name}/query with fullText)`);
    }
    if ((key === '$and' || key === '$or') && Array.isArray(value)) value.forEach((x, i) => checkDocumentOps(x, `${path}.${key}[${i}]`));
  }
}

/** A Chroma `where_document` as omnivec's `whereDocument`; undefined for none. */
export function chromaWhereDocument(whereDocument: unknown): WhereDocument | undefined {
  if (whereDocument === undefined || whereDocument === null) return undefined;
  if (isObject(whereDocument) && Object.keys(whereDocument).length === 0) return undefined;
  if (!isObject(whereDocument)) throw invalidArgument(`where_document: expected an object such as {"$contains": "text"}, got ${describe(whereDocument)}`);
  checkDocumentOps(whereDocument, 'where_document');
  return whereDocument as WhereDocument;
}
