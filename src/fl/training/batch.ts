/**
 * One local mini-batch: several windows of a client side by side, with the loss over the rows
 * the client owns only. The windows' graphs become one block-diagonal graph, and the blocks of
 * the pass are the receptive field of the owned rows (NeighbourSampler.expand): a 2-layer
 * GraphSAGE computes its hidden layer only for the owned rows and their neighbours, and reads
 * input rows only up to two hops away. This gives the owned rows exactly the outputs and
 * gradients of a pass over the whole windows at a fraction of the cost.
 */
import type { Block } from '../../ml/block.js';
import { denseFeatures, type DenseFeatures } from '../../ml/features.js';
import { NeighbourSampler } from '../../ml/sampler.js';
import type { TrainingCorpus } from './corpus.js';

/** Rows of one corpus window that a batch trains on. */
export interface BatchPick {
  readonly window: number;
  readonly rows: Int32Array;
}

/** What one step of local training consumes. */
export interface LocalBatch {
  readonly blocks: readonly Block[];
  /** Input rows of blocks[0]. */
  readonly features: DenseFeatures;
  /** Class of each output row of the last block (the trained rows, in pick order). */
  readonly labels: Uint8Array;
}

/** The block-diagonal graph of the picked windows and the first united row of each. */
function unitedGraph(corpus: TrainingCorpus, picks: readonly BatchPick[]): { offsets: Int32Array; neighbours: Int32Array; bases: Int32Array } {
  const graphs = picks.map((pick) => corpus.windows[pick.window]!.graph.graph);
  const bases = new Int32Array(picks.length + 1);
  graphs.forEach((graph, i) => (bases[i + 1] = bases[i]! + graph.nodeCount));
  const offsets = new Int32Array(bases[picks.length]! + 1);
  const neighbours = new Int32Array(graphs.reduce((sum, graph) => sum + graph.neighbours.length, 0));
  let edge = 0;
  graphs.forEach((graph, i) => {
    const base = bases[i]!;
    for (let r = 0; r < graph.nodeCount; r++) offsets[base + r + 1] = edge + graph.offsets[r + 1]!;
    for (let e = 0; e < graph.neighbours.length; e++) neighbours[edge + e] = graph.neighbours[e]! + base;
    edge += graph.neighbours.length;
  });
  return { offsets, neighbours, bases };
}

/**
 * The batch of `picks` for a model of `depth` layers; `labelMap` (when given) replaces each
 * class c by labelMap[c] (the label-flip attack trains on mapped labels).
 */
export function buildBatch(corpus: TrainingCorpus, picks: readonly BatchPick[], depth: number, labelMap: Uint8Array | null = null): LocalBatch {
  const { offsets, neighbours, bases } = unitedGraph(corpus, picks);
  const rowCount = bases[picks.length]!;
  const windowOfRow = new Int32Array(rowCount);
  picks.forEach((_, i) => windowOfRow.fill(i, bases[i]!, bases[i + 1]!));
  const targets = new Int32Array(picks.reduce((sum, pick) => sum + pick.rows.length, 0));
  const labels = new Uint8Array(targets.length);
  let at = 0;
  picks.forEach((pick, i) => {
    const windowLabels = corpus.windows[pick.window]!.labels;
    for (const row of pick.rows) {
      targets[at] = bases[i]! + row;
      const label = windowLabels[row]!;
      labels[at++] = labelMap === null ? label : labelMap[label]!;
    }
  });
  const sampled = new NeighbourSampler({ nodeCount: rowCount, offsets, neighbours }).expand(targets, depth);
  const dim = corpus.inputDim;
  const values = new Float32Array(sampled.inputNodes.length * dim);
  sampled.inputNodes.forEach((united, r) => {
    const pick = windowOfRow[united]!;
    const local = united - bases[pick]!;
    values.set(corpus.windows[picks[pick]!.window]!.input.subarray(local * dim, (local + 1) * dim), r * dim);
  });
  return { blocks: sampled.blocks, features: denseFeatures(sampled.inputNodes.length, dim, values), labels };
}
