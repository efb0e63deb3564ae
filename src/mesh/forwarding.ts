import { encodePacket, withHopLimit } from '../wire/codec.js';
import { isNodeId, type NodeId } from '../wire/ids.js';
import { DataKind, type DataKindValue, type DataTlv } from '../wire/messages.js';
import type { Neighbour } from './neighbour.js';
import type { MeshEvent, MeshStats, Transmit } from './types.js';

/** Hop limit of datagrams this node originates unless the caller sets one. */
export const hopLimitDefault = 64;
/** Bytes of the payload of routed error feedback: original kind (u8) and destination (u32). */
export const feedbackPayloadBytes = 5;

/** What forwarding needs from the node: its id, its routes, and where outputs go. */
export interface ForwardingContext {
  readonly id: NodeId;
  readonly stats: MeshStats;
  nextHop(dst: NodeId): Neighbour | null;
  transmit(transmit: Transmit): void;
  emit(event: MeshEvent): void;
}

/** True for the kinds that report an error; no error is ever sent about one (as in ICMP). */
export function isFeedback(kind: DataKindValue): boolean {
  return kind === DataKind.unreachable || kind === DataKind.hopLimitExceeded;
}

/** Payload of error feedback: the failed datagram's kind and destination (its id travels in the header). */
export function encodeFeedbackPayload(kind: DataKindValue, dst: NodeId): Uint8Array {
  const bytes = new Uint8Array(feedbackPayloadBytes);
  bytes[0] = kind;
  new DataView(bytes.buffer).setUint32(1, dst);
  return bytes;
}

/** Decodes a feedback payload; null when it is malformed (then the feedback is ignored). */
export function decodeFeedbackPayload(payload: Uint8Array): { kind: number; dst: NodeId } | null {
  if (payload.length !== feedbackPayloadBytes) return null;
  const dst = new DataView(payload.buffer, payload.byteOffset, payload.length).getUint32(1);
  return isNodeId(dst) ? { kind: payload[0]!, dst } : null;
}

/** Sends a datagram this node originates; reports unreachable locally when there is no route. */
export function originate(ctx: ForwardingContext, tlv: DataTlv): void {
  if (tlv.dst === ctx.id) {
    deliverLocally(ctx, tlv);
    return;
  }
  const hop = ctx.nextHop(tlv.dst);
  if (hop === null) {
    ctx.stats.dropNoRoute++;
    if (!isFeedback(tlv.kind)) ctx.emit({ kind: 'unreachable', reporter: ctx.id, dst: tlv.dst, id: tlv.id });
    return;
  }
  send(ctx, hop, tlv);
}

/** Sends a datagram this node originates on `hop`'s link, whatever the routes say (a transit probe). */
export function sendVia(ctx: ForwardingContext, hop: Neighbour, tlv: DataTlv): void {
  send(ctx, hop, tlv);
}

/** Handles a datagram received from a neighbour: deliver it here or forward it one hop on. */
export function receiveData(ctx: ForwardingContext, tlv: DataTlv, packet: Uint8Array | null = null): void {
  if (tlv.dst === ctx.id) {
    deliverLocally(ctx, tlv);
    return;
  }
  if (tlv.hopLimit <= 1) {
    ctx.stats.dropHopLimit++;
    sendFeedback(ctx, tlv, DataKind.hopLimitExceeded);
    return;
  }
  const hop = ctx.nextHop(tlv.dst);
  if (hop === null) {
    ctx.stats.dropNoRoute++;
    sendFeedback(ctx, tlv, DataKind.unreachable);
    return;
  }
  ctx.stats.dataForwarded++;
  // Field by field, not a spread: this runs for every forwarded packet, and a spread copies through a slow path.
  const forwarded: DataTlv = { type: 'data', kind: tlv.kind, hopLimit: tlv.hopLimit - 1, src: tlv.src, dst: tlv.dst, id: tlv.id, payload: tlv.payload };
  send(ctx, hop, forwarded, packet);
}

/**
 * Puts `tlv` on `hop`'s link. `packet`, when given, is the packet `tlv` arrived in alone: it is
 * copied with the new hop limit instead of encoded afresh (most of a transit node's work).
 */
function send(ctx: ForwardingContext, hop: Neighbour, tlv: DataTlv, packet: Uint8Array | null = null): void {
  const bytes = packet === null ? encodePacket([tlv]) : withHopLimit(packet, tlv.hopLimit);
  ctx.stats.dataBytesSent += bytes.length;
  ctx.transmit({ link: hop.link, bytes, data: tlv });
}

function sendFeedback(ctx: ForwardingContext, failed: DataTlv, kind: DataKindValue): void {
  if (isFeedback(failed.kind)) return;
  originate(ctx, {
    type: 'data',
    kind,
    hopLimit: hopLimitDefault,
    src: ctx.id,
    dst: failed.src,
    id: failed.id,
    payload: encodeFeedbackPayload(failed.kind, failed.dst),
  });
}

function deliverLocally(ctx: ForwardingContext, tlv: DataTlv): void {
  ctx.stats.dataDelivered++;
  switch (tlv.kind) {
    case DataKind.app:
      ctx.emit({ kind: 'delivered', src: tlv.src, id: tlv.id, payload: tlv.payload, hopLimit: tlv.hopLimit });
      return;
    case DataKind.echoRequest:
      originate(ctx, { ...tlv, kind: DataKind.echoReply, src: ctx.id, dst: tlv.src, hopLimit: hopLimitDefault });
      return;
    case DataKind.echoReply:
      ctx.emit({ kind: 'echoReply', from: tlv.src, id: tlv.id, hopLimit: tlv.hopLimit });
      return;
    default:
      deliverFeedback(ctx, tlv);
  }
}

function deliverFeedback(ctx: ForwardingContext, tlv: DataTlv): void {
  const original = decodeFeedbackPayload(tlv.payload);
  if (original === null) return;
  const kind = tlv.kind === DataKind.unreachable ? 'unreachable' : 'hopLimitExceeded';
  ctx.emit({ kind, reporter: tlv.src, dst: original.dst, id: tlv.id });
}
