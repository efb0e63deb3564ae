import { describe, expect, it } from 'vitest';
import { RoundCoordinator } from '../../../src/fl/rounds/coordinator.js';
import { RoundParticipant } from '../../../src/fl/rounds/participant.js';
import { CoordinatorDriver, ParticipantDriver, type DriverStep } from '../../../src/fl/rounds/round-driver.js';
import { TransferEndpoint } from '../../../src/fl/rounds/transfer.js';
import { encodeDistribution, encodeRoundConfig, encodeUpdateSubmission } from '../../../src/fl/rounds/wire.js';
import { encodeVersion } from '../../../src/fl/registry/version.js';
import type { NodeId } from '../../../src/wire/ids.js';
import { trust } from '../registry/fixtures.js';
import { coordinatorOptions, genesis, updateOf } from './harness.js';

const coordinatorNode = 1 as NodeId;
const ids = [2, 3, 4].map((id) => id as NodeId);

/** Drivers joined by a perfect, instant network: every datagram is handed over at once, until quiet. */
class Wire {
  readonly coordinator = new CoordinatorDriver(new RoundCoordinator(coordinatorOptions({ selection: { kind: 'fixed', size: 3 }, minParticipants: 2 }), genesis), new TransferEndpoint());
  readonly participants = new Map(ids.map((id) => [id, new ParticipantDriver(new RoundParticipant({ self: id, trust, current: genesis }), new TransferEndpoint({ firstTransferId: id * 100 }), id, coordinatorNode)]));
  readonly rejected: string[] = [];
  readonly failed: string[] = [];
  readonly trained: NodeId[] = [];
  outcome: string | null = null;

  driver(node: NodeId): CoordinatorDriver | ParticipantDriver {
    return node === coordinatorNode ? this.coordinator : this.participants.get(node)!;
  }

  apply(node: NodeId, step: DriverStep & { outcome?: unknown; train?: { round: number }[] }, nowMs = 0): void {
    for (const { from, error } of step.rejected) this.rejected.push(`${node}<${from} ${error.code}`);
    for (const { node: to, error } of step.failed) this.failed.push(`${node}>${to} ${error.code}`);
    const outcome = step.outcome as { kind: string; round: number } | null | undefined;
    if (outcome) this.outcome = `${outcome.kind} ${outcome.round}`;
    for (const request of step.train ?? []) {
      this.trained.push(node);
      const driver = this.participants.get(node)!;
      this.apply(node, driver.trained(nowMs, request.round, updateOf(node, genesis.parameters.length), 1), nowMs);
    }
    for (const { node: to, bytes } of step.datagrams) this.apply(to, this.driver(to).datagram(nowMs, node, bytes), nowMs);
  }
}

describe('the round drivers', () => {
  it('run a round end to end through the wire encodings and the transfer', () => {
    const wire = new Wire();
    wire.apply(coordinatorNode, wire.coordinator.start(0, ids));
    expect(wire.outcome).toBe('completed 1');
    expect(wire.trained.sort()).toEqual(ids);
    expect(wire.rejected).toEqual([]);
    for (const driver of wire.participants.values()) expect(driver.participant.current!.id).toBe(wire.coordinator.coordinator.current.id);
  });

  it('refuse messages of the wrong kind, from the wrong node, or that do not decode', () => {
    const wire = new Wire();
    wire.apply(coordinatorNode, wire.coordinator.start(0, ids));
    const config = encodeRoundConfig({ kind: 'config', round: 9, modelId: genesis.id, strategy: { name: 'fedAvg', params: {} }, clipNorm: null, deadlineMs: 1 });
    const update = encodeUpdateSubmission(2 as NodeId, { kind: 'update', round: 9, modelId: genesis.id, update: new Float32Array(3), examples: 1 });
    // A participant sends a configuration to the coordinator, and garbage.
    wire.apply(2 as NodeId, wire.participants.get(2 as NodeId)!.sendMessage(1, coordinatorNode, config), 1);
    wire.apply(2 as NodeId, wire.participants.get(2 as NodeId)!.sendMessage(1, coordinatorNode, Uint8Array.of(1, 2, 3)), 1);
    // A participant hears round messages from another participant, and an update from the coordinator.
    wire.apply(3 as NodeId, wire.participants.get(3 as NodeId)!.sendMessage(1, 2 as NodeId, encodeDistribution({ kind: 'model', version: encodeVersion(genesis) })), 1);
    wire.apply(coordinatorNode, wire.coordinator.sendMessage(1, 2 as NodeId, update), 1);
    expect(wire.rejected).toEqual(['1<2 ERR_FL_ROUND_FORMAT', '1<2 ERR_FL_ROUND_FORMAT', '2<3 ERR_FL_ROUND_SENDER', '2<1 ERR_FL_ROUND_FORMAT']);
  });

  it('report a participant\'s own refusal (training done after the deadline) and transfers given up', () => {
    const wire = new Wire();
    const start = wire.coordinator.start(0, ids);
    const participant = wire.participants.get(2 as NodeId)!;
    const delivered = participant.datagram(1, coordinatorNode, start.datagrams.find((datagram) => datagram.node === 2)!.bytes);
    expect(delivered.train).toHaveLength(1);
    const late = participant.trained(20_000, 1, updateOf(2 as NodeId, genesis.parameters.length), 1);
    expect(late.rejected.map(({ from, error }) => `${from} ${error.code}`)).toEqual(['2 ERR_FL_ROUND_LATE']);
    expect(late.datagrams).toEqual([]);
    // The coordinator's configurations to nodes that never answer are given up at the transfer deadline, and the round fails at its own.
    expect(start.nextDeadlineMs).toBeLessThan(10_000);
    const tick = wire.coordinator.tick(130_000);
    expect(tick.outcome).toMatchObject({ kind: 'failed', error: { code: 'ERR_FL_ROUND_TOO_FEW' } });
    expect(tick.failed.map(({ node, error }) => `${node} ${error.code}`).sort()).toEqual(['2 ERR_FL_ROUND_TRANSFER_TIMEOUT', '3 ERR_FL_ROUND_TRANSFER_TIMEOUT', '4 ERR_FL_ROUND_TRANSFER_TIMEOUT']);
    expect(participant.tick(130_000).nextDeadlineMs).toBeGreaterThan(130_000);
  });
});
