import type { MeshEvent, Transmit } from '../mesh/types.js';
import { DataKind } from '../wire/messages.js';
import type { Network } from './network.js';

/** Most flows one run may have: a flow index takes the top 12 bits of a datagram id. */
export const flowsMax = 4096;
/** Most packets one flow may send: the sequence number takes the low 20 bits of the id. */
export const packetsPerFlowMax = 1 << 20;
/** In-flight traces older than this are dropped: their packets were lost on the way. */
const traceAgeMsMax = 10_000;

/** A constant-rate probe flow between two nodes. */
export interface Flow {
  readonly index: number;
  readonly src: number;
  readonly dst: number;
  readonly intervalMs: number;
  /** Send time of packet `seq`, and whether it arrived. */
  readonly sentAtMs: Float64Array;
  readonly delivered: Uint8Array;
  /** What every packet of the flow carries (its size is the flow's shape). */
  readonly payload: Uint8Array;
  sent: number;
  lastDeliveryMs: number;
}

/** The path one packet has taken so far: the edges it crossed. */
export interface PacketTrace {
  readonly flow: number;
  readonly seq: number;
  readonly edges: number[];
}

/** The links and nodes a flow's next packet would cross, from its source on; `complete` when they reach the destination. */
export interface FlowPath {
  readonly edges: readonly number[];
  readonly nodes: readonly number[];
  readonly complete: boolean;
}

/** Someone who wants to know when a flow packet arrives, and by which path. */
export type DeliveryListener = (flow: Flow, trace: PacketTrace, nowMs: number) => void;

/**
 * Drives constant-rate flows through the mesh and traces every flow packet's path through
 * the transmits the nodes make, so that recovery can tell an old path from a new one.
 */
export class FlowTracker {
  readonly flows: Flow[];
  private readonly traces = new Map<number, PacketTrace>();
  private nextPurgeMs = 0;
  listener: DeliveryListener | null = null;

  /** Flows between `pairs`; `payloadBytes` is every flow's payload size, or a list that flow i takes entry i mod length of. */
  constructor(
    private readonly network: Network,
    pairs: readonly (readonly [number, number])[],
    ratePps: number,
    payloadBytes: number | readonly number[],
    private readonly packetsPerFlow: number,
  ) {
    if (pairs.length > flowsMax) throw new RangeError(`FlowTracker: at most ${flowsMax} flows, got ${pairs.length}`);
    if (packetsPerFlow > packetsPerFlowMax) {
      throw new RangeError(`FlowTracker: at most ${packetsPerFlowMax} packets per flow, got ${packetsPerFlow}`);
    }
    const sizes = typeof payloadBytes === 'number' ? [payloadBytes] : payloadBytes;
    if (sizes.length === 0) throw new RangeError('FlowTracker: expected at least one payload size, got none');
    const payloads = new Map(sizes.map((size) => [size, new Uint8Array(size)]));
    this.flows = pairs.map(([src, dst], index) => ({
      index,
      src,
      dst,
      intervalMs: 1000 / ratePps,
      sentAtMs: new Float64Array(packetsPerFlow),
      delivered: new Uint8Array(packetsPerFlow),
      payload: payloads.get(sizes[index % sizes.length]!)!,
      sent: 0,
      lastDeliveryMs: Number.NaN,
    }));
  }

  /** Schedules every flow to send from `startMs` (staggered) until `endMs`. */
  start(startMs: number, endMs: number): void {
    for (const flow of this.flows) {
      const offset = (flow.index / Math.max(1, this.flows.length)) * flow.intervalMs;
      this.schedule(flow, startMs + offset, endMs);
    }
  }

  /** Observer hook: extends the trace of a flow packet by the edge it was put on. */
  onTransmit(edge: number, transmit: Transmit): void {
    const data = transmit.data;
    if (data === undefined || data.kind !== DataKind.app) return;
    this.traces.get(data.id)?.edges.push(edge);
  }

  /** Observer hook: a node delivered a datagram; flow packets are counted and reported. */
  onMeshEvent(node: number, event: MeshEvent): void {
    if (event.kind !== 'delivered') return;
    const trace = this.traces.get(event.id);
    if (trace === undefined) return;
    const flow = this.flows[trace.flow]!;
    if (flow.dst !== node) return;
    this.traces.delete(event.id);
    flow.delivered[trace.seq] = 1;
    const now = this.network.nowMs;
    this.listener?.(flow, trace, now);
    flow.lastDeliveryMs = now;
  }

  /** The edges and nodes the next packet of `flow` would cross now, following the routing tables. */
  currentPath(flow: Flow): FlowPath {
    const edges: number[] = [];
    const nodes: number[] = [flow.src];
    const dstId = this.network.nodes[flow.dst]!.id;
    let current = flow.src;
    while (current !== flow.dst && nodes.length <= this.network.nodes.length) {
      const mesh = this.network.nodes[current]!.mesh;
      const link = mesh?.nextHopLink(dstId) ?? null;
      if (link === null) return { edges, nodes, complete: false };
      edges.push(link);
      current = this.network.peerOf(this.network.edges[link]!, current);
      nodes.push(current);
    }
    return { edges, nodes, complete: current === flow.dst };
  }

  private schedule(flow: Flow, atMs: number, endMs: number): void {
    if (atMs > endMs || flow.sent >= this.packetsPerFlow) return;
    this.network.at(atMs, () => {
      this.sendOne(flow);
      this.schedule(flow, atMs + flow.intervalMs, endMs);
    });
  }

  private sendOne(flow: Flow): void {
    const seq = flow.sent++;
    const id = flow.index * packetsPerFlowMax + seq;
    const now = this.network.nowMs;
    flow.sentAtMs[seq] = now;
    this.traces.set(id, { flow: flow.index, seq, edges: [] });
    if (now >= this.nextPurgeMs) this.purge(now);
    this.network.input(flow.src, { kind: 'send', dst: this.network.nodes[flow.dst]!.id, id, payload: flow.payload });
  }

  private purge(nowMs: number): void {
    this.nextPurgeMs = nowMs + traceAgeMsMax;
    for (const [id, trace] of this.traces) {
      if (nowMs - this.flows[trace.flow]!.sentAtMs[trace.seq]! > traceAgeMsMax) this.traces.delete(id);
    }
  }
}
