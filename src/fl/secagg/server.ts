/**
 * The server of SecAgg+ as a sans-IO state machine. It collects one kind of client message per
 * round (`receive`), and the driver closes the round (`closeRound`) once every expected client
 * has answered (`waitingFor()` is empty) or its deadline fires: time stays with the driver.
 * Closing a round returns the messages to send, and closing round 3 returns the unmasked sum.
 *
 * Sets, as in Bonawitz et al.: U1 advertised keys, U2 shared keys, U3 sent a masked input,
 * U4 answered the unmasking request. The sum is over U3. The server rebuilds the self-mask seed
 * of every client in U3 and the mask key of every client in U2 \ U3 from t shares each, and
 * never asks anyone for both secrets of one client.
 */
import { aeadTagBytes } from '../../crypto/aead.js';
import { curveKeyBytes, x25519PublicKey } from '../../crypto/curve25519.js';
import { pairwiseMaskSeed } from './agreement.js';
import { bytesEqual } from './bytes.js';
import { checkSecAggConfig, shareX, type SecAggClientId, type SecAggConfig } from './config.js';
import { SecAggError, SecAggErrorCode } from './errors.js';
import { verifyClientMessage, type AdvertiseKeys, type ClientMessage, type OwnedShare, type ServerMessage, type ShareKeys, type UnmaskRequest, type UnmaskingShares } from './messages.js';
import { applyMask } from './prg.js';
import { dequantiseSum, quantisationErrorBound } from './quantise.js';
import { combineShares, isCanonicalShare, type SharePoint } from './shamir.js';
import { sharePlaintextBytes } from './share-plaintext.js';

/** A message and the client it goes to. */
export interface Addressed {
  readonly to: SecAggClientId;
  readonly message: ServerMessage;
}

/** The outcome of a finished aggregation. */
export interface SecAggResult {
  /** The sum of the survivors' (clipped, quantised, possibly noised) inputs, dequantised. */
  readonly sum: Float64Array;
  /** U3: the clients whose inputs are in the sum, ascending. */
  readonly survivors: readonly SecAggClientId[];
  /** U2 \ U3: clients whose pairwise masks were removed from their mask keys, ascending. */
  readonly droppedAfterSharing: readonly SecAggClientId[];
  /** The largest quantisation error of `sum` against the sum of the survivors' clipped inputs. */
  readonly errorBound: number;
}

/** What closing a round yields: messages for the next round, or the result after round 3. */
export interface ServerStep {
  readonly messages: readonly Addressed[];
  readonly result: SecAggResult | null;
}

const kindOfRound = ['advertiseKeys', 'shareKeys', 'maskedInput', 'unmaskingShares'] as const;
const shareCiphertextBytes = sharePlaintextBytes + aeadTagBytes;
const doneRound = 4;

function ascending(ids: Iterable<SecAggClientId>): SecAggClientId[] {
  return [...ids].sort((a, b) => a - b);
}

/** The server side of SecAgg+. */
export class SecAggServer {
  private roundIndex = 0;
  private aborted: SecAggError | null = null;
  private readonly advertised = new Map<SecAggClientId, AdvertiseKeys>();
  private readonly shared = new Map<SecAggClientId, ShareKeys>();
  private readonly masked = new Map<SecAggClientId, Uint32Array>();
  private readonly unmasking = new Map<SecAggClientId, UnmaskingShares>();
  /** Per client, the neighbours whose keys it was sent (U1 ∩ N) and whose shares it was forwarded (U2 ∩ N). */
  private readonly keysSentTo = new Map<SecAggClientId, SecAggClientId[]>();
  private readonly sharesSentTo = new Map<SecAggClientId, SecAggClientId[]>();
  private readonly requests = new Map<SecAggClientId, UnmaskRequest>();
  private expected: ReadonlySet<SecAggClientId>;

  /** A server for one aggregation; the configuration is checked here. */
  constructor(private readonly config: SecAggConfig) {
    checkSecAggConfig(config);
    this.expected = new Set(config.roster.keys());
  }

  /** The round being collected (0..3), or 4 once the result is out. */
  get round(): number {
    return this.roundIndex;
  }

  /** Clients expected in this round that have not answered yet, ascending. */
  waitingFor(): SecAggClientId[] {
    const answered = [this.advertised, this.shared, this.masked, this.unmasking][this.roundIndex];
    return ascending([...this.expected].filter((id) => answered !== undefined && !answered.has(id)));
  }

  /** Checks and stores one client message; a bad one throws and changes nothing. */
  receive(message: ClientMessage): void {
    this.checkHeader(message);
    switch (message.kind) {
      case 'advertiseKeys':
        this.checkAdvertisement(message);
        this.advertised.set(message.sender, message);
        return;
      case 'shareKeys':
        this.checkShareKeys(message);
        this.shared.set(message.sender, message);
        return;
      case 'maskedInput':
        if (message.masked.length !== this.config.dimension) throw this.messageError(message, `masked input of length ${message.masked.length}, expected ${this.config.dimension}`);
        this.masked.set(message.sender, message.masked);
        return;
      case 'unmaskingShares':
        this.checkUnmaskingShares(message);
        this.unmasking.set(message.sender, message);
    }
  }

  /** Ends the current round with the answers received so far. */
  closeRound(): ServerStep {
    this.checkOpen('closeRound');
    try {
      return this.closeCurrentRound();
    } catch (error) {
      if (error instanceof SecAggError && error.code === SecAggErrorCode.ERR_SECAGG_BELOW_THRESHOLD) this.aborted = error;
      throw error;
    }
  }

  private closeCurrentRound(): ServerStep {
    switch (this.roundIndex) {
      case 0:
        return this.next(this.advertised, (id) => this.neighbourKeys(id));
      case 1:
        return this.next(this.shared, (id) => this.forwardedShares(id));
      case 2:
        return this.next(this.masked, (id) => this.unmaskRequest(id));
      default:
        return { messages: [], result: this.unmask() };
    }
  }

  private checkOpen(what: string): void {
    if (this.aborted !== null) throw new SecAggError(SecAggErrorCode.ERR_SECAGG_ROUND, `server: ${what} after the aggregation aborted (${this.aborted.message})`);
    if (this.roundIndex === doneRound) throw new SecAggError(SecAggErrorCode.ERR_SECAGG_ROUND, `server: ${what} after round 3 closed`);
  }

  /** Moves to the next round with the clients that answered this one; each gets `build(id)`. */
  private next(answered: ReadonlyMap<SecAggClientId, unknown>, build: (id: SecAggClientId) => ServerMessage): ServerStep {
    const clients = ascending(answered.keys());
    if (clients.length < this.config.minimumClients) {
      throw new SecAggError(
        SecAggErrorCode.ERR_SECAGG_BELOW_THRESHOLD,
        `server round ${this.roundIndex}: ${clients.length} clients answered, below minimumClients ${this.config.minimumClients}; aborting`,
      );
    }
    const messages = clients.map((to) => ({ to, message: build(to) }));
    this.expected = new Set(clients);
    this.roundIndex++;
    return { messages, result: null };
  }

  private neighbourOf(id: SecAggClientId, within: ReadonlyMap<SecAggClientId, unknown>): SecAggClientId[] {
    return this.config.graph.get(id)!.filter((peer) => within.has(peer));
  }

  private neighbourKeys(id: SecAggClientId): ServerMessage {
    const peers = this.neighbourOf(id, this.advertised);
    this.keysSentTo.set(id, peers);
    return { kind: 'neighbourKeys', sessionId: this.config.sessionId, round: 1, keys: peers.map((peer) => this.advertised.get(peer)!) };
  }

  private forwardedShares(id: SecAggClientId): ServerMessage {
    const peers = this.neighbourOf(id, this.shared);
    this.sharesSentTo.set(id, peers);
    const shares = peers.map((sender) => ({ sender, ciphertext: this.shared.get(sender)!.shares.find((entry) => entry.recipient === id)!.ciphertext }));
    return { kind: 'forwardedShares', sessionId: this.config.sessionId, round: 2, shares };
  }

  private unmaskRequest(id: SecAggClientId): ServerMessage {
    const peers = this.sharesSentTo.get(id)!;
    const request: UnmaskRequest = {
      kind: 'unmaskRequest',
      sessionId: this.config.sessionId,
      round: 3,
      survivors: peers.filter((peer) => this.masked.has(peer)),
      dropped: peers.filter((peer) => !this.masked.has(peer)),
    };
    this.requests.set(id, request);
    return request;
  }

  private messageError(message: ClientMessage, finding: string): SecAggError {
    return new SecAggError(SecAggErrorCode.ERR_SECAGG_MESSAGE, `server round ${message.round}: client ${message.sender}: ${finding}`);
  }

  private checkHeader(message: ClientMessage): void {
    this.checkOpen(`a ${message.kind} message from client ${message.sender}`);
    const where = `server round ${this.roundIndex}: ${message.kind} from client ${message.sender}`;
    if (!bytesEqual(message.sessionId, this.config.sessionId)) throw new SecAggError(SecAggErrorCode.ERR_SECAGG_ROUND, `${where} belongs to another session`);
    if (message.round !== this.roundIndex) throw new SecAggError(SecAggErrorCode.ERR_SECAGG_ROUND, `${where} is for round ${message.round}`);
    if (message.kind !== kindOfRound[message.round]) throw this.messageError(message, `round ${message.round} expects ${kindOfRound[message.round]}, got ${message.kind}`);
    const publicKey = this.config.roster.get(message.sender);
    if (publicKey === undefined) throw this.messageError(message, 'not in the roster');
    if (!verifyClientMessage(message, publicKey)) throw new SecAggError(SecAggErrorCode.ERR_SECAGG_SIGNATURE, `${where}: the signature does not verify under the client's roster key`);
    if (!this.expected.has(message.sender)) throw this.messageError(message, `did not answer the previous round, so it takes no part in round ${message.round}`);
    const answered = [this.advertised, this.shared, this.masked, this.unmasking][message.round]!;
    if (answered.has(message.sender)) throw this.messageError(message, `a second ${message.kind} message (replay)`);
  }

  private checkAdvertisement(message: AdvertiseKeys): void {
    if (message.cipherPublicKey.length !== curveKeyBytes || message.maskPublicKey.length !== curveKeyBytes) throw this.messageError(message, 'an X25519 public key is not 32 bytes');
  }

  private checkShareKeys(message: ShareKeys): void {
    const recipients = this.keysSentTo.get(message.sender)!;
    const listed = message.shares.map((entry) => entry.recipient);
    if (listed.length !== recipients.length || listed.some((recipient, index) => recipient !== recipients[index])) {
      throw this.messageError(message, `shares for [${listed.join(',')}], expected one per neighbour that advertised keys [${recipients.join(',')}]`);
    }
    const bad = message.shares.find((entry) => entry.ciphertext.length !== shareCiphertextBytes);
    if (bad !== undefined) throw this.messageError(message, `a ciphertext for client ${bad.recipient} of ${bad.ciphertext.length} bytes, expected ${shareCiphertextBytes}`);
  }

  private checkOwned(message: UnmaskingShares, what: string, shares: readonly OwnedShare[], owners: readonly SecAggClientId[]): void {
    if (shares.length !== owners.length || shares.some((entry, index) => entry.owner !== owners[index] || !isCanonicalShare(entry.share))) {
      throw this.messageError(message, `${what} shares do not match the request [${owners.join(',')}] or are not field elements`);
    }
  }

  private checkUnmaskingShares(message: UnmaskingShares): void {
    const request = this.requests.get(message.sender)!;
    this.checkOwned(message, 'self-mask', message.selfMaskShares, request.survivors);
    this.checkOwned(message, 'mask-key', message.maskKeyShares, request.dropped);
  }

  /** The shares received for each owner, in ascending holder order, as Shamir points. */
  private collectPoints(pick: (message: UnmaskingShares) => readonly OwnedShare[]): Map<SecAggClientId, SharePoint[]> {
    const points = new Map<SecAggClientId, SharePoint[]>();
    for (const holder of ascending(this.unmasking.keys())) {
      for (const { owner, share } of pick(this.unmasking.get(holder)!)) {
        const list = points.get(owner) ?? [];
        list.push({ x: shareX(holder), y: share });
        points.set(owner, list);
      }
    }
    return points;
  }

  /** Round 3 closes: rebuild the secrets, strip every mask that does not cancel, and dequantise. */
  private unmask(): SecAggResult {
    const { threshold, dimension, sessionId, quantisation } = this.config;
    const survivors = ascending(this.masked.keys());
    const dropped = ascending([...this.shared.keys()].filter((id) => !this.masked.has(id)));
    const selfPoints = this.collectPoints((message) => message.selfMaskShares);
    const keyPoints = this.collectPoints((message) => message.maskKeyShares);
    const sum = new Uint32Array(dimension);
    for (const id of survivors) {
      const masked = this.masked.get(id)!;
      for (let index = 0; index < dimension; index++) sum[index]! += masked[index]!;
      applyMask(sum, combineShares(selfPoints.get(id) ?? [], threshold, `round 3: client ${id}'s self-mask seed`), -1);
    }
    for (const id of dropped) {
      const maskKey = combineShares(keyPoints.get(id) ?? [], threshold, `round 3: client ${id}'s mask key`);
      if (!bytesEqual(x25519PublicKey(maskKey), this.advertised.get(id)!.maskPublicKey)) {
        throw new SecAggError(SecAggErrorCode.ERR_SECAGG_RECONSTRUCTION, `server round 3: client ${id}'s rebuilt mask key does not match the key it advertised in round 0`);
      }
      // Each surviving neighbour i added sign(i, id) * PRG(s_i,id); take it back out.
      for (const peer of this.neighbourOf(id, this.masked)) applyMask(sum, pairwiseMaskSeed(maskKey, this.advertised.get(peer)!.maskPublicKey, sessionId, id, peer), peer < id ? -1 : 1);
    }
    this.roundIndex = doneRound;
    return { sum: dequantiseSum(sum, quantisation, survivors.length), survivors, droppedAfterSharing: dropped, errorBound: quantisationErrorBound(quantisation, survivors.length) };
  }
}
