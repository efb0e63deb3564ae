/** Shared fixtures of the registry and round tests: keys, a small architecture, versions. */
import type { GraphSageConfig } from '../../../src/ml/config.js';
import { aggregatorKeysFromSeeds, type AggregatorKeys } from '../../../src/fl/registry/signing.js';
import { createVersion, type ModelVersion, type VersionDraft } from '../../../src/fl/registry/version.js';
import type { ModelId } from '../../../src/fl/registry/model-id.js';
import { nodeId, type NodeId } from '../../../src/wire/ids.js';

/** 4 -> 3 -> 2, softmax: 41 parameters. */
export const smallConfig: GraphSageConfig = { inputDim: 4, hiddenDims: [3], outputDim: 2, head: 'softmax', l2Normalize: false };
export const smallParameterCount = 41;

/** Deterministic aggregator keys from a one-byte tag. */
export function keysFor(tag: number): AggregatorKeys {
  return aggregatorKeysFromSeeds(new Uint8Array(32).fill(tag), new Uint8Array(32).fill(tag + 100));
}

export const aggregator = keysFor(1);
export const stranger = keysFor(2);
export const trust = [aggregator.publicKeys];

/** Parameters 0.01 * (index + offset). */
export function parametersFor(offset: number): Float32Array {
  return Float32Array.from({ length: smallParameterCount }, (_, index) => 0.01 * (index + offset));
}

export function nodes(...ids: number[]): NodeId[] {
  return ids.map((id) => nodeId(id));
}

/** A draft of round `round` after `parentId`. */
export function draft(round: number, parentId: ModelId | null, overrides: Partial<VersionDraft> = {}): VersionDraft {
  return {
    parentId,
    round,
    participants: round === 0 ? [] : nodes(3, 5, 9),
    strategy: round === 0 ? { name: 'initial', params: {} } : { name: 'trimmedMean', params: { beta: 0.1 } },
    privacy: round === 0 ? null : { epsilonBudget: 8, delta: 1e-5, epsilonSpent: 0.5 * round, order: 12, rounds: round, steps: round },
    createdAtMs: 1_700_000_000_000 + round * 60_000,
    modelConfig: smallConfig,
    parameters: parametersFor(round),
    ...overrides,
  };
}

/** A chain of signed versions: round 0 (first model), 1, 2, ... */
export function chain(length: number, keys: AggregatorKeys = aggregator): ModelVersion[] {
  const versions: ModelVersion[] = [];
  for (let round = 0; round < length; round++) versions.push(createVersion(draft(round, versions.at(-1)?.id ?? null), keys));
  return versions;
}
