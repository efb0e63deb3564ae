/**
 * What the MAPE-K loop acts on, as a scorer: the loop (loop.ts) confirms an incident only after
 * its subject's score has been at or above the threshold in `confirmWindows` windows in a row,
 * and a subject without a finding in a window (a node that was down, a link that was gone)
 * counts as below it. Evaluating the detector's raw per-window scores would count, as alarms,
 * one-window spikes on which the loop never acts; this wrapper gives every item the minimum of
 * its scores over the last `confirmWindows` windows (0 when it was not scored in one of them),
 * so an item is flagged exactly when the loop would confirm it. Thresholds are calibrated on
 * these confirmed scores of validation data, as for any scorer.
 *
 * What it leaves out: once confirmed, the loop keeps an incident until the score has stayed
 * below a lower band for `clearWindows` windows; here an item is flagged only in windows that
 * themselves confirm it, which is stricter (fewer flags) than the loop's hold.
 */
import type { BinaryMetrics } from '../ml/classification.js';
import type { DetectorCalibration } from './class-calibration.js';
import type { Dataset, TelemetryWindow } from '../telemetry/types.js';
import { DetectorError, DetectorErrorCode, windowNodesMax } from './detector-errors.js';
import { calibrateScored, type Scorer, type WindowScores } from './evaluation.js';

/** Most windows in a row a confirmation may need. */
export const confirmWindowsMax = 16;

/** Confirmed scores of one window, computed from the raw scores of it and the windows before it. */
function confirmWindow(windows: readonly TelemetryWindow[], raw: readonly WindowScores[], t: number, confirmWindows: number): WindowScores {
  const window = windows[t]!;
  const current = raw[t]!;
  const nodeScores = Float32Array.from(current.nodeScores);
  const linkScores = Float32Array.from(current.linkScores);
  for (let back = 1; back < confirmWindows; back++) {
    const earlier = t - back >= 0 ? raw[t - back]! : null;
    lowerNodes(nodeScores, earlier?.nodeScores ?? null);
    lowerLinks(window, linkScores, earlier === null ? null : { window: windows[t - back]!, scores: earlier.linkScores });
  }
  return { ...current, nodeScores, linkScores };
}

/** score = min(score, earlier score) for every scored node; 0 when it was not scored earlier. */
function lowerNodes(scores: Float32Array, earlier: Float32Array | null): void {
  for (let v = 0; v < scores.length; v++) {
    if (Number.isNaN(scores[v])) continue;
    const before = earlier !== null && v < earlier.length ? earlier[v]! : Number.NaN;
    scores[v] = Number.isNaN(before) ? 0 : Math.min(scores[v]!, before);
  }
}

/** The same for links, matched by their (from, to) ends, since link order differs between windows. */
function lowerLinks(window: TelemetryWindow, scores: Float32Array, earlier: { window: TelemetryWindow; scores: Float32Array } | null): void {
  const key = (w: TelemetryWindow, i: number): number => w.linkFrom[i]! * windowNodesMax + w.linkTo[i]!;
  const before = new Map<number, number>();
  if (earlier !== null) for (let i = 0; i < earlier.scores.length; i++) before.set(key(earlier.window, i), earlier.scores[i]!);
  for (let i = 0; i < scores.length; i++) {
    if (Number.isNaN(scores[i])) continue;
    const previous = before.get(key(window, i)) ?? Number.NaN;
    scores[i] = Number.isNaN(previous) ? 0 : Math.min(scores[i]!, previous);
  }
}

/** A scorer flagging what the MAPE-K loop would confirm (see the file comment). */
export class ConfirmedScorer implements Scorer {
  readonly name: string;

  /** Wraps `inner`; thresholds apply to confirmed scores (default: the inner scorer's). */
  constructor(
    readonly inner: Scorer,
    readonly confirmWindows: number,
    readonly nodeThreshold: number = inner.nodeThreshold,
    readonly linkThreshold: number = inner.linkThreshold,
  ) {
    if (!Number.isInteger(confirmWindows) || confirmWindows < 1 || confirmWindows > confirmWindowsMax) {
      throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_ARGUMENT, `ConfirmedScorer: expected confirmWindows to be an integer in 1..${confirmWindowsMax}, got ${confirmWindows}`);
    }
    this.name = `${inner.name}, confirmed over ${confirmWindows} windows`;
  }

  /** The inner scorer's scores of every window, each lowered to its minimum over the last confirmWindows windows. */
  scoreDataset(dataset: Dataset): WindowScores[] {
    const raw = this.inner.scoreDataset(dataset);
    return raw.map((_, t) => confirmWindow(dataset.windows, raw, t, this.confirmWindows));
  }

  /** A copy with thresholds chosen on the confirmed scores of `validation`. */
  calibrated(validation: readonly Dataset[], calibration: DetectorCalibration): { scorer: ConfirmedScorer; nodeCalibration: BinaryMetrics; linkCalibration: BinaryMetrics | null } {
    const scored = validation.map((dataset) => ({ dataset, scores: this.scoreDataset(dataset) }));
    const { nodeCalibration, linkCalibration } = calibrateScored('ConfirmedScorer.calibrated', scored, calibration);
    const scorer = new ConfirmedScorer(this.inner, this.confirmWindows, nodeCalibration.threshold, linkCalibration?.threshold ?? this.linkThreshold);
    return { scorer, nodeCalibration, linkCalibration };
  }
}
