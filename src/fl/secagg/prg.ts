/**
 * The pseudo-random generator that expands a 256-bit seed into a mask of u32 words: the
 * AES-256-CTR keystream under the seed as key and a zero counter block. Every seed keys exactly
 * one mask (pairwise seeds are bound to the session and the pair by HKDF, self-mask seeds are
 * fresh per session), so a fixed counter start never reuses a keystream. AES-NI makes this the
 * cheapest 256-bit-seeded PRG node:crypto offers.
 */
import { createCipheriv } from 'node:crypto';
import { secretBytes } from './limits.js';

const zeroCounterBlock = Buffer.alloc(16);
let zeroes = Buffer.alloc(0);

// Masks are read as u32 through a typed-array view, which uses the host's byte order; both ends
// of a pair must read the same numbers, so the wire order (little-endian) must be the host order.
const hostIsLittleEndian = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;
if (!hostIsLittleEndian) throw new Error('secagg prg: a little-endian host is required');

/** The first `words` u32 words (little-endian) of the AES-256-CTR keystream under `seed`. */
export function expandMask(seed: Uint8Array, words: number): Uint32Array {
  if (seed.length !== secretBytes) throw new RangeError(`expandMask: expected a ${secretBytes}-byte seed, got ${seed.length}`);
  const bytes = words * 4;
  if (zeroes.length < bytes) zeroes = Buffer.alloc(bytes);
  const cipher = createCipheriv('aes-256-ctr', seed, zeroCounterBlock);
  // Encrypting zeroes yields the keystream itself; CTR output is exactly as long as its input.
  const stream = cipher.update(zeroes.subarray(0, bytes));
  return new Uint32Array(stream.buffer, stream.byteOffset, words);
}

/** target += sign * PRG(seed), element-wise mod 2^32 (a Uint32Array store wraps by itself). */
export function applyMask(target: Uint32Array, seed: Uint8Array, sign: 1 | -1): void {
  const mask = expandMask(seed, target.length);
  if (sign === 1) {
    for (let index = 0; index < target.length; index++) target[index]! += mask[index]!;
  } else {
    for (let index = 0; index < target.length; index++) target[index]! -= mask[index]!;
  }
}
