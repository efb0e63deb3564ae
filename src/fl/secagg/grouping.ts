/**
 * Secure and robust together. Secure aggregation hides each update, so a robust rule cannot
 * look at them; instead the clients are split at random into G groups each round, SecAgg+ runs
 * inside each group, and the robust rule runs over the G group means.
 *
 * What the server learns: for each group, the set of survivors and the sum of their inputs (so
 * their mean); nothing about one client's update beyond what its group's sum reveals.
 *
 * Why it is robust: a malicious client can spoil at most the one group it sits in (its masked
 * input can shift that group's sum anywhere in the ring, but touches no other group). With f
 * malicious clients at most f of the G group means are bad, so a rule that tolerates f bad
 * inputs out of G keeps its guarantee: median needs G >= 2f + 1, the beta-trimmed mean
 * floor(beta G) >= f, Krum and Multi-Krum G >= 2f + 3, Bulyan G >= 4f + 3. The price is that
 * honest clients' updates are averaged over a group before the rule sees them, and that
 * groups must be large enough for the secure aggregation threshold.
 *
 * FLTrust (src/fl/aggregation/fltrust.ts) needs nothing but the group means and the server's own
 * update on its root data: each group mean is weighed by the ReLU of its cosine with the server
 * update and rescaled to its norm. It has no count condition like the others: a spoiled group
 * moves the aggregate by at most its share of the trust times the server update's norm, and one
 * pointing away from the server update gets no weight. What it needs is at least one group
 * without an attacker (G >= f + 1) and honest group means whose cosine with the server update is
 * positive, which averaging within a group helps (a mean of honest non-IID updates points closer
 * to the common direction than any one of them).
 */
import { bulyan } from '../aggregation/bulyan.js';
import { fedAvg } from '../aggregation/fedavg.js';
import { flTrust } from '../aggregation/fltrust.js';
import { median, trimmedMean } from '../aggregation/coordinate-wise.js';
import { krum, multiKrum } from '../aggregation/krum.js';
import { secAggClientId, type SecAggClientId } from './config.js';
import { parameterError } from './errors.js';
import { shuffled, type RandomSource } from './random.js';

/** The rule applied over the group means. */
export type GroupRule =
  | { readonly rule: 'mean' } // FedAvg over the groups, weighted by survivors: the baseline, not robust
  | { readonly rule: 'median' }
  | { readonly rule: 'trimmedMean'; readonly beta: number }
  | { readonly rule: 'krum'; readonly f: number }
  | { readonly rule: 'multiKrum'; readonly f: number; readonly m: number }
  | { readonly rule: 'bulyan'; readonly f: number }
  /** FLTrust over the group means against the server's own update on its root data. */
  | { readonly rule: 'flTrust'; readonly serverUpdate: Float32Array };

/** One group's unmasked outcome. */
export interface GroupSum {
  readonly sum: Float64Array;
  /** Clients whose inputs are in the sum (the group's survivors). */
  readonly clients: number;
}

/** Splits `ids` at random into `groupCount` groups whose sizes differ by at most one; each group ascending. */
export function assignGroups(ids: readonly number[], groupCount: number, random: RandomSource): SecAggClientId[][] {
  if (!Number.isInteger(groupCount) || groupCount < 1 || groupCount > ids.length) throw parameterError('assignGroups', 'groupCount', `an integer in 1..${ids.length}`, groupCount);
  if (new Set(ids).size !== ids.length) throw parameterError('assignGroups', 'ids', 'distinct', ids.join(','));
  const groups: SecAggClientId[][] = Array.from({ length: groupCount }, () => []);
  for (const [position, id] of shuffled(ids.map(secAggClientId), random).entries()) groups[position % groupCount]!.push(id);
  return groups.map((group) => group.sort((a, b) => a - b));
}

/** The fewest groups for which `rule` keeps its guarantee against `malicious` clients (each spoils one group at most). */
export function groupsRequired(rule: GroupRule, malicious: number): number {
  if (!Number.isInteger(malicious) || malicious < 0) throw parameterError('groupsRequired', 'malicious', 'an integer >= 0', malicious);
  switch (rule.rule) {
    case 'mean':
      // One bad group moves the mean arbitrarily far: no number of groups helps.
      return malicious === 0 ? 1 : Number.POSITIVE_INFINITY;
    case 'median':
      return 2 * malicious + 1;
    case 'trimmedMean':
      return Math.max(2 * malicious + 1, Math.ceil(malicious / rule.beta));
    case 'krum':
    case 'multiKrum':
      return 2 * malicious + 3;
    case 'bulyan':
      return 4 * malicious + 3;
    case 'flTrust':
      // No count condition (see the file comment); one group without an attacker must be left.
      return malicious + 1;
  }
}

/** Each group's mean as a Float32Array (the aggregation rules' input type). */
export function groupMeans(groups: readonly GroupSum[]): Float32Array[] {
  return groups.map((group) => {
    if (!Number.isInteger(group.clients) || group.clients < 1) throw parameterError('groupMeans', 'clients of a group', 'an integer >= 1', group.clients);
    return Float32Array.from(group.sum, (value) => value / group.clients);
  });
}

/**
 * The rule over the group means. With `malicious` given, refuses (ERR_SECAGG_PARAMETER) when
 * there are too few groups for the guarantee; the rule's own preconditions are checked by it.
 */
export function aggregateGroups(groups: readonly GroupSum[], rule: GroupRule, malicious?: number): Float32Array {
  if (malicious !== undefined) {
    const required = groupsRequired(rule, malicious);
    if (groups.length < required) throw parameterError('aggregateGroups', `groups for ${rule.rule} against ${malicious} malicious clients`, `at least ${required}`, groups.length);
  }
  const means = groupMeans(groups);
  switch (rule.rule) {
    case 'mean':
      // Weighted by survivors, this is plain FedAvg over every client: the non-robust baseline.
      return fedAvg(means, groups.map((group) => group.clients));
    case 'median':
      return median(means);
    case 'trimmedMean':
      return trimmedMean(means, rule.beta);
    case 'krum':
      return krum(means, rule.f);
    case 'multiKrum':
      return multiKrum(means, rule.f, rule.m);
    case 'bulyan':
      return bulyan(means, rule.f);
    case 'flTrust':
      return flTrust(means, rule.serverUpdate);
  }
}
