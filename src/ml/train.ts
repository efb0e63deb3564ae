/**
 * Training of a GraphSAGE model: full-batch steps (every layer sees the whole graph) and
 * neighbour-sampled mini-batch steps, each a forward pass, the head's loss, a backward pass
 * and an Adam update. The Trainer checks the graph, features and labels once, at the
 * boundary, and keeps one workspace, so a full-batch step allocates nothing.
 */
import { Adam } from './adam.js';
import type { Block } from './block.js';
import { layerViews, type LayerViews } from './config.js';
import { backward, forward, Workspace, type Dropout } from './engine.js';
import { MlError, MlErrorCode } from './errors.js';
import { checkFeatures, gatherRows, type Features } from './features.js';
import { checkGraph, type CsrGraph } from './graph.js';
import { sigmoidBinaryCrossEntropy, softmaxCrossEntropy } from './heads.js';
import type { GraphSage } from './model.js';
import type { RandomSource } from './random.js';
import { NeighbourSampler, type SampledBatch } from './sampler.js';

/**
 * Labels of every node: a class per node (Int32Array) for a softmax head, or [nodeCount x
 * outputDim] targets in [0, 1] (Float32Array) for a sigmoid head. Only the labels of the nodes
 * a step trains on are read, so unlabelled nodes may hold anything.
 */
export type Labels = Int32Array | Float32Array;

/** Optimiser and regularisation settings of a Trainer. */
export interface TrainingOptions {
  readonly learningRate: number;
  /** L2 penalty coefficient, as torch.optim.Adam's weight_decay (default 0). */
  readonly weightDecay?: number;
  /** Inverted dropout rate on every hidden layer's output (default 0). */
  readonly dropout?: number;
  /** Inverted dropout rate on the input features (default 0). */
  readonly inputDropout?: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly epsilon?: number;
}

function checkRate(name: string, value: number): number {
  if (!(value >= 0 && value < 1)) throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `Trainer: expected ${name} in [0, 1), got ${value}`);
  return value;
}

/**
 * Trains one model on one graph, its features and labels. They are checked once, here, and the
 * feature rows of a receptive field are copied when first used, so they must not be changed
 * while the trainer is in use: make a new Trainer (the model and its parameters carry over) for
 * new data.
 */
export class Trainer {
  /** Gradients of the last step, same layout as model.parameters. */
  readonly gradients: Float32Array;
  readonly optimizer: Adam;
  private readonly gradientLayers: readonly LayerViews[];
  private readonly dropout: Dropout;
  private readonly ws = new Workspace();
  private readonly sampler: NeighbourSampler;
  /** The receptive field of the last node set trained on with the full graph, kept while the set stays the same. */
  private field: { readonly nodes: Int32Array; readonly batch: SampledBatch; readonly input: Features } | null = null;
  private rows = new Int32Array(0);
  private classes = new Int32Array(0);
  private targets = new Float32Array(0);

  /** Checks graph, features and labels against the model (shapes, structure, finiteness) and sets up Adam. */
  constructor(
    readonly model: GraphSage,
    readonly graph: CsrGraph,
    readonly features: Features,
    readonly labels: Labels,
    options: TrainingOptions,
    random: RandomSource,
  ) {
    checkGraph(graph);
    checkFeatures('Trainer', features, graph.nodeCount, model.config.inputDim);
    checkLabels(model, graph.nodeCount, labels);
    this.optimizer = new Adam(model.parameters.length, options);
    this.dropout = { rate: checkRate('dropout', options.dropout ?? 0), inputRate: checkRate('inputDropout', options.inputDropout ?? 0), random };
    this.gradients = new Float32Array(model.parameters.length);
    this.gradientLayers = layerViews(model.config, this.gradients);
    this.sampler = new NeighbourSampler(graph);
  }

  /** One full-batch step on the labels of `nodes` (distinct; forward, backward, Adam); returns the loss before the update. */
  stepFullBatch(nodes: Int32Array): number {
    const loss = this.gradientsFullBatch(nodes, true);
    this.optimizer.step(this.model.parameters, this.gradients);
    return loss;
  }

  /**
   * Loss over the labels of `nodes` (distinct) and its gradient (into `gradients`) with the
   * whole graph, without an update: for federated clients that send gradients, and for
   * gradient checks (`withDropout` false makes the pass deterministic). Only the receptive
   * field of `nodes` is computed (every neighbour, K hops): the rows outside it cannot change
   * their loss, so loss and gradient are those of a pass over every node.
   */
  gradientsFullBatch(nodes: Int32Array, withDropout: boolean): number {
    const { batch, input } = this.receptiveField(nodes);
    return this.pass(batch.blocks, input, this.identityRows(nodes.length), batch.outputNodes, withDropout ? this.dropout : null, true);
  }

  /** Loss over the labels of `nodes` (distinct) with the whole graph and no dropout (evaluation). */
  lossFullBatch(nodes: Int32Array): number {
    const { batch, input } = this.receptiveField(nodes);
    return this.pass(batch.blocks, input, this.identityRows(nodes.length), batch.outputNodes, null, false);
  }

  /**
   * One mini-batch step: samples fanouts[k] neighbours per node for layer k around the distinct
   * target `nodes`, trains on their labels only, and updates; returns the loss before the update.
   */
  stepMiniBatch(nodes: Int32Array, fanouts: readonly number[]): number {
    if (fanouts.length !== this.model.layers.length) {
      throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `Trainer.stepMiniBatch: expected ${this.model.layers.length} fanouts (one per layer), got ${fanouts.length}`);
    }
    const batch = this.sampler.sample(nodes, fanouts, this.dropout.random);
    const input = gatherRows(this.features, batch.inputNodes);
    const rows = this.identityRows(nodes.length);
    const loss = this.pass(batch.blocks, input, rows, batch.outputNodes, this.dropout, true);
    this.optimizer.step(this.model.parameters, this.gradients);
    return loss;
  }

  private receptiveField(nodes: Int32Array): { readonly batch: SampledBatch; readonly input: Features } {
    const cached = this.field;
    if (cached !== null && sameNodes(cached.nodes, nodes)) return cached;
    const batch = this.sampler.expand(nodes, this.model.layers.length);
    this.field = { nodes: nodes.slice(), batch, input: gatherRows(this.features, batch.inputNodes) };
    return this.field;
  }

  private identityRows(count: number): Int32Array {
    if (this.rows.length < count) this.rows = Int32Array.from({ length: count }, (_, i) => i);
    return this.rows.subarray(0, count);
  }

  /** Forward, loss over output rows `rows` (graph nodes `nodes`) and, when asked, backward into `gradients`. */
  private pass(blocks: readonly Block[], input: Features, rows: Int32Array, nodes: Int32Array, dropout: Dropout | null, withGradient: boolean): number {
    const { layers, config } = this.model;
    forward(layers, config.l2Normalize, blocks, input, this.ws, dropout);
    const last = layers.length - 1;
    const logits = this.ws.pre[last]!;
    const outputRows = blocks[last]!.dstCount;
    if (withGradient) this.ws.prepareBackward(layers, blocks);
    const dLogits = withGradient ? this.ws.dPre[last]!.fill(0, 0, outputRows * config.outputDim) : null;
    const loss = this.headLoss(logits, rows, nodes, dLogits);
    if (dLogits === null) return loss;
    this.gradients.fill(0);
    backward(layers, this.gradientLayers, config.l2Normalize, blocks, input, this.ws, this.dropout.rate);
    return loss;
  }

  private headLoss(logits: Float32Array, rows: Int32Array, nodes: Int32Array, dLogits: Float32Array | null): number {
    const width = this.model.config.outputDim;
    if (this.labels instanceof Int32Array) {
      if (this.classes.length < nodes.length) this.classes = new Int32Array(nodes.length);
      const classes = this.classes.subarray(0, nodes.length);
      for (let i = 0; i < nodes.length; i++) {
        classes[i] = this.labels[nodes[i]!]!;
        if (classes[i]! < 0) throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `Trainer: node ${nodes[i]} has no label (class ${classes[i]}) but was asked to train on it`);
      }
      return softmaxCrossEntropy(logits, width, rows, classes, dLogits);
    }
    if (this.targets.length < nodes.length * width) this.targets = new Float32Array(nodes.length * width);
    const targets = this.targets.subarray(0, nodes.length * width);
    for (let i = 0; i < nodes.length; i++) targets.set(this.labels.subarray(nodes[i]! * width, (nodes[i]! + 1) * width), i * width);
    return sigmoidBinaryCrossEntropy(logits, width, rows, targets, dLogits);
  }
}

/**
 * Checks labels against the head once: classes must be in 0..outputDim-1 (or negative, meaning
 * "unlabelled", which training on that node then refuses), sigmoid targets finite and in [0, 1].
 */
function checkLabels(model: GraphSage, nodeCount: number, labels: Labels): void {
  const { head, outputDim } = model.config;
  if (head === 'softmax') {
    if (!(labels instanceof Int32Array) || labels.length !== nodeCount) {
      throw new MlError(MlErrorCode.ERR_ML_SHAPE, `Trainer: a softmax head needs an Int32Array of ${nodeCount} classes, got ${describe(labels)}`);
    }
    const bad = labels.findIndex((c) => c >= outputDim);
    if (bad >= 0) throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `Trainer: node ${bad} has class ${labels[bad]}, outside 0..${outputDim - 1}`);
    return;
  }
  if (!(labels instanceof Float32Array) || labels.length !== nodeCount * outputDim) {
    throw new MlError(MlErrorCode.ERR_ML_SHAPE, `Trainer: a sigmoid head needs a Float32Array of [${nodeCount} x ${outputDim}] targets, got ${describe(labels)}`);
  }
  const bad = labels.findIndex((t) => !(t >= 0 && t <= 1));
  if (bad >= 0) {
    const code = Number.isFinite(labels[bad]) ? MlErrorCode.ERR_ML_ARGUMENT : MlErrorCode.ERR_ML_NON_FINITE;
    throw new MlError(code, `Trainer: target at row ${Math.floor(bad / outputDim)}, column ${bad % outputDim} is ${labels[bad]}, expected a value in [0, 1]`);
  }
}

/** True when both lists hold the same nodes in the same order (a loop: this runs every epoch and should not allocate). */
function sameNodes(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function describe(labels: Labels): string {
  return `${labels.constructor.name} of length ${labels.length}`;
}
