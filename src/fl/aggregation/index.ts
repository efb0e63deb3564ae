/**
 * Aggregation strategies of federated learning over flat Float32Array updates: FedAvg, server
 * optimisers (FedAvgM, FedAdagrad, FedAdam, FedYogi), the FedProx client term, and the robust
 * rules (median, trimmed mean, Krum, Multi-Krum, Bulyan, centered clipping, norm bounding, FLTrust).
 * Pure functions with no I/O; stateful optimisers keep their state in an object the caller holds.
 */
export { bulyan, bulyanSelection } from './bulyan.js';
export { centeredClipping, clipToNorm, normBoundedMean, type CenteredClippingOptions } from './clipping.js';
export { median, trimmedMean } from './coordinate-wise.js';
export { AggregationError, AggregationErrorCode, isAggregationError, type AggregationErrorCodeValue } from './errors.js';
export { fedAvg } from './fedavg.js';
export { flTrust, flTrustScores, type FlTrustOptions } from './fltrust.js';
export { proximalGradient, proximalLoss } from './fedprox.js';
export { krum, krumRanking, multiKrum, type KrumRanking } from './krum.js';
export { clientsMax, clippingIterationsMax, parameterCountMax } from './limits.js';
export { createServerState, serverOptimizer, serverStep, type ServerOptimizerConfig, type ServerOptimizerState } from './server-optimizers.js';
