/**
 * Distributed DP: with secure aggregation the server only sees the sum of the clients' masked
 * vectors, so no one may hold the un-noised sum. Each client adds its own share of the noise
 * before masking: n independent N(0, sigma^2 / n) shares sum to N(0, sigma^2), the same noise
 * the central DP-FedAvg would add (sigma = z C on the sum).
 *
 * Dropouts remove shares. If only n_min of the n clients are sure to survive, each must add
 * sigma / sqrt(n_min) so that any n_min survivors still carry sigma; the price is extra noise
 * when more survive. (The shares are Gaussian in float64 here; a secure aggregation over
 * integers will want the discrete Gaussian of Canonne, Kamath, Steinke 2020 instead.)
 */
import { GaussianSampler } from './noise.js';
import { clipUpdate } from './dp-fedavg.js';
import { checkNoiseMultiplier, checkPositive, checkPositiveInteger } from './validate.js';

/** The parameters that fix each client's share of the noise. */
export interface NoiseShareOptions {
  /** Noise multiplier z of the whole sum. */
  readonly noiseMultiplier: number;
  /** Clip norm C each client applies to its own update. */
  readonly clipNorm: number;
  /** Fewest clients whose shares are sure to reach the sum (n, or n_min under dropouts). */
  readonly minimumClients: number;
}

/** The std of one client's noise share: z C / sqrt(n_min), so any n_min shares sum to std z C. */
export function noiseShareStd(options: NoiseShareOptions): number {
  const where = 'noiseShareStd';
  checkNoiseMultiplier(where, options.noiseMultiplier);
  checkPositive(where, 'clipNorm', options.clipNorm);
  checkPositiveInteger(where, 'minimumClients', options.minimumClients);
  return (options.noiseMultiplier * options.clipNorm) / Math.sqrt(options.minimumClients);
}

/**
 * What a client sends into secure aggregation: its update clipped to C plus its noise share, in
 * float64 (the caller quantises it for the masked sum). The server divides the sum by m.
 */
export function clientNoisedUpdate(update: Float32Array, options: NoiseShareOptions, sampler: GaussianSampler): Float64Array {
  const std = noiseShareStd(options);
  const noised = clipUpdate(update, options.clipNorm);
  sampler.addNoise(noised, std);
  return noised;
}
