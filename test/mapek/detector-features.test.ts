/** Detector inputs: the window graph, base features (hand-checked), deltas, standardisation, and the boundary checks. */
import { describe, expect, test } from 'vitest';
import { DetectorErrorCode, featureNamesMax } from '../../src/mapek/detector-errors.js';
import {
  baseFeatureNames,
  baseFeatures,
  checkDataset,
  checkFeatureNames,
  checkSchema,
  checkWindow,
  inputFeatureNames,
  isScoredLink,
  linkRows,
  NodeInputBuilder,
  Standardizer,
  windowGraph,
} from '../../src/mapek/detector-features.js';
import { datasetOf, expectDetectorError, tinySchema, windowOf } from './helpers.js';

// Node i has features [cpu, memory]; links are [from, to, loss, rtt]; 2 -> 2 is a self-link.
const spec = {
  nodes: [
    [0.1, 0.2],
    [0.3, 0.4],
    [0.5, 0.6],
  ],
  links: [
    [0, 1, 0.1, 0.2],
    [2, 1, 0.3, 0.4],
    [1, 0, 0.5, 0.6],
    [2, 2, 0.9, 0.9],
  ] as [number, number, number, number][],
};
const window = windowOf(spec);
const ln = Math.log1p;

describe('base features', () => {
  test('names: node, in.mean, in.max, out.mean, out.max, degrees; inputs add delta<j>. per lag', () => {
    expect(baseFeatureNames(tinySchema)).toStrictEqual([
      'node.cpu', 'node.memory', 'in.mean.loss', 'in.mean.rtt', 'in.max.loss', 'in.max.rtt',
      'out.mean.loss', 'out.mean.rtt', 'out.max.loss', 'out.max.rtt', 'degree.in', 'degree.out',
    ]);
    const names = inputFeatureNames(tinySchema, 2);
    expect(names).toHaveLength(36);
    expect(names[12]).toBe('delta1.node.cpu');
    expect(names[35]).toBe('delta2.degree.out');
  });

  test('each node: own features, mean and max of incoming and outgoing links, log1p degrees (self-links left out)', () => {
    const base = baseFeatures(tinySchema, window);
    const row = (v: number): number[] => Array.from(base.subarray(v * 12, (v + 1) * 12), (x) => Number(x.toFixed(6)));
    const f = (x: number): number => Number(Math.fround(x).toFixed(6));
    expect(row(0)).toStrictEqual([0.1, 0.2, 0.5, 0.6, 0.5, 0.6, 0.1, 0.2, 0.1, 0.2, f(ln(1)), f(ln(1))]);
    expect(row(1)).toStrictEqual([0.3, 0.4, 0.2, 0.3, 0.3, 0.4, 0.5, 0.6, 0.5, 0.6, f(ln(2)), f(ln(1))]);
    expect(row(2)).toStrictEqual([0.5, 0.6, 0, 0, 0, 0, 0.3, 0.4, 0.3, 0.4, 0, f(ln(1))]);
  });

  test('a node that was down has a zero row, and its links are left out of its neighbours\' rows', () => {
    const base = baseFeatures(tinySchema, windowOf({ ...spec, alive: [1, 1, 0] }));
    expect([...base.subarray(24, 36)].every((x) => x === 0)).toBe(true);
    expect(base[12 + 2]).toBeCloseTo(0.1, 6); // node 1 hears only 0 -> 1 now
    expect(base[12 + 10]).toBeCloseTo(ln(1), 6);
  });
});

describe('window graph', () => {
  test('alive nodes in compact rows, undirected neighbours, scored links only', () => {
    const graph = windowGraph(windowOf({ ...spec, alive: [1, 1, 0] }));
    expect([...graph.nodes]).toStrictEqual([0, 1]);
    expect([...graph.rowOf]).toStrictEqual([0, 1, -1]);
    expect([...graph.graph.offsets]).toStrictEqual([0, 1, 2]);
    expect([...graph.graph.neighbours]).toStrictEqual([1, 0]);
    expect([...graph.links]).toStrictEqual([0, 2]);
    expect([...graph.linkFromRow]).toStrictEqual([0, 1]);
    expect([...graph.linkToRow]).toStrictEqual([1, 0]);
    expect([0, 1, 2, 3].map((i) => isScoredLink(windowOf({ ...spec, alive: [1, 1, 0] }), i))).toStrictEqual([true, false, true, false]);
    expect([...linkRows(window, graph, 2)].map((x) => Number(x.toFixed(6)))).toStrictEqual([0.1, 0.2, 0.5, 0.6]);
  });
});

describe('NodeInputBuilder', () => {
  const previous = windowOf({ ...spec, nodes: [[0, 0], [0.3, 0.1], [0.5, 0.6]], alive: [1, 1, 0] });

  test('appends the change since the previous window; 0 when there is none or the node was down', () => {
    const builder = new NodeInputBuilder(tinySchema, 1);
    expect(builder.inputDim).toBe(24);
    const graph = windowGraph(window);
    const inputs = builder.build(window, [previous], graph);
    expect(inputs[12]).toBeCloseTo(0.1, 6); // node 0 cpu 0.1 - 0
    expect(inputs[24 + 13]).toBeCloseTo(0.3, 6); // node 1 memory 0.4 - 0.1
    expect([...inputs.subarray(48 + 12, 72)].every((x) => x === 0)).toBe(true); // node 2 was down
    const alone = builder.build(window, [], graph);
    expect([...alone.subarray(12, 24)].every((x) => x === 0)).toBe(true);
    expect([...alone.subarray(0, 12)]).toStrictEqual([...inputs.subarray(0, 12)]);
  });

  test('a node id beyond the previous window is treated as absent there', () => {
    const smaller = windowOf({ nodes: [[0, 0]], links: [] });
    const inputs = new NodeInputBuilder(tinySchema, 1).build(window, [smaller], windowGraph(window));
    expect([...inputs.subarray(24 + 12, 48)].every((x) => x === 0)).toBe(true);
  });

  test('refuses a lag count outside 0..4', () => {
    expectDetectorError(() => new NodeInputBuilder(tinySchema, 5), DetectorErrorCode.ERR_DETECTOR_ARGUMENT, 'deltaLags to be an integer in 0..4, got 5');
  });
});

describe('Standardizer', () => {
  test('fits column means and standard deviations over chunks; constant columns get scale 1', () => {
    const fitted = Standardizer.fit(2, [Float32Array.from([1, 10, 3, 10]), Float32Array.from([5, 10])]);
    expect([...fitted.mean]).toStrictEqual([3, 10]);
    expect(fitted.scale[0]).toBeCloseTo(Math.sqrt(8 / 3), 12);
    expect(fitted.scale[1]).toBe(1);
    expect([...fitted.apply(Float32Array.from([3, 11]))]).toStrictEqual([0, 1]);
    expect([...Standardizer.fit(2, []).mean]).toStrictEqual([0, 0]);
    expect([...Standardizer.identity(2).apply(Float32Array.from([2, 3]))]).toStrictEqual([2, 3]);
  });
});

describe('boundary checks', () => {
  test('a well-formed window and dataset pass', () => {
    checkWindow('t', tinySchema, window);
    checkDataset('t', datasetOf([window]));
  });

  test('sizes, lengths, endpoints, finiteness and fault classes are refused with names', () => {
    const bad = (patch: Partial<Record<keyof typeof window, unknown>>, ...parts: string[]): void => {
      expectDetectorError(() => checkWindow('t', tinySchema, { ...window, ...patch } as typeof window), DetectorErrorCode.ERR_DETECTOR_INPUT, ...parts);
    };
    bad({ nodeCount: -1 }, 'nodeCount to be an integer in 0..65536, got -1');
    bad({ alive: new Uint8Array(2) }, 'alive of length 3, got 2');
    bad({ nodeFeatures: new Float32Array(5) }, 'nodeFeatures of length 6, got 5');
    bad({ nodeLabels: new Uint8Array(4) }, 'nodeLabels of length 3');
    bad({ linkTo: new Int32Array(3) }, 'linkTo of length 4');
    bad({ linkFeatures: new Float32Array(7) }, 'linkFeatures of length 8');
    bad({ linkLabels: new Uint8Array(1) }, 'linkLabels of length 4');
    bad({ linkTo: Int32Array.from([1, 1, 0, 3]) }, 'link 3 (2 -> 3) has an end outside 0..2');
    bad({ linkFrom: Int32Array.from([0, -1, 1, 2]) }, 'link 1 (-1 -> 1)');
    bad({ nodeFeatures: Float32Array.from([0, 0, 0, Number.NaN, 0, 0]) }, 'nodeFeatures at row 1, column 1 is NaN');
    bad({ linkFeatures: Float32Array.from([0, 0, 0, 0, 0, Infinity, 0, 0]) }, 'linkFeatures at row 2, column 1 is Infinity');
    bad({ nodeLabels: Uint8Array.from([0, 10, 0]) }, 'nodeLabels[1] is 10, not a fault class (0..9)');
    bad({ linkLabels: Uint8Array.from([0, 0, 0, 12]) }, 'linkLabels[3] is 12');
    bad({ linkFrom: { length: 4_194_305 } }, 'links exceed windowLinksMax');
  });

  test('feature names: arrays of distinct non-empty strings, at most featureNamesMax', () => {
    expectDetectorError(() => checkSchema('t', { nodeFeatureNames: ['cpu', 'cpu'], linkFeatureNames: [] }), DetectorErrorCode.ERR_DETECTOR_INPUT, 'node feature "cpu" is named twice');
    expectDetectorError(() => checkSchema('t', { nodeFeatureNames: [], linkFeatureNames: [''] }), DetectorErrorCode.ERR_DETECTOR_INPUT, 'linkFeatureNames[0] is ""');
    const many = Array.from({ length: featureNamesMax + 1 }, (_, i) => `f${i}`);
    expectDetectorError(() => checkSchema('t', { nodeFeatureNames: many, linkFeatureNames: [] }), DetectorErrorCode.ERR_DETECTOR_INPUT, 'at most 256 names');
    expectDetectorError(() => checkDataset('t', datasetOf([{ ...window, nodeCount: 2 }])), DetectorErrorCode.ERR_DETECTOR_INPUT, 't: hand/1 window 0: expected alive of length 2');
  });

  test('names that differ from the model\'s are refused with both lists', () => {
    checkFeatureNames('t', tinySchema, { nodeFeatureNames: ['cpu', 'memory'], linkFeatureNames: ['loss', 'rtt'] });
    expectDetectorError(() => checkFeatureNames('t', tinySchema, { nodeFeatureNames: ['memory', 'cpu'], linkFeatureNames: ['loss', 'rtt'] }), DetectorErrorCode.ERR_DETECTOR_FEATURE_NAMES, 'node features ["memory","cpu"] differ from the model\'s ["cpu","memory"]');
    expectDetectorError(() => checkFeatureNames('t', tinySchema, { nodeFeatureNames: ['cpu', 'memory'], linkFeatureNames: ['loss'] }), DetectorErrorCode.ERR_DETECTOR_FEATURE_NAMES, 'link features ["loss"]');
  });
});
