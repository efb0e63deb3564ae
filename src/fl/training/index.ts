/**
 * Federated training of the anomaly detector (docs/fl-training.md): the non-IID split of the
 * twin's training windows among clients by topology region, local training with the detector's
 * own step, the round loop with sampling, robust rules, poisoning attacks and DP-FedAvg, the
 * centralised baseline, and evaluation with the detector's own measures. Sans-IO and
 * deterministic given a seed.
 */
export { alieZ, attackDefaults, attackKinds, attackTraining, coordinateMoments, craftMalicious, craftSecondMoment, labelFlipMap, normalQuantile, secondMomentInflation, secondMomentReportMax, type AttackKind, type AttackRound, type AttackSpec } from './attacks.js';
export { buildBatch, type BatchPick, type LocalBatch } from './batch.js';
export { trainCentralised } from './centralised.js';
export {
  buildCorpus,
  clientShards,
  inputMoments,
  pooledShard,
  standardiseCorpus,
  standardizerFromMoments,
  summedClassCounts,
  type ClientShard,
  type CorpusWindow,
  type InputMoments,
  type TrainingCorpus,
} from './corpus.js';
export { isTrainingError, TrainingError, TrainingErrorCode, type TrainingErrorCodeValue } from './errors.js';
export { detectorOf, evaluateParameters, type ModelEvaluation } from './evaluate.js';
export {
  averageSecondMoment,
  combineSecondMoments,
  chooseClients,
  runFederated,
  sampleClients,
  streamSeed,
  type AttackSettings,
  type DpSettings,
  type FederatedOptions,
  type FederatedResult,
  type RoundRecord,
  type Sampling,
} from './federated.js';
export { batchWindowsMax, localEpochsMax, roundsMax, trainingClientsMax } from './limits.js';
export { checkLocalOptions, shardLoss, trainLocally, type LocalTrainingOptions, type LocalTrainingResult, type TrainingLoss } from './local-training.js';
export { lossScaleOf, pooledScaleLoss, type LossScale } from './loss.js';
export { regionPartition, topologyOf, type Adjacency } from './partition.js';
export { aggregateBucketed, boundedToMedianNorm, bucketMeans, medianNorm, signFiltered, signFilterDeviations, tolerated, type Bucketing, type RuleKind, type RuleSpec, type RuleState } from './rules.js';
export { createRootData, createTrainingSetup, type RootData, type SetupOptions, type TrainingSetup } from './setup.js';
