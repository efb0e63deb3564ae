import { spawnSync } from 'node:child_process';
import { fullGraphBlocks } from '../src/ml/block.js';
import { layerViews } from '../src/ml/config.js';
import { backward, forward, Workspace } from '../src/ml/engine.js';
import { softmaxCrossEntropy } from '../src/ml/heads.js';
import { sparseMatMul, sparseMatMulTransposeA, meanAggregate, meanAggregateTranspose } from '../src/ml/kernels.js';
import {
  accuracy,
  Adam,
  denseFeatures,
  GraphSage,
  l1NormalizeRows,
  loadCora,
  seededRandom,
  Trainer,
  undirectedGraph,
  type CoraDataset,
  type Features,
  type SparseFeatures,
} from '../src/ml/index.js';
import { percentileOf } from './common.js';

/**
 * Cora with the public Planetoid split (datasets/cora), 2-layer mean-aggregator GraphSAGE,
 * full batch. Protocol: features row-normalised (L1), Adam lr 0.01, weight decay 5e-4, dropout
 * 0.5 on the hidden layer, 200 epochs; the hidden width and the input dropout are chosen by
 * mean best-validation accuracy over tuning seeds that are not the reported ones (the test set
 * is never looked at); then 10 seeds report test accuracy at their best-validation epoch.
 */
const datasetDir = '../shared/datasets/cora';
const epochs = 200;
const base = { learningRate: 0.01, weightDecay: 5e-4, dropout: 0.5 } as const;
const grid = [16, 64].flatMap((hidden) => [0, 0.5, 0.8].map((inputDropout) => ({ hidden, inputDropout })));
const tuningSeeds = [1001, 1002];
const reportSeeds = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const timingWarmupEpochs = 20;
const timedEpochs = 200;
/** fanouts[k] is for layer k: 25 sampled neighbours per target (layer 1), 10 per node of those (layer 0), as Hamilton et al. */
const miniBatchFanouts = [10, 25];

interface Setting {
  readonly hidden: number;
  readonly inputDropout: number;
}

interface Run {
  readonly seed: number;
  readonly bestEpoch: number;
  readonly valAccuracy: number;
  readonly testAccuracy: number;
}

const round = (value: number, digits: number): number => Math.round(value * 10 ** digits) / 10 ** digits;
const median = (values: readonly number[]): number => percentileOf(values, 50)!;
const mean = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
/** Population standard deviation (numpy's default), as papers report it. */
const std = (values: readonly number[]): number => Math.sqrt(mean(values.map((v) => (v - mean(values)) ** 2)));

function modelFor(cora: CoraDataset, hidden: number, seed: number): { model: GraphSage; random: ReturnType<typeof seededRandom> } {
  const random = seededRandom(seed);
  const model = GraphSage.create({ inputDim: cora.features.columns, hiddenDims: [hidden], outputDim: cora.classCount, head: 'softmax', l2Normalize: false }, random);
  return { model, random };
}

/** Trains one seed full-batch for `epochs`, evaluating every epoch; keeps the test accuracy of the first best-validation epoch. */
function trainRun(cora: CoraDataset, features: Features, setting: Setting, seed: number, step: 'full' | 'mini'): Run {
  const { model, random } = modelFor(cora, setting.hidden, seed);
  const trainer = new Trainer(model, cora.graph, features, cora.labels, { ...base, inputDropout: setting.inputDropout }, random);
  const batches = [cora.split.train.subarray(0, 70), cora.split.train.subarray(70)];
  let best: Run = { seed, bestEpoch: -1, valAccuracy: -1, testAccuracy: 0 };
  for (let epoch = 0; epoch < epochs; epoch++) {
    if (step === 'full') trainer.stepFullBatch(cora.split.train);
    else for (const batch of batches) trainer.stepMiniBatch(batch, miniBatchFanouts);
    const predicted = model.classify(cora.graph, features);
    const valAccuracy = accuracy(predicted, cora.labels, cora.split.val);
    if (valAccuracy > best.valAccuracy) best = { seed, bestEpoch: epoch, valAccuracy, testAccuracy: accuracy(predicted, cora.labels, cora.split.test) };
  }
  return best;
}

/** Picks the setting with the highest mean best-validation accuracy over the tuning seeds. */
function tune(cora: CoraDataset, features: Features): { chosen: Setting; table: { hidden: number; inputDropout: number; valAccuracyMean: number }[] } {
  const table = grid.map((setting) => ({
    ...setting,
    valAccuracyMean: round(mean(tuningSeeds.map((seed) => trainRun(cora, features, setting, seed, 'full').valAccuracy)), 4),
  }));
  const best = table.reduce((a, b) => (b.valAccuracyMean > a.valAccuracyMean ? b : a));
  return { chosen: { hidden: best.hidden, inputDropout: best.inputDropout }, table };
}

/** Median wall time of Trainer.stepFullBatch (forward, backward, Adam; hidden 16) after warm-up. */
function epochTimes(cora: CoraDataset, features: Features, inputDropout: number): number[] {
  const { model, random } = modelFor(cora, 16, 77);
  const trainer = new Trainer(model, cora.graph, features, cora.labels, { ...base, inputDropout }, random);
  const times: number[] = [];
  for (let epoch = 0; epoch < timingWarmupEpochs + timedEpochs; epoch++) {
    const started = performance.now();
    trainer.stepFullBatch(cora.split.train);
    if (epoch >= timingWarmupEpochs) times.push(performance.now() - started);
  }
  return times;
}

/**
 * The same epoch computing every node of the graph (what a plain full-batch implementation
 * such as the PyTorch baseline computes), through the engine with whole-graph blocks.
 */
function allNodesEpochTimes(cora: CoraDataset, features: Features, inputDropout: number): number[] {
  const { model, random } = modelFor(cora, 16, 77);
  const gradients = new Float32Array(model.parameters.length);
  const gradientLayers = layerViews(model.config, gradients);
  const adam = new Adam(gradients.length, base);
  const blocks = fullGraphBlocks(cora.graph, 2);
  const ws = new Workspace();
  const classes = Int32Array.from(cora.split.train, (v) => cora.labels[v]!);
  const times: number[] = [];
  for (let epoch = 0; epoch < timingWarmupEpochs + timedEpochs; epoch++) {
    const started = performance.now();
    forward(model.layers, false, blocks, features, ws, { rate: base.dropout, inputRate: inputDropout, random });
    ws.prepareBackward(model.layers, blocks);
    const dLogits = ws.dPre[1]!.fill(0, 0, cora.features.rows * cora.classCount);
    softmaxCrossEntropy(ws.pre[1]!, cora.classCount, cora.split.train, classes, dLogits);
    gradients.fill(0);
    backward(model.layers, gradientLayers, false, blocks, features, ws, base.dropout);
    adam.step(model.parameters, gradients);
    if (epoch >= timingWarmupEpochs) times.push(performance.now() - started);
  }
  return times;
}

/** A over X with A the row-normalised adjacency, as a CSR matrix: the "aggregate the sparse input once" alternative. */
function meanAggregatedInput(cora: CoraDataset, features: SparseFeatures): SparseFeatures {
  const { offsets, neighbours } = cora.graph;
  const dense = new Float64Array(features.columns);
  const rowOffsets = new Int32Array(features.rows + 1);
  const indices: number[] = [];
  const values: number[] = [];
  for (let v = 0; v < features.rows; v++) {
    const touched = new Set<number>();
    const degree = offsets[v + 1]! - offsets[v]!;
    for (let e = offsets[v]!; e < offsets[v + 1]!; e++) {
      const u = neighbours[e]!;
      for (let k = features.offsets[u]!; k < features.offsets[u + 1]!; k++) {
        dense[features.indices[k]!]! += features.values[k]! / degree;
        touched.add(features.indices[k]!);
      }
    }
    for (const column of [...touched].sort((a, b) => a - b)) {
      indices.push(column);
      values.push(dense[column]!);
      dense[column] = 0;
    }
    rowOffsets[v + 1] = indices.length;
  }
  return { kind: 'sparse', rows: features.rows, columns: features.columns, offsets: rowOffsets, indices: Int32Array.from(indices), values: Float32Array.from(values) };
}

/** Times the first layer's neighbour term (forward and weight gradient, all nodes, 16 units) both ways. */
function firstLayerOrders(cora: CoraDataset, features: SparseFeatures): Record<string, number> {
  const n = features.rows;
  const width = 16;
  const w = Float32Array.from({ length: features.columns * width }, (_, i) => Math.sin(i));
  const aggregated = meanAggregatedInput(cora, features);
  const out = new Float32Array(n * width);
  const projected = new Float32Array(n * width);
  const d = Float32Array.from({ length: n * width }, (_, i) => Math.cos(i));
  const dProjected = new Float32Array(n * width);
  const dw = new Float32Array(w.length);
  const { offsets, neighbours } = cora.graph;
  const time = (work: () => void): number => {
    for (let i = 0; i < 20; i++) work();
    const samples = Array.from({ length: 100 }, () => {
      const started = performance.now();
      work();
      return performance.now() - started;
    });
    return round(median(samples), 3);
  };
  const projectFirstMs = time(() => {
    sparseMatMul(features, n, w, width, projected, false);
    meanAggregate(projected, width, offsets, neighbours, n, out, false);
    dProjected.fill(0);
    meanAggregateTranspose(d, width, offsets, neighbours, n, dProjected);
    sparseMatMulTransposeA(features, n, dProjected, width, dw);
  });
  const aggregateOnceMs = time(() => {
    sparseMatMul(aggregated, n, w, width, out, false);
    sparseMatMulTransposeA(aggregated, n, d, width, dw);
  });
  return { inputNonZeros: features.values.length, aggregatedInputNonZeros: aggregated.values.length, projectFirstMs, aggregateOnceMs };
}

/** Median time of predict() for every node of a seeded random 1000-node graph (average degree about 6, 32 dense features). */
function inference1000(): { ms: number; setup: string } {
  const random = seededRandom(5);
  const n = 1000;
  const ends = Int32Array.from({ length: 2 * 3000 }, () => random.nextU32() % n);
  const graph = undirectedGraph(n, ends);
  const features = denseFeatures(n, 32, Float32Array.from({ length: n * 32 }, () => random.nextU32() / 2 ** 32));
  const model = GraphSage.create({ inputDim: 32, hiddenDims: [16], outputDim: 2, head: 'softmax', l2Normalize: false }, random);
  for (let i = 0; i < 20; i++) model.predict(graph, features);
  const samples = Array.from({ length: 200 }, () => {
    const started = performance.now();
    model.predict(graph, features);
    return performance.now() - started;
  });
  const setup = `1000 nodes, ${graph.neighbours.length / 2} undirected edges (average degree ${round(graph.neighbours.length / n, 2)}), 32 dense features, 2 layers (16 hidden units, 2 outputs), predict() incl. boundary checks, median of 200 after 20 warm-up; the issue's bar for the detector is 50 ms`;
  return { ms: round(median(samples), 3), setup };
}

/** Pythons to try, in order: the one on PATH, then Debian's, where python3-torch installs. */
const pythons = ['python3', '/usr/bin/python3'];

/** Runs bench/cora-pytorch.py with the first Python that can import PyTorch; otherwise null figures and the reason. */
function pytorchBaseline(setting: Setting): { epochMsMedian: number | null; testAccuracyMean: number | null; note: string } {
  const args = JSON.stringify({ datasetDir, epochs, seeds: reportSeeds, hidden: 16, inputDropout: setting.inputDropout, ...base });
  let reason = 'no python3';
  for (const python of pythons) {
    const result = spawnSync(python, ['bench/cora-pytorch.py', args], { encoding: 'utf8', timeout: 20 * 60_000 });
    if (result.status === 0) {
      const parsed = JSON.parse(result.stdout) as { epochMsMedian: number; testAccuracyMean: number; torch: string };
      return { epochMsMedian: round(parsed.epochMsMedian, 3), testAccuracyMean: round(parsed.testAccuracyMean, 4), note: `measured in this run: torch ${parsed.torch} (${python}), 1 thread, hidden 16, same protocol` };
    }
    reason = (result.stderr || result.error?.message || 'no output').trim().split('\n').at(-1) ?? reason;
  }
  return {
    epochMsMedian: null,
    testAccuracyMean: null,
    note: `not measured: bench/cora-pytorch.py failed (${reason}); install PyTorch (Debian: apt-get install python3-torch) to measure it in the same run. Reference from the issue text, measured on this machine earlier: a sparse PyTorch GraphSAGE-mean took about 3 ms per epoch with 81.5 % test accuracy.`,
  };
}

/** Cora accuracy over 10 seeds, time per epoch, inference on 1000 nodes, and the PyTorch baseline when it can run. */
export async function run(): Promise<{ figures: Record<string, number | null>; details: unknown }> {
  const cora = await loadCora(datasetDir);
  const features = l1NormalizeRows(cora.features);
  const tuning = tune(cora, features);
  const runs = reportSeeds.map((seed) => trainRun(cora, features, tuning.chosen, seed, 'full'));
  const miniBatchRuns = reportSeeds.slice(0, 3).map((seed) => trainRun(cora, features, tuning.chosen, seed, 'mini'));
  const epochMs = epochTimes(cora, features, tuning.chosen.inputDropout);
  const allNodesMs = allNodesEpochTimes(cora, features, tuning.chosen.inputDropout);
  const inference = inference1000();
  const pytorch = pytorchBaseline(tuning.chosen);
  const testAccuracies = runs.map((r) => r.testAccuracy);
  const figures = {
    coraTestAccuracyMean: round(mean(testAccuracies), 4),
    coraTestAccuracyStd: round(std(testAccuracies), 4),
    epochMsMedian: round(median(epochMs), 3),
    msPerEpoch: round(median(epochMs), 3),
    epochAllNodesMsMedian: round(median(allNodesMs), 3),
    pytorchEpochMsMedian: pytorch.epochMsMedian,
    pytorchTestAccuracy: pytorch.testAccuracyMean,
    inference1000NodesMs: inference.ms,
  };
  const details = {
    protocol:
      'Cora, public Planetoid split (140/500/1000), features row-normalised (L1); 2-layer GraphSAGE-mean, softmax head, full batch; Adam lr 0.01, weight decay 5e-4 (added to the gradient, as torch.optim.Adam), dropout 0.5 on the hidden layer, 200 epochs; test accuracy at the first epoch with the best validation accuracy; std is the population std over the 10 seeds.',
    tuning: { grid: tuning.table, tuningSeeds, chosen: tuning.chosen, rule: 'highest mean best-validation accuracy over the tuning seeds, ties to the earlier (smaller) setting; test accuracy is not looked at' },
    runs,
    miniBatch: { fanouts: '25 sampled neighbours per target, 10 per neighbour of those (S1 = 25, S2 = 10)', batches: 'two batches of 70 training nodes per epoch, same setting as the full-batch runs', testAccuracyMean: round(mean(miniBatchRuns.map((r) => r.testAccuracy)), 4), runs: miniBatchRuns },
    epoch: {
      what: 'Trainer.stepFullBatch: forward + loss + backward + Adam, hidden 16, one thread; the trainer computes the 2-hop receptive field of the 140 training nodes with every neighbour (loss and gradient identical to a pass over all nodes). epochAllNodesMsMedian computes all 2708 nodes, as a plain full-batch implementation does.',
      warmupEpochs: timingWarmupEpochs,
      timedEpochs,
      epochMsP10: round(percentileOf(epochMs, 10)!, 3),
      epochMsP90: round(percentileOf(epochMs, 90)!, 3),
      allNodesMsP10: round(percentileOf(allNodesMs, 10)!, 3),
      allNodesMsP90: round(percentileOf(allNodesMs, 90)!, 3),
    },
    firstLayerNeighbourTerm: {
      ...firstLayerOrders(cora, features),
      what: 'forward + weight gradient of mean(X_neighbours) W_neigh for all nodes, 16 units: projectFirst = A (X W), used by src/ml; aggregateOnce = (A X) W with A X precomputed once as a sparse matrix',
    },
    inference: inference.setup,
    pytorch: pytorch.note,
    bars: 'coraTestAccuracyMean >= 0.80; epochMsMedian <= 6 (2x the ~3 ms PyTorch reference)',
  };
  return { figures, details };
}
