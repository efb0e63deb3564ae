import { describe, expect, it } from 'vitest';
import { x25519PublicKey } from '../../src/crypto/curve25519.js';
import { xwingCiphertextBytes, xwingDecapsulate, xwingEncapsulate, xwingExpand, xwingPublicKeyBytes } from '../../src/crypto/xwing.js';
import { hex, readVectors, toHex } from './vectors.js';

interface XWingVector {
  readonly seed: string;
  readonly eseed: string;
  readonly ss: string;
  readonly sk: string;
  readonly pk: string;
  readonly ct: string;
}

describe('X-Wing draft vectors (../shared/vectors/xwing)', () => {
  const vectors = readVectors<XWingVector[]>('xwing/test-vectors.json');

  it('holds vectors', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(3);
  });

  it.each(vectors.map((v, i) => [i, v] as const))('vector %i: keys, encapsulation and decapsulation match', (_i, vector) => {
    const key = xwingExpand(hex(vector.sk));
    expect(toHex(key.publicKey)).toBe(vector.pk);
    const { ciphertext, sharedSecret } = xwingEncapsulate(key.publicKey, hex(vector.eseed));
    expect(toHex(ciphertext)).toBe(vector.ct);
    expect(toHex(sharedSecret)).toBe(vector.ss);
    expect(toHex(xwingDecapsulate(hex(vector.ct), key))).toBe(vector.ss);
  });
});

describe('X-Wing behaviour', () => {
  const key = xwingExpand(new Uint8Array(32).fill(7));
  const randomness = new Uint8Array(64).map((_, i) => i + 1);

  it('has the draft sizes: public key 1216 bytes, ciphertext 1120 bytes', () => {
    expect(key.publicKey.length).toBe(xwingPublicKeyBytes);
    expect(xwingPublicKeyBytes).toBe(1216);
    expect(xwingCiphertextBytes).toBe(1120);
    expect(toHex(key.x25519PublicKey)).toBe(toHex(x25519PublicKey(key.x25519SecretKey)));
  });

  it('gives an unrelated secret when the ML-KEM part of the ciphertext is tampered with (implicit rejection)', () => {
    const { ciphertext, sharedSecret } = xwingEncapsulate(key.publicKey, randomness);
    const tampered = ciphertext.slice();
    tampered[5]! ^= 0x01;
    expect(toHex(xwingDecapsulate(tampered, key))).not.toBe(toHex(sharedSecret));
  });

  it('gives another secret when the X25519 part is replaced, so both halves are bound', () => {
    const { ciphertext, sharedSecret } = xwingEncapsulate(key.publicKey, randomness);
    const swapped = ciphertext.slice();
    swapped.set(x25519PublicKey(new Uint8Array(32).fill(9)), 1088);
    expect(toHex(xwingDecapsulate(swapped, key))).not.toBe(toHex(sharedSecret));
  });

  it('refuses wrong lengths with ERR_CRYPTO_LENGTH naming the value', () => {
    expect(() => xwingExpand(new Uint8Array(31))).toThrow(/xwingExpand: seed: expected 32 bytes, got 31/);
    expect(() => xwingEncapsulate(key.publicKey.subarray(1), randomness)).toThrow(/publicKey: expected 1216 bytes, got 1215/);
    expect(() => xwingEncapsulate(key.publicKey, randomness.subarray(1))).toThrow(/randomness: expected 64 bytes, got 63/);
    expect(() => xwingDecapsulate(new Uint8Array(1119), key)).toThrow(expect.objectContaining({ code: 'ERR_CRYPTO_LENGTH' }) as Error);
  });

  it('refuses a ciphertext whose X25519 part is a low-order point', () => {
    const { ciphertext } = xwingEncapsulate(key.publicKey, randomness);
    const lowOrder = ciphertext.slice();
    lowOrder.fill(0, 1088);
    expect(() => xwingDecapsulate(lowOrder, key)).toThrow(expect.objectContaining({ code: 'ERR_CRYPTO_LOW_ORDER' }) as Error);
  });
});
