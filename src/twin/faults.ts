import type { FlowTracker } from './flows.js';
import type { Network } from './network.js';
import type { Prng } from './prng.js';
import { crosses, type AffectedFlow, type FailureSet, type RecoveryTracker } from './recovery.js';
import type { FaultSpec, LinkEnds, PartitionFault } from './scenario.js';

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
  /** Crashes currently holding each node down. */
  private readonly crashHolds = new Map<number, number>();

  constructor(
    private readonly ctx: FaultContext,
    private readonly rng: Prng,
  ) {}

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
        for (let i = 0; i < fault.count; i++) {
          const atMs = (fault.atS + i * fault.periodS) * 1000;
          net.at(atMs, () => this.cutEdges('flap', [this.edgeOf(fault.link)], atMs + (fault.periodS * 1000) / 2));
        }
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
