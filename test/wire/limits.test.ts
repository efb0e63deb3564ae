/** Limits at their edges: exactly the maximum is accepted and one more is rejected, by both sides. */
import { describe, expect, test } from 'vitest';
import { decodePacket, encodePacket, tlvBytes } from '../../src/wire/codec.js';
import { WireError, WireErrorCode } from '../../src/wire/errors.js';
import type { NodeId } from '../../src/wire/ids.js';
import {
  dataHeaderBytes,
  metricInfinity,
  packetBytesMax,
  packetHeaderBytes,
  payloadBytesMax,
  tlvHeaderBytes,
  tlvsPerPacketMax,
  wireVersion,
} from '../../src/wire/limits.js';
import type { DataTlv, RouteRequestTlv, Tlv } from '../../src/wire/messages.js';

const id = (n: number): NodeId => n as NodeId;

function data(payloadBytes: number): DataTlv {
  const payload = new Uint8Array(payloadBytes);
  for (let i = 0; i < payloadBytes; i++) payload[i] = (i * 7 + 3) & 0xff;
  return { type: 'data', kind: 0, hopLimit: 64, src: id(1), dst: id(2), id: 9, payload };
}

const wildcard: RouteRequestTlv = { type: 'routeRequest', source: null };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof WireError ? error.code : 'not a WireError';
  }
  return undefined;
}

describe('limit relationships', () => {
  test('the constants agree with each other and with the format', () => {
    expect(wireVersion).toBe(1);
    expect(packetHeaderBytes).toBe(1);
    expect(tlvHeaderBytes).toBe(3);
    expect(dataHeaderBytes).toBe(14);
    expect(metricInfinity).toBe(0xffff);
    // A Data TLV with the largest payload exactly fills a packet.
    expect(packetHeaderBytes + tlvHeaderBytes + dataHeaderBytes + payloadBytesMax).toBe(packetBytesMax);
    // Every body length fits the u16 length field.
    expect(packetBytesMax).toBeLessThanOrEqual(0xffff);
    // tlvsPerPacketMax is a real limit: that many of the smallest TLV fit with room to spare.
    expect(packetHeaderBytes + (tlvsPerPacketMax + 1) * tlvBytes(wildcard)).toBeLessThanOrEqual(packetBytesMax);
  });
});

describe('packetBytesMax', () => {
  test('a packet of exactly packetBytesMax bytes encodes and decodes', () => {
    const tlvs = [data(payloadBytesMax)];
    const bytes = encodePacket(tlvs);
    expect(bytes.length).toBe(packetBytesMax);
    expect(decodePacket(bytes)).toStrictEqual(tlvs);
  });

  test('a mixed packet of exactly packetBytesMax bytes encodes and decodes', () => {
    const hello: Tlv = { type: 'hello', sender: id(3), seqno: 1, intervalMs: 4000, timestampUs: 5 };
    const tlvs = [hello, wildcard, data(payloadBytesMax - tlvBytes(hello) - tlvBytes(wildcard))];
    const bytes = encodePacket(tlvs);
    expect(bytes.length).toBe(packetBytesMax);
    expect(decodePacket(bytes)).toStrictEqual(tlvs);
  });

  test('one byte more is rejected by the encoder and by the decoder', () => {
    expect(codeOf(() => encodePacket([data(payloadBytesMax + 1)]))).toBe(WireErrorCode.ERR_WIRE_ENCODE);
    expect(codeOf(() => encodePacket([wildcard, data(payloadBytesMax + 1 - tlvBytes(wildcard))]))).toBe(WireErrorCode.ERR_WIRE_ENCODE);
    // Hand-build the 1401-byte packet the encoder refuses to make; it is otherwise well formed.
    const body = dataHeaderBytes + payloadBytesMax + 1;
    const bytes = new Uint8Array(packetBytesMax + 1);
    bytes.set([wireVersion, 7, body >>> 8, body & 0xff, 0, 64, 0, 0, 0, 1, 0, 0, 0, 2]);
    expect(codeOf(() => decodePacket(bytes))).toBe(WireErrorCode.ERR_WIRE_TOO_LONG);
    expect(codeOf(() => decodePacket(bytes.subarray(0, packetBytesMax)))).toBe(WireErrorCode.ERR_WIRE_TRUNCATED);
  });
});

describe('tlvsPerPacketMax', () => {
  test('exactly tlvsPerPacketMax TLVs encode and decode', () => {
    const tlvs = Array.from({ length: tlvsPerPacketMax }, (_, i): Tlv => ({ type: 'routeRequest', source: id(i + 1) }));
    expect(decodePacket(encodePacket(tlvs))).toStrictEqual(tlvs);
  });

  test('one more is rejected by the encoder and by the decoder', () => {
    const tlvs = Array.from({ length: tlvsPerPacketMax + 1 }, (): Tlv => wildcard);
    expect(codeOf(() => encodePacket(tlvs))).toBe(WireErrorCode.ERR_WIRE_ENCODE);
    const one = encodePacket([wildcard]).subarray(packetHeaderBytes);
    const bytes = new Uint8Array(packetHeaderBytes + tlvs.length * one.length);
    bytes[0] = wireVersion;
    for (let i = 0; i < tlvs.length; i++) bytes.set(one, packetHeaderBytes + i * one.length);
    expect(codeOf(() => decodePacket(bytes))).toBe(WireErrorCode.ERR_WIRE_TOO_MANY_TLVS);
    expect(decodePacket(bytes.subarray(0, bytes.length - one.length))).toHaveLength(tlvsPerPacketMax);
  });
});
