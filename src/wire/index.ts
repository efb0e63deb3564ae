/** Public API of the wire module: identities, limits, message shapes, errors and the packet codec. */
export { formatNodeId, isNodeId, nodeId, nodeIdMax, parseNodeId, type NodeId } from './ids.js';
export {
  dataHeaderBytes,
  metricInfinity,
  packetBytesMax,
  packetHeaderBytes,
  payloadBytesMax,
  tlvHeaderBytes,
  tlvsPerPacketMax,
  wireVersion,
} from './limits.js';
export {
  DataKind,
  ProbeState,
  TlvType,
  type DataKindValue,
  type DataTlv,
  type HelloTlv,
  type IhuTlv,
  type ProbeStateValue,
  type ProbeTlv,
  type QueryReplyTlv,
  type QueryTlv,
  type RouteRequestTlv,
  type SeqnoRequestTlv,
  type Tlv,
  type UpdateTlv,
} from './messages.js';
export { WireError, WireErrorCode, isWireError, type WireErrorCodeValue } from './errors.js';
export { decodePacket, encodePacket, packTlvs, tlvBytes } from './codec.js';
