import { describe, expect, it } from 'vitest';
import { decodePacket, encodePacket, withHopLimit } from '../../src/wire/codec.js';
import { nodeId } from '../../src/wire/ids.js';
import { DataKind, type DataTlv, type Tlv } from '../../src/wire/messages.js';
import { poolBytes, poolBytesMax, poolSlabBytes } from '../../src/wire/pool-bytes.js';

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

  it('hands out disjoint, 8-byte aligned views, moving to a new slab when one is full', () => {
    const views = Array.from({ length: Math.ceil((2 * poolSlabBytes) / 1200) }, () => poolBytes(1197));
    views.forEach((view, i) => view.fill(i & 0xff));
    views.forEach((view, i) => expect(view.every((byte) => byte === (i & 0xff))).toBe(true));
    for (const view of views) expect(view.byteOffset % 8).toBe(0);
    // Views that share a slab do not overlap.
    for (let i = 1; i < views.length; i++) {
      if (views[i]!.buffer !== views[i - 1]!.buffer) continue;
      expect(views[i]!.byteOffset).toBeGreaterThanOrEqual(views[i - 1]!.byteOffset + views[i - 1]!.length);
    }
    expect(new Set(views.map((view) => view.buffer)).size).toBeGreaterThanOrEqual(2);
  });

  it('gives a request larger than poolBytesMax an ArrayBuffer of its own', () => {
    const big = poolBytes(poolBytesMax + 1);
    expect(big.byteOffset).toBe(0);
    expect(big.buffer.byteLength).toBe(poolBytesMax + 1);
    expect(poolBytes(0)).toHaveLength(0);
  });
});
