/**
 * Randomness for the DP noise. The aggregator never picks its own randomness: it is given a
 * NoiseSource (sans-IO), the daemon passes cryptoNoiseSource() and tests pass a seeded source.
 * Gaussians are drawn by the Box-Muller transform from 53-bit uniforms, so every bit of a
 * float64 mantissa is random and the log in the radius never sees 0.
 *
 * Why a CSPRNG: an adversary who can predict or reconstruct the noise (Math.random's xorshift
 * state is recoverable from a few outputs) subtracts it and sees the un-noised sum.
 */
import { createCipheriv, createHash, randomFillSync } from 'node:crypto';

/** A source of uniformly random bytes; the only randomness src/fl/dp uses. */
export interface NoiseSource {
  /** Overwrites `bytes` with uniformly random bytes. */
  fill(bytes: Uint8Array): void;
}

/** The production source: node:crypto's CSPRNG (the kernel's getrandom behind OpenSSL). */
export function cryptoNoiseSource(): NoiseSource {
  return { fill: (bytes) => void randomFillSync(bytes) };
}

/**
 * A deterministic source for tests and reproducible simulations: the AES-256-CTR keystream under
 * key SHA-256(seed). Its output is as unpredictable as the CSPRNG's to anyone who lacks the seed,
 * but anyone who has the seed can subtract the noise, so it never protects real data.
 */
export function seededNoiseSource(seed: string | Uint8Array): NoiseSource {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return {
    fill(bytes: Uint8Array): void {
      bytes.fill(0);
      // Encrypting zeros yields the keystream itself; CTR output length equals input length.
      const stream = cipher.update(bytes);
      bytes.set(stream);
    },
  };
}

/** Random bytes drawn from the source at a time, so one fill serves 512 uniforms. */
const bufferBytes = 4096;
const twoPow32 = 4_294_967_296;
const twoPowMinus53 = 2 ** -53;

/** Draws standard normal variates from a NoiseSource; keeps a buffer of random bytes and one spare variate. */
export class GaussianSampler {
  private readonly bytes = new Uint8Array(bufferBytes);
  private readonly view = new DataView(this.bytes.buffer);
  private offset = bufferBytes;
  private spare: number | undefined;

  /** A sampler over `source`. */
  constructor(private readonly source: NoiseSource) {}

  /** A uniform in [0, 1) with 53 random bits: k / 2^53 for k uniform in 0..2^53-1. */
  uniform53(): number {
    if (this.offset === bufferBytes) {
      this.source.fill(this.bytes);
      this.offset = 0;
    }
    const high21 = this.view.getUint32(this.offset) >>> 11;
    const low32 = this.view.getUint32(this.offset + 4);
    this.offset += 8;
    return (high21 * twoPow32 + low32) * twoPowMinus53;
  }

  /**
   * One N(0, 1) variate. Box-Muller turns two uniforms into two independent normals; the second
   * is kept for the next call. 1 - u lies in (0, 1], so the radius is finite (at most 8.57, the
   * tail truncation of 53-bit uniforms, probability below 2^-53).
   */
  standardNormal(): number {
    if (this.spare !== undefined) {
      const value = this.spare;
      this.spare = undefined;
      return value;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - this.uniform53()));
    const angle = 2 * Math.PI * this.uniform53();
    this.spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /** Adds independent N(0, std^2) noise to every element of `target`, in place. */
  addNoise(target: Float64Array, std: number): void {
    for (let index = 0; index < target.length; index++) target[index]! += std * this.standardNormal();
  }
}
