/** The Cora loader: the real dataset's shape, a few training epochs on it, and file:line errors on malformed files. */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { loadCora, parseCoraEdges, parseCoraNodes, parseCoraSplit } from '../../src/ml/cora.js';
import { MlErrorCode } from '../../src/ml/errors.js';
import { l1NormalizeRows } from '../../src/ml/features.js';
import { GraphSage } from '../../src/ml/model.js';
import { seededRandom } from '../../src/ml/random.js';
import { Trainer } from '../../src/ml/train.js';
import { expectMlError, expectMlErrorAsync } from './helpers.js';

const coraDir = new URL('../../../shared/datasets/cora', import.meta.url).pathname;
const directory = mkdtempSync(join(tmpdir(), 'x0t-ml-cora-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('the real Cora', () => {
  test('loads with the published shape and trains: the loss falls within a few epochs', async () => {
    const cora = await loadCora(coraDir);
    expect(cora.features.rows).toBe(2708);
    expect(cora.features.columns).toBe(1433);
    expect(cora.features.values.length).toBe(49216);
    expect(cora.graph.neighbours.length).toBe(2 * 5278);
    expect(cora.classCount).toBe(7);
    expect([cora.split.train.length, cora.split.val.length, cora.split.test.length]).toStrictEqual([140, 500, 1000]);
    const random = seededRandom(1);
    const model = GraphSage.create({ inputDim: 1433, hiddenDims: [16], outputDim: 7, head: 'softmax', l2Normalize: false }, random);
    const trainer = new Trainer(model, cora.graph, l1NormalizeRows(cora.features), cora.labels, { learningRate: 0.01, weightDecay: 5e-4, dropout: 0.5 }, random);
    const losses = Array.from({ length: 20 }, () => trainer.stepFullBatch(cora.split.train));
    expect(losses[19]!).toBeLessThan(0.8 * losses[0]!);
  });
});

describe('nodes.tsv', () => {
  const file = 'nodes.tsv';
  test('parses comments, blank lines, CRLF, empty feature lists and unsorted indices', () => {
    const { features, labels, classCount } = parseCoraNodes('# header\n0\t2\t4 1\r\n\n1\t0\t\n2\t1\t0\n', file);
    expect(Array.from(labels)).toStrictEqual([2, 0, 1]);
    expect(classCount).toBe(3);
    expect(features.columns).toBe(5);
    expect(Array.from(features.offsets)).toStrictEqual([0, 2, 2, 3]);
    expect(Array.from(features.indices)).toStrictEqual([1, 4, 0]);
    expect(Array.from(features.values)).toStrictEqual([1, 1, 1]);
    expect(parseCoraNodes('0\t0\t1\n', file, 10).features.columns).toBe(10);
  });

  const bad: [string, string][] = [
    ['0\t1\n', 'nodes.tsv:1: expected 3 tab-separated fields (node, label, feature indices), got 2'],
    ['0\t1\t2\n2\t1\t3\n', 'nodes.tsv:2: expected node id 1 (ids run 0, 1, 2, ... in order), got 2'],
    ['# c\nx\t1\t2\n', 'nodes.tsv:2: expected the node id to be a non-negative integer, got "x"'],
    ['0\t-1\t2\n', 'nodes.tsv:1: expected the label to be a non-negative integer, got "-1"'],
    ['0\t1\t2 07\n', 'expected a feature index to be a non-negative integer, got "07"'],
    ['0\t1\t3 1 3\n', 'nodes.tsv:1: feature index 3 appears twice'],
    ['0\t1\t99999999999\n', 'got "99999999999"'],
  ];
  test.each(bad)('%j is refused: %s', (text, message) => {
    expectMlError(() => parseCoraNodes(text, file), MlErrorCode.ERR_DATASET_FORMAT, message);
  });

  test('an index beyond the given feature count is refused', () => {
    expectMlError(() => parseCoraNodes('0\t0\t1\n1\t0\t12\n', file, 10), MlErrorCode.ERR_DATASET_FORMAT, 'nodes.tsv:2: feature index 12 is not below the feature count 10');
  });
});

describe('edges.tsv', () => {
  test('builds an undirected graph', () => {
    const graph = parseCoraEdges('# edges\n0\t1\n1\t2\n', 'edges.tsv', 3);
    expect(Array.from(graph.offsets)).toStrictEqual([0, 1, 3, 4]);
    expect(Array.from(graph.neighbours)).toStrictEqual([1, 0, 2, 1]);
  });

  test('malformed lines are refused with file:line', () => {
    expectMlError(() => parseCoraEdges('0\t1\n0 2\n', 'edges.tsv', 3), MlErrorCode.ERR_DATASET_FORMAT, 'edges.tsv:2: expected 2 tab-separated node ids, got 1 fields');
    expectMlError(() => parseCoraEdges('0\t3\n', 'edges.tsv', 3), MlErrorCode.ERR_DATASET_FORMAT, 'edges.tsv:1: node 3 is not one of the 3 nodes (0..2)');
    expectMlError(() => parseCoraEdges('0\t1.5\n', 'edges.tsv', 3), MlErrorCode.ERR_DATASET_FORMAT, 'edges.tsv:1: expected a node id');
  });
});

describe('split.json', () => {
  test('parses three disjoint index arrays', () => {
    const split = parseCoraSplit('{"train":[0],"val":[1,2],"test":[]}', 'split.json', 3);
    expect(Array.from(split.val)).toStrictEqual([1, 2]);
  });

  const bad: [string, string][] = [
    ['{"train":', 'split.json: not valid JSON'],
    ['[1]', 'split.json: expected an object with train, val and test arrays'],
    ['null', 'expected an object'],
    ['{"train":[0],"val":[1]}', 'split.json: expected "test" to be an array of node indices'],
    ['{"train":[0, 3],"val":[],"test":[]}', 'split.json: train[1] is 3, expected a node index in 0..2'],
    ['{"train":[0],"val":["1"],"test":[]}', 'val[0] is "1"'],
    ['{"train":[0],"val":[1],"test":[2, 0]}', 'split.json: node 0 is in both train and test'],
  ];
  test.each(bad)('%j is refused: %s', (text, message) => {
    expectMlError(() => parseCoraSplit(text, 'split.json', 3), MlErrorCode.ERR_DATASET_FORMAT, message);
  });
});

describe('loadCora from files', () => {
  function writeDataset(name: string, files: Record<string, string>): string {
    const dir = join(directory, name);
    mkdirSync(dir);
    for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
    return dir;
  }
  const good = { 'nodes.tsv': '# n\n0\t0\t1\n1\t1\t0 2\n2\t0\t2\n', 'edges.tsv': '0\t1\n1\t2\n', 'split.json': '{"train":[0],"val":[1],"test":[2]}' };

  test('reads a small dataset', async () => {
    const cora = await loadCora(writeDataset('good', good));
    expect(cora.features.rows).toBe(3);
    expect(cora.graph.neighbours.length).toBe(4);
    expect(Array.from(cora.split.test)).toStrictEqual([2]);
  });

  test('names the file and line of a malformed edge', async () => {
    const dir = writeDataset('bad-edge', { ...good, 'edges.tsv': '0\t1\n1\t7\n' });
    await expectMlErrorAsync(loadCora(dir), MlErrorCode.ERR_DATASET_FORMAT, `${join(dir, 'edges.tsv')}:2: node 7`);
  });

  test('a missing file is a read error naming it', async () => {
    const dir = writeDataset('missing', { 'nodes.tsv': good['nodes.tsv'], 'edges.tsv': good['edges.tsv'] });
    await expectMlErrorAsync(loadCora(dir), MlErrorCode.ERR_ML_READ, join(dir, 'split.json'));
  });

  test('an oversized file is refused before it is read', async () => {
    const dir = writeDataset('huge', good);
    writeFileSync(join(dir, 'edges.tsv'), '');
    const { truncateSync } = await import('node:fs');
    truncateSync(join(dir, 'edges.tsv'), (64 << 20) + 1);
    await expectMlErrorAsync(loadCora(dir), MlErrorCode.ERR_ML_READ, 'exceed datasetFileBytesMax');
  });
});
