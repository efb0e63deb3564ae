/**
 * The server's aggregation rule of a round, by name, over src/fl/aggregation. The robust rules
 * are told f, the number of Byzantine updates to tolerate, from the share of attackers the
 * server assumes (floor(share n) of the n updates of the round), also in rounds without attack:
 * a server cannot know that nobody attacks.
 */
import { bulyan } from '../aggregation/bulyan.js';
import { centeredClipping, clipToNorm, normBoundedMean } from '../aggregation/clipping.js';
import { median, trimmedMean } from '../aggregation/coordinate-wise.js';
import { fedAvg } from '../aggregation/fedavg.js';
import { flTrust } from '../aggregation/fltrust.js';
import { krum, krumRanking, multiKrum } from '../aggregation/krum.js';
import { fedAvg as mean } from '../aggregation/fedavg.js';
import { norms } from '../aggregation/weighted-sum.js';
import { shuffled } from '../../mapek/detector-train.js';
import type { RandomSource } from '../../ml/random.js';
import { argumentError, requireInteger, requireNumber } from './errors.js';

/** A rule and its settings. */
export type RuleSpec =
  | { readonly kind: 'fedAvg' }
  | { readonly kind: 'median' }
  /** beta: the share cut from each end (default: the assumed attacker share, or f over the buckets when bucketing). */
  | { readonly kind: 'trimmedMean'; readonly beta?: number }
  | { readonly kind: 'krum' }
  /** m: how many best-scored updates to average (default n - f). */
  | { readonly kind: 'multiKrum'; readonly m?: number }
  | { readonly kind: 'bulyan' }
  /**
   * tau: the clipping radius, or 'median' for the median distance of the round's updates from
   * the centre (at least half of them are honest, so an attacker cannot inflate it); the centre
   * is the previous round's aggregate.
   */
  | { readonly kind: 'centeredClipping'; readonly tau?: number | 'median'; readonly iterations?: number }
  /**
   * Norm bounding (Sun et al. 2019) as a rule of its own: the unweighted mean of the updates, each
   * clipped to L2 norm `bound`, or with 'median' (default) to the median norm of the round's
   * updates (while at least half are honest an attacker cannot inflate it). Unweighted because a
   * client's claimed weight is not checked: an attacker would claim a large one.
   */
  | { readonly kind: 'normBounded'; readonly bound?: number | 'median' }
  /**
   * FLTrust (Cao et al. 2021, src/fl/aggregation/fltrust.ts): every update weighed by the ReLU of
   * its cosine with the server's own update on its root data and rescaled to that update's norm.
   * Needs the server update of the round (AggregationStages.serverUpdate). serverTrust: the
   * server's own update joins the mean with this score (default 0, the paper's rule). krumFirst:
   * score only the n - f updates Multi-Krum keeps (the closest to their neighbours), so that
   * updates far from the rest (scaled ones) are gone before trust is given.
   */
  | { readonly kind: 'flTrust'; readonly serverTrust?: number; readonly krumFirst?: boolean };

/** The rule names the robustness benchmark compares. */
export type RuleKind = RuleSpec['kind'];

/**
 * Bucketing (Karimireddy, He, Jaggi 2022, "Byzantine-robust learning on heterogeneous datasets
 * via bucketing"): the round's updates are shuffled into buckets of `size`, each bucket is
 * averaged, and the rule runs over the bucket means. Means of a few clients differ less than
 * the clients do under non-IID data, so the rule discards less honest signal, while a malicious
 * update still spoils at most one bucket, so f stays the same count.
 */
export interface Bucketing {
  readonly size: number;
  readonly random: RandomSource;
}

/** What a rule may keep between rounds. */
export interface RuleState {
  /** The previous aggregate (centered clipping's centre); null before the first round. */
  previous: Float32Array | null;
}

/** f for n updates when the server assumes `byzantineShare` of them may be malicious. */
export function tolerated(n: number, byzantineShare: number): number {
  requireNumber('tolerated', 'byzantineShare', byzantineShare, 0, 0.5, true);
  return Math.floor(byzantineShare * n);
}

/** The median of `values` (the mean of the middle two for an even count). */
function medianOf(values: ArrayLike<number>): number {
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The median of the L2 distances of `updates` from `centre`. */
function medianDistance(updates: readonly Float32Array[], centre: Float32Array): number {
  return medianOf(norms('centeredClipping', updates, centre));
}

/** The median L2 norm of `updates`: a bound that attackers cannot raise while at least half the updates are honest. */
export function medianNorm(updates: readonly Float32Array[]): number {
  return medianOf(norms('medianNorm', updates));
}

/**
 * Norm bounding first: every update clipped to the round's median norm. A malicious update then
 * weighs no more than a typical honest one in whatever the rule does next, including in the rounds
 * that draw more attackers than the rule's f (with 11 of 50 clients a round and 10 attackers, 38 %
 * of the rounds draw 3 or more against f = 2), where a scaled update (sign flip x4) that slips
 * through a rule would otherwise outweigh several honest ones.
 */
export function boundedToMedianNorm(updates: readonly Float32Array[]): Float32Array[] {
  const bound = medianNorm(updates);
  return updates.map((update) => clipToNorm(update, bound));
}

function clipped(updates: readonly Float32Array[], spec: Extract<RuleSpec, { kind: 'centeredClipping' }>, state: RuleState): Float32Array {
  const centre = state.previous ?? new Float32Array(updates[0]!.length);
  const tau = spec.tau === undefined || spec.tau === 'median' ? medianDistance(updates, centre) : spec.tau;
  // All updates at the centre leave nothing to clip: the centre is the answer.
  if (!(tau > 0)) return centre.slice();
  return centeredClipping(updates, { tau, iterations: spec.iterations ?? 3, centre });
}

/** The means of `updates` shuffled into buckets of `size` (the last one may be smaller). */
export function bucketMeans(updates: readonly Float32Array[], bucketing: Bucketing): Float32Array[] {
  requireInteger('bucketMeans', 'size', bucketing.size, 1, Math.max(1, updates.length));
  const order = shuffled(updates.length, bucketing.random);
  const means: Float32Array[] = [];
  for (let at = 0; at < order.length; at += bucketing.size) means.push(mean(Array.from(order.subarray(at, at + bucketing.size), (i) => updates[i]!)));
  return means;
}

/** The largest f the rule's precondition allows with n updates (n for the rules without one). */
function mostTolerated(kind: RuleKind, n: number): number {
  if (kind === 'bulyan') return Math.max(0, Math.floor((n - 3) / 4));
  if (kind === 'krum' || kind === 'multiKrum') return Math.max(0, Math.floor((n - 3) / 2));
  return n;
}

/** FLTrust over `updates`, or over the n - f of them Multi-Krum keeps with spec.krumFirst. */
function trusted(updates: readonly Float32Array[], spec: Extract<RuleSpec, { kind: 'flTrust' }>, f: number, serverUpdate: Float32Array): Float32Array {
  const kept = spec.krumFirst === true ? krumRanking(updates, f).order.slice(0, updates.length - f).map((i) => updates[i]!) : updates;
  return flTrust(kept, serverUpdate, { serverTrust: spec.serverTrust ?? 0 });
}

/** The share of strictly positive coordinates of `update`. */
function positiveShare(update: Float32Array): number {
  let positive = 0;
  for (const value of update) if (value > 0) positive++;
  return positive / Math.max(1, update.length);
}

/** How many scaled median absolute deviations from the median share of positive coordinates an update may lie before signFiltered drops it. */
export const signFilterDeviations = 3;

/**
 * The sign-statistics filter of SignGuard (Xu et al. 2022, "SignGuard: Byzantine-robust federated
 * learning through collaborative malicious gradient filtering"), by a robust z-score instead of
 * its clustering: the indices of the updates whose share of positive coordinates lies within
 * `signFilterDeviations` scaled MADs (1.4826 MAD) of the round's median share. Honest updates of
 * a model split their signs about evenly; an ALIE update mu - z sigma is shifted the same way on
 * every coordinate (sigma >= 0), so its share of positive coordinates stands out. At most
 * floor((n - 1) / 2) updates are dropped, the farthest first.
 */
export function signFiltered(updates: readonly Float32Array[]): number[] {
  const shares = updates.map(positiveShare);
  const centre = medianOf(shares);
  const deviations = shares.map((share) => Math.abs(share - centre));
  const limit = signFilterDeviations * 1.4826 * medianOf(deviations);
  const order = deviations.map((deviation, i) => ({ deviation, i })).sort((a, b) => b.deviation - a.deviation || a.i - b.i);
  const dropped = new Set(order.slice(0, (updates.length - 1) >> 1).filter((o) => o.deviation > limit).map((o) => o.i));
  return updates.flatMap((_, i) => (dropped.has(i) ? [] : [i]));
}

/** The stages a robust rule may run first: the sign filter, clipping to the median norm, then bucket means. */
export interface AggregationStages {
  readonly bucketing?: Bucketing | null;
  readonly normBoundFirst?: boolean;
  readonly signFilter?: boolean;
  /** The server's own update of the round on its root data: FLTrust's root of trust (required by it, ignored by the others). */
  readonly serverUpdate?: Float32Array | null;
}

/**
 * The aggregate of one round's `updates` under `spec`; `examples` weighs FedAvg, `state` carries
 * the centre. With `stages.signFilter`, a robust rule first drops the updates signFiltered
 * rejects and tolerates f of the rest (capped by its precondition). With `normBoundFirst`, it
 * sees every update clipped to the round's median norm (boundedToMedianNorm); with `bucketing`,
 * it runs over bucket means (of the clipped updates) and tolerates the same f. FedAvg, the
 * undefended baseline, ignores all three (a weighted mean of bucket means is the weighted mean).
 */
export function aggregateBucketed(
  spec: RuleSpec,
  updates: readonly Float32Array[],
  examples: readonly number[],
  byzantineShare: number,
  state: RuleState,
  stages: AggregationStages = {},
): Float32Array {
  const { bucketing = null, normBoundFirst = false, signFilter = false, serverUpdate = null } = stages;
  if (spec.kind === 'flTrust' && serverUpdate === null) throw argumentError('aggregateBucketed: flTrust needs the server update of the round (stages.serverUpdate), got none');
  let f = tolerated(updates.length, byzantineShare);
  if (signFilter && spec.kind !== 'fedAvg') {
    const kept = signFiltered(updates).map((i) => updates[i]!);
    // The rule runs on the kept updates with f of their count, or the most its precondition allows with that count (Krum n > 2f + 2, Bulyan n >= 4f + 3).
    if (kept.length < updates.length) f = Math.min(tolerated(kept.length, byzantineShare), mostTolerated(spec.kind === 'flTrust' && spec.krumFirst === true ? 'multiKrum' : spec.kind, kept.length));
    updates = kept;
  }
  if (normBoundFirst && spec.kind !== 'fedAvg') updates = boundedToMedianNorm(updates);
  // Each malicious update spoils at most one bucket: f stays a count, so its share of the buckets grows.
  if (bucketing !== null && spec.kind !== 'fedAvg') updates = bucketMeans(updates, bucketing);
  const share = f / updates.length;
  let aggregate: Float32Array;
  switch (spec.kind) {
    case 'fedAvg':
      aggregate = fedAvg(updates, examples);
      break;
    case 'median':
      aggregate = median(updates);
      break;
    case 'trimmedMean':
      aggregate = trimmedMean(updates, spec.beta ?? Math.max(byzantineShare, share));
      break;
    case 'krum':
      aggregate = krum(updates, f);
      break;
    case 'multiKrum':
      aggregate = multiKrum(updates, f, spec.m ?? updates.length - f);
      break;
    case 'bulyan':
      aggregate = bulyan(updates, f);
      break;
    case 'centeredClipping':
      aggregate = clipped(updates, spec, state);
      break;
    case 'normBounded':
      aggregate = normBoundedMean(updates, undefined, spec.bound === undefined || spec.bound === 'median' ? medianNorm(updates) : spec.bound);
      break;
    case 'flTrust':
      aggregate = trusted(updates, spec, f, serverUpdate!);
      break;
  }
  state.previous = aggregate;
  return aggregate;
}
