/**
 * Drivers that run the round state machines over the mesh: each joins a state machine
 * (RoundCoordinator or RoundParticipant), the wire encodings (wire.ts) and a bulk transfer
 * endpoint (transfer.ts). They are sans-IO too: the node (daemon or twin) hands them the
 * end-to-end datagrams the mesh delivered with datagram id `roundDatagramId`, together with the
 * sender the secure channel authenticated, and ticks at `nextDeadlineMs`; it sends the
 * datagrams they return to their nodes with that id, trains when asked, and installs the
 * verified models they report in its registry.
 */
import type { RegistryError } from '../registry/errors.js';
import type { ModelVersion } from '../registry/version.js';
import type { NodeId } from '../../wire/ids.js';
import type { RoundCoordinator, CoordinatorStep, RoundOutcome } from './coordinator.js';
import { isRoundError, RoundError, RoundErrorCode } from './errors.js';
import type { RoundParticipant, ParticipantStep, TrainRequest } from './participant.js';
import type { TransferEndpoint, TransferInput, TransferStep } from './transfer.js';
import { checkSender, decodeRoundMessage, encodeDistribution, encodeRoundConfig, encodeUpdateSubmission, type WireRoundMessage } from './wire.js';

/** The end-to-end datagram id of round transfer datagrams ("FLRT"): the node hands datagrams with this id to its driver. */
export const roundDatagramId = 0x464c_5254;

/** What one call of a driver produced, besides what is particular to its role. */
export interface DriverStep {
  /** Datagrams to send end to end, with id roundDatagramId. */
  readonly datagrams: { readonly node: NodeId; readonly bytes: Uint8Array }[];
  /** Messages and datagrams refused, with the node that sent them. */
  readonly rejected: { readonly from: NodeId; readonly error: RoundError | RegistryError }[];
  /** Messages given up (the receiver refused, or the transfer deadline passed). */
  readonly failed: { readonly node: NodeId; readonly error: RoundError }[];
  /** When to call tick next. */
  readonly nextDeadlineMs: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** What the transfer delivered, decoded, or the refusal. */
function decoded(from: NodeId, message: Uint8Array, step: Mutable<DriverStep>): WireRoundMessage | null {
  try {
    return decodeRoundMessage(message);
  } catch (error) {
    if (!isRoundError(error)) throw error;
    step.rejected.push({ from, error });
    return null;
  }
}

/** The shared half of both drivers: a transfer endpoint whose output is gathered into a step. */
abstract class TransferDriver<S extends DriverStep> {
  private transferDeadlineMs = Infinity;

  constructor(protected readonly transfer: TransferEndpoint) {}

  /** A fresh step of this driver's kind. */
  protected abstract emptyStep(): Mutable<S>;
  /** Handles one message the transfer delivered. */
  protected abstract onMessage(nowMs: number, from: NodeId, message: WireRoundMessage, step: Mutable<S>): void;
  /** The state machine's own deadline (Infinity when none). */
  protected abstract ownDeadlineMs(): number;

  /** Sends `message` (an encoded round message) to `node` through the transfer. */
  protected send(nowMs: number, node: NodeId, message: Uint8Array, step: Mutable<S>): void {
    this.gather(nowMs, { kind: 'send', node, message }, step);
  }

  /** Hands `input` to the transfer and gathers its output into `step`, handling each message it delivered. */
  protected gather(nowMs: number, input: TransferInput, step: Mutable<S>): void {
    const transferStep: TransferStep = this.transfer.handle(nowMs, input);
    this.transferDeadlineMs = transferStep.nextDeadlineMs;
    step.datagrams.push(...transferStep.datagrams);
    step.rejected.push(...transferStep.refused);
    step.failed.push(...transferStep.failed.map(({ node, error }) => ({ node, error })));
    for (const { from, message } of transferStep.delivered) {
      const wire = decoded(from, message, step);
      if (wire !== null) this.onMessage(nowMs, from, wire, step);
    }
  }

  /** Handles an end-to-end datagram with id roundDatagramId from the authenticated node `from`. */
  datagram(nowMs: number, from: NodeId, bytes: Uint8Array): S {
    const step = this.emptyStep();
    this.gather(nowMs, { kind: 'datagram', from, bytes }, step);
    return this.finish(step);
  }

  /** Sends raw message bytes to `node` (a relay, or a test that replays an old message). */
  sendMessage(nowMs: number, node: NodeId, message: Uint8Array): S {
    const step = this.emptyStep();
    this.send(nowMs, node, message, step);
    return this.finish(step);
  }

  /** `step` with the driver's next deadline: the transfer's or the state machine's, whichever comes first. */
  protected finish(step: Mutable<S>): S {
    step.nextDeadlineMs = Math.min(this.transferDeadlineMs, this.ownDeadlineMs());
    return step;
  }
}

/** What a coordinator driver step adds: the round's outcome when it ended. */
export interface CoordinatorDriverStep extends DriverStep {
  readonly outcome: RoundOutcome | null;
}

/** Runs a RoundCoordinator over the mesh. */
export class CoordinatorDriver extends TransferDriver<CoordinatorDriverStep> {
  private roundDeadlineMs = Infinity;

  /** A driver of `coordinator` sending through `transfer`. */
  constructor(
    readonly coordinator: RoundCoordinator,
    transfer: TransferEndpoint,
  ) {
    super(transfer);
  }

  protected emptyStep(): Mutable<CoordinatorDriverStep> {
    return { datagrams: [], rejected: [], failed: [], outcome: null, nextDeadlineMs: Infinity };
  }

  protected ownDeadlineMs(): number {
    return this.roundDeadlineMs;
  }

  /** Starts a round among `eligible`: the configuration goes to each selected node. */
  start(nowMs: number, eligible: readonly NodeId[]): CoordinatorDriverStep {
    const step = this.emptyStep();
    this.apply(nowMs, this.coordinator.handle(nowMs, { kind: 'start', eligible }), step);
    return this.finish(step);
  }

  /** Retransmits, times out transfers, and closes the round at its deadline. */
  tick(nowMs: number): CoordinatorDriverStep {
    const step = this.emptyStep();
    this.gather(nowMs, { kind: 'tick' }, step);
    if (nowMs >= this.roundDeadlineMs) this.apply(nowMs, this.coordinator.handle(nowMs, { kind: 'tick' }), step);
    return this.finish(step);
  }

  protected onMessage(nowMs: number, from: NodeId, message: WireRoundMessage, step: Mutable<CoordinatorDriverStep>): void {
    if (!('participant' in message)) {
      step.rejected.push({ from, error: new RoundError(RoundErrorCode.ERR_FL_ROUND_FORMAT, `node ${from} sent a ${message.kind} message to the coordinator`) });
      return;
    }
    let submission;
    try {
      submission = checkSender(message, from);
    } catch (error) {
      step.rejected.push({ from, error: error as RoundError });
      return;
    }
    this.apply(nowMs, this.coordinator.handle(nowMs, { kind: 'update', from, submission }), step);
  }

  private apply(nowMs: number, coordinatorStep: CoordinatorStep, step: Mutable<CoordinatorDriverStep>): void {
    this.roundDeadlineMs = coordinatorStep.deadlineMs ?? Infinity;
    step.rejected.push(...coordinatorStep.rejected);
    step.outcome ??= coordinatorStep.outcome;
    // The distribution is the same bytes for every node: encode it once.
    const encoded = new Map<object, Uint8Array>();
    for (const { node, message } of coordinatorStep.sends) {
      let bytes = encoded.get(message);
      if (bytes === undefined) {
        bytes = message.kind === 'config' ? encodeRoundConfig(message) : encodeDistribution(message);
        encoded.set(message, bytes);
      }
      this.send(nowMs, node, bytes, step);
    }
  }
}

/** What a participant driver step adds: training to do and models to install. */
export interface ParticipantDriverStep extends DriverStep {
  readonly train: TrainRequest[];
  /** Verified models; the node installs each in its registry. */
  readonly install: ModelVersion[];
}

/** Runs a RoundParticipant over the mesh, taking configurations and models from one coordinator only. */
export class ParticipantDriver extends TransferDriver<ParticipantDriverStep> {
  /** A driver of `participant` (node `self`) that answers `coordinatorNode`, through `transfer`. */
  constructor(
    readonly participant: RoundParticipant,
    transfer: TransferEndpoint,
    private readonly self: NodeId,
    private readonly coordinatorNode: NodeId,
  ) {
    super(transfer);
  }

  protected emptyStep(): Mutable<ParticipantDriverStep> {
    return { datagrams: [], rejected: [], failed: [], train: [], install: [], nextDeadlineMs: Infinity };
  }

  protected ownDeadlineMs(): number {
    return Infinity;
  }

  /** Retransmits and times out transfers. */
  tick(nowMs: number): ParticipantDriverStep {
    const step = this.emptyStep();
    this.gather(nowMs, { kind: 'tick' }, step);
    return this.finish(step);
  }

  /** The result of a training request: the update is submitted to the coordinator if the participant accepts it. */
  trained(nowMs: number, round: number, update: Float32Array, examples: number): ParticipantDriverStep {
    const step = this.emptyStep();
    // A refusal here (training finished after the deadline, a malformed update) is this node's own.
    this.apply(nowMs, this.participant.handle(nowMs, { kind: 'trained', round, update, examples }), this.self, step);
    return this.finish(step);
  }

  protected onMessage(nowMs: number, from: NodeId, message: WireRoundMessage, step: Mutable<ParticipantDriverStep>): void {
    if (from !== this.coordinatorNode) {
      step.rejected.push({ from, error: new RoundError(RoundErrorCode.ERR_FL_ROUND_SENDER, `node ${this.self}: a round message from node ${from}, the coordinator is node ${this.coordinatorNode}`) });
      return;
    }
    if ('participant' in message) {
      step.rejected.push({ from, error: new RoundError(RoundErrorCode.ERR_FL_ROUND_FORMAT, `node ${this.self}: an update sent to a participant`) });
      return;
    }
    const input = message.kind === 'config' ? { kind: 'config' as const, config: message } : { kind: 'model' as const, distribution: message };
    this.apply(nowMs, this.participant.handle(nowMs, input), from, step);
  }

  private apply(nowMs: number, participantStep: ParticipantStep, from: NodeId, step: Mutable<ParticipantDriverStep>): void {
    if (participantStep.refused !== null) step.rejected.push({ from, error: participantStep.refused });
    if (participantStep.train !== null) step.train.push(participantStep.train);
    if (participantStep.install !== null) step.install.push(participantStep.install);
    if (participantStep.submit !== null) this.send(nowMs, this.coordinatorNode, encodeUpdateSubmission(this.self, participantStep.submit), step);
  }
}
