import { curveKeyBytes, x25519, x25519PublicKey } from './curve25519.js';
import { expectLength } from './errors.js';
import { sha3_256, shake256 } from './hash.js';
import { checkMlKemPublicKey, mlKemCiphertextBytes, mlKemDecapsulate, mlKemEncapsulate, mlKemKeyPair, mlKemMessageBytes, mlKemPublicKeyBytes } from './mlkem.js';

/**
 * X-Wing, the hybrid KEM of ML-KEM-768 and X25519 (draft-connolly-cfrg-xwing-kem; identical to
 * MLKEM768-X25519 of draft-irtf-cfrg-concrete-hybrid-kems): its shared secret stays secret
 * while either component holds, because the combiner hashes both secrets together with the
 * X25519 ciphertext and public key.
 */

/** Sizes of X-Wing in bytes. */
export const xwingSecretKeyBytes = 32;
export const xwingPublicKeyBytes = mlKemPublicKeyBytes + curveKeyBytes;
export const xwingCiphertextBytes = mlKemCiphertextBytes + curveKeyBytes;
export const xwingEncapsulationSeedBytes = mlKemMessageBytes + curveKeyBytes;
export const xwingSharedSecretBytes = 32;

/** The combiner's label, the six ASCII bytes \.//^\ , hashed last. */
const xwingLabel = new Uint8Array([0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c]);

/** An X-Wing private key expanded once for repeated decapsulation, with its public key. */
export interface XWingKey {
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly mlKemSecretKey: Uint8Array;
  readonly x25519SecretKey: Uint8Array;
  readonly x25519PublicKey: Uint8Array;
}

/** Expands a 32-byte X-Wing secret key: SHAKE256 gives the ML-KEM seed d || z and the X25519 key. */
export function xwingExpand(seed: Uint8Array): XWingKey {
  expectLength('xwingExpand: seed', seed, xwingSecretKeyBytes);
  const expanded = shake256(seed, 96);
  const mlKem = mlKemKeyPair(expanded.subarray(0, 64));
  const x25519SecretKey = expanded.slice(64, 96);
  const xPublic = x25519PublicKey(x25519SecretKey);
  const publicKey = new Uint8Array(xwingPublicKeyBytes);
  publicKey.set(mlKem.publicKey, 0);
  publicKey.set(xPublic, mlKemPublicKeyBytes);
  return { seed: seed.slice(), publicKey, mlKemSecretKey: mlKem.secretKey, x25519SecretKey, x25519PublicKey: xPublic };
}

/** A fixed scalar for the low-order check: any scalar gives the all-zero output on a low-order point. */
const probeScalar = new Uint8Array(32).fill(0x5a);

/**
 * Checks that an X-Wing public key can be encapsulated to: the right length, an ML-KEM-768 part
 * that passes the FIPS 203 modulus check, and an X25519 part that is not a low-order point.
 * Throws CryptoError (ERR_CRYPTO_LENGTH, ERR_CRYPTO_PUBLIC_KEY, ERR_CRYPTO_LOW_ORDER).
 */
export function checkXWingPublicKey(publicKey: Uint8Array): void {
  expectLength('X-Wing public key', publicKey, xwingPublicKeyBytes);
  checkMlKemPublicKey(publicKey.subarray(0, mlKemPublicKeyBytes));
  x25519(probeScalar, publicKey.subarray(mlKemPublicKeyBytes));
}

function combine(mlKemSecret: Uint8Array, x25519Secret: Uint8Array, x25519Ciphertext: Uint8Array, x25519Public: Uint8Array): Uint8Array {
  return sha3_256(mlKemSecret, x25519Secret, x25519Ciphertext, x25519Public, xwingLabel);
}

/** X-Wing encapsulation to `publicKey` with 64 bytes of randomness (32 for ML-KEM, 32 for the ephemeral X25519 key). */
export function xwingEncapsulate(publicKey: Uint8Array, randomness: Uint8Array): { ciphertext: Uint8Array; sharedSecret: Uint8Array } {
  expectLength('xwingEncapsulate: publicKey', publicKey, xwingPublicKeyBytes);
  expectLength('xwingEncapsulate: randomness', randomness, xwingEncapsulationSeedBytes);
  const mlKemPublic = publicKey.subarray(0, mlKemPublicKeyBytes);
  const xPublic = publicKey.subarray(mlKemPublicKeyBytes);
  const ephemeral = randomness.subarray(mlKemMessageBytes);
  const xCiphertext = x25519PublicKey(ephemeral);
  const xSecret = x25519(ephemeral, xPublic);
  const mlKem = mlKemEncapsulate(mlKemPublic, randomness.subarray(0, mlKemMessageBytes));
  const ciphertext = new Uint8Array(xwingCiphertextBytes);
  ciphertext.set(mlKem.ciphertext, 0);
  ciphertext.set(xCiphertext, mlKemCiphertextBytes);
  return { ciphertext, sharedSecret: combine(mlKem.sharedSecret, xSecret, xCiphertext, xPublic) };
}

/** X-Wing decapsulation with an expanded key; a tampered ML-KEM part yields an unrelated secret (implicit rejection). */
export function xwingDecapsulate(ciphertext: Uint8Array, key: XWingKey): Uint8Array {
  expectLength('xwingDecapsulate: ciphertext', ciphertext, xwingCiphertextBytes);
  const xCiphertext = ciphertext.subarray(mlKemCiphertextBytes);
  const mlKemSecret = mlKemDecapsulate(ciphertext.subarray(0, mlKemCiphertextBytes), key.mlKemSecretKey);
  const xSecret = x25519(key.x25519SecretKey, xCiphertext);
  return combine(mlKemSecret, xSecret, xCiphertext, key.x25519PublicKey);
}
