import type { LinkId } from '../mesh/neighbour.js';
import type { NodeId } from '../wire/ids.js';
import type { Network } from './network.js';

/**
 * Checks that the next-hop graph towards every destination stays acyclic. It is incremental:
 * a new cycle must contain a next hop that just changed, so walking from each changed
 * (node, destination) pair finds every cycle at the instant it forms.
 *
 * The checker keeps its own copy of the next-hop graph, built from the routeChanged events
 * (which a node emits for every change of a selected route): a node index per (destination,
 * node), each destination's next hops side by side. A walk then reads one number per hop, all
 * from one destination's block, instead of asking each node's route table through several
 * objects; in a converging 1000-node twin the walks were a quarter of the run. The copy takes
 * 4 bytes per (node, destination), a small fraction of what the route tables themselves hold.
 * Next hops recorded before a node's latest boot are treated as none: a restarted node has no
 * routes until it reports one.
 */
export class LoopChecker {
  /** Distinct moments at which some next-hop graph held a cycle. */
  loops = 0;
  /** Destinations whose routes have looped, for the report. */
  readonly loopedDestinations = new Set<NodeId>();
  /** (node, destination index) pairs changed since the last check, flattened. */
  private readonly pending: number[] = [];
  private readonly marks: Int32Array;
  private generation = 0;
  private readonly nodeCount: number;
  /** nextNode[destination index * nodeCount + node]: the node it forwards to, or -1. */
  private readonly nextNode: Int32Array;
  /** The boot count of each node when its next hops were last recorded. */
  private readonly rowBoots: Int32Array;

  constructor(private readonly network: Network) {
    this.nodeCount = network.nodes.length;
    this.marks = new Int32Array(this.nodeCount);
    this.nextNode = new Int32Array(this.nodeCount * this.nodeCount).fill(-1);
    this.rowBoots = new Int32Array(this.nodeCount);
  }

  /** Records that the route of `node` towards `dst` changed to go out on `link` (null: no route). */
  routeChanged(node: number, dst: NodeId, link: LinkId | null): void {
    const dstIndex = this.destinationIndex(dst);
    const boots = this.network.nodes[node]!.boots;
    const nodeCount = this.nodeCount;
    if (this.rowBoots[node] !== boots) {
      for (let i = node; i < this.nextNode.length; i += nodeCount) this.nextNode[i] = -1;
      this.rowBoots[node] = boots;
    }
    this.nextNode[dstIndex * nodeCount + node] = link === null ? -1 : this.network.peerOf(this.network.edges[link]!, node);
    this.pending.push(node, dstIndex);
  }

  /** Walks every pending change; counts one loop event if any walk comes back on itself. */
  check(): void {
    const pending = this.pending;
    if (pending.length === 0) return;
    let looped = false;
    for (let i = 0; i < pending.length; i += 2) {
      if (this.walkFrom(pending[i]!, pending[i + 1]!)) {
        looped = true;
        this.loopedDestinations.add(this.network.nodes[pending[i + 1]!]!.id);
      }
    }
    pending.length = 0;
    if (looped) this.loops++;
  }

  /** True when following next hops from `start` towards `dst` revisits a node. */
  walkLoops(start: number, dst: NodeId): boolean {
    return this.walkFrom(start, this.destinationIndex(dst));
  }

  private walkFrom(start: number, dstIndex: number): boolean {
    const generation = ++this.generation;
    const nodes = this.network.nodes;
    const nextNode = this.nextNode;
    const block = dstIndex * this.nodeCount;
    let current = start;
    for (;;) {
      if (this.marks[current] === generation) return true;
      this.marks[current] = generation;
      const node = nodes[current]!;
      if (current === dstIndex || node.mesh === null || this.rowBoots[current] !== node.boots) return false;
      current = nextNode[block + current]!;
      if (current < 0) return false;
    }
  }

  /** Index of the node whose NodeId is `dst` (the twin numbers NodeIds from 1, see twinNodeId). */
  private destinationIndex(dst: NodeId): number {
    const index = dst - 1;
    if (!(index >= 0 && index < this.nodeCount) || this.network.nodes[index]!.id !== dst) {
      throw new RangeError(`LoopChecker: expected the NodeId of a twin node (1..${this.nodeCount}), got ${dst}`);
    }
    return index;
  }
}

/** Result of comparing every route with the shortest-path oracle. */
export interface OracleResult {
  /** (node, destination) pairs compared. */
  readonly pairs: number;
  /** Pairs whose endpoints are connected but that had no route. */
  readonly missing: number;
  /** Pairs whose metric differs from the oracle's by more than the hysteresis allows. */
  readonly mismatched: number;
  /** Mean of route metric / shortest metric over routed pairs. */
  readonly stretchMean: number | null;
}

/** Metric slack per hop that hysteresis and update thresholds allow a converged route. */
export const oracleSlackPerHop = 48;

/**
 * Shortest-path oracle: Dijkstra towards each sampled destination over the link costs the
 * nodes themselves measured, compared with the metric each node's route claims.
 */
export function checkOracle(network: Network, destinations: readonly number[]): OracleResult {
  const costs = linkCosts(network);
  let pairs = 0;
  let missing = 0;
  let mismatched = 0;
  let stretchSum = 0;
  let routed = 0;
  for (const dst of destinations) {
    const { dist, hops } = shortestTo(network, costs, dst);
    const dstId = network.nodes[dst]!.id;
    for (const node of network.nodes) {
      if (node.index === dst || node.mesh === null || !Number.isFinite(dist[node.index]!)) continue;
      pairs++;
      const metric = node.mesh.metricTo(dstId);
      if (metric >= 0xffff) {
        missing++;
        continue;
      }
      routed++;
      stretchSum += metric / dist[node.index]!;
      if (Math.abs(metric - dist[node.index]!) > oracleSlackPerHop * hops[node.index]!) mismatched++;
    }
  }
  return { pairs, missing, mismatched, stretchMean: routed === 0 ? null : Math.round((stretchSum / routed) * 1e4) / 1e4 };
}

/** For each directed (node, edge): the cost the node uses for that link, or Infinity. */
function linkCosts(network: Network): Map<number, number>[] {
  return network.nodes.map((node) => {
    const costs = new Map<number, number>();
    if (node.mesh === null) return costs;
    for (const view of node.mesh.neighbourViews()) {
      if (view.usable && view.cost < 0xffff) costs.set(view.link, view.cost);
    }
    return costs;
  });
}

function shortestTo(network: Network, costs: Map<number, number>[], dst: number): { dist: Float64Array; hops: Int32Array } {
  const n = network.nodes.length;
  const dist = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const hops = new Int32Array(n);
  const done = new Uint8Array(n);
  dist[dst] = 0;
  // A binary heap would be faster; oracle checks run once per run on sampled destinations.
  const frontier: number[] = [dst];
  while (frontier.length > 0) {
    let bestIndex = 0;
    for (let i = 1; i < frontier.length; i++) if (dist[frontier[i]!]! < dist[frontier[bestIndex]!]!) bestIndex = i;
    const v = frontier[bestIndex]!;
    frontier[bestIndex] = frontier[frontier.length - 1]!;
    frontier.pop();
    if (done[v] === 1) continue;
    done[v] = 1;
    for (const e of network.nodes[v]!.edges) {
      const u = network.peerOf(network.edges[e]!, v);
      const cost = costs[u]!.get(e);
      if (cost === undefined || done[u] === 1) continue;
      if (dist[v]! + cost < dist[u]!) {
        dist[u] = dist[v]! + cost;
        hops[u] = hops[v]! + 1;
        frontier.push(u);
      }
    }
  }
  return { dist, hops };
}
