import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OmnivecError } from '../../errors.js';
import { parseFeatureSchema } from './schema.js';

function refused(schema: unknown, message: RegExp, code = 'invalid_argument'): void {
  assert.throws(() => parseFeatureSchema(schema), (e: unknown) => {
    assert.ok(e instanceof OmnivecError);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

test('defaults are written out', () => {
  const s = parseFeatureSchema(JSON.stringify({
    fields: [
      { name: 'cast', type: 'multihot' },
      { name: 'duration', type: 'numeric' },
      { name: 'genre', type: 'onehot', categories: ['a', 'b'] },
      { name: 'tags', type: 'hashed', dims: 64 },
    ],
  }));
  assert.deepEqual(s, {
    version: 1,
    normalize: false,
    fields: [
      { name: 'cast', type: 'multihot', weight: 1, maxCategories: 1000, minCount: 1, unknown: 'ignore', missing: 'zero', separator: '|' },
      { name: 'duration', type: 'numeric', weight: 1, scale: 'standard', missing: 'mean' },
      { name: 'genre', type: 'onehot', weight: 1, maxCategories: 1000, minCount: 1, unknown: 'ignore', missing: 'zero', categories: ['a', 'b'] },
      { name: 'tags', type: 'hashed', weight: 1, dims: 64, signed: true, seed: 0, missing: 'zero' },
    ],
  });
});

test('malformed schemas are refused naming the field, the option, what was expected and what came', () => {
  refused('{"fields": [', /^schema: expected JSON, got invalid JSON/);
  refused([], /^schema: expected an object \{ "fields": \[\.\.\.\], "normalize"\?: false \}, got an array of length 0$/);
  refused({ fields: [] }, /^schema\.fields: expected a non-empty array of fields, got an array of length 0$/);
  refused({ fields: [{ type: 'onehot' }] }, /^schema\.fields\[0\]\.name: expected a non-empty string, got undefined$/);
  refused({ fields: [{ name: 'g', type: 'category' }] },
    /^schema\.fields\[0\] \("g"\)\.type: expected one of "onehot", "multihot", "numeric", "hashed", got the string "category"$/);
  refused({ fields: [{ name: 'g', type: 'onehot', unknown: 'skip' }] },
    /^schema\.fields\[0\] \("g"\)\.unknown: expected one of "ignore", "error", "bucket", got the string "skip"$/);
  refused({ fields: [{ name: 'c', type: 'multihot', seperator: ',' }] },
    /^schema\.fields\[0\] \("c"\)\.seperator: not an option of a multihot field \(expected one of name, type, weight, categories, maxCategories, minCount, unknown, missing, separator\)$/);
  refused({ fields: [{ name: 'g', type: 'onehot', separator: ',' }] }, /\("g"\)\.separator: not an option of a onehot field/);
  refused({ fields: [{ name: 'd', type: 'numeric', scale: 'zscore' }] }, /\("d"\)\.scale: expected one of "standard", "minmax", "none", "log", got the string "zscore"$/);
  refused({ fields: [{ name: 'd', type: 'numeric', missing: 'median' }] }, /\("d"\)\.missing: expected one of "mean", "zero", "error"/);
  refused({ fields: [{ name: 'd', type: 'numeric', std: -1 }] }, /\("d"\)\.std: expected a number of at least 0, got the number -1$/);
  refused({ fields: [{ name: 'd', type: 'numeric', min: 3, max: 1 }] }, /\("d"\)\.max: expected a number of at least min \(3\), got the number 1$/);
  refused({ fields: [{ name: 'd', type: 'numeric', mean: '3' }] }, /\("d"\)\.mean: expected a finite number, got the string "3"$/);
  refused({ fields: [{ name: 't', type: 'hashed' }] }, /^schema\.fields\[0\] \("t"\)\.dims: expected the number of columns, an integer from 1 to 65536, got undefined$/);
  refused({ fields: [{ name: 't', type: 'hashed', dims: 0 }] }, /\("t"\)\.dims: expected an integer from 1 to 65536, got the number 0$/);
  refused({ fields: [{ name: 't', type: 'hashed', dims: 8, seed: -1 }] }, /\("t"\)\.seed: expected an integer from 0 to 4294967295/);
  refused({ fields: [{ name: 't', type: 'hashed', dims: 8, signed: 'yes' }] }, /\("t"\)\.signed: expected true or false, got the string "yes"$/);
  refused({ fields: [{ name: 'g', type: 'onehot', weight: 0 }] }, /\("g"\)\.weight: expected a number greater than 0, got the number 0$/);
  refused({ fields: [{ name: 'g', type: 'onehot', maxCategories: 1.5 }] }, /\("g"\)\.maxCategories: expected an integer from 1 to 65536, got the number 1\.5$/);
  refused({ fields: [{ name: 'g', type: 'onehot', categories: [] }] }, /\("g"\)\.categories: expected a non-empty array of category names/);
  refused({ fields: [{ name: 'g', type: 'onehot', categories: ['a', 'a'] }] }, /\("g"\)\.categories\[1\]: expected distinct categories, got "a" a second time$/);
  refused({ fields: [{ name: 'g', type: 'onehot', categories: ['a', ' b'] }] }, /\("g"\)\.categories\[1\]: expected a non-empty string without leading or trailing spaces, got the string " b"$/);
  refused({ fields: [{ name: 'g', type: 'onehot', categories: [3] }] }, /\("g"\)\.categories\[0\]: expected a non-empty string .*, got the number 3$/);
  refused({ fields: [{ name: 'c', type: 'multihot', categories: ['a|b'] }] }, /\("c"\)\.categories\[0\]: expected a category without the separator "\|"/);
  refused({ fields: [{ name: 'g', type: 'onehot' }, { name: 'g', type: 'numeric' }] }, /^schema\.fields\[1\]\.name: expected distinct field names, got "g" a second time$/);
  refused({ fields: [{ name: 'g', type: 'onehot' }], normalise: true }, /^schema\.normalise: not a schema option \(expected fields, normalize, version\)$/);
  refused({ fields: [{ name: 'g', type: 'onehot' }], normalize: 1 }, /^schema\.normalize: expected true or false, got the number 1$/);
  refused({ version: 2, fields: [{ name: 'g', type: 'onehot' }] }, /^schema\.version: expected 1 .*got 2/, 'unsupported_version');
});
