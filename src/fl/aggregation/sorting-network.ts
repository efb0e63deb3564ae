/**
 * Sorting networks for the coordinate-wise rules: Batcher's odd-even merge sort (Knuth, TAOCP
 * vol. 3, 5.3.4) built for the next power of two and cut to n wires, optionally pruned to the
 * comparators that decide which values end up in the ranks first..last. A network is a fixed
 * list of compare-exchange steps, so four coordinates can go through it side by side in SIMD
 * lanes with no branch; that is why median and trimmed mean use one instead of quickselect.
 */

/** One compare-exchange: after it, wire `low` holds the smaller value and wire `high` the larger. */
export interface Comparator {
  readonly low: number;
  readonly high: number;
}

/** Batcher's odd-even merge sort on n wires, in the order the comparators must run. */
export function batcherNetwork(n: number): Comparator[] {
  let wires = 1;
  while (wires < n) wires <<= 1;
  const network: Comparator[] = [];
  for (let size = 2; size <= wires; size <<= 1) {
    for (let stride = size >> 1; stride > 0; stride >>= 1) addMergeStep(network, wires, size, stride, n);
  }
  return network;
}

/**
 * One step of the merge of sorted runs of size/2 into runs of `size`: the first step compares
 * wires `stride` apart within a run; later steps compare only the pairs that straddle two
 * sub-runs of the step before. Wires at or above n stand for +infinity padding, which never
 * moves, so comparators that touch them are dropped.
 */
function addMergeStep(network: Comparator[], wires: number, size: number, stride: number, n: number): void {
  for (let low = 0; low + stride < wires; low++) {
    const high = low + stride;
    if (high >= n || Math.floor(low / size) !== Math.floor(high / size)) continue;
    const offset = low % size;
    const straddles = stride === size >> 1 || (offset >= stride && Math.floor((offset - stride) / stride) % 2 === 0);
    if (straddles) network.push({ low, high });
  }
}

/**
 * The comparators of `network` that matter when only the sum of the values in ranks
 * first..last is wanted. Walking backwards, a wire is unneeded, needed only as a member of that
 * sum, or needed exactly; a comparator between two unneeded wires, or between two wires that are
 * only summed (min + max = a + b), can go; any other one stays and makes both inputs exact.
 */
export function prunedForRanks(network: readonly Comparator[], n: number, first: number, last: number): Comparator[] {
  const unneeded = 0;
  const summed = 1;
  const exact = 2;
  const need = new Uint8Array(n); // every wire starts unneeded (0)
  need.fill(summed, first, last + 1);
  const kept: Comparator[] = [];
  for (let k = network.length - 1; k >= 0; k--) {
    const comparator = network[k]!;
    const a = need[comparator.low]!;
    const b = need[comparator.high]!;
    if ((a === unneeded && b === unneeded) || (a === summed && b === summed)) continue;
    need[comparator.low] = exact;
    need[comparator.high] = exact;
    kept.push(comparator);
  }
  return kept.reverse();
}

const fullNetworks = new Map<number, Comparator[]>();
const rankNetworks = new Map<string, Comparator[]>();

/** The (cached) full sorting network on n wires. */
export function sortingNetwork(n: number): readonly Comparator[] {
  let network = fullNetworks.get(n);
  if (network === undefined) {
    network = batcherNetwork(n);
    fullNetworks.set(n, network);
  }
  return network;
}

/** The (cached) network that puts the values of ranks first..last, as a set, on wires first..last. */
export function rankNetwork(n: number, first: number, last: number): readonly Comparator[] {
  const key = `${n}:${first}:${last}`;
  let network = rankNetworks.get(key);
  if (network === undefined) {
    network = prunedForRanks(sortingNetwork(n), n, first, last);
    rankNetworks.set(key, network);
  }
  return network;
}
