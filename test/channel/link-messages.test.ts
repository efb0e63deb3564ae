import { describe, expect, it } from 'vitest';
import { linkMessageTypeMin, meshPacketBytesMax } from '../../src/channel/secure-node.js';
import type { LinkId } from '../../src/mesh/neighbour.js';
import type { LinkMessageEvent } from '../../src/mesh/types.js';
import { nodeId } from '../../src/wire/ids.js';
import { SecureHarness } from './secure-harness.js';

const link0 = 0 as LinkId;

/** Two nodes with a session on link 0. */
function pair(): SecureHarness {
  const h = new SecureHarness([[1, 2]]);
  h.boot({ id: 1 });
  h.boot({ id: 2 });
  h.run(3000);
  expect(h.nodes.get(1)!.isSecured(link0)).toBe(true);
  return h;
}

function linkMessages(h: SecureHarness, node: number): LinkMessageEvent[] {
  return h.events.filter((e) => e.node === node && e.event.kind === 'linkMessage').map((e) => e.event as LinkMessageEvent);
}

describe('link messages in a secure session', () => {
  it('reach the peer driver as a linkMessage event naming the sender, and never the routing core', () => {
    const h = pair();
    const frame = h.nodes.get(1)!.sealLinkMessage(h.nowMs, link0, Uint8Array.of(0x81, 1, 2, 3));
    expect(frame).not.toBeNull();
    const decodeErrors = h.nodes.get(2)!.mesh.stats.decodeErrors;
    h.inject(2, { kind: 'datagram', link: link0, bytes: frame! });
    expect(linkMessages(h, 2)).toEqual([{ kind: 'linkMessage', link: link0, peer: nodeId(1), payload: Uint8Array.of(0x81, 1, 2, 3) }]);
    expect(h.nodes.get(2)!.mesh.stats.decodeErrors).toBe(decodeErrors);
    expect(h.nodes.get(2)!.peerCertificateOf(link0)).toEqual(expect.any(Uint8Array));
  });

  it('are refused unless they start with a link message type and fit a frame; without a session there is nothing to seal', () => {
    const h = pair();
    const node = h.nodes.get(1)!;
    expect(() => node.sealLinkMessage(h.nowMs, link0, Uint8Array.of(1, 2))).toThrow(/type >= 128, got 2 bytes starting with 1/);
    expect(() => node.sealLinkMessage(h.nowMs, link0, new Uint8Array(0))).toThrow(RangeError);
    expect(() => node.sealLinkMessage(h.nowMs, link0, new Uint8Array(meshPacketBytesMax + 1).fill(linkMessageTypeMin))).toThrow(RangeError);
    expect(node.sealLinkMessage(h.nowMs, 9 as LinkId, Uint8Array.of(0x81))).toBeNull();
    expect(node.peerCertificateOf(9 as LinkId)).toBeNull();
  });
});
