import { createHash, createHmac, hkdfSync } from 'node:crypto';
import { CryptoError, CryptoErrorCode } from './errors.js';

/** Bytes of a SHA-256 / SHA3-256 / HMAC-SHA-256 output. */
export const hashBytes = 32;
/** Most bytes HKDF-SHA-256 can expand to (RFC 5869: 255 hash lengths). */
export const hkdfOutputBytesMax = 255 * hashBytes;

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: readonly Uint8Array[]): Uint8Array {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
}

/** SHA3-256 (FIPS 202) of the concatenation of `parts`. */
export function sha3_256(...parts: readonly Uint8Array[]): Uint8Array {
  const hash = createHash('sha3-256');
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
}

/** SHAKE256 (FIPS 202) of `input`, `outputBytes` long. */
export function shake256(input: Uint8Array, outputBytes: number): Uint8Array {
  return new Uint8Array(createHash('shake256', { outputLength: outputBytes }).update(input).digest());
}

/** HMAC-SHA-256 of the concatenation of `parts` under `key`. */
export function hmacSha256(key: Uint8Array, ...parts: readonly Uint8Array[]): Uint8Array {
  const mac = createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return new Uint8Array(mac.digest());
}

/** HKDF-SHA-256 (RFC 5869, extract then expand) of `ikm` to `outputBytes` bytes. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, outputBytes: number): Uint8Array {
  if (!Number.isInteger(outputBytes) || outputBytes < 1 || outputBytes > hkdfOutputBytesMax) {
    throw new CryptoError(CryptoErrorCode.ERR_CRYPTO_OUTPUT_LENGTH, `hkdfSha256: expected outputBytes in 1..${hkdfOutputBytesMax}, got ${outputBytes}`);
  }
  return new Uint8Array(hkdfSync('sha256', ikm, salt, info, outputBytes));
}
