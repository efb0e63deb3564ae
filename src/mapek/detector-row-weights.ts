/**
 * Per-node factors of the node model's training loss, from the labels around a node-window.
 * The labels themselves are never changed (evaluation reads them as they are); only how much
 * a healthy node-window counts while training:
 *
 * - `afterFaultWindows`: a healthy node-window within that many windows after a window in which
 *   the same node was faulty counts 0. Its label ends with the injection, but the effect does
 *   not: after a bogus-metrics fault, neighbours keep the node's routes until they are next
 *   updated, so it looks exactly as during the fault. Training the model to call such a window
 *   healthy asks it for something the telemetry does not show, and pulls on the fault's own
 *   windows too.
 * - `nearFaultHealthyWeight`: a healthy node-window next to a fault (a graph neighbour of a
 *   faulty node, or an end of a faulty link) counts this much. These are the false alarms that
 *   cost the rare classes most: the ends of a congested link, the neighbours of a bogus-metrics
 *   node see the fault's effects without having it.
 *
 * Faulty node-windows always count 1.
 */
import type { TelemetryWindow } from '../telemetry/types.js';
import { DetectorError, DetectorErrorCode } from './detector-errors.js';
import type { WindowGraph } from './detector-features.js';

/** How healthy node-windows near a fault weigh in the training loss (see the file comment). */
export interface RowWeighting {
  /** Healthy node-windows this many windows after the node's own fault count 0 (0: none). */
  readonly afterFaultWindows: number;
  /** Factor of a healthy node-window next to a fault (1: as any other). */
  readonly nearFaultHealthyWeight: number;
}

/** The weighting that changes nothing. */
export const neutralRowWeighting: RowWeighting = { afterFaultWindows: 0, nearFaultHealthyWeight: 1 };

/** Most windows after a fault that can be left out of training. */
export const afterFaultWindowsMax = 64;
/** Largest factor of a healthy node-window next to a fault. */
export const nearFaultHealthyWeightMax = 100;

/** Checks a weighting's ranges; ERR_DETECTOR_ARGUMENT names the bad value. */
export function checkRowWeighting(what: string, weighting: RowWeighting): void {
  const { afterFaultWindows, nearFaultHealthyWeight } = weighting;
  if (!Number.isInteger(afterFaultWindows) || afterFaultWindows < 0 || afterFaultWindows > afterFaultWindowsMax) {
    throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_ARGUMENT, `${what}: expected afterFaultWindows to be an integer in 0..${afterFaultWindowsMax}, got ${afterFaultWindows}`);
  }
  if (!(nearFaultHealthyWeight >= 0 && nearFaultHealthyWeight <= nearFaultHealthyWeightMax)) {
    throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_ARGUMENT, `${what}: expected nearFaultHealthyWeight in [0, ${nearFaultHealthyWeightMax}], got ${nearFaultHealthyWeight}`);
  }
}

/** True when the weighting gives every row 1. */
export function isNeutral(weighting: RowWeighting): boolean {
  return weighting.afterFaultWindows === 0 && weighting.nearFaultHealthyWeight === 1;
}

/** Marks the rows next to a fault: graph neighbours of faulty rows and ends of faulty links. */
function nearFaultRows(window: TelemetryWindow, graph: WindowGraph): Uint8Array {
  const rows = graph.nodes.length;
  const near = new Uint8Array(rows);
  const { offsets, neighbours } = graph.graph;
  for (let r = 0; r < rows; r++) {
    if (window.nodeLabels[graph.nodes[r]!] === 0) continue;
    for (let e = offsets[r]!; e < offsets[r + 1]!; e++) near[neighbours[e]!] = 1;
  }
  graph.links.forEach((link, k) => {
    if (window.linkLabels[link] === 0) return;
    near[graph.linkFromRow[k]!] = 1;
    near[graph.linkToRow[k]!] = 1;
  });
  return near;
}

/** True when node `v` was faulty in one of the `history` windows (the windows just before). */
function faultyBefore(history: readonly TelemetryWindow[], v: number): boolean {
  return history.some((previous) => v < previous.nodeCount && previous.nodeLabels[v] !== 0);
}

/**
 * The loss factor of each row of `graph` (a graph of `window`); `history` holds the windows
 * before it, oldest first (the last afterFaultWindows of them are read).
 */
export function rowWeights(window: TelemetryWindow, graph: WindowGraph, history: readonly TelemetryWindow[], weighting: RowWeighting): Float32Array {
  const rows = graph.nodes.length;
  const weights = new Float32Array(rows).fill(1);
  const near = nearFaultRows(window, graph);
  const recent = history.slice(Math.max(0, history.length - weighting.afterFaultWindows));
  for (let r = 0; r < rows; r++) {
    const v = graph.nodes[r]!;
    if (window.nodeLabels[v] !== 0) continue;
    if (weighting.afterFaultWindows > 0 && faultyBefore(recent, v)) weights[r] = 0;
    else if (near[r] === 1) weights[r] = weighting.nearFaultHealthyWeight;
  }
  return weights;
}
