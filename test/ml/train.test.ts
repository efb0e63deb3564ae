/** Training: a synthetic task learned to high accuracy (full batch, mini-batch, both heads), determinism, Adam, refusals. */
import { describe, expect, test } from 'vitest';
import { Adam } from '../../src/ml/adam.js';
import type { GraphSageConfig } from '../../src/ml/config.js';
import { MlErrorCode } from '../../src/ml/errors.js';
import { denseFeatures, type DenseFeatures } from '../../src/ml/features.js';
import { undirectedGraph, type CsrGraph } from '../../src/ml/graph.js';
import { accuracy } from '../../src/ml/metrics.js';
import { GraphSage } from '../../src/ml/model.js';
import { seededRandom, uniform01, uniformBelow } from '../../src/ml/random.js';
import { Trainer } from '../../src/ml/train.js';
import { expectMlError, toSparse } from './helpers.js';

/**
 * A planted partition: 3 communities of 40 nodes, edges mostly inside a community, and features
 * that say the community only weakly (one noisy indicator among noise), so a node is classified
 * well only by averaging its neighbours.
 */
function plantedPartition(seed: number): { graph: CsrGraph; features: DenseFeatures; labels: Int32Array } {
  const random = seededRandom(seed);
  const n = 120;
  const labels = Int32Array.from({ length: n }, (_, v) => v % 3);
  const ends: number[] = [];
  for (let e = 0; e < 500; e++) {
    const a = uniformBelow(random, n);
    const inside = uniform01(random) < 0.9;
    let b = uniformBelow(random, n);
    while (inside ? labels[b] !== labels[a] || b === a : labels[b] === labels[a]) b = uniformBelow(random, n);
    ends.push(a, b);
  }
  const columns = 6;
  const values = new Float32Array(n * columns).map(() => 2 * uniform01(random) - 1);
  for (let v = 0; v < n; v++) values[v * columns + labels[v]!]! += 0.8;
  return { graph: undirectedGraph(n, ends), features: denseFeatures(n, columns, values), labels };
}

const task = plantedPartition(1);
const trainNodes = Int32Array.from({ length: 30 }, (_, i) => i);
const testNodes = Int32Array.from({ length: 90 }, (_, i) => 30 + i);
const config: GraphSageConfig = { inputDim: 6, hiddenDims: [16], outputDim: 3, head: 'softmax', l2Normalize: false };
const options = { learningRate: 0.02, weightDecay: 5e-4, dropout: 0.3 };

function trainFullBatch(seed: number, epochs: number): { model: GraphSage; losses: number[] } {
  const random = seededRandom(seed);
  const model = GraphSage.create(config, random);
  const trainer = new Trainer(model, task.graph, task.features, task.labels, options, random);
  const losses = Array.from({ length: epochs }, () => trainer.stepFullBatch(trainNodes));
  return { model, losses };
}

describe('learning a planted partition', () => {
  test('full batch: the loss falls and held-out accuracy is high', () => {
    const { model, losses } = trainFullBatch(3, 150);
    expect(losses.at(-1)!).toBeLessThan(0.5 * losses[0]!);
    expect(accuracy(model.classify(task.graph, task.features), task.labels, testNodes)).toBeGreaterThanOrEqual(0.9);
  });

  test('the graph is what makes it learnable: without edges accuracy is much lower', () => {
    const random = seededRandom(3);
    const model = GraphSage.create(config, random);
    const empty = undirectedGraph(120, []);
    const trainer = new Trainer(model, empty, task.features, task.labels, options, random);
    for (let epoch = 0; epoch < 150; epoch++) trainer.stepFullBatch(trainNodes);
    expect(accuracy(model.classify(empty, task.features), task.labels, testNodes)).toBeLessThan(0.8);
  });

  test('the same seed trains to bit-identical parameters', () => {
    expect(trainFullBatch(4, 20).model.parameters).toStrictEqual(trainFullBatch(4, 20).model.parameters);
    expect(trainFullBatch(4, 20).model.parameters).not.toStrictEqual(trainFullBatch(5, 20).model.parameters);
  });

  test('mini-batch with sampled neighbours learns it too', () => {
    const random = seededRandom(6);
    const model = GraphSage.create({ ...config, l2Normalize: true }, random);
    const trainer = new Trainer(model, task.graph, toSparse(task.features), task.labels, { ...options, inputDropout: 0.1 }, random);
    const batches = [trainNodes.subarray(0, 15), trainNodes.subarray(15)];
    const losses: number[] = [];
    for (let epoch = 0; epoch < 150; epoch++) for (const batch of batches) losses.push(trainer.stepMiniBatch(batch, [5, 5]));
    expect(losses.slice(-10).reduce((a, b) => a + b) / 10).toBeLessThan(0.5 * losses[0]!);
    expect(accuracy(model.classify(task.graph, task.features), task.labels, testNodes)).toBeGreaterThanOrEqual(0.85);
  });

  test('a sigmoid head learns multi-label targets (community 0? community 1?)', () => {
    const random = seededRandom(7);
    const model = GraphSage.create({ ...config, head: 'sigmoid', outputDim: 2, l2Normalize: true }, random);
    const targets = Float32Array.from({ length: 240 }, (_, i) => (task.labels[i >> 1] === (i & 1) ? 1 : 0));
    const trainer = new Trainer(model, task.graph, task.features, targets, options, random);
    for (let epoch = 0; epoch < 200; epoch++) trainer.stepFullBatch(trainNodes);
    const probabilities = model.predict(task.graph, task.features);
    let correct = 0;
    for (const v of testNodes) for (let c = 0; c < 2; c++) if ((probabilities[2 * v + c]! > 0.5 ? 1 : 0) === targets[2 * v + c]) correct++;
    expect(correct / (2 * testNodes.length)).toBeGreaterThanOrEqual(0.85);
  });

  test('lossFullBatch evaluates without dropout and follows the node set asked for', () => {
    const random = seededRandom(8);
    const model = GraphSage.create(config, random);
    const trainer = new Trainer(model, task.graph, task.features, task.labels, options, random);
    const a = trainer.lossFullBatch(trainNodes);
    expect(trainer.lossFullBatch(trainNodes)).toBe(a);
    expect(trainer.lossFullBatch(testNodes)).not.toBe(a);
    expect(trainer.lossFullBatch(trainNodes)).toBe(a);
    expect(trainer.lossFullBatch(new Int32Array(0))).toBe(0);
  });
});

describe('refusals at the training boundary', () => {
  const model = GraphSage.create(config, seededRandom(1));
  const make = (labels: Int32Array | Float32Array, extra: object = {}, m = model) => new Trainer(m, task.graph, task.features, labels, { ...options, ...extra }, seededRandom(1));

  test('labels that do not fit the head', () => {
    expectMlError(() => make(new Int32Array(5)), MlErrorCode.ERR_ML_SHAPE, 'Int32Array of 120 classes', 'Int32Array of length 5');
    expectMlError(() => make(new Float32Array(120)), MlErrorCode.ERR_ML_SHAPE, 'Float32Array of length 120');
    const high = task.labels.slice();
    high[17] = 3;
    expectMlError(() => make(high), MlErrorCode.ERR_ML_ARGUMENT, 'node 17 has class 3, outside 0..2');
    const sigmoid = GraphSage.create({ ...config, head: 'sigmoid', outputDim: 2 }, seededRandom(1));
    expectMlError(() => make(task.labels, {}, sigmoid), MlErrorCode.ERR_ML_SHAPE, '[120 x 2] targets');
    const nan = new Float32Array(240);
    nan[7] = Number.NaN;
    expectMlError(() => make(nan, {}, sigmoid), MlErrorCode.ERR_ML_NON_FINITE, 'row 3, column 1 is NaN');
    const big = new Float32Array(240);
    big[8] = 2;
    expectMlError(() => make(big, {}, sigmoid), MlErrorCode.ERR_ML_ARGUMENT, 'row 4, column 0 is 2');
  });

  test('training on an unlabelled node', () => {
    const partial = task.labels.slice();
    partial[5] = -1;
    const trainer = make(partial);
    expect(() => trainer.stepFullBatch(Int32Array.from([1, 2]))).not.toThrow();
    expectMlError(() => trainer.stepFullBatch(Int32Array.from([1, 5])), MlErrorCode.ERR_ML_ARGUMENT, 'node 5 has no label (class -1)');
  });

  test('non-finite features are refused before training starts', () => {
    const values = task.features.values.slice();
    values[6 * 9 + 2] = Number.POSITIVE_INFINITY;
    expectMlError(() => new Trainer(model, task.graph, denseFeatures(120, 6, values), task.labels, options, seededRandom(1)), MlErrorCode.ERR_ML_NON_FINITE, 'Trainer', 'row 9, column 2');
  });

  test('bad rates, nodes and fanouts', () => {
    expectMlError(() => make(task.labels, { dropout: 1 }), MlErrorCode.ERR_ML_ARGUMENT, 'dropout in [0, 1), got 1');
    expectMlError(() => make(task.labels, { inputDropout: -0.1 }), MlErrorCode.ERR_ML_ARGUMENT, 'inputDropout');
    expectMlError(() => make(task.labels, { learningRate: -1 }), MlErrorCode.ERR_ML_ARGUMENT, 'learningRate');
    const trainer = make(task.labels);
    expectMlError(() => trainer.stepFullBatch(Int32Array.from([3, 120])), MlErrorCode.ERR_ML_ARGUMENT, 'targets[1] = 120');
    expectMlError(() => trainer.stepMiniBatch(Int32Array.from([3]), [5]), MlErrorCode.ERR_ML_ARGUMENT, 'expected 2 fanouts (one per layer), got 1');
  });
});

describe('Adam', () => {
  test('one step by hand, and a second with weight decay', () => {
    const adam = new Adam(2, { learningRate: 0.1 });
    const params = Float32Array.from([1, -2]);
    adam.step(params, Float32Array.from([0.5, -0.25]));
    // First step: m_hat = g, v_hat = g^2, so each parameter moves by lr against the gradient's sign.
    expect(params[0]).toBeCloseTo(0.9, 6);
    expect(params[1]).toBeCloseTo(-1.9, 6);
    const decayed = new Adam(1, { learningRate: 0.1, weightDecay: 0.5, beta1: 0.5, beta2: 0.5, epsilon: 0 });
    const p = Float32Array.from([2]);
    decayed.step(p, Float32Array.from([-0.5])); // g = -0.5 + 0.5 * 2 = 0.5
    expect(p[0]).toBeCloseTo(1.9, 6);
    decayed.step(p, Float32Array.from([0])); // g = 0.95; m = 0.5*0.25 + 0.5*0.95 = 0.6 ... by the formulas below
    const m = 0.5 * (0.5 * 0.5) + 0.5 * 0.95;
    const v = 0.5 * (0.5 * 0.25) + 0.5 * 0.95 ** 2;
    expect(p[0]).toBeCloseTo(1.9 - (0.1 * (m / 0.75)) / Math.sqrt(v / 0.75), 5);
    expect(decayed.steps).toBe(2);
  });

  test('hyper-parameters and lengths are checked', () => {
    expectMlError(() => new Adam(1, { learningRate: 0.1, beta1: 1 }), MlErrorCode.ERR_ML_ARGUMENT, 'beta1 in [0, 1)');
    expectMlError(() => new Adam(1, { learningRate: Number.NaN }), MlErrorCode.ERR_ML_ARGUMENT, 'learningRate');
    expectMlError(() => new Adam(2, { learningRate: 0.1 }).step(new Float32Array(2), new Float32Array(3)), MlErrorCode.ERR_ML_SHAPE, 'expected 2 parameters and gradients, got 2 and 3');
  });
});

describe('accuracy', () => {
  test('counts matches over the listed nodes and checks its inputs', () => {
    const labels = Int32Array.from([0, 1, 2, 1]);
    expect(accuracy(Int32Array.from([0, 1, 1, 1]), labels, Int32Array.from([0, 2, 3]))).toBeCloseTo(2 / 3);
    expect(accuracy(labels, labels, new Int32Array(0))).toBe(0);
    expectMlError(() => accuracy(new Int32Array(3), labels, Int32Array.from([0])), MlErrorCode.ERR_ML_SHAPE, '3 and 4');
    expectMlError(() => accuracy(labels, labels, Int32Array.from([4])), MlErrorCode.ERR_ML_ARGUMENT, 'nodes[0] = 4');
  });
});
