import { OmnivecError, describe } from '../errors.js';

/**
 * The one rule for collection names (docs/hardening.md §4), used by `createCollection` and by every
 * server route that takes `:name`, so a name the database accepts is always routable.
 */
export const MAX_COLLECTION_NAME = 128;

const NAME = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,${MAX_COLLECTION_NAME - 1}}$`);

/** True when `name` follows the rule. */
export function isCollectionName(name: unknown): name is string {
  return typeof name === 'string' && NAME.test(name);
}

/** Returns `name`, or throws `invalid_argument` saying what a name may hold. */
export function checkCollectionName(name: unknown, what = 'collection name'): string {
  if (!isCollectionName(name)) {
    throw new OmnivecError('invalid_argument',
      `${what}: expected 1–${MAX_COLLECTION_NAME} characters of letters, digits, '.', '_' or '-', starting with a letter or digit, got ${describe(name)}${typeof name === 'string' && name.length > MAX_COLLECTION_NAME ? ` (${name.length} characters)` : ''}`);
  }
  return name;
}
