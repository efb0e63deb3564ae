/**
 * Shamir secret sharing (Shamir 1979) of 256-bit secrets over the prime field GF(p),
 * p = 2^256 + 297, the smallest prime above 2^256 (checked in the tests by Miller-Rabin and by
 * `openssl prime`). A prime field rather than byte-wise GF(2^8) because the x-coordinate of a
 * share is the holder's client id + 1, and ids run to 2^32: GF(2^8) has only 255 non-zero
 * points. Any 256-bit secret is a field element, so one polynomial carries it whole.
 *
 * A degree t-1 polynomial with the secret as constant term and t-1 uniform coefficients: any t
 * shares give the secret by Lagrange interpolation at 0, and any t-1 shares are consistent with
 * every secret (for each candidate there is exactly one such polynomial), so they reveal nothing.
 */
import { SecAggError, SecAggErrorCode } from './errors.js';
import { secretBytes } from './limits.js';
import { randomBytes, type RandomSource } from './random.js';

/** The field modulus p = 2^256 + 297. */
export const fieldPrime = (1n << 256n) + 297n;

/** Bytes of an encoded share value: 33, big-endian, always below p. */
export const shareBytes = 33;

/** One share as the server collects it: the holder's x-coordinate (its id + 1) and the value. */
export interface SharePoint {
  readonly x: number;
  readonly y: Uint8Array;
}

function toBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

function toBytes(value: bigint, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let rest = value;
  for (let index = length - 1; index >= 0; index--) {
    bytes[index] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return bytes;
}

function mod(value: bigint): bigint {
  const reduced = value % fieldPrime;
  return reduced < 0n ? reduced + fieldPrime : reduced;
}

/** The inverse of a non-zero element by the extended Euclidean algorithm. */
function inverse(value: bigint): bigint {
  let [oldR, r] = [mod(value), fieldPrime];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const quotient = oldR / r;
    [oldR, r] = [r, oldR - quotient * r];
    [oldS, s] = [s, oldS - quotient * s];
  }
  return mod(oldS);
}

/**
 * A uniform field element: 257 random bits, redrawn while >= p. Reducing a wider draw mod p
 * would be almost uniform; redrawing is exactly uniform and accepts about half the draws.
 */
export function randomFieldElement(random: RandomSource): bigint {
  for (;;) {
    const bytes = randomBytes(random, shareBytes);
    bytes[0]! &= 0x01;
    const value = toBigInt(bytes);
    if (value < fieldPrime) return value;
  }
}

/** True when `bytes` is the canonical encoding of a field element (33 bytes, below p). */
export function isCanonicalShare(bytes: Uint8Array): boolean {
  return bytes.length === shareBytes && toBigInt(bytes) < fieldPrime;
}

function checkXs(where: string, xs: readonly number[]): void {
  const seen = new Set<number>();
  for (const x of xs) {
    if (!Number.isInteger(x) || x < 1 || x > 0xffff_ffff || seen.has(x)) {
      throw new SecAggError(SecAggErrorCode.ERR_SECAGG_PARAMETER, `${where}: expected distinct x-coordinates in 1..2^32-1, got ${x}`);
    }
    seen.add(x);
  }
}

function evaluate(coefficients: readonly bigint[], x: bigint): bigint {
  let value = 0n;
  // Horner's rule from the highest coefficient down; coefficients[0] is the secret.
  for (let index = coefficients.length - 1; index >= 0; index--) value = mod(value * x + coefficients[index]!);
  return value;
}

/** Shares of a 32-byte secret at each x in `xs` (in that order), any `threshold` of which recover it. */
export function splitSecret(secret: Uint8Array, threshold: number, xs: readonly number[], random: RandomSource): Uint8Array[] {
  const where = 'splitSecret';
  if (secret.length !== secretBytes) throw new SecAggError(SecAggErrorCode.ERR_SECAGG_PARAMETER, `${where}: expected a ${secretBytes}-byte secret, got ${secret.length} bytes`);
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > xs.length) {
    throw new SecAggError(SecAggErrorCode.ERR_SECAGG_PARAMETER, `${where}: expected threshold an integer in 1..${xs.length} (the number of shares), got ${threshold}`);
  }
  checkXs(where, xs);
  const coefficients = [toBigInt(secret)];
  for (let degree = 1; degree < threshold; degree++) coefficients.push(randomFieldElement(random));
  return xs.map((x) => toBytes(evaluate(coefficients, BigInt(x)), shareBytes));
}

/** The value at 0 of the unique polynomial of degree < points.length through `points` (Lagrange). */
export function interpolateAtZero(points: readonly SharePoint[]): bigint {
  checkXs('interpolateAtZero', points.map((point) => point.x));
  let secret = 0n;
  for (const [index, point] of points.entries()) {
    let numerator = 1n;
    let denominator = 1n;
    for (const [other, otherPoint] of points.entries()) {
      if (other === index) continue;
      numerator = mod(numerator * BigInt(otherPoint.x));
      denominator = mod(denominator * BigInt(otherPoint.x - point.x));
    }
    secret = mod(secret + toBigInt(point.y) * numerator * inverse(denominator));
  }
  return secret;
}

/**
 * The 32-byte secret from the first `threshold` of `points`. Fewer points than the threshold is
 * ERR_SECAGG_BELOW_THRESHOLD; an interpolated value of 2^256 or more cannot be a secret that was
 * shared, so some share was wrong (ERR_SECAGG_RECONSTRUCTION). `what` names the secret in messages.
 */
export function combineShares(points: readonly SharePoint[], threshold: number, what: string): Uint8Array {
  if (points.length < threshold) {
    throw new SecAggError(SecAggErrorCode.ERR_SECAGG_BELOW_THRESHOLD, `combineShares: ${what} has ${points.length} shares, below the threshold ${threshold}`);
  }
  const value = interpolateAtZero(points.slice(0, threshold));
  if (value >> 256n !== 0n) throw new SecAggError(SecAggErrorCode.ERR_SECAGG_RECONSTRUCTION, `combineShares: ${what} interpolates to a value above 2^256: a share is wrong`);
  return toBytes(value, secretBytes);
}

/** The field element a share encodes, and the encoding of an element: exported for the tests' privacy argument. */
export const fieldCodec = {
  decode: toBigInt,
  encode: (value: bigint): Uint8Array => toBytes(mod(value), shareBytes),
  inverse,
  mod,
};
