import { describe, expect, it } from 'vitest';
import { linkMessageTypeMin } from '../../src/channel/secure-node.js';
import { ed25519PublicKey, ed25519Signer, ed25519Verify } from '../../src/crypto/curve25519.js';
import { dataPayloadBytesMax } from '../../src/crypto/data-frame.js';
import {
  bundleBytesMax,
  bundlePartsMax,
  certificateChunkBytes,
  certificateBytesMax,
  decodeReportMessage,
  encodeBundle,
  encodeCertificateFragments,
  encodeCertificateRequest,
  ReportError,
  ReportMessageType,
  reportsPerBundleMax,
  type ReportMessage,
} from '../../src/mapek/report-codec.js';
import type { TransitReport } from '../../src/mapek/transit-accounting.js';
import { nodeId, type NodeId } from '../../src/wire/ids.js';
import { expectCodedError } from '../coded-error.js';

const key = new Uint8Array(32).fill(5);
const sign = ed25519Signer(key);
const reporter = nodeId(7);

function report(subject: number, counts = 1): TransitReport {
  return { reporter, subject, handedTo: counts, receivedFrom: counts + 1, sent: counts + 2, received: counts + 3 };
}

function bundleOf(message: ReportMessage): Extract<ReportMessage, { kind: 'reports' }>['bundle'] {
  if (message.kind !== 'reports') throw new Error(`expected reports, got ${message.kind}`);
  return message.bundle;
}

describe('report bundles', () => {
  it('round-trip: the reports, window and part come back, and the signature verifies over the context and the body', () => {
    const reports = [report(3, 10), report(9, 0xffff_fff0)];
    const bytes = encodeBundle(reporter, 123_456, 2, reports, sign);
    expect(bytes.length).toBe(11 + 2 * 20 + 64);
    expect(bytes[0]).toBe(ReportMessageType.reports);
    const bundle = bundleOf(decodeReportMessage(bytes));
    expect(bundle).toMatchObject({ reporter, window: 123_456, part: 2, reports });
    expect(ed25519Verify(ed25519PublicKey(key), bundle.signed, bundle.signature)).toBe(true);
    expect(new TextDecoder().decode(bundle.signed.subarray(0, 28))).toBe('x0tta6bl4 transit reports v1');
  });

  it('fit one link message with 50 neighbours, and every type is a link message type', () => {
    const reports = Array.from({ length: reportsPerBundleMax }, (_, i) => report(i + 100, 0xffff_ffff - 3));
    const bytes = encodeBundle(reporter, 0xffff_ffff, bundlePartsMax - 1, reports, sign);
    expect(bytes.length).toBe(bundleBytesMax);
    expect(bundleBytesMax).toBeLessThanOrEqual(dataPayloadBytesMax);
    for (const type of Object.values(ReportMessageType)) expect(type).toBeGreaterThanOrEqual(linkMessageTypeMin);
  });

  it('refuse to encode what the decoder would refuse, naming the problem', () => {
    expect(() => encodeBundle(reporter, 1, 0, [], sign)).toThrow(/expected 1\.\.50 reports, got 0/);
    expect(() => encodeBundle(reporter, 1, bundlePartsMax, [report(3)], sign)).toThrow(/part in 0\.\.7, got part 8/);
    expect(() => encodeBundle(reporter, -1, 0, [report(3)], sign)).toThrow(/expected a window in/);
    expect(() => encodeBundle(reporter, 1, 0, [report(9), report(3)], sign)).toThrow(/ascending order, got 7 about 3 after 9/);
    expect(() => encodeBundle(reporter, 1, 0, [report(7)], sign)).toThrow(/other nodes/);
    expect(() => encodeBundle(reporter, 1, 0, [{ ...report(3), reporter: 8 }], sign)).toThrow(/got 8 about 3/);
    expect(() => encodeBundle(reporter, 1, 0, [report(3, 2 ** 32)], sign)).toThrow(/counts in 0\.\.4294967295 about 3/);
    expect(() => encodeBundle(reporter, 1, 0, [report(3, -5)], sign)).toThrow(/expected counts >= 0/);
    expect(() => encodeBundle(reporter, 1, 0, [report(3)], () => new Uint8Array(10))).toThrow(/64-byte signature, got 10/);
    expect(() => encodeBundle(reporter, 1, 0, Array.from({ length: 51 }, (_, i) => report(i + 10)), sign)).toThrow(/got 51/);
  });

  it('are refused by the decoder when truncated, padded, out of order or out of range, with a named error', () => {
    const good = encodeBundle(reporter, 5, 0, [report(3), report(4)], sign);
    const cases: [Uint8Array, string, RegExp][] = [
      [good.subarray(0, 5), 'ERR_REPORT_LENGTH', /expected at least 11 bytes, got 5/],
      [good.subarray(0, good.length - 1), 'ERR_REPORT_LENGTH', /expected 115 bytes, got 114/],
      [Uint8Array.of(...good, 0), 'ERR_REPORT_LENGTH', /got 116/],
      [patch(good, 1, [0, 0, 0, 0]), 'ERR_REPORT_FIELD', /reporter in 1\.\./],
      [patch(good, 9, [bundlePartsMax]), 'ERR_REPORT_FIELD', /part in 0\.\.7, got 8/],
      [patch(encodeBundle(reporter, 5, 0, [report(3)], sign), 10, [0]).subarray(0, 11 + 64), 'ERR_REPORT_FIELD', /count in 1\.\.50, got 0/],
      [patch(good, 11 + 20, [0, 0, 0, 3]), 'ERR_REPORT_FIELD', /got 3 after 3/],
      [patch(good, 11, [0, 0, 0, 7]), 'ERR_REPORT_FIELD', /got 7 after 0/],
      [Uint8Array.of(0x84, 1), 'ERR_REPORT_TYPE', /expected a type in 0x81\.\.0x83, got 0x84/],
      [new Uint8Array(0), 'ERR_REPORT_TYPE', /got no bytes/],
    ];
    for (const [bytes, code, message] of cases) {
      expect(expectCodedError(() => decodeReportMessage(bytes), ReportError, code as ReportError['code']).message).toMatch(message);
    }
  });
});

/** `bytes` with `values` written at `at`. */
function patch(bytes: Uint8Array, at: number, values: readonly number[]): Uint8Array {
  const copy = bytes.slice();
  copy.set(values, at);
  return copy;
}

describe('certificate requests and fragments', () => {
  it('round-trip; a certificate comes back whole from its fragments', () => {
    expect(decodeReportMessage(encodeCertificateRequest(nodeId(42)))).toEqual({ kind: 'certificateRequest', node: 42 });
    const certificate = Uint8Array.from({ length: 2 * certificateChunkBytes + 7 }, (_, i) => i & 0xff);
    const fragments = encodeCertificateFragments(nodeId(42), certificate);
    expect(fragments.map((fragment) => fragment.length)).toEqual([9 + 1024, 9 + 1024, 9 + 7]);
    const whole = new Uint8Array(certificate.length);
    for (const fragment of fragments) {
      const message = decodeReportMessage(fragment);
      if (message.kind !== 'certificateFragment') throw new Error('expected a fragment');
      expect(message).toMatchObject({ node: 42 as NodeId, totalBytes: certificate.length });
      whole.set(message.bytes, message.offset);
    }
    expect(whole).toEqual(certificate);
  });

  it('are refused when malformed: wrong length, node 0, an offset off the grid, a chunk of the wrong size, too large a total', () => {
    const [first, second] = encodeCertificateFragments(nodeId(42), new Uint8Array(certificateChunkBytes + 10).fill(1));
    const cases: [Uint8Array, RegExp][] = [
      [Uint8Array.of(0x82, 0, 0, 0, 1, 0), /certificate request: expected 5 bytes, got 6/],
      [Uint8Array.of(0x82, 0, 0, 0, 0), /node in 1\.\./],
      [first!.subarray(0, 9), /expected more than 9 bytes, got 9/],
      [patch(first!, 7, [0, 1]), /offset 1/],
      [first!.subarray(0, 100), /100 - 9|91 bytes/],
      [patch(second!, 5, [0x40, 0x01]), /total 16385/],
      [patch(second!, 7, [0x08, 0x00]), /offset 2048/],
    ];
    for (const [bytes, message] of cases) expect(() => decodeReportMessage(bytes)).toThrow(message);
    expect(() => encodeCertificateFragments(nodeId(1), new Uint8Array(certificateBytesMax + 1))).toThrow(/1\.\.16384 bytes, got 16385/);
    expect(() => encodeCertificateFragments(nodeId(1), new Uint8Array(0))).toThrow(RangeError);
  });
});
