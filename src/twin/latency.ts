import type { Network } from './network.js';

/**
 * The least one-way propagation delay from `source` to every node, over the graph as it is
 * now: only through live nodes, and only over link directions that are up, each weighted by
 * its base `delayMs`. Jitter, queueing, serialisation and extra delay from faults are left
 * out, so the result is a lower bound on how long any packet from `source` takes to arrive.
 * Unreachable nodes (and every node, when `source` itself is down) get Infinity.
 *
 * Dijkstra with a linear scan for the closest unsettled node: O(V^2), which for the twin's
 * few thousand nodes is short enough and needs no heap.
 */
export function propagationDelaysMs(network: Network, source: number): Float64Array {
  const delayMs = new Float64Array(network.nodes.length).fill(Number.POSITIVE_INFINITY);
  if (network.nodes[source]!.mesh === null) return delayMs;
  const settled = new Uint8Array(network.nodes.length);
  delayMs[source] = 0;
  for (let v = source; v !== -1; v = closestUnsettled(delayMs, settled)) {
    settled[v] = 1;
    relaxFrom(network, v, delayMs);
  }
  return delayMs;
}

/** Lowers the delay of each live neighbour `v` reaches over a direction that is up. */
function relaxFrom(network: Network, v: number, delayMs: Float64Array): void {
  for (const e of network.nodes[v]!.edges) {
    const edge = network.edges[e]!;
    const outgoing = edge.a === v ? edge.forward : edge.backward;
    const u = network.peerOf(edge, v);
    if (!outgoing.up || network.nodes[u]!.mesh === null) continue;
    const viaV = delayMs[v]! + outgoing.params.delayMs;
    if (viaV < delayMs[u]!) delayMs[u] = viaV;
  }
}

/** The unsettled node with the least finite delay, the lowest index on ties; -1 when none is left. */
function closestUnsettled(delayMs: Float64Array, settled: Uint8Array): number {
  let best = -1;
  for (let v = 0; v < delayMs.length; v++) {
    if (settled[v] === 0 && delayMs[v]! < (best === -1 ? Number.POSITIVE_INFINITY : delayMs[best]!)) best = v;
  }
  return best;
}
