import { readFileSync } from 'node:fs';
import { profiles } from '../mesh/profiles.js';
import { FaultInjector, type FaultWindow } from './faults.js';
import { FlowTracker } from './flows.js';
import { checkOracle, LoopChecker } from './invariants.js';
import type { LinkParams } from './link-model.js';
import { meshPacketBytesMax, type SecureNode } from '../channel/secure-node.js';
import type { LinkId } from '../mesh/neighbour.js';
import { Network, type NetworkConfig, type NetworkObserver } from './network.js';
import { Prng } from './prng.js';
import { RecoveryTracker } from './recovery.js';
import { TwinSelfHealing } from './self-healing.js';
import { TelemetryTap } from './telemetry-tap.js';
import { loadWindowScorer } from '../mapek/detector-findings.js';
import { linkFeatureNames, nodeFeatureNames } from '../telemetry/features.js';
import { TwinTransitProbes } from './transit-probes.js';
import { buildReport, type SecuritySummary, type SeedResult, type TwinReport } from './report.js';
import { TwinSecurity, type Scheduler } from './security.js';
import type { Scenario, TopologySpec } from './scenario.js';
import { barabasiAlbert, fromEdgeList, grid, line, randomGeometric, ring, type Topology } from './topology.js';

/** Destinations the shortest-path oracle samples at the end of a run (all of them when fewer). */
export const oracleDestinationsMax = 64;

/** Progress of a run: which seed, and how far its virtual clock has got. */
export type ProgressListener = (progress: { seedIndex: number; seeds: number; virtualMs: number; totalMs: number }) => void;

/** Runs every seed of `scenario` and combines them into one report. */
export function runScenario(scenario: Scenario, onProgress?: ProgressListener): TwinReport {
  const started = performance.now();
  const results: SeedResult[] = [];
  for (let i = 0; i < scenario.seeds; i++) {
    results.push(runSeed(scenario, scenario.seed + i, (virtualMs, totalMs) => onProgress?.({ seedIndex: i, seeds: scenario.seeds, virtualMs, totalMs })));
  }
  return buildReport(scenario.name, scenario.profile, results, performance.now() - started);
}

/** Builds the topology a scenario describes, from its own random stream. */
export function buildTopology(spec: TopologySpec, rng: Prng): Topology {
  switch (spec.kind) {
    case 'line':
      return line(spec.nodes);
    case 'ring':
      return ring(spec.nodes);
    case 'grid':
      return grid(spec.rows, spec.cols);
    case 'rgg':
      return randomGeometric(spec.nodes, spec.avgDegree, rng);
    case 'ba':
      return barabasiAlbert(spec.nodes, spec.m, rng);
    case 'edges':
      return fromEdgeList(readFileSync(spec.file, 'utf8'), spec.file);
  }
}

/** Everything one seed of a scenario runs on, wired together and booted, before the clock starts. */
export interface SeedRun {
  readonly rng: Prng;
  readonly topology: Topology;
  readonly network: Network;
  readonly flows: FlowTracker;
  readonly recovery: RecoveryTracker;
  readonly loops: LoopChecker | null;
  readonly faults: FaultInjector;
  readonly counters: { controlBytes: number };
  /** The secure layer of each node that has one (empty when the scenario does not enable it). */
  readonly secureNodes: Map<number, SecureNode>;
  /** The run's CA and SVIDs, when the scenario enables the secure layer. */
  readonly security: TwinSecurity | null;
  /** Transit probes, when the scenario enables them. */
  readonly transitProbes: TwinTransitProbes | null;
  readonly warmupMs: number;
  readonly flowsEndMs: number;
  readonly endMs: number;
}

/** Choices of an assembly that `twin run` leaves at their defaults. */
export interface AssembleOptions {
  /** Have nodes emit routeChanged events even when the loop checker is off (telemetry counts them). */
  readonly emitRouteEvents?: boolean;
}

/** Builds the network, flows, trackers and faults of one seed and boots every node at time 0. */
export function assembleSeed(scenario: Scenario, seed: number, options: AssembleOptions = {}): SeedRun {
  const rng = Prng.fromSeed(seed, 'twin');
  const topology = buildTopology(scenario.topology, rng.split('topology'));
  const { warmupS, durationS, settleS } = scenario.timing;
  const secureNodes = new Map<number, SecureNode>();
  const security = scenario.security.enabled ? new TwinSecurity(scenario.security, rng.split('security')) : null;
  const network: Network = new Network({
    topology,
    profile: profiles[scenario.profile],
    rng: rng.split('network'),
    linkParams: linkParamsFor(scenario, rng.split('delay')),
    emitRouteEvents: scenario.invariants.loops || options.emitRouteEvents === true,
    ...secureWrap(security, secureNodes, (index, boot): Scheduler => schedulerFor(network, index, boot)),
  });
  const warmupMs = warmupS * 1000;
  const flowsEndMs = (warmupS + durationS) * 1000;
  const endMs = flowsEndMs + settleS * 1000;
  const pairs = scenario.traffic.pairs ?? randomPairs(topology.nodeCount, scenario.traffic.flows, rng.split('traffic'));
  const packetsPerFlow = Math.ceil(durationS * scenario.traffic.ratePps) + 1;
  const flows = new FlowTracker(network, pairs, scenario.traffic.ratePps, scenario.traffic.payloadSizes ?? scenario.traffic.payloadBytes, packetsPerFlow);
  const recovery = new RecoveryTracker(network);
  flows.listener = (flow, trace, nowMs) => recovery.delivered(flow, trace, nowMs);
  const loops = scenario.invariants.loops ? new LoopChecker(network) : null;
  const counters = { controlBytes: 0 };
  network.observer = observerFor(network, flows, recovery, loops, counters, warmupMs, flowsEndMs);
  const transitProbes = attachTransitProbes(scenario, network, warmupMs, flowsEndMs);
  const faults = new FaultInjector({ network, flows, recovery, positions: topology.positions ?? null, endMs }, rng.split('faults'));
  faults.scheduleAll(scenario.faults);
  flows.start(warmupMs, flowsEndMs);
  network.bootAll();
  return { rng, topology, network, flows, recovery, loops, faults, counters, secureNodes, security, transitProbes, warmupMs, flowsEndMs, endMs };
}

/** Every node's transit probes from the end of the warm-up to the end of the flows, when the scenario asks for them. */
function attachTransitProbes(scenario: Scenario, network: Network, startMs: number, endMs: number): TwinTransitProbes | null {
  const spec = scenario.transitProbes;
  if (!spec.enabled) return null;
  const probes = new TwinTransitProbes(network, { intervalMs: spec.intervalMs, startMs, endMs, rule: { probesPerInterval: spec.probesPerInterval } });
  probes.attach();
  return probes;
}

/** The Network option that puts every node behind SecureNode, when the scenario asks for it. */
function secureWrap(security: TwinSecurity | null, secureNodes: Map<number, SecureNode>, schedulerOf: (index: number, boot: number) => Scheduler): Pick<NetworkConfig, 'wrap' | 'packetBytesMax'> {
  if (security === null) return {};
  return {
    packetBytesMax: meshPacketBytesMax,
    wrap: (index, id, boot, mesh, links, nowMs) => {
      const secure = security.secure(index, id, boot, mesh, links, nowMs, schedulerOf(index, boot));
      secureNodes.set(index, secure);
      return secure;
    },
  };
}

/** Runs a node's timed work (SVID renewal) while that boot of the node lives, then lets it act at once. */
function schedulerFor(network: Network, index: number, boot: number): Scheduler {
  return (atMs, run) =>
    network.at(atMs, () => {
      const node = network.nodes[index]!;
      if (node.core === null || node.boots !== boot) return;
      run();
      network.input(index, { kind: 'timer' });
    });
}

/** Counters of the secure layer at the end of a run. */
function securitySummary(network: Network, secureNodes: ReadonlyMap<number, SecureNode>, svidRenewals: number): SecuritySummary {
  const live = (index: number): SecureNode | null => (network.nodes[index]!.core === null ? null : (secureNodes.get(index) ?? null));
  const securedLinks = network.edges.filter((edge) => live(edge.a)?.isSecured(edge.index as LinkId) === true && live(edge.b)?.isSecured(edge.index as LinkId) === true).length;
  const stats = [...secureNodes.values()].map((node) => node.stats);
  const sum = (pick: (s: SecureNode['stats']) => number): number => stats.reduce((total, s) => total + pick(s), 0);
  const isolatedNodes = network.nodes.filter((node) => !node.edges.some((edge) => live(node.index)?.isSecured(edge as LinkId) === true)).map((node) => node.index);
  return {
    securedLinks,
    links: network.edges.length,
    handshakesCompleted: sum((s) => s.handshakesCompleted),
    handshakesRefused: sum((s) => s.handshakesRefused),
    credentialsRefused: sum((s) => s.credentialsRefused),
    framesRefused: sum((s) => s.framesRefused),
    peersDropped: sum((s) => s.peersDropped),
    svidRenewals,
    isolatedNodes,
  };
}

/** Runs one seed of a scenario to completion and returns everything it measured. */
export function runSeed(scenario: Scenario, seed: number, onProgress?: (virtualMs: number, totalMs: number) => void): SeedResult {
  const started = performance.now();
  const run = assembleSeed(scenario, seed);
  const selfHealing = attachSelfHealing(scenario, run);
  const { rng, topology, network, flows, recovery, loops, faults, counters, secureNodes, security, warmupMs, flowsEndMs, endMs } = run;
  const durationS = scenario.timing.durationS;
  for (let t = Math.min(1000, endMs); ; t = Math.min(t + 1000, endMs)) {
    network.runUntil(t);
    onProgress?.(t, endMs);
    if (t >= endMs) break;
  }
  recovery.finish();
  const delivery = classifyDelivery(flows, faults.windows);
  return {
    seed,
    ...recovery.samples,
    ...delivery,
    transientLoops: loops?.loops ?? 0,
    affectedFlows: recovery.affectedFlows,
    partitionedFlows: recovery.partitionedFlows,
    unrecoveredFlows: recovery.unrecoveredFlows,
    floorClamped: recovery.floorClamped,
    controlBytes: counters.controlBytes,
    measuredS: durationS,
    nodes: topology.nodeCount,
    links: topology.edges.length,
    alternates: alternateTotals(network),
    oracle: scenario.invariants.oracle ? checkOracle(network, rng.split('oracle').sample(Math.min(oracleDestinationsMax, topology.nodeCount), topology.nodeCount).sort((a, b) => a - b)) : null,
    faults: faults.records,
    timeline: timeline(flows, warmupMs, flowsEndMs),
    events: network.eventsProcessed,
    wallMs: performance.now() - started,
    topology: { positions: topology.positions ?? null, edges: topology.edges },
    ...(security === null ? {} : { security: securitySummary(network, secureNodes, security.renewals) }),
    ...(selfHealing === null ? {} : { selfHealing: selfHealing.summary() }),
  };
}

/** Every node's MAPE-K loop, from the end of the warm-up on, when the scenario enables it; null otherwise. */
export function attachSelfHealing(scenario: Scenario, run: SeedRun): TwinSelfHealing | null {
  const spec = scenario.selfHealing;
  if (!spec.enabled) return null;
  const window = { windowMs: spec.windowMs, startMs: run.warmupMs, endMs: run.endMs };
  const selfHealing = new TwinSelfHealing(run.network, { ...window, ...(spec.detector === null ? {} : { detector: detectorOf(spec.detector, run, window) }) });
  selfHealing.attach();
  return selfHealing;
}

/** The detector in `file` with a telemetry tap of its own on `run`, cutting windows with the loops. */
function detectorOf(file: string, run: SeedRun, window: { windowMs: number; startMs: number; endMs: number }): { scorer: ReturnType<typeof loadWindowScorer>; tap: TelemetryTap } {
  const scorer = loadWindowScorer(file, { nodeFeatureNames, linkFeatureNames });
  const tap = new TelemetryTap(run, window);
  tap.attach();
  return { scorer, tap };
}

function linkParamsFor(scenario: Scenario, rng: Prng): (index: number, forward: boolean) => LinkParams {
  const spec = scenario.links;
  return (index, forward) => {
    const stream = rng.split('edge', index, spec.asymmetric && !forward ? 'ba' : 'ab');
    return {
      delayMs: stream.uniform(spec.delayMs.min, spec.delayMs.max),
      jitterMs: spec.jitterMs,
      loss: spec.loss,
      bandwidthBps: spec.bandwidthMbps * 1e6,
      queueBytesMax: spec.queueBytes,
    };
  };
}

/** `count` random (source, destination) pairs with distinct ends. */
export function randomPairs(nodeCount: number, count: number, rng: Prng): [number, number][] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < count; i++) {
    const src = rng.int(0, nodeCount - 1);
    let dst = rng.int(0, nodeCount - 2);
    if (dst >= src) dst++;
    pairs.push([src, dst]);
  }
  return pairs;
}

function observerFor(
  network: Network,
  flows: FlowTracker,
  recovery: RecoveryTracker,
  loops: LoopChecker | null,
  counters: { controlBytes: number },
  warmupMs: number,
  flowsEndMs: number,
): NetworkObserver {
  const observer: NetworkObserver = {
    onTransmit(_from, edge, transmit) {
      if (transmit.data !== undefined) flows.onTransmit(edge.index, transmit);
      else if (network.nowMs >= warmupMs && network.nowMs < flowsEndMs) counters.controlBytes += transmit.bytes.length;
    },
    onMeshEvent(node, event) {
      if (event.kind === 'delivered') flows.onMeshEvent(node, event);
      else if (event.kind === 'neighbourDown') recovery.neighbourDown(node, event.link);
      else if (event.kind === 'routeChanged') loops?.routeChanged(node, event.dst, event.link);
    },
  };
  if (loops !== null) observer.afterHandle = () => loops.check();
  return observer;
}

function inWindow(windows: readonly FaultWindow[], tMs: number): boolean {
  for (const w of windows) if (tMs >= w.startMs && tMs < w.endMs) return true;
  return false;
}

function classifyDelivery(flows: FlowTracker, windows: readonly FaultWindow[]): Pick<SeedResult, 'steadySent' | 'steadyDelivered' | 'faultSent' | 'faultDelivered'> {
  const totals = { steadySent: 0, steadyDelivered: 0, faultSent: 0, faultDelivered: 0 };
  for (const flow of flows.flows) {
    for (let seq = 0; seq < flow.sent; seq++) {
      const delivered = flow.delivered[seq]!;
      if (inWindow(windows, flow.sentAtMs[seq]!)) {
        totals.faultSent++;
        totals.faultDelivered += delivered;
      } else {
        totals.steadySent++;
        totals.steadyDelivered += delivered;
      }
    }
  }
  return totals;
}

function timeline(flows: FlowTracker, startMs: number, endMs: number): { tS: number; sent: number; delivered: number }[] {
  const bins = Math.max(1, Math.ceil((endMs - startMs) / 1000));
  const sent = new Array<number>(bins).fill(0);
  const delivered = new Array<number>(bins).fill(0);
  for (const flow of flows.flows) {
    for (let seq = 0; seq < flow.sent; seq++) {
      const bin = Math.min(bins - 1, Math.floor((flow.sentAtMs[seq]! - startMs) / 1000));
      sent[bin]!++;
      delivered[bin]! += flow.delivered[seq]!;
    }
  }
  return sent.map((count, i) => ({ tS: Math.round(startMs / 1000) + i, sent: count, delivered: delivered[i]! }));
}

function alternateTotals(network: Network): { withAlternate: number; reachable: number } {
  let withAlternate = 0;
  let reachable = 0;
  for (const node of network.nodes) {
    if (node.mesh === null) continue;
    const coverage = node.mesh.alternateCoverage();
    withAlternate += coverage.withAlternate;
    reachable += coverage.reachable;
  }
  return { withAlternate, reachable };
}
