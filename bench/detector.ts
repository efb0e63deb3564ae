import { trainAndEvaluate } from '../src/mapek/detector-pipeline.js';
import type { LabelledDataset, TelemetryWindow } from '../src/telemetry/types.js';
import { generateDataset } from '../src/twin/dataset.js';
import { loadScenario, type Scenario } from '../src/twin/scenario.js';

/**
 * The anomaly detector against the rule and z-score baselines on labelled twin data (issue 5,
 * section 3). Every dataset is generated in this run by the twin (src/twin/dataset.ts):
 *
 *   train        scenarios/anomaly-train.yaml (geometric) and anomaly-train-ba.yaml
 *                (Barabasi-Albert), two seeds each
 *   validation   a third seed of each (threshold calibration, early stopping)
 *   test         held-out seeds of both kinds (anomaly-train seed 104, anomaly-test.yaml on
 *                Barabasi-Albert), and anomaly-test-grid.yaml: a grid, a topology kind no
 *                training run has
 *   healthy      scenarios/anomaly-healthy-churn.yaml: one hour of churn, no faults
 *   timing       scenarios/anomaly-inference-1000.yaml: the last window of a 1000-node mesh
 *
 * Figures: F1 per fault type (one-vs-healthy), overall F1 of the detector and both baselines and
 * the margin over the better one, false positives as a share of healthy node-windows, detection
 * delay from fault onset, and the time to score every node of a 1000-node window.
 */

const trainSeeds = [101, 102];
const validationSeed = 103;
const heldOutSeed = 104;
const baTrainSeeds = [111, 112];
const baValidationSeed = 113;
/** Seed of the detector's initialisation and training. */
const modelSeed = 1;

function dataset(scenario: Scenario, seed: number, timings: Record<string, number>): LabelledDataset {
  const started = performance.now();
  const generated = generateDataset(scenario, seed);
  timings[`${scenario.name}#${seed}`] = Math.round(performance.now() - started);
  return generated;
}

/** The last window of `data` with the windows before it as history. */
function lastWindow(data: LabelledDataset): { window: TelemetryWindow; history: TelemetryWindow[] } {
  const windows = data.windows;
  if (windows.length === 0) throw new Error(`detector bench: ${data.scenario} produced no windows`);
  return { window: windows.at(-1)!, history: windows.slice(0, -1) };
}

const round = (value: number | null, digits = 4): number | null => (value === null ? null : Number(value.toFixed(digits)));

/** Generates the datasets, trains, evaluates; returns the figures and the reports. */
export async function run(): Promise<{ figures: Record<string, number | null>; details: unknown }> {
  const train = loadScenario('scenarios/anomaly-train.yaml');
  const trainBa = loadScenario('scenarios/anomaly-train-ba.yaml');
  const test = loadScenario('scenarios/anomaly-test.yaml');
  const testGrid = loadScenario('scenarios/anomaly-test-grid.yaml');
  const healthy = loadScenario('scenarios/anomaly-healthy-churn.yaml');
  const large = loadScenario('scenarios/anomaly-inference-1000.yaml');
  const generationMs: Record<string, number> = {};
  const input = {
    train: [...trainSeeds.map((seed) => dataset(train, seed, generationMs)), ...baTrainSeeds.map((seed) => dataset(trainBa, seed, generationMs))],
    validation: [dataset(train, validationSeed, generationMs), dataset(trainBa, baValidationSeed, generationMs)],
    test: [dataset(train, heldOutSeed, generationMs), dataset(test, test.seed, generationMs), dataset(testGrid, testGrid.seed, generationMs)],
    healthy: [dataset(healthy, healthy.seed, generationMs)],
    seed: modelSeed,
    clock: () => performance.now(),
    inferenceWindow: lastWindow(dataset(large, large.seed, generationMs)),
  };
  const started = performance.now();
  const result = trainAndEvaluate(input);
  const trainAndEvaluateMs = Math.round(performance.now() - started);
  const f = result.figures;
  return {
    figures: {
      greyholeF1: round(f.greyholeF1),
      blackholeF1: round(f.blackholeF1),
      overallF1: round(f.overallF1),
      ruleOverallF1: round(f.ruleOverallF1),
      zScoreOverallF1: round(f.zScoreOverallF1),
      f1MarginOverBaseline: round(f.f1MarginOverBaseline),
      overallF1UnseenTopologies: round(f.overallF1UnseenTopologies),
      falsePositiveRate: round(f.falsePositiveRate, 6),
      detectionDelayMedianMs: f.detectionDelayMedianMs,
      detectionDelayP95Ms: f.detectionDelayP95Ms,
      detectedFaultShare: round(f.detectedFaultShare),
      inferenceMs1000Nodes: round(f.inferenceMs1000Nodes, 2),
    },
    details: {
      seeds: { train: [...trainSeeds, ...baTrainSeeds], validation: [validationSeed, baValidationSeed], heldOut: heldOutSeed, test: [test.seed, testGrid.seed], healthy: healthy.seed, model: modelSeed },
      topologies: { train: input.train.map((d) => d.topology), test: input.test.map((d) => d.topology), healthy: input.healthy[0]!.topology },
      windows: { train: input.train.map((d) => d.windows.length), validation: input.validation.map((d) => d.windows.length), test: input.test.map((d) => d.windows.length), healthy: input.healthy[0]!.windows.length },
      generationMs,
      trainAndEvaluateMs,
      f1PerFaultType: f.f1PerFaultType,
      attributedF1PerFaultType: f.attributedF1PerFaultType,
      inference: { nodes: f.inferenceNodes, links: f.inferenceLinks, ms: f.inferenceMs },
      training: result.training,
      reports: { detector: result.detector, rules: result.rules, zScore: result.zScore },
    },
  };
}
