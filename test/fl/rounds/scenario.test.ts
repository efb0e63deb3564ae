/**
 * Rounds over a lossy, reordering network in one process, from a seed: the coordinator, twelve
 * participants, and a model registry on every node. Updates are dropped, delayed past the
 * deadline or delivered twice at random; the invariants are checked after every round.
 */
import { describe, expect, it } from 'vitest';
import { seededNoiseSource } from '../../../src/fl/dp/noise.js';
import { uniformBelow } from '../../../src/fl/secagg/random.js';
import { RoundCoordinator, type CoordinatorStep, type RoundOutcome } from '../../../src/fl/rounds/coordinator.js';
import type { UpdateSubmission } from '../../../src/fl/rounds/messages.js';
import { ModelRegistry } from '../../../src/fl/registry/registry.js';
import { MemoryStore } from '../../../src/fl/registry/store.js';
import { decodeVersion } from '../../../src/fl/registry/version.js';
import type { NodeId } from '../../../src/wire/ids.js';
import { trust } from '../registry/fixtures.js';
import { coordinatorOptions, genesis, participantsFor, updateOf } from './harness.js';

interface Delivery {
  readonly atMs: number;
  readonly from: NodeId;
  readonly submission: UpdateSubmission;
}

function runScenario(seed: string, rounds: number): { outcomes: RoundOutcome[]; registries: Map<NodeId, ModelRegistry>; coordinator: RoundCoordinator } {
  const network = seededNoiseSource(`network ${seed}`);
  const ids = Array.from({ length: 12 }, (_, index) => index + 1);
  const participants = participantsFor(ids);
  const registries = new Map(ids.map((id) => [id as NodeId, ModelRegistry.open(new MemoryStore(), trust)]));
  for (const registry of registries.values()) registry.install(genesis, 0);
  const coordinator = new RoundCoordinator(coordinatorOptions({ selection: { kind: 'fixed', size: 6 }, minParticipants: 3, random: seededNoiseSource(`select ${seed}`) }), genesis);
  const outcomes: RoundOutcome[] = [];
  for (let round = 0; round < rounds; round++) {
    const startMs = round * 100_000;
    const start = coordinator.handle(startMs, { kind: 'start', eligible: [...participants.keys()] });
    const deliveries: Delivery[] = [];
    for (const { node, message } of start.sends) {
      if (message.kind !== 'config') continue;
      const participant = participants.get(node)!;
      const train = participant.handle(startMs + 1, { kind: 'config', config: message }).train!;
      const submit = participant.handle(startMs + 2, { kind: 'trained', round: train.round, update: updateOf(node, train.parameters.length), examples: 1 }).submit!;
      // 0: lost, 1: after the deadline, 2: twice, 3..5: once, on time.
      const fate = uniformBelow(network, 6);
      const atMs = startMs + (fate === 1 ? 20_000 : 1 + uniformBelow(network, 9_000));
      if (fate !== 0) deliveries.push({ atMs, from: node, submission: submit });
      if (fate === 2) deliveries.push({ atMs: atMs + 1, from: node, submission: submit });
    }
    const distribute = (step: CoordinatorStep, atMs: number): void => {
      for (const { node, message } of step.sends) {
        if (message.kind !== 'model') continue;
        const installed = participants.get(node)!.handle(atMs, { kind: 'model', distribution: message }).install!;
        registries.get(node)!.install(decodeVersion(message.version), atMs);
        expect(installed.id).toBe(registries.get(node)!.current()!.id);
      }
    };
    let outcome: RoundOutcome | null = start.outcome;
    for (const delivery of deliveries.sort((a, b) => a.atMs - b.atMs || a.from - b.from)) {
      const step = coordinator.handle(delivery.atMs, { kind: 'update', from: delivery.from, submission: delivery.submission });
      for (const { error } of step.rejected) expect(['ERR_FL_ROUND_REPLAY', 'ERR_FL_ROUND_LATE', 'ERR_FL_ROUND_STALE']).toContain(error.code);
      outcome ??= step.outcome;
      distribute(step, delivery.atMs);
    }
    if (outcome === null) {
      const end = coordinator.handle(startMs + 10_000, { kind: 'tick' });
      distribute(end, startMs + 10_000);
      outcome = end.outcome;
    }
    outcomes.push(outcome!);
  }
  return { outcomes, registries, coordinator };
}

describe('rounds over a lossy network', () => {
  it('keep every node on the coordinator\'s model, with a verified chain, whatever is lost or replayed', () => {
    for (const seed of ['a', 'b', 'c']) {
      const { outcomes, registries, coordinator } = runScenario(seed, 6);
      const completed = outcomes.filter((outcome) => outcome.kind === 'completed');
      expect(completed.length).toBeGreaterThan(0);
      for (const outcome of outcomes) {
        if (outcome.kind === 'failed') expect(outcome.error.code).toBe('ERR_FL_ROUND_TOO_FEW');
        else expect(outcome.version.metadata.participants.length).toBeGreaterThanOrEqual(3);
      }
      for (const registry of registries.values()) {
        expect(registry.current()!.id).toBe(coordinator.current.id);
        expect(registry.list()).toHaveLength(completed.length + 1);
      }
    }
  });

  it('is deterministic: the same seed gives the same models', () => {
    const ids = (seed: string): string[] => runScenario(seed, 4).outcomes.map((outcome) => (outcome.kind === 'completed' ? outcome.version.id : outcome.error.code));
    expect(ids('d')).toEqual(ids('d'));
  });
});
