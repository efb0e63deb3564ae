/**
 * The privacy budget ledger of a training run. It records every round's (q, z, steps), keeps the
 * composed RDP curve, answers the epsilon spent at any delta, and refuses, before anything is
 * released, a round that would take epsilon at the configured delta past the budget. The model
 * registry stores `summary()` with each model version; training stops at the first refusal.
 */
import { composedRdp, type SampledGaussianSegment } from './accountant.js';
import { DpError, DpErrorCode } from './errors.js';
import { defaultOrders } from './orders.js';
import { bestEpsilon, type EpsilonAtOrder, type RdpConversion } from './rdp-conversion.js';
import { checkDelta, checkEpsilon, checkOrders, checkSegment } from './validate.js';

/** The budget and how it is measured. */
export interface LedgerOptions {
  /** Largest epsilon the run may spend at `delta`. */
  readonly epsilonBudget: number;
  /** The delta the budget is stated at, in (0, 1). */
  readonly delta: number;
  readonly orders?: readonly number[];
  readonly conversion?: RdpConversion;
}

/** One recorded round and the epsilon spent once it was included. */
export interface LedgerEntry extends SampledGaussianSegment {
  readonly epsilonAfter: number;
}

/** What the ledger reports: for the model registry, the CLI and the user. */
export interface LedgerSummary {
  readonly epsilonBudget: number;
  readonly delta: number;
  readonly epsilonSpent: number;
  readonly order: number;
  readonly rounds: number;
  readonly steps: number;
}

/** A budget ledger over sampled-Gaussian rounds; see the module comment. */
export class PrivacyLedger {
  private readonly orders: readonly number[];
  private readonly conversion: RdpConversion;
  private readonly rdp: Float64Array;
  private readonly recorded: LedgerEntry[] = [];

  /** A ledger with nothing spent. */
  constructor(private readonly options: LedgerOptions) {
    checkEpsilon('PrivacyLedger', options.epsilonBudget, 'epsilonBudget');
    checkDelta('PrivacyLedger', options.delta);
    this.orders = options.orders ?? defaultOrders;
    checkOrders('PrivacyLedger', this.orders);
    this.conversion = options.conversion ?? 'improved';
    this.rdp = new Float64Array(this.orders.length);
  }

  /** The rounds recorded so far, oldest first. */
  get entries(): readonly LedgerEntry[] {
    return this.recorded;
  }

  /** Epsilon spent so far at `delta` (the budget's delta when absent), with the order that gave it. */
  spent(delta: number = this.options.delta): EpsilonAtOrder {
    checkDelta('PrivacyLedger.spent', delta);
    return bestEpsilon(this.orders, this.rdp, delta, this.conversion);
  }

  /** Epsilon at the budget's delta if `round` were recorded; records nothing. */
  preview(round: SampledGaussianSegment): EpsilonAtOrder {
    checkSegment('PrivacyLedger.preview', round);
    return bestEpsilon(this.orders, this.rdpWith(round), this.options.delta, this.conversion);
  }

  /** Records `round`, or throws ERR_DP_BUDGET_EXCEEDED (recording nothing) if it would pass the budget. */
  record(round: SampledGaussianSegment): EpsilonAtOrder {
    checkSegment('PrivacyLedger.record', round);
    const next = this.rdpWith(round);
    const after = bestEpsilon(this.orders, next, this.options.delta, this.conversion);
    if (after.epsilon > this.options.epsilonBudget) {
      const before = this.spent().epsilon;
      throw new DpError(
        DpErrorCode.ERR_DP_BUDGET_EXCEEDED,
        `PrivacyLedger.record: round (q ${round.q}, noiseMultiplier ${round.noiseMultiplier}, steps ${round.steps}) would take epsilon from ${before} to ${after.epsilon}, over the budget ${this.options.epsilonBudget} at delta ${this.options.delta}`,
      );
    }
    this.rdp.set(next);
    this.recorded.push({ q: round.q, noiseMultiplier: round.noiseMultiplier, steps: round.steps, epsilonAfter: after.epsilon });
    return after;
  }

  /** The budget left at the budget's delta (never negative). */
  remaining(): number {
    return Math.max(0, this.options.epsilonBudget - this.spent().epsilon);
  }

  /** A plain summary for the model registry and the user. */
  summary(): LedgerSummary {
    const { epsilon, order } = this.spent();
    const steps = this.recorded.reduce((total, entry) => total + entry.steps, 0);
    return { epsilonBudget: this.options.epsilonBudget, delta: this.options.delta, epsilonSpent: epsilon, order, rounds: this.recorded.length, steps };
  }

  private rdpWith(round: SampledGaussianSegment): Float64Array {
    const next = composedRdp([round], this.orders);
    for (let index = 0; index < next.length; index++) next[index]! += this.rdp[index]!;
    return next;
  }
}
