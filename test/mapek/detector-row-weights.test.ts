/** Loss factors of healthy node-windows near a fault: hand-built windows, and the range checks. */
import { describe, expect, test } from 'vitest';
import { DetectorErrorCode } from '../../src/mapek/detector-errors.js';
import { windowGraph } from '../../src/mapek/detector-features.js';
import { afterFaultWindowsMax, checkRowWeighting, isNeutral, nearFaultHealthyWeightMax, neutralRowWeighting, rowWeights } from '../../src/mapek/detector-row-weights.js';
import { FaultClass } from '../../src/telemetry/types.js';
import { expectDetectorError, windowOf } from './helpers.js';

// A path 0 - 1 - 2 - 3 - 4 (links both ways); node 5 is down.
const nodes = [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0], [0, 0]];
const path: [number, number, number, number][] = [];
for (let v = 0; v < 4; v++) path.push([v, v + 1, 0, 0], [v + 1, v, 0, 0]);
const alive = [1, 1, 1, 1, 1, 0];

/** The path with node labels and, optionally, one congested link (index into `path`). */
function pathWindow(index: number, nodeLabels: number[], congested = -1): ReturnType<typeof windowOf> {
  const linkLabels = path.map((_, i) => (i === congested ? FaultClass.congestion : 0));
  return windowOf({ index, alive, nodes, links: path, nodeLabels, linkLabels });
}

describe('rowWeights', () => {
  test('the neutral weighting gives every row 1', () => {
    const window = pathWindow(0, [0, FaultClass.greyHole, 0, 0, 0, 0]);
    expect(isNeutral(neutralRowWeighting)).toBe(true);
    expect([...rowWeights(window, windowGraph(window), [], neutralRowWeighting)]).toStrictEqual([1, 1, 1, 1, 1]);
  });

  test('healthy neighbours of a faulty node and ends of a faulty link weigh nearFaultHealthyWeight; faulty rows 1', () => {
    // Node 1 is a grey hole; link 3 -> 4 (path index 6) is congested.
    const window = pathWindow(0, [0, FaultClass.greyHole, 0, 0, 0, 0], 6);
    const weights = rowWeights(window, windowGraph(window), [], { afterFaultWindows: 0, nearFaultHealthyWeight: 4 });
    expect([...weights]).toStrictEqual([4, 1, 4, 4, 4]);
  });

  test('a healthy node-window within afterFaultWindows of its own fault weighs 0, beyond it as any other', () => {
    const faulty = pathWindow(0, [0, 0, FaultClass.bogusMetrics, 0, 0, 0]);
    const healthy = (index: number): ReturnType<typeof windowOf> => pathWindow(index, [0, 0, 0, 0, 0, 0]);
    const weighting = { afterFaultWindows: 2, nearFaultHealthyWeight: 3 };
    const soon = healthy(2);
    expect([...rowWeights(soon, windowGraph(soon), [faulty, healthy(1)], weighting)]).toStrictEqual([1, 1, 0, 1, 1]);
    const later = healthy(3);
    expect([...rowWeights(later, windowGraph(later), [faulty, healthy(1), healthy(2)], weighting)]).toStrictEqual([1, 1, 1, 1, 1]);
    // A history window of a smaller network says nothing about the nodes it did not have.
    const smaller = windowOf({ index: 1, nodes: [[0, 0]], links: [], nodeLabels: [FaultClass.greyHole] });
    expect([...rowWeights(soon, windowGraph(soon), [smaller], weighting)]).toStrictEqual([0, 1, 1, 1, 1]);
    // Without the window count, the node just after its fault counts as any healthy one.
    expect([...rowWeights(soon, windowGraph(soon), [faulty, healthy(1)], { ...weighting, afterFaultWindows: 0 })]).toStrictEqual([1, 1, 1, 1, 1]);
  });
});

describe('checkRowWeighting', () => {
  test('accepts the limits, refuses what lies outside them with the value named', () => {
    expect(() => checkRowWeighting('t', { afterFaultWindows: afterFaultWindowsMax, nearFaultHealthyWeight: nearFaultHealthyWeightMax })).not.toThrow();
    expectDetectorError(() => checkRowWeighting('t', { afterFaultWindows: 1.5, nearFaultHealthyWeight: 1 }), DetectorErrorCode.ERR_DETECTOR_ARGUMENT, 'afterFaultWindows', '1.5');
    expectDetectorError(() => checkRowWeighting('t', { afterFaultWindows: afterFaultWindowsMax + 1, nearFaultHealthyWeight: 1 }), DetectorErrorCode.ERR_DETECTOR_ARGUMENT, 'afterFaultWindows');
    expectDetectorError(() => checkRowWeighting('t', { afterFaultWindows: 0, nearFaultHealthyWeight: Number.NaN }), DetectorErrorCode.ERR_DETECTOR_ARGUMENT, 'nearFaultHealthyWeight', 'NaN');
    expectDetectorError(() => checkRowWeighting('t', { afterFaultWindows: 0, nearFaultHealthyWeight: -1 }), DetectorErrorCode.ERR_DETECTOR_ARGUMENT, 'nearFaultHealthyWeight');
  });
});
