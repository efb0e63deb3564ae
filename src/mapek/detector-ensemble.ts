/**
 * An ensemble of GraphSAGE detectors trained on the same data with different seeds. A single
 * detector's F1 on the rare fault classes moves by several points with its training seed (the
 * false alarms it raises next to other faults differ from seed to seed); averaging the members'
 * scores keeps the alarms they agree on. Every node and link gets the mean of the members'
 * anomaly scores and per-class probabilities, its cause is the argmax of the mean
 * probabilities, and the ensemble's own thresholds are calibrated on the validation windows.
 *
 * Members trained on the same data share the feature names, deltaLags and node standardisation
 * (it is fitted on the training windows, not drawn from the seed), so a window's graph and
 * inputs are built once and only the models run once per member. Members that differ there
 * are each given their own preparation.
 */
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import type { BinaryMetrics } from '../ml/classification.js';
import type { DetectorCalibration } from './class-calibration.js';
import type { Dataset, TelemetryWindow } from '../telemetry/types.js';
import { decodeEnsemble, encodeEnsemble, ensembleBytesMax, ensembleMembersMax } from './detector-ensemble-format.js';
import { DetectorError, DetectorErrorCode, isDetectorError } from './detector-errors.js';
import { checkDataset, checkFeatureNames, checkWindow, type FeatureSchema } from './detector-features.js';
import { faultClassCount } from './detector-loss.js';
import { historyOf } from './detector-train.js';
import { AnomalyDetector, causes, detectorDefaults, type DetectorOptions, type DetectorTrainingReport, type DetectorWindowScores } from './detector.js';
import { calibrateScored, type Scorer } from './evaluation.js';

/** Training settings of an ensemble: a detector's, and how many members (seeds seed, seed + 1, ...). */
export interface EnsembleOptions extends DetectorOptions {
  readonly members: number;
}

/** What training did: each member's report, and the ensemble's calibration on the validation windows. */
export interface EnsembleTrainingReport {
  readonly members: readonly DetectorTrainingReport[];
  readonly nodeCalibration: BinaryMetrics;
  readonly linkCalibration: BinaryMetrics | null;
}

function argument(message: string): DetectorError {
  return new DetectorError(DetectorErrorCode.ERR_DETECTOR_ARGUMENT, message);
}

const sameValues = (a: ArrayLike<number>, b: ArrayLike<number>): boolean => a.length === b.length && Array.from(a).every((x, i) => Object.is(x, b[i]));

/** True when `b` prepares windows exactly as `a` does. */
function sharesPreparation(a: AnomalyDetector, b: AnomalyDetector): boolean {
  return a.deltaLags === b.deltaLags && sameValues(a.nodeStandardizer.mean, b.nodeStandardizer.mean) && sameValues(a.nodeStandardizer.scale, b.nodeStandardizer.scale);
}

/** Adds `from` into `into`, element by element. */
function accumulate(into: Float32Array, from: Float32Array): void {
  for (let i = 0; i < into.length; i++) into[i]! += from[i]!;
}

/** The mean of the members' window scores, causes from the mean class probabilities. */
function meanScores(parts: readonly DetectorWindowScores[]): DetectorWindowScores {
  const first = parts[0]!;
  const nodeScores = Float32Array.from(first.nodeScores);
  const linkScores = Float32Array.from(first.linkScores);
  const nodeClassScores = Float32Array.from(first.nodeClassScores);
  const linkClassScores = Float32Array.from(first.linkClassScores);
  for (const part of parts.slice(1)) {
    accumulate(nodeScores, part.nodeScores);
    accumulate(linkScores, part.linkScores);
    accumulate(nodeClassScores, part.nodeClassScores);
    accumulate(linkClassScores, part.linkClassScores);
  }
  for (const array of [nodeScores, linkScores, nodeClassScores, linkClassScores]) for (let i = 0; i < array.length; i++) array[i]! /= parts.length;
  return {
    nodeScores,
    linkScores,
    nodeClassScores,
    linkClassScores,
    nodeCauses: causes(nodeClassScores, nodeClassScores.length / faultClassCount),
    linkCauses: causes(linkClassScores, linkClassScores.length / faultClassCount),
  };
}

/** Several detectors averaged (see the file comment); a Scorer for evaluation. */
export class DetectorEnsemble implements Scorer {
  readonly name = 'graphsage-ensemble';
  readonly schema: FeatureSchema;
  /** Largest deltaLags of the members: the history a window needs. */
  readonly deltaLags: number;
  /** Members in groups that share one preparation of a window. */
  private readonly groups: AnomalyDetector[][] = [];

  /** An ensemble of `members` (1..ensembleMembersMax, same feature names) flagging at the given thresholds. */
  constructor(
    readonly members: readonly AnomalyDetector[],
    readonly nodeThreshold: number,
    readonly linkThreshold: number,
  ) {
    if (members.length < 1 || members.length > ensembleMembersMax) throw argument(`DetectorEnsemble: expected 1..${ensembleMembersMax} members, got ${members.length}`);
    if (!Number.isFinite(nodeThreshold) || !Number.isFinite(linkThreshold)) throw argument(`DetectorEnsemble: expected finite thresholds, got ${nodeThreshold} and ${linkThreshold}`);
    this.schema = members[0]!.schema;
    members.forEach((member, i) => checkFeatureNames(`DetectorEnsemble: member ${i}`, this.schema, member.schema));
    this.deltaLags = Math.max(...members.map((member) => member.deltaLags));
    for (const member of members) {
      const group = this.groups.find((g) => sharesPreparation(g[0]!, member));
      if (group === undefined) this.groups.push([member]);
      else group.push(member);
    }
  }

  /** How many preparations of a window one scoring takes (1 when all members share theirs). */
  get preparations(): number {
    return this.groups.length;
  }

  /**
   * Trains `options.members` detectors on `train` with seeds seed, seed + 1, ... and calibrates
   * the ensemble's thresholds on `validation` (options.calibration, else the detector default).
   */
  static train(train: readonly Dataset[], validation: readonly Dataset[], options: EnsembleOptions): { ensemble: DetectorEnsemble; report: EnsembleTrainingReport } {
    const { members: count, ...detectorOptions } = options;
    if (!Number.isInteger(count) || count < 1 || count > ensembleMembersMax) throw argument(`DetectorEnsemble.train: expected members to be an integer in 1..${ensembleMembersMax}, got ${count}`);
    const trained = Array.from({ length: count }, (_, i) => AnomalyDetector.train(train, validation, { ...detectorOptions, seed: options.seed + i }));
    const uncalibrated = new DetectorEnsemble(
      trained.map((t) => t.detector),
      0.5,
      0.5,
    );
    const { ensemble, nodeCalibration, linkCalibration } = uncalibrated.calibrated(validation, options.calibration ?? detectorDefaults.calibration);
    return { ensemble, report: { members: trained.map((t) => t.report), nodeCalibration, linkCalibration } };
  }

  /** A copy with thresholds chosen on the ensemble's scores of `validation`. */
  calibrated(validation: readonly Dataset[], calibration: DetectorCalibration): { ensemble: DetectorEnsemble; nodeCalibration: BinaryMetrics; linkCalibration: BinaryMetrics | null } {
    const scored = validation.map((dataset) => ({ dataset, scores: this.scoreDataset(dataset) }));
    const { nodeCalibration, linkCalibration } = calibrateScored('DetectorEnsemble.calibrated', scored, calibration);
    const ensemble = new DetectorEnsemble(this.members, nodeCalibration.threshold, linkCalibration?.threshold ?? this.linkThreshold);
    return { ensemble, nodeCalibration, linkCalibration };
  }

  /** Scores every window of `dataset`, each with the windows before it as history; refuses other feature names. */
  scoreDataset(dataset: Dataset): DetectorWindowScores[] {
    checkFeatureNames(`DetectorEnsemble.scoreDataset: ${dataset.scenario}/${dataset.seed}`, this.schema, dataset);
    checkDataset('DetectorEnsemble.scoreDataset', dataset);
    return dataset.windows.map((window, index) => this.score(window, historyOf({ dataset, index }, this.deltaLags)));
  }

  /** Scores one window; `history` holds the windows before it, oldest first (only the last deltaLags are read). */
  scoreWindow(window: TelemetryWindow, history: readonly TelemetryWindow[] = []): DetectorWindowScores {
    const recent = history.slice(Math.max(0, history.length - this.deltaLags));
    checkWindow('DetectorEnsemble.scoreWindow', this.schema, window);
    recent.forEach((previous, i) => checkWindow(`DetectorEnsemble.scoreWindow: history[${history.length - recent.length + i}]`, this.schema, previous));
    return this.score(window, recent);
  }

  private score(window: TelemetryWindow, history: readonly TelemetryWindow[]): DetectorWindowScores {
    const parts = this.groups.flatMap((group) => {
      const lags = group[0]!.deltaLags;
      const prepared = group[0]!.prepare(window, history.slice(Math.max(0, history.length - lags)));
      return group.map((member) => member.scorePrepared(prepared));
    });
    return meanScores(parts);
  }

  /** The ensemble as file bytes (detector-ensemble-format.ts). */
  encode(): Uint8Array {
    return encodeEnsemble(
      this.members.map((member) => member.encode()),
      this.nodeThreshold,
      this.linkThreshold,
    );
  }

  /** An ensemble from file bytes; with `expected`, refuses members trained on other feature names. */
  static decode(bytes: Uint8Array, expected?: FeatureSchema): DetectorEnsemble {
    const { members, nodeThreshold, linkThreshold } = decodeEnsemble(bytes);
    return new DetectorEnsemble(
      members.map((member) => AnomalyDetector.decode(member, expected)),
      nodeThreshold,
      linkThreshold,
    );
  }

  /** Writes the ensemble to `path` atomically (a temporary file renamed over it). */
  async save(path: string): Promise<void> {
    const temporary = `${path}.tmp-${process.pid}`;
    await writeFile(temporary, this.encode());
    await rename(temporary, path);
  }

  /** Reads an ensemble file (see decode; ERR_DETECTOR_READ when it cannot be read). */
  static async load(path: string, expected?: FeatureSchema): Promise<DetectorEnsemble> {
    let bytes: Uint8Array;
    try {
      const size = (await stat(path)).size;
      if (size > ensembleBytesMax) throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_FORMAT, `DetectorEnsemble.load: ${path} has ${size} bytes, more than any ensemble file (${ensembleBytesMax})`);
      bytes = new Uint8Array(await readFile(path));
    } catch (error) {
      if (isDetectorError(error)) throw error;
      throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_READ, `DetectorEnsemble.load: cannot read ${path} (${(error as Error).message})`);
    }
    return DetectorEnsemble.decode(bytes, expected);
  }
}
