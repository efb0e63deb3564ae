import { describe, expect, it } from 'vitest';
import { snapshotCounters, TelemetryCollector, type CutInput, type LinkView, type NodeCounters } from '../../src/telemetry/collector.js';
import { costValue, linkFeature, linkFeatureNames, logRate, nodeFeature, nodeFeatureNames, rateMaxPerS, rttScaleMs, rttSpreadScaleMs, scaled, share } from '../../src/telemetry/features.js';
import type { HostProbe } from '../../src/telemetry/host.js';

/** A host probe that reports fixed values and remembers when it was asked. */
function fixedHost(cpu = 0.25, memory = 0.5): HostProbe & { asked: number[] } {
  const asked: number[] = [];
  return { asked, sample: (nowMs) => (asked.push(nowMs), { cpu, memory }) };
}

const mesh = (over: Partial<NodeCounters['mesh']> = {}): NodeCounters['mesh'] => ({
  dataForwarded: 0,
  dataDelivered: 0,
  dropNoRoute: 0,
  dropHopLimit: 0,
  controlBytesSent: 0,
  updatesChanged: 0,
  ...over,
});

const view = (link: number, over: Partial<LinkView> = {}): LinkView => ({ link, usable: true, cost: 256, rttMs: 20, loss: 0, ...over });

function input(counters: NodeCounters, links: readonly LinkView[], over: Partial<CutInput> = {}): CutInput {
  return { counters, links, ...over };
}

const node = (features: Float32Array, name: (typeof nodeFeatureNames)[number]): number => features[nodeFeature[name]]!;
const link = (features: Float32Array, name: (typeof linkFeatureNames)[number]): number => features[linkFeature[name]]!;

describe('TelemetryCollector', () => {
  it('turns counter differences over the window into log rates and shares', () => {
    const host = fixedHost(1.7, 0.4);
    const c = new TelemetryCollector({ startMs: 1000, host });
    c.setBaseline({ mesh: mesh({ dataForwarded: 100, controlBytesSent: 5000 }), secure: null, policyDenies: null });
    const w = c.cut(2000, input({ mesh: mesh({ dataForwarded: 300, dataDelivered: 50, dropNoRoute: 30, dropHopLimit: 20, controlBytesSent: 6000, updatesChanged: 4 }), secure: null, policyDenies: null }, []));
    expect(w.startMs).toBe(1000);
    expect(w.endMs).toBe(2000);
    expect(w.features).toHaveLength(nodeFeatureNames.length);
    expect(node(w.features, 'dataForwarded')).toBeCloseTo(Math.log1p(200) / Math.log1p(rateMaxPerS.dataPackets), 6);
    expect(node(w.features, 'dataDelivered')).toBeCloseTo(Math.log1p(50) / Math.log1p(rateMaxPerS.dataPackets), 6);
    // 200 forwarded + 50 delivered + 30 + 20 dropped = 300 handled.
    expect(node(w.features, 'dropNoRoute')).toBeCloseTo(30 / 300, 6);
    expect(node(w.features, 'dropHopLimit')).toBeCloseTo(20 / 300, 6);
    expect(node(w.features, 'controlRate')).toBeCloseTo(Math.log1p(1000) / Math.log1p(rateMaxPerS.controlBytes), 6);
    expect(node(w.features, 'updatesChanged')).toBeCloseTo(Math.log1p(4) / Math.log1p(rateMaxPerS.updatesChanged), 6);
    // Host values are clipped to [0, 1]; the probe is asked at the cut.
    expect(node(w.features, 'cpu')).toBe(1);
    expect(node(w.features, 'memory')).toBeCloseTo(0.4, 6);
    expect(host.asked).toEqual([2000]);
    // Without a link, the link summary is empty (not NaN).
    expect(node(w.features, 'rttMean')).toBe(0);
    expect(node(w.features, 'linksUp')).toBe(0);
    expect(Array.from(w.features).every(Number.isFinite)).toBe(true);
  });

  it('rates are per second, whatever the window length', () => {
    const short = new TelemetryCollector({ startMs: 0, host: fixedHost(), windowMs: 500 });
    const long = new TelemetryCollector({ startMs: 0, host: fixedHost(), windowMs: 2000 });
    const a = short.cut(500, input({ mesh: mesh({ dataForwarded: 50 }), secure: null, policyDenies: null }, []));
    const b = long.cut(2000, input({ mesh: mesh({ dataForwarded: 200 }), secure: null, policyDenies: null }, []));
    expect(node(a.features, 'dataForwarded')).toBeCloseTo(node(b.features, 'dataForwarded'), 6);
    expect(short.dueAtMs).toBe(1000);
    expect(long.dueAtMs).toBe(4000);
  });

  it('summarises links from samples: RTT mean and spread across links, loss, ETX, links up', () => {
    const c = new TelemetryCollector({ startMs: 0, host: fixedHost() });
    c.sampleLinks([view(1, { rttMs: 10 }), view(2, { rttMs: 30, loss: 0.5, cost: 256 + 768 }), view(3, { usable: false, rttMs: Number.NaN })]);
    c.sampleLinks([view(1, { rttMs: 30 }), view(2, { rttMs: 30, loss: 0.5, cost: 256 + 768 }), view(3, { usable: false, rttMs: Number.NaN })]);
    const w = c.cut(1000, input({ mesh: mesh(), secure: null, policyDenies: null }, [view(1, { rttMs: 20 }), view(2, { rttMs: 30, loss: 0.5, cost: 256 + 768 }), view(3, { usable: false })]));
    // Link 1 averages 20 ms over its three samples, link 2 30 ms: mean 25, spread 5.
    expect(node(w.features, 'rttMean')).toBeCloseTo(25 / rttScaleMs, 6);
    expect(node(w.features, 'rttVar')).toBeCloseTo(5 / rttSpreadScaleMs, 5);
    expect(node(w.features, 'loss')).toBeCloseTo(0.25, 6);
    expect(node(w.features, 'etx')).toBeCloseTo(0.5, 6);
    expect(node(w.features, 'linksUp')).toBeCloseTo(2 / 3, 6);
    // Link 3 was never up: no row. Rows come in link order.
    expect(w.links.map((l) => l.link)).toEqual([1, 2]);
    const one = w.links[0]!.features;
    expect(one).toHaveLength(linkFeatureNames.length);
    expect(link(one, 'rtt')).toBeCloseTo(20 / rttScaleMs, 6);
    // Samples 10, 30, 20: standard deviation sqrt(200 / 3).
    expect(link(one, 'rttVar')).toBeCloseTo(Math.sqrt(200 / 3) / rttSpreadScaleMs, 5);
    expect(link(one, 'upShare')).toBe(1);
    expect(link(w.links[1]!.features, 'loss')).toBeCloseTo(0.5, 6);
    expect(link(w.links[1]!.features, 'cost')).toBeCloseTo(1, 6);
    // Unknown traffic leaves the traffic features at 0.
    expect(link(one, 'dataSent')).toBe(0);
    expect(link(one, 'drops')).toBe(0);
  });

  it('keeps a link that went down in the window even when no sample caught it up', () => {
    const c = new TelemetryCollector({ startMs: 0, host: fixedHost() });
    c.sampleLinks([view(4, { rttMs: 12 })]);
    c.onMeshEvent({ kind: 'neighbourDown', link: 4, reason: 'probe-timeout' });
    c.onMeshEvent({ kind: 'neighbourDown', link: 9, reason: 'peer-down' });
    const w = c.cut(1000, input({ mesh: mesh(), secure: null, policyDenies: null }, [view(4, { usable: false }), view(9, { usable: false })]));
    expect(w.links.map((l) => l.link)).toEqual([4, 9]);
    expect(link(w.links[0]!.features, 'upShare')).toBeCloseTo(0.5, 6);
    expect(link(w.links[0]!.features, 'downs')).toBeCloseTo(logRate(1, 1000, rateMaxPerS.neighbourDowns), 6);
    // Link 9 was down at every sample: infinite cost, no RTT or loss measured.
    const nine = w.links[1]!.features;
    expect([link(nine, 'upShare'), link(nine, 'cost'), link(nine, 'rtt'), link(nine, 'loss')]).toEqual([0, 1, 0, 0]);
    expect(node(w.features, 'neighbourDowns')).toBeCloseTo(logRate(2, 1000, rateMaxPerS.neighbourDowns), 6);
    expect(node(w.features, 'probeTimeouts')).toBeCloseTo(logRate(1, 1000, rateMaxPerS.neighbourDowns), 6);
  });

  it('counts route changes and ignores events that are not features', () => {
    const c = new TelemetryCollector({ startMs: 0, host: fixedHost() });
    for (let i = 0; i < 7; i++) c.onMeshEvent({ kind: 'routeChanged' });
    c.onMeshEvent({ kind: 'delivered' });
    c.onMeshEvent({ kind: 'neighbourUp' });
    const w = c.cut(1000, input({ mesh: mesh(), secure: null, policyDenies: null }, []));
    expect(node(w.features, 'routeChanges')).toBeCloseTo(logRate(7, 1000, rateMaxPerS.routeChanges), 6);
    expect(node(w.features, 'neighbourDowns')).toBe(0);
    // The next window starts from zero.
    expect(node(c.cut(2000, input({ mesh: mesh(), secure: null, policyDenies: null }, [])).features, 'routeChanges')).toBe(0);
  });

  it('uses the per-link traffic, queue drops and neighbour-seen delivery only a driver can know', () => {
    const c = new TelemetryCollector({ startMs: 0, host: fixedHost() });
    c.sampleLinks([view(1), view(2)]);
    const w = c.cut(
      1000,
      input({ mesh: mesh(), secure: null, policyDenies: null }, [view(1), view(2)], {
        queueDrops: 9,
        linkTraffic: (l) => (l === 1 ? { sent: 100, received: 75 } : l === 2 ? { sent: 0, received: 0 } : null),
        delivery: { handedIn: 200, handedOn: 50 },
      }),
    );
    const one = w.links[0]!.features;
    expect(link(one, 'dataSent')).toBeCloseTo(logRate(100, 1000, rateMaxPerS.dataPackets), 6);
    expect(link(one, 'dataReceived')).toBeCloseTo(logRate(75, 1000, rateMaxPerS.dataPackets), 6);
    expect(link(one, 'drops')).toBeCloseTo(0.25, 6);
    expect(link(w.links[1]!.features, 'drops')).toBe(0);
    expect(node(w.features, 'queueDrops')).toBeCloseTo(logRate(9, 1000, rateMaxPerS.queueDrops), 6);
    expect(node(w.features, 'neighbourDelivery')).toBeCloseTo(0.25, 6);
    expect(node(w.features, 'deliveryKnown')).toBe(1);
  });

  it('gives an unknown delivery the neutral value 1 with the flag at 0', () => {
    const c = new TelemetryCollector({ startMs: 0, host: fixedHost() });
    const unknown = c.cut(1000, input({ mesh: mesh(), secure: null, policyDenies: null }, []));
    expect([node(unknown.features, 'neighbourDelivery'), node(unknown.features, 'deliveryKnown')]).toEqual([1, 0]);
    const idle = c.cut(2000, input({ mesh: mesh(), secure: null, policyDenies: null }, [], { delivery: { handedIn: 0, handedOn: 0 } }));
    expect([node(idle.features, 'neighbourDelivery'), node(idle.features, 'deliveryKnown')]).toEqual([1, 0]);
  });

  it('remembers unexplained loss over quiet windows, and counts drops the node explains as handed on', () => {
    const c = new TelemetryCollector({ startMs: 0, host: fixedHost() });
    const counters = (dropNoRoute: number): NodeCounters => ({ mesh: mesh({ dropNoRoute }), secure: null, policyDenies: null });
    // 100 handed in, 40 handed on, 40 dropped for lack of a route: 20 unexplained.
    const first = c.cut(1000, input(counters(40), [], { delivery: { handedIn: 100, handedOn: 40 } }));
    expect(node(first.features, 'neighbourDelivery')).toBeCloseTo(0.4, 6);
    expect(node(first.features, 'deliveryRecent')).toBeCloseTo(0.8, 6);
    expect(node(first.features, 'deliveryAge')).toBe(0);
    // A quiet window (counters unchanged): the window knows nothing, the memory still holds the ratio, one window older.
    const quiet = c.cut(2000, input(counters(40), [], { delivery: { handedIn: 0, handedOn: 0 } }));
    expect([node(quiet.features, 'neighbourDelivery'), node(quiet.features, 'deliveryKnown')]).toEqual([1, 0]);
    expect(node(quiet.features, 'deliveryRecent')).toBeCloseTo(0.8, 6);
    expect(node(quiet.features, 'deliveryAge')).toBeCloseTo(1 / 30, 6);
    // A window while the node was down ages the memory too.
    c.skip(3000);
    const later = c.cut(4000, input(counters(40), []));
    expect(node(later.features, 'deliveryAge')).toBeCloseTo(3 / 30, 6);
  });

  it('judges transit only: packets addressed to the node itself are left out, as a grey hole delivers those', () => {
    const c = new TelemetryCollector({ startMs: 0, host: fixedHost() });
    // 100 handed in, 60 of them for the node itself (all delivered); of the 40 in transit 4 came out.
    const w = c.cut(1000, input({ mesh: mesh(), secure: null, policyDenies: null }, [], { delivery: { handedIn: 100, handedOn: 64, deliveredHere: 60 } }));
    expect(node(w.features, 'neighbourDelivery')).toBeCloseTo(0.1, 6);
    expect(node(w.features, 'deliveryRecent')).toBeCloseTo(0.1, 6);
    // Nothing but packets for the node itself: no transit, so nothing is known.
    const own = c.cut(2000, input({ mesh: mesh(), secure: null, policyDenies: null }, [], { delivery: { handedIn: 30, handedOn: 30, deliveredHere: 30 } }));
    expect([node(own.features, 'neighbourDelivery'), node(own.features, 'deliveryKnown')]).toEqual([1, 0]);
  });

  it('gives a node without any remembered transit the neutral delivery 1 and age 1', () => {
    const c = new TelemetryCollector({ startMs: 0, host: fixedHost() });
    const w = c.cut(1000, input({ mesh: mesh(), secure: null, policyDenies: null }, []));
    expect([node(w.features, 'deliveryRecent'), node(w.features, 'deliveryAge')]).toEqual([1, 1]);
  });

  it('differences secure-layer counters and policy denies, and restarts from zero after a reboot', () => {
    const secure = { handshakesRefused: 2, credentialsRefused: 1, openFailures: 4, framesRefused: 1, droppedNoSession: 5, droppedTooLarge: 0 };
    const c = new TelemetryCollector({ startMs: 0, host: fixedHost() });
    c.setBaseline({ mesh: mesh(), secure: { ...secure, handshakesRefused: 0, credentialsRefused: 0, openFailures: 0, framesRefused: 0, droppedNoSession: 0 }, policyDenies: 10 });
    const w = c.cut(1000, input({ mesh: mesh({ dataForwarded: 15 }), secure, policyDenies: 13 }, []));
    expect(node(w.features, 'handshakeFailures')).toBeCloseTo(logRate(3, 1000, rateMaxPerS.handshakeFailures), 6);
    expect(node(w.features, 'openFailures')).toBeCloseTo(logRate(5, 1000, rateMaxPerS.openFailures), 6);
    expect(node(w.features, 'policyDenies')).toBeCloseTo(logRate(3, 1000, rateMaxPerS.policyDenies), 6);
    expect(node(w.features, 'dropNoSession')).toBeCloseTo(5 / 20, 6);
    // A restarted node's counters start again at zero: the differences start from zero too.
    c.restart();
    const after = c.cut(2000, input({ mesh: mesh({ dataForwarded: 4 }), secure: null, policyDenies: 2 }, []));
    expect(node(after.features, 'dataForwarded')).toBeCloseTo(logRate(4, 1000, rateMaxPerS.dataPackets), 6);
    expect(node(after.features, 'policyDenies')).toBeCloseTo(logRate(2, 1000, rateMaxPerS.policyDenies), 6);
    expect(node(after.features, 'handshakeFailures')).toBe(0);
    // A counter that went back without a restart counts from zero rather than going negative.
    const back = c.cut(3000, input({ mesh: mesh({ dataForwarded: 1 }), secure: null, policyDenies: null }, []));
    expect(node(back.features, 'dataForwarded')).toBeCloseTo(logRate(1, 1000, rateMaxPerS.dataPackets), 6);
  });

  it('skips a window of a node that is down: no features, samples and events dropped, host still sampled', () => {
    const host = fixedHost();
    const c = new TelemetryCollector({ startMs: 0, host });
    c.sampleLinks([view(1)]);
    c.onMeshEvent({ kind: 'routeChanged' });
    c.skip(1000);
    expect(c.startMs).toBe(1000);
    const w = c.cut(2000, input({ mesh: mesh(), secure: null, policyDenies: null }, []));
    expect(w.links).toEqual([]);
    expect(node(w.features, 'routeChanges')).toBe(0);
    expect(host.asked).toEqual([1000, 2000]);
  });

  it('copies live counters, so later changes to them do not move the baseline', () => {
    const live = mesh({ dataForwarded: 10 }) as { -readonly [K in keyof ReturnType<typeof mesh>]: number };
    const c = new TelemetryCollector({ startMs: 0, host: fixedHost() });
    c.setBaseline({ mesh: live, secure: null, policyDenies: null });
    live.dataForwarded = 30;
    const w = c.cut(1000, input({ mesh: live, secure: null, policyDenies: null }, []));
    expect(node(w.features, 'dataForwarded')).toBeCloseTo(logRate(20, 1000, rateMaxPerS.dataPackets), 6);
    const snap = snapshotCounters(live, null, null);
    live.dataForwarded = 99;
    expect(snap.mesh.dataForwarded).toBe(30);
  });

  it('refuses a window length that is not a positive finite number', () => {
    for (const windowMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new TelemetryCollector({ startMs: 0, host: fixedHost(), windowMs })).toThrow(/expected windowMs > 0/);
    }
  });
});

describe('feature scaling', () => {
  it('clips shares and scaled values to [0, 1] and maps no measurement to 0', () => {
    expect([share(-1), share(0.3), share(2), share(Number.NaN)]).toEqual([0, 0.3, 1, 0]);
    expect(scaled(50, 200)).toBe(0.25);
    expect(scaled(400, 200)).toBe(1);
    expect([costValue(256), costValue(256 + 384), costValue(0xffff)]).toEqual([0, 0.5, 1]);
  });

  it('log rates are 0 for nothing, 1 at the maximum rate, and per second', () => {
    expect(logRate(0, 1000, 100)).toBe(0);
    expect(logRate(5, 0, 100)).toBe(0);
    expect(logRate(100, 1000, 100)).toBeCloseTo(1, 12);
    expect(logRate(1e9, 1000, 100)).toBe(1);
    expect(logRate(50, 500, 100)).toBeCloseTo(1, 12);
  });
});
