import { FaultClass, type FaultClassValue } from '../telemetry/types.js';
import type { FlowTracker } from './flows.js';
import type { LinkDirection } from './link-model.js';
import { Misbehaviour } from './misbehaviour.js';
import type { Network } from './network.js';
import type { Prng } from './prng.js';
import { crosses, type AffectedFlow, type FailureSet, type RecoveryTracker } from './recovery.js';
import type { FaultSpec, LinkEnds, LinkFaultSpec, NodeFaultSpec, PartitionFault, SlowDegradationFault } from './scenario.js';
import { HostFaults } from './sim-host.js';

/** Packets sent up to this long after a repair still count as sent during the fault. */
export const faultGraceMs = 1000;
/** Packets sent up to this long before a fault may still be in flight when it strikes; they count as sent during it. */
export const inFlightMsMax = 1000;

/** Which directions of one link a fault cuts. */
export interface DirectedCut {
  readonly edge: number;
  /** The a -> b direction. */
  readonly forward: boolean;
  /** The b -> a direction. */
  readonly backward: boolean;
}

/** One fault as it happened, for the report. */
export interface FaultRecord {
  readonly atMs: number;
  readonly kind: string;
  readonly target: string;
  readonly affectedFlows: number;
}

/** A slow degradation moves its loss and delay this often. */
export const rampStepMs = 500;

/**
 * A fault that labels what it hits, for datasets: its class, the nodes or (undirected) edges it
 * affects, and the interval it is active, [startMs, endMs).
 */
export interface FaultLabel {
  readonly kind: string;
  readonly faultClass: FaultClassValue;
  readonly nodes: readonly number[];
  readonly edges: readonly number[];
  readonly startMs: number;
  readonly endMs: number;
}

/** The class each labelling fault kind puts on what it hits; kinds not listed (cuts, crashes, partitions) label nothing. */
export const faultClassOfKind: Readonly<Record<string, FaultClassValue>> = {
  greyHole: FaultClass.greyHole,
  blackHole: FaultClass.blackHole,
  slowDegradation: FaultClass.linkDegradation,
  degrade: FaultClass.linkDegradation,
  flap: FaultClass.flapping,
  congestion: FaultClass.congestion,
  cpuExhaustion: FaultClass.cpuExhaustion,
  memoryExhaustion: FaultClass.memoryExhaustion,
  bogusMetrics: FaultClass.bogusMetrics,
  censorship: FaultClass.censorship,
};

/** An interval of virtual time during which some fault was active. */
export interface FaultWindow {
  readonly startMs: number;
  endMs: number;
}

/** Where every fault of a scenario turns into link and node state changes at run time. */
export interface FaultContext {
  readonly network: Network;
  readonly flows: FlowTracker;
  readonly recovery: RecoveryTracker;
  readonly positions: readonly (readonly [number, number])[] | null;
  readonly endMs: number;
}

/**
 * Turns scenario faults into scheduled actions on the simulated network: cutting and
 * restoring links, crashing and restarting nodes, degrading links and splitting the network.
 */
export class FaultInjector {
  readonly records: FaultRecord[] = [];
  readonly windows: FaultWindow[] = [];
  /** What each labelling fault hit and when (datasets read it). */
  readonly labels: FaultLabel[] = [];
  /** CPU and memory exhaustion in effect per node (the simulated hosts read it). */
  readonly hosts: HostFaults;
  /** Crashes currently holding each node down. */
  private readonly crashHolds = new Map<number, number>();
  /** Node misbehaviour, created (and put into the network) by the first fault that needs it. */
  private misbehaviour: Misbehaviour | null = null;

  constructor(
    private readonly ctx: FaultContext,
    private readonly rng: Prng,
  ) {
    this.hosts = new HostFaults(ctx.network.nodes.length);
  }

  /** Schedules every fault of the scenario. */
  scheduleAll(faults: readonly FaultSpec[]): void {
    faults.forEach((fault, index) => this.schedule(fault, this.rng.split('fault', index)));
  }

  private schedule(fault: FaultSpec, rng: Prng): void {
    const net = this.ctx.network;
    switch (fault.kind) {
      case 'linkFailure':
      case 'nodeCrash':
        for (let i = 0; i < fault.count; i++) {
          const atMs = (fault.startS + i * fault.everyS) * 1000;
          net.at(atMs, () => this.randomFailure(fault.kind, fault.target === 'onPath', fault.downS * 1000, rng));
        }
        return;
      case 'linkCut':
        net.at(fault.atS * 1000, () => this.cutEdges('linkCut', [this.edgeOf(fault.link)], toMs(fault.untilS)));
        return;
      case 'nodeDown':
        net.at(fault.atS * 1000, () => this.crashNode('nodeDown', fault.node, toMs(fault.untilS)));
        return;
      case 'flap':
        this.scheduleFlaps(fault.link, fault.atS * 1000, fault.periodS * 1000, fault.count, rng);
        return;
      case 'degrade':
        net.at(fault.atS * 1000, () => this.degrade(fault.link, fault.loss, fault.extraDelayMs, fault.untilS * 1000, rng));
        return;
      case 'partition':
        net.at(fault.atS * 1000, () => this.partition(fault, rng));
        return;
      case 'churn':
        this.scheduleChurn(fault.ratePerMin, fault.startS * 1000, fault.untilS * 1000, fault.downS * 1000, rng);
        return;
      case 'greyHole':
      case 'blackHole':
      case 'cpuExhaustion':
      case 'memoryExhaustion':
      case 'bogusMetrics':
        net.at(fault.atS * 1000, () => this.nodeFault(fault, rng));
        return;
      case 'slowDegradation':
      case 'congestion':
      case 'censorship':
        net.at(fault.atS * 1000, () => this.linkFault(fault, rng));
        return;
    }
  }

  /** A fault of one node's behaviour or host, on the named node or a random on-path one. */
  private nodeFault(fault: NodeFaultSpec, rng: Prng): void {
    const node = fault.node ?? this.pickNode(true, rng);
    if (node === null) return;
    const untilMs = toMs(fault.untilS);
    const undo = this.applyNodeFault(fault, node);
    this.label(fault.kind, [node], [], untilMs);
    this.open(fault.kind, `node ${node}`, 0, untilMs, undo);
  }

  private applyNodeFault(fault: NodeFaultSpec, node: number): () => void {
    switch (fault.kind) {
      case 'greyHole':
        return this.misbehave().greyHole(node, fault.dropShare);
      case 'blackHole':
        return this.misbehave().greyHole(node, 1);
      case 'bogusMetrics':
        return this.misbehave().bogusMetrics(node, fault.metric);
      case 'memoryExhaustion':
        return this.hosts.exhaustMemory(node, this.ctx.network.nowMs);
      case 'cpuExhaustion': {
        const undoCpu = this.hosts.exhaustCpu(node);
        const undoDelay = this.delayInputs(node, fault.inputDelayMs);
        return () => {
          undoCpu();
          undoDelay();
        };
      }
    }
  }

  /** A fault of one link's behaviour (both directions), on the named link or a random on-path one. */
  private linkFault(fault: LinkFaultSpec, rng: Prng): void {
    const pick = fault.kind === 'congestion' ? (): number | null => this.pickBusyEdge(rng) : (): number | null => this.pickEdge(true, rng);
    const edge = fault.link === null ? pick() : this.edgeOf(fault.link);
    if (edge === null) return;
    const simEdge = this.ctx.network.edges[edge]!;
    const directions = [simEdge.forward, simEdge.backward];
    const untilMs = toMs(fault.untilS);
    let undo: () => void;
    if (fault.kind === 'congestion') {
      const limit = { bandwidthBps: fault.bandwidthKbps * 1000, queueBytesMax: fault.queueBytes };
      for (const d of directions) d.addLimit(limit, this.ctx.network.nowMs);
      undo = () => directions.forEach((d) => d.removeLimit(limit, this.ctx.network.nowMs));
    } else if (fault.kind === 'censorship') {
      const band = { minBytes: fault.minBytes, maxBytes: fault.maxBytes };
      for (const d of directions) d.addCensor(band);
      undo = () => directions.forEach((d) => d.removeCensor(band));
    } else {
      undo = this.ramp(directions, fault);
    }
    this.label(fault.kind, [], [edge], untilMs);
    this.open(fault.kind, this.edgeLabel(edge), 0, untilMs, undo);
  }

  /** Raises loss and delay on `directions` linearly over the ramp, then holds them; returns the undo. */
  private ramp(directions: readonly LinkDirection[], fault: SlowDegradationFault): () => void {
    const net = this.ctx.network;
    const startMs = net.nowMs;
    const rampMs = fault.rampS * 1000;
    let loss = 0;
    let delayMs = 0;
    let stopped = false;
    // Steps of different sizes leave rounding residue (1e-16) behind; what is that close to 0 is 0.
    const clean = (x: number): number => (x < 1e-9 ? 0 : x);
    const set = (nextLoss: number, nextDelayMs: number): void => {
      for (const d of directions) {
        d.extraLoss = clean(d.extraLoss + nextLoss - loss);
        d.extraDelayMs = clean(d.extraDelayMs + nextDelayMs - delayMs);
      }
      loss = nextLoss;
      delayMs = nextDelayMs;
    };
    const step = (): void => {
      if (stopped) return;
      const progress = Math.min(1, (net.nowMs - startMs) / rampMs);
      set(progress * fault.maxLoss, progress * fault.maxExtraDelayMs);
      if (progress < 1) net.at(Math.min(net.nowMs + rampStepMs, startMs + rampMs), step);
    };
    step();
    return () => {
      stopped = true;
      set(0, 0);
    };
  }

  /** Delays every packet arriving at `node` by `delayMs` (a busy CPU handles its inputs late); returns the undo. */
  private delayInputs(node: number, delayMs: number): () => void {
    const net = this.ctx.network;
    const inbound = net.nodes[node]!.edges.map((e) => (net.edges[e]!.a === node ? net.edges[e]!.backward : net.edges[e]!.forward));
    for (const d of inbound) d.extraDelayMs += delayMs;
    return () => {
      for (const d of inbound) d.extraDelayMs = Math.max(0, d.extraDelayMs - delayMs);
    };
  }

  private misbehave(): Misbehaviour {
    if (this.misbehaviour === null) {
      this.misbehaviour = new Misbehaviour(this.ctx.network, this.rng.split('misbehaviour'));
      this.ctx.network.shaper = this.misbehaviour;
    }
    return this.misbehaviour;
  }

  /** Records that a fault of `kind` now hits `nodes` or `edges` until `untilMs` (null: the end of the run). */
  private label(kind: string, nodes: readonly number[], edges: readonly number[], untilMs: number | null): void {
    const faultClass = faultClassOfKind[kind]!;
    this.labels.push({ kind, faultClass, nodes, edges, startMs: this.ctx.network.nowMs, endMs: untilMs ?? this.ctx.endMs });
  }

  /** `count` cuts of periodMs / 2 every periodMs from atMs, all on the same link (a random on-path one when `link` is null). */
  private scheduleFlaps(link: LinkEnds | null, startMs: number, periodMs: number, count: number, rng: Prng): void {
    let edge: number | null = null;
    for (let i = 0; i < count; i++) {
      const atMs = startMs + i * periodMs;
      const restoreAtMs = atMs + periodMs / 2;
      this.ctx.network.at(atMs, () => {
        if (i === 0) {
          edge = link === null ? this.pickEdge(true, rng) : this.edgeOf(link);
          if (edge !== null) this.label('flap', [], [edge], restoreAtMs + (count - 1) * periodMs);
        }
        if (edge !== null) this.cutEdges('flap', [edge], restoreAtMs);
      });
    }
  }

  private scheduleChurn(ratePerMin: number, startMs: number, untilMs: number, downMs: number, rng: Prng): void {
    let atMs = startMs + rng.exponential(60_000 / ratePerMin);
    while (atMs < untilMs) {
      const when = atMs;
      this.ctx.network.at(when, () => {
        const node = this.pickNode(false, rng);
        if (node !== null) this.crashNode('churn', node, when + downMs);
      });
      atMs += rng.exponential(60_000 / ratePerMin);
    }
  }

  private randomFailure(kind: 'linkFailure' | 'nodeCrash', onPath: boolean, downMs: number, rng: Prng): void {
    const restoreAtMs = this.ctx.network.nowMs + downMs;
    if (kind === 'linkFailure') {
      const edge = this.pickEdge(onPath, rng);
      if (edge !== null) this.cutEdges(kind, [edge], restoreAtMs);
    } else {
      const node = this.pickNode(onPath, rng);
      if (node !== null) this.crashNode(kind, node, restoreAtMs);
    }
  }

  /** A random edge (on some flow's current path when `onPath`) whose links are up. */
  private pickEdge(onPath: boolean, rng: Prng): number | null {
    const net = this.ctx.network;
    const up = (e: number): boolean => net.edges[e]!.forward.up && net.edges[e]!.backward.up;
    let candidates: number[];
    if (onPath) {
      const used = new Set<number>();
      for (const flow of this.ctx.flows.flows) for (const e of this.ctx.flows.currentPath(flow).edges) used.add(e);
      candidates = [...used].filter(up).sort((a, b) => a - b);
    } else {
      candidates = net.edges.map((e) => e.index).filter(up);
    }
    return candidates.length === 0 ? null : rng.pick(candidates);
  }

  /**
   * A random up edge on some flow's current path, drawn with probability proportional to the
   * number of flows crossing it: congestion happens where the load is.
   */
  private pickBusyEdge(rng: Prng): number | null {
    const net = this.ctx.network;
    const load = new Map<number, number>();
    for (const flow of this.ctx.flows.flows) for (const e of this.ctx.flows.currentPath(flow).edges) load.set(e, (load.get(e) ?? 0) + 1);
    const candidates = [...load].filter(([e]) => net.edges[e]!.forward.up && net.edges[e]!.backward.up).sort((a, b) => a[0] - b[0]);
    let ticket = rng.next() * candidates.reduce((sum, [, flows]) => sum + flows, 0);
    for (const [edge, flows] of candidates) {
      ticket -= flows;
      if (ticket < 0) return edge;
    }
    return candidates.at(-1)?.[0] ?? null;
  }

  /** A random live node that is no flow's endpoint (an intermediate hop of some flow when `onPath`). */
  private pickNode(onPath: boolean, rng: Prng): number | null {
    const net = this.ctx.network;
    const endpoints = new Set<number>();
    for (const flow of this.ctx.flows.flows) endpoints.add(flow.src).add(flow.dst);
    let candidates: number[];
    if (onPath) {
      const used = new Set<number>();
      for (const flow of this.ctx.flows.flows) for (const n of this.ctx.flows.currentPath(flow).nodes) used.add(n);
      candidates = [...used].sort((a, b) => a - b);
    } else {
      candidates = net.nodes.map((n) => n.index);
    }
    candidates = candidates.filter((n) => !endpoints.has(n) && net.nodes[n]!.mesh !== null);
    return candidates.length === 0 ? null : rng.pick(candidates);
  }

  /** Cuts `edges` in both directions, restoring them at `restoreAtMs` (null: never). */
  cutEdges(kind: string, edges: readonly number[], restoreAtMs: number | null, target?: string): void {
    this.cutDirections(kind, edges.map((edge) => ({ edge, forward: true, backward: true })), restoreAtMs, target);
  }

  /**
   * Cuts the given directions of links. Cuts are counted per direction, so a link cut by two
   * overlapping faults stays down until both are repaired.
   */
  cutDirections(kind: string, cuts: readonly DirectedCut[], restoreAtMs: number | null, target?: string): void {
    const failure: FailureSet = { edges: new Set(cuts.map((c) => c.edge)), nodes: new Set() };
    const affected = this.failing(failure);
    const directions = cuts.flatMap(({ edge, forward, backward }) => {
      const simEdge = this.ctx.network.edges[edge]!;
      return [...(forward ? [simEdge.forward] : []), ...(backward ? [simEdge.backward] : [])];
    });
    for (const direction of directions) direction.cut();
    this.ctx.recovery.failureApplied(failure, affected);
    const label = target ?? cuts.map((c) => this.edgeLabel(c.edge)).join(',');
    this.open(kind, label, affected.length, restoreAtMs, () => {
      for (const direction of directions) direction.restore();
    });
  }

  /** Crashes `node` (state lost); overlapping crashes are counted and the node restarts when the last one ends. */
  private crashNode(kind: string, node: number, restartAtMs: number | null): void {
    const holds = this.crashHolds.get(node) ?? 0;
    const failure: FailureSet = { edges: new Set(), nodes: new Set([node]) };
    const affected = holds === 0 ? this.failing(failure) : [];
    this.crashHolds.set(node, holds + 1);
    if (holds === 0) {
      this.ctx.network.crash(node);
      this.ctx.recovery.failureApplied(failure, affected);
    }
    this.open(kind, `node ${node}`, affected.length, restartAtMs, () => {
      const left = this.crashHolds.get(node)! - 1;
      this.crashHolds.set(node, left);
      if (left === 0) this.ctx.network.boot(node);
    });
  }

  /** Adds loss and delay to both directions of a link; overlapping degradations add up. */
  private degrade(link: LinkEnds | null, loss: number, extraDelayMs: number, untilMs: number, rng: Prng): void {
    const edgeIndex = link === null ? this.pickEdge(true, rng) : this.edgeOf(link);
    if (edgeIndex === null) return;
    const edge = this.ctx.network.edges[edgeIndex]!;
    const adjust = (sign: number): void => {
      for (const direction of [edge.forward, edge.backward]) {
        direction.extraLoss = Math.max(0, direction.extraLoss + sign * loss);
        direction.extraDelayMs = Math.max(0, direction.extraDelayMs + sign * extraDelayMs);
      }
    };
    adjust(1);
    this.label('degrade', [], [edgeIndex], untilMs);
    this.open('degrade', this.edgeLabel(edgeIndex), 0, untilMs, () => adjust(-1));
  }

  private partition(fault: PartitionFault, rng: Prng): void {
    const { cuts, label } = partitionCut(this.ctx, fault, rng);
    this.cutDirections('partition', cuts, toMs(fault.healS), label);
  }

  /** Flows whose current path crosses `failure`, with that path, read before the failure is applied. */
  private failing(failure: FailureSet): AffectedFlow[] {
    const flows = this.ctx.flows;
    return flows.flows.map((flow) => ({ flow, path: flows.currentPath(flow) })).filter(({ path }) => crosses(path, failure));
  }

  private open(kind: string, target: string, affected: number, repairAtMs: number | null, repair: () => void): void {
    const net = this.ctx.network;
    const window: FaultWindow = { startMs: net.nowMs - inFlightMsMax, endMs: this.ctx.endMs };
    this.windows.push(window);
    this.records.push({ atMs: Math.round(net.nowMs), kind, target, affectedFlows: affected });
    if (repairAtMs === null) return;
    window.endMs = repairAtMs + faultGraceMs;
    net.at(repairAtMs, () => {
      repair();
      this.ctx.recovery.healApplied(this.ctx.flows.flows);
    });
  }

  private edgeOf(link: LinkEnds): number {
    const [a, b] = link;
    const found = this.ctx.network.nodes[a]?.edges.find((e) => this.ctx.network.peerOf(this.ctx.network.edges[e]!, a) === b);
    if (found === undefined) throw new RangeError(`fault: no link between nodes ${a} and ${b} in this topology`);
    return found;
  }

  private edgeLabel(edge: number): string {
    const simEdge = this.ctx.network.edges[edge]!;
    return `${simEdge.a}-${simEdge.b}`;
  }
}

function toMs(seconds: number | null): number | null {
  return seconds === null ? null : seconds * 1000;
}

/** The link directions a partition cuts, by mode. */
export function partitionCut(ctx: FaultContext, fault: PartitionFault, rng: Prng): { cuts: DirectedCut[]; label: string } {
  const net = ctx.network;
  const both = (edges: readonly number[]): DirectedCut[] => edges.map((edge) => ({ edge, forward: true, backward: true }));
  const crossing = (side: Uint8Array): number[] => net.edges.filter((e) => side[e.a] !== side[e.b]).map((e) => e.index);
  switch (fault.mode) {
    case 'halves':
    case 'randomHalves':
      return { cuts: both(crossing(halves(ctx, fault.mode === 'randomHalves', rng))), label: fault.mode };
    case 'oneWay': {
      const side = halves(ctx, false, rng);
      // Only the direction from side 0 (west) into side 1 (east) of each crossing link.
      const cuts = crossing(side).map((edge) => ({ edge, forward: side[net.edges[edge]!.a] === 0, backward: side[net.edges[edge]!.b] === 0 }));
      return { cuts, label: 'oneWay' };
    }
    case 'bridge': {
      const cut = crossing(halves(ctx, false, rng));
      const kept = cut.length === 0 ? -1 : rng.pick(cut);
      return { cuts: both(cut.filter((e) => e !== kept)), label: `bridge kept ${kept}` };
    }
    case 'isolate': {
      const node = fault.node ?? rng.int(0, net.nodes.length - 1);
      return { cuts: both(net.nodes[node]!.edges), label: `isolate ${node}` };
    }
    case 'majorityRing':
      return { cuts: both(majorityRingCut(ctx, rng)), label: 'majorityRing' };
  }
}

/** Links between nodes more than n/4 apart on a random ring: every node keeps a different majority. */
function majorityRingCut(ctx: FaultContext, rng: Prng): number[] {
  const net = ctx.network;
  const n = net.nodes.length;
  const order = rng.shuffle(net.nodes.map((node) => node.index));
  const position = new Int32Array(n);
  order.forEach((node, i) => (position[node] = i));
  const reach = Math.floor(n / 4);
  const ringDistance = (a: number, b: number): number => {
    const d = Math.abs(position[a]! - position[b]!);
    return Math.min(d, n - d);
  };
  return net.edges.filter((e) => ringDistance(e.a, e.b) > reach).map((e) => e.index);
}

/** Splits nodes into two halves: by x coordinate when the topology has positions, else by index; or at random. */
function halves(ctx: FaultContext, random: boolean, rng: Prng): Uint8Array {
  const n = ctx.network.nodes.length;
  const side = new Uint8Array(n);
  let order = ctx.network.nodes.map((node) => node.index);
  if (random) order = rng.shuffle(order);
  else if (ctx.positions !== null) {
    const positions = ctx.positions;
    order.sort((a, b) => positions[a]![0] - positions[b]![0] || a - b);
  }
  order.slice(Math.floor(n / 2)).forEach((node) => (side[node] = 1));
  return side;
}
