/**
 * A client's local training: E epochs of the detector's own training step (forward pass with
 * dropout, the detector's weighted loss, backward pass, Adam with the detector's learning rate
 * and weight decay) over its shard, starting from a copy of the global parameters. The Adam
 * moments start at zero every round, because they belong to the client's run, not to the model
 * the server sends. The centralised baseline calls the same function on the pooled shard, so the
 * two differ only in who holds which rows.
 */
import type { GraphSageConfig } from '../../ml/config.js';
import { Adam } from '../../ml/adam.js';
import { layerViews } from '../../ml/config.js';
import { backward, forward, Workspace, type Dropout } from '../../ml/engine.js';
import { GraphSage } from '../../ml/model.js';
import type { RandomSource } from '../../ml/random.js';
import { headLoss, type LossWeights } from '../../mapek/detector-loss.js';
import { shuffled } from '../../mapek/detector-train.js';
import { buildBatch, type BatchPick } from './batch.js';
import type { ClientShard, TrainingCorpus } from './corpus.js';
import { argumentError, requireInteger, requireNumber } from './errors.js';
import { batchWindowsMax, localEpochsMax } from './limits.js';
import { pooledScaleLoss, type LossScale } from './loss.js';

/** The loss a client minimises: the detector's weights, normalised per batch (scale null) or to the pooled data (loss.ts). */
export interface TrainingLoss {
  readonly weights: LossWeights;
  readonly scale: LossScale | null;
}

/** Settings of one client's local training. */
export interface LocalTrainingOptions {
  readonly epochs: number;
  /** Windows of the shard per step. */
  readonly batchWindows: number;
  readonly learningRate: number;
  readonly weightDecay: number;
  /** Dropout on the hidden layer, as the detector trains. */
  readonly dropout: number;
  /**
   * 'adam' (the detector's optimiser, default; moments reset every round) or 'sgd' (plain
   * steps, so an update's size follows its gradient: a client with little to learn sends a
   * small update, which Adam's per-coordinate normalisation would blow up to full size).
   */
  readonly optimizer?: 'adam' | 'sgd';
}

/** What a client's local run produced. */
export interface LocalTrainingResult {
  /** The local model after training (a new array). */
  readonly parameters: Float32Array;
  /** Mean training loss over its steps, weighted by the rows of each step. */
  readonly meanLoss: number;
  readonly steps: number;
  /**
   * Adam's second-moment estimate at the end (bias-corrected when it started from zero), what a
   * client reports when the federation shares it (federated.ts, `sharedSecondMoment`); null for SGD.
   */
  readonly secondMoment: Float32Array | null;
}

/** Checks the local options; throws ERR_FL_TRAINING_ARGUMENT naming the first bad one. */
export function checkLocalOptions(where: string, options: LocalTrainingOptions): void {
  requireInteger(where, 'epochs', options.epochs, 1, localEpochsMax);
  requireInteger(where, 'batchWindows', options.batchWindows, 1, batchWindowsMax);
  requireNumber(where, 'learningRate', options.learningRate, 0, 1);
  requireNumber(where, 'weightDecay', options.weightDecay, 0, 1);
  requireNumber(where, 'dropout', options.dropout, 0, 1, true);
  const optimizer: unknown = options.optimizer ?? 'adam';
  if (optimizer !== 'adam' && optimizer !== 'sgd') throw argumentError(`${where}: expected optimizer 'adam' or 'sgd', got ${JSON.stringify(optimizer)}`);
}

/** The batch loss under `loss` (and its gradient when given). */
function lossOf(logits: Float32Array, rows: number, labels: Uint8Array, loss: TrainingLoss, gradient: Float32Array | null): number {
  return loss.scale === null ? headLoss(logits, rows, labels, loss.weights, gradient) : pooledScaleLoss(logits, rows, labels, loss.weights, loss.scale, gradient);
}

/** An optimiser over a flat vector: a step, the steps taken, and Adam's second moment (null for SGD). */
interface Stepper {
  readonly step: (parameters: Float32Array, gradients: Float32Array) => void;
  readonly steps: () => number;
  readonly secondMoment: () => Float32Array | null;
}

/** One optimiser step over a flat vector: Adam's (from `secondMoment` when given), or plain SGD with the same L2 weight decay. */
function stepper(options: LocalTrainingOptions, size: number, secondMoment: Float32Array | null): Stepper {
  if ((options.optimizer ?? 'adam') === 'adam') return secondMoment === null ? freshAdam(options, size) : warmAdam(options, secondMoment);
  if (secondMoment !== null) throw argumentError(`trainLocally: a shared second moment needs the 'adam' optimizer, got 'sgd'`);
  let steps = 0;
  const step = (parameters: Float32Array, gradients: Float32Array): void => {
    for (let j = 0; j < parameters.length; j++) parameters[j]! -= options.learningRate * (gradients[j]! + options.weightDecay * parameters[j]!);
    steps++;
  };
  return { step, steps: () => steps, secondMoment: () => null };
}

/** The detector's Adam with zeroed moments. */
function freshAdam(options: LocalTrainingOptions, size: number): Stepper {
  const adam = new Adam(size, { learningRate: options.learningRate, weightDecay: options.weightDecay });
  const secondMoment = (): Float32Array => {
    const correction = adam.steps === 0 ? 1 : 1 / (1 - adam.beta2 ** adam.steps);
    return Float32Array.from(adam.v, (value) => value * correction);
  };
  return { step: (p, g) => adam.step(p, g), steps: () => adam.steps, secondMoment };
}

/**
 * Adam whose second moment starts from the federation's estimate instead of zero: v needs no
 * bias correction then (it is an average of squared gradients from the first step on), and a
 * coordinate the client's own data barely move keeps the federation's scale, so its small
 * gradient makes a small step. With zeroed moments Adam divides each gradient by its own few
 * recent magnitudes, and a client without faults moves the fault-related weights as far as a
 * client with them (client drift on label-skewed data). The first moment starts at zero with
 * Adam's bias correction, as in a fresh Adam.
 */
function warmAdam(options: LocalTrainingOptions, start: Float32Array): Stepper {
  const beta1 = 0.9;
  const beta2 = 0.999;
  const epsilon = 1e-8;
  const m = new Float32Array(start.length);
  const v = start.slice();
  let steps = 0;
  const step = (parameters: Float32Array, gradients: Float32Array): void => {
    steps++;
    const stepSize = options.learningRate / (1 - beta1 ** steps);
    for (let at = 0; at < parameters.length; at++) {
      const g = gradients[at]! + options.weightDecay * parameters[at]!;
      const mAt = (m[at] = beta1 * m[at]! + (1 - beta1) * g);
      const vAt = (v[at] = beta2 * v[at]! + (1 - beta2) * g * g);
      parameters[at]! -= (stepSize * mAt) / (Math.sqrt(vAt) + epsilon);
    }
  };
  return { step, steps: () => steps, secondMoment: () => v.slice() };
}

/** The picks of batch `start` of a shard in `order`. */
function picksOf(shard: ClientShard, order: Int32Array, start: number, batchWindows: number): BatchPick[] {
  return Array.from(order.subarray(start, start + batchWindows), (i) => ({ window: shard.windows[i]!, rows: shard.rows[i]! }));
}

/**
 * Trains a copy of `start` on `shard` (see the file comment); `labelMap` makes the client train
 * on mapped classes (the label-flip attack), null for an honest client; `secondMoment` (Adam
 * only) starts Adam's second moment from the federation's estimate instead of zero (warmAdam).
 */
export function trainLocally(
  config: GraphSageConfig,
  start: Float32Array,
  corpus: TrainingCorpus,
  shard: ClientShard,
  loss: TrainingLoss,
  options: LocalTrainingOptions,
  random: RandomSource,
  labelMap: Uint8Array | null = null,
  secondMoment: Float32Array | null = null,
): LocalTrainingResult {
  checkLocalOptions('trainLocally', options);
  const model = GraphSage.fromParameters(config, start);
  const gradients = new Float32Array(model.parameters.length);
  const gradientLayers = layerViews(model.config, gradients);
  if (secondMoment !== null && secondMoment.length !== model.parameters.length) {
    throw argumentError(`trainLocally: expected a second moment of ${model.parameters.length} values, got ${secondMoment.length}`);
  }
  if (secondMoment?.some((value) => !(value >= 0 && value < Number.POSITIVE_INFINITY))) throw argumentError('trainLocally: expected a second moment of finite values >= 0');
  const optimizer = stepper(options, model.parameters.length, secondMoment);
  const ws = new Workspace();
  const dropout: Dropout = { rate: options.dropout, inputRate: 0, random };
  const depth = model.layers.length;
  let lossSum = 0;
  let rows = 0;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const order = shuffled(shard.windows.length, random);
    for (let at = 0; at < order.length; at += options.batchWindows) {
      const batch = buildBatch(corpus, picksOf(shard, order, at, options.batchWindows), depth, labelMap);
      const targets = batch.labels.length;
      forward(model.layers, model.config.l2Normalize, batch.blocks, batch.features, ws, dropout);
      ws.prepareBackward(model.layers, batch.blocks);
      const batchLoss = lossOf(ws.pre[depth - 1]!, targets, batch.labels, loss, ws.dPre[depth - 1]!);
      gradients.fill(0);
      backward(model.layers, gradientLayers, model.config.l2Normalize, batch.blocks, batch.features, ws, options.dropout);
      optimizer.step(model.parameters, gradients);
      lossSum += batchLoss * targets;
      rows += targets;
    }
  }
  return { parameters: model.parameters, meanLoss: lossSum / Math.max(1, rows), steps: optimizer.steps(), secondMoment: optimizer.secondMoment() };
}

/** The loss of `parameters` on `shard` without dropout (batch losses weighted by their rows). */
export function shardLoss(config: GraphSageConfig, parameters: Float32Array, corpus: TrainingCorpus, shard: ClientShard, loss: TrainingLoss, batchWindows: number): number {
  const model = GraphSage.fromParameters(config, parameters);
  const ws = new Workspace();
  const depth = model.layers.length;
  const order = Int32Array.from(shard.windows, (_, i) => i);
  let lossSum = 0;
  let rows = 0;
  for (let at = 0; at < order.length; at += batchWindows) {
    const batch = buildBatch(corpus, picksOf(shard, order, at, batchWindows), depth);
    forward(model.layers, model.config.l2Normalize, batch.blocks, batch.features, ws, null);
    lossSum += lossOf(ws.pre[depth - 1]!, batch.labels.length, batch.labels, loss, null) * batch.labels.length;
    rows += batch.labels.length;
  }
  return lossSum / Math.max(1, rows);
}
