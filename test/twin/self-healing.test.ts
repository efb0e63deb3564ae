import { describe, expect, it } from 'vitest';
import { deliveryBins, deliveryFrom } from '../../src/twin/flow-delivery.js';
import { attachSelfHealing, assembleSeed, runScenario, type SeedRun } from '../../src/twin/runner.js';
import { parseScenario, type Scenario } from '../../src/twin/scenario.js';
import type { WindowScorer } from '../../src/mapek/detector-findings.js';
import { TwinSelfHealing } from '../../src/twin/self-healing.js';
import { TelemetryTap } from '../../src/twin/telemetry-tap.js';
import { generateDataset } from '../../src/twin/dataset.js';
import { AnomalyDetector } from '../../src/mapek/detector.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaultClass, type TelemetryWindow } from '../../src/telemetry/types.js';

/**
 * A 3 x 5 grid (nodes 0-14, row-major) with two flows along the middle row through node 7
 * (5 -> 9 and 9 -> 5) and one that avoids it (0 -> 4 along the top row), 50 packets/s each.
 */
function scenario(faults: string[], selfHealing: boolean, detector: string | null = null): Scenario {
  return parseScenario(
    [
      'name: heal',
      'topology: { kind: grid, rows: 3, cols: 5 }',
      'timing: { warmupS: 5, durationS: 35, settleS: 0 }',
      'traffic: { pairs: [[5, 9], [9, 5], [0, 4]], ratePps: 50 }',
      'invariants: { loops: false, oracle: false }',
      `selfHealing: { enabled: ${selfHealing}, windowMs: 1000, detector: ${JSON.stringify(detector)} }`,
      `faults: [${faults.join(', ')}]`,
    ].join('\n'),
    'heal.yaml',
  );
}

/** Runs the scenario's first seed to its end with the loops it asks for. */
function runWith(s: Scenario): { run: SeedRun; healing: TwinSelfHealing | null } {
  const run = assembleSeed(s, s.seed);
  const healing = attachSelfHealing(s, run);
  run.network.runUntil(run.endMs);
  return { run, healing };
}

const delivery = (run: SeedRun, flow: number, fromMs: number, toMs: number): number | null => deliveryFrom(deliveryBins([run.flows.flows[flow]!], fromMs, toMs, 1000), fromMs);
const greyHole = '{ kind: greyHole, node: 7, atS: 10, untilS: 40, dropShare: 0.75 }';

describe('TwinSelfHealing: every node runs its MAPE-K loop in the twin', () => {
  it('has the grey hole quarantined by its neighbours, and the flows through it whole again within seconds', () => {
    const { run, healing } = runWith(scenario([greyHole], true));
    const started = healing!.audit.filter((entry) => entry.event === 'actionStarted');
    expect(started.length).toBeGreaterThan(0);
    for (const entry of started) {
      expect(entry).toMatchObject({ action: 'quarantineNode', subject: 'node:8', cause: 'greyHole' });
      // Only node 7's neighbours judge it: 2, 6, 8 and 12.
      expect([2, 6, 8, 12]).toContain(entry.node);
      expect(entry.atMs).toBeGreaterThanOrEqual(11_000);
      expect(entry.atMs).toBeLessThanOrEqual(14_000);
    }
    expect(delivery(run, 0, 16_000, 39_000)).toBe(1);
    expect(delivery(run, 1, 16_000, 39_000)).toBe(1);
    expect(healing!.summary()).toMatchObject({ quarantinedNodes: [7], actionsStarted: started.length, actionsFailed: 0 });
  });

  it('leaves the flows through a grey hole degraded without the loops', () => {
    const { run, healing } = runWith(scenario([greyHole], false));
    expect(healing).toBeNull();
    expect(delivery(run, 0, 16_000, 39_000)!).toBeLessThan(0.5);
    expect(delivery(run, 2, 16_000, 39_000)).toBe(1);
  });

  it('quarantines nobody in a healthy run, and nobody when a transit node merely crashes and comes back', () => {
    for (const faults of [[], ['{ kind: nodeDown, node: 7, atS: 12, untilS: 20 }']]) {
      const { healing } = runWith(scenario(faults, true));
      expect(healing!.summary()).toMatchObject({ actionsStarted: 0, quarantinedNodes: [] });
      expect(healing!.summary().windows).toBe(35);
    }
  });

  it('gives a restarted node a fresh loop that acts again (the old one’s actions died with its core)', () => {
    // Node 6 (a neighbour of 7) restarts while the grey hole lasts; its new boot must quarantine 7 again.
    const { healing } = runWith(scenario([greyHole, '{ kind: nodeDown, node: 6, atS: 20, untilS: 22 }'], true));
    const byNode6 = healing!.audit.filter((entry) => entry.node === 6 && entry.event === 'actionStarted');
    expect(byNode6.length).toBe(2);
    expect(byNode6[1]!.atMs).toBeGreaterThan(22_000);
  });

  it('puts the loops’ totals into the report, per seed, and shows them only when enabled', () => {
    const report = runScenario({ ...scenario([greyHole], true), seeds: 2 });
    expect(report.selfHealing).toMatchObject({ quarantinedNodes: ['1:7', '2:7'], actionsFailed: 0 });
    expect(report.selfHealing!.windows).toBe(70);
    expect(runScenario(scenario([], false)).selfHealing).toBeUndefined();
  });

  it('refuses a window of no length', () => {
    const s = scenario([], false);
    expect(() => new TwinSelfHealing(assembleSeed(s, s.seed).network, { windowMs: 0, startMs: 0, endMs: 1000 })).toThrow(/windowMs > 0, got 0/);
  });

  describe('with the detector as a second analyser', () => {
    /** A scorer that calls `suspect` a bogus-metrics node (score 0.9, threshold 0.4) from `fromMs` on, everyone else healthy-ish (0.2). */
    function scorer(suspect: number | null, fromMs: number): WindowScorer & { calls: number } {
      return {
        nodeThreshold: 0.4,
        calls: 0,
        scoreWindow(window: TelemetryWindow): { nodeScores: Float32Array; linkScores: Float32Array; nodeCauses: Uint8Array } {
          this.calls++;
          const flagged = (row: number): boolean => row === suspect && window.startMs >= fromMs;
          const rows = Array.from({ length: window.nodeCount }, (_, row) => row);
          return {
            nodeScores: Float32Array.from(rows, (row) => (flagged(row) ? 0.9 : 0.2)),
            linkScores: new Float32Array(window.linkFrom.length),
            nodeCauses: Uint8Array.from(rows, (row) => (flagged(row) ? FaultClass.bogusMetrics : FaultClass.greyHole)),
          };
        },
      };
    }

    function runWithDetector(detector: WindowScorer): TwinSelfHealing {
      const s = scenario([], true);
      const run = assembleSeed(s, s.seed);
      const tap = new TelemetryTap(run, { startMs: run.warmupMs, endMs: run.endMs, windowMs: 1000 });
      tap.attach();
      const healing = new TwinSelfHealing(run.network, { windowMs: 1000, startMs: run.warmupMs, endMs: run.endMs, detector: { scorer: detector, tap } });
      healing.attach();
      run.network.runUntil(run.endMs);
      return healing;
    }

    it('has the node the detector flags quarantined by its neighbours, the rules alone seeing nothing', () => {
      const detector = scorer(3, 15_000);
      const healing = runWithDetector(detector);
      const started = healing.audit.filter((entry) => entry.event === 'actionStarted');
      expect(started.length).toBeGreaterThan(0);
      for (const entry of started) {
        expect(entry).toMatchObject({ action: 'quarantineNode', subject: 'node:4', cause: 'bogusMetrics' });
        // Node 3's neighbours in the grid: 2, 4 and 8.
        expect([2, 4, 8]).toContain(entry.node);
        expect(entry.atMs).toBeGreaterThanOrEqual(16_000);
      }
      // The detector keeps flagging node 3, but a loop judges only the neighbours it hands transit to: once it has
      // quarantined node 3 it hands it nothing, the incident clears and the action counts as a success.
      expect(healing.summary()).toMatchObject({ actionsFailed: 0, actionsSucceeded: started.length });
      expect(healing.summary().quarantinedNodes).toEqual([3]);
      // One scoring per window, not one per node.
      expect(detector.calls).toBeGreaterThanOrEqual(34);
      expect(detector.calls).toBeLessThanOrEqual(35);
    });

    it('runs a scenario whose selfHealing.detector names a trained model file: the grey hole is still quarantined, nobody else', () => {
      // A model of the twin's own telemetry, trained briefly on one run of the same grid with the grey hole.
      const data = generateDataset(scenario([greyHole], false), 1);
      const { detector } = AnomalyDetector.train([data], [data], { seed: 3, hiddenDims: [8], epochsMax: 3, patience: 1, edgeEpochsMax: 2, edgePatience: 1 });
      const file = join(mkdtempSync(join(tmpdir(), 'x0t-heal-detector-')), 'detector.x0d');
      writeFileSync(file, detector.encode());
      const report = runScenario(scenario([greyHole], true, file));
      expect(report.selfHealing).toMatchObject({ windows: 35, actionsFailed: 0 });
      expect(report.selfHealing!.quarantinedNodes).toContain('1:7');
    });

    it('acts on nothing when the detector flags nothing (scores below its threshold, or a link fault as the cause)', () => {
      const healing = runWithDetector(scorer(null, 0));
      expect(healing.summary()).toMatchObject({ actionsStarted: 0, incidentsOpened: 0, quarantinedNodes: [] });
    });
  });
});
