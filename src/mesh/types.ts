import type { NodeId } from '../wire/ids.js';
import type { DataTlv } from '../wire/messages.js';
import type { DownReason, LinkId } from './neighbour.js';

/** What the driver hands the core. */
export type MeshInput =
  | { readonly kind: 'timer' }
  | { readonly kind: 'datagram'; readonly link: LinkId; readonly bytes: Uint8Array }
  | AddLinkInput
  | { readonly kind: 'removeLink'; readonly link: LinkId }
  /** A hint from the driver: a send on `link` failed because the network there is unreachable (Neighbour.linkUnreachable). */
  | { readonly kind: 'linkUnreachable'; readonly link: LinkId }
  /** Puts `extraCost` (0..65534; 0 removes it) on top of `link`'s measured cost, so routes prefer other links (a self-healing action). */
  | { readonly kind: 'linkPenalty'; readonly link: LinkId; readonly extraCost: number }
  | SendInput
  | PingInput
  | TransitInput
  | { readonly kind: 'drain' }
  | { readonly kind: 'shutdown' };

/**
 * Whether this node may route others' traffic through the neighbour on `link` (a transit
 * policy). When not, routes learned on the link count as retracted, except the route to the
 * neighbour itself: the node goes around it. Like a Babel input filter, it only removes routes,
 * so it cannot form a loop.
 */
export interface TransitInput {
  readonly kind: 'transit';
  readonly link: LinkId;
  readonly allowed: boolean;
}

/**
 * A new link. `passive` (used by the secure layer only): say nothing on it until an
 * authenticated handshake message arrives there; a driver adds links to addresses it merely
 * heard from this way, so that a stranger's bytes never make a node speak.
 */
export interface AddLinkInput {
  readonly kind: 'addLink';
  readonly link: LinkId;
  readonly passive?: boolean;
}

/** Send an application datagram to `dst`. */
export interface SendInput {
  readonly kind: 'send';
  readonly dst: NodeId;
  readonly id: number;
  readonly payload: Uint8Array;
  readonly hopLimit?: number;
}

/** Send an echo request (ping); with a small hop limit it is a traceroute probe. */
export interface PingInput {
  readonly kind: 'ping';
  readonly dst: NodeId;
  readonly id: number;
  readonly hopLimit?: number;
  readonly payload?: Uint8Array;
  /**
   * The link to send the request on instead of the route's next hop: a transit probe, which
   * tests that the neighbour on that link forwards data (see transitProbeTarget). Dropped and
   * counted as no route when that neighbour is not usable.
   */
  readonly via?: LinkId;
}

/** A datagram for the driver to put on a link. `data` is set for routed datagrams, for tracing. */
export interface Transmit {
  readonly link: LinkId;
  readonly bytes: Uint8Array;
  readonly data?: DataTlv;
}

/**
 * The data one link carried since it was added (MeshNode.dataCounts): totals that only grow.
 * `handedTo` is the transit among `sent` (addressed to a third node, not the neighbour), and
 * `receivedFrom` the transit among `received` (originated by a third node, not the neighbour).
 */
export interface LinkDataCounts {
  readonly link: LinkId;
  readonly peer: NodeId | null;
  readonly usable: boolean;
  readonly sent: number;
  readonly handedTo: number;
  readonly received: number;
  readonly receivedFrom: number;
}

/** Something the node reports to its driver and operator. */
export type MeshEvent =
  | { readonly kind: 'neighbourUp'; readonly link: LinkId; readonly peer: NodeId; readonly cost: number }
  | { readonly kind: 'neighbourDown'; readonly link: LinkId; readonly peer: NodeId; readonly reason: DownReason }
  | { readonly kind: 'routeChanged'; readonly dst: NodeId; readonly link: LinkId | null; readonly metric: number }
  | { readonly kind: 'delivered'; readonly src: NodeId; readonly id: number; readonly payload: Uint8Array; readonly hopLimit: number }
  | { readonly kind: 'echoReply'; readonly from: NodeId; readonly id: number; readonly hopLimit: number }
  | LinkMessageEvent
  | FeedbackEvent;

/** A link message from the authenticated peer of `link` (only a secure layer emits these: SecureNode.sealLinkMessage). */
export interface LinkMessageEvent {
  readonly kind: 'linkMessage';
  readonly link: LinkId;
  readonly peer: NodeId;
  readonly payload: Uint8Array;
}

/** Routed error feedback, or a local send that found no route (reporter is this node). */
export interface FeedbackEvent {
  readonly kind: 'unreachable' | 'hopLimitExceeded';
  readonly reporter: NodeId;
  readonly dst: NodeId;
  readonly id: number;
}

/** Everything one `handle` call produced, and when the core next needs a timer call. */
export interface MeshOutput {
  readonly sends: readonly Transmit[];
  readonly events: readonly MeshEvent[];
  readonly nextDeadlineMs: number;
}

/** Counters a node keeps about itself. */
export interface MeshStats {
  decodeErrors: number;
  unknownLink: number;
  dataForwarded: number;
  dataDelivered: number;
  dropNoRoute: number;
  dropHopLimit: number;
  controlBytesSent: number;
  /** Control packets sent (each copy on each link counts once), for control traffic per link and second. */
  controlPacketsSent: number;
  /** Probes not sent because a data packet had just gone to that neighbour (data is evidence of liveness too). */
  probesSpared: number;
  dataBytesSent: number;
  seqnoRequestsSent: number;
  /** Route queries that every neighbour answered, letting this node forget a feasibility distance. */
  queriesCompleted: number;
  updatesReceived: number;
  updatesChanged: number;
  advertsSent: number;
  /** Updates dropped because the node already keeps sourcesMax sources. */
  sourcesRejected: number;
  /** Packets dropped because a Hello or probe claimed another sender than the link's pinned peer. */
  senderMismatch: number;
}

/** A fresh set of node counters, all zero. */
export function newMeshStats(): MeshStats {
  return {
    decodeErrors: 0,
    unknownLink: 0,
    dataForwarded: 0,
    dataDelivered: 0,
    dropNoRoute: 0,
    dropHopLimit: 0,
    controlBytesSent: 0,
    controlPacketsSent: 0,
    probesSpared: 0,
    dataBytesSent: 0,
    seqnoRequestsSent: 0,
    queriesCompleted: 0,
    updatesReceived: 0,
    updatesChanged: 0,
    advertsSent: 0,
    sourcesRejected: 0,
    senderMismatch: 0,
  };
}
