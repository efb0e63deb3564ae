/**
 * A threshold chosen for the mean F1 of the fault classes, each against the healthy items, as
 * the evaluation reads every fault type (evaluation.ts, "one-vs-healthy"). The F1 objective of
 * src/ml pools all faulty items, so a threshold that finds many items of the common or easy
 * classes wins there even when its false alarms (which count against every class) cost the
 * rarer classes more; here each fault class present counts the same.
 */
import { binaryMetrics, type BinaryMetrics, type Calibration } from '../ml/classification.js';
import { DetectorError, DetectorErrorCode } from './detector-errors.js';

/** The calibrations of src/ml, and the mean one-vs-healthy F1 of the fault classes. */
export type DetectorCalibration = Calibration | { readonly objective: 'meanClassF1' };

/** One-vs-healthy F1 of one class from its hits, its items and the healthy items flagged. */
function classF1(hits: number, items: number, falseAlarms: number): number {
  return (2 * hits) / (hits + items + falseAlarms);
}

/** Item indices ordered by score, highest first (ties by index, so the order is canonical). */
function byScoreDescending(scores: ArrayLike<number>): Int32Array {
  const order = Int32Array.from({ length: scores.length }, (_, i) => i);
  return order.sort((a, b) => scores[b]! - scores[a]! || a - b);
}

/** Checks the inputs; returns how many items each class has (index = class value). */
function classCounts(scores: ArrayLike<number>, classes: ArrayLike<number>): number[] {
  if (scores.length !== classes.length) throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_ARGUMENT, `calibrateMeanClassF1: expected one class per score, got ${scores.length} scores and ${classes.length} classes`);
  if (scores.length === 0) throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_ARGUMENT, 'calibrateMeanClassF1: expected at least one scored item, got none');
  const counts: number[] = [];
  for (let i = 0; i < classes.length; i++) {
    const c = classes[i]!;
    if (!Number.isInteger(c) || c < 0) throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_ARGUMENT, `calibrateMeanClassF1: classes[${i}] is ${c}, expected an integer >= 0`);
    if (!Number.isFinite(scores[i]!)) throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_ARGUMENT, `calibrateMeanClassF1: scores[${i}] is ${scores[i]}, expected a finite number`);
    while (counts.length <= c) counts.push(0);
    counts[c]!++;
  }
  return counts;
}

/**
 * The threshold with the highest mean one-vs-healthy F1 over the fault classes present
 * (`classes`: 0 healthy, c > 0 a fault class), with the binary measures (any fault against
 * healthy) it gives. It is placed as calibrateThreshold places its own: halfway between the
 * lowest flagged and the highest unflagged score, the lowest score when all are flagged, and
 * above the highest when none are (the choice when no class is present). Ties: the highest.
 */
export function calibrateMeanClassF1(scores: ArrayLike<number>, classes: ArrayLike<number>): BinaryMetrics {
  const counts = classCounts(scores, classes);
  const present = counts.flatMap((n, c) => (c > 0 && n > 0 ? [c] : []));
  const order = byScoreDescending(scores);
  const hits = new Array<number>(counts.length).fill(0);
  let falseAlarms = 0;
  let best = { meanF1: present.length === 0 ? 1 : 0, flagged: 0 };
  for (let k = 0; k < order.length; k++) {
    const c = classes[order[k]!]!;
    if (c === 0) falseAlarms++;
    else hits[c]!++;
    // Only between distinct scores can a threshold separate the first k + 1 items from the rest.
    if (k + 1 < order.length && scores[order[k + 1]!] === scores[order[k]!]) continue;
    const meanF1 = present.reduce((sum, p) => sum + classF1(hits[p]!, counts[p]!, falseAlarms), 0) / Math.max(1, present.length);
    if (meanF1 > best.meanF1) best = { meanF1, flagged: k + 1 };
  }
  const binary = Array.from(classes, (c) => (c === 0 ? 0 : 1));
  const highest = scores[order[0]!]!;
  let threshold: number;
  if (best.flagged === 0) threshold = highest + Math.max(1, Math.abs(highest));
  else if (best.flagged === order.length) threshold = scores[order[order.length - 1]!]!;
  else threshold = (scores[order[best.flagged - 1]!]! + scores[order[best.flagged]!]!) / 2;
  return binaryMetrics(scores, binary, threshold);
}
