/**
 * The output heads: softmax with cross-entropy for one class per node, sigmoid with binary
 * cross-entropy for binary or multi-label outputs. Losses are means (over the labelled rows for
 * softmax, over rows x outputs for sigmoid, as PyTorch's defaults), computed in float64 from
 * float32 logits with the usual stable forms (max-shifted log-sum-exp, log1p(exp(-|z|))).
 */

/**
 * Mean cross-entropy of softmax(logits) over the listed rows; row rows[i] has class classes[i].
 * When `gradient` is given, writes d(loss)/d(logits) into those rows (other rows untouched).
 */
export function softmaxCrossEntropy(logits: Float32Array, width: number, rows: Int32Array, classes: Int32Array, gradient: Float32Array | null): number {
  let total = 0;
  const count = rows.length;
  for (let i = 0; i < count; i++) {
    const row = rows[i]! * width;
    let max = -Infinity;
    for (let c = 0; c < width; c++) max = Math.max(max, logits[row + c]!);
    let sum = 0;
    for (let c = 0; c < width; c++) sum += Math.exp(logits[row + c]! - max);
    const target = classes[i]!;
    total += Math.log(sum) + max - logits[row + target]!;
    if (gradient === null) continue;
    for (let c = 0; c < width; c++) {
      const probability = Math.exp(logits[row + c]! - max) / sum;
      gradient[row + c] = (probability - (c === target ? 1 : 0)) / count;
    }
  }
  return count === 0 ? 0 : total / count;
}

/**
 * Mean binary cross-entropy of sigmoid(logits) against targets in [0, 1] over the listed rows
 * and all outputs; targets[i * width + c] belongs to row rows[i]. When `gradient` is given,
 * writes d(loss)/d(logits) into those rows.
 */
export function sigmoidBinaryCrossEntropy(logits: Float32Array, width: number, rows: Int32Array, targets: Float32Array, gradient: Float32Array | null): number {
  let total = 0;
  const count = rows.length * width;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]! * width;
    for (let c = 0; c < width; c++) {
      const z = logits[row + c]!;
      const t = targets[i * width + c]!;
      // max(z, 0) - z t + log(1 + e^-|z|) is log(1 + e^z) - z t without overflow.
      total += Math.max(z, 0) - z * t + Math.log1p(Math.exp(-Math.abs(z)));
      if (gradient !== null) gradient[row + c] = (sigmoid(z) - t) / count;
    }
  }
  return count === 0 ? 0 : total / count;
}

/** The logistic function, evaluated without overflow for large |z|. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** Replaces each of the first `rows` rows of logits by its softmax, in place. */
export function softmaxRowsInPlace(m: Float32Array, rows: number, width: number): void {
  for (let r = 0; r < rows; r++) {
    const row = r * width;
    let max = -Infinity;
    for (let c = 0; c < width; c++) max = Math.max(max, m[row + c]!);
    let sum = 0;
    for (let c = 0; c < width; c++) {
      const e = Math.exp(m[row + c]! - max);
      m[row + c] = e;
      sum += e;
    }
    for (let c = 0; c < width; c++) m[row + c]! /= sum;
  }
}

/** Applies the logistic function to the first `count` values, in place. */
export function sigmoidInPlace(m: Float32Array, count: number): void {
  for (let at = 0; at < count; at++) m[at] = sigmoid(m[at]!);
}
