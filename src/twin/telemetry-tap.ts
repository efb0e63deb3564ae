/**
 * Telemetry in the twin: one TelemetryCollector per node, fed from the network observer and
 * sampled on the virtual clock, plus what only a simulator that sees both ends of every link
 * knows: data packets per link direction, full-queue drops, and the delivery ratio of the
 * flows through each node as its neighbours see it (data packets they handed it against data
 * packets it handed on or kept as their destination).
 *
 * Every window the tap cuts all collectors at once and assembles one TelemetryWindow for the
 * whole network, with healthy labels; `dataset.ts` labels them after the run.
 */

import { TelemetryCollector, type LinkTraffic } from '../telemetry/collector.js';
import { linkFeatureNames, nodeFeatureNames } from '../telemetry/features.js';
import type { TelemetryWindow } from '../telemetry/types.js';
import { assembleWindow, type NodeRow } from '../telemetry/window.js';
import type { Transmit } from '../mesh/types.js';
import type { LinkDrop } from './link-model.js';
import type { Network, SimEdge } from './network.js';
import type { SecureNode } from '../channel/secure-node.js';
import type { Prng } from './prng.js';
import { SimHost, type HostFaults } from './sim-host.js';

/** Samples of every node's links per window (the cut takes the last one). */
export const samplesPerWindow = 4;
/** Windows ahead an arrival may be booked into: far more than any link delay in a scenario. */
const arrivalRingWindows = 16;

/** What the tap reads of a seed's run (a SeedRun is one; named here so that the runner may import the tap). */
export interface TapRun {
  readonly rng: Prng;
  readonly network: Network;
  readonly faults: { readonly hosts: HostFaults };
  readonly secureNodes: ReadonlyMap<number, SecureNode>;
}

/** When windows start and how long they are. */
export interface TapOptions {
  /** Start of the first window (the end of the warm-up). */
  readonly startMs: number;
  /** No window ends after this (the end of the flows). */
  readonly endMs: number;
  readonly windowMs: number;
}

/** Collects telemetry windows from one seed's run (see the module comment). */
export class TelemetryTap {
  readonly windows: TelemetryWindow[] = [];
  readonly hosts: SimHost[];
  private readonly collectors: TelemetryCollector[];
  /** Each node's boot count when the current window started; -1 while it is down. */
  private readonly boots: Int32Array;
  /** Set when a node was down or restarted at some point of the current window. */
  private readonly interrupted: Uint8Array;
  /** Per node, this window: data handed on to neighbours, packets lost to full queues. */
  private readonly handedOn: Float64Array;
  private readonly queueDrops: Float64Array;
  /** Per node and arrival window (a ring): data handed in by neighbours, and of it, data for the node itself. */
  private readonly handedIn: Float64Array;
  private readonly deliveredIn: Float64Array;
  /** Per link direction (2 * edge + from-is-b), this window: data put on it, and of that, what was not lost. */
  private readonly linkSent: Float64Array;
  private readonly linkReceived: Float64Array;
  private windowIndex = 0;

  constructor(
    private readonly run: TapRun,
    private readonly options: TapOptions,
  ) {
    const { network } = run;
    const n = network.nodes.length;
    if (!(options.windowMs > 0)) throw new RangeError(`TelemetryTap: expected windowMs > 0, got ${options.windowMs}`);
    this.hosts = network.nodes.map((node) => new SimHost(node.index, run.faults.hosts, run.rng.split('host', node.index), options.startMs));
    this.collectors = this.hosts.map((host) => new TelemetryCollector({ startMs: options.startMs, host, windowMs: options.windowMs }));
    this.boots = new Int32Array(n).fill(-1);
    this.interrupted = new Uint8Array(n);
    this.handedOn = new Float64Array(n);
    this.queueDrops = new Float64Array(n);
    this.handedIn = new Float64Array(n * arrivalRingWindows);
    this.deliveredIn = new Float64Array(n * arrivalRingWindows);
    this.linkSent = new Float64Array(2 * network.edges.length);
    this.linkReceived = new Float64Array(2 * network.edges.length);
  }

  /** Hooks into the network's observer and schedules the samples and cuts. */
  attach(): void {
    const network = this.run.network;
    network.addObserver({
      onTransmit: (from, edge, transmit, arrival) => this.onTransmit(from, edge, transmit, arrival),
      onMeshEvent: (node, event) => this.collectors[node]!.onMeshEvent(event),
    });
    network.at(this.options.startMs, () => this.begin());
  }

  private onTransmit(from: number, edge: SimEdge, transmit: Transmit, arrival: number | LinkDrop): void {
    const forward = edge.a === from;
    const to = forward ? edge.b : edge.a;
    this.hosts[from]!.addWork(1);
    if (typeof arrival !== 'number') {
      if (arrival === 'queue') this.queueDrops[from]!++;
    } else {
      this.hosts[to]!.addWork(1);
    }
    const data = transmit.data;
    if (data === undefined) return;
    const direction = 2 * edge.index + (forward ? 0 : 1);
    this.linkSent[direction]!++;
    const nodes = this.run.network.nodes;
    if (data.src !== nodes[from]!.id) this.handedOn[from]!++;
    if (typeof arrival !== 'number') return;
    this.linkReceived[direction]!++;
    const slot = this.arrivalSlot(to, arrival);
    if (slot < 0) return;
    this.handedIn[slot]!++;
    if (data.dst === nodes[to]!.id) this.deliveredIn[slot]!++;
  }

  /** Where an arrival at `node` at `atMs` is booked: the ring slot of its window, or -1 before the first window. */
  private arrivalSlot(node: number, atMs: number): number {
    const window = Math.floor((atMs - this.options.startMs) / this.options.windowMs);
    if (window < 0) return -1;
    const ahead = Math.min(window, this.windowIndex + arrivalRingWindows - 1);
    return node * arrivalRingWindows + (ahead % arrivalRingWindows);
  }

  /** The first window starts: counters from here on are differences. */
  private begin(): void {
    const { network } = this.run;
    for (const node of network.nodes) {
      const collector = this.collectors[node.index]!;
      collector.startMs = network.nowMs;
      if (node.mesh !== null) {
        collector.setBaseline({ mesh: node.mesh.stats, secure: this.run.secureNodes.get(node.index)?.stats ?? null, policyDenies: null });
        this.boots[node.index] = node.boots;
      }
    }
    this.handedOn.fill(0);
    this.queueDrops.fill(0);
    this.linkSent.fill(0);
    this.linkReceived.fill(0);
    this.scheduleSamples(network.nowMs);
  }

  private scheduleSamples(windowStartMs: number): void {
    const { network } = this.run;
    const endMs = windowStartMs + this.options.windowMs;
    if (endMs > this.options.endMs) return;
    for (let i = 1; i < samplesPerWindow; i++) network.at(windowStartMs + (i * this.options.windowMs) / samplesPerWindow, () => this.sample());
    network.at(endMs, () => {
      this.cut();
      this.scheduleSamples(endMs);
    });
  }

  /** Notes restarts and crashes, and samples every live node's links. */
  private sample(): void {
    for (const node of this.run.network.nodes) {
      if (!this.checkBoot(node.index)) continue;
      this.collectors[node.index]!.sampleLinks(node.mesh!.neighbourViews());
    }
  }

  /** True when the node is up; marks the window interrupted (and restarts its counters) when it was down or restarted. */
  private checkBoot(index: number): boolean {
    const node = this.run.network.nodes[index]!;
    if (node.mesh === null) {
      this.interrupted[index] = 1;
      this.boots[index] = -1;
      return false;
    }
    if (node.boots !== this.boots[index]) {
      this.interrupted[index] = 1;
      this.boots[index] = node.boots;
      this.collectors[index]!.restart();
    }
    return true;
  }

  private cut(): void {
    const { network } = this.run;
    const now = network.nowMs;
    const startMs = now - this.options.windowMs;
    const rows: NodeRow[] = network.nodes.map((node) => this.cutNode(node.index, now));
    this.windows.push(assembleWindow(startMs, now, rows, nodeFeatureNames.length, linkFeatureNames.length));
    const slot = this.windowIndex % arrivalRingWindows;
    for (let i = 0; i < network.nodes.length; i++) {
      this.handedIn[i * arrivalRingWindows + slot] = 0;
      this.deliveredIn[i * arrivalRingWindows + slot] = 0;
    }
    this.interrupted.fill(0);
    this.handedOn.fill(0);
    this.queueDrops.fill(0);
    this.linkSent.fill(0);
    this.linkReceived.fill(0);
    this.windowIndex++;
  }

  private cutNode(index: number, now: number): NodeRow {
    const { network } = this.run;
    const node = network.nodes[index]!;
    const collector = this.collectors[index]!;
    const up = this.checkBoot(index);
    const alive = up && this.interrupted[index] === 0;
    const peerOf = (link: number): number => network.peerOf(network.edges[link]!, index);
    if (!up) {
      collector.skip(now);
      return { alive, window: null, peerOf };
    }
    const slot = index * arrivalRingWindows + (this.windowIndex % arrivalRingWindows);
    const window = collector.cut(now, {
      counters: { mesh: node.mesh!.stats, secure: this.run.secureNodes.get(index)?.stats ?? null, policyDenies: null },
      links: node.mesh!.neighbourViews(),
      queueDrops: this.queueDrops[index]!,
      linkTraffic: (link) => this.inboundTraffic(index, link),
      delivery: { handedIn: this.handedIn[slot]!, handedOn: this.handedOn[index]! + this.deliveredIn[slot]!, deliveredHere: this.deliveredIn[slot]! },
    });
    return { alive, window, peerOf };
  }

  /** Data on edge `link` towards `node` in this window. */
  private inboundTraffic(node: number, link: number): LinkTraffic {
    const direction = 2 * link + (this.run.network.edges[link]!.b === node ? 0 : 1);
    return { sent: this.linkSent[direction]!, received: this.linkReceived[direction]! };
  }
}
