/**
 * The round protocol of federated learning as sans-IO state machines: participant selection
 * (Poisson, as the DP accountant assumes, or fixed size), round configuration, update
 * submission with stale, replayed, wrong-model, wrong-length and non-finite updates refused by
 * name, deadlines the driver's clock passes in, a minimum number of participants, aggregation
 * with a configured rule (or DP-FedAvg charged to the privacy ledger), and the signed model
 * version every node verifies before installing.
 */
export { RoundCoordinator, type CoordinatorInput, type CoordinatorOptions, type CoordinatorStep, type RoundOutcome } from './coordinator.js';
export { RoundError, RoundErrorCode, isRoundError, type RoundErrorCodeValue } from './errors.js';
export * as roundLimits from './limits.js';
export type { ModelDistribution, NodeMessage, RoundConfig, UpdateSubmission } from './messages.js';
export { RoundParticipant, type ParticipantInput, type ParticipantOptions, type ParticipantStep, type TrainRequest } from './participant.js';
export { checkSelectionRule, selectParticipants, type Selection, type SelectionRule } from './selection.js';
export { aggregateUpdates, clipNormOf, ruleMinimumClients, strategyRecord, type DpContext, type RoundUpdates, type StrategySpec } from './strategy.js';
export { checkUpdate } from './update-check.js';
export { CoordinatorDriver, ParticipantDriver, roundDatagramId, type CoordinatorDriverStep, type DriverStep, type ParticipantDriverStep } from './round-driver.js';
export { TransferEndpoint, transferDefaults, type TransferInput, type TransferOptions, type TransferStep } from './transfer.js';
export { transferChunkBodyBytes, transferChunksMax, transferMessageBytesMax } from './transfer-frame.js';
export {
  checkSender,
  decodeDistribution,
  decodeRoundConfig,
  decodeRoundMessage,
  decodeUpdateSubmission,
  encodeDistribution,
  encodeRoundConfig,
  encodeUpdateSubmission,
  type WireRoundMessage,
  type WireUpdate,
} from './wire.js';
