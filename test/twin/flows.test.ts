import { describe, expect, it } from 'vitest';
import { fastProfile } from '../../src/mesh/profiles.js';
import type { MeshEvent } from '../../src/mesh/types.js';
import { nodeId } from '../../src/wire/ids.js';
import { FlowTracker, flowsMax, packetsPerFlowMax, type Flow, type PacketTrace } from '../../src/twin/flows.js';
import { Network } from '../../src/twin/network.js';
import { Prng } from '../../src/twin/prng.js';
import { line, ring, type Topology } from '../../src/twin/topology.js';

/** A booted, converged network whose observer feeds `flows` (built by `make`). */
function setup(
  topology: Topology,
  make: (net: Network) => FlowTracker,
): { net: Network; flows: FlowTracker; deliveries: { flow: number; seq: number; edges: number[]; atMs: number }[] } {
  const net = new Network({
    topology,
    profile: fastProfile,
    rng: Prng.fromSeed(5, 'flows-test'),
    linkParams: () => ({ delayMs: 10, jitterMs: 0, loss: 0, bandwidthBps: 1e8, queueBytesMax: 65_536 }),
  });
  const flows = make(net);
  const deliveries: { flow: number; seq: number; edges: number[]; atMs: number }[] = [];
  flows.listener = (flow: Flow, trace: PacketTrace, nowMs: number) =>
    deliveries.push({ flow: flow.index, seq: trace.seq, edges: [...trace.edges], atMs: nowMs });
  net.observer = {
    onTransmit: (_from, edge, transmit) => flows.onTransmit(edge.index, transmit),
    onMeshEvent: (node, event) => flows.onMeshEvent(node, event),
  };
  net.bootAll();
  net.runUntil(3000);
  return { net, flows, deliveries };
}

function delivered(id: number): MeshEvent {
  return { kind: 'delivered', src: nodeId(1), id, payload: new Uint8Array(0), hopLimit: 60 };
}

describe('FlowTracker limits', () => {
  const net = new Network({
    topology: line(2),
    profile: fastProfile,
    rng: Prng.fromSeed(1),
    linkParams: () => ({ delayMs: 1, jitterMs: 0, loss: 0, bandwidthBps: 1e6, queueBytesMax: 1e4 }),
  });

  it('accepts flowsMax flows and rejects one more', () => {
    const pairs = Array.from({ length: flowsMax }, () => [0, 1] as const);
    expect(new FlowTracker(net, pairs, 1, 0, 1).flows).toHaveLength(flowsMax);
    expect(() => new FlowTracker(net, [...pairs, [1, 0]], 1, 0, 1)).toThrow(
      new RangeError(`FlowTracker: at most ${flowsMax} flows, got ${flowsMax + 1}`),
    );
  });

  it('rejects more packets per flow than a datagram id can number', () => {
    expect(() => new FlowTracker(net, [[0, 1]], 1, 0, packetsPerFlowMax + 1)).toThrow(
      new RangeError(`FlowTracker: at most ${packetsPerFlowMax} packets per flow, got ${packetsPerFlowMax + 1}`),
    );
  });

  it('starts each flow empty, with its interval from the rate', () => {
    const tracker = new FlowTracker(net, [[0, 1], [1, 0]], 40, 16, 8);
    expect(tracker.flows.map((f) => [f.index, f.src, f.dst, f.intervalMs, f.sent])).toEqual([
      [0, 0, 1, 25, 0],
      [1, 1, 0, 25, 0],
    ]);
    expect(tracker.flows[0]!.sentAtMs).toHaveLength(8);
    expect(tracker.flows[0]!.delivered).toHaveLength(8);
    expect(tracker.flows[0]!.lastDeliveryMs).toBeNaN();
  });
});

describe('FlowTracker sending and tracing', () => {
  it('sends at the flow rate from a staggered start to the end time inclusive', () => {
    const { net, flows } = setup(line(4), (n) => new FlowTracker(n, [[0, 3], [3, 0]], 10, 32, 100));
    flows.start(3000, 3500);
    net.runUntil(4000);
    const [a, b] = flows.flows as [Flow, Flow];
    expect(a.sent).toBe(6);
    expect([...a.sentAtMs.subarray(0, a.sent)]).toEqual([3000, 3100, 3200, 3300, 3400, 3500]);
    // The second of two flows starts half an interval later.
    expect(b.sent).toBe(5);
    expect([...b.sentAtMs.subarray(0, b.sent)]).toEqual([3050, 3150, 3250, 3350, 3450]);
  });

  it('counts each delivered packet and reports it with the edges it crossed', () => {
    const { net, flows, deliveries } = setup(line(4), (n) => new FlowTracker(n, [[0, 3], [3, 0]], 10, 32, 100));
    flows.start(3000, 3200);
    net.runUntil(4000);
    for (const flow of flows.flows) {
      expect([...flow.delivered.subarray(0, flow.sent)].every((d) => d === 1)).toBe(true);
    }
    expect(deliveries.map((d) => [d.flow, d.seq, d.edges])).toEqual([
      [0, 0, [0, 1, 2]],
      [1, 0, [2, 1, 0]],
      [0, 1, [0, 1, 2]],
      [1, 1, [2, 1, 0]],
      [0, 2, [0, 1, 2]],
    ]);
    // The last delivery of flow 0 was its third packet, three 10 ms hops after it left.
    expect(flows.flows[0]!.lastDeliveryMs).toBeCloseTo(3230, 0);
  });

  it('stops a flow after packetsPerFlow packets', () => {
    const { net, flows } = setup(line(2), (n) => new FlowTracker(n, [[0, 1]], 100, 0, 3));
    flows.start(3000, 4000);
    net.runUntil(5000);
    expect(flows.flows[0]!.sent).toBe(3);
  });

  it('counts deliveries without a listener', () => {
    const { net, flows } = setup(line(3), (n) => new FlowTracker(n, [[2, 0]], 10, 0, 10));
    flows.listener = null;
    flows.start(3000, 3300);
    net.runUntil(4000);
    expect([...flows.flows[0]!.delivered.subarray(0, 4)]).toEqual([1, 1, 1, 1]);
  });

  it('traces only application datagrams: a ping with a flow packet id leaves the trace alone', () => {
    const { net, flows, deliveries } = setup(line(3), (n) => new FlowTracker(n, [[0, 2]], 1, 0, 10));
    flows.start(3000, 3000);
    // Flow 0 packet 0 has datagram id 0; a ping with that id crosses the same edges.
    net.input(0, { kind: 'ping', dst: net.nodes[2]!.id, id: 0 });
    net.runUntil(4000);
    expect(deliveries.map((d) => d.edges)).toEqual([[0, 1]]);
  });

  it('ignores other events and deliveries of its ids at the wrong node or unknown ids', () => {
    const { net, flows, deliveries } = setup(line(3), (n) => new FlowTracker(n, [[0, 2]], 1, 0, 10));
    flows.start(3000, 3000);
    net.runUntil(3000);
    expect(flows.flows[0]!.sent).toBe(1);
    flows.onMeshEvent(1, delivered(0));
    flows.onMeshEvent(2, delivered(12345));
    flows.onMeshEvent(2, { kind: 'echoReply', from: nodeId(1), id: 0, hopLimit: 1 });
    expect(flows.flows[0]!.delivered[0]).toBe(0);
    expect(deliveries).toEqual([]);
    // The real delivery still counts: the trace survived the stray events.
    net.runUntil(4000);
    expect(flows.flows[0]!.delivered[0]).toBe(1);
    expect(deliveries).toHaveLength(1);
  });

  it('counts a packet once even if its delivery is reported twice', () => {
    const { net, flows, deliveries } = setup(line(2), (n) => new FlowTracker(n, [[0, 1]], 1, 0, 10));
    flows.start(3000, 3000);
    net.runUntil(4000);
    flows.onMeshEvent(1, delivered(0));
    expect(deliveries).toHaveLength(1);
  });

  it('forgets traces of packets older than 10 s, which were lost on the way', () => {
    const { net, flows } = setup(line(2), (n) => new FlowTracker(n, [[0, 1]], 1, 0, 100));
    // With the link cut, every packet is lost and its trace stays open.
    net.edges[0]!.forward.up = false;
    flows.start(3000, 25_000);
    net.runUntil(23_000);
    const sent = flows.flows[0]!.sent;
    expect(sent).toBe(21);
    // Purges ran at 3 s, 13 s and 23 s: the last one dropped packets sent before 13 s.
    flows.onMeshEvent(1, delivered(0));
    flows.onMeshEvent(1, delivered(9));
    flows.onMeshEvent(1, delivered(10));
    flows.onMeshEvent(1, delivered(20));
    const d = flows.flows[0]!.delivered;
    expect([d[0], d[9], d[10], d[20]]).toEqual([0, 0, 1, 1]);
  });
});

describe('FlowTracker.currentPath', () => {
  it('follows the routing tables hop by hop', () => {
    const { flows } = setup(ring(6), (n) => new FlowTracker(n, [[0, 2], [0, 4], [5, 1]], 1, 0, 1));
    expect(flows.currentPath(flows.flows[0]!)).toEqual({ edges: [0, 2], nodes: [0, 1, 2], complete: true });
    expect(flows.currentPath(flows.flows[1]!)).toEqual({ edges: [1, 5], nodes: [0, 5, 4], complete: true });
    expect(flows.currentPath(flows.flows[2]!)).toEqual({ edges: [1, 0], nodes: [5, 0, 1], complete: true });
  });

  it('stops where a node has no route', () => {
    const { net, flows } = setup(line(4), (n) => new FlowTracker(n, [[0, 3]], 1, 0, 1));
    net.crash(2);
    expect(flows.currentPath(flows.flows[0]!)).toEqual({ edges: [0, 1], nodes: [0, 1, 2], complete: false });
  });

  it('is incomplete before any node has booted', () => {
    const net = new Network({
      topology: line(3),
      profile: fastProfile,
      rng: Prng.fromSeed(1),
      linkParams: () => ({ delayMs: 1, jitterMs: 0, loss: 0, bandwidthBps: 1e6, queueBytesMax: 1e4 }),
    });
    const flows = new FlowTracker(net, [[0, 2]], 1, 0, 1);
    expect(flows.currentPath(flows.flows[0]!)).toEqual({ edges: [], nodes: [0], complete: false });
  });

  it('gives up on a forwarding loop after visiting more hops than there are nodes', () => {
    // Nodes 0 and 1 point at each other for every destination.
    const edges = [{ index: 0, a: 0, b: 1 }, { index: 1, a: 1, b: 2 }];
    const fake = {
      nodes: [0, 1, 2].map((i) => ({ index: i, id: nodeId(i + 1), edges: [], mesh: { nextHopLink: () => 0 } })),
      edges,
      peerOf: (edge: { a: number; b: number }, node: number) => (edge.a === node ? edge.b : edge.a),
    } as unknown as Network;
    const flows = new FlowTracker(fake, [[0, 2]], 1, 0, 1);
    const path = flows.currentPath(flows.flows[0]!);
    expect(path.complete).toBe(false);
    expect(path.nodes).toEqual([0, 1, 0, 1]);
    expect(path.edges).toEqual([0, 0, 0]);
  });
});
