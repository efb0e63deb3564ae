/**
 * Frozen golden vectors. The hex was worked out by hand from the format description (version,
 * then type u8, length u16 and body, big-endian), not produced by the encoder, so a change in
 * byte order, field order or framing fails here even if encode and decode change together.
 */
import { describe, expect, test } from 'vitest';
import { decodePacket, encodePacket, tlvBytes } from '../../src/wire/codec.js';
import type { NodeId } from '../../src/wire/ids.js';
import type { Tlv } from '../../src/wire/messages.js';
import { fromHex, toHex } from './hex.js';

const id = (n: number): NodeId => n as NodeId;

interface Vector {
  readonly name: string;
  readonly tlvs: readonly Tlv[];
  readonly hex: string;
}

const vectors: readonly Vector[] = [
  {
    name: 'hello',
    tlvs: [{ type: 'hello', sender: id(0x01020304), seqno: 0x0506, intervalMs: 0x0708, timestampUs: 0x090a0b0c }],
    hex: '01 01 000c 01020304 0506 0708 090a0b0c',
  },
  {
    name: 'hello at the extremes',
    tlvs: [{ type: 'hello', sender: id(0xffffffff), seqno: 0, intervalMs: 1, timestampUs: 0xffffffff }],
    hex: '01 01 000c ffffffff 0000 0001 ffffffff',
  },
  {
    name: 'ihu',
    tlvs: [{ type: 'ihu', rxCost: 256, intervalMs: 4000, originUs: 0xdeadbeef, holdUs: 0x12345 }],
    hex: '01 02 000c 0100 0fa0 deadbeef 00012345',
  },
  {
    name: 'probe (up, no echo)',
    tlvs: [
      { type: 'probe', sender: id(0xfffffffe), state: 2, detectMult: 3, intervalMs: 50, txUs: 0x11223344, echoUs: 0, holdUs: 1000 },
    ],
    hex: '01 03 0014 fffffffe 02 03 0032 11223344 00000000 000003e8',
  },
  {
    name: 'probe (down)',
    tlvs: [{ type: 'probe', sender: id(1), state: 0, detectMult: 255, intervalMs: 65535, txUs: 1, echoUs: 2, holdUs: 3 }],
    hex: '01 03 0014 00000001 00 ff ffff 00000001 00000002 00000003',
  },
  {
    name: 'update (retraction)',
    tlvs: [{ type: 'update', source: id(42), seqno: 0xffff, metric: 0xffff, intervalMs: 20000 }],
    hex: '01 04 000a 0000002a ffff ffff 4e20',
  },
  {
    name: 'route request (wildcard)',
    tlvs: [{ type: 'routeRequest', source: null }],
    hex: '01 05 0005 01 00000000',
  },
  {
    name: 'route request (one source)',
    tlvs: [{ type: 'routeRequest', source: id(0x0a0b0c0d) }],
    hex: '01 05 0005 00 0a0b0c0d',
  },
  {
    name: 'seqno request',
    tlvs: [{ type: 'seqnoRequest', source: id(7), seqno: 0x1234, hopCount: 64, requester: id(0x80000000) }],
    hex: '01 06 000c 00000007 1234 40 00 80000000',
  },
  {
    name: 'data (echo request, payload "hi")',
    tlvs: [
      { type: 'data', kind: 1, hopLimit: 16, src: id(1), dst: id(2), id: 0xcafebabe, payload: new Uint8Array([0x68, 0x69]) },
    ],
    hex: '01 07 0010 01 10 00000001 00000002 cafebabe 6869',
  },
  {
    name: 'data (hop limit exceeded, empty payload)',
    tlvs: [{ type: 'data', kind: 4, hopLimit: 0, src: id(0x100), dst: id(0x10000), id: 0, payload: new Uint8Array(0) }],
    hex: '01 07 000e 04 00 00000100 00010000 00000000',
  },
  {
    name: 'query',
    tlvs: [{ type: 'query', source: id(7), nonce: 0x1234 }],
    hex: '01 08 0006 00000007 1234',
  },
  {
    name: 'query reply',
    tlvs: [{ type: 'queryReply', source: id(0x80000001), nonce: 0xfedc, seqno: 0x0102, metric: 0xffff }],
    hex: '01 09 000a 80000001 fedc 0102 ffff',
  },
  {
    name: 'hello, ihu and update in one packet',
    tlvs: [
      { type: 'hello', sender: id(5), seqno: 1, intervalMs: 4000, timestampUs: 123456 },
      { type: 'ihu', rxCost: 96, intervalMs: 12000, originUs: 654321, holdUs: 250 },
      { type: 'update', source: id(5), seqno: 1, metric: 0, intervalMs: 16000 },
    ],
    hex:
      '01' +
      ' 01 000c 00000005 0001 0fa0 0001e240' +
      ' 02 000c 0060 2ee0 0009fbf1 000000fa' +
      ' 04 000a 00000005 0001 0000 3e80',
  },
];

describe('golden vectors', () => {
  test.each(vectors)('$name encodes to the frozen bytes', ({ tlvs, hex }) => {
    expect(toHex(encodePacket(tlvs))).toBe(toHex(fromHex(hex)));
  });

  test.each(vectors)('$name decodes from the frozen bytes', ({ tlvs, hex }) => {
    expect(decodePacket(fromHex(hex))).toStrictEqual(tlvs);
  });

  test.each(vectors)('$name: tlvBytes sums to the packet length', ({ tlvs, hex }) => {
    const total = tlvs.reduce((sum, tlv) => sum + tlvBytes(tlv), 1);
    expect(total).toBe(fromHex(hex).length);
  });

  test('tlvBytes gives the fixed size of each type, header included', () => {
    expect(vectors.map((v) => v.tlvs.map(tlvBytes))).toStrictEqual([[15], [15], [15], [23], [23], [13], [8], [8], [15], [19], [17], [9], [13], [15, 15, 13]]);
  });

  test('a decoded payload is a view into the packet, not a copy', () => {
    const packet = fromHex('01 07 0010 01 10 00000001 00000002 cafebabe 6869');
    const [tlv] = decodePacket(packet);
    expect(tlv?.type).toBe('data');
    const payload = (tlv as { payload: Uint8Array }).payload;
    expect(payload.buffer).toBe(packet.buffer);
    packet[packet.length - 1] = 0x21;
    expect(Array.from(payload)).toStrictEqual([0x68, 0x21]);
  });
});
