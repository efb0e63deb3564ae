import { describe, expect, it } from 'vitest';
import { fastProfile } from '../../src/mesh/profiles.js';
import type { MeshEvent, Transmit } from '../../src/mesh/types.js';
import { DataKind } from '../../src/wire/messages.js';
import type { LinkDrop, LinkParams } from '../../src/twin/link-model.js';
import { Network, twinNodeId, type SimEdge } from '../../src/twin/network.js';
import { Prng } from '../../src/twin/prng.js';
import { line, ring, type Topology } from '../../src/twin/topology.js';

const params: LinkParams = { delayMs: 10, jitterMs: 0, loss: 0, bandwidthBps: 1e8, queueBytesMax: 65_536 };

function network(topology: Topology, over: Partial<LinkParams> = {}, emitRouteEvents?: boolean): Network {
  return new Network({
    topology,
    profile: fastProfile,
    rng: Prng.fromSeed(3, 'network-test'),
    linkParams: () => ({ ...params, ...over }),
    ...(emitRouteEvents === undefined ? {} : { emitRouteEvents }),
  });
}

/** Boots every node and runs until routes have converged on a small graph. */
function converged(topology: Topology, over: Partial<LinkParams> = {}, emitRouteEvents?: boolean): Network {
  const net = network(topology, over, emitRouteEvents);
  net.bootAll();
  net.runUntil(3000);
  return net;
}

/** Every event the nodes report, with the time and node. */
function recordEvents(net: Network): { atMs: number; node: number; event: MeshEvent }[] {
  const events: { atMs: number; node: number; event: MeshEvent }[] = [];
  net.observer = { ...net.observer, onMeshEvent: (node, event) => events.push({ atMs: net.nowMs, node, event: { ...event } }) };
  return events;
}

describe('Network construction', () => {
  it('numbers NodeIds from 1 and wires each edge into both nodes', () => {
    expect(twinNodeId(0)).toBe(1);
    expect(twinNodeId(41)).toBe(42);
    const net = network(line(3));
    expect(net.nodes.map((n) => n.id)).toEqual([1, 2, 3]);
    expect(net.nodes.map((n) => n.edges)).toEqual([[0], [0, 1], [1]]);
    expect(net.edges.map((e) => [e.a, e.b])).toEqual([
      [0, 1],
      [1, 2],
    ]);
    expect(net.nodes.every((n) => n.mesh === null && n.boots === 0)).toBe(true);
    expect(net.peerOf(net.edges[1]!, 1)).toBe(2);
    expect(net.peerOf(net.edges[1]!, 2)).toBe(1);
  });

  it('asks for the parameters of each direction of each edge', () => {
    const asked: [number, boolean][] = [];
    const net = new Network({
      topology: line(3),
      profile: fastProfile,
      rng: Prng.fromSeed(1),
      linkParams: (index, forward) => {
        asked.push([index, forward]);
        return { ...params, delayMs: forward ? 1 : 2 };
      },
    });
    expect(asked).toEqual([
      [0, true],
      [0, false],
      [1, true],
      [1, false],
    ]);
    expect(net.edges[0]!.forward.params.delayMs).toBe(1);
    expect(net.edges[0]!.backward.params.delayMs).toBe(2);
  });
});

describe('Network clock and scheduling', () => {
  it('runs `at` callbacks in time order, ties in scheduling order, with the clock at their time', () => {
    const net = network(line(2));
    const seen: [string, number][] = [];
    const mark = (label: string) => () => seen.push([label, net.nowMs]);
    net.at(30, mark('c'));
    net.at(10, mark('a'));
    net.at(20, mark('b1'));
    net.at(20, mark('b2'));
    net.runUntil(25);
    expect(seen).toEqual([
      ['a', 10],
      ['b1', 20],
      ['b2', 20],
    ]);
    expect(net.nowMs).toBe(25);
    net.runUntil(30);
    expect(seen.at(-1)).toEqual(['c', 30]);
    expect(net.eventsProcessed).toBe(4);
  });

  it('runs a callback scheduled in the past at the current time', () => {
    const net = network(line(2));
    net.runUntil(100);
    let ranAt = -1;
    net.at(5, () => (ranAt = net.nowMs));
    net.runUntil(100);
    expect(ranAt).toBe(100);
  });

  it('lets a callback schedule further callbacks, which run in the same runUntil', () => {
    const net = network(line(2));
    const times: number[] = [];
    const tick = (): void => {
      times.push(net.nowMs);
      if (times.length < 4) net.at(net.nowMs + 10, tick);
    };
    net.at(0, tick);
    net.runUntil(1000);
    expect(times).toEqual([0, 10, 20, 30]);
  });

  it('advances the clock to the end time even when nothing happens', () => {
    const net = network(line(2));
    net.runUntil(500);
    expect(net.nowMs).toBe(500);
    expect(net.eventsProcessed).toBe(0);
  });
});

describe('Network with booted nodes', () => {
  it('boots every node once, and the nodes find each other and their routes', () => {
    const net = converged(ring(5));
    expect(net.nodes.map((n) => n.boots)).toEqual([1, 1, 1, 1, 1]);
    for (const node of net.nodes) {
      for (const other of net.nodes) expect(node.mesh!.metricTo(other.id)).toBeLessThan(0xffff);
      expect(node.mesh!.neighbourViews().every((v) => v.usable)).toBe(true);
      expect(node.timerAtMs).toBeGreaterThanOrEqual(net.nowMs);
    }
  });

  it('carries an application datagram over several hops with the link delays', () => {
    const net = converged(line(4));
    const events = recordEvents(net);
    const start = net.nowMs;
    net.input(0, { kind: 'send', dst: net.nodes[3]!.id, id: 77, payload: new Uint8Array(10) });
    net.runUntil(start + 100);
    const delivered = events.filter((e) => e.event.kind === 'delivered');
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.node).toBe(3);
    expect(delivered[0]!.event).toMatchObject({ kind: 'delivered', src: net.nodes[0]!.id, id: 77 });
    // Three hops of 10 ms plus a few microseconds of serialisation.
    expect(delivered[0]!.atMs - start).toBeGreaterThanOrEqual(30);
    expect(delivered[0]!.atMs - start).toBeLessThan(31);
  });

  it('reports every transmit with its arrival time or drop reason', () => {
    const net = converged(line(2));
    const seen: { from: number; edge: SimEdge; transmit: Transmit; arrival: number | LinkDrop }[] = [];
    net.observer = { onTransmit: (from, edge, transmit, arrival) => seen.push({ from, edge, transmit, arrival }) };
    net.input(0, { kind: 'send', dst: net.nodes[1]!.id, id: 1, payload: new Uint8Array(4) });
    const data = seen.find((s) => s.transmit.data !== undefined)!;
    expect(data.from).toBe(0);
    expect(data.edge.index).toBe(0);
    expect(data.transmit.data!.kind).toBe(DataKind.app);
    expect(typeof data.arrival).toBe('number');
    expect(data.arrival as number).toBeGreaterThan(net.nowMs + 10);
    net.edges[0]!.forward.up = false;
    net.input(0, { kind: 'send', dst: net.nodes[1]!.id, id: 2, payload: new Uint8Array(4) });
    expect(seen.at(-1)!.arrival).toBe('down');
    expect(net.edges[0]!.forward.drops.down).toBeGreaterThan(0);
  });

  it('emits routeChanged events only when asked to', () => {
    const quiet = network(line(3));
    const quietEvents = recordEvents(quiet);
    quiet.bootAll();
    quiet.runUntil(3000);
    expect(quietEvents.some((e) => e.event.kind === 'routeChanged')).toBe(false);
    expect(quietEvents.some((e) => e.event.kind === 'neighbourUp')).toBe(true);

    const loud = network(line(3), {}, true);
    const loudEvents = recordEvents(loud);
    loud.bootAll();
    loud.runUntil(3000);
    expect(loudEvents.some((e) => e.event.kind === 'routeChanged')).toBe(true);
  });

  it('calls afterHandle once per handled input', () => {
    const net = converged(line(2));
    const handled: number[] = [];
    net.observer = { afterHandle: (node) => handled.push(node) };
    net.input(1, { kind: 'send', dst: net.nodes[0]!.id, id: 5, payload: new Uint8Array(1) });
    expect(handled).toEqual([1]);
  });

  it('addObserver runs each added hook after the hooks already there, and leaves hooks it does not add alone', () => {
    const net = converged(line(2));
    const calls: string[] = [];
    net.observer = { onTransmit: () => calls.push('first transmit'), afterHandle: () => calls.push('first handle') };
    net.addObserver({ onTransmit: () => calls.push('second transmit'), onMeshEvent: () => calls.push('second event') });
    net.addObserver({ afterHandle: () => calls.push('third handle') });
    net.input(1, { kind: 'send', dst: net.nodes[0]!.id, id: 5, payload: new Uint8Array(1) });
    expect(calls).toEqual(['first transmit', 'second transmit', 'first handle', 'third handle']);
    calls.length = 0;
    net.input(1, { kind: 'send', dst: twinNodeId(99), id: 6, payload: new Uint8Array(1) });
    expect(calls).toEqual(['second event', 'first handle', 'third handle']);
  });
});

describe('Network crash and boot', () => {
  it('drops deliveries to a crashed node and ignores inputs to it', () => {
    const net = converged(line(2));
    const handled: number[] = [];
    const transmitsToCrashed: (number | LinkDrop)[] = [];
    net.observer = {
      afterHandle: (node) => handled.push(node),
      onTransmit: (from, _edge, _transmit, arrival) => {
        if (from === 0) transmitsToCrashed.push(arrival);
      },
    };
    net.crash(1);
    expect(net.nodes[1]!.mesh).toBeNull();
    expect(net.nodes[1]!.timerAtMs).toBe(Number.POSITIVE_INFINITY);
    net.input(1, { kind: 'timer' });
    net.runUntil(net.nowMs + 2000);
    // Node 0 keeps sending to its dead neighbour, and the link carries the packets...
    expect(transmitsToCrashed.filter((a) => typeof a === 'number').length).toBeGreaterThan(0);
    // ...but node 1 never handles anything while it is down.
    expect(handled.includes(1)).toBe(false);
    expect(handled.includes(0)).toBe(true);
    // Node 0 notices and loses its route.
    expect(net.nodes[0]!.mesh!.metricTo(net.nodes[1]!.id)).toBe(0xffff);
  });

  it('boots a fresh node that has lost all state, then rejoins', () => {
    const net = converged(line(3));
    const before = net.nodes[1]!.mesh!;
    expect(before.routes()).toHaveLength(2);
    net.crash(1);
    net.runUntil(net.nowMs + 1000);
    net.boot(1);
    const after = net.nodes[1]!.mesh!;
    expect(after).not.toBe(before);
    expect(net.nodes[1]!.boots).toBe(2);
    expect(net.nodes[0]!.boots).toBe(1);
    expect(after.routes()).toEqual([]);
    expect(after.neighbourViews().some((v) => v.usable)).toBe(false);
    net.runUntil(net.nowMs + 3000);
    expect(after.routes().map((r) => r.dst)).toEqual([net.nodes[0]!.id, net.nodes[2]!.id]);
    expect(net.nodes[0]!.mesh!.metricTo(net.nodes[2]!.id)).toBeLessThan(0xffff);
  });

  it('ignores timers scheduled by an earlier boot', () => {
    const net = converged(line(2));
    const oldTimerMs = net.nodes[1]!.timerAtMs;
    expect(oldTimerMs).toBeGreaterThan(net.nowMs);
    net.crash(1);
    net.boot(1);
    // Every timer call the new node gets must be one of its own deadlines.
    const mesh = net.nodes[1]!.mesh!;
    const deadlines = new Set([net.nodes[1]!.timerAtMs]);
    const timerCalls: number[] = [];
    const handle = mesh.handle.bind(mesh);
    mesh.handle = (nowMs, input) => {
      if (input.kind === 'timer') timerCalls.push(nowMs);
      const output = handle(nowMs, input);
      deadlines.add(Math.max(output.nextDeadlineMs, nowMs));
      return output;
    };
    net.runUntil(oldTimerMs + 500);
    expect(timerCalls.length).toBeGreaterThan(0);
    expect(timerCalls.includes(oldTimerMs)).toBe(false);
    for (const t of timerCalls) expect(deadlines.has(t)).toBe(true);
  });
});

describe('Network link cuts', () => {
  it('loses a packet that is in flight when its link is cut', () => {
    const net = converged(line(2), { delayMs: 100 });
    const events = recordEvents(net);
    net.input(0, { kind: 'send', dst: net.nodes[1]!.id, id: 1, payload: new Uint8Array(8) });
    net.runUntil(net.nowMs + 50);
    // The datagram is half way; cut the link under it, and restore it after it would have arrived.
    net.edges[0]!.forward.up = false;
    net.edges[0]!.backward.up = false;
    net.runUntil(net.nowMs + 60);
    net.edges[0]!.forward.up = true;
    net.edges[0]!.backward.up = true;
    net.runUntil(net.nowMs + 300);
    expect(events.filter((e) => e.event.kind === 'delivered')).toEqual([]);

    // The same send without a cut arrives (once the probes lost with the link have been made up
    // for and the session is back), so the loss above is the cut's doing.
    net.runUntil(net.nowMs + 2000);
    net.input(0, { kind: 'send', dst: net.nodes[1]!.id, id: 2, payload: new Uint8Array(8) });
    net.runUntil(net.nowMs + 200);
    expect(events.filter((e) => e.event.kind === 'delivered').map((e) => (e.event as { id: number }).id)).toEqual([2]);
  });

  it('drops packets sent onto a cut link at the sender', () => {
    const net = converged(line(2));
    net.edges[0]!.forward.up = false;
    const downBefore = net.edges[0]!.forward.drops.down;
    net.runUntil(net.nowMs + 500);
    expect(net.edges[0]!.forward.drops.down).toBeGreaterThan(downBefore);
    expect(net.edges[0]!.backward.drops.down).toBe(0);
  });
});
