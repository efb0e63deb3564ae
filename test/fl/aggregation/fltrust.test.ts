import { describe, expect, it } from 'vitest';
import { AggregationError, flTrust, flTrustScores } from '../../../src/fl/aggregation/index.js';
import { expectCodedError } from '../../coded-error.js';
import { f32, randomUpdates } from './helpers.js';

describe('flTrustScores', () => {
  it('is the ReLU of the cosine with the server update (hand-checked)', () => {
    // Server (1, 0). (3, 4): cos 0.6. (0, 2): cos 0. (-1, 0): cos -1 -> 0. (0, 0): no direction -> 0.
    const scores = flTrustScores(f32([3, 4], [0, 2], [-1, 0], [0, 0]), Float32Array.of(1, 0));
    expect(Array.from(scores)).toEqual([0.6, 0, 0, 0]);
  });
});

describe('flTrust', () => {
  it('weighs the updates rescaled to the server norm by their trust scores (hand-checked)', () => {
    // Server (2, 0), norm 2. (3, 4): score 0.6, rescaled (1.2, 1.6). (1, 0): score 1, rescaled (2, 0).
    // (-5, 0) scores 0. Aggregate: (0.6 (1.2, 1.6) + 1 (2, 0)) / 1.6 = (1.7, 0.6).
    const result = flTrust(f32([3, 4], [1, 0], [-5, 0]), Float32Array.of(2, 0));
    expect(result[0]).toBeCloseTo(1.7, 6);
    expect(result[1]).toBeCloseTo(0.6, 6);
  });

  it('ignores an update pointing away from the server whatever its size, and never exceeds the server norm', () => {
    const honest = randomUpdates(6, 50, 3, 0.1).map((u) => Float32Array.from(u, (v, j) => v + (j % 2 === 0 ? 1 : 0)));
    const server = Float32Array.from({ length: 50 }, (_, j) => (j % 2 === 0 ? 0.5 : 0));
    const clean = flTrust(honest, server);
    const attacked = flTrust([...honest, Float32Array.from(honest[0]!, (v) => -1000 * v)], server);
    expect(attacked).toEqual(clean);
    const norm = Math.hypot(...attacked);
    expect(norm).toBeLessThanOrEqual(Math.hypot(...server) * (1 + 1e-6));
  });

  it('moves nothing when no update has a positive cosine with the server', () => {
    expect(Array.from(flTrust(f32([-1, 0], [0, 3]), Float32Array.of(1, 0)))).toEqual([0, 0]);
  });

  it('lets the server update join the mean with serverTrust (hand-checked)', () => {
    // The server's own (2, 0) with score 1 stands where the client (1, 0) stood above: same (1.7, 0.6).
    const result = flTrust(f32([3, 4], [-5, 0]), Float32Array.of(2, 0), { serverTrust: 1 });
    expect(result[0]).toBeCloseTo(1.7, 6);
    expect(result[1]).toBeCloseTo(0.6, 6);
    // No client scores above zero: the server's update is the aggregate.
    expect(Array.from(flTrust(f32([-1, 0], [0, 3]), Float32Array.of(1, 0), { serverTrust: 0.5 }))).toEqual([1, 0]);
    expectCodedError(() => flTrust(f32([1]), Float32Array.of(1), { serverTrust: 1.5 }), AggregationError, 'ERR_FL_ARGUMENT', 'serverTrust');
    expectCodedError(() => flTrust(f32([1]), Float32Array.of(1), { serverTrust: Number.NaN }), AggregationError, 'ERR_FL_ARGUMENT', 'serverTrust');
  });

  it('checks the updates and the server update', () => {
    expectCodedError(() => flTrust([], Float32Array.of(1)), AggregationError, 'ERR_FL_SHAPE', 'at least one update');
    expectCodedError(() => flTrust(f32([1, 2]), Float32Array.of(1)), AggregationError, 'ERR_FL_SHAPE', 'server update has 1 parameters');
    expectCodedError(() => flTrust(f32([1, 2]), Float32Array.of(0, 0)), AggregationError, 'ERR_FL_ARGUMENT', 'server update is zero');
    expectCodedError(() => flTrust(f32([1, Number.NaN]), Float32Array.of(1, 0)), AggregationError, 'ERR_FL_NON_FINITE', 'coordinate 1');
    expectCodedError(() => flTrust(f32([1, 0]), Float32Array.of(Number.POSITIVE_INFINITY, 0)), AggregationError, 'ERR_FL_NON_FINITE', 'server update');
  });
});
