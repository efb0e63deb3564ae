/**
 * A participant of federated rounds, as a sans-IO state machine. It answers a round
 * configuration for the model it has installed with a training request for its driver (the
 * driver trains the detector on local data and feeds the result back), sends the update tagged
 * with the round and model id before the deadline, and verifies every distributed model
 * (hashes, aggregator signature, parent = its current model) before reporting it installable.
 * The driver installs accepted versions in the node's registry, which checks them again.
 */
import { decodeVersion, type ModelVersion } from '../registry/version.js';
import { isRegistryError, type RegistryError } from '../registry/errors.js';
import type { AggregatorTrust } from '../registry/signing.js';
import { verifyVersion } from '../registry/verify.js';
import type { NodeId } from '../../wire/ids.js';
import { RoundError, RoundErrorCode } from './errors.js';
import type { ModelDistribution, RoundConfig, UpdateSubmission } from './messages.js';
import { checkUpdate } from './update-check.js';

/** What a participant needs to know. */
export interface ParticipantOptions {
  readonly self: NodeId;
  /** The aggregator keys it accepts models from. */
  readonly trust: AggregatorTrust;
  /** The model installed now (null before the first one arrives). */
  readonly current: ModelVersion | null;
}

/** What drives a participant. */
export type ParticipantInput =
  | { readonly kind: 'config'; readonly config: RoundConfig }
  | { readonly kind: 'trained'; readonly round: number; readonly update: Float32Array; readonly examples: number }
  | { readonly kind: 'model'; readonly distribution: ModelDistribution };

/** Ask the driver to train: start from `parameters` (a copy of the round's model), report the difference. */
export interface TrainRequest {
  readonly round: number;
  readonly parameters: Float32Array;
  readonly clipNorm: number | null;
  readonly deadlineMs: number;
}

/** What one call of `handle` produced. */
export interface ParticipantStep {
  /** The update to send to the coordinator, if one is ready. */
  readonly submit: UpdateSubmission | null;
  readonly train: TrainRequest | null;
  /** A verified model the driver should install now. */
  readonly install: ModelVersion | null;
  /** Why the input was refused, or null. */
  readonly refused: RoundError | RegistryError | null;
}

const nothing: ParticipantStep = { submit: null, train: null, install: null, refused: null };

/** The participant state machine; see the module comment. */
export class RoundParticipant {
  private model: ModelVersion | null;
  private lastRound = -1;
  private task: RoundConfig | null = null;

  /** A participant with `options.current` installed. */
  constructor(private readonly options: ParticipantOptions) {
    this.model = options.current;
  }

  /** The model it has installed. */
  get current(): ModelVersion | null {
    return this.model;
  }

  /** Advances the state machine by one input at time `nowMs`. */
  handle(nowMs: number, input: ParticipantInput): ParticipantStep {
    switch (input.kind) {
      case 'config':
        return this.configure(nowMs, input.config);
      case 'trained':
        return this.submit(nowMs, input.round, input.update, input.examples);
      case 'model':
        return this.receiveModel(input.distribution);
    }
  }

  private refuse(code: RoundError['code'], message: string): ParticipantStep {
    return { ...nothing, refused: new RoundError(code, `node ${this.options.self}: ${message}`) };
  }

  private configure(nowMs: number, config: RoundConfig): ParticipantStep {
    if (config.round <= this.lastRound) return this.refuse(RoundErrorCode.ERR_FL_ROUND_STALE, `configuration for round ${config.round}, already saw round ${this.lastRound}`);
    if (this.model === null || config.modelId !== this.model.id) {
      const have = this.model === null ? 'none' : this.model.id.slice(0, 16);
      return this.refuse(RoundErrorCode.ERR_FL_ROUND_MODEL, `round ${config.round} trains model ${config.modelId.slice(0, 16)}, installed here: ${have}`);
    }
    if (nowMs >= config.deadlineMs) return this.refuse(RoundErrorCode.ERR_FL_ROUND_LATE, `configuration for round ${config.round} arrived at ${nowMs}, after its deadline ${config.deadlineMs}`);
    this.lastRound = config.round;
    this.task = config;
    return { ...nothing, train: { round: config.round, parameters: this.model.parameters.slice(), clipNorm: config.clipNorm, deadlineMs: config.deadlineMs } };
  }

  private submit(nowMs: number, round: number, update: Float32Array, examples: number): ParticipantStep {
    const task = this.task;
    if (task === null || task.round !== round) return this.refuse(RoundErrorCode.ERR_FL_ROUND_STALE, `trained for round ${round}, no such round is open here`);
    this.task = null;
    if (nowMs >= task.deadlineMs) return this.refuse(RoundErrorCode.ERR_FL_ROUND_LATE, `update for round ${round} ready at ${nowMs}, after the deadline ${task.deadlineMs}`);
    const refusal = checkUpdate(`node ${this.options.self}: update for round ${round}`, update, examples, this.model!.parameters.length);
    if (refusal !== null) return { ...nothing, refused: refusal };
    return { ...nothing, submit: { kind: 'update', round, modelId: task.modelId, update, examples } };
  }

  private receiveModel(distribution: ModelDistribution): ParticipantStep {
    try {
      const version = decodeVersion(distribution.version);
      verifyVersion(version, this.options.trust, this.model);
      this.model = version;
      // A round configured for the old model can no longer produce a useful update.
      this.task = null;
      return { ...nothing, install: version };
    } catch (error) {
      if (isRegistryError(error)) return { ...nothing, refused: error };
      throw error;
    }
  }
}
