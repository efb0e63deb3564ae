/**
 * The detector ensemble file: a JSON header with the ensemble's thresholds and the byte length
 * of each member, the members as detector files (detector-format.ts, each versioned and hashed
 * on its own), then a SHA-256 over all of it. Read exactly as written or refused with a
 * DetectorError.
 *
 * Layout (integers little-endian):
 *
 *   offset       bytes  field
 *   0            8      magic "X0TDENSB"
 *   8            2      format version (u16) = 1
 *   10           2      member count K (u16), 1..ensembleMembersMax
 *   12           4      header length H in bytes (u32)
 *   16           H      header: canonical JSON {format, thresholds: {node, link}, memberBytes: [K lengths]}
 *   16+H         sum    the K member detector files, in order
 *   end-32       32     SHA-256 of every byte before it
 */
import { createHash } from 'node:crypto';
import { DetectorError, DetectorErrorCode, detectorHeaderBytesMax, detectorModelBytesMax } from './detector-errors.js';

/** The 8 bytes every ensemble file starts with. */
export const ensembleMagic = new TextEncoder().encode('X0TDENSB');
/** The ensemble file version this code writes and reads. */
export const ensembleFormatVersion = 1;
/** Most members of an ensemble (inference time grows with each). */
export const ensembleMembersMax = 8;
/** Largest member detector file, in bytes. */
const memberBytesMax = 20 + detectorHeaderBytesMax + detectorModelBytesMax + 32;
const prefixBytes = 16;
const hashBytes = 32;
const ensembleHeaderBytesMax = 1 << 12;
/** Largest ensemble file, in bytes. */
export const ensembleBytesMax = prefixBytes + ensembleHeaderBytesMax + ensembleMembersMax * memberBytesMax + hashBytes;
const formatName = 'x0tta6bl4/detector-ensemble';

/** What an ensemble file holds: the member files and the ensemble's thresholds. */
export interface EnsembleParts {
  readonly members: readonly Uint8Array[];
  readonly nodeThreshold: number;
  readonly linkThreshold: number;
}

function formatError(message: string): DetectorError {
  return new DetectorError(DetectorErrorCode.ERR_DETECTOR_FORMAT, `decodeEnsemble: ${message}`);
}

function truncated(message: string): DetectorError {
  return new DetectorError(DetectorErrorCode.ERR_DETECTOR_TRUNCATED, `decodeEnsemble: truncated: ${message}`);
}

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

function headerText(nodeThreshold: number, linkThreshold: number, memberBytes: readonly number[]): string {
  return JSON.stringify({ format: formatName, thresholds: { node: nodeThreshold, link: linkThreshold }, memberBytes });
}

/** The ensemble as file bytes (see the layout above). */
export function encodeEnsemble(members: readonly Uint8Array[], nodeThreshold: number, linkThreshold: number): Uint8Array {
  const header = new TextEncoder().encode(headerText(nodeThreshold, linkThreshold, members.map((m) => m.length)));
  const bodyEnd = prefixBytes + header.length + members.reduce((sum, m) => sum + m.length, 0);
  const bytes = new Uint8Array(bodyEnd + hashBytes);
  const view = new DataView(bytes.buffer);
  bytes.set(ensembleMagic, 0);
  view.setUint16(8, ensembleFormatVersion, true);
  view.setUint16(10, members.length, true);
  view.setUint32(12, header.length, true);
  bytes.set(header, prefixBytes);
  let at = prefixBytes + header.length;
  for (const member of members) {
    bytes.set(member, at);
    at += member.length;
  }
  bytes.set(sha256(bytes.subarray(0, bodyEnd)), bodyEnd);
  return bytes;
}

/** Parses the canonical header; returns thresholds and member lengths. */
function parseHeader(text: string, count: number): { nodeThreshold: number; linkThreshold: number; memberBytes: number[] } {
  let parsed: { thresholds?: { node?: unknown; link?: unknown }; memberBytes?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch (error) {
    throw formatError(`header is not JSON (${(error as Error).message})`);
  }
  const node = parsed?.thresholds?.node;
  const link = parsed?.thresholds?.link;
  const memberBytes = parsed?.memberBytes;
  if (typeof node !== 'number' || typeof link !== 'number' || !Number.isFinite(node) || !Number.isFinite(link)) throw formatError('header.thresholds must hold finite node and link numbers');
  if (!Array.isArray(memberBytes) || memberBytes.length !== count || !memberBytes.every((n) => Number.isInteger(n) && n > 0 && n <= memberBytesMax)) {
    throw formatError(`header.memberBytes must list ${count} lengths in 1..${memberBytesMax}`);
  }
  if (headerText(node, link, memberBytes as number[]) !== text) throw formatError('header is not in canonical form (unknown keys, key order or whitespace)');
  return { nodeThreshold: node, linkThreshold: link, memberBytes: memberBytes as number[] };
}

/**
 * Decodes an ensemble file into its member files and thresholds. Refuses a file that is not one
 * (ERR_DETECTOR_FORMAT), of another version (ERR_DETECTOR_VERSION), cut short
 * (ERR_DETECTOR_TRUNCATED) or altered (ERR_DETECTOR_HASH). Members are checked when decoded.
 */
export function decodeEnsemble(bytes: Uint8Array): EnsembleParts {
  if (!ensembleMagic.every((byte, i) => bytes[i] === byte)) throw formatError('not an ensemble file (magic is not X0TDENSB)');
  if (bytes.length < prefixBytes) throw truncated(`${bytes.length} bytes, fewer than the ${prefixBytes}-byte prefix`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const version = view.getUint16(8, true);
  if (version !== ensembleFormatVersion) throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_VERSION, `decodeEnsemble: format version ${version}, this code reads version ${ensembleFormatVersion}`);
  const count = view.getUint16(10, true);
  if (count < 1 || count > ensembleMembersMax) throw formatError(`${count} members, expected 1..${ensembleMembersMax}`);
  const headerLength = view.getUint32(12, true);
  if (headerLength > ensembleHeaderBytesMax) throw formatError(`header of ${headerLength} bytes exceeds ${ensembleHeaderBytesMax}`);
  if (bytes.length < prefixBytes + headerLength) throw truncated(`${bytes.length} bytes, the prefix promises a header up to ${prefixBytes + headerLength}`);
  const text = new TextDecoder().decode(bytes.subarray(prefixBytes, prefixBytes + headerLength));
  const { nodeThreshold, linkThreshold, memberBytes } = parseHeader(text, count);
  const bodyEnd = prefixBytes + headerLength + memberBytes.reduce((sum, n) => sum + n, 0);
  if (bytes.length < bodyEnd + hashBytes) throw truncated(`${bytes.length} bytes, the header promises ${bodyEnd + hashBytes}`);
  if (bytes.length > bodyEnd + hashBytes) throw formatError(`${bytes.length - bodyEnd - hashBytes} trailing bytes after the hash`);
  const stored = bytes.subarray(bodyEnd);
  if (!sha256(bytes.subarray(0, bodyEnd)).every((byte, i) => byte === stored[i])) {
    throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_HASH, 'decodeEnsemble: SHA-256 mismatch: the header or members differ from what was written');
  }
  let at = prefixBytes + headerLength;
  const members = memberBytes.map((length) => {
    const member = bytes.subarray(at, at + length);
    at += length;
    return member;
  });
  return { members, nodeThreshold, linkThreshold };
}
