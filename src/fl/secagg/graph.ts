/**
 * The communication graph of SecAgg+ (Bell et al. 2020): instead of every pair of clients
 * (Bonawitz et al. 2017, n - 1 neighbours each), each client masks with and shares its secrets
 * among k = O(log n) neighbours. The graph is a Harary graph H(k, n) over a uniformly random
 * permutation of the clients: the clients sit on a ring in random order and each is linked to
 * the k/2 nearest on either side. The random order is what makes a small k safe: the adversary
 * cannot choose which clients end up next to the ones it controls.
 */
import { secAggClientId, type CommunicationGraph, type SecAggClientId } from './config.js';
import { parameterError } from './errors.js';
import { shuffled, type RandomSource } from './random.js';

/**
 * The neighbour count this module suggests for n clients: 2 ceil(1.5 log2 n), at most n - 1
 * (then every client is linked to every other). Logarithmic as SecAgg+ prescribes; the factor is
 * ours, chosen so that with t = ceil(0.6 k) a client keeps t live neighbours through about 30 %
 * dropouts: at n = 100 it gives k = 20.
 */
export function suggestedNeighbourCount(clients: number): number {
  if (!Number.isInteger(clients) || clients < 2) throw parameterError('suggestedNeighbourCount', 'clients', 'an integer >= 2', clients);
  return Math.min(clients - 1, 2 * Math.ceil(1.5 * Math.log2(clients)));
}

/** t = ceil(fraction k), raised to floor(k/2) + 1 if needed so that 2t > k always holds. */
export function thresholdFor(neighbourCount: number, fraction: number): number {
  if (!(fraction > 0 && fraction <= 1)) throw parameterError('thresholdFor', 'fraction', 'in (0, 1]', fraction);
  return Math.max(Math.ceil(fraction * neighbourCount), Math.floor(neighbourCount / 2) + 1);
}

/**
 * H(k, n) over a random permutation of `ids`. k must be even (k/2 on each side of the ring) or
 * n - 1 (the complete graph, which is Bonawitz et al.'s original protocol).
 */
export function randomHararyGraph(ids: readonly number[], neighbourCount: number, random: RandomSource): CommunicationGraph {
  const n = ids.length;
  const where = 'randomHararyGraph';
  if (n < 2) throw parameterError(where, 'clients', 'at least 2', n);
  if (new Set(ids).size !== n) throw parameterError(where, 'ids', 'distinct', ids.join(','));
  if (!Number.isInteger(neighbourCount) || neighbourCount < 1 || neighbourCount > n - 1 || (neighbourCount % 2 === 1 && neighbourCount !== n - 1)) {
    throw parameterError(where, 'k', `an even integer in 2..${n - 1}, or ${n - 1}`, neighbourCount);
  }
  const ring = shuffled(ids.map(secAggClientId), random);
  const graph = new Map<SecAggClientId, SecAggClientId[]>();
  for (const [position, id] of ring.entries()) {
    const neighbours: SecAggClientId[] = [];
    if (neighbourCount === n - 1) {
      for (const peer of ring) if (peer !== id) neighbours.push(peer);
    } else {
      for (let step = 1; step <= neighbourCount / 2; step++) neighbours.push(ring[(position + step) % n]!, ring[(position - step + n) % n]!);
    }
    graph.set(id, neighbours.sort((a, b) => a - b));
  }
  return graph;
}
