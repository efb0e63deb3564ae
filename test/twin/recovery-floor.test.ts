import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fastProfile } from '../../src/mesh/profiles.js';
import { FlowTracker, type Flow, type PacketTrace } from '../../src/twin/flows.js';
import { Network } from '../../src/twin/network.js';
import { Prng } from '../../src/twin/prng.js';
import { RecoveryTracker, upstreamOf, type AffectedFlow, type FailureSet } from '../../src/twin/recovery.js';
import type { SeedResult } from '../../src/twin/report.js';
import { runSeed } from '../../src/twin/runner.js';
import { loadScenario, parseScenario } from '../../src/twin/scenario.js';
import { ring } from '../../src/twin/topology.js';

const library = fileURLToPath(new URL('../../scenarios/', import.meta.url));

describe('upstreamOf', () => {
  // The path 0 -e10-> 1 -e11-> 2 -e12-> 3.
  const path = { edges: [10, 11, 12], nodes: [0, 1, 2, 3] };
  const failure = (edges: number[], nodes: number[]): FailureSet => ({ edges: new Set(edges), nodes: new Set(nodes) });

  it('names the node a failed link is crossed from', () => {
    expect(upstreamOf(path, failure([11], []))).toEqual({ node: 1, edge: 11 });
    expect(upstreamOf(path, failure([10], []))).toEqual({ node: 0, edge: 10 });
  });

  it('names the node before a crashed one, with the link between them', () => {
    expect(upstreamOf(path, failure([], [2]))).toEqual({ node: 1, edge: 11 });
  });

  it('takes the failed element met first from the source', () => {
    expect(upstreamOf(path, failure([12], [1]))).toEqual({ node: 0, edge: 10 });
    expect(upstreamOf(path, failure([11, 10], [3]))).toEqual({ node: 0, edge: 10 });
    // A failed link comes before the crashed node at its far end.
    expect(upstreamOf(path, failure([11], [2]))).toEqual({ node: 1, edge: 11 });
  });

  it('is null when the path does not meet the failure past its source', () => {
    expect(upstreamOf(path, failure([99], [0, 7]))).toBeNull();
    expect(upstreamOf({ edges: [], nodes: [0] }, failure([10], []))).toBeNull();
  });
});

/*
 * A ring of 6 whose links have different delays per edge and per direction, so a floor
 * computed over the wrong links or the wrong direction shows. Edges and their a -> b delays:
 * [0,1]=0: 5, [0,5]=1: 6, [1,2]=2: 7, [2,3]=3: 8, [3,4]=4: 9, [4,5]=5: 10; b -> a takes twice as long.
 */
const forwardMs = [5, 6, 7, 8, 9, 10];
/** Node 1 to node 2 the long way round: 1 -> 0 (10), 0 -> 5 (6), 5 -> 4 (20), 4 -> 3 (18), 3 -> 2 (16). */
const detour1to2Ms = 10 + 6 + 20 + 18 + 16;
/** Node 1 to node 3 without link [1,2]: 1 -> 0 (10), 0 -> 5 (6), 5 -> 4 (20), 4 -> 3 (18). */
const detour1to3Ms = 10 + 6 + 20 + 18;
/** Node 0 to node 2 without node 1: 0 -> 5 (6), 5 -> 4 (20), 4 -> 3 (18), 3 -> 2 (16). */
const detour0to2Ms = 6 + 20 + 18 + 16;

describe('RecoveryTracker floors', () => {
  /** The ring, booted and converged, with idle flows; the tracker hears only what the test tells it. */
  function setup(pairs: [number, number][]) {
    const network = new Network({
      topology: ring(6),
      profile: fastProfile,
      rng: Prng.fromSeed(4),
      linkParams: (index, forward) => ({ delayMs: forwardMs[index]! * (forward ? 1 : 2), jitterMs: 0, loss: 0, bandwidthBps: 1e8, queueBytesMax: 65_536 }),
    });
    network.bootAll();
    network.runUntil(2000);
    const flowTracker = new FlowTracker(network, pairs, 10, 0, 100);
    const hit = (...flows: Flow[]): AffectedFlow[] => flows.map((flow) => ({ flow, path: flowTracker.currentPath(flow) }));
    return { network, flows: flowTracker.flows, hit, tracker: new RecoveryTracker(network), t0: network.nowMs };
  }
  const cut = (network: Network, ...edges: number[]): FailureSet => {
    for (const e of edges) {
      network.edges[e]!.forward.up = false;
      network.edges[e]!.backward.up = false;
    }
    return { edges: new Set(edges), nodes: new Set() };
  };
  const crash = (network: Network, node: number): FailureSet => {
    network.crash(node);
    return { edges: new Set(), nodes: new Set([node]) };
  };
  /** Delivers packet `seq` of `flow`, sent at `sentAtMs`, over `edges` at `atMs`. */
  const deliver = (tracker: RecoveryTracker, flow: Flow, seq: number, sentAtMs: number, edges: number[], atMs: number): void => {
    flow.sentAtMs[seq] = sentAtMs;
    const trace: PacketTrace = { flow: flow.index, seq, edges };
    tracker.delivered(flow, trace, atMs);
  };

  it('starts on converged shortest paths', () => {
    const { flows, hit } = setup([[0, 2], [1, 3]]);
    expect(hit(...flows).map((a) => a.path)).toEqual([
      { edges: [0, 2], nodes: [0, 1, 2], complete: true },
      { edges: [2, 3], nodes: [1, 2, 3], complete: true },
    ]);
  });

  it('adds the least delay from the upstream node to each flow destination to the time that node took to detect', () => {
    const { network, flows, hit, tracker, t0 } = setup([[0, 2], [1, 3]]);
    tracker.failureApplied(cut(network, 2), hit(...flows));
    network.runUntil(t0 + 110);
    // The far end of the link detecting it says nothing about where the flows were cut off.
    tracker.neighbourDown(2, 2);
    // Node 1 reporting another link is no detection of this failure either.
    tracker.neighbourDown(1, 0);
    network.runUntil(t0 + 120);
    tracker.neighbourDown(1, 2);
    // A second report from node 1 does not move the floors.
    network.runUntil(t0 + 130);
    tracker.neighbourDown(1, 2);
    deliver(tracker, flows[0]!, 0, t0 + 150, [0, 1, 5, 4, 3], t0 + 400);
    deliver(tracker, flows[1]!, 0, t0 + 150, [0, 1, 5, 4], t0 + 300);
    expect(tracker.samples.recoveryMs).toEqual([400, 300]);
    expect(tracker.samples.recoveryFloorMs).toEqual([120 + detour1to2Ms, 120 + detour1to3Ms]);
    expect(tracker.floorClamped).toBe(0);
  });

  it('starts from the node before a crashed node', () => {
    const { network, flows, hit, tracker, t0 } = setup([[0, 2]]);
    tracker.failureApplied(crash(network, 1), hit(flows[0]!));
    network.runUntil(t0 + 140);
    tracker.neighbourDown(2, 2);
    tracker.neighbourDown(0, 0);
    deliver(tracker, flows[0]!, 0, t0 + 150, [1, 5, 4, 3], t0 + 250);
    expect(tracker.samples.recoveryFloorMs).toEqual([140 + detour0to2Ms]);
  });

  it('starts from the failed element met first along the path', () => {
    const { network, flows, hit, tracker, t0 } = setup([[0, 2]]);
    // Both links of node 1 fail; the flow meets [0,1] first, so node 0 is the one that must notice.
    tracker.failureApplied(cut(network, 0, 2), hit(flows[0]!));
    network.runUntil(t0 + 100);
    tracker.neighbourDown(1, 2);
    network.runUntil(t0 + 150);
    tracker.neighbourDown(0, 0);
    deliver(tracker, flows[0]!, 0, t0 + 150, [1, 5, 4, 3], t0 + 260);
    expect(tracker.samples.recoveryFloorMs).toEqual([150 + detour0to2Ms]);
  });

  it('takes the graph as it is at detection, not at the failure', () => {
    const { network, flows, hit, tracker, t0 } = setup([[0, 2]]);
    tracker.failureApplied(cut(network, 2), hit(flows[0]!));
    // Before node 1 notices, the detour fails too: from node 1 nothing reaches node 2 any more.
    network.edges[4]!.backward.up = false;
    network.runUntil(t0 + 120);
    tracker.neighbourDown(1, 2);
    deliver(tracker, flows[0]!, 0, t0 + 150, [0, 1, 5, 4, 3], t0 + 500);
    // An infinite floor is cut down to the sample, and counted.
    expect(tracker.samples.recoveryFloorMs).toEqual([500]);
    expect(tracker.floorClamped).toBe(1);
  });

  it('clamps a floor larger than its sample to the sample, and counts it', () => {
    const { network, flows, hit, tracker, t0 } = setup([[0, 2]]);
    tracker.failureApplied(cut(network, 2), hit(flows[0]!));
    network.runUntil(t0 + 120);
    tracker.neighbourDown(1, 2);
    // Arrives sooner than anything leaving node 1 at the detection could.
    deliver(tracker, flows[0]!, 0, t0 + 100, [1, 5, 4, 3], t0 + 150);
    expect(tracker.samples.recoveryMs).toEqual([150]);
    expect(tracker.samples.recoveryFloorMs).toEqual([150]);
    expect(tracker.floorClamped).toBe(1);
  });

  it('uses the sample itself when the flow recovered before the upstream node detected anything', () => {
    const { network, flows, hit, tracker, t0 } = setup([[0, 2]]);
    tracker.failureApplied(cut(network, 2), hit(flows[0]!));
    deliver(tracker, flows[0]!, 0, t0 + 10, [1, 5, 4, 3], t0 + 80);
    network.runUntil(t0 + 120);
    tracker.neighbourDown(1, 2);
    expect(tracker.samples.recoveryMs).toEqual([80]);
    expect(tracker.samples.recoveryFloorMs).toEqual([80]);
    expect(tracker.floorClamped).toBe(0);
  });

  it('uses the sample itself for a flow handed over on a path that misses the failure', () => {
    const { network, flows, hit, tracker, t0 } = setup([[3, 5]]);
    tracker.failureApplied(cut(network, 2), hit(flows[0]!));
    network.runUntil(t0 + 120);
    tracker.neighbourDown(1, 2);
    deliver(tracker, flows[0]!, 0, t0 + 10, [4, 5], t0 + 200);
    expect(tracker.samples.recoveryFloorMs).toEqual([200]);
  });

  it('gives heal samples no floor', () => {
    const { network, flows, hit, tracker, t0 } = setup([[0, 2]]);
    tracker.failureApplied(cut(network, 0, 3), hit(flows[0]!));
    expect(tracker.partitionedFlows).toBe(1);
    network.edges[3]!.forward.up = true;
    network.edges[3]!.backward.up = true;
    tracker.healApplied(flows);
    network.runUntil(t0 + 100);
    tracker.neighbourDown(0, 0);
    deliver(tracker, flows[0]!, 0, t0 + 20, [1, 5, 4, 3], t0 + 200);
    expect(tracker.samples.healRecoveryMs).toEqual([200]);
    expect(tracker.samples.recoveryMs).toEqual([]);
    expect(tracker.samples.recoveryFloorMs).toEqual([]);
  });
});

/** Recovery samples paired with their floors. */
function pairs(result: SeedResult): { recoveryMs: number; floorMs: number }[] {
  expect(result.recoveryFloorMs).toHaveLength(result.recoveryMs.length);
  return result.recoveryMs.map((recoveryMs, i) => ({ recoveryMs, floorMs: result.recoveryFloorMs[i]! }));
}

describe('recovery floors of whole runs', () => {
  /** A ring of 6 with 7 ms links (no jitter) and the flows 0 -> 2 and 3 -> 1, both over link [1,2]. */
  const ringOf6 = (fault: string): string => `
name: floor-ring
topology: { kind: ring, nodes: 6 }
links: { delayMs: { min: 7, max: 7 }, jitterMs: 0 }
timing: { warmupS: 4, durationS: 6, settleS: 1 }
traffic: { pairs: [[0, 2], [3, 1]], ratePps: 100 }
faults:
  - ${fault}
`;

  it('on a cut link: each floor is its upstream end detecting plus the five 7 ms links of the detour', () => {
    const result = runSeed(parseScenario(ringOf6('{ kind: linkCut, link: [1, 2], atS: 6, untilS: 9 }'), 'floor-ring.yaml'), 1);
    const samples = pairs(result);
    expect(samples).toHaveLength(2);
    for (const { recoveryMs, floorMs } of samples) {
      expect(floorMs).toBeGreaterThan(0);
      expect(floorMs).toBeLessThanOrEqual(recoveryMs);
    }
    expect(result.floorClamped).toBe(0);
    // Flow 0 -> 2 was cut off at node 1 and flow 3 -> 1 at node 2; each detour runs 5 links round the ring.
    const floorsMs = samples.map((s) => s.floorMs).sort((a, b) => a - b);
    const detectMs = [...result.detectMs].sort((a, b) => a - b);
    expect(detectMs).toHaveLength(2);
    expect(floorsMs[0]! - detectMs[0]!).toBeCloseTo(5 * 7, 9);
    expect(floorsMs[1]! - detectMs[1]!).toBeCloseTo(5 * 7, 9);
  });

  it('on a crashed node: the floor starts at the node before it and runs the four links left', () => {
    const result = runSeed(parseScenario(ringOf6('{ kind: nodeDown, node: 2, atS: 6, untilS: 9 }'), 'floor-ring.yaml'), 1);
    // Flow 0 -> 2 ends at the crashed node and is not counted; 3 -> 1 is cut off at node 3.
    const samples = pairs(result);
    expect(samples).toHaveLength(1);
    const { recoveryMs, floorMs } = samples[0]!;
    expect(floorMs).toBeGreaterThan(0);
    expect(floorMs).toBeLessThanOrEqual(recoveryMs);
    // Node 3 -> 4 -> 5 -> 0 -> 1; node 3's detection is one of the two detection samples.
    expect(result.detectMs.map((d) => Math.round((floorMs - d - 4 * 7) * 1e6))).toContain(0);
  });

  it('keeps every floor of the small-ring-cut library scenario at or below its sample', () => {
    const result = runSeed(loadScenario(join(library, 'small-ring-cut.yaml')), 1);
    const samples = pairs(result);
    expect(samples).toHaveLength(2);
    for (const { recoveryMs, floorMs } of samples) {
      // At least one probe-detection time plus 9 links of at least 5 ms round the ring of 12.
      expect(floorMs).toBeGreaterThan(9 * 5);
      expect(floorMs).toBeLessThanOrEqual(recoveryMs);
    }
    expect(result.floorClamped).toBe(0);
  });
});
