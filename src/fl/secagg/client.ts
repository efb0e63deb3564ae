/**
 * One client of SecAgg+ as a sans-IO state machine: the driver hands it the server's messages
 * and sends what it returns; it never touches a socket, a clock or Math.random. Its randomness
 * (X25519 keys, the self-mask seed, Shamir coefficients, DP noise) comes from sources it is given.
 *
 *   advertiseKeys()                 -> AdvertiseKeys      (round 0)
 *   handle(NeighbourKeys)           -> ShareKeys          (round 1)
 *   handle(ForwardedShares)         -> MaskedInput        (round 2)
 *   handle(UnmaskRequest)           -> UnmaskingShares    (round 3, answered once)
 *
 * A message that fails a check throws a SecAggError and leaves the state as it was, so the
 * driver may drop the message and keep the client.
 */
import { ed25519PublicKey, x25519PublicKey } from '../../crypto/curve25519.js';
import { clientNoisedUpdate, type NoiseShareOptions } from '../dp/distributed-noise.js';
import { GaussianSampler, type NoiseSource } from '../dp/noise.js';
import { bytesEqual } from './bytes.js';
import { pairwiseMaskSeed, sealShares, openShares, shareEncryptionKey } from './agreement.js';
import { checkSecAggConfig, shareX, type SecAggClientId, type SecAggConfig } from './config.js';
import { SecAggError, SecAggErrorCode, parameterError } from './errors.js';
import { secretBytes } from './limits.js';
import {
  signClientMessage,
  verifyClientMessage,
  type AdvertiseKeys,
  type ClientMessage,
  type ForwardedShares,
  type MaskedInput,
  type NeighbourKeys,
  type ServerMessage,
  type ShareKeys,
  type UnmaskingShares,
  type UnmaskRequest,
} from './messages.js';
import { applyMask } from './prg.js';
import { quantise } from './quantise.js';
import { randomBytes, type RandomSource } from './random.js';
import { isCanonicalShare, splitSecret } from './shamir.js';
import { decodeSharePlaintext, encodeSharePlaintext } from './share-plaintext.js';

/** Distributed DP: the client adds its noise share (std noiseShareStd(options)) before it masks. */
export interface DistributedDpOptions {
  readonly options: NoiseShareOptions;
  readonly noise: NoiseSource;
}

/** What a client is built with. */
export interface SecAggClientOptions {
  readonly id: SecAggClientId;
  /** The client's 32-byte Ed25519 identity key; its public half must be the roster's. */
  readonly signingKey: Uint8Array;
  readonly config: SecAggConfig;
  readonly random: RandomSource;
  /** The update to aggregate, of length config.dimension. */
  readonly input: Float32Array | Float64Array;
  readonly distributedDp?: DistributedDpOptions;
}

type Phase = 'start' | 'advertised' | 'shared' | 'masked' | 'done';

const expectedRound: Record<Phase, number | null> = { start: null, advertised: 1, shared: 2, masked: 3, done: null };
const kindOfRound = ['advertiseKeys', 'neighbourKeys', 'forwardedShares', 'unmaskRequest'] as const;

/** The secrets of one neighbour this client keeps between rounds. */
interface PeerSecrets {
  readonly shareKey: Uint8Array;
  readonly maskSeed: Uint8Array;
}

/** The two shares a neighbour gave this client. */
interface HeldShares {
  readonly selfMask: Uint8Array;
  readonly maskKey: Uint8Array;
}

/** The client side of SecAgg+. */
export class SecAggClient {
  readonly id: SecAggClientId;
  private phase: Phase = 'start';
  private readonly config: SecAggConfig;
  private readonly neighbours: ReadonlySet<SecAggClientId>;
  private readonly cipherKey: Uint8Array;
  private readonly maskKey: Uint8Array;
  private peers = new Map<SecAggClientId, PeerSecrets>();
  private held = new Map<SecAggClientId, HeldShares>();
  private selfMaskSeed: Uint8Array | null = null;
  /** How many coordinates of the (noised) input were clipped to [-c, c] when it was quantised. */
  clippedCount = 0;

  /** Checks the configuration, the identity key and the input; draws the round's two X25519 keys. */
  constructor(private readonly options: SecAggClientOptions) {
    const { id, config, input, signingKey } = options;
    checkSecAggConfig(config);
    const rosterKey = config.roster.get(id);
    if (rosterKey === undefined) throw parameterError('SecAggClient', 'id', 'a roster client', id);
    if (signingKey.length !== secretBytes || !bytesEqual(ed25519PublicKey(signingKey), rosterKey)) {
      throw parameterError('SecAggClient', `client ${id}'s signing key`, 'the private half of its roster key', 'a different key');
    }
    if (input.length !== config.dimension) throw parameterError('SecAggClient', `client ${id}'s input length`, `${config.dimension}`, input.length);
    const bad = input.findIndex((value) => !Number.isFinite(value));
    if (bad >= 0) throw parameterError('SecAggClient', `client ${id}'s input coordinate ${bad}`, 'a finite number', input[bad]);
    this.id = id;
    this.config = config;
    this.neighbours = new Set(config.graph.get(id));
    this.cipherKey = randomBytes(options.random, secretBytes);
    this.maskKey = randomBytes(options.random, secretBytes);
  }

  /** Round 0: the client's signed cipher and mask public keys. */
  advertiseKeys(): AdvertiseKeys {
    if (this.phase !== 'start') throw this.roundError('advertiseKeys', 0);
    const message = signClientMessage(
      {
        kind: 'advertiseKeys',
        round: 0,
        sessionId: this.config.sessionId,
        sender: this.id,
        cipherPublicKey: x25519PublicKey(this.cipherKey),
        maskPublicKey: x25519PublicKey(this.maskKey),
      },
      this.options.signingKey,
    );
    this.phase = 'advertised';
    return message;
  }

  /** Rounds 1 to 3: checks the server's message and returns the answer to send. */
  handle(message: ServerMessage): ClientMessage {
    this.checkHeader(message);
    switch (message.kind) {
      case 'neighbourKeys':
        return this.shareKeys(message);
      case 'forwardedShares':
        return this.maskedInput(message);
      case 'unmaskRequest':
        return this.unmaskingShares(message);
    }
  }

  private roundError(what: string, round: number): SecAggError {
    return new SecAggError(SecAggErrorCode.ERR_SECAGG_ROUND, `client ${this.id}: ${what} for round ${round} arrived in phase ${this.phase} (expected round ${String(expectedRound[this.phase])})`);
  }

  private checkHeader(message: ServerMessage): void {
    if (!bytesEqual(message.sessionId, this.config.sessionId)) {
      throw new SecAggError(SecAggErrorCode.ERR_SECAGG_ROUND, `client ${this.id}: ${message.kind} for round ${message.round} belongs to another session`);
    }
    if (message.round !== expectedRound[this.phase]) throw this.roundError(message.kind, message.round);
    if (message.kind !== kindOfRound[message.round]) {
      throw new SecAggError(SecAggErrorCode.ERR_SECAGG_MESSAGE, `client ${this.id}: round ${message.round} expects ${kindOfRound[message.round]}, got ${message.kind}`);
    }
  }

  private messageError(round: number, finding: string): SecAggError {
    return new SecAggError(SecAggErrorCode.ERR_SECAGG_MESSAGE, `client ${this.id} round ${round}: ${finding}`);
  }

  private checkAdvertisement(key: AdvertiseKeys, seen: ReadonlySet<SecAggClientId>): void {
    const round = 1;
    if (key.kind !== 'advertiseKeys' || key.round !== 0 || !bytesEqual(key.sessionId, this.config.sessionId)) {
      throw new SecAggError(SecAggErrorCode.ERR_SECAGG_ROUND, `client ${this.id} round ${round}: the advertisement of client ${key.sender} is not a round-0 message of this session`);
    }
    if (!this.neighbours.has(key.sender)) throw this.messageError(round, `client ${key.sender} is not a neighbour`);
    if (seen.has(key.sender)) throw this.messageError(round, `client ${key.sender} is listed twice`);
    if (!verifyClientMessage(key, this.config.roster.get(key.sender)!)) {
      throw new SecAggError(SecAggErrorCode.ERR_SECAGG_SIGNATURE, `client ${this.id} round ${round}: the key advertisement of client ${key.sender} has a bad signature`);
    }
  }

  private requireThreshold(round: number, what: string, count: number): void {
    if (count < this.config.threshold) {
      throw new SecAggError(SecAggErrorCode.ERR_SECAGG_BELOW_THRESHOLD, `client ${this.id} round ${round}: ${count} ${what}, below the threshold ${this.config.threshold}; aborting`);
    }
  }

  /** Round 1: agree keys with each live neighbour, share the self-mask seed and the mask key among them. */
  private shareKeys(message: NeighbourKeys): ShareKeys {
    const { sessionId, threshold } = this.config;
    const seen = new Set<SecAggClientId>();
    for (const key of message.keys) {
      this.checkAdvertisement(key, seen);
      seen.add(key.sender);
    }
    this.requireThreshold(1, 'neighbours advertised keys', seen.size);
    const peers = new Map<SecAggClientId, PeerSecrets>();
    for (const key of [...message.keys].sort((a, b) => a.sender - b.sender)) {
      peers.set(key.sender, {
        shareKey: shareEncryptionKey(this.cipherKey, key.cipherPublicKey, sessionId, this.id, key.sender),
        maskSeed: pairwiseMaskSeed(this.maskKey, key.maskPublicKey, sessionId, this.id, key.sender),
      });
    }
    const selfMaskSeed = randomBytes(this.options.random, secretBytes);
    const recipients = [...peers.keys()];
    const xs = recipients.map(shareX);
    const selfShares = splitSecret(selfMaskSeed, threshold, xs, this.options.random);
    const keyShares = splitSecret(this.maskKey, threshold, xs, this.options.random);
    const shares = recipients.map((recipient, index) => ({
      recipient,
      ciphertext: sealShares(peers.get(recipient)!.shareKey, sessionId, 1, this.id, recipient, encodeSharePlaintext(this.id, recipient, selfShares[index]!, keyShares[index]!)),
    }));
    const reply = signClientMessage({ kind: 'shareKeys', round: 1, sessionId, sender: this.id, shares }, this.options.signingKey);
    this.peers = peers;
    this.selfMaskSeed = selfMaskSeed;
    this.phase = 'shared';
    return reply;
  }

  private openForwarded(message: ForwardedShares): Map<SecAggClientId, HeldShares> {
    const held = new Map<SecAggClientId, HeldShares>();
    for (const { sender, ciphertext } of message.shares) {
      const peer = this.peers.get(sender);
      if (peer === undefined) throw this.messageError(2, `shares from client ${sender}, which is not a neighbour that advertised keys`);
      if (held.has(sender)) throw this.messageError(2, `shares from client ${sender} twice`);
      const plaintext = openShares(peer.shareKey, this.config.sessionId, 1, sender, this.id, ciphertext);
      const decoded = decodeSharePlaintext(plaintext);
      if (decoded === null || decoded.sender !== sender || decoded.recipient !== this.id || !isCanonicalShare(decoded.selfMask) || !isCanonicalShare(decoded.maskKey)) {
        throw this.messageError(2, `the shares from client ${sender} are malformed or misaddressed`);
      }
      held.set(sender, { selfMask: decoded.selfMask, maskKey: decoded.maskKey });
    }
    return held;
  }

  /** The input the client masks: its update, or with distributed DP the clipped update plus its noise share. */
  private valuesToMask(): ArrayLike<number> {
    const dp = this.options.distributedDp;
    if (dp === undefined) return this.options.input;
    const update = this.options.input instanceof Float32Array ? this.options.input : Float32Array.from(this.options.input);
    return clientNoisedUpdate(update, dp.options, new GaussianSampler(dp.noise));
  }

  /** Round 2: quantise, add the self mask and a pairwise mask per neighbour that shared (+ toward larger ids, - toward smaller). */
  private maskedInput(message: ForwardedShares): MaskedInput {
    const held = this.openForwarded(message);
    this.requireThreshold(2, 'neighbours shared their secrets', held.size);
    const { words, clippedCount } = quantise(this.valuesToMask(), this.config.quantisation);
    applyMask(words, this.selfMaskSeed!, 1);
    for (const peer of [...held.keys()].sort((a, b) => a - b)) applyMask(words, this.peers.get(peer)!.maskSeed, this.id < peer ? 1 : -1);
    const reply = signClientMessage({ kind: 'maskedInput', round: 2, sessionId: this.config.sessionId, sender: this.id, masked: words }, this.options.signingKey);
    this.held = held;
    this.clippedCount = clippedCount;
    this.phase = 'masked';
    return reply;
  }

  private checkUnmaskRequest(message: UnmaskRequest): void {
    const listed = new Set<SecAggClientId>();
    for (const peer of [...message.survivors, ...message.dropped]) {
      if (!this.held.has(peer)) {
        throw new SecAggError(SecAggErrorCode.ERR_SECAGG_UNMASK_REQUEST, `client ${this.id} round 3: client ${peer} is not a neighbour whose shares this client holds`);
      }
      // Revealing both shares of one neighbour would let the server strip all its masks and read its input.
      if (listed.has(peer)) {
        throw new SecAggError(SecAggErrorCode.ERR_SECAGG_UNMASK_REQUEST, `client ${this.id} round 3: client ${peer} is listed twice (as survivor and dropout, or repeated); refusing to reveal both secrets`);
      }
      listed.add(peer);
    }
    this.requireThreshold(3, 'neighbours survived', message.survivors.length);
  }

  /** Round 3, answered once: self-mask shares of survivors, mask-key shares of dropouts. */
  private unmaskingShares(message: UnmaskRequest): UnmaskingShares {
    this.checkUnmaskRequest(message);
    const reply = signClientMessage(
      {
        kind: 'unmaskingShares',
        round: 3,
        sessionId: this.config.sessionId,
        sender: this.id,
        selfMaskShares: message.survivors.map((owner) => ({ owner, share: this.held.get(owner)!.selfMask })),
        maskKeyShares: message.dropped.map((owner) => ({ owner, share: this.held.get(owner)!.maskKey })),
      },
      this.options.signingKey,
    );
    this.phase = 'done';
    return reply;
  }
}
