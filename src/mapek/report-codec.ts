import { ed25519SignatureBytes } from '../crypto/curve25519.js';
import { dataPayloadBytesMax } from '../crypto/data-frame.js';
import { nodeIdMax, type NodeId } from '../wire/ids.js';
import { checkCounts, type TransitReport } from './transit-accounting.js';

/**
 * The link messages that carry transit reports between nodes (docs/mapek.md, "Reports on the
 * wire"). They travel inside a link's secure session, as session plaintexts whose first byte is
 * a link message type (>= 0x80, SecureNode.linkMessageTypeMin), so the routing core never sees
 * them. All integers are big-endian; the encoding is canonical (one byte string per value) and
 * the decoder refuses anything else with a ReportError naming the field.
 *
 *   reports (0x81), signed by the reporter's identity key (Ed25519, certified by its SVID):
 *     u8 type | u32 reporter | u32 window | u8 part | u8 count
 *     count x (u32 subject | u32 handedTo | u32 receivedFrom | u32 sent | u32 received)
 *     64-byte Ed25519 signature over reportSigningContext || everything before it
 *   certificate request (0x82): u8 type | u32 node
 *   certificate fragment (0x83): u8 type | u32 node | u16 totalBytes | u16 offset | bytes
 *
 * The type byte is also the version: a later format takes a new type, and a node that does not
 * know it drops the message (ERR_REPORT_TYPE).
 */

/** Link message types (the first byte). */
export const ReportMessageType = { reports: 0x81, certificateRequest: 0x82, certificateFragment: 0x83 } as const;

/** Length of a monitoring window; every node cuts its counters at multiples of it (epoch milliseconds). */
export const reportWindowMs = 1000;
/** Most reports in one signed bundle; a node with more neighbours sends several parts. */
export const reportsPerBundleMax = 50;
/** Most parts of one reporter's window (so a node reports about at most 400 neighbours). */
export const bundlePartsMax = 8;
/** Bytes of a certificate fragment's certificate bytes (all but the last fragment carry exactly this many). */
export const certificateChunkBytes = 1024;
/** Largest certificate carried (an SVID with hybrid keys and signatures is about 7 kB). */
export const certificateBytesMax = 16_384;

const bundleHeaderBytes = 1 + 4 + 4 + 1 + 1;
const reportBytes = 5 * 4;
const requestBytes = 1 + 4;
const fragmentHeaderBytes = 1 + 4 + 2 + 2;
const u32Max = 0xffff_ffff;

/** Bytes of the largest bundle: within one link message (one session data frame). */
export const bundleBytesMax = bundleHeaderBytes + reportsPerBundleMax * reportBytes + ed25519SignatureBytes;

/** What a reporter's signature covers, ahead of the bundle's bytes: a signature for anything else never verifies here. */
export const reportSigningContext = new TextEncoder().encode('x0tta6bl4 transit reports v1\0');

// Both sizes must fit one link message; if a limit above grows past it, this stops the node at load.
if (bundleBytesMax > dataPayloadBytesMax || fragmentHeaderBytes + certificateChunkBytes > dataPayloadBytesMax) {
  throw new RangeError(`report-codec: a bundle (${bundleBytesMax} bytes) or a certificate fragment must fit ${dataPayloadBytesMax} bytes`);
}

/** Codes of report decoding errors. */
export const ReportErrorCode = { ERR_REPORT_TYPE: 'ERR_REPORT_TYPE', ERR_REPORT_LENGTH: 'ERR_REPORT_LENGTH', ERR_REPORT_FIELD: 'ERR_REPORT_FIELD' } as const;
/** One of ReportErrorCode. */
export type ReportErrorCodeValue = (typeof ReportErrorCode)[keyof typeof ReportErrorCode];

/** A refused link message; the message names what was wrong. */
export class ReportError extends Error {
  override readonly name = 'ReportError';

  constructor(
    readonly code: ReportErrorCodeValue,
    message: string,
  ) {
    super(message);
  }
}

/** One reporter's signed reports about its neighbours for one window (one part of them). */
export interface ReportBundle {
  readonly reporter: NodeId;
  readonly window: number;
  readonly part: number;
  readonly reports: readonly TransitReport[];
  /** What the signature covers: reportSigningContext followed by the bundle's bytes before the signature. */
  readonly signed: Uint8Array;
  readonly signature: Uint8Array;
}

/** A decoded link message. */
export type ReportMessage =
  | { readonly kind: 'reports'; readonly bundle: ReportBundle }
  | { readonly kind: 'certificateRequest'; readonly node: NodeId }
  | { readonly kind: 'certificateFragment'; readonly node: NodeId; readonly totalBytes: number; readonly offset: number; readonly bytes: Uint8Array };

function fail(code: ReportErrorCodeValue, message: string): never {
  throw new ReportError(code, message);
}

/** reportSigningContext followed by `body`. */
function signingBytes(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(reportSigningContext.length + body.length);
  out.set(reportSigningContext);
  out.set(body, reportSigningContext.length);
  return out;
}

/**
 * Encodes and signs one bundle: `reports` (by `reporter`, about distinct neighbours in ascending
 * order, 1..reportsPerBundleMax of them, counts integers in 0..2^32-1). Throws a RangeError for
 * anything the decoder would refuse: that is our own bug, not a peer's.
 */
export function encodeBundle(reporter: NodeId, window: number, part: number, reports: readonly TransitReport[], sign: (message: Uint8Array) => Uint8Array): Uint8Array {
  checkBundle(reporter, window, part, reports);
  const body = new Uint8Array(bundleHeaderBytes + reports.length * reportBytes);
  const view = new DataView(body.buffer);
  body[0] = ReportMessageType.reports;
  view.setUint32(1, reporter);
  view.setUint32(5, window);
  body[9] = part;
  body[10] = reports.length;
  reports.forEach((report, index) => {
    const at = bundleHeaderBytes + index * reportBytes;
    [report.subject, report.handedTo, report.receivedFrom, report.sent, report.received].forEach((value, field) => view.setUint32(at + 4 * field, value));
  });
  const signature = sign(signingBytes(body));
  if (signature.length !== ed25519SignatureBytes) throw new RangeError(`encodeBundle: expected a ${ed25519SignatureBytes}-byte signature, got ${signature.length}`);
  const out = new Uint8Array(body.length + signature.length);
  out.set(body);
  out.set(signature, body.length);
  return out;
}

function checkBundle(reporter: NodeId, window: number, part: number, reports: readonly TransitReport[]): void {
  const where = `encodeBundle: reporter ${reporter} window ${window}`;
  if (!isU32(window) || !Number.isInteger(part) || part < 0 || part >= bundlePartsMax) throw new RangeError(`${where}: expected a window in 0..${u32Max} and a part in 0..${bundlePartsMax - 1}, got part ${part}`);
  if (reports.length < 1 || reports.length > reportsPerBundleMax) throw new RangeError(`${where}: expected 1..${reportsPerBundleMax} reports, got ${reports.length}`);
  let previous = 0;
  for (const report of reports) {
    checkCounts('encodeBundle', report);
    const { subject, handedTo, receivedFrom, sent, received } = report;
    if (report.reporter !== reporter || subject <= previous || subject === reporter || subject > nodeIdMax) {
      throw new RangeError(`${where}: expected reports by ${reporter} about distinct other nodes in ascending order, got ${report.reporter} about ${subject} after ${previous}`);
    }
    if (![handedTo, receivedFrom, sent, received].every(isU32)) throw new RangeError(`${where}: expected counts in 0..${u32Max} about ${subject}, got ${handedTo}, ${receivedFrom}, ${sent}, ${received}`);
    previous = subject;
  }
}

function isU32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= u32Max;
}

/** A certificate request for `node`'s certificate. */
export function encodeCertificateRequest(node: NodeId): Uint8Array {
  const out = new Uint8Array(requestBytes);
  out[0] = ReportMessageType.certificateRequest;
  new DataView(out.buffer).setUint32(1, node);
  return out;
}

/** `certificate` (of `node`) as fragments of certificateChunkBytes, the last one shorter. */
export function encodeCertificateFragments(node: NodeId, certificate: Uint8Array): Uint8Array[] {
  if (certificate.length < 1 || certificate.length > certificateBytesMax) throw new RangeError(`encodeCertificateFragments: expected a certificate of 1..${certificateBytesMax} bytes, got ${certificate.length}`);
  const fragments: Uint8Array[] = [];
  for (let offset = 0; offset < certificate.length; offset += certificateChunkBytes) {
    const chunk = certificate.subarray(offset, offset + certificateChunkBytes);
    const out = new Uint8Array(fragmentHeaderBytes + chunk.length);
    const view = new DataView(out.buffer);
    out[0] = ReportMessageType.certificateFragment;
    view.setUint32(1, node);
    view.setUint16(5, certificate.length);
    view.setUint16(7, offset);
    out.set(chunk, fragmentHeaderBytes);
    fragments.push(out);
  }
  return fragments;
}

/** Decodes one link message strictly; throws a ReportError naming what is wrong. */
export function decodeReportMessage(bytes: Uint8Array): ReportMessage {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (bytes[0]) {
    case ReportMessageType.reports:
      return { kind: 'reports', bundle: decodeBundle(bytes, view) };
    case ReportMessageType.certificateRequest:
      if (bytes.length !== requestBytes) fail(ReportErrorCode.ERR_REPORT_LENGTH, `decodeReportMessage: certificate request: expected ${requestBytes} bytes, got ${bytes.length}`);
      return { kind: 'certificateRequest', node: readNode(view, 1, 'certificate request', 'node') };
    case ReportMessageType.certificateFragment:
      return decodeFragment(bytes, view);
    default:
      return fail(ReportErrorCode.ERR_REPORT_TYPE, `decodeReportMessage: expected a type in 0x81..0x83, got ${bytes.length === 0 ? 'no bytes' : `0x${bytes[0]!.toString(16)}`}`);
  }
}

function readNode(view: DataView, at: number, what: string, field: string): NodeId {
  const value = view.getUint32(at);
  if (value === 0) fail(ReportErrorCode.ERR_REPORT_FIELD, `decodeReportMessage: ${what}: expected ${field} in 1..${nodeIdMax}, got 0`);
  return value as NodeId;
}

function decodeBundle(bytes: Uint8Array, view: DataView): ReportBundle {
  const count = bytes.length >= bundleHeaderBytes ? bytes[10]! : 0;
  const expected = bundleHeaderBytes + count * reportBytes + ed25519SignatureBytes;
  if (bytes.length < bundleHeaderBytes || bytes.length !== expected) fail(ReportErrorCode.ERR_REPORT_LENGTH, `decodeReportMessage: reports: expected ${bytes.length < bundleHeaderBytes ? `at least ${bundleHeaderBytes}` : expected} bytes, got ${bytes.length}`);
  const reporter = readNode(view, 1, 'reports', 'reporter');
  const window = view.getUint32(5);
  const part = bytes[9]!;
  if (part >= bundlePartsMax) fail(ReportErrorCode.ERR_REPORT_FIELD, `decodeReportMessage: reports of ${reporter}: expected part in 0..${bundlePartsMax - 1}, got ${part}`);
  if (count < 1 || count > reportsPerBundleMax) fail(ReportErrorCode.ERR_REPORT_FIELD, `decodeReportMessage: reports of ${reporter}: expected count in 1..${reportsPerBundleMax}, got ${count}`);
  const reports: TransitReport[] = [];
  let previous = 0;
  for (let index = 0; index < count; index++) {
    const at = bundleHeaderBytes + index * reportBytes;
    const subject = view.getUint32(at);
    if (subject <= previous || subject === reporter) fail(ReportErrorCode.ERR_REPORT_FIELD, `decodeReportMessage: reports of ${reporter}: expected distinct subjects other than the reporter in ascending order, got ${subject} after ${previous}`);
    previous = subject;
    reports.push({ reporter, subject, handedTo: view.getUint32(at + 4), receivedFrom: view.getUint32(at + 8), sent: view.getUint32(at + 12), received: view.getUint32(at + 16) });
  }
  const bodyBytes = bytes.length - ed25519SignatureBytes;
  return { reporter, window, part, reports, signed: signingBytes(bytes.subarray(0, bodyBytes)), signature: bytes.slice(bodyBytes) };
}

function decodeFragment(bytes: Uint8Array, view: DataView): ReportMessage {
  if (bytes.length <= fragmentHeaderBytes) fail(ReportErrorCode.ERR_REPORT_LENGTH, `decodeReportMessage: certificate fragment: expected more than ${fragmentHeaderBytes} bytes, got ${bytes.length}`);
  const node = readNode(view, 1, 'certificate fragment', 'node');
  const totalBytes = view.getUint16(5);
  const offset = view.getUint16(7);
  const chunkBytes = bytes.length - fragmentHeaderBytes;
  if (totalBytes > certificateBytesMax || offset % certificateChunkBytes !== 0 || offset >= totalBytes || chunkBytes !== Math.min(certificateChunkBytes, totalBytes - offset)) {
    fail(ReportErrorCode.ERR_REPORT_FIELD, `decodeReportMessage: certificate fragment of ${node}: expected a total of at most ${certificateBytesMax} bytes and a chunk of ${certificateChunkBytes} bytes (less for the last) at a multiple of it, got total ${totalBytes}, offset ${offset}, ${chunkBytes} bytes`);
  }
  return { kind: 'certificateFragment', node, totalBytes, offset, bytes: bytes.slice(fragmentHeaderBytes) };
}
