/**
 * Obfuscated wire framing (sans-IO) of handshake and cookie messages; a session's data packets
 * have their own, cheaper frames (data-frame.ts) that look the same to an observer. Every
 * handshake and cookie datagram a node sends is
 *
 *     nonce (16) | AES-256-CTR_maskKey,nonce( header | body | zero padding ) | tag (16)
 *     tag = HMAC-SHA-256_macKey( nonce | ciphertext ), first 16 bytes
 *
 * so that, to anyone without the network key, every byte is uniformly random: no fixed byte,
 * offset or length (DPI boxes find WireGuard by its 148-byte initiation starting with four fixed
 * bytes; AmneziaWG exists to break exactly that). The header (frame kind, lengths, fragment
 * fields) is encrypted; the padding length is a keyed function of the
 * nonce, so lengths vary and an observer cannot predict them; the receiver checks the tag before
 * anything else and answers garbage with a typed refusal, never an exception, so the caller can
 * stay silent. Handshake messages larger than a datagram are fragmented and reassembled with
 * bounded memory; replayed handshake datagrams are refused within a time window.
 *
 * The first datagram of a flow (fragment 0 of an initiation) has a nonce of random printable
 * ASCII, so that rule Ex2 of the GFW's fully-encrypted-traffic detector exempts it (Wu et al.,
 * USENIX Security 2023, §4.2; see fet.ts). docs/obfuscation.md has the byte diagram and the
 * reasoning behind the limits.
 */
import assert from 'node:assert/strict';
import { createCipheriv, timingSafeEqual } from 'node:crypto';
import { DataFraming, type DataFrame } from './data-frame.js';
import { expectLength } from './errors.js';
import { cookieHeaderBytes, datagramBytesMax, datagramBytesMin, obfsNonceBytes, obfsTagBytes } from './frame-limits.js';
import { initiationFreshnessMs } from './handshake.js';
import { hkdfSha256, hmacSha256 } from './hash.js';

/** Bytes of the network key every member receives with its join token. */
export const networkKeyBytes = 32;
export { cookieHeaderBytes, datagramBytesMax, datagramBytesMin, obfsNonceBytes, obfsTagBytes };
/** Encrypted header bytes of a handshake frame (kind byte included). */
export const handshakeHeaderBytes = 13;
/** Bytes a frame adds around its body (before padding): nonce, header, tag. */
export const handshakeOverheadBytes = obfsNonceBytes + handshakeHeaderBytes + obfsTagBytes;
export const cookieOverheadBytes = obfsNonceBytes + cookieHeaderBytes + obfsTagBytes;
/** Largest body of one handshake fragment and of a cookie frame. */
export const fragmentBodyBytesMax = datagramBytesMax - handshakeOverheadBytes;
export const cookieBodyBytesMax = datagramBytesMax - cookieOverheadBytes;
/**
 * Room the fragmenter leaves in each fragment so it can move up to half of it to a neighbour:
 * fragment sizes then vary by up to this much and never sit at a fixed maximum.
 */
export const fragmentSlackBytes = 128;
/** Largest handshake message we fragment or reassemble (an initiation with a 16 KiB certificate is ~18.8 KB). */
export const handshakeMessageBytesMax = 20_480;
/** Most fragments one handshake message may have (the header field is one byte). */
export const fragmentsPerMessageMax = 32;
/** Padding of handshake and cookie frames is 0..this many bytes (and never past datagramBytesMax). */
export const handshakePaddingBytesMax = 255;
/**
 * How long a handshake or cookie datagram is remembered, to refuse its replay. Twice the
 * handshake's freshness window (120 s each way, handshake.ts), so a captured first packet is
 * refused here for as long as its timestamp could still pass the handshake's freshness check.
 */
export const replayWindowMs = 240_000;
/** Most datagrams the replay cache remembers; past this the oldest are forgotten first. */
export const replayEntriesMax = 16_384;
/** A handshake message whose fragments have not all arrived this long after the first is dropped (WireGuard's Rekey-Timeout). */
export const reassemblyTimeoutMs = 5_000;
/** Most handshake messages being reassembled at once. */
export const reassembliesMax = 32;
/** Messages one source may have in reassembly at once, so that no single sender fills every slot. */
export const reassembliesPerSourceMax = 4;
/** Most bytes reserved for reassembly at once (each message reserves its declared size). */
export const reassemblyBytesMax = 262_144;

const kindHandshake = 1;
const kindCookie = 3;
const printableLow = 0x20;
const printableCount = 95;
/** Random bytes below this are mapped onto the 95 printable characters without bias (2 * 95). */
const printableAcceptBelow = 2 * printableCount;
/** Rounds of rejection sampling before the random source is declared broken (a fair source fails with probability < 2^-300). */
const printableRoundsMax = 64;
/** Nonces drawn before the random source is declared broken: each draw is data-shaped with probability 1/256. */
const nonceDrawsMax = 64;

assert(datagramBytesMin === cookieOverheadBytes + 1, 'obfuscation: the smallest datagram is a cookie frame with a 1-byte body');
assert(datagramBytesMax <= 1232, 'obfuscation: datagramBytesMax must fit the IPv6 minimum MTU minus IPv6 and UDP headers');
assert(fragmentSlackBytes < fragmentBodyBytesMax / 2, 'obfuscation: fragmentSlackBytes must leave most of a fragment for data');
assert(
  Math.ceil(handshakeMessageBytesMax / (fragmentBodyBytesMax - fragmentSlackBytes)) <= fragmentsPerMessageMax && fragmentsPerMessageMax <= 255,
  'obfuscation: the largest handshake message must fit in fragmentsPerMessageMax fragments, a one-byte field',
);
assert(handshakeMessageBytesMax <= 0xffff, 'obfuscation: message lengths and offsets are two-byte fields');
assert(reassemblyBytesMax >= handshakeMessageBytesMax, 'obfuscation: reassembly memory must hold at least one largest message');
assert(replayWindowMs >= 2 * initiationFreshnessMs, 'obfuscation: the replay window must cover the handshake freshness window both ways');

/** Why a datagram was refused or a call was rejected; stable codes for counters and tests. */
export const ObfuscationErrorCode = {
  /** The datagram is shorter than any frame or longer than datagramBytesMax. */
  ERR_OBFS_LENGTH: 'ERR_OBFS_LENGTH',
  /** The tag does not verify under the network key: garbage, a probe, another network, or altered bytes. */
  ERR_OBFS_AUTH: 'ERR_OBFS_AUTH',
  /** The frame authenticated but its header is not a canonical frame (only an insider or a bug produces this). */
  ERR_OBFS_FORMAT: 'ERR_OBFS_FORMAT',
  /** A handshake or cookie datagram seen within replayWindowMs. */
  ERR_OBFS_REPLAY: 'ERR_OBFS_REPLAY',
  /** A fragment contradicts the others of its message (count, size, overlap, order, gaps). */
  ERR_OBFS_FRAGMENT: 'ERR_OBFS_FRAGMENT',
  /** Reassembly is at reassembliesMax messages or reassemblyBytesMax bytes. */
  ERR_OBFS_LIMIT: 'ERR_OBFS_LIMIT',
  /** A sender-side argument is out of range (our caller's bug, thrown, never a refusal). */
  ERR_OBFS_ARGUMENT: 'ERR_OBFS_ARGUMENT',
} as const;

/** One of the codes in ObfuscationErrorCode. */
export type ObfuscationErrorCodeValue = (typeof ObfuscationErrorCode)[keyof typeof ObfuscationErrorCode];

/** Thrown by the sealing functions when the caller passes values no frame can carry. */
export class ObfuscationError extends Error {
  override readonly name = 'ObfuscationError';

  /** Builds an error with a stable `code` and a message naming the argument and the finding. */
  constructor(
    readonly code: ObfuscationErrorCodeValue,
    message: string,
  ) {
    super(message);
  }
}

/** A refused datagram: the caller counts it and stays silent toward the sender. */
export interface ObfuscationRefusal {
  readonly kind: 'refused';
  readonly code: Exclude<ObfuscationErrorCodeValue, 'ERR_OBFS_ARGUMENT'>;
  /** What failed, for logs; never contains key material. */
  readonly reason: string;
}

/** The source of randomness the caller passes in (the daemon: crypto.randomBytes; tests: a seeded stream). */
export type RandomSource = (bytes: number) => Uint8Array;

declare const obfuscationKeysBrand: unique symbol;

/** Keys derived from a network key; branded so raw bytes cannot be passed in their place. */
export interface ObfuscationKeys {
  /** AES-256-CTR key that encrypts header, body and padding. */
  readonly maskKey: Uint8Array;
  /** HMAC-SHA-256 key of the datagram tag. */
  readonly macKey: Uint8Array;
  /** HMAC-SHA-256 key of the padding-length function. */
  readonly paddingKey: Uint8Array;
  /** Seals and unmasks session data frames (their own keys; see data-frame.ts). */
  readonly data: DataFraming;
  readonly [obfuscationKeysBrand]: true;
}

/** One fragment of a handshake message, as carried in a handshake frame. */
export interface HandshakeFragment {
  /** Random per message; fragments of one message share it. */
  readonly messageId: number;
  /** Position of this fragment, 0..count-1; offsets grow with the index. */
  readonly index: number;
  readonly count: number;
  /** Length of the whole message. */
  readonly messageBytes: number;
  /** Where this fragment's bytes start in the message. */
  readonly offset: number;
  readonly body: Uint8Array;
}

export type { DataFrame };

/** A frame that authenticated and parsed. */
export type OpenedFrame =
  | { readonly kind: 'handshake'; readonly fragment: HandshakeFragment; readonly tag: Uint8Array }
  | { readonly kind: 'cookie'; readonly message: Uint8Array; readonly tag: Uint8Array };

/** What FrameReceiver.receive makes of one datagram. */
export type Received =
  | { readonly kind: 'handshake'; readonly message: Uint8Array }
  | { readonly kind: 'cookie'; readonly message: Uint8Array }
  | ({ readonly kind: 'data' } & DataFrame)
  | { readonly kind: 'pending' }
  | ObfuscationRefusal;

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const keySalt = utf8('x0tta6bl4 obfuscation v1');

/**
 * Derives the masking, MAC and padding keys, and the data frames' header and padding keys, from
 * the 32-byte network key (HKDF-SHA-256, one label per key, so no key is used for two purposes).
 *
 * The network key keeps out everyone who has no join token: a censor sees random bytes and
 * cannot make a node answer. An insider who holds it (any member, or whoever stole a token) can
 * unmask every frame of the network: kinds, lengths, fragment fields, session indices and
 * counters, i.e. who talks to whom and how much; it can also forge frames that pass this layer
 * and replay old ones outside the window. It cannot read or forge session payloads (the session
 * AEAD keys come from the handshake, not from this key), cannot complete a handshake as someone
 * else (that needs their static key and certificate) and cannot make a node answer an initiation
 * that is not for that node's static key (mac1 in the handshake). Rotating the network key
 * shuts a leaked insider out of the framing again.
 */
export function deriveObfuscationKeys(networkKey: Uint8Array): ObfuscationKeys {
  expectLength('deriveObfuscationKeys: networkKey', networkKey, networkKeyBytes);
  const derive = (label: string): Uint8Array => hkdfSha256(networkKey, keySalt, utf8(label), 32);
  const data = new DataFraming(derive('data header'), derive('data padding'));
  return { maskKey: derive('mask'), macKey: derive('mac'), paddingKey: derive('padding'), data } as ObfuscationKeys;
}

function argumentError(what: string, detail: string): ObfuscationError {
  return new ObfuscationError(ObfuscationErrorCode.ERR_OBFS_ARGUMENT, `${what}: ${detail}`);
}

function refuse(code: ObfuscationRefusal['code'], reason: string): ObfuscationRefusal {
  return { kind: 'refused', code, reason };
}

function draw(random: RandomSource, bytes: number): Uint8Array {
  const out = random(bytes);
  assert(out.length === bytes, `obfuscation: random source returned ${out.length} bytes, expected ${bytes}`);
  return out;
}

/**
 * A nonce of uniformly random printable ASCII ([0x20, 0x7e]) by rejection sampling: about 6.57
 * bits per byte, 105 bits in all, still far from colliding under one network key.
 */
function printableNonce(random: RandomSource): Uint8Array {
  const nonce = new Uint8Array(obfsNonceBytes);
  let filled = 0;
  for (let round = 0; round < printableRoundsMax && filled < obfsNonceBytes; round++) {
    for (const byte of draw(random, obfsNonceBytes)) {
      if (byte < printableAcceptBelow && filled < obfsNonceBytes) nonce[filled++] = printableLow + (byte % printableCount);
    }
  }
  assert(filled === obfsNonceBytes, 'obfuscation: the random source yields no bytes below 190; it is broken');
  return nonce;
}

function ctr(key: Uint8Array, nonce: Uint8Array, input: Uint8Array): Uint8Array {
  const cipher = createCipheriv('aes-256-ctr', key, nonce);
  const head = cipher.update(input);
  const tail = cipher.final();
  const out = new Uint8Array(input.length);
  out.set(head, 0);
  out.set(tail, head.length);
  return out;
}

function tagOf(keys: ObfuscationKeys, authenticated: Uint8Array): Uint8Array {
  return hmacSha256(keys.macKey, authenticated).subarray(0, obfsTagBytes);
}

function u16(value: number): Uint8Array {
  return Uint8Array.of(value >>> 8, value & 0xff);
}

function overheadOf(kind: number): number {
  return kind === kindHandshake ? handshakeOverheadBytes : cookieOverheadBytes;
}

/**
 * The padding length of a frame: HMAC(paddingKey, nonce | kind | body length) reduced to
 * 0..max, where max is the kind's padding limit clipped to what still fits the datagram. Being a
 * keyed function of the nonce, it is unpredictable without the key, costs no randomness, and
 * lets the receiver insist on the one canonical length.
 */
function paddingBytesFor(keys: ObfuscationKeys, nonce: Uint8Array, kind: number, bodyBytes: number): number {
  const room = datagramBytesMax - overheadOf(kind) - bodyBytes;
  const max = Math.min(handshakePaddingBytesMax, room);
  if (max <= 0) return 0;
  const prf = hmacSha256(keys.paddingKey, nonce, Uint8Array.of(kind), u16(bodyBytes));
  const value = new DataView(prf.buffer, prf.byteOffset, 4).getUint32(0);
  return value % (max + 1);
}

/**
 * Seals header and body under a nonce from `drawNonce`, drawing again in the 1 of 256 cases
 * where the datagram would unmask as a data frame (data-frame.ts), so receivers tell the kinds
 * apart exactly.
 */
function sealFrame(keys: ObfuscationKeys, drawNonce: () => Uint8Array, header: Uint8Array, body: Uint8Array): Uint8Array {
  for (let draws = 0; draws < nonceDrawsMax; draws++) {
    const datagram = sealFrameOnce(keys, drawNonce(), header, body);
    if (!keys.data.isDataShaped(datagram)) return datagram;
  }
  assert.fail(`obfuscation: ${nonceDrawsMax} nonces in a row made data-shaped frames; the random source is broken`);
}

function sealFrameOnce(keys: ObfuscationKeys, nonce: Uint8Array, header: Uint8Array, body: Uint8Array): Uint8Array {
  const padding = paddingBytesFor(keys, nonce, header[0]!, body.length);
  const plain = new Uint8Array(header.length + body.length + padding);
  plain.set(header, 0);
  plain.set(body, header.length);
  const tagAt = obfsNonceBytes + plain.length;
  const datagram = new Uint8Array(tagAt + obfsTagBytes);
  datagram.set(nonce, 0);
  datagram.set(ctr(keys.maskKey, nonce, plain), obfsNonceBytes);
  datagram.set(tagOf(keys, datagram.subarray(0, tagAt)), tagAt);
  assert(datagram.length <= datagramBytesMax, `obfuscation: sealed ${datagram.length} bytes, over datagramBytesMax`);
  return datagram;
}

function isUint(value: number, max: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= max;
}

function checkFragment(fragment: HandshakeFragment): void {
  const what = 'sealHandshakeFragment';
  if (!isUint(fragment.messageId, 0xffff_ffff)) throw argumentError(what, `expected messageId in 0..2^32-1, got ${fragment.messageId}`);
  if (!isUint(fragment.count, fragmentsPerMessageMax) || fragment.count < 1) throw argumentError(what, `expected count in 1..${fragmentsPerMessageMax}, got ${fragment.count}`);
  if (!isUint(fragment.index, fragment.count - 1)) throw argumentError(what, `expected index in 0..${fragment.count - 1}, got ${fragment.index}`);
  if (!isUint(fragment.messageBytes, handshakeMessageBytesMax) || fragment.messageBytes < 1) {
    throw argumentError(what, `expected messageBytes in 1..${handshakeMessageBytesMax}, got ${fragment.messageBytes}`);
  }
  const bodyBytes = fragment.body.length;
  if (bodyBytes < 1 || bodyBytes > fragmentBodyBytesMax) throw argumentError(what, `expected a body of 1..${fragmentBodyBytesMax} bytes, got ${bodyBytes}`);
  if (!isUint(fragment.offset, fragment.messageBytes - bodyBytes)) {
    throw argumentError(what, `expected offset + body within ${fragment.messageBytes} bytes, got ${fragment.offset} + ${bodyBytes}`);
  }
}

/**
 * Seals one handshake fragment into a datagram. `opensFlow` gives it a printable nonce so the
 * GFW's Ex2 exempts it; set it only on the first datagram of a flow (sealHandshakeMessage does).
 */
export function sealHandshakeFragment(keys: ObfuscationKeys, random: RandomSource, fragment: HandshakeFragment, options: { readonly opensFlow: boolean }): Uint8Array {
  checkFragment(fragment);
  const drawNonce = options.opensFlow ? () => printableNonce(random) : () => draw(random, obfsNonceBytes);
  const header = new Uint8Array(handshakeHeaderBytes);
  const view = new DataView(header.buffer);
  header[0] = kindHandshake;
  view.setUint32(1, fragment.messageId);
  header[5] = fragment.index;
  header[6] = fragment.count;
  view.setUint16(7, fragment.messageBytes);
  view.setUint16(9, fragment.offset);
  view.setUint16(11, fragment.body.length);
  return sealFrame(keys, drawNonce, header, fragment.body);
}

/**
 * Sizes of the fragments of a `messageBytes`-byte message: as few as fit with fragmentSlackBytes
 * spare in each, split evenly, then each boundary moved by a random -slack/2..+slack/2 bytes so
 * no fragment has a predictable size. Every size stays in 1..fragmentBodyBytesMax.
 */
export function planFragmentSizes(messageBytes: number, random: RandomSource): number[] {
  const count = Math.max(1, Math.ceil(messageBytes / (fragmentBodyBytesMax - fragmentSlackBytes)));
  const sizes = Array.from({ length: count }, (_, i) => Math.floor(messageBytes / count) + (i < messageBytes % count ? 1 : 0));
  const shiftMax = fragmentSlackBytes / 2;
  for (let i = 0; i + 1 < count; i++) {
    const draw16 = draw(random, 2);
    const shift = (((draw16[0]! << 8) | draw16[1]!) % (2 * shiftMax + 1)) - shiftMax;
    sizes[i] = sizes[i]! + shift;
    sizes[i + 1] = sizes[i + 1]! - shift;
  }
  assert(sizes.every((size) => size >= 1 && size <= fragmentBodyBytesMax), 'obfuscation: fragment plan out of bounds');
  return sizes;
}

/**
 * Splits a handshake message into fragments and seals each into a datagram, to be sent in
 * order. With `opensFlow` (an initiation) the first datagram gets a printable nonce so that the
 * GFW's fully-encrypted-traffic rules exempt it; all others look uniformly random.
 */
export function sealHandshakeMessage(keys: ObfuscationKeys, random: RandomSource, message: Uint8Array, options: { readonly opensFlow: boolean }): Uint8Array[] {
  if (message.length < 1 || message.length > handshakeMessageBytesMax) {
    throw argumentError('sealHandshakeMessage', `expected a message of 1..${handshakeMessageBytesMax} bytes, got ${message.length}`);
  }
  const idBytes = draw(random, 4);
  const messageId = new DataView(idBytes.buffer, idBytes.byteOffset, 4).getUint32(0);
  const sizes = planFragmentSizes(message.length, random);
  const datagrams: Uint8Array[] = [];
  let offset = 0;
  for (const [index, size] of sizes.entries()) {
    const fragment = { messageId, index, count: sizes.length, messageBytes: message.length, offset, body: message.subarray(offset, offset + size) };
    datagrams.push(sealHandshakeFragment(keys, random, fragment, { opensFlow: options.opensFlow && index === 0 }));
    offset += size;
  }
  return datagrams;
}

/** Seals a cookie reply (a handshake message that always fits one datagram) into its own frame kind. */
export function sealCookieFrame(keys: ObfuscationKeys, random: RandomSource, message: Uint8Array): Uint8Array {
  if (message.length < 1 || message.length > cookieBodyBytesMax) {
    throw argumentError('sealCookieFrame', `expected a message of 1..${cookieBodyBytesMax} bytes, got ${message.length}`);
  }
  const header = Uint8Array.of(kindCookie, ...u16(message.length));
  return sealFrame(keys, () => draw(random, obfsNonceBytes), header, message);
}

function formatRefusal(reason: string): ObfuscationRefusal {
  return refuse(ObfuscationErrorCode.ERR_OBFS_FORMAT, reason);
}

/** Splits `plain` after a header of `headerBytes` whose body length is `bodyBytes`; checks the canonical zero padding. */
function bodyAndPadding(keys: ObfuscationKeys, nonce: Uint8Array, plain: Uint8Array, headerBytes: number, bodyBytes: number): Uint8Array | ObfuscationRefusal {
  const paddingBytes = plain.length - headerBytes - bodyBytes;
  if (paddingBytes < 0) return formatRefusal(`body of ${bodyBytes} bytes overruns the frame`);
  if (paddingBytes !== paddingBytesFor(keys, nonce, plain[0]!, bodyBytes)) return formatRefusal(`padding of ${paddingBytes} bytes is not the canonical length`);
  for (let i = headerBytes + bodyBytes; i < plain.length; i++) if (plain[i] !== 0) return formatRefusal('padding is not zero');
  return plain.slice(headerBytes, headerBytes + bodyBytes);
}

function parseHandshake(keys: ObfuscationKeys, nonce: Uint8Array, plain: Uint8Array, tag: Uint8Array): OpenedFrame | ObfuscationRefusal {
  if (plain.length < handshakeHeaderBytes) return formatRefusal('handshake header truncated');
  const view = new DataView(plain.buffer, plain.byteOffset, plain.length);
  const [messageId, index, count] = [view.getUint32(1), plain[5]!, plain[6]!];
  const [messageBytes, offset, bodyBytes] = [view.getUint16(7), view.getUint16(9), view.getUint16(11)];
  if (count < 1 || count > fragmentsPerMessageMax || index >= count) return formatRefusal(`fragment ${index} of ${count} is out of range`);
  if (messageBytes < 1 || messageBytes > handshakeMessageBytesMax) return formatRefusal(`message of ${messageBytes} bytes is out of range`);
  if (bodyBytes < 1 || offset + bodyBytes > messageBytes) return formatRefusal(`fragment ${offset}+${bodyBytes} lies outside ${messageBytes} bytes`);
  const body = bodyAndPadding(keys, nonce, plain, handshakeHeaderBytes, bodyBytes);
  if (!(body instanceof Uint8Array)) return body;
  return { kind: 'handshake', fragment: { messageId, index, count, messageBytes, offset, body }, tag };
}

function parseCookie(keys: ObfuscationKeys, nonce: Uint8Array, plain: Uint8Array, tag: Uint8Array): OpenedFrame | ObfuscationRefusal {
  const bodyBytes = (plain[1]! << 8) | plain[2]!;
  if (bodyBytes < 1) return formatRefusal('cookie frame without a body');
  const message = bodyAndPadding(keys, nonce, plain, cookieHeaderBytes, bodyBytes);
  if (!(message instanceof Uint8Array)) return message;
  return { kind: 'cookie', message, tag };
}

/**
 * Authenticates and parses one datagram, statelessly: length, then the tag under the network
 * key (constant time), and only then decryption and the header. Never throws on any input.
 */
export function openFrame(keys: ObfuscationKeys, datagram: Uint8Array): OpenedFrame | ObfuscationRefusal {
  if (datagram.length < datagramBytesMin || datagram.length > datagramBytesMax) {
    return refuse(ObfuscationErrorCode.ERR_OBFS_LENGTH, `expected ${datagramBytesMin}..${datagramBytesMax} bytes, got ${datagram.length}`);
  }
  const tagAt = datagram.length - obfsTagBytes;
  const tag = datagram.slice(tagAt);
  if (!timingSafeEqual(tagOf(keys, datagram.subarray(0, tagAt)), tag)) return refuse(ObfuscationErrorCode.ERR_OBFS_AUTH, 'tag does not verify');
  const nonce = datagram.subarray(0, obfsNonceBytes);
  const plain = ctr(keys.maskKey, nonce, datagram.subarray(obfsNonceBytes, tagAt));
  if (plain[0] === kindHandshake) return parseHandshake(keys, nonce, plain, tag);
  if (plain[0] === kindCookie) return parseCookie(keys, nonce, plain, tag);
  return formatRefusal(`unknown frame kind ${plain[0]}`);
}

/** Remembers the tags of recent handshake and cookie datagrams, bounded in time and count. */
class ReplayCache {
  /** Tag (hex) -> time after which it is forgotten; insertion order is arrival order. */
  private readonly expiries = new Map<string, number>();

  get size(): number {
    return this.expiries.size;
  }

  /** True if `tag` was seen within the window; otherwise records it and returns false. */
  seen(nowMs: number, tag: Uint8Array): boolean {
    this.expire(nowMs);
    const key = Buffer.from(tag).toString('hex');
    const expiry = this.expiries.get(key);
    if (expiry !== undefined && expiry > nowMs) return true;
    // Re-inserting moves the key to the end, keeping arrival order close to expiry order even
    // if the driver's clock steps back.
    this.expiries.delete(key);
    if (this.expiries.size >= replayEntriesMax) this.expiries.delete(this.expiries.keys().next().value!);
    this.expiries.set(key, nowMs + replayWindowMs);
    return false;
  }

  private expire(nowMs: number): void {
    for (const [key, expiry] of this.expiries) {
      if (expiry > nowMs) break;
      this.expiries.delete(key);
    }
  }
}

interface Reassembly {
  /** The sender it is reassembled for. */
  readonly source: string;
  readonly count: number;
  readonly messageBytes: number;
  readonly deadlineMs: number;
  /** Index -> fragment. */
  readonly fragments: Map<number, { readonly offset: number; readonly body: Uint8Array }>;
  receivedBytes: number;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function fragmentRefusal(reason: string): ObfuscationRefusal {
  return refuse(ObfuscationErrorCode.ERR_OBFS_FRAGMENT, reason);
}

/** A fragment contradicts a stored one when their ranges overlap or their order disagrees with their indices. */
function contradicts(stored: Map<number, { readonly offset: number; readonly body: Uint8Array }>, fragment: HandshakeFragment): boolean {
  const end = fragment.offset + fragment.body.length;
  for (const [index, other] of stored) {
    const otherEnd = other.offset + other.body.length;
    if (fragment.offset < otherEnd && other.offset < end) return true;
    if (index < fragment.index !== other.offset < fragment.offset) return true;
  }
  return false;
}

function assemble(reassembly: Reassembly): Uint8Array {
  const message = new Uint8Array(reassembly.messageBytes);
  for (const { offset, body } of reassembly.fragments.values()) message.set(body, offset);
  return message;
}

/** Where a FrameReceiver gets the key sets it accepts at a time (NetworkKeyRing is one), the one sent under first. */
export interface FrameKeySource {
  acceptedAt(nowMs: number): readonly { readonly obfuscation: ObfuscationKeys }[];
}

/**
 * The data frame header of `datagram` under the first of `accepted` that takes it for a data
 * frame naming a session (`isReceiverIndex`; without it, any), and the first header that named
 * none. Under a key it was not sealed with, a datagram looks like a data frame 1 time in 256,
 * so the session check keeps such a look-alike from hiding the key that fits.
 */
function unmaskUnder(accepted: readonly { readonly obfuscation: ObfuscationKeys }[], datagram: Uint8Array, isReceiverIndex?: (index: number) => boolean): { known: DataFrame | null; lookAlike: DataFrame | null } {
  let lookAlike: DataFrame | null = null;
  for (const { obfuscation } of accepted) {
    const data = obfuscation.data.unmask(datagram);
    if (data === null) continue;
    if (isReceiverIndex === undefined || isReceiverIndex(data.receiverIndex)) return { known: data, lookAlike };
    lookAlike ??= data;
  }
  return { known: null, lookAlike };
}

/** openFrame under each of `accepted` in turn: the first that authenticates, else the first key's refusal. */
function openUnder(accepted: readonly { readonly obfuscation: ObfuscationKeys }[], datagram: Uint8Array): OpenedFrame | ObfuscationRefusal {
  const frame = openFrame(accepted[0]!.obfuscation, datagram);
  if (frame.kind !== 'refused' || accepted.length === 1) return frame;
  for (let i = 1; i < accepted.length; i++) {
    const other = openFrame(accepted[i]!.obfuscation, datagram);
    if (other.kind !== 'refused') return other;
  }
  return frame;
}

/**
 * The receiving side: authenticates datagrams, refuses replayed handshake and cookie datagrams,
 * and reassembles fragmented handshake messages within the named limits. Time is passed in;
 * `nextDeadlineMs` tells the driver when a reassembly would time out.
 */
export class FrameReceiver {
  private readonly replay = new ReplayCache();
  private readonly keySource: FrameKeySource;
  /** `${source}/${messageId}` -> partial message, in arrival order. */
  private readonly reassemblies = new Map<string, Reassembly>();
  private reservedBytes = 0;
  /** Reassemblies in progress per source. */
  private readonly perSource = new Map<string, number>();

  /** Builds a receiver for the network whose keys are `keys`: one set, or a key ring's sets over time (network-key-ring.ts). */
  constructor(keys: ObfuscationKeys | FrameKeySource) {
    if ('acceptedAt' in keys) this.keySource = keys;
    else {
      const only = [{ obfuscation: keys }];
      this.keySource = { acceptedAt: () => only };
    }
  }

  /** Messages being reassembled now. */
  get reassemblyCount(): number {
    return this.reassemblies.size;
  }

  /** Bytes reserved for reassembly now. */
  get reassemblyBytes(): number {
    return this.reservedBytes;
  }

  /** Tags the replay cache holds now. */
  get replayEntries(): number {
    return this.replay.size;
  }

  /** Earliest time a reassembly times out, or null when none is pending. */
  nextDeadlineMs(): number | null {
    let earliest: number | null = null;
    for (const { deadlineMs } of this.reassemblies.values()) if (earliest === null || deadlineMs < earliest) earliest = deadlineMs;
    return earliest;
  }

  /**
   * Handles one datagram from `source` (the driver's name for the sender's address; fragments
   * from different sources never mix). Never throws on any input; a refusal means: say nothing.
   */
  receive(nowMs: number, datagram: Uint8Array, source: string | number = '', isReceiverIndex?: (index: number) => boolean): Received {
    // Iterating even an empty map costs an iterator per datagram, and most datagrams are data.
    if (this.reassemblies.size > 0) this.expire(nowMs);
    const accepted = this.keySource.acceptedAt(nowMs);
    if (accepted.length > 1) return this.receiveUnderSeveral(nowMs, accepted, datagram, source, isReceiverIndex);
    const data = accepted[0]!.obfuscation.data.unmask(datagram);
    // Field by field, not a spread: this runs for every data frame, and a spread copies through a slow path.
    if (data !== null) return { kind: 'data', receiverIndex: data.receiverIndex, counter: data.counter, sealed: data.sealed };
    return this.receiveFrame(nowMs, openFrame(accepted[0]!.obfuscation, datagram), source);
  }

  /**
   * receive while a rotation overlaps two or more keys: a data frame naming a session under any
   * of them; else a handshake or cookie frame that authenticates under one; else what looked
   * like a data frame under some key (the session layer counts it), else the refusal.
   */
  private receiveUnderSeveral(nowMs: number, accepted: readonly { readonly obfuscation: ObfuscationKeys }[], datagram: Uint8Array, source: string | number, isReceiverIndex?: (index: number) => boolean): Received {
    const { known, lookAlike } = unmaskUnder(accepted, datagram, isReceiverIndex);
    if (known !== null) return { kind: 'data', receiverIndex: known.receiverIndex, counter: known.counter, sealed: known.sealed };
    const frame = openUnder(accepted, datagram);
    if (frame.kind === 'refused' && lookAlike !== null) return { kind: 'data', receiverIndex: lookAlike.receiverIndex, counter: lookAlike.counter, sealed: lookAlike.sealed };
    return this.receiveFrame(nowMs, frame, source);
  }

  private receiveFrame(nowMs: number, frame: OpenedFrame | ObfuscationRefusal, source: string | number): Received {
    if (frame.kind === 'refused') return frame;
    if (this.replay.seen(nowMs, frame.tag)) return refuse(ObfuscationErrorCode.ERR_OBFS_REPLAY, `${frame.kind} datagram seen within ${replayWindowMs} ms`);
    if (frame.kind === 'cookie') return { kind: 'cookie', message: frame.message };
    // Named as a string only here: a data frame (most datagrams) never needs the name.
    return this.addFragment(nowMs, String(source), frame.fragment);
  }

  /** Drops reassemblies whose deadline has passed. */
  expire(nowMs: number): void {
    for (const [key, reassembly] of this.reassemblies) if (reassembly.deadlineMs <= nowMs) this.drop(key, reassembly);
  }

  private drop(key: string, reassembly: Reassembly): void {
    this.reassemblies.delete(key);
    this.reservedBytes -= reassembly.messageBytes;
    const left = (this.perSource.get(reassembly.source) ?? 1) - 1;
    if (left === 0) this.perSource.delete(reassembly.source);
    else this.perSource.set(reassembly.source, left);
  }

  private addFragment(nowMs: number, source: string, fragment: HandshakeFragment): Received {
    const key = `${source}/${fragment.messageId}`;
    if (fragment.count === 1) {
      if (fragment.offset !== 0 || fragment.body.length !== fragment.messageBytes) return fragmentRefusal('a single fragment must hold the whole message');
      return { kind: 'handshake', message: fragment.body };
    }
    const reassembly = this.reassemblies.get(key) ?? this.start(nowMs, key, source, fragment);
    if (!('fragments' in reassembly)) return reassembly;
    if (reassembly.count !== fragment.count || reassembly.messageBytes !== fragment.messageBytes) {
      this.drop(key, reassembly);
      return fragmentRefusal(`fragment says ${fragment.count} fragments of ${fragment.messageBytes} bytes, message has ${reassembly.count} of ${reassembly.messageBytes}`);
    }
    const stored = reassembly.fragments.get(fragment.index);
    if (stored !== undefined) {
      if (stored.offset === fragment.offset && sameBytes(stored.body, fragment.body)) return { kind: 'pending' };
      this.drop(key, reassembly);
      return fragmentRefusal(`fragment ${fragment.index} arrived twice with different contents`);
    }
    if (contradicts(reassembly.fragments, fragment)) {
      this.drop(key, reassembly);
      return fragmentRefusal(`fragment ${fragment.index} overlaps or is out of order with the others`);
    }
    reassembly.fragments.set(fragment.index, { offset: fragment.offset, body: fragment.body });
    reassembly.receivedBytes += fragment.body.length;
    if (reassembly.fragments.size < reassembly.count) return { kind: 'pending' };
    this.drop(key, reassembly);
    if (reassembly.receivedBytes !== reassembly.messageBytes) return fragmentRefusal(`fragments cover ${reassembly.receivedBytes} of ${reassembly.messageBytes} bytes`);
    return { kind: 'handshake', message: assemble(reassembly) };
  }

  private start(nowMs: number, key: string, source: string, fragment: HandshakeFragment): Reassembly | ObfuscationRefusal {
    if (this.reassemblies.size >= reassembliesMax) return refuse(ObfuscationErrorCode.ERR_OBFS_LIMIT, `already reassembling ${reassembliesMax} messages`);
    const fromSource = this.perSource.get(source) ?? 0;
    if (fromSource >= reassembliesPerSourceMax) return refuse(ObfuscationErrorCode.ERR_OBFS_LIMIT, `already reassembling ${reassembliesPerSourceMax} messages from this source`);
    if (this.reservedBytes + fragment.messageBytes > reassemblyBytesMax) {
      return refuse(ObfuscationErrorCode.ERR_OBFS_LIMIT, `reassembly would hold ${this.reservedBytes + fragment.messageBytes} of at most ${reassemblyBytesMax} bytes`);
    }
    const reassembly: Reassembly = { source, count: fragment.count, messageBytes: fragment.messageBytes, deadlineMs: nowMs + reassemblyTimeoutMs, fragments: new Map(), receivedBytes: 0 };
    this.reassemblies.set(key, reassembly);
    this.reservedBytes += fragment.messageBytes;
    this.perSource.set(source, fromSource + 1);
    return reassembly;
  }
}
