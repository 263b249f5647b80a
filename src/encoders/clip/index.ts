/** CLIP: the original BPE tokenizer, the two towers, zero-shot classification (docs/clip.md). */
export {
  ClipTokenizer, loadClipTokenizer, cleanClipText, htmlUnescape, bytesToUnicode,
  CLIP_CONTEXT_LENGTH, CLIP_MERGES, START_OF_TEXT, END_OF_TEXT, BPE_GZ_FILE, CLIP_TOKENIZER_FILES,
  type ClipEncoding, type ClipBatch, type ClipEncodeOptions, type ClipBatchOptions, type ClipVocabSource,
} from './bpe.js';
export {
  createClip, zeroShotScores, CLIP_IMAGE_SPEC, DEFAULT_TEMPLATES, CLIP_LOGIT_SCALE,
  type Clip, type ClipOptions, type ClipEncoderSpec, type ClipTower, type ZeroShotOptions, type LabelProbability,
} from './clip.js';
