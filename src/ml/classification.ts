/**
 * Binary classification measures from scores and labels: confusion counts, precision, recall,
 * F1 and false-positive rate at a threshold, the exact AUROC (the Mann-Whitney statistic with
 * midranks for ties), the precision-recall curve over every distinct score, threshold
 * calibration on validation data, and one-vs-rest measures per class. The anomaly detector and
 * its baselines are scored with these, so every convention lives here once:
 *
 * - an item is flagged (predicted positive) when its score is >= the threshold;
 * - precision is 1 when nothing is flagged (no false claim was made), recall is 1 when there is
 *   nothing to find, F1 is 2 tp / (2 tp + fp + fn) (1 when tp, fp and fn are all 0), and the
 *   false-positive rate is 0 when there are no negatives;
 * - AUROC is NaN when only one class is present (it is undefined then).
 *
 * Labels are 0 (negative) or 1 (positive). Empty input, a length mismatch, a label other than 0
 * or 1 and a non-finite score are refused with an MlError naming the function and the finding.
 */
import { MlError, MlErrorCode } from './errors.js';

/** The four cells of a binary confusion matrix. */
export interface ConfusionCounts {
  readonly truePositives: number;
  readonly falsePositives: number;
  readonly trueNegatives: number;
  readonly falseNegatives: number;
}

/** Confusion counts at one threshold and the rates derived from them. */
export interface BinaryMetrics extends ConfusionCounts {
  readonly threshold: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  /** Flagged negatives as a share of all negatives. */
  readonly falsePositiveRate: number;
}

/** The precision-recall curve: one point per distinct score, thresholds descending (flag every score >= thresholds[i]). */
export interface PrCurve {
  readonly positives: number;
  readonly negatives: number;
  readonly thresholds: Float64Array;
  readonly truePositives: Float64Array;
  readonly falsePositives: Float64Array;
  readonly precision: Float64Array;
  readonly recall: Float64Array;
  readonly f1: Float64Array;
  readonly falsePositiveRate: Float64Array;
}

/**
 * How to choose a threshold on validation data: the one with the highest F1 (optionally only
 * among thresholds whose false-positive rate is at most `falsePositiveRateMax`), or the lowest
 * threshold whose false-positive rate is at most `falsePositiveRateMax`.
 */
export type Calibration =
  | { readonly objective: 'f1'; readonly falsePositiveRateMax?: number }
  | { readonly objective: 'falsePositiveRate'; readonly falsePositiveRateMax: number };

/** Measures of one class against the rest. */
export interface OneVsRestMetrics extends BinaryMetrics {
  readonly classIndex: number;
  readonly positives: number;
  readonly auroc: number;
}

/** Checks scores and labels at the boundary and returns how many labels are positive. */
function checkBinary(what: string, scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  if (scores.length !== labels.length) {
    throw new MlError(MlErrorCode.ERR_ML_SHAPE, `${what}: expected as many labels as scores, got ${scores.length} scores and ${labels.length} labels`);
  }
  if (scores.length === 0) throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `${what}: no scores; expected at least one scored item`);
  let positives = 0;
  for (let i = 0; i < scores.length; i++) {
    const score = scores[i]!;
    if (!Number.isFinite(score)) throw new MlError(MlErrorCode.ERR_ML_NON_FINITE, `${what}: scores[${i}] is ${score}; scores must be finite`);
    const label = labels[i]!;
    if (label !== 0 && label !== 1) throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `${what}: labels[${i}] is ${label}, expected 0 or 1`);
    positives += label;
  }
  return positives;
}

function checkThreshold(what: string, threshold: number): void {
  if (Number.isNaN(threshold)) throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `${what}: threshold is NaN`);
}

/** Confusion counts when every item whose score is >= `threshold` is flagged. */
export function confusionAt(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): ConfusionCounts {
  checkBinary('confusionAt', scores, labels);
  checkThreshold('confusionAt', threshold);
  let truePositives = 0;
  let falsePositives = 0;
  let trueNegatives = 0;
  let falseNegatives = 0;
  for (let i = 0; i < scores.length; i++) {
    const flagged = scores[i]! >= threshold;
    if (labels[i] === 1) {
      if (flagged) truePositives++;
      else falseNegatives++;
    } else if (flagged) falsePositives++;
    else trueNegatives++;
  }
  return { truePositives, falsePositives, trueNegatives, falseNegatives };
}

/** Precision, recall, F1 and false-positive rate of confusion counts (conventions in the file comment). */
export function ratesOf(counts: ConfusionCounts): { precision: number; recall: number; f1: number; falsePositiveRate: number } {
  const { truePositives: tp, falsePositives: fp, trueNegatives: tn, falseNegatives: fn } = counts;
  return {
    precision: tp + fp === 0 ? 1 : tp / (tp + fp),
    recall: tp + fn === 0 ? 1 : tp / (tp + fn),
    f1: tp + fp + fn === 0 ? 1 : (2 * tp) / (2 * tp + fp + fn),
    falsePositiveRate: fp + tn === 0 ? 0 : fp / (fp + tn),
  };
}

/** Confusion counts, precision, recall, F1 and false-positive rate at `threshold`. */
export function binaryMetrics(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): BinaryMetrics {
  const counts = confusionAt(scores, labels, threshold);
  return { threshold, ...counts, ...ratesOf(counts) };
}

/** The scores of the positives and of the negatives, each sorted ascending. */
function splitSorted(scores: ArrayLike<number>, labels: ArrayLike<number>, positives: number): { pos: Float64Array; neg: Float64Array } {
  const pos = new Float64Array(positives);
  const neg = new Float64Array(scores.length - positives);
  let p = 0;
  let n = 0;
  for (let i = 0; i < scores.length; i++) {
    if (labels[i] === 1) pos[p++] = scores[i]!;
    else neg[n++] = scores[i]!;
  }
  return { pos: pos.sort(), neg: neg.sort() };
}

/**
 * The area under the ROC curve, exactly: the Mann-Whitney U of the positives' scores against
 * the negatives', with tied scores given their mean rank, divided by positives x negatives. It
 * is the probability that a random positive scores above a random negative, ties counting one
 * half. NaN when all labels are equal.
 */
export function auroc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const positives = checkBinary('auroc', scores, labels);
  const negatives = scores.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  const { pos, neg } = splitSorted(scores, labels, positives);
  let i = 0;
  let j = 0;
  let rank = 1;
  let positiveRankSum = 0;
  // Merge the two ascending lists one group of equal scores at a time; a group of g items
  // starting at rank r holds ranks r .. r + g - 1, whose mean is r + (g - 1) / 2.
  while (i < positives || j < negatives) {
    const value = Math.min(i < positives ? pos[i]! : Infinity, j < negatives ? neg[j]! : Infinity);
    let groupPositives = 0;
    let groupNegatives = 0;
    while (i < positives && pos[i] === value) {
      i++;
      groupPositives++;
    }
    while (j < negatives && neg[j] === value) {
      j++;
      groupNegatives++;
    }
    const group = groupPositives + groupNegatives;
    positiveRankSum += groupPositives * (rank + (group - 1) / 2);
    rank += group;
  }
  const u = positiveRankSum - (positives * (positives + 1)) / 2;
  return u / (positives * negatives);
}

/** The precision-recall curve: a point for each distinct score, flagging every item scored at or above it. */
export function prCurve(scores: ArrayLike<number>, labels: ArrayLike<number>): PrCurve {
  const positives = checkBinary('prCurve', scores, labels);
  const negatives = scores.length - positives;
  const { pos, neg } = splitSorted(scores, labels, positives);
  const points: number[][] = [[], [], []];
  let i = positives - 1;
  let j = negatives - 1;
  while (i >= 0 || j >= 0) {
    const value = Math.max(i >= 0 ? pos[i]! : -Infinity, j >= 0 ? neg[j]! : -Infinity);
    while (i >= 0 && pos[i] === value) i--;
    while (j >= 0 && neg[j] === value) j--;
    points[0]!.push(value);
    points[1]!.push(positives - 1 - i);
    points[2]!.push(negatives - 1 - j);
  }
  const thresholds = Float64Array.from(points[0]!);
  const truePositives = Float64Array.from(points[1]!);
  const falsePositives = Float64Array.from(points[2]!);
  const rates = Array.from(thresholds, (_, k) =>
    ratesOf({ truePositives: truePositives[k]!, falsePositives: falsePositives[k]!, trueNegatives: negatives - falsePositives[k]!, falseNegatives: positives - truePositives[k]! }),
  );
  return {
    positives,
    negatives,
    thresholds,
    truePositives,
    falsePositives,
    precision: Float64Array.from(rates, (r) => r.precision),
    recall: Float64Array.from(rates, (r) => r.recall),
    f1: Float64Array.from(rates, (r) => r.f1),
    falsePositiveRate: Float64Array.from(rates, (r) => r.falsePositiveRate),
  };
}

/**
 * Average precision, the step-wise area under the precision-recall curve: the sum over curve
 * points of (recall gained at the point) x (precision there), as scikit-learn computes it (no
 * interpolation). NaN when there are no positives.
 */
export function averagePrecision(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const curve = prCurve(scores, labels);
  if (curve.positives === 0) return Number.NaN;
  let area = 0;
  let recallBefore = 0;
  for (let k = 0; k < curve.thresholds.length; k++) {
    area += (curve.recall[k]! - recallBefore) * curve.precision[k]!;
    recallBefore = curve.recall[k]!;
  }
  return area;
}

function checkCalibration(calibration: Calibration): number {
  const max = calibration.falsePositiveRateMax;
  const objective: string = calibration.objective;
  if (objective !== 'f1' && objective !== 'falsePositiveRate') {
    throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `calibrateThreshold: expected objective 'f1' or 'falsePositiveRate', got ${objective}`);
  }
  if (max === undefined) return 1;
  if (!(max >= 0 && max <= 1)) throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `calibrateThreshold: expected falsePositiveRateMax in [0, 1], got ${max}`);
  return max;
}

/**
 * Chooses a threshold on validation scores and labels (see Calibration) and returns it with the
 * measures it gives there. The threshold is placed halfway between the lowest flagged score and
 * the highest unflagged one, so the validation items are classified as chosen while unseen
 * scores near the boundary get the benefit of the gap; when every item is flagged it is the
 * lowest score, and when none is, a value above the highest score (highest + max(1, |highest|)).
 * Among equally good choices the highest threshold (fewest flags) wins.
 */
export function calibrateThreshold(scores: ArrayLike<number>, labels: ArrayLike<number>, calibration: Calibration): BinaryMetrics {
  const fprMax = checkCalibration(calibration);
  const curve = prCurve(scores, labels);
  const { thresholds, f1, falsePositiveRate } = curve;
  // Point -1 stands for flagging nothing: F1 1 when there is nothing to find, else 0; FPR 0.
  let chosen = -1;
  let bestF1 = curve.positives === 0 ? 1 : 0;
  for (let k = 0; k < thresholds.length; k++) {
    if (falsePositiveRate[k]! > fprMax) break; // the rate only grows as the threshold falls
    if (calibration.objective === 'falsePositiveRate') chosen = k;
    else if (f1[k]! > bestF1) {
      chosen = k;
      bestF1 = f1[k]!;
    }
  }
  const highest = thresholds[0]!;
  let threshold: number;
  if (chosen === -1) threshold = highest + Math.max(1, Math.abs(highest));
  else if (chosen === thresholds.length - 1) threshold = thresholds[chosen]!;
  else threshold = (thresholds[chosen]! + thresholds[chosen + 1]!) / 2;
  return binaryMetrics(scores, labels, threshold);
}

/**
 * Per-class measures, each class against all the others: `scores` is [items x classCount]
 * row-major (column c scores class c), `classes` the true class of each item (0..classCount-1),
 * `thresholds[c]` the threshold of class c (0.5 for every class when left out).
 */
export function oneVsRest(scores: ArrayLike<number>, classCount: number, classes: ArrayLike<number>, thresholds?: readonly number[]): OneVsRestMetrics[] {
  if (!Number.isInteger(classCount) || classCount < 2) throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `oneVsRest: expected classCount to be an integer >= 2, got ${classCount}`);
  if (scores.length !== classes.length * classCount) {
    throw new MlError(MlErrorCode.ERR_ML_SHAPE, `oneVsRest: expected [${classes.length} x ${classCount}] = ${classes.length * classCount} scores for ${classes.length} items, got ${scores.length}`);
  }
  if (thresholds !== undefined && thresholds.length !== classCount) {
    throw new MlError(MlErrorCode.ERR_ML_SHAPE, `oneVsRest: expected ${classCount} thresholds (one per class), got ${thresholds.length}`);
  }
  for (let i = 0; i < classes.length; i++) {
    const c = classes[i]!;
    if (!Number.isInteger(c) || c < 0 || c >= classCount) throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `oneVsRest: classes[${i}] is ${c}, outside 0..${classCount - 1}`);
  }
  const column = new Float64Array(classes.length);
  const binary = new Uint8Array(classes.length);
  return Array.from({ length: classCount }, (_, c) => {
    for (let i = 0; i < classes.length; i++) {
      column[i] = scores[i * classCount + c]!;
      binary[i] = classes[i] === c ? 1 : 0;
    }
    const metrics = binaryMetrics(column, binary, thresholds?.[c] ?? 0.5);
    return { classIndex: c, positives: metrics.truePositives + metrics.falseNegatives, auroc: auroc(column, binary), ...metrics };
  });
}
