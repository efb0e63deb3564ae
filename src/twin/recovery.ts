import type { Flow, FlowPath, PacketTrace } from './flows.js';
import { propagationDelaysMs } from './latency.js';
import type { Network, SimEdge } from './network.js';

/** A set of failed elements: whole links, single directions of links, and nodes. */
export interface FailureSet {
  readonly edges: ReadonlySet<number>;
  readonly nodes: ReadonlySet<number>;
}

/** A flow a failure hit, with the path it was on at the failure instant. */
export interface AffectedFlow {
  readonly flow: Flow;
  readonly path: FlowPath;
}

/** Where a flow first meets a failure: the last live node before it, and the link from there that it crosses. */
export interface Upstream {
  readonly node: number;
  readonly edge: number;
}

interface PendingRecovery {
  readonly dst: number;
  readonly failedAtMs: number;
  readonly failure: FailureSet;
  readonly kind: 'recovery' | 'heal';
  /** Whose detection starts the floor; null for heals (and for a path that does not cross the failure). */
  readonly upstream: Upstream | null;
  /** The recovery floor, known once the upstream node has declared its link down. */
  floorMs: number | null;
}

/** Recovery and detection samples gathered over a run. */
export interface RecoverySamples {
  /** Failure -> first packet delivered on a path that avoids the failed elements. */
  readonly recoveryMs: number[];
  /**
   * For each recovery sample, in the same order, the part no protocol could avoid: failure ->
   * the upstream node declares its link down, plus the least propagation delay from there to
   * the destination over what is left of the graph; never more than the sample itself.
   */
  readonly recoveryFloorMs: number[];
  /** Gap seen by the receiver: from the last delivery before the loss to the first after, less one packet interval. */
  readonly outageMs: number[];
  /** Failure -> a neighbour of the failed element declares its link down. */
  readonly detectMs: number[];
  /** Heal -> first delivery for flows the failure had disconnected. */
  readonly healRecoveryMs: number[];
}

const noFailure: FailureSet = { edges: new Set(), nodes: new Set() };

/** True when `path` crosses an element of `failure`. */
export function crosses(path: { readonly edges: readonly number[]; readonly nodes: readonly number[] }, failure: FailureSet): boolean {
  return path.edges.some((e) => failure.edges.has(e)) || path.nodes.some((n) => failure.nodes.has(n));
}

/**
 * The first place along `path` (from its source) where it meets `failure`: a failed link is
 * met from the node the flow crosses it from, a crashed node from the node before it. Null
 * when the path meets neither past its source.
 */
export function upstreamOf(path: Pick<FlowPath, 'edges' | 'nodes'>, failure: FailureSet): Upstream | null {
  for (let i = 0; i < path.edges.length; i++) {
    const edge = path.edges[i]!;
    if (failure.edges.has(edge) || failure.nodes.has(path.nodes[i + 1]!)) return { node: path.nodes[i]!, edge };
  }
  return null;
}

/**
 * Measures, per failure and per affected flow, how long until traffic flows again; and how
 * long until the failure is detected. A flow is affected when its current path crosses a
 * failed element; when the failure disconnects its endpoints it counts as partitioned instead.
 */
export class RecoveryTracker {
  readonly samples: RecoverySamples = { recoveryMs: [], recoveryFloorMs: [], outageMs: [], detectMs: [], healRecoveryMs: [] };
  affectedFlows = 0;
  partitionedFlows = 0;
  unrecoveredFlows = 0;
  /** Recovery samples whose floor came out larger than the sample and was cut down to it. */
  floorClamped = 0;
  private readonly pending = new Map<number, PendingRecovery[]>();
  private readonly disconnected = new Set<number>();
  /** Edge -> time it failed, until each endpoint has reported it down. */
  private readonly awaitingDetection = new Map<number, { failedAtMs: number; endsLeft: Set<number> }>();

  constructor(private readonly network: Network) {}

  /** After the failure is applied: start timing each affected flow, or count it partitioned. */
  failureApplied(failure: FailureSet, affected: readonly AffectedFlow[]): void {
    const now = this.network.nowMs;
    for (const { flow, path } of affected) {
      if (failure.nodes.has(flow.src) || failure.nodes.has(flow.dst)) continue;
      this.affectedFlows++;
      if (!this.connected(flow.src, flow.dst)) {
        this.partitionedFlows++;
        this.disconnected.add(flow.index);
        continue;
      }
      this.addPending(flow.index, { dst: flow.dst, failedAtMs: now, failure, kind: 'recovery', upstream: upstreamOf(path, failure), floorMs: null });
    }
    for (const edge of failure.edges) this.awaitDetection(edge, now);
    for (const node of failure.nodes) {
      for (const edge of this.network.nodes[node]!.edges) this.awaitDetection(edge, now, node);
    }
  }

  /** After elements were restored: flows that were cut off and are connected again start their heal timing. */
  healApplied(flows: readonly Flow[]): void {
    const now = this.network.nowMs;
    for (const index of [...this.disconnected]) {
      const flow = flows[index]!;
      if (!this.connected(flow.src, flow.dst)) continue;
      this.disconnected.delete(index);
      this.addPending(index, { dst: flow.dst, failedAtMs: now, failure: noFailure, kind: 'heal', upstream: null, floorMs: null });
    }
  }

  /** A node declared the neighbour on `edge` down. */
  neighbourDown(node: number, edge: number): void {
    this.fixFloors(node, edge);
    const waiting = this.awaitingDetection.get(edge);
    if (waiting === undefined || !waiting.endsLeft.delete(node)) return;
    this.samples.detectMs.push(this.network.nowMs - waiting.failedAtMs);
    if (waiting.endsLeft.size === 0) this.awaitingDetection.delete(edge);
  }

  /** A flow packet arrived with `trace`: it may end one or more pending recoveries of its flow. */
  delivered(flow: Flow, trace: PacketTrace, nowMs: number): void {
    const pending = this.pending.get(flow.index);
    if (pending === undefined) return;
    const sentAtMs = flow.sentAtMs[trace.seq]!;
    const remaining = pending.filter((p) => {
      if (p.kind === 'heal') {
        if (sentAtMs < p.failedAtMs) return true;
        this.samples.healRecoveryMs.push(nowMs - p.failedAtMs);
        return false;
      }
      if (trace.edges.some((e) => p.failure.edges.has(e) || this.touchesNode(e, p.failure.nodes))) return true;
      this.recordRecovery(p, nowMs - p.failedAtMs);
      const gap = nowMs - (Number.isNaN(flow.lastDeliveryMs) ? p.failedAtMs : flow.lastDeliveryMs);
      this.samples.outageMs.push(Math.max(0, gap - flow.intervalMs));
      return false;
    });
    if (remaining.length === 0) this.pending.delete(flow.index);
    else this.pending.set(flow.index, remaining);
  }

  /** Counts the recoveries still pending after the run as not recovered. */
  finish(): void {
    for (const list of this.pending.values()) this.unrecoveredFlows += list.length;
    this.pending.clear();
  }

  /** True when `a` and `b` are joined by links up in both directions through live nodes. */
  connected(a: number, b: number): boolean {
    const nodes = this.network.nodes;
    if (nodes[a]!.mesh === null || nodes[b]!.mesh === null) return false;
    const seen = new Uint8Array(nodes.length);
    const stack = [a];
    seen[a] = 1;
    while (stack.length > 0) {
      const v = stack.pop()!;
      if (v === b) return true;
      for (const e of nodes[v]!.edges) {
        const edge = this.network.edges[e]!;
        const u = this.network.peerOf(edge, v);
        if (seen[u] === 1 || nodes[u]!.mesh === null || !isUp(edge)) continue;
        seen[u] = 1;
        stack.push(u);
      }
    }
    return false;
  }

  /**
   * Fixes the floor of every pending recovery whose upstream node is `node` and whose failed
   * link seen from there is `edge`: the time to this detection plus the least propagation
   * delay from `node` to the flow's destination over the graph as it is now.
   */
  private fixFloors(node: number, edge: number): void {
    let delaysMs: Float64Array | null = null;
    for (const list of this.pending.values()) {
      for (const p of list) {
        if (p.floorMs !== null || p.upstream?.node !== node || p.upstream.edge !== edge) continue;
        delaysMs ??= propagationDelaysMs(this.network, node);
        p.floorMs = this.network.nowMs - p.failedAtMs + delaysMs[p.dst]!;
      }
    }
  }

  /** Records a recovery sample and its floor: the sample itself when the upstream node had not detected the failure yet. */
  private recordRecovery(p: PendingRecovery, recoveryMs: number): void {
    const floorMs = p.floorMs ?? recoveryMs;
    if (floorMs > recoveryMs) this.floorClamped++;
    this.samples.recoveryMs.push(recoveryMs);
    this.samples.recoveryFloorMs.push(Math.min(floorMs, recoveryMs));
  }

  private touchesNode(edge: number, nodes: ReadonlySet<number>): boolean {
    if (nodes.size === 0) return false;
    const simEdge = this.network.edges[edge]!;
    return nodes.has(simEdge.a) || nodes.has(simEdge.b);
  }

  private addPending(flow: number, pending: PendingRecovery): void {
    const list = this.pending.get(flow);
    if (list === undefined) this.pending.set(flow, [pending]);
    else list.push(pending);
  }

  private awaitDetection(edge: number, failedAtMs: number, crashed?: number): void {
    const simEdge = this.network.edges[edge]!;
    const endsLeft = new Set([simEdge.a, simEdge.b]);
    if (crashed !== undefined) endsLeft.delete(crashed);
    this.awaitingDetection.set(edge, { failedAtMs, endsLeft });
  }
}

/** True when both directions of `edge` carry packets. */
export function isUp(edge: SimEdge): boolean {
  return edge.forward.up && edge.backward.up;
}
