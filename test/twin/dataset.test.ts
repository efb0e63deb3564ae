import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/run.js';
import { encodeWindows, readDataset } from '../../src/telemetry/dataset-io.js';
import { linkFeature, linkFeatureNames, nodeFeature, nodeFeatureNames } from '../../src/telemetry/features.js';
import { FaultClass, type LabelledDataset, type TelemetryWindow } from '../../src/telemetry/types.js';
import { generateDataset, labelWindow, topologyName } from '../../src/twin/dataset.js';
import type { FaultLabel } from '../../src/twin/faults.js';
import { Network } from '../../src/twin/network.js';
import { fastProfile } from '../../src/mesh/profiles.js';
import { Prng } from '../../src/twin/prng.js';
import { assembleSeed } from '../../src/twin/runner.js';
import { parseScenario, type Scenario } from '../../src/twin/scenario.js';
import { TelemetryTap } from '../../src/twin/telemetry-tap.js';
import { line } from '../../src/twin/topology.js';

const folders: string[] = [];
afterAll(() => folders.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'x0t-twin-dataset-'));
  folders.push(dir);
  return dir;
}

/**
 * A 3 x 5 grid (row-major 0-14). Flows cross node 7 along the middle row (5 <-> 9) and run
 * elsewhere; node 7 becomes a black hole from 10 to 20 s, node 3's host runs out of CPU from 12
 * to 16 s, link 10-11 is censored for 1100-byte payloads from 12.5 to 17.5 s, and node 14
 * crashes from 15.5 s to 18.2 s. Windows of 1 s cover 5..25 s.
 */
const yaml = `name: dataset-unit
topology: { kind: grid, rows: 3, cols: 5 }
timing: { warmupS: 5, durationS: 20, settleS: 0 }
traffic: { pairs: [[5, 9], [9, 5], [0, 4], [10, 12], [12, 10]], ratePps: 20, payloadSizes: [64, 64, 64, 1100, 1100] }
invariants: { loops: false, oracle: false }
faults:
  - { kind: blackHole, node: 7, atS: 10, untilS: 20 }
  - { kind: cpuExhaustion, node: 3, atS: 12, untilS: 16 }
  - { kind: censorship, link: [10, 11], atS: 12.5, untilS: 17.5 }
  - { kind: nodeDown, node: 14, atS: 15.5, untilS: 18.2 }
`;

const scenario: Scenario = parseScenario(yaml, 'dataset-unit.yaml');
let dataset: LabelledDataset;
beforeAll(() => {
  dataset = generateDataset(scenario, 1);
});

const nodeValue = (w: TelemetryWindow, node: number, name: (typeof nodeFeatureNames)[number]): number => w.nodeFeatures[node * nodeFeatureNames.length + nodeFeature[name]]!;
const windowAt = (startMs: number): TelemetryWindow => dataset.windows.find((w) => w.startMs === startMs)!;
const linkRow = (w: TelemetryWindow, from: number, to: number): number => {
  for (let i = 0; i < w.linkFrom.length; i++) if (w.linkFrom[i] === from && w.linkTo[i] === to) return i;
  return -1;
};

describe('generateDataset', () => {
  it('cuts the measured part of the run into windows with the dataset metadata', () => {
    expect(dataset.windows.map((w) => w.startMs)).toEqual(Array.from({ length: 20 }, (_, i) => 5000 + 1000 * i));
    expect(dataset.windows.every((w) => w.endMs === w.startMs + 1000 && w.nodeCount === 15)).toBe(true);
    expect(dataset).toMatchObject({ version: 2, scenario: 'dataset-unit', seed: 1, topology: 'grid-3x5', windowMs: 1000 });
    expect(dataset.nodeFeatureNames).toEqual(nodeFeatureNames);
    expect(dataset.linkFeatureNames).toEqual(linkFeatureNames);
    for (const w of dataset.windows) {
      expect(Array.from(w.nodeFeatures).every((x) => Number.isFinite(x) && x >= 0 && x <= 1)).toBe(true);
      expect(Array.from(w.linkFeatures).every((x) => Number.isFinite(x) && x >= 0 && x <= 1)).toBe(true);
    }
  });

  it('a black hole moves its neighbour-seen delivery to 0 while it keeps counting forwards; a healthy transit node stays at 1', () => {
    for (let t = 11_000; t < 20_000; t += 1000) {
      const w = windowAt(t);
      expect(nodeValue(w, 7, 'deliveryKnown')).toBe(1);
      expect(nodeValue(w, 7, 'neighbourDelivery')).toBe(0);
      // Its own counters cannot tell: the routing core forwarded what the fault then dropped.
      expect(nodeValue(w, 7, 'dataForwarded')).toBeGreaterThan(0.3);
      expect(nodeValue(w, 7, 'neighbourDowns')).toBe(0);
      // Node 6 hands the flow to 7 and gets the return flow from nobody: still all it gets goes on.
      expect(nodeValue(w, 6, 'neighbourDelivery')).toBe(1);
    }
    for (const t of [6000, 8000, 21_000, 24_000]) expect(nodeValue(windowAt(t), 7, 'neighbourDelivery')).toBeCloseTo(1, 1);
  });

  it('labels exactly the windows that overlap each fault, nodes and both directions of links', () => {
    const labelled = (node: number): number[] => dataset.windows.filter((w) => w.nodeLabels[node] !== 0).map((w) => w.startMs / 1000);
    expect(labelled(7)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(dataset.windows.every((w) => w.nodeLabels[7] === 0 || w.nodeLabels[7] === FaultClass.blackHole)).toBe(true);
    expect(labelled(3)).toEqual([12, 13, 14, 15]);
    // A crash labels nothing (it is not an anomaly class); the node is just not alive.
    expect(labelled(14)).toEqual([]);
    for (const w of dataset.windows) {
      const censored = w.startMs >= 12_000 && w.startMs < 18_000;
      for (const [from, to] of [[10, 11], [11, 10]] as const) {
        const row = linkRow(w, from, to);
        expect(row).toBeGreaterThanOrEqual(0);
        expect(w.linkLabels[row]).toBe(censored ? FaultClass.censorship : FaultClass.healthy);
      }
      const others = Array.from(w.linkLabels).filter((label, i) => label !== 0 && !(w.linkFrom[i]! + w.linkTo[i]! === 21 && Math.min(w.linkFrom[i]!, w.linkTo[i]!) === 10));
      expect(others).toEqual([]);
    }
    expect(dataset.faults).toEqual([
      { kind: 'blackHole', faultClass: FaultClass.blackHole, nodes: [7], links: [], startMs: 10_000, endMs: 20_000 },
      { kind: 'cpuExhaustion', faultClass: FaultClass.cpuExhaustion, nodes: [3], links: [], startMs: 12_000, endMs: 16_000 },
      { kind: 'censorship', faultClass: FaultClass.censorship, nodes: [], links: [[10, 11]], startMs: 12_500, endMs: 17_500 },
    ]);
  });

  it('censorship shows on the link as drops of data sent, and CPU exhaustion as CPU', () => {
    const w = windowAt(14_000);
    const row = linkRow(w, 10, 11);
    expect(w.linkFeatures[row * linkFeatureNames.length + linkFeature.drops]).toBe(1);
    expect(w.linkFeatures[row * linkFeatureNames.length + linkFeature.loss]).toBe(0);
    const before = windowAt(8000);
    expect(before.linkFeatures[linkRow(before, 10, 11) * linkFeatureNames.length + linkFeature.drops]).toBe(0);
    expect(nodeValue(w, 3, 'cpu')).toBeGreaterThanOrEqual(0.95);
    expect(nodeValue(windowAt(8000), 3, 'cpu')).toBeLessThan(0.5);
  });

  it('a crashed node is not alive while it is down and in the window it restarts, and has no features while down', () => {
    const alive = dataset.windows.map((w) => w.alive[14]);
    // Down at 15.5 s, back at 18.2 s: windows 15, 16, 17 and 18 are not whole.
    expect(alive).toEqual(dataset.windows.map((w) => (w.startMs >= 15_000 && w.startMs <= 18_000 ? 0 : 1)));
    for (const t of [16_000, 17_000]) {
      const w = windowAt(t);
      expect(Array.from(w.nodeFeatures.subarray(14 * nodeFeatureNames.length, 15 * nodeFeatureNames.length)).every((x) => x === 0)).toBe(true);
      expect(Array.from(w.linkTo).includes(14)).toBe(false);
    }
    // The window of the restart has features again (counted from the new boot).
    expect(nodeValue(windowAt(18_000), 14, 'linksUp')).toBeGreaterThan(0);
  });

  it('is a pure function of scenario, seed and window length', () => {
    const again = generateDataset(scenario, 1);
    expect(encodeWindows(again)).toEqual(encodeWindows(dataset));
    const other = generateDataset(scenario, 2, { windowMs: 500 });
    expect(other.windows).toHaveLength(40);
    expect(other.seed).toBe(2);
  });

  it('refuses a window length outside 100..60000 ms', () => {
    for (const windowMs of [99, 60_001, 250.5]) expect(() => generateDataset(scenario, 1, { windowMs })).toThrow(/expected windowMs to be an integer in 100..60000/);
  });

  it('tells its progress once per virtual second', () => {
    const progress: number[] = [];
    generateDataset(parseScenario('name: p\ntopology: { kind: line, nodes: 3 }\ntiming: { warmupS: 1, durationS: 2, settleS: 0 }\ntraffic: { flows: 1 }\n', 'p.yaml'), 1, {
      onProgress: (virtualMs, totalMs) => progress.push(virtualMs / totalMs),
    });
    expect(progress).toEqual([1 / 3, 2 / 3, 1]);
  });
});

describe('telemetry tap edge cases', () => {
  it('arrivals before the first window are not counted, and arrivals far ahead land in the last booked window', () => {
    const slow = parseScenario(
      'name: slow\ntopology: { kind: line, nodes: 3 }\nlinks: { delayMs: { min: 1800, max: 1800 }, jitterMs: 0 }\ntiming: { warmupS: 12, durationS: 8, settleS: 0 }\ntraffic: { pairs: [[0, 2]], ratePps: 10 }\ninvariants: { loops: false, oracle: false }\n',
      'slow.yaml',
    );
    const run = assembleSeed(slow, 1, { emitRouteEvents: true });
    const tap = new TelemetryTap(run, { startMs: 15_000, endMs: 20_000, windowMs: 100 });
    tap.attach();
    run.network.runUntil(20_000);
    expect(tap.windows).toHaveLength(50);
    // With 1.8 s links, data handed to node 1 arrives 18 windows after it left: node 1's
    // delivery is known from the first window on (arrivals booked from before the start do not count).
    const known = tap.windows.map((w) => w.nodeFeatures[1 * nodeFeatureNames.length + nodeFeature.deliveryKnown]!);
    expect(known.some((x) => x === 1)).toBe(true);
    expect(() => new TelemetryTap(run, { startMs: 0, endMs: 1, windowMs: 0 })).toThrow(/expected windowMs > 0/);
  });

  it('the secure layer’s counters reach the features', () => {
    const secure = parseScenario(
      'name: sec\ntopology: { kind: line, nodes: 3 }\ntiming: { warmupS: 3, durationS: 3, settleS: 0 }\ntraffic: { pairs: [[0, 2]], ratePps: 10 }\ninvariants: { loops: false, oracle: false }\nsecurity: { enabled: true, invalidCertificate: [2] }\n',
      'sec.yaml',
    );
    const d = generateDataset(secure, 1);
    expect(d.windows).toHaveLength(3);
    // Node 1 refuses node 2's certificate again and again.
    expect(d.windows.some((w) => w.nodeFeatures[1 * nodeFeatureNames.length + nodeFeature.handshakeFailures]! > 0)).toBe(true);
  });
});

describe('labelWindow', () => {
  it('gives a node or link the class of the fault that overlaps the window longest', () => {
    const network = new Network({
      topology: line(3),
      profile: fastProfile,
      rng: Prng.fromSeed(1, 'n'),
      linkParams: () => ({ delayMs: 1, jitterMs: 0, loss: 0, bandwidthBps: 1e8, queueBytesMax: 65_536 }),
    });
    const window: TelemetryWindow = {
      startMs: 1000,
      endMs: 2000,
      nodeCount: 3,
      alive: new Uint8Array(3).fill(1),
      linkFrom: Int32Array.of(0, 1, 2),
      linkTo: Int32Array.of(1, 0, 1),
      nodeFeatures: new Float32Array(3 * nodeFeatureNames.length),
      linkFeatures: new Float32Array(3 * linkFeatureNames.length),
      nodeLabels: new Uint8Array(3),
      linkLabels: new Uint8Array(3),
    };
    const label = (kind: string, faultClass: FaultLabel['faultClass'], nodes: number[], edges: number[], startMs: number, endMs: number): FaultLabel => ({ kind, faultClass, nodes, edges, startMs, endMs });
    labelWindow(
      window,
      [
        label('greyHole', FaultClass.greyHole, [1], [], 0, 1300),
        label('cpuExhaustion', FaultClass.cpuExhaustion, [1], [], 1200, 5000),
        label('memoryExhaustion', FaultClass.memoryExhaustion, [2], [], 2000, 3000),
        label('censorship', FaultClass.censorship, [], [0], 1999, 2500),
      ],
      network,
    );
    // Node 1: 300 ms of grey hole against 800 ms of CPU exhaustion. Node 2's fault starts as the window ends.
    expect(Array.from(window.nodeLabels)).toEqual([0, FaultClass.cpuExhaustion, 0]);
    // Edge 0 joins 0-1: both directions; 2 -> 1 is edge 1.
    expect(Array.from(window.linkLabels)).toEqual([FaultClass.censorship, FaultClass.censorship, 0]);
  });
});

describe('topologyName', () => {
  it('names each kind of topology with its size', () => {
    expect(topologyName({ kind: 'rgg', nodes: 150, avgDegree: 6 })).toBe('rgg-150');
    expect(topologyName({ kind: 'ba', nodes: 90, m: 2 })).toBe('ba-90');
    expect(topologyName({ kind: 'ring', nodes: 12 })).toBe('ring-12');
    expect(topologyName({ kind: 'line', nodes: 4 })).toBe('line-4');
    expect(topologyName({ kind: 'grid', rows: 3, cols: 5, nodes: 15 })).toBe('grid-3x5');
    expect(topologyName({ kind: 'edges', file: '/x/city-mesh.edges' })).toBe('edges-city-mesh');
  });
});

describe('x0tta6bl4 twin dataset', () => {
  function capture(): { io: Parameters<typeof runCli>[1]; out: () => string; err: () => string } {
    let out = '';
    let err = '';
    return { io: { stdout: (t) => (out += t), stderr: (t) => (err += t), isTTY: false }, out: () => out, err: () => err };
  }

  it('writes the dataset generateDataset makes, and says what it wrote', () => {
    const dir = tempDir();
    const file = join(dir, 'scenario.yaml');
    writeFileSync(file, yaml);
    const c = capture();
    expect(runCli(['twin', 'dataset', file, '--out', join(dir, 'out'), '--seed', '1', '--quiet'], c.io)).toBe(0);
    expect(c.out()).toContain('dataset-unit (seed 1, topology grid-3x5)');
    expect(c.out()).toContain('20 of 1000 ms, 15 nodes');
    expect(c.out()).toMatch(/labels blackHole\s+10 node \/ 0 link windows/);
    expect(c.out()).toContain(`wrote ${join(dir, 'out')}/manifest.json`);
    expect(encodeWindows(readDataset(join(dir, 'out')))).toEqual(encodeWindows(dataset));
    const json = capture();
    expect(runCli(['twin', 'dataset', file, '--out', join(dir, 'json'), '--window-ms', '2000', '--json'], json.io)).toBe(0);
    const parsed = JSON.parse(json.out()) as { manifest: { windowCount: number; windowMs: number } };
    expect(parsed.manifest).toMatchObject({ windowCount: 10, windowMs: 2000 });
    expect(json.err()).toBe('');
  });

  it('exits 2 naming the problem on bad usage or a bad scenario', () => {
    const dir = tempDir();
    const file = join(dir, 'scenario.yaml');
    writeFileSync(file, yaml);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, yaml.replace('blackHole, node: 7', 'blackHole, node: 70'));
    const cases: [string[], string][] = [
      [['twin', 'dataset', file], 'twin dataset: --out DIR is required'],
      [['twin', 'dataset', '--out', dir], 'twin dataset: expected one scenario, got 0'],
      [['twin', 'dataset', file, file, '--out', dir], 'twin dataset: expected one scenario, got 2'],
      [['twin', 'dataset', file, '--out', dir, '--window-ms', '50'], 'twin dataset: --window-ms: expected an integer in 100..60000, got "50"'],
      [['twin', 'dataset', file, '--out', dir, '--seed', 'x'], 'twin dataset: --seed: expected an integer in 0..4294967295, got "x"'],
      [['twin', 'dataset', file, '--out', dir, '--nodes', '5'], "twin dataset: Unknown option '--nodes'"],
      [['twin', 'dataset', bad, '--out', dir], 'faults[0].node: expected a node index in 0..14 (the topology has 15 nodes); got 70'],
    ];
    for (const [argv, message] of cases) {
      const c = capture();
      expect(runCli(argv, c.io), argv.join(' ')).toBe(2);
      expect(c.err()).toContain(message);
    }
  });

  it('is in the usage text', () => {
    const c = capture();
    expect(runCli(['help'], c.io)).toBe(0);
    expect(c.out()).toContain('twin dataset <scenario> --out DIR');
  });
});
