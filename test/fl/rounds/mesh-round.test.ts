/**
 * A federated round over the real mesh: SecureNodes with secure links and end-to-end sessions
 * on a virtual clock, multi-hop paths, 10 Mbit/s links that lose 2 % of datagrams; the
 * coordinator and participant state machines run through their drivers, the wire encodings and
 * the bulk transfer. The model is the 46,103-parameter Cora GraphSAGE, so each update is 184 KB.
 *
 *   1 - 2 - 3 - 4        coordinator: node 1 (node 2 and 5 only forward)
 *   |       |            participants: 3 (2 hops), 4 (3), 6 (2), 7 (3), 8 (4)
 *   5 - 6 - 7 - 8        node 8 never answers a configuration
 */
import { describe, expect, it } from 'vitest';
import { seededNoiseSource } from '../../../src/fl/dp/noise.js';
import { RoundCoordinator, type CoordinatorOptions, type RoundOutcome } from '../../../src/fl/rounds/coordinator.js';
import { RoundParticipant, type TrainRequest } from '../../../src/fl/rounds/participant.js';
import { CoordinatorDriver, ParticipantDriver, roundDatagramId, type DriverStep } from '../../../src/fl/rounds/round-driver.js';
import { TransferEndpoint } from '../../../src/fl/rounds/transfer.js';
import { encodeUpdateSubmission } from '../../../src/fl/rounds/wire.js';
import { createVersion, type ModelVersion } from '../../../src/fl/registry/version.js';
import type { GraphSageConfig } from '../../../src/ml/config.js';
import { Prng } from '../../../src/twin/prng.js';
import { nodeId, type NodeId } from '../../../src/wire/ids.js';
import { SecureHarness } from '../../channel/secure-harness.js';
import { aggregator, trust } from '../registry/fixtures.js';

const coraConfig: GraphSageConfig = { inputDim: 1433, hiddenDims: [16], outputDim: 7, head: 'softmax', l2Normalize: false };
const edges: [number, number][] = [
  [1, 2],
  [2, 3],
  [3, 4],
  [1, 5],
  [5, 6],
  [6, 7],
  [7, 8],
  [3, 7],
];
const coordinatorNode = nodeId(1);
const participantIds = [3, 4, 6, 7, 8].map((id) => nodeId(id));
const silent = nodeId(8);
const linkBitsPerSecond = 10e6;
const propagationMs = 5;
const lossRate = 0.02;
const trainingMs = 1000;

function genesisOf(startMs: number): ModelVersion {
  const prng = Prng.fromSeed(7, 'cora parameters');
  const parameters = Float32Array.from({ length: 46_103 }, () => prng.uniform(-0.1, 0.1));
  return createVersion({ parentId: null, round: 0, participants: [], strategy: { name: 'initial', params: {} }, privacy: null, createdAtMs: startMs, modelConfig: coraConfig, parameters }, aggregator);
}

function coordinatorOptions(): CoordinatorOptions {
  return { keys: aggregator, strategy: { name: 'fedAvg' }, selection: { kind: 'fixed', size: 5 }, minParticipants: 3, roundDurationMs: 60_000, random: seededNoiseSource('mesh round') };
}

/** What node `node` trains in `round`: a small deterministic update. */
function updateOf(node: NodeId, round: number, length: number): Float32Array {
  return Float32Array.from({ length }, (_, index) => (((index * 7 + node * 13 + round * 5) % 101) - 50) * 1e-4);
}

const examplesOf = (node: NodeId): number => node * 10;

/** Bytes of round datagrams each node sent and received (end-to-end payloads, before the channel's overhead). */
interface Traffic {
  sent: Map<NodeId, number>;
  received: Map<NodeId, number>;
  linkBytes: number;
  linkDatagrams: number;
}

/** The mesh, the drivers on it, and what happened. */
class MeshRounds {
  readonly harness = new SecureHarness(edges);
  readonly genesis: ModelVersion;
  readonly coordinator: CoordinatorDriver;
  readonly participants = new Map<NodeId, ParticipantDriver>();
  readonly outcomes: { atMs: number; outcome: RoundOutcome }[] = [];
  readonly installs: { atMs: number; node: NodeId; version: ModelVersion }[] = [];
  readonly rejected: { atMs: number; node: NodeId; from: NodeId; code: string }[] = [];
  readonly failed: { node: NodeId; code: string }[] = [];
  readonly submissions = new Map<string, Uint8Array>();
  readonly traffic: Traffic = { sent: new Map(), received: new Map(), linkBytes: 0, linkDatagrams: 0 };
  private readonly timers = new Map<NodeId, number>();

  constructor() {
    const h = this.harness;
    for (let id = 1; id <= 8; id++) h.boot({ id, endToEnd: true });
    h.run(3000);
    this.genesis = genesisOf(h.nowMs);
    this.coordinator = new CoordinatorDriver(new RoundCoordinator(coordinatorOptions(), this.genesis), new TransferEndpoint({ firstTransferId: 1 }));
    for (const id of participantIds) {
      const participant = new RoundParticipant({ self: id, trust, current: this.genesis });
      this.participants.set(id, new ParticipantDriver(participant, new TransferEndpoint({ firstTransferId: id << 24 }), id, coordinatorNode));
    }
    h.onEvent = (node, event) => {
      if (event.kind !== 'delivered' || event.id !== roundDatagramId) return;
      this.count(this.traffic.received, node as NodeId, event.payload.length);
      this.apply(node as NodeId, this.driverOf(node as NodeId).datagram(h.nowMs, event.src, event.payload));
    };
    h.linkFate = this.lossyLinks();
  }

  /** 10 Mbit/s per direction with a queue, 5 ms propagation, 2 % loss. */
  private lossyLinks(): (nowMs: number, from: number, link: number, bytes: Uint8Array) => number | null {
    const prng = Prng.fromSeed(11, 'link loss');
    const busyUntilMs = new Map<string, number>();
    return (nowMs, from, link, bytes) => {
      this.traffic.linkDatagrams++;
      this.traffic.linkBytes += bytes.length;
      const key = `${from}/${link}`;
      const startMs = Math.max(nowMs, busyUntilMs.get(key) ?? 0);
      const doneMs = startMs + (bytes.length * 8 * 1000) / linkBitsPerSecond;
      busyUntilMs.set(key, doneMs);
      // Whole milliseconds, as a real clock gives (a model version records its creation time as an integer).
      return prng.chance(lossRate) ? null : Math.ceil(doneMs + propagationMs);
    };
  }

  private driverOf(node: NodeId): CoordinatorDriver | ParticipantDriver {
    return node === coordinatorNode ? this.coordinator : this.participants.get(node)!;
  }

  private count(map: Map<NodeId, number>, node: NodeId, bytes: number): void {
    map.set(node, (map.get(node) ?? 0) + bytes);
  }

  /** Carries out a driver step of `node`: datagrams into the mesh, its timer, training, installs, records. */
  apply(node: NodeId, step: DriverStep & { outcome?: RoundOutcome | null; train?: TrainRequest[]; install?: ModelVersion[] }): void {
    const h = this.harness;
    for (const { node: dst, bytes } of step.datagrams) {
      this.count(this.traffic.sent, node, bytes.length);
      h.inject(node, { kind: 'send', dst, id: roundDatagramId, payload: bytes });
    }
    for (const { from, error } of step.rejected) this.rejected.push({ atMs: h.nowMs, node, from, code: error.code });
    for (const { error } of step.failed) this.failed.push({ node, code: error.code });
    if (step.outcome) this.outcomes.push({ atMs: h.nowMs, outcome: step.outcome });
    for (const version of step.install ?? []) this.installs.push({ atMs: h.nowMs, node, version });
    for (const request of step.train ?? []) this.train(node, request);
    this.schedule(node, step.nextDeadlineMs);
  }

  private schedule(node: NodeId, atMs: number): void {
    if (atMs === Infinity || this.timers.get(node) === atMs) return;
    this.timers.set(node, atMs);
    this.harness.at(atMs, () => {
      if (this.timers.get(node) !== atMs) return;
      this.timers.delete(node);
      const driver = this.driverOf(node);
      this.apply(node, driver.tick(this.harness.nowMs));
    });
  }

  /** Trains for `trainingMs` (the update is made up), then submits; the silent node never does. */
  private train(node: NodeId, request: TrainRequest): void {
    if (node === silent) return;
    const update = updateOf(node, request.round, request.parameters.length);
    const driver = this.participants.get(node)!;
    const modelId = driver.participant.current!.id;
    this.submissions.set(`${node}/${request.round}`, encodeUpdateSubmission(node, { kind: 'update', round: request.round, modelId, update, examples: examplesOf(node) }));
    this.harness.at(this.harness.nowMs + trainingMs, () => this.apply(node, driver.trained(this.harness.nowMs, request.round, update, examplesOf(node))));
  }

  /** Starts a round among `eligible` now. */
  start(eligible: readonly NodeId[]): number {
    const startMs = this.harness.nowMs;
    this.apply(coordinatorNode, this.coordinator.start(startMs, eligible));
    return startMs;
  }

  /** Node `node` sends `message` bytes to node `to` through its transfer, at `atMs`. */
  sendAt(atMs: number, node: NodeId, to: NodeId, message: Uint8Array): void {
    this.harness.at(atMs, () => this.apply(node, this.driverOf(node).sendMessage(this.harness.nowMs, to, message)));
  }
}

/** The version RoundCoordinator makes in process from the same updates, closing at `closeMs`. */
function inProcess(model: ModelVersion, startMs: number, eligible: readonly NodeId[], reporting: readonly NodeId[], closeMs: number): ModelVersion {
  // Fixed-size selection of 5 takes every eligible node here, so the seed does not matter.
  const coordinator = new RoundCoordinator(coordinatorOptions(), model);
  const start = coordinator.handle(startMs, { kind: 'start', eligible });
  const config = start.sends[0]!.message;
  if (config.kind !== 'config') throw new Error('expected a configuration');
  let outcome: RoundOutcome | null = null;
  for (const node of reporting) {
    const update = updateOf(node, config.round, model.parameters.length);
    outcome ??= coordinator.handle(startMs + 1, { kind: 'update', from: node, submission: { kind: 'update', round: config.round, modelId: model.id, update, examples: examplesOf(node) } }).outcome;
  }
  outcome ??= coordinator.handle(closeMs, { kind: 'tick' }).outcome;
  if (outcome?.kind !== 'completed') throw new Error(`in-process round did not complete: ${JSON.stringify(outcome)}`);
  return outcome.version;
}

describe('a federated round over the mesh', () => {
  it('runs two rounds over lossy multi-hop links: every participant installs the in-process model; stale, replayed and forged updates are refused; a silent node is dropped', { timeout: 120_000 }, () => {
    const mesh = new MeshRounds();
    const h = mesh.harness;
    for (const id of participantIds) expect(h.nodes.get(1)!.mesh.metricTo(id)).toBeLessThan(0xffff);

    // Round 1: all five selected; node 8 never answers; node 3 replays its update; node 4 submits in node 6's name.
    const start1 = mesh.start(participantIds);
    // End-to-end sessions come up during this round (under loss that takes up to ~15 s); by 30 s every update is in.
    h.run(30_000);
    expect([...mesh.submissions.keys()].sort()).toEqual(['3/1', '4/1', '6/1', '7/1']);
    mesh.sendAt(h.nowMs, nodeId(3), coordinatorNode, mesh.submissions.get('3/1')!);
    const forged = encodeUpdateSubmission(nodeId(6), { kind: 'update', round: 1, modelId: mesh.genesis.id, update: updateOf(nodeId(4), 1, 46_103), examples: 1 });
    mesh.sendAt(h.nowMs, nodeId(4), coordinatorNode, forged);
    h.run(40_000);
    expect(mesh.outcomes).toHaveLength(1);
    const [{ atMs: close1, outcome: outcome1 }] = mesh.outcomes as [{ atMs: number; outcome: RoundOutcome }];
    expect(outcome1.kind).toBe('completed');
    if (outcome1.kind !== 'completed') return;
    // Closed at the deadline, without the silent node.
    expect(close1).toBe(start1 + 60_000);
    expect(outcome1.version.metadata.participants).toEqual([3, 4, 6, 7]);
    const expected1 = inProcess(mesh.genesis, start1, participantIds, [3, 4, 6, 7].map((id) => nodeId(id)), close1);
    expect(outcome1.version.id).toBe(expected1.id);
    for (const id of participantIds) {
      const installed = mesh.participants.get(id)!.participant.current!;
      expect(installed.id).toBe(expected1.id);
      expect(Buffer.from(installed.parameters.buffer).equals(Buffer.from(expected1.parameters.buffer))).toBe(true);
    }
    const coordinatorRejections = mesh.rejected.filter((entry) => entry.node === coordinatorNode).map(({ from, code }) => `${from} ${code}`);
    expect(coordinatorRejections.sort()).toEqual(['3 ERR_FL_ROUND_REPLAY', '4 ERR_FL_ROUND_SENDER']);

    // Round 2 among the four that answer: it closes when all have reported; node 3 replays its round-1 update.
    const sentBefore = new Map(mesh.traffic.sent);
    const receivedBefore = new Map(mesh.traffic.received);
    const linkBytesBefore = mesh.traffic.linkBytes;
    const active = [3, 4, 6, 7].map((id) => nodeId(id));
    const start2 = mesh.start(active);
    mesh.sendAt(start2 + 500, nodeId(3), coordinatorNode, mesh.submissions.get('3/1')!);
    h.run(60_000);
    expect(mesh.outcomes).toHaveLength(2);
    const { atMs: close2, outcome: outcome2 } = mesh.outcomes[1]!;
    if (outcome2.kind !== 'completed') throw new Error(outcome2.error.message);
    expect(outcome2.round).toBe(2);
    const expected2 = inProcess(outcome1.version, start2, active, active, close2);
    expect(outcome2.version.parameters).toEqual(expected2.parameters);
    const installs2 = mesh.installs.filter((entry) => entry.version.id === outcome2.version.id);
    expect(installs2.map((entry) => entry.node).sort()).toEqual(active);
    for (const id of active) expect(mesh.participants.get(id)!.participant.current!.id).toBe(outcome2.version.id);
    expect(mesh.rejected.filter((entry) => entry.node === coordinatorNode && entry.atMs >= start2).map(({ from, code }) => `${from} ${code}`)).toEqual(['3 ERR_FL_ROUND_STALE']);
    // Participants refuse nothing from the coordinator, and no transfer was given up.
    expect(mesh.rejected.filter((entry) => entry.node !== coordinatorNode)).toEqual([]);
    expect(mesh.failed).toEqual([]);

    const lastInstallMs = Math.max(...installs2.map((entry) => entry.atMs));
    const figures = {
      round2ToCloseMs: close2 - start2,
      round2ToLastInstallMs: lastInstallMs - start2,
      round2BytesPerParticipant: Object.fromEntries(active.map((id) => [id, { sent: mesh.traffic.sent.get(id)! - (sentBefore.get(id) ?? 0), received: mesh.traffic.received.get(id)! - (receivedBefore.get(id) ?? 0) }])),
      round2LinkBytes: mesh.traffic.linkBytes - linkBytesBefore,
      round1ToLastInstallMs: Math.max(...mesh.installs.filter((entry) => entry.version.id === outcome1.version.id).map((entry) => entry.atMs)) - start1,
    };
    // One second of training plus the transfers: well under the round's 60 s.
    expect(figures.round2ToLastInstallMs).toBeLessThan(10_000);
    // An update is 184,468 bytes in 172 chunks of 45 header bytes each; loss costs a few retransmissions.
    const updateOnWire = 184_468 + 172 * 45;
    for (const id of [4, 6, 7]) expect(figures.round2BytesPerParticipant[id]!.sent / updateOnWire).toBeGreaterThanOrEqual(1);
    for (const id of [4, 6, 7]) expect(figures.round2BytesPerParticipant[id]!.sent / updateOnWire).toBeLessThan(1.15);
    if (process.env['FL_ROUND_FIGURES'] !== undefined) console.log(JSON.stringify(figures));
  });
});
