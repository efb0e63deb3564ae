import { describe, expect, it } from 'vitest';
import { TransitProbePlanner } from '../../src/mapek/transit-probes.js';
import type { LinkId } from '../../src/mesh/neighbour.js';
import { nodeFeature, nodeFeatureNames } from '../../src/telemetry/features.js';
import { generateDataset } from '../../src/twin/dataset.js';
import { assembleSeed } from '../../src/twin/runner.js';
import { parseScenario } from '../../src/twin/scenario.js';
import { transitProbeIdBase, TwinTransitProbes } from '../../src/twin/transit-probes.js';

const link = (n: number): LinkId => n as LinkId;

describe('TransitProbePlanner', () => {
  it('probes each usable link that carried no data in the interval, then starts afresh', () => {
    const planner = new TransitProbePlanner({ probesPerInterval: 3 });
    planner.sent(link(1));
    planner.sent(link(1));
    expect(planner.due([link(1), link(2), link(3)])).toEqual([
      { link: link(2), probes: 3 },
      { link: link(3), probes: 3 },
    ]);
    // The counts start again: link 1 is idle now.
    expect(planner.due([link(1)])).toEqual([{ link: link(1), probes: 3 }]);
    expect(planner.due([])).toEqual([]);
  });

  it('refuses a probe count that is not an integer in 1..64, naming it', () => {
    for (const probesPerInterval of [0, 65, 1.5, Number.NaN]) {
      expect(() => new TransitProbePlanner({ probesPerInterval })).toThrow(/probesPerInterval to be an integer in 1\.\.64, got/);
    }
  });
});

/** A line 0-1-2-3-4 with one flow 0 -> 4, whose destination goes down at 10 s; node 2 drops 90 % of what it forwards from 5 to 25 s. */
const yaml = (probes: boolean): string => `name: probes-unit
topology: { kind: line, nodes: 5 }
timing: { warmupS: 5, durationS: 20, settleS: 0 }
traffic: { pairs: [[0, 4]], ratePps: 20, payloadBytes: 64 }
invariants: { loops: false, oracle: false }
transitProbes: { enabled: ${probes}, intervalMs: 1000, probesPerInterval: 4 }
faults:
  - { kind: greyHole, node: 2, atS: 5, untilS: 25, dropShare: 0.9 }
  - { kind: nodeDown, node: 4, atS: 10 }
`;

describe('TwinTransitProbes', () => {
  it('is off unless the scenario enables it, and refuses a bad interval', () => {
    const run = assembleSeed(parseScenario(yaml(false), 'unit'), 1);
    expect(run.transitProbes).toBeNull();
    expect(() => new TwinTransitProbes(run.network, { intervalMs: 0, startMs: 0, endMs: 1, rule: { probesPerInterval: 1 } })).toThrow(/intervalMs > 0/);
  });

  it('sends echo requests through idle neighbours from the end of the warm-up, with ids above the flows', () => {
    const run = assembleSeed(parseScenario(yaml(true), 'unit'), 1);
    const echoIds: number[] = [];
    const base = run.network.observer;
    run.network.observer = {
      ...base,
      onTransmit: (from, edge, transmit, arrival) => {
        base.onTransmit?.(from, edge, transmit, arrival);
        if (transmit.data !== undefined && transmit.data.src === run.network.nodes[from]!.id && transmit.data.kind !== 0) echoIds.push(transmit.data.id);
      },
    };
    run.network.runUntil(5000);
    expect(run.transitProbes!.sentTotal).toBe(0);
    run.network.runUntil(25_000);
    expect(run.transitProbes!.sentTotal).toBeGreaterThan(0);
    expect(echoIds.filter((id) => id >= transitProbeIdBase).length).toBeGreaterThan(0);
  });

  it('keeps a grey hole visible to its neighbours after the only flow through it has stopped', () => {
    const row = (probes: boolean): { known: number[]; recent: number[] } => {
      const dataset = generateDataset(parseScenario(yaml(probes), 'unit'), 1);
      const f = nodeFeatureNames.length;
      // Windows 15..19 (20 to 25 s): the flow has had no route since its destination went down at 10 s.
      const late = dataset.windows.slice(15);
      return {
        known: late.map((w) => w.nodeFeatures[2 * f + nodeFeature.deliveryKnown]!),
        recent: late.map((w) => w.nodeFeatures[2 * f + nodeFeature.deliveryRecent]!),
      };
    };
    const without = row(false);
    const probed = row(true);
    // Without probes nothing crosses node 2 any more: only the memory of the flow's loss is left.
    expect(without.known.every((k) => k === 0)).toBe(true);
    // With probes the neighbours measure it afresh in every window, and it still drops about 90 %.
    expect(probed.known.every((k) => k === 1)).toBe(true);
    expect(Math.max(...probed.recent)).toBeLessThan(0.25);
  });
});
