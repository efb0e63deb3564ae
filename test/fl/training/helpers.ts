/** Tiny synthetic data and settings shared by the federated-training tests (fast: 16 nodes, 20 windows). */
import { createTrainingSetup, type TrainingSetup } from '../../../src/fl/training/setup.js';
import type { LocalTrainingOptions } from '../../../src/fl/training/local-training.js';
import type { LabelledDataset } from '../../../src/telemetry/types.js';
import { syntheticDataset } from '../../mapek/synthetic.js';

/** A small labelled run: 16 nodes, 20 windows, 5 fault episodes. */
export function tinyDataset(seed: number, faults = 5): LabelledDataset {
  return syntheticDataset({ seed, topology: 'geometric', nodes: 16, windows: 20, faults, churn: 0.01 });
}

/** Two tiny runs split among `clients` clients, with a small model (and the detector's loss unless 'pooled'). */
export function tinySetup(clients = 8, seed = 1, lossNormalisation: 'batch' | 'pooled' = 'batch'): TrainingSetup {
  return createTrainingSetup([tinyDataset(11), tinyDataset(12)], { clients, seed, hiddenDims: [8], lossNormalisation });
}

/** Local training settings for the tiny data. */
export const tinyLocal: LocalTrainingOptions = { epochs: 2, batchWindows: 8, learningRate: 0.01, weightDecay: 0, dropout: 0 };
