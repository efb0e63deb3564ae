/**
 * Forward and backward passes of mean-aggregator GraphSAGE over a list of blocks, one per
 * layer. Layer k computes, for each output row v,
 *
 *   z_v = h_v W_self + mean_{u in N(v)} h_u W_neigh + b
 *
 * (Hamilton et al. 2017, the concatenation form split into two matrices), then for hidden
 * layers ReLU, optional L2 normalisation and, in training, inverted dropout on the way into
 * the next layer. The last layer's z are the logits of the head.
 *
 * The mean is linear, so it can be taken before or after the neighbour projection. Sparse
 * input is always projected first (aggregating bag-of-words rows would densify them); a dense
 * layer takes whichever order costs fewer multiply-adds on its block (`aggregationOrder`).
 * Every buffer lives in a Workspace that only grows, so a training loop allocates nothing
 * after its first step.
 */
import type { Block } from './block.js';
import type { LayerViews } from './config.js';
import type { Features } from './features.js';
import {
  addBias,
  biasGradient,
  denseMatMul,
  denseMatMulTransposeA,
  denseMatMulTransposeB,
  dropoutBackward,
  dropoutInto,
  l2NormalizeRows,
  l2NormalizeRowsBackward,
  meanAggregate,
  meanAggregateTranspose,
  reluBackward,
  reluInPlace,
  sparseMatMul,
  sparseMatMulTransposeA,
  type CsrArrays,
} from './kernels.js';
import { l2NormFloor } from './limits.js';
import type { RandomSource } from './random.js';

/** Whether a layer projects every input row then averages (projectFirst) or averages then projects the outputs' means. */
export type AggregationOrder = 'projectFirst' | 'aggregateFirst';

/** Dropout rates for a training pass: `rate` on hidden representations, `inputRate` on input features. */
export interface Dropout {
  readonly rate: number;
  readonly inputRate: number;
  readonly random: RandomSource;
}

/**
 * The cheaper order for one layer on one block, counting multiply-adds: projecting first costs
 * src x in x out for the projection plus edges x out for the mean; averaging first costs
 * edges x in plus dst x in x out. Sparse input is always projected first.
 */
export function aggregationOrder(block: Block, inDim: number, outDim: number, sparseInput: boolean): AggregationOrder {
  if (sparseInput) return 'projectFirst';
  const edges = block.offsets[block.dstCount]!;
  const projectFirst = block.srcCount * inDim * outDim + edges * outDim;
  const aggregateFirst = edges * inDim + block.dstCount * inDim * outDim;
  return projectFirst <= aggregateFirst ? 'projectFirst' : 'aggregateFirst';
}

function grown(buffer: Float32Array | undefined, size: number): Float32Array {
  if (buffer !== undefined && buffer.length >= size) return buffer;
  // Growing by half again keeps mini-batch steps, whose sizes vary, from reallocating each time.
  return new Float32Array(Math.max(size, Math.ceil((buffer?.length ?? 0) * 1.5)));
}

const empty = new Float32Array(0);

/** Every intermediate of a pass, kept for the backward pass; reused across passes and grown on demand. */
export class Workspace {
  /** Per layer: [dst x out] pre-activations, turned in place into the hidden output (ReLU, L2). */
  readonly pre: Float32Array[] = [];
  /** Per layer: [dst] L2 scale factors. */
  readonly scales: Float32Array[] = [];
  /** Per layer: [src x out] neighbour projections (projectFirst) or [dst x in] neighbour means (aggregateFirst). */
  readonly aux: Float32Array[] = [];
  /** Per layer: gradients of `pre` and `aux`. */
  readonly dPre: Float32Array[] = [];
  readonly dAux: Float32Array[] = [];
  /** Per layer k >= 1: the input after dropout; index 0: dense input features after input dropout. */
  readonly dropped: Float32Array[] = [];
  /** Sparse input values after input dropout. */
  droppedValues: Float32Array = empty;
  readonly orders: AggregationOrder[] = [];
  /** Per layer: whether its input went through dropout in the last forward pass. */
  readonly inputDropped: boolean[] = [];

  /** Sizes the forward buffers for a pass over `blocks` (growing, never shrinking); `dropout` adds the dropout outputs. */
  prepare(layers: readonly LayerViews[], blocks: readonly Block[], input: Features, dropout: boolean): void {
    for (let k = 0; k < layers.length; k++) {
      const { inputDim, outputDim } = layers[k]!;
      const block = blocks[k]!;
      const sparse = k === 0 && input.kind === 'sparse';
      const order = aggregationOrder(block, inputDim, outputDim, sparse);
      this.orders[k] = order;
      this.pre[k] = grown(this.pre[k], block.dstCount * outputDim);
      this.scales[k] = grown(this.scales[k], block.dstCount);
      this.aux[k] = grown(this.aux[k], order === 'projectFirst' ? block.srcCount * outputDim : block.dstCount * inputDim);
      if (dropout && k > 0) this.dropped[k] = grown(this.dropped[k], block.srcCount * inputDim);
    }
    if (dropout && input.kind === 'dense') this.dropped[0] = grown(this.dropped[0], input.values.length);
    if (dropout && input.kind === 'sparse') this.droppedValues = grown(this.droppedValues, input.values.length);
  }

  /** Sizes the gradient buffers for a backward pass over the blocks of the last forward pass. */
  prepareBackward(layers: readonly LayerViews[], blocks: readonly Block[]): void {
    for (let k = 0; k < layers.length; k++) {
      const block = blocks[k]!;
      this.dPre[k] = grown(this.dPre[k], block.dstCount * layers[k]!.outputDim);
      this.dAux[k] = grown(this.dAux[k], this.aux[k]!.length);
    }
  }
}

/** Layer k's input as the forward pass left it: sparse or dense input features (maybe dropped out) or the previous layer's output. */
function layerInput(ws: Workspace, k: number, input: Features): CsrArrays | Float32Array {
  if (k > 0) return ws.inputDropped[k] ? ws.dropped[k]! : ws.pre[k - 1]!;
  if (input.kind === 'dense') return ws.inputDropped[0] ? ws.dropped[0]! : input.values;
  return { offsets: input.offsets, indices: input.indices, values: ws.inputDropped[0] ? ws.droppedValues : input.values };
}

/** Applies input dropout to the features (training only) and records whether it did. */
function dropInput(ws: Workspace, input: Features, dropout: Dropout | null): void {
  ws.inputDropped[0] = dropout !== null && dropout.inputRate > 0;
  if (!ws.inputDropped[0]) return;
  const target = input.kind === 'dense' ? ws.dropped[0]! : ws.droppedValues;
  dropoutInto(input.values, input.values.length, dropout!.inputRate, dropout!.random, target);
}

/**
 * Runs the layers over `blocks` (blocks[k] for layer k; input row r of blocks[0] is row r of
 * `input`) and leaves the logits in ws.pre[K-1] ([dst of the last block x outputDim]). With
 * `dropout` the pass is a training pass and keeps what the backward pass needs.
 */
export function forward(layers: readonly LayerViews[], l2Normalize: boolean, blocks: readonly Block[], input: Features, ws: Workspace, dropout: Dropout | null): void {
  ws.prepare(layers, blocks, input, dropout !== null);
  dropInput(ws, input, dropout);
  for (let k = 0; k < layers.length; k++) {
    layerForward(layers[k]!, blocks[k]!, layerInput(ws, k, input), ws, k);
    if (k === layers.length - 1) break;
    const { outputDim } = layers[k]!;
    const rows = blocks[k]!.dstCount;
    const hidden = ws.pre[k]!;
    reluInPlace(hidden, rows * outputDim);
    if (l2Normalize) l2NormalizeRows(hidden, rows, outputDim, l2NormFloor, ws.scales[k]!);
    ws.inputDropped[k + 1] = dropout !== null && dropout.rate > 0;
    if (ws.inputDropped[k + 1]) dropoutInto(hidden, rows * outputDim, dropout!.rate, dropout!.random, ws.dropped[k + 1]!);
  }
}

/** z = h_self W_self + mean(h_neigh) W_neigh + b for one layer into ws.pre[k]. */
function layerForward(layer: LayerViews, block: Block, input: CsrArrays | Float32Array, ws: Workspace, k: number): void {
  const { inputDim, outputDim, selfWeight, neighbourWeight, bias } = layer;
  const { dstCount, srcCount, offsets, neighbours } = block;
  const pre = ws.pre[k]!;
  const aux = ws.aux[k]!;
  if (!(input instanceof Float32Array)) {
    sparseMatMul(input, dstCount, selfWeight, outputDim, pre, false);
    sparseMatMul(input, srcCount, neighbourWeight, outputDim, aux, false);
    meanAggregate(aux, outputDim, offsets, neighbours, dstCount, pre, true);
  } else if (ws.orders[k] === 'projectFirst') {
    denseMatMul(input, dstCount, inputDim, selfWeight, outputDim, pre, false);
    denseMatMul(input, srcCount, inputDim, neighbourWeight, outputDim, aux, false);
    meanAggregate(aux, outputDim, offsets, neighbours, dstCount, pre, true);
  } else {
    meanAggregate(input, inputDim, offsets, neighbours, dstCount, aux, false);
    denseMatMul(input, dstCount, inputDim, selfWeight, outputDim, pre, false);
    denseMatMul(aux, dstCount, inputDim, neighbourWeight, outputDim, pre, true);
  }
  addBias(pre, dstCount, bias);
}

/**
 * Back-propagates the logit gradients the caller left in ws.dPre[K-1] (sized by
 * ws.prepareBackward) through every layer of the last forward pass, adding parameter gradients
 * into `gradients` (which the caller zeroes). `dropoutRate` is the hidden dropout rate of that
 * pass. No gradient flows into the input features.
 */
export function backward(layers: readonly LayerViews[], gradients: readonly LayerViews[], l2Normalize: boolean, blocks: readonly Block[], input: Features, ws: Workspace, dropoutRate: number): void {
  for (let k = layers.length - 1; k >= 0; k--) {
    layerBackward(layers[k]!, gradients[k]!, blocks[k]!, layerInput(ws, k, input), ws, k);
    if (k === 0) break;
    const { outputDim } = layers[k - 1]!;
    const rows = blocks[k - 1]!.dstCount;
    const d = ws.dPre[k - 1]!;
    if (ws.inputDropped[k]) dropoutBackward(ws.dropped[k]!, rows * outputDim, dropoutRate, d);
    if (l2Normalize) l2NormalizeRowsBackward(ws.pre[k - 1]!, rows, outputDim, l2NormFloor, ws.scales[k - 1]!, d);
    reluBackward(ws.pre[k - 1]!, rows * outputDim, d);
  }
}

/** Gradients of one layer: its parameters, and (k > 0) its input into ws.dPre[k-1]. */
function layerBackward(layer: LayerViews, gradient: LayerViews, block: Block, input: CsrArrays | Float32Array, ws: Workspace, k: number): void {
  const { inputDim, outputDim, selfWeight, neighbourWeight } = layer;
  const { dstCount, srcCount, offsets, neighbours } = block;
  const d = ws.dPre[k]!;
  const dAux = ws.dAux[k]!;
  const dInput = k > 0 ? ws.dPre[k - 1]! : null;
  biasGradient(d, dstCount, gradient.bias);
  if (ws.orders[k] === 'projectFirst') {
    dAux.fill(0, 0, srcCount * outputDim);
    meanAggregateTranspose(d, outputDim, offsets, neighbours, dstCount, dAux);
    if (!(input instanceof Float32Array)) {
      sparseMatMulTransposeA(input, dstCount, d, outputDim, gradient.selfWeight);
      sparseMatMulTransposeA(input, srcCount, dAux, outputDim, gradient.neighbourWeight);
      return;
    }
    denseMatMulTransposeA(input, dstCount, inputDim, d, outputDim, gradient.selfWeight);
    denseMatMulTransposeA(input, srcCount, inputDim, dAux, outputDim, gradient.neighbourWeight);
    if (dInput === null) return;
    denseMatMulTransposeB(dAux, srcCount, outputDim, neighbourWeight, inputDim, dInput, false);
    denseMatMulTransposeB(d, dstCount, outputDim, selfWeight, inputDim, dInput, true);
    return;
  }
  // Only dense input is averaged before the projection (aggregationOrder).
  const dense = input as Float32Array;
  denseMatMulTransposeA(dense, dstCount, inputDim, d, outputDim, gradient.selfWeight);
  denseMatMulTransposeA(ws.aux[k]!, dstCount, inputDim, d, outputDim, gradient.neighbourWeight);
  if (dInput === null) return;
  dInput.fill(0, 0, srcCount * inputDim);
  denseMatMulTransposeB(d, dstCount, outputDim, selfWeight, inputDim, dInput, true);
  denseMatMulTransposeB(d, dstCount, outputDim, neighbourWeight, inputDim, dAux, false);
  meanAggregateTranspose(dAux, inputDim, offsets, neighbours, dstCount, dInput);
}
