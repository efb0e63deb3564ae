/**
 * Participant selection. Poisson selection includes every eligible node independently with
 * probability q: exactly the sampling the accountant in src/fl/dp assumes for the sampled
 * Gaussian mechanism (the RDP bound for rate q holds for this sampling and no other), so it is
 * the only mode a DP round accepts. Fixed-size selection draws `size` nodes uniformly without
 * replacement, for runs without DP that want a steady load. Randomness comes from a NoiseSource
 * the driver passes (a CSPRNG in the daemon, a seeded source in tests and the twin), and the
 * selection is returned with the rule and the population it was drawn from, so the round's
 * record says what the accountant was told.
 */
import { GaussianSampler, type NoiseSource } from '../dp/noise.js';
import { uniformBelow } from '../secagg/random.js';
import { isNodeId, type NodeId } from '../../wire/ids.js';
import { RoundError, RoundErrorCode } from './errors.js';
import { eligibleMax, participantsMax } from './limits.js';

/** How a round picks its participants. */
export type SelectionRule = { readonly kind: 'poisson'; readonly q: number } | { readonly kind: 'fixed'; readonly size: number };

/** The outcome of one selection, as recorded for the round. */
export interface Selection {
  readonly rule: SelectionRule;
  /** How many distinct eligible nodes it drew from (N; DP-FedAvg's expected count is q N). */
  readonly eligibleCount: number;
  /** The selected nodes, ascending. */
  readonly selected: readonly NodeId[];
}

/** Checks a selection rule's parameter; ERR_FL_ROUND_CONFIG names it. */
export function checkSelectionRule(rule: SelectionRule): SelectionRule {
  if (rule.kind === 'poisson') {
    if (!(rule.q > 0 && rule.q <= 1)) throw new RoundError(RoundErrorCode.ERR_FL_ROUND_CONFIG, `selection: expected q in (0, 1], got ${rule.q}`);
  } else if (!Number.isInteger(rule.size) || rule.size < 1 || rule.size > participantsMax) {
    throw new RoundError(RoundErrorCode.ERR_FL_ROUND_CONFIG, `selection: expected size an integer in 1..${participantsMax}, got ${rule.size}`);
  }
  return rule;
}

/** The eligible nodes, checked, without repeats, ascending (the canonical order every draw walks). */
function canonicalEligible(eligible: readonly NodeId[]): NodeId[] {
  if (eligible.length > eligibleMax) throw new RoundError(RoundErrorCode.ERR_FL_ROUND_CONFIG, `selection: ${eligible.length} eligible nodes, more than eligibleMax ${eligibleMax}`);
  for (const id of eligible) {
    if (!isNodeId(id)) throw new RoundError(RoundErrorCode.ERR_FL_ROUND_CONFIG, `selection: eligible node ${id} is not a node id`);
  }
  return [...new Set(eligible)].sort((a, b) => a - b);
}

/** Selects the participants of one round from `eligible` under `rule`, drawing from `random`. */
export function selectParticipants(eligible: readonly NodeId[], rule: SelectionRule, random: NoiseSource): Selection {
  checkSelectionRule(rule);
  const population = canonicalEligible(eligible);
  let selected: NodeId[];
  if (rule.kind === 'poisson') {
    const uniforms = new GaussianSampler(random);
    selected = population.filter(() => uniforms.uniform53() < rule.q);
    // A Poisson draw over a large population can exceed what one aggregation takes; such a
    // round is not run rather than silently truncated, which would change the sampling.
    if (selected.length > participantsMax) {
      throw new RoundError(RoundErrorCode.ERR_FL_ROUND_CONFIG, `selection: ${selected.length} nodes drawn at q ${rule.q}, more than participantsMax ${participantsMax}; lower q`);
    }
  } else {
    selected = partialShuffle(population, Math.min(rule.size, population.length), random).sort((a, b) => a - b);
  }
  return { rule, eligibleCount: population.length, selected };
}

/** The first `count` items of a uniformly random permutation (Fisher-Yates stopped early). */
function partialShuffle(items: readonly NodeId[], count: number, random: NoiseSource): NodeId[] {
  const pool = items.slice();
  for (let index = 0; index < count; index++) {
    const other = index + uniformBelow(random, pool.length - index);
    [pool[index], pool[other]] = [pool[other]!, pool[index]!];
  }
  return pool.slice(0, count);
}
