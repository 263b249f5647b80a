/**
 * Feature vectors: one-hot, multi-hot, numeric and hashed fields of a row concatenated into one
 * vector by a JSON schema (docs/features.md).
 */
export {
  parseFeatureSchema, MAX_FEATURE_DIM, FEATURE_SCHEMA_VERSION,
  type FeatureSchema, type FeatureField, type FeatureType, type OneHotField, type MultiHotField, type NumericField,
  type HashedField, type UnknownPolicy, type MissingPolicy, type NumericScale, type NumericMissing,
  type ResolvedSchema, type ResolvedField,
} from './schema.js';
export { FeatureEncoder, scaleValue, type FeatureSlice, type FeatureComponent } from './encoder.js';
export { FeatureFitter, fitFeatureSchema, type FieldFitReport } from './fit.js';
export { murmurHash3, murmurHash3String, hashSlot } from './hash.js';
export type { FeatureRow } from './values.js';
