/**
 * Labelled telemetry datasets from the twin: run one seed of a scenario with a telemetry
 * collector on every node, cut the measured part of the run (warm-up end to flows end) into
 * windows, and label each node and directed link with the class of the fault that hit it
 * while the window lasted. The result is a pure function of scenario, seed and window length.
 */

import { basename, extname } from 'node:path';
import { windowMsDefault } from '../telemetry/collector.js';
import { datasetFormatVersion } from '../telemetry/dataset-io.js';
import { linkFeatureNames, nodeFeatureNames } from '../telemetry/features.js';
import type { DatasetFault, FaultClassValue, LabelledDataset, TelemetryWindow } from '../telemetry/types.js';
import type { FaultLabel } from './faults.js';
import type { Network } from './network.js';
import { assembleSeed } from './runner.js';
import type { Scenario, TopologySpec } from './scenario.js';
import { TelemetryTap } from './telemetry-tap.js';

/** Shortest and longest window a dataset may use. */
export const datasetWindowMsMin = 100;
export const datasetWindowMsMax = 60_000;

/** Choices of a dataset run. */
export interface DatasetOptions {
  /** Window length (default 1000 ms). */
  readonly windowMs?: number;
  /** Told how far the virtual clock has got, once per virtual second. */
  readonly onProgress?: (virtualMs: number, totalMs: number) => void;
}

/** Runs `scenario` with `seed` and returns its labelled telemetry windows. */
export function generateDataset(scenario: Scenario, seed: number, options: DatasetOptions = {}): LabelledDataset {
  const windowMs = options.windowMs ?? windowMsDefault;
  if (!Number.isInteger(windowMs) || windowMs < datasetWindowMsMin || windowMs > datasetWindowMsMax) {
    throw new RangeError(`generateDataset: expected windowMs to be an integer in ${datasetWindowMsMin}..${datasetWindowMsMax}, got ${windowMs}`);
  }
  const run = assembleSeed(scenario, seed, { emitRouteEvents: true });
  const tap = new TelemetryTap(run, { startMs: run.warmupMs, endMs: run.flowsEndMs, windowMs });
  tap.attach();
  const endMs = run.flowsEndMs;
  for (let t = Math.min(1000, endMs); ; t = Math.min(t + 1000, endMs)) {
    run.network.runUntil(t);
    options.onProgress?.(t, endMs);
    if (t >= endMs) break;
  }
  const labels = run.faults.labels;
  for (const window of tap.windows) labelWindow(window, labels, run.network);
  return {
    version: datasetFormatVersion,
    scenario: scenario.name,
    seed,
    topology: topologyName(scenario.topology),
    windowMs,
    nodeFeatureNames,
    linkFeatureNames,
    windows: tap.windows,
    faults: labels.map((label) => datasetFault(label, run.network)),
  };
}

/** A short name for a topology, by which held-out topologies are told apart: `rgg-150`, `grid-10x20`, `edges-mesh`. */
export function topologyName(spec: TopologySpec): string {
  switch (spec.kind) {
    case 'grid':
      return `grid-${spec.rows}x${spec.cols}`;
    case 'edges':
      return `edges-${basename(spec.file, extname(spec.file))}`;
    default:
      return `${spec.kind}-${spec.nodes}`;
  }
}

function datasetFault(label: FaultLabel, network: Network): DatasetFault {
  return {
    kind: label.kind,
    faultClass: label.faultClass,
    nodes: label.nodes,
    links: label.edges.map((e) => [network.edges[e]!.a, network.edges[e]!.b] as const),
    startMs: label.startMs,
    endMs: label.endMs,
  };
}

/** The class of the label that overlaps [startMs, endMs) longest, per key (ties: the earlier label). */
function strongest(labels: readonly FaultLabel[], startMs: number, endMs: number, keys: (label: FaultLabel) => readonly number[]): Map<number, FaultClassValue> {
  const best = new Map<number, { overlap: number; faultClass: FaultClassValue }>();
  for (const label of labels) {
    const overlap = Math.min(endMs, label.endMs) - Math.max(startMs, label.startMs);
    if (overlap <= 0) continue;
    for (const key of keys(label)) {
      const current = best.get(key);
      if (current === undefined || overlap > current.overlap) best.set(key, { overlap, faultClass: label.faultClass });
    }
  }
  return new Map([...best].map(([key, value]) => [key, value.faultClass]));
}

/**
 * Labels a window's nodes and directed links with the fault that overlaps it longest: node
 * faults label their node, link faults both directions of their link.
 */
export function labelWindow(window: TelemetryWindow, labels: readonly FaultLabel[], network: Network): void {
  const nodes = strongest(labels, window.startMs, window.endMs, (label) => label.nodes);
  for (const [node, faultClass] of nodes) window.nodeLabels[node] = faultClass;
  const edges = strongest(labels, window.startMs, window.endMs, (label) => label.edges);
  if (edges.size === 0) return;
  for (let i = 0; i < window.linkFrom.length; i++) {
    const from = network.nodes[window.linkFrom[i]!]!;
    const to = window.linkTo[i]!;
    const edge = from.edges.find((e) => network.peerOf(network.edges[e]!, from.index) === to);
    const faultClass = edge === undefined ? undefined : edges.get(edge);
    if (faultClass !== undefined) window.linkLabels[i] = faultClass;
  }
}
