/**
 * Training of the detector's GraphSAGE node model over many telemetry windows. A mini-batch is
 * several windows side by side (their graphs as one block-diagonal graph), so one step sees
 * several networks and fault situations; every step is a forward pass with dropout, the
 * weighted loss of detector-loss.ts over the nodes that were up, a backward pass and Adam.
 * After each epoch the average precision of the anomaly score on the validation windows decides
 * early stopping (ties: the lower validation loss), and the parameters of the best epoch are
 * kept. Average precision rather than loss, because the class weights make the loss reward
 * calibration on a skewed scale, while what the threshold later needs is a good ranking. All randomness (initialisation, window order,
 * dropout) comes from one seeded source.
 */
import { Adam } from '../ml/adam.js';
import { averagePrecision } from '../ml/classification.js';
import { fullGraphBlocks } from '../ml/block.js';
import { layerViews } from '../ml/config.js';
import { backward, forward, Workspace, type Dropout } from '../ml/engine.js';
import { denseFeatures, type DenseFeatures } from '../ml/features.js';
import type { CsrGraph } from '../ml/graph.js';
import { GraphSage } from '../ml/model.js';
import { uniformBelow, type RandomSource } from '../ml/random.js';
import type { Dataset, TelemetryWindow } from '../telemetry/types.js';
import { windowGraph, type NodeInputBuilder, type Standardizer, type WindowGraph } from './detector-features.js';
import { headLoss, headWidth, type LossWeights } from './detector-loss.js';

/** One window of one dataset; its history is the windows before it in the same dataset. */
export interface WindowRef {
  readonly dataset: Dataset;
  readonly index: number;
}

/** A window made ready for the model: its graph, standardised input rows and node classes per row. */
export interface PreparedWindow {
  readonly window: TelemetryWindow;
  readonly graph: WindowGraph;
  readonly input: Float32Array;
  readonly labels: Uint8Array;
  /** Loss factor of each row while training (detector-row-weights.ts); absent: all 1. */
  readonly rowWeights?: Float32Array;
}

/** Settings of node-model training (defaults are in detector.ts). */
export interface NodeTrainingOptions {
  readonly hiddenDims: readonly number[];
  readonly l2Normalize: boolean;
  readonly learningRate: number;
  readonly weightDecay: number;
  readonly dropout: number;
  readonly batchWindows: number;
  readonly epochsMax: number;
  readonly patience: number;
}

/** Losses of one epoch (and, for the node model, the validation average precision that early stopping follows). */
export interface EpochRecord {
  readonly epoch: number;
  readonly trainLoss: number;
  readonly validationLoss: number;
  readonly validationAveragePrecision?: number;
}

/** Every window of every dataset, in order. */
export function windowRefs(datasets: readonly Dataset[]): WindowRef[] {
  return datasets.flatMap((dataset) => dataset.windows.map((_, index) => ({ dataset, index })));
}

/** The windows before `ref` in its dataset, at most `lags` of them, oldest first. */
export function historyOf(ref: WindowRef, lags: number): readonly TelemetryWindow[] {
  return ref.dataset.windows.slice(Math.max(0, ref.index - lags), ref.index);
}

/** Builds the graph, standardised inputs and row labels of a window. */
export function prepareWindow(builder: NodeInputBuilder, standardizer: Standardizer, window: TelemetryWindow, history: readonly TelemetryWindow[]): PreparedWindow {
  const graph = windowGraph(window);
  const input = standardizer.apply(builder.build(window, history, graph));
  const labels = graph.nodes.map((v) => window.nodeLabels[v]!);
  return { window, graph, input: input, labels: Uint8Array.from(labels) };
}

/** Several prepared windows as one block-diagonal graph with stacked inputs and labels. */
export function unite(parts: readonly PreparedWindow[], dim: number): { graph: CsrGraph; features: DenseFeatures; labels: Uint8Array; rowWeights: Float32Array | null } {
  const rows = parts.reduce((sum, part) => sum + part.graph.nodes.length, 0);
  const edges = parts.reduce((sum, part) => sum + part.graph.graph.neighbours.length, 0);
  const offsets = new Int32Array(rows + 1);
  const neighbours = new Int32Array(edges);
  const values = new Float32Array(rows * dim);
  const labels = new Uint8Array(rows);
  const weighted = parts.some((part) => part.rowWeights !== undefined);
  const rowWeights = weighted ? new Float32Array(rows).fill(1) : null;
  let row = 0;
  let edge = 0;
  for (const part of parts) {
    const { nodeCount, offsets: partOffsets, neighbours: partNeighbours } = part.graph.graph;
    for (let r = 0; r < nodeCount; r++) offsets[row + r + 1] = edge + partOffsets[r + 1]!;
    for (let e = 0; e < partNeighbours.length; e++) neighbours[edge + e] = partNeighbours[e]! + row;
    values.set(part.input, row * dim);
    labels.set(part.labels, row);
    if (rowWeights !== null && part.rowWeights !== undefined) rowWeights.set(part.rowWeights, row);
    row += nodeCount;
    edge += partNeighbours.length;
  }
  return { graph: { nodeCount: rows, offsets, neighbours }, features: denseFeatures(rows, dim, values), labels, rowWeights };
}

/** Runs the model over a graph without dropout; the logits are ws.pre[K-1] and the last hidden layer ws.pre[K-2]. */
export function runModel(model: GraphSage, graph: CsrGraph, features: DenseFeatures, ws: Workspace): { logits: Float32Array; hidden: Float32Array } {
  const depth = model.layers.length;
  forward(model.layers, model.config.l2Normalize, fullGraphBlocks(graph, depth), features, ws, null);
  return { logits: ws.pre[depth - 1]!, hidden: ws.pre[depth - 2]! };
}

/** A seeded Fisher-Yates shuffle of 0..count-1. */
export function shuffled(count: number, random: RandomSource): Int32Array {
  const order = Int32Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = uniformBelow(random, i + 1);
    const swap = order[i]!;
    order[i] = order[j]!;
    order[j] = swap;
  }
  return order;
}

/** Trains the node model; returns it with the parameters of its best validation epoch and the loss history. */
export function trainNodeModel(
  train: readonly WindowRef[],
  validation: readonly WindowRef[],
  prepare: (ref: WindowRef) => PreparedWindow,
  weights: LossWeights,
  options: NodeTrainingOptions,
  random: RandomSource,
  inputDim: number,
): { model: GraphSage; epochs: EpochRecord[]; bestEpoch: number } {
  const model = GraphSage.create({ inputDim, hiddenDims: options.hiddenDims, outputDim: headWidth, head: 'sigmoid', l2Normalize: options.l2Normalize }, random);
  const gradients = new Float32Array(model.parameters.length);
  const gradientLayers = layerViews(model.config, gradients);
  const adam = new Adam(model.parameters.length, { learningRate: options.learningRate, weightDecay: options.weightDecay });
  const ws = new Workspace();
  const dropout: Dropout = { rate: options.dropout, inputRate: 0, random };
  const epochs: EpochRecord[] = [];
  let best = { averagePrecision: -Infinity, loss: Infinity, epoch: -1, parameters: model.parameters.slice() };
  for (let epoch = 0; epoch < options.epochsMax && epoch - best.epoch <= options.patience; epoch++) {
    const order = shuffled(train.length, random);
    let trainLoss = 0;
    let trainRows = 0;
    for (let start = 0; start < order.length; start += options.batchWindows) {
      const parts = Array.from(order.subarray(start, start + options.batchWindows), (i) => prepare(train[i]!));
      const batch = unite(parts, inputDim);
      if (batch.graph.nodeCount === 0) continue;
      const depth = model.layers.length;
      const blocks = fullGraphBlocks(batch.graph, depth);
      forward(model.layers, model.config.l2Normalize, blocks, batch.features, ws, dropout);
      ws.prepareBackward(model.layers, blocks);
      const loss = headLoss(ws.pre[depth - 1]!, batch.graph.nodeCount, batch.labels, weights, ws.dPre[depth - 1]!, batch.rowWeights);
      gradients.fill(0);
      backward(model.layers, gradientLayers, model.config.l2Normalize, blocks, batch.features, ws, options.dropout);
      adam.step(model.parameters, gradients);
      trainLoss += loss * batch.graph.nodeCount;
      trainRows += batch.graph.nodeCount;
    }
    const { loss: validationLoss, averagePrecision: validationAveragePrecision } = validate(model, validation, prepare, weights, options.batchWindows, inputDim, ws);
    epochs.push({ epoch, trainLoss: trainLoss / Math.max(1, trainRows), validationLoss, validationAveragePrecision });
    if (validationAveragePrecision > best.averagePrecision || (validationAveragePrecision === best.averagePrecision && validationLoss < best.loss)) {
      best = { averagePrecision: validationAveragePrecision, loss: validationLoss, epoch, parameters: model.parameters.slice() };
    }
  }
  model.parameters.set(best.parameters);
  return { model, epochs, bestEpoch: best.epoch };
}

/**
 * The loss over `refs` without dropout (batch losses averaged by their node counts) and the
 * average precision of the anomaly logits for "any fault" (0 when there are no faulty nodes).
 */
function validate(
  model: GraphSage,
  refs: readonly WindowRef[],
  prepare: (ref: WindowRef) => PreparedWindow,
  weights: LossWeights,
  batchWindows: number,
  inputDim: number,
  ws: Workspace,
): { loss: number; averagePrecision: number } {
  let total = 0;
  const scores: number[] = [];
  const faulty: number[] = [];
  for (let start = 0; start < refs.length; start += batchWindows) {
    const batch = unite(refs.slice(start, start + batchWindows).map(prepare), inputDim);
    const rows = batch.graph.nodeCount;
    if (rows === 0) continue;
    const { logits } = runModel(model, batch.graph, batch.features, ws);
    total += headLoss(logits, rows, batch.labels, weights, null) * rows;
    for (let r = 0; r < rows; r++) {
      scores.push(logits[r * headWidth]!);
      faulty.push(batch.labels[r] === 0 ? 0 : 1);
    }
  }
  if (scores.length === 0) return { loss: 0, averagePrecision: 0 };
  const area = averagePrecision(scores, faulty);
  return { loss: total / scores.length, averagePrecision: Number.isNaN(area) ? 0 : area };
}
