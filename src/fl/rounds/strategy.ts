/**
 * The aggregation rule a coordinator runs, as data: which rule of src/fl/aggregation (or
 * DP-FedAvg of src/fl/dp) and its parameters. The same value is sent to participants in the
 * round configuration and recorded in the model version's metadata.
 */
import { bulyan } from '../aggregation/bulyan.js';
import { centeredClipping, normBoundedMean } from '../aggregation/clipping.js';
import { median, trimmedMean } from '../aggregation/coordinate-wise.js';
import { fedAvg } from '../aggregation/fedavg.js';
import { krum, multiKrum } from '../aggregation/krum.js';
import { dpFedAvg } from '../dp/dp-fedavg.js';
import type { GaussianSampler } from '../dp/noise.js';
import type { StrategyRecord } from '../registry/metadata.js';

/** A configured aggregation rule. */
export type StrategySpec =
  | { readonly name: 'fedAvg' }
  | { readonly name: 'median' }
  | { readonly name: 'trimmedMean'; readonly beta: number }
  | { readonly name: 'krum'; readonly f: number }
  | { readonly name: 'multiKrum'; readonly f: number; readonly m: number }
  | { readonly name: 'bulyan'; readonly f: number }
  | { readonly name: 'centeredClipping'; readonly tau: number; readonly iterations?: number }
  | { readonly name: 'normBoundedMean'; readonly bound: number }
  | { readonly name: 'dpFedAvg'; readonly clipNorm: number; readonly noiseMultiplier: number };

/** The accepted updates of a round, in ascending node order, with their example counts. */
export interface RoundUpdates {
  readonly updates: readonly Float32Array[];
  readonly examples: readonly number[];
}

/** What DP-FedAvg needs beyond its spec: the fixed denominator and the noise. */
export interface DpContext {
  /** q N: the expected number of participants (the fixed denominator of DP-FedAvg). */
  readonly expectedClients: number;
  readonly sampler: GaussianSampler;
}

/** The strategy as recorded in a model version: its name and its parameters. */
export function strategyRecord(spec: StrategySpec): StrategyRecord {
  const { name, ...params } = spec;
  return { name, params };
}

/** The fewest updates the rule accepts at all (Krum: n > 2f + 2; Multi-Krum also n >= m; Bulyan: n >= 4f + 3). */
export function ruleMinimumClients(spec: StrategySpec): number {
  switch (spec.name) {
    case 'krum':
      return 2 * spec.f + 3;
    case 'multiKrum':
      return Math.max(2 * spec.f + 3, spec.m);
    case 'bulyan':
      return 4 * spec.f + 3;
    default:
      return 1;
  }
}

/** The clip norm participants are told: the L2 bound the server applies, or null when the rule has none. */
export function clipNormOf(spec: StrategySpec): number | null {
  if (spec.name === 'dpFedAvg') return spec.clipNorm;
  if (spec.name === 'normBoundedMean') return spec.bound;
  return null;
}

/** Aggregates a round's updates under `spec`; the rules' own errors (AggregationError, DpError) pass through. */
export function aggregateUpdates(spec: StrategySpec, round: RoundUpdates, dp: DpContext | null): Float32Array {
  const { updates, examples } = round;
  switch (spec.name) {
    case 'fedAvg':
      return fedAvg(updates, examples);
    case 'median':
      return median(updates);
    case 'trimmedMean':
      return trimmedMean(updates, spec.beta);
    case 'krum':
      return krum(updates, spec.f);
    case 'multiKrum':
      return multiKrum(updates, spec.f, spec.m);
    case 'bulyan':
      return bulyan(updates, spec.f);
    case 'centeredClipping':
      return centeredClipping(updates, { tau: spec.tau, ...(spec.iterations === undefined ? {} : { iterations: spec.iterations }) });
    case 'normBoundedMean':
      return normBoundedMean(updates, examples, spec.bound);
    case 'dpFedAvg':
      // The coordinator builds the DP context whenever the strategy is DP-FedAvg.
      return dpFedAvg(updates, { clipNorm: spec.clipNorm, noiseMultiplier: spec.noiseMultiplier, expectedClients: dp!.expectedClients }, dp!.sampler).aggregate;
  }
}
