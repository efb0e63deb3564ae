/**
 * Builds the configuration of one aggregation from the few choices a round makes: who takes
 * part, the vector length, the clip range and the threshold fraction. The graph is a random
 * Harary graph with k = suggestedNeighbourCount(n) unless k is given, t = thresholdFor(k,
 * fraction), and the fixed-point scale is the finest whose sum over all members cannot wrap.
 */
import { createHash } from 'node:crypto';
import { checkSecAggConfig, type SecAggClientId, type SecAggConfig } from './config.js';
import { parameterError } from './errors.js';
import { randomHararyGraph, suggestedNeighbourCount, thresholdFor } from './graph.js';
import { quantisationFor } from './quantise.js';
import type { RandomSource } from './random.js';

/** The choices behind one aggregation's configuration. */
export interface PlanOptions {
  readonly sessionId: Uint8Array;
  /** Ed25519 public keys of (at least) every member. */
  readonly roster: ReadonlyMap<SecAggClientId, Uint8Array>;
  readonly members: readonly SecAggClientId[];
  readonly dimension: number;
  readonly clipRange: number;
  /** t as a fraction of k (raised to just over k/2 when smaller). */
  readonly thresholdFraction: number;
  /** k; defaults to suggestedNeighbourCount(members.length). */
  readonly neighbourCount?: number;
  /** Shuffles the ring of the Harary graph. */
  readonly random: RandomSource;
}

/** A checked configuration for the members; minimumClients is set to t. */
export function planSecAgg(options: PlanOptions): SecAggConfig {
  const { members } = options;
  const roster = new Map<SecAggClientId, Uint8Array>();
  for (const id of members) {
    const key = options.roster.get(id);
    if (key === undefined) throw parameterError('planSecAgg', `the roster key of client ${id}`, 'present', 'missing');
    roster.set(id, key);
  }
  const neighbourCount = options.neighbourCount ?? suggestedNeighbourCount(members.length);
  const threshold = thresholdFor(neighbourCount, options.thresholdFraction);
  const config: SecAggConfig = {
    sessionId: options.sessionId,
    roster,
    graph: randomHararyGraph(members, neighbourCount, options.random),
    threshold,
    minimumClients: threshold,
    dimension: options.dimension,
    quantisation: quantisationFor(options.clipRange, members.length),
  };
  checkSecAggConfig(config);
  return config;
}

/** The session id of group `group` within a round's session: SHA-256(session || u32 group), so groups never share keys or masks. */
export function groupSessionId(sessionId: Uint8Array, group: number): Uint8Array {
  const index = new Uint8Array(4);
  new DataView(index.buffer).setUint32(0, group);
  return new Uint8Array(createHash('sha256').update(sessionId).update(index).digest());
}
