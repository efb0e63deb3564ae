import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/twin/prng.js';
import { reportJson } from '../../src/twin/report.js';
import { buildTopology, randomPairs, runScenario, runSeed } from '../../src/twin/runner.js';
import { loadScenario, parseScenario, type Scenario, type TopologySpec } from '../../src/twin/scenario.js';
import { isConnected } from '../../src/twin/topology.js';

const fixtures = fileURLToPath(new URL('../fixtures/twin/', import.meta.url));
const library = fileURLToPath(new URL('../../scenarios/', import.meta.url));

function scenario(yaml: string): Scenario {
  return parseScenario(yaml, 'runner-test.yaml', fixtures);
}

/** A fault-free ring of 6 with two flows, short enough for a unit test. */
const quiet = `
name: quiet
topology: { kind: ring, nodes: 6 }
timing: { warmupS: 2, durationS: 3, settleS: 1 }
traffic: { pairs: [[0, 3], [4, 1]], ratePps: 20 }
`;

describe('buildTopology', () => {
  const rng = (): Prng => Prng.fromSeed(1, 'twin').split('topology');

  it('builds a line, a ring and a grid', () => {
    expect(buildTopology({ kind: 'line', nodes: 3 }, rng()).edges).toEqual([
      [0, 1],
      [1, 2],
    ]);
    const r = buildTopology({ kind: 'ring', nodes: 4 }, rng());
    expect(r.nodeCount).toBe(4);
    expect(r.edges).toEqual([
      [0, 1],
      [0, 3],
      [1, 2],
      [2, 3],
    ]);
    const g = buildTopology({ kind: 'grid', rows: 2, cols: 3, nodes: 6 }, rng());
    expect(g.nodeCount).toBe(6);
    expect(g.edges).toEqual([
      [0, 1],
      [0, 3],
      [1, 2],
      [1, 4],
      [2, 5],
      [3, 4],
      [4, 5],
    ]);
  });

  it('builds a connected random geometric graph from the given stream, the same for the same stream', () => {
    const spec: TopologySpec = { kind: 'rgg', nodes: 40, avgDegree: 6 };
    const a = buildTopology(spec, rng());
    expect(a.nodeCount).toBe(40);
    expect(a.positions).toHaveLength(40);
    expect(isConnected(a.nodeCount, a.edges)).toBe(true);
    expect(buildTopology(spec, rng()).edges).toEqual(a.edges);
    expect(buildTopology(spec, Prng.fromSeed(2, 'twin').split('topology')).edges).not.toEqual(a.edges);
  });

  it('builds a Barabasi-Albert graph with m links per new node', () => {
    const ba = buildTopology({ kind: 'ba', nodes: 10, m: 2 }, rng());
    expect(ba.nodeCount).toBe(10);
    // A complete seed of m + 1 = 3 nodes (3 links), then 2 links for each of the 7 others.
    expect(ba.edges).toHaveLength(3 + 2 * 7);
    expect(isConnected(ba.nodeCount, ba.edges)).toBe(true);
  });

  it('reads an edge list file, numbering nodes in order of appearance', () => {
    const t = buildTopology({ kind: 'edges', file: join(fixtures, 'bowtie.edges') }, rng());
    expect(t.nodeCount).toBe(5);
    expect(t.labels).toEqual(['west-a', 'west-b', 'hub', 'east-a', 'east-b']);
    expect(t.edges).toEqual([
      [0, 1],
      [0, 2],
      [1, 2],
      [2, 3],
      [2, 4],
      [3, 4],
    ]);
  });

  it('fails with the file system error for a missing edge list', () => {
    expect(() => buildTopology({ kind: 'edges', file: join(fixtures, 'no-such.edges') }, rng())).toThrow(/ENOENT/);
  });
});

describe('randomPairs', () => {
  it('draws the asked number of pairs with two different ends inside the graph', () => {
    const pairs = randomPairs(5, 2000, Prng.fromSeed(3));
    expect(pairs).toHaveLength(2000);
    for (const [src, dst] of pairs) {
      expect(src).not.toBe(dst);
      expect(src).toBeGreaterThanOrEqual(0);
      expect(src).toBeLessThan(5);
      expect(dst).toBeGreaterThanOrEqual(0);
      expect(dst).toBeLessThan(5);
    }
    // Every one of the 5 x 4 ordered pairs comes up.
    expect(new Set(pairs.map(([s, d]) => `${s}-${d}`)).size).toBe(20);
  });

  it('picks each destination about equally often, including the highest index', () => {
    const counts = new Array<number>(4).fill(0);
    for (const [, dst] of randomPairs(4, 8000, Prng.fromSeed(4))) counts[dst]!++;
    for (const c of counts) {
      expect(c).toBeGreaterThan(1800);
      expect(c).toBeLessThan(2200);
    }
  });

  it('has only two possible pairs on two nodes', () => {
    for (const [src, dst] of randomPairs(2, 50, Prng.fromSeed(5))) expect(src + dst).toBe(1);
  });

  it('is reproducible from the stream and empty for no flows', () => {
    expect(randomPairs(9, 30, Prng.fromSeed(6))).toEqual(randomPairs(9, 30, Prng.fromSeed(6)));
    expect(randomPairs(9, 30, Prng.fromSeed(6))).not.toEqual(randomPairs(9, 30, Prng.fromSeed(7)));
    expect(randomPairs(9, 0, Prng.fromSeed(6))).toEqual([]);
  });
});

describe('runSeed on a fault-free scenario', () => {
  const s = scenario(quiet);
  const result = runSeed(s, 1);

  it('delivers every packet and counts no fault', () => {
    expect(result.seed).toBe(1);
    // Flow 0 sends at 2000, 2050, ..., 5000 ms; flow 1, staggered by half an interval, stops at 4975 ms.
    expect(result.steadySent).toBe(61 + 60);
    expect(result.steadyDelivered).toBe(result.steadySent);
    expect(result.faultSent).toBe(0);
    expect(result.faults).toEqual([]);
    expect(result.recoveryMs).toEqual([]);
    expect(result.detectMs).toEqual([]);
    expect(result.affectedFlows).toBe(0);
    expect(result.transientLoops).toBe(0);
  });

  it('finds converged routes on shortest paths', () => {
    expect(result.oracle).toMatchObject({ pairs: 30, missing: 0, mismatched: 0 });
    expect(result.oracle!.stretchMean!).toBeLessThan(1.05);
    // Every node reaches the five others.
    expect(result.alternates.reachable).toBe(30);
    expect(result.alternates.withAlternate).toBeLessThanOrEqual(30);
  });

  it('describes the network, the time measured and the control traffic', () => {
    expect(result.nodes).toBe(6);
    expect(result.links).toBe(6);
    expect(result.measuredS).toBe(3);
    expect(result.controlBytes).toBeGreaterThan(0);
    expect(result.events).toBeGreaterThan(1000);
    expect(result.topology.edges).toEqual(buildTopology(s.topology, Prng.fromSeed(1)).edges);
    expect(result.topology.positions).toHaveLength(6);
  });

  it('bins the packets per second of the measured time', () => {
    expect(result.timeline.map((b) => b.tS)).toEqual([2, 3, 4]);
    expect(result.timeline.reduce((t, b) => t + b.sent, 0)).toBe(result.steadySent);
    // The packets sent at exactly the end time fall into the last bin.
    expect(result.timeline.map((b) => b.sent)).toEqual([40, 40, 41]);
    expect(result.timeline.every((b) => b.delivered === b.sent)).toBe(true);
  });
});

describe('runScenario', () => {
  it('reports a steady delivery ratio of 1 on a fault-free small scenario', () => {
    const report = runScenario(scenario(quiet));
    expect(report.deliveryRatio).toEqual({ steady: 1, duringFault: null });
    expect(report.recoveryMs.count).toBe(0);
    expect(report.unrecoveredFlows).toBe(0);
    expect(report.overheadBytesPerNodeS).toBeGreaterThan(0);
    expect(report.overheadBytesPerLinkS).toBe(report.overheadBytesPerNodeS);
  });

  it('gives the same report, byte for byte, for the same seed, and another for another seed', () => {
    const yaml = `
name: determinism
seed: 11
topology: { kind: rgg, nodes: 25, avgDegree: 5 }
links: { delayMs: { min: 2, max: 12 }, jitterMs: 2, loss: 0.01 }
timing: { warmupS: 2, durationS: 4, settleS: 1 }
traffic: { flows: 5, ratePps: 20 }
faults:
  - { kind: linkFailure, count: 2, startS: 3, everyS: 1, downS: 1.5 }
  - { kind: churn, ratePerMin: 20, startS: 2, untilS: 6, downS: 1 }
`;
    const first = reportJson(runScenario(scenario(yaml)), true);
    const again = reportJson(runScenario(scenario(yaml)), true);
    expect(again).toBe(first);
    const other = reportJson(runScenario(scenario(yaml.replace('seed: 11', 'seed: 12'))), true);
    expect(other).not.toBe(first);
    expect(JSON.parse(first)).toMatchObject({ seed: 11, seeds: [11], wallMs: 0, eventsPerS: 0 });
  });

  it('runs consecutive seeds and pools them', () => {
    const report = runScenario(scenario(quiet.replace('name: quiet', 'name: quiet\nseed: 4\nseeds: 2')));
    expect(report.seed).toBe(4);
    expect(report.seeds).toEqual([4, 5]);
    expect(report.oracle!.pairs).toBe(60);
    expect(report.timeline.reduce((t, b) => t + b.sent, 0)).toBe(121);
  });

  it('reports progress for each seed up to the end of its virtual time', () => {
    const progress: { seedIndex: number; seeds: number; virtualMs: number; totalMs: number }[] = [];
    runScenario(scenario(quiet.replace('name: quiet', 'name: quiet\nseeds: 2')), (p) => progress.push(p));
    expect(progress.map((p) => [p.seedIndex, p.virtualMs])).toEqual([
      ...[1, 2, 3, 4, 5, 6].map((s) => [0, s * 1000]),
      ...[1, 2, 3, 4, 5, 6].map((s) => [1, s * 1000]),
    ]);
    expect(progress.every((p) => p.seeds === 2 && p.totalMs === 6000)).toBe(true);
  });

  it('handles a run shorter than one progress step', () => {
    const progress: number[] = [];
    const report = runScenario(
      scenario('name: short\ntopology: { kind: line, nodes: 2 }\ntiming: { warmupS: 0, durationS: 0.5, settleS: 0 }\ntraffic: { pairs: [[0, 1]] }\n'),
      (p) => progress.push(p.virtualMs),
    );
    expect(progress).toEqual([500]);
    expect(report.timeline).toHaveLength(1);
  });

  it('skips the invariant checks a scenario turns off', () => {
    const report = runScenario(scenario(`${quiet}invariants: { loops: false, oracle: false }\n`));
    expect(report.oracle).toBeNull();
    expect(report.transientLoops).toBe(0);
    expect(report.deliveryRatio.steady).toBe(1);
  });

  it('draws random flows and lossy, asymmetric links from the scenario', () => {
    const report = runScenario(
      scenario(`
name: lossy
topology: { kind: grid, rows: 3, cols: 3 }
links: { delayMs: { min: 1, max: 30 }, loss: 0.1, asymmetric: true }
timing: { warmupS: 2, durationS: 3, settleS: 1 }
traffic: { flows: 4, ratePps: 50 }
`),
    );
    expect(report.deliveryRatio.steady!).toBeGreaterThan(0.5);
    expect(report.deliveryRatio.steady!).toBeLessThan(1);
    // Flow 0 sends 151 packets; the three staggered after it stop one interval short.
    expect(report.timeline.reduce((t, b) => t + b.sent, 0)).toBe(151 + 3 * 150);
  });

  it('runs a scenario file on an edge-list topology', () => {
    const report = runScenario(loadScenario(join(fixtures, 'bowtie.yaml')));
    expect(report.nodes).toBe(5);
    expect(report.links).toBe(6);
    expect(report.topology.positions).toBeNull();
    expect(report.faults).toEqual([{ atMs: 3000, kind: 'linkCut', target: '0-2', affectedFlows: 1, seed: 5 }]);
    expect(report.recoveryMs.count).toBe(1);
    expect(report.unrecoveredFlows).toBe(0);
    expect(report.transientLoops).toBe(0);
    expect(report.oracle).toMatchObject({ missing: 0, mismatched: 0 });
  });

  it('runs the small-ring-cut library scenario: both flows recover the other way round', () => {
    const report = runScenario(loadScenario(join(library, 'small-ring-cut.yaml')));
    expect(report.affectedFlows).toBe(2);
    expect(report.recoveryMs.count).toBe(2);
    expect(report.partitionedFlows).toBe(0);
    expect(report.unrecoveredFlows).toBe(0);
    expect(report.transientLoops).toBe(0);
    expect(report.deliveryRatio.steady).toBe(1);
    expect(report.oracle).toMatchObject({ missing: 0, mismatched: 0 });
  });
});
