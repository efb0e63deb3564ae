import { AggregationError } from './errors.js';
import { requireNumber, requireVector } from './validate.js';

/**
 * Server optimisers that turn the round's aggregated client delta into a step of the global
 * model: FedAvgM (Hsu, Qi and Brown 2019: server momentum) and FedAdagrad, FedAdam and FedYogi
 * (Reddi et al. 2021, "Adaptive federated optimization", Algorithm 2). They are sans-IO: the
 * caller holds the state object between rounds (and may store it); `serverStep` updates it in
 * place. The delta is the aggregate of the clients' (local model - global model), from fedAvg
 * or any robust rule, so robust aggregation and adaptive server steps compose.
 */

/** Which optimiser and its hyper-parameters. */
export type ServerOptimizerConfig =
  /** x <- x + eta * m with m <- momentum * m + delta. */
  | { readonly kind: 'fedAvgM'; readonly eta: number; readonly momentum: number }
  /** Reddi et al.: m <- b1 m + (1 - b1) delta; v per kind; x <- x + eta * m / (sqrt(v) + tau). */
  | { readonly kind: 'fedAdagrad' | 'fedAdam' | 'fedYogi'; readonly eta: number; readonly beta1: number; readonly beta2: number; readonly tau: number };

/** The state the caller holds: the global model, the first and second moments (f64), the rounds taken. */
export interface ServerOptimizerState {
  readonly config: ServerOptimizerConfig;
  readonly model: Float32Array;
  readonly m: Float64Array;
  readonly v: Float64Array;
  rounds: number;
}

/** Defaults: FedAvgM eta 1, momentum 0.9; the adaptive ones eta 0.1 (Flower's), beta1 0.9, beta2 0.99, tau 1e-3 (the paper's). */
export function serverOptimizer(kind: ServerOptimizerConfig['kind'], overrides: Partial<Record<'eta' | 'momentum' | 'beta1' | 'beta2' | 'tau', number>> = {}): ServerOptimizerConfig {
  if (kind === 'fedAvgM') return { kind, eta: overrides.eta ?? 1, momentum: overrides.momentum ?? 0.9 };
  return { kind, eta: overrides.eta ?? 0.1, beta1: overrides.beta1 ?? 0.9, beta2: overrides.beta2 ?? 0.99, tau: overrides.tau ?? 1e-3 };
}

function checkConfig(config: ServerOptimizerConfig): void {
  const rule = config.kind;
  requireNumber(rule, 'eta', config.eta, 0, Number.POSITIVE_INFINITY);
  if (config.kind === 'fedAvgM') {
    requireNumber(rule, 'momentum', config.momentum, 0, 1, true);
    return;
  }
  requireNumber(rule, 'beta1', config.beta1, 0, 1, true);
  requireNumber(rule, 'beta2', config.beta2, 0, 1, true);
  requireNumber(rule, 'tau', config.tau, Number.MIN_VALUE, Number.POSITIVE_INFINITY);
}

/**
 * A fresh state around a copy of `initialModel`: m = 0 and, for the adaptive optimisers,
 * v = tau^2 (the paper's v_{-1} >= tau^2, so the first step is bounded by eta / (2 tau) * |m|).
 */
export function createServerState(config: ServerOptimizerConfig, initialModel: Float32Array): ServerOptimizerState {
  checkConfig(config);
  requireVector(config.kind, 'initial model', initialModel, initialModel.length);
  if (initialModel.length === 0) throw new AggregationError('ERR_FL_SHAPE', `${config.kind}: the initial model has no parameters`);
  const d = initialModel.length;
  const v = config.kind === 'fedAvgM' ? new Float64Array(0) : new Float64Array(d).fill(config.tau * config.tau);
  return { config, model: initialModel.slice(), m: new Float64Array(d), v, rounds: 0 };
}

/**
 * One server round: folds the aggregated `delta` into the state and moves `state.model`
 * (returned). A delta of the wrong length or with NaN or infinity is refused before the state
 * changes.
 */
export function serverStep(state: ServerOptimizerState, delta: Float32Array): Float32Array {
  const { config, model, m, v } = state;
  requireVector(config.kind, 'delta', delta, model.length);
  if (config.kind === 'fedAvgM') {
    for (let j = 0; j < model.length; j++) {
      m[j] = config.momentum * m[j]! + delta[j]!;
      model[j] = model[j]! + config.eta * m[j]!;
    }
  } else {
    adaptiveStep(config, model, m, v, delta);
  }
  state.rounds++;
  return model;
}

function adaptiveStep(config: Extract<ServerOptimizerConfig, { kind: 'fedAdagrad' | 'fedAdam' | 'fedYogi' }>, model: Float32Array, m: Float64Array, v: Float64Array, delta: Float32Array): void {
  const { kind, eta, beta1, beta2, tau } = config;
  // Adagrad sums squares; Adam takes an exponential average; Yogi moves v towards g^2 by an
  // additive step whose sign is that of g^2 - v, so v cannot grow as fast as Adam's after a
  // spike. One fused loop per kind keeps the branch out of the per-coordinate work and passes
  // over the state once.
  if (kind === 'fedAdagrad') {
    for (let j = 0; j < model.length; j++) {
      const g = delta[j]!;
      const mj = (m[j] = beta1 * m[j]! + (1 - beta1) * g);
      const vj = (v[j] = v[j]! + g * g);
      model[j] = model[j]! + (eta * mj) / (Math.sqrt(vj) + tau);
    }
  } else if (kind === 'fedAdam') {
    for (let j = 0; j < model.length; j++) {
      const g = delta[j]!;
      const mj = (m[j] = beta1 * m[j]! + (1 - beta1) * g);
      const vj = (v[j] = beta2 * v[j]! + (1 - beta2) * g * g);
      model[j] = model[j]! + (eta * mj) / (Math.sqrt(vj) + tau);
    }
  } else {
    for (let j = 0; j < model.length; j++) {
      const g = delta[j]!;
      const g2 = g * g;
      const mj = (m[j] = beta1 * m[j]! + (1 - beta1) * g);
      const vj = (v[j] = v[j]! - (1 - beta2) * g2 * Math.sign(v[j]! - g2));
      model[j] = model[j]! + (eta * mj) / (Math.sqrt(vj) + tau);
    }
  }
}
