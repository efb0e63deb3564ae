/** A small in-process driver for the round tests: one coordinator, participants, a node registry each, no clock but the one passed in. */
import { seededNoiseSource } from '../../../src/fl/dp/noise.js';
import { PrivacyLedger } from '../../../src/fl/dp/ledger.js';
import { RoundCoordinator, type CoordinatorOptions, type CoordinatorStep } from '../../../src/fl/rounds/coordinator.js';
import type { RoundConfig, UpdateSubmission } from '../../../src/fl/rounds/messages.js';
import { RoundParticipant } from '../../../src/fl/rounds/participant.js';
import type { ModelVersion } from '../../../src/fl/registry/version.js';
import type { NodeId } from '../../../src/wire/ids.js';
import { aggregator, chain, trust } from '../registry/fixtures.js';

export const [genesis] = chain(1) as [ModelVersion];

export function coordinatorOptions(overrides: Partial<CoordinatorOptions> = {}): CoordinatorOptions {
  return {
    keys: aggregator,
    strategy: { name: 'fedAvg' },
    selection: { kind: 'fixed', size: 5 },
    minParticipants: 3,
    roundDurationMs: 10_000,
    random: seededNoiseSource('rounds'),
    ...overrides,
  };
}

export function dpOptions(epsilonBudget: number, overrides: Partial<CoordinatorOptions> = {}): CoordinatorOptions {
  return coordinatorOptions({
    strategy: { name: 'dpFedAvg', clipNorm: 1, noiseMultiplier: 1.2 },
    selection: { kind: 'poisson', q: 0.5 },
    minParticipants: 2,
    ledger: new PrivacyLedger({ epsilonBudget, delta: 1e-5 }),
    ...overrides,
  });
}

/** The update node `node` sends: every coordinate node / 100. */
export function updateOf(node: NodeId, length: number): Float32Array {
  return new Float32Array(length).fill(node / 100);
}

export function submission(config: RoundConfig, update: Float32Array, examples = 1): UpdateSubmission {
  return { kind: 'update', round: config.round, modelId: config.modelId, update, examples };
}

/** The configuration sent to `node` in `step`. */
export function configFor(step: CoordinatorStep, node?: NodeId): RoundConfig {
  const send = step.sends.find((entry) => node === undefined || entry.node === node);
  if (send?.message.kind !== 'config') throw new Error(`no configuration for node ${node}`);
  return send.message;
}

/** Runs one round end to end through real participants: each selected node trains (updateOf) and submits at `atMs`. */
export function driveRound(coordinator: RoundCoordinator, participants: Map<NodeId, RoundParticipant>, startMs: number): CoordinatorStep[] {
  const steps = [coordinator.handle(startMs, { kind: 'start', eligible: [...participants.keys()] })];
  for (const { node, message } of steps[0]!.sends) {
    if (message.kind !== 'config') continue;
    const participant = participants.get(node)!;
    const train = participant.handle(startMs + 1, { kind: 'config', config: message }).train!;
    const trained = participant.handle(startMs + 2, { kind: 'trained', round: train.round, update: updateOf(node, train.parameters.length), examples: node });
    steps.push(coordinator.handle(startMs + 3, { kind: 'update', from: node, submission: trained.submit! }));
  }
  return steps;
}

export function participantsFor(ids: readonly number[], current: ModelVersion | null = genesis): Map<NodeId, RoundParticipant> {
  return new Map(ids.map((id) => [id as NodeId, new RoundParticipant({ self: id as NodeId, trust, current })]));
}
