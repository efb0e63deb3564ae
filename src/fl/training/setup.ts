/**
 * Everything a federated run and its centralised baseline share: the detector's feature schema
 * and input builder, the prepared training windows standardised with federated statistics, the
 * non-IID client shards (partition.ts), the pooled shard, the loss weights from the summed class
 * counts, and the GraphSAGE architecture (the detector's defaults).
 */
import { checkDataset, checkFeatureNames, NodeInputBuilder, type FeatureSchema, type Standardizer } from '../../mapek/detector-features.js';
import { detectorDefaults } from '../../mapek/detector.js';
import { headWidth, lossWeights, type LossWeights } from '../../mapek/detector-loss.js';
import type { GraphSageConfig } from '../../ml/config.js';
import { seededRandom } from '../../ml/random.js';
import type { Dataset } from '../../telemetry/types.js';
import { buildCorpus, clientShards, inputMoments, pooledShard, standardiseCorpus, standardizerFromMoments, summedClassCounts, type ClientShard, type TrainingCorpus } from './corpus.js';
import { dataError, requireInteger } from './errors.js';
import { trainingClientsMax } from './limits.js';
import type { LocalTrainingOptions, TrainingLoss } from './local-training.js';
import { lossScaleOf } from './loss.js';
import { regionPartition, topologyOf } from './partition.js';

/** Choices of the setup; all but clients and seed default to the detector's. */
export interface SetupOptions {
  readonly clients: number;
  /** Seeds the partition (and nothing else). */
  readonly seed: number;
  /** Train on every stride-th window only (1: all); the change columns still see the window before. */
  readonly windowStride?: number;
  readonly deltaLags?: number;
  readonly hiddenDims?: readonly number[];
  readonly classLossWeight?: number;
  readonly faultyWeightMax?: number;
  /** 'batch' (default): the detector's own per-batch normalisation; 'pooled': every batch normalised to the pooled weight per row (loss.ts). */
  readonly lossNormalisation?: 'pooled' | 'batch';
}

/** The shared state of federated and centralised training (see the file comment). */
export interface TrainingSetup {
  readonly schema: FeatureSchema;
  readonly deltaLags: number;
  readonly corpus: TrainingCorpus;
  /** Region of every node, one array per training dataset. */
  readonly owners: readonly Int32Array[];
  readonly shards: readonly ClientShard[];
  readonly pooled: ClientShard;
  readonly standardizer: Standardizer;
  readonly weights: LossWeights;
  /** The loss every client and the centralised baseline minimise. */
  readonly loss: TrainingLoss;
  readonly modelConfig: GraphSageConfig;
}

/** The feature names of the first dataset, after checking that every dataset is valid and has the same ones. */
function commonSchema(train: readonly Dataset[]): FeatureSchema {
  if (train.length === 0) throw dataError('createTrainingSetup: expected at least one training dataset, got none');
  const schema: FeatureSchema = { nodeFeatureNames: [...train[0]!.nodeFeatureNames], linkFeatureNames: [...train[0]!.linkFeatureNames] };
  for (const dataset of train) {
    checkDataset('createTrainingSetup', dataset);
    checkFeatureNames(`createTrainingSetup: ${dataset.scenario}/${dataset.seed}`, schema, dataset);
  }
  return schema;
}

/** Builds the setup: corpus, partition, shards, federated standardisation and loss weights. */
export function createTrainingSetup(train: readonly Dataset[], options: SetupOptions): TrainingSetup {
  requireInteger('createTrainingSetup', 'clients', options.clients, 1, trainingClientsMax);
  const schema = commonSchema(train);
  const deltaLags = options.deltaLags ?? detectorDefaults.deltaLags;
  const builder = new NodeInputBuilder(schema, deltaLags);
  const corpus = buildCorpus(train, builder, options.windowStride ?? 1);
  const random = seededRandom(options.seed);
  const owners = train.map((dataset) => regionPartition(topologyOf(dataset), options.clients, random));
  const shards = clientShards(corpus, owners, options.clients);
  const standardizer = standardizerFromMoments(shards.map((shard) => inputMoments(corpus, shard)), corpus.inputDim);
  standardiseCorpus(corpus, standardizer);
  const counts = summedClassCounts(shards);
  if (counts[0] === counts.reduce((a, b) => a + b, 0)) throw dataError('createTrainingSetup: the training windows hold no faulty node row; nothing to learn from');
  const weights = lossWeights(counts, options.faultyWeightMax ?? detectorDefaults.faultyWeightMax, options.classLossWeight ?? detectorDefaults.classLossWeight);
  const modelConfig: GraphSageConfig = { inputDim: corpus.inputDim, hiddenDims: options.hiddenDims ?? detectorDefaults.hiddenDims, outputDim: headWidth, head: 'sigmoid', l2Normalize: detectorDefaults.l2Normalize };
  const loss: TrainingLoss = { weights, scale: options.lossNormalisation === 'pooled' ? lossScaleOf(weights, counts) : null };
  return { schema, deltaLags, corpus, owners, shards, pooled: pooledShard(corpus), standardizer, weights, loss, modelConfig };
}

/**
 * The server's root data for FLTrust (rules.ts): labelled windows the server holds itself,
 * prepared like the training corpus and standardised with the federation's statistics, all their
 * rows one shard. The server trains on them each round to get its own update.
 */
export interface RootData {
  readonly corpus: TrainingCorpus;
  readonly shard: ClientShard;
  /** The server's local settings on its root data, when not the clients' (FLTrust's server takes as many steps as a client does). */
  readonly local?: LocalTrainingOptions;
}

/**
 * Root data from every `windowStride`-th window of `datasets` (labelled data the server holds,
 * never a client's): same schema as the setup, standardised with the setup's standardiser.
 */
export function createRootData(setup: TrainingSetup, datasets: readonly Dataset[], windowStride: number): RootData {
  requireInteger('createRootData', 'windowStride', windowStride, 1, 1_000_000);
  checkFeatureNames('createRootData', setup.schema, commonSchema(datasets));
  const corpus = buildCorpus(datasets, new NodeInputBuilder(setup.schema, setup.deltaLags), windowStride);
  standardiseCorpus(corpus, setup.standardizer);
  const shard = pooledShard(corpus);
  if (shard.classCounts[0] === shard.examples) throw dataError('createRootData: the root windows hold no faulty node row; the server update would not know faults');
  return { corpus, shard };
}
