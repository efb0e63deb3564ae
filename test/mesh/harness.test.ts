/** The test harness itself: the properties the mesh tests rely on. */
import { describe, expect, it } from 'vitest';
import type { LinkId } from '../../src/mesh/neighbour.js';
import { Harness } from './harness.js';

const l = (n: number): LinkId => n as LinkId;

/** Sends app data `id` from node `from` to node `to` now. */
function send(h: Harness, from: number, to: number, id: number): void {
  h.input(from, { kind: 'send', dst: h.id(to), id, payload: new Uint8Array(0) });
}

describe('Harness links', () => {
  it('stay FIFO when the delay drops: a later packet arrives with, not before, an earlier one', () => {
    const h = new Harness(2, [{ a: 0, b: 1 }]);
    h.runUntil(1000);
    h.setDelay(0, 50);
    send(h, 0, 1, 1);
    const firstSentMs = h.nowMs;
    h.runFor(1);
    h.setDelay(0, 1);
    send(h, 0, 1, 2);
    h.runFor(100);
    const delivered = h.eventsOf(1, 'delivered').map((r) => [r.event.id, r.atMs - firstSentMs]);
    expect(delivered).toEqual([
      [1, 50],
      [2, 50],
    ]);
    // Once the queue has drained, the new delay applies.
    send(h, 0, 1, 3);
    const thirdSentMs = h.nowMs;
    h.runFor(10);
    expect(h.eventsOf(1, 'delivered').at(-1)).toMatchObject({ atMs: thirdSentMs + 1, event: { id: 3 } });
  });

  it('rewire moves one end: the kept end hears the new node, the former end hears nothing and its sends are dropped', () => {
    // 0 - 1 on link 0; node 2 stands by on link 1 (2 - 1).
    const h = new Harness(3, [
      { a: 0, b: 1 },
      { a: 2, b: 1 },
    ]);
    h.runUntil(1000);
    expect(h.across(0, 0)).toBe(1);
    h.rewire(0, 0, 2);
    h.input(2, { kind: 'addLink', link: l(0) });
    expect(h.links[0]).toEqual({ a: 0, b: 2, delayMs: 1 });
    // Until they notice, each end routes as it did: the checker follows what they believe.
    expect(h.across(0, 0)).toBe(1);
    expect(h.across(1, 0)).toBe(0);
    expect(h.across(2, 0)).toBeNull();
    h.runFor(500);
    expect(h.eventsOf(0, 'neighbourDown')).toContainEqual(expect.objectContaining({ event: { kind: 'neighbourDown', link: 0, peer: h.id(1), reason: 'peer-changed' } }));
    expect(h.eventsOf(0, 'neighbourUp').at(-1)!.event).toMatchObject({ link: 0, peer: h.id(2) });
    expect(h.eventsOf(1, 'neighbourDown').map((r) => [r.event.link, r.event.reason])).toEqual([[0, 'probe-timeout']]);
    expect([h.across(0, 0), h.across(2, 0)]).toEqual([2, 0]);
    expect(() => h.rewire(0, 1, 2)).toThrow(/not on link 0/);
    expect(() => h.rewire(0, 0, 2)).toThrow(/already joins/);
  });
});
