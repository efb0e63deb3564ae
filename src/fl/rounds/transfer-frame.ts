/**
 * The datagrams of the bulk transfer (transfer.ts): a chunk of a message and an
 * acknowledgement. Each fits one end-to-end application datagram of the mesh
 * (e2eApplicationBytesMax), and each decoder is strict: a datagram either decodes to exactly
 * these fields or is refused with ERR_FL_ROUND_FORMAT naming the field.
 *
 *   chunk  0x11 | transfer id u32 | index u16 | count u16 | message bytes u32 | SHA-256 of the message (32)
 *          | body: bytes [index * transferChunkBodyBytes, ...) of the message, transferChunkBodyBytes
 *            long except for the last chunk, which holds the rest
 *   ack    0x12 | transfer id u32 | count u16 | status u8: 0 partial | 1 complete | 2 refused
 *          | partial: bitmap of the chunks received, ceil(count / 8) bytes, chunk i at bit (7 - i % 8)
 *            of byte i / 8, unused bits 0 | refused: reason u8 (1 digest, 2 limit, 3 timeout)
 *
 * The chunk size is a protocol constant, so the count follows from the message length and a
 * chunk's body length from its index: a truncated or padded chunk cannot be mistaken for data.
 */
import { e2eApplicationBytesMax } from '../../channel/end-to-end.js';
import { RoundError, RoundErrorCode } from './errors.js';

/** First byte of a chunk datagram (format 1). */
export const chunkKind = 0x11;
/** First byte of an acknowledgement datagram (format 1). */
export const ackKind = 0x12;
/** Bytes before a chunk's body. */
export const chunkHeaderBytes = 1 + 4 + 2 + 2 + 4 + 32;
/** Bytes of message in every chunk but the last: what is left of one end-to-end datagram after the header. */
export const transferChunkBodyBytes = e2eApplicationBytesMax - chunkHeaderBytes;
/** Most chunks one message may have (the ack bitmap then takes 512 bytes). */
export const transferChunksMax = 4096;
/** Largest message the transfer can carry at all (a receiver's limit may be lower). */
export const transferMessageBytesMax = transferChunksMax * transferChunkBodyBytes;

const digestBytes = 32;
const ackHeaderBytes = 1 + 4 + 2 + 1;

if (ackHeaderBytes + transferChunksMax / 8 > e2eApplicationBytesMax || transferChunkBodyBytes < 512) {
  throw new RangeError(`transfer-frame: a chunk header of ${chunkHeaderBytes} bytes or an ack of ${transferChunksMax} chunks does not fit ${e2eApplicationBytesMax} bytes`);
}

/** What an ack reports. */
export const AckStatus = { partial: 0, complete: 1, refused: 2 } as const;
/** Why a receiver refused a transfer. */
export const RefusalReason = { digest: 1, limit: 2, timeout: 3 } as const;
/** One of the codes in RefusalReason. */
export type RefusalReasonValue = (typeof RefusalReason)[keyof typeof RefusalReason];

/** One chunk of a message. */
export interface ChunkFrame {
  readonly kind: 'chunk';
  readonly transferId: number;
  readonly index: number;
  readonly count: number;
  readonly messageBytes: number;
  readonly digest: Uint8Array;
  readonly body: Uint8Array;
}

/** A receiver's report on a transfer. */
export type AckFrame =
  | { readonly kind: 'ack'; readonly status: 'partial'; readonly transferId: number; readonly count: number; readonly received: Uint8Array }
  | { readonly kind: 'ack'; readonly status: 'complete'; readonly transferId: number; readonly count: number }
  | { readonly kind: 'ack'; readonly status: 'refused'; readonly transferId: number; readonly count: number; readonly reason: RefusalReasonValue };

/** Any transfer datagram, decoded. */
export type TransferFrame = ChunkFrame | AckFrame;

/** Chunks of a message of `messageBytes` bytes (at least one). */
export function chunkCountOf(messageBytes: number): number {
  return Math.max(1, Math.ceil(messageBytes / transferChunkBodyBytes));
}

/** Body bytes of chunk `index` of a message of `messageBytes` bytes. */
export function chunkBodyBytesOf(index: number, messageBytes: number): number {
  return Math.min(transferChunkBodyBytes, messageBytes - index * transferChunkBodyBytes);
}

/** Bytes of a bitmap of `count` chunks. */
export function bitmapBytesOf(count: number): number {
  return Math.ceil(count / 8);
}

/** True when bit `index` of `bitmap` is set. */
export function hasBit(bitmap: Uint8Array, index: number): boolean {
  return (bitmap[index >>> 3]! & (0x80 >>> (index & 7))) !== 0;
}

/** Sets bit `index` of `bitmap`. */
export function setBit(bitmap: Uint8Array, index: number): void {
  bitmap[index >>> 3]! |= 0x80 >>> (index & 7);
}

function fail(field: string, message: string): never {
  throw new RoundError(RoundErrorCode.ERR_FL_ROUND_FORMAT, `decodeTransferFrame: ${field}: ${message}`);
}

/** The datagram of chunk `index` of `message` (whose SHA-256 is `digest`). */
export function encodeChunk(transferId: number, index: number, message: Uint8Array, digest: Uint8Array): Uint8Array {
  const count = chunkCountOf(message.length);
  const start = index * transferChunkBodyBytes;
  const body = message.subarray(start, start + chunkBodyBytesOf(index, message.length));
  const bytes = new Uint8Array(chunkHeaderBytes + body.length);
  const view = new DataView(bytes.buffer);
  bytes[0] = chunkKind;
  view.setUint32(1, transferId);
  view.setUint16(5, index);
  view.setUint16(7, count);
  view.setUint32(9, message.length);
  bytes.set(digest, 13);
  bytes.set(body, chunkHeaderBytes);
  return bytes;
}

/** The datagram of `ack`. */
export function encodeAck(ack: AckFrame): Uint8Array {
  const tail = ack.status === 'partial' ? ack.received : ack.status === 'refused' ? Uint8Array.of(ack.reason) : new Uint8Array(0);
  const bytes = new Uint8Array(ackHeaderBytes + tail.length);
  const view = new DataView(bytes.buffer);
  bytes[0] = ackKind;
  view.setUint32(1, ack.transferId);
  view.setUint16(5, ack.count);
  bytes[7] = AckStatus[ack.status];
  bytes.set(tail, ackHeaderBytes);
  return bytes;
}

function decodeChunk(bytes: Uint8Array, view: DataView): ChunkFrame {
  if (bytes.length < chunkHeaderBytes) fail('chunk', `expected at least ${chunkHeaderBytes} bytes, got ${bytes.length}`);
  const index = view.getUint16(5);
  const count = view.getUint16(7);
  const messageBytes = view.getUint32(9);
  if (messageBytes < 1 || messageBytes > transferMessageBytesMax) fail('message bytes', `expected 1..${transferMessageBytesMax}, got ${messageBytes}`);
  if (count !== chunkCountOf(messageBytes)) fail('count', `expected ${chunkCountOf(messageBytes)} for ${messageBytes} bytes, got ${count}`);
  if (index >= count) fail('index', `expected 0..${count - 1}, got ${index}`);
  const bodyBytes = chunkBodyBytesOf(index, messageBytes);
  if (bytes.length !== chunkHeaderBytes + bodyBytes) fail('body', `expected ${bodyBytes} bytes for chunk ${index} of ${count}, got ${bytes.length - chunkHeaderBytes}`);
  const digest = bytes.subarray(13, 13 + digestBytes);
  return { kind: 'chunk', transferId: view.getUint32(1), index, count, messageBytes, digest, body: bytes.subarray(chunkHeaderBytes) };
}

function decodeAck(bytes: Uint8Array, view: DataView): AckFrame {
  if (bytes.length < ackHeaderBytes) fail('ack', `expected at least ${ackHeaderBytes} bytes, got ${bytes.length}`);
  const transferId = view.getUint32(1);
  const count = view.getUint16(5);
  if (count < 1 || count > transferChunksMax) fail('ack count', `expected 1..${transferChunksMax}, got ${count}`);
  const status = bytes[7]!;
  const tail = bytes.subarray(ackHeaderBytes);
  if (status === AckStatus.complete) {
    if (tail.length !== 0) fail('ack', `${tail.length} trailing bytes after a complete status`);
    return { kind: 'ack', status: 'complete', transferId, count };
  }
  if (status === AckStatus.refused) {
    const reason = tail[0];
    if (tail.length !== 1 || (reason !== RefusalReason.digest && reason !== RefusalReason.limit && reason !== RefusalReason.timeout)) fail('ack reason', `expected one byte 1..3, got ${tail.length} bytes`);
    return { kind: 'ack', status: 'refused', transferId, count, reason };
  }
  if (status !== AckStatus.partial) fail('ack status', `expected 0..2, got ${status}`);
  if (tail.length !== bitmapBytesOf(count)) fail('ack bitmap', `expected ${bitmapBytesOf(count)} bytes for ${count} chunks, got ${tail.length}`);
  // Bits past the last chunk must be zero, so that one report has one encoding.
  if (count % 8 !== 0 && (tail[tail.length - 1]! & (0xff >>> (count % 8))) !== 0) fail('ack bitmap', `bits set past chunk ${count - 1}`);
  return { kind: 'ack', status: 'partial', transferId, count, received: tail };
}

/** Reads a transfer datagram strictly; ERR_FL_ROUND_FORMAT names the field. */
export function decodeTransferFrame(bytes: Uint8Array): TransferFrame {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] === chunkKind) return decodeChunk(bytes, view);
  if (bytes[0] === ackKind) return decodeAck(bytes, view);
  return fail('kind', `expected ${chunkKind} (chunk) or ${ackKind} (ack), got ${bytes[0] ?? 'no bytes'}`);
}
