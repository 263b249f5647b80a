export {
  createRemoteEncoder, RemoteEncoder, planBatches, estimateTokens,
  type RemoteEncoderOptions, type RemoteEncoderSpec, type RemoteEncodeOptions, type RemoteUsage,
} from './openai.js';
export { type BackoffOptions } from './retry.js';
export { textHash, CHECKPOINT_VERSION } from './checkpoint.js';
