/**
 * Randomness of secure aggregation. Like src/fl/dp, nothing here picks its own randomness: keys,
 * seeds, Shamir coefficients, the graph and the groups come from a RandomSource the caller
 * passes (cryptoNoiseSource() in the daemon, seededNoiseSource(seed) in tests and the twin).
 */
import type { NoiseSource } from '../dp/noise.js';

/** A source of uniformly random bytes (the same contract as src/fl/dp's NoiseSource). */
export type RandomSource = NoiseSource;

/** `count` fresh random bytes from `source`. */
export function randomBytes(source: RandomSource, count: number): Uint8Array {
  const bytes = new Uint8Array(count);
  source.fill(bytes);
  return bytes;
}

const twoPow32 = 4_294_967_296;

/**
 * A uniform integer in 0..bound-1 for bound <= 2^32. Rejection sampling on u32 words: taking
 * the word modulo `bound` directly would favour small values whenever bound does not divide 2^32.
 */
export function uniformBelow(source: RandomSource, bound: number): number {
  const limit = twoPow32 - (twoPow32 % bound);
  const word = new Uint8Array(4);
  const view = new DataView(word.buffer);
  for (;;) {
    source.fill(word);
    const value = view.getUint32(0);
    if (value < limit) return value % bound;
  }
}

/** A uniformly random permutation of `items` (Fisher-Yates), leaving `items` untouched. */
export function shuffled<T>(items: readonly T[], source: RandomSource): T[] {
  const result = items.slice();
  for (let index = result.length - 1; index > 0; index--) {
    const other = uniformBelow(source, index + 1);
    [result[index], result[other]] = [result[other]!, result[index]!];
  }
  return result;
}
