import { describe, expect, it } from 'vitest';
import { Harness } from './harness.js';

/** A line 0 - 1 - 2 (links 0 and 1), up and converged. */
function line(): Harness {
  const h = new Harness(3, [
    { a: 0, b: 1 },
    { a: 1, b: 2 },
  ]);
  h.runUntil(2000);
  return h;
}

/** The counts of `node`'s link to `peer`. */
function countsTo(h: Harness, node: number, peer: number): { sent: number; handedTo: number; received: number; receivedFrom: number } {
  const counts = h.node(node).dataCounts().find((entry) => entry.peer === h.id(peer))!;
  return { sent: counts.sent, handedTo: counts.handedTo, received: counts.received, receivedFrom: counts.receivedFrom };
}

describe('per-link data counts (transit accounting)', () => {
  it('count what each link carried, and the transit among it, from each end', () => {
    const h = line();
    for (let id = 1; id <= 5; id++) h.input(0, { kind: 'send', dst: h.id(2), id, payload: new Uint8Array(10) });
    h.input(0, { kind: 'send', dst: h.id(1), id: 6, payload: new Uint8Array(10) });
    h.runUntil(2100);
    // 0 hands 1 five transit packets (addressed to 2) and one addressed to 1 itself.
    expect(countsTo(h, 0, 1)).toEqual({ sent: 6, handedTo: 5, received: 0, receivedFrom: 0 });
    // 1 got six packets 0 originated (none transit) and put five on to 2, addressed to 2 (none transit).
    expect(countsTo(h, 1, 0)).toEqual({ sent: 0, handedTo: 0, received: 6, receivedFrom: 0 });
    expect(countsTo(h, 1, 2)).toEqual({ sent: 5, handedTo: 0, received: 0, receivedFrom: 0 });
    // 2 got from 1 five packets 0 originated: transit through 1.
    expect(countsTo(h, 2, 1)).toEqual({ sent: 0, handedTo: 0, received: 5, receivedFrom: 5 });
    expect(h.node(1).dataCounts().every((entry) => entry.usable)).toBe(true);
  });

  it('dataNotSent takes a packet the driver could not send off the counts', () => {
    const h = line();
    const output = h.node(0).handle(h.nowMs, { kind: 'send', dst: h.id(2), id: 1, payload: new Uint8Array(10) });
    const transmit = output.sends.find((send) => send.data !== undefined)!;
    expect(countsTo(h, 0, 1)).toMatchObject({ sent: 1, handedTo: 1 });
    h.node(0).dataNotSent(transmit.link, transmit.data!);
    expect(countsTo(h, 0, 1)).toMatchObject({ sent: 0, handedTo: 0 });
    const own = h.node(0).handle(h.nowMs, { kind: 'send', dst: h.id(1), id: 2, payload: new Uint8Array(10) });
    const direct = own.sends.find((send) => send.data !== undefined)!;
    h.node(0).dataNotSent(direct.link, direct.data!);
    expect(countsTo(h, 0, 1)).toMatchObject({ sent: 0, handedTo: 0 });
    // An unknown link is ignored.
    h.node(0).dataNotSent(99 as typeof direct.link, direct.data!);
  });
});
