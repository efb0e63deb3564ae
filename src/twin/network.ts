import { MeshNode } from '../mesh/node.js';
import type { LinkId } from '../mesh/neighbour.js';
import type { TimingProfile } from '../mesh/profiles.js';
import type { MeshEvent, MeshInput, MeshOutput, Transmit } from '../mesh/types.js';
import { nodeId, type NodeId } from '../wire/ids.js';
import { EventQueue } from './event-queue.js';
import { SimEventKind, SimEventPool } from './sim-events.js';
import { LinkDirection, type LinkDrop, type LinkParams } from './link-model.js';
import type { Prng } from './prng.js';
import type { Topology } from './topology.js';

/** What the twin hands inputs to: a MeshNode, or a MeshNode behind the secure link layer. */
export interface NodeCore {
  handle(nowMs: number, input: MeshInput): MeshOutput;
}

/** A simulated node: its routing core (null while crashed) and its links (edge indexes). */
export interface SimNode {
  readonly index: number;
  readonly id: NodeId;
  mesh: MeshNode | null;
  /** What receives the node's inputs: `mesh` itself, or the secure layer around it. */
  core: NodeCore | null;
  boots: number;
  timerAtMs: number;
  readonly edges: number[];
}

/** An undirected simulated link; `forward` carries a -> b, `backward` b -> a. */
export interface SimEdge {
  readonly index: number;
  readonly a: number;
  readonly b: number;
  readonly forward: LinkDirection;
  readonly backward: LinkDirection;
}

/** What the metrics and invariant checkers see of a run. */
export interface NetworkObserver {
  /** A node put `transmit` on `edge`; `arrival` is the arrival time or why it was dropped. */
  onTransmit?(from: number, edge: SimEdge, transmit: Transmit, arrival: number | LinkDrop): void;
  /** A node reported `event`. */
  onMeshEvent?(node: number, event: MeshEvent): void;
  /** A node finished handling one input (invariants are checked here). */
  afterHandle?(node: number): void;
}

/**
 * Changes what a node puts on its links, as a misbehaving node would (grey holes, bogus
 * metrics): it returns the transmit to carry (the same one, or a rewritten one) or null to
 * carry nothing. It sits between the node's core and the link, so the node's code is unchanged.
 */
export interface TransmitShaper {
  shape(from: number, transmit: Transmit, nowMs: number): Transmit | null;
}

/** Everything needed to build a simulated network. */
export interface NetworkConfig {
  readonly topology: Topology;
  readonly profile: TimingProfile;
  readonly rng: Prng;
  /** Parameters of each direction of edge `index` (from a to b when `forward`). */
  readonly linkParams: (index: number, forward: boolean) => LinkParams;
  readonly emitRouteEvents?: boolean;
  /** Largest control packet nodes send (default: the wire's limit; the secure layer needs less). */
  readonly packetBytesMax?: number;
  /** Wraps a freshly booted MeshNode (e.g. in a SecureNode); the twin then drives the wrapper. */
  readonly wrap?: (index: number, id: NodeId, boot: number, mesh: MeshNode, links: readonly LinkId[], nowMs: number) => NodeCore;
}

/** The input of every timer call. */
const timerInput: MeshInput = { kind: 'timer' };

/** NodeId of the node at `index` in a twin: index + 1 (0 is not a valid NodeId). */
export function twinNodeId(index: number): NodeId {
  return nodeId(index + 1);
}

/**
 * The twin's network: the very same MeshNode code as the daemon, driven by a virtual clock
 * and simulated links through a deterministic event queue.
 */
export class Network {
  readonly nodes: SimNode[];
  readonly edges: SimEdge[];
  /** Pending events by time; the handles index `events`. */
  readonly queue = new EventQueue(1 << 16);
  /** The pending events themselves. */
  readonly events = new SimEventPool(1 << 16);
  nowMs = 0;
  eventsProcessed = 0;
  observer: NetworkObserver = {};

  /** Adds `extra` to the observer: each of its hooks runs after the hooks already there. */
  addObserver(extra: NetworkObserver): void {
    const base = this.observer;
    const chained: NetworkObserver = { ...base };
    const { onTransmit, onMeshEvent, afterHandle } = extra;
    if (onTransmit !== undefined) {
      chained.onTransmit = (from, edge, transmit, arrival) => {
        base.onTransmit?.(from, edge, transmit, arrival);
        onTransmit(from, edge, transmit, arrival);
      };
    }
    if (onMeshEvent !== undefined) {
      chained.onMeshEvent = (node, event) => {
        base.onMeshEvent?.(node, event);
        onMeshEvent(node, event);
      };
    }
    if (afterHandle !== undefined) {
      chained.afterHandle = (node) => {
        base.afterHandle?.(node);
        afterHandle(node);
      };
    }
    this.observer = chained;
  }
  /** What node misbehaviour faults put between nodes and links; null (no cost) until one is scheduled. */
  shaper: TransmitShaper | null = null;
  private readonly config: NetworkConfig;
  /**
   * The edges again as compact columns: ends a and b by edge index, and both directions,
   * forward at 2 * index and backward at 2 * index + 1. Every packet sent and received looks
   * up its edge, and reading these (which stay in cache) instead of the SimEdge objects saves a
   * cache miss per packet in a large twin.
   */
  private readonly edgeA: Int32Array;
  private readonly edgeB: Int32Array;
  private readonly directions: LinkDirection[];
  /** The input handed to a node for each packet, refilled per packet (a node reads it only during the call). */
  private readonly datagram: { readonly kind: 'datagram'; link: LinkId; bytes: Uint8Array } = { kind: 'datagram', link: 0 as LinkId, bytes: new Uint8Array(0) };

  constructor(config: NetworkConfig) {
    this.config = config;
    const { topology, rng } = config;
    this.nodes = Array.from({ length: topology.nodeCount }, (_, index) => ({
      index,
      id: twinNodeId(index),
      mesh: null,
      core: null,
      boots: 0,
      timerAtMs: Number.POSITIVE_INFINITY,
      edges: [],
    }));
    this.edges = topology.edges.map(([a, b], index) => {
      this.nodes[a]!.edges.push(index);
      this.nodes[b]!.edges.push(index);
      return {
        index,
        a,
        b,
        forward: new LinkDirection(config.linkParams(index, true), rng.split('link', index, 'ab')),
        backward: new LinkDirection(config.linkParams(index, false), rng.split('link', index, 'ba')),
      };
    });
    this.edgeA = Int32Array.from(this.edges, (edge) => edge.a);
    this.edgeB = Int32Array.from(this.edges, (edge) => edge.b);
    this.directions = this.edges.flatMap((edge) => [edge.forward, edge.backward]);
  }

  /** The timing profile every node runs. */
  get profile(): TimingProfile {
    return this.config.profile;
  }

  /** Boots every node at the current time. */
  bootAll(): void {
    for (const node of this.nodes) this.boot(node.index);
  }

  /** Starts (or restarts, with all state lost) the routing core of node `index`. */
  boot(index: number): void {
    const node = this.nodes[index]!;
    node.boots++;
    const rng = this.config.rng.split('node', index, 'boot', node.boots);
    const mesh = new MeshNode({
      id: node.id,
      random: () => rng.next(),
      profile: this.config.profile,
      links: node.edges as LinkId[],
      emitRouteEvents: this.config.emitRouteEvents ?? false,
      ...(this.config.packetBytesMax === undefined ? {} : { packetBytesMax: this.config.packetBytesMax }),
    });
    node.mesh = mesh;
    node.core = this.config.wrap?.(index, node.id, node.boots, mesh, node.edges as LinkId[], this.nowMs) ?? mesh;
    this.input(index, { kind: 'timer' });
  }

  /** Stops node `index`: its state is gone and it neither sends nor receives until booted again. */
  crash(index: number): void {
    const node = this.nodes[index]!;
    node.mesh = null;
    node.core = null;
    node.timerAtMs = Number.POSITIVE_INFINITY;
  }

  /** Hands `input` to node `index` now (ignored while the node is down). */
  input(index: number, input: MeshInput): void {
    const node = this.nodes[index]!;
    if (node.core === null) return;
    this.apply(node, node.core.handle(this.nowMs, input));
  }

  /** Runs `run` at virtual time `atMs`. */
  at(atMs: number, run: () => void): void {
    this.queue.push(Math.max(atMs, this.nowMs), this.events.callback(run));
  }

  /** Processes events until virtual time `untilMs` (inclusive) or until `shouldStop` says so. */
  runUntil(untilMs: number): void {
    const queue = this.queue;
    while (queue.peekTimeMs() <= untilMs) {
      const handle = queue.pop();
      this.nowMs = queue.lastTimeMs;
      this.eventsProcessed++;
      this.dispatch(handle);
    }
    this.nowMs = Math.max(this.nowMs, untilMs);
  }

  /** The other end of `edge` seen from `node`. */
  peerOf(edge: SimEdge, node: number): number {
    return edge.a === node ? edge.b : edge.a;
  }

  /** Runs the event `handle` refers to, after giving the handle back (its fields are read first). */
  private dispatch(handle: number): void {
    const events = this.events;
    const kind = events.kind[handle];
    if (kind === SimEventKind.packet) {
      const node = this.nodes[events.node[handle]!]!;
      const edgeIndex = events.edge[handle]!;
      const via = this.directions[2 * edgeIndex + 1 - events.forward[handle]!]!;
      const epoch = events.stamp[handle]!;
      const bytes = events.bytes[handle]!;
      events.release(handle);
      // A packet still in flight when its link is cut is lost with the link.
      if (node.core === null || via.epoch !== epoch) return;
      const datagram = this.datagram;
      datagram.link = edgeIndex as LinkId;
      datagram.bytes = bytes;
      this.apply(node, node.core.handle(this.nowMs, datagram));
    } else if (kind === SimEventKind.timer) {
      const node = this.nodes[events.node[handle]!]!;
      const boot = events.stamp[handle]!;
      events.release(handle);
      if (node.core === null || node.boots !== boot || node.timerAtMs !== this.nowMs) return;
      node.timerAtMs = Number.POSITIVE_INFINITY;
      this.apply(node, node.core.handle(this.nowMs, timerInput));
    } else {
      const run = events.run[handle]!;
      events.release(handle);
      run();
    }
  }

  private apply(node: SimNode, output: MeshOutput): void {
    for (const transmit of output.sends) this.carry(node.index, transmit);
    const observer = this.observer;
    if (observer.onMeshEvent !== undefined) {
      for (const event of output.events) observer.onMeshEvent(node.index, event);
    }
    const deadline = output.nextDeadlineMs;
    if (deadline < node.timerAtMs) {
      node.timerAtMs = Math.max(deadline, this.nowMs);
      this.queue.push(node.timerAtMs, this.events.timer(node.index, node.boots));
    }
    observer.afterHandle?.(node.index);
  }

  private carry(from: number, sent: Transmit): void {
    let transmit = sent;
    if (this.shaper !== null) {
      const shaped = this.shaper.shape(from, sent, this.nowMs);
      if (shaped === null) return;
      transmit = shaped;
    }
    const link = transmit.link;
    const forward = this.edgeA[link] === from;
    const direction = this.directions[forward ? 2 * link : 2 * link + 1]!;
    const to = forward ? this.edgeB[link]! : this.edgeA[link]!;
    const arrival = direction.transmit(this.nowMs, transmit.bytes.length, transmit.data !== undefined);
    this.observer.onTransmit?.(from, this.edges[link]!, transmit, arrival);
    if (typeof arrival !== 'number') return;
    this.queue.push(arrival, this.events.packet(to, link, forward, direction.epoch, transmit.bytes));
  }
}
