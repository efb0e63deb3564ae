/** Builders shared by the secure aggregation tests: seeded identities, configs and inputs. */
import { createHash } from 'node:crypto';
import { ed25519PublicKey } from '../../../src/crypto/curve25519.js';
import { seededNoiseSource } from '../../../src/fl/dp/noise.js';
import { secAggClientId, type SecAggClientId, type SecAggConfig } from '../../../src/fl/secagg/config.js';
import { randomHararyGraph, thresholdFor } from '../../../src/fl/secagg/graph.js';
import { quantisationFor } from '../../../src/fl/secagg/quantise.js';
import type { SimulatedClient } from '../../../src/fl/secagg/simulate.js';

/** A deterministic 32-byte value from a label. */
export function bytes32(label: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(label).digest());
}

/** What a test aggregation is made of. */
export interface Fixture {
  readonly config: SecAggConfig;
  readonly clients: SimulatedClient[];
  readonly signingKeys: Map<SecAggClientId, Uint8Array>;
}

export interface FixtureOptions {
  readonly n: number;
  readonly k: number;
  readonly tFraction?: number;
  readonly threshold?: number;
  readonly d: number;
  readonly clipRange?: number;
  readonly seed?: string;
  readonly minimumClients?: number;
}

/** n clients with seeded Ed25519 keys and uniform inputs in [-c/2, c/2], on a random Harary graph. */
export function fixture(options: FixtureOptions): Fixture {
  const seed = options.seed ?? 'fixture';
  const clipRange = options.clipRange ?? 1;
  const ids = Array.from({ length: options.n }, (_, index) => secAggClientId(index * 3 + 1));
  const signingKeys = new Map(ids.map((id) => [id, bytes32(`${seed}/identity/${id}`)]));
  const roster = new Map(ids.map((id) => [id, ed25519PublicKey(signingKeys.get(id)!)]));
  const threshold = options.threshold ?? thresholdFor(options.k, options.tFraction ?? 0.6);
  const config: SecAggConfig = {
    sessionId: bytes32(`${seed}/session`),
    roster,
    graph: randomHararyGraph(ids, options.k, seededNoiseSource(`${seed}/graph`)),
    threshold,
    minimumClients: options.minimumClients ?? threshold,
    dimension: options.d,
    quantisation: quantisationFor(clipRange, options.n),
  };
  const inputSource = seededNoiseSource(`${seed}/inputs`);
  const clients = ids.map((id) => {
    const words = new Uint32Array(options.d);
    inputSource.fill(new Uint8Array(words.buffer));
    const input = Float32Array.from(words, (word) => (word / 2 ** 32 - 0.5) * clipRange);
    return { id, signingKey: signingKeys.get(id)!, input };
  });
  return { config, clients, signingKeys };
}

/** The float64 sum of the inputs of `ids`. */
export function plainSum(clients: readonly SimulatedClient[], ids: readonly SecAggClientId[]): Float64Array {
  const wanted = new Set(ids);
  const sum = new Float64Array(clients[0]!.input.length);
  for (const client of clients) if (wanted.has(client.id)) for (let index = 0; index < sum.length; index++) sum[index]! += client.input[index]!;
  return sum;
}

/** The largest |a - b| over the coordinates. */
export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let index = 0; index < a.length; index++) worst = Math.max(worst, Math.abs(a[index]! - b[index]!));
  return worst;
}

/** A per-client seeded randomness source. */
export function randomFor(seed: string): (id: SecAggClientId) => ReturnType<typeof seededNoiseSource> {
  return (id) => seededNoiseSource(`${seed}/client/${id}`);
}
