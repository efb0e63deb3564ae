import { createPrivateKey, createPublicKey, diffieHellman, sign, verify, type KeyObject } from 'node:crypto';
import { CryptoError, CryptoErrorCode, expectLength } from './errors.js';

/** Bytes of an X25519 or Ed25519 private key (seed) and public key. */
export const curveKeyBytes = 32;
/** Bytes of an Ed25519 signature. */
export const ed25519SignatureBytes = 64;

// Raw keys enter node:crypto as JWKs: an order of magnitude faster than DER (PKCS#8 import
// costs ~0.5 ms, JWK ~50 us). OpenSSL builds an OKP private key from `d` alone and derives the
// public half itself, so `x` carries a placeholder (checked by the RFC 7748 and Wycheproof
// vectors, which would fail if node:crypto ever used it).
type OkpCurve = 'X25519' | 'Ed25519';
const placeholderX = Buffer.alloc(curveKeyBytes).toString('base64url');

function privateKeyObject(crv: OkpCurve, raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: { kty: 'OKP', crv, d: Buffer.from(raw).toString('base64url'), x: placeholderX }, format: 'jwk' });
}

function publicKeyObject(crv: OkpCurve, raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv, x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

function rawPublicKey(privateKey: KeyObject): Uint8Array {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  return new Uint8Array(Buffer.from(jwk.x!, 'base64url'));
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
  return rawPublicKey(privateKeyObject('X25519', privateKey));
}

/**
 * X25519(privateKey, peerPublicKey) (RFC 7748). An all-zero result, which a low-order peer
 * point forces whatever our key, is refused with ERR_CRYPTO_LOW_ORDER (RFC 7748 section 6.1):
 * a secret the peer can predict must never key anything.
 */
export function x25519(privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
  expectLength('x25519: privateKey', privateKey, curveKeyBytes);
  expectLength('x25519: peerPublicKey', peerPublicKey, curveKeyBytes);
  const shared = deriveOrNull(privateKeyObject('X25519', privateKey), publicKeyObject('X25519', peerPublicKey));
  // OpenSSL refuses to derive the all-zero secret; the explicit check keeps us safe if it ever does not.
  if (shared === null || shared.every((byte) => byte === 0)) {
    throw new CryptoError(CryptoErrorCode.ERR_CRYPTO_LOW_ORDER, 'x25519: the peer public key is a low-order point (all-zero shared secret)');
  }
  return new Uint8Array(shared);
}

/** The Ed25519 public key of a 32-byte private key (seed, RFC 8032). */
export function ed25519PublicKey(privateKey: Uint8Array): Uint8Array {
  expectLength('ed25519PublicKey: privateKey', privateKey, curveKeyBytes);
  return rawPublicKey(privateKeyObject('Ed25519', privateKey));
}

/** Ed25519 signature (RFC 8032, pure) of `message` under a 32-byte private key. */
export function ed25519Sign(privateKey: Uint8Array, message: Uint8Array): Uint8Array {
  expectLength('ed25519Sign: privateKey', privateKey, curveKeyBytes);
  return new Uint8Array(sign(null, message, privateKeyObject('Ed25519', privateKey)));
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
    key = publicKeyObject('Ed25519', publicKey);
  } catch {
    return false;
  }
  return verify(null, message, key, signature);
}

/**
 * A signer for one Ed25519 private key (seed) that imports the key once: for a node that signs
 * every second, the import would cost as much as the signature.
 */
export function ed25519Signer(privateKey: Uint8Array): (message: Uint8Array) => Uint8Array {
  expectLength('ed25519Signer: privateKey', privateKey, curveKeyBytes);
  const key = privateKeyObject('Ed25519', privateKey);
  return (message) => new Uint8Array(sign(null, message, key));
}

/**
 * A verifier for one Ed25519 public key that imports the key once, or null when the key is not a
 * point; the verifier returns what ed25519Verify would.
 */
export function ed25519Verifier(publicKey: Uint8Array): ((message: Uint8Array, signature: Uint8Array) => boolean) | null {
  if (publicKey.length !== curveKeyBytes) return null;
  let key: KeyObject;
  try {
    key = publicKeyObject('Ed25519', publicKey);
  } catch {
    return null;
  }
  return (message, signature) => signature.length === ed25519SignatureBytes && verify(null, message, key, signature);
}
