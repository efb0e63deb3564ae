import { hkdfSha256, hmacSha256 } from './hash.js';
import { datagramBytesMax, datagramBytesMin, networkKeyBytes, obfsNonceBytes } from './obfuscation.js';
import { expectLength } from './errors.js';

/**
 * Obfuscated frames over a byte stream (the TCP transport, for networks that block UDP).
 * A datagram carries one frame and needs no length; a stream needs one, and a length field in
 * the clear would be the fixed structure a censor looks for. So each record is
 *
 *     frame nonce (16) | length (2) XOR HMAC-SHA-256_lengthKey(nonce)[0..2] | rest of the frame
 *
 * The nonce is the frame's own (uniformly random, or random printable ASCII for the first
 * frame of a flow), so the stream starts exactly as a UDP flow does, and the masked length
 * looks as random as everything after it. Sans-IO: bytes in, frames out.
 *
 * A stream whose length does not decode (a prober's bytes, or a desynchronised peer) is not
 * answered and not closed at once: the decoder swallows everything from then on, so the
 * connection looks like any server waiting for more input (closing at a fixed byte count is a
 * known fingerprint of proxies under active probing).
 */

/** Bytes of the masked length field. */
export const streamLengthBytes = 2;
/** A decoder holds at most this many undecoded bytes (one largest record plus a chunk boundary). */
export const streamBufferBytesMax = 2 * (datagramBytesMax + streamLengthBytes);

/** Derives the key that masks record lengths, from the network key. */
export function deriveStreamLengthKey(networkKey: Uint8Array): Uint8Array {
  expectLength('deriveStreamLengthKey: network key', networkKey, networkKeyBytes);
  return hkdfSha256(networkKey, new Uint8Array(0), new TextEncoder().encode('x0tta6bl4 stream length v1'), 32);
}

function lengthMask(lengthKey: Uint8Array, nonce: Uint8Array): number {
  const mac = hmacSha256(lengthKey, nonce);
  return (mac[0]! << 8) | mac[1]!;
}

/** One frame as a stream record. Throws a RangeError for a frame no decoder would accept (a programming error). */
export function encodeStreamRecord(lengthKey: Uint8Array, frame: Uint8Array): Uint8Array {
  if (frame.length < datagramBytesMin || frame.length > datagramBytesMax) {
    throw new RangeError(`encodeStreamRecord: frame of ${frame.length} bytes, expected ${datagramBytesMin}..${datagramBytesMax}`);
  }
  const record = new Uint8Array(frame.length + streamLengthBytes);
  record.set(frame.subarray(0, obfsNonceBytes), 0);
  const masked = frame.length ^ lengthMask(lengthKey, frame.subarray(0, obfsNonceBytes));
  record[obfsNonceBytes] = masked >> 8;
  record[obfsNonceBytes + 1] = masked & 0xff;
  record.set(frame.subarray(obfsNonceBytes), obfsNonceBytes + streamLengthBytes);
  return record;
}

/** A length key a stream may be under, with a check of the first frame it decodes (network-key-ring.ts: one per epoch). */
export interface StreamKeyCandidate {
  readonly lengthKey: Uint8Array;
  /**
   * What `frame` is under the network keys the receiver accepts: 'frame' when a handshake or
   * cookie frame authenticates, 'data' when it only looks like a data frame (which cannot be
   * checked without the session), null otherwise.
   */
  accepts(frame: Uint8Array): 'frame' | 'data' | null;
}

/**
 * Splits a byte stream back into frames. With one length key it decodes under that key. With
 * candidates (a network key rotation under way), the first record picks the key: a candidate
 * under which its length is a frame's and the frame authenticates, else one under which it
 * looks like a data frame; the rest of the stream stays under that key, as its sender keeps
 * the key it wrote the first record under.
 */
export class StreamDecoder {
  private buffer = new Uint8Array(0);
  private discarding = false;
  /** Bytes swallowed since the stream stopped decoding. */
  discardedBytes = 0;
  /** The key the stream is under: given, or picked by its first record. */
  private lengthKey: Uint8Array | null;
  private readonly candidates: (() => readonly StreamKeyCandidate[]) | null;

  constructor(keys: Uint8Array | (() => readonly StreamKeyCandidate[])) {
    this.lengthKey = keys instanceof Uint8Array ? keys : null;
    this.candidates = keys instanceof Uint8Array ? null : keys;
  }

  /** The length key the stream turned out to be under (null before its first record). */
  get pickedLengthKey(): Uint8Array | null {
    return this.lengthKey;
  }

  /** True once the stream failed to decode; it then yields nothing more. */
  get isDiscarding(): boolean {
    return this.discarding;
  }

  /** Takes the next bytes of the stream; returns the frames they complete. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.discarding) {
      this.discardedBytes += chunk.length;
      return [];
    }
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer, 0);
    joined.set(chunk, this.buffer.length);
    const frames: Uint8Array[] = [];
    let offset = 0;
    for (;;) {
      const frame = this.next(joined, offset);
      if (frame === null) break;
      if (frame === 'bad') {
        this.discard(joined.length - offset);
        return frames;
      }
      frames.push(frame.frame);
      offset = frame.end;
    }
    this.buffer = joined.slice(offset);
    if (this.buffer.length > streamBufferBytesMax) this.discard(this.buffer.length);
    return frames;
  }

  private discard(bytes: number): void {
    this.discarding = true;
    this.discardedBytes += bytes;
    this.buffer = new Uint8Array(0);
  }

  /** The record at `offset`: null when incomplete, 'bad' when its length cannot be a frame's. */
  private next(bytes: Uint8Array, offset: number): { frame: Uint8Array; end: number } | null | 'bad' {
    if (this.lengthKey === null) return this.pickKey(bytes, offset);
    return recordAt(bytes, offset, this.lengthKey);
  }

  /**
   * The first record under the candidate that decodes it to an authentic frame, else to a data
   * look-alike (a frame under a wrong length key is both only about 1 time in 14 000); null while
   * a candidate that might is incomplete, 'bad' when none can.
   */
  private pickKey(bytes: Uint8Array, offset: number): { frame: Uint8Array; end: number } | null | 'bad' {
    let incomplete = false;
    let dataShaped: { record: { frame: Uint8Array; end: number }; lengthKey: Uint8Array } | null = null;
    for (const candidate of this.candidates!()) {
      const record = recordAt(bytes, offset, candidate.lengthKey);
      if (record === null) incomplete = true;
      if (record === null || record === 'bad') continue;
      const verdict = candidate.accepts(record.frame);
      if (verdict === 'frame') return this.lockOn(candidate.lengthKey, record);
      if (verdict === 'data') dataShaped ??= { record, lengthKey: candidate.lengthKey };
    }
    if (incomplete) return null;
    return dataShaped === null ? 'bad' : this.lockOn(dataShaped.lengthKey, dataShaped.record);
  }

  private lockOn(lengthKey: Uint8Array, record: { frame: Uint8Array; end: number }): { frame: Uint8Array; end: number } {
    this.lengthKey = lengthKey;
    return record;
  }
}

/** The record at `offset` under `lengthKey`: null when incomplete, 'bad' when its length cannot be a frame's. */
function recordAt(bytes: Uint8Array, offset: number, lengthKey: Uint8Array): { frame: Uint8Array; end: number } | null | 'bad' {
  const headerEnd = offset + obfsNonceBytes + streamLengthBytes;
  if (bytes.length < headerEnd) return null;
  const nonce = bytes.subarray(offset, offset + obfsNonceBytes);
  const length = ((bytes[headerEnd - 2]! << 8) | bytes[headerEnd - 1]!) ^ lengthMask(lengthKey, nonce);
  if (length < datagramBytesMin || length > datagramBytesMax) return 'bad';
  const end = offset + length + streamLengthBytes;
  if (bytes.length < end) return null;
  const frame = new Uint8Array(length);
  frame.set(nonce, 0);
  frame.set(bytes.subarray(headerEnd, end), obfsNonceBytes);
  return { frame, end };
}
