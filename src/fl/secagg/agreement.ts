/**
 * The symmetric keys two clients derive from each other's advertised X25519 public keys: the
 * seed of their pairwise mask (from the mask keys) and the AES-256-GCM key that carries Shamir
 * shares between them through the server (from the cipher keys). HKDF-SHA-256 binds each to the
 * session and the unordered pair, so one agreement never keys two sessions or two purposes.
 */
import { aeadOpen, aeadSeal } from '../../crypto/aead.js';
import { x25519 } from '../../crypto/curve25519.js';
import { hkdfSha256 } from '../../crypto/hash.js';
import type { SecAggClientId } from './config.js';
import { SecAggError, SecAggErrorCode } from './errors.js';
import { secretBytes } from './limits.js';

const textEncoder = new TextEncoder();
const maskInfo = textEncoder.encode('x0tta6bl4 secagg v1 pairwise mask seed');
const cipherInfo = textEncoder.encode('x0tta6bl4 secagg v1 share encryption key');
const shareAadLabel = textEncoder.encode('x0tta6bl4 secagg v1 shares');

function pairInfo(label: Uint8Array, a: SecAggClientId, b: SecAggClientId): Uint8Array {
  const info = new Uint8Array(label.length + 8);
  info.set(label);
  const view = new DataView(info.buffer);
  view.setUint32(label.length, Math.min(a, b));
  view.setUint32(label.length + 4, Math.max(a, b));
  return info;
}

/** X25519 with a peer key; a low-order peer key is a protocol violation by that peer. */
function agree(privateKey: Uint8Array, peerPublicKey: Uint8Array, peer: SecAggClientId): Uint8Array {
  try {
    return x25519(privateKey, peerPublicKey);
  } catch (error) {
    // x25519 throws only CryptoErrors (a wrong length or a low-order point).
    throw new SecAggError(SecAggErrorCode.ERR_SECAGG_MESSAGE, `secagg: client ${peer} advertised an unusable X25519 key (${(error as Error).message})`);
  }
}

/** The 256-bit seed of the pairwise mask between `self` and `peer` (the same on both sides). */
export function pairwiseMaskSeed(maskPrivateKey: Uint8Array, peerMaskPublicKey: Uint8Array, sessionId: Uint8Array, self: SecAggClientId, peer: SecAggClientId): Uint8Array {
  return hkdfSha256(agree(maskPrivateKey, peerMaskPublicKey, peer), sessionId, pairInfo(maskInfo, self, peer), secretBytes);
}

/** The AES-256-GCM key that protects the shares `self` and `peer` send each other. */
export function shareEncryptionKey(cipherPrivateKey: Uint8Array, peerCipherPublicKey: Uint8Array, sessionId: Uint8Array, self: SecAggClientId, peer: SecAggClientId): Uint8Array {
  return hkdfSha256(agree(cipherPrivateKey, peerCipherPublicKey, peer), sessionId, pairInfo(cipherInfo, self, peer), secretBytes);
}

/**
 * Both directions of a pair share one key, so the nonce names the direction (sender, recipient)
 * and is never reused: each direction carries exactly one message per session.
 */
function shareNonce(sender: SecAggClientId, recipient: SecAggClientId): Uint8Array {
  const nonce = new Uint8Array(12);
  const view = new DataView(nonce.buffer);
  view.setUint32(0, sender);
  view.setUint32(4, recipient);
  return nonce;
}

/** The associated data binds the ciphertext to the session, the round and both parties. */
function shareAad(sessionId: Uint8Array, round: number, sender: SecAggClientId, recipient: SecAggClientId): Uint8Array {
  const aad = new Uint8Array(shareAadLabel.length + sessionId.length + 9);
  aad.set(shareAadLabel);
  aad.set(sessionId, shareAadLabel.length);
  const view = new DataView(aad.buffer);
  view.setUint8(shareAadLabel.length + sessionId.length, round);
  view.setUint32(shareAadLabel.length + sessionId.length + 1, sender);
  view.setUint32(shareAadLabel.length + sessionId.length + 5, recipient);
  return aad;
}

/** Encrypts the shares `sender` gives `recipient` in `round`. */
export function sealShares(key: Uint8Array, sessionId: Uint8Array, round: number, sender: SecAggClientId, recipient: SecAggClientId, plaintext: Uint8Array): Uint8Array {
  return aeadSeal('aes-256-gcm', key, shareNonce(sender, recipient), plaintext, shareAad(sessionId, round, sender, recipient));
}

/** Opens shares from `sender`; any tampering, misdirection or replay from another round is ERR_SECAGG_CIPHERTEXT. */
export function openShares(key: Uint8Array, sessionId: Uint8Array, round: number, sender: SecAggClientId, recipient: SecAggClientId, sealed: Uint8Array): Uint8Array {
  try {
    return aeadOpen('aes-256-gcm', key, shareNonce(sender, recipient), sealed, shareAad(sessionId, round, sender, recipient));
  } catch (error) {
    // aeadOpen throws only CryptoErrors: a short or tampered ciphertext, or a wrong key or AAD.
    throw new SecAggError(SecAggErrorCode.ERR_SECAGG_CIPHERTEXT, `secagg round ${round}: client ${recipient} cannot open the shares from client ${sender} (${(error as Error).message})`);
  }
}
