/**
 * The coordinator of federated rounds, as a sans-IO state machine. The driver (twin or daemon)
 * calls `handle(nowMs, input)` with a start command, a received update or a timer tick, and
 * gets back the messages to send, the updates it rejected (with a named error), the round's
 * outcome once it ends, and the next deadline. It never reads a clock, draws its own
 * randomness or touches storage: the new model version it produces is handed to the driver,
 * which installs it in its registry and sends the distribution message.
 *
 * A round: select participants, send each the configuration, accept at most one update per
 * selected node for the round's model until the deadline (or until all have reported), then
 * aggregate with the configured rule, or fail without a model when fewer than the minimum
 * reported. With DP-FedAvg the privacy ledger is asked before the round starts (so no node
 * trains for a round the budget cannot pay for) and charged when the noised aggregate is
 * released; a round that produces no model spends nothing.
 */
import { isAggregationError } from '../aggregation/errors.js';
import { isDpError } from '../dp/errors.js';
import type { PrivacyLedger } from '../dp/ledger.js';
import { GaussianSampler, type NoiseSource } from '../dp/noise.js';
import { createVersion, encodeVersion, type ModelVersion } from '../registry/version.js';
import type { AggregatorKeys } from '../registry/signing.js';
import type { NodeId } from '../../wire/ids.js';
import { RoundError, RoundErrorCode } from './errors.js';
import { participantsMax, roundDurationMsMax } from './limits.js';
import type { ModelDistribution, NodeMessage, RoundConfig, UpdateSubmission } from './messages.js';
import { checkSelectionRule, selectParticipants, type Selection, type SelectionRule } from './selection.js';
import { aggregateUpdates, clipNormOf, ruleMinimumClients, strategyRecord, type StrategySpec } from './strategy.js';
import { checkUpdate } from './update-check.js';

/** How the coordinator runs its rounds. */
export interface CoordinatorOptions {
  /** Signs every model version it produces. */
  readonly keys: AggregatorKeys;
  readonly strategy: StrategySpec;
  readonly selection: SelectionRule;
  /** Fewest accepted updates that make a model; at least the rule's own minimum. */
  readonly minParticipants: number;
  /** Time from a round's start to its deadline. */
  readonly roundDurationMs: number;
  /** Randomness for selection and DP noise (a CSPRNG in the daemon, seeded in tests and the twin). */
  readonly random: NoiseSource;
  /** The run's privacy ledger; required with DP-FedAvg, which it charges once per released model. */
  readonly ledger?: PrivacyLedger;
}

/** What drives the coordinator. */
export type CoordinatorInput =
  | { readonly kind: 'start'; readonly eligible: readonly NodeId[] }
  | { readonly kind: 'update'; readonly from: NodeId; readonly submission: UpdateSubmission }
  | { readonly kind: 'tick' };

/** How a round ended. */
export type RoundOutcome =
  | { readonly kind: 'completed'; readonly round: number; readonly selection: Selection; readonly version: ModelVersion }
  | { readonly kind: 'failed'; readonly round: number; readonly selection: Selection | null; readonly error: RoundError };

/** What one call of `handle` produced. */
export interface CoordinatorStep {
  readonly sends: readonly NodeMessage<RoundConfig | ModelDistribution>[];
  readonly rejected: readonly { readonly from: NodeId; readonly error: RoundError }[];
  readonly outcome: RoundOutcome | null;
  /** When to call again with a tick (the open round's deadline), or null when no round is open. */
  readonly deadlineMs: number | null;
}

interface OpenRound {
  readonly round: number;
  readonly selection: Selection;
  readonly selected: ReadonlySet<NodeId>;
  readonly eligible: readonly NodeId[];
  readonly deadlineMs: number;
  readonly accepted: Map<NodeId, UpdateSubmission>;
}

/** The coordinator state machine; see the module comment. */
export class RoundCoordinator {
  private model: ModelVersion;
  private lastRound: number;
  private open: OpenRound | null = null;
  private readonly sampler: GaussianSampler;
  private readonly dp: DpRun | null;

  /** A coordinator whose next round trains `model`; ERR_FL_ROUND_CONFIG when the options cannot work together. */
  constructor(
    private readonly options: CoordinatorOptions,
    model: ModelVersion,
  ) {
    this.dp = checkOptions(options);
    this.model = model;
    this.lastRound = model.metadata.round;
    this.sampler = new GaussianSampler(options.random);
  }

  /** The model the next round trains (the last one this coordinator produced or adopted). */
  get current(): ModelVersion {
    return this.model;
  }

  /** Makes `version` the model of the next round, e.g. after the registry rolled back; refused while a round is open. */
  adopt(version: ModelVersion): void {
    if (this.open !== null) throw new RoundError(RoundErrorCode.ERR_FL_ROUND_BUSY, `adopt: round ${this.open.round} is open`);
    this.model = version;
    this.lastRound = Math.max(this.lastRound, version.metadata.round);
  }

  /** Advances the state machine by one input at time `nowMs`. */
  handle(nowMs: number, input: CoordinatorInput): CoordinatorStep {
    switch (input.kind) {
      case 'start':
        return this.start(nowMs, input.eligible);
      case 'update':
        return this.receive(nowMs, input.from, input.submission);
      case 'tick':
        return this.open !== null && nowMs >= this.open.deadlineMs ? this.finish(nowMs) : this.idle();
    }
  }

  private idle(rejected: CoordinatorStep['rejected'] = []): CoordinatorStep {
    return { sends: [], rejected, outcome: null, deadlineMs: this.open?.deadlineMs ?? null };
  }

  private failed(round: number, selection: Selection | null, code: RoundError['code'], message: string): CoordinatorStep {
    return { sends: [], rejected: [], outcome: { kind: 'failed', round, selection, error: new RoundError(code, `round ${round}: ${message}`) }, deadlineMs: null };
  }

  private start(nowMs: number, eligible: readonly NodeId[]): CoordinatorStep {
    if (this.open !== null) throw new RoundError(RoundErrorCode.ERR_FL_ROUND_BUSY, `start: round ${this.open.round} is still open`);
    const round = ++this.lastRound;
    const { strategy, selection: rule, minParticipants } = this.options;
    if (this.dp !== null) {
      const { q, noiseMultiplier, ledger } = this.dp;
      const preview = ledger.preview({ q, noiseMultiplier, steps: 1 });
      const budget = ledger.summary().epsilonBudget;
      if (preview.epsilon > budget) return this.failed(round, null, RoundErrorCode.ERR_FL_ROUND_BUDGET, `it would take epsilon to ${preview.epsilon}, over the budget ${budget}; training stops`);
    }
    const selection = selectParticipants(eligible, rule, this.options.random);
    if (selection.selected.length < minParticipants) {
      return this.failed(round, selection, RoundErrorCode.ERR_FL_ROUND_TOO_FEW, `${selection.selected.length} nodes selected of ${selection.eligibleCount}, fewer than minParticipants ${minParticipants}`);
    }
    const deadlineMs = nowMs + this.options.roundDurationMs;
    this.open = { round, selection, selected: new Set(selection.selected), eligible: [...new Set(eligible)], deadlineMs, accepted: new Map() };
    const config: RoundConfig = { kind: 'config', round, modelId: this.model.id, strategy: strategyRecord(strategy), clipNorm: clipNormOf(strategy), deadlineMs };
    return { sends: selection.selected.map((node) => ({ node, message: config })), rejected: [], outcome: null, deadlineMs };
  }

  private receive(nowMs: number, from: NodeId, submission: UpdateSubmission): CoordinatorStep {
    const open = this.open;
    const refusal = this.refusalOf(nowMs, from, submission);
    if (refusal !== null) {
      // An update at or after the deadline also tells us the deadline has passed.
      const late = open !== null && nowMs >= open.deadlineMs;
      return late ? { ...this.finish(nowMs), rejected: [{ from, error: refusal }] } : this.idle([{ from, error: refusal }]);
    }
    open!.accepted.set(from, submission);
    return open!.accepted.size === open!.selected.size ? this.finish(nowMs) : this.idle();
  }

  /** Why `submission` from `from` is refused, or null when it is accepted. */
  private refusalOf(nowMs: number, from: NodeId, submission: UpdateSubmission): RoundError | null {
    const open = this.open;
    const tag = `update from node ${from} for round ${submission.round}`;
    const openRound = open?.round ?? this.lastRound + 1;
    if (submission.round < openRound) {
      const code = open === null && submission.round === this.lastRound ? RoundErrorCode.ERR_FL_ROUND_LATE : RoundErrorCode.ERR_FL_ROUND_STALE;
      return new RoundError(code, `${tag}: ${open === null ? `round ${this.lastRound} has closed` : `round ${open.round} is open`}`);
    }
    if (open === null || submission.round > open.round) return new RoundError(RoundErrorCode.ERR_FL_ROUND_FUTURE, `${tag}: that round has not started (last round ${this.lastRound})`);
    if (!open.selected.has(from)) return new RoundError(RoundErrorCode.ERR_FL_ROUND_NOT_SELECTED, `${tag}: node ${from} was not selected`);
    if (submission.modelId !== this.model.id) return new RoundError(RoundErrorCode.ERR_FL_ROUND_MODEL, `${tag}: model ${submission.modelId.slice(0, 16)}, the round trains ${this.model.id.slice(0, 16)}`);
    if (open.accepted.has(from)) return new RoundError(RoundErrorCode.ERR_FL_ROUND_REPLAY, `${tag}: node ${from} already submitted an update this round`);
    if (nowMs >= open.deadlineMs) return new RoundError(RoundErrorCode.ERR_FL_ROUND_LATE, `${tag}: arrived at ${nowMs}, the deadline was ${open.deadlineMs}`);
    return checkUpdate(tag, submission.update, submission.examples, this.model.parameters.length);
  }

  /** Closes the open round: a new model from the accepted updates, or a clean failure. */
  private finish(nowMs: number): CoordinatorStep {
    const open = this.open!;
    this.open = null;
    const { minParticipants } = this.options;
    if (open.accepted.size < minParticipants) {
      return this.failed(open.round, open.selection, RoundErrorCode.ERR_FL_ROUND_TOO_FEW, `${open.accepted.size} updates accepted of ${open.selected.size} selected, fewer than minParticipants ${minParticipants}`);
    }
    const participants = [...open.accepted.keys()].sort((a, b) => a - b);
    const submissions = participants.map((node) => open.accepted.get(node)!);
    let aggregate: Float32Array;
    try {
      aggregate = this.aggregate(open.selection, submissions);
    } catch (error) {
      if (isDpError(error, 'ERR_DP_BUDGET_EXCEEDED')) return this.failed(open.round, open.selection, RoundErrorCode.ERR_FL_ROUND_BUDGET, error.message);
      if (isAggregationError(error) || isDpError(error)) return this.failed(open.round, open.selection, RoundErrorCode.ERR_FL_ROUND_AGGREGATION, error.message);
      throw error;
    }
    const version = this.release(open.round, participants, aggregate, nowMs);
    const distribution: ModelDistribution = { kind: 'model', version: encodeVersion(version) };
    return {
      sends: open.eligible.map((node) => ({ node, message: distribution })),
      rejected: [],
      outcome: { kind: 'completed', round: open.round, selection: open.selection, version },
      deadlineMs: null,
    };
  }

  /** The rule's aggregate of the accepted updates; with DP-FedAvg the ledger is charged here, before anything is released. */
  private aggregate(selection: Selection, submissions: readonly UpdateSubmission[]): Float32Array {
    const { strategy } = this.options;
    const round = { updates: submissions.map((s) => s.update), examples: submissions.map((s) => s.examples) };
    if (this.dp === null) return aggregateUpdates(strategy, round, null);
    const { q, noiseMultiplier, ledger } = this.dp;
    const aggregate = aggregateUpdates(strategy, round, { expectedClients: q * selection.eligibleCount, sampler: this.sampler });
    ledger.record({ q, noiseMultiplier, steps: 1 });
    return aggregate;
  }

  /** The signed version of the model plus `aggregate`, made current for the next round. */
  private release(round: number, participants: readonly NodeId[], aggregate: Float32Array, nowMs: number): ModelVersion {
    const parameters = this.model.parameters.slice();
    for (let index = 0; index < parameters.length; index++) parameters[index]! += aggregate[index]!;
    const { strategy, keys } = this.options;
    const draft = {
      parentId: this.model.id,
      round,
      participants,
      strategy: strategyRecord(strategy),
      privacy: this.dp?.ledger.summary() ?? null,
      createdAtMs: nowMs,
      modelConfig: this.model.metadata.modelConfig,
      parameters,
    };
    this.model = createVersion(draft, keys);
    return this.model;
  }
}

/** The DP side of a run: the sampling rate and noise the ledger is charged with. */
interface DpRun {
  readonly q: number;
  readonly noiseMultiplier: number;
  readonly ledger: PrivacyLedger;
}

/** The relationships between the options, checked once; returns the DP side of the run, or null without DP. */
function checkOptions(options: CoordinatorOptions): DpRun | null {
  const { strategy, selection, minParticipants, roundDurationMs, ledger } = options;
  checkSelectionRule(selection);
  const fail = (message: string): never => {
    throw new RoundError(RoundErrorCode.ERR_FL_ROUND_CONFIG, `RoundCoordinator: ${message}`);
  };
  if (!Number.isInteger(minParticipants) || minParticipants < 1 || minParticipants > participantsMax) fail(`expected minParticipants an integer in 1..${participantsMax}, got ${minParticipants}`);
  const ruleMinimum = ruleMinimumClients(strategy);
  if (minParticipants < ruleMinimum) fail(`${strategy.name} needs at least ${ruleMinimum} updates, minParticipants is ${minParticipants}`);
  if (!Number.isInteger(roundDurationMs) || roundDurationMs < 1 || roundDurationMs > roundDurationMsMax) fail(`expected roundDurationMs an integer in 1..${roundDurationMsMax}, got ${roundDurationMs}`);
  if (strategy.name !== 'dpFedAvg') {
    // A ledger would record a privacy summary for a model that has no DP guarantee at all.
    if (ledger !== undefined) fail(`a privacy ledger is only for dpFedAvg, the strategy is ${strategy.name}`);
    return null;
  }
  if (selection.kind !== 'poisson') return fail('DP-FedAvg needs Poisson selection (the accountant assumes independent inclusion with probability q)');
  if (ledger === undefined) return fail('DP-FedAvg needs a privacy ledger');
  return { q: selection.q, noiseMultiplier: strategy.noiseMultiplier, ledger };
}
