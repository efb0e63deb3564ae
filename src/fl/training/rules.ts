/**
 * The server's aggregation rule of a round, by name, over src/fl/aggregation. The robust rules
 * are told f, the number of Byzantine updates to tolerate, from the share of attackers the
 * server assumes (floor(share n) of the n updates of the round), also in rounds without attack:
 * a server cannot know that nobody attacks.
 */
import { bulyan } from '../aggregation/bulyan.js';
import { centeredClipping } from '../aggregation/clipping.js';
import { median, trimmedMean } from '../aggregation/coordinate-wise.js';
import { fedAvg } from '../aggregation/fedavg.js';
import { krum, multiKrum } from '../aggregation/krum.js';
import { fedAvg as mean } from '../aggregation/fedavg.js';
import { shuffled } from '../../mapek/detector-train.js';
import type { RandomSource } from '../../ml/random.js';
import { requireInteger, requireNumber } from './errors.js';

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
  | { readonly kind: 'centeredClipping'; readonly tau?: number | 'median'; readonly iterations?: number };

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

/** The median of the L2 distances of `updates` from `centre`. */
function medianDistance(updates: readonly Float32Array[], centre: Float32Array): number {
  const distances = updates.map((update) => {
    let squares = 0;
    for (let j = 0; j < update.length; j++) squares += (update[j]! - centre[j]!) ** 2;
    return Math.sqrt(squares);
  });
  distances.sort((a, b) => a - b);
  const mid = distances.length >> 1;
  return distances.length % 2 === 1 ? distances[mid]! : (distances[mid - 1]! + distances[mid]!) / 2;
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

/**
 * The aggregate of one round's `updates` under `spec`; `examples` weighs FedAvg, `state` carries
 * the centre. With `bucketing`, a robust rule runs over bucket means and tolerates the same f
 * (FedAvg ignores it: a weighted mean of bucket means is the weighted mean).
 */
export function aggregateBucketed(spec: RuleSpec, updates: readonly Float32Array[], examples: readonly number[], byzantineShare: number, state: RuleState, bucketing: Bucketing | null = null): Float32Array {
  const f = tolerated(updates.length, byzantineShare);
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
  }
  state.previous = aggregate;
  return aggregate;
}
