import { describe, expect, it } from 'vitest';
import { Neighbour, type LinkId } from '../../src/mesh/neighbour.js';
import { Outbox } from '../../src/mesh/outbox.js';
import { fastProfile } from '../../src/mesh/profiles.js';
import type { Transmit } from '../../src/mesh/types.js';
import { decodePacket, encodePacket } from '../../src/wire/codec.js';
import { nodeId } from '../../src/wire/ids.js';
import { packetBytesMax, tlvsPerPacketMax } from '../../src/wire/limits.js';
import type { HelloTlv, IhuTlv, RouteRequestTlv, Tlv, UpdateTlv } from '../../src/wire/messages.js';

const me = nodeId(1);

const hello: HelloTlv = { type: 'hello', sender: me, seqno: 3, intervalMs: 1000, timestampUs: 5 };
const ihu: IhuTlv = { type: 'ihu', rxCost: 256, intervalMs: 3000, originUs: 0, holdUs: 0 };
const wildcard: RouteRequestTlv = { type: 'routeRequest', source: null };

function update(source: number): UpdateTlv {
  return { type: 'update', source: nodeId(source), seqno: 1, metric: 256, intervalMs: 16_000 };
}

function neighbour(link: number, usable: boolean): Neighbour {
  const result = new Neighbour(link as LinkId, fastProfile);
  result.usable = usable;
  result.slot = link; // the node assigns slots; here one per link
  return result;
}

function sumBytes(transmits: readonly Transmit[]): number {
  return transmits.reduce((sum, transmit) => sum + transmit.bytes.length, 0);
}

describe('Outbox', () => {
  it('flushes nothing when empty', () => {
    const outbox = new Outbox();
    expect(outbox.isEmpty()).toBe(true);
    const out: Transmit[] = [];
    expect(outbox.flush([neighbour(1, true)], out)).toBe(0);
    expect(out).toEqual([]);
  });

  it('isEmpty sees unicast and to-all TLVs alike, until the flush', () => {
    const a = neighbour(1, true);
    const unicast = new Outbox();
    unicast.toNeighbour(a, hello);
    expect(unicast.isEmpty()).toBe(false);
    unicast.flush([a], []);
    expect(unicast.isEmpty()).toBe(true);

    const toAll = new Outbox();
    toAll.toAll(hello);
    expect(toAll.isEmpty()).toBe(false);
    toAll.flush([], []); // no neighbour at all: the TLV is dropped, not kept
    expect(toAll.isEmpty()).toBe(true);
  });

  it('packs unicast TLVs per neighbour, in order, usable or not', () => {
    const a = neighbour(1, false);
    const b = neighbour(2, true);
    const outbox = new Outbox();
    outbox.toNeighbour(a, hello);
    outbox.toNeighbour(b, wildcard);
    outbox.toNeighbour(a, ihu);
    const out: Transmit[] = [];
    // Unicast goes to the neighbour it was queued for even when the list omits it.
    expect(outbox.flush([b], out)).toBe(31 + 9);
    expect(out).toEqual([
      { link: 1, bytes: encodePacket([hello, ihu]) },
      { link: 2, bytes: encodePacket([wildcard]) },
    ]);
    expect(decodePacket(out[0]!.bytes)).toEqual([hello, ihu]);
  });

  it('sends TLVs for all only to usable neighbours, the same bytes on each link', () => {
    const a = neighbour(1, true);
    const b = neighbour(2, false);
    const c = neighbour(3, true);
    const outbox = new Outbox();
    outbox.toAll(update(10));
    outbox.toAll(update(11));
    const out: Transmit[] = [];
    const bytesSent = outbox.flush([a, b, c], out);
    const packet = encodePacket([update(10), update(11)]);
    expect(packet.length).toBe(27);
    expect(out).toEqual([
      { link: 1, bytes: packet },
      { link: 3, bytes: packet },
    ]);
    expect(out[0]!.bytes).toBe(out[1]!.bytes); // encoded once
    expect(bytesSent).toBe(54);
  });

  it('puts unicast packets before packets for all, and appends to the output', () => {
    const a = neighbour(1, true);
    const outbox = new Outbox();
    outbox.toAll(update(10));
    outbox.toNeighbour(a, hello);
    const earlier: Transmit = { link: 9 as LinkId, bytes: Uint8Array.of(1) };
    const out: Transmit[] = [earlier];
    expect(outbox.flush([a], out)).toBe(16 + 14);
    expect(out).toEqual([earlier, { link: 1, bytes: encodePacket([hello]) }, { link: 1, bytes: encodePacket([update(10)]) }]);
  });

  it('splits a long queue into several packets and counts every byte', () => {
    const a = neighbour(1, true);
    const b = neighbour(2, true);
    const outbox = new Outbox();
    const many: Tlv[] = Array.from({ length: tlvsPerPacketMax + 1 }, () => wildcard);
    for (const tlv of many) outbox.toAll(tlv);
    for (let i = 0; i < 120; i++) outbox.toNeighbour(a, update(100 + i)); // 120 * 13 bytes > one packet
    const out: Transmit[] = [];
    const bytesSent = outbox.flush([a, b], out);
    expect(out.map((t) => [t.link, t.bytes.length])).toEqual([
      [1, 1 + 107 * 13],
      [1, 1 + 13 * 13],
      [1, 1 + 128 * 8],
      [1, 1 + 8],
      [2, 1 + 128 * 8],
      [2, 1 + 8],
    ]);
    expect(out.every((t) => t.bytes.length <= packetBytesMax)).toBe(true);
    expect(bytesSent).toBe(sumBytes(out));
    expect(bytesSent).toBe(1 + 107 * 13 + 1 + 13 * 13 + 2 * (1 + 128 * 8 + 1 + 8));
  });

  it('is empty after a flush, even when no neighbour was usable', () => {
    const a = neighbour(1, false);
    const outbox = new Outbox();
    outbox.toNeighbour(a, hello);
    outbox.toAll(update(10));
    const first: Transmit[] = [];
    expect(outbox.flush([a], first)).toBe(16);
    expect(first).toHaveLength(1);
    a.usable = true;
    expect(outbox.isEmpty()).toBe(true);
    const second: Transmit[] = [];
    expect(outbox.flush([a], second)).toBe(0);
    expect(second).toEqual([]);
    outbox.toNeighbour(a, ihu);
    const third: Transmit[] = [];
    expect(outbox.flush([a], third)).toBe(16);
    expect(third).toEqual([{ link: 1, bytes: encodePacket([ihu]) }]);
  });

  it('reuses its queues across flushes and keeps the order of first use', () => {
    const a = neighbour(1, true);
    const b = neighbour(5, true);
    const outbox = new Outbox();
    outbox.toNeighbour(b, hello);
    outbox.toNeighbour(a, ihu);
    const first: Transmit[] = [];
    outbox.flush([a, b], first);
    outbox.toNeighbour(a, hello);
    outbox.toNeighbour(b, ihu);
    const second: Transmit[] = [];
    outbox.flush([a, b], second);
    expect(first.map((t) => t.link)).toEqual([5, 1]);
    expect(second).toEqual([
      { link: 1, bytes: encodePacket([hello]) },
      { link: 5, bytes: encodePacket([ihu]) },
    ]);
  });

  it('rejects a neighbour without a slot, and two neighbours in one slot', () => {
    const outbox = new Outbox();
    const unassigned = new Neighbour(3 as LinkId, fastProfile);
    expect(() => outbox.toNeighbour(unassigned, hello)).toThrow(
      new RangeError('Outbox.toNeighbour: expected a neighbour slot (an integer >= 0), got -1'),
    );
    const a = neighbour(1, true);
    const impostor = neighbour(2, true);
    impostor.slot = 1;
    outbox.toNeighbour(a, hello);
    expect(() => outbox.toNeighbour(impostor, hello)).toThrow('Outbox.toNeighbour: two neighbours share slot 1 (links 1 and 2)');
  });
});

describe('Outbox packet limit', () => {
  it('refuses a limit outside 256..1400 bytes, naming it', () => {
    expect(() => new Outbox(100)).toThrow(/expected packetBytesMax in 256\.\.1400, got 100/);
    expect(() => new Outbox(1401)).toThrow(RangeError);
    expect(() => new Outbox(1000.5)).toThrow(RangeError);
  });
});
