/**
 * Undirected graphs that the twin runs a mesh on: generators, an edge-list parser, and a
 * few graph helpers (adjacency, connectivity, hop counts).
 *
 * Every topology is canonical: nodes are 0..nodeCount-1, each edge is [a, b] with a < b,
 * there are no self-loops or duplicates, and edges are sorted lexicographically. The same
 * parameters and seed therefore give the same edge list, byte for byte, and reports that
 * iterate over edges come out in the same order.
 */

import type { Prng } from './prng.js';

/** Most nodes a topology may have; bounds memory and keeps the edge sort key a*n+b an exact integer. */
export const topologyNodeCountMax = 1_000_000;

/** How many times `randomGeometric` moves nodes outside the largest component before giving up. */
export const geometricRoundsMax = 50;

/** An undirected edge between node indexes, smaller index first. */
export type Edge = readonly [number, number];

/** An undirected graph on nodes 0..nodeCount-1 with canonical (a < b, sorted, unique) edges. */
export interface Topology {
  readonly kind: string;
  readonly nodeCount: number;
  readonly edges: readonly Edge[];
  /** Node coordinates in the unit square, for generators that place nodes and for plots. */
  readonly positions?: readonly (readonly [number, number])[];
  /** Original node names, for topologies read from an edge list. */
  readonly labels?: readonly string[];
}

/** Stable codes of topology errors, for callers that branch on them and for CLI messages. */
export type TopologyErrorCode = 'ERR_TOPOLOGY_PARAM' | 'ERR_TOPOLOGY_PARSE' | 'ERR_TOPOLOGY_DISCONNECTED';

/** A bad generator parameter, an unparsable edge list, or a graph that could not be made connected. */
export class TopologyError extends Error {
  override readonly name = 'TopologyError';
  readonly code: TopologyErrorCode;

  /** An error with a stable `code` and a message naming the generator or source line and the value. */
  constructor(code: TopologyErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

function paramError(fn: string, message: string): TopologyError {
  return new TopologyError('ERR_TOPOLOGY_PARAM', `${fn}: ${message}`);
}

function checkInt(fn: string, name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw paramError(fn, `expected ${name} to be an integer in ${min}..${max}, got ${value}`);
  }
}

/**
 * Sorts edges given as parallel endpoint lists (a < b, no duplicates: callers never make
 * them) into canonical order. Sorting the numeric keys a*n+b in a Float64Array is exact (n <= 10^6) and
 * much faster than sorting tuples with a comparator.
 */
function canonicalEdges(nodeCount: number, from: readonly number[], to: readonly number[]): Edge[] {
  const keys = new Float64Array(from.length);
  for (let i = 0; i < from.length; i++) keys[i] = from[i]! * nodeCount + to[i]!;
  keys.sort();
  const edges: Edge[] = [];
  for (const key of keys) {
    const a = Math.floor(key / nodeCount);
    edges.push([a, key - a * nodeCount]);
  }
  return edges;
}

/** A path 0-1-...-(n-1), the worst case for hop count and for partitions by one failure. */
export function line(n: number): Topology {
  checkInt('line', 'n', n, 1, topologyNodeCountMax);
  const edges: Edge[] = [];
  for (let i = 0; i + 1 < n; i++) edges.push([i, i + 1]);
  const positions = Array.from({ length: n }, (_, i) => [n === 1 ? 0.5 : i / (n - 1), 0.5] as const);
  return { kind: 'line', nodeCount: n, edges, positions };
}

/** A cycle of n >= 3 nodes: the smallest graph where every single link failure has a detour. */
export function ring(n: number): Topology {
  checkInt('ring', 'n', n, 3, topologyNodeCountMax);
  const from: number[] = [];
  const to: number[] = [];
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    from.push(Math.min(i, j));
    to.push(Math.max(i, j));
  }
  const positions = Array.from({ length: n }, (_, i) => {
    const angle = (2 * Math.PI * i) / n;
    return [0.5 + 0.5 * Math.cos(angle), 0.5 + 0.5 * Math.sin(angle)] as const;
  });
  return { kind: 'ring', nodeCount: n, edges: canonicalEdges(n, from, to), positions };
}

/** A rows x cols lattice (node r*cols + c, 4-neighbour links): many equal-cost paths, like a city mesh. */
export function grid(rows: number, cols: number): Topology {
  checkInt('grid', 'rows', rows, 1, topologyNodeCountMax);
  checkInt('grid', 'cols', cols, 1, topologyNodeCountMax);
  if (rows * cols > topologyNodeCountMax) {
    throw paramError('grid', `expected rows * cols <= ${topologyNodeCountMax}, got ${rows * cols}`);
  }
  const edges: Edge[] = [];
  const positions: (readonly [number, number])[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const node = r * cols + c;
      // Lexicographic order: for node, the right neighbour (node + 1) precedes the one below.
      if (c + 1 < cols) edges.push([node, node + 1]);
      if (r + 1 < rows) edges.push([node, node + cols]);
      positions.push([cols === 1 ? 0.5 : c / (cols - 1), rows === 1 ? 0.5 : r / (rows - 1)]);
    }
  }
  return { kind: 'grid', nodeCount: rows * cols, edges, positions };
}

/**
 * A random geometric graph: n points uniform in the unit square, linked when their distance
 * is at most r = sqrt(avgDegree / (pi * n)), the radius whose disc holds avgDegree other
 * points on average away from the border (near the border discs are cut off, so the mean
 * degree comes out about 1 - 8r / (3 pi) of the target: 0.96 for n = 1000, avgDegree = 8).
 *
 * Connectivity: redrawing whole point sets until one is connected is hopeless at sizes the
 * twin needs (at n = 4000, avgDegree = 8 under 1 % of draws are connected, because a few
 * border and corner nodes end up isolated). Instead, the nodes outside the largest
 * component get new uniform positions, for at most `geometricRoundsMax` rounds, and only
 * then is the graph rejected. This biases positions slightly away from empty corners, as a
 * mesh operator places radios within reach of someone. Neighbours are found through a grid
 * of cells of side >= r, so a round costs O(n + edges), not O(n^2).
 */
export function randomGeometric(n: number, avgDegree: number, rng: Prng): Topology {
  checkInt('randomGeometric', 'n', n, 2, topologyNodeCountMax);
  if (!(avgDegree > 0 && avgDegree < n - 1)) {
    throw paramError('randomGeometric', `expected avgDegree in (0, ${n - 1}), got ${avgDegree}`);
  }
  const radius = Math.sqrt(avgDegree / (Math.PI * n));
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xs[i] = rng.next();
    ys[i] = rng.next();
  }
  for (let round = 0; round < geometricRoundsMax; round++) {
    const { from, to } = pairsWithin(xs, ys, radius);
    const strays = outsideLargestComponent(n, from, to);
    if (strays.length === 0) {
      const positions = Array.from({ length: n }, (_, i) => [xs[i]!, ys[i]!] as const);
      return { kind: 'randomGeometric', nodeCount: n, edges: canonicalEdges(n, from, to), positions };
    }
    for (const i of strays) {
      xs[i] = rng.next();
      ys[i] = rng.next();
    }
  }
  throw new TopologyError(
    'ERR_TOPOLOGY_DISCONNECTED',
    `randomGeometric: not connected after ${geometricRoundsMax} rounds of moving stray nodes, n = ${n}, avgDegree = ${avgDegree}`,
  );
}

/** Nodes outside the largest component, ascending (ties go to the component met first in index order). */
function outsideLargestComponent(n: number, from: readonly number[], to: readonly number[]): number[] {
  const parents = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < from.length; i++) parents[findRoot(parents, from[i]!)] = findRoot(parents, to[i]!);
  const roots = new Int32Array(n);
  const sizes = new Int32Array(n);
  for (let node = 0; node < n; node++) {
    roots[node] = findRoot(parents, node);
    sizes[roots[node]!]!++;
  }
  let largest = roots[0]!;
  for (let node = 0; node < n; node++) if (sizes[node]! > sizes[largest]!) largest = node;
  const strays: number[] = [];
  for (let node = 0; node < n; node++) if (roots[node] !== largest) strays.push(node);
  return strays;
}

/** All pairs i < j of points at distance <= radius, found by bucketing points into cells of side >= radius. */
function pairsWithin(xs: Float64Array, ys: Float64Array, radius: number): { from: number[]; to: number[] } {
  const n = xs.length;
  const side = Math.max(1, Math.floor(1 / radius));
  const cellOf = (i: number): number =>
    Math.min(side - 1, Math.floor(ys[i]! * side)) * side + Math.min(side - 1, Math.floor(xs[i]! * side));
  // Counting sort of points by cell: cellStart[c]..cellStart[c+1] indexes `order`.
  const cellStart = new Int32Array(side * side + 1);
  const cells = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    cells[i] = cellOf(i);
    cellStart[cells[i]! + 1]!++;
  }
  for (let c = 0; c < side * side; c++) cellStart[c + 1]! += cellStart[c]!;
  const fill = cellStart.slice(0, side * side);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[fill[cells[i]!]!++] = i;
  const from: number[] = [];
  const to: number[] = [];
  const radiusSquared = radius * radius;
  const linkWithin = (i: number, cell: number): void => {
    for (let k = cellStart[cell]!; k < cellStart[cell + 1]!; k++) {
      const j = order[k]!;
      if (j <= i) continue;
      const dx = xs[i]! - xs[j]!;
      const dy = ys[i]! - ys[j]!;
      if (dx * dx + dy * dy <= radiusSquared) {
        from.push(i);
        to.push(j);
      }
    }
  };
  for (let i = 0; i < n; i++) {
    const cx = cells[i]! % side;
    const cy = (cells[i]! - cx) / side;
    for (let y = Math.max(0, cy - 1); y <= Math.min(side - 1, cy + 1); y++) {
      for (let x = Math.max(0, cx - 1); x <= Math.min(side - 1, cx + 1); x++) linkWithin(i, y * side + x);
    }
  }
  return { from, to };
}

/**
 * A Barabasi-Albert scale-free graph: a complete seed graph on m + 1 nodes, then each new
 * node links to m distinct existing nodes chosen with probability proportional to degree.
 * Every node joins by at least one link, so the graph is connected by construction; it has
 * m(m + 1)/2 + m(n - m - 1) edges. The complete seed gives its nodes the same degree m as
 * later nodes, so no seed node starts as a privileged hub.
 */
export function barabasiAlbert(n: number, m: number, rng: Prng): Topology {
  checkInt('barabasiAlbert', 'n', n, 2, topologyNodeCountMax);
  checkInt('barabasiAlbert', 'm', m, 1, n - 1);
  const from: number[] = [];
  const to: number[] = [];
  // One entry per edge endpoint: a uniform pick from it is a pick proportional to degree.
  const endpoints: number[] = [];
  for (let a = 0; a <= m; a++) {
    for (let b = a + 1; b <= m; b++) {
      from.push(a);
      to.push(b);
      endpoints.push(a, b);
    }
  }
  const chosenBy = new Int32Array(n).fill(-1);
  const targets: number[] = [];
  for (let node = m + 1; node < n; node++) {
    targets.length = 0;
    while (targets.length < m) {
      const target = rng.pick(endpoints);
      if (chosenBy[target] === node) continue;
      chosenBy[target] = node;
      targets.push(target);
    }
    for (const target of targets) {
      from.push(target);
      to.push(node);
      endpoints.push(target, node);
    }
  }
  return { kind: 'barabasiAlbert', nodeCount: n, edges: canonicalEdges(n, from, to) };
}

/**
 * Reads an edge list: one `a b` pair of whitespace-free node labels per line, `#` starts a
 * comment, blank lines are skipped. Labels become indexes in order of first appearance.
 * Self-loops, duplicate edges and lines without exactly two labels are errors naming
 * `sourceName:line`, because a silently repaired topology would measure a different network.
 */
export function fromEdgeList(text: string, sourceName: string): Topology {
  const indexOf = new Map<string, number>();
  const firstLineOf = new Map<number, number>();
  const labels: string[] = [];
  const from: number[] = [];
  const to: number[] = [];
  const lines = text.split(/\r?\n/);
  for (let lineIndex = 0; lineIndex < lines.length; lineIndex++) {
    const where = `${sourceName}:${lineIndex + 1}`;
    const content = lines[lineIndex]!.replace(/#.*/, '').trim();
    if (content === '') continue;
    const tokens = content.split(/\s+/);
    if (tokens.length !== 2) {
      throw new TopologyError('ERR_TOPOLOGY_PARSE', `${where}: expected 2 node labels, got ${tokens.length}`);
    }
    const [left, right] = tokens as [string, string];
    if (left === right) throw new TopologyError('ERR_TOPOLOGY_PARSE', `${where}: self-loop on node ${left}`);
    const ends = [left, right].map((label) => {
      let index = indexOf.get(label);
      if (index === undefined) {
        if (labels.length === topologyNodeCountMax) {
          throw new TopologyError('ERR_TOPOLOGY_PARSE', `${where}: more than ${topologyNodeCountMax} nodes`);
        }
        index = labels.push(label) - 1;
        indexOf.set(label, index);
      }
      return index;
    });
    const a = Math.min(ends[0]!, ends[1]!);
    const b = Math.max(ends[0]!, ends[1]!);
    const key = a * topologyNodeCountMax + b;
    const first = firstLineOf.get(key);
    if (first !== undefined) {
      throw new TopologyError('ERR_TOPOLOGY_PARSE', `${where}: duplicate edge ${left} ${right} (first on line ${first})`);
    }
    firstLineOf.set(key, lineIndex + 1);
    from.push(a);
    to.push(b);
  }
  if (labels.length === 0) throw new TopologyError('ERR_TOPOLOGY_PARSE', `${sourceName}: expected at least one edge, got none`);
  return { kind: 'edgeList', nodeCount: labels.length, edges: canonicalEdges(labels.length, from, to), labels };
}

function checkEdgeEnds(fn: string, nodeCount: number, edge: Edge, index: number): void {
  const [a, b] = edge;
  if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b < 0 || a >= nodeCount || b >= nodeCount) {
    throw paramError(fn, `expected edge ${index} to join nodes in 0..${nodeCount - 1}, got [${a}, ${b}]`);
  }
}

/** Sorted neighbour lists of every node: the form routing oracles and BFS walk. */
export function adjacency(topology: Topology): number[][] {
  const neighbours = Array.from({ length: topology.nodeCount }, (): number[] => []);
  topology.edges.forEach((edge, index) => {
    checkEdgeEnds('adjacency', topology.nodeCount, edge, index);
    neighbours[edge[0]]!.push(edge[1]);
    neighbours[edge[1]]!.push(edge[0]);
  });
  // Canonical edges already yield sorted lists; sorting keeps hand-built topologies canonical too.
  for (const list of neighbours) list.sort((x, y) => x - y);
  return neighbours;
}

/** Union-find root of `node` with path halving. */
function findRoot(parents: Int32Array, node: number): number {
  let current = node;
  while (parents[current] !== current) {
    const grandparent = parents[parents[current]!]!;
    parents[current] = grandparent;
    current = grandparent;
  }
  return current;
}

/** True when edges (given as parallel endpoint lists) join `components` separate nodes into at most one component. */
function connectedPairs(components: number, from: readonly number[], to: readonly number[], n: number): boolean {
  const parents = Int32Array.from({ length: n }, (_, i) => i);
  let left = components;
  for (let i = 0; i < from.length && left > 1; i++) {
    const a = findRoot(parents, from[i]!);
    const b = findRoot(parents, to[i]!);
    if (a !== b) {
      parents[a] = b;
      left--;
    }
  }
  return left <= 1;
}

/**
 * True when the nodes left after removing `removedNodes` and the edges at indexes in
 * `removedEdges` form one connected component (zero or one node left counts as connected):
 * the question a failure scenario asks before it expects full delivery.
 */
export function isConnected(
  nodeCount: number,
  edges: readonly Edge[],
  removedNodes: ReadonlySet<number> = new Set(),
  removedEdges: ReadonlySet<number> = new Set(),
): boolean {
  checkInt('isConnected', 'nodeCount', nodeCount, 0, topologyNodeCountMax);
  const from: number[] = [];
  const to: number[] = [];
  edges.forEach((edge, index) => {
    checkEdgeEnds('isConnected', nodeCount, edge, index);
    if (removedEdges.has(index) || removedNodes.has(edge[0]) || removedNodes.has(edge[1])) return;
    from.push(edge[0]);
    to.push(edge[1]);
  });
  let survivors = 0;
  for (let node = 0; node < nodeCount; node++) if (!removedNodes.has(node)) survivors++;
  return connectedPairs(survivors, from, to, nodeCount);
}

/** Hop counts from `from` to every node (-1 when unreachable): the oracle that converged routes are checked against. */
export function bfsHops(neighbours: readonly (readonly number[])[], from: number): Int32Array {
  const n = neighbours.length;
  checkInt('bfsHops', 'from', from, 0, n - 1);
  const hops = new Int32Array(n).fill(-1);
  const queue = new Int32Array(n);
  let head = 0;
  let tail = 0;
  hops[from] = 0;
  queue[tail++] = from;
  while (head < tail) {
    const node = queue[head++]!;
    const next = hops[node]! + 1;
    for (const neighbour of neighbours[node]!) {
      if (hops[neighbour] !== -1) continue;
      hops[neighbour] = next;
      queue[tail++] = neighbour;
    }
  }
  return hops;
}

/** Mean node degree 2E/n, the figure a topology is usually described by. */
export function averageDegree(topology: Topology): number {
  return topology.nodeCount === 0 ? 0 : (2 * topology.edges.length) / topology.nodeCount;
}
