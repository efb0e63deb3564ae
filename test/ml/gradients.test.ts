/**
 * Gradient checks: the analytic gradients of src/ml (float32, every layer type and both heads)
 * against central finite differences of an independent float64 reference implementation.
 */
import { describe, expect, test } from 'vitest';
import { fullGraphBlocks } from '../../src/ml/block.js';
import { layerViews, type GraphSageConfig } from '../../src/ml/config.js';
import { aggregationOrder, backward, forward, Workspace } from '../../src/ml/engine.js';
import type { DenseFeatures, Features } from '../../src/ml/features.js';
import type { CsrGraph } from '../../src/ml/graph.js';
import { sigmoidBinaryCrossEntropy, softmaxCrossEntropy } from '../../src/ml/heads.js';
import { GraphSage } from '../../src/ml/model.js';
import { seededRandom, uniform01 } from '../../src/ml/random.js';
import { Trainer } from '../../src/ml/train.js';
import { dropoutScale } from '../../src/ml/kernels.js';
import type { SparseFeatures } from '../../src/ml/features.js';
import { randomDense, randomGraph, referenceLoss, RewindableRandom, toSparse, type DropoutMasks, type ReferenceLabels } from './helpers.js';

interface Case {
  readonly name: string;
  readonly config: GraphSageConfig;
  readonly sparse: boolean;
  readonly isolated?: number;
}

const nodeCount = 14;
const nodes = Int32Array.from([0, 2, 3, 5, 8, 9, 11, 13]);

function labelsFor(config: GraphSageConfig, seed: number): ReferenceLabels {
  const random = seededRandom(seed);
  if (config.head === 'softmax') return Int32Array.from({ length: nodeCount }, (_, v) => v % config.outputDim);
  return Float32Array.from({ length: nodeCount * config.outputDim }, () => (uniform01(random) < 0.5 ? 0 : 1));
}

/** A model with Glorot weights and small random biases, so no bias sits exactly at a ReLU kink. */
function modelFor(config: GraphSageConfig, seed: number): GraphSage {
  const model = GraphSage.create(config, seededRandom(seed));
  const random = seededRandom(seed + 1);
  for (const layer of model.layers) layer.bias.forEach((_, i) => (layer.bias[i] = 0.2 * (uniform01(random) - 0.5)));
  return model;
}

/** Central differences of the float64 reference at the model's parameters. */
function numericGradient(config: GraphSageConfig, model: GraphSage, graph: CsrGraph, dense: DenseFeatures, labels: ReferenceLabels): Float64Array {
  const params = Float64Array.from(model.parameters);
  const epsilon = 1e-6;
  return params.map((value, i) => {
    params[i] = value + epsilon;
    const up = referenceLoss(config, params, graph, dense, labels, nodes);
    params[i] = value - epsilon;
    const down = referenceLoss(config, params, graph, dense, labels, nodes);
    params[i] = value;
    return (up - down) / (2 * epsilon);
  });
}

/** Loss and gradients through the engine on whole-graph blocks (every node computed), without the Trainer. */
function wholeGraphGradients(model: GraphSage, graph: CsrGraph, features: Features, labels: ReferenceLabels): { loss: number; gradients: Float32Array } {
  const ws = new Workspace();
  const blocks = fullGraphBlocks(graph, model.layers.length);
  forward(model.layers, model.config.l2Normalize, blocks, features, ws, null);
  const width = model.config.outputDim;
  ws.prepareBackward(model.layers, blocks);
  const dLogits = ws.dPre[model.layers.length - 1]!.fill(0);
  const logits = ws.pre[model.layers.length - 1]!;
  const loss =
    labels instanceof Int32Array
      ? softmaxCrossEntropy(logits, width, nodes, Int32Array.from(nodes, (v) => labels[v]!), dLogits)
      : sigmoidBinaryCrossEntropy(logits, width, nodes, Float32Array.from({ length: nodes.length * width }, (_, i) => labels[nodes[Math.floor(i / width)]! * width + (i % width)]!), dLogits);
  const gradients = new Float32Array(model.parameters.length);
  backward(model.layers, layerViews(model.config, gradients), model.config.l2Normalize, blocks, features, ws, 0);
  return { loss, gradients };
}

function expectClose(analytic: Float32Array, numeric: Float64Array): void {
  let worst = 0;
  analytic.forEach((value, i) => (worst = Math.max(worst, Math.abs(value - numeric[i]!) / (1e-4 + Math.abs(numeric[i]!)))));
  expect(worst).toBeLessThan(2e-3);
}

const cases: Case[] = [
  { name: 'sparse first layer, 2 layers, softmax', config: { inputDim: 7, hiddenDims: [5], outputDim: 3, head: 'softmax', l2Normalize: false }, sparse: true },
  { name: 'sparse first layer, 16 hidden units (8-column kernels), L2, softmax', config: { inputDim: 9, hiddenDims: [16], outputDim: 3, head: 'softmax', l2Normalize: true }, sparse: true },
  { name: 'dense input, 3 layers, L2 normalisation, softmax', config: { inputDim: 6, hiddenDims: [5, 4], outputDim: 3, head: 'softmax', l2Normalize: true }, sparse: false },
  { name: 'dense input, widening hidden layer (mean before projection), softmax', config: { inputDim: 4, hiddenDims: [3, 9], outputDim: 3, head: 'softmax', l2Normalize: false }, sparse: false },
  { name: 'dense input, multi-label sigmoid head', config: { inputDim: 6, hiddenDims: [11], outputDim: 4, head: 'sigmoid', l2Normalize: false }, sparse: false },
  { name: 'sparse input, binary sigmoid head, L2, an isolated node', config: { inputDim: 8, hiddenDims: [6], outputDim: 1, head: 'sigmoid', l2Normalize: true }, sparse: true, isolated: 3 },
  { name: 'one layer (no hidden), dense input, softmax', config: { inputDim: 5, hiddenDims: [], outputDim: 4, head: 'softmax', l2Normalize: false }, sparse: false },
];

describe('gradients against finite differences of a float64 reference', () => {
  test.each(cases)('$name', ({ config, sparse, isolated }) => {
    const graph = randomGraph(nodeCount, 24, 7, isolated);
    const dense = randomDense(nodeCount, config.inputDim, 11);
    const features = sparse ? toSparse(dense) : dense;
    const labels = labelsFor(config, 5);
    const model = modelFor(config, 3);
    const trainer = new Trainer(model, graph, features, labels, { learningRate: 0.01 }, seededRandom(1));

    const loss = trainer.gradientsFullBatch(nodes, false);
    const params = Float64Array.from(model.parameters);
    expect(loss).toBeCloseTo(referenceLoss(config, params, graph, dense, labels, nodes), 5);
    const numeric = numericGradient(config, model, graph, dense, labels);
    expectClose(trainer.gradients, numeric);
    // Gradients are not all zero: the check would pass vacuously otherwise.
    expect(trainer.gradients.some((g) => Math.abs(g) > 1e-3)).toBe(true);

    // The same through whole-graph blocks (every node computed, other aggregation orders).
    const whole = wholeGraphGradients(model, graph, features, labels);
    expect(whole.loss).toBeCloseTo(loss, 6);
    expectClose(whole.gradients, numeric);
  });

  test('the widening case really takes the mean before the projection', () => {
    const graph = randomGraph(nodeCount, 24, 7);
    const block = fullGraphBlocks(graph, 1)[0]!;
    expect(aggregationOrder(block, 3, 9, false)).toBe('aggregateFirst');
    expect(aggregationOrder(block, 9, 3, false)).toBe('projectFirst');
    expect(aggregationOrder(block, 3, 9, true)).toBe('projectFirst');
  });

  test('with dropout: analytic gradients match the reference given the same masks', () => {
    const config: GraphSageConfig = { inputDim: 6, hiddenDims: [8, 5], outputDim: 3, head: 'softmax', l2Normalize: true };
    const [rate, inputRate] = [0.4, 0.3];
    for (const sparse of [false, true]) {
      const graph = randomGraph(nodeCount, 24, 9);
      const dense = randomDense(nodeCount, config.inputDim, 13);
      const features = sparse ? toSparse(dense) : dense;
      const labels = labelsFor(config, 5);
      const model = modelFor(config, 4);
      const random = new RewindableRandom(77);
      const ws = new Workspace();
      const blocks = fullGraphBlocks(graph, 3);
      forward(model.layers, true, blocks, features, ws, { rate, inputRate, random });
      ws.prepareBackward(model.layers, blocks);
      const dLogits = ws.dPre[2]!.fill(0);
      const loss = softmaxCrossEntropy(ws.pre[2]!, 3, nodes, Int32Array.from(nodes, (v) => labels[v]!), dLogits);
      const gradients = new Float32Array(model.parameters.length);
      backward(model.layers, layerViews(config, gradients), true, blocks, features, ws, rate);

      // The masks the engine drew, replayed from the same stream in the same order: input, then each hidden layer.
      random.rewind();
      const inputFactors = replayDropout(features.kind === 'sparse' ? features.values.length : nodeCount * 6, inputRate, random);
      const masks: DropoutMasks = {
        input: sparse ? denseMaskOfSparse(toSparse(dense), inputFactors) : inputFactors,
        hidden: [replayDropout(nodeCount * 8, rate, random), replayDropout(nodeCount * 5, rate, random)],
      };
      expect(masks.hidden[0]!.some((f) => f === 0) && masks.hidden[0]!.some((f) => f > 1)).toBe(true);
      const params = Float64Array.from(model.parameters);
      expect(loss).toBeCloseTo(referenceLoss(config, params, graph, dense, labels, nodes, masks), 5);
      const epsilon = 1e-6;
      const numeric = params.map((value, i) => {
        params[i] = value + epsilon;
        const up = referenceLoss(config, params, graph, dense, labels, nodes, masks);
        params[i] = value - epsilon;
        const down = referenceLoss(config, params, graph, dense, labels, nodes, masks);
        params[i] = value;
        return (up - down) / (2 * epsilon);
      });
      expectClose(gradients, numeric);
      expect(gradients.some((g) => Math.abs(g) > 1e-2)).toBe(true);
    }
  });
});

/** The factors dropoutInto applies to `count` values: one 32-bit draw per pair, low 16 bits first, kept when at least ceil(rate * 2^16). */
function replayDropout(count: number, rate: number, random: RewindableRandom): Float64Array {
  const threshold = Math.ceil(rate * 65536);
  const factors = new Float64Array(count);
  for (let at = 0; at < count; at += 2) {
    const draw = random.nextU32();
    factors[at] = (draw & 0xffff) >= threshold ? dropoutScale(rate) : 0;
    if (at + 1 < count) factors[at + 1] = draw >>> 16 >= threshold ? dropoutScale(rate) : 0;
  }
  return factors;
}

/** Input dropout on sparse features draws one factor per stored value; spread them over the dense [n x columns] grid. */
function denseMaskOfSparse(features: SparseFeatures, factors: Float64Array): Float64Array {
  const mask = new Float64Array(features.rows * features.columns);
  for (let r = 0; r < features.rows; r++) {
    for (let k = features.offsets[r]!; k < features.offsets[r + 1]!; k++) mask[r * features.columns + features.indices[k]!] = factors[k]!;
  }
  return mask;
}
