/** The model: flat parameters and their views, configuration checks, inference outputs, boundary checks on graphs and features. */
import { describe, expect, test } from 'vitest';
import { checkConfig, layerViews, namedViews, parameterLayout, type GraphSageConfig } from '../../src/ml/config.js';
import { isMlError, MlError, MlErrorCode } from '../../src/ml/errors.js';
import { checkFeatures, denseFeatures, gatherRows, l1NormalizeRows, sparseFeatures } from '../../src/ml/features.js';
import { checkGraph, undirectedGraph } from '../../src/ml/graph.js';
import { argmaxRows, GraphSage } from '../../src/ml/model.js';
import { seededRandom } from '../../src/ml/random.js';
import { expectMlError, randomDense, randomGraph, toSparse } from './helpers.js';

const config: GraphSageConfig = { inputDim: 6, hiddenDims: [8, 5], outputDim: 3, head: 'softmax', l2Normalize: true };

describe('flat parameters and named views', () => {
  test('the layout lists every parameter back to back, in layer order', () => {
    const { entries, count } = parameterLayout(config);
    expect(entries.map((e) => e.name)).toStrictEqual([
      'layer0.selfWeight',
      'layer0.neighbourWeight',
      'layer0.bias',
      'layer1.selfWeight',
      'layer1.neighbourWeight',
      'layer1.bias',
      'layer2.selfWeight',
      'layer2.neighbourWeight',
      'layer2.bias',
    ]);
    expect(entries[0]!.shape).toStrictEqual([6, 8]);
    expect(entries[2]!.shape).toStrictEqual([8]);
    let offset = 0;
    for (const entry of entries) {
      expect(entry.offset).toBe(offset);
      expect(entry.length).toBe(entry.shape.reduce((a, b) => a * b, 1));
      offset += entry.length;
    }
    expect(count).toBe(offset);
  });

  test('views alias the flat vector both ways', () => {
    const model = GraphSage.create(config, seededRandom(1));
    const bias = model.parameter('layer1.bias');
    bias[2] = 42;
    const entry = model.parameterEntries().find((e) => e.name === 'layer1.bias')!;
    expect(model.parameters[entry.offset + 2]).toBe(42);
    model.parameters[parameterLayout(config).entries[3]!.offset] = -7;
    expect(model.parameter('layer1.selfWeight')[0]).toBe(-7);
    expect(model.layers[1]!.selfWeight[0]).toBe(-7);
    expect(model.parameter('layer1.selfWeight').buffer).toBe(model.parameters.buffer);
    // Masking the flat vector (as federated learning does) is seen through every view.
    model.parameters.fill(0);
    expect(model.layers.every((layer) => layer.neighbourWeight.every((w) => w === 0))).toBe(true);
  });

  test('gradient views use the same layout over another vector', () => {
    const gradients = new Float32Array(parameterLayout(config).count);
    const views = namedViews(config, gradients);
    views.get('layer2.bias')![1] = 5;
    expect(gradients[gradients.length - 2]).toBe(5);
    expect(layerViews(config, gradients)[2]!.bias[1]).toBe(5);
    expectMlError(() => layerViews(config, new Float32Array(3)), MlErrorCode.ERR_ML_SHAPE, 'expected a flat vector of', 'got 3');
    expectMlError(() => namedViews(config, new Float32Array(3)), MlErrorCode.ERR_ML_SHAPE, 'got 3');
  });

  test('an unknown parameter name is refused with the names that exist', () => {
    const model = GraphSage.create(config, seededRandom(1));
    expectMlError(() => model.parameter('layer9.bias'), MlErrorCode.ERR_ML_ARGUMENT, '"layer9.bias"', 'layer0.selfWeight');
  });

  test('Glorot-uniform initialisation: seeded, within the limit, biases zero', () => {
    const a = GraphSage.create(config, seededRandom(5));
    const b = GraphSage.create(config, seededRandom(5));
    const c = GraphSage.create(config, seededRandom(6));
    expect(a.parameters).toStrictEqual(b.parameters);
    expect(a.parameters).not.toStrictEqual(c.parameters);
    const limit = Math.sqrt(6 / (6 + 8));
    const w = a.parameter('layer0.selfWeight');
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(limit);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(limit * 0.8);
    expect(a.parameter('layer0.bias').every((x) => x === 0)).toBe(true);
  });

  test('fromParameters copies the vector and checks its length', () => {
    const source = GraphSage.create(config, seededRandom(1));
    const copy = GraphSage.fromParameters(config, source.parameters);
    expect(copy.parameters).toStrictEqual(source.parameters);
    copy.parameters[0] = 99;
    expect(source.parameters[0]).not.toBe(99);
    expectMlError(() => GraphSage.fromParameters(config, new Float32Array(10)), MlErrorCode.ERR_ML_SHAPE, `expected ${source.parameters.length} parameters`, 'got 10');
  });
});

describe('errors', () => {
  test('isMlError narrows by class and, when given, by code', () => {
    const error = new MlError(MlErrorCode.ERR_MODEL_HASH, 'x');
    expect(error.name).toBe('MlError');
    expect(isMlError(error)).toBe(true);
    expect(isMlError(error, MlErrorCode.ERR_MODEL_HASH)).toBe(true);
    expect(isMlError(error, MlErrorCode.ERR_MODEL_FORMAT)).toBe(false);
    expect(isMlError(new Error('x'))).toBe(false);
  });
});

describe('configuration checks', () => {
  const bad: [string, Partial<GraphSageConfig>, string][] = [
    ['inputDim 0', { inputDim: 0 }, 'inputDim'],
    ['fractional outputDim', { outputDim: 2.5 }, 'outputDim'],
    ['huge hidden width', { hiddenDims: [1 << 20] }, 'hiddenDims[0]'],
    ['too many layers', { hiddenDims: [2, 2, 2, 2, 2, 2, 2, 2] }, 'at most 7'],
    ['hiddenDims not an array', { hiddenDims: 'x' as unknown as number[] }, 'hiddenDims'],
    ['unknown head', { head: 'tanh' as 'softmax' }, "'softmax' or 'sigmoid'"],
    ['l2Normalize not boolean', { l2Normalize: 1 as unknown as boolean }, 'l2Normalize'],
    ['softmax over one output', { outputDim: 1 }, 'outputDim >= 2'],
    ['too many parameters', { inputDim: 60000, hiddenDims: [60000] }, 'parameterCountMax'],
  ];
  test.each(bad)('%s is refused', (_, change, part) => {
    expectMlError(() => checkConfig({ ...config, ...change }), MlErrorCode.ERR_ML_ARGUMENT, part);
    expectMlError(() => GraphSage.create({ ...config, ...change }, seededRandom(1)), MlErrorCode.ERR_ML_ARGUMENT, part);
  });
});

describe('inference', () => {
  const graph = randomGraph(20, 40, 3, 4);
  const dense = randomDense(20, 6, 4);

  test('dense and sparse features give the same logits', () => {
    const model = GraphSage.create(config, seededRandom(2));
    const fromSparse = model.logits(graph, toSparse(dense));
    const fromDense = model.logits(graph, dense);
    // Sparse input is projected before the mean and this dense input (6 -> 8 units) after: equal up to rounding.
    fromSparse.forEach((value, i) => expect(value).toBeCloseTo(fromDense[i]!, 5));
  });

  test('softmax probabilities sum to 1 and classify is their argmax', () => {
    const model = GraphSage.create(config, seededRandom(2));
    const probabilities = model.predict(graph, dense);
    expect(probabilities.length).toBe(20 * 3);
    const classes = model.classify(graph, dense);
    for (let v = 0; v < 20; v++) {
      const row = probabilities.subarray(3 * v, 3 * v + 3);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      expect(row[classes[v]!]).toBe(Math.max(...row));
    }
  });

  test('sigmoid outputs are probabilities of each output', () => {
    const model = GraphSage.create({ ...config, head: 'sigmoid', outputDim: 2 }, seededRandom(2));
    const logits = model.logits(graph, dense);
    const probabilities = model.predict(graph, dense);
    probabilities.forEach((p, i) => expect(p).toBeCloseTo(1 / (1 + Math.exp(-logits[i]!)), 6));
  });

  test('embed returns the last hidden layer, unit rows under L2 normalisation', () => {
    const model = GraphSage.create(config, seededRandom(2));
    const embeddings = model.embed(graph, dense);
    expect(embeddings.length).toBe(20 * 5);
    for (let v = 0; v < 20; v++) {
      const norm = Math.hypot(...embeddings.subarray(5 * v, 5 * v + 5));
      // A row is all zeros only when ReLU killed every unit.
      if (norm > 0) expect(norm).toBeCloseTo(1, 5);
    }
    const flat = GraphSage.create({ ...config, hiddenDims: [] }, seededRandom(2));
    expectMlError(() => flat.embed(graph, dense), MlErrorCode.ERR_ML_ARGUMENT, 'no hidden layer');
  });

  test('an isolated node only sees itself; changing a neighbour changes a node', () => {
    const model = GraphSage.create(config, seededRandom(2));
    const before = model.logits(graph, dense);
    const changed = dense.values.slice();
    changed.fill(0.5, 0, 6); // node 0's features
    const after = model.logits(graph, denseFeatures(20, 6, changed));
    expect(after.subarray(4 * 3, 5 * 3)).toStrictEqual(before.subarray(4 * 3, 5 * 3));
    const neighbour = graph.neighbours[graph.offsets[0]!]!;
    expect(after.subarray(neighbour * 3, neighbour * 3 + 3)).not.toStrictEqual(before.subarray(neighbour * 3, neighbour * 3 + 3));
  });

  test('argmaxRows takes the first index on ties', () => {
    expect(argmaxRows(Float32Array.from([1, 1, 0, 0, 2, 2]), 2, 3)).toStrictEqual(Int32Array.from([0, 1]));
  });
});

describe('boundary checks on features and graphs', () => {
  const graph = randomGraph(5, 6, 3);
  const model = GraphSage.create({ ...config, inputDim: 3 }, seededRandom(1));

  test('non-finite dense features are refused with row and column', () => {
    const values = new Float32Array(15);
    values[3 * 2 + 1] = Number.NaN;
    expectMlError(() => model.predict(graph, denseFeatures(5, 3, values)), MlErrorCode.ERR_ML_NON_FINITE, 'row 2, column 1', 'NaN');
    values[3 * 2 + 1] = 0;
    values[3 * 4 + 2] = Number.NEGATIVE_INFINITY;
    expectMlError(() => model.embed(graph, denseFeatures(5, 3, values)), MlErrorCode.ERR_ML_NON_FINITE, 'row 4, column 2', '-Infinity');
  });

  test('non-finite sparse features are refused with row and column, past empty rows', () => {
    const offsets = Int32Array.from([0, 0, 0, 2, 2, 3]);
    const features = sparseFeatures(5, 3, offsets, Int32Array.from([0, 2, 1]), Float32Array.from([1, Number.POSITIVE_INFINITY, 1]));
    expectMlError(() => model.logits(graph, features), MlErrorCode.ERR_ML_NON_FINITE, 'row 2, column 2', 'Infinity');
    const last = sparseFeatures(5, 3, offsets, Int32Array.from([0, 2, 1]), Float32Array.from([1, 1, Number.NaN]));
    expectMlError(() => model.logits(graph, last), MlErrorCode.ERR_ML_NON_FINITE, 'row 4, column 1');
  });

  test('shape mismatches name both shapes', () => {
    expectMlError(() => model.predict(graph, randomDense(4, 3, 1)), MlErrorCode.ERR_ML_SHAPE, '[5 x 3]', '[4 x 3]');
    expectMlError(() => model.predict(graph, randomDense(5, 4, 1)), MlErrorCode.ERR_ML_SHAPE, '[5 x 3]', '[5 x 4]');
    const lying = { kind: 'dense', rows: 5, columns: 3, values: new Float32Array(14) } as const;
    expectMlError(() => model.predict(graph, lying), MlErrorCode.ERR_ML_SHAPE, 'expected 15 dense values, got 14');
    const lyingSparse = { kind: 'sparse', rows: 5, columns: 3, offsets: new Int32Array(6), indices: new Int32Array(0), values: new Float32Array(1) } as const;
    expectMlError(() => model.predict(graph, lyingSparse), MlErrorCode.ERR_ML_SHAPE, 'expected 0 sparse values, got 1');
    expectMlError(() => denseFeatures(2, 2, new Float32Array(3)), MlErrorCode.ERR_ML_SHAPE, '2 x 2 = 4', 'got 3');
    expectMlError(() => sparseFeatures(1, 2, Int32Array.from([0, 1]), Int32Array.from([0]), new Float32Array(2)), MlErrorCode.ERR_ML_SHAPE, 'expected 1 values');
  });

  test('malformed CSR structures are refused', () => {
    const g = (offsets: number[], neighbours: number[], nodeCount = 3) => ({ nodeCount, offsets: Int32Array.from(offsets), neighbours: Int32Array.from(neighbours) });
    expectMlError(() => checkGraph(g([0, 1], [1])), MlErrorCode.ERR_ML_SHAPE, 'expected 4 offsets for 3 rows, got 2');
    expectMlError(() => checkGraph(g([1, 1, 1, 1], [0])), MlErrorCode.ERR_ML_GRAPH, 'offsets[0] = 0, got 1');
    expectMlError(() => checkGraph(g([0, 1, 1, 1], [0, 1])), MlErrorCode.ERR_ML_GRAPH, 'offsets[3] = 2');
    expectMlError(() => checkGraph(g([0, 2, 1, 2], [0, 1])), MlErrorCode.ERR_ML_GRAPH, 'offsets decrease at row 1');
    expectMlError(() => checkGraph(g([0, 1, 1, 2], [0, 3])), MlErrorCode.ERR_ML_GRAPH, 'index 3 at position 1 is outside 0..2');
    expectMlError(() => checkGraph(g([0], [], -1)), MlErrorCode.ERR_ML_ARGUMENT, 'nodeCount');
    expectMlError(() => model.predict(g([0, 1, 1, 1, 1, 1], [7], 5), randomDense(5, 3, 1)), MlErrorCode.ERR_ML_GRAPH, 'index 7');
    expectMlError(() => sparseFeatures(1, 2, Int32Array.from([0, 1]), Int32Array.from([2]), new Float32Array(1)), MlErrorCode.ERR_ML_GRAPH, 'index 2 at position 0');
    expect(() => checkFeatures('x', toSparse(randomDense(5, 3, 1)), 5, 3)).not.toThrow();
  });
});

describe('graph and feature helpers', () => {
  test('undirectedGraph lists both directions, sorted, without duplicates; keeps a self-loop once', () => {
    const graph = undirectedGraph(4, [0, 1, 1, 0, 2, 1, 3, 3, 0, 1]);
    expect(Array.from(graph.offsets)).toStrictEqual([0, 1, 3, 4, 5]);
    expect(Array.from(graph.neighbours)).toStrictEqual([1, 0, 2, 1, 3]);
    expectMlError(() => undirectedGraph(3, [0]), MlErrorCode.ERR_ML_SHAPE, 'even number');
    expectMlError(() => undirectedGraph(3, [0, 3]), MlErrorCode.ERR_ML_GRAPH, 'edge 0 has node 3');
    expectMlError(() => undirectedGraph(3, [0, 1.5]), MlErrorCode.ERR_ML_GRAPH, 'node 1.5');
  });

  test('gatherRows picks rows in order for dense and sparse features', () => {
    const dense = randomDense(5, 3, 8);
    const rows = Int32Array.from([4, 0, 4]);
    const gathered = gatherRows(dense, rows);
    expect(gathered.rows).toBe(3);
    expect(Array.from(gathered.values.subarray(0, 3))).toStrictEqual(Array.from(dense.values.subarray(12, 15)));
    const sparse = gatherRows(toSparse(dense), rows);
    expect(sparse.kind).toBe('sparse');
    expect(Array.from(sparse.kind === 'sparse' ? sparse.offsets : [])).toHaveLength(4);
    expect(toDense(sparse)).toStrictEqual(gathered.values);
  });

  test('l1NormalizeRows makes each non-zero row sum to 1 in absolute value and leaves zero rows', () => {
    const values = Float32Array.from([1, -3, 0, 0, 0, 0]);
    const normalized = l1NormalizeRows(denseFeatures(2, 3, values));
    expect(Array.from(normalized.values)).toStrictEqual([0.25, -0.75, 0, 0, 0, 0]);
    expect(values[0]).toBe(1);
    const sparse = l1NormalizeRows(toSparse(denseFeatures(2, 3, Float32Array.from([2, 2, 0, 0, 0, 5]))));
    expect(Array.from(sparse.values)).toStrictEqual([0.5, 0.5, 1]);
  });
});

function toDense(features: ReturnType<typeof gatherRows>): Float32Array {
  if (features.kind === 'dense') return features.values;
  const out = new Float32Array(features.rows * features.columns);
  for (let r = 0; r < features.rows; r++) {
    for (let k = features.offsets[r]!; k < features.offsets[r + 1]!; k++) out[r * features.columns + features.indices[k]!] = features.values[k]!;
  }
  return out;
}
