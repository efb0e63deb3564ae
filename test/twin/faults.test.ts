import { describe, expect, it } from 'vitest';
import { fastProfile, profiles } from '../../src/mesh/profiles.js';
import { FaultInjector, faultGraceMs, inFlightMsMax, partitionCut, type FaultContext } from '../../src/twin/faults.js';
import { FlowTracker } from '../../src/twin/flows.js';
import { LoopChecker } from '../../src/twin/invariants.js';
import { Network } from '../../src/twin/network.js';
import { Prng } from '../../src/twin/prng.js';
import { RecoveryTracker } from '../../src/twin/recovery.js';
import { buildTopology, runScenario } from '../../src/twin/runner.js';
import { parseScenario, partitionModes, type PartitionFault, type Scenario } from '../../src/twin/scenario.js';
import { grid, ring, type Topology } from '../../src/twin/topology.js';

const timing = '{ warmupS: 2, durationS: 7, settleS: 1 }';

function scenario(topology: string, faults: string[], traffic = '{ flows: 6, ratePps: 20 }'): Scenario {
  return parseScenario(
    `name: faults-test\ntopology: ${topology}\ntiming: ${timing}\ntraffic: ${traffic}\nfaults: [${faults.join(', ')}]\n`,
    'faults-test.yaml',
  );
}

/** The wiring of `runSeed`, with the network, flows and injector in reach of the test. */
function assemble(s: Scenario) {
  const rng = Prng.fromSeed(s.seed, 'faults-test');
  const topology = buildTopology(s.topology, rng.split('topology'));
  const network = new Network({
    topology,
    profile: profiles[s.profile],
    rng: rng.split('network'),
    linkParams: () => ({ delayMs: 5, jitterMs: 0, loss: 0, bandwidthBps: 1e8, queueBytesMax: 65_536 }),
    emitRouteEvents: true,
  });
  const endMs = (s.timing.warmupS + s.timing.durationS + s.timing.settleS) * 1000;
  const flows = new FlowTracker(network, s.traffic.pairs ?? [], s.traffic.ratePps, 16, 10_000);
  const recovery = new RecoveryTracker(network);
  flows.listener = (flow, trace, nowMs) => recovery.delivered(flow, trace, nowMs);
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
  const injector = new FaultInjector({ network, flows, recovery, positions: topology.positions ?? null, endMs }, rng.split('faults'));
  injector.scheduleAll(s.faults);
  flows.start(s.timing.warmupS * 1000, (s.timing.warmupS + s.timing.durationS) * 1000);
  network.bootAll();
  return { network, flows, recovery, loops, injector, endMs };
}

const everyKind: [string, string][] = [
  ['linkFailure', '{ kind: linkFailure, count: 3, startS: 3, everyS: 1.5, downS: 2, target: onPath }'],
  ['linkFailure', '{ kind: linkFailure, count: 3, startS: 3, everyS: 1.5, downS: 2, target: any }'],
  ['nodeCrash', '{ kind: nodeCrash, count: 2, startS: 3, everyS: 2, downS: 2, target: onPath }'],
  ['nodeCrash', '{ kind: nodeCrash, count: 2, startS: 3, everyS: 2, downS: 2, target: any }'],
  ['linkCut', '{ kind: linkCut, link: LINK, atS: 3, untilS: 6 }'],
  ['linkCut', '{ kind: linkCut, link: LINK, atS: 3 }'],
  ['nodeDown', '{ kind: nodeDown, node: 7, atS: 3, untilS: 5 }'],
  ['nodeDown', '{ kind: nodeDown, node: 7, atS: 3 }'],
  ['flap', '{ kind: flap, link: LINK, atS: 3, periodS: 2, count: 3 }'],
  ['degrade', '{ kind: degrade, link: LINK, atS: 3, untilS: 6, loss: 0.3, extraDelayMs: 20 }'],
  ['degrade', '{ kind: degrade, atS: 3, untilS: 6, loss: 0.3 }'],
  ...partitionModes.map((mode): [string, string] => ['partition', `{ kind: partition, mode: ${mode}, atS: 3, healS: 6 }`]),
  ['partition', '{ kind: partition, mode: isolate, node: 3, atS: 3 }'],
  ['churn', '{ kind: churn, ratePerMin: 40, startS: 2, untilS: 9, downS: 1 }'],
];

describe('every fault kind runs', () => {
  it.each(everyKind)('on a 4 x 5 grid: %s %s', (kind, fault) => {
    const report = runScenario(scenario('{ kind: grid, rows: 4, cols: 5 }', [fault.replace('LINK', '[6, 7]')]));
    expect(report.faults.length).toBeGreaterThan(0);
    expect(report.faults.every((f) => f.kind === kind)).toBe(true);
    expect(report.transientLoops).toBe(0);
    // A fault that never heals leaves no steady-state packets to count.
    expect([1, null]).toContain(report.deliveryRatio.steady);
  });

  // The edges of a random geometric graph depend on the seed: take a link the run will really have.
  const rggSpec = { kind: 'rgg', nodes: 30, avgDegree: 6 } as const;
  const rggLink = buildTopology(rggSpec, Prng.fromSeed(1, 'twin').split('topology')).edges[0]!;

  it.each(everyKind)('on a 30-node random geometric graph: %s %s', (kind, fault) => {
    const report = runScenario(scenario('{ kind: rgg, nodes: 30, avgDegree: 6 }', [fault.replace('LINK', `[${rggLink[0]}, ${rggLink[1]}]`)]));
    expect(report.faults.length).toBeGreaterThan(0);
    expect(report.faults.every((f) => f.kind === kind)).toBe(true);
    expect(report.transientLoops).toBe(0);
  });

  it('stops the run with a clear error when a named link is not in a seeded topology', () => {
    // The scenario cannot check a link of a random graph; the injector finds out when the fault fires.
    const topology = buildTopology(rggSpec, Prng.fromSeed(1, 'twin').split('topology'));
    const far = [...Array(30).keys()].find((n) => n > 0 && !topology.edges.some(([x, y]) => x === 0 && y === n))!;
    const s = scenario('{ kind: rgg, nodes: 30, avgDegree: 6 }', [`{ kind: linkCut, link: [0, ${far}], atS: 5 }`]);
    expect(() => runScenario(s)).toThrow(new RangeError(`fault: no link between nodes 0 and ${far} in this topology`));
  });
});

describe('FaultInjector records and windows', () => {
  it('records a cut with its target and affected flows, and its window to the repair plus grace', () => {
    const run = assemble(scenario('{ kind: line, nodes: 4 }', ['{ kind: linkCut, link: [1, 2], atS: 5, untilS: 8 }'], '{ pairs: [[0, 3], [0, 1]], ratePps: 10 }'));
    run.network.runUntil(6000);
    expect(run.network.edges[1]!.forward.up).toBe(false);
    expect(run.network.edges[1]!.backward.up).toBe(false);
    run.network.runUntil(run.endMs);
    expect(run.network.edges[1]!.forward.up).toBe(true);
    expect(run.network.edges[1]!.backward.up).toBe(true);
    expect(run.injector.records).toEqual([{ atMs: 5000, kind: 'linkCut', target: '1-2', affectedFlows: 1 }]);
    expect(run.injector.windows).toEqual([{ startMs: 5000 - inFlightMsMax, endMs: 8000 + faultGraceMs }]);
  });

  it('keeps the window of a fault that is never repaired open to the end of the run', () => {
    const run = assemble(scenario('{ kind: line, nodes: 4 }', ['{ kind: nodeDown, node: 1, atS: 5 }'], '{ pairs: [[0, 3]], ratePps: 10 }'));
    run.network.runUntil(run.endMs);
    expect(run.network.nodes[1]!.mesh).toBeNull();
    expect(run.network.nodes[1]!.boots).toBe(1);
    expect(run.injector.windows).toEqual([{ startMs: 4000, endMs: run.endMs }]);
  });

  it('counts a crash of a node that is already down and restarts it only when the last one ends', () => {
    const run = assemble(
      scenario('{ kind: line, nodes: 4 }', ['{ kind: nodeDown, node: 1, atS: 5, untilS: 9 }', '{ kind: nodeDown, node: 1, atS: 6, untilS: 7 }'], '{ pairs: [[0, 3]], ratePps: 10 }'),
    );
    run.network.runUntil(run.endMs);
    expect(run.injector.records).toEqual([
      { atMs: 5000, kind: 'nodeDown', target: 'node 1', affectedFlows: 1 },
      { atMs: 6000, kind: 'nodeDown', target: 'node 1', affectedFlows: 0 },
    ]);
    expect(run.network.nodes[1]!.boots).toBe(2);
  });

  it('flaps a link down for half of each period and up for the other half', () => {
    const run = assemble(scenario('{ kind: ring, nodes: 5 }', ['{ kind: flap, link: [0, 1], atS: 5, periodS: 2, count: 2 }'], '{ pairs: [[0, 2]], ratePps: 10 }'));
    const edge = run.network.edges[0]!;
    const states: boolean[] = [];
    for (const t of [4900, 5500, 6500, 7500, 8500]) {
      run.network.runUntil(t);
      states.push(edge.forward.up && edge.backward.up);
    }
    expect(states).toEqual([true, false, true, false, true]);
    expect(run.injector.records.map((r) => [r.atMs, r.kind, r.target])).toEqual([
      [5000, 'flap', '0-1'],
      [7000, 'flap', '0-1'],
    ]);
  });

  it('degrades both directions of a link and restores them', () => {
    const run = assemble(
      scenario('{ kind: line, nodes: 3 }', ['{ kind: degrade, link: [1, 2], atS: 5, untilS: 7, loss: 0.25, extraDelayMs: 30 }'], '{ pairs: [[0, 2]], ratePps: 10 }'),
    );
    const edge = run.network.edges[1]!;
    run.network.runUntil(6000);
    for (const d of [edge.forward, edge.backward]) expect([d.extraLoss, d.extraDelayMs, d.up]).toEqual([0.25, 30, true]);
    run.network.runUntil(7500);
    for (const d of [edge.forward, edge.backward]) expect([d.extraLoss, d.extraDelayMs]).toEqual([0, 0]);
    expect(run.injector.records).toEqual([{ atMs: 5000, kind: 'degrade', target: '1-2', affectedFlows: 0 }]);
  });

  it('degrades a link of some flow path when none is named', () => {
    const run = assemble(scenario('{ kind: line, nodes: 4 }', ['{ kind: degrade, atS: 5, untilS: 7, extraDelayMs: 10 }'], '{ pairs: [[0, 2]], ratePps: 10 }'));
    run.network.runUntil(6000);
    expect(['0-1', '1-2']).toContain(run.injector.records[0]!.target);
  });

  it('does nothing where a random fault finds no candidate', () => {
    // Without flows there is no on-path link or node; on a line of 2 every node is a flow endpoint.
    const noFlows = runScenario(
      scenario(
        '{ kind: grid, rows: 3, cols: 3 }',
        [
          '{ kind: degrade, atS: 5, untilS: 7, loss: 0.5 }',
          '{ kind: linkFailure, count: 2, startS: 5, everyS: 1, target: onPath }',
          '{ kind: nodeCrash, count: 2, startS: 5, everyS: 1, target: onPath }',
        ],
        '{ flows: 0 }',
      ),
    );
    expect(noFlows.faults).toEqual([]);
    const endpointsOnly = runScenario(
      scenario('{ kind: line, nodes: 2 }', ['{ kind: nodeCrash, count: 2, startS: 5, everyS: 1, target: any }', '{ kind: churn, ratePerMin: 60, startS: 4, untilS: 9 }'], '{ pairs: [[0, 1]] }'),
    );
    expect(endpointsOnly.faults).toEqual([]);
  });

  it('never cuts a link twice: random link failures pick links that are up', () => {
    const run = assemble(scenario('{ kind: line, nodes: 3 }', ['{ kind: linkFailure, count: 3, startS: 5, everyS: 1, downS: 10, target: any }'], '{ pairs: [[0, 2]] }'));
    run.network.runUntil(run.endMs);
    // Two links, three attempts while both stay down: the third finds nothing.
    expect(run.injector.records.map((r) => r.target).sort()).toEqual(['0-1', '1-2']);
  });

  it('crashes only intermediate nodes of flows and restarts them after downS', () => {
    const run = assemble(scenario('{ kind: grid, rows: 3, cols: 4 }', ['{ kind: nodeCrash, count: 3, startS: 3, everyS: 2, downS: 1, target: onPath }'], '{ pairs: [[0, 11], [3, 8]], ratePps: 20 }'));
    run.network.runUntil(run.endMs);
    expect(run.injector.records).toHaveLength(3);
    for (const record of run.injector.records) {
      const node = Number(record.target.replace('node ', ''));
      expect([0, 11, 3, 8]).not.toContain(node);
      expect(record.affectedFlows).toBeGreaterThan(0);
    }
    expect(run.network.nodes.every((n) => n.mesh !== null)).toBe(true);
    expect(run.network.nodes.reduce((t, n) => t + n.boots, 0)).toBe(12 + 3);
    expect(run.loops.loops).toBe(0);
  });

  it('churns random non-endpoint nodes at about the given rate', () => {
    const run = assemble(scenario('{ kind: grid, rows: 4, cols: 5 }', ['{ kind: churn, ratePerMin: 60, startS: 2, untilS: 9, downS: 0.5 }'], '{ pairs: [[0, 19]], ratePps: 10 }'));
    run.network.runUntil(run.endMs);
    const records = run.injector.records;
    // About 7 crashes expected over 7 s at one per second.
    expect(records.length).toBeGreaterThan(2);
    expect(records.length).toBeLessThan(20);
    for (const r of records) {
      expect(r.kind).toBe('churn');
      expect(r.atMs).toBeGreaterThanOrEqual(2000);
      expect(r.atMs).toBeLessThan(9000);
      expect(['node 0', 'node 19']).not.toContain(r.target);
    }
    expect(run.network.nodes.every((n) => n.mesh !== null)).toBe(true);
  });

  it('cuts only one direction of each link for a one-way cut, and restores both', () => {
    const run = assemble(scenario('{ kind: line, nodes: 3 }', [], '{ pairs: [[0, 2]] }'));
    run.network.runUntil(4000);
    run.injector.cutDirections('custom', [0, 1].map((edge) => ({ edge, forward: true, backward: false })), 5000, 'my label');
    for (const e of run.network.edges) expect([e.forward.up, e.backward.up]).toEqual([false, true]);
    expect(run.injector.records.at(-1)).toEqual({ atMs: 4000, kind: 'custom', target: 'my label', affectedFlows: 1 });
    run.network.runUntil(5000);
    for (const e of run.network.edges) expect([e.forward.up, e.backward.up]).toEqual([true, true]);
  });
});

describe('partitionCut', () => {
  function context(topology: Topology, positions: FaultContext['positions'] = null): FaultContext {
    const network = new Network({
      topology,
      profile: fastProfile,
      rng: Prng.fromSeed(1),
      linkParams: () => ({ delayMs: 1, jitterMs: 0, loss: 0, bandwidthBps: 1e6, queueBytesMax: 1e4 }),
    });
    return { network, flows: new FlowTracker(network, [], 1, 0, 1), recovery: new RecoveryTracker(network), positions, endMs: 1000 };
  }
  const fault = (mode: PartitionFault['mode'], node: number | null = null): PartitionFault => ({ kind: 'partition', mode, atS: 1, healS: null, node });
  const endsOf = (ctx: FaultContext, edges: number[]): [number, number][] => edges.map((e) => [ctx.network.edges[e]!.a, ctx.network.edges[e]!.b]);
  const rng = (): Prng => Prng.fromSeed(11, 'partition');
  const edgesOf = (cut: { cuts: readonly { edge: number }[] }): number[] => cut.cuts.map((c) => c.edge);

  it('halves by node index when the topology has no positions', () => {
    // Nodes 0..9 (rows 0-1) and 10..19 (rows 2-3) of a 4 x 5 grid: the cut is the five links between rows 1 and 2.
    const ctx = context(grid(4, 5));
    const cut = partitionCut(ctx, fault('halves'), rng());
    expect(cut.cuts.every((c) => c.forward && c.backward)).toBe(true);
    expect(cut.label).toBe('halves');
    expect(endsOf(ctx, edgesOf(cut))).toEqual([
      [5, 10],
      [6, 11],
      [7, 12],
      [8, 13],
      [9, 14],
    ]);
  });

  it('halves west from east when the topology has positions', () => {
    // A 2 x 4 grid: columns 0-1 are the west half, the two links of the middle are cut.
    const topology = grid(2, 4);
    const ctx = context(topology, topology.positions!);
    expect(endsOf(ctx, edgesOf(partitionCut(ctx, fault('halves'), rng())))).toEqual([
      [1, 2],
      [5, 6],
    ]);
  });

  it('splits at random for randomHalves, the same way for the same stream', () => {
    const ctx = context(grid(4, 5));
    const a = partitionCut(ctx, fault('randomHalves'), rng());
    const b = partitionCut(ctx, fault('randomHalves'), rng());
    expect(a).toEqual(b);
    expect(a.label).toBe('randomHalves');
    expect(edgesOf(a).length).toBeGreaterThan(0);
    expect(edgesOf(a)).not.toEqual(edgesOf(partitionCut(ctx, fault('halves'), rng())));
    // The cut edges separate the nodes into two sets of 10: two-colour the graph across cut edges.
    const side = new Int8Array(20).fill(-1);
    const cutSet = new Set(edgesOf(a));
    side[0] = 0;
    for (let changed = true; changed; ) {
      changed = false;
      for (const e of ctx.network.edges) {
        const [x, y] = [e.a, e.b];
        const flip = cutSet.has(e.index) ? 1 : 0;
        if (side[x]! >= 0 && side[y]! < 0) [side[y], changed] = [side[x]! ^ flip, true];
        else if (side[y]! >= 0 && side[x]! < 0) [side[x], changed] = [side[y]! ^ flip, true];
      }
    }
    for (const e of ctx.network.edges) expect(side[e.a] !== side[e.b]).toBe(cutSet.has(e.index));
    expect(side.filter((s) => s === 0).length).toBe(10);
  });

  it('cuts only the west-to-east direction for oneWay', () => {
    const ctx = context(grid(4, 5));
    const cut = partitionCut(ctx, fault('oneWay'), rng());
    expect(cut.cuts.every((c) => c.forward !== c.backward)).toBe(true);
    expect(cut.label).toBe('oneWay');
    // Every crossing edge is cut, in the direction leaving side 0 (here always its `a` end).
    expect(edgesOf(cut)).toEqual(edgesOf(partitionCut(ctx, fault('halves'), rng())));
    expect(cut.cuts.every((c) => c.forward && !c.backward)).toBe(true);
  });

  it('cuts the direction from the first half into the second for oneWay on a ring by index', () => {
    // Halved by index, {0, 1} | {2, 3}: both crossing edges [0,3] and [1,2] have their a end in the first half.
    const ctx = context(ring(4));
    expect(endsOf(ctx, edgesOf(partitionCut(ctx, fault('oneWay'), rng())))).toEqual([
      [0, 3],
      [1, 2],
    ]);
  });

  it('keeps one crossing link for bridge', () => {
    const ctx = context(grid(4, 5));
    const crossing = edgesOf(partitionCut(ctx, fault('halves'), rng()));
    const cut = partitionCut(ctx, fault('bridge'), rng());
    const kept = Number(/^bridge kept (\d+)$/.exec(cut.label)![1]);
    expect(crossing).toContain(kept);
    expect(edgesOf(cut)).toEqual(crossing.filter((e) => e !== kept));
    expect(cut.cuts.every((c) => c.forward && c.backward)).toBe(true);
  });

  it('keeps no link for bridge when no link crosses', () => {
    // Two separate pairs, 0-1 and 2-3, halve into exactly those pairs.
    const ctx = context({ kind: 'test', nodeCount: 4, edges: [[0, 1], [2, 3]] });
    expect(partitionCut(ctx, fault('bridge'), rng())).toEqual({ cuts: [], label: 'bridge kept -1' });
  });

  it('isolates the named node, or a random one', () => {
    const ctx = context(grid(3, 3));
    expect(partitionCut(ctx, fault('isolate', 4), rng())).toEqual({ cuts: ctx.network.nodes[4]!.edges.map((edge) => ({ edge, forward: true, backward: true })), label: 'isolate 4' });
    const random = partitionCut(ctx, fault('isolate'), rng());
    const node = Number(/^isolate (\d+)$/.exec(random.label)![1]);
    expect(edgesOf(random)).toEqual(ctx.network.nodes[node]!.edges);
  });

  it('keeps only links between nodes close on a random ring for majorityRing', () => {
    // On a complete graph of 8, whatever the ring order, the pairs 3 or 4 apart are cut: 8 + 4 of 28.
    const edges: [number, number][] = [];
    for (let a = 0; a < 8; a++) for (let b = a + 1; b < 8; b++) edges.push([a, b]);
    const ctx = context({ kind: 'complete', nodeCount: 8, edges });
    const cut = partitionCut(ctx, fault('majorityRing'), rng());
    expect(cut.label).toBe('majorityRing');
    expect(edgesOf(cut)).toHaveLength(12);
    // Every node keeps its 4 ring neighbours within distance 2.
    const degree = new Array<number>(8).fill(0);
    for (const e of ctx.network.edges) {
      if (edgesOf(cut).includes(e.index)) continue;
      degree[e.a]!++;
      degree[e.b]!++;
    }
    expect(degree).toEqual([4, 4, 4, 4, 4, 4, 4, 4]);
  });

  it('is applied as a partition fault with its label as the target', () => {
    const run = assemble(scenario('{ kind: line, nodes: 4 }', ['{ kind: partition, mode: isolate, node: 1, atS: 5, healS: 7 }'], '{ pairs: [[0, 3]] }'));
    run.network.runUntil(6000);
    expect(run.network.nodes[1]!.edges.every((e) => !run.network.edges[e]!.forward.up)).toBe(true);
    run.network.runUntil(run.endMs);
    expect(run.network.edges.every((e) => e.forward.up && e.backward.up)).toBe(true);
    expect(run.injector.records).toEqual([{ atMs: 5000, kind: 'partition', target: 'isolate 1', affectedFlows: 1 }]);
    run.recovery.finish();
    expect(run.recovery.partitionedFlows).toBe(1);
    expect(run.recovery.samples.healRecoveryMs).toHaveLength(1);
  });
});

describe('links named in either order', () => {
  it('finds the link [1, 0] and labels it 0-1', () => {
    const run = assemble(scenario('{ kind: line, nodes: 2 }', ['{ kind: linkCut, link: [1, 0], atS: 5, untilS: 6 }'], '{ pairs: [[0, 1]] }'));
    run.network.runUntil(5500);
    expect(run.network.edges[0]!.forward.up).toBe(false);
    expect(run.injector.records[0]!.target).toBe('0-1');
  });
});
