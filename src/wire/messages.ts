import type { NodeId } from './ids.js';

/** TLV type codes on the wire (one byte). */
export const TlvType = {
  hello: 1,
  ihu: 2,
  probe: 3,
  update: 4,
  routeRequest: 5,
  seqnoRequest: 6,
  data: 7,
  query: 8,
  queryReply: 9,
} as const;

/** BFD-style session state carried in a probe (RFC 5880 states without AdminDown). */
export const ProbeState = { down: 0, init: 1, up: 2 } as const;
/** A probe session state as carried on the wire. */
export type ProbeStateValue = (typeof ProbeState)[keyof typeof ProbeState];

/** What a Data TLV carries: application payload, echo (ping), or routed error feedback. */
export const DataKind = {
  app: 0,
  echoRequest: 1,
  echoReply: 2,
  unreachable: 3,
  hopLimitExceeded: 4,
} as const;
/** A Data TLV kind as carried on the wire. */
export type DataKindValue = (typeof DataKind)[keyof typeof DataKind];

/** Babel Hello (RFC 8966 4.6.5) with the RFC 9616 timestamp of its sending. */
export interface HelloTlv {
  readonly type: 'hello';
  readonly sender: NodeId;
  readonly seqno: number; // u16
  readonly intervalMs: number; // u16, >= 1
  readonly timestampUs: number; // u32, sender's clock modulo 2^32
}

/** Babel IHU (RFC 8966 4.6.6) with RFC 9616-style origin and hold times for RTT. */
export interface IhuTlv {
  readonly type: 'ihu';
  readonly rxCost: number; // u16
  readonly intervalMs: number; // u16, >= 1
  readonly originUs: number; // u32: timestamp of the last Hello heard from the receiver of this IHU
  readonly holdUs: number; // u32: time between hearing that Hello and sending this IHU
}

/** BFD-like liveness probe: three-way state, the sender's timing, and an echo for RTT. */
export interface ProbeTlv {
  readonly type: 'probe';
  readonly sender: NodeId;
  readonly state: ProbeStateValue;
  readonly detectMult: number; // u8, >= 1
  readonly intervalMs: number; // u16, >= 1
  readonly txUs: number; // u32
  readonly echoUs: number; // u32: txUs of the last probe heard from the receiver (0: none)
  readonly holdUs: number; // u32: time between hearing it and sending this one
}

/** Babel Update (RFC 8966 4.6.9) for the route to `source`; metric 0xFFFF is a retraction. */
export interface UpdateTlv {
  readonly type: 'update';
  readonly source: NodeId;
  readonly seqno: number; // u16
  readonly metric: number; // u16
  readonly intervalMs: number; // u16, >= 1
}

/** Babel Route Request (RFC 8966 4.6.10); `source: null` is the wildcard (full dump). */
export interface RouteRequestTlv {
  readonly type: 'routeRequest';
  readonly source: NodeId | null;
}

/** Babel Seqno Request (RFC 8966 4.6.11), forwarded toward `source`. */
export interface SeqnoRequestTlv {
  readonly type: 'seqnoRequest';
  readonly source: NodeId;
  readonly seqno: number; // u16
  readonly hopCount: number; // u8, >= 1
  readonly requester: NodeId;
}

/**
 * Route query (not in RFC 8966): sent to every neighbour right after a retraction of `source`
 * (and itself counting as one), it asks each to answer, once it no longer routes to `source`
 * through the sender, with a QueryReply carrying the same nonce and its current route. When
 * all have answered, nothing routes through the sender any more, so it may forget its
 * feasibility distance (as a fresh node may) instead of waiting for a new seqno from a
 * possibly distant source.
 */
export interface QueryTlv {
  readonly type: 'query';
  readonly source: NodeId;
  readonly nonce: number; // u16
}

/**
 * The answer to a QueryTlv: the answering node's current route to `source` (metric 0xFFFF: none),
 * carried in the reply itself so that it cannot be split from it and lost on its own.
 */
export interface QueryReplyTlv {
  readonly type: 'queryReply';
  readonly source: NodeId;
  readonly nonce: number; // u16
  readonly seqno: number; // u16
  readonly metric: number; // u16
}

/** A routed datagram addressed by NodeId with a hop limit. */
export interface DataTlv {
  readonly type: 'data';
  readonly kind: DataKindValue;
  readonly hopLimit: number; // u8
  readonly src: NodeId;
  readonly dst: NodeId;
  readonly id: number; // u32
  readonly payload: Uint8Array;
}

/** Any TLV this version of the wire format defines. */
export type Tlv = HelloTlv | IhuTlv | ProbeTlv | UpdateTlv | RouteRequestTlv | SeqnoRequestTlv | DataTlv | QueryTlv | QueryReplyTlv;
