import { describe, expect, it } from 'vitest';
import { buildCorpus, clientShards, inputMoments, pooledShard, standardizerFromMoments, summedClassCounts } from '../../../src/fl/training/corpus.js';
import { isTrainingError } from '../../../src/fl/training/errors.js';
import { createTrainingSetup } from '../../../src/fl/training/setup.js';
import { NodeInputBuilder, Standardizer } from '../../../src/mapek/detector-features.js';
import { tinyDataset, tinySetup } from './helpers.js';

const schemaOf = (dataset: ReturnType<typeof tinyDataset>) => ({ nodeFeatureNames: dataset.nodeFeatureNames, linkFeatureNames: dataset.linkFeatureNames });

describe('buildCorpus', () => {
  it('prepares every stride-th window of every dataset with the detector input builder', () => {
    const datasets = [tinyDataset(1), tinyDataset(2)];
    const builder = new NodeInputBuilder(schemaOf(datasets[0]!), 1);
    const all = buildCorpus(datasets, builder);
    const strided = buildCorpus(datasets, builder, 3);
    expect(all.windows).toHaveLength(40);
    expect(strided.windows).toHaveLength(14);
    expect(strided.windows[1]!.input).toEqual(all.windows[3]!.input);
    expect(all.windows[25]!.dataset).toBe(1);
    expect(all.inputDim).toBe(builder.inputDim);
  });

  it('refuses datasets without windows and a bad stride', () => {
    const dataset = tinyDataset(1);
    const builder = new NodeInputBuilder(schemaOf(dataset), 1);
    expect(() => buildCorpus([{ ...dataset, windows: [] }], builder)).toThrow(/hold no window/);
    expect(() => buildCorpus([dataset], builder, 0)).toThrow(/stride/);
  });
});

describe('the non-IID split', () => {
  const setup = tinySetup(8);

  it('gives each node row to exactly one client: the shards are a partition of the pooled rows', () => {
    const seen = setup.corpus.windows.map((window) => new Uint8Array(window.labels.length));
    for (const shard of setup.shards) {
      shard.windows.forEach((w, i) => {
        for (const row of shard.rows[i]!) seen[w]![row]!++;
        // A client's rows are those of the nodes its region holds in that window's run.
        const window = setup.corpus.windows[w]!;
        for (const row of shard.rows[i]!) expect(setup.owners[window.dataset]![window.graph.nodes[row]!]).toBe(shard.client);
      });
    }
    expect(seen.every((rows) => rows.every((count) => count === 1))).toBe(true);
    expect(setup.shards.reduce((sum, shard) => sum + shard.examples, 0)).toBe(setup.pooled.examples);
  });

  it('spreads faults unevenly: some clients hold none, the class counts sum to the pooled ones', () => {
    const faulty = setup.shards.map((shard) => shard.classCounts.slice(1).reduce((a, b) => a + b, 0));
    expect(faulty.some((count) => count === 0)).toBe(true);
    expect(faulty.some((count) => count > 0)).toBe(true);
    expect(summedClassCounts(setup.shards)).toEqual(setup.pooled.classCounts);
  });

  it('refuses a partition that leaves a client without rows', () => {
    const dataset = tinyDataset(1);
    const builder = new NodeInputBuilder(schemaOf(dataset), 1);
    const corpus = buildCorpus([dataset], builder);
    const owners = [new Int32Array(16).fill(0)];
    expect(() => clientShards(corpus, owners, 2)).toThrow(/client 1 owns no row/);
  });
});

describe('federated standardisation', () => {
  it('equals Standardizer.fit on the pooled rows', () => {
    const datasets = [tinyDataset(1), tinyDataset(2)];
    const builder = new NodeInputBuilder(schemaOf(datasets[0]!), 1);
    const corpus = buildCorpus(datasets, builder);
    const owners = datasets.map(() => Int32Array.from({ length: 16 }, (_, v) => v % 4));
    const shards = clientShards(corpus, owners, 4);
    const federated = standardizerFromMoments(shards.map((shard) => inputMoments(corpus, shard)), corpus.inputDim);
    const pooled = Standardizer.fit(corpus.inputDim, corpus.windows.map((window) => window.input));
    federated.mean.forEach((mean, c) => expect(mean).toBeCloseTo(pooled.mean[c]!, 9));
    federated.scale.forEach((scale, c) => expect(scale).toBeCloseTo(pooled.scale[c]!, 9));
    expect(inputMoments(corpus, pooledShard(corpus)).rows).toBe(corpus.windows.reduce((sum, window) => sum + window.labels.length, 0));
  });

  it('refuses an empty report', () => {
    expect(() => standardizerFromMoments([], 3)).toThrow(/no rows/);
  });
});

describe('createTrainingSetup', () => {
  it('refuses no datasets, other feature names, and data without a faulty node', () => {
    expect(() => createTrainingSetup([], { clients: 2, seed: 1 })).toThrow(/at least one training dataset/);
    const dataset = tinyDataset(1);
    const renamed = { ...tinyDataset(2), nodeFeatureNames: dataset.nodeFeatureNames.map((name) => `x.${name}`) };
    expect(() => createTrainingSetup([dataset, renamed], { clients: 2, seed: 1 })).toThrow(/differ from the model/);
    try {
      createTrainingSetup([tinyDataset(1, 0)], { clients: 2, seed: 1 });
      expect.unreachable();
    } catch (error) {
      expect(isTrainingError(error, 'ERR_FL_TRAINING_DATA')).toBe(true);
    }
  });

  it('uses the detector architecture: input width of the builder, 1 + C outputs', () => {
    const setup = tinySetup(4);
    expect(setup.modelConfig.inputDim).toBe(setup.corpus.inputDim);
    expect(setup.modelConfig.hiddenDims).toEqual([8]);
    expect(setup.weights.faulty).toBeGreaterThan(1);
  });
});
