/**
 * The detector's loss, shared by its node head and its edge head. Each item (a node or a link
 * in one window) has a row of 1 + C logits: column 0 is "any fault" against healthy (sigmoid,
 * binary cross-entropy), columns 1..C are the fault classes (softmax, cross-entropy, only for
 * faulty items); column c scores FaultClass value c. Faults are rare, so both parts are
 * weighted: faulty items by the healthy-to-faulty ratio of the training data (capped), and each
 * fault class inversely to its share of the faulty items, so a rare fault type counts as much
 * as a common one.
 */
import { faultClassNames } from '../telemetry/types.js';
import { DetectorError, DetectorErrorCode } from './detector-errors.js';

/** Fault classes the class part scores: FaultClass values 1..faultClassCount. */
export const faultClassCount = faultClassNames.length - 1;
/** Logits per item: "any fault", then one per fault class. */
export const headWidth = 1 + faultClassCount;

/** Weights of the two parts of the loss (see the file comment). */
export interface LossWeights {
  readonly healthy: number;
  readonly faulty: number;
  /** Weight of each fault class, index = FaultClass value (index 0 unused). */
  readonly classes: Float64Array;
  /** Weight of the class part against the binary part. */
  readonly classLossWeight: number;
}

/** Counts items per FaultClass value in `labels` into `counts`. */
export function countClasses(labels: ArrayLike<number>, counts: Float64Array): void {
  for (let i = 0; i < labels.length; i++) counts[labels[i]!]!++;
}

/**
 * Loss weights from the items per class of the training data: healthy items weigh 1, faulty
 * items min(healthy / faulty, faultyWeightMax); a class with n_c of the F faulty items weighs
 * F / (K n_c) for the K classes present.
 */
export function lossWeights(counts: Float64Array, faultyWeightMax: number, classLossWeight: number): LossWeights {
  if (!(faultyWeightMax >= 1) || !(classLossWeight >= 0)) {
    throw new DetectorError(DetectorErrorCode.ERR_DETECTOR_ARGUMENT, `lossWeights: expected faultyWeightMax >= 1 and classLossWeight >= 0, got ${faultyWeightMax} and ${classLossWeight}`);
  }
  const healthy = counts[0]!;
  let faulty = 0;
  let present = 0;
  for (let c = 1; c < counts.length; c++) {
    faulty += counts[c]!;
    if (counts[c]! > 0) present++;
  }
  const classes = counts.map((n, c) => (c === 0 || n === 0 ? 0 : faulty / (present * n)));
  const ratio = faulty === 0 ? 1 : Math.min(Math.max(healthy / faulty, 1), faultyWeightMax);
  return { healthy: 1, faulty: ratio, classes, classLossWeight };
}

/** log(1 + e^z) - z t without overflow. */
function binaryCrossEntropy(z: number, t: number): number {
  return Math.max(z, 0) - z * t + Math.log1p(Math.exp(-Math.abs(z)));
}

function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/**
 * The weighted loss of `rows` items with logits [rows x headWidth] and classes `labels`: the
 * weighted mean binary cross-entropy of column 0 plus classLossWeight times the weighted mean
 * cross-entropy of the softmax over columns 1..C on faulty items. When `gradient` is given,
 * writes d(loss)/d(logits) into its first rows x headWidth values. `rowWeights` (one factor
 * per row, default all 1) scales each item's weight in both parts, 0 leaving it out.
 */
export function headLoss(logits: Float32Array, rows: number, labels: Uint8Array, weights: LossWeights, gradient: Float32Array | null, rowWeights: Float32Array | null = null): number {
  let binaryWeight = 0;
  let classWeight = 0;
  for (let r = 0; r < rows; r++) {
    const label = labels[r]!;
    const m = rowWeights === null ? 1 : rowWeights[r]!;
    binaryWeight += m * (label === 0 ? weights.healthy : weights.faulty);
    classWeight += m * weights.classes[label]!;
  }
  // Every row weighted 0 (all left out): the loss and its gradient are 0, not 0 / 0.
  if (binaryWeight === 0) binaryWeight = 1;
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    const at = r * headWidth;
    const label = labels[r]!;
    const target = label === 0 ? 0 : 1;
    const m = rowWeights === null ? 1 : rowWeights[r]!;
    const w = (m * (label === 0 ? weights.healthy : weights.faulty)) / binaryWeight;
    const z = logits[at]!;
    loss += w * binaryCrossEntropy(z, target);
    if (gradient !== null) gradient[at] = w * (sigmoid(z) - target);
    const v = classWeight === 0 ? 0 : (m * weights.classLossWeight * weights.classes[label]!) / classWeight;
    loss += classPart(logits, at, label, v, gradient);
  }
  return loss;
}

/** The weighted softmax cross-entropy of one item's class logits (weight `v`, 0 for healthy items) and its gradient. */
function classPart(logits: Float32Array, at: number, label: number, v: number, gradient: Float32Array | null): number {
  if (v === 0) {
    if (gradient !== null) gradient.fill(0, at + 1, at + headWidth);
    return 0;
  }
  let max = -Infinity;
  for (let c = 1; c < headWidth; c++) max = Math.max(max, logits[at + c]!);
  let sum = 0;
  for (let c = 1; c < headWidth; c++) sum += Math.exp(logits[at + c]! - max);
  if (gradient !== null) {
    for (let c = 1; c < headWidth; c++) gradient[at + c] = v * (Math.exp(logits[at + c]! - max) / sum - (c === label ? 1 : 0));
  }
  return v * (Math.log(sum) + max - logits[at + label]!);
}

/** Exponentials of one row's class logits (scoresOfLogits). */
const softmaxScratch = new Float64Array(headWidth);

/** Scores from logits [rows x headWidth]: sigmoid of column 0 into `scores`, softmax of columns 1..C into `classScores` [rows x faultClassCount]. */
export function scoresOfLogits(logits: Float32Array, rows: number, scores: Float32Array, classScores: Float32Array, rowIndex: ArrayLike<number>): void {
  for (let r = 0; r < rows; r++) {
    const at = r * headWidth;
    const target = rowIndex[r]!;
    scores[target] = sigmoid(logits[at]!);
    let max = -Infinity;
    for (let c = 1; c < headWidth; c++) max = Math.max(max, logits[at + c]!);
    // Each exponential once (this runs for every node and link of a window), kept in float64 until the division.
    let sum = 0;
    for (let c = 1; c < headWidth; c++) {
      softmaxScratch[c] = Math.exp(logits[at + c]! - max);
      sum += softmaxScratch[c]!;
    }
    for (let c = 1; c < headWidth; c++) classScores[target * faultClassCount + c - 1] = softmaxScratch[c]! / sum;
  }
}
