/**
 * Import and export of the vector file formats people already have (docs/import-export.md):
 * JSON Lines, CSV, NumPy .npy, TEXMEX .fvecs/.ivecs, word2vec text and binary, and the TensorFlow
 * Embedding Projector's TSV. Readers stream: they read the file in blocks and yield records.
 */
import { OmnivecError } from '../errors.js';
import { fileSize } from './block-reader.js';
import { FORMATS, checkReadOptions, type ImportFormat, type OpenedRecords, type ReadOptions } from './common.js';
import { openCsv } from './csv.js';
import { detectFormat } from './detect.js';
import { openJsonl } from './jsonl.js';
import { openNpy } from './npy.js';
import { openProjector } from './projector.js';
import { openFvecs } from './vecs.js';
import { openWord2vecBinary, openWord2vecText } from './word2vec.js';

export type { ImportRecord, ImportFormat, ReadOptions, OpenedRecords, RecordSource } from './common.js';
export { FORMATS, formatFloat32, BATCHES, type BatchedRecords } from './common.js';
export { detectFormat } from './detect.js';
export { writeJsonl } from './jsonl.js';
export { writeCsv } from './csv.js';
export { writeNpy } from './npy.js';
export { readFvecs, readIvecs, writeFvecs, writeIvecs } from './vecs.js';
export { writeWord2vec } from './word2vec.js';
export { writeProjector } from './projector.js';

/**
 * Opens a vector file: checks it exists (`not_found`), settles the format (`options.format`, else
 * `detectFormat`), reads what it needs of the header (the dimension and count when the format
 * states them, refusing a malformed header at once) and returns the records as an async iterable
 * that reads the file in blocks, so files larger than memory stream through. Each iteration opens
 * the file anew and closes it when the loop ends (also on `break` or an error).
 */
export async function openRecords(path: string, options: ReadOptions = {}): Promise<OpenedRecords> {
  if (typeof path !== 'string' || path === '') {
    throw new OmnivecError('invalid_argument', `path: expected a file name, got ${typeof path === 'string' ? 'an empty string' : typeof path}`);
  }
  if (options === null || typeof options !== 'object') {
    throw new OmnivecError('invalid_argument', `options: expected an object, got ${options === null ? 'null' : typeof options}`);
  }
  checkReadOptions(options);
  await fileSize(path);
  const format = options.format ?? detectFormat(path);
  if (!FORMATS.includes(format)) {
    throw new OmnivecError('invalid_argument', `format: expected one of ${FORMATS.join(', ')}, got ${JSON.stringify(format)}`);
  }
  if (options.metadataPath !== undefined && format !== 'projector') {
    throw new OmnivecError('invalid_argument', `metadataPath: only the projector format has a separate metadata file, and ${path} is ${format}`);
  }
  const open = OPENERS[format];
  return open(path, options);
}

const OPENERS: Record<ImportFormat, (path: string, options: ReadOptions) => Promise<OpenedRecords>> = {
  jsonl: openJsonl,
  csv: openCsv,
  npy: openNpy,
  fvecs: openFvecs,
  word2vec: openWord2vecText,
  'word2vec-binary': openWord2vecBinary,
  projector: openProjector,
};
