/**
 * `omnivec/db`: the embedded vector database (docs/db.md) — `openDatabase`, collections, records,
 * the `where` filter language. Loads better-sqlite3 (native) and the indexes; no encoder, server
 * or map code.
 */
export { OmnivecError, type ErrorCode } from '../errors.js';
export { openDatabase, Database, type OpenOptions, type CreateCollectionOptions } from './database.js';
export { migrateCollection, type MigrateOptions, type MigrateReport } from './migrate.js';
export {
  Collection, type CollectionInfo, type QueryOptions, type QueryResult, type BatchQueryResult, type GetOptions, type GetResult,
  type WriteOptions, type VerifyReport, type EvaluateReport, type EncoderSpec, type IndexStatus,
} from './collection.js';
export type { RecordInput, ColumnarInput, RecordsInput } from './records.js';
export type { Where, WhereDocument, Metadata } from './where.js';
