import { createCipheriv, createDecipheriv, type CipherGCMTypes } from 'node:crypto';
import { CryptoError, CryptoErrorCode, expectLength } from './errors.js';

/** The AEADs this module offers; sessions use one per network. */
export type AeadName = 'chacha20-poly1305' | 'aes-256-gcm';
/** Bytes of an AEAD key, nonce and tag (both AEADs). */
export const aeadKeyBytes = 32;
export const aeadNonceBytes = 12;
export const aeadTagBytes = 16;

type NodeAeadName = 'chacha20-poly1305' | CipherGCMTypes;

function nodeName(name: AeadName): NodeAeadName {
  if (name === 'chacha20-poly1305' || name === 'aes-256-gcm') return name;
  throw new CryptoError(CryptoErrorCode.ERR_CRYPTO_ALGORITHM, `aead: expected chacha20-poly1305 or aes-256-gcm, got ${String(name)}`);
}

function checkKeyAndNonce(what: string, key: Uint8Array, nonce: Uint8Array): void {
  expectLength(`${what}: key`, key, aeadKeyBytes);
  expectLength(`${what}: nonce`, nonce, aeadNonceBytes);
}

/** Encrypts `plaintext` and authenticates it with `aad`; returns ciphertext || 16-byte tag. */
export function aeadSeal(name: AeadName, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  checkKeyAndNonce('aeadSeal', key, nonce);
  const cipher = createCipheriv(nodeName(name) as 'chacha20-poly1305', key, nonce, { authTagLength: aeadTagBytes });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const out = new Uint8Array(plaintext.length + aeadTagBytes);
  const body = cipher.update(plaintext);
  out.set(body, 0);
  const tail = cipher.final();
  out.set(tail, body.length);
  out.set(cipher.getAuthTag(), plaintext.length);
  return out;
}

/** Checks the tag of `sealed` (ciphertext || tag) under `aad` and returns the plaintext; ERR_CRYPTO_AEAD_AUTH when it fails. */
export function aeadOpen(name: AeadName, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  checkKeyAndNonce('aeadOpen', key, nonce);
  if (sealed.length < aeadTagBytes) {
    throw new CryptoError(CryptoErrorCode.ERR_CRYPTO_AEAD_AUTH, `aeadOpen: expected at least ${aeadTagBytes} bytes (the tag), got ${sealed.length}`);
  }
  const bodyBytes = sealed.length - aeadTagBytes;
  const decipher = createDecipheriv(nodeName(name) as 'chacha20-poly1305', key, nonce, { authTagLength: aeadTagBytes });
  decipher.setAAD(aad, { plaintextLength: bodyBytes });
  decipher.setAuthTag(sealed.subarray(bodyBytes));
  const out = new Uint8Array(bodyBytes);
  const body = decipher.update(sealed.subarray(0, bodyBytes));
  try {
    out.set(decipher.final(), body.length);
  } catch {
    throw new CryptoError(CryptoErrorCode.ERR_CRYPTO_AEAD_AUTH, `aeadOpen: ${name} tag does not verify`);
  }
  out.set(body, 0);
  return out;
}
