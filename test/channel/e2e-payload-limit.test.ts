import { describe, expect, it } from 'vitest';
import { e2eApplicationBytesMax } from '../../src/channel/end-to-end.js';
import { nodeId } from '../../src/wire/ids.js';
import { SecureHarness } from './secure-harness.js';

describe('the largest end-to-end application datagram', () => {
  it('is e2eApplicationBytesMax: that many bytes cross two hops, one more is dropped as too large', () => {
    const h = new SecureHarness([
      [1, 2],
      [2, 3],
    ]);
    for (const id of [1, 2, 3]) h.boot({ id, endToEnd: true });
    h.run(3000);
    h.inject(1, { kind: 'send', dst: nodeId(3), id: 1, payload: new Uint8Array(e2eApplicationBytesMax).fill(7) });
    h.run(3000);
    const delivered = h.events.filter((entry) => entry.node === 3 && entry.event.kind === 'delivered' && entry.event.id === 1);
    expect(delivered.map((entry) => (entry.event.kind === 'delivered' ? entry.event.payload.length : 0))).toEqual([e2eApplicationBytesMax]);
    h.inject(1, { kind: 'send', dst: nodeId(3), id: 2, payload: new Uint8Array(e2eApplicationBytesMax + 1) });
    h.run(1000);
    expect(h.events.some((entry) => entry.node === 3 && entry.event.kind === 'delivered' && entry.event.id === 2)).toBe(false);
    expect(h.nodes.get(1)!.stats.droppedTooLarge).toBe(1);
  });
});
