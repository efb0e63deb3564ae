import { createPrivateKey, createPublicKey, diffieHellman, sign, verify, type KeyObject } from 'node:crypto';
import { CryptoError, CryptoErrorCode, expectLength } from './errors.js';

/** Bytes of an X25519 or Ed25519 private key (seed) and public key. */
export const curveKeyBytes = 32;
/** Bytes of an Ed25519 signature. */
export const ed25519SignatureBytes = 64;

// DER wrappers that let node:crypto take raw 32-byte keys: PKCS#8 and SPKI headers for the
// OIDs 1.3.101.110 (X25519) and 1.3.101.112 (Ed25519) of RFC 8410, followed by the raw key.
const x25519Pkcs8Prefix = Buffer.from('302e020100300506032b656e04220420', 'hex');
const x25519SpkiPrefix = Buffer.from('302a300506032b656e032100', 'hex');
const ed25519Pkcs8Prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
const ed25519SpkiPrefix = Buffer.from('302a300506032b6570032100', 'hex');

function privateKeyObject(prefix: Buffer, raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([prefix, raw]), format: 'der', type: 'pkcs8' });
}

function publicKeyObject(prefix: Buffer, raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([prefix, raw]), format: 'der', type: 'spki' });
}

function rawPublicKey(privateKey: KeyObject): Uint8Array {
  const der = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - curveKeyBytes));
}

function deriveOrNull(privateKey: KeyObject, publicKey: KeyObject): Buffer | null {
  try {
    return diffieHellman({ privateKey, publicKey });
  } catch {
    return null;
  }
}

/** The X25519 public key of a 32-byte private key (RFC 7748). */
export function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
  expectLength('x25519PublicKey: privateKey', privateKey, curveKeyBytes);
  return rawPublicKey(privateKeyObject(x25519Pkcs8Prefix, privateKey));
}

/**
 * X25519(privateKey, peerPublicKey) (RFC 7748). An all-zero result, which a low-order peer
 * point forces whatever our key, is refused with ERR_CRYPTO_LOW_ORDER (RFC 7748 section 6.1):
 * a secret the peer can predict must never key anything.
 */
export function x25519(privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
  expectLength('x25519: privateKey', privateKey, curveKeyBytes);
  expectLength('x25519: peerPublicKey', peerPublicKey, curveKeyBytes);
  const shared = deriveOrNull(privateKeyObject(x25519Pkcs8Prefix, privateKey), publicKeyObject(x25519SpkiPrefix, peerPublicKey));
  // OpenSSL refuses to derive the all-zero secret; the explicit check keeps us safe if it ever does not.
  if (shared === null || shared.every((byte) => byte === 0)) {
    throw new CryptoError(CryptoErrorCode.ERR_CRYPTO_LOW_ORDER, 'x25519: the peer public key is a low-order point (all-zero shared secret)');
  }
  return new Uint8Array(shared);
}

/** The Ed25519 public key of a 32-byte private key (seed, RFC 8032). */
export function ed25519PublicKey(privateKey: Uint8Array): Uint8Array {
  expectLength('ed25519PublicKey: privateKey', privateKey, curveKeyBytes);
  return rawPublicKey(privateKeyObject(ed25519Pkcs8Prefix, privateKey));
}

/** Ed25519 signature (RFC 8032, pure) of `message` under a 32-byte private key. */
export function ed25519Sign(privateKey: Uint8Array, message: Uint8Array): Uint8Array {
  expectLength('ed25519Sign: privateKey', privateKey, curveKeyBytes);
  return new Uint8Array(sign(null, message, privateKeyObject(ed25519Pkcs8Prefix, privateKey)));
}

/**
 * True when `signature` is a valid Ed25519 signature of `message` under `publicKey`. Wrong
 * lengths and public keys that are not points return false: to a verifier they are just
 * signatures that do not verify.
 */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== curveKeyBytes || signature.length !== ed25519SignatureBytes) return false;
  let key: KeyObject;
  try {
    key = publicKeyObject(ed25519SpkiPrefix, publicKey);
  } catch {
    return false;
  }
  return verify(null, message, key, signature);
}
