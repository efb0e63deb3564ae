/**
 * The detector's whole experiment in one call, so the `detector` benchmark is a thin wrapper:
 * train the GraphSAGE detector (an ensemble of `members` seeds), optionally score it as the
 * MAPE-K loop acts on it (confirmed over `confirmWindows` windows, thresholds recalibrated on
 * the validation data), calibrate the z-score baseline on the same validation data,
 * evaluate the detector and both baselines on the held-out test datasets (all of them, and
 * split into seen and unseen topologies) and on healthy runs, time inference on the largest
 * window, and return the figures the issue names beside the full reports.
 */
import type { Calibration } from '../ml/classification.js';
import type { Dataset, TelemetryWindow } from '../telemetry/types.js';
import { RuleBaseline, ZScoreBaseline, type ZScoreOptions } from './baselines.js';
import { DetectorError, DetectorErrorCode } from './detector-errors.js';
import { ConfirmedScorer } from './confirmation.js';
import { DetectorEnsemble, type EnsembleTrainingReport } from './detector-ensemble.js';
import { detectorDefaults, type DetectorOptions } from './detector.js';
import { evaluateScored, scoreAll, type EvaluationReport, type Scorer, type WindowScores } from './evaluation.js';

/** The data and settings of one experiment. */
export interface PipelineInput {
  readonly train: readonly Dataset[];
  readonly validation: readonly Dataset[];
  /** Held-out datasets: other seeds of the training topologies and topologies not seen in training. */
  readonly test: readonly Dataset[];
  /** Runs without faults (with churn), for the false-positive share. */
  readonly healthy: readonly Dataset[];
  /** Seed of the first ensemble member; member i trains with seed + i. */
  readonly seed: number;
  readonly detector?: Omit<DetectorOptions, 'seed'>;
  /** Detectors averaged in the ensemble (default 1: a single detector). */
  readonly members?: number;
  /**
   * Windows in a row an item must score at or above the threshold to be flagged, as the MAPE-K
   * loop confirms incidents (confirmation.ts); default 1: every window's raw scores.
   */
  readonly confirmWindows?: number;
  readonly zScore?: ZScoreOptions;
  /** Threshold calibration of the z-score baseline (the detector's is in `detector`); default: maximum F1. */
  readonly calibration?: Calibration;
  /** The window to time inference on (with its history); default: the largest window of test and healthy data. */
  readonly inferenceWindow?: { readonly window: TelemetryWindow; readonly history: readonly TelemetryWindow[] };
  /** Timed runs after 3 warm-up runs; the median is reported (default 20). */
  readonly inferenceRepeats?: number;
  /** Milliseconds clock for the inference timing (the bench passes the process clock; tests a fake). */
  readonly clock: () => number;
}

/** One scorer's reports. */
export interface ScorerReports {
  readonly test: EvaluationReport;
  /** Test datasets whose topology occurs in the training data (held-out seeds); null when none. */
  readonly seenTopologies: EvaluationReport | null;
  /** Test datasets whose topology does not occur in the training data; null when none. */
  readonly unseenTopologies: EvaluationReport | null;
  readonly healthy: EvaluationReport;
}

/** The flat figures of the experiment (camelCase, unit last), null where undefined. */
export interface PipelineFigures {
  /** F1 of each fault type on the test data (node items for node faults, link items for link faults), one-vs-healthy. */
  readonly f1PerFaultType: Readonly<Record<string, number | null>>;
  /** F1 of each fault type when a hit must also name the right cause (ClassReport.attributed). */
  readonly attributedF1PerFaultType: Readonly<Record<string, number | null>>;
  readonly greyholeF1: number | null;
  readonly blackholeF1: number | null;
  /** F1 over node and link items together (each at its own threshold) on the test data. */
  readonly overallF1: number;
  readonly ruleOverallF1: number;
  readonly zScoreOverallF1: number;
  /** overallF1 minus the better baseline's. */
  readonly f1MarginOverBaseline: number;
  readonly overallF1UnseenTopologies: number | null;
  /** Flagged node-windows as a share of node-windows in the healthy runs. */
  readonly falsePositiveRate: number | null;
  readonly ruleFalsePositiveRate: number | null;
  readonly zScoreFalsePositiveRate: number | null;
  readonly detectionDelayMeanMs: number | null;
  readonly detectionDelayMedianMs: number | null;
  readonly detectionDelayP95Ms: number | null;
  readonly detectedFaultShare: number | null;
  /** Median time to score every node and link of the timed window. */
  readonly inferenceMs: number;
  readonly inferenceNodes: number;
  readonly inferenceLinks: number;
  /** inferenceMs when the timed window has at least 1000 nodes, else null. */
  readonly inferenceMs1000Nodes: number | null;
}

/** Figures, reports of the detector and both baselines, the training report, and the trained detector. */
export interface PipelineResult {
  readonly figures: PipelineFigures;
  readonly detector: ScorerReports;
  readonly rules: ScorerReports;
  readonly zScore: ScorerReports;
  readonly training: EnsembleTrainingReport;
  readonly model: DetectorEnsemble;
  /** What was evaluated: the model, or the model confirmed over confirmWindows windows with its own thresholds. */
  readonly scorer: Scorer;
  /** With confirmWindows > 1: the model's own per-window scores at its own thresholds, for comparison; else null. */
  readonly unconfirmed: { readonly reports: ScorerReports; readonly figures: UnconfirmedFigures } | null;
}

/** The headline figures of the unconfirmed model. */
export interface UnconfirmedFigures {
  readonly greyholeF1: number | null;
  readonly blackholeF1: number | null;
  readonly overallF1: number;
  readonly falsePositiveRate: number | null;
}

/** `scorer` remembering the scores of each dataset, so the model and its confirmed form share one scoring pass. */
function memoized(scorer: DetectorEnsemble): Scorer {
  const cache = new Map<Dataset, readonly WindowScores[]>();
  return {
    name: scorer.name,
    nodeThreshold: scorer.nodeThreshold,
    linkThreshold: scorer.linkThreshold,
    scoreDataset(dataset: Dataset): readonly WindowScores[] {
      const known = cache.get(dataset);
      if (known !== undefined) return known;
      const scores = scorer.scoreDataset(dataset);
      cache.set(dataset, scores);
      return scores;
    },
  };
}

/** The trained ensemble and the scorer to evaluate: itself, or confirmed over `confirmWindows` windows and recalibrated. */
function trainScorer(input: PipelineInput): { model: DetectorEnsemble; training: EnsembleTrainingReport; scorer: Scorer } {
  const { ensemble: model, report: training } = DetectorEnsemble.train(input.train, input.validation, { ...input.detector, seed: input.seed, members: input.members ?? 1 });
  const confirmWindows = input.confirmWindows ?? 1;
  if (confirmWindows === 1) return { model, training, scorer: model };
  const calibration = input.detector?.calibration ?? detectorDefaults.calibration;
  return { model, training, scorer: new ConfirmedScorer(memoized(model), confirmWindows).calibrated(input.validation, calibration).scorer };
}

/** Evaluates one scorer on the test data (all, seen and unseen topologies) and the healthy runs, scoring each dataset once. */
function reportsOf(scorer: Scorer, input: PipelineInput, seen: ReadonlySet<string>): ScorerReports {
  const test = scoreAll(scorer, input.test);
  const seenPart = test.filter((s) => seen.has(s.dataset.topology));
  const unseenPart = test.filter((s) => !seen.has(s.dataset.topology));
  return {
    test: evaluateScored(scorer, test),
    seenTopologies: seenPart.length === 0 ? null : evaluateScored(scorer, seenPart),
    unseenTopologies: unseenPart.length === 0 ? null : evaluateScored(scorer, unseenPart),
    healthy: evaluateScored(scorer, scoreAll(scorer, input.healthy)),
  };
}

/** Reports and headline figures of the model's own scores (from the memoized scorer: no second scoring pass). */
function unconfirmedOf(inner: Scorer, input: PipelineInput, seen: ReadonlySet<string>): PipelineResult['unconfirmed'] {
  const reports = reportsOf(inner, input, seen);
  const perType = f1PerFaultType(reports.test);
  const figures = { greyholeF1: perType['greyHole'] ?? null, blackholeF1: perType['blackHole'] ?? null, overallF1: reports.test.overall.pooled.f1, falsePositiveRate: reports.healthy.falsePositiveShare.nodeWindows };
  return { reports, figures };
}

/** Orders windows by nodes first: more than any link count. */
const windowLinksScale = 1 << 23;

/** The window with the most nodes (then links) of `datasets`, with the windows before it. */
function largestWindow(datasets: readonly Dataset[]): { window: TelemetryWindow; history: readonly TelemetryWindow[] } {
  let best: { window: TelemetryWindow; history: readonly TelemetryWindow[] } | null = null;
  for (const dataset of datasets) {
    dataset.windows.forEach((window, index) => {
      const size = (w: TelemetryWindow): number => w.nodeCount * windowLinksScale + w.linkFrom.length;
      if (best === null || size(window) > size(best.window)) best = { window, history: dataset.windows.slice(0, index) };
    });
  }
  if (best === null) throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_ARGUMENT, 'trainAndEvaluate: no window to time inference on (test and healthy data are empty)');
  return best;
}

/** Median milliseconds of `repeats` calls of `run` after 3 warm-up calls. */
function medianMs(run: () => void, repeats: number, clock: () => number): number {
  for (let i = 0; i < 3; i++) run();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = clock();
    run();
    times.push(clock() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor((times.length - 1) / 2)]!;
}

/** F1 of each fault class present in a report: node items when the class labels nodes, else link items (null when it labels neither, e.g. a listed fault whose items were all down). */
export function f1PerFaultType(report: EvaluationReport): Record<string, number | null> {
  return Object.fromEntries(Object.entries(report.perClass).map(([name, c]) => [name, (c.node ?? c.link)?.f1 ?? null]));
}

/**
 * Trains the detector on `train` (calibrated on `validation`), evaluates it and the rule and
 * z-score baselines on `test` and `healthy`, and times inference; see PipelineResult.
 */
export function trainAndEvaluate(input: PipelineInput): PipelineResult {
  const repeats = input.inferenceRepeats ?? 20;
  if (!Number.isInteger(repeats) || repeats < 1) throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_ARGUMENT, `trainAndEvaluate: expected inferenceRepeats to be a positive integer, got ${repeats}`);
  const { model, training, scorer } = trainScorer(input);
  const zScoreBaseline = ZScoreBaseline.calibrate(input.validation, input.zScore, input.calibration);
  const seen = new Set(input.train.map((dataset) => dataset.topology));
  const detector = reportsOf(scorer, input, seen);
  const unconfirmed = scorer === model ? null : unconfirmedOf((scorer as ConfirmedScorer).inner, input, seen);
  const rules = reportsOf(new RuleBaseline(), input, seen);
  const zScore = reportsOf(zScoreBaseline, input, seen);
  const timed = input.inferenceWindow ?? largestWindow([...input.test, ...input.healthy]);
  const inferenceMs = medianMs(() => model.scoreWindow(timed.window, timed.history), repeats, input.clock);
  const perType = f1PerFaultType(detector.test);
  const overallF1 = detector.test.overall.pooled.f1;
  const ruleOverallF1 = rules.test.overall.pooled.f1;
  const zScoreOverallF1 = zScore.test.overall.pooled.f1;
  const figures: PipelineFigures = {
    f1PerFaultType: perType,
    attributedF1PerFaultType: Object.fromEntries(Object.entries(detector.test.perClass).map(([name, c]) => [name, c.attributed?.f1 ?? null])),
    greyholeF1: perType['greyHole'] ?? null,
    blackholeF1: perType['blackHole'] ?? null,
    overallF1,
    ruleOverallF1,
    zScoreOverallF1,
    f1MarginOverBaseline: overallF1 - Math.max(ruleOverallF1, zScoreOverallF1),
    overallF1UnseenTopologies: detector.unseenTopologies?.overall.pooled.f1 ?? null,
    falsePositiveRate: detector.healthy.falsePositiveShare.nodeWindows,
    ruleFalsePositiveRate: rules.healthy.falsePositiveShare.nodeWindows,
    zScoreFalsePositiveRate: zScore.healthy.falsePositiveShare.nodeWindows,
    detectionDelayMeanMs: detector.test.delay.meanMs,
    detectionDelayMedianMs: detector.test.delay.medianMs,
    detectionDelayP95Ms: detector.test.delay.p95Ms,
    detectedFaultShare: detector.test.delay.detectedShare,
    inferenceMs,
    inferenceNodes: timed.window.nodeCount,
    inferenceLinks: timed.window.linkFrom.length,
    inferenceMs1000Nodes: timed.window.nodeCount >= 1000 ? inferenceMs : null,
  };
  return { figures, detector, rules, zScore, training, model, scorer, unconfirmed };
}
