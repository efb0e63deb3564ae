/**
 * Randomness for src/ml. Nothing here calls Math.random: initialisation, dropout and neighbour
 * sampling draw from a RandomSource the caller passes in, so a seed reproduces a training run
 * bit for bit. The twin's Prng satisfies RandomSource as it is; `seededRandom` is a small
 * self-contained generator for callers outside the twin (tests, benchmarks, the daemon).
 */
import { MlError, MlErrorCode } from './errors.js';

const twoPow32 = 4_294_967_296;
const weylStep = 0x9e3779b9;

/** A stream of uniformly distributed unsigned 32-bit integers. */
export interface RandomSource {
  /** The next integer in 0..2^32-1. */
  nextU32(): number;
}

/**
 * A seeded generator: a Weyl sequence (step 0x9e3779b9) passed through the MurmurHash3 fmix32
 * finalizer ("splitmix32"). It is fast, has period 2^32 and passes the statistical checks that
 * matter for dropout masks and sampling; it is not for cryptography.
 */
class SplitMix32 implements RandomSource {
  private state: number;

  constructor(seed: number) {
    this.state = seed | 0;
  }

  nextU32(): number {
    this.state = (this.state + weylStep) | 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }
}

/** A deterministic RandomSource for a 32-bit unsigned `seed`; the same seed gives the same stream. */
export function seededRandom(seed: number): RandomSource {
  if (!Number.isInteger(seed) || seed < 0 || seed >= twoPow32) {
    throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `seededRandom: expected seed to be an integer in 0..2^32-1, got ${seed}`);
  }
  return new SplitMix32(seed);
}

/** A uniform number in [0, 1) from one draw of `random`. */
export function uniform01(random: RandomSource): number {
  return random.nextU32() / twoPow32;
}

/** A uniform integer in [0, span) from `random`, for span in 1..2^32 (rejection sampling, no modulo bias). */
export function uniformBelow(random: RandomSource, span: number): number {
  const limit = twoPow32 - (twoPow32 % span);
  let draw = random.nextU32();
  while (draw >= limit) draw = random.nextU32();
  return draw % span;
}
