/**
 * A tiny deterministic in-process driver for MeshNode tests, independent of the twin: N nodes,
 * point-to-point FIFO links with a one-way delay, one ordered queue of deliveries and timers,
 * and virtual time. It exists so that the routing core can be tested without the twin's link
 * models and fault machinery, and so that a failure points at the core and not at the driver.
 */
import { MeshNode } from '../../src/mesh/node.js';
import type { LinkId } from '../../src/mesh/neighbour.js';
import type { TimingProfile } from '../../src/mesh/profiles.js';
import type { MeshEvent, MeshInput, MeshOutput } from '../../src/mesh/types.js';
import { decodePacket, encodePacket } from '../../src/wire/codec.js';
import { nodeId, type NodeId } from '../../src/wire/ids.js';
import type { Tlv } from '../../src/wire/messages.js';

/** Mulberry32: a small seeded generator of uniform numbers in [0, 1), enough for jitter in tests. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** One undirected link between node indexes `a` and `b`; its LinkId at both ends is its index. */
export interface LinkSpec {
  readonly a: number;
  readonly b: number;
  /** One-way delay in both directions; 1 ms unless set. */
  readonly delayMs?: number;
}

/** Decides what of a packet that `from` put on `link` arrives: the TLVs returned (none drops it). */
export type PacketFilter = (from: number, link: number, tlvs: readonly Tlv[]) => readonly Tlv[];

/** How a harness is set up. */
export interface HarnessOptions {
  readonly profile?: TimingProfile;
  readonly emitRouteEvents?: boolean;
  readonly seed?: number;
  /** Record every packet put on a link, decoded, in `sent`. */
  readonly trace?: boolean;
}

/** An event a node reported, when, and in which `handle` call (calls are numbered globally). */
export interface RecordedEvent<E extends MeshEvent = MeshEvent> {
  readonly atMs: number;
  readonly call: number;
  readonly event: E;
}

/** A packet a node put on a link (recorded before the link or the filter could drop it). */
export interface SentPacket {
  readonly atMs: number;
  readonly from: number;
  readonly link: number;
  readonly tlvs: readonly Tlv[];
}

/** A copy of one `handle` call's output, safe to keep after later calls. */
export interface CallResult {
  readonly sends: readonly { readonly link: number; readonly tlvs: readonly Tlv[] }[];
  readonly events: readonly MeshEvent[];
  readonly nextDeadlineMs: number;
}

interface Scheduled {
  readonly atMs: number;
  readonly seq: number;
  readonly node: number;
  /** A delivery carries bytes and the link generation it was sent in; a timer carries the node's boot. */
  readonly delivery: { readonly link: number; readonly bytes: Uint8Array; readonly generation: number } | null;
  readonly boot: number;
}

/** Events processed by one `runUntil` before it assumes a node is spinning on a past deadline. */
const eventsPerRunMax = 2_000_000;

/** Drives MeshNodes over virtual time; node `i` has NodeId i + 1. */
export class Harness {
  readonly ids: NodeId[];
  /** The links as they are now (see `rewire`). */
  readonly links: readonly LinkSpec[];
  private readonly spec: LinkSpec[];
  /** Links that `rewire` moved at least once. */
  private readonly rewired = new Set<number>();
  /** `${link}:${node}` for each node a link was moved away from: what it still sends there is dropped. */
  private readonly formerEnds = new Set<string>();
  readonly events: RecordedEvent[][];
  readonly sent: SentPacket[] = [];
  /** Set to rewrite or drop packets in flight; null lets everything through. */
  filter: PacketFilter | null = null;
  nowMs = 0;
  private readonly meshes: (MeshNode | null)[];
  private readonly boots: number[];
  private readonly timerAtMs: number[];
  private readonly linkUp: boolean[];
  private readonly linkGeneration: number[];
  private readonly delayMs: number[];
  /** Per link and direction (2 * link, + 1 towards `b`): when the last packet sent arrives. */
  private readonly lastArrivalMs: number[];
  /** Sorted by (atMs, seq) descending, so that the next item is popped from the end. */
  private readonly queue: Scheduled[] = [];
  private seq = 0;
  private calls = 0;
  private readonly options: HarnessOptions;

  constructor(nodeCount: number, links: readonly LinkSpec[], options: HarnessOptions = {}) {
    this.options = options;
    this.spec = [...links];
    this.links = this.spec;
    this.ids = Array.from({ length: nodeCount }, (_, i) => nodeId(i + 1));
    this.events = Array.from({ length: nodeCount }, () => []);
    this.meshes = Array.from({ length: nodeCount }, () => null);
    this.boots = Array.from({ length: nodeCount }, () => 0);
    this.timerAtMs = Array.from({ length: nodeCount }, () => Number.POSITIVE_INFINITY);
    this.linkUp = links.map(() => true);
    this.linkGeneration = links.map(() => 0);
    this.delayMs = links.map((link) => link.delayMs ?? 1);
    this.lastArrivalMs = links.flatMap(() => [0, 0]);
    for (let i = 0; i < nodeCount; i++) this.restart(i);
  }

  /** The NodeId of node `index`. */
  id(index: number): NodeId {
    const id = this.ids[index];
    if (id === undefined) throw new Error(`harness: no node ${index}`);
    return id;
  }

  /** The MeshNode of node `index`; throws while it is crashed. */
  node(index: number): MeshNode {
    const mesh = this.meshes[index];
    if (mesh === null || mesh === undefined) throw new Error(`harness: node ${index} is not running`);
    return mesh;
  }

  /** The LinkId of the link between nodes `a` and `b`. */
  linkBetween(a: number, b: number): LinkId {
    const index = this.links.findIndex((l) => (l.a === a && l.b === b) || (l.a === b && l.b === a));
    if (index < 0) throw new Error(`harness: no link between ${a} and ${b}`);
    return index as LinkId;
  }

  /** Hands `input` to node `index` now, carries out its output, and returns a copy of it. */
  input(index: number, input: MeshInput): CallResult {
    const output = this.node(index).handle(this.nowMs, input);
    const copy: CallResult = {
      sends: output.sends.map((t) => ({ link: t.link, tlvs: decodePacket(t.bytes) })),
      events: [...output.events],
      nextDeadlineMs: output.nextDeadlineMs,
    };
    this.apply(index, output);
    return copy;
  }

  /** Processes deliveries and timers up to and including `untilMs`, then sets the clock there. */
  runUntil(untilMs: number): void {
    let processed = 0;
    for (let next = this.queue.at(-1); next !== undefined && next.atMs <= untilMs; next = this.queue.at(-1)) {
      this.queue.pop();
      this.nowMs = next.atMs;
      if (++processed > eventsPerRunMax) throw new Error(`harness: more than ${eventsPerRunMax} events before ${untilMs} ms`);
      this.dispatch(next);
    }
    this.nowMs = Math.max(this.nowMs, untilMs);
  }

  /** Runs for `ms` more milliseconds of virtual time. */
  runFor(ms: number): void {
    this.runUntil(this.nowMs + ms);
  }

  /** Cuts `link`: packets on it, including those in flight, are lost until it is restored. */
  cut(link: number): void {
    this.linkUp[link] = false;
    this.linkGeneration[link]!++;
  }

  /** Restores a cut link. */
  restore(link: number): void {
    this.linkUp[link] = true;
  }

  /**
   * Moves the far end of `link` from the node at the other end of `keep` to `to`, as when a
   * cable is plugged into another node: packets in flight are lost, `keep` hears `to` on the
   * link from now on, and the former end hears nothing (what it sends is dropped) until its
   * detection fires. `to` gets the link only once the caller hands it `addLink`.
   */
  rewire(link: number, keep: number, to: number): void {
    const spec = this.spec[link];
    if (spec === undefined || (spec.a !== keep && spec.b !== keep)) throw new Error(`harness: node ${keep} is not on link ${link}`);
    const former = spec.a === keep ? spec.b : spec.a;
    if (to === keep || to === former) throw new Error(`harness: link ${link} already joins ${keep} and ${to}`);
    this.spec[link] = { a: keep, b: to, delayMs: this.delayMs[link]! };
    this.rewired.add(link);
    this.formerEnds.add(`${link}:${former}`);
    this.formerEnds.delete(`${link}:${to}`);
    this.linkGeneration[link]!++;
    this.lastArrivalMs[2 * link] = 0;
    this.lastArrivalMs[2 * link + 1] = 0;
  }

  /**
   * The node that `node` routes to through `link`: the other end; on a link `rewire` moved,
   * the node it believes is there (its neighbour's peer), since until it notices the move it
   * still routes as if its former peer were there; null for none, or a node not in the harness.
   */
  across(node: number, link: number): number | null {
    const spec = this.spec[link];
    if (spec === undefined) return null;
    if (!this.rewired.has(link)) return spec.a === node ? spec.b : spec.b === node ? spec.a : null;
    const peer = this.meshes[node]?.neighbourViews().find((v) => v.link === link)?.peer ?? null;
    const index = peer === null ? -1 : this.ids.indexOf(peer);
    return index < 0 ? null : index;
  }

  /**
   * Changes the one-way delay of `link` for packets sent from now on. Links stay FIFO, as the
   * twin's are and as route queries need: after a decrease, a packet does not overtake one
   * sent before it, it arrives with it.
   */
  setDelay(link: number, delayMs: number): void {
    this.delayMs[link] = delayMs;
  }

  /** Stops node `index`; its state is lost, and it neither sends nor receives until restarted. */
  crash(index: number): void {
    this.meshes[index] = null;
    this.timerAtMs[index] = Number.POSITIVE_INFINITY;
  }

  /** Starts node `index` afresh (all state lost) with a random stream that depends on seed, node and boot. */
  restart(index: number): void {
    const boot = ++this.boots[index]!;
    const seed = ((this.options.seed ?? 1) * 0x9e3779b1 + index * 0x85ebca6b + boot * 0xc2b2ae35) >>> 0;
    const links: LinkId[] = [];
    this.links.forEach((l, i) => {
      if (l.a === index || l.b === index) links.push(i as LinkId);
    });
    this.meshes[index] = new MeshNode({
      id: this.ids[index]!,
      random: mulberry32(seed),
      links,
      ...(this.options.profile === undefined ? {} : { profile: this.options.profile }),
      ...(this.options.emitRouteEvents === undefined ? {} : { emitRouteEvents: this.options.emitRouteEvents }),
    });
    this.input(index, { kind: 'timer' });
  }

  /** The events of `kind` node `index` reported, oldest first. */
  eventsOf<K extends MeshEvent['kind']>(index: number, kind: K): RecordedEvent<Extract<MeshEvent, { kind: K }>>[] {
    return this.events[index]!.filter((r): r is RecordedEvent<Extract<MeshEvent, { kind: K }>> => r.event.kind === kind);
  }

  /** TLVs of `type` that node `from` put on links (needs `trace`). */
  sentTlvs<T extends Tlv['type']>(from: number, type: T): { atMs: number; link: number; tlv: Extract<Tlv, { type: T }> }[] {
    const found: { atMs: number; link: number; tlv: Extract<Tlv, { type: T }> }[] = [];
    for (const packet of this.sent) {
      if (packet.from !== from) continue;
      for (const tlv of packet.tlvs) {
        if (tlv.type === type) found.push({ atMs: packet.atMs, link: packet.link, tlv: tlv as Extract<Tlv, { type: T }> });
      }
    }
    return found;
  }

  private dispatch(item: Scheduled): void {
    const mesh = this.meshes[item.node];
    if (mesh === null || mesh === undefined) return;
    const delivery = item.delivery;
    if (delivery === null) {
      if (item.boot !== this.boots[item.node] || item.atMs !== this.timerAtMs[item.node]) return;
      this.timerAtMs[item.node] = Number.POSITIVE_INFINITY;
      this.apply(item.node, mesh.handle(this.nowMs, { kind: 'timer' }));
      return;
    }
    if (!this.linkUp[delivery.link] || delivery.generation !== this.linkGeneration[delivery.link]) return;
    this.apply(item.node, mesh.handle(this.nowMs, { kind: 'datagram', link: delivery.link as LinkId, bytes: delivery.bytes }));
  }

  private apply(index: number, output: MeshOutput): void {
    const call = ++this.calls;
    for (const event of output.events) this.events[index]!.push({ atMs: this.nowMs, call, event });
    for (const transmit of output.sends) this.carry(index, transmit.link, transmit.bytes);
    const deadline = output.nextDeadlineMs;
    if (deadline < this.timerAtMs[index]!) {
      this.timerAtMs[index] = Math.max(deadline, this.nowMs);
      this.schedule({ atMs: this.timerAtMs[index]!, seq: 0, node: index, delivery: null, boot: this.boots[index]! });
    }
  }

  private carry(from: number, link: number, sentBytes: Uint8Array): void {
    const spec = this.spec[link];
    if (spec !== undefined && spec.a !== from && spec.b !== from && this.formerEnds.has(`${link}:${from}`)) return;
    if (spec === undefined || (spec.a !== from && spec.b !== from)) throw new Error(`harness: node ${from} sent on foreign link ${link}`);
    let bytes: Uint8Array = sentBytes.slice();
    if (this.options.trace === true) this.sent.push({ atMs: this.nowMs, from, link, tlvs: decodePacket(bytes) });
    if (!this.linkUp[link]) return;
    if (this.filter !== null) {
      const tlvs = decodePacket(bytes);
      const kept = this.filter(from, link, tlvs);
      if (kept.length === 0) return;
      if (kept !== tlvs) bytes = encodePacket(kept);
    }
    const to = spec.a === from ? spec.b : spec.a;
    const delivery = { link, bytes, generation: this.linkGeneration[link]! };
    const direction = 2 * link + (to === spec.b ? 1 : 0);
    const atMs = Math.max(this.nowMs + this.delayMs[link]!, this.lastArrivalMs[direction]!);
    this.lastArrivalMs[direction] = atMs;
    this.schedule({ atMs, seq: 0, node: to, delivery, boot: 0 });
  }

  private schedule(item: Scheduled): void {
    const entry = { ...item, seq: ++this.seq };
    const queue = this.queue;
    // Binary search for the first entry that sorts after `entry` in descending (atMs, seq) order.
    let lo = 0;
    let hi = queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const other = queue[mid]!;
      const otherIsLater = other.atMs > entry.atMs || (other.atMs === entry.atMs && other.seq > entry.seq);
      if (otherIsLater) lo = mid + 1;
      else hi = mid;
    }
    queue.splice(lo, 0, entry);
  }
}

/** Drops every TLV of the given types from packets that match `when`. */
export function dropTlvs(types: readonly Tlv['type'][], when: (from: number, link: number) => boolean = () => true): PacketFilter {
  return (from, link, tlvs) => (when(from, link) ? tlvs.filter((tlv) => !types.includes(tlv.type)) : tlvs);
}
