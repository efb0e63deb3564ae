import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { CryptoError, CryptoErrorCode, expectLength } from './errors.js';

/** Sizes of ML-KEM-768 (FIPS 203) in bytes. */
export const mlKemSeedBytes = 64;
export const mlKemPublicKeyBytes = 1184;
export const mlKemSecretKeyBytes = 2400;
export const mlKemCiphertextBytes = 1088;
export const mlKemMessageBytes = 32;
export const mlKemSharedSecretBytes = 32;

/** The ML-KEM modulus q; every 12-bit coefficient of an encapsulation key must be below it. */
const modulusQ = 3329;
/** Bytes of the encoded polynomial vector t (k = 3 polynomials of 256 12-bit coefficients). */
const encodedTBytes = 1152;

/** An ML-KEM-768 key pair. */
export interface MlKemKeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

/** ML-KEM-768 key pair from the 64-byte seed d || z (FIPS 203 ML-KEM.KeyGen_internal). */
export function mlKemKeyPair(seed: Uint8Array): MlKemKeyPair {
  expectLength('mlKemKeyPair: seed', seed, mlKemSeedBytes);
  const { publicKey, secretKey } = ml_kem768.keygen(seed);
  return { publicKey, secretKey };
}

/**
 * FIPS 203 section 7.2 input check of an encapsulation key: the right length, and every
 * 12-bit coefficient of t below q (ByteEncode12(ByteDecode12(t)) == t). ERR_CRYPTO_PUBLIC_KEY otherwise.
 */
export function checkMlKemPublicKey(publicKey: Uint8Array): void {
  expectLength('ML-KEM-768 public key', publicKey, mlKemPublicKeyBytes);
  for (let i = 0; i < encodedTBytes; i += 3) {
    const b0 = publicKey[i]!;
    const b1 = publicKey[i + 1]!;
    const b2 = publicKey[i + 2]!;
    const low = b0 | ((b1 & 0x0f) << 8);
    const high = (b1 >> 4) | (b2 << 4);
    if (low >= modulusQ || high >= modulusQ) {
      throw new CryptoError(CryptoErrorCode.ERR_CRYPTO_PUBLIC_KEY, `ML-KEM-768 public key: coefficient at byte ${i} is not below q = ${modulusQ}`);
    }
  }
}

/** ML-KEM-768 encapsulation to `publicKey` with the 32-byte randomness `message` (FIPS 203 ML-KEM.Encaps_internal). */
export function mlKemEncapsulate(publicKey: Uint8Array, message: Uint8Array): { ciphertext: Uint8Array; sharedSecret: Uint8Array } {
  checkMlKemPublicKey(publicKey);
  expectLength('mlKemEncapsulate: message', message, mlKemMessageBytes);
  const { cipherText, sharedSecret } = ml_kem768.encapsulate(publicKey, message);
  return { ciphertext: cipherText, sharedSecret };
}

/** ML-KEM-768 decapsulation; a tampered ciphertext yields an unrelated secret (implicit rejection), never an error. */
export function mlKemDecapsulate(ciphertext: Uint8Array, secretKey: Uint8Array): Uint8Array {
  expectLength('mlKemDecapsulate: ciphertext', ciphertext, mlKemCiphertextBytes);
  expectLength('mlKemDecapsulate: secretKey', secretKey, mlKemSecretKeyBytes);
  return ml_kem768.decapsulate(ciphertext, secretKey);
}
