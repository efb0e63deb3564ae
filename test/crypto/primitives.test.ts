import { describe, expect, it } from 'vitest';
import { aeadOpen, aeadSeal, type AeadName } from '../../src/crypto/aead.js';
import { ed25519PublicKey, ed25519Sign, ed25519Signer, ed25519Verifier, ed25519Verify, x25519, x25519PublicKey } from '../../src/crypto/curve25519.js';
import { CryptoError, isCryptoError } from '../../src/crypto/errors.js';
import { hkdfSha256, hmacSha256, sha256, sha3_256, shake256 } from '../../src/crypto/hash.js';
import { mlDsaKeyPair, mlDsaSign, mlDsaVerify } from '../../src/crypto/mldsa.js';
import { checkMlKemPublicKey, mlKemDecapsulate, mlKemEncapsulate, mlKemKeyPair } from '../../src/crypto/mlkem.js';
import { toHex } from './vectors.js';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const codeOf = (code: string): Error => expect.objectContaining({ code }) as Error;

describe('hashes', () => {
  it('match the FIPS 180-4 / FIPS 202 / RFC 4231 answers for known inputs', () => {
    expect(toHex(sha256(utf8('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(toHex(sha256(utf8('a'), utf8('bc')))).toBe(toHex(sha256(utf8('abc'))));
    expect(toHex(sha3_256(utf8('abc')))).toBe('3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532');
    expect(toHex(shake256(new Uint8Array(0), 32))).toBe('46b9dd2b0ba88d13233b3feb743eeb243fcd52ea62b81b82b50c27646ed5762f');
    const key = new Uint8Array(20).fill(0x0b);
    expect(toHex(hmacSha256(key, utf8('Hi '), utf8('There')))).toBe('b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7');
  });

  it('refuses HKDF output lengths outside 1..8160 bytes', () => {
    expect(() => hkdfSha256(new Uint8Array(1), new Uint8Array(0), new Uint8Array(0), 0)).toThrow(codeOf('ERR_CRYPTO_OUTPUT_LENGTH'));
    expect(() => hkdfSha256(new Uint8Array(1), new Uint8Array(0), new Uint8Array(0), 8161)).toThrow(/1\.\.8160, got 8161/);
    expect(hkdfSha256(new Uint8Array(1), new Uint8Array(0), new Uint8Array(0), 8160).length).toBe(8160);
  });
});

describe('X25519 and Ed25519', () => {
  const a = new Uint8Array(32).fill(1);
  const b = new Uint8Array(32).fill(2);

  it('agrees on one secret from both sides', () => {
    expect(toHex(x25519(a, x25519PublicKey(b)))).toBe(toHex(x25519(b, x25519PublicKey(a))));
  });

  it('refuses keys of the wrong length, naming the argument', () => {
    expect(() => x25519(a.subarray(1), x25519PublicKey(b))).toThrow(/x25519: privateKey: expected 32 bytes, got 31/);
    expect(() => x25519(a, new Uint8Array(33))).toThrow(/peerPublicKey: expected 32 bytes, got 33/);
    expect(() => x25519PublicKey(new Uint8Array(0))).toThrow(codeOf('ERR_CRYPTO_LENGTH'));
  });

  it('signs and verifies; any change to the message, signature or key fails', () => {
    const publicKey = ed25519PublicKey(a);
    const signature = ed25519Sign(a, utf8('hello'));
    expect(ed25519Verify(publicKey, utf8('hello'), signature)).toBe(true);
    expect(ed25519Verify(publicKey, utf8('hellp'), signature)).toBe(false);
    const flipped = signature.slice();
    flipped[0]! ^= 1;
    expect(ed25519Verify(publicKey, utf8('hello'), flipped)).toBe(false);
    expect(ed25519Verify(ed25519PublicKey(b), utf8('hello'), signature)).toBe(false);
  });

  it('a signer and a verifier that import their key once agree with ed25519Sign and ed25519Verify', () => {
    const signature = ed25519Signer(a)(utf8('hello'));
    expect(signature).toEqual(ed25519Sign(a, utf8('hello')));
    const verifier = ed25519Verifier(ed25519PublicKey(a))!;
    expect(verifier(utf8('hello'), signature)).toBe(true);
    expect(verifier(utf8('hellp'), signature)).toBe(false);
    expect(verifier(utf8('hello'), signature.subarray(1))).toBe(false);
    expect(ed25519Verifier(new Uint8Array(31))).toBeNull();
    expect(() => ed25519Signer(new Uint8Array(31))).toThrow(/ed25519Signer: privateKey: expected 32 bytes, got 31/);
  });

  it('treats malformed signatures and public keys as not verifying', () => {
    const signature = ed25519Sign(a, utf8('x'));
    expect(ed25519Verify(ed25519PublicKey(a), utf8('x'), signature.subarray(1))).toBe(false);
    expect(ed25519Verify(new Uint8Array(31), utf8('x'), signature)).toBe(false);
    expect(() => ed25519Sign(new Uint8Array(64), utf8('x'))).toThrow(/ed25519Sign: privateKey: expected 32 bytes, got 64/);
    expect(() => ed25519PublicKey(new Uint8Array(1))).toThrow(codeOf('ERR_CRYPTO_LENGTH'));
  });
});

describe.each(['chacha20-poly1305', 'aes-256-gcm'] as const)('AEAD %s', (name: AeadName) => {
  const key = new Uint8Array(32).fill(3);
  const nonce = new Uint8Array(12).fill(4);
  const aad = utf8('header');

  it('opens what it sealed; ciphertext is plaintext + 16 bytes', () => {
    const sealed = aeadSeal(name, key, nonce, utf8('payload'), aad);
    expect(sealed.length).toBe(7 + 16);
    expect(new TextDecoder().decode(aeadOpen(name, key, nonce, sealed, aad))).toBe('payload');
    expect(aeadOpen(name, key, nonce, aeadSeal(name, key, nonce, new Uint8Array(0), aad), aad).length).toBe(0);
  });

  it('refuses a flipped bit anywhere, other associated data, or a short input with ERR_CRYPTO_AEAD_AUTH', () => {
    const sealed = aeadSeal(name, key, nonce, utf8('payload'), aad);
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      const flipped = sealed.slice();
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      expect(() => aeadOpen(name, key, nonce, flipped, aad)).toThrow(codeOf('ERR_CRYPTO_AEAD_AUTH'));
    }
    expect(() => aeadOpen(name, key, nonce, sealed, utf8('other'))).toThrow(/tag does not verify/);
    expect(() => aeadOpen(name, key, nonce, sealed.subarray(0, 15), aad)).toThrow(/at least 16 bytes/);
  });

  it('refuses keys and nonces of the wrong length', () => {
    expect(() => aeadSeal(name, key.subarray(1), nonce, utf8('x'), aad)).toThrow(/aeadSeal: key: expected 32 bytes, got 31/);
    expect(() => aeadOpen(name, key, new Uint8Array(8), new Uint8Array(16), aad)).toThrow(/aeadOpen: nonce: expected 12 bytes, got 8/);
  });
});

it('refuses an AEAD it does not offer, naming it', () => {
  const key = new Uint8Array(32);
  const nonce = new Uint8Array(12);
  expect(() => aeadSeal('rot13' as AeadName, key, nonce, utf8('x'), new Uint8Array(0))).toThrow(/expected chacha20-poly1305 or aes-256-gcm, got rot13/);
});

describe('ML-KEM-768 and ML-DSA-65 wrappers', () => {
  const kem = mlKemKeyPair(new Uint8Array(64).fill(5));

  it('round-trips a shared secret', () => {
    const { ciphertext, sharedSecret } = mlKemEncapsulate(kem.publicKey, new Uint8Array(32).fill(6));
    expect(toHex(mlKemDecapsulate(ciphertext, kem.secretKey))).toBe(toHex(sharedSecret));
  });

  it('refuses an unreduced public key coefficient, naming the byte', () => {
    const bad = kem.publicKey.slice();
    bad[3] = 0xff;
    bad[4] = 0xff;
    expect(() => checkMlKemPublicKey(bad)).toThrow(/coefficient at byte 3 is not below q = 3329/);
    const badLow = kem.publicKey.slice();
    badLow[0] = 0xff;
    badLow[1] = (badLow[1]! & 0xf0) | 0x0f;
    expect(() => checkMlKemPublicKey(badLow)).toThrow(codeOf('ERR_CRYPTO_PUBLIC_KEY'));
    expect(() => mlKemEncapsulate(kem.publicKey, new Uint8Array(31))).toThrow(/message: expected 32 bytes, got 31/);
    expect(() => mlKemDecapsulate(new Uint8Array(1088), kem.secretKey.subarray(1))).toThrow(/secretKey: expected 2400 bytes/);
  });

  it('signs deterministically without randomness, hedged with it, and binds the context', () => {
    const dsa = mlDsaKeyPair(new Uint8Array(32).fill(8));
    const context = utf8('x0tta6bl4 test');
    const first = mlDsaSign(dsa.secretKey, utf8('m'), context);
    expect(toHex(mlDsaSign(dsa.secretKey, utf8('m'), context))).toBe(toHex(first));
    const hedged = mlDsaSign(dsa.secretKey, utf8('m'), context, new Uint8Array(32).fill(1));
    expect(toHex(hedged)).not.toBe(toHex(first));
    expect(mlDsaVerify(dsa.publicKey, utf8('m'), hedged, context)).toBe(true);
    expect(mlDsaVerify(dsa.publicKey, utf8('m'), first, utf8('other context'))).toBe(false);
    expect(mlDsaVerify(dsa.publicKey, utf8('m'), first.subarray(1), context)).toBe(false);
  });

  it('refuses a context over 255 bytes and randomness of the wrong length', () => {
    const dsa = mlDsaKeyPair(new Uint8Array(32));
    expect(() => mlDsaSign(dsa.secretKey, utf8('m'), new Uint8Array(256))).toThrow(/at most 255 bytes, got 256/);
    expect(() => mlDsaSign(dsa.secretKey, utf8('m'), new Uint8Array(0), new Uint8Array(31))).toThrow(/random: expected 32 bytes, got 31/);
    expect(mlDsaVerify(dsa.publicKey, utf8('m'), new Uint8Array(3309), new Uint8Array(256))).toBe(false);
  });
});

it('isCryptoError narrows by class and code', () => {
  const error = new CryptoError('ERR_CRYPTO_LENGTH', 'x');
  expect(isCryptoError(error)).toBe(true);
  expect(isCryptoError(error, 'ERR_CRYPTO_LENGTH')).toBe(true);
  expect(isCryptoError(error, 'ERR_CRYPTO_AEAD_AUTH')).toBe(false);
  expect(isCryptoError(new Error('x'))).toBe(false);
  expect(error.name).toBe('CryptoError');
});
