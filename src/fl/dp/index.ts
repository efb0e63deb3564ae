/** Differential privacy for federated learning: the RDP accountant, DP-FedAvg, adaptive clipping, distributed noise, the budget ledger. */
export { DpError, DpErrorCode, isDpError, type DpErrorCodeValue } from './errors.js';
export * as dpLimits from './limits.js';
export { defaultOrders, dpAccountingOrders, opacusOrders } from './orders.js';
export { bestEpsilon, classicEpsilon, improvedEpsilon, type EpsilonAtOrder, type RdpConversion } from './rdp-conversion.js';
export { sampledGaussianRdpAtOrder } from './rdp-sampled-gaussian.js';
export {
  composedEpsilon,
  composedRdp,
  epsilonFromRdp,
  noiseMultiplierFor,
  rdpEpsilon,
  sampledGaussianRdp,
  type EpsilonOptions,
  type NoiseMultiplierQuery,
  type RdpEpsilonQuery,
  type SampledGaussianSegment,
} from './accountant.js';
export { cryptoNoiseSource, GaussianSampler, seededNoiseSource, type NoiseSource } from './noise.js';
export { l2Norm } from './updates.js';
export { cappedWeights, clipFactor, clipUpdate, dpFedAvg, type DpFedAvgOptions, type DpFedAvgResult } from './dp-fedavg.js';
export {
  adaptiveDpFedAvg,
  combinedNoiseMultiplier,
  countNoiseStdPerExpectedClient,
  nextClipNorm,
  updateNoiseMultiplier,
  type AdaptiveClippingOptions,
  type AdaptiveDpFedAvgResult,
  type ClipNormStep,
} from './adaptive-clipping.js';
export { clientNoisedUpdate, noiseShareStd, type NoiseShareOptions } from './distributed-noise.js';
export { PrivacyLedger, type LedgerEntry, type LedgerOptions, type LedgerSummary } from './ledger.js';
