import { describe, expect, it } from 'vitest';
import { repackPacket } from '../../src/channel/repack.js';
import { decodePacket, encodePacket } from '../../src/wire/codec.js';
import { nodeId } from '../../src/wire/ids.js';
import type { Tlv } from '../../src/wire/messages.js';

const updates: Tlv[] = Array.from({ length: 90 }, (_, i) => ({ type: 'update', source: nodeId(i + 1), seqno: i, metric: 256, intervalMs: 20_000 }));

describe('repackPacket', () => {
  it('splits a full packet into packets of whole TLVs under the limit, keeping their order', () => {
    const packet = encodePacket(updates);
    const parts = repackPacket(packet, 500)!;
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts) expect(part.length).toBeLessThanOrEqual(500);
    expect(parts.flatMap((part) => decodePacket(part))).toEqual(decodePacket(packet));
  });

  it('returns null when a single TLV is larger than the limit, or the bytes do not decode', () => {
    const data: Tlv = { type: 'data', kind: 0, hopLimit: 64, src: nodeId(1), dst: nodeId(2), id: 1, payload: new Uint8Array(900) };
    expect(repackPacket(encodePacket([data]), 500)).toBeNull();
    expect(repackPacket(new Uint8Array([99, 1, 2]), 500)).toBeNull();
  });
});
