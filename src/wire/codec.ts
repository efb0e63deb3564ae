/**
 * The packet codec: a version byte followed by TLVs (type u8, body length u16, body), all
 * integers big-endian, no padding and no trailing bytes.
 *
 * The encoding is canonical: every value has exactly one byte string, the encoder refuses values
 * the decoder would refuse, and the decoder refuses every byte string the encoder would not
 * produce. So decodePacket(encodePacket(x)) deep-equals x, and encodePacket(decodePacket(b))
 * equals b byte for byte whenever the decode succeeds. The one exception is -0, which the
 * encoder accepts as the integer 0 (arithmetic such as Math.round(-0.2) yields it) and which
 * therefore decodes as +0.
 *
 * This is a hot path for the simulator, so the encoder sizes a packet first and then fills one
 * buffer with shifts and byte stores, and the decoder reads bytes in place; error messages are
 * built only on failure.
 */
import { nodeIdMax, type NodeId } from './ids.js';
import {
  dataHeaderBytes,
  packetBytesMax,
  packetHeaderBytes,
  payloadBytesMax,
  tlvHeaderBytes,
  tlvsPerPacketMax,
  wireVersion,
} from './limits.js';
import {
  DataKind,
  ProbeState,
  TlvType,
  type DataKindValue,
  type DataTlv,
  type QueryReplyTlv,
  type QueryTlv,
  type HelloTlv,
  type IhuTlv,
  type ProbeStateValue,
  type ProbeTlv,
  type RouteRequestTlv,
  type SeqnoRequestTlv,
  type Tlv,
  type UpdateTlv,
} from './messages.js';
import { WireError, WireErrorCode } from './errors.js';
import { poolBytes } from './pool-bytes.js';

/** Body bytes of each fixed-size TLV (Data has a variable body: dataHeaderBytes + payload). */
const helloBodyBytes = 12;
const ihuBodyBytes = 12;
const probeBodyBytes = 20;
const updateBodyBytes = 10;
const routeRequestBodyBytes = 5;
const seqnoRequestBodyBytes = 12;
const queryBodyBytes = 6;
const queryReplyBodyBytes = 10;

/** Largest TLV (header included) that fits in a packet of its own. */
const tlvBytesMax = packetBytesMax - packetHeaderBytes;

const u8Max = 0xff;
const u16Max = 0xffff;
const u32Max = 0xffff_ffff;
const probeStateMax = ProbeState.up;
const dataKindMax = DataKind.hopLimitExceeded;
/** Route Request flag bit 0: the request is a wildcard (source 0 on the wire, null in memory). */
const routeRequestWildcard = 0x01;

// ---------------------------------------------------------------------------------------------
// Byte access. Callers have checked bounds, so the non-null assertions cannot fail; Uint8Array
// stores keep the low 8 bits, which is why the writers need no masks.

function readU16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function writeU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}

function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/** Writes a TLV header at `o` and returns the offset of its body. */
function writeTlvHeader(b: Uint8Array, o: number, code: number, bodyBytes: number): number {
  b[o] = code;
  writeU16(b, o + 1, bodyBytes);
  return o + tlvHeaderBytes;
}

// ---------------------------------------------------------------------------------------------
// Sizes.

/** Encoded size of `tlv` including its header; throws ERR_WIRE_ENCODE for a value with no size. */
function sizeOf(tlv: Tlv, caller: string, index: number): number {
  switch (tlv.type) {
    case 'hello':
      return tlvHeaderBytes + helloBodyBytes;
    case 'ihu':
      return tlvHeaderBytes + ihuBodyBytes;
    case 'probe':
      return tlvHeaderBytes + probeBodyBytes;
    case 'update':
      return tlvHeaderBytes + updateBodyBytes;
    case 'routeRequest':
      return tlvHeaderBytes + routeRequestBodyBytes;
    case 'seqnoRequest':
      return tlvHeaderBytes + seqnoRequestBodyBytes;
    case 'query':
      return tlvHeaderBytes + queryBodyBytes;
    case 'queryReply':
      return tlvHeaderBytes + queryReplyBodyBytes;
    case 'data':
      if (!(tlv.payload instanceof Uint8Array)) {
        throw encodeError(caller, index, 'data', `expected payload to be a Uint8Array, got ${describeValue(tlv.payload)}`);
      }
      return tlvHeaderBytes + dataHeaderBytes + tlv.payload.length;
    default:
      throw unknownTypeError(caller, index, tlv);
  }
}

/** Size of `tlv`, checked to fit in a packet on its own (the only way a single TLV can be too big). */
function sizeOfFitting(tlv: Tlv, caller: string, index: number): number {
  const size = sizeOf(tlv, caller, index);
  if (size > tlvBytesMax) {
    // Only a Data TLV can be variable-sized, so the payload is what is too long.
    const payloadBytes = size - tlvHeaderBytes - dataHeaderBytes;
    throw encodeError(caller, index, tlv.type, `expected payload of at most ${payloadBytesMax} bytes, got ${payloadBytes}`);
  }
  return size;
}

/** Encoded size of one TLV including its 3-byte header, so callers can pack TLVs under packetBytesMax. */
export function tlvBytes(tlv: Tlv): number {
  return sizeOf(tlv, 'tlvBytes', -1);
}

// ---------------------------------------------------------------------------------------------
// Encoding.

/** An ERR_WIRE_ENCODE error naming the caller, the TLV (by index in the caller's list, when there is one) and the problem. */
function encodeError(caller: string, index: number, type: string, detail: string): WireError {
  const where = index < 0 ? `${type} TLV` : `tlvs[${index}] (${type})`;
  return new WireError(WireErrorCode.ERR_WIRE_ENCODE, `${caller}: ${where}: ${detail}`);
}

function unknownTypeError(caller: string, index: number, tlv: never): WireError {
  const type: unknown = (tlv as { readonly type: unknown }).type;
  const name = typeof type === 'string' ? type : describeValue(type);
  return encodeError(caller, index, name, `expected a type in ${Object.keys(TlvType).join(', ')}, got ${typeof type === 'string' ? JSON.stringify(type) : name}`);
}

/** Checks that `value` is an integer in min..max; the message is built only on failure. */
function checkInt(value: number, min: number, max: number, caller: string, index: number, type: string, field: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw encodeError(caller, index, type, `expected ${field} in ${min}..${max}, got ${describeValue(value)}`);
  }
}

/** Names a bad value without calling its methods (String() on a hostile object can throw). */
function describeValue(value: unknown): string {
  if (typeof value === 'number') return String(value);
  return value === null ? 'null' : `a value of type ${typeof value}`;
}

function writeHello(b: Uint8Array, o: number, t: HelloTlv, caller: string, i: number): number {
  checkInt(t.sender, 1, nodeIdMax, caller, i, t.type, 'sender');
  checkInt(t.seqno, 0, u16Max, caller, i, t.type, 'seqno');
  checkInt(t.intervalMs, 1, u16Max, caller, i, t.type, 'intervalMs');
  checkInt(t.timestampUs, 0, u32Max, caller, i, t.type, 'timestampUs');
  const body = writeTlvHeader(b, o, TlvType.hello, helloBodyBytes);
  writeU32(b, body, t.sender);
  writeU16(b, body + 4, t.seqno);
  writeU16(b, body + 6, t.intervalMs);
  writeU32(b, body + 8, t.timestampUs);
  return body + helloBodyBytes;
}

function writeIhu(b: Uint8Array, o: number, t: IhuTlv, caller: string, i: number): number {
  checkInt(t.rxCost, 0, u16Max, caller, i, t.type, 'rxCost');
  checkInt(t.intervalMs, 1, u16Max, caller, i, t.type, 'intervalMs');
  checkInt(t.originUs, 0, u32Max, caller, i, t.type, 'originUs');
  checkInt(t.holdUs, 0, u32Max, caller, i, t.type, 'holdUs');
  const body = writeTlvHeader(b, o, TlvType.ihu, ihuBodyBytes);
  writeU16(b, body, t.rxCost);
  writeU16(b, body + 2, t.intervalMs);
  writeU32(b, body + 4, t.originUs);
  writeU32(b, body + 8, t.holdUs);
  return body + ihuBodyBytes;
}

function writeProbe(b: Uint8Array, o: number, t: ProbeTlv, caller: string, i: number): number {
  checkInt(t.sender, 1, nodeIdMax, caller, i, t.type, 'sender');
  checkInt(t.state, 0, probeStateMax, caller, i, t.type, 'state');
  checkInt(t.detectMult, 1, u8Max, caller, i, t.type, 'detectMult');
  checkInt(t.intervalMs, 1, u16Max, caller, i, t.type, 'intervalMs');
  checkInt(t.txUs, 0, u32Max, caller, i, t.type, 'txUs');
  checkInt(t.echoUs, 0, u32Max, caller, i, t.type, 'echoUs');
  checkInt(t.holdUs, 0, u32Max, caller, i, t.type, 'holdUs');
  const body = writeTlvHeader(b, o, TlvType.probe, probeBodyBytes);
  writeU32(b, body, t.sender);
  b[body + 4] = t.state;
  b[body + 5] = t.detectMult;
  writeU16(b, body + 6, t.intervalMs);
  writeU32(b, body + 8, t.txUs);
  writeU32(b, body + 12, t.echoUs);
  writeU32(b, body + 16, t.holdUs);
  return body + probeBodyBytes;
}

function writeUpdate(b: Uint8Array, o: number, t: UpdateTlv, caller: string, i: number): number {
  checkInt(t.source, 1, nodeIdMax, caller, i, t.type, 'source');
  checkInt(t.seqno, 0, u16Max, caller, i, t.type, 'seqno');
  checkInt(t.metric, 0, u16Max, caller, i, t.type, 'metric');
  checkInt(t.intervalMs, 1, u16Max, caller, i, t.type, 'intervalMs');
  const body = writeTlvHeader(b, o, TlvType.update, updateBodyBytes);
  writeU32(b, body, t.source);
  writeU16(b, body + 4, t.seqno);
  writeU16(b, body + 6, t.metric);
  writeU16(b, body + 8, t.intervalMs);
  return body + updateBodyBytes;
}

function writeRouteRequest(b: Uint8Array, o: number, t: RouteRequestTlv, caller: string, i: number): number {
  const body = writeTlvHeader(b, o, TlvType.routeRequest, routeRequestBodyBytes);
  if (t.source === null) {
    b[body] = routeRequestWildcard;
    writeU32(b, body + 1, 0);
  } else {
    checkInt(t.source, 1, nodeIdMax, caller, i, t.type, 'source');
    b[body] = 0;
    writeU32(b, body + 1, t.source);
  }
  return body + routeRequestBodyBytes;
}

function writeSeqnoRequest(b: Uint8Array, o: number, t: SeqnoRequestTlv, caller: string, i: number): number {
  checkInt(t.source, 1, nodeIdMax, caller, i, t.type, 'source');
  checkInt(t.seqno, 0, u16Max, caller, i, t.type, 'seqno');
  checkInt(t.hopCount, 1, u8Max, caller, i, t.type, 'hopCount');
  checkInt(t.requester, 1, nodeIdMax, caller, i, t.type, 'requester');
  const body = writeTlvHeader(b, o, TlvType.seqnoRequest, seqnoRequestBodyBytes);
  writeU32(b, body, t.source);
  writeU16(b, body + 4, t.seqno);
  b[body + 6] = t.hopCount;
  b[body + 7] = 0; // reserved
  writeU32(b, body + 8, t.requester);
  return body + seqnoRequestBodyBytes;
}

function writeQuery(b: Uint8Array, o: number, t: QueryTlv, caller: string, i: number): number {
  checkInt(t.source, 1, nodeIdMax, caller, i, t.type, 'source');
  checkInt(t.nonce, 0, u16Max, caller, i, t.type, 'nonce');
  const body = writeTlvHeader(b, o, TlvType.query, queryBodyBytes);
  writeU32(b, body, t.source);
  writeU16(b, body + 4, t.nonce);
  return body + queryBodyBytes;
}

function writeQueryReply(b: Uint8Array, o: number, t: QueryReplyTlv, caller: string, i: number): number {
  checkInt(t.source, 1, nodeIdMax, caller, i, t.type, 'source');
  checkInt(t.nonce, 0, u16Max, caller, i, t.type, 'nonce');
  checkInt(t.seqno, 0, u16Max, caller, i, t.type, 'seqno');
  checkInt(t.metric, 0, u16Max, caller, i, t.type, 'metric');
  const body = writeTlvHeader(b, o, TlvType.queryReply, queryReplyBodyBytes);
  writeU32(b, body, t.source);
  writeU16(b, body + 4, t.nonce);
  writeU16(b, body + 6, t.seqno);
  writeU16(b, body + 8, t.metric);
  return body + queryReplyBodyBytes;
}

function writeData(b: Uint8Array, o: number, t: DataTlv, caller: string, i: number): number {
  checkInt(t.kind, 0, dataKindMax, caller, i, t.type, 'kind');
  checkInt(t.hopLimit, 0, u8Max, caller, i, t.type, 'hopLimit');
  checkInt(t.src, 1, nodeIdMax, caller, i, t.type, 'src');
  checkInt(t.dst, 1, nodeIdMax, caller, i, t.type, 'dst');
  checkInt(t.id, 0, u32Max, caller, i, t.type, 'id');
  const body = writeTlvHeader(b, o, TlvType.data, dataHeaderBytes + t.payload.length);
  b[body] = t.kind;
  b[body + 1] = t.hopLimit;
  writeU32(b, body + 2, t.src);
  writeU32(b, body + 6, t.dst);
  writeU32(b, body + 10, t.id);
  b.set(t.payload, body + dataHeaderBytes);
  return body + dataHeaderBytes + t.payload.length;
}

/** Validates and writes one TLV (of a type sizeOf accepted) at `o`, returning the offset after it. */
function writeTlv(b: Uint8Array, o: number, tlv: Tlv, caller: string, index: number): number {
  switch (tlv.type) {
    case 'hello':
      return writeHello(b, o, tlv, caller, index);
    case 'ihu':
      return writeIhu(b, o, tlv, caller, index);
    case 'probe':
      return writeProbe(b, o, tlv, caller, index);
    case 'update':
      return writeUpdate(b, o, tlv, caller, index);
    case 'routeRequest':
      return writeRouteRequest(b, o, tlv, caller, index);
    case 'seqnoRequest':
      return writeSeqnoRequest(b, o, tlv, caller, index);
    case 'data':
      return writeData(b, o, tlv, caller, index);
    case 'query':
      return writeQuery(b, o, tlv, caller, index);
    case 'queryReply':
      return writeQueryReply(b, o, tlv, caller, index);
    // No default: sizeOf has already rejected unknown types, and the compiler checks exhaustiveness.
  }
}

/** Encodes tlvs[start..end) whose encoded sizes sum to `tlvsBytes` into one packet. */
function encodeRange(tlvs: readonly Tlv[], start: number, end: number, tlvsBytes: number, caller: string): Uint8Array {
  // From the pool, then zeroed: a new Uint8Array of a packet's size costs an allocation of its
  // own per packet (every data packet a node originates passes here), the fill far less.
  const bytes = poolBytes(packetHeaderBytes + tlvsBytes).fill(0);
  bytes[0] = wireVersion;
  let offset = packetHeaderBytes;
  for (let i = start; i < end; i++) {
    offset = writeTlv(bytes, offset, tlvs[i]!, caller, i);
  }
  return bytes;
}

/** Encodes TLVs into one packet; throws ERR_WIRE_ENCODE when they cannot form a valid packet. */
export function encodePacket(tlvs: readonly Tlv[]): Uint8Array {
  const count = tlvs.length;
  if (count === 0 || count > tlvsPerPacketMax) {
    throw new WireError(WireErrorCode.ERR_WIRE_ENCODE, `encodePacket: expected 1..${tlvsPerPacketMax} TLVs, got ${count}`);
  }
  let tlvsBytes = 0;
  for (let i = 0; i < count; i++) {
    tlvsBytes += sizeOfFitting(tlvs[i]!, 'encodePacket', i);
  }
  if (packetHeaderBytes + tlvsBytes > packetBytesMax) {
    throw new WireError(
      WireErrorCode.ERR_WIRE_ENCODE,
      `encodePacket: expected a packet of at most ${packetBytesMax} bytes, got ${packetHeaderBytes + tlvsBytes} (${count} TLVs)`,
    );
  }
  return encodeRange(tlvs, 0, count, tlvsBytes, 'encodePacket');
}

/**
 * Splits TLVs, in order, into as few packets as possible, each within packetBytesMax and
 * tlvsPerPacketMax, so a sender can flush any queue. Filling each packet greedily is optimal
 * because the order is fixed. An empty list gives no packets.
 */
export function packTlvs(tlvs: readonly Tlv[]): Uint8Array[] {
  const packets: Uint8Array[] = [];
  packTlvsInto(tlvs, packets);
  return packets;
}

/**
 * packTlvs appending the packets to `out`: a sender that flushes every few milliseconds can
 * reuse one array instead of allocating one per flush. `maxBytes` (at most packetBytesMax)
 * lowers the packet size for carriers with less room, such as the secure link layer's frames;
 * a single TLV larger than it still gets a packet of its own.
 */
export function packTlvsInto(tlvs: readonly Tlv[], out: Uint8Array[], maxBytes: number = packetBytesMax): void {
  let start = 0;
  let packetTlvsBytes = 0;
  for (let i = 0; i < tlvs.length; i++) {
    const size = sizeOfFitting(tlvs[i]!, 'packTlvs', i);
    const full = i > start && (i - start === tlvsPerPacketMax || packetHeaderBytes + packetTlvsBytes + size > maxBytes);
    if (full) {
      out.push(encodeRange(tlvs, start, i, packetTlvsBytes, 'packTlvs'));
      start = i;
      packetTlvsBytes = 0;
    }
    packetTlvsBytes += size;
  }
  if (start < tlvs.length) {
    out.push(encodeRange(tlvs, start, tlvs.length, packetTlvsBytes, 'packTlvs'));
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding. Each body reader gets the packet, the body offset and length (already checked to be
// in bounds and of the right length for the type) and the TLV offset for error messages.

type BodyReader = (b: Uint8Array, body: number, bodyBytes: number, at: number) => Tlv;

interface TlvSpec {
  readonly name: string;
  /** Exact body length, or for Data the minimum (the payload takes the rest). */
  readonly bodyBytes: number;
  readonly variable: boolean;
  readonly read: BodyReader;
}

function fieldError(code: number, at: number, field: string, expected: string, got: number): WireError {
  const name = tlvSpecs[code]!.name;
  return new WireError(
    WireErrorCode.ERR_WIRE_FIELD,
    `decodePacket: TLV ${code} (${name}) at offset ${at}: expected ${field} ${expected}, got ${got}`,
  );
}

function readNodeId(b: Uint8Array, o: number, code: number, at: number, field: string): NodeId {
  const value = readU32(b, o);
  if (value === 0) throw fieldError(code, at, field, `in 1..${nodeIdMax}`, value);
  return value as NodeId;
}

function readInterval(b: Uint8Array, o: number, code: number, at: number): number {
  const value = readU16(b, o);
  if (value === 0) throw fieldError(code, at, 'intervalMs', `in 1..${u16Max}`, value);
  return value;
}

function readHello(b: Uint8Array, body: number, _bodyBytes: number, at: number): HelloTlv {
  return {
    type: 'hello',
    sender: readNodeId(b, body, TlvType.hello, at, 'sender'),
    seqno: readU16(b, body + 4),
    intervalMs: readInterval(b, body + 6, TlvType.hello, at),
    timestampUs: readU32(b, body + 8),
  };
}

function readIhu(b: Uint8Array, body: number, _bodyBytes: number, at: number): IhuTlv {
  return {
    type: 'ihu',
    rxCost: readU16(b, body),
    intervalMs: readInterval(b, body + 2, TlvType.ihu, at),
    originUs: readU32(b, body + 4),
    holdUs: readU32(b, body + 8),
  };
}

function readProbe(b: Uint8Array, body: number, _bodyBytes: number, at: number): ProbeTlv {
  return readProbeInto(b, body, at, newProbeRecord());
}

/** Checks and reads a Probe body at `body` into `into` (left untouched when a field is refused). */
function readProbeInto(b: Uint8Array, body: number, at: number, into: ProbeRecord): ProbeRecord {
  const sender = readNodeId(b, body, TlvType.probe, at, 'sender');
  const state = b[body + 4]!;
  if (state > probeStateMax) throw fieldError(TlvType.probe, at, 'state', `in 0..${probeStateMax}`, state);
  const detectMult = b[body + 5]!;
  if (detectMult === 0) throw fieldError(TlvType.probe, at, 'detectMult', `in 1..${u8Max}`, detectMult);
  const intervalMs = readInterval(b, body + 6, TlvType.probe, at);
  into.sender = sender;
  into.state = state as ProbeStateValue;
  into.detectMult = detectMult;
  into.intervalMs = intervalMs;
  into.txUs = readU32(b, body + 8);
  into.echoUs = readU32(b, body + 12);
  into.holdUs = readU32(b, body + 16);
  return into;
}

function readUpdate(b: Uint8Array, body: number, _bodyBytes: number, at: number): UpdateTlv {
  return {
    type: 'update',
    source: readNodeId(b, body, TlvType.update, at, 'source'),
    seqno: readU16(b, body + 4),
    metric: readU16(b, body + 6),
    intervalMs: readInterval(b, body + 8, TlvType.update, at),
  };
}

function readRouteRequest(b: Uint8Array, body: number, _bodyBytes: number, at: number): RouteRequestTlv {
  const flags = b[body]!;
  if (flags === routeRequestWildcard) {
    const source = readU32(b, body + 1);
    if (source !== 0) throw fieldError(TlvType.routeRequest, at, 'source', '0 in a wildcard request', source);
    return { type: 'routeRequest', source: null };
  }
  if (flags !== 0) throw fieldError(TlvType.routeRequest, at, 'flags', '0 or 1 (bits 1..7 reserved)', flags);
  return { type: 'routeRequest', source: readNodeId(b, body + 1, TlvType.routeRequest, at, 'source') };
}

function readSeqnoRequest(b: Uint8Array, body: number, _bodyBytes: number, at: number): SeqnoRequestTlv {
  const source = readNodeId(b, body, TlvType.seqnoRequest, at, 'source');
  const seqno = readU16(b, body + 4);
  const hopCount = b[body + 6]!;
  if (hopCount === 0) throw fieldError(TlvType.seqnoRequest, at, 'hopCount', `in 1..${u8Max}`, hopCount);
  const reserved = b[body + 7]!;
  if (reserved !== 0) throw fieldError(TlvType.seqnoRequest, at, 'reserved byte', '0', reserved);
  const requester = readNodeId(b, body + 8, TlvType.seqnoRequest, at, 'requester');
  return { type: 'seqnoRequest', source, seqno, hopCount, requester };
}

function readQuery(b: Uint8Array, body: number, _bodyBytes: number, at: number): QueryTlv {
  return { type: 'query', source: readNodeId(b, body, TlvType.query, at, 'source'), nonce: readU16(b, body + 4) };
}

function readQueryReply(b: Uint8Array, body: number, _bodyBytes: number, at: number): QueryReplyTlv {
  return {
    type: 'queryReply',
    source: readNodeId(b, body, TlvType.queryReply, at, 'source'),
    nonce: readU16(b, body + 4),
    seqno: readU16(b, body + 6),
    metric: readU16(b, body + 8),
  };
}

function readData(b: Uint8Array, body: number, bodyBytes: number, at: number): DataTlv {
  const kind = b[body]!;
  if (kind > dataKindMax) throw fieldError(TlvType.data, at, 'kind', `in 0..${dataKindMax}`, kind);
  return {
    type: 'data',
    kind: kind as DataKindValue,
    hopLimit: b[body + 1]!,
    src: readNodeId(b, body + 2, TlvType.data, at, 'src'),
    dst: readNodeId(b, body + 6, TlvType.data, at, 'dst'),
    id: readU32(b, body + 10),
    payload: b.subarray(body + dataHeaderBytes, body + bodyBytes),
  };
}

/** Decoding rules indexed by type code; a hole means an unknown type. */
const tlvSpecs: readonly (TlvSpec | undefined)[] = [
  undefined,
  { name: 'hello', bodyBytes: helloBodyBytes, variable: false, read: readHello },
  { name: 'ihu', bodyBytes: ihuBodyBytes, variable: false, read: readIhu },
  { name: 'probe', bodyBytes: probeBodyBytes, variable: false, read: readProbe },
  { name: 'update', bodyBytes: updateBodyBytes, variable: false, read: readUpdate },
  { name: 'routeRequest', bodyBytes: routeRequestBodyBytes, variable: false, read: readRouteRequest },
  { name: 'seqnoRequest', bodyBytes: seqnoRequestBodyBytes, variable: false, read: readSeqnoRequest },
  { name: 'data', bodyBytes: dataHeaderBytes, variable: true, read: readData },
  { name: 'query', bodyBytes: queryBodyBytes, variable: false, read: readQuery },
  { name: 'queryReply', bodyBytes: queryReplyBodyBytes, variable: false, read: readQueryReply },
];

/** Checks the packet-level framing (length and version) before any TLV is read. */
function checkPacket(bytes: Uint8Array): void {
  const length = bytes.length;
  if (length === 0) {
    throw new WireError(WireErrorCode.ERR_WIRE_EMPTY, 'decodePacket: expected a packet, got 0 bytes');
  }
  if (length > packetBytesMax) {
    throw new WireError(WireErrorCode.ERR_WIRE_TOO_LONG, `decodePacket: expected at most ${packetBytesMax} bytes, got ${length}`);
  }
  if (bytes[0] !== wireVersion) {
    throw new WireError(WireErrorCode.ERR_WIRE_VERSION, `decodePacket: expected version ${wireVersion} at offset 0, got ${bytes[0]}`);
  }
  if (length === packetHeaderBytes) {
    throw new WireError(WireErrorCode.ERR_WIRE_EMPTY, 'decodePacket: expected at least one TLV after the version byte, got none');
  }
}

/** Reads the TLV header at `at`, checks type, body length and bounds, and returns the type's spec. */
function checkTlvHeader(bytes: Uint8Array, at: number): TlvSpec {
  const left = bytes.length - at;
  if (left < tlvHeaderBytes) {
    throw new WireError(WireErrorCode.ERR_WIRE_TRUNCATED, `decodePacket: TLV header at offset ${at}: expected ${tlvHeaderBytes} bytes, got ${left}`);
  }
  const code = bytes[at]!;
  const spec = tlvSpecs[code];
  if (spec === undefined) {
    throw new WireError(WireErrorCode.ERR_WIRE_TLV_TYPE, `decodePacket: TLV at offset ${at}: expected a type code in 1..${tlvSpecs.length - 1}, got ${code}`);
  }
  const bodyBytes = readU16(bytes, at + 1);
  if (spec.variable ? bodyBytes < spec.bodyBytes : bodyBytes !== spec.bodyBytes) {
    const expected = spec.variable ? `at least ${spec.bodyBytes}` : `${spec.bodyBytes}`;
    throw new WireError(
      WireErrorCode.ERR_WIRE_TLV_LENGTH,
      `decodePacket: TLV ${code} (${spec.name}) at offset ${at}: expected body of ${expected} bytes, got ${bodyBytes}`,
    );
  }
  if (bodyBytes > left - tlvHeaderBytes) {
    throw new WireError(
      WireErrorCode.ERR_WIRE_TRUNCATED,
      `decodePacket: TLV ${code} (${spec.name}) at offset ${at}: expected ${bodyBytes} body bytes, got ${left - tlvHeaderBytes}`,
    );
  }
  return spec;
}

/** A Probe TLV as a reusable record that decodeProbePacket fills in place. */
export type ProbeRecord = { -readonly [K in keyof ProbeTlv]: ProbeTlv[K] };

/** A record for decodeProbePacket to fill. */
export function newProbeRecord(): ProbeRecord {
  return { type: 'probe', sender: 1 as NodeId, state: ProbeState.down, detectMult: 1, intervalMs: 1, txUs: 0, echoUs: 0, holdUs: 0 };
}

/** Bytes of a packet that holds one Probe TLV and nothing else. */
const probePacketBytes = packetHeaderBytes + tlvHeaderBytes + probeBodyBytes;

/**
 * Reads a packet that holds exactly one Probe TLV (the commonest packet: every link carries
 * one each way every 50 ms) into `into` without allocating, and returns true; returns false,
 * leaving `into` alone, for any other packet, which the caller then decodes with decodePacket.
 * For a single-probe packet it accepts and rejects exactly what decodePacket does, with the
 * same WireError.
 */
export function decodeProbePacket(bytes: Uint8Array, into: ProbeRecord): boolean {
  if (bytes.length !== probePacketBytes || bytes[0] !== wireVersion || bytes[1] !== TlvType.probe || readU16(bytes, 2) !== probeBodyBytes) {
    return false;
  }
  readProbeInto(bytes, packetHeaderBytes + tlvHeaderBytes, packetHeaderBytes, into);
  return true;
}

/**
 * A copy of `packet`, a packet holding exactly one Data TLV (as decodePacket accepted it), with
 * the TLV's hop limit set to `hopLimit`: what forwarding a packet changes, for a fraction of the
 * cost of encoding it again. Throws a RangeError for any other packet or hop limit.
 */
export function withHopLimit(packet: Uint8Array, hopLimit: number): Uint8Array {
  const body = packetHeaderBytes + tlvHeaderBytes;
  if (packet.length < body + dataHeaderBytes || packet[packetHeaderBytes] !== TlvType.data || readU16(packet, packetHeaderBytes + 1) !== packet.length - body) {
    throw new RangeError(`withHopLimit: expected a packet of exactly one Data TLV, got ${packet.length} bytes starting ${Array.from(packet.subarray(0, body)).join(',')}`);
  }
  if (!Number.isInteger(hopLimit) || hopLimit < 0 || hopLimit > u8Max) throw new RangeError(`withHopLimit: expected a hop limit in 0..${u8Max}, got ${hopLimit}`);
  const copy = poolBytes(packet.length);
  copy.set(packet);
  copy[body + 1] = hopLimit;
  return copy;
}

/**
 * Decodes one packet into TLVs, throwing only WireError; the single entry point for untrusted
 * bytes. A Data TLV's payload is a subarray view of `bytes` (no copy, for speed): copy it
 * before reusing or mutating the input buffer.
 */
export function decodePacket(bytes: Uint8Array): Tlv[] {
  checkPacket(bytes);
  const tlvs: Tlv[] = [];
  let at = packetHeaderBytes;
  while (at < bytes.length) {
    if (tlvs.length === tlvsPerPacketMax) {
      throw new WireError(
        WireErrorCode.ERR_WIRE_TOO_MANY_TLVS,
        `decodePacket: expected at most ${tlvsPerPacketMax} TLVs, got another at offset ${at}`,
      );
    }
    const spec = checkTlvHeader(bytes, at);
    const bodyBytes = readU16(bytes, at + 1);
    const body = at + tlvHeaderBytes;
    tlvs.push(spec.read(bytes, body, bodyBytes, at));
    at = body + bodyBytes;
  }
  return tlvs;
}
