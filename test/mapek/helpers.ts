/** Shared fixtures of the detector tests: small hand-built windows and datasets, error assertions. */
import { expectCodedError, expectCodedErrorAsync } from '../coded-error.js';
import { DetectorError, type DetectorErrorCodeValue } from '../../src/mapek/detector-errors.js';
import type { Dataset, TelemetryWindow } from '../../src/telemetry/types.js';

/** Runs `fn`, expecting a DetectorError with `code` whose message contains every one of `parts`. */
export function expectDetectorError(fn: () => unknown, code: DetectorErrorCodeValue, ...parts: string[]): DetectorError {
  return expectCodedError(fn, DetectorError, code, ...parts);
}

/** Like expectDetectorError for a promise. */
export async function expectDetectorErrorAsync(promise: Promise<unknown>, code: DetectorErrorCodeValue, ...parts: string[]): Promise<void> {
  await expectCodedErrorAsync(promise, DetectorError, code, ...parts);
}

/** A window described by plain arrays (alive defaults to all up, labels to healthy, time to window `index` of 1 s). */
export interface WindowSpec {
  readonly index?: number;
  readonly alive?: readonly number[];
  readonly nodes: readonly (readonly number[])[];
  readonly links: readonly (readonly [number, number, ...number[]])[];
  readonly nodeLabels?: readonly number[];
  readonly linkLabels?: readonly number[];
}

/** Builds a TelemetryWindow from a WindowSpec; link entries are [from, to, ...features]. */
export function windowOf(spec: WindowSpec): TelemetryWindow {
  const n = spec.nodes.length;
  const index = spec.index ?? 0;
  return {
    startMs: index * 1000,
    endMs: (index + 1) * 1000,
    nodeCount: n,
    alive: Uint8Array.from(spec.alive ?? new Array<number>(n).fill(1)),
    linkFrom: Int32Array.from(spec.links, (link) => link[0]),
    linkTo: Int32Array.from(spec.links, (link) => link[1]),
    nodeFeatures: Float32Array.from(spec.nodes.flat()),
    linkFeatures: Float32Array.from(spec.links.flatMap((link) => link.slice(2))),
    nodeLabels: Uint8Array.from(spec.nodeLabels ?? new Array<number>(n).fill(0)),
    linkLabels: Uint8Array.from(spec.linkLabels ?? new Array<number>(spec.links.length).fill(0)),
  };
}

/** Node features cpu, memory; link features loss, rtt: the schema of the hand-built tests. */
export const tinySchema = { nodeFeatureNames: ['cpu', 'memory'], linkFeatureNames: ['loss', 'rtt'] } as const;

/** A dataset of hand-built windows with the tiny schema (or another). */
export function datasetOf(windows: readonly TelemetryWindow[], schema: { nodeFeatureNames: readonly string[]; linkFeatureNames: readonly string[] } = tinySchema, seed = 1): Dataset {
  return { version: 1, scenario: 'hand', seed, topology: 'hand', windowMs: 1000, nodeFeatureNames: [...schema.nodeFeatureNames], linkFeatureNames: [...schema.linkFeatureNames], windows };
}
