/**
 * Why a handshake message was refused. A responder never answers a refused message: the code
 * goes to counters and logs only, so a prober learns nothing from it.
 */
export const HandshakeErrorCode = {
  /** Wrong type byte, a length outside the message's bounds, or fields that do not add up. */
  ERR_HANDSHAKE_FORMAT: 'ERR_HANDSHAKE_FORMAT',
  /** mac1 does not match: the sender does not know our static public key (or the bytes changed). */
  ERR_HANDSHAKE_MAC: 'ERR_HANDSHAKE_MAC',
  /** An encrypted part did not authenticate: wrong keys, or the message was altered. */
  ERR_HANDSHAKE_DECRYPT: 'ERR_HANDSHAKE_DECRYPT',
  /** A peer-supplied KEM key or ciphertext was refused (low-order X25519 point, unreduced ML-KEM key). */
  ERR_HANDSHAKE_KEM: 'ERR_HANDSHAKE_KEM',
  /** The peer's certificate did not verify, is revoked, or names another trust domain. */
  ERR_HANDSHAKE_CERTIFICATE: 'ERR_HANDSHAKE_CERTIFICATE',
  /** The initiation's timestamp is not newer than the last one accepted from that identity. */
  ERR_HANDSHAKE_REPLAY: 'ERR_HANDSHAKE_REPLAY',
  /** The initiation's timestamp is further from our clock than the freshness window allows. */
  ERR_HANDSHAKE_STALE: 'ERR_HANDSHAKE_STALE',
  /** A response or cookie reply that does not belong to the handshake in progress. */
  ERR_HANDSHAKE_STATE: 'ERR_HANDSHAKE_STATE',
} as const;

/** One of the codes in HandshakeErrorCode. */
export type HandshakeErrorCodeValue = (typeof HandshakeErrorCode)[keyof typeof HandshakeErrorCode];

/** A refused handshake message; `code` says which check failed. */
export class HandshakeError extends Error {
  override readonly name = 'HandshakeError';

  /** Builds an error with a stable `code` and a message naming the check and the finding. */
  constructor(
    readonly code: HandshakeErrorCodeValue,
    message: string,
  ) {
    super(message);
  }
}
