import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { describe, expect, it } from 'vitest';
import { mlDsaKeyPair, mlDsaSign, mlDsaVerify } from '../../src/crypto/mldsa.js';
import { mlKemDecapsulate, mlKemEncapsulate, mlKemKeyPair } from '../../src/crypto/mlkem.js';
import { allTests, hex, readVectors, toHex, type WycheproofFile } from './vectors.js';

// Every test of each file runs; an invalid vector must be refused with a CryptoError.
const refused = expect.objectContaining({ name: 'CryptoError' }) as Error;

describe('Wycheproof ML-KEM-768 key generation from seed (all tests)', () => {
  const file = readVectors<WycheproofFile<object, { seed: string; ek: string; dk: string }>>('wycheproof/mlkem_768_keygen_seed_test.json');
  it.each(allTests(file).map(({ test }) => [test.tcId, test] as const))('tcId %i', (_id, test) => {
    const pair = mlKemKeyPair(hex(test.seed));
    expect(toHex(pair.publicKey)).toBe(test.ek);
    expect(toHex(pair.secretKey)).toBe(test.dk);
  });
});

describe('Wycheproof ML-KEM-768 decapsulation (all tests)', () => {
  const file = readVectors<WycheproofFile<object, { seed: string; ek: string; c: string; K: string }>>('wycheproof/mlkem_768_test.json');
  it.each(allTests(file).map(({ test }) => [test.tcId, test] as const))('tcId %i', (_id, test) => {
    const run = (): Uint8Array => {
      const pair = mlKemKeyPair(hex(test.seed));
      if (test.ek !== '') expect(toHex(pair.publicKey)).toBe(test.ek);
      return mlKemDecapsulate(hex(test.c), pair.secretKey);
    };
    if (test.result === 'invalid') expect(run).toThrow(refused);
    else expect(toHex(run())).toBe(test.K);
  });
});

describe('Wycheproof ML-KEM-768 encapsulation (all tests)', () => {
  const file = readVectors<WycheproofFile<object, { m: string; ek: string; c: string; K: string }>>('wycheproof/mlkem_768_encaps_test.json');
  it.each(allTests(file).map(({ test }) => [test.tcId, test] as const))('tcId %i', (_id, test) => {
    const run = (): { ciphertext: Uint8Array; sharedSecret: Uint8Array } => mlKemEncapsulate(hex(test.ek), hex(test.m));
    if (test.result === 'invalid') {
      expect(run).toThrow(refused);
      return;
    }
    const { ciphertext, sharedSecret } = run();
    expect(toHex(ciphertext)).toBe(test.c);
    expect(toHex(sharedSecret)).toBe(test.K);
  });
});

interface SignGroup {
  readonly privateSeed: string;
  readonly publicKey: string;
}
interface SignTest {
  readonly msg?: string;
  readonly ctx?: string;
  readonly mu?: string;
  readonly rnd?: string;
  readonly sig?: string;
}

function signVector(group: SignGroup, test: SignTest): Uint8Array {
  const pair = mlDsaKeyPair(hex(group.privateSeed));
  expect(toHex(pair.publicKey)).toBe(group.publicKey);
  const random = test.rnd === undefined ? undefined : hex(test.rnd);
  if (test.msg !== undefined) return mlDsaSign(pair.secretKey, hex(test.msg), hex(test.ctx ?? ''), random);
  // External-mu vectors exercise the library's internal signing path, which the pure API wraps.
  return ml_dsa65.internal.sign(hex(test.mu!), pair.secretKey, { externalMu: true, extraEntropy: random ?? false });
}

describe('Wycheproof ML-DSA-65 signing from seed (all tests)', () => {
  const file = readVectors<WycheproofFile<SignGroup, SignTest>>('wycheproof/mldsa_65_sign_seed_test.json');
  it.each(allTests(file).map(({ group, test }) => [test.tcId, group, test] as const))('tcId %i', (_id, group, test) => {
    if (test.result === 'invalid') {
      expect(() => signVector(group, test)).toThrow(refused);
      return;
    }
    const signature = signVector(group, test);
    expect(toHex(signature)).toBe(test.sig);
    if (test.msg !== undefined) expect(mlDsaVerify(hex(group.publicKey), hex(test.msg), signature, hex(test.ctx ?? ''))).toBe(true);
  });
});

describe('Wycheproof ML-DSA-65 verification (all tests)', () => {
  const file = readVectors<WycheproofFile<{ publicKey: string }, { msg: string; ctx?: string; sig: string }>>('wycheproof/mldsa_65_verify_test.json');
  it.each(allTests(file).map(({ group, test }) => [test.tcId, group, test] as const))('tcId %i', (_id, group, test) => {
    expect(mlDsaVerify(hex(group.publicKey), hex(test.msg), hex(test.sig), hex(test.ctx ?? ''))).toBe(test.result === 'valid');
  });
});
