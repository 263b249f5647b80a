import { crc32 } from 'node:zlib';
import { OmnivecError } from '../errors.js';
import type { Metric } from '../vector/metric.js';
import { metricCode, metricFromCode } from '../vector/metric.js';
import { BinaryReader, type BinaryWriter } from './binary.js';

/**
 * The 64-byte header that starts every binary file omnivec writes (docs/file-format.md):
 *
 *   0  magic "OMNIVEC\0"     8 bytes
 *   8  format version        u16   (1; 2 for a segmented index, flags bit 0 set; 3 for a payload
 *                                  without float vectors, flags bit 1 set)
 *  10  kind                  u16   (1 flat, 2 ivf, 3 hnsw)
 *  12  dim                   u32
 *  16  metric                u8    (0 l2, 1 ip, 2 cosine), then 3 zero bytes
 *  20  flags                 u32   (bit 0: the payload is a segment container; bit 1: the float
 *                                  vectors are kept outside the file, version 3; other bits 0)
 *  24  count                 u64   live vectors
 *  32  payload length        u64   bytes after the header
 *  40  payload CRC-32        u32
 *  44  header CRC-32         u32   of bytes 0–43
 *  48  reserved              16 zero bytes
 *
 * All little-endian. A reader refuses a wrong magic (foreign file), a version newer than it knows
 * (unsupported_version), a bad header checksum, a payload shorter or longer than declared
 * (truncated), and a payload checksum mismatch (altered).
 */
export const MAGIC = new Uint8Array([0x4f, 0x4d, 0x4e, 0x49, 0x56, 0x45, 0x43, 0x00]); // "OMNIVEC\0"
export const HEADER_BYTES = 64;
/** The version an index in one segment is written with (every file before segments). */
export const FORMAT_VERSION = 1;
/** The version of a file whose payload is a segment container (docs/indexes/segments.md). */
export const SEGMENTED_VERSION = 2;
/**
 * The version of a file written without its float vectors (`vectors: false`, issue 17): the
 * payload of each kind leaves them out and the loader fills them from an external source. A
 * reader of versions 1–2 refuses it as too new instead of misreading it.
 */
export const EXTERNAL_VECTORS_VERSION = 3;
/** The newest version this reader knows. */
export const LATEST_VERSION = EXTERNAL_VECTORS_VERSION;
/** Header flag: the payload lists several segments, each a payload of the header's kind. */
export const FLAG_SEGMENTED = 1;
/** Header flag (version 3): the payload holds no float vectors; they come from outside (docs/file-format.md). */
export const FLAG_EXTERNAL_VECTORS = 2;

export const FILE_KINDS = { flat: 1, ivf: 2, hnsw: 3 } as const;
export type FileKind = keyof typeof FILE_KINDS;

export interface FileHeader {
  version: number;
  kind: FileKind;
  dim: number;
  metric: Metric;
  count: number;
  payloadLength: number;
  payloadCrc: number;
  /** Bit 0 (FLAG_SEGMENTED, version ≥ 2): a segment container; bit 1 (FLAG_EXTERNAL_VECTORS, version 3): no float vectors. */
  flags: number;
}

function kindFromCode(code: number): FileKind {
  for (const [k, v] of Object.entries(FILE_KINDS)) if (v === code) return k as FileKind;
  throw new OmnivecError('corrupt_file', `file header: unknown kind code ${code}: expected 1 (flat), 2 (ivf) or 3 (hnsw)`);
}

/** CRC-32 over a sequence of chunks. */
export function crcOf(chunks: readonly Uint8Array[]): number {
  let c = 0;
  // Empty chunks are skipped: Node's crc32 returns 0 for an empty view of a zero-byte buffer,
  // dropping the running value (seen with an empty typed-array section written without a copy).
  for (const ch of chunks) if (ch.length > 0) c = crc32(ch, c);
  return c >>> 0;
}

/** Builds the header for a payload already written. */
export function encodeHeader(h: Omit<FileHeader, 'version' | 'payloadLength' | 'payloadCrc' | 'flags'> & { flags?: number }, payload: BinaryWriter): Uint8Array {
  const flags = h.flags ?? 0;
  const buf = new Uint8Array(HEADER_BYTES);
  const v = new DataView(buf.buffer);
  buf.set(MAGIC, 0);
  // The oldest version that can say what the flags say: files without vectors-less payloads are as before.
  const version = (flags & FLAG_EXTERNAL_VECTORS) !== 0 ? EXTERNAL_VECTORS_VERSION : (flags & FLAG_SEGMENTED) !== 0 ? SEGMENTED_VERSION : FORMAT_VERSION;
  v.setUint16(8, version, true);
  v.setUint16(10, FILE_KINDS[h.kind], true);
  v.setUint32(12, h.dim, true);
  v.setUint8(16, metricCode(h.metric));
  v.setUint32(20, flags, true);
  v.setBigUint64(24, BigInt(h.count), true);
  v.setBigUint64(32, BigInt(payload.length), true);
  v.setUint32(40, crcOf(payload.chunks()), true);
  v.setUint32(44, crc32(buf.subarray(0, 44)) >>> 0, true);
  return buf;
}

/**
 * Parses and checks the 64-byte header (magic, version, header checksum) and that the payload
 * length it declares matches `payloadBytes` (the file's length minus the header).
 */
export function decodeHeader(bytes: Uint8Array, payloadBytes: number, what = 'index file'): FileHeader {
  if (bytes.length < HEADER_BYTES) {
    if (bytes.length >= 8 && !startsWithMagic(bytes)) throw foreign(what);
    throw new OmnivecError('corrupt_file', `${what}: truncated: expected at least ${HEADER_BYTES} header bytes, got ${bytes.length}`);
  }
  if (!startsWithMagic(bytes)) throw foreign(what);
  const v = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const version = v.getUint16(8, true);
  const storedHeaderCrc = v.getUint32(44, true);
  const headerCrc = crc32(bytes.subarray(0, 44)) >>> 0;
  if (version > LATEST_VERSION) {
    throw new OmnivecError('unsupported_version',
      `${what}: format version ${version} is newer than this omnivec reads (versions 1 to ${LATEST_VERSION}); upgrade omnivec`,
      { version, supported: LATEST_VERSION });
  }
  if (version < 1) throw new OmnivecError('corrupt_file', `${what}: format version ${version} does not exist (expected 1 to ${LATEST_VERSION})`);
  if (storedHeaderCrc !== headerCrc) {
    throw new OmnivecError('corrupt_file', `${what}: header checksum mismatch (stored ${hex(storedHeaderCrc)}, computed ${hex(headerCrc)}): the header was altered`);
  }
  const header: FileHeader = {
    version,
    kind: kindFromCode(v.getUint16(10, true)),
    dim: v.getUint32(12, true),
    metric: metricFromCode(v.getUint8(16)),
    count: Number(v.getBigUint64(24, true)),
    payloadLength: Number(v.getBigUint64(32, true)),
    payloadCrc: v.getUint32(40, true),
    flags: v.getUint32(20, true),
  };
  // Version 1 wrote zero flags; version 2 is exactly a segment container; version 3 is a
  // vectors-less payload, in one segment or several.
  const okFlags = version === FORMAT_VERSION ? [0] : version === SEGMENTED_VERSION ? [FLAG_SEGMENTED]
    : [FLAG_EXTERNAL_VECTORS, FLAG_EXTERNAL_VECTORS | FLAG_SEGMENTED];
  if (!okFlags.includes(header.flags)) {
    throw new OmnivecError('corrupt_file',
      `${what}: header flags 0x${header.flags.toString(16)}: expected ${okFlags.map((f) => `0x${f.toString(16)}`).join(' or ')} in a version-${version} file`);
  }
  if (payloadBytes !== header.payloadLength) {
    throw new OmnivecError('corrupt_file',
      `${what}: ${payloadBytes < header.payloadLength ? 'truncated' : 'has trailing bytes'}: the header declares a payload of ${header.payloadLength} bytes, the file has ${payloadBytes}`);
  }
  return header;
}

/**
 * Parses and checks the header and the payload's length and checksum (`verifyChecksum: false`: not
 * the payload's); returns the header and a reader over the payload.
 */
export function decodeFile(bytes: Uint8Array, what = 'index file', options: { verifyChecksum?: boolean } = {}): { header: FileHeader; payload: BinaryReader } {
  const header = decodeHeader(bytes, bytes.length - HEADER_BYTES, what);
  const payloadBytes = bytes.subarray(HEADER_BYTES);
  const crc = options.verifyChecksum === false ? header.payloadCrc : crcOf([payloadBytes]);
  if (crc !== header.payloadCrc) {
    throw new OmnivecError('corrupt_file', `${what}: payload checksum mismatch (stored ${hex(header.payloadCrc)}, computed ${hex(crc)}): the file was altered or damaged`);
  }
  return { header, payload: new BinaryReader(payloadBytes, what, HEADER_BYTES) };
}

function startsWithMagic(b: Uint8Array): boolean {
  for (let i = 0; i < MAGIC.length; i++) if (b[i] !== MAGIC[i]) return false;
  return true;
}

function foreign(what: string): OmnivecError {
  return new OmnivecError('corrupt_file', `${what}: not an omnivec file: expected the magic bytes "OMNIVEC\\0" at offset 0`);
}

function hex(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0');
}
