import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { CryptoError, CryptoErrorCode, expectLength } from './errors.js';

/** Sizes of ML-DSA-65 (FIPS 204) in bytes. */
export const mlDsaSeedBytes = 32;
export const mlDsaPublicKeyBytes = 1952;
export const mlDsaSecretKeyBytes = 4032;
export const mlDsaSignatureBytes = 3309;
/** Signing randomness of the hedged variant. */
export const mlDsaRandomBytes = 32;
/** Longest context string FIPS 204 allows. */
export const mlDsaContextBytesMax = 255;

/** An ML-DSA-65 key pair. */
export interface MlDsaKeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

/** ML-DSA-65 key pair from a 32-byte seed (FIPS 204 ML-DSA.KeyGen_internal). */
export function mlDsaKeyPair(seed: Uint8Array): MlDsaKeyPair {
  expectLength('mlDsaKeyPair: seed', seed, mlDsaSeedBytes);
  const { publicKey, secretKey } = ml_dsa65.keygen(seed);
  return { publicKey, secretKey };
}

function checkContext(what: string, context: Uint8Array): void {
  if (context.length > mlDsaContextBytesMax) {
    throw new CryptoError(CryptoErrorCode.ERR_CRYPTO_LENGTH, `${what}: expected a context of at most ${mlDsaContextBytesMax} bytes, got ${context.length}`);
  }
}

/**
 * ML-DSA-65 signature (FIPS 204, pure, with `context`) of `message`. With `random` (32 bytes)
 * the signature is hedged; without it, deterministic.
 */
export function mlDsaSign(secretKey: Uint8Array, message: Uint8Array, context: Uint8Array, random?: Uint8Array): Uint8Array {
  expectLength('mlDsaSign: secretKey', secretKey, mlDsaSecretKeyBytes);
  checkContext('mlDsaSign', context);
  if (random !== undefined) expectLength('mlDsaSign: random', random, mlDsaRandomBytes);
  return ml_dsa65.sign(message, secretKey, { context, extraEntropy: random ?? false });
}

/** True when `signature` is a valid ML-DSA-65 signature of `message` with `context` under `publicKey`; malformed input is just invalid. */
export function mlDsaVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, context: Uint8Array): boolean {
  if (publicKey.length !== mlDsaPublicKeyBytes || signature.length !== mlDsaSignatureBytes || context.length > mlDsaContextBytesMax) return false;
  return ml_dsa65.verify(signature, message, publicKey, { context });
}
