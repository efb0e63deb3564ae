/**
 * An in-process driver of one secure aggregation: every client and the server run in this
 * process and messages are handed over directly, with clients dropping out at chosen rounds.
 * The tests, the benchmark and the twin use it; the daemon drives the same state machines over
 * the mesh instead. It measures what a deployment pays: bytes each client sends and receives,
 * and, when given a clock, the CPU time each party spends.
 */
import { SecAggClient, type DistributedDpOptions } from './client.js';
import type { SecAggClientId, SecAggConfig } from './config.js';
import { clientMessageBytes, serverMessageBytes, type ClientMessage } from './messages.js';
import { parameterError } from './errors.js';
import { aggregateGroups, assignGroups, groupsRequired, type GroupRule, type GroupSum } from './grouping.js';
import { groupSessionId, planSecAgg } from './plan.js';
import type { RandomSource } from './random.js';
import { SecAggServer, type SecAggResult } from './server.js';

/** One simulated client: its identity key and its update. */
export interface SimulatedClient {
  readonly id: SecAggClientId;
  readonly signingKey: Uint8Array;
  readonly input: Float32Array | Float64Array;
}

/** The round (0..3) at which a client stops sending: 2 means it shared its keys but its masked input never arrives. */
export type DropoutRound = 0 | 1 | 2 | 3;

/** What to simulate. */
export interface SimulationOptions {
  readonly config: SecAggConfig;
  readonly clients: readonly SimulatedClient[];
  /** Each client's own randomness (keys, seeds, Shamir coefficients). */
  readonly randomFor: (id: SecAggClientId) => RandomSource;
  readonly dropouts?: ReadonlyMap<SecAggClientId, DropoutRound>;
  readonly distributedDpFor?: (id: SecAggClientId) => DistributedDpOptions;
  /** Lets a test play a misbehaving client or network: the message the server gets instead of the one sent. */
  readonly rewrite?: (message: ClientMessage) => ClientMessage;
  /** A clock in ms (performance.now in the benchmark); without it no time is measured. */
  readonly clockMs?: () => number;
}

/** Per-client traffic of one aggregation. */
export interface ClientTraffic {
  sentBytes: number;
  receivedBytes: number;
  cpuMs: number;
}

/** The outcome and its costs. */
export interface SimulationReport {
  readonly result: SecAggResult;
  readonly clients: ReadonlyMap<SecAggClientId, ClientTraffic>;
  readonly serverCpuMs: number;
}

/** Runs `work` and adds its duration on `clock` (if any) to the returned total. */
function timed<T>(clock: (() => number) | undefined, work: () => T): { value: T; ms: number } {
  const started = clock?.() ?? 0;
  const value = work();
  return { value, ms: (clock?.() ?? 0) - started };
}

/** Runs the four rounds to the end; a SecAggError from any party (an abort) propagates. */
export function simulateSecAgg(options: SimulationOptions): SimulationReport {
  const { config, clockMs } = options;
  const dropouts = options.dropouts ?? new Map<SecAggClientId, DropoutRound>();
  const rewrite = options.rewrite ?? ((message: ClientMessage) => message);
  const traffic = new Map<SecAggClientId, ClientTraffic>();
  const clients = new Map<SecAggClientId, SecAggClient>();
  let serverCpuMs = 0;
  const server = timed(clockMs, () => new SecAggServer(config));
  serverCpuMs += server.ms;
  for (const client of options.clients) {
    const dp = options.distributedDpFor?.(client.id);
    const built = timed(clockMs, () => new SecAggClient({ ...client, config, random: options.randomFor(client.id), ...(dp === undefined ? {} : { distributedDp: dp }) }));
    clients.set(client.id, built.value);
    traffic.set(client.id, { sentBytes: 0, receivedBytes: 0, cpuMs: built.ms });
  }
  const deliver = (id: SecAggClientId, produce: (client: SecAggClient) => ClientMessage): void => {
    const step = timed(clockMs, () => produce(clients.get(id)!));
    const counts = traffic.get(id)!;
    counts.cpuMs += step.ms;
    counts.sentBytes += clientMessageBytes(step.value);
    serverCpuMs += timed(clockMs, () => server.value.receive(rewrite(step.value))).ms;
  };
  for (const id of clients.keys()) if (dropouts.get(id) !== 0) deliver(id, (client) => client.advertiseKeys());
  // The server closes at most four rounds: closing round 3 returns the result or throws.
  for (let round = 1; ; round++) {
    const closed = timed(clockMs, () => server.value.closeRound());
    serverCpuMs += closed.ms;
    if (closed.value.result !== null) return { result: closed.value.result, clients: traffic, serverCpuMs };
    for (const { to, message } of closed.value.messages) {
      traffic.get(to)!.receivedBytes += serverMessageBytes(message);
      if ((dropouts.get(to) ?? 4) > round) deliver(to, (client) => client.handle(message));
    }
  }
}

/** A grouped round: SecAgg+ in each random group, then a rule over the group means. */
export interface GroupedSimulationOptions extends Omit<SimulationOptions, 'config' | 'clients'> {
  readonly clients: readonly SimulatedClient[];
  readonly sessionId: Uint8Array;
  readonly roster: ReadonlyMap<SecAggClientId, Uint8Array>;
  readonly groupCount: number;
  readonly dimension: number;
  readonly clipRange: number;
  readonly thresholdFraction: number;
  readonly rule: GroupRule;
  /** With it, too few groups for the rule's guarantee against this many malicious clients is refused. */
  readonly malicious?: number;
  /** Draws the groups and each group's graph. */
  readonly random: RandomSource;
}

/** The group sums (all the server learns) and the rule's aggregate over their means. */
export interface GroupedSimulationReport {
  readonly groups: readonly SecAggClientId[][];
  readonly sums: readonly GroupSum[];
  readonly aggregate: Float32Array;
}

/** Runs one grouped round in process. */
export function simulateGroupedSecAgg(options: GroupedSimulationOptions): GroupedSimulationReport {
  const byId = new Map(options.clients.map((client) => [client.id, client]));
  const groups = assignGroups([...byId.keys()], options.groupCount, options.random);
  if (options.malicious !== undefined) groupsRequiredOrThrow(options.rule, options.malicious, groups.length);
  const sums = groups.map((members, group) => {
    const config = planSecAgg({ ...options, sessionId: groupSessionId(options.sessionId, group), members });
    const report = simulateSecAgg({ ...options, config, clients: members.map((id) => byId.get(id)!) });
    return { sum: report.result.sum, clients: report.result.survivors.length };
  });
  return { groups, sums, aggregate: aggregateGroups(sums, options.rule, options.malicious) };
}

function groupsRequiredOrThrow(rule: GroupRule, malicious: number, groupCount: number): void {
  const required = groupsRequired(rule, malicious);
  if (groupCount < required) throw parameterError('simulateGroupedSecAgg', `groupCount for ${rule.rule} against ${malicious} malicious clients`, `at least ${required}`, groupCount);
}
