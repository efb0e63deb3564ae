/**
 * The two baselines the GraphSAGE detector is measured against, scoring the same items (nodes
 * that were up; links whose two ends were up) on the same scale (scores in [0, 1), higher = more
 * anomalous, flagged at score >= threshold):
 *
 * - Rules: a node is anomalous when its CPU use is above 90 %, its memory use above 85 %, or
 *   the loss on any of its links (either direction) above 5 %; a link when its loss is above
 *   5 %. The score is r / (1 + r) for r the largest of cpu / 0.9, memory / 0.85 and loss / 0.05,
 *   so the threshold 0.5 is exactly the rule (r = 1 sits on the boundary and counts as flagged).
 * - Z-score: each feature of a node (its own features and the mean and maximum of its links',
 *   as the detector sees them; not its degree) is compared with that node's own values over the
 *   previous K windows in which it was up; the score is z / (1 + z) for z the largest |x - mean| / std.
 *   Links are compared with the same directed link's history. Thresholds are calibrated on
 *   validation data like the detector's.
 */
import { calibrateThreshold, type Calibration } from '../ml/classification.js';
import { FaultClass, requiredLinkFeatures, requiredNodeFeatures, type Dataset, type TelemetryWindow } from '../telemetry/types.js';
import { DetectorError, DetectorErrorCode, historyWindowsMax } from './detector-errors.js';
import { baseFeatures, checkDataset, isScoredLink, type FeatureSchema } from './detector-features.js';
import { calibrationItems, collectItems, type CalibrationItems, type Scorer, type WindowScores } from './evaluation.js';

/** The rule baseline's limits, as shares of 1. */
export const ruleLimits = { cpuMax: 0.9, memoryMax: 0.85, lossMax: 0.05 } as const;

/** Column of each required feature, or a DetectorError naming the missing one. */
function requiredColumns(what: string, schema: FeatureSchema): { cpu: number; memory: number; loss: number } {
  const find = (names: readonly string[], name: string, kind: string): number => {
    const at = names.indexOf(name);
    if (at < 0) throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_FEATURE_NAMES, `${what}: the ${kind} features ${JSON.stringify(names)} lack the required ${JSON.stringify(name)}`);
    return at;
  };
  const [cpuName, memoryName] = requiredNodeFeatures;
  return {
    cpu: find(schema.nodeFeatureNames, cpuName, 'node'),
    memory: find(schema.nodeFeatureNames, memoryName, 'node'),
    loss: find(schema.linkFeatureNames, requiredLinkFeatures[0], 'link'),
  };
}

const ratioScore = (r: number): number => r / (1 + r);

/** The rule baseline (see the file comment); it needs no training. Its causes: CPU or memory exhaustion, or link degradation for loss. */
export class RuleBaseline implements Scorer {
  readonly name = 'rules';
  readonly nodeThreshold = 0.5;
  readonly linkThreshold = 0.5;

  /** Scores every window of `dataset` (checked at the boundary). */
  scoreDataset(dataset: Dataset): WindowScores[] {
    checkDataset('RuleBaseline', dataset);
    const columns = requiredColumns('RuleBaseline', dataset);
    return dataset.windows.map((window) => this.scoreWindow(dataset, window, columns));
  }

  private scoreWindow(schema: FeatureSchema, window: TelemetryWindow, columns: { cpu: number; memory: number; loss: number }): WindowScores {
    const f = schema.nodeFeatureNames.length;
    const l = schema.linkFeatureNames.length;
    const lossRatio = new Float64Array(window.nodeCount);
    const linkScores = new Float32Array(window.linkFrom.length).fill(Number.NaN);
    const linkCauses = new Uint8Array(window.linkFrom.length);
    for (let i = 0; i < window.linkFrom.length; i++) {
      if (!isScoredLink(window, i)) continue;
      const r = window.linkFeatures[i * l + columns.loss]! / ruleLimits.lossMax;
      linkScores[i] = ratioScore(Math.max(0, r));
      if (r >= 1) linkCauses[i] = FaultClass.linkDegradation;
      const from = window.linkFrom[i]!;
      const to = window.linkTo[i]!;
      lossRatio[from] = Math.max(lossRatio[from]!, r);
      lossRatio[to] = Math.max(lossRatio[to]!, r);
    }
    const nodeScores = new Float32Array(window.nodeCount).fill(Number.NaN);
    const nodeCauses = new Uint8Array(window.nodeCount);
    for (let v = 0; v < window.nodeCount; v++) {
      if (window.alive[v] !== 1) continue;
      const ratios = [window.nodeFeatures[v * f + columns.cpu]! / ruleLimits.cpuMax, window.nodeFeatures[v * f + columns.memory]! / ruleLimits.memoryMax, lossRatio[v]!];
      const r = Math.max(0, ...ratios);
      nodeScores[v] = ratioScore(r);
      if (r >= 1) nodeCauses[v] = [FaultClass.cpuExhaustion, FaultClass.memoryExhaustion, FaultClass.linkDegradation][ratios.indexOf(r)]!;
    }
    return { nodeScores, linkScores, nodeCauses, linkCauses };
  }
}

/** Settings of the z-score baseline. */
export interface ZScoreOptions {
  /** K: how many previous windows a value is compared with (default 10). */
  readonly historyWindows?: number;
  /** Fewest previous values needed to score; with fewer the score is 0 (default 3). */
  readonly historyMin?: number;
  /** Floor under the standard deviation, in feature units (default 0.01), so a constant history does not make every change infinite. */
  readonly scaleFloor?: number;
}

/** Per-item history: for each window, the row of the item, or -1 when it was absent. */
type RowOf = (t: number) => number;

/**
 * The largest |x - mean| / max(std, floor) over the first `columns` values of the item's row
 * (rows are `width` apart) in window t against its rows in the previous windows, or 0 with too
 * little history.
 */
function maxZ(values: readonly Float32Array[], width: number, columns: number, t: number, rowOf: RowOf, options: Required<ZScoreOptions>): number {
  const rows: number[] = [];
  const windows: number[] = [];
  for (let back = t - 1; back >= 0 && back >= t - options.historyWindows; back--) {
    const row = rowOf(back);
    if (row < 0) continue;
    rows.push(row);
    windows.push(back);
  }
  if (rows.length < options.historyMin) return 0;
  const current = values[t]!;
  const at = rowOf(t) * width;
  let z = 0;
  for (let c = 0; c < columns; c++) {
    let sum = 0;
    let squares = 0;
    for (let k = 0; k < rows.length; k++) {
      const value = values[windows[k]!]![rows[k]! * width + c]!;
      sum += value;
      squares += value * value;
    }
    const mean = sum / rows.length;
    const deviation = Math.sqrt(Math.max(0, squares / rows.length - mean * mean));
    z = Math.max(z, Math.abs(current[at + c]! - mean) / Math.max(deviation, options.scaleFloor));
  }
  return z;
}

/** The per-node (and per-link) z-score baseline (see the file comment). */
export class ZScoreBaseline implements Scorer {
  readonly name = 'zscore';
  readonly options: Required<ZScoreOptions>;

  /** A baseline with the given settings and thresholds (use calibrate to choose the thresholds on validation data). */
  constructor(
    options: ZScoreOptions,
    readonly nodeThreshold: number,
    readonly linkThreshold: number,
  ) {
    this.options = { historyWindows: options.historyWindows ?? 10, historyMin: options.historyMin ?? 3, scaleFloor: options.scaleFloor ?? 0.01 };
    const { historyWindows, historyMin, scaleFloor } = this.options;
    if (!Number.isInteger(historyWindows) || historyWindows < 1 || historyWindows > historyWindowsMax || !Number.isInteger(historyMin) || historyMin < 1 || historyMin > historyWindows) {
      throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_ARGUMENT, `ZScoreBaseline: expected integers 1 <= historyMin <= historyWindows <= ${historyWindowsMax}, got ${historyMin} and ${historyWindows}`);
    }
    if (!(scaleFloor > 0)) throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_ARGUMENT, `ZScoreBaseline: expected scaleFloor > 0, got ${scaleFloor}`);
  }

  /** A baseline whose node and link thresholds are calibrated on the scores of `validation`. */
  static calibrate(validation: readonly Dataset[], options: ZScoreOptions = {}, calibration: Calibration = { objective: 'f1' }): ZScoreBaseline {
    const uncalibrated = new ZScoreBaseline(options, 0.5, 0.5);
    const items: CalibrationItems = calibrationItems();
    for (const dataset of validation) {
      uncalibrated.scoreDataset(dataset).forEach((scores, t) => collectItems(dataset.windows[t]!, scores, items));
    }
    const threshold = (scores: number[], labels: number[]): number => (scores.length === 0 ? 0.5 : calibrateThreshold(scores, labels, calibration).threshold);
    return new ZScoreBaseline(options, threshold(items.nodeScores, items.nodeLabels), threshold(items.linkScores, items.linkLabels));
  }

  /** Scores every window of `dataset` against the history before it in the same dataset. */
  scoreDataset(dataset: Dataset): WindowScores[] {
    checkDataset('ZScoreBaseline', dataset);
    const windows = dataset.windows;
    const bases = windows.map((window) => baseFeatures(dataset, window));
    const l = dataset.linkFeatureNames.length;
    const width = dataset.nodeFeatureNames.length + 4 * l + 2;
    const linkValues = windows.map((window) => window.linkFeatures);
    const linkIndex = windows.map((window) => {
      const index = new Map<number, number>();
      for (let i = 0; i < window.linkFrom.length; i++) if (isScoredLink(window, i)) index.set(window.linkFrom[i]! * 65_536 + window.linkTo[i]!, i);
      return index;
    });
    return windows.map((window, t) => {
      const nodeScores = new Float32Array(window.nodeCount).fill(Number.NaN);
      for (let v = 0; v < window.nodeCount; v++) {
        if (window.alive[v] !== 1) continue;
        const rowOf = (back: number): number => (v < windows[back]!.nodeCount && windows[back]!.alive[v] === 1 ? v : -1);
        nodeScores[v] = ratioScore(maxZ(bases, width, width - 2, t, rowOf, this.options));
      }
      const linkScores = new Float32Array(window.linkFrom.length).fill(Number.NaN);
      for (const [key, i] of linkIndex[t]!) {
        linkScores[i] = ratioScore(maxZ(linkValues, l, l, t, (back) => linkIndex[back]!.get(key) ?? -1, this.options));
      }
      return { nodeScores, linkScores };
    });
  }
}
