import { createCipheriv, createDecipheriv, type CipherGCMTypes } from 'node:crypto';
import { wasmChaCha, type WasmChaCha } from './chacha20-poly1305.js';
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

/** Which implementation seals and opens ChaCha20-Poly1305: our WebAssembly module when it loads, else node:crypto. */
export type ChaChaImplementation = 'wasm' | 'node';

let chacha: WasmChaCha | null = wasmChaCha();

/**
 * Chooses the ChaCha20-Poly1305 implementation (tests run every vector through both; 'wasm'
 * where WebAssembly is unavailable stays on node:crypto). Returns the one now in use.
 */
export function useChaChaImplementation(implementation: ChaChaImplementation): ChaChaImplementation {
  chacha = implementation === 'wasm' ? wasmChaCha() : null;
  return chacha === null ? 'node' : 'wasm';
}

/** The WebAssembly instance for a ChaCha20-Poly1305 call of these sizes, or null to use node:crypto. */
function wasmFor(name: AeadName, aadBytes: number, messageBytes: number): WasmChaCha | null {
  return name === 'chacha20-poly1305' && chacha !== null && chacha.fits(aadBytes, messageBytes) ? chacha : null;
}

function checkKeyAndNonce(what: string, key: Uint8Array, nonce: Uint8Array): void {
  expectLength(`${what}: key`, key, aeadKeyBytes);
  expectLength(`${what}: nonce`, nonce, aeadNonceBytes);
}

/** Encrypts `plaintext` and authenticates it with `aad`; returns ciphertext || 16-byte tag. */
export function aeadSeal(name: AeadName, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const out = new Uint8Array(plaintext.length + aeadTagBytes);
  aeadSealInto(name, key, nonce, plaintext, aad, out, 0);
  return out;
}

/**
 * Encrypts `plaintext` under `aad` into `out` at `offset` as ciphertext || 16-byte tag, so a
 * caller that frames the result (a data frame) writes it once instead of copying it again.
 * `plaintext` may be the bytes of `out` at `offset` themselves (sealing in place): both
 * implementations read all of it before they write there.
 */
export function aeadSealInto(name: AeadName, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, out: Uint8Array, offset: number): void {
  checkKeyAndNonce('aeadSeal', key, nonce);
  if (!Number.isInteger(offset) || offset < 0 || offset + plaintext.length + aeadTagBytes > out.length) {
    throw new RangeError(`aeadSealInto: ${plaintext.length} + ${aeadTagBytes} bytes at offset ${offset} do not fit an output of ${out.length} bytes`);
  }
  const wasm = wasmFor(name, aad.length, plaintext.length);
  if (wasm !== null) {
    wasm.sealInto(key, nonce, plaintext, aad, out, offset);
    return;
  }
  const cipher = createCipheriv(nodeName(name) as 'chacha20-poly1305', key, nonce, { authTagLength: aeadTagBytes });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const body = cipher.update(plaintext);
  out.set(body, offset);
  // Both AEADs are stream ciphers: final() only completes the tag and returns no bytes.
  cipher.final();
  out.set(cipher.getAuthTag(), offset + plaintext.length);
}

/** Checks the tag of `sealed` (ciphertext || tag) under `aad` and returns the plaintext; ERR_CRYPTO_AEAD_AUTH when it fails. */
export function aeadOpen(name: AeadName, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  const bodyBytes = checkSealed('aeadOpen', key, nonce, sealed);
  const wasm = wasmFor(name, aad.length, bodyBytes);
  if (wasm !== null) {
    const plaintext = wasm.open(key, nonce, sealed, aad);
    if (plaintext === null) throw new CryptoError(CryptoErrorCode.ERR_CRYPTO_AEAD_AUTH, `aeadOpen: ${name} tag does not verify`);
    return plaintext;
  }
  return nodeOpen(name, key, nonce, sealed, aad);
}

/**
 * aeadOpen into `out` at `offset` (which must hold the plaintext: a RangeError otherwise), for a
 * caller that reuses one buffer for every packet it opens; returns the plaintext's length. When
 * the tag fails (ERR_CRYPTO_AEAD_AUTH), `out` is left as it was.
 */
export function aeadOpenInto(name: AeadName, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array, out: Uint8Array, offset: number): number {
  const bodyBytes = checkSealed('aeadOpenInto', key, nonce, sealed);
  if (!Number.isInteger(offset) || offset < 0 || offset + bodyBytes > out.length) {
    throw new RangeError(`aeadOpenInto: ${bodyBytes} bytes at offset ${offset} do not fit an output of ${out.length} bytes`);
  }
  const wasm = wasmFor(name, aad.length, bodyBytes);
  if (wasm === null) out.set(nodeOpen(name, key, nonce, sealed, aad), offset);
  else if (!wasm.openInto(key, nonce, sealed, aad, out, offset)) throw new CryptoError(CryptoErrorCode.ERR_CRYPTO_AEAD_AUTH, `aeadOpenInto: ${name} tag does not verify`);
  return bodyBytes;
}

/** Checks key, nonce and that `sealed` holds at least a tag; returns the length of its body. */
function checkSealed(what: string, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): number {
  checkKeyAndNonce(what, key, nonce);
  if (sealed.length < aeadTagBytes) {
    throw new CryptoError(CryptoErrorCode.ERR_CRYPTO_AEAD_AUTH, `${what}: expected at least ${aeadTagBytes} bytes (the tag), got ${sealed.length}`);
  }
  return sealed.length - aeadTagBytes;
}

/** node:crypto's open (AES-GCM, and ChaCha20-Poly1305 where our WebAssembly does not run). */
function nodeOpen(name: AeadName, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  const bodyBytes = sealed.length - aeadTagBytes;
  const decipher = createDecipheriv(nodeName(name) as 'chacha20-poly1305', key, nonce, { authTagLength: aeadTagBytes });
  decipher.setAAD(aad, { plaintextLength: bodyBytes });
  decipher.setAuthTag(sealed.subarray(bodyBytes));
  const body = decipher.update(sealed.subarray(0, bodyBytes));
  try {
    // A stream cipher: final() checks the tag and returns no bytes.
    decipher.final();
  } catch {
    throw new CryptoError(CryptoErrorCode.ERR_CRYPTO_AEAD_AUTH, `aeadOpen: ${name} tag does not verify`);
  }
  // A plain Uint8Array over the Buffer's bytes (no copy): callers may rely on slice() copying.
  return new Uint8Array(body.buffer, body.byteOffset, body.length);
}
