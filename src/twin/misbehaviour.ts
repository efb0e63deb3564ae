/**
 * Nodes that misbehave, built around the real node code instead of into it: the twin's network
 * layer passes every transmit of a misbehaving node through here before it reaches the link.
 *
 * - A grey hole drops a share of the data packets it forwards (those whose source is another
 *   node); what it originates, and what is delivered to it, is untouched. A real grey hole keeps
 *   its routing alive, and so does this one: MeshNode skips a probe to a neighbour it has just
 *   sent data to (data is evidence of liveness), so a node whose data vanished would fall silent
 *   on that link and be declared down. Where it drops a data packet and nothing else has gone to
 *   that neighbour for a probe interval, it sends a probe in its place, as the node's own
 *   probe would have been.
 * - A bogus-metrics node rewrites the Update TLVs of its control packets (decode, change the
 *   metric, encode), advertising every route it forwards as nearly free; retractions and its
 *   own route are left alone.
 */

import { clockUs } from '../mesh/neighbour.js';
import type { Transmit } from '../mesh/types.js';
import { decodePacket, encodePacket } from '../wire/codec.js';
import { metricInfinity, packetHeaderBytes, tlvHeaderBytes, wireVersion } from '../wire/limits.js';
import { ProbeState, TlvType, type Tlv } from '../wire/messages.js';
import type { Network, TransmitShaper } from './network.js';
import type { Prng } from './prng.js';

/** One active misbehaviour of a node: a drop share, or an advertised metric. */
interface Active {
  readonly value: number;
}

/** The misbehaviour of every node, applied to its transmits (see the module comment). */
export class Misbehaviour implements TransmitShaper {
  /** Data packets each node's grey hole dropped (ground truth, not a feature). */
  readonly dropped: Float64Array;
  /** Control packets whose Update metrics each node rewrote. */
  readonly rewritten: Float64Array;
  private readonly dropShare: Float64Array;
  private readonly bogusMetric: Int32Array;
  private readonly drops: Active[][];
  private readonly bogus: Active[][];
  /**
   * Last time each node put a probe or a data packet (what keeps a probe session alive; a Hello
   * does not) on each direction of each edge (index 2 * edge + from-is-b).
   */
  private readonly lastLivenessMs: Float64Array;
  private readonly streams: Prng[];

  constructor(
    private readonly network: Network,
    rng: Prng,
  ) {
    const n = network.nodes.length;
    this.dropped = new Float64Array(n);
    this.rewritten = new Float64Array(n);
    this.dropShare = new Float64Array(n);
    this.bogusMetric = new Int32Array(n).fill(-1);
    this.drops = Array.from({ length: n }, () => []);
    this.bogus = Array.from({ length: n }, () => []);
    this.lastLivenessMs = new Float64Array(2 * network.edges.length).fill(Number.NEGATIVE_INFINITY);
    this.streams = network.nodes.map((node) => rng.split('node', node.index));
  }

  /** Makes `node` drop `share` of the data it forwards; returns the undo. Overlapping grey holes: the largest share applies. */
  greyHole(node: number, share: number): () => void {
    return this.activate(this.drops, node, share, () => {
      this.dropShare[node] = Math.max(0, ...this.drops[node]!.map((a) => a.value));
    });
  }

  /** Makes `node` advertise `metric` for the routes it forwards; returns the undo. Overlaps: the lowest metric applies. */
  bogusMetrics(node: number, metric: number): () => void {
    return this.activate(this.bogus, node, metric, () => {
      const active = this.bogus[node]!;
      this.bogusMetric[node] = active.length === 0 ? -1 : Math.min(...active.map((a) => a.value));
    });
  }

  /** TransmitShaper: drops or rewrites what a misbehaving node sends; passes everything else. */
  shape(from: number, transmit: Transmit, nowMs: number): Transmit | null {
    const data = transmit.data;
    if (data !== undefined) {
      const share = this.dropShare[from]!;
      if (share > 0 && data.src !== this.network.nodes[from]!.id && this.streams[from]!.next() < share) {
        this.dropped[from]!++;
        return this.stayAlive(from, transmit, nowMs);
      }
    } else if (this.bogusMetric[from]! >= 0) {
      return this.sent(from, this.rewrite(from, transmit), nowMs);
    }
    return this.sent(from, transmit, nowMs);
  }

  private activate(lists: Active[][], node: number, value: number, update: () => void): () => void {
    const entry: Active = { value };
    lists[node]!.push(entry);
    update();
    return () => {
      const list = lists[node]!;
      const at = list.indexOf(entry);
      if (at >= 0) list.splice(at, 1);
      update();
    };
  }

  private directionOf(from: number, link: number): number {
    return 2 * link + (this.network.edges[link]!.a === from ? 0 : 1);
  }

  private sent(from: number, transmit: Transmit, nowMs: number): Transmit {
    if (transmit.data !== undefined || carriesProbe(transmit.bytes)) this.lastLivenessMs[this.directionOf(from, transmit.link)] = nowMs;
    return transmit;
  }

  /**
   * In place of a dropped data packet: a probe, when the neighbour has had no probe or data from
   * the node for half a probe interval. The node's own probe rounds skip a neighbour that got
   * data within the last half interval, so the neighbour never waits much longer than an
   * interval between liveness packets, far inside its detection time of three.
   */
  private stayAlive(from: number, dropped: Transmit, nowMs: number): Transmit | null {
    const profile = this.network.profile;
    const intervalMs = profile.probeIntervalMs;
    if (intervalMs === null) return null;
    const direction = this.directionOf(from, dropped.link);
    if (nowMs - this.lastLivenessMs[direction]! < intervalMs / 2) return null;
    this.lastLivenessMs[direction] = nowMs;
    // The node sends data on this link only while its session there is up, so its probe says up.
    const probe: Tlv = {
      type: 'probe',
      sender: this.network.nodes[from]!.id,
      state: ProbeState.up,
      detectMult: profile.probeDetectMult,
      intervalMs,
      txUs: clockUs(nowMs),
      echoUs: 0,
      holdUs: 0,
    };
    return { link: dropped.link, bytes: encodePacket([probe]) };
  }

  private rewrite(from: number, transmit: Transmit): Transmit {
    const metric = this.bogusMetric[from]!;
    const own = this.network.nodes[from]!.id;
    const tlvs = decodePacket(transmit.bytes);
    let changed = false;
    const out = tlvs.map((tlv): Tlv => {
      if (tlv.type !== 'update' || tlv.source === own || tlv.metric === metricInfinity || tlv.metric <= metric) return tlv;
      changed = true;
      return { ...tlv, metric };
    });
    if (!changed) return transmit;
    this.rewritten[from]!++;
    return { link: transmit.link, bytes: encodePacket(out) };
  }
}

/**
 * Whether a control packet holds a probe, read from the TLV headers alone. Bytes that are not
 * a plain mesh packet (sealed by the secure layer) count as holding one: the twin cannot look
 * inside, and a probe is what most control packets are.
 */
export function carriesProbe(bytes: Uint8Array): boolean {
  if (bytes[0] !== wireVersion) return true;
  for (let at = packetHeaderBytes; at + tlvHeaderBytes <= bytes.length; at += tlvHeaderBytes + ((bytes[at + 1]! << 8) | bytes[at + 2]!)) {
    if (bytes[at] === TlvType.probe) return true;
  }
  return false;
}
