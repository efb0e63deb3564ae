/**
 * The messages of one secure aggregation, their canonical byte encoding and their signatures.
 *
 * Four rounds (Bonawitz et al. 2017, with SecAgg+'s neighbour sets): 0 AdvertiseKeys, 1
 * ShareKeys, 2 MaskedInputCollection, 3 Unmasking. Every client message is signed with the
 * client's Ed25519 identity key over a domain label, the round, the session id, the sender and
 * the body, so the server can neither forge nor alter one, and a message replayed into another
 * round or session fails either the round check or the signature. Server messages are not signed:
 * what they carry is either signed by clients (advertised keys) or authenticated end to end
 * (AES-GCM shares), and a lying server is what the client checks in round 3 guard against.
 *
 * The encoding doubles as the wire size: header (round u8, session 32 bytes, sender u32), body,
 * signature; integers big-endian except the masked vector, which is u32 little-endian words.
 */
import { ed25519Sign, ed25519SignatureBytes, ed25519Verify } from '../../crypto/curve25519.js';
import type { SecAggClientId } from './config.js';
import { sessionIdBytes } from './limits.js';

/** The protocol rounds, numbered as in Bonawitz et al. */
export const SecAggRound = { advertiseKeys: 0, shareKeys: 1, maskedInputCollection: 2, unmasking: 3 } as const;

interface SignedHeader {
  readonly sessionId: Uint8Array;
  readonly sender: SecAggClientId;
  /** Ed25519 over signedBytes(message). */
  readonly signature: Uint8Array;
}

/** Round 0: the client's two fresh X25519 public keys (one for share encryption, one for pairwise masks). */
export interface AdvertiseKeys extends SignedHeader {
  readonly kind: 'advertiseKeys';
  readonly round: 0;
  readonly cipherPublicKey: Uint8Array;
  readonly maskPublicKey: Uint8Array;
}

/** The sealed Shamir shares for one neighbour. */
export interface EncryptedShare {
  readonly recipient: SecAggClientId;
  readonly ciphertext: Uint8Array;
}

/** Round 1: the shares of the client's self-mask seed and mask key, one ciphertext per neighbour. */
export interface ShareKeys extends SignedHeader {
  readonly kind: 'shareKeys';
  readonly round: 1;
  readonly shares: readonly EncryptedShare[];
}

/** Round 2: the quantised input plus its self mask and pairwise masks, in Z / 2^32. */
export interface MaskedInput extends SignedHeader {
  readonly kind: 'maskedInput';
  readonly round: 2;
  readonly masked: Uint32Array;
}

/** One decrypted share a client hands back in round 3, tagged with the client it belongs to. */
export interface OwnedShare {
  readonly owner: SecAggClientId;
  readonly share: Uint8Array;
}

/** Round 3: self-mask shares of surviving neighbours, mask-key shares of dropped ones (never both for one owner). */
export interface UnmaskingShares extends SignedHeader {
  readonly kind: 'unmaskingShares';
  readonly round: 3;
  readonly selfMaskShares: readonly OwnedShare[];
  readonly maskKeyShares: readonly OwnedShare[];
}

/** Anything a client sends. */
export type ClientMessage = AdvertiseKeys | ShareKeys | MaskedInput | UnmaskingShares;

/** A client message before it is signed. */
export type UnsignedClientMessage = ClientMessage extends infer M ? (M extends ClientMessage ? Omit<M, 'signature'> : never) : never;

/** To round 1: the signed key advertisements of the client's neighbours that answered round 0. */
export interface NeighbourKeys {
  readonly kind: 'neighbourKeys';
  readonly sessionId: Uint8Array;
  readonly round: 1;
  readonly keys: readonly AdvertiseKeys[];
}

/** One ciphertext forwarded from its sender. */
export interface ForwardedShare {
  readonly sender: SecAggClientId;
  readonly ciphertext: Uint8Array;
}

/** To round 2: the ciphertexts addressed to the client by neighbours that answered round 1. */
export interface ForwardedShares {
  readonly kind: 'forwardedShares';
  readonly sessionId: Uint8Array;
  readonly round: 2;
  readonly shares: readonly ForwardedShare[];
}

/** To round 3: which of the client's neighbours sent a masked input (survivors) and which did not (dropped). */
export interface UnmaskRequest {
  readonly kind: 'unmaskRequest';
  readonly sessionId: Uint8Array;
  readonly round: 3;
  readonly survivors: readonly SecAggClientId[];
  readonly dropped: readonly SecAggClientId[];
}

/** Anything the server sends. */
export type ServerMessage = NeighbourKeys | ForwardedShares | UnmaskRequest;

/** Bytes of the client header on the wire: round, session id, sender. */
const clientHeaderBytes = 1 + sessionIdBytes + 4;
/** Bytes of the server header on the wire: round, session id. */
const serverHeaderBytes = 1 + sessionIdBytes;
const signatureLabel = new TextEncoder().encode('x0tta6bl4 secagg v1 signed message');

/** An append-only big-endian writer over a buffer sized up front. */
class ByteWriter {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private offset = 0;

  constructor(length: number) {
    this.bytes = new Uint8Array(length);
    this.view = new DataView(this.bytes.buffer);
  }

  u8(value: number): void {
    this.view.setUint8(this.offset, value);
    this.offset += 1;
  }

  u32(value: number): void {
    this.view.setUint32(this.offset, value);
    this.offset += 4;
  }

  raw(bytes: Uint8Array): void {
    this.bytes.set(bytes, this.offset);
    this.offset += bytes.length;
  }
}

function ownedSharesBytes(shares: readonly OwnedShare[]): number {
  return 4 + shares.reduce((sum, entry) => sum + 4 + entry.share.length, 0);
}

function bodyBytes(message: UnsignedClientMessage): number {
  switch (message.kind) {
    case 'advertiseKeys':
      return message.cipherPublicKey.length + message.maskPublicKey.length;
    case 'shareKeys':
      return 4 + message.shares.reduce((sum, entry) => sum + 8 + entry.ciphertext.length, 0);
    case 'maskedInput':
      return 4 + 4 * message.masked.length;
    case 'unmaskingShares':
      return ownedSharesBytes(message.selfMaskShares) + ownedSharesBytes(message.maskKeyShares);
  }
}

function writeOwnedShares(writer: ByteWriter, shares: readonly OwnedShare[]): void {
  writer.u32(shares.length);
  for (const entry of shares) {
    writer.u32(entry.owner);
    writer.raw(entry.share);
  }
}

function writeBody(writer: ByteWriter, message: UnsignedClientMessage): void {
  switch (message.kind) {
    case 'advertiseKeys':
      writer.raw(message.cipherPublicKey);
      writer.raw(message.maskPublicKey);
      return;
    case 'shareKeys':
      writer.u32(message.shares.length);
      for (const entry of message.shares) {
        writer.u32(entry.recipient);
        writer.u32(entry.ciphertext.length);
        writer.raw(entry.ciphertext);
      }
      return;
    case 'maskedInput':
      writer.u32(message.masked.length);
      // The prg module guarantees a little-endian host, so the words' bytes are the wire bytes.
      writer.raw(new Uint8Array(message.masked.buffer, message.masked.byteOffset, message.masked.byteLength));
      return;
    case 'unmaskingShares':
      writeOwnedShares(writer, message.selfMaskShares);
      writeOwnedShares(writer, message.maskKeyShares);
  }
}

/** The bytes a client signs: a domain label, then the message's canonical encoding without the signature. */
export function signedBytes(message: UnsignedClientMessage): Uint8Array {
  const writer = new ByteWriter(signatureLabel.length + clientHeaderBytes + bodyBytes(message));
  writer.raw(signatureLabel);
  writer.u8(message.round);
  writer.raw(message.sessionId);
  writer.u32(message.sender);
  writeBody(writer, message);
  return writer.bytes;
}

/** Signs `message` with the sender's 32-byte Ed25519 identity key. */
export function signClientMessage<U extends UnsignedClientMessage>(message: U, signingKey: Uint8Array): U & { readonly signature: Uint8Array } {
  return { ...message, signature: ed25519Sign(signingKey, signedBytes(message)) };
}

/** True when the message's signature verifies under `publicKey`. */
export function verifyClientMessage(message: ClientMessage, publicKey: Uint8Array): boolean {
  const { signature, ...unsigned } = message;
  return ed25519Verify(publicKey, signedBytes(unsigned as UnsignedClientMessage), signature);
}

/** Bytes of a client message on the wire: header, body, signature. */
export function clientMessageBytes(message: ClientMessage): number {
  return clientHeaderBytes + bodyBytes(message) + ed25519SignatureBytes;
}

/** Bytes of a server message on the wire: header, then its lists with u32 counts and ids. */
export function serverMessageBytes(message: ServerMessage): number {
  switch (message.kind) {
    case 'neighbourKeys':
      return serverHeaderBytes + 4 + message.keys.reduce((sum, key) => sum + clientMessageBytes(key), 0);
    case 'forwardedShares':
      return serverHeaderBytes + 4 + message.shares.reduce((sum, entry) => sum + 8 + entry.ciphertext.length, 0);
    case 'unmaskRequest':
      return serverHeaderBytes + 8 + 4 * (message.survivors.length + message.dropped.length);
  }
}
