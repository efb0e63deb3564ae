/** Shamir sharing over GF(2^256 + 297): t shares recover, t - 1 reveal nothing. */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { seededNoiseSource } from '../../../src/fl/dp/noise.js';
import { SecAggError, SecAggErrorCode } from '../../../src/fl/secagg/errors.js';
import { combineShares, fieldCodec, fieldPrime, interpolateAtZero, isCanonicalShare, randomFieldElement, shareBytes, splitSecret } from '../../../src/fl/secagg/shamir.js';
import { expectCodedError } from '../../coded-error.js';
import { bytes32 } from './helpers.js';

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let square = base % modulus;
  for (let rest = exponent; rest > 0n; rest >>= 1n) {
    if (rest & 1n) result = (result * square) % modulus;
    square = (square * square) % modulus;
  }
  return result;
}

/** Miller-Rabin with the first 20 primes as bases: a composite passes with probability below 4^-20. */
function probablyPrime(candidate: bigint): boolean {
  let odd = candidate - 1n;
  let twos = 0;
  while ((odd & 1n) === 0n) {
    odd >>= 1n;
    twos++;
  }
  for (const base of [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n, 41n, 43n, 47n, 53n, 59n, 61n, 67n, 71n]) {
    let value = modPow(base, odd, candidate);
    if (value === 1n || value === candidate - 1n) continue;
    let witness = true;
    for (let round = 1; round < twos && witness; round++) {
      value = (value * value) % candidate;
      if (value === candidate - 1n) witness = false;
    }
    if (witness) return false;
  }
  return true;
}

const xs = [2, 5, 9, 14, 20, 27, 35];

describe('the field', () => {
  test('p = 2^256 + 297 is prime and no odd number between 2^256 and p is', () => {
    expect(fieldPrime).toBe(2n ** 256n + 297n);
    expect(probablyPrime(fieldPrime)).toBe(true);
    for (let offset = 1n; offset < 297n; offset += 2n) expect(probablyPrime(2n ** 256n + offset)).toBe(false);
  });

  test('random elements are below p and shares are canonical 33-byte encodings', () => {
    const random = seededNoiseSource('field');
    for (let draw = 0; draw < 50; draw++) expect(randomFieldElement(random) < fieldPrime).toBe(true);
    expect(isCanonicalShare(fieldCodec.encode(fieldPrime - 1n))).toBe(true);
    const tooBig = new Uint8Array(shareBytes).fill(0xff);
    expect(isCanonicalShare(tooBig)).toBe(false);
    expect(isCanonicalShare(new Uint8Array(32))).toBe(false);
    expect(fieldCodec.mod(-1n)).toBe(fieldPrime - 1n);
  });
});

describe('sharing', () => {
  test('any t of the shares recover the secret (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 1, max: xs.length }), fc.integer({ min: 0, max: 1000 }), (secret, threshold, seed) => {
        const shares = splitSecret(secret, threshold, xs, seededNoiseSource(`split-${seed}`));
        const points = shares.map((y, index) => ({ x: xs[index]!, y }));
        // A subset chosen by the seed, in a scrambled order: interpolation must not care which or in what order.
        const subset = points
          .map((point, index) => ({ point, key: ((index + 1) * (seed + 1) * 2_654_435_761) % 1_000_003 }))
          .sort((a, b) => a.key - b.key)
          .slice(0, threshold)
          .map((entry) => entry.point);
        expect(subset.length).toBe(threshold);
        expect(combineShares(subset, threshold, 'secret')).toEqual(secret);
      }),
      { numRuns: 60 },
    );
  });

  test('t - 1 shares are consistent with every secret: for any candidate there is a polynomial through them', () => {
    const secret = bytes32('the real secret');
    const threshold = 4;
    const shares = splitSecret(secret, threshold, xs, seededNoiseSource('privacy'));
    const known = shares.slice(0, threshold - 1).map((y, index) => ({ x: xs[index]!, y }));
    for (const candidate of [new Uint8Array(32), bytes32('another secret'), new Uint8Array(32).fill(0xff)]) {
      // The degree t-1 polynomial through (0, candidate) and the t-1 known shares exists for every candidate.
      const withCandidate = [{ x: 0, y: fieldCodec.encode(fieldCodec.decode(candidate)) }, ...known];
      // And a t-th share taken from that polynomial makes the t shares reconstruct the candidate, not the real secret.
      const forged = { x: xs[threshold - 1]!, y: fieldCodec.encode(evaluateThrough(withCandidate, BigInt(xs[threshold - 1]!))) };
      expect(combineShares([...known, forged], threshold, 'candidate')).toEqual(candidate);
    }
  });

  test('with t - 1 shares the server is refused; t - 1 points interpolate to something other than the secret', () => {
    const secret = bytes32('self mask seed');
    const shares = splitSecret(secret, 3, xs, seededNoiseSource('below'));
    const two = shares.slice(0, 2).map((y, index) => ({ x: xs[index]!, y }));
    expectCodedError(() => combineShares(two, 3, "client 4's self-mask seed"), SecAggError, SecAggErrorCode.ERR_SECAGG_BELOW_THRESHOLD, "client 4's self-mask seed has 2 shares, below the threshold 3");
    expect(interpolateAtZero(two)).not.toBe(fieldCodec.decode(secret));
  });

  test('a wrong share that makes the result 2^256 or more is refused', () => {
    const honest = splitSecret(bytes32('s'), 2, [1, 2], seededNoiseSource('wrong'));
    // With x = 1, 2 the secret is 2 y1 - y2; pick y1 so that it becomes 2^256 + 5.
    const y1 = fieldCodec.mod((2n ** 256n + 5n + fieldCodec.decode(honest[1]!)) * fieldCodec.inverse(2n));
    expectCodedError(() => combineShares([{ x: 1, y: fieldCodec.encode(y1) }, { x: 2, y: honest[1]! }], 2, "client 9's mask key"), SecAggError, SecAggErrorCode.ERR_SECAGG_RECONSTRUCTION, "client 9's mask key interpolates to a value above 2^256");
  });

  test('bad parameters are refused', () => {
    const random = seededNoiseSource('bad');
    expectCodedError(() => splitSecret(new Uint8Array(31), 2, xs, random), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, '32-byte secret, got 31');
    expectCodedError(() => splitSecret(bytes32('a'), 0, xs, random), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'threshold an integer in 1..7');
    expectCodedError(() => splitSecret(bytes32('a'), 8, xs, random), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'got 8');
    expectCodedError(() => splitSecret(bytes32('a'), 2, [1, 1], random), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'distinct x-coordinates');
    expectCodedError(() => splitSecret(bytes32('a'), 1, [0], random), SecAggError, SecAggErrorCode.ERR_SECAGG_PARAMETER, 'got 0');
  });
});

/** The value at `x` of the polynomial through `points` (Lagrange, over the field). */
function evaluateThrough(points: readonly { x: number; y: Uint8Array }[], x: bigint): bigint {
  let value = 0n;
  for (const point of points) {
    let term = fieldCodec.decode(point.y);
    for (const other of points) {
      if (other.x === point.x) continue;
      term = fieldCodec.mod(term * (x - BigInt(other.x)) * fieldCodec.inverse(BigInt(point.x - other.x)));
    }
    value = fieldCodec.mod(value + term);
  }
  return value;
}
