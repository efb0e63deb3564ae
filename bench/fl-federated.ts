import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainCentralised } from '../src/fl/training/centralised.js';
import { evaluateParameters, type ModelEvaluation } from '../src/fl/training/evaluate.js';
import { runFederated, type FederatedOptions, type FederatedResult } from '../src/fl/training/federated.js';
import { createTrainingSetup, type TrainingSetup } from '../src/fl/training/setup.js';
import { detectorDefaults } from '../src/mapek/detector.js';
import { parameterLayout } from '../src/ml/config.js';
import { readDataset, writeDataset } from '../src/telemetry/dataset-io.js';
import type { LabelledDataset } from '../src/telemetry/types.js';
import { generateDataset } from '../src/twin/dataset.js';
import { loadScenario } from '../src/twin/scenario.js';

/**
 * Shared data of the federated-training benchmarks (fl-federated, fl-robust, fl-dp), the same
 * twin datasets as the `detector` benchmark:
 *
 *   train        scenarios/anomaly-train.yaml (geometric), seeds 101 and 102, and
 *                anomaly-train-ba.yaml (Barabasi-Albert), seeds 111 and 112 (split among the clients)
 *   validation   seeds 103 and 113 of the same (threshold calibration, held by the server)
 *   test         scenarios/anomaly-test.yaml, its own seed (202: a held-out seed of the
 *                Barabasi-Albert kind), and anomaly-test-grid.yaml (222: a kind no training run has)
 *
 * Generating them takes 20-45 s each on this machine, so they are kept in a cache folder under
 * the system's temporary directory, keyed by the scenario file, the seed and the source of the
 * twin and telemetry code that produced them: a change to either makes a new key.
 */

export const trainSeeds = [101, 102] as const;
export const validationSeed = 103;
export const baTrainSeeds = [111, 112] as const;
export const baValidationSeed = 113;

/** Hash of everything a generated dataset depends on besides scenario and seed. */
function generatorHash(): string {
  const hash = createHash('sha256');
  for (const dir of ['src/twin', 'src/telemetry']) {
    for (const file of readdirSync(dir).filter((name) => name.endsWith('.ts')).sort()) {
      hash.update(file);
      hash.update(readFileSync(join(dir, file)));
    }
  }
  return hash.digest('hex');
}

/** A dataset of `scenarioPath` at `seed`: from the cache when present, else generated and cached. */
export function cachedDataset(scenarioPath: string, seed: number, timingsMs: Record<string, number>, generator: string = generatorHash()): LabelledDataset {
  const key = createHash('sha256').update(readFileSync(scenarioPath)).update(`#${seed}#`).update(generator).digest('hex').slice(0, 16);
  const scenario = loadScenario(scenarioPath);
  const dir = join(tmpdir(), 'x0tta6bl4-fl-datasets', `${scenario.name}-${seed}-${key}`);
  const started = performance.now();
  if (existsSync(join(dir, 'manifest.json'))) {
    const dataset = readDataset(dir);
    timingsMs[`${scenario.name}#${seed}(cached)`] = Math.round(performance.now() - started);
    return dataset;
  }
  const dataset = generateDataset(scenario, seed);
  writeDataset(dir, dataset);
  timingsMs[`${scenario.name}#${seed}`] = Math.round(performance.now() - started);
  return dataset;
}

/** The train, validation and test datasets of the federated benchmarks (see the file comment). */
export interface FlBenchData {
  readonly train: readonly LabelledDataset[];
  readonly validation: readonly LabelledDataset[];
  readonly test: readonly LabelledDataset[];
  readonly generationMs: Record<string, number>;
}

/** Loads or generates the benchmark datasets. */
export function flBenchData(): FlBenchData {
  const generationMs: Record<string, number> = {};
  const generator = generatorHash();
  const trainPath = 'scenarios/anomaly-train.yaml';
  const trainBaPath = 'scenarios/anomaly-train-ba.yaml';
  const cached = (path: string, seed: number): LabelledDataset => cachedDataset(path, seed, generationMs, generator);
  const train = [...trainSeeds.map((seed) => cached(trainPath, seed)), ...baTrainSeeds.map((seed) => cached(trainBaPath, seed))];
  const validation = [cached(trainPath, validationSeed), cached(trainBaPath, baValidationSeed)];
  const test = ['scenarios/anomaly-test.yaml', 'scenarios/anomaly-test-grid.yaml'].map((path) => cached(path, loadScenario(path).seed));
  return { train, validation, test, generationMs };
}

/**
 * The federated setting of all three benchmarks (docs/fl-training.md explains each choice):
 * 50 clients, each a topology region of both training runs; every 8th window trained on (to fit
 * the time budget: consecutive 1 s windows differ little); 11 clients a round (the fewest with
 * which Bulyan still tolerates f = 2, 20 %); one local epoch of the detector's own Adam step
 * over batches of 16 windows; FedAvg weighted by each client's share of the class-weighted loss.
 */
export const flConfig = {
  clients: 50,
  partitionSeed: 1,
  windowStride: 8,
  clientsPerRound: 11,
  local: { epochs: 1, batchWindows: 16, learningRate: detectorDefaults.learningRate, weightDecay: detectorDefaults.weightDecay, dropout: detectorDefaults.dropout },
  centralisedBatchWindows: detectorDefaults.batchWindows,
  fedAvgWeights: 'lossWeight' as const,
  byzantineShare: 0.2,
} as const;

/** The training setup of the benchmarks over `data` (the detector's own per-batch loss). */
export function flSetup(data: FlBenchData): TrainingSetup {
  return createTrainingSetup(data.train, { clients: flConfig.clients, seed: flConfig.partitionSeed, windowStride: flConfig.windowStride, lossNormalisation: 'batch' });
}

/** Pooled epochs that match `rounds` federated rounds: rounds x clients per round x local epochs / clients. */
export function matchedEpochs(rounds: number): number {
  return Math.max(1, Math.round((rounds * flConfig.clientsPerRound * flConfig.local.epochs) / flConfig.clients));
}

/** The federated options of the benchmarks for `rounds` rounds from model seed `seed`, FedAvg unless changed. */
export function federatedOptions(rounds: number, seed: number, change: Partial<FederatedOptions> = {}): FederatedOptions {
  return {
    rounds,
    sampling: { kind: 'fixed', clients: flConfig.clientsPerRound },
    local: flConfig.local,
    rule: { kind: 'fedAvg' },
    fedAvgWeights: flConfig.fedAvgWeights,
    byzantineShare: flConfig.byzantineShare,
    seed,
    ...change,
  };
}

/** The centralised baseline for `rounds` matched rounds: F1 and training time. */
export function centralisedRun(setup: TrainingSetup, data: FlBenchData, rounds: number, seed: number): { evaluation: ModelEvaluation; epochs: number; trainMs: number } {
  const epochs = matchedEpochs(rounds);
  const started = performance.now();
  const trained = trainCentralised(setup, { ...flConfig.local, epochs, batchWindows: flConfig.centralisedBatchWindows }, seed);
  const trainMs = Math.round(performance.now() - started);
  return { evaluation: evaluateParameters(setup, trained.parameters, data.validation, data.test), epochs, trainMs };
}

/** One federated run evaluated: F1, training time and the per-round record. */
export function federatedRun(setup: TrainingSetup, data: FlBenchData, options: FederatedOptions): { evaluation: ModelEvaluation; trainMs: number; result: FederatedResult } {
  const started = performance.now();
  const result = runFederated(setup, options);
  const trainMs = Math.round(performance.now() - started);
  return { evaluation: evaluateParameters(setup, result.parameters, data.validation, data.test), trainMs, result };
}

export const round4 = (value: number | null): number | null => (value === null ? null : Number(value.toFixed(4)));

/** Rounds of the federated-versus-centralised comparison. */
const comparisonRounds = 30;
/** Model seeds of the comparison: F1 of one run moves by a few hundredths with the seed, so the figure is the mean of three. */
const comparisonSeeds = [1, 2, 3];

/**
 * The federated settings of the comparison on top of federatedOptions (docs/fl-training.md,
 * "Closing the gap"): clients share Adam's second moment, so a client without faults makes small
 * steps on the weights its data barely move, and take the detector's own batches of 4 windows (45
 * local steps a round instead of 12, which only pays once the second moment is shared). Chosen on
 * the validation runs. fl-robust and fl-dp keep the plain settings: DP does not privatise the
 * second moments, and an attacker could report any second moment.
 */
export const comparisonChange: Partial<FederatedOptions> = {
  sharedSecondMoment: true,
  local: { ...flConfig.local, batchWindows: detectorDefaults.batchWindows },
};

/** Federated (shared second moment) against centralised training of the detector, and plain FedAvg for reference, three seeds each. */
export async function run(): Promise<{ figures: Record<string, number | null>; details: unknown }> {
  const data = flBenchData();
  const setup = flSetup(data);
  const runs = comparisonSeeds.map((seed) => {
    const federated = federatedRun(setup, data, federatedOptions(comparisonRounds, seed, comparisonChange));
    const plain = federatedRun(setup, data, federatedOptions(comparisonRounds, seed));
    const centralised = centralisedRun(setup, data, comparisonRounds, seed);
    const f1 = (e: ModelEvaluation): string => e.nodeF1.toFixed(4);
    process.stderr.write(`fl-federated seed ${seed}: federated ${f1(federated.evaluation)} (plain FedAvg ${f1(plain.evaluation)}) centralised ${f1(centralised.evaluation)}\n`);
    return {
      seed,
      federated: { ...federated.evaluation, trainMs: federated.trainMs },
      plainFedAvg: { ...plain.evaluation, trainMs: plain.trainMs },
      centralised: { ...centralised.evaluation, epochs: centralised.epochs, trainMs: centralised.trainMs },
    };
  });
  const mean = (pick: (r: (typeof runs)[number]) => number): number => runs.reduce((sum, r) => sum + pick(r), 0) / runs.length;
  const federatedF1 = mean((r) => r.federated.nodeF1);
  const centralisedF1 = mean((r) => r.centralised.nodeF1);
  const plainFedAvgF1 = mean((r) => r.plainFedAvg.nodeF1);
  return {
    figures: { federatedF1: round4(federatedF1), centralisedF1: round4(centralisedF1), f1DiffFederatedMinusCentralised: round4(federatedF1 - centralisedF1) },
    details: {
      config: flConfig,
      comparison: comparisonChange,
      rounds: comparisonRounds,
      seeds: comparisonSeeds,
      plainFedAvgF1: round4(plainFedAvgF1),
      plainFedAvgF1DiffMinusCentralised: round4(plainFedAvgF1 - centralisedF1),
      data: dataSummary(setup, data),
      runs,
    },
  };
}

/** What the benchmarks trained and tested on, for the results file. */
export function dataSummary(setup: TrainingSetup, data: FlBenchData): unknown {
  const faultyClients = setup.shards.filter((shard) => shard.classCounts.some((count, label) => label > 0 && count > 0)).length;
  const examples = setup.shards.map((shard) => shard.examples);
  return {
    generationMs: data.generationMs,
    trainWindows: setup.corpus.windows.length,
    pooledNodeRows: setup.pooled.examples,
    parameters: parameterCount(setup),
    clientsWithAnyFault: faultyClients,
    clientRowsMin: Math.min(...examples),
    clientRowsMax: Math.max(...examples),
    validationWindows: data.validation.reduce((sum, d) => sum + d.windows.length, 0),
    testWindows: data.test.reduce((sum, d) => sum + d.windows.length, 0),
    testTopologies: data.test.map((d) => d.topology),
  };
}

function parameterCount(setup: TrainingSetup): number {
  return parameterLayout(setup.modelConfig).count;
}
