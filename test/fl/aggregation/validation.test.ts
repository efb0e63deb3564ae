import { describe, expect, it } from 'vitest';
import {
  AggregationError,
  bulyan,
  centeredClipping,
  clientsMax,
  fedAvg,
  isAggregationError,
  krum,
  median,
  multiKrum,
  normBoundedMean,
  trimmedMean,
} from '../../../src/fl/aggregation/index.js';
import { scalarKernels } from '../../../src/fl/aggregation/kernels.js';
import { wasmKernels } from '../../../src/fl/aggregation/kernels-wasm.js';
import { expectCodedError } from '../../coded-error.js';
import { f32, randomUpdates } from './helpers.js';

type Rule = readonly [string, (updates: Float32Array[]) => unknown];
const rules: Rule[] = [
  ['fedAvg', (u) => fedAvg(u)],
  ['median', (u) => median(u)],
  ['trimmedMean', (u) => trimmedMean(u, 0.1)],
  ['krum', (u) => krum(u, 1)],
  ['multiKrum', (u) => multiKrum(u, 1, 3)],
  ['bulyan', (u) => bulyan(u, 1)],
  ['normBoundedMean', (u) => normBoundedMean(u, undefined, 1)],
  ['centeredClipping', (u) => centeredClipping(u, { tau: 1 })],
];

describe('every rule checks its input before aggregating', () => {
  for (const [name, rule] of rules) {
    it(`${name}: NaN and infinities are refused with the client and coordinate named`, () => {
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        const updates = randomUpdates(7, 5000, 3);
        updates[4]![4321] = bad;
        expectCodedError(() => rule(updates), AggregationError, 'ERR_FL_NON_FINITE', name, 'client 4', 'coordinate 4321', String(bad));
      }
    });

    it(`${name}: an update of another length is refused with both lengths named`, () => {
      const updates = randomUpdates(7, 10, 4);
      updates[2] = new Float32Array(9);
      expectCodedError(() => rule(updates), AggregationError, 'ERR_FL_SHAPE', name, 'client 2', '9', '10');
    });
  }

  it('no updates, empty updates, too many, or not Float32Array are refused', () => {
    expectCodedError(() => fedAvg([]), AggregationError, 'ERR_FL_SHAPE', 'at least one update');
    expectCodedError(() => median([new Float32Array(0)]), AggregationError, 'ERR_FL_SHAPE', 'parameters per update', 'got 0');
    expectCodedError(() => median(Array.from({ length: clientsMax + 1 }, () => new Float32Array(1))), AggregationError, 'ERR_FL_SHAPE', `at most ${clientsMax}`);
    expectCodedError(() => median([new Float32Array(2), [1, 2] as unknown as Float32Array]), AggregationError, 'ERR_FL_SHAPE', 'client 1 is not a Float32Array');
    expectCodedError(() => median([[1] as unknown as Float32Array]), AggregationError, 'ERR_FL_SHAPE', 'client 0 is not a Float32Array');
  });

  it('isAggregationError narrows by code', () => {
    const error = new AggregationError('ERR_FL_ARGUMENT', 'x');
    expect(isAggregationError(error)).toBe(true);
    expect(isAggregationError(error, 'ERR_FL_ARGUMENT')).toBe(true);
    expect(isAggregationError(error, 'ERR_FL_SHAPE')).toBe(false);
    expect(isAggregationError(new Error('x'))).toBe(false);
  });
});

describe("Krum never picks a NaN update (Flower's legacy Krum does)", () => {
  it('refuses the round instead of selecting the client whose distances are NaN', () => {
    // Four honest clients around 1 and one NaN client. A NaN distance compares false, so an
    // argmin over NaN scores can return the NaN client; ours refuses before any distance exists.
    const updates = f32([1, 1, 1], [1.1, 0.9, 1], [0.9, 1.1, 1], [1, 1, 1.1], [Number.NaN, 0, 0], [1, 1.05, 0.95]);
    expectCodedError(() => krum(updates, 1), AggregationError, 'ERR_FL_NON_FINITE', 'krum', 'client 4', 'coordinate 0', 'NaN');
    for (const kernels of [scalarKernels, wasmKernels()!]) {
      expectCodedError(() => kernels.pairwiseSquaredDistances('krum', updates), AggregationError, 'ERR_FL_NON_FINITE', 'client 4');
    }
  });
});
