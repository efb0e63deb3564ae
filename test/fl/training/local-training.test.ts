import { describe, expect, it } from 'vitest';
import { buildBatch } from '../../../src/fl/training/batch.js';
import { shardLoss, trainLocally } from '../../../src/fl/training/local-training.js';
import { trainCentralised } from '../../../src/fl/training/centralised.js';
import { fullGraphBlocks } from '../../../src/ml/block.js';
import { forward, Workspace } from '../../../src/ml/engine.js';
import { denseFeatures } from '../../../src/ml/features.js';
import { GraphSage } from '../../../src/ml/model.js';
import { seededRandom } from '../../../src/ml/random.js';
import { tinyLocal, tinySetup } from './helpers.js';

const setup = tinySetup(8);
const initial = GraphSage.create(setup.modelConfig, seededRandom(3)).parameters;

describe('buildBatch', () => {
  it('gives the owned rows exactly the logits of a pass over the whole windows', () => {
    const model = GraphSage.fromParameters(setup.modelConfig, initial);
    const picks = [0, 5].map((window) => ({ window, rows: Int32Array.of(1, 4) }));
    const batch = buildBatch(setup.corpus, picks, 2);
    const ws = new Workspace();
    forward(model.layers, false, batch.blocks, batch.features, ws, null);
    const local = ws.pre[1]!.slice(0, 4 * setup.modelConfig.outputDim);
    picks.forEach((pick, p) => {
      const window = setup.corpus.windows[pick.window]!;
      const rows = window.labels.length;
      forward(model.layers, false, fullGraphBlocks(window.graph.graph, 2), denseFeatures(rows, setup.corpus.inputDim, window.input), ws, null);
      pick.rows.forEach((row, k) => {
        const width = setup.modelConfig.outputDim;
        for (let c = 0; c < width; c++) expect(local[(2 * p + k) * width + c]).toBeCloseTo(ws.pre[1]![row * width + c]!, 5);
      });
      expect(batch.labels[2 * p]).toBe(window.labels[1]);
    });
  });

  it('maps labels through a label map', () => {
    const map = Uint8Array.from({ length: 10 }, (_, l) => 9 - l);
    const batch = buildBatch(setup.corpus, [{ window: 2, rows: Int32Array.of(0, 3) }], 2, map);
    expect([...batch.labels]).toEqual([0, 3].map((row) => 9 - setup.corpus.windows[2]!.labels[row]!));
  });
});

describe('trainLocally', () => {
  it('lowers the loss on the client\'s own shard and starts from a copy of the global parameters', () => {
    const shard = setup.shards.find((s) => s.classCounts[0]! < s.examples)!;
    const before = shardLoss(setup.modelConfig, initial, setup.corpus, shard, setup.loss, 8);
    const start = initial.slice();
    const result = trainLocally(setup.modelConfig, start, setup.corpus, shard, setup.loss, { ...tinyLocal, epochs: 5 }, seededRandom(1));
    expect(start).toEqual(initial);
    expect(result.steps).toBe(5 * Math.ceil(shard.windows.length / tinyLocal.batchWindows));
    expect(shardLoss(setup.modelConfig, result.parameters, setup.corpus, shard, setup.loss, 8)).toBeLessThan(before);
    expect(result.meanLoss).toBeGreaterThan(0);
  });

  it('is deterministic by its random source', () => {
    const shard = setup.shards[0]!;
    const a = trainLocally(setup.modelConfig, initial, setup.corpus, shard, setup.loss, tinyLocal, seededRandom(4));
    const b = trainLocally(setup.modelConfig, initial, setup.corpus, shard, setup.loss, tinyLocal, seededRandom(4));
    expect(a.parameters).toEqual(b.parameters);
  });

  it('refuses options out of range', () => {
    const shard = setup.shards[0]!;
    expect(() => trainLocally(setup.modelConfig, initial, setup.corpus, shard, setup.loss, { ...tinyLocal, epochs: 0 }, seededRandom(1))).toThrow(/epochs/);
    expect(() => trainLocally(setup.modelConfig, initial, setup.corpus, shard, setup.loss, { ...tinyLocal, dropout: 1 }, seededRandom(1))).toThrow(/dropout/);
  });
});

describe('trainLocally with a shared second moment', () => {
  const shard = setup.shards.find((s) => s.classCounts[0]! < s.examples)!;
  const train = (secondMoment: Float32Array | null, change = {}) => trainLocally(setup.modelConfig, initial, setup.corpus, shard, setup.loss, { ...tinyLocal, ...change }, seededRandom(2), null, secondMoment);

  it('reports Adam\'s bias-corrected second moment, and none for SGD', () => {
    const fresh = train(null);
    expect(fresh.secondMoment).toHaveLength(initial.length);
    expect(fresh.secondMoment!.every((value) => value >= 0 && Number.isFinite(value))).toBe(true);
    expect(fresh.secondMoment!.some((value) => value > 0)).toBe(true);
    expect(train(null, { optimizer: 'sgd' }).secondMoment).toBeNull();
    const empty = { ...shard, windows: Int32Array.of(), rows: [], examples: 0 };
    const idle = trainLocally(setup.modelConfig, initial, setup.corpus, empty, setup.loss, tinyLocal, seededRandom(2));
    expect(idle.steps).toBe(0);
    expect(idle.secondMoment!.every((value) => value === 0)).toBe(true);
  });

  it('starts Adam from the given moment: a large shared scale makes small steps, the same scale as its own about the same steps', () => {
    const moved = (parameters: Float32Array): number => parameters.reduce((sum, value, j) => sum + Math.abs(value - initial[j]!), 0);
    const fresh = train(null);
    const large = train(new Float32Array(initial.length).fill(1e4));
    expect(moved(large.parameters)).toBeLessThan(moved(fresh.parameters) / 100);
    const own = train(fresh.secondMoment);
    expect(own.parameters).not.toEqual(fresh.parameters);
    expect(moved(own.parameters)).toBeGreaterThan(moved(fresh.parameters) / 10);
    expect(shardLoss(setup.modelConfig, own.parameters, setup.corpus, shard, setup.loss, 8)).toBeLessThan(shardLoss(setup.modelConfig, initial, setup.corpus, shard, setup.loss, 8));
  });

  it('refuses a moment of the wrong length, a negative or NaN one, or one with SGD', () => {
    expect(() => train(new Float32Array(3))).toThrow(/second moment of \d+ values, got 3/);
    expect(() => train(new Float32Array(initial.length).fill(-1))).toThrow(/finite values >= 0/);
    expect(() => train(new Float32Array(initial.length).fill(Number.NaN))).toThrow(/finite values >= 0/);
    expect(() => train(new Float32Array(initial.length), { optimizer: 'sgd' })).toThrow(/'adam'/);
  });
});

describe('trainCentralised', () => {
  it('trains the pooled rows from the seed\'s initial model and lowers the pooled loss', () => {
    const start = GraphSage.create(setup.modelConfig, seededRandom(5)).parameters;
    const before = shardLoss(setup.modelConfig, start, setup.corpus, setup.pooled, setup.loss, 8);
    const result = trainCentralised(setup, { ...tinyLocal, epochs: 3, batchWindows: 4 }, 5);
    expect(shardLoss(setup.modelConfig, result.parameters, setup.corpus, setup.pooled, setup.loss, 8)).toBeLessThan(before);
  });
});
