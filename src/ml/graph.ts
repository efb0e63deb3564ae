/**
 * Graphs as CSR (compressed sparse rows): the neighbours of node v are
 * `neighbours[offsets[v] .. offsets[v + 1])`. GraphSAGE's mean aggregator walks these lists,
 * so one flat Int32Array keeps the walk cache-friendly and allocation-free.
 */
import { MlError, MlErrorCode } from './errors.js';

/** A directed graph in CSR form; an undirected graph lists every edge in both directions. */
export interface CsrGraph {
  /** Number of nodes; node ids are 0..nodeCount-1. */
  readonly nodeCount: number;
  /** nodeCount + 1 non-decreasing offsets into `neighbours`, starting at 0. */
  readonly offsets: Int32Array;
  /** Neighbour node ids, grouped by node. */
  readonly neighbours: Int32Array;
}

/**
 * Checks that `offsets`/`indices` form a well-shaped CSR structure with `rows` rows and indices
 * in 0..columns-1; `what` names the structure in the error. Shared by graphs and sparse features.
 */
export function checkCsr(what: string, rows: number, columns: number, offsets: Int32Array, indices: Int32Array): void {
  if (offsets.length !== rows + 1) {
    throw new MlError(MlErrorCode.ERR_ML_SHAPE, `${what}: expected ${rows + 1} offsets for ${rows} rows, got ${offsets.length}`);
  }
  if (offsets[0] !== 0) throw new MlError(MlErrorCode.ERR_ML_GRAPH, `${what}: expected offsets[0] = 0, got ${offsets[0]}`);
  if (offsets[rows] !== indices.length) {
    throw new MlError(MlErrorCode.ERR_ML_GRAPH, `${what}: expected offsets[${rows}] = ${indices.length} (the index count), got ${offsets[rows]}`);
  }
  for (let row = 0; row < rows; row++) {
    if (offsets[row + 1]! < offsets[row]!) {
      throw new MlError(MlErrorCode.ERR_ML_GRAPH, `${what}: offsets decrease at row ${row} (${offsets[row]} then ${offsets[row + 1]})`);
    }
  }
  for (let at = 0; at < indices.length; at++) {
    const index = indices[at]!;
    if (index < 0 || index >= columns) {
      throw new MlError(MlErrorCode.ERR_ML_GRAPH, `${what}: index ${index} at position ${at} is outside 0..${columns - 1}`);
    }
  }
}

/** Checks a CsrGraph's structure (offsets, neighbour ids in range) and returns it. */
export function checkGraph(graph: CsrGraph): CsrGraph {
  if (!Number.isInteger(graph.nodeCount) || graph.nodeCount < 0) {
    throw new MlError(MlErrorCode.ERR_ML_ARGUMENT, `graph: expected a non-negative integer nodeCount, got ${graph.nodeCount}`);
  }
  checkCsr('graph', graph.nodeCount, graph.nodeCount, graph.offsets, graph.neighbours);
  return graph;
}

/**
 * Builds an undirected CSR graph from an edge list `[a0, b0, a1, b1, ...]`: each edge appears in
 * both nodes' lists, duplicates are dropped, lists are sorted. Self-loops are kept once, since
 * whether a node counts as its own neighbour is the caller's choice.
 */
export function undirectedGraph(nodeCount: number, edgeEnds: Int32Array | readonly number[]): CsrGraph {
  if (edgeEnds.length % 2 !== 0) throw new MlError(MlErrorCode.ERR_ML_SHAPE, `undirectedGraph: expected an even number of edge ends, got ${edgeEnds.length}`);
  const degree = new Int32Array(nodeCount + 1);
  for (let at = 0; at < edgeEnds.length; at++) {
    const node = edgeEnds[at]!;
    if (!Number.isInteger(node) || node < 0 || node >= nodeCount) {
      throw new MlError(MlErrorCode.ERR_ML_GRAPH, `undirectedGraph: edge ${at >> 1} has node ${node}, outside 0..${nodeCount - 1}`);
    }
    degree[node + 1]!++;
  }
  for (let node = 0; node < nodeCount; node++) degree[node + 1]! += degree[node]!;
  const fill = degree.slice(0, nodeCount);
  const raw = new Int32Array(edgeEnds.length);
  for (let at = 0; at < edgeEnds.length; at += 2) {
    const a = edgeEnds[at]!;
    const b = edgeEnds[at + 1]!;
    raw[fill[a]!++] = b;
    if (a !== b) raw[fill[b]!++] = a;
  }
  return compactSorted(nodeCount, degree, fill, raw);
}

/** Sorts each node's list in `raw[offsets[v] .. fill[v])` and drops duplicates into a tight CSR. */
function compactSorted(nodeCount: number, offsets: Int32Array, fill: Int32Array, raw: Int32Array): CsrGraph {
  const tight = new Int32Array(nodeCount + 1);
  const neighbours = new Int32Array(raw.length);
  let written = 0;
  for (let node = 0; node < nodeCount; node++) {
    const list = raw.subarray(offsets[node]!, fill[node]!).sort();
    for (let at = 0; at < list.length; at++) {
      if (at === 0 || list[at] !== list[at - 1]) neighbours[written++] = list[at]!;
    }
    tight[node + 1] = written;
  }
  return { nodeCount, offsets: tight, neighbours: neighbours.slice(0, written) };
}
