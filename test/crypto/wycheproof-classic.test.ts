import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aeadOpen, aeadSeal, useChaChaImplementation, type AeadName, type ChaChaImplementation } from '../../src/crypto/aead.js';
import { ed25519Verify, x25519 } from '../../src/crypto/curve25519.js';
import { hkdfSha256 } from '../../src/crypto/hash.js';
import { allTests, hex, readVectors, toHex, type WycheproofFile } from './vectors.js';

// Every test of each file runs (not a sample); each must end as its `result` says. Vectors a
// profile of ours does not take (AES-GCM with 128/192-bit keys, nonces other than 96 bits,
// short tags) must be refused with ERR_CRYPTO_LENGTH, which counts as rejecting them.

describe('Wycheproof X25519 (all tests)', () => {
  const file = readVectors<WycheproofFile<object, { public: string; private: string; shared: string }>>('wycheproof/x25519_test.json');
  const tests = allTests(file);

  it.each(tests.map(({ test }) => [test.tcId, test] as const))('tcId %i', (_id, test) => {
    const run = (): Uint8Array => x25519(hex(test.private), hex(test.public));
    if (test.result === 'invalid') {
      expect(run).toThrow();
    } else if (/^0+$/.test(test.shared)) {
      // Low-order peer points: RFC 7748 6.1 lets us refuse, and we do.
      expect(() => run()).toThrow(expect.objectContaining({ code: 'ERR_CRYPTO_LOW_ORDER' }) as Error);
    } else {
      expect(toHex(run())).toBe(test.shared);
    }
  });
});

describe('Wycheproof Ed25519 verify (all tests)', () => {
  const file = readVectors<WycheproofFile<{ publicKey: { pk: string } }, { msg: string; sig: string }>>('wycheproof/ed25519_test.json');
  const tests = allTests(file);

  it.each(tests.map(({ group, test }) => [test.tcId, group, test] as const))('tcId %i', (_id, group, test) => {
    const ok = ed25519Verify(hex(group.publicKey.pk), hex(test.msg), hex(test.sig));
    expect(ok).toBe(test.result === 'valid');
  });
});

describe('Wycheproof HKDF-SHA-256 (all tests)', () => {
  const file = readVectors<WycheproofFile<object, { ikm: string; salt: string; info: string; size: number; okm: string }>>('wycheproof/hkdf_sha256_test.json');
  const tests = allTests(file);

  it.each(tests.map(({ test }) => [test.tcId, test] as const))('tcId %i', (_id, test) => {
    const run = (): Uint8Array => hkdfSha256(hex(test.ikm), hex(test.salt), hex(test.info), test.size);
    if (test.result === 'invalid') expect(run).toThrow(expect.objectContaining({ code: 'ERR_CRYPTO_OUTPUT_LENGTH' }) as Error);
    else expect(toHex(run())).toBe(test.okm);
  });
});

interface AeadGroup {
  readonly keySize: number;
  readonly ivSize: number;
  readonly tagSize: number;
}
interface AeadTest {
  readonly key: string;
  readonly iv: string;
  readonly aad: string;
  readonly msg: string;
  readonly ct: string;
  readonly tag: string;
}

function inProfile(group: AeadGroup): boolean {
  return group.keySize === 256 && group.ivSize === 96 && group.tagSize === 128;
}

function checkAeadVector(name: AeadName, group: AeadGroup, test: AeadTest & { result: string }): void {
  const [key, nonce, aad, msg] = [hex(test.key), hex(test.iv), hex(test.aad), hex(test.msg)];
  const sealed = hex(test.ct + test.tag);
  if (!inProfile(group)) {
    expect(() => aeadOpen(name, key, nonce, sealed, aad)).toThrow(expect.objectContaining({ code: 'ERR_CRYPTO_LENGTH' }) as Error);
    return;
  }
  if (test.result === 'invalid') {
    expect(() => aeadOpen(name, key, nonce, sealed, aad)).toThrow(expect.objectContaining({ code: 'ERR_CRYPTO_AEAD_AUTH' }) as Error);
    return;
  }
  expect(toHex(aeadSeal(name, key, nonce, msg, aad))).toBe(test.ct + test.tag);
  expect(toHex(aeadOpen(name, key, nonce, sealed, aad))).toBe(test.msg);
}

describe.each([
  ['chacha20-poly1305', 'wasm', 'wycheproof/chacha20_poly1305_test.json'],
  ['chacha20-poly1305', 'node', 'wycheproof/chacha20_poly1305_test.json'],
  ['aes-256-gcm', 'node', 'wycheproof/aes_gcm_test.json'],
] as const)('Wycheproof %s through %s (all tests)', (name, implementation: ChaChaImplementation, path) => {
  const file = readVectors<WycheproofFile<AeadGroup, AeadTest>>(path);
  const tests = allTests(file);

  beforeAll(() => {
    expect(useChaChaImplementation(implementation)).toBe(implementation);
  });
  afterAll(() => {
    useChaChaImplementation('wasm');
  });

  it('has vectors inside our profile (256-bit key, 96-bit nonce, 128-bit tag)', () => {
    expect(tests.filter(({ group }) => inProfile(group)).length).toBeGreaterThan(50);
  });

  it.each(tests.map(({ group, test }) => [test.tcId, group, test] as const))('tcId %i', (_id, group, test) => {
    checkAeadVector(name, group, test);
  });
});
