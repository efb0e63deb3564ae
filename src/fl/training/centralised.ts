/**
 * The centralised baseline: the same model, initial parameters, local-training code and loss
 * trained on the pooled rows of all clients for a given number of epochs, as if one server held
 * every node's telemetry.
 */
import { GraphSage } from '../../ml/model.js';
import { seededRandom } from '../../ml/random.js';
import { streamSeed } from './federated.js';
import { trainLocally, type LocalTrainingOptions, type LocalTrainingResult } from './local-training.js';
import type { TrainingSetup } from './setup.js';

/** Trains on the pooled shard from the initial model of `seed` (the federated run's, for the same seed). */
export function trainCentralised(setup: TrainingSetup, options: LocalTrainingOptions, seed: number): LocalTrainingResult {
  const initial = GraphSage.create(setup.modelConfig, seededRandom(seed)).parameters;
  return trainLocally(setup.modelConfig, initial, setup.corpus, setup.pooled, setup.loss, options, seededRandom(streamSeed(seed, 3)));
}
