import { describe, expect, it } from 'vitest';
import type { LinkId } from '../../src/mesh/neighbour.js';
import { Neighbour } from '../../src/mesh/neighbour.js';
import { fastProfile } from '../../src/mesh/profiles.js';
import { ProbeState, type ProbeTlv } from '../../src/wire/messages.js';
import { nodeId } from '../../src/wire/ids.js';
import { Harness } from './harness.js';

const A = 0;
const B = 1;
const detectMs = fastProfile.probeDetectMult * fastProfile.probeIntervalMs!;

/** Sends one data packet every `everyMs` from each of `senders` to the other end of the single link, from now until `untilMs`. */
function flow(h: Harness, senders: readonly number[], everyMs: number, untilMs: number): void {
  let id = 1;
  for (let t = h.nowMs; t < untilMs; t += everyMs) {
    h.runUntil(t);
    for (const from of senders) h.input(from, { kind: 'send', dst: h.id(from === A ? B : A), id: id++, payload: new Uint8Array(100) });
  }
  h.runUntil(untilMs);
}

function probesSent(h: Harness, from: number, sinceMs: number, untilMs = Infinity): number {
  return h.sentTlvs(from, 'probe').filter((p) => p.atMs >= sinceMs && p.atMs < untilMs).length;
}

function pair(): Harness {
  const h = new Harness(2, [{ a: A, b: B, delayMs: 1 }], { trace: true });
  h.runUntil(1000);
  expect(h.node(A).neighbourViews()[0]!.usable).toBe(true);
  return h;
}

describe('data packets are evidence of liveness', () => {
  it('a link with data both ways every 10 ms carries a probe every two or three rounds instead of every round, and stays up', () => {
    const h = pair();
    flow(h, [A, B], 10, 6000);
    // Over 5 s the fast profile would send ~114 probes each way (one per 37.5-50 ms round);
    // with data, one at least every two intervals (100 ms) is still due.
    for (const node of [A, B]) {
      expect(probesSent(h, node, 1000)).toBeGreaterThanOrEqual(30);
      expect(probesSent(h, node, 1000)).toBeLessThanOrEqual(50);
    }
    expect(h.node(A).stats.probesSpared).toBeGreaterThan(60);
    expect(h.eventsOf(A, 'neighbourDown')).toEqual([]);
    expect(h.eventsOf(B, 'neighbourDown')).toEqual([]);
    expect(h.node(B).stats.dataDelivered).toBeGreaterThan(490);
  });

  it('one-way data spares only the sender some of its probes; the receiver keeps probing every round', () => {
    const h = pair();
    flow(h, [A], 10, 6000);
    expect(probesSent(h, A, 1000)).toBeLessThanOrEqual(50);
    expect(probesSent(h, B, 1000)).toBeGreaterThan(90);
    expect(h.node(B).stats.probesSpared).toBe(0);
    expect(h.eventsOf(B, 'neighbourDown')).toEqual([]);
  });

  it('a trickle of data (one packet per 200 ms) leaves most probe rounds as they were', () => {
    const h = pair();
    flow(h, [A, B], 200, 6000);
    expect(probesSent(h, A, 1000)).toBeGreaterThan(70);
    expect(h.eventsOf(A, 'neighbourDown')).toEqual([]);
  });

  it('a silent cut during a flow is detected within the detection time of the last packet heard, both ends', () => {
    const h = pair();
    flow(h, [A, B], 10, 3000);
    h.cut(0);
    const cutAtMs = h.nowMs;
    flow(h, [A, B], 10, 4000);
    for (const node of [A, B]) {
      const downs = h.eventsOf(node, 'neighbourDown');
      expect(downs).toHaveLength(1);
      // The last packet arrived at most 10 ms before the cut (plus 1 ms of delay).
      expect(downs[0]!.atMs).toBeGreaterThan(cutAtMs);
      expect(downs[0]!.atMs).toBeLessThanOrEqual(cutAtMs + detectMs + 1);
    }
  });

  it('when data stops, probes resume within an interval and the link stays up', () => {
    const h = pair();
    flow(h, [A, B], 10, 3000);
    h.runUntil(4000);
    expect(probesSent(h, A, 3000 + fastProfile.probeIntervalMs!, 4000)).toBeGreaterThan(15);
    expect(h.eventsOf(A, 'neighbourDown')).toEqual([]);
    expect(h.eventsOf(B, 'neighbourDown')).toEqual([]);
  });
});

describe('Neighbour.onData', () => {
  const probe = (state: ProbeTlv['state'], echoUs = 0): ProbeTlv => ({ type: 'probe', sender: nodeId(9), state, detectMult: 3, intervalMs: 50, txUs: 1, echoUs, holdUs: 0 });

  it('pushes the detection time out only while the probe session is up and a fresh probe came recently', () => {
    const neighbour = new Neighbour(0 as LinkId, fastProfile);
    neighbour.notePeer(nodeId(9));
    neighbour.noteProbeSent(0, 1111);
    neighbour.onProbe(0, probe(ProbeState.down, 1111));
    expect(neighbour.probeState).toBe(ProbeState.init);
    neighbour.onData(100);
    expect(neighbour.probeDetectAtMs).toBe(150); // not moved: data cannot bring a session up
    neighbour.onProbe(100, probe(ProbeState.init, 1111));
    expect(neighbour.probeState).toBe(ProbeState.up);
    neighbour.onData(140);
    expect(neighbour.probeDetectAtMs).toBe(290);
    neighbour.onData(120); // an earlier time (reordered input) never pulls it in
    expect(neighbour.probeDetectAtMs).toBe(290);
    // The last fresh probe came at 100: data counts until 100 + 2 x 150, then no more.
    neighbour.onData(400);
    expect(neighbour.probeDetectAtMs).toBe(550);
    neighbour.onData(401);
    expect(neighbour.probeDetectAtMs).toBe(550);
  });

  it('does not take probes that echo old or unknown probes of ours as fresh: delayed packets cannot keep a dead neighbour alive', () => {
    const neighbour = new Neighbour(0 as LinkId, fastProfile);
    neighbour.notePeer(nodeId(9));
    neighbour.noteProbeSent(0, 2222);
    neighbour.onProbe(0, probe(ProbeState.down));
    neighbour.onProbe(10, probe(ProbeState.init, 3333)); // echoes nothing we sent
    expect(neighbour.probeState).toBe(ProbeState.up);
    neighbour.onData(50);
    expect(neighbour.probeDetectAtMs).toBe(160); // from the probe at 10, not moved by data
    neighbour.onProbe(400, probe(ProbeState.up, 2222)); // echoes a probe we sent 400 ms ago: too old
    neighbour.onData(450);
    expect(neighbour.probeDetectAtMs).toBe(550);
  });

  it('forgets the data it sent and the peer detection time when the peer changes', () => {
    const neighbour = new Neighbour(0 as LinkId, fastProfile);
    neighbour.notePeer(nodeId(9));
    neighbour.dataSentAtMs = 5;
    neighbour.notePeer(nodeId(10));
    expect(neighbour.dataSentAtMs).toBe(Number.NEGATIVE_INFINITY);
    neighbour.onData(10);
    expect(neighbour.probeDetectAtMs).toBe(Number.POSITIVE_INFINITY);
  });
});
