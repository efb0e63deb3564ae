import { describe, expect, it } from 'vitest';
import { fastProfile, profiles } from '../../src/mesh/profiles.js';
import type { MeshEvent } from '../../src/mesh/types.js';
import { FaultInjector } from '../../src/twin/faults.js';
import { FlowTracker } from '../../src/twin/flows.js';
import { LinkDirection } from '../../src/twin/link-model.js';
import { Network } from '../../src/twin/network.js';
import { Prng } from '../../src/twin/prng.js';
import { RecoveryTracker } from '../../src/twin/recovery.js';
import { buildReport } from '../../src/twin/report.js';
import { buildTopology } from '../../src/twin/runner.js';
import { parseScenario } from '../../src/twin/scenario.js';
import { line } from '../../src/twin/topology.js';
import { seedResult } from './fixtures.js';

/** Builds a network with fixed 10 ms links, schedules the scenario's faults, and boots it. */
function assemble(yaml: string): { network: Network } {
  const s = parseScenario(yaml, 'bug.yaml');
  const rng = Prng.fromSeed(s.seed, 'bug');
  const topology = buildTopology(s.topology, rng.split('topology'));
  const network = new Network({
    topology,
    profile: profiles[s.profile],
    rng: rng.split('network'),
    linkParams: () => ({ delayMs: 10, jitterMs: 0, loss: 0, bandwidthBps: 1e8, queueBytesMax: 65_536 }),
  });
  const endMs = (s.timing.warmupS + s.timing.durationS + s.timing.settleS) * 1000;
  const flows = new FlowTracker(network, s.traffic.pairs ?? [], s.traffic.ratePps, 16, 10_000);
  const recovery = new RecoveryTracker(network);
  new FaultInjector({ network, flows, recovery, positions: topology.positions ?? null, endMs }, rng.split('faults')).scheduleAll(s.faults);
  network.bootAll();
  return { network };
}

describe('twin regressions found in review', () => {
  it('a oneWay partition cuts the west-to-east direction of every crossing link', () => {
    const run = assemble(`
name: oneway
topology: { kind: ring, nodes: 4 }
timing: { warmupS: 2, durationS: 6, settleS: 1 }
traffic: { pairs: [[2, 0]] }
faults:
  - { kind: partition, mode: oneWay, atS: 3 }
`);
    run.network.runUntil(4000);
    // Ring positions x = 0.5 + 0.5 cos(2 pi i / 4): west {2, 3}, east {1, 0}; crossing links [0,3] and [1,2].
    const direction = (from: number, to: number): LinkDirection => {
      const e = run.network.edges.find((x) => (x.a === from && x.b === to) || (x.a === to && x.b === from))!;
      return e.a === from ? e.forward : e.backward;
    };
    expect([direction(3, 0).up, direction(2, 1).up]).toEqual([false, false]);
    expect([direction(0, 3).up, direction(1, 2).up]).toEqual([true, true]);
  });

  it('a link stays down while a longer fault that cut it is still active', () => {
    const run = assemble(`
name: overlap
topology: { kind: ring, nodes: 5 }
timing: { warmupS: 2, durationS: 8, settleS: 1 }
traffic: { pairs: [[0, 2]] }
faults:
  - { kind: linkCut, link: [0, 1], atS: 3, untilS: 8 }
  - { kind: partition, mode: isolate, node: 0, atS: 4, healS: 6 }
`);
    run.network.runUntil(7000);
    const edge = run.network.edges.find((e) => e.a === 0 && e.b === 1)!;
    expect([edge.forward.up, edge.backward.up]).toEqual([false, false]);
    run.network.runUntil(8500);
    expect([edge.forward.up, edge.backward.up]).toEqual([true, true]);
  });

  it('a node crashed by two overlapping faults restarts only when both end', () => {
    const run = assemble(`
name: overlap-crash
topology: { kind: line, nodes: 4 }
timing: { warmupS: 2, durationS: 8, settleS: 1 }
traffic: { pairs: [[0, 3]] }
faults:
  - { kind: nodeDown, node: 1, atS: 3, untilS: 8 }
  - { kind: nodeDown, node: 1, atS: 4, untilS: 6 }
`);
    run.network.runUntil(7000);
    expect(run.network.nodes[1]!.mesh).toBeNull();
    run.network.runUntil(8500);
    expect(run.network.nodes[1]!.mesh).not.toBeNull();
  });

  it('reset() lets the next packet skip the emptied queue', () => {
    const l = new LinkDirection({ delayMs: 0, jitterMs: 0, loss: 0, bandwidthBps: 8000, queueBytesMax: 1500 }, Prng.fromSeed(1));
    expect(l.transmit(0, 1500)).toBe(1500);
    l.reset();
    expect(l.transmit(10, 10)).toBe(20);
  });

  it('loses a packet in flight when its link is cut, even if the link is back before it would arrive', () => {
    const net = new Network({
      topology: line(2),
      profile: fastProfile,
      rng: Prng.fromSeed(3),
      linkParams: () => ({ delayMs: 100, jitterMs: 0, loss: 0, bandwidthBps: 1e8, queueBytesMax: 65_536 }),
    });
    net.bootAll();
    net.runUntil(3000);
    const delivered: number[] = [];
    net.observer = {
      onMeshEvent: (_n: number, e: MeshEvent) => {
        if (e.kind === 'delivered') delivered.push(e.id);
      },
    };
    net.input(0, { kind: 'send', dst: net.nodes[1]!.id, id: 1, payload: new Uint8Array(8) });
    net.runUntil(3040);
    net.edges[0]!.forward.cut();
    net.edges[0]!.backward.cut();
    net.runUntil(3060);
    net.edges[0]!.forward.restore();
    net.edges[0]!.backward.restore();
    net.runUntil(3300);
    expect(delivered).toEqual([]);
  });

  it('pools the oracle stretch of every seed, weighted by routed pairs', () => {
    const a = seedResult({ seed: 7, oracle: { pairs: 12, missing: 1, mismatched: 0, stretchMean: 1.25 } });
    const b = seedResult({ seed: 8, oracle: { pairs: 12, missing: 0, mismatched: 2, stretchMean: 1.5 } });
    expect(buildReport('x', 'fast', [a, b], 1).oracle!.stretchMean).toBe(Math.round(((11 * 1.25 + 12 * 1.5) / 23) * 1e4) / 1e4);
  });
});
