/**
 * The detector's edge head: for each directed link, 1 + C logits from one linear (logistic)
 * layer over [h_from, h_to, link features], where h is the node model's last hidden layer and
 * the link features are standardised. It is trained after the node model, on its frozen
 * embeddings: the node model's loss then stays about nodes, the edge head is a convex problem
 * that converges in a few epochs, and either can be retrained without the other. Column 0 is
 * the link's anomaly score (sigmoid), columns 1..C its fault class (softmax), as for nodes.
 */
import { Adam } from '../ml/adam.js';
import { biasGradient, denseMatMul, denseMatMulTransposeA, addBias } from '../ml/kernels.js';
import type { RandomSource } from '../ml/random.js';
import type { WindowGraph } from './detector-features.js';
import { headLoss, headWidth, type LossWeights } from './detector-loss.js';
import { shuffled, type EpochRecord, type WindowRef } from './detector-train.js';

/** Inputs and classes of the links of one or more windows. */
export interface EdgeBatch {
  readonly rows: number;
  readonly inputs: Float32Array;
  readonly labels: Uint8Array;
}

/** Settings of edge-head training. */
export interface EdgeTrainingOptions {
  readonly learningRate: number;
  readonly weightDecay: number;
  readonly batchWindows: number;
  readonly epochsMax: number;
  readonly patience: number;
}

/** A linear layer [inputDim x headWidth] plus bias, in one flat vector (weights row-major, then bias). */
export class EdgeHead {
  readonly weight: Float32Array;
  readonly bias: Float32Array;

  /** A head over `parameters` (inputDim x headWidth weights, then headWidth biases); the views alias it. */
  constructor(
    readonly inputDim: number,
    readonly parameters: Float32Array,
  ) {
    this.weight = parameters.subarray(0, inputDim * headWidth);
    this.bias = parameters.subarray(inputDim * headWidth);
  }

  /** Parameters in a head over `inputDim` inputs. */
  static parameterCount(inputDim: number): number {
    return (inputDim + 1) * headWidth;
  }

  /** Logits [rows x headWidth] of `rows` input rows. */
  logits(inputs: Float32Array, rows: number): Float32Array {
    const out = new Float32Array(rows * headWidth);
    denseMatMul(inputs, rows, this.inputDim, this.weight, headWidth, out, false);
    addBias(out, rows, this.bias);
    return out;
  }

  /**
   * Logits of the links of `graph` for inference, without building their input rows: the
   * weights split into the blocks that multiply h_from, h_to and the link features, so each
   * node's two projections are computed once and added per link. The same sums as
   * logits(edgeInputs(...)) in another order (equal up to float32 rounding), at about a tenth of
   * the work on a mesh with several links per node.
   */
  linkLogits(hidden: Float32Array, hiddenDim: number, graph: WindowGraph, links: Float32Array, linkDim: number): Float32Array {
    const rows = graph.nodes.length;
    const count = graph.links.length;
    // A local copy: the imported binding is a getter under some loaders, and the loop below is hot.
    const width = headWidth;
    const block = hiddenDim * width;
    const fromPart = new Float32Array(rows * width);
    const toPart = new Float32Array(rows * width);
    denseMatMul(hidden, rows, hiddenDim, this.weight.subarray(0, block), width, fromPart, false);
    denseMatMul(hidden, rows, hiddenDim, this.weight.subarray(block, 2 * block), width, toPart, false);
    const out = new Float32Array(count * width);
    denseMatMul(links, count, linkDim, this.weight.subarray(2 * block), width, out, false);
    const bias = this.bias;
    for (let k = 0; k < count; k++) {
      const from = graph.linkFromRow[k]! * width;
      const to = graph.linkToRow[k]! * width;
      for (let c = 0; c < width; c++) out[k * width + c]! += fromPart[from + c]! + toPart[to + c]! + bias[c]!;
    }
    return out;
  }
}

/** Edge inputs [links x (2 hiddenDim + linkDim)]: the hidden rows of each link's ends, then its standardised features. */
export function edgeInputs(hidden: Float32Array, hiddenDim: number, graph: WindowGraph, links: Float32Array, linkDim: number): Float32Array {
  const dim = 2 * hiddenDim + linkDim;
  const out = new Float32Array(graph.links.length * dim);
  for (let k = 0; k < graph.links.length; k++) {
    const from = graph.linkFromRow[k]!;
    const to = graph.linkToRow[k]!;
    out.set(hidden.subarray(from * hiddenDim, (from + 1) * hiddenDim), k * dim);
    out.set(hidden.subarray(to * hiddenDim, (to + 1) * hiddenDim), k * dim + hiddenDim);
    out.set(links.subarray(k * linkDim, (k + 1) * linkDim), k * dim + 2 * hiddenDim);
  }
  return out;
}

/** Several edge batches stacked into one. */
function stack(parts: readonly EdgeBatch[], dim: number): EdgeBatch {
  const rows = parts.reduce((sum, part) => sum + part.rows, 0);
  const inputs = new Float32Array(rows * dim);
  const labels = new Uint8Array(rows);
  let row = 0;
  for (const part of parts) {
    inputs.set(part.inputs, row * dim);
    labels.set(part.labels, row);
    row += part.rows;
  }
  return { rows, inputs, labels };
}

/** The edge loss over `refs`, batch losses averaged by their link counts. */
function evaluationLoss(head: EdgeHead, refs: readonly WindowRef[], batchOf: (ref: WindowRef) => EdgeBatch, weights: LossWeights, batchWindows: number): number {
  let total = 0;
  let rows = 0;
  for (let start = 0; start < refs.length; start += batchWindows) {
    const batch = stack(refs.slice(start, start + batchWindows).map(batchOf), head.inputDim);
    if (batch.rows === 0) continue;
    total += headLoss(head.logits(batch.inputs, batch.rows), batch.rows, batch.labels, weights, null) * batch.rows;
    rows += batch.rows;
  }
  return rows === 0 ? 0 : total / rows;
}

/** Trains an edge head from zero weights with Adam and early stopping on the validation loss; keeps the best epoch's parameters. */
export function trainEdgeHead(
  train: readonly WindowRef[],
  validation: readonly WindowRef[],
  batchOf: (ref: WindowRef) => EdgeBatch,
  inputDim: number,
  weights: LossWeights,
  options: EdgeTrainingOptions,
  random: RandomSource,
): { head: EdgeHead; epochs: EpochRecord[]; bestEpoch: number } {
  const head = new EdgeHead(inputDim, new Float32Array(EdgeHead.parameterCount(inputDim)));
  const gradients = new Float32Array(head.parameters.length);
  const gradientHead = new EdgeHead(inputDim, gradients);
  const adam = new Adam(head.parameters.length, { learningRate: options.learningRate, weightDecay: options.weightDecay });
  const epochs: EpochRecord[] = [];
  let best = { loss: Infinity, epoch: -1, parameters: head.parameters.slice() };
  for (let epoch = 0; epoch < options.epochsMax && epoch - best.epoch <= options.patience; epoch++) {
    const order = shuffled(train.length, random);
    let trainLoss = 0;
    let trainRows = 0;
    for (let start = 0; start < order.length; start += options.batchWindows) {
      const batch = stack(Array.from(order.subarray(start, start + options.batchWindows), (i) => batchOf(train[i]!)), inputDim);
      if (batch.rows === 0) continue;
      const d = new Float32Array(batch.rows * headWidth);
      const loss = headLoss(head.logits(batch.inputs, batch.rows), batch.rows, batch.labels, weights, d);
      gradients.fill(0);
      denseMatMulTransposeA(batch.inputs, batch.rows, inputDim, d, headWidth, gradientHead.weight);
      biasGradient(d, batch.rows, gradientHead.bias);
      adam.step(head.parameters, gradients);
      trainLoss += loss * batch.rows;
      trainRows += batch.rows;
    }
    const validationLoss = evaluationLoss(head, validation, batchOf, weights, options.batchWindows);
    epochs.push({ epoch, trainLoss: trainLoss / Math.max(1, trainRows), validationLoss });
    if (validationLoss < best.loss) best = { loss: validationLoss, epoch, parameters: head.parameters.slice() };
  }
  head.parameters.set(best.parameters);
  return { head, epochs, bestEpoch: best.epoch };
}
