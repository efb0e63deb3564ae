/**
 * The crypto module's error catalogue. Every refusal of a primitive, the handshake or a session
 * is a CryptoError whose `code` is one of these stable strings, so callers branch on the code
 * and never parse the message.
 */
export const CryptoErrorCode = {
  /** A key, seed, nonce, public value or ciphertext has the wrong number of bytes. */
  ERR_CRYPTO_LENGTH: 'ERR_CRYPTO_LENGTH',
  /** A public key is not a valid encoding (ML-KEM modulus check, unusable curve point). */
  ERR_CRYPTO_PUBLIC_KEY: 'ERR_CRYPTO_PUBLIC_KEY',
  /** An X25519 exchange produced the all-zero secret: the peer sent a low-order point. */
  ERR_CRYPTO_LOW_ORDER: 'ERR_CRYPTO_LOW_ORDER',
  /** An AEAD tag did not verify: the ciphertext, the associated data or the key is wrong. */
  ERR_CRYPTO_AEAD_AUTH: 'ERR_CRYPTO_AEAD_AUTH',
  /** A requested output length is outside what the function can produce (HKDF: 255 hash lengths). */
  ERR_CRYPTO_OUTPUT_LENGTH: 'ERR_CRYPTO_OUTPUT_LENGTH',
  /** A name (AEAD algorithm, ...) that this module does not offer. */
  ERR_CRYPTO_ALGORITHM: 'ERR_CRYPTO_ALGORITHM',
  /** A network key ring is malformed: no epochs, too many, a bad key or time, epochs out of order. */
  ERR_CRYPTO_KEY_RING: 'ERR_CRYPTO_KEY_RING',
  /** A session is past Reject-After-Time or Reject-After-Messages: it neither seals nor opens; a new handshake is due. */
  ERR_SESSION_EXPIRED: 'ERR_SESSION_EXPIRED',
  /** A received counter was already accepted or is too far behind the highest one (the replay window). */
  ERR_SESSION_REPLAY: 'ERR_SESSION_REPLAY',
  /** A received counter is not an integer in 0..rejectAfterMessages-1. */
  ERR_SESSION_COUNTER: 'ERR_SESSION_COUNTER',
  /** A responder's session may not seal before a packet from the initiator opened (key confirmation). */
  ERR_SESSION_UNCONFIRMED: 'ERR_SESSION_UNCONFIRMED',
} as const;

/** One of the codes in CryptoErrorCode. */
export type CryptoErrorCodeValue = (typeof CryptoErrorCode)[keyof typeof CryptoErrorCode];

/** The only exception the crypto module throws on bad input; `code` says which rule was broken. */
export class CryptoError extends Error {
  override readonly name = 'CryptoError';

  /** Builds an error with a stable `code` and a message naming the function, the expectation and the finding. */
  constructor(
    readonly code: CryptoErrorCodeValue,
    message: string,
  ) {
    super(message);
  }
}

/** True when `value` is a CryptoError, optionally with the given code. */
export function isCryptoError(value: unknown, code?: CryptoErrorCodeValue): value is CryptoError {
  return value instanceof CryptoError && (code === undefined || value.code === code);
}

/** Throws ERR_CRYPTO_LENGTH unless `bytes` holds exactly `expected` bytes; `what` names the value in the message. */
export function expectLength(what: string, bytes: Uint8Array, expected: number): void {
  if (bytes.length !== expected) {
    throw new CryptoError(CryptoErrorCode.ERR_CRYPTO_LENGTH, `${what}: expected ${expected} bytes, got ${bytes.length}`);
  }
}
