/**
 * Poisoning attacks of malicious clients, as the robustness literature defines them. Model
 * poisoning attacks replace the update a malicious client sends; the omniscient ones (ALIE, IPM)
 * see the honest updates of the round, the strongest and usual assumption.
 *
 * - label flip (data poisoning): the client trains honestly on its own rows with every class l
 *   of 0..C replaced by C - l (Tolpegin et al. 2020 use l -> L - 1 - l over L classes): healthy
 *   rows become the last fault class and faults of that class become healthy.
 * - sign flip (Damaskinos et al. 2018): the client sends -s times its honest update.
 * - Gaussian noise (Blanchard et al. 2017's Gaussian Byzantine worker): a vector of independent
 *   N(0, sigma^2) coordinates, unrelated to any data.
 * - ALIE, "A Little Is Enough" (Baruch, Baruch, Goldberg 2019): per coordinate mu_j - z sigma_j
 *   over the honest updates, with z = Phi^-1((n - s) / n) and s = floor(n / 2 + 1) - m for n
 *   clients in the round and m malicious ones: the largest shift that still leaves the malicious
 *   values closer to the mean than enough honest ones for median- and Krum-like rules to accept.
 * - IPM, inner product manipulation (Xie, Koyejo, Gupta 2020): -epsilon times the mean of the
 *   honest updates, so the aggregate's inner product with the true direction turns small or
 *   negative while the malicious vectors stay close to the honest ones for small epsilon.
 */
import { faultClassCount } from '../../mapek/detector-loss.js';
import type { GaussianSampler } from '../dp/noise.js';
import { requireNumber } from './errors.js';

/** The attacks of section 5 of the issue. */
export type AttackKind = 'labelFlip' | 'signFlip' | 'gaussian' | 'alie' | 'ipm';

/** An attack and its strength; unset strengths take the defaults below. */
export interface AttackSpec {
  readonly kind: AttackKind;
  /** Sign flip: the factor s of -s u (default 4). */
  readonly signFlipScale?: number;
  /** Gaussian noise: the std of each coordinate (default 1). */
  readonly gaussianStd?: number;
  /** IPM: epsilon (default 0.1, the value Karimireddy et al. 2021 evaluate against robust rules). */
  readonly ipmEpsilon?: number;
  /** ALIE: a fixed z instead of the one from n and m. */
  readonly alieZ?: number;
}

/** Defaults of the attack strengths. */
export const attackDefaults = { signFlipScale: 4, gaussianStd: 1, ipmEpsilon: 0.1 } as const;

/** Every attack kind, in the order the benchmark reports them. */
export const attackKinds: readonly AttackKind[] = ['labelFlip', 'signFlip', 'gaussian', 'alie', 'ipm'];

/** Whether the malicious clients of this attack train on their data (and with which labels). */
export function attackTraining(kind: AttackKind): 'flipped' | 'honest' | 'none' {
  if (kind === 'labelFlip') return 'flipped';
  return kind === 'signFlip' ? 'honest' : 'none';
}

/** The label-flip map over the classes 0..classes: l -> classes - l. */
export function labelFlipMap(classes: number = faultClassCount): Uint8Array {
  return Uint8Array.from({ length: classes + 1 }, (_, label) => classes - label);
}

/**
 * The standard normal quantile Phi^-1(p) for p in (0, 1), by the rational approximation of
 * Abramowitz and Stegun 26.2.23 (absolute error below 4.5e-4: ample for an attack's z).
 */
export function normalQuantile(p: number): number {
  requireNumber('normalQuantile', 'p', p, Number.MIN_VALUE, 1, true);
  if (p > 0.5) return -normalQuantile(1 - p);
  const t = Math.sqrt(-2 * Math.log(p));
  return -(t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t));
}

/** ALIE's z for n clients of which m are malicious (Baruch et al. 2019, section 3); p kept inside (0, 1). */
export function alieZ(n: number, m: number): number {
  const supporters = Math.floor(n / 2 + 1) - m;
  const p = Math.min(Math.max((n - supporters) / n, 1 / (2 * n)), 1 - 1 / (2 * n));
  return normalQuantile(p);
}

/** Per-coordinate mean and (population) standard deviation of `updates`, in float64. */
export function coordinateMoments(updates: readonly Float32Array[], d: number): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(d);
  const squares = new Float64Array(d);
  for (const update of updates) {
    for (let j = 0; j < d; j++) {
      mean[j]! += update[j]!;
      squares[j]! += update[j]! * update[j]!;
    }
  }
  const n = Math.max(1, updates.length);
  for (let j = 0; j < d; j++) {
    mean[j]! /= n;
    squares[j] = Math.sqrt(Math.max(0, squares[j]! / n - mean[j]! * mean[j]!));
  }
  return { mean, std: squares };
}

/** What crafting sees of one round. */
export interface AttackRound {
  /** Updates of the honest participants. */
  readonly honest: readonly Float32Array[];
  /** Per malicious participant: its honestly trained update (sign flip) or its update from flipped labels (label flip); null when it did not train. */
  readonly own: readonly (Float32Array | null)[];
  /** Parameters per update. */
  readonly d: number;
}

/**
 * The updates the malicious participants send, one per entry of round.own. With no honest update
 * in the round, ALIE and IPM have nothing to imitate and send zeros.
 */
export function craftMalicious(spec: AttackSpec, round: AttackRound, sampler: GaussianSampler): Float32Array[] {
  const { honest, own, d } = round;
  const m = own.length;
  switch (spec.kind) {
    case 'labelFlip':
      return own.map((update) => update ?? new Float32Array(d));
    case 'signFlip': {
      const scale = spec.signFlipScale ?? attackDefaults.signFlipScale;
      return own.map((update) => Float32Array.from(update ?? new Float32Array(d), (value) => -scale * value));
    }
    case 'gaussian': {
      const std = spec.gaussianStd ?? attackDefaults.gaussianStd;
      return own.map(() => Float32Array.from({ length: d }, () => std * sampler.standardNormal()));
    }
    case 'alie': {
      const { mean, std } = coordinateMoments(honest, d);
      const z = spec.alieZ ?? alieZ(honest.length + m, m);
      const update = Float32Array.from(mean, (mu, j) => mu - z * std[j]!);
      return own.map(() => update.slice());
    }
    case 'ipm': {
      const epsilon = spec.ipmEpsilon ?? attackDefaults.ipmEpsilon;
      const { mean } = coordinateMoments(honest, d);
      return own.map(() => Float32Array.from(mean, (mu) => -epsilon * mu));
    }
  }
}

/** How far a malicious participant inflates the second moment it reports (craftSecondMoment). */
export const secondMomentInflation = 1e6;
/**
 * The largest value it reports: under FedAvg the honest reports grow with the inflated mean they
 * started from, and inflating them again every round would overflow float32 to infinity, which
 * clients refuse (trainLocally).
 */
export const secondMomentReportMax = 1e30;

/**
 * The second moment a malicious participant reports when the federation shares Adam's second
 * moment (federated.ts, sharedSecondMoment), whatever its attack on the update: per coordinate
 * `secondMomentInflation` times the largest honest report (or times 1e-8 with none; at most
 * `secondMomentReportMax`), which would
 * shrink every client's Adam steps to nothing if the server took the mean.
 */
export function craftSecondMoment(honest: readonly Float32Array[], d: number): Float32Array {
  const top = new Float32Array(d).fill(1e-8);
  for (const moment of honest) {
    for (let j = 0; j < d; j++) top[j] = Math.max(top[j]!, moment[j]!);
  }
  return Float32Array.from(top, (value) => Math.min(value * secondMomentInflation, secondMomentReportMax));
}
