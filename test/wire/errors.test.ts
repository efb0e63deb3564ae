/** One test per error code (and per rule behind it), asserting the code and part of the message. */
import { describe, expect, test } from 'vitest';
import { decodePacket, encodePacket, tlvBytes } from '../../src/wire/codec.js';
import { WireError, WireErrorCode, isWireError, type WireErrorCodeValue } from '../../src/wire/errors.js';
import type { NodeId } from '../../src/wire/ids.js';
import { packetBytesMax, payloadBytesMax } from '../../src/wire/limits.js';
import type { DataTlv, Tlv } from '../../src/wire/messages.js';
import { fromHex } from './hex.js';

const id = (n: number): NodeId => n as NodeId;

/** Runs `fn`, expecting a WireError with `code` whose message contains `part`. */
function expectWireError(fn: () => unknown, code: WireErrorCodeValue, part: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(WireError);
  expect((thrown as WireError).code).toBe(code);
  expect((thrown as WireError).message).toContain(part);
}

const decodeHex = (hex: string) => () => decodePacket(fromHex(hex));

describe('WireError and the catalogue', () => {
  test('codes are stable strings equal to their keys', () => {
    expect(WireErrorCode).toStrictEqual({
      ERR_WIRE_EMPTY: 'ERR_WIRE_EMPTY',
      ERR_WIRE_TOO_LONG: 'ERR_WIRE_TOO_LONG',
      ERR_WIRE_VERSION: 'ERR_WIRE_VERSION',
      ERR_WIRE_TRUNCATED: 'ERR_WIRE_TRUNCATED',
      ERR_WIRE_TLV_TYPE: 'ERR_WIRE_TLV_TYPE',
      ERR_WIRE_TLV_LENGTH: 'ERR_WIRE_TLV_LENGTH',
      ERR_WIRE_TOO_MANY_TLVS: 'ERR_WIRE_TOO_MANY_TLVS',
      ERR_WIRE_FIELD: 'ERR_WIRE_FIELD',
      ERR_WIRE_ENCODE: 'ERR_WIRE_ENCODE',
    });
  });

  test('a WireError is an Error with a name, a code and a message', () => {
    const error = new WireError(WireErrorCode.ERR_WIRE_FIELD, 'decodePacket: boom');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('WireError');
    expect(error.code).toBe('ERR_WIRE_FIELD');
    expect(error.message).toBe('decodePacket: boom');
  });

  test('isWireError narrows by class and optionally by code', () => {
    const error = new WireError(WireErrorCode.ERR_WIRE_EMPTY, 'x');
    expect(isWireError(error)).toBe(true);
    expect(isWireError(error, WireErrorCode.ERR_WIRE_EMPTY)).toBe(true);
    expect(isWireError(error, WireErrorCode.ERR_WIRE_FIELD)).toBe(false);
    expect(isWireError(new Error('x'))).toBe(false);
    expect(isWireError(undefined)).toBe(false);
  });
});

describe('decodePacket framing errors', () => {
  test('ERR_WIRE_EMPTY: zero-length input', () => {
    expectWireError(() => decodePacket(new Uint8Array(0)), WireErrorCode.ERR_WIRE_EMPTY, 'decodePacket: expected a packet, got 0 bytes');
  });

  test('ERR_WIRE_EMPTY: a version byte and no TLV', () => {
    expectWireError(decodeHex('01'), WireErrorCode.ERR_WIRE_EMPTY, 'expected at least one TLV');
  });

  test('ERR_WIRE_TOO_LONG: more than packetBytesMax bytes', () => {
    const bytes = new Uint8Array(packetBytesMax + 1);
    bytes[0] = 1;
    expectWireError(() => decodePacket(bytes), WireErrorCode.ERR_WIRE_TOO_LONG, `expected at most ${packetBytesMax} bytes, got ${packetBytesMax + 1}`);
  });

  test.each(['00', '02', 'ff'])('ERR_WIRE_VERSION: first byte %s', (version) => {
    expectWireError(
      decodeHex(`${version} 05 0005 01 00000000`),
      WireErrorCode.ERR_WIRE_VERSION,
      `expected version 1 at offset 0, got ${Number.parseInt(version, 16)}`,
    );
  });

  test.each([
    ['01 05', 'TLV header at offset 1: expected 3 bytes, got 1'],
    ['01 05 00', 'TLV header at offset 1: expected 3 bytes, got 2'],
    ['01 05 0005 01 00000000 01 00', 'TLV header at offset 9: expected 3 bytes, got 2'],
  ])('ERR_WIRE_TRUNCATED: TLV header %s', (hex, part) => {
    expectWireError(decodeHex(hex), WireErrorCode.ERR_WIRE_TRUNCATED, part);
  });

  test.each([
    ['01 01 000c 01020304', 'TLV 1 (hello) at offset 1: expected 12 body bytes, got 4'],
    ['01 05 0005 01 000000', 'TLV 5 (routeRequest) at offset 1: expected 5 body bytes, got 4'],
    ['01 07 0010 01 10 00000001 00000002 cafebabe 68', 'TLV 7 (data) at offset 1: expected 16 body bytes, got 15'],
    ['01 07 ffff 01 10 00000001 00000002 cafebabe', 'TLV 7 (data) at offset 1: expected 65535 body bytes, got 14'],
  ])('ERR_WIRE_TRUNCATED: TLV body %s', (hex, part) => {
    expectWireError(decodeHex(hex), WireErrorCode.ERR_WIRE_TRUNCATED, part);
  });

  test.each([0, 10, 11, 0x80, 0xff])('ERR_WIRE_TLV_TYPE: type code %i', (code) => {
    const bytes = fromHex('01 00 0000');
    bytes[1] = code;
    expectWireError(() => decodePacket(bytes), WireErrorCode.ERR_WIRE_TLV_TYPE, `TLV at offset 1: expected a type code in 1..9, got ${code}`);
  });

  test.each([
    [1, 'hello', 12],
    [2, 'ihu', 12],
    [3, 'probe', 20],
    [4, 'update', 10],
    [5, 'routeRequest', 5],
    [6, 'seqnoRequest', 12],
    [8, 'query', 6],
    [9, 'queryReply', 10],
  ])('ERR_WIRE_TLV_LENGTH: type %i (%s) with a body one byte off %i', (code, name, bodyBytes) => {
    for (const wrong of [0, bodyBytes - 1, bodyBytes + 1, 0xffff]) {
      // The packet holds the declared body, so only the length rule can fire.
      const declared = wrong === 0xffff ? 0 : wrong;
      const bytes = new Uint8Array(1 + 3 + declared);
      bytes[0] = 1;
      bytes[1] = code;
      bytes[2] = wrong >>> 8;
      bytes[3] = wrong & 0xff;
      expectWireError(
        () => decodePacket(bytes),
        WireErrorCode.ERR_WIRE_TLV_LENGTH,
        `decodePacket: TLV ${code} (${name}) at offset 1: expected body of ${bodyBytes} bytes, got ${wrong}`,
      );
    }
  });

  test('ERR_WIRE_TLV_LENGTH: a data body shorter than its 14-byte header', () => {
    expectWireError(
      decodeHex('01 07 000d 01 10 00000001 00000002 cafeba'),
      WireErrorCode.ERR_WIRE_TLV_LENGTH,
      'TLV 7 (data) at offset 1: expected body of at least 14 bytes, got 13',
    );
  });

  test('ERR_WIRE_TOO_MANY_TLVS: 129 TLVs', () => {
    const one = '05 0005 01 00000000';
    expectWireError(
      decodeHex('01' + ` ${one}`.repeat(129)),
      WireErrorCode.ERR_WIRE_TOO_MANY_TLVS,
      `expected at most 128 TLVs, got another at offset ${1 + 128 * 8}`,
    );
  });
});

describe('decodePacket ERR_WIRE_FIELD', () => {
  test.each([
    ['hello sender 0', '01 01 000c 00000000 0506 0708 090a0b0c', 'TLV 1 (hello) at offset 1: expected sender in 1..4294967295, got 0'],
    ['hello interval 0', '01 01 000c 01020304 0506 0000 090a0b0c', 'TLV 1 (hello) at offset 1: expected intervalMs in 1..65535, got 0'],
    ['ihu interval 0', '01 02 000c 0100 0000 deadbeef 00012345', 'TLV 2 (ihu) at offset 1: expected intervalMs in 1..65535, got 0'],
    ['probe sender 0', '01 03 0014 00000000 02 03 0032 11223344 00000000 000003e8', 'TLV 3 (probe) at offset 1: expected sender in 1..'],
    ['probe state 3', '01 03 0014 fffffffe 03 03 0032 11223344 00000000 000003e8', 'expected state in 0..2, got 3'],
    ['probe state 255', '01 03 0014 fffffffe ff 03 0032 11223344 00000000 000003e8', 'expected state in 0..2, got 255'],
    ['probe detectMult 0', '01 03 0014 fffffffe 02 00 0032 11223344 00000000 000003e8', 'expected detectMult in 1..255, got 0'],
    ['probe interval 0', '01 03 0014 fffffffe 02 03 0000 11223344 00000000 000003e8', 'TLV 3 (probe) at offset 1: expected intervalMs in 1..65535, got 0'],
    ['update source 0', '01 04 000a 00000000 ffff ffff 4e20', 'TLV 4 (update) at offset 1: expected source in 1..4294967295, got 0'],
    ['update interval 0', '01 04 000a 0000002a ffff ffff 0000', 'TLV 4 (update) at offset 1: expected intervalMs in 1..65535, got 0'],
    ['route request reserved flag bit', '01 05 0005 02 0a0b0c0d', 'TLV 5 (routeRequest) at offset 1: expected flags 0 or 1 (bits 1..7 reserved), got 2'],
    ['route request wildcard with a reserved bit', '01 05 0005 81 00000000', 'expected flags 0 or 1 (bits 1..7 reserved), got 129'],
    ['route request wildcard with a source', '01 05 0005 01 00000005', 'TLV 5 (routeRequest) at offset 1: expected source 0 in a wildcard request, got 5'],
    ['route request source 0', '01 05 0005 00 00000000', 'TLV 5 (routeRequest) at offset 1: expected source in 1..4294967295, got 0'],
    ['seqno request source 0', '01 06 000c 00000000 1234 40 00 80000000', 'TLV 6 (seqnoRequest) at offset 1: expected source in 1..'],
    ['seqno request hopCount 0', '01 06 000c 00000007 1234 00 00 80000000', 'expected hopCount in 1..255, got 0'],
    ['seqno request reserved byte', '01 06 000c 00000007 1234 40 01 80000000', 'expected reserved byte 0, got 1'],
    ['seqno request requester 0', '01 06 000c 00000007 1234 40 00 00000000', 'expected requester in 1..4294967295, got 0'],
    ['data kind 5', '01 07 000e 05 10 00000001 00000002 cafebabe', 'TLV 7 (data) at offset 1: expected kind in 0..4, got 5'],
    ['data src 0', '01 07 000e 01 10 00000000 00000002 cafebabe', 'expected src in 1..4294967295, got 0'],
    ['data dst 0', '01 07 000e 01 10 00000001 00000000 cafebabe', 'expected dst in 1..4294967295, got 0'],
    ['query source 0', '01 08 0006 00000000 1234', 'TLV 8 (query) at offset 1: expected source in 1..4294967295, got 0'],
    ['query reply source 0', '01 09 000a 00000000 1234 0001 0100', 'TLV 9 (queryReply) at offset 1: expected source in 1..4294967295, got 0'],
  ])('%s', (_name, hex, part) => {
    expectWireError(decodeHex(hex), WireErrorCode.ERR_WIRE_FIELD, part);
  });

  test('the offset names the TLV that failed, not the first one', () => {
    expectWireError(
      decodeHex('01 05 0005 01 00000000 04 000a 0000002a ffff ffff 0000'),
      WireErrorCode.ERR_WIRE_FIELD,
      'TLV 4 (update) at offset 9:',
    );
  });
});

describe('encodePacket ERR_WIRE_ENCODE', () => {
  const hello: Tlv = { type: 'hello', sender: id(1), seqno: 0, intervalMs: 1, timestampUs: 0 };
  const data = (payloadBytes: number): DataTlv => ({
    type: 'data',
    kind: 0,
    hopLimit: 8,
    src: id(1),
    dst: id(2),
    id: 0,
    payload: new Uint8Array(payloadBytes),
  });

  test('no TLVs', () => {
    expectWireError(() => encodePacket([]), WireErrorCode.ERR_WIRE_ENCODE, 'encodePacket: expected 1..128 TLVs, got 0');
  });

  test('too many TLVs', () => {
    expectWireError(() => encodePacket(Array(129).fill(hello)), WireErrorCode.ERR_WIRE_ENCODE, 'expected 1..128 TLVs, got 129');
  });

  test('a payload too large for any packet', () => {
    expectWireError(
      () => encodePacket([hello, data(payloadBytesMax + 1)]),
      WireErrorCode.ERR_WIRE_ENCODE,
      `encodePacket: tlvs[1] (data): expected payload of at most ${payloadBytesMax} bytes, got ${payloadBytesMax + 1}`,
    );
  });

  test('TLVs that fit alone but not together', () => {
    expectWireError(
      () => encodePacket([data(700), data(700)]),
      WireErrorCode.ERR_WIRE_ENCODE,
      `encodePacket: expected a packet of at most ${packetBytesMax} bytes, got ${1 + 2 * 717} (2 TLVs)`,
    );
  });

  test('a payload that is not a Uint8Array', () => {
    const bad = { ...data(0), payload: [1, 2, 3] } as unknown as Tlv;
    expectWireError(() => encodePacket([bad]), WireErrorCode.ERR_WIRE_ENCODE, 'tlvs[0] (data): expected payload to be a Uint8Array, got a value of type object');
    const missing = { ...data(0), payload: null } as unknown as Tlv;
    expectWireError(() => encodePacket([missing]), WireErrorCode.ERR_WIRE_ENCODE, 'expected payload to be a Uint8Array, got null');
    expectWireError(() => tlvBytes(bad), WireErrorCode.ERR_WIRE_ENCODE, 'tlvBytes: data TLV: expected payload to be a Uint8Array');
  });

  test('an unknown TLV type', () => {
    const bad = { type: 'bogus' } as unknown as Tlv;
    expectWireError(() => encodePacket([hello, bad]), WireErrorCode.ERR_WIRE_ENCODE, 'encodePacket: tlvs[1] (bogus): expected a type in hello, ihu, probe');
    expectWireError(() => tlvBytes(bad), WireErrorCode.ERR_WIRE_ENCODE, 'tlvBytes: bogus TLV: expected a type in hello');
    expectWireError(() => tlvBytes({ type: 1 } as unknown as Tlv), WireErrorCode.ERR_WIRE_ENCODE, 'got 1');
    expectWireError(() => encodePacket([{} as Tlv]), WireErrorCode.ERR_WIRE_ENCODE, 'encodePacket: tlvs[0] (a value of type undefined)');
  });

  const base: Record<Tlv['type'], Tlv> = {
    hello,
    ihu: { type: 'ihu', rxCost: 0, intervalMs: 1, originUs: 0, holdUs: 0 },
    probe: { type: 'probe', sender: id(1), state: 0, detectMult: 1, intervalMs: 1, txUs: 0, echoUs: 0, holdUs: 0 },
    update: { type: 'update', source: id(1), seqno: 0, metric: 0, intervalMs: 1 },
    routeRequest: { type: 'routeRequest', source: id(1) },
    seqnoRequest: { type: 'seqnoRequest', source: id(1), seqno: 0, hopCount: 1, requester: id(1) },
    data: data(0),
    query: { type: 'query', source: id(1), nonce: 0 },
    queryReply: { type: 'queryReply', source: id(1), nonce: 0, seqno: 0, metric: 0 },
  };

  const u32Over = 0x1_0000_0000;
  const fields: [Tlv['type'], string, number, string][] = [
    ['hello', 'sender', 0, 'expected sender in 1..4294967295, got 0'],
    ['hello', 'sender', u32Over, 'expected sender in 1..4294967295, got 4294967296'],
    ['hello', 'seqno', 0x10000, 'expected seqno in 0..65535, got 65536'],
    ['hello', 'intervalMs', 0, 'expected intervalMs in 1..65535, got 0'],
    ['hello', 'timestampUs', -1, 'expected timestampUs in 0..4294967295, got -1'],
    ['ihu', 'rxCost', 1.5, 'expected rxCost in 0..65535, got 1.5'],
    ['ihu', 'intervalMs', 0x10000, 'expected intervalMs in 1..65535, got 65536'],
    ['ihu', 'originUs', Number.NaN, 'expected originUs in 0..4294967295, got NaN'],
    ['ihu', 'holdUs', Number.POSITIVE_INFINITY, 'expected holdUs in 0..4294967295, got Infinity'],
    ['probe', 'sender', -1, 'expected sender in 1..4294967295, got -1'],
    ['probe', 'state', 3, 'expected state in 0..2, got 3'],
    ['probe', 'detectMult', 0, 'expected detectMult in 1..255, got 0'],
    ['probe', 'detectMult', 256, 'expected detectMult in 1..255, got 256'],
    ['probe', 'intervalMs', 0, 'expected intervalMs in 1..65535, got 0'],
    ['probe', 'txUs', u32Over, 'expected txUs in 0..4294967295'],
    ['probe', 'echoUs', -1, 'expected echoUs in 0..4294967295'],
    ['probe', 'holdUs', 0.5, 'expected holdUs in 0..4294967295, got 0.5'],
    ['update', 'source', 0, 'expected source in 1..4294967295, got 0'],
    ['update', 'seqno', -1, 'expected seqno in 0..65535, got -1'],
    ['update', 'metric', 0x10000, 'expected metric in 0..65535, got 65536'],
    ['update', 'intervalMs', 0, 'expected intervalMs in 1..65535, got 0'],
    ['routeRequest', 'source', 0, 'expected source in 1..4294967295, got 0'],
    ['seqnoRequest', 'source', 0, 'expected source in 1..4294967295, got 0'],
    ['seqnoRequest', 'seqno', 0x10000, 'expected seqno in 0..65535, got 65536'],
    ['seqnoRequest', 'hopCount', 0, 'expected hopCount in 1..255, got 0'],
    ['seqnoRequest', 'requester', u32Over, 'expected requester in 1..4294967295'],
    ['data', 'kind', 5, 'expected kind in 0..4, got 5'],
    ['data', 'hopLimit', 256, 'expected hopLimit in 0..255, got 256'],
    ['data', 'src', 0, 'expected src in 1..4294967295, got 0'],
    ['data', 'dst', 0, 'expected dst in 1..4294967295, got 0'],
    ['data', 'id', -1, 'expected id in 0..4294967295, got -1'],
    ['query', 'source', 0, 'expected source in 1..4294967295, got 0'],
    ['query', 'source', u32Over, 'expected source in 1..4294967295, got 4294967296'],
    ['query', 'nonce', 0x10000, 'expected nonce in 0..65535, got 65536'],
    ['queryReply', 'source', 0, 'expected source in 1..4294967295, got 0'],
    ['queryReply', 'source', u32Over, 'expected source in 1..4294967295, got 4294967296'],
    ['queryReply', 'nonce', 0x10000, 'expected nonce in 0..65535, got 65536'],
    ['queryReply', 'seqno', 0x10000, 'expected seqno in 0..65535, got 65536'],
    ['queryReply', 'metric', -1, 'expected metric in 0..65535, got -1'],
  ];

  test.each(fields)('%s.%s = %d', (type, field, value, part) => {
    const bad = { ...base[type], [field]: value } as Tlv;
    expect(() => encodePacket([base[type]])).not.toThrow();
    expectWireError(() => encodePacket([hello, bad]), WireErrorCode.ERR_WIRE_ENCODE, `encodePacket: tlvs[1] (${type}): ${part}`);
  });

  test('a field of the wrong JavaScript type', () => {
    for (const value of ['1', 1n, null, undefined, {}, true]) {
      const bad = { ...hello, sender: value } as unknown as Tlv;
      expectWireError(() => encodePacket([bad]), WireErrorCode.ERR_WIRE_ENCODE, 'tlvs[0] (hello): expected sender in 1..4294967295, got');
    }
  });

  test('a hostile field value does not break the error message', () => {
    const hostile = { toString: () => { throw new Error('no'); } };
    const bad = { ...hello, seqno: hostile } as unknown as Tlv;
    expectWireError(() => encodePacket([bad]), WireErrorCode.ERR_WIRE_ENCODE, 'expected seqno in 0..65535, got a value of type object');
  });
});
