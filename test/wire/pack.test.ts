/** packTlvs: order kept, every packet valid, and as few packets as possible. */
import fc from 'fast-check';
import { describe, expect, it, test } from 'vitest';
import { decodePacket, packTlvs, packTlvsInto, tlvBytes } from '../../src/wire/codec.js';
import { WireError, WireErrorCode } from '../../src/wire/errors.js';
import { nodeId, type NodeId } from '../../src/wire/ids.js';
import { packetBytesMax, payloadBytesMax, tlvsPerPacketMax } from '../../src/wire/limits.js';
import type { DataTlv, Tlv } from '../../src/wire/messages.js';
import { anyTlvArb, tlvArb } from './arbitraries.js';

const id = (n: number): NodeId => n as NodeId;

function data(payloadBytes: number): DataTlv {
  return { type: 'data', kind: 0, hopLimit: 64, src: id(1), dst: id(2), id: payloadBytes, payload: new Uint8Array(payloadBytes) };
}

function update(n: number): Tlv {
  return { type: 'update', source: id(n + 1), seqno: n & 0xffff, metric: 96, intervalMs: 4000 };
}

/** Checks the packTlvs contract for `tlvs` and returns the packets. */
function checkPacked(tlvs: readonly Tlv[]): Uint8Array[] {
  const packets = packTlvs(tlvs);
  const decoded = packets.map(decodePacket);
  expect(decoded.flat()).toStrictEqual(tlvs);
  decoded.forEach((packetTlvs, i) => {
    expect(packets[i]!.length).toBeLessThanOrEqual(packetBytesMax);
    expect(packetTlvs.length).toBeGreaterThan(0);
    expect(packetTlvs.length).toBeLessThanOrEqual(tlvsPerPacketMax);
    // Greedy fill is optimal for a fixed order: the next packet's first TLV did not fit here.
    const next = decoded[i + 1]?.[0];
    if (next !== undefined) {
      const fits = packets[i]!.length + tlvBytes(next) <= packetBytesMax && packetTlvs.length < tlvsPerPacketMax;
      expect(fits).toBe(false);
    }
  });
  return packets;
}

describe('packTlvs', () => {
  test('no TLVs give no packets', () => {
    expect(packTlvs([])).toStrictEqual([]);
  });

  test('a single TLV gives a single packet', () => {
    expect(checkPacked([update(0)])).toHaveLength(1);
  });

  test('splits at tlvsPerPacketMax', () => {
    // Route Requests are the smallest TLV, so the count limit binds before the byte limit.
    const tlvs = Array.from({ length: 2 * tlvsPerPacketMax + 1 }, (_, i): Tlv => ({ type: 'routeRequest', source: id(i + 1) }));
    expect(checkPacked(tlvs).map((p) => decodePacket(p).length)).toStrictEqual([tlvsPerPacketMax, tlvsPerPacketMax, 1]);
  });

  test('splits at packetBytesMax, filling a packet to the last byte', () => {
    const tlvs = [data(payloadBytesMax), data(700), data(payloadBytesMax - 700 - tlvBytes(data(0))), data(0)];
    const packets = checkPacked(tlvs);
    expect(packets.map((p) => p.length)).toStrictEqual([packetBytesMax, packetBytesMax, 1 + tlvBytes(data(0))]);
  });

  test('keeps order rather than reordering to save packets', () => {
    // Reordering could fit these in two packets; packTlvs must not.
    const tlvs = [data(800), data(800), data(500), data(500)];
    expect(checkPacked(tlvs)).toHaveLength(3);
  });

  test('property: small TLVs', () => {
    fc.assert(fc.property(fc.array(tlvArb, { maxLength: 400 }), (tlvs) => void checkPacked(tlvs)), { numRuns: 100 });
  });

  test('property: any TLVs, including full-size Data', () => {
    fc.assert(fc.property(fc.array(anyTlvArb, { maxLength: 40 }), (tlvs) => void checkPacked(tlvs)), { numRuns: 100 });
  });

  test('a TLV too large for any packet is rejected, named by its index', () => {
    const tlvs = [update(0), data(payloadBytesMax + 1)];
    expect(() => packTlvs(tlvs)).toThrow(WireError);
    expect(() => packTlvs(tlvs)).toThrow(`packTlvs: tlvs[1] (data): expected payload of at most ${payloadBytesMax} bytes, got ${payloadBytesMax + 1}`);
  });

  test('an invalid field in a later packet is named by its index in the whole list', () => {
    const tlvs = Array.from({ length: 200 }, (_, i) => update(i));
    tlvs[150] = { type: 'update', source: id(151), seqno: 0, metric: 0, intervalMs: 0 };
    let thrown: unknown;
    try {
      packTlvs(tlvs);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(WireError);
    expect((thrown as WireError).code).toBe(WireErrorCode.ERR_WIRE_ENCODE);
    expect((thrown as WireError).message).toContain('packTlvs: tlvs[150] (update): expected intervalMs in 1..65535, got 0');
  });

  test('packTlvsInto appends the same packets to an existing array', () => {
    fc.assert(
      fc.property(fc.array(tlvArb, { maxLength: 300 }), (tlvs) => {
        const earlier = Uint8Array.of(1, 2);
        const out = [earlier];
        packTlvsInto(tlvs, out);
        expect(out).toEqual([earlier, ...packTlvs(tlvs)]);
      }),
      { numRuns: 50 },
    );
  });
});

describe('packTlvsInto with a smaller limit', () => {
  it('keeps every packet within the limit, and gives an oversized TLV a packet of its own', () => {
    const updates: Tlv[] = Array.from({ length: 100 }, (_, i) => ({ type: 'update', source: nodeId(i + 1), seqno: i, metric: 256, intervalMs: 20_000 }));
    const packets: Uint8Array[] = [];
    packTlvsInto(updates, packets, 600);
    expect(packets.length).toBeGreaterThan(2);
    for (const packet of packets) expect(packet.length).toBeLessThanOrEqual(600);
    expect(packets.flatMap((p) => decodePacket(p))).toEqual(updates);
    const big: Tlv = { type: 'data', kind: 0, hopLimit: 64, src: nodeId(1), dst: nodeId(2), id: 1, payload: new Uint8Array(900) };
    const out: Uint8Array[] = [];
    packTlvsInto([updates[0]!, big, updates[1]!], out, 600);
    expect(out.map((p) => decodePacket(p).length)).toEqual([1, 1, 1]);
  });
});
