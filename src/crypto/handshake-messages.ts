import { HandshakeError, HandshakeErrorCode } from './handshake-errors.js';
import { xwingCiphertextBytes, xwingPublicKeyBytes } from './xwing.js';

/**
 * Byte layouts of the three handshake messages. These are the logical messages; the
 * obfuscation layer masks and pads them before they reach the wire, so the type byte and the
 * fixed offsets here are never visible to an observer.
 */

/** Message type bytes. */
export const MessageType = { initiation: 1, response: 2, cookieReply: 3 } as const;

/** Bytes of a MAC field (mac1, mac2), a cookie, and an AEAD tag. */
export const macBytes = 16;
export const cookieBytes = 16;
export const tagBytes = 16;
/** Bytes of the nonce of a cookie reply. */
export const cookieNonceBytes = 12;
/** Largest certificate an initiation may carry. */
export const certificateBytesMax = 16_384;
/** Bytes of the timestamp at the start of the initiation's encrypted payload. */
export const timestampBytes = 8;

const indexBytes = 4;
/** Offset of the encrypted payload's length field in an initiation. */
const initiationFixedBytes = 1 + indexBytes + xwingPublicKeyBytes + xwingCiphertextBytes + 2;
/** Smallest and largest initiation: payload of a timestamp and a 1..certificateBytesMax-byte certificate. */
export const initiationBytesMin = initiationFixedBytes + timestampBytes + 1 + tagBytes + 2 * macBytes;
export const initiationBytesMax = initiationFixedBytes + timestampBytes + certificateBytesMax + tagBytes + 2 * macBytes;
/** Size of a response and of a cookie reply. */
export const responseBytes = 1 + 2 * indexBytes + 2 * xwingCiphertextBytes + tagBytes + 2 * macBytes;
export const cookieReplyBytes = 1 + indexBytes + cookieNonceBytes + cookieBytes + tagBytes;

/** The fields of an initiation (msg 1). */
export interface Initiation {
  readonly senderIndex: number;
  readonly ephemeralPublicKey: Uint8Array;
  readonly staticCiphertext: Uint8Array;
  readonly encryptedPayload: Uint8Array;
}

/** The fields of a response (msg 2). */
export interface Response {
  readonly senderIndex: number;
  readonly receiverIndex: number;
  readonly ephemeralCiphertext: Uint8Array;
  readonly staticCiphertext: Uint8Array;
  readonly confirmation: Uint8Array;
}

/** The fields of a cookie reply (msg 3). */
export interface CookieReply {
  readonly receiverIndex: number;
  readonly nonce: Uint8Array;
  readonly encryptedCookie: Uint8Array;
}

function formatError(what: string, detail: string): HandshakeError {
  return new HandshakeError(HandshakeErrorCode.ERR_HANDSHAKE_FORMAT, `${what}: ${detail}`);
}

class Writer {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  offset = 0;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }

  u8(value: number): void {
    this.view.setUint8(this.offset++, value);
  }

  u16(value: number): void {
    this.view.setUint16(this.offset, value);
    this.offset += 2;
  }

  u32(value: number): void {
    this.view.setUint32(this.offset, value);
    this.offset += 4;
  }

  raw(value: Uint8Array): void {
    this.bytes.set(value, this.offset);
    this.offset += value.length;
  }
}

class Reader {
  private readonly view: DataView;
  offset = 0;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  u8(): number {
    return this.view.getUint8(this.offset++);
  }

  u16(): number {
    const value = this.view.getUint16(this.offset);
    this.offset += 2;
    return value;
  }

  u32(): number {
    const value = this.view.getUint32(this.offset);
    this.offset += 4;
    return value;
  }

  raw(length: number): Uint8Array {
    const value = this.bytes.slice(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }
}

/** The message type of `bytes` (its first byte), or null when empty. */
export function messageTypeOf(bytes: Uint8Array): number | null {
  return bytes.length === 0 ? null : bytes[0]!;
}

/** Encodes an initiation with zeroed mac1/mac2 fields; the caller fills them in place. */
export function encodeInitiation(message: Initiation): Uint8Array {
  const writer = new Writer(initiationFixedBytes + message.encryptedPayload.length + 2 * macBytes);
  writer.u8(MessageType.initiation);
  writer.u32(message.senderIndex);
  writer.raw(message.ephemeralPublicKey);
  writer.raw(message.staticCiphertext);
  writer.u16(message.encryptedPayload.length);
  writer.raw(message.encryptedPayload);
  return writer.bytes;
}

/** Decodes an initiation's fields (the MACs are checked by the caller); ERR_HANDSHAKE_FORMAT on any mismatch. */
export function decodeInitiation(bytes: Uint8Array): Initiation {
  if (bytes.length < initiationBytesMin || bytes.length > initiationBytesMax) {
    throw formatError('initiation', `expected ${initiationBytesMin}..${initiationBytesMax} bytes, got ${bytes.length}`);
  }
  const reader = new Reader(bytes);
  if (reader.u8() !== MessageType.initiation) throw formatError('initiation', `expected type ${MessageType.initiation}, got ${bytes[0]}`);
  const senderIndex = reader.u32();
  const ephemeralPublicKey = reader.raw(xwingPublicKeyBytes);
  const staticCiphertext = reader.raw(xwingCiphertextBytes);
  const payloadBytes = reader.u16();
  if (reader.offset + payloadBytes + 2 * macBytes !== bytes.length) {
    throw formatError('initiation', `payload length field says ${payloadBytes} bytes, the message holds ${bytes.length - reader.offset - 2 * macBytes}`);
  }
  return { senderIndex, ephemeralPublicKey, staticCiphertext, encryptedPayload: reader.raw(payloadBytes) };
}

/** Encodes a response with zeroed mac1/mac2 fields. */
export function encodeResponse(message: Response): Uint8Array {
  const writer = new Writer(responseBytes);
  writer.u8(MessageType.response);
  writer.u32(message.senderIndex);
  writer.u32(message.receiverIndex);
  writer.raw(message.ephemeralCiphertext);
  writer.raw(message.staticCiphertext);
  writer.raw(message.confirmation);
  return writer.bytes;
}

/** Decodes a response's fields; ERR_HANDSHAKE_FORMAT on a wrong length or type. */
export function decodeResponse(bytes: Uint8Array): Response {
  if (bytes.length !== responseBytes) throw formatError('response', `expected ${responseBytes} bytes, got ${bytes.length}`);
  const reader = new Reader(bytes);
  if (reader.u8() !== MessageType.response) throw formatError('response', `expected type ${MessageType.response}, got ${bytes[0]}`);
  return {
    senderIndex: reader.u32(),
    receiverIndex: reader.u32(),
    ephemeralCiphertext: reader.raw(xwingCiphertextBytes),
    staticCiphertext: reader.raw(xwingCiphertextBytes),
    confirmation: reader.raw(tagBytes),
  };
}

/** Encodes a cookie reply. */
export function encodeCookieReply(message: CookieReply): Uint8Array {
  const writer = new Writer(cookieReplyBytes);
  writer.u8(MessageType.cookieReply);
  writer.u32(message.receiverIndex);
  writer.raw(message.nonce);
  writer.raw(message.encryptedCookie);
  return writer.bytes;
}

/** Decodes a cookie reply; ERR_HANDSHAKE_FORMAT on a wrong length or type. */
export function decodeCookieReply(bytes: Uint8Array): CookieReply {
  if (bytes.length !== cookieReplyBytes) throw formatError('cookie reply', `expected ${cookieReplyBytes} bytes, got ${bytes.length}`);
  const reader = new Reader(bytes);
  if (reader.u8() !== MessageType.cookieReply) throw formatError('cookie reply', `expected type ${MessageType.cookieReply}, got ${bytes[0]}`);
  return { receiverIndex: reader.u32(), nonce: reader.raw(cookieNonceBytes), encryptedCookie: reader.raw(cookieBytes + tagBytes) };
}

/** Encodes the initiation's payload: a big-endian 64-bit millisecond timestamp, then the certificate. */
export function encodePayload(timestampMs: number, certificate: Uint8Array): Uint8Array {
  if (certificate.length < 1 || certificate.length > certificateBytesMax) {
    throw formatError('initiation payload', `expected a certificate of 1..${certificateBytesMax} bytes, got ${certificate.length}`);
  }
  const payload = new Uint8Array(timestampBytes + certificate.length);
  new DataView(payload.buffer).setBigUint64(0, BigInt(Math.floor(timestampMs)));
  payload.set(certificate, timestampBytes);
  return payload;
}

/** Decodes the initiation's payload into its timestamp and certificate. */
export function decodePayload(payload: Uint8Array): { timestampMs: number; certificate: Uint8Array } {
  const timestamp = new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getBigUint64(0);
  if (timestamp > BigInt(Number.MAX_SAFE_INTEGER)) throw formatError('initiation payload', `timestamp ${timestamp} is out of range`);
  return { timestampMs: Number(timestamp), certificate: payload.slice(timestampBytes) };
}
