/**
 * The detector's loss made additive across clients. The detector's headLoss normalises each
 * mini-batch by the batch's own sum of weights: with hundreds of node rows per batch that is
 * close to the pooled data's weight per row, but a client's batch of a few rows, most often
 * all healthy, would give each of its rows tens of times the weight it has in the pooled loss,
 * and clients without faults would pull the model toward "healthy" far harder than their data
 * warrant. Here the batch is normalised by rows x the pooled mean weight per row instead, so a
 * client's loss is its share of the pooled objective and the sum over clients is the
 * centralised loss. The pooled means come from the summed class counts the setup already has.
 */
import { headLoss, headWidth, type LossWeights } from '../../mapek/detector-loss.js';

/** Mean weight per row of the binary and of the class part over the pooled data. */
export interface LossScale {
  readonly binaryPerRow: number;
  readonly classPerRow: number;
}

/** The pooled means of the two parts' weights, from the class counts of all clients. */
export function lossScaleOf(weights: LossWeights, counts: Float64Array): LossScale {
  let rows = 0;
  let binary = 0;
  let classes = 0;
  counts.forEach((count, label) => {
    rows += count;
    binary += count * (label === 0 ? weights.healthy : weights.faulty);
    classes += count * weights.classes[label]!;
  });
  return { binaryPerRow: binary / rows, classPerRow: classes / rows };
}

/**
 * headLoss over `rows` rows rescaled to the pooled normalisation (see the file comment); the
 * gradient, when given, is rescaled the same way.
 */
export function pooledScaleLoss(logits: Float32Array, rows: number, labels: Uint8Array, weights: LossWeights, scale: LossScale, gradient: Float32Array | null): number {
  let binaryWeight = 0;
  let classWeight = 0;
  for (let r = 0; r < rows; r++) {
    binaryWeight += labels[r] === 0 ? weights.healthy : weights.faulty;
    classWeight += weights.classes[labels[r]!]!;
  }
  const total = headLoss(logits, rows, labels, weights, gradient);
  const binary = headLoss(logits, rows, labels, { ...weights, classLossWeight: 0 }, null);
  const binaryFactor = binaryWeight / (rows * scale.binaryPerRow);
  const classFactor = scale.classPerRow === 0 ? 0 : classWeight / (rows * scale.classPerRow);
  if (gradient !== null) {
    for (let r = 0; r < rows; r++) {
      gradient[r * headWidth]! *= binaryFactor;
      for (let c = 1; c < headWidth; c++) gradient[r * headWidth + c]! *= classFactor;
    }
  }
  return binaryFactor * binary + classFactor * (total - binary);
}
