import { describe, expect, it } from 'vitest';
import { AggregationError, createServerState, fedAvg, proximalGradient, proximalLoss, serverOptimizer, serverStep } from '../../../src/fl/aggregation/index.js';
import { expectCodedError } from '../../coded-error.js';
import { f32, randomUpdates } from './helpers.js';

describe('fedAvg', () => {
  it('weights updates by their example counts (hand-checked)', () => {
    // (10 * [1, 2] + 30 * [5, -2]) / 40 = [4, -1]
    expect(Array.from(fedAvg(f32([1, 2], [5, -2]), [10, 30]))).toEqual([4, -1]);
  });

  it('is the plain mean without weights, and a zero weight ignores a client', () => {
    expect(Array.from(fedAvg(f32([1, 2], [3, 6])))).toEqual([2, 4]);
    expect(Array.from(fedAvg(f32([1, 2], [3, 6]), [0, 5]))).toEqual([3, 6]);
  });

  it('matches an f64 reference over blocks and odd client counts', () => {
    const updates = randomUpdates(7, 5003, 9);
    const weights = [1, 2, 3, 4, 5, 6, 7];
    const got = fedAvg(updates, weights);
    for (let j = 0; j < 5003; j += 97) {
      const expected = updates.reduce((sum, u, i) => sum + u[j]! * weights[i]!, 0) / 28;
      expect(got[j]).toBeCloseTo(expected, 6);
    }
  });

  it('refuses a NaN update even when its weight is zero', () => {
    expectCodedError(() => fedAvg(f32([1, 2], [Number.NaN, 6]), [1, 0]), AggregationError, 'ERR_FL_NON_FINITE', 'client 1', 'coordinate 0');
  });

  it('checks the weights', () => {
    expectCodedError(() => fedAvg(f32([1], [2]), [1, Number.POSITIVE_INFINITY]), AggregationError, 'ERR_FL_ARGUMENT', 'weight of client 1');
  });
});

describe('server optimisers (hand-computed steps)', () => {
  const delta = Float32Array.of(0.5, -1);

  it('FedAvgM: m = momentum m + delta, x = x + eta m', () => {
    const state = createServerState(serverOptimizer('fedAvgM', { eta: 0.5, momentum: 0.5 }), Float32Array.of(1, 1));
    expect(Array.from(serverStep(state, delta))).toEqual([1.25, 0.5]);
    // m = 0.5 * [0.5, -1] + [0.5, -1] = [0.75, -1.5]; x = [1.25, 0.5] + 0.5 m = [1.625, -0.25]
    expect(Array.from(serverStep(state, delta))).toEqual([1.625, -0.25]);
    expect(state.rounds).toBe(2);
  });

  it('FedAdam: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, x = x + eta m / (sqrt v + tau), v starting at tau^2', () => {
    const config = serverOptimizer('fedAdam', { eta: 0.1, beta1: 0.9, beta2: 0.99, tau: 0.01 });
    const state = createServerState(config, Float32Array.of(0, 0));
    serverStep(state, delta);
    const m = 0.1 * 0.5;
    const v = 0.99 * 1e-4 + 0.01 * 0.25;
    expect(state.m[0]).toBeCloseTo(m, 12);
    expect(state.v[0]).toBeCloseTo(v, 12);
    expect(state.model[0]).toBeCloseTo((0.1 * m) / (Math.sqrt(v) + 0.01), 6);
    expect(state.model[1]).toBeCloseTo(-(0.1 * 0.1) / (Math.sqrt(0.99 * 1e-4 + 0.01) + 0.01), 6);
  });

  it('FedAdagrad: v = v + g^2', () => {
    const state = createServerState(serverOptimizer('fedAdagrad', { eta: 1, beta1: 0, tau: 0.5 }), Float32Array.of(0, 0));
    serverStep(state, delta);
    // v = 0.25 + 0.25 = 0.5; x = 0.5 / (sqrt 0.5 + 0.5)
    expect(state.v[0]).toBeCloseTo(0.5, 12);
    expect(state.model[0]).toBeCloseTo(0.5 / (Math.sqrt(0.5) + 0.5), 6);
    serverStep(state, delta);
    expect(state.v[0]).toBeCloseTo(0.75, 12);
  });

  it('FedYogi: v = v - (1 - b2) g^2 sign(v - g^2)', () => {
    const state = createServerState(serverOptimizer('fedYogi', { eta: 1, beta1: 0, beta2: 0.9, tau: 0.1 }), Float32Array.of(0, 0));
    serverStep(state, delta);
    // v0 = 0.01 < g^2 = 0.25, so v = 0.01 + 0.1 * 0.25 = 0.035; for g = -1: v = 0.01 + 0.1 = 0.11
    expect(state.v[0]).toBeCloseTo(0.035, 12);
    expect(state.v[1]).toBeCloseTo(0.11, 12);
    expect(state.model[0]).toBeCloseTo(0.5 / (Math.sqrt(0.035) + 0.1), 6);
    state.v[0] = 1;
    serverStep(state, delta);
    // v > g^2 now: v = 1 - 0.1 * 0.25 = 0.975
    expect(state.v[0]).toBeCloseTo(0.975, 12);
  });

  it('defaults follow the paper and Flower', () => {
    expect(serverOptimizer('fedAvgM')).toEqual({ kind: 'fedAvgM', eta: 1, momentum: 0.9 });
    expect(serverOptimizer('fedYogi')).toEqual({ kind: 'fedYogi', eta: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 });
  });

  it('refuses a bad delta before the state changes, and bad settings', () => {
    const state = createServerState(serverOptimizer('fedAdam'), Float32Array.of(1, 2));
    expectCodedError(() => serverStep(state, Float32Array.of(1, Number.NaN)), AggregationError, 'ERR_FL_NON_FINITE', 'fedAdam', 'delta', 'coordinate 1');
    expectCodedError(() => serverStep(state, Float32Array.of(1)), AggregationError, 'ERR_FL_SHAPE', 'delta', '1', '2');
    expect(Array.from(state.model)).toEqual([1, 2]);
    expect(state.rounds).toBe(0);
    expectCodedError(() => createServerState(serverOptimizer('fedAdam', { beta1: 1 }), Float32Array.of(1)), AggregationError, 'ERR_FL_ARGUMENT', 'beta1');
    expectCodedError(() => createServerState(serverOptimizer('fedAdam', { beta2: -0.1 }), Float32Array.of(1)), AggregationError, 'ERR_FL_ARGUMENT', 'beta2');
    expectCodedError(() => createServerState(serverOptimizer('fedAdam', { tau: 0 }), Float32Array.of(1)), AggregationError, 'ERR_FL_ARGUMENT', 'tau');
    expectCodedError(() => createServerState(serverOptimizer('fedAvgM', { momentum: 1 }), Float32Array.of(1)), AggregationError, 'ERR_FL_ARGUMENT', 'momentum');
    expectCodedError(() => createServerState(serverOptimizer('fedAvgM', { eta: -1 }), Float32Array.of(1)), AggregationError, 'ERR_FL_ARGUMENT', 'eta');
    expectCodedError(() => createServerState(serverOptimizer('fedAdam'), new Float32Array(0)), AggregationError, 'ERR_FL_SHAPE', 'no parameters');
  });

  it('keeps the caller’s initial model untouched', () => {
    const initial = Float32Array.of(1, 2);
    serverStep(createServerState(serverOptimizer('fedAvgM'), initial), delta);
    expect(Array.from(initial)).toEqual([1, 2]);
  });
});

describe('FedProx client term', () => {
  it('gradient mu (w - w_global) and loss mu/2 ||w - w_global||^2 (hand-checked)', () => {
    const local = Float32Array.of(1, 3);
    const global = Float32Array.of(0, 1);
    expect(Array.from(proximalGradient(local, global, 0.5))).toEqual([0.5, 1]);
    expect(proximalLoss(local, global, 0.5)).toBeCloseTo(0.25 * 5, 12);
    const out = new Float32Array(2);
    expect(proximalGradient(local, global, 2, out)).toBe(out);
    expect(Array.from(out)).toEqual([2, 4]);
  });

  it('checks mu and the vectors', () => {
    expectCodedError(() => proximalLoss(Float32Array.of(1), Float32Array.of(1), -1), AggregationError, 'ERR_FL_ARGUMENT', 'mu');
    expectCodedError(() => proximalGradient(Float32Array.of(1), Float32Array.of(1, 2), 1), AggregationError, 'ERR_FL_SHAPE', 'global model');
    expectCodedError(() => proximalGradient(Float32Array.of(1), Float32Array.of(1), 1, new Float32Array(3)), AggregationError, 'ERR_FL_SHAPE', 'out');
  });
});
