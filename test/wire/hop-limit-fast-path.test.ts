import { describe, expect, it } from 'vitest';
import { decodePacket, encodePacket, withHopLimit } from '../../src/wire/codec.js';
import { nodeId } from '../../src/wire/ids.js';
import { DataKind, type DataTlv, type Tlv } from '../../src/wire/messages.js';
import { poolBytes } from '../../src/wire/pool-bytes.js';

const data: DataTlv = { type: 'data', kind: DataKind.app, hopLimit: 9, src: nodeId(1), dst: nodeId(2), id: 77, payload: Uint8Array.of(1, 2, 3) };

describe('withHopLimit (forwarding without re-encoding)', () => {
  it('gives exactly the encoding of the TLV with the new hop limit, and leaves the input alone', () => {
    const packet = encodePacket([data]);
    const before = packet.slice();
    for (const hopLimit of [0, 1, 8, 255]) {
      const forwarded = withHopLimit(packet, hopLimit);
      expect(forwarded).toEqual(encodePacket([{ ...data, hopLimit }]));
      expect(decodePacket(forwarded)).toEqual([{ ...data, hopLimit }]);
    }
    expect(packet).toEqual(before);
  });

  it('refuses a packet that is not exactly one Data TLV, and a hop limit outside 0..255', () => {
    const hello: Tlv = { type: 'hello', sender: nodeId(1), seqno: 1, intervalMs: 1000, timestampUs: 0 };
    const two = encodePacket([data, data]);
    expect(() => withHopLimit(encodePacket([hello]), 3)).toThrow(/exactly one Data TLV/);
    expect(() => withHopLimit(two, 3)).toThrow(/exactly one Data TLV/);
    expect(() => withHopLimit(encodePacket([data]).subarray(0, 10), 3)).toThrow(/exactly one Data TLV/);
    expect(() => withHopLimit(encodePacket([data]), 256)).toThrow('withHopLimit: expected a hop limit in 0..255, got 256');
    expect(() => withHopLimit(encodePacket([data]), 1.5)).toThrow(/got 1.5/);
  });
});

describe('poolBytes', () => {
  it('gives plain Uint8Arrays of the length asked for, whose slice copies', () => {
    const bytes = poolBytes(100);
    expect(bytes).toHaveLength(100);
    expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype);
    bytes.fill(7);
    const copy = bytes.slice();
    copy[0] = 1;
    expect(bytes[0]).toBe(7);
  });
});
