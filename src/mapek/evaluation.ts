/**
 * Evaluation of any anomaly scorer (the GraphSAGE detector, the rule baseline, the z-score
 * baseline) on labelled datasets: precision, recall, F1 and AUROC per fault class (each class
 * against the healthy items only) and overall, false positives as a share of healthy
 * node-windows, and detection delay from fault onset. The result is a plain object of numbers
 * (null where a measure is undefined), ready for a benchmark results file.
 *
 * Items are node-windows (a node that was up during a window) and link-windows (a directed link
 * present in a window). Scorers give NaN to what they do not score (nodes that were down, links
 * with a down end); a node that was down is no item, and any other NaN-scored item is counted as
 * unscored and not measured. An item is flagged when its score is >= the
 * scorer's threshold for its kind.
 */
import { auroc, binaryMetrics, calibrateThreshold, ratesOf, type BinaryMetrics, type ConfusionCounts } from '../ml/classification.js';
import { faultClassNames, type Dataset, type DatasetFault, type TelemetryWindow } from '../telemetry/types.js';
import { calibrateMeanClassF1, type DetectorCalibration } from './class-calibration.js';
import { DetectorError, DetectorErrorCode } from './detector-errors.js';

/** A scorer's output for one window. */
export interface WindowScores {
  /** Score of each node, higher = more anomalous; NaN for a node not scored (it was down). */
  readonly nodeScores: Float32Array;
  /** Score of each directed link of the window; NaN for a link not scored. */
  readonly linkScores: Float32Array;
  /** Suspected fault class (FaultClass value) of each node, when the scorer names causes. */
  readonly nodeCauses?: Uint8Array;
  /** Suspected fault class of each link, when the scorer names causes. */
  readonly linkCauses?: Uint8Array;
}

/** Anything that scores every window of a dataset and flags items at its thresholds. */
export interface Scorer {
  readonly name: string;
  readonly nodeThreshold: number;
  readonly linkThreshold: number;
  /** One WindowScores per window of `dataset`, in order (a scorer may look at earlier windows). */
  scoreDataset(dataset: Dataset): readonly WindowScores[];
}

/** A dataset with a scorer's scores of its windows. */
export interface ScoredDataset {
  readonly dataset: Dataset;
  readonly scores: readonly WindowScores[];
}

/** Binary measures of one kind of item (faulty = positive). */
export interface BinaryReport extends ConfusionCounts {
  readonly positives: number;
  readonly negatives: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  readonly falsePositiveRate: number;
  /** Null when only one class is present. */
  readonly auroc: number | null;
}

/** Node and link items taken together, each flagged at its own threshold. */
export interface PooledReport extends ConfusionCounts {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
}

/**
 * Detection delay over fault episodes. When a dataset lists its faults (a LabelledDataset), each
 * fault is an episode: its onset is the fault's startMs, and it is detected in the first window
 * overlapping [startMs, endMs) in which one of its nodes or links (either direction) is flagged.
 * Otherwise episodes come from the labels: a run of windows in which an item carries the same
 * fault class (windows in which the item is absent do not end it), with its onset at the start
 * of its first window, detected in the first of its windows in which the item is flagged. The
 * delay runs from the onset to the end of the detecting window (when that window's telemetry is
 * complete). Null figures when no episode was detected. Percentiles are nearest-rank.
 */
export interface DelayReport {
  readonly episodes: number;
  readonly detected: number;
  readonly detectedShare: number | null;
  readonly meanMs: number | null;
  readonly medianMs: number | null;
  readonly p95Ms: number | null;
  readonly maxMs: number | null;
  /** Mean number of windows between the onset window and the detecting window (0 = detected in the onset window). */
  readonly meanWindows: number | null;
}

/** Measures of one fault class against healthy items. */
export interface ClassReport {
  readonly node: BinaryReport | null;
  readonly link: BinaryReport | null;
  readonly delay: DelayReport;
  /** Share of this class's flagged items whose suspected cause is this class; null when the scorer names no causes or flagged none. */
  readonly causeAccuracy: number | null;
  /**
   * Detection with attribution, node and link items together: a hit is an item of this class
   * flagged with this class as its cause, a false positive any other item flagged with this
   * cause. Unlike the one-vs-healthy reports, false alarms blamed on other causes do not count
   * against this class. Null when the scorer names no causes.
   */
  readonly attributed: PooledReport | null;
}

/** Everything measured for one scorer on a set of datasets. */
export interface EvaluationReport {
  readonly scorer: string;
  readonly datasets: number;
  readonly windows: number;
  readonly nodeThreshold: number;
  readonly linkThreshold: number;
  readonly nodeWindows: number;
  readonly linkWindows: number;
  readonly unscoredNodeWindows: number;
  readonly unscoredLinkWindows: number;
  readonly overall: { readonly node: BinaryReport | null; readonly link: BinaryReport | null; readonly pooled: PooledReport };
  /** Flagged healthy items as a share of healthy items (null when there are none). */
  readonly falsePositiveShare: { readonly nodeWindows: number | null; readonly linkWindows: number | null };
  /** One entry per fault class that occurs in the data, by FaultClass name. */
  readonly perClass: Readonly<Record<string, ClassReport>>;
  readonly delay: DelayReport;
}

/** Thresholds to flag items at (the scorer's own by default). */
export interface EvaluationOptions {
  readonly nodeThreshold?: number;
  readonly linkThreshold?: number;
}

interface Episode {
  readonly label: number;
  readonly onset: number;
  detected: boolean;
}

/** Scores and classes of one kind of item, collected over all windows. */
class ItemLog {
  readonly scores: number[] = [];
  readonly labels: number[] = [];
  /** Suspected cause of each flagged item (0 when unflagged or the scorer names none). */
  readonly causes: number[] = [];
  /** Per class: flagged items, and those whose suspected cause matched. */
  readonly causeFlagged = new Float64Array(faultClassNames.length);
  readonly causeCorrect = new Float64Array(faultClassNames.length);
  unscored = 0;
  hasCauses = false;
}

/** Episode delays per class. */
class DelayLog {
  readonly episodes = new Float64Array(faultClassNames.length);
  readonly delaysMs: number[][] = faultClassNames.map(() => []);
  readonly delaysWindows: number[][] = faultClassNames.map(() => []);
}

function checkScores(scorer: string, dataset: Dataset, scores: readonly WindowScores[]): void {
  const fail = (message: string): never => {
    throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_INPUT, `evaluate: ${scorer} on ${dataset.scenario}/${dataset.seed}: ${message}`);
  };
  if (scores.length !== dataset.windows.length) fail(`expected ${dataset.windows.length} window scores, got ${scores.length}`);
  scores.forEach((s, t) => {
    const window = dataset.windows[t]!;
    if (s.nodeScores.length !== window.nodeCount) fail(`window ${t}: expected ${window.nodeCount} node scores, got ${s.nodeScores.length}`);
    if (s.linkScores.length !== window.linkFrom.length) fail(`window ${t}: expected ${window.linkFrom.length} link scores, got ${s.linkScores.length}`);
  });
}

/** Runs `scorer` over every dataset. */
export function scoreAll(scorer: Scorer, datasets: readonly Dataset[]): ScoredDataset[] {
  return datasets.map((dataset) => ({ dataset, scores: scorer.scoreDataset(dataset) }));
}

/** Scores `datasets` with `scorer` and measures the result (see EvaluationReport). */
export function evaluate(scorer: Scorer, datasets: readonly Dataset[], options: EvaluationOptions = {}): EvaluationReport {
  return evaluateScored(scorer, scoreAll(scorer, datasets), options);
}

/** Measures scores already computed by `scorer` (so one scoring pass can serve several groupings of datasets). */
export function evaluateScored(scorer: Pick<Scorer, 'name' | 'nodeThreshold' | 'linkThreshold'>, scored: readonly ScoredDataset[], options: EvaluationOptions = {}): EvaluationReport {
  const nodeThreshold = options.nodeThreshold ?? scorer.nodeThreshold;
  const linkThreshold = options.linkThreshold ?? scorer.linkThreshold;
  const nodes = new ItemLog();
  const links = new ItemLog();
  const delays = new DelayLog();
  let windows = 0;
  for (const { dataset, scores } of scored) {
    checkScores(scorer.name, dataset, scores);
    windows += dataset.windows.length;
    const faults = (dataset as { readonly faults?: readonly DatasetFault[] }).faults;
    const labelDelays = faults === undefined ? delays : null;
    collectNodes(dataset, scores, nodeThreshold, nodes, labelDelays);
    collectLinks(dataset, scores, linkThreshold, links, labelDelays);
    for (const fault of faults ?? []) faultDelay(dataset, scores, fault, nodeThreshold, linkThreshold, delays);
  }
  const nodeReport = binaryReport(nodes, (label) => label !== 0, nodeThreshold);
  const linkReport = binaryReport(links, (label) => label !== 0, linkThreshold);
  const perClass: Record<string, ClassReport> = {};
  for (let c = 1; c < faultClassNames.length; c++) {
    if (delays.episodes[c] === 0 && !nodes.labels.includes(c) && !links.labels.includes(c)) continue;
    const flagged = nodes.causeFlagged[c]! + links.causeFlagged[c]!;
    perClass[faultClassNames[c]!] = {
      node: binaryReport(nodes, (label) => label === c, nodeThreshold),
      link: binaryReport(links, (label) => label === c, linkThreshold),
      delay: delayReport(delays.episodes[c]!, delays.delaysMs[c]!, delays.delaysWindows[c]!),
      causeAccuracy: (nodes.hasCauses || links.hasCauses) && flagged > 0 ? (nodes.causeCorrect[c]! + links.causeCorrect[c]!) / flagged : null,
      attributed: nodes.hasCauses || links.hasCauses ? attributed([nodes, links], c) : null,
    };
  }
  return {
    scorer: scorer.name,
    datasets: scored.length,
    windows,
    nodeThreshold,
    linkThreshold,
    nodeWindows: nodes.scores.length,
    linkWindows: links.scores.length,
    unscoredNodeWindows: nodes.unscored,
    unscoredLinkWindows: links.unscored,
    overall: { node: nodeReport, link: linkReport, pooled: pooled(nodeReport, linkReport) },
    falsePositiveShare: { nodeWindows: healthyFlaggedShare(nodes, nodeThreshold), linkWindows: healthyFlaggedShare(links, linkThreshold) },
    perClass,
    delay: delayReport(sum(delays.episodes), delays.delaysMs.flat(), delays.delaysWindows.flat()),
  };
}

function sum(values: Float64Array): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Logs one item: its score (or that it was unscored) and, when flagged and faulty, whether its cause was right. */
function logItem(log: ItemLog, score: number, label: number, threshold: number, cause: number | undefined): boolean {
  if (Number.isNaN(score)) {
    log.unscored++;
    return false;
  }
  log.scores.push(score);
  log.labels.push(label);
  const flagged = score >= threshold;
  log.causes.push(flagged ? (cause ?? 0) : 0);
  if (flagged && label !== 0 && cause !== undefined) {
    log.causeFlagged[label]!++;
    if (cause === label) log.causeCorrect[label]!++;
  }
  return flagged;
}

/** Advances the episode of one item by a window in which it is present with `label`. */
function trackEpisode(open: Map<number, Episode>, key: number, label: number, t: number, flagged: boolean, dataset: Dataset, delays: DelayLog): void {
  let episode = open.get(key);
  if (episode !== undefined && episode.label !== label) {
    open.delete(key);
    episode = undefined;
  }
  if (episode === undefined) {
    if (label === 0) return;
    episode = { label, onset: t, detected: false };
    open.set(key, episode);
    delays.episodes[label]!++;
  }
  if (episode.detected || !flagged) return;
  episode.detected = true;
  delays.delaysMs[label]!.push(dataset.windows[t]!.endMs - dataset.windows[episode.onset]!.startMs);
  delays.delaysWindows[label]!.push(t - episode.onset);
}

function collectNodes(dataset: Dataset, scores: readonly WindowScores[], threshold: number, log: ItemLog, delays: DelayLog | null): void {
  const open = new Map<number, Episode>();
  dataset.windows.forEach((window, t) => {
    const s = scores[t]!;
    if (s.nodeCauses !== undefined) log.hasCauses = true;
    for (let v = 0; v < window.nodeCount; v++) {
      const label = window.nodeLabels[v]!;
      const flagged = window.alive[v] === 1 && logItem(log, s.nodeScores[v]!, label, threshold, s.nodeCauses?.[v]);
      if (delays !== null) trackEpisode(open, v, label, t, flagged, dataset, delays);
    }
  });
}

function collectLinks(dataset: Dataset, scores: readonly WindowScores[], threshold: number, log: ItemLog, delays: DelayLog | null): void {
  const open = new Map<number, Episode>();
  dataset.windows.forEach((window, t) => {
    const s = scores[t]!;
    if (s.linkCauses !== undefined) log.hasCauses = true;
    for (let i = 0; i < window.linkFrom.length; i++) {
      const label = window.linkLabels[i]!;
      const flagged = logItem(log, s.linkScores[i]!, label, threshold, s.linkCauses?.[i]);
      // Node ids are below 2^16 (windowNodesMax), so this key names the directed link within the run.
      if (delays !== null) trackEpisode(open, window.linkFrom[i]! * 65_536 + window.linkTo[i]!, label, t, flagged, dataset, delays);
    }
  });
}

/** The delay of one listed fault: from its startMs to the end of the first overlapping window in which one of its nodes or links is flagged. */
function faultDelay(dataset: Dataset, scores: readonly WindowScores[], fault: DatasetFault, nodeThreshold: number, linkThreshold: number, delays: DelayLog): void {
  const c = fault.faultClass;
  delays.episodes[c]!++;
  const pairs = new Set(fault.links.flatMap(([a, b]) => [a * 65_536 + b, b * 65_536 + a]));
  let first = -1;
  for (let t = 0; t < dataset.windows.length; t++) {
    const window = dataset.windows[t]!;
    if (window.endMs <= fault.startMs || window.startMs >= fault.endMs) continue;
    if (first < 0) first = t;
    const { nodeScores, linkScores } = scores[t]!;
    let flagged = fault.nodes.some((v) => v < window.nodeCount && nodeScores[v]! >= nodeThreshold);
    for (let i = 0; i < window.linkFrom.length && !flagged; i++) {
      flagged = linkScores[i]! >= linkThreshold && pairs.has(window.linkFrom[i]! * 65_536 + window.linkTo[i]!);
    }
    if (!flagged) continue;
    delays.delaysMs[c]!.push(window.endMs - fault.startMs);
    delays.delaysWindows[c]!.push(t - first);
    return;
  }
}

/** Binary measures over the items whose label is positive (`isPositive`) or healthy; null when there are none of the positives. */
function binaryReport(log: ItemLog, isPositive: (label: number) => boolean, threshold: number): BinaryReport | null {
  const scores: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < log.scores.length; i++) {
    const label = log.labels[i]!;
    if (label !== 0 && !isPositive(label)) continue;
    scores.push(log.scores[i]!);
    labels.push(label === 0 ? 0 : 1);
  }
  const positives = labels.reduce((a, b) => a + b, 0);
  if (positives === 0) return null;
  const metrics = binaryMetrics(scores, labels, threshold);
  const area = auroc(scores, labels);
  return {
    positives,
    negatives: labels.length - positives,
    truePositives: metrics.truePositives,
    falsePositives: metrics.falsePositives,
    trueNegatives: metrics.trueNegatives,
    falseNegatives: metrics.falseNegatives,
    precision: metrics.precision,
    recall: metrics.recall,
    f1: metrics.f1,
    falsePositiveRate: metrics.falsePositiveRate,
    auroc: Number.isNaN(area) ? null : area,
  };
}

/** Confusion counts of class c where a hit must name c as its cause (see ClassReport.attributed). */
function attributed(logs: readonly ItemLog[], c: number): PooledReport {
  let truePositives = 0;
  let falsePositives = 0;
  let falseNegatives = 0;
  let items = 0;
  for (const log of logs) {
    items += log.labels.length;
    for (let i = 0; i < log.labels.length; i++) {
      const blamed = log.causes[i] === c;
      if (log.labels[i] === c) {
        if (blamed) truePositives++;
        else falseNegatives++;
      } else if (blamed) falsePositives++;
    }
  }
  const counts = { truePositives, falsePositives, trueNegatives: items - truePositives - falsePositives - falseNegatives, falseNegatives };
  const { precision, recall, f1 } = ratesOf(counts);
  return { ...counts, precision, recall, f1 };
}

function healthyFlaggedShare(log: ItemLog, threshold: number): number | null {
  let healthy = 0;
  let flagged = 0;
  for (let i = 0; i < log.scores.length; i++) {
    if (log.labels[i] !== 0) continue;
    healthy++;
    if (log.scores[i]! >= threshold) flagged++;
  }
  return healthy === 0 ? null : flagged / healthy;
}

function pooled(node: BinaryReport | null, link: BinaryReport | null): PooledReport {
  const cell = (name: keyof ConfusionCounts): number => (node?.[name] ?? 0) + (link?.[name] ?? 0);
  const counts = { truePositives: cell('truePositives'), falsePositives: cell('falsePositives'), trueNegatives: cell('trueNegatives'), falseNegatives: cell('falseNegatives') };
  const { precision, recall, f1 } = ratesOf(counts);
  return { ...counts, precision, recall, f1 };
}

/** The nearest-rank quantile q of ascending `sorted` (not empty). */
function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

function delayReport(episodes: number, delaysMs: readonly number[], delaysWindows: readonly number[]): DelayReport {
  const sorted = [...delaysMs].sort((a, b) => a - b);
  const detected = sorted.length;
  const mean = (values: readonly number[]): number | null => (values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length);
  return {
    episodes,
    detected,
    detectedShare: episodes === 0 ? null : detected / episodes,
    meanMs: mean(sorted),
    medianMs: detected === 0 ? null : quantile(sorted, 0.5),
    p95Ms: detected === 0 ? null : quantile(sorted, 0.95),
    maxMs: detected === 0 ? null : sorted[detected - 1]!,
    meanWindows: mean(delaysWindows),
  };
}

/** Scores, 0/1 labels (faulty = any fault class) and fault classes of scored items, for threshold calibration. */
export interface CalibrationItems {
  readonly nodeScores: number[];
  readonly nodeLabels: number[];
  readonly nodeClasses: number[];
  readonly linkScores: number[];
  readonly linkLabels: number[];
  readonly linkClasses: number[];
}

/** Empty calibration items. */
export function calibrationItems(): CalibrationItems {
  return { nodeScores: [], nodeLabels: [], nodeClasses: [], linkScores: [], linkLabels: [], linkClasses: [] };
}

/** Appends the scored items of one window (NaN scores are left out) to `items`. */
export function collectItems(window: TelemetryWindow, scores: WindowScores, items: CalibrationItems): void {
  for (let v = 0; v < window.nodeCount; v++) {
    const score = scores.nodeScores[v]!;
    if (Number.isNaN(score)) continue;
    items.nodeScores.push(score);
    items.nodeLabels.push(window.nodeLabels[v] === 0 ? 0 : 1);
    items.nodeClasses.push(window.nodeLabels[v]!);
  }
  for (let i = 0; i < window.linkFrom.length; i++) {
    const score = scores.linkScores[i]!;
    if (Number.isNaN(score)) continue;
    items.linkScores.push(score);
    items.linkLabels.push(window.linkLabels[i] === 0 ? 0 : 1);
    items.linkClasses.push(window.linkLabels[i]!);
  }
}

/** Thresholds chosen on scored validation data, with the measures they give there. */
export interface ScoreCalibration {
  readonly nodeCalibration: BinaryMetrics;
  /** Null when the validation data hold no scored link. */
  readonly linkCalibration: BinaryMetrics | null;
}

/**
 * Chooses node and link thresholds on scores of validation datasets (see Calibration); `caller`
 * names the function in the error when the validation windows hold no node that was up.
 */
export function calibrateScored(caller: string, scored: readonly ScoredDataset[], calibration: DetectorCalibration): ScoreCalibration {
  const items = calibrationItems();
  for (const { dataset, scores } of scored) scores.forEach((s, t) => collectItems(dataset.windows[t]!, s, items));
  if (items.nodeScores.length === 0) throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_ARGUMENT, `${caller}: the validation windows hold no node that was up`);
  const calibrate = (scores: number[], labels: number[], classes: number[]): BinaryMetrics =>
    calibration.objective === 'meanClassF1' ? calibrateMeanClassF1(scores, classes) : calibrateThreshold(scores, labels, calibration);
  const nodeCalibration = calibrate(items.nodeScores, items.nodeLabels, items.nodeClasses);
  const linkCalibration = items.linkScores.length === 0 ? null : calibrate(items.linkScores, items.linkLabels, items.linkClasses);
  return { nodeCalibration, linkCalibration };
}
