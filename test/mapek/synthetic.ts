/**
 * A synthetic labelled-dataset generator for the detector's tests, until the twin's datasets
 * exist: a random topology, per-node and per-link baselines with noise, node churn (nodes going
 * down and coming back with reset memory, neighbours seeing route changes), and injected fault
 * episodes that shift some features of a node and of its links. Deterministic by seed.
 *
 * What each fault does (and why the baselines see some but not all of them):
 * - greyHole / blackHole (node): its forwarded share drops (to 0-0.5 / near 0) and the data
 *   delivery on its outgoing links falls with it; it keeps answering probes, so loss, CPU and
 *   memory stay normal (the rules cannot see it);
 * - cpuExhaustion (node): CPU 0.93-1, longer queue, higher RTT on its links;
 * - memoryExhaustion (node): memory climbs to 0.9-1;
 * - linkDegradation (link, both directions): loss and RTT grow window after window;
 * - congestion (link, both directions): queue drops and RTT jump, loss rises a little.
 * Healthy noise makes the rules fire now and then (busy nodes near 90 % CPU, lossy links near
 * 5 %), and churn makes a node's history jump, which the z-score baseline mistakes for faults.
 */
import { seededRandom, uniform01, uniformBelow, type RandomSource } from '../../src/ml/random.js';
import { FaultClass, type DatasetFault, type FaultClassValue, type LabelledDataset, type TelemetryWindow } from '../../src/telemetry/types.js';

export const syntheticNodeFeatures = ['cpu', 'memory', 'queue', 'forwarded', 'routeChanges'] as const;
export const syntheticLinkFeatures = ['loss', 'rtt', 'rttVar', 'delivery', 'queueDrops'] as const;

/** Topologies the generator draws: two for training, one held out. */
export type SyntheticTopology = 'geometric' | 'preferential' | 'lattice';

/** What to generate. */
export interface SyntheticOptions {
  readonly seed: number;
  readonly topology: SyntheticTopology;
  readonly nodes: number;
  readonly windows: number;
  /** Fault episodes (0 for a healthy run). */
  readonly faults: number;
  /** Chance per node and window of going down (for 1-3 windows). */
  readonly churn?: number;
  readonly windowMs?: number;
  /** Fault classes to draw from (default: the six above). */
  readonly classes?: readonly FaultClassValue[];
}

const nodeClasses: readonly FaultClassValue[] = [FaultClass.greyHole, FaultClass.blackHole, FaultClass.cpuExhaustion, FaultClass.memoryExhaustion];
const linkClasses: readonly FaultClassValue[] = [FaultClass.linkDegradation, FaultClass.congestion];
const allClasses = [...nodeClasses, ...linkClasses];

function normal(random: RandomSource): number {
  const u = Math.max(uniform01(random), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform01(random));
}

const clamp01 = (x: number): number => Math.min(1, Math.max(0, x));

/** Undirected edges [a, b] (a < b) of a connected graph of the given kind. */
export function syntheticTopology(kind: SyntheticTopology, n: number, random: RandomSource): [number, number][] {
  const edges = new Set<number>();
  const add = (a: number, b: number): void => {
    if (a !== b) edges.add(Math.min(a, b) * n + Math.max(a, b));
  };
  if (kind === 'lattice') {
    const side = Math.ceil(Math.sqrt(n));
    for (let v = 0; v < n; v++) {
      if ((v + 1) % side !== 0 && v + 1 < n) add(v, v + 1);
      if (v + side < n) add(v, v + side);
    }
  } else if (kind === 'preferential') {
    const ends: number[] = [0, 1];
    add(0, 1);
    for (let v = 2; v < n; v++) {
      for (let k = 0; k < 2; k++) {
        const target = ends[uniformBelow(random, ends.length)]!;
        add(v, target);
        ends.push(v, target);
      }
    }
  } else {
    const points = Array.from({ length: n }, () => [uniform01(random), uniform01(random)] as const);
    const radius = Math.sqrt(5 / (Math.PI * n));
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) if (Math.hypot(points[a]![0] - points[b]![0], points[a]![1] - points[b]![1]) < radius) add(a, b);
    }
    // A ring through all nodes keeps the graph connected.
    for (let v = 0; v < n; v++) add(v, (v + 1) % n);
  }
  return [...edges].sort((x, y) => x - y).map((key) => [Math.floor(key / n), key % n]);
}

interface Fault {
  readonly faultClass: FaultClassValue;
  readonly node: number;
  /** Index into the undirected edge list, for link faults. */
  readonly edge: number;
  readonly start: number;
  readonly end: number;
  readonly severity: number;
}

function drawFaults(options: SyntheticOptions, edges: readonly [number, number][], random: RandomSource): Fault[] {
  const classes = options.classes ?? allClasses;
  const faults: Fault[] = [];
  const busy = new Set<number>();
  for (let k = 0; k < options.faults; k++) {
    const faultClass = classes[k % classes.length]!;
    const isLink = linkClasses.includes(faultClass);
    let node = -1;
    let edge = -1;
    do {
      if (isLink) edge = uniformBelow(random, edges.length);
      else node = uniformBelow(random, options.nodes);
    } while (busy.has(isLink ? 1e6 + edge : node));
    busy.add(isLink ? 1e6 + edge : node);
    const start = 6 + uniformBelow(random, Math.max(1, options.windows - 16));
    const end = Math.min(options.windows, start + 6 + uniformBelow(random, 7));
    faults.push({ faultClass, node, edge, start, end, severity: uniform01(random) });
  }
  return faults;
}

interface Baselines {
  readonly cpu: Float64Array;
  readonly memory: Float64Array;
  readonly queue: Float64Array;
  readonly loss: Float64Array;
  readonly rtt: Float64Array;
}

function drawBaselines(n: number, edgeCount: number, random: RandomSource): Baselines {
  return {
    cpu: Float64Array.from({ length: n }, () => 0.2 + 0.62 * uniform01(random)),
    memory: Float64Array.from({ length: n }, () => 0.3 + 0.45 * uniform01(random)),
    queue: Float64Array.from({ length: n }, () => 0.05 + 0.25 * uniform01(random)),
    loss: Float64Array.from({ length: edgeCount }, () => 0.03 * uniform01(random)),
    rtt: Float64Array.from({ length: edgeCount }, () => 0.1 + 0.3 * uniform01(random)),
  };
}

/** Node up/down per window: each node goes down with chance `churn` for 1-3 windows. */
function drawAlive(n: number, windows: number, churn: number, random: RandomSource): Uint8Array[] {
  const alive = Array.from({ length: windows }, () => new Uint8Array(n).fill(1));
  for (let v = 0; v < n; v++) {
    for (let t = 1; t < windows; t++) {
      if (uniform01(random) >= churn) continue;
      const length = 1 + uniformBelow(random, 3);
      for (let k = t; k < Math.min(windows, t + length); k++) alive[k]![v] = 0;
      t += length;
    }
  }
  return alive;
}

/** A labelled synthetic dataset (see the file comment). */
export function syntheticDataset(options: SyntheticOptions): LabelledDataset {
  const random = seededRandom(options.seed);
  const n = options.nodes;
  const windowMs = options.windowMs ?? 1000;
  const edges = syntheticTopology(options.topology, n, random);
  const base = drawBaselines(n, edges.length, random);
  const faults = drawFaults(options, edges, random);
  const alive = drawAlive(n, options.windows, options.churn ?? 0.005, random);
  const windows: TelemetryWindow[] = [];
  for (let t = 0; t < options.windows; t++) windows.push(makeWindow(t, windowMs, n, edges, base, faults, alive, random));
  const datasetFaults: DatasetFault[] = faults.map((fault) => ({
    kind: String(fault.faultClass),
    faultClass: fault.faultClass,
    nodes: fault.node >= 0 ? [fault.node] : [],
    links: fault.edge >= 0 ? [edges[fault.edge]!] : [],
    startMs: fault.start * windowMs,
    endMs: fault.end * windowMs,
  }));
  return {
    version: 1,
    scenario: `synthetic-${options.topology}`,
    seed: options.seed,
    topology: options.topology,
    windowMs,
    nodeFeatureNames: [...syntheticNodeFeatures],
    linkFeatureNames: [...syntheticLinkFeatures],
    windows,
    faults: datasetFaults,
  };
}

/** The fault class active on a node or undirected edge in window t (0 when none) and the fault. */
function activeFault(faults: readonly Fault[], t: number, node: number, edge: number): Fault | undefined {
  return faults.find((f) => t >= f.start && t < f.end && ((node >= 0 && f.node === node) || (edge >= 0 && f.edge === edge)));
}

function makeWindow(
  t: number,
  windowMs: number,
  n: number,
  edges: readonly [number, number][],
  base: Baselines,
  faults: readonly Fault[],
  aliveAll: readonly Uint8Array[],
  random: RandomSource,
): TelemetryWindow {
  const alive = aliveAll[t]!;
  const nodeFeatures = new Float32Array(n * syntheticNodeFeatures.length);
  const nodeLabels = new Uint8Array(n);
  const forwardedShare = new Float64Array(n).fill(1);
  const rttExtra = new Float64Array(n);
  const rebooted = (v: number): number => {
    // Windows since the node came back (memory and route tables start over), capped.
    let k = 0;
    while (t - k - 1 >= 0 && aliveAll[t - k - 1]![v] === 1 && k < 6) k++;
    return t - k - 1 >= 0 && aliveAll[t - k - 1]![v] === 0 ? k : 6;
  };
  for (let v = 0; v < n; v++) {
    const fault = activeFault(faults, t, v, -1);
    let cpu = base.cpu[v]! + 0.04 * normal(random);
    let memory = base.memory[v]! + 0.015 * normal(random) - 0.04 * Math.max(0, 3 - rebooted(v));
    let queue = base.queue[v]! + 0.04 * normal(random);
    let forwarded = 0.97 + 0.015 * normal(random);
    if (fault !== undefined) {
      nodeLabels[v] = fault.faultClass;
      const age = t - fault.start;
      if (fault.faultClass === FaultClass.greyHole) forwarded *= 1 - (0.5 + 0.5 * fault.severity);
      if (fault.faultClass === FaultClass.blackHole) forwarded *= 0.03 * fault.severity;
      if (fault.faultClass === FaultClass.cpuExhaustion) {
        cpu = 0.93 + 0.07 * uniform01(random);
        queue += 0.3;
        rttExtra[v] = 0.15;
      }
      if (fault.faultClass === FaultClass.memoryExhaustion) memory = Math.max(memory, Math.min(1, 0.88 + 0.03 * age + 0.02 * uniform01(random)));
      forwardedShare[v] = forwarded / 0.97;
    }
    const row = v * syntheticNodeFeatures.length;
    nodeFeatures.set([clamp01(cpu), clamp01(memory), clamp01(queue), clamp01(forwarded), 0], row);
  }
  const links = makeLinks(t, edges, base, faults, alive, forwardedShare, rttExtra, random);
  // Neighbours of a node that just came back, or just went down, see route changes.
  for (let k = 0; k < links.from.length; k++) {
    const peer = links.to[k]!;
    const changed = t > 0 && aliveAll[t - 1]![peer] !== alive[peer];
    const at = links.from[k]! * syntheticNodeFeatures.length + 4;
    nodeFeatures[at] = clamp01(nodeFeatures[at]! + (changed ? 0.3 : 0) + 0.02 * Math.abs(normal(random)));
  }
  return {
    startMs: t * windowMs,
    endMs: (t + 1) * windowMs,
    nodeCount: n,
    alive: alive.slice(),
    linkFrom: Int32Array.from(links.from),
    linkTo: Int32Array.from(links.to),
    nodeFeatures,
    linkFeatures: Float32Array.from(links.features),
    nodeLabels,
    linkLabels: Uint8Array.from(links.labels),
  };
}

function makeLinks(
  t: number,
  edges: readonly [number, number][],
  base: Baselines,
  faults: readonly Fault[],
  alive: Uint8Array,
  forwardedShare: Float64Array,
  rttExtra: Float64Array,
  random: RandomSource,
): { from: number[]; to: number[]; features: number[]; labels: number[] } {
  const out = { from: [] as number[], to: [] as number[], features: [] as number[], labels: [] as number[] };
  edges.forEach(([a, b], e) => {
    if (alive[a] !== 1 || alive[b] !== 1) return;
    const fault = activeFault(faults, t, -1, e);
    for (const [from, to] of [[a, b], [b, a]] as const) {
      let loss = base.loss[e]! + 0.008 * Math.abs(normal(random));
      let rtt = base.rtt[e]! + 0.03 * normal(random) + rttExtra[from]! + rttExtra[to]!;
      let rttVar = 0.05 + 0.02 * Math.abs(normal(random));
      let queueDrops = 0.01 + 0.01 * Math.abs(normal(random));
      if (fault?.faultClass === FaultClass.linkDegradation) {
        const age = t - fault.start;
        loss += 0.03 + 0.025 * age;
        rtt += 0.1 + 0.04 * age;
        rttVar += 0.05;
      }
      if (fault?.faultClass === FaultClass.congestion) {
        queueDrops += 0.2 + 0.2 * fault.severity;
        rtt += 0.25;
        rttVar += 0.15;
        loss += 0.015;
      }
      // Data through `from` is forwarded only as far as `from` forwards it.
      const delivery = (0.985 - loss) * forwardedShare[from]! + 0.01 * normal(random);
      out.from.push(from);
      out.to.push(to);
      out.features.push(clamp01(loss), clamp01(rtt), clamp01(rttVar), clamp01(delivery), clamp01(queueDrops));
      out.labels.push(fault?.faultClass ?? 0);
    }
  });
  return out;
}

/** The standard synthetic split of the tests: training and validation on two topologies, held-out seeds, a held-out topology, and healthy runs with churn. */
export function syntheticSplit(scale: { nodes: number; windows: number } = { nodes: 40, windows: 40 }): {
  train: LabelledDataset[];
  validation: LabelledDataset[];
  test: LabelledDataset[];
  healthy: LabelledDataset[];
} {
  const make = (seed: number, topology: SyntheticTopology, faults: number, churn = 0.005): LabelledDataset =>
    syntheticDataset({ seed, topology, nodes: scale.nodes, windows: scale.windows, faults, churn });
  const seen: SyntheticTopology[] = ['geometric', 'preferential'];
  return {
    train: Array.from({ length: 8 }, (_, i) => make(100 + i, seen[i % 2]!, 6)),
    validation: Array.from({ length: 3 }, (_, i) => make(200 + i, seen[i % 2]!, 6)),
    test: [...Array.from({ length: 3 }, (_, i) => make(300 + i, seen[i % 2]!, 6)), make(400, 'lattice', 6), make(401, 'lattice', 6)],
    healthy: Array.from({ length: 3 }, (_, i) => make(500 + i, i === 2 ? 'lattice' : seen[i % 2]!, 0, 0.02)),
  };
}
