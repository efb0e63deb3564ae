import { describe, expect, it } from 'vitest';
import { fastProfile, profiles } from '../../src/mesh/profiles.js';
import { seqnoNewer } from '../../src/mesh/seqno.js';
import type { MeshEvent } from '../../src/mesh/types.js';
import { FaultInjector } from '../../src/twin/faults.js';
import { FlowTracker, type Flow, type PacketTrace } from '../../src/twin/flows.js';
import { LoopChecker } from '../../src/twin/invariants.js';
import { Network } from '../../src/twin/network.js';
import { Prng } from '../../src/twin/prng.js';
import { crosses, isUp, RecoveryTracker, type AffectedFlow, type FailureSet } from '../../src/twin/recovery.js';
import { buildTopology, runScenario } from '../../src/twin/runner.js';
import { parseScenario, type Scenario } from '../../src/twin/scenario.js';
import { line, ring } from '../../src/twin/topology.js';

const linkParams = { delayMs: 10, jitterMs: 0, loss: 0, bandwidthBps: 1e8, queueBytesMax: 65_536 };

/**
 * The pieces `runSeed` wires together, kept in reach so that a test can look at routing
 * tables and paths during the run.
 */
function assemble(scenario: Scenario) {
  const rng = Prng.fromSeed(scenario.seed, 'recovery-test');
  const topology = buildTopology(scenario.topology, rng.split('topology'));
  const network = new Network({ topology, profile: profiles[scenario.profile], rng: rng.split('network'), linkParams: () => linkParams, emitRouteEvents: true });
  const { warmupS, durationS, settleS } = scenario.timing;
  const flowsEndMs = (warmupS + durationS) * 1000;
  const endMs = flowsEndMs + settleS * 1000;
  const flows = new FlowTracker(network, scenario.traffic.pairs ?? [], scenario.traffic.ratePps, 16, Math.ceil(durationS * scenario.traffic.ratePps) + 1);
  const recovery = new RecoveryTracker(network);
  const deliveries: { flow: number; seq: number; nodes: number[] }[] = [];
  flows.listener = (flow, trace, nowMs) => {
    recovery.delivered(flow, trace, nowMs);
    const nodes = [flow.src];
    for (const e of trace.edges) nodes.push(network.peerOf(network.edges[e]!, nodes.at(-1)!));
    deliveries.push({ flow: flow.index, seq: trace.seq, nodes });
  };
  const loops = new LoopChecker(network);
  network.observer = {
    onTransmit: (_from, edge, transmit) => flows.onTransmit(edge.index, transmit),
    onMeshEvent: (node, event) => {
      flows.onMeshEvent(node, event);
      if (event.kind === 'neighbourDown') recovery.neighbourDown(node, event.link);
      if (event.kind === 'routeChanged') loops.routeChanged(node, event.dst, event.link);
    },
    afterHandle: () => loops.check(),
  };
  const faults = new FaultInjector({ network, flows, recovery, positions: topology.positions ?? null, endMs }, rng.split('faults'));
  faults.scheduleAll(scenario.faults);
  flows.start(warmupS * 1000, flowsEndMs);
  network.bootAll();
  return { network, flows, recovery, loops, faults, deliveries, endMs };
}

function scenario(yaml: string): Scenario {
  return parseScenario(yaml, 'recovery-test.yaml');
}

/** Nodes other than `target` whose routing table has no route to it. */
function nodesWithoutRouteTo(network: Network, target: number): number[] {
  const id = network.nodes[target]!.id;
  return network.nodes.filter((n) => n.index !== target && n.mesh!.metricTo(id) >= 0xffff).map((n) => n.index);
}

describe('a line of 5 with its middle link cut for good', () => {
  const lineCut = scenario(`
name: line-cut
topology: { kind: line, nodes: 5 }
timing: { warmupS: 4, durationS: 8, settleS: 2 }
traffic: { pairs: [[0, 4]], ratePps: 50 }
faults:
  - { kind: linkCut, link: [2, 3], atS: 6 }
`);

  it('counts the flow across the cut as partitioned, not as recovered', () => {
    const report = runScenario(lineCut);
    expect(report.partitionedFlows).toBe(1);
    expect(report.recoveryMs.count).toBe(0);
    expect(report.affectedFlows).toBe(1);
    expect(report.unrecoveredFlows).toBe(0);
    expect(report.healRecoveryMs.count).toBe(0);
    expect(report.transientLoops).toBe(0);
    // Both ends of the cut link notice it, within the fast profile's probe detection time.
    expect(report.detectMs.count).toBe(2);
    expect(report.detectMs.max!).toBeLessThan(200);
    expect(report.faults).toEqual([{ atMs: 6000, kind: 'linkCut', target: '2-3', affectedFlows: 1, seed: 1 }]);
    expect(report.deliveryRatio.steady).toBe(1);
    expect(report.deliveryRatio.duringFault!).toBeLessThan(0.5);
  });

  it("answers a ping across the cut from an end node with 'unreachable'", () => {
    const net = new Network({ topology: line(5), profile: fastProfile, rng: Prng.fromSeed(1, 'ping'), linkParams: () => linkParams });
    const events: { node: number; event: MeshEvent }[] = [];
    net.observer.onMeshEvent = (node, event) => events.push({ node, event: { ...event } });
    net.bootAll();
    net.runUntil(3000);
    const far = net.nodes[4]!.id;

    // Before the cut the ping comes back.
    net.input(0, { kind: 'ping', dst: far, id: 1 });
    net.runUntil(3500);
    expect(events.filter((e) => e.event.kind === 'echoReply')).toEqual([{ node: 0, event: { kind: 'echoReply', from: far, id: 1, hopLimit: expect.any(Number) } }]);

    const middle = net.edges.findIndex((e) => e.a === 2 && e.b === 3);
    net.edges[middle]!.forward.up = false;
    net.edges[middle]!.backward.up = false;
    net.runUntil(4500);
    events.length = 0;
    net.input(0, { kind: 'ping', dst: far, id: 2 });
    net.runUntil(5000);
    expect(events.filter((e) => e.event.kind === 'unreachable' || e.event.kind === 'echoReply')).toEqual([
      { node: 0, event: { kind: 'unreachable', reporter: net.nodes[0]!.id, dst: far, id: 2 } },
    ]);
  });
});

describe('a ring reroutes the other way', () => {
  const ringCut = scenario(`
name: ring-cut
topology: { kind: ring, nodes: 8 }
timing: { warmupS: 4, durationS: 8, settleS: 2 }
traffic: { pairs: [[0, 2]], ratePps: 50 }
faults:
  - { kind: linkCut, link: [0, 1], atS: 6 }
`);

  it('recovers the one affected flow with no loop', () => {
    const report = runScenario(ringCut);
    expect(report.recoveryMs.count).toBe(1);
    expect(report.outageMs.count).toBe(1);
    expect(report.unrecoveredFlows).toBe(0);
    expect(report.partitionedFlows).toBe(0);
    expect(report.affectedFlows).toBe(1);
    expect(report.transientLoops).toBe(0);
    expect(report.recoveryMs.max!).toBeLessThan(2000);
    expect(report.oracle).toMatchObject({ missing: 0, mismatched: 0 });
  });

  it('sends the packets after recovery round the other side', () => {
    const run = assemble(ringCut);
    run.network.runUntil(5900);
    const flow = run.flows.flows[0]!;
    expect(run.flows.currentPath(flow)).toEqual({ edges: expect.any(Array), nodes: [0, 1, 2], complete: true });
    run.network.runUntil(9000);
    const after = run.flows.currentPath(flow);
    expect(after.complete).toBe(true);
    expect(after.nodes).toContain(7);
    expect(after.nodes).toEqual([0, 7, 6, 5, 4, 3, 2]);
    // The packets that arrived last went that way too.
    const last = run.deliveries.filter((d) => d.flow === 0).at(-1)!;
    expect(last.nodes).toEqual([0, 7, 6, 5, 4, 3, 2]);
    run.network.runUntil(run.endMs);
    run.recovery.finish();
    expect(run.recovery.samples.recoveryMs).toHaveLength(1);
    expect(run.recovery.unrecoveredFlows).toBe(0);
    expect(run.loops.loops).toBe(0);
  });
});

describe('a crashed node that restarts rejoins', () => {
  it('on a line: the flow through it is partitioned, then heals, and every node routes to it again', () => {
    const run = assemble(
      scenario(`
name: line-restart
topology: { kind: line, nodes: 5 }
timing: { warmupS: 4, durationS: 8, settleS: 2 }
traffic: { pairs: [[0, 4]], ratePps: 50 }
faults:
  - { kind: nodeDown, node: 2, atS: 6, untilS: 8 }
`),
    );
    run.network.runUntil(7000);
    expect(run.network.nodes[2]!.mesh).toBeNull();
    expect(nodesWithoutRouteTo(run.network, 2)).toEqual([0, 1, 3, 4]);
    run.network.runUntil(run.endMs);
    run.recovery.finish();
    expect(run.network.nodes[2]!.boots).toBe(2);
    expect(nodesWithoutRouteTo(run.network, 2)).toEqual([]);
    expect(run.recovery.partitionedFlows).toBe(1);
    expect(run.recovery.samples.healRecoveryMs).toHaveLength(1);
    expect(run.recovery.samples.healRecoveryMs[0]!).toBeLessThan(2000);
    expect(run.recovery.samples.recoveryMs).toEqual([]);
    expect(run.recovery.unrecoveredFlows).toBe(0);
    expect(run.faults.records).toEqual([{ atMs: 6000, kind: 'nodeDown', target: 'node 2', affectedFlows: 1 }]);
    expect(run.loops.loops).toBe(0);
  });

  it('on a ring: the flow reroutes around it, and after the restart every node routes to it again', () => {
    const run = assemble(
      scenario(`
name: ring-restart
topology: { kind: ring, nodes: 8 }
timing: { warmupS: 4, durationS: 8, settleS: 2 }
traffic: { pairs: [[0, 3]], ratePps: 50 }
faults:
  - { kind: nodeDown, node: 1, atS: 6, untilS: 8 }
`),
    );
    run.network.runUntil(run.endMs);
    run.recovery.finish();
    expect(nodesWithoutRouteTo(run.network, 1)).toEqual([]);
    expect(run.recovery.affectedFlows).toBe(1);
    expect(run.recovery.partitionedFlows).toBe(0);
    expect(run.recovery.samples.recoveryMs).toHaveLength(1);
    expect(run.recovery.samples.healRecoveryMs).toEqual([]);
    expect(run.recovery.unrecoveredFlows).toBe(0);
    // Both neighbours of the crashed node notice; the crashed node itself is not waited for.
    expect(run.recovery.samples.detectMs).toHaveLength(2);
    expect(run.loops.loops).toBe(0);
  });
  it('rejoins after a long outage even when it restarts with an older seqno', () => {
    // A restarted node draws a fresh random seqno; about half the time it is older than the one
    // the others remember, and they must get it raised by seqno requests after they stopped asking.
    let olderSeqnos = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const run = assemble(
        scenario(`
name: late-restart
seed: ${seed}
topology: { kind: line, nodes: 5 }
timing: { warmupS: 4, durationS: 10, settleS: 2 }
traffic: { pairs: [[0, 4]], ratePps: 20 }
faults:
  - { kind: nodeDown, node: 2, atS: 6, untilS: 11 }
`),
      );
      let before = -1;
      let after = -1;
      run.network.at(5999, () => (before = run.network.nodes[2]!.mesh!.ownSeqno));
      // Just after the restart at 11 s, before any request could have reached the new node.
      run.network.at(11_000.5, () => (after = run.network.nodes[2]!.mesh!.ownSeqno));
      run.network.runUntil(run.endMs);
      if (seqnoNewer(before, after)) olderSeqnos++;
      expect({ seed, without: nodesWithoutRouteTo(run.network, 2) }).toEqual({ seed, without: [] });
      run.recovery.finish();
      expect(run.recovery.samples.healRecoveryMs).toHaveLength(1);
    }
    // The case that matters did come up.
    expect(olderSeqnos).toBeGreaterThan(0);
  });
});

describe('crosses and isUp', () => {
  const failure: FailureSet = { edges: new Set([3]), nodes: new Set([7]) };

  it('says whether a path uses a failed edge or node', () => {
    expect(crosses({ edges: [1, 3], nodes: [0, 1, 2] }, failure)).toBe(true);
    expect(crosses({ edges: [1, 2], nodes: [0, 7, 2] }, failure)).toBe(true);
    expect(crosses({ edges: [1, 2], nodes: [0, 1, 2] }, failure)).toBe(false);
    expect(crosses({ edges: [], nodes: [] }, failure)).toBe(false);
  });

  it('counts an edge as up only when both directions are', () => {
    const net = new Network({ topology: line(2), profile: fastProfile, rng: Prng.fromSeed(1), linkParams: () => linkParams });
    const edge = net.edges[0]!;
    expect(isUp(edge)).toBe(true);
    edge.backward.up = false;
    expect(isUp(edge)).toBe(false);
    edge.backward.up = true;
    edge.forward.up = false;
    expect(isUp(edge)).toBe(false);
  });
});

describe('RecoveryTracker', () => {
  /** A booted ring of 6 (edge index: [0,1]=0, [0,5]=1, [1,2]=2, [2,3]=3, [3,4]=4, [4,5]=5) with idle flows. */
  function setup(pairs: [number, number][]) {
    const network = new Network({ topology: ring(6), profile: fastProfile, rng: Prng.fromSeed(4), linkParams: () => linkParams });
    network.bootAll();
    network.runUntil(1000);
    const flowTracker = new FlowTracker(network, pairs, 10, 0, 100);
    /** Flows with the path they are on now, as the fault injector hands them over. */
    const hit = (...flows: Flow[]): AffectedFlow[] => flows.map((flow) => ({ flow, path: flowTracker.currentPath(flow) }));
    return { network, flows: flowTracker.flows, hit, tracker: new RecoveryTracker(network) };
  }
  const cut = (network: Network, ...edges: number[]): FailureSet => {
    for (const e of edges) {
      network.edges[e]!.forward.up = false;
      network.edges[e]!.backward.up = false;
    }
    return { edges: new Set(edges), nodes: new Set() };
  };
  const trace = (flow: Flow, seq: number, edges: number[]): PacketTrace => ({ flow: flow.index, seq, edges });
  const sendAt = (flow: Flow, seq: number, atMs: number): void => {
    flow.sentAtMs[seq] = atMs;
    flow.sent = Math.max(flow.sent, seq + 1);
  };

  it('tells connected nodes from those a cut or a crash separates', () => {
    const { network, tracker } = setup([]);
    expect(tracker.connected(0, 3)).toBe(true);
    cut(network, 0);
    expect(tracker.connected(0, 3)).toBe(true);
    // One direction down is enough to split the ring into 0-5-4 and 1-2-3.
    network.edges[4]!.forward.up = false;
    expect(tracker.connected(0, 3)).toBe(false);
    expect(tracker.connected(0, 4)).toBe(true);
    expect(tracker.connected(1, 3)).toBe(true);
    network.crash(2);
    expect(tracker.connected(1, 3)).toBe(false);
    expect(tracker.connected(1, 2)).toBe(false);
    expect(tracker.connected(2, 2)).toBe(false);
  });

  it('times a flow from the failure to its first delivery on a path avoiding it', () => {
    const { network, flows, hit, tracker } = setup([[0, 2]]);
    const flow = flows[0]!;
    const t0 = network.nowMs;
    tracker.failureApplied(cut(network, 0), hit(flow));
    expect(tracker.affectedFlows).toBe(1);
    expect(tracker.partitionedFlows).toBe(0);
    // A packet that still went over the failed edge ends nothing.
    sendAt(flow, 0, t0 - 5);
    tracker.delivered(flow, trace(flow, 0, [0, 2]), t0 + 20);
    expect(tracker.samples.recoveryMs).toEqual([]);
    flow.lastDeliveryMs = t0 + 20;
    sendAt(flow, 1, t0 + 300);
    tracker.delivered(flow, trace(flow, 1, [1, 5, 4, 3]), t0 + 400);
    expect(tracker.samples.recoveryMs).toEqual([400]);
    // The receiver saw a 380 ms gap, of which one 100 ms packet interval is normal.
    expect(tracker.samples.outageMs).toEqual([280]);
    // Later packets change nothing.
    tracker.delivered(flow, trace(flow, 1, [1, 5, 4, 3]), t0 + 500);
    tracker.finish();
    expect(tracker.samples.recoveryMs).toEqual([400]);
    expect(tracker.unrecoveredFlows).toBe(0);
  });

  it('measures the outage from the failure when nothing was delivered before it', () => {
    const { network, flows, hit, tracker } = setup([[0, 2]]);
    const flow = flows[0]!;
    const t0 = network.nowMs;
    tracker.failureApplied(cut(network, 0), hit(flow));
    sendAt(flow, 0, t0 + 10);
    tracker.delivered(flow, trace(flow, 0, [1, 5, 4, 3]), t0 + 50);
    expect(tracker.samples.outageMs).toEqual([0]);
    expect(tracker.samples.recoveryMs).toEqual([50]);
  });

  it('keeps a flow pending while its packets still touch a failed node', () => {
    const { network, flows, hit, tracker } = setup([[0, 2]]);
    const flow = flows[0]!;
    const t0 = network.nowMs;
    network.crash(1);
    tracker.failureApplied({ edges: new Set(), nodes: new Set([1]) }, hit(flow));
    sendAt(flow, 0, t0);
    tracker.delivered(flow, trace(flow, 0, [0, 2]), t0 + 30);
    tracker.delivered(flow, trace(flow, 0, [2]), t0 + 30);
    expect(tracker.samples.recoveryMs).toEqual([]);
    tracker.delivered(flow, trace(flow, 0, [1, 5, 4, 3]), t0 + 90);
    expect(tracker.samples.recoveryMs).toEqual([90]);
  });

  it('skips flows whose own endpoint failed', () => {
    const { network, flows, hit, tracker } = setup([[0, 2], [1, 3]]);
    network.crash(2);
    tracker.failureApplied({ edges: new Set(), nodes: new Set([2]) }, hit(...flows));
    expect(tracker.affectedFlows).toBe(1);
    expect(tracker.partitionedFlows).toBe(0);
  });

  it('counts a disconnected flow as partitioned, then times it from the heal', () => {
    const { network, flows, hit, tracker } = setup([[0, 3]]);
    const flow = flows[0]!;
    tracker.failureApplied(cut(network, 0, 4), hit(flow));
    expect(tracker.partitionedFlows).toBe(1);
    // Nothing is restored yet: the heal finds the flow still cut off.
    tracker.healApplied(flows);
    network.runUntil(network.nowMs + 1000);
    network.edges[4]!.forward.up = true;
    network.edges[4]!.backward.up = true;
    const healedAt = network.nowMs;
    tracker.healApplied(flows);
    // A packet sent before the heal does not count, one sent after does.
    sendAt(flow, 0, healedAt - 1);
    tracker.delivered(flow, trace(flow, 0, [1, 5, 4]), healedAt + 30);
    expect(tracker.samples.healRecoveryMs).toEqual([]);
    sendAt(flow, 1, healedAt + 10);
    tracker.delivered(flow, trace(flow, 1, [1, 5, 4]), healedAt + 50);
    expect(tracker.samples.healRecoveryMs).toEqual([50]);
    expect(tracker.samples.recoveryMs).toEqual([]);
    // A second heal has no flow left to time.
    tracker.healApplied(flows);
    tracker.finish();
    expect(tracker.unrecoveredFlows).toBe(0);
  });

  it('counts the recoveries still pending at the end as not recovered', () => {
    const { network, flows, hit, tracker } = setup([[0, 2], [4, 2]]);
    tracker.failureApplied(cut(network, 0), hit(flows[0]!));
    tracker.failureApplied(cut(network, 2), hit(...flows));
    tracker.finish();
    expect(tracker.affectedFlows).toBe(3);
    expect(tracker.unrecoveredFlows).toBe(3);
    tracker.finish();
    expect(tracker.unrecoveredFlows).toBe(3);
  });

  it('ignores deliveries of flows with nothing pending', () => {
    const { flows, tracker } = setup([[0, 2]]);
    tracker.delivered(flows[0]!, trace(flows[0]!, 0, [0, 2]), 5);
    expect(tracker.samples).toEqual({ recoveryMs: [], recoveryFloorMs: [], outageMs: [], detectMs: [], healRecoveryMs: [] });
  });

  it('takes one detection sample per end of a failed link, and none from the crashed node', () => {
    const { network, tracker } = setup([]);
    const t0 = network.nowMs;
    tracker.failureApplied(cut(network, 3), []);
    network.runUntil(t0 + 100);
    tracker.neighbourDown(2, 3);
    tracker.neighbourDown(2, 3);
    tracker.neighbourDown(2, 4);
    network.runUntil(t0 + 150);
    tracker.neighbourDown(3, 3);
    tracker.neighbourDown(3, 3);
    expect(tracker.samples.detectMs).toEqual([100, 150]);

    network.crash(5);
    tracker.failureApplied({ edges: new Set(), nodes: new Set([5]) }, []);
    tracker.neighbourDown(5, 1);
    tracker.neighbourDown(0, 1);
    tracker.neighbourDown(4, 5);
    expect(tracker.samples.detectMs).toEqual([100, 150, 0, 0]);
  });
});
