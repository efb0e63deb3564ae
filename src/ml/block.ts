/**
 * A block is one layer's bipartite computation graph (the "message flow graph" of sampled
 * GraphSAGE): `dstCount` output rows, `srcCount` input rows, and for each output row the input
 * rows it averages. Output row i is input row i (the node's own previous representation), so
 * the first dstCount input rows are the outputs' own rows. Full-batch training uses the whole
 * graph as every layer's block; mini-batch training samples smaller blocks.
 */
import type { CsrGraph } from './graph.js';

/** One layer's computation graph: output row i averages input rows neighbours[offsets[i] .. offsets[i+1]). */
export interface Block {
  readonly dstCount: number;
  readonly srcCount: number;
  /** dstCount + 1 offsets into `neighbours`. */
  readonly offsets: Int32Array;
  /** Input row indices (0..srcCount-1). */
  readonly neighbours: Int32Array;
}

/** The whole graph as a block: every node is an output and averages all its neighbours. */
export function blockOfGraph(graph: CsrGraph): Block {
  return { dstCount: graph.nodeCount, srcCount: graph.nodeCount, offsets: graph.offsets, neighbours: graph.neighbours };
}

/** K copies of the whole-graph block: the blocks of a full-batch pass through K layers. */
export function fullGraphBlocks(graph: CsrGraph, layers: number): Block[] {
  const block = blockOfGraph(graph);
  return Array.from({ length: layers }, () => block);
}
