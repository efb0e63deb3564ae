import { describe, expect, it } from 'vitest';
import type { LinkId } from '../../src/mesh/neighbour.js';
import { fastProfile } from '../../src/mesh/profiles.js';
import { nodeId, type NodeId } from '../../src/wire/ids.js';
import { checkOracle, LoopChecker, oracleSlackPerHop } from '../../src/twin/invariants.js';
import { Network } from '../../src/twin/network.js';
import { Prng } from '../../src/twin/prng.js';
import { grid, line, type Topology } from '../../src/twin/topology.js';

interface FakeNode {
  readonly index: number;
  readonly id: NodeId;
  readonly edges: number[];
  boots: number;
  mesh: {
    nextHopLink(dst: NodeId): LinkId | null;
    metricTo(dst: NodeId): number;
    neighbourViews(): { link: LinkId; usable: boolean; cost: number }[];
  } | null;
}

type FakeNetwork = Omit<Network, 'nodes'> & { readonly nodes: FakeNode[] };

/**
 * A Network-like object over `edges` whose routing state is plain tables: `next[node][dstIndex]`
 * is the edge a node forwards on (or null), `metric[node][dstIndex]` its route metric, and
 * `cost[node][edge]` the cost it measured for a link (absent: not usable).
 */
function fakeNetwork(
  nodeCount: number,
  edges: readonly (readonly [number, number])[],
  tables: {
    next?: (node: number, dst: number) => number | null;
    metric?: (node: number, dst: number) => number;
    cost?: (node: number, edge: number) => number | null;
  },
): FakeNetwork {
  const simEdges = edges.map(([a, b], index) => ({ index, a, b }));
  const nodes: FakeNode[] = Array.from({ length: nodeCount }, (_, index) => ({
    index,
    id: nodeId(index + 1),
    edges: simEdges.filter((e) => e.a === index || e.b === index).map((e) => e.index),
    boots: 1,
    mesh: null,
  }));
  for (const node of nodes) {
    node.mesh = {
      nextHopLink: (dst) => (tables.next?.(node.index, dst - 1) ?? null) as LinkId | null,
      metricTo: (dst) => (dst === node.id ? 0 : (tables.metric?.(node.index, dst - 1) ?? 0xffff)),
      neighbourViews: () =>
        node.edges.map((e) => {
          const cost = tables.cost?.(node.index, e) ?? null;
          return { link: e as LinkId, usable: cost !== null, cost: cost ?? 0xffff };
        }),
    };
  }
  return {
    nodes,
    edges: simEdges,
    peerOf: (edge: { a: number; b: number }, node: number) => (edge.a === node ? edge.b : edge.a),
  } as unknown as FakeNetwork;
}

/** The fake as the checkers' parameter type: they read only nodes, edges and peerOf. */
function asNetwork(fake: FakeNetwork): Network {
  return fake as unknown as Network;
}

/** A chain 0-1-2-3 (edge i joins i and i+1) where every node forwards to its right towards node 3. */
function chain(): FakeNetwork {
  return fakeNetwork(4, [[0, 1], [1, 2], [2, 3]], { next: (node) => (node < 3 ? node : null) });
}

/** Reports every node's current next hop towards `dst` to `checker`, as routeChanged events would. */
function reportAll(checker: LoopChecker, net: FakeNetwork, dst: NodeId): void {
  for (const node of net.nodes) checker.routeChanged(node.index, dst, node.mesh!.nextHopLink(dst));
}

describe('LoopChecker', () => {
  const dst = nodeId(4);

  it('finds no loop on a loop-free chain', () => {
    const net = chain();
    const checker = new LoopChecker(asNetwork(net));
    reportAll(checker, net, dst);
    for (let node = 0; node < 4; node++) expect(checker.walkLoops(node, dst)).toBe(false);
    checker.check();
    expect(checker.loops).toBe(0);
    expect(checker.loopedDestinations.size).toBe(0);
  });

  it('detects two nodes whose next hops point at each other', () => {
    // Node 1 now forwards back to node 0 on edge 0, and node 0 forwards to node 1 on edge 0.
    const net = fakeNetwork(4, [[0, 1], [1, 2], [2, 3]], { next: (node) => (node === 1 ? 0 : node < 3 ? node : null) });
    const checker = new LoopChecker(asNetwork(net));
    reportAll(checker, net, dst);
    expect(checker.walkLoops(0, dst)).toBe(true);
    expect(checker.walkLoops(1, dst)).toBe(true);
    // Node 2 forwards on to 3 and never meets the loop.
    expect(checker.walkLoops(2, dst)).toBe(false);
    checker.check();
    // Several changes in one check that see the loop are one loop event.
    expect(checker.loops).toBe(1);
    expect([...checker.loopedDestinations]).toEqual([dst]);
    checker.routeChanged(0, dst, 0 as LinkId);
    checker.check();
    expect(checker.loops).toBe(2);
  });

  it('walks only the changes recorded since the last check, along the next hops reported', () => {
    const net = chain();
    const checker = new LoopChecker(asNetwork(net));
    reportAll(checker, net, dst);
    checker.check();
    expect(checker.loops).toBe(0);
    checker.routeChanged(0, dst, 0 as LinkId);
    checker.check();
    expect(checker.loops).toBe(0);
    // Node 2 turns back towards node 1 (edge 1), which forwards to node 2.
    checker.routeChanged(2, dst, 1 as LinkId);
    checker.check();
    expect(checker.loops).toBe(1);
    // Node 2 loses its route: the walk from node 0 ends there.
    checker.routeChanged(2, dst, null);
    checker.check();
    expect(checker.loops).toBe(1);
    expect(checker.walkLoops(0, dst)).toBe(false);
  });

  it('stops at a crashed node and forgets the routes of a node that restarted', () => {
    const net = fakeNetwork(4, [[0, 1], [1, 2], [2, 3]], { next: (node) => (node === 2 ? 1 : node < 3 ? node : null) });
    const checker = new LoopChecker(asNetwork(net));
    reportAll(checker, net, dst);
    expect(checker.walkLoops(0, dst)).toBe(true);
    const mesh = net.nodes[2]!.mesh;
    net.nodes[2]!.mesh = null;
    expect(checker.walkLoops(0, dst)).toBe(false);
    // Back with a new boot and no route reported yet: node 2 has none.
    net.nodes[2]!.mesh = mesh;
    net.nodes[2]!.boots++;
    expect(checker.walkLoops(0, dst)).toBe(false);
    // Its first report after the restart starts a fresh row: the route to node 3 only.
    checker.routeChanged(2, dst, 1 as LinkId);
    expect(checker.walkLoops(0, dst)).toBe(true);
    expect(checker.walkLoops(0, nodeId(3))).toBe(false);
  });

  it('rejects a destination that is not a twin node', () => {
    const checker = new LoopChecker(asNetwork(chain()));
    expect(() => checker.walkLoops(0, nodeId(5))).toThrow(new RangeError('LoopChecker: expected the NodeId of a twin node (1..4), got 5'));
    expect(() => checker.routeChanged(0, nodeId(9), null)).toThrow(RangeError);
  });

  it('detects a loop stubbed into a real converged network, and none before', () => {
    const net = new Network({
      topology: line(4),
      profile: fastProfile,
      rng: Prng.fromSeed(2, 'loop-test'),
      linkParams: () => ({ delayMs: 5, jitterMs: 0, loss: 0, bandwidthBps: 1e8, queueBytesMax: 65_536 }),
      emitRouteEvents: true,
    });
    const checker = new LoopChecker(net);
    net.observer = {
      onMeshEvent: (node, event) => {
        if (event.kind === 'routeChanged') checker.routeChanged(node, event.dst, event.link);
      },
      afterHandle: () => checker.check(),
    };
    net.bootAll();
    net.runUntil(3000);
    expect(checker.loops).toBe(0);
    const target = net.nodes[3]!.id;
    for (let node = 0; node < 3; node++) {
      expect(checker.walkLoops(node, target)).toBe(false);
      // The checker's copy of the next hops agrees with the nodes' own tables.
      expect(net.nodes[node]!.mesh!.nextHopLink(target)).toBe(node as LinkId);
    }
    // Node 2 reports sending traffic for node 3 back to node 1 (edge 1), which sends it to node 2.
    checker.routeChanged(2, target, 1 as LinkId);
    expect(checker.walkLoops(0, target)).toBe(true);
    checker.check();
    expect(checker.loops).toBe(1);
    expect(checker.loopedDestinations.has(target)).toBe(true);
  });
});

describe('checkOracle on a real network', () => {
  function convergedNetwork(topology: Topology): Network {
    const net = new Network({
      topology,
      profile: fastProfile,
      rng: Prng.fromSeed(8, 'oracle-test'),
      linkParams: (i) => ({ delayMs: 5 + (i % 4) * 5, jitterMs: 0, loss: 0, bandwidthBps: 1e8, queueBytesMax: 65_536 }),
    });
    net.bootAll();
    net.runUntil(5000);
    return net;
  }

  it('finds every route of a converged grid on a shortest path', () => {
    const net = convergedNetwork(grid(3, 4));
    const all = net.nodes.map((n) => n.index);
    const result = checkOracle(net, all);
    expect(result.pairs).toBe(12 * 11);
    expect(result.missing).toBe(0);
    expect(result.mismatched).toBe(0);
    expect(result.stretchMean).not.toBeNull();
    expect(result.stretchMean!).toBeGreaterThanOrEqual(1);
    expect(result.stretchMean!).toBeLessThan(1.02);
  });

  it('compares only sampled destinations, and none gives no stretch', () => {
    const net = convergedNetwork(grid(3, 4));
    expect(checkOracle(net, [5]).pairs).toBe(11);
    expect(checkOracle(net, [])).toEqual({ pairs: 0, missing: 0, mismatched: 0, stretchMean: null });
  });

  it('skips crashed nodes, and a crashed destination no one can reach', () => {
    const net = convergedNetwork(grid(3, 4));
    net.crash(5);
    net.runUntil(net.nowMs + 3000);
    // Node 5 is neither a source nor, once its neighbours noticed, a reachable destination.
    expect(checkOracle(net, [5]).pairs).toBe(0);
    const others = checkOracle(net, [0, 11]);
    expect(others.pairs).toBe(2 * 10);
    expect(others.missing).toBe(0);
    expect(others.mismatched).toBe(0);
  });
});

describe('checkOracle against hand-made routing state', () => {
  // A line 0 - 1 - 2 with links of cost 100, compared towards node 2 (dist 100 from 1, 200 from 0).
  const edges = [[0, 1], [1, 2]] as const;
  const cost = (): number => 100;

  it('counts a connected pair without a route as missing', () => {
    const net = fakeNetwork(3, edges, { cost, metric: (node) => (node === 1 ? 100 : 0xffff) });
    expect(checkOracle(asNetwork(net), [2])).toEqual({ pairs: 2, missing: 1, mismatched: 0, stretchMean: 1 });
  });

  it('allows a per-hop slack before counting a metric as mismatched', () => {
    const slack = oracleSlackPerHop * 2;
    const within = fakeNetwork(3, edges, { cost, metric: (node) => (node === 1 ? 100 : 200 + slack) });
    expect(checkOracle(asNetwork(within), [2])).toMatchObject({ pairs: 2, missing: 0, mismatched: 0 });
    const beyond = fakeNetwork(3, edges, { cost, metric: (node) => (node === 1 ? 100 : 200 + slack + 1) });
    const result = checkOracle(asNetwork(beyond), [2]);
    expect(result).toMatchObject({ pairs: 2, missing: 0, mismatched: 1 });
    expect(result.stretchMean).toBe(Math.round(((1 + (297 / 200)) / 2) * 1e4) / 1e4);
  });

  it('uses the cost each node measured for its own side of a link', () => {
    // Node 2 thinks the link to node 1 is expensive; node 1, which routes over it, does not.
    const net = fakeNetwork(3, edges, {
      cost: (node, edge) => (node === 2 && edge === 1 ? 5000 : 100),
      metric: (node) => (node === 1 ? 100 : 200),
    });
    expect(checkOracle(asNetwork(net), [2])).toEqual({ pairs: 2, missing: 0, mismatched: 0, stretchMean: 1 });
  });

  it('does not count pairs that measured links leave disconnected', () => {
    const net = fakeNetwork(3, edges, { cost: (node, edge) => (node === 1 && edge === 1 ? null : 100) });
    expect(checkOracle(asNetwork(net), [2])).toEqual({ pairs: 0, missing: 0, mismatched: 0, stretchMean: null });
  });

  it('ignores links whose cost is infinite', () => {
    const net = fakeNetwork(3, edges, { cost: (node, edge) => (node === 1 && edge === 1 ? 0xffff : 100) });
    // The view says usable but with infinite cost: still no path from 1 or 0 to 2.
    for (const node of net.nodes) {
      const views = node.mesh!.neighbourViews;
      node.mesh!.neighbourViews = () => views().map((v) => ({ ...v, usable: true }));
    }
    expect(checkOracle(asNetwork(net), [2]).pairs).toBe(0);
  });

  it('takes the cheaper of two paths', () => {
    // A triangle 0-1-2 plus the direct link 0-2 that costs more than going round.
    const triangle = fakeNetwork(3, [[0, 1], [1, 2], [0, 2]], {
      cost: (_node, edge) => (edge === 2 ? 500 : 100),
      metric: (node) => (node === 1 ? 100 : 200),
    });
    expect(checkOracle(asNetwork(triangle), [2])).toEqual({ pairs: 2, missing: 0, mismatched: 0, stretchMean: 1 });
  });

  it('skips crashed nodes in the fake as well', () => {
    const net = fakeNetwork(3, edges, { cost, metric: (node) => (node === 1 ? 100 : 200) });
    net.nodes[0]!.mesh = null;
    expect(checkOracle(asNetwork(net), [2])).toEqual({ pairs: 1, missing: 0, mismatched: 0, stretchMean: 1 });
  });
});
