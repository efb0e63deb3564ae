import { describe, expect, it } from 'vitest';
import { buildBatch } from '../../../src/fl/training/batch.js';
import { detectorOf, evaluateParameters } from '../../../src/fl/training/evaluate.js';
import { trainLocally } from '../../../src/fl/training/local-training.js';
import { lossScaleOf, pooledScaleLoss } from '../../../src/fl/training/loss.js';
import { createTrainingSetup } from '../../../src/fl/training/setup.js';
import { headLoss, headWidth } from '../../../src/mapek/detector-loss.js';
import { forward, Workspace } from '../../../src/ml/engine.js';
import { GraphSage } from '../../../src/ml/model.js';
import { seededRandom } from '../../../src/ml/random.js';
import { tinyDataset, tinyLocal, tinySetup } from './helpers.js';

const setup = tinySetup(6, 1, 'pooled');
const initial = GraphSage.create(setup.modelConfig, seededRandom(2)).parameters;

/** Logits and labels of the whole pooled data as one batch. */
function pooledLogits(): { logits: Float32Array; labels: Uint8Array } {
  const picks = setup.pooled.windows.reduce<{ window: number; rows: Int32Array }[]>((all, w, i) => [...all, { window: w, rows: setup.pooled.rows[i]! }], []);
  const batch = buildBatch(setup.corpus, picks, 2);
  const ws = new Workspace();
  forward(GraphSage.fromParameters(setup.modelConfig, initial).layers, false, batch.blocks, batch.features, ws, null);
  return { logits: ws.pre[1]!.slice(0, batch.labels.length * headWidth), labels: batch.labels };
}

describe('the pooled-scale loss', () => {
  it('equals the detector loss on the whole pooled data, and is additive over parts of it', () => {
    const { logits, labels } = pooledLogits();
    const rows = labels.length;
    const scale = setup.loss.scale!;
    expect(scale).toEqual(lossScaleOf(setup.weights, setup.pooled.classCounts));
    expect(pooledScaleLoss(logits, rows, labels, setup.weights, scale, null)).toBeCloseTo(headLoss(logits, rows, labels, setup.weights, null), 6);
    const half = Math.floor(rows / 2);
    const first = pooledScaleLoss(logits.subarray(0, half * headWidth), half, labels.subarray(0, half), setup.weights, scale, null);
    const second = pooledScaleLoss(logits.subarray(half * headWidth), rows - half, labels.subarray(half), setup.weights, scale, null);
    expect((first * half + second * (rows - half)) / rows).toBeCloseTo(headLoss(logits, rows, labels, setup.weights, null), 6);
  });

  it('scales the gradient like the loss: a healthy-only batch weighs as little as in the pooled loss', () => {
    const { logits, labels } = pooledLogits();
    const healthy = [...labels.keys()].filter((r) => labels[r] === 0).slice(0, 4);
    const rows = healthy.length;
    const part = new Float32Array(rows * headWidth);
    healthy.forEach((r, k) => part.set(logits.subarray(r * headWidth, (r + 1) * headWidth), k * headWidth));
    const zeros = new Uint8Array(rows);
    const detector = new Float32Array(rows * headWidth);
    const pooled = new Float32Array(rows * headWidth);
    const detectorLoss = headLoss(part, rows, zeros, setup.weights, detector);
    const pooledLoss = pooledScaleLoss(part, rows, zeros, setup.weights, setup.loss.scale!, pooled);
    const factor = 1 / setup.loss.scale!.binaryPerRow;
    expect(factor).toBeLessThan(1);
    expect(pooledLoss).toBeCloseTo(detectorLoss * factor, 6);
    expect(pooled[0]).toBeCloseTo(detector[0]! * factor, 6);
    expect(pooled[1]).toBe(0);
  });

  it('gives no class weight without faulty rows, and the batch normalisation by default', () => {
    expect(lossScaleOf(setup.weights, Float64Array.of(5, 0, 0, 0, 0, 0, 0, 0, 0, 0)).classPerRow).toBe(0);
    const detectorStyle = createTrainingSetup([tinyDataset(11), tinyDataset(12)], { clients: 6, seed: 1, hiddenDims: [8] });
    expect(detectorStyle.loss.scale).toBeNull();
    const { logits, labels } = pooledLogits();
    expect(pooledScaleLoss(logits, 3, labels.subarray(0, 3), setup.weights, { binaryPerRow: 1, classPerRow: 0 }, null)).toBeGreaterThan(0);
  });
});

describe('local SGD', () => {
  it('takes plain gradient steps and refuses an unknown optimiser', () => {
    const shard = setup.shards[0]!;
    const result = trainLocally(setup.modelConfig, initial, setup.corpus, shard, setup.loss, { ...tinyLocal, optimizer: 'sgd', learningRate: 0.1 }, seededRandom(1));
    expect(result.steps).toBe(2 * Math.ceil(shard.windows.length / tinyLocal.batchWindows));
    expect(result.parameters).not.toEqual(initial);
    const still = trainLocally(setup.modelConfig, initial, setup.corpus, shard, setup.loss, { ...tinyLocal, optimizer: 'sgd', learningRate: 0, weightDecay: 0 }, seededRandom(1));
    expect(still.parameters).toEqual(initial);
    const bad = { ...tinyLocal, optimizer: 'rmsprop' } as unknown as typeof tinyLocal;
    expect(() => trainLocally(setup.modelConfig, initial, setup.corpus, shard, setup.loss, bad, seededRandom(1))).toThrow(/optimizer/);
  });
});

describe('evaluateParameters', () => {
  it('turns parameters into a detector with the setup standardisation and measures node detection', () => {
    const detector = detectorOf(setup, initial);
    expect(detector.model.parameters).toEqual(initial);
    expect(detector.nodeStandardizer.mean).toBe(setup.standardizer.mean);
    const scores = detector.scoreDataset(tinyDataset(13));
    expect(scores[0]!.linkScores.every((s) => Number.isNaN(s) || s === 0.5)).toBe(true);
    const trained = trainLocally(setup.modelConfig, initial, setup.corpus, setup.pooled, setup.loss, { ...tinyLocal, epochs: 8, batchWindows: 4 }, seededRandom(3));
    const result = evaluateParameters(setup, trained.parameters, [tinyDataset(13)], [tinyDataset(14)]);
    expect(result.nodeF1).toBeGreaterThan(0);
    expect(result.nodeF1).toBeLessThanOrEqual(1);
    expect(result.nodeAuroc).toBeGreaterThan(0.5);
    expect(Number.isFinite(result.nodeThreshold)).toBe(true);
    expect(result.greyholeF1 === null || (result.greyholeF1 >= 0 && result.greyholeF1 <= 1)).toBe(true);
  });

  it('reports null per-class figures when the test data hold no such fault, and zeros without node items', () => {
    const healthy = tinyDataset(15, 0);
    const result = evaluateParameters(setup, initial, [tinyDataset(13)], [healthy]);
    expect(result.greyholeF1).toBeNull();
    expect(result.blackholeF1).toBeNull();
    expect(result.nodeF1).toBe(0);
    const down = { ...healthy, windows: healthy.windows.map((w) => ({ ...w, alive: new Uint8Array(w.nodeCount) })) };
    const none = evaluateParameters(setup, initial, [tinyDataset(13)], [down]);
    expect(none).toMatchObject({ nodeF1: 0, nodePrecision: 0, nodeRecall: 0, nodeAuroc: null });
  });
});
