/**
 * A data session: the transport half of a WireGuard-style channel, sans-IO. It holds one key per
 * direction from the handshake, seals with a counter nonce, refuses replays with an RFC 6479
 * window, and says when a new handshake is due. It never reads a clock: every call takes `nowMs`
 * from the driver (real time in the node, virtual time in the twin), on the same clock that gave
 * `establishedAtMs`.
 */
import assert from 'node:assert/strict';
import { aeadKeyBytes, aeadNonceBytes, aeadOpen, aeadOpenInto, aeadSealInto, aeadTagBytes, type AeadName } from './aead.js';
import { CryptoError, CryptoErrorCode, expectLength } from './errors.js';
import { replayLagPacketsMax, ReplayWindow } from './replay-window.js';

/** Age at which the initiator starts a new handshake (WireGuard's Rekey-After-Time). */
export const rekeyAfterMs = 120_000;

/** Age at which a session neither seals nor opens any more (WireGuard's Reject-After-Time). */
export const rejectAfterMs = 180_000;

/**
 * Extra age before a responder asks for a rekey. Only the initiator rekeys on time, so that both
 * ends do not start crossing handshakes at the same instant; but if the initiator is gone or its
 * handshakes are lost, the responder takes over after this grace: two of the initiator's 5 s
 * handshake retries, and still 50 s before the session expires.
 */
export const rekeyResponderGraceMs = 10_000;

/**
 * Messages sealed after which either end asks for a rekey. WireGuard uses 2^60; counters here are
 * Numbers, so the limits sit well below 2^53. 2^48 packets take 9 years at 1 M packets/s, so in
 * practice the time limits rule; the message limits only guard the nonce space.
 */
export const rekeyAfterMessages = 2 ** 48;

/** Messages sealed after which a session refuses to seal, and the bound on received counters: 2^52, half of the exact Number range. */
export const rejectAfterMessages = 2 ** 52;

assert(rekeyAfterMs + rekeyResponderGraceMs < rejectAfterMs, 'session: a responder must ask for a rekey before the session expires');
assert(rekeyAfterMessages < rejectAfterMessages && rejectAfterMessages <= Number.MAX_SAFE_INTEGER, 'session: message limits must be ordered and exact as Numbers');

/** What a completed handshake hands to the data session. */
export interface SessionKeys {
  /** Key for packets we seal (32 bytes). */
  readonly sendKey: Uint8Array;
  /** Key for packets we open (32 bytes); the peer's sendKey. */
  readonly receiveKey: Uint8Array;
  /** uint32 we chose; peers address packets to us with it. */
  readonly localIndex: number;
  /** uint32 the peer chose; we address our packets with it. */
  readonly remoteIndex: number;
  /** True on the side that sent the handshake initiation. */
  readonly isInitiator: boolean;
  /** When the handshake completed, on the driver's clock. */
  readonly establishedAtMs: number;
}

/** One sealed packet: the counter travels in clear beside the sealed bytes so the receiver can rebuild the nonce. */
export interface SealedPacket {
  readonly counter: number;
  /** Ciphertext || 16-byte tag. */
  readonly sealed: Uint8Array;
}

const noAad = new Uint8Array(0);
const twoPow32 = 2 ** 32;
const uint32Max = 0xffff_ffff;

/** The AEAD nonce for `counter`: 4 zero bytes then the counter as 64-bit little-endian, as in WireGuard. */
export function sessionNonce(counter: number): Uint8Array {
  return writeSessionNonce(counter, new Uint8Array(aeadNonceBytes));
}

/** Writes the nonce for `counter` into `nonce` (12 bytes) and returns it: sessions reuse one, as node:crypto copies the IV. */
function writeSessionNonce(counter: number, nonce: Uint8Array): Uint8Array {
  if (!Number.isSafeInteger(counter) || counter < 0) {
    throw new RangeError(`sessionNonce: expected a counter that is an integer in 0..2^53-1, got ${counter}`);
  }
  const low = counter % twoPow32;
  const high = Math.floor(counter / twoPow32);
  nonce.fill(0, 0, 4);
  for (let i = 0; i < 4; i++) {
    nonce[4 + i] = (low >>> (8 * i)) & 0xff;
    nonce[8 + i] = (high >>> (8 * i)) & 0xff;
  }
  return nonce;
}

/** True when a session of age `ageMs` that has sealed `messagesSent` messages must neither seal nor open. */
export function isSessionExpired(ageMs: number, messagesSent: number): boolean {
  return ageMs >= rejectAfterMs || messagesSent >= rejectAfterMessages;
}

/** True when a new handshake is due: by count on both ends, by age on the initiator, and by age plus a grace on the responder. */
export function isRekeyDue(ageMs: number, messagesSent: number, isInitiator: boolean): boolean {
  return ageMs >= rekeyAgeMs(isInitiator) || messagesSent >= rekeyAfterMessages;
}

/** Age at which a session asks for a rekey by time: initiators first, responders after a grace. */
export function rekeyAgeMs(isInitiator: boolean): number {
  return isInitiator ? rekeyAfterMs : rekeyAfterMs + rekeyResponderGraceMs;
}

/** Seals and opens the data packets of one handshake's keys, with replay protection and expiry. */
export class Session {
  /** uint32 we chose; peers address packets to us with it. */
  readonly localIndex: number;
  /** uint32 the peer chose. */
  readonly remoteIndex: number;
  /** True on the side that sent the handshake initiation. */
  readonly isInitiator: boolean;
  /** When the handshake completed, on the driver's clock. */
  readonly establishedAtMs: number;
  /** The AEAD both ends use. */
  readonly aead: AeadName;
  private readonly sendKey: Uint8Array;
  private readonly receiveKey: Uint8Array;
  private readonly window = new ReplayWindow();
  /** Scratch nonce, rewritten for every packet (node:crypto copies it). */
  private readonly nonce = new Uint8Array(aeadNonceBytes);
  private isConfirmed: boolean;
  private sentCount = 0;
  private receivedCount = 0;
  private replayCount = 0;
  private authFailureCount = 0;

  /** Takes the handshake's keys (copied) and the network's AEAD; throws on keys of the wrong length or an unknown AEAD. */
  constructor(keys: SessionKeys, aead: AeadName = 'chacha20-poly1305') {
    expectLength('Session: sendKey', keys.sendKey, aeadKeyBytes);
    expectLength('Session: receiveKey', keys.receiveKey, aeadKeyBytes);
    expectAead(aead);
    expectUint32('localIndex', keys.localIndex);
    expectUint32('remoteIndex', keys.remoteIndex);
    if (!Number.isFinite(keys.establishedAtMs)) {
      throw new RangeError(`Session: expected a finite establishedAtMs, got ${keys.establishedAtMs}`);
    }
    this.sendKey = keys.sendKey.slice();
    this.receiveKey = keys.receiveKey.slice();
    this.localIndex = keys.localIndex;
    this.remoteIndex = keys.remoteIndex;
    this.isInitiator = keys.isInitiator;
    this.establishedAtMs = keys.establishedAtMs;
    this.aead = aead;
    // The initiator opened the handshake response, which proves the responder derived the same keys;
    // the responder learns the converse only from the first data packet (WireGuard's key confirmation).
    this.isConfirmed = keys.isInitiator;
  }

  /** False on a responder until a packet from the initiator opened: only then do we know the initiator holds the keys. */
  get confirmed(): boolean {
    return this.isConfirmed;
  }

  /** Packets sealed so far; also the counter of the next one. */
  get packetsSent(): number {
    return this.sentCount;
  }

  /** Packets opened successfully. */
  get packetsReceived(): number {
    return this.receivedCount;
  }

  /** Packets refused because their counter was already accepted or too old. */
  get replaysRefused(): number {
    return this.replayCount;
  }

  /** Packets whose tag did not verify (forged, corrupted, or sealed under other keys). */
  get authFailures(): number {
    return this.authFailureCount;
  }

  /** Seals `plaintext` (authenticating `aad` too) under the next counter; throws ERR_SESSION_EXPIRED or ERR_SESSION_UNCONFIRMED. */
  seal(nowMs: number, plaintext: Uint8Array, aad: Uint8Array = noAad): SealedPacket {
    const sealed = new Uint8Array(plaintext.length + aeadTagBytes);
    return { counter: this.sealInto(nowMs, plaintext, sealed, 0, aad), sealed };
  }

  /**
   * Seals `plaintext` (and `aad`) under the next counter into `out` at `offset` as
   * ciphertext || tag, and returns the counter used; the same refusals as seal. The data-frame
   * layer uses it to write a packet once, in place.
   */
  sealInto(nowMs: number, plaintext: Uint8Array, out: Uint8Array, offset: number, aad: Uint8Array = noAad): number {
    this.refuseIfExpired('Session.seal', nowMs);
    if (!this.isConfirmed) {
      throw new CryptoError(
        CryptoErrorCode.ERR_SESSION_UNCONFIRMED,
        'Session.seal: expected a confirmed session (a responder first opens a packet from the initiator), got an unconfirmed one',
      );
    }
    // Take the counter before sealing: a nonce must never be used twice, even if sealing failed halfway.
    const counter = this.sentCount++;
    aeadSealInto(this.aead, this.sendKey, writeSessionNonce(counter, this.nonce), plaintext, aad, out, offset);
    return counter;
  }

  /**
   * Opens a packet sealed by the peer under `counter`. Refuses expired sessions, bad counters and
   * replays before decrypting; marks the counter as seen only after the tag verified, so forged
   * packets cannot burn counters of genuine ones.
   */
  open(nowMs: number, counter: number, sealed: Uint8Array, aad: Uint8Array = noAad): Uint8Array {
    this.checkReceived(nowMs, counter);
    let plaintext: Uint8Array;
    try {
      plaintext = aeadOpen(this.aead, this.receiveKey, writeSessionNonce(counter, this.nonce), sealed, aad);
    } catch (error) {
      // Key and nonce lengths are valid here, so the only refusal left is a tag that does not verify.
      this.authFailureCount++;
      throw error;
    }
    this.accepted(counter);
    return plaintext;
  }

  /**
   * open, with the plaintext written into `out` at `offset` (a caller that reuses one buffer for
   * every packet); returns its length. The same refusals, and a RangeError when `out` is too
   * short (nothing is accepted then).
   */
  openInto(nowMs: number, counter: number, sealed: Uint8Array, out: Uint8Array, offset = 0, aad: Uint8Array = noAad): number {
    this.checkReceived(nowMs, counter);
    let bytes: number;
    try {
      bytes = aeadOpenInto(this.aead, this.receiveKey, writeSessionNonce(counter, this.nonce), sealed, aad, out, offset);
    } catch (error) {
      if (error instanceof CryptoError) this.authFailureCount++;
      throw error;
    }
    this.accepted(counter);
    return bytes;
  }

  /** Refuses an expired session, a counter out of range and a replay, before anything is decrypted. */
  private checkReceived(nowMs: number, counter: number): void {
    this.refuseIfExpired('Session.open', nowMs);
    expectReceivedCounter(counter);
    if (!this.window.check(counter)) {
      this.replayCount++;
      throw replayError(counter, this.window.highest);
    }
  }

  /** Marks `counter` as seen, only once its packet verified, so forged packets cannot burn counters of genuine ones. */
  private accepted(counter: number): void {
    this.window.accept(counter);
    this.receivedCount++;
    this.isConfirmed = true;
  }

  /** True when this end should start a new handshake now (see isRekeyDue). */
  needsRekey(nowMs: number): boolean {
    return isRekeyDue(this.ageMs('Session.needsRekey', nowMs), this.sentCount, this.isInitiator);
  }

  /** True when the session can no longer seal or open; the driver drops it. */
  isExpired(nowMs: number): boolean {
    return isSessionExpired(this.ageMs('Session.isExpired', nowMs), this.sentCount);
  }

  private refuseIfExpired(fn: string, nowMs: number): void {
    const ageMs = this.ageMs(fn, nowMs);
    if (isSessionExpired(ageMs, this.sentCount)) {
      throw new CryptoError(
        CryptoErrorCode.ERR_SESSION_EXPIRED,
        `${fn}: expected a session younger than ${rejectAfterMs} ms with fewer than ${rejectAfterMessages} packets sent, got ${ageMs} ms and ${this.sentCount} packets`,
      );
    }
  }

  /** Age of the session at `nowMs`; a time before the handshake or not a number is a driver bug (RangeError). */
  private ageMs(fn: string, nowMs: number): number {
    if (!(nowMs >= this.establishedAtMs) || !Number.isFinite(nowMs)) {
      throw new RangeError(`${fn}: expected a finite nowMs >= establishedAtMs (${this.establishedAtMs}), got ${nowMs}`);
    }
    return nowMs - this.establishedAtMs;
  }
}

function expectAead(aead: AeadName): void {
  if (aead !== 'chacha20-poly1305' && aead !== 'aes-256-gcm') {
    throw new CryptoError(CryptoErrorCode.ERR_CRYPTO_ALGORITHM, `Session: expected chacha20-poly1305 or aes-256-gcm, got ${String(aead)}`);
  }
}

function expectUint32(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > uint32Max) {
    throw new RangeError(`Session: expected ${name} to be an integer in 0..2^32-1, got ${value}`);
  }
}

/** A received counter is untrusted input: it must be an integer below rejectAfterMessages. */
function expectReceivedCounter(counter: number): void {
  if (!Number.isInteger(counter) || counter < 0 || counter >= rejectAfterMessages) {
    throw new CryptoError(
      CryptoErrorCode.ERR_SESSION_COUNTER,
      `Session.open: expected a counter that is an integer in 0..${rejectAfterMessages - 1}, got ${counter}`,
    );
  }
}

function replayError(counter: number, highest: number): CryptoError {
  const finding = highest - counter > replayLagPacketsMax ? `more than ${replayLagPacketsMax} behind` : 'already accepted';
  return new CryptoError(
    CryptoErrorCode.ERR_SESSION_REPLAY,
    `Session.open: expected a counter not yet accepted and at most ${replayLagPacketsMax} behind the highest (${highest}), got ${counter}, ${finding}`,
  );
}
