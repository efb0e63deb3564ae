/**
 * Neighbour sampling for mini-batch training (Hamilton et al. 2017, Algorithm 2): for a batch
 * of target nodes, layer K-1 averages at most fanouts[K-1] sampled neighbours of each target,
 * layer K-2 at most fanouts[K-2] neighbours of each node layer K-1 needs, and so on down to the
 * input. Sampling is without replacement and draws only from the random source passed in, so a
 * seed fixes every batch.
 */
import type { Block } from './block.js';
import { MlError, MlErrorCode } from './errors.js';
import { fanoutMax } from './limits.js';
import { checkGraph, type CsrGraph } from './graph.js';
import { uniformBelow, type RandomSource } from './random.js';

/** The blocks of one sampled mini-batch, bottom layer first, and the graph nodes of its input and output rows. */
export interface SampledBatch {
  /** blocks[k] is layer k's computation graph; blocks[k].dstCount === blocks[k + 1].srcCount. */
  readonly blocks: readonly Block[];
  /** Graph node of each input row of blocks[0] (the rows of features to gather). */
  readonly inputNodes: Int32Array;
  /** Graph node of each output row of the last block: the targets, in the order given. */
  readonly outputNodes: Int32Array;
}

/** Samples mini-batch blocks from one graph; keeps its scratch arrays between batches. */
export class NeighbourSampler {
  /** Local row of each graph node in the layer being built, or -1. */
  private readonly localOf: Int32Array;
  private readonly scratch: Int32Array;

  /** Checks `graph` once; batches are then sampled without further checks of it. */
  constructor(readonly graph: CsrGraph) {
    checkGraph(graph);
    this.localOf = new Int32Array(graph.nodeCount).fill(-1);
    let degreeMax = 0;
    for (let v = 0; v < graph.nodeCount; v++) degreeMax = Math.max(degreeMax, graph.offsets[v + 1]! - graph.offsets[v]!);
    this.scratch = new Int32Array(degreeMax);
  }

  /**
   * Blocks for `targets` (distinct graph nodes) with fanouts[k] neighbours sampled per node for
   * layer k; a node with fewer neighbours keeps all of them.
   */
  sample(targets: Int32Array, fanouts: readonly number[], random: RandomSource): SampledBatch {
    fanouts.forEach((fanout, k) => {
      if (!Number.isInteger(fanout) || fanout < 1 || fanout > fanoutMax) {
        throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `NeighbourSampler.sample: expected fanouts[${k}] to be an integer in 1..${fanoutMax}, got ${fanout}`);
      }
    });
    return this.build(targets, fanouts, random);
  }

  /**
   * Blocks for `targets` through `layers` layers with every neighbour (no sampling): the
   * receptive field of the targets. A pass over these blocks gives the targets exactly the
   * outputs and gradients of a pass over the whole graph, while computing only the rows that
   * reach them.
   */
  expand(targets: Int32Array, layers: number): SampledBatch {
    return this.build(targets, new Array<number>(layers).fill(Number.POSITIVE_INFINITY), null);
  }

  private build(targets: Int32Array, fanouts: readonly number[], random: RandomSource | null): SampledBatch {
    this.checkTargets(targets);
    const blocks: Block[] = new Array<Block>(fanouts.length);
    let nodes: Int32Array = targets.slice();
    for (let k = fanouts.length - 1; k >= 0; k--) {
      const { block, srcNodes } = this.sampleLayer(nodes, fanouts[k]!, random);
      blocks[k] = block;
      nodes = srcNodes;
    }
    return { blocks, inputNodes: nodes, outputNodes: targets.slice() };
  }

  private checkTargets(targets: Int32Array): void {
    for (let i = 0; i < targets.length; i++) {
      const node = targets[i]!;
      if (node < 0 || node >= this.graph.nodeCount) {
        this.resetLocal(targets.subarray(0, i));
        throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `NeighbourSampler: targets[${i}] = ${node} is outside 0..${this.graph.nodeCount - 1}`);
      }
      if (this.localOf[node] !== -1) {
        this.resetLocal(targets.subarray(0, i));
        throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `NeighbourSampler: node ${node} appears twice in targets (again at ${i})`);
      }
      this.localOf[node] = i;
    }
    this.resetLocal(targets);
  }

  private resetLocal(nodes: Int32Array): void {
    for (let i = 0; i < nodes.length; i++) this.localOf[nodes[i]!] = -1;
  }

  /** One block whose outputs are `dstNodes`: samples their neighbours and lists the new ones after them as inputs. */
  private sampleLayer(dstNodes: Int32Array, fanout: number, random: RandomSource | null): { block: Block; srcNodes: Int32Array } {
    const src: number[] = Array.from(dstNodes);
    dstNodes.forEach((node, i) => (this.localOf[node] = i));
    const blockOffsets = new Int32Array(dstNodes.length + 1);
    const picked: number[] = [];
    for (let i = 0; i < dstNodes.length; i++) {
      for (const chosen of this.pick(dstNodes[i]!, fanout, random)) {
        let local = this.localOf[chosen]!;
        if (local === -1) local = this.localOf[chosen] = src.push(chosen) - 1;
        picked.push(local);
      }
      blockOffsets[i + 1] = picked.length;
    }
    const srcNodes = Int32Array.from(src);
    this.resetLocal(srcNodes);
    const block: Block = { dstCount: dstNodes.length, srcCount: srcNodes.length, offsets: blockOffsets, neighbours: Int32Array.from(picked) };
    return { block, srcNodes };
  }

  /** Up to `fanout` distinct neighbours of `node`: all of them when it has no more, else a uniform sample (partial Fisher-Yates). */
  private pick(node: number, fanout: number, random: RandomSource | null): Int32Array {
    const { offsets, neighbours } = this.graph;
    const start = offsets[node]!;
    const degree = offsets[node + 1]! - start;
    // expand() passes an infinite fanout and no random source: it always returns here.
    if (degree <= fanout) return neighbours.subarray(start, start + degree);
    this.scratch.set(neighbours.subarray(start, start + degree));
    for (let j = 0; j < fanout; j++) {
      const swap = j + uniformBelow(random!, degree - j);
      const chosen = this.scratch[swap]!;
      this.scratch[swap] = this.scratch[j]!;
      this.scratch[j] = chosen;
    }
    return this.scratch.subarray(0, fanout);
  }
}
