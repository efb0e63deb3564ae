/**
 * Route queries (QueryTlv / QueryReplyTlv, `queries.ts`, profile flag `routeQueries`) and the
 * re-forwarding of seqno requests, driven through the in-process harness in virtual time.
 */
import { describe, expect, it } from 'vitest';
import type { LinkId } from '../../src/mesh/neighbour.js';
import { MeshNode } from '../../src/mesh/node.js';
import { detectionTimeMs, fastProfile, rfc8966Profile, type TimingProfile } from '../../src/mesh/profiles.js';
import type { MeshInput, MeshOutput } from '../../src/mesh/types.js';
import { encodePacket } from '../../src/wire/codec.js';
import { nodeId, type NodeId } from '../../src/wire/ids.js';
import { metricInfinity } from '../../src/wire/limits.js';
import { ProbeState, type Tlv } from '../../src/wire/messages.js';
import { dropTlvs, Harness, mulberry32, type CallResult, type LinkSpec, type PacketFilter } from './harness.js';

const A = 0;
const B = 1;
const C = 2;
const D = 3;
const E = 4;

const l = (n: number): LinkId => n as LinkId;

/** The fast profile without route queries: pure RFC 8966 starvation handling. */
const babelOnly: TimingProfile = { ...fastProfile, routeQueries: false };

/** The harness links' one-way delay unless set, and so the time of one question and its answer. */
const linkDelayMs = 1;
const roundTripMs = 2 * linkDelayMs;

/**
 * Pentagon A-B-C-D-E-A (links 0..4), all links cost 256. A reaches C via B at 512; E offers C
 * via D at an advertised 512, which is not below A's feasibility distance 512. Cutting A-B
 * leaves A with only that unfeasible route: Babel must then wait for a new seqno from C.
 */
function pentagon(): LinkSpec[] {
  return [
    { a: A, b: B },
    { a: B, b: C },
    { a: C, b: D },
    { a: D, b: E },
    { a: E, b: A },
  ];
}

/** The route `from` selected to node `to`, or undefined. */
function routeTo(h: Harness, from: number, to: number): ReturnType<MeshNode['routes']>[number] | undefined {
  return h.node(from).routes().find((r) => r.dst === h.id(to));
}

/** Hands `tlvs` to node `to` as if they arrived on `link`, now. */
function inject(h: Harness, to: number, link: number, tlvs: Tlv[]): CallResult {
  return h.input(to, { kind: 'datagram', link: l(link), bytes: encodePacket(tlvs) });
}

/** The TLVs of `type` in one call's sends, with the link each went out on. */
function sentIn<T extends Tlv['type']>(result: CallResult, type: T): { link: number; tlv: Extract<Tlv, { type: T }> }[] {
  return result.sends.flatMap((s) => s.tlvs.filter((t) => t.type === type).map((tlv) => ({ link: s.link, tlv: tlv as Extract<Tlv, { type: T }> })));
}

/** Every routing TLV (update, query, queryReply, seqnoRequest) about `source` in one call's sends, per packet. */
function routingIn(result: CallResult, source: NodeId): { link: number; tlvs: Tlv[] }[] {
  const about = (t: Tlv): boolean => (t.type === 'update' || t.type === 'query' || t.type === 'queryReply' || t.type === 'seqnoRequest') && t.source === source;
  return result.sends.map((s) => ({ link: s.link, tlvs: s.tlvs.filter(about) })).filter((s) => s.tlvs.length > 0);
}

/** Runs in steps of `stepMs` until `done` holds (at most `limitMs`), and returns the time. */
function runUntilTrue(h: Harness, done: () => boolean, limitMs = 5000, stepMs = 0.25): number {
  const endMs = h.nowMs + limitMs;
  while (!done()) {
    if (h.nowMs >= endMs) throw new Error(`runUntilTrue: still false after ${limitMs} ms`);
    h.runFor(stepMs);
  }
  return h.nowMs;
}

/** When and in which call `node` first declared the neighbour on `link` down, and why. */
function firstDownEvent(h: Harness, node: number, link: number): { atMs: number; call: number; reason: string } | undefined {
  const found = h.eventsOf(node, 'neighbourDown').find((r) => r.event.link === link);
  return found === undefined ? undefined : { atMs: found.atMs, call: found.call, reason: found.event.reason };
}

/** The routeChanged events of `node` for destination `to` from `sinceMs` on. */
function changesTo(h: Harness, node: number, to: number, sinceMs: number): { atMs: number; call: number; link: LinkId | null; metric: number }[] {
  return h
    .eventsOf(node, 'routeChanged')
    .filter((r) => r.event.dst === h.id(to) && r.atMs >= sinceMs)
    .map((r) => ({ atMs: r.atMs, call: r.call, link: r.event.link, metric: r.event.metric }));
}

/** Combines packet filters: a TLV arrives only when every filter lets it through. */
function allOf(...filters: PacketFilter[]): PacketFilter {
  return (from, link, tlvs) => filters.reduce<readonly Tlv[]>((kept, f) => (kept.length === 0 ? kept : f(from, link, kept)), tlvs);
}

describe('route queries: a starving node recovers without a new seqno', () => {
  it('pentagon: A takes E\'s route with C\'s old seqno one round trip after losing B', () => {
    const h = new Harness(5, pentagon(), { emitRouteEvents: true, trace: true });
    h.runUntil(2000);
    expect(routeTo(h, A, C)).toMatchObject({ link: 0, metric: 512 });
    const seqnoC = h.node(C).ownSeqno;
    h.filter = dropTlvs(['seqnoRequest']); // no new seqno can come from C
    h.cut(0);
    h.runUntil(3000);
    const down = firstDownEvent(h, A, 0)!;
    expect(down.reason).toBe('probe-timeout');
    // Retracted at once (no feasible alternate), then back through E when E's answer arrives:
    // the query reaches E after one link delay and the answer returns after another. B was
    // lost by timeout but is the next hop whose loss started the query, so no hold applies.
    expect(changesTo(h, A, C, 2000)).toEqual([
      { atMs: down.atMs, call: down.call, link: null, metric: metricInfinity },
      { atMs: down.atMs + roundTripMs, call: expect.any(Number), link: 4, metric: 768 },
    ]);
    expect(routeTo(h, A, C)).toMatchObject({ link: 4, metric: 768, seqno: seqnoC });
    expect(h.node(C).ownSeqno).toBe(seqnoC);
    // A lost two sources with B (B itself and C), and queried for both; E's single answer
    // packet completed both. (B comes back later through E's own query for B.)
    expect(h.node(A).stats.queriesCompleted).toBe(2);
    expect(routeTo(h, A, B)).toMatchObject({ link: 4, metric: 1024, seqno: h.node(B).ownSeqno });
    // Seqno requests still went out in parallel (the filter dropped them on the link).
    const requests = h.sentTlvs(A, 'seqnoRequest').filter((r) => r.tlv.source === h.id(C));
    expect(requests[0]).toMatchObject({ atMs: down.atMs, link: 4 });
  });

  it('without routeQueries the same failure leaves A without a route until C answers a seqno request', () => {
    const h = new Harness(5, pentagon(), { profile: babelOnly, emitRouteEvents: true, trace: true });
    h.runUntil(2000);
    const seqnoC = h.node(C).ownSeqno;
    h.filter = dropTlvs(['seqnoRequest']);
    h.cut(0);
    h.runUntil(12_000);
    expect(routeTo(h, A, C)).toBeUndefined();
    expect(h.node(C).ownSeqno).toBe(seqnoC);
    for (let i = 0; i < 5; i++) {
      expect(h.sentTlvs(i, 'query')).toEqual([]);
      expect(h.node(i).stats.queriesCompleted).toBe(0);
    }
    expect(h.node(A).stats.seqnoRequestsSent).toBeGreaterThan(0);
  });

  it('sends the query after the retraction in the same packet, and the reply carries the answering route', () => {
    const h = new Harness(5, pentagon(), { trace: true });
    h.runUntil(2000);
    h.filter = dropTlvs(['seqnoRequest']);
    h.cut(0);
    h.runUntil(3000);
    const down = firstDownEvent(h, A, 0)!;
    const [b, c] = [h.id(B), h.id(C)];
    const interval = fastProfile.updateIntervalMs;
    // The one packet A put on link 4 with routing TLVs when B went down.
    const fromA = h.sent.filter((p) => p.from === A && p.atMs === down.atMs && p.tlvs.some((t) => t.type === 'query'));
    expect(fromA.map((p) => p.link)).toEqual([4]); // only E is usable now
    const routing = fromA[0]!.tlvs.filter((t) => t.type === 'update' || t.type === 'query');
    // Nonces start at a random value per boot and count up, one per query.
    const first = routing.find((t) => t.type === 'query')!.nonce;
    const second = (first + 1) & 0xffff;
    expect(routing).toEqual([
      { type: 'update', source: b, seqno: h.node(B).ownSeqno, metric: metricInfinity, intervalMs: interval },
      { type: 'update', source: c, seqno: h.node(C).ownSeqno, metric: metricInfinity, intervalMs: interval },
      { type: 'query', source: b, nonce: first },
      { type: 'query', source: c, nonce: second },
    ]);
    expect(h.sentTlvs(A, 'query').map((q) => [q.atMs, q.link])).toEqual([
      [down.atMs, 4],
      [down.atMs, 4],
    ]);
    // E's answer, one link delay later, unicast on link 4: a reply per query with the same nonce,
    // carrying E's route. E routed to B through A, so it answers with a retraction; C it reaches
    // through D at 512, with C's unchanged seqno.
    const answers = h.sent.filter((p) => p.from === E && p.link === 4 && p.tlvs.some((t) => t.type === 'queryReply'));
    expect(answers).toHaveLength(1);
    expect(answers[0]!.atMs).toBe(down.atMs + linkDelayMs);
    expect(answers[0]!.tlvs.filter((t) => t.type === 'queryReply')).toEqual([
      { type: 'queryReply', source: b, nonce: first, seqno: h.node(B).ownSeqno, metric: metricInfinity },
      { type: 'queryReply', source: c, nonce: second, seqno: h.node(C).ownSeqno, metric: 512 },
    ]);
  });
});

describe('route queries: answering', () => {
  const converged = (profile?: TimingProfile): Harness => {
    const h = new Harness(5, pentagon(), profile === undefined ? {} : { profile });
    h.runUntil(2000);
    return h;
  };

  it('a Query from its next hop counts as the retraction it lost: drops that route and replies with the current one', () => {
    const h = converged();
    const c = h.id(C);
    const seqnoC = h.node(C).ownSeqno;
    const interval = fastProfile.updateIntervalMs;
    expect(h.node(A).nextHopLink(c)).toBe(0);
    h.filter = dropTlvs(['seqnoRequest']); // C's seqno stays as it is
    // A query from the next hop (B, link 0) whose retraction was lost: A must not keep routing
    // through B and answer as if it did not (B would take A's answer for "not through me").
    const out = inject(h, A, 0, [{ type: 'query', source: c, nonce: 7 }]);
    expect(h.node(A).nextHopLink(c)).toBeNull();
    // E's route (advertised 512) is not below A's distance 512: A has no route left, so it
    // replies to B with no route, then retracts to everyone and queries in turn
    // (and asks E, which holds the unfeasible route, for a newer seqno).
    const retraction: Tlv = { type: 'update', source: c, seqno: seqnoC, metric: metricInfinity, intervalMs: interval };
    const ownQuery = { type: 'query', source: c, nonce: expect.any(Number) };
    const withoutRequests = routingIn(out, c)
      .map((p) => ({ link: p.link, tlvs: p.tlvs.filter((t) => t.type !== 'seqnoRequest') }))
      .filter((p) => p.tlvs.length > 0);
    expect(withoutRequests).toEqual([
      { link: 0, tlvs: [{ type: 'queryReply', source: c, nonce: 7, seqno: seqnoC, metric: metricInfinity }] },
      { link: 0, tlvs: [retraction, ownQuery] },
      { link: 4, tlvs: [retraction, ownQuery] },
    ]);
    expect(sentIn(out, 'seqnoRequest').map((r) => [r.link, r.tlv.source])).toEqual([[4, c]]);
    // B in fact still reaches C: its answer (256, below A's distance 512) is feasible, so A
    // takes B's route again at once and abandons its query.
    h.runFor(20);
    expect(routeTo(h, A, C)).toMatchObject({ link: 0, metric: 512, seqno: seqnoC });
    expect(h.node(A).stats.queriesCompleted).toBe(0);
  });

  it('a Query from a neighbour that is not its next hop leaves its route alone and replies with it', () => {
    const h = converged();
    const c = h.id(C);
    const answered = inject(h, A, 4, [{ type: 'query', source: c, nonce: 7 }]);
    expect(routingIn(answered, c)).toEqual([
      {
        link: 4,
        tlvs: [{ type: 'queryReply', source: c, nonce: 7, seqno: h.node(C).ownSeqno, metric: 512 }],
      },
    ]);
    expect(routeTo(h, A, C)).toMatchObject({ link: 0, metric: 512 });
    expect(sentIn(answered, 'query')).toEqual([]);
  });

  it('answers a query for its own id with metric 0, and one for an unknown source with no route', () => {
    const h = converged();
    const a = h.node(A);
    const own = inject(h, A, 0, [{ type: 'query', source: a.id, nonce: 3 }]);
    expect(own.sends).toEqual([
      {
        link: 0,
        tlvs: [{ type: 'queryReply', source: a.id, nonce: 3, seqno: a.ownSeqno, metric: 0 }],
      },
    ]);
    const unknown = inject(h, A, 4, [{ type: 'query', source: nodeId(999), nonce: 0xffff }]);
    expect(unknown.sends).toEqual([{ link: 4, tlvs: [{ type: 'queryReply', source: nodeId(999), nonce: 0xffff, seqno: 0, metric: metricInfinity }] }]);
  });

  it('answers a source it knows but cannot reach with a reply carrying no route', () => {
    const h = new Harness(3, [
      { a: A, b: B },
      { a: B, b: C },
    ]);
    h.runUntil(1000);
    h.cut(1);
    h.runUntil(1500);
    const c = h.id(C);
    expect(h.node(A).nextHopLink(c)).toBeNull();
    const out = inject(h, A, 0, [{ type: 'query', source: c, nonce: 5 }]);
    expect(out.sends).toEqual([
      {
        link: 0,
        tlvs: [{ type: 'queryReply', source: c, nonce: 5, seqno: expect.any(Number), metric: metricInfinity }],
      },
    ]);
  });

  it('a node without routeQueries still answers queries, and ignores replies', () => {
    const h = converged(babelOnly);
    const c = h.id(C);
    const out = inject(h, A, 4, [{ type: 'query', source: c, nonce: 1 }]);
    expect(routingIn(out, c)).toEqual([
      {
        link: 4,
        tlvs: [{ type: 'queryReply', source: c, nonce: 1, seqno: h.node(C).ownSeqno, metric: 512 }],
      },
    ]);
    const reply = inject(h, A, 4, [{ type: 'queryReply', source: c, nonce: 1, seqno: h.node(C).ownSeqno, metric: 512 }]);
    expect(reply.sends).toEqual([]);
    expect(reply.events).toEqual([]);
  });

  it('ignores replies for an unknown source, with a stale nonce, or when no query is in progress', () => {
    const h = converged();
    const before = h.node(A).routes();
    for (const tlv of [
      { type: 'queryReply', source: nodeId(999), nonce: 0, seqno: 0, metric: 256 },
      { type: 'queryReply', source: h.id(C), nonce: 0, seqno: h.node(C).ownSeqno, metric: 512 },
      { type: 'queryReply', source: h.id(C), nonce: 1234, seqno: h.node(C).ownSeqno, metric: 512 },
    ] as const) {
      const out = inject(h, A, 4, [tlv]);
      expect(out.sends).toEqual([]);
      expect(out.events).toEqual([]);
    }
    expect(h.node(A).routes()).toEqual(before);
    expect(h.node(A).stats.queriesCompleted).toBe(0);
  });
});

describe('route queries: only with the profile flag', () => {
  it('a profile with routeQueries but no probes is refused: the holds rest on the probe handshake', () => {
    const slow: TimingProfile = { ...rfc8966Profile, routeQueries: true };
    const make = (): MeshNode => new MeshNode({ id: nodeId(1), random: mulberry32(1), profile: slow });
    expect(make).toThrow(RangeError);
    expect(make).toThrow(/routeQueries needs probes/);
    // Without the flag the same profile is fine.
    expect(new MeshNode({ id: nodeId(1), random: mulberry32(1), profile: rfc8966Profile }).id).toBe(nodeId(1));
  });

  it('without routeQueries a peer change flushes the routes through the link but sends no query', () => {
    const h = new Harness(5, pentagon(), { profile: babelOnly });
    h.runUntil(2000);
    expect(h.node(A).nextHopLink(h.id(C))).toBe(0);
    const probe: Tlv = { type: 'probe', sender: nodeId(99), state: ProbeState.down, detectMult: 3, intervalMs: 50, txUs: 1, echoUs: 0, holdUs: 0 };
    const out = inject(h, A, 0, [probe]);
    expect(out.events).toContainEqual({ kind: 'neighbourDown', link: 0, peer: h.id(B), reason: 'peer-changed' });
    expect(h.node(A).nextHopLink(h.id(C))).toBeNull();
    expect(sentIn(out, 'query')).toEqual([]);
  });

  it('rfc8966 never sends a query; the route comes back through a seqno request', () => {
    const h = new Harness(5, pentagon(), { profile: rfc8966Profile, trace: true });
    h.runUntil(30_000);
    expect(routeTo(h, A, C)).toMatchObject({ link: 0, metric: 512 });
    const seqnoC = h.node(C).ownSeqno;
    h.cut(0);
    h.runUntil(90_000);
    for (let i = 0; i < 5; i++) {
      expect(h.sentTlvs(i, 'query')).toEqual([]);
      expect(h.sentTlvs(i, 'queryReply')).toEqual([]);
      expect(h.node(i).stats.queriesCompleted).toBe(0);
    }
    expect(h.node(A).stats.seqnoRequestsSent).toBeGreaterThan(0);
    expect(h.node(C).ownSeqno).toBe((seqnoC + 1) & 0xffff);
    expect(routeTo(h, A, C)).toMatchObject({ link: 4, metric: 768, seqno: h.node(C).ownSeqno });
  });
});

describe('route queries: the hold for neighbours lost silently', () => {
  // The pentagon with one more neighbour of A: F (node 5), a leaf on link 5. F routes to C
  // through A, so while F has not noticed that its link to A failed, A must not act as if
  // nobody routed through it.
  const F = 5;
  const withLeaf = (): LinkSpec[] => [...pentagon(), { a: A, b: F }];

  /** Converges, fails A-F so that A declares F down by timeout, then removes A's next hop B. */
  const loseLeafThenNextHop = (leafDelayMs = linkDelayMs): { h: Harness; leafDownMs: number; leafRttMs: number; askedMs: number } => {
    const links = [...pentagon(), { a: A, b: F, delayMs: leafDelayMs }];
    const h = new Harness(6, links, { emitRouteEvents: true, trace: true });
    h.runUntil(2000);
    h.filter = dropTlvs(['seqnoRequest']);
    const leafRttMs = h.node(A).neighbourViews().find((v) => v.link === 5)!.rttMs;
    h.cut(5);
    runUntilTrue(h, () => firstDownEvent(h, A, 5) !== undefined);
    const leafDownMs = firstDownEvent(h, A, 5)!.atMs;
    expect(firstDownEvent(h, A, 5)!.reason).toBe('probe-timeout');
    // Losing the next hop now starts the query; B is exempt from the hold, F is not.
    h.input(A, { kind: 'removeLink', link: l(0) });
    return { h, leafDownMs, leafRttMs, askedMs: h.nowMs };
  };

  it('completes only once a neighbour lost by timeout can no longer route through us', () => {
    const { h, leafDownMs, leafRttMs, askedMs } = loseLeafThenNextHop();
    expect(h.sentTlvs(A, 'query').filter((q) => q.tlv.source === h.id(C)).map((q) => [q.atMs, q.link])).toEqual([[askedMs, 4]]);
    h.runFor(500);
    const back = changesTo(h, A, C, askedMs).filter((c) => c.link !== null);
    expect(back).toHaveLength(1);
    expect(back[0]!.link).toBe(4);
    // E answered one round trip after the question, but the route waited for F's hold. F's last
    // probe from A in state Up can arrive up to one one-way delay after A declared F down, and F
    // declares A down one detection time (detectMult x interval) after its last probe: until
    // then F may route through A. The node bounds that one-way delay by max(detection time,
    // RTT), which with a 2 ms RTT is the detection time: the hold is two detection times.
    expect(leafRttMs).toBeLessThan(detectionTimeMs(fastProfile));
    expect(back[0]!.atMs).toBeGreaterThan(askedMs + roundTripMs);
    expect(back[0]!.atMs).toBeCloseTo(leafDownMs + 2 * detectionTimeMs(fastProfile), 6);
    expect(h.node(A).stats.queriesCompleted).toBeGreaterThanOrEqual(1);
  });

  it('holds for one detection time plus the RTT when the RTT is the longer', () => {
    // A 90 ms link to F: RTT about 180 ms, above the 150 ms detection time.
    const { h, leafDownMs, leafRttMs, askedMs } = loseLeafThenNextHop(90);
    expect(leafRttMs).toBeGreaterThan(detectionTimeMs(fastProfile));
    h.runFor(600);
    const back = changesTo(h, A, C, askedMs).filter((c) => c.link !== null);
    expect(back.map((c) => c.link)).toEqual([4]);
    expect(back[0]!.atMs).toBeCloseTo(leafDownMs + detectionTimeMs(fastProfile) + leafRttMs, 6);
  });

  it('ends the hold when the same peer comes up again on the link: the handshake proves it dropped us', () => {
    const h = new Harness(6, withLeaf(), { emitRouteEvents: true });
    h.runUntil(2000);
    h.filter = dropTlvs(['seqnoRequest']);
    h.cut(5);
    runUntilTrue(h, () => firstDownEvent(h, A, 5) !== undefined);
    const leafDownMs = firstDownEvent(h, A, 5)!.atMs;
    h.restore(5);
    runUntilTrue(h, () => h.eventsOf(A, 'neighbourUp').some((r) => r.event.link === 5 && r.atMs > leafDownMs));
    expect(h.nowMs).toBeLessThan(leafDownMs + 2 * detectionTimeMs(fastProfile) - 50);
    // F is back and asked like E; the two answer in one round trip, and no hold is left.
    h.input(A, { kind: 'removeLink', link: l(0) });
    const askedMs = h.nowMs;
    h.runFor(100);
    expect(changesTo(h, A, C, askedMs).map((c) => [c.atMs, c.link])).toEqual([
      [askedMs, null],
      [askedMs + roundTripMs, 4],
    ]);
  });

  it('has no hold for a neighbour that said it went down (peer-down)', () => {
    const h = new Harness(6, withLeaf(), { emitRouteEvents: true });
    h.runUntil(2000);
    h.filter = dropTlvs(['seqnoRequest']);
    // F reboots: its first probe says Down, so A hears that F dropped it.
    h.crash(F);
    h.restart(F);
    runUntilTrue(h, () => firstDownEvent(h, A, 5) !== undefined);
    expect(firstDownEvent(h, A, 5)!.reason).toBe('peer-down');
    h.input(A, { kind: 'removeLink', link: l(0) });
    const askedMs = h.nowMs;
    h.runFor(100);
    expect(changesTo(h, A, C, askedMs).map((c) => [c.atMs, c.link])).toEqual([
      [askedMs, null],
      [askedMs + roundTripMs, 4],
    ]);
  });

  it('holds a neighbour lost before any RTT sample for two detection times (one for its detection, one in place of the RTT)', () => {
    // F is down; a peer claiming to be F brings the link up with probes that echo nothing
    // (no RTT sample), then falls silent: A declares it down by timeout with rttMs unknown.
    const h = new Harness(6, withLeaf(), { emitRouteEvents: true });
    h.crash(F);
    h.runUntil(2000);
    h.filter = dropTlvs(['seqnoRequest']);
    const probe = (state: (typeof ProbeState)[keyof typeof ProbeState]): Tlv => ({
      type: 'probe',
      sender: h.id(F),
      state,
      detectMult: 3,
      intervalMs: 50,
      txUs: 1,
      echoUs: 0,
      holdUs: 0,
    });
    inject(h, A, 5, [probe(ProbeState.down)]);
    const up = inject(h, A, 5, [probe(ProbeState.init)]);
    expect(up.events).toContainEqual({ kind: 'neighbourUp', link: 5, peer: h.id(F), cost: expect.any(Number) });
    expect(h.node(A).neighbourViews().find((v) => v.link === 5)!.rttMs).toBeNaN();
    runUntilTrue(h, () => firstDownEvent(h, A, 5) !== undefined);
    const leafDownMs = firstDownEvent(h, A, 5)!.atMs;
    h.input(A, { kind: 'removeLink', link: l(0) });
    const askedMs = h.nowMs;
    h.runFor(400);
    const back = changesTo(h, A, C, askedMs).filter((c) => c.link !== null);
    expect(back.map((c) => [c.atMs, c.link])).toEqual([[leafDownMs + 2 * detectionTimeMs(fastProfile), 4]]);
  });

  it('also holds for a neighbour whose link the driver removed', () => {
    // The driver removes A's links to F and to B at the same moment. F keeps believing in the
    // link until its own detection fires, one detection time later, and routes through A until then.
    const h = new Harness(6, withLeaf(), { emitRouteEvents: true });
    h.runUntil(2000);
    h.filter = dropTlvs(['seqnoRequest']);
    expect(h.node(F).nextHopLink(h.id(C))).toBe(5);
    h.input(A, { kind: 'removeLink', link: l(5) });
    h.input(A, { kind: 'removeLink', link: l(0) });
    const removedMs = h.nowMs;
    h.runFor(500);
    const fSawItMs = firstDownEvent(h, F, 5)!.atMs;
    expect(fSawItMs).toBeGreaterThan(removedMs + 100);
    const back = changesTo(h, A, C, removedMs).filter((c) => c.link !== null);
    expect(back).toHaveLength(1);
    // B's removal started the query and is exempt; F's hold is the silent-loss one.
    expect(back[0]!.atMs).toBeCloseTo(removedMs + 2 * detectionTimeMs(fastProfile), 6);
  });
});

describe('route queries: the neighbours asked', () => {
  // Pentagon plus a leaf G (node 5) on A, link 5; G's answers are dropped, so the query waits for G.
  const G = 5;
  const setUp = (): Harness => {
    const h = new Harness(6, [...pentagon(), { a: A, b: G }], { emitRouteEvents: true, trace: true });
    h.runUntil(2000);
    h.filter = allOf(dropTlvs(['seqnoRequest']), dropTlvs(['queryReply'], (from) => from === G));
    h.cut(0);
    runUntilTrue(h, () => firstDownEvent(h, A, 0) !== undefined);
    // The query went to both usable neighbours, E and G.
    expect(h.sentTlvs(A, 'query').filter((q) => q.tlv.source === h.id(C)).map((q) => q.link)).toEqual([4, 5]);
    h.runFor(20);
    expect(routeTo(h, A, C)).toBeUndefined();
    expect(h.node(A).stats.queriesCompleted).toBe(0);
    return h;
  };

  it('waits for every neighbour asked; one that goes down no longer counts', () => {
    const h = setUp();
    h.runFor(300);
    expect(routeTo(h, A, C)).toBeUndefined();
    // G reboots and says so (a probe in state Down): A drops it from the query at once, and as
    // it said so itself there is no hold either.
    h.crash(G);
    h.restart(G);
    runUntilTrue(h, () => firstDownEvent(h, A, 5) !== undefined);
    const gone = firstDownEvent(h, A, 5)!;
    expect(gone.reason).toBe('peer-down');
    const back = changesTo(h, A, C, gone.atMs - 1);
    expect(back.map((c) => [c.call, c.link, c.metric])).toEqual([[gone.call, 4, 768]]);
    expect(h.node(A).stats.queriesCompleted).toBeGreaterThanOrEqual(1);
  });

  it('a neighbour replaced by another node on its link (peer-changed) no longer counts either', () => {
    const h = setUp();
    // Another node answers on G's link: A reports G down (peer-changed). G never answers now.
    const stranger = nodeId(99);
    const probe: Tlv = { type: 'probe', sender: stranger, state: ProbeState.down, detectMult: 3, intervalMs: 50, txUs: 1, echoUs: 0, holdUs: 0 };
    const out = inject(h, A, 5, [probe]);
    expect(out.events).toContainEqual({ kind: 'neighbourDown', link: 5, peer: h.id(G), reason: 'peer-changed' });
    h.runFor(1000);
    expect(routeTo(h, A, C)).toMatchObject({ link: 4, metric: 768 });
  });
});

describe('route queries: cancellation and stale answers', () => {
  it('a feasible route while waiting cancels the query: no reset of the feasibility distance, a new nonce next time', () => {
    // Pentagon plus G (node 5) linked to A (link 5, down at first) and to C (link 6, 30 ms:
    // cost 324). E's answers are dropped, so A's query waits until G's feasible route arrives.
    const G = 5;
    const h = new Harness(6, [...pentagon(), { a: A, b: G }, { a: G, b: C, delayMs: 30 }], { emitRouteEvents: true, trace: true });
    h.cut(5);
    h.runUntil(3000);
    const c = h.id(C);
    expect(routeTo(h, A, C)).toMatchObject({ link: 0, metric: 512 });
    h.filter = allOf(dropTlvs(['seqnoRequest']), dropTlvs(['queryReply'], (from) => from === E));
    h.cut(0);
    runUntilTrue(h, () => firstDownEvent(h, A, 0) !== undefined);
    const firstQuery = h.sentTlvs(A, 'query').find((q) => q.tlv.source === c)!.tlv;
    h.runFor(200);
    expect(routeTo(h, A, C)).toBeUndefined();
    // G comes up and offers C at an advertised 324 < 512: feasible, selected at 580.
    h.restore(5);
    runUntilTrue(h, () => h.node(A).nextHopLink(c) === 5);
    expect(routeTo(h, A, C)).toMatchObject({ link: 5, metric: 580 });
    // E's late answer to the cancelled query changes nothing.
    const late = inject(h, A, 4, [{ type: 'queryReply', source: c, nonce: firstQuery.nonce, seqno: h.node(C).ownSeqno, metric: 512 }]);
    expect(late.events).toEqual([]);
    h.runFor(100);
    expect(h.node(A).stats.queriesCompleted).toBe(0);
    // Losing G: E's route (advertised 512, old seqno) is still unfeasible, since A's distance
    // is still (seqno, 512); so no route, and a new query with a new nonce.
    h.cut(5);
    runUntilTrue(h, () => firstDownEvent(h, A, 5) !== undefined);
    const lost = firstDownEvent(h, A, 5)!;
    expect(changesTo(h, A, C, lost.atMs - 1).map((x) => [x.call, x.link])).toEqual([[lost.call, null]]);
    const again = h.sentTlvs(A, 'query').filter((q) => q.tlv.source === c && q.atMs === lost.atMs);
    expect(again.map((q) => q.link)).toEqual([4]);
    const nonce = again[0]!.tlv.nonce;
    expect(nonce).not.toBe(firstQuery.nonce);
    // A stale nonce does not complete it; the right one does, at once (G, the lost next hop, is
    // exempt from the hold, and B's hold is long over).
    expect(inject(h, A, 4, [{ type: 'queryReply', source: c, nonce: firstQuery.nonce, seqno: h.node(C).ownSeqno, metric: 512 }]).events).toEqual([]);
    expect(h.node(A).stats.queriesCompleted).toBe(0);
    const done = inject(h, A, 4, [{ type: 'queryReply', source: c, nonce, seqno: h.node(C).ownSeqno, metric: 512 }]);
    expect(done.events).toEqual([{ kind: 'routeChanged', dst: c, link: 4, metric: 768 }]);
    expect(h.node(A).stats.queriesCompleted).toBe(1);
    expect(routeTo(h, A, C)).toMatchObject({ link: 4, metric: 768, seqno: h.node(C).ownSeqno });
  });

  it('drops the distance at most once per seqno: a second loss at the same seqno falls back to seqno requests', () => {
    const h = new Harness(5, pentagon(), { emitRouteEvents: true, trace: true });
    h.runUntil(2000);
    h.filter = dropTlvs(['seqnoRequest']);
    const c = h.id(C);
    const seqno = h.node(C).ownSeqno;
    h.cut(0);
    h.runUntil(2500);
    expect(routeTo(h, A, C)).toMatchObject({ link: 4, metric: 768, seqno });
    const queries = h.sentTlvs(A, 'query').filter((q) => q.tlv.source === c).length;
    const update = (s: number, metric: number): Tlv => ({ type: 'update', source: c, seqno: s, metric, intervalMs: fastProfile.updateIntervalMs });
    // E's route gets worse than A's distance (seqno, 768): unfeasible, so A loses C again.
    const worse = inject(h, A, 4, [update(seqno, 900)]);
    expect(h.node(A).nextHopLink(c)).toBeNull();
    expect(sentIn(worse, 'query')).toEqual([]);
    expect(sentIn(worse, 'seqnoRequest').map((r) => [r.link, r.tlv.seqno])).toEqual([[4, (seqno + 1) & 0xffff]]);
    // A newer seqno is feasible; losing that one may be queried again.
    inject(h, A, 4, [update((seqno + 1) & 0xffff, 512)]);
    expect(routeTo(h, A, C)).toMatchObject({ link: 4, metric: 768 });
    h.runFor(50); // advertised: the distance is now (seqno + 1, 768)
    const worseAgain = inject(h, A, 4, [update((seqno + 1) & 0xffff, 900)]);
    expect(h.node(A).nextHopLink(c)).toBeNull();
    expect(sentIn(worseAgain, 'query').map((q) => [q.link, q.tlv.source])).toEqual([[4, c]]);
    expect(h.sentTlvs(A, 'query').filter((q) => q.tlv.source === c)).toHaveLength(queries + 1);
  });

  it('a restarted node numbers its queries from a new random nonce, not from where its former self did', () => {
    const h = new Harness(5, pentagon(), { trace: true });
    const firstNonceAfter = (sinceMs: number): number => h.sentTlvs(A, 'query').find((q) => q.atMs >= sinceMs)!.tlv.nonce;
    h.runUntil(2000);
    h.cut(0);
    runUntilTrue(h, () => h.sentTlvs(A, 'query').length > 0);
    const before = firstNonceAfter(0);
    h.restore(0);
    h.crash(A);
    h.runFor(500);
    h.restart(A);
    h.runFor(2000);
    expect(routeTo(h, A, C)).toMatchObject({ link: 0 });
    const cutMs = h.nowMs;
    h.cut(0);
    runUntilTrue(h, () => h.sentTlvs(A, 'query').some((q) => q.atMs >= cutMs));
    const after = firstNonceAfter(cutMs);
    // The former self used `before` and a few after it: a late answer to those must not count.
    expect(((after - before) & 0xffff) > 16).toBe(true);
  });

  for (const completed of [false, true]) {
    it(`forgets a query ${completed ? 'that completed' : 'in progress'} with its source: a new source in the slot queries afresh`, () => {
      const quick: TimingProfile = { ...fastProfile, updateIntervalMs: 2000, sourceGcMs: 5000 };
      const h = new Harness(2, [{ a: A, b: B }], { profile: quick });
      h.runUntil(1000);
      h.filter = completed ? dropTlvs(['seqnoRequest']) : dropTlvs(['seqnoRequest', 'queryReply']);
      const update = (source: number, metric: number, intervalMs: number): Tlv => ({ type: 'update', source: nodeId(source), seqno: 1, metric, intervalMs });
      // Source 77, learnt from B, advertised by A (distance (1, 356)), then offered worse:
      // unfeasible, so A retracts and queries. The short interval lets the route expire.
      inject(h, A, 0, [update(77, 100, 100)]);
      h.runFor(30);
      const first = inject(h, A, 0, [update(77, 400, 100)]);
      const firstQueries = sentIn(first, 'query').map((q) => q.tlv);
      expect(firstQueries).toEqual([{ type: 'query', source: nodeId(77), nonce: expect.any(Number) }]);
      const nonce = firstQueries[0]!.nonce;
      h.runFor(10);
      expect(h.node(A).stats.queriesCompleted).toBe(completed ? 1 : 0);
      // Idle for sourceGcMs: the source and its slot are forgotten.
      h.runFor(8000);
      // Source 88 reuses the slot with the same seqno, and goes through the same steps.
      inject(h, A, 0, [update(88, 100, 20_000)]);
      expect(h.node(A).metricTo(nodeId(88))).toBe(356);
      h.runFor(30);
      const second = inject(h, A, 0, [update(88, 400, 20_000)]);
      expect(h.node(A).nextHopLink(nodeId(88))).toBeNull();
      expect(sentIn(second, 'query').map((q) => q.tlv)).toEqual([{ type: 'query', source: nodeId(88), nonce: (nonce + 1) & 0xffff }]);
    });
  }
});

describe('seqno requests forwarded to a neighbour that goes down', () => {
  // Diamond: R - X, then X reaches S through Y (links 1, 2) and, slower, through Z (links 3, 4):
  // the RTT penalty of the 30 ms links makes the path through Y better by more than the
  // hysteresis, so X routes through Y however the boot hold orders the first updates.
  const [R, X, Y, Z, S] = [0, 1, 2, 3, 4];
  const diamond = (): LinkSpec[] => [
    { a: R, b: X },
    { a: X, b: Y },
    { a: Y, b: S },
    { a: X, b: Z, delayMs: 30 },
    { a: Z, b: S, delayMs: 30 },
  ];

  /** Converges, hands X a request for a newer seqno of S from R, and returns what X forwarded. */
  const forwardRequest = (links: LinkSpec[], nodes: number): { h: Harness; request: Tlv; forwardedMs: number } => {
    const h = new Harness(nodes, links, { trace: true });
    h.runUntil(2000);
    expect(h.node(X).nextHopLink(h.id(S))).toBe(1);
    const request: Tlv = { type: 'seqnoRequest', source: h.id(S), seqno: (h.node(S).ownSeqno + 1) & 0xffff, hopCount: 10, requester: h.id(R) };
    const out = inject(h, X, 0, [request]);
    const forwarded = { ...request, hopCount: 9 };
    expect(sentIn(out, 'seqnoRequest')).toEqual([{ link: 1, tlv: forwarded }]);
    return { h, request: forwarded, forwardedMs: h.nowMs };
  };
  const requestsFromX = (h: Harness): { atMs: number; link: number; tlv: Tlv }[] =>
    h.sentTlvs(X, 'seqnoRequest').filter((r) => r.tlv.source === h.id(S));

  it('sends it on through the best remaining route in the call that declares the neighbour down', () => {
    const { h, request, forwardedMs } = forwardRequest(diamond(), 5);
    const seqno = h.node(S).ownSeqno;
    h.cut(1); // the forwarded request is lost with the link
    runUntilTrue(h, () => firstDownEvent(h, X, 1) !== undefined);
    const down = firstDownEvent(h, X, 1)!;
    expect(down.atMs - forwardedMs).toBeLessThan(fastProfile.seqnoRequestRetryMs);
    expect(requestsFromX(h)).toEqual([
      { atMs: forwardedMs, link: 1, tlv: request },
      { atMs: down.atMs, link: 3, tlv: request },
    ]);
    h.runFor(200);
    expect(h.node(S).ownSeqno).toBe((seqno + 1) & 0xffff);
  });

  it('does not send it again once its retry time has passed', () => {
    const { h, request, forwardedMs } = forwardRequest(diamond(), 5);
    h.runFor(fastProfile.seqnoRequestRetryMs);
    h.cut(1);
    runUntilTrue(h, () => firstDownEvent(h, X, 1) !== undefined);
    expect(requestsFromX(h)).toEqual([{ atMs: forwardedMs, link: 1, tlv: request }]);
  });

  it('does not send it back where it came from when no other route is left', () => {
    // Line R - X - Y - S: after Y, only R (the requester's side) has a route to S.
    const line: LinkSpec[] = [
      { a: R, b: X },
      { a: X, b: Y },
      { a: Y, b: 3 },
    ];
    const h = new Harness(4, line, { trace: true });
    h.runUntil(2000);
    const request: Tlv = { type: 'seqnoRequest', source: h.id(3), seqno: (h.node(3).ownSeqno + 1) & 0xffff, hopCount: 10, requester: h.id(R) };
    expect(sentIn(inject(h, X, 0, [request]), 'seqnoRequest').map((r) => r.link)).toEqual([1]);
    h.cut(1);
    runUntilTrue(h, () => firstDownEvent(h, X, 1) !== undefined);
    expect(h.sentTlvs(X, 'seqnoRequest').filter((r) => r.tlv.source === h.id(3) && r.tlv.requester === h.id(R))).toHaveLength(1);
  });

  it('does not send on a request for a source forgotten meanwhile', () => {
    // Requests are remembered for a long time here, sources forgotten quickly.
    const profile: TimingProfile = { ...fastProfile, updateIntervalMs: 2000, sourceGcMs: 1000, seqnoRequestRetryMs: 60_000 };
    const h = new Harness(3, [
      { a: R, b: X },
      { a: X, b: Y },
    ], { profile, trace: true });
    h.runUntil(2000);
    const source = nodeId(77);
    // Source 77 is heard through Y only briefly (its route expires after 350 ms), and X's
    // adverts of it are dropped so that no other node learns it (and hands it back).
    h.filter = (from, _link, tlvs) => tlvs.filter((t) => !(from === X && t.type === 'update' && t.source === source));
    inject(h, X, 1, [{ type: 'update', source, seqno: 1, metric: 100, intervalMs: 100 }]);
    const request: Tlv = { type: 'seqnoRequest', source, seqno: 2, hopCount: 10, requester: h.id(R) };
    expect(sentIn(inject(h, X, 0, [request]), 'seqnoRequest').map((r) => r.link)).toEqual([1]);
    h.runFor(3000); // expired, then idle for sourceGcMs: forgotten
    expect(h.node(X).metricTo(source)).toBe(metricInfinity);
    h.cut(1);
    runUntilTrue(h, () => firstDownEvent(h, X, 1) !== undefined);
    expect(h.sentTlvs(X, 'seqnoRequest').filter((r) => r.tlv.source === source)).toEqual([{ atMs: 2000, link: 1, tlv: { ...request, hopCount: 9 } }]);
  });

  it('also sends it on when the driver removes the link', () => {
    const { h, request, forwardedMs } = forwardRequest(diamond(), 5);
    h.cut(1);
    const out = h.input(X, { kind: 'removeLink', link: l(1) });
    expect(out.events).toContainEqual({ kind: 'neighbourDown', link: 1, peer: h.id(Y), reason: 'link-removed' });
    expect(requestsFromX(h)).toEqual([
      { atMs: forwardedMs, link: 1, tlv: request },
      { atMs: forwardedMs, link: 3, tlv: request },
    ]);
  });
});

/**
 * Runs `body` with `check` called after every `handle` call of every MeshNode. The harness has
 * no per-call hook (it applies each output in a private method), so this wraps
 * MeshNode.prototype.handle: that covers every node, including the ones a restart creates,
 * and the check sees exactly the state each call left, before anything else happens.
 */
function afterEveryHandle(check: () => void, body: () => void): void {
  const original = MeshNode.prototype.handle;
  MeshNode.prototype.handle = function (this: MeshNode, nowMs: number, input: MeshInput): MeshOutput {
    const output = original.call(this, nowMs, input);
    check();
    return output;
  };
  try {
    body();
  } finally {
    MeshNode.prototype.handle = original;
  }
}

/**
 * The first cycle in the next-hop graph towards any destination, walking nextHopLink from every
 * running node (as the twin's LoopChecker does, whether or not the links are up; a link moved
 * away from a node still leads where it led), or null.
 */
function findCycle(h: Harness, crashed: ReadonlySet<number> = new Set()): { dst: number; cycle: number[] } | null {
  const n = h.ids.length;
  for (let dst = 0; dst < n; dst++) {
    if (crashed.has(dst)) continue;
    for (let start = 0; start < n; start++) {
      const path: number[] = [];
      let current = start;
      while (!crashed.has(current) && current !== dst) {
        const seenAt = path.indexOf(current);
        if (seenAt >= 0) return { dst, cycle: path.slice(seenAt) };
        path.push(current);
        const link = h.node(current).nextHopLink(h.id(dst));
        const next = link === null ? null : h.across(current, link);
        if (next === null) break;
        current = next;
      }
    }
  }
  return null;
}

/** Records every moment (after a handle call) at which some next-hop graph has a cycle, while `body` runs. */
function cyclesDuring(h: Harness, body: () => void, crashed: ReadonlySet<number> = new Set()): string[] {
  const found: string[] = [];
  afterEveryHandle(() => {
    const cycle = findCycle(h, crashed);
    if (cycle !== null && found.length < 5) found.push(`at ${h.nowMs.toFixed(3)} ms towards ${cycle.dst}: ${cycle.cycle.join(' > ')}`);
  }, body);
  return found;
}

describe('route queries: no transient loops (targeted)', () => {
  // A - B - C is the path to C. F and X hang off A and each other: F - A, F - X, X - A. F and X
  // reach C through A (768); X also hears F's 768, which is not feasible for X (not below 768).
  const [Aq, Bq, Cq, F, X] = [0, 1, 2, 3, 4];
  const kite = (): LinkSpec[] => [
    { a: Aq, b: Bq },
    { a: Bq, b: Cq },
    { a: Aq, b: F },
    { a: F, b: X },
    { a: X, b: Aq },
  ];
  const converged = (): Harness => {
    const h = new Harness(5, kite(), { trace: true });
    h.runUntil(2000);
    const c = h.id(Cq);
    expect([Aq, F, X].map((i) => h.node(i).nextHopLink(c))).toEqual([0, 2, 4]);
    return h;
  };

  it('the driver removes A\'s links to F and to B: no cycle A > X > F > A while F still routes through A', () => {
    // A loses C and queries X; X loses C too (its only other route, F's, is unfeasible) and
    // queries A and F. F still routes through A (it has not noticed the removal yet), so it
    // answers X with that route; X resets and takes it. If A then completes its own query
    // before F has noticed, it takes X's route: A > X > F > A (towards C, and towards B, which
    // A lost with the same link and queried for too).
    const h = converged();
    const cycles = cyclesDuring(h, () => {
      h.input(Aq, { kind: 'removeLink', link: l(2) });
      h.input(Aq, { kind: 'removeLink', link: l(0) });
      h.runFor(400);
    });
    expect(cycles).toEqual([]);
  });

  it('A-F fails one way, then the other: no cycle while F still routes through A', () => {
    // F's probes stop reaching A just after one arrived; A's probes keep reaching F for ~90 ms
    // more, then that direction fails too, just after one of A's probes arrived. A declares F
    // down ~150 ms after the first failure, F declares A down ~150 ms after the second: ~90 ms
    // later. A's Down probe at its declaration is lost with the link. Then A loses B.
    const h = converged();
    /** Runs until `from` next puts a probe on `link`, and until that probe has arrived. */
    const untilProbeArrives = (from: number, link: number): void => {
      const seen = h.sent.length;
      const sent = (): number | undefined =>
        h.sent.slice(seen).find((p) => p.from === from && p.link === link && p.tlvs.some((t) => t.type === 'probe'))?.atMs;
      runUntilTrue(h, () => sent() !== undefined);
      h.runUntil(sent()! + linkDelayMs);
    };
    const cycles = cyclesDuring(h, () => {
      untilProbeArrives(F, 2);
      h.filter = (from, link, tlvs) => (from === F && link === 2 ? [] : tlvs);
      h.runFor(60);
      untilProbeArrives(Aq, 2);
      h.cut(2);
      runUntilTrue(h, () => firstDownEvent(h, Aq, 2) !== undefined);
      h.input(Aq, { kind: 'removeLink', link: l(0) });
      h.runFor(400);
    });
    expect(firstDownEvent(h, F, 2)!.atMs - firstDownEvent(h, Aq, 2)!.atMs).toBeGreaterThan(80);
    expect(cycles).toEqual([]);
  });

  it('another node answers on A-F during F\'s hold: no cycle while F still routes through A', () => {
    // A-F now leads elsewhere: A and F no longer hear each other, and node 99 answers on A's
    // end of the link at once, so the link is usable again at A (peer-changed) and 99 answers
    // A's queries. F has not noticed and routes through A until its own detection fires. Its
    // hold is for F on that link, not for whoever answers there now: A waits it out.
    const h = converged();
    const c = h.id(Cq);
    const stranger = nodeId(99);
    const probe = (state: (typeof ProbeState)[keyof typeof ProbeState]): Tlv => ({ type: 'probe', sender: stranger, state, detectMult: 3, intervalMs: 50, txUs: 1, echoUs: 0, holdUs: 0 });
    let strangerUp: CallResult | undefined;
    let queriedSources: NodeId[] = [];
    let askedMs = 0;
    let at80Ms: { fNextHop: LinkId | null; completed: number; aNextHop: LinkId | null } | undefined;
    const cycles = cyclesDuring(h, () => {
      h.cut(2);
      inject(h, Aq, 2, [probe(ProbeState.down)]);
      strangerUp = inject(h, Aq, 2, [probe(ProbeState.up)]);
      const lost = h.input(Aq, { kind: 'removeLink', link: l(0) });
      const queries = sentIn(lost, 'query').filter((q) => q.link === 2);
      queriedSources = queries.map((q) => q.tlv.source);
      for (const q of queries) inject(h, Aq, 2, [{ type: 'queryReply', source: q.tlv.source, nonce: q.tlv.nonce, seqno: 0, metric: metricInfinity }]);
      askedMs = h.nowMs;
      /** Runs for `ms`, with 99 keeping its session with A up. */
      const runWithStranger = (ms: number): void => {
        for (let i = 0; i < ms; i++) {
          if (i % 20 === 0) inject(h, Aq, 2, [probe(ProbeState.up)]);
          h.runFor(1);
        }
      };
      runWithStranger(80);
      at80Ms = { fNextHop: h.node(F).nextHopLink(c), completed: h.node(Aq).stats.queriesCompleted, aNextHop: h.node(Aq).nextHopLink(c) };
      runWithStranger(300);
    });
    expect(cycles).toEqual([]);
    expect(strangerUp!.events).toContainEqual({ kind: 'neighbourUp', link: 2, peer: stranger, cost: expect.any(Number) });
    expect([...queriedSources].sort()).toEqual([h.id(Bq), c].sort());
    // 80 ms on, X and 99 have answered but F has not gone down: A is still waiting for F's hold.
    expect(at80Ms).toEqual({ fNextHop: 2, completed: 0, aNextHop: null });
    expect(firstDownEvent(h, F, 2)!.atMs).toBeLessThan(askedMs + 2 * detectionTimeMs(fastProfile));
    expect(h.node(Aq).stats.queriesCompleted).toBeGreaterThanOrEqual(1);
  });

  it('A-F\'s delay grows from 1 to 90 ms, then F\'s direction fails and A\'s Down probes are lost: no cycle', () => {
    // A's smoothed RTT to F stays near 2 ms (no sample arrives after the change), while its
    // probes now take 90 ms to reach F, and the first two that say Down are lost: F declares
    // A down long after A declared F down plus A's RTT. The hold assumes one-way delays below
    // max(detection time, RTT), so it lasts two detection times and covers that.
    const h = converged();
    let downProbesDropped = 0;
    const cycles = cyclesDuring(h, () => {
      h.setDelay(2, 90);
      h.filter = (from, link, tlvs) => {
        if (link !== 2) return tlvs;
        if (from === F) return [];
        if (downProbesDropped < 2 && tlvs.some((t) => t.type === 'probe' && t.state !== ProbeState.up)) {
          downProbesDropped++;
          return tlvs.filter((t) => t.type !== 'probe');
        }
        return tlvs;
      };
      runUntilTrue(h, () => firstDownEvent(h, Aq, 2) !== undefined);
      h.input(Aq, { kind: 'removeLink', link: l(0) });
      h.runFor(500);
    });
    const aDown = firstDownEvent(h, Aq, 2)!;
    const fDown = firstDownEvent(h, F, 2)!;
    const rttMs = h.node(Aq).neighbourViews().find((v) => v.link === 2)!.rttMs;
    expect(aDown.reason).toBe('probe-timeout');
    expect(downProbesDropped).toBe(2);
    // A hold of one detection time plus the RTT would have ended before F let go of A.
    expect(fDown.atMs).toBeGreaterThan(aDown.atMs + detectionTimeMs(fastProfile) + (Number.isNaN(rttMs) ? 0 : rttMs));
    expect(fDown.atMs).toBeLessThan(aDown.atMs + 2 * detectionTimeMs(fastProfile));
    expect(h.node(Aq).stats.queriesCompleted).toBeGreaterThanOrEqual(1);
    expect(cycles).toEqual([]);
  });

  it('a QueryReply whose update was lost: no cycle when the replier then loses the querier silently', () => {
    // S - X - Q, and N and Y both hang off Q and each other: Q - N, N - Y, Y - Q. N and Y reach
    // S through Q (768); each offers the other only an unfeasible 768. The driver removes
    // Q - X: Q queries N and Y; N loses its route too, answers Q and queries in turn; N's
    // retraction and its own query to Q are lost. When answers were [update, reply] pairs, a
    // split packet could lose the update and deliver the reply: Q completed on N's stale 768
    // (through Q itself), and when N later declared Q down by timeout (exempt: the next hop
    // whose loss started its query) N took Y's route: N > Y > Q > N. The reply now carries the
    // route itself (no route, here), so Q never takes the stale one.
    const [S, X, Q, N, Y] = [0, 1, 2, 3, 4];
    const h = new Harness(5, [
      { a: S, b: X },
      { a: X, b: Q },
      { a: Q, b: N },
      { a: N, b: Y },
      { a: Y, b: Q },
    ]);
    h.runUntil(2000);
    const s = h.id(S);
    expect([Q, N, Y].map((i) => h.node(i).nextHopLink(s))).toEqual([1, 2, 4]);
    let lostTlvs = 0;
    let afterAnswers: (LinkId | null)[] = [];
    const cycles = cyclesDuring(h, () => {
      // N's retractions of S and its query for S do not reach Q; its reply does.
      h.filter = (from, link, tlvs) => {
        if (from !== N || link !== 2) return tlvs;
        const kept = tlvs.filter((t) => !(t.type === 'update' && t.source === s && t.metric === metricInfinity) && !(t.type === 'query' && t.source === s));
        lostTlvs += tlvs.length - kept.length;
        return kept;
      };
      h.input(Q, { kind: 'removeLink', link: l(1) });
      h.runFor(10);
      afterAnswers = [Q, N, Y].map((i) => h.node(i).nextHopLink(s));
      // Q -> N fails: N declares Q down by timeout, Q hears N's Down probe one link delay later.
      h.filter = (from, link, tlvs) => (from === Q && link === 2 ? [] : tlvs);
      h.runFor(400);
    });
    expect(lostTlvs).toBe(2); // the retraction and the query of N's own query
    expect(afterAnswers[0]).not.toBe(2); // Q does not take N's stale route
    expect(firstDownEvent(h, N, 2)!.reason).toBe('probe-timeout');
    expect(cycles).toEqual([]);
  });

  it('a Query whose retraction was lost: no cycle when the neighbour then loses its own route', () => {
    // Triangle S - Q (1 ms), S - N (8 ms), Q - N (1 ms). N routes to S directly and keeps Q's
    // route as a feasible alternate. Q loses S; its retraction to N is lost but its query in
    // the same packet arrives. Were N to answer while keeping Q's route, Q would complete,
    // route through N, and N, losing S, would fall back to Q's stale route: Q > N > Q.
    const [S, Q, N] = [0, 1, 2];
    const h = new Harness(3, [
      { a: S, b: Q, delayMs: 1 },
      { a: S, b: N, delayMs: 8 },
      { a: Q, b: N, delayMs: 1 },
    ]);
    h.runUntil(3000);
    const s = h.id(S);
    expect(routeTo(h, Q, S)).toMatchObject({ link: 0 });
    expect(routeTo(h, N, S)).toMatchObject({ link: 1, alternateLink: 2 });
    let retractionsDropped = 0;
    let queryArrived = false;
    let whenQCompleted: { q: LinkId | null; nAlternate: LinkId | null | undefined } | undefined;
    let nAfterLoss: LinkId | null = null;
    const cycles = cyclesDuring(h, () => {
      h.filter = (from, link, tlvs) => {
        if (from !== Q || link !== 2 || retractionsDropped > 0) return tlvs;
        const kept = tlvs.filter((t) => !(t.type === 'update' && t.source === s && t.metric === metricInfinity));
        if (kept.length !== tlvs.length) {
          retractionsDropped++;
          queryArrived = kept.some((t) => t.type === 'query' && t.source === s);
        }
        return kept;
      };
      h.input(Q, { kind: 'removeLink', link: l(0) });
      runUntilTrue(h, () => h.node(Q).stats.queriesCompleted > 0, 100);
      whenQCompleted = { q: h.node(Q).nextHopLink(s), nAlternate: routeTo(h, N, S)?.alternateLink };
      h.runFor(1);
      h.input(N, { kind: 'removeLink', link: l(1) });
      nAfterLoss = h.node(N).nextHopLink(s);
      h.runFor(300);
    });
    expect(cycles).toEqual([]);
    expect([retractionsDropped, queryArrived]).toEqual([1, true]);
    // Q routes through N; N took the query for the retraction, so Q's route is no alternate of
    // N's any more, and N, losing S, has nothing to fall back to.
    expect(whenQCompleted).toEqual({ q: 2, nAlternate: null });
    expect(nAfterLoss).toBeNull();
  });
});

/** A ring 0..n-1 plus `chords` random extra links; one-way delays of 1..6 ms. */
function ringWithChords(n: number, chords: number, random: () => number): LinkSpec[] {
  const links: LinkSpec[] = [];
  const seen = new Set<number>();
  const add = (a: number, b: number): void => {
    const key = Math.min(a, b) * n + Math.max(a, b);
    if (a === b || seen.has(key)) return;
    seen.add(key);
    links.push({ a, b, delayMs: 1 + Math.floor(random() * 6) });
  };
  for (let i = 0; i < n; i++) add(i, (i + 1) % n);
  while (links.length < n + chords) add(Math.floor(random() * n), Math.floor(random() * n));
  return links;
}

/** A width x height grid; one-way delays of 1..6 ms. */
function grid(width: number, height: number, random: () => number): LinkSpec[] {
  const links: LinkSpec[] = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (x + 1 < width) links.push({ a: i, b: i + 1, delayMs: 1 + Math.floor(random() * 6) });
      if (y + 1 < height) links.push({ a: i, b: i + width, delayMs: 1 + Math.floor(random() * 6) });
    }
  }
  return links;
}

/** A node stays crashed at least this long: see the comment in `randomFaults`. */
const crashedMsMin = 200;
/** With `delayChanges`, link one-way delays are drawn from 1 ms to this (below the 150 ms detection time). */
const changedDelayMsMax = 120;

/** Which faults `randomFaults` draws besides cuts, blips and crashes. */
interface FaultOptions {
  /** removeLink / addLink at one end of a link (the other end notices by timeout). */
  readonly driverLinks?: boolean;
  /**
   * Each packet is lost with this probability; of the packets that arrive, each update and
   * query TLV is lost with half of it, as when a retraction and its query travel in separate
   * packets and only one is lost.
   */
  readonly lossFraction?: number;
  /** Before a fault, one link in five on average gets a new one-way delay of 1..changedDelayMsMax ms. */
  readonly delayChanges?: boolean;
  /**
   * Before a fault, one link in ten on average is moved to another node at one end (a peer
   * change there, a silent loss at the former end, a new link at the new one).
   */
  readonly peerChanges?: boolean;
}

/**
 * Converges a mesh on `links`, then applies `actions` faults drawn from `seed`, 0..79 ms apart,
 * checking the next-hop graphs after every handle call; returns each cycle found (at most 5)
 * with the faults that led to it. Faults: cut or restore a link; a "blip" (cut for 40-139 ms,
 * back for 1-10 ms, cut again: one direction's probe may get through the short gap and not the
 * other's); crash a node (at most two at once); restart the longest-crashed node; and with
 * `faults`, removeLink / addLink at one end, packet loss and delay changes (see FaultOptions).
 * A node is restarted only after `crashedMsMin` (plus the largest delay with delay changes),
 * once its neighbours have declared it down: a node that restarts within the detection time, with no memory of its feasibility
 * distances, may take a route through a neighbour that still routes through its previous
 * incarnation; that loops with or without route queries (plain Babel does too) and is not what
 * these tests are about.
 */
function randomFaults(links: LinkSpec[], seed: number, profile: TimingProfile, faults: FaultOptions = {}, actions = 60): string[] {
  const nodes = 1 + Math.max(...links.map((x) => Math.max(x.a, x.b)));
  const random = mulberry32(seed);
  const h = new Harness(nodes, links, { seed, profile });
  const driverLinks = faults.driverLinks ?? false;
  const lossFraction = faults.lossFraction ?? 0;
  const restartAfterMs = crashedMsMin + (faults.delayChanges === true ? changedDelayMsMax : 0);
  const crashedAt = new Map<number, number>();
  const crashed = new Set<number>();
  const cut = new Set<number>();
  const removed = new Map<number, number>();
  const log: string[] = [];
  const found: string[] = [];
  const act = (what: string): void => {
    log.push(`${h.nowMs} ms ${what}`);
  };
  h.runUntil(2000);
  const step = (r: number, link: number, node: number): void => {
    if (driverLinks && r < 0.15) {
      const end = random() < 0.5 ? h.links[link]!.a : h.links[link]!.b;
      if (removed.has(link) || crashed.has(end)) return;
      act(`removeLink ${link} at ${end}`);
      h.input(end, { kind: 'removeLink', link: l(link) });
      removed.set(link, end);
    } else if (driverLinks && r < 0.25) {
      const back = [...removed].find(([, end]) => !crashed.has(end));
      if (back === undefined) return;
      act(`addLink ${back[0]} at ${back[1]}`);
      h.input(back[1], { kind: 'addLink', link: l(back[0]) });
      removed.delete(back[0]);
    } else if (r < 0.45) {
      act(`${cut.has(link) ? 'restore' : 'cut'} ${link}`);
      if (cut.delete(link)) {
        h.restore(link);
      } else {
        h.cut(link);
        cut.add(link);
      }
    } else if (r < 0.7) {
      if (cut.has(link)) return;
      const downMs = 40 + Math.floor(random() * 100);
      const upMs = 1 + Math.floor(random() * 10);
      act(`blip ${link}: cut ${downMs} ms, up ${upMs} ms, cut`);
      h.cut(link);
      h.runFor(downMs);
      h.restore(link);
      h.runFor(upMs);
      h.cut(link);
      cut.add(link);
    } else if (r < 0.85) {
      if (crashed.has(node) || crashed.size >= 2) return;
      act(`crash ${node}`);
      h.crash(node);
      crashed.add(node);
      crashedAt.set(node, h.nowMs);
    } else {
      const oldest = [...crashed][0];
      if (oldest === undefined || h.nowMs - crashedAt.get(oldest)! < restartAfterMs) return;
      act(`restart ${oldest}`);
      crashed.delete(oldest);
      h.restart(oldest);
    }
  };
  /** Moves one end of `link` to node `to` (kept end: a if r < 0.5, else b). */
  const rewire = (link: number, r: number, to: number): void => {
    const spec = h.links[link]!;
    const keep = r < 0.5 ? spec.a : spec.b;
    if (removed.has(link) || crashed.has(to) || to === spec.a || to === spec.b) return;
    act(`rewire ${link}: ${spec.a}-${spec.b} to ${keep}-${to}`);
    h.rewire(link, keep, to);
    h.input(to, { kind: 'addLink', link: l(link) });
  };
  afterEveryHandle(
    () => {
      const cycle = found.length < 5 ? findCycle(h, crashed) : null;
      if (cycle !== null) found.push(`seed ${seed}, at ${h.nowMs.toFixed(3)} ms towards ${cycle.dst}: ${cycle.cycle.join(' > ')}; faults: ${log.join(', ')}`);
    },
    () => {
      if (lossFraction > 0) {
        // Its own stream, so that the losses do not shift the fault schedule.
        const lose = mulberry32(seed ^ 0x5bd1e995);
        const routing = (t: Tlv): boolean => t.type === 'update' || t.type === 'query';
        h.filter = (_from, _link, tlvs) => {
          if (lose() < lossFraction) return [];
          return tlvs.filter((t) => !routing(t) || lose() >= lossFraction / 2);
        };
      }
      for (let i = 0; i < actions; i++) {
        if (faults.delayChanges === true && random() < 0.2) {
          const link = Math.floor(random() * links.length);
          const delayMs = 1 + Math.floor(random() * changedDelayMsMax);
          act(`delay ${link} ${delayMs} ms`);
          h.setDelay(link, delayMs);
        }
        if (faults.peerChanges === true && random() < 0.1) rewire(Math.floor(random() * links.length), random(), Math.floor(random() * nodes));
        step(random(), Math.floor(random() * links.length), Math.floor(random() * nodes));
        h.runFor(Math.floor(random() * 80));
      }
      h.runFor(1000);
    },
  );
  return found;
}

describe('route queries: no transient loops (random faults)', () => {
  // 80 seeds per graph (about 4 s each). With a hold of one probe interval + RTT after a timeout,
  // ring seed 65 and grid seed 36 loop, and with driver-removed links left out of the hold,
  // seeds 1, 3, 8 and 19 too. With a hold of one detection time + RTT that also covers removed
  // links, none of 300 seeds per test loops. With every fault at once (5 % loss, delay changes,
  // peer changes, driver links), none of 500 seeds per graph loops; at 20 % loss ring seeds
  // 1002 and 1090 do, through a QueryReply whose update was lost (see the targeted test).
  const seeds = Array.from({ length: 80 }, (_, i) => i + 1);
  const allFaults: FaultOptions = { driverLinks: true, lossFraction: 0.05, delayChanges: true, peerChanges: true };

  it('12-node rings with 4 chords: cut, restore, blip, crash; check after every handle call', () => {
    const loops = seeds.flatMap((seed) => randomFaults(ringWithChords(12, 4, mulberry32(seed)), seed, fastProfile).slice(0, 1));
    expect(loops).toEqual([]);
  });

  it('4 x 3 grids: cut, restore, blip, crash; check after every handle call', () => {
    const loops = seeds.flatMap((seed) => randomFaults(grid(4, 3, mulberry32(seed)), seed, fastProfile).slice(0, 1));
    expect(loops).toEqual([]);
  });

  it('with the driver also removing and adding links at one end', () => {
    const loops = seeds.slice(0, 20).flatMap((seed) => [
      ...randomFaults(ringWithChords(12, 4, mulberry32(seed)), seed, fastProfile, { driverLinks: true }).slice(0, 1),
      ...randomFaults(grid(4, 3, mulberry32(seed)), seed, fastProfile, { driverLinks: true }).slice(0, 1),
    ]);
    expect(loops).toEqual([]);
  });

  it('with 5 % packet loss, delay changes up to 120 ms, peer changes and driver link changes too', () => {
    const loops = seeds.slice(0, 30).flatMap((seed) => [
      ...randomFaults(ringWithChords(12, 4, mulberry32(seed)), seed, fastProfile, allFaults).slice(0, 1),
      ...randomFaults(grid(4, 3, mulberry32(seed)), seed, fastProfile, allFaults).slice(0, 1),
    ]);
    expect(loops).toEqual([]);
  });

  it('control: the same faults without route queries never loop (the checker and the schedule are sound)', () => {
    const loops = seeds.slice(0, 20).flatMap((seed) => [
      ...randomFaults(ringWithChords(12, 4, mulberry32(seed)), seed, babelOnly, { driverLinks: true }).slice(0, 1),
      ...randomFaults(grid(4, 3, mulberry32(seed)), seed, babelOnly).slice(0, 1),
      ...randomFaults(grid(4, 3, mulberry32(seed)), seed, babelOnly, allFaults).slice(0, 1),
    ]);
    expect(loops).toEqual([]);
  });
});
