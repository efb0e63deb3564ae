import { describe, expect, it } from 'vitest';
import { PrivacyLedger } from '../../../src/fl/dp/ledger.js';
import { seededNoiseSource } from '../../../src/fl/dp/noise.js';
import { RoundCoordinator, type CoordinatorStep } from '../../../src/fl/rounds/coordinator.js';
import { isRoundError, type RoundErrorCodeValue } from '../../../src/fl/rounds/errors.js';
import { ModelRegistry } from '../../../src/fl/registry/registry.js';
import { MemoryStore } from '../../../src/fl/registry/store.js';
import { decodeVersion } from '../../../src/fl/registry/version.js';
import { verifyVersion } from '../../../src/fl/registry/verify.js';
import type { NodeId } from '../../../src/wire/ids.js';
import { chain, trust } from '../registry/fixtures.js';
import { configFor, coordinatorOptions, dpOptions, driveRound, genesis, participantsFor, submission, updateOf } from './harness.js';

const eligible = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] as NodeId[];

function startedRound(options = coordinatorOptions()): { coordinator: RoundCoordinator; step: CoordinatorStep; selected: NodeId[] } {
  const coordinator = new RoundCoordinator(options, genesis);
  const step = coordinator.handle(0, { kind: 'start', eligible });
  return { coordinator, step, selected: step.sends.map((send) => send.node) };
}

function rejection(step: CoordinatorStep): RoundErrorCodeValue | undefined {
  return step.rejected[0]?.error.code;
}

describe('the round coordinator', () => {
  it('runs a round: configurations to the selected nodes, updates in, a signed model out to every node', () => {
    const registry = ModelRegistry.open(new MemoryStore(), trust);
    registry.install(genesis, 0);
    const coordinator = new RoundCoordinator(coordinatorOptions(), genesis);
    const participants = participantsFor(eligible);
    const steps = driveRound(coordinator, participants, 1000);
    const [start, ...updates] = steps;
    expect(start!.deadlineMs).toBe(11_000);
    expect(start!.sends).toHaveLength(5);
    const config = configFor(start!);
    expect(config).toMatchObject({ kind: 'config', round: 1, modelId: genesis.id, strategy: { name: 'fedAvg', params: {} }, clipNorm: null, deadlineMs: 11_000 });
    expect(updates.slice(0, -1).every((step) => step.outcome === null && step.deadlineMs === 11_000)).toBe(true);
    const last = updates.at(-1)!;
    expect(last.outcome?.kind).toBe('completed');
    if (last.outcome?.kind !== 'completed') return;
    const { version } = last.outcome;
    const selected = start!.sends.map((send) => send.node);
    expect(version.metadata).toMatchObject({ parentId: genesis.id, round: 1, participants: selected, strategy: { name: 'fedAvg' }, privacy: null, createdAtMs: 1003 });
    const weights = selected.reduce((sum, node) => sum + node, 0);
    const expectedDelta = selected.reduce((sum, node) => sum + (node / 100) * node, 0) / weights;
    expect(version.parameters[5]).toBeCloseTo(genesis.parameters[5]! + expectedDelta, 5);
    expect(last.sends.map((send) => send.node)).toEqual(eligible);
    expect(last.deadlineMs).toBeNull();
    const distribution = last.sends[0]!.message;
    if (distribution.kind !== 'model') throw new Error('expected the model');
    for (const participant of participants.values()) expect(participant.handle(1004, { kind: 'model', distribution }).install?.id).toBe(version.id);
    registry.install(decodeVersion(distribution.version), 1004);
    expect(registry.current()?.id).toBe(version.id);
    expect(coordinator.current).toBe(version);
    const next = driveRound(coordinator, participants, 20_000);
    const outcome = next.at(-1)!.outcome;
    expect(outcome?.kind === 'completed' && outcome.version.metadata.round).toBe(2);
    expect(outcome?.kind === 'completed' && verifyVersion(outcome.version, trust, version)).toBe(0);
  });

  it('rejects stale, replayed, wrong-model, unselected, future, wrong-length and non-finite updates by name', () => {
    const { coordinator, step, selected } = startedRound();
    const config = configFor(step);
    const [a, b] = selected as [NodeId, NodeId];
    const unselected = eligible.find((node) => !selected.includes(node))!;
    const length = genesis.parameters.length;
    const cases: [NodeId, ReturnType<typeof submission>, RoundErrorCodeValue][] = [
      [a, { ...submission(config, updateOf(a, length)), round: 0 }, 'ERR_FL_ROUND_STALE'],
      [a, { ...submission(config, updateOf(a, length)), round: 2 }, 'ERR_FL_ROUND_FUTURE'],
      [a, { ...submission(config, updateOf(a, length)), modelId: chain(2)[1]!.id }, 'ERR_FL_ROUND_MODEL'],
      [unselected, submission(config, updateOf(unselected, length)), 'ERR_FL_ROUND_NOT_SELECTED'],
      [a, submission(config, updateOf(a, length - 1)), 'ERR_FL_ROUND_LENGTH'],
      [a, submission(config, new Float32Array(length).fill(Number.POSITIVE_INFINITY)), 'ERR_FL_ROUND_NON_FINITE'],
      [a, submission(config, updateOf(a, length), 0), 'ERR_FL_ROUND_EXAMPLES'],
    ];
    for (const [from, message, code] of cases) {
      const answer = coordinator.handle(5, { kind: 'update', from, submission: message });
      expect(rejection(answer), code).toBe(code);
      expect(answer.rejected[0]!.from).toBe(from);
      expect(answer.outcome).toBeNull();
    }
    expect(coordinator.handle(5, { kind: 'update', from: a, submission: submission(config, updateOf(a, length)) }).rejected).toEqual([]);
    const replay = coordinator.handle(6, { kind: 'update', from: a, submission: submission(config, updateOf(b, length)) });
    expect(replay.rejected[0]?.error.message).toMatch(/already submitted an update this round/);
    expect(rejection(replay)).toBe('ERR_FL_ROUND_REPLAY');
  });

  it('fails a round below the minimum cleanly at the deadline, without a model, and rejects what comes late', () => {
    const { coordinator, step, selected } = startedRound();
    const config = configFor(step);
    const length = genesis.parameters.length;
    for (const node of selected.slice(0, 2)) coordinator.handle(10, { kind: 'update', from: node, submission: submission(config, updateOf(node, length)) });
    expect(coordinator.handle(9_999, { kind: 'tick' })).toEqual({ sends: [], rejected: [], outcome: null, deadlineMs: 10_000 });
    const end = coordinator.handle(10_000, { kind: 'tick' });
    expect(end.outcome).toMatchObject({ kind: 'failed', round: 1 });
    expect(end.outcome?.kind === 'failed' && end.outcome.error.code).toBe('ERR_FL_ROUND_TOO_FEW');
    expect(end.outcome?.kind === 'failed' && end.outcome.error.message).toMatch(/round 1: 2 updates accepted of 5 selected, fewer than minParticipants 3/);
    expect(end.sends).toEqual([]);
    expect(coordinator.current).toBe(genesis);
    const late = coordinator.handle(10_001, { kind: 'update', from: selected[3]!, submission: submission(config, updateOf(selected[3]!, length)) });
    expect(rejection(late)).toBe('ERR_FL_ROUND_LATE');
    expect(late.deadlineMs).toBeNull();
    expect(coordinator.handle(10_002, { kind: 'tick' }).outcome).toBeNull();
    const next = coordinator.handle(20_000, { kind: 'start', eligible });
    expect(configFor(next).round).toBe(2);
    const stale = coordinator.handle(20_001, { kind: 'update', from: selected[3]!, submission: submission(config, updateOf(selected[3]!, length)) });
    expect(rejection(stale)).toBe('ERR_FL_ROUND_STALE');
  });

  it('closes the round when an update arrives at or after the deadline', () => {
    const { coordinator, step, selected } = startedRound();
    const config = configFor(step);
    const length = genesis.parameters.length;
    for (const node of selected.slice(0, 3)) coordinator.handle(10, { kind: 'update', from: node, submission: submission(config, updateOf(node, length)) });
    const late = coordinator.handle(10_000, { kind: 'update', from: selected[4]!, submission: submission(config, updateOf(selected[4]!, length)) });
    expect(rejection(late)).toBe('ERR_FL_ROUND_LATE');
    expect(late.outcome?.kind === 'completed' && late.outcome.version.metadata.participants).toEqual(selected.slice(0, 3));
  });

  it('fails at once when fewer nodes are selected than the minimum, and refuses a start while a round is open', () => {
    const coordinator = new RoundCoordinator(coordinatorOptions(), genesis);
    const step = coordinator.handle(0, { kind: 'start', eligible: eligible.slice(0, 2) });
    expect(step.outcome?.kind === 'failed' && step.outcome.error.message).toMatch(/2 nodes selected of 2, fewer than minParticipants 3/);
    expect(step.sends).toEqual([]);
    coordinator.handle(1, { kind: 'start', eligible });
    expect(() => coordinator.handle(2, { kind: 'start', eligible })).toThrow(/start: round 2 is still open/);
    expect(() => coordinator.adopt(genesis)).toThrow(/adopt: round 2 is open/);
    const future = coordinator.handle(3, { kind: 'update', from: 1 as NodeId, submission: { kind: 'update', round: 9, modelId: genesis.id, update: new Float32Array(1), examples: 1 } });
    expect(rejection(future)).toBe('ERR_FL_ROUND_FUTURE');
  });

  it('rejects updates when no round has started', () => {
    const coordinator = new RoundCoordinator(coordinatorOptions(), genesis);
    const early = coordinator.handle(0, { kind: 'update', from: 1 as NodeId, submission: { kind: 'update', round: 1, modelId: genesis.id, update: new Float32Array(1), examples: 1 } });
    expect(early.rejected[0]?.error.message).toMatch(/that round has not started \(last round 0\)/);
    expect(rejection(coordinator.handle(0, { kind: 'update', from: 1 as NodeId, submission: { kind: 'update', round: 0, modelId: genesis.id, update: new Float32Array(1), examples: 1 } }))).toBe('ERR_FL_ROUND_LATE');
    expect(coordinator.handle(0, { kind: 'tick' }).deadlineMs).toBeNull();
  });

  it('adopts a rolled-back model for the next round without reusing round numbers', () => {
    const coordinator = new RoundCoordinator(coordinatorOptions(), genesis);
    driveRound(coordinator, participantsFor(eligible), 0);
    expect(coordinator.current.metadata.round).toBe(1);
    coordinator.adopt(genesis);
    expect(coordinator.current).toBe(genesis);
    const step = coordinator.handle(100, { kind: 'start', eligible });
    expect(configFor(step)).toMatchObject({ round: 2, modelId: genesis.id });
  });

  it('turns a rule that refuses the updates into a failed round', () => {
    const options = coordinatorOptions({ strategy: { name: 'trimmedMean', beta: 0.7 } });
    const steps = driveRound(new RoundCoordinator(options, genesis), participantsFor(eligible), 0);
    const outcome = steps.at(-1)!.outcome;
    expect(outcome?.kind === 'failed' && outcome.error.code).toBe('ERR_FL_ROUND_AGGREGATION');
  });

  it('refuses options that cannot work together', () => {
    const ledger = new PrivacyLedger({ epsilonBudget: 1, delta: 1e-5 });
    const cases: [Parameters<typeof coordinatorOptions>[0], RegExp][] = [
      [{ minParticipants: 0 }, /minParticipants an integer in 1..1024, got 0/],
      [{ minParticipants: 2.5 }, /minParticipants/],
      [{ strategy: { name: 'krum', f: 1 }, minParticipants: 4 }, /krum needs at least 5 updates, minParticipants is 4/],
      [{ roundDurationMs: 0 }, /roundDurationMs an integer in 1..86400000, got 0/],
      [{ selection: { kind: 'poisson', q: 2 } }, /expected q in \(0, 1\]/],
      [{ strategy: { name: 'dpFedAvg', clipNorm: 1, noiseMultiplier: 1 } }, /DP-FedAvg needs Poisson selection/],
      [{ strategy: { name: 'dpFedAvg', clipNorm: 1, noiseMultiplier: 1 }, selection: { kind: 'poisson', q: 0.1 } }, /DP-FedAvg needs a privacy ledger/],
      [{ ledger }, /a privacy ledger is only for dpFedAvg, the strategy is fedAvg/],
    ];
    for (const [overrides, message] of cases) {
      try {
        new RoundCoordinator(coordinatorOptions(overrides), genesis);
        expect.unreachable(String(message));
      } catch (error) {
        expect(isRoundError(error, 'ERR_FL_ROUND_CONFIG')).toBe(true);
        expect((error as Error).message).toMatch(message);
      }
    }
  });
});

describe('the round coordinator with DP-FedAvg', () => {
  it('charges the ledger once per released model and records the budget spent in the version', () => {
    const options = dpOptions(20);
    const coordinator = new RoundCoordinator(options, genesis);
    const steps = driveRound(coordinator, participantsFor(eligible), 0);
    expect(configFor(steps[0]!).clipNorm).toBe(1);
    const outcome = steps.at(-1)!.outcome;
    if (outcome?.kind !== 'completed') throw new Error(`expected a model, got ${JSON.stringify(outcome)}`);
    expect(outcome.selection.rule).toEqual({ kind: 'poisson', q: 0.5 });
    expect(options.ledger!.entries).toEqual([{ q: 0.5, noiseMultiplier: 1.2, steps: 1, epsilonAfter: expect.any(Number) as unknown }]);
    expect(outcome.version.metadata.privacy).toEqual(options.ledger!.summary());
    expect(outcome.version.metadata.strategy).toEqual({ name: 'dpFedAvg', params: { clipNorm: 1, noiseMultiplier: 1.2 } });
  });

  it('stops training when the next round would pass the budget, and a failed round spends nothing', () => {
    const options = dpOptions(4);
    const coordinator = new RoundCoordinator(options, genesis);
    const outcomes = [];
    for (let round = 0; round < 12; round++) outcomes.push(driveRound(coordinator, participantsFor(eligible, coordinator.current), round * 100_000).at(-1)!.outcome);
    const refused = outcomes.filter((outcome) => outcome?.kind === 'failed');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((outcome) => outcome?.kind === 'failed' && outcome.error.code === 'ERR_FL_ROUND_BUDGET' && outcome.selection === null)).toBe(true);
    const spent = options.ledger!.summary();
    expect(spent.epsilonSpent).toBeLessThanOrEqual(4);
    expect(spent.rounds).toBe(outcomes.length - refused.length);
  });

  it('fails the round if the ledger refuses when the aggregate would be released', () => {
    const options = dpOptions(4);
    const coordinator = new RoundCoordinator(options, genesis);
    const start = coordinator.handle(0, { kind: 'start', eligible });
    expect(start.outcome).toBeNull();
    // Another run on the same ledger spent most of the budget meanwhile (one round costs about 3.05).
    options.ledger!.record({ q: 0.5, noiseMultiplier: 1.2, steps: 1 });
    const config = configFor(start);
    let last: CoordinatorStep | undefined;
    for (const { node } of start.sends) last = coordinator.handle(5, { kind: 'update', from: node, submission: submission(config, updateOf(node, genesis.parameters.length)) });
    expect(last?.outcome?.kind === 'failed' && last.outcome.error.code).toBe('ERR_FL_ROUND_BUDGET');
    expect(coordinator.current).toBe(genesis);
  });

  it('reports a DP parameter the aggregator refuses as a failed round, and passes other failures through', () => {
    const bad = dpOptions(20, { strategy: { name: 'dpFedAvg', clipNorm: -1, noiseMultiplier: 1.2 } });
    const outcome = driveRound(new RoundCoordinator(bad, genesis), participantsFor(eligible), 0).at(-1)!.outcome;
    expect(outcome?.kind === 'failed' && outcome.error.code).toBe('ERR_FL_ROUND_AGGREGATION');
    class BrokenLedger extends PrivacyLedger {
      override record(): never {
        throw new Error('ledger storage unavailable');
      }
    }
    const broken = dpOptions(20, { ledger: new BrokenLedger({ epsilonBudget: 20, delta: 1e-5 }), random: seededNoiseSource('b') });
    expect(() => driveRound(new RoundCoordinator(broken, genesis), participantsFor(eligible), 0)).toThrow(/ledger storage unavailable/);
  });
});
