import { CryptoError, CryptoErrorCode } from './errors.js';
import { deriveObfuscationKeys, networkKeyBytes, openFrame, type ObfuscationKeys } from './obfuscation.js';
import { deriveStreamLengthKey, type StreamKeyCandidate } from './stream-framing.js';

/**
 * The network keys a node holds, by epoch (sans-IO: time is passed in). The network key keeps
 * everyone without one out of the framing (obfuscation.ts); rotating it shuts out a member that
 * was revoked, which keeps the old key but is refused the new one by the CA. A rotation is an
 * overlap in time:
 *
 *   - the CA adds epoch n+1 with activeFromMs some minutes ahead and sets the acceptUntilMs of
 *     epoch n some minutes after that;
 *   - every node fetches the ring in the first interval and from then on accepts frames under
 *     both keys (a neighbour whose clock runs ahead may switch early);
 *   - at activeFromMs every node sends under epoch n+1;
 *   - at epoch n's acceptUntilMs its frames are refused everywhere: the revoked member meets
 *     the silence every stranger meets.
 *
 * Sending uses the newest epoch already active and not yet retired; receiving tries that one
 * first, so the common case costs what one key costs.
 */

/** One epoch of the network key. */
export interface NetworkKeyEpoch {
  /** 0..2^32-1; a later rotation has a higher epoch. */
  readonly epoch: number;
  readonly key: Uint8Array;
  /** From this wall-clock time on the node sends under this epoch (unless a newer one is active). */
  readonly activeFromMs: number;
  /** From this time on frames under this epoch are refused; null while no newer epoch retires it. */
  readonly acceptUntilMs: number | null;
}

/** Most epochs a ring holds (a rotation needs two; a second rotation inside the overlap three). */
export const networkKeyEpochsMax = 4;
const epochMax = 0xffff_ffff;

/** The keys derived from one epoch. */
export interface EpochKeys {
  readonly epoch: number;
  readonly obfuscation: ObfuscationKeys;
  /** Masks record lengths on TCP (stream-framing.ts). */
  readonly streamLength: Uint8Array;
}

function ringError(message: string): CryptoError {
  return new CryptoError(CryptoErrorCode.ERR_CRYPTO_KEY_RING, `network key ring: ${message}`);
}

function checkEpoch(entry: NetworkKeyEpoch, index: number): void {
  const at = `epochs[${index}]`;
  if (!Number.isInteger(entry.epoch) || entry.epoch < 0 || entry.epoch > epochMax) throw ringError(`${at}.epoch: expected an integer in 0..${epochMax}, got ${entry.epoch}`);
  if (!(entry.key instanceof Uint8Array) || entry.key.length !== networkKeyBytes) throw ringError(`${at}.key: expected ${networkKeyBytes} bytes, got ${entry.key instanceof Uint8Array ? entry.key.length : typeof entry.key}`);
  if (!Number.isSafeInteger(entry.activeFromMs) || entry.activeFromMs < 0) throw ringError(`${at}.activeFromMs: expected a time in ms (a safe integer >= 0), got ${entry.activeFromMs}`);
  if (entry.acceptUntilMs !== null && (!Number.isSafeInteger(entry.acceptUntilMs) || entry.acceptUntilMs <= entry.activeFromMs)) {
    throw ringError(`${at}.acceptUntilMs: expected null or a time after activeFromMs ${entry.activeFromMs}, got ${entry.acceptUntilMs}`);
  }
}

/** Checks a ring's epochs: 1..networkKeyEpochsMax, each valid, epochs rising with their activation times. */
export function checkNetworkKeyEpochs(epochs: readonly NetworkKeyEpoch[]): void {
  if (epochs.length === 0 || epochs.length > networkKeyEpochsMax) throw ringError(`expected 1..${networkKeyEpochsMax} epochs, got ${epochs.length}`);
  epochs.forEach(checkEpoch);
  for (let i = 1; i < epochs.length; i++) {
    const [before, after] = [epochs[i - 1]!, epochs[i]!];
    if (after.epoch <= before.epoch) throw ringError(`epochs[${i}].epoch: expected epochs in rising order, got ${after.epoch} after ${before.epoch}`);
    if (after.activeFromMs < before.activeFromMs) throw ringError(`epochs[${i}].activeFromMs: a later epoch may not activate before an earlier one (${after.activeFromMs} < ${before.activeFromMs})`);
  }
}

/** The epochs of a ring that hold one key from the start (enrollment), with no end. */
export function singleEpoch(key: Uint8Array): NetworkKeyEpoch[] {
  return [{ epoch: 0, key, activeFromMs: 0, acceptUntilMs: null }];
}

/** A node's network keys over time; see the module comment. */
export class NetworkKeyRing {
  readonly epochs: readonly NetworkKeyEpoch[];
  private readonly derived: readonly EpochKeys[];
  /** What sendingAt/acceptedAt answer, valid in [computedAtMs, nextChangeMs). */
  private sending: EpochKeys;
  private accepted: readonly EpochKeys[] = [];
  private computedAtMs = Infinity;
  private nextChangeMs = -Infinity;

  /** Throws ERR_CRYPTO_KEY_RING naming the epoch and field that is wrong. */
  constructor(epochs: readonly NetworkKeyEpoch[]) {
    checkNetworkKeyEpochs(epochs);
    this.epochs = epochs.map((entry) => ({ ...entry, key: entry.key.slice() }));
    this.derived = this.epochs.map((entry) => ({ epoch: entry.epoch, obfuscation: deriveObfuscationKeys(entry.key), streamLength: deriveStreamLengthKey(entry.key) }));
    this.sending = this.derived.at(-1)!;
  }

  /** The keys to send under at `nowMs`. */
  sendingAt(nowMs: number): EpochKeys {
    this.refresh(nowMs);
    return this.sending;
  }

  /** The keys frames are accepted under at `nowMs`: the sending epoch's first, then the others not yet retired. */
  acceptedAt(nowMs: number): readonly EpochKeys[] {
    this.refresh(nowMs);
    return this.accepted;
  }

  /**
   * The TCP length keys at `nowMs`: the one a connection writes under, and the candidates a
   * received stream's first record picks from (StreamDecoder). A candidate's first frame is
   * judged under every accepted epoch, not only its own: a connection whose length key was chosen
   * just before a switch may carry a frame sealed just after it.
   */
  streamKeysAt(nowMs: number): { sending: Uint8Array; candidates: StreamKeyCandidate[] } {
    const accepted = this.acceptedAt(nowMs);
    const accepts = (frame: Uint8Array): 'frame' | 'data' | null => {
      if (accepted.some(({ obfuscation }) => openFrame(obfuscation, frame).kind !== 'refused')) return 'frame';
      return accepted.some(({ obfuscation }) => obfuscation.data.isDataShaped(frame)) ? 'data' : null;
    };
    return { sending: this.sendingAt(nowMs).streamLength, candidates: accepted.map(({ streamLength }) => ({ lengthKey: streamLength, accepts })) };
  }

  /** Whether `epochs` are exactly this ring's (so a fetched ring that only repeats it changes nothing). */
  sameAs(epochs: readonly NetworkKeyEpoch[]): boolean {
    if (epochs.length !== this.epochs.length) return false;
    return epochs.every((entry, i) => {
      const mine = this.epochs[i]!;
      return entry.epoch === mine.epoch && entry.activeFromMs === mine.activeFromMs && entry.acceptUntilMs === mine.acceptUntilMs && Buffer.from(entry.key).equals(mine.key);
    });
  }

  private refresh(nowMs: number): void {
    if (nowMs >= this.computedAtMs && nowMs < this.nextChangeMs) return;
    const live = (entry: NetworkKeyEpoch): boolean => entry.acceptUntilMs === null || nowMs < entry.acceptUntilMs;
    let sendingIndex = -1;
    for (let i = 0; i < this.epochs.length; i++) if (this.epochs[i]!.activeFromMs <= nowMs && live(this.epochs[i]!)) sendingIndex = i;
    // Nothing active and live (a clock far behind, or everything retired): the newest key is the best guess.
    if (sendingIndex < 0) sendingIndex = this.epochs.length - 1;
    this.sending = this.derived[sendingIndex]!;
    this.accepted = [this.sending, ...this.derived.filter((_keys, i) => i !== sendingIndex && live(this.epochs[i]!))];
    this.computedAtMs = nowMs;
    this.nextChangeMs = this.nextChangeAfter(nowMs);
  }

  private nextChangeAfter(nowMs: number): number {
    let next = Infinity;
    for (const entry of this.epochs) {
      if (entry.activeFromMs > nowMs) next = Math.min(next, entry.activeFromMs);
      if (entry.acceptUntilMs !== null && entry.acceptUntilMs > nowMs) next = Math.min(next, entry.acceptUntilMs);
    }
    return next;
  }
}
