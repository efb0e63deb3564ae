/**
 * The non-IID split of the training data among clients: by topology region. Each training run's
 * mesh is cut into as many connected regions as there are clients (grown breadth-first from
 * seeds spread by farthest-point selection, one node per region in turn, so the regions stay
 * balanced), and client k holds region k of every run. A region's data are the node rows of its
 * own nodes; faults hit a few nodes each, so most clients see no fault of a given type and a few
 * see all of it: the label skew of real meshes, where a node only ever observes its own corner.
 * Regions do not overlap, so the union of the clients' data is exactly the pooled data that the
 * centralised baseline trains on.
 */
import { uniformBelow, type RandomSource } from '../../ml/random.js';
import type { Dataset } from '../../telemetry/types.js';
import { dataError, requireInteger } from './errors.js';
import { trainingClientsMax } from './limits.js';

/** An undirected graph as adjacency lists, neighbours ascending. */
export type Adjacency = readonly (readonly number[])[];

/** The undirected topology of a run: two nodes are adjacent when a link between them appears in any window. */
export function topologyOf(dataset: Dataset): Adjacency {
  const nodeCount = dataset.windows[0]?.nodeCount ?? 0;
  const sets = Array.from({ length: nodeCount }, () => new Set<number>());
  for (const window of dataset.windows) {
    for (let i = 0; i < window.linkFrom.length; i++) {
      const from = window.linkFrom[i]!;
      const to = window.linkTo[i]!;
      if (from === to) continue;
      sets[from]!.add(to);
      sets[to]!.add(from);
    }
  }
  return sets.map((set) => [...set].sort((a, b) => a - b));
}

/** Hop distances from `sources` (Infinity where unreachable). */
function hopDistances(adjacency: Adjacency, sources: readonly number[]): Float64Array {
  const distance = new Float64Array(adjacency.length).fill(Number.POSITIVE_INFINITY);
  const queue: number[] = [];
  for (const source of sources) {
    distance[source] = 0;
    queue.push(source);
  }
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head]!;
    for (const next of adjacency[node]!) {
      if (distance[next] !== Number.POSITIVE_INFINITY) continue;
      distance[next] = distance[node]! + 1;
      queue.push(next);
    }
  }
  return distance;
}

/** `count` seeds: a random first one, then each time the node farthest from those chosen (ties: lowest id). */
function spreadSeeds(adjacency: Adjacency, count: number, random: RandomSource): number[] {
  const seeds = [uniformBelow(random, adjacency.length)];
  while (seeds.length < count) {
    const distance = hopDistances(adjacency, seeds);
    let farthest = -1;
    for (let node = 0; node < adjacency.length; node++) if (farthest === -1 || distance[node]! > distance[farthest]!) farthest = node;
    seeds.push(farthest);
  }
  return seeds;
}

/**
 * The region (0..regions-1) of every node: `regions` connected regions grown from spread seeds,
 * each taking one unclaimed neighbour in turn (breadth-first), until none can grow; a node no
 * region reaches (a component without a seed) joins the smallest region.
 */
export function regionPartition(adjacency: Adjacency, regions: number, random: RandomSource): Int32Array {
  requireInteger('regionPartition', 'regions', regions, 1, trainingClientsMax);
  if (regions > adjacency.length) throw dataError(`regionPartition: cannot cut ${adjacency.length} nodes into ${regions} regions`);
  const owner = new Int32Array(adjacency.length).fill(-1);
  const frontiers = spreadSeeds(adjacency, regions, random).map((seed, region) => {
    owner[seed] = region;
    return { queue: [seed], head: 0, scan: 0 };
  });
  const sizes = new Int32Array(regions).fill(1);
  for (let grew = true; grew; ) {
    grew = false;
    frontiers.forEach((frontier, region) => {
      const claimed = claimNext(adjacency, owner, frontier, region);
      if (claimed) sizes[region]!++;
      grew ||= claimed;
    });
  }
  for (let node = 0; node < owner.length; node++) {
    if (owner[node] !== -1) continue;
    const smallest = sizes.indexOf(Math.min(...sizes));
    owner[node] = smallest;
    sizes[smallest]!++;
  }
  return owner;
}

/** Gives `region` the next unclaimed neighbour of its breadth-first frontier; false when it has none. */
function claimNext(adjacency: Adjacency, owner: Int32Array, frontier: { queue: number[]; head: number; scan: number }, region: number): boolean {
  while (frontier.head < frontier.queue.length) {
    const neighbours = adjacency[frontier.queue[frontier.head]!]!;
    while (frontier.scan < neighbours.length) {
      const next = neighbours[frontier.scan++]!;
      if (owner[next] !== -1) continue;
      owner[next] = region;
      frontier.queue.push(next);
      return true;
    }
    frontier.head++;
    frontier.scan = 0;
  }
  return false;
}
