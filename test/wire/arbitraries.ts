/** fast-check arbitraries for every TLV type and for whole packets, shared by the wire tests. */
import fc from 'fast-check';
import { nodeIdMax, type NodeId } from '../../src/wire/ids.js';
import { packetBytesMax, packetHeaderBytes, payloadBytesMax, tlvsPerPacketMax } from '../../src/wire/limits.js';
import type {
  DataKindValue,
  DataTlv,
  HelloTlv,
  IhuTlv,
  ProbeStateValue,
  ProbeTlv,
  QueryReplyTlv,
  QueryTlv,
  RouteRequestTlv,
  SeqnoRequestTlv,
  Tlv,
  UpdateTlv,
} from '../../src/wire/messages.js';
import { tlvBytes } from '../../src/wire/codec.js';

/** Decoded TLVs are plain objects, so generated ones must be too (toStrictEqual compares prototypes). */
const plain = { noNullPrototype: true } as const;

export const u8 = fc.integer({ min: 0, max: 0xff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
export const interval = fc.integer({ min: 1, max: 0xffff });
export const nodeIdArb: fc.Arbitrary<NodeId> = fc.integer({ min: 1, max: nodeIdMax }).map((n) => n as NodeId);

export const helloArb: fc.Arbitrary<HelloTlv> = fc.record({
  type: fc.constant('hello' as const),
  sender: nodeIdArb,
  seqno: u16,
  intervalMs: interval,
  timestampUs: u32,
}, plain);

export const ihuArb: fc.Arbitrary<IhuTlv> = fc.record({
  type: fc.constant('ihu' as const),
  rxCost: u16,
  intervalMs: interval,
  originUs: u32,
  holdUs: u32,
}, plain);

export const probeArb: fc.Arbitrary<ProbeTlv> = fc.record({
  type: fc.constant('probe' as const),
  sender: nodeIdArb,
  state: fc.constantFrom<ProbeStateValue>(0, 1, 2),
  detectMult: fc.integer({ min: 1, max: 0xff }),
  intervalMs: interval,
  txUs: u32,
  echoUs: u32,
  holdUs: u32,
}, plain);

export const updateArb: fc.Arbitrary<UpdateTlv> = fc.record({
  type: fc.constant('update' as const),
  source: nodeIdArb,
  seqno: u16,
  metric: u16,
  intervalMs: interval,
}, plain);

export const routeRequestArb: fc.Arbitrary<RouteRequestTlv> = fc.record({
  type: fc.constant('routeRequest' as const),
  source: fc.option(nodeIdArb, { nil: null }),
}, plain);

export const seqnoRequestArb: fc.Arbitrary<SeqnoRequestTlv> = fc.record({
  type: fc.constant('seqnoRequest' as const),
  source: nodeIdArb,
  seqno: u16,
  hopCount: fc.integer({ min: 1, max: 0xff }),
  requester: nodeIdArb,
}, plain);

export const queryArb: fc.Arbitrary<QueryTlv> = fc.record({
  type: fc.constant('query' as const),
  source: nodeIdArb,
  nonce: u16,
}, plain);

export const queryReplyArb: fc.Arbitrary<QueryReplyTlv> = fc.record({
  type: fc.constant('queryReply' as const),
  source: nodeIdArb,
  nonce: u16,
  seqno: u16,
  metric: u16,
}, plain);

/** A Data TLV whose payload has at most `payloadBytes` bytes. */
export function dataArb(payloadBytes: number): fc.Arbitrary<DataTlv> {
  return fc.record({
    type: fc.constant('data' as const),
    kind: fc.constantFrom<DataKindValue>(0, 1, 2, 3, 4),
    hopLimit: u8,
    src: nodeIdArb,
    dst: nodeIdArb,
    id: u32,
    payload: fc.uint8Array({ maxLength: payloadBytes }),
  }, plain);
}

/** Any TLV with a small payload, so that many fit in one packet. */
export const tlvArb: fc.Arbitrary<Tlv> = fc.oneof(
  helloArb,
  ihuArb,
  probeArb,
  updateArb,
  routeRequestArb,
  seqnoRequestArb,
  dataArb(48),
  queryArb,
  queryReplyArb,
);

/** Any TLV, including Data TLVs up to the largest payload a packet can carry. */
export const anyTlvArb: fc.Arbitrary<Tlv> = fc.oneof(tlvArb, dataArb(payloadBytesMax));

/** A list of TLVs that fits in one packet (by bytes and by count). */
export const packetTlvsArb: fc.Arbitrary<Tlv[]> = fc
  .array(tlvArb, { minLength: 1, maxLength: tlvsPerPacketMax })
  .map((tlvs) => {
    // Keep the longest prefix that fits, so the arbitrary never wastes runs on filtering.
    let bytes = packetHeaderBytes;
    let end = 0;
    while (end < tlvs.length && bytes + tlvBytes(tlvs[end]!) <= packetBytesMax) {
      bytes += tlvBytes(tlvs[end]!);
      end++;
    }
    return tlvs.slice(0, end);
  });
