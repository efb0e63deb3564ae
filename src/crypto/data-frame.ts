/**
 * Data frames: how an established session's packets go on the wire (sans-IO).
 *
 *     masked header (13) | AEAD_session( payload | zero padding | padding length (1) ) | tag (16)
 *     header = kind (1) | receiver index (4) | counter (8)
 *     mask   = ChaCha20_headerKey( iv = last 16 bytes of the datagram, i.e. the AEAD tag )[0..13]
 *
 * Handshake and cookie frames (obfuscation.ts) carry their own HMAC tag under the network key;
 * a data frame needs none, because the session AEAD already authenticates everything in it:
 * the receiver index picks the key and the counter is the nonce, so a changed header or body
 * fails the tag, and the padding length travels inside the sealed plaintext. The only thing left
 * in the clear would be the header, and it is masked as QUIC protects its packet numbers
 * (RFC 9001 §5.4.4): one ChaCha20 block keyed by the network and indexed by a sample of the
 * ciphertext (its first 4 bytes the block counter, the other 12 the nonce). The sample is the tag, which
 * is pseudorandom and different for every packet, so to anyone without the network key every
 * byte of a data frame is random and its length varies with the keyed padding. Forwarding a
 * packet then costs one AEAD open, one AEAD seal and three ChaCha20 blocks (mask, padding, mask),
 * instead of two more HMACs, two AES-CTR passes and a random nonce on each side.
 *
 * Telling the kinds apart: a datagram is a data frame when its unmasked first byte is
 * `dataFrameKind`. Handshake and cookie frames are sealed so that theirs never is
 * (obfuscation.ts draws a fresh nonce for the 1 in 256 that would), so the test is exact and a
 * handshake fragment is never taken for data. The blocks come from our WebAssembly ChaCha20
 * (chacha20-poly1305.ts, ~0.2 us), or node:crypto's where WebAssembly is unavailable.
 */
import assert from 'node:assert/strict';
import { aeadTagBytes } from './aead.js';
import { nodeChaChaBlock, wasmChaCha } from './chacha20-poly1305.js';
import { expectLength } from './errors.js';
import { datagramBytesMax, datagramBytesMin } from './frame-limits.js';
import { poolBytes } from '../wire/pool-bytes.js';
import type { Session } from './session.js';

/** Bytes of the masked header: kind, receiver index, counter. */
export const dataHeaderBytes = 13;
/** Bytes a data frame adds around its payload before padding: header, padding-length byte, AEAD tag. */
export const dataOverheadBytes = dataHeaderBytes + 1 + aeadTagBytes;
/** Largest payload one data frame carries (a full frame then has no padding). */
export const dataPayloadBytesMax = datagramBytesMax - dataOverheadBytes;
/** Padding of data frames is 0..this many bytes (data is most traffic, so it pays less than handshakes). */
export const dataPaddingBytesMax = 64;
/** The unmasked first byte of every data frame. */
export const dataFrameKind = 0x02;

/** Bytes of the ciphertext sample (the AEAD tag) that picks the header mask, and of the padding function's input. */
const sampleBytes = 16;
const counterMax = Number.MAX_SAFE_INTEGER;
const twoPow32 = 2 ** 32;

assert(dataHeaderBytes <= sampleBytes, 'data frame: the header must fit the mask');
assert(dataOverheadBytes < datagramBytesMin, 'data frame: padding must be able to lift the smallest frame to datagramBytesMin');

/** A data frame's header, unmasked, with its sealed bytes (a view into the datagram). */
export interface DataFrame {
  readonly receiverIndex: number;
  readonly counter: number;
  /** AEAD ciphertext || tag of payload | padding | padding length. */
  readonly sealed: Uint8Array;
}

/** Seals session packets into data frames and takes them apart again; one per network key. */
export class DataFraming {
  private readonly headerKey: Uint8Array;
  private readonly paddingKey: Uint8Array;
  /** The ChaCha20 block function (key, 16-byte iv) -> 64 bytes, valid until its next call. */
  private readonly chachaBlock: (key: Uint8Array, iv: Uint8Array) => Uint8Array;
  private readonly block = new Uint8Array(sampleBytes);
  private readonly blockView = new DataView(this.block.buffer);
  private readonly plain = new Uint8Array(datagramBytesMax);
  /** The ciphertext sample a header mask is made from (see maskOf). */
  private readonly sample = new Uint8Array(sampleBytes);

  /** Takes the two 32-byte keys derived from the network key (deriveObfuscationKeys does this). */
  constructor(headerKey: Uint8Array, paddingKey: Uint8Array) {
    expectLength('DataFraming: headerKey', headerKey, 32);
    expectLength('DataFraming: paddingKey', paddingKey, 32);
    this.headerKey = headerKey.slice();
    this.paddingKey = paddingKey.slice();
    const wasm = wasmChaCha();
    this.chachaBlock = wasm === null ? nodeChaChaBlock : (key, iv) => wasm.block(key, iv);
  }

  /**
   * Seals `payload` as `session`'s next packet into one datagram. Throws what Session.seal
   * throws (expired, unconfirmed) and a RangeError for a payload over dataPayloadBytesMax.
   */
  seal(nowMs: number, session: Session, payload: Uint8Array): Uint8Array {
    if (payload.length > dataPayloadBytesMax) throw new RangeError(`DataFraming.seal: expected a payload of at most ${dataPayloadBytesMax} bytes, got ${payload.length}`);
    const paddingBytes = this.paddingFor(session.remoteIndex, session.packetsSent, payload.length);
    // Sealed at once below (sealInto copies it out), so one scratch buffer serves every packet.
    const plain = this.plain.subarray(0, payload.length + paddingBytes + 1);
    plain.set(payload, 0);
    // fill is a call into the runtime even for no bytes, and a full frame (most of a transit's) has no padding.
    if (paddingBytes > 0) plain.fill(0, payload.length, plain.length - 1);
    plain[plain.length - 1] = paddingBytes;
    // Every byte of the datagram is written below (header, then ciphertext and tag).
    const datagram = poolBytes(dataHeaderBytes + plain.length + aeadTagBytes);
    const counter = session.sealInto(nowMs, plain, datagram, dataHeaderBytes);
    this.writeHeader(datagram, session.remoteIndex, counter);
    return datagram;
  }

  /**
   * A data frame around bytes some session already sealed (ciphertext || tag of payload |
   * padding | padding length): for tests and tools that need a frame with a chosen index and
   * counter. Throws a RangeError naming the argument out of range.
   */
  frame(receiverIndex: number, counter: number, sealed: Uint8Array): Uint8Array {
    if (!Number.isInteger(receiverIndex) || receiverIndex < 0 || receiverIndex > 0xffff_ffff) throw new RangeError(`DataFraming.frame: expected receiverIndex in 0..2^32-1, got ${receiverIndex}`);
    if (!Number.isSafeInteger(counter) || counter < 0) throw new RangeError(`DataFraming.frame: expected counter in 0..2^53-1, got ${counter}`);
    const bytes = dataHeaderBytes + sealed.length;
    if (sealed.length < aeadTagBytes + 1 || bytes < datagramBytesMin || bytes > datagramBytesMax) {
      throw new RangeError(`DataFraming.frame: expected sealed bytes making a datagram of ${datagramBytesMin}..${datagramBytesMax} bytes, got ${sealed.length} sealed bytes`);
    }
    const datagram = new Uint8Array(bytes);
    datagram.set(sealed, dataHeaderBytes);
    this.writeHeader(datagram, receiverIndex, counter);
    return datagram;
  }

  /** The header of `datagram` if it is a data frame (see the module comment), else null. Never throws. */
  unmask(datagram: Uint8Array): DataFrame | null {
    if (datagram.length < datagramBytesMin || datagram.length > datagramBytesMax) return null;
    const mask = this.maskOf(datagram);
    if ((datagram[0]! ^ mask[0]!) !== dataFrameKind) return null;
    const header = this.block;
    for (let i = 1; i < dataHeaderBytes; i++) header[i] = datagram[i]! ^ mask[i]!;
    const counterHigh = this.blockView.getUint32(5);
    if (counterHigh > Math.floor(counterMax / twoPow32)) return null;
    return { receiverIndex: this.blockView.getUint32(1), counter: counterHigh * twoPow32 + this.blockView.getUint32(9), sealed: datagram.subarray(dataHeaderBytes) };
  }

  /** Whether `datagram` would be taken for a data frame; the other frame kinds are sealed so that it is not. */
  isDataShaped(datagram: Uint8Array): boolean {
    if (datagram.length < datagramBytesMin || datagram.length > datagramBytesMax) return false;
    return (datagram[0]! ^ this.maskOf(datagram)[0]!) === dataFrameKind;
  }

  /**
   * The payload of an opened data frame's plaintext (a view), or null when the padding length
   * overruns it or the padding is not zero: only a sender with the session key can produce
   * either, so null means a broken or hostile peer.
   */
  unpad(plaintext: Uint8Array): Uint8Array | null {
    if (plaintext.length === 0) return null;
    const paddingBytes = plaintext[plaintext.length - 1]!;
    const payloadBytes = plaintext.length - 1 - paddingBytes;
    if (payloadBytes < 0) return null;
    for (let i = payloadBytes; i < plaintext.length - 1; i++) if (plaintext[i] !== 0) return null;
    return plaintext.subarray(0, payloadBytes);
  }

  /**
   * Padding of the packet `counter` of the session the peer knows as `receiverIndex`: a keyed
   * function (one ChaCha20 block) reduced to 0..dataPaddingBytesMax, clipped to what fits, and at
   * least what lifts the frame to datagramBytesMin. Unpredictable without the network key, and
   * it costs no randomness.
   */
  private paddingFor(receiverIndex: number, counter: number, payloadBytes: number): number {
    const unpadded = dataOverheadBytes + payloadBytes;
    const max = Math.min(dataPaddingBytesMax, datagramBytesMax - unpadded);
    const min = Math.max(0, datagramBytesMin - unpadded);
    // A frame that fits only one size (a full one) has nothing to draw: the block would be wasted.
    if (max === min) return min;
    this.block.fill(0);
    this.blockView.setUint32(0, receiverIndex);
    this.blockView.setUint32(4, Math.floor(counter / twoPow32));
    this.blockView.setUint32(8, counter % twoPow32);
    this.blockView.setUint16(12, payloadBytes);
    const prf = this.chachaBlock(this.paddingKey, this.block);
    const value = ((prf[0]! << 24) | (prf[1]! << 16) | (prf[2]! << 8) | prf[3]!) >>> 0;
    // Uniform over min..max (not max(min, v mod (max+1)), which would pile onto min).
    return min + (value % (max - min + 1));
  }

  private maskOf(datagram: Uint8Array): Uint8Array {
    // Copied byte by byte into a buffer of our own: a subarray would be an allocation per mask.
    const sample = this.sample;
    const at = datagram.length - sampleBytes;
    for (let i = 0; i < sampleBytes; i++) sample[i] = datagram[at + i]!;
    return this.chachaBlock(this.headerKey, sample);
  }

  private writeHeader(datagram: Uint8Array, receiverIndex: number, counter: number): void {
    datagram[0] = dataFrameKind;
    // Big-endian by hand: a DataView over the datagram would be an allocation per packet.
    writeU32(datagram, 1, receiverIndex);
    writeU32(datagram, 5, Math.floor(counter / twoPow32));
    writeU32(datagram, 9, counter % twoPow32);
    const mask = this.maskOf(datagram);
    for (let i = 0; i < dataHeaderBytes; i++) datagram[i] = datagram[i]! ^ mask[i]!;
  }
}

/** Writes `value` (0..2^32-1) big-endian at `at`. */
function writeU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24;
  bytes[at + 1] = (value >>> 16) & 0xff;
  bytes[at + 2] = (value >>> 8) & 0xff;
  bytes[at + 3] = value & 0xff;
}
