/**
 * Secure aggregation for federated learning: SecAgg+ (Bell et al. 2020) over Bonawitz et al.
 * 2017 as sans-IO client and server state machines, Shamir sharing over GF(2^256 + 297),
 * fixed-point quantisation into Z / 2^32 with a stated error bound, distributed DP, random
 * grouping with a robust rule over the group means, and an in-process driver.
 */
export { SecAggClient, type DistributedDpOptions, type SecAggClientOptions } from './client.js';
export { checkSecAggConfig, secAggClientId, shareX, type CommunicationGraph, type SecAggClientId, type SecAggConfig } from './config.js';
export { SecAggError, SecAggErrorCode, isSecAggError, type SecAggErrorCodeValue } from './errors.js';
export { randomHararyGraph, suggestedNeighbourCount, thresholdFor } from './graph.js';
export { aggregateGroups, assignGroups, groupMeans, groupsRequired, type GroupRule, type GroupSum } from './grouping.js';
export * as secAggLimits from './limits.js';
export {
  SecAggRound,
  clientMessageBytes,
  serverMessageBytes,
  signClientMessage,
  verifyClientMessage,
  type AdvertiseKeys,
  type ClientMessage,
  type ForwardedShares,
  type MaskedInput,
  type NeighbourKeys,
  type ServerMessage,
  type ShareKeys,
  type UnmaskingShares,
  type UnmaskRequest,
} from './messages.js';
export { groupSessionId, planSecAgg, type PlanOptions } from './plan.js';
export { checkQuantisation, dequantiseSum, quantisationErrorBound, quantisationFor, quantise, quantisedMax, type Quantisation, type Quantised } from './quantise.js';
export type { RandomSource } from './random.js';
export { SecAggServer, type Addressed, type SecAggResult, type ServerStep } from './server.js';
export { combineShares, fieldPrime, splitSecret } from './shamir.js';
export {
  simulateGroupedSecAgg,
  simulateSecAgg,
  type ClientTraffic,
  type DropoutRound,
  type GroupedSimulationOptions,
  type GroupedSimulationReport,
  type SimulatedClient,
  type SimulationOptions,
  type SimulationReport,
} from './simulate.js';
