/**
 * Building a TelemetryWindow (the whole network in one window) from the per-node windows of
 * the collectors, and checking that a window has the shape its feature lists say.
 */

import type { NodeWindow } from './collector.js';
import { TelemetryError } from './errors.js';
import { faultClassNames, type TelemetryWindow } from './types.js';

/** One node's part of a window: its collector's output (null while it was down) and its links' peers. */
export interface NodeRow {
  /** Up for the whole window. */
  readonly alive: boolean;
  /** The collector's window, or null when the node was down at the cut (its features are then all 0). */
  readonly window: NodeWindow | null;
  /** The node index at the other end of one of this node's links, or null when unknown. */
  peerOf(link: number): number | null;
}

/**
 * The network's window from one row per node (index = node). A node's inbound link rows become
 * directed links peer -> node, sorted by (from, to); labels start healthy (0).
 */
export function assembleWindow(startMs: number, endMs: number, rows: readonly NodeRow[], nodeFeatureCount: number, linkFeatureCount: number): TelemetryWindow {
  const nodeCount = rows.length;
  const alive = new Uint8Array(nodeCount);
  const nodeFeatures = new Float32Array(nodeCount * nodeFeatureCount);
  const links: { from: number; to: number; features: Float32Array }[] = [];
  rows.forEach((row, node) => {
    alive[node] = row.alive ? 1 : 0;
    if (row.window === null) return;
    nodeFeatures.set(row.window.features, node * nodeFeatureCount);
    for (const link of row.window.links) {
      const from = row.peerOf(link.link);
      if (from !== null) links.push({ from, to: node, features: link.features });
    }
  });
  links.sort((a, b) => a.from - b.from || a.to - b.to);
  const linkFeatures = new Float32Array(links.length * linkFeatureCount);
  links.forEach((link, i) => linkFeatures.set(link.features, i * linkFeatureCount));
  return {
    startMs,
    endMs,
    nodeCount,
    alive,
    linkFrom: Int32Array.from(links, (l) => l.from),
    linkTo: Int32Array.from(links, (l) => l.to),
    nodeFeatures,
    linkFeatures,
    nodeLabels: new Uint8Array(nodeCount),
    linkLabels: new Uint8Array(links.length),
  };
}

/**
 * Checks a window against the feature counts: array lengths (ERR_DATASET_SHAPE), finite
 * features, known labels, links between existing distinct nodes, alive 0 or 1 (ERR_DATASET_VALUE).
 * `where` names the window in messages.
 */
export function checkWindow(window: TelemetryWindow, nodeFeatureCount: number, linkFeatureCount: number, where: string): void {
  const n = window.nodeCount;
  const links = window.linkFrom.length;
  const shape = (what: string, expected: number, got: number): void => {
    if (expected !== got) throw new TelemetryError('ERR_DATASET_SHAPE', `${where}: expected ${what} of length ${expected}, got ${got}`);
  };
  shape('alive', n, window.alive.length);
  shape('nodeLabels', n, window.nodeLabels.length);
  shape('nodeFeatures', n * nodeFeatureCount, window.nodeFeatures.length);
  shape('linkTo', links, window.linkTo.length);
  shape('linkLabels', links, window.linkLabels.length);
  shape('linkFeatures', links * linkFeatureCount, window.linkFeatures.length);
  if (!(window.endMs > window.startMs)) throw new TelemetryError('ERR_DATASET_VALUE', `${where}: expected endMs > startMs, got ${window.startMs}..${window.endMs}`);
  checkValues(window, where);
}

function checkValues(window: TelemetryWindow, where: string): void {
  const value = (message: string): never => {
    throw new TelemetryError('ERR_DATASET_VALUE', `${where}: ${message}`);
  };
  const classes = faultClassNames.length;
  window.alive.forEach((a, i) => a > 1 && value(`alive[${i}]: expected 0 or 1, got ${a}`));
  window.nodeLabels.forEach((l, i) => l >= classes && value(`nodeLabels[${i}]: expected a fault class 0..${classes - 1}, got ${l}`));
  window.linkLabels.forEach((l, i) => l >= classes && value(`linkLabels[${i}]: expected a fault class 0..${classes - 1}, got ${l}`));
  window.nodeFeatures.forEach((x, i) => !Number.isFinite(x) && value(`nodeFeatures[${i}]: expected a finite number, got ${x}`));
  window.linkFeatures.forEach((x, i) => !Number.isFinite(x) && value(`linkFeatures[${i}]: expected a finite number, got ${x}`));
  for (let i = 0; i < window.linkFrom.length; i++) {
    const from = window.linkFrom[i]!;
    const to = window.linkTo[i]!;
    if (from < 0 || from >= window.nodeCount || to < 0 || to >= window.nodeCount || from === to) {
      value(`link ${i}: expected two distinct nodes in 0..${window.nodeCount - 1}, got ${from} -> ${to}`);
    }
  }
}
