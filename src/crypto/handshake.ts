import { timingSafeEqual } from 'node:crypto';
import { aeadOpen, aeadSeal } from './aead.js';
import { isCryptoError } from './errors.js';
import { HandshakeError, HandshakeErrorCode } from './handshake-errors.js';
import {
  cookieBytes,
  cookieNonceBytes,
  decodeCookieReply,
  decodeInitiation,
  decodePayload,
  decodeResponse,
  encodeCookieReply,
  encodeInitiation,
  encodePayload,
  encodeResponse,
  macBytes,
  messageTypeOf,
  MessageType,
} from './handshake-messages.js';
import { hkdfSha256, hmacSha256, sha256 } from './hash.js';
import type { SessionKeys } from './session.js';
import { xwingDecapsulate, xwingEncapsulate, xwingEncapsulationSeedBytes, xwingExpand, xwingSecretKeyBytes, type XWingKey } from './xwing.js';

/**
 * The hybrid, KEM-authenticated handshake (in the manner of PQNoise's IK pattern and
 * Rosenpass): one round trip, no signatures. The initiator knows the responder's static
 * X-Wing key from its verified certificate; it sends an ephemeral X-Wing key, an encapsulation
 * to the responder's static key, and its own certificate encrypted under that secret (passive
 * observers never see who is connecting). The responder answers with encapsulations to the
 * initiator's ephemeral key (forward secrecy) and static key (authentication of the
 * initiator). Every value enters a transcript hash that keys the next step, so the session
 * keys are bound to both identities and to every byte exchanged; they stay secret while
 * either ML-KEM-768 or X25519 holds (X-Wing's combiner).
 *
 * The responder proves its identity in the response (only it could decapsulate the first
 * encapsulation); the initiator proves its own with its first data packet (only it could
 * decapsulate the last one), as in WireGuard. mac1, keyed by the responder's static public
 * key, gates every KEM operation; under load a cookie round trip (mac2) proves the initiator's
 * address first.
 */

/** Protocol name hashed into the first chaining key: changing any primitive changes it. */
export const handshakeProtocolName = 'x0tta6bl4 v1 IK X-Wing ChaCha20-Poly1305 HKDF-SHA256';
/** An initiation whose timestamp is further than this from the responder's clock is dropped. */
export const initiationFreshnessMs = 120_000;
/** The responder's cookie secret is replaced this often (WireGuard: 2 minutes). */
export const cookieSecretLifetimeMs = 120_000;
/** An initiator uses a received cookie for this long (a little under the secret's lifetime). */
export const cookieUseMs = 110_000;

const aead = 'chacha20-poly1305';
const zeroNonce = new Uint8Array(12);
const empty = new Uint8Array(0);
const labelMac1 = new TextEncoder().encode('mac1----');
const labelCookie = new TextEncoder().encode('cookie--');
const labelKdf = new TextEncoder().encode('x0tta6bl4 handshake kdf');
const labelTransport = new TextEncoder().encode('x0tta6bl4 transport keys');

/** What a verified certificate tells us about its holder. */
export interface PeerCredential {
  readonly spiffeId: string;
  /** The holder's static X-Wing public key (1216 bytes), bound by the certificate. */
  readonly staticPublicKey: Uint8Array;
}

/** Checks a peer's certificate (chain, post-quantum co-signature, trust domain, revocation, validity); throws when it fails. */
export interface CredentialVerifier {
  verify(certificate: Uint8Array, nowMs: number): PeerCredential;
}

/** This node's identity: its certificate and the X-Wing key the certificate binds. */
export interface LocalIdentity {
  readonly spiffeId: string;
  readonly certificate: Uint8Array;
  readonly staticKey: XWingKey;
}

/** Everything both roles need; randomness is passed in so the handshake stays sans-IO and testable. */
export interface HandshakeConfig {
  readonly local: LocalIdentity;
  readonly verifier: CredentialVerifier;
  /** `bytes` uniformly random bytes (a CSPRNG in the daemon, a seeded stream in the twin and tests). */
  readonly random: (bytes: number) => Uint8Array;
  /** Bytes both sides must agree on (network name, protocol version), hashed before anything else. */
  readonly prologue: Uint8Array;
}

/** Running chaining key and transcript hash (Noise's symmetric state). */
export class Transcript {
  private chainingKey: Uint8Array;
  private hash: Uint8Array;

  /**
   * Starts from the protocol name, the prologue and the responder's identity as the initiator
   * believes it: its SPIFFE ID and static key. Binding the ID too means that a key certified
   * under two names (an insider enrolling someone else's public key) cannot make the
   * responder's session stand for another name (unknown key share).
   */
  static start(prologue: Uint8Array, responderSpiffeId: string, responderStaticKey: Uint8Array): Transcript {
    const chainingKey = sha256(new TextEncoder().encode(handshakeProtocolName));
    const transcript = new Transcript(chainingKey, sha256(chainingKey, prologue));
    transcript.mixHash(new TextEncoder().encode(responderSpiffeId));
    transcript.mixHash(responderStaticKey);
    return transcript;
  }

  private constructor(chainingKey: Uint8Array, hash: Uint8Array) {
    this.chainingKey = chainingKey;
    this.hash = hash;
  }

  /** An independent copy, so that a message that fails half-way leaves the original untouched. */
  clone(): Transcript {
    return new Transcript(this.chainingKey, this.hash);
  }

  mixHash(data: Uint8Array): void {
    this.hash = sha256(this.hash, data);
  }

  /** Mixes a KEM secret into the chaining key and returns a fresh AEAD key. */
  mixKey(secret: Uint8Array): Uint8Array {
    const output = hkdfSha256(secret, this.chainingKey, labelKdf, 64);
    this.chainingKey = output.slice(0, 32);
    return output.slice(32);
  }

  seal(key: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const sealed = aeadSeal(aead, key, zeroNonce, plaintext, this.hash);
    this.mixHash(sealed);
    return sealed;
  }

  /** Opens with the transcript as associated data; ERR_HANDSHAKE_DECRYPT when the tag fails. */
  open(key: Uint8Array, sealed: Uint8Array, what: string): Uint8Array {
    let plaintext: Uint8Array;
    try {
      plaintext = aeadOpen(aead, key, zeroNonce, sealed, this.hash);
    } catch (error) {
      if (!isCryptoError(error)) throw error;
      throw new HandshakeError(HandshakeErrorCode.ERR_HANDSHAKE_DECRYPT, `${what} does not authenticate`);
    }
    this.mixHash(sealed);
    return plaintext;
  }

  /** The two transport keys: initiator-to-responder first. */
  split(): [Uint8Array, Uint8Array] {
    const output = hkdfSha256(empty, this.chainingKey, labelTransport, 64);
    return [output.slice(0, 32), output.slice(32)];
  }
}

function macKey(label: Uint8Array, staticPublicKey: Uint8Array): Uint8Array {
  return sha256(label, staticPublicKey);
}

function mac16(key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmacSha256(key, data).slice(0, macBytes);
}

function equal16(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Writes mac1 (keyed by the receiver's static key) and mac2 (by a cookie, or zeros) into the last 32 bytes. */
function stampMacs(message: Uint8Array, receiverStaticKey: Uint8Array, cookie: Uint8Array | null): void {
  const mac1At = message.length - 2 * macBytes;
  message.set(mac16(macKey(labelMac1, receiverStaticKey), message.subarray(0, mac1At)), mac1At);
  message.set(cookie === null ? new Uint8Array(macBytes) : mac16(cookie, message.subarray(0, mac1At + macBytes)), mac1At + macBytes);
}

function checkMac1(message: Uint8Array, ownStaticKey: Uint8Array, what: string): void {
  const mac1At = message.length - 2 * macBytes;
  const expected = mac16(macKey(labelMac1, ownStaticKey), message.subarray(0, mac1At));
  if (!equal16(expected, message.subarray(mac1At, mac1At + macBytes))) {
    throw new HandshakeError(HandshakeErrorCode.ERR_HANDSHAKE_MAC, `${what}: mac1 does not match our static key`);
  }
}

/** Refuses an initiation stamped further from our clock than the freshness window (before any certificate work). */
function checkFreshness(timestampMs: number, nowMs: number): void {
  if (Math.abs(timestampMs - nowMs) > initiationFreshnessMs) {
    throw new HandshakeError(HandshakeErrorCode.ERR_HANDSHAKE_STALE, `initiation: timestamp ${timestampMs} is more than ${initiationFreshnessMs} ms from ${nowMs}`);
  }
}

/**
 * Runs a KEM step on peer-supplied keys or ciphertexts. Their refusals (a low-order X25519
 * point, an unreduced ML-KEM key) become ERR_HANDSHAKE_KEM, so a forged message is dropped
 * like any other instead of escaping as an exception.
 */
function kem<T>(what: string, step: () => T): T {
  try {
    return step();
  } catch (error) {
    if (!isCryptoError(error)) throw error;
    throw new HandshakeError(HandshakeErrorCode.ERR_HANDSHAKE_KEM, `${what}: ${error.message}`);
  }
}

function indexBytes(index: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, index);
  return bytes;
}

function randomIndex(random: (bytes: number) => Uint8Array): number {
  const bytes = random(4);
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
}

/** An initiation in flight: what the initiator keeps until the response arrives. */
export interface PendingInitiation {
  readonly peer: PeerCredential;
  readonly localIndex: number;
  readonly startedAtMs: number;
  readonly message: Uint8Array;
  readonly ephemeralKey: XWingKey;
  readonly transcript: Transcript;
  cookie: Uint8Array | null;
  cookieUntilMs: number;
}

/** Starts a handshake with `peer` (whose certificate we verified): returns the state to keep and the initiation to send. */
export function createInitiation(config: HandshakeConfig, peer: PeerCredential, nowMs: number): PendingInitiation {
  const transcript = Transcript.start(config.prologue, peer.spiffeId, peer.staticPublicKey);
  const localIndex = randomIndex(config.random);
  transcript.mixHash(indexBytes(localIndex));
  const ephemeralKey = xwingExpand(config.random(xwingSecretKeyBytes));
  transcript.mixHash(ephemeralKey.publicKey);
  const { ciphertext, sharedSecret } = kem('initiation: encapsulation to the responder', () => xwingEncapsulate(peer.staticPublicKey, config.random(xwingEncapsulationSeedBytes)));
  transcript.mixHash(ciphertext);
  const payloadKey = transcript.mixKey(sharedSecret);
  const encryptedPayload = transcript.seal(payloadKey, encodePayload(nowMs, config.local.certificate));
  const message = encodeInitiation({ senderIndex: localIndex, ephemeralPublicKey: ephemeralKey.publicKey, staticCiphertext: ciphertext, encryptedPayload });
  stampMacs(message, peer.staticPublicKey, null);
  return { peer, localIndex, startedAtMs: nowMs, message, ephemeralKey, transcript, cookie: null, cookieUntilMs: -Infinity };
}

/** The initiation to (re)send now: with mac2 when a cookie from the responder is still fresh. */
export function initiationToSend(pending: PendingInitiation, nowMs: number): Uint8Array {
  const message = pending.message.slice();
  stampMacs(message, pending.peer.staticPublicKey, nowMs < pending.cookieUntilMs ? pending.cookie : null);
  return message;
}

/** Takes a cookie reply to our initiation; the next `initiationToSend` carries mac2. */
export function consumeCookieReply(pending: PendingInitiation, reply: Uint8Array, nowMs: number): void {
  const fields = decodeCookieReply(reply);
  if (fields.receiverIndex !== pending.localIndex) throw new HandshakeError(HandshakeErrorCode.ERR_HANDSHAKE_STATE, 'cookie reply: not for our initiation');
  const mac1 = pending.message.subarray(pending.message.length - 2 * macBytes, pending.message.length - macBytes);
  let cookie: Uint8Array;
  try {
    cookie = aeadOpen(aead, macKey(labelCookie, pending.peer.staticPublicKey), fields.nonce, fields.encryptedCookie, mac1);
  } catch {
    throw new HandshakeError(HandshakeErrorCode.ERR_HANDSHAKE_DECRYPT, 'cookie reply does not authenticate');
  }
  pending.cookie = cookie;
  pending.cookieUntilMs = nowMs + cookieUseMs;
}

/** Completes our handshake with the responder's answer; ERR_HANDSHAKE_* when it is not the right answer. */
export function consumeResponse(config: HandshakeConfig, pending: PendingInitiation, message: Uint8Array, nowMs: number): SessionKeys {
  const fields = decodeResponse(message);
  if (fields.receiverIndex !== pending.localIndex) throw new HandshakeError(HandshakeErrorCode.ERR_HANDSHAKE_STATE, 'response: not for our initiation');
  checkMac1(message, config.local.staticKey.publicKey, 'response');
  // A forged response must not spoil the state the genuine one needs.
  const transcript = pending.transcript.clone();
  transcript.mixHash(indexBytes(fields.senderIndex));
  transcript.mixHash(fields.ephemeralCiphertext);
  transcript.mixKey(kem('response: ephemeral ciphertext', () => xwingDecapsulate(fields.ephemeralCiphertext, pending.ephemeralKey)));
  transcript.mixHash(fields.staticCiphertext);
  const confirmKey = transcript.mixKey(kem('response: static ciphertext', () => xwingDecapsulate(fields.staticCiphertext, config.local.staticKey)));
  transcript.open(confirmKey, fields.confirmation, 'response confirmation');
  const [initiatorToResponder, responderToInitiator] = transcript.split();
  return {
    sendKey: initiatorToResponder,
    receiveKey: responderToInitiator,
    localIndex: pending.localIndex,
    remoteIndex: fields.senderIndex,
    isInitiator: true,
    establishedAtMs: nowMs,
  };
}

/** What a responder does with one initiation. A refused one is dropped without a word. */
export type ResponderOutcome =
  | { readonly kind: 'response'; readonly message: Uint8Array; readonly keys: SessionKeys; readonly peer: PeerCredential; readonly certificate: Uint8Array }
  | { readonly kind: 'cookie'; readonly message: Uint8Array }
  | { readonly kind: 'drop'; readonly error: HandshakeError };

/**
 * The responder side. It keeps no per-handshake state (keys are derived when it answers; the
 * session stays unconfirmed until the initiator's first packet), only the newest initiation
 * timestamp per identity (replay protection; the daemon persists it) and the cookie secret.
 */
export class Responder {
  /** Newest accepted initiation timestamp per SPIFFE ID. */
  readonly lastTimestampMs = new Map<string, number>();
  /** The cookie secret and the one before it (cookies stay valid for at least one lifetime). */
  private cookieSecrets: Uint8Array[] = [];
  private cookieSecretUntilMs = -Infinity;

  constructor(private readonly config: HandshakeConfig) {}

  /**
   * Handles one initiation from `source` (the sender's address bytes, for cookies). `underLoad`
   * (a flag, or a function asked only once mac1 verified, so garbage never counts as load)
   * demands mac2.
   */
  handleInitiation(message: Uint8Array, source: Uint8Array, nowMs: number, underLoad: boolean | (() => boolean)): ResponderOutcome {
    try {
      if (messageTypeOf(message) !== MessageType.initiation) {
        throw new HandshakeError(HandshakeErrorCode.ERR_HANDSHAKE_FORMAT, `initiation: expected type ${MessageType.initiation}, got ${messageTypeOf(message)}`);
      }
      const fields = decodeInitiation(message);
      checkMac1(message, this.config.local.staticKey.publicKey, 'initiation');
      const loaded = typeof underLoad === 'function' ? underLoad() : underLoad;
      const mac2 = this.mac2State(message, source, nowMs);
      if (mac2 === 'invalid' && !loaded) throw new HandshakeError(HandshakeErrorCode.ERR_HANDSHAKE_MAC, 'initiation: mac2 is neither empty nor valid for the sender address');
      if (loaded && mac2 !== 'valid') return { kind: 'cookie', message: this.cookieReply(message, fields.senderIndex, source, nowMs) };
      return this.respond(fields, nowMs);
    } catch (error) {
      if (error instanceof HandshakeError) return { kind: 'drop', error };
      throw error;
    }
  }

  private respond(fields: ReturnType<typeof decodeInitiation>, nowMs: number): ResponderOutcome {
    const config = this.config;
    const transcript = Transcript.start(config.prologue, config.local.spiffeId, config.local.staticKey.publicKey);
    transcript.mixHash(indexBytes(fields.senderIndex));
    transcript.mixHash(fields.ephemeralPublicKey);
    transcript.mixHash(fields.staticCiphertext);
    const payloadKey = transcript.mixKey(kem('initiation: static ciphertext', () => xwingDecapsulate(fields.staticCiphertext, config.local.staticKey)));
    const { timestampMs, certificate } = decodePayload(transcript.open(payloadKey, fields.encryptedPayload, 'initiation payload'));
    checkFreshness(timestampMs, nowMs);
    const peer = this.verifyPeer(certificate, nowMs);
    this.checkReplay(peer.spiffeId, timestampMs);
    const localIndex = randomIndex(config.random);
    transcript.mixHash(indexBytes(localIndex));
    const ephemeral = kem('initiation: ephemeral key', () => xwingEncapsulate(fields.ephemeralPublicKey, config.random(xwingEncapsulationSeedBytes)));
    transcript.mixHash(ephemeral.ciphertext);
    transcript.mixKey(ephemeral.sharedSecret);
    const toStatic = kem('initiation: initiator static key', () => xwingEncapsulate(peer.staticPublicKey, config.random(xwingEncapsulationSeedBytes)));
    transcript.mixHash(toStatic.ciphertext);
    const confirmation = transcript.seal(transcript.mixKey(toStatic.sharedSecret), empty);
    const message = encodeResponse({ senderIndex: localIndex, receiverIndex: fields.senderIndex, ephemeralCiphertext: ephemeral.ciphertext, staticCiphertext: toStatic.ciphertext, confirmation });
    stampMacs(message, peer.staticPublicKey, null);
    this.lastTimestampMs.set(peer.spiffeId, timestampMs);
    const [initiatorToResponder, responderToInitiator] = transcript.split();
    const keys: SessionKeys = { sendKey: responderToInitiator, receiveKey: initiatorToResponder, localIndex, remoteIndex: fields.senderIndex, isInitiator: false, establishedAtMs: nowMs };
    return { kind: 'response', message, keys, peer, certificate };
  }

  private verifyPeer(certificate: Uint8Array, nowMs: number): PeerCredential {
    try {
      return this.config.verifier.verify(certificate, nowMs);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new HandshakeError(HandshakeErrorCode.ERR_HANDSHAKE_CERTIFICATE, `initiation: certificate refused: ${reason}`);
    }
  }

  private checkReplay(spiffeId: string, timestampMs: number): void {
    const last = this.lastTimestampMs.get(spiffeId);
    if (last !== undefined && timestampMs <= last) {
      throw new HandshakeError(HandshakeErrorCode.ERR_HANDSHAKE_REPLAY, `initiation from ${spiffeId}: timestamp ${timestampMs} is not newer than ${last}`);
    }
  }

  private rotateCookieSecret(nowMs: number): void {
    if (nowMs < this.cookieSecretUntilMs) return;
    this.cookieSecrets = [this.config.random(32), ...this.cookieSecrets.slice(0, 1)];
    this.cookieSecretUntilMs = nowMs + cookieSecretLifetimeMs;
  }

  private cookieFor(source: Uint8Array, secret: Uint8Array): Uint8Array {
    return hmacSha256(secret, source).slice(0, cookieBytes);
  }

  /** mac2 is all zeros without a cookie; otherwise it must match the cookie of `source`, so that no bit of it goes unchecked. */
  private mac2State(message: Uint8Array, source: Uint8Array, nowMs: number): 'absent' | 'valid' | 'invalid' {
    const mac2At = message.length - macBytes;
    const mac2 = message.subarray(mac2At);
    if (mac2.every((byte) => byte === 0)) return 'absent';
    this.rotateCookieSecret(nowMs);
    const covered = message.subarray(0, mac2At);
    return this.cookieSecrets.some((secret) => equal16(mac16(this.cookieFor(source, secret), covered), mac2)) ? 'valid' : 'invalid';
  }

  private cookieReply(message: Uint8Array, receiverIndex: number, source: Uint8Array, nowMs: number): Uint8Array {
    const nonce = this.config.random(cookieNonceBytes);
    const mac1 = message.subarray(message.length - 2 * macBytes, message.length - macBytes);
    this.rotateCookieSecret(nowMs);
    const cookie = this.cookieFor(source, this.cookieSecrets[0]!);
    const encryptedCookie = aeadSeal(aead, macKey(labelCookie, this.config.local.staticKey.publicKey), nonce, cookie, mac1);
    return encodeCookieReply({ receiverIndex, nonce, encryptedCookie });
  }
}
