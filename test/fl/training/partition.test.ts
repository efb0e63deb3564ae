import { describe, expect, it } from 'vitest';
import { isTrainingError } from '../../../src/fl/training/errors.js';
import { regionPartition, topologyOf, type Adjacency } from '../../../src/fl/training/partition.js';
import { seededRandom } from '../../../src/ml/random.js';
import { tinyDataset } from './helpers.js';

/** A ring of n nodes. */
const ring = (n: number): Adjacency => Array.from({ length: n }, (_, v) => [(v + n - 1) % n, (v + 1) % n].sort((a, b) => a - b));

/** True when the nodes of `region` form a connected subgraph. */
function connected(adjacency: Adjacency, owner: Int32Array, region: number): boolean {
  const members = [...owner.keys()].filter((v) => owner[v] === region);
  const seen = new Set([members[0]!]);
  const queue = [members[0]!];
  while (queue.length > 0) {
    for (const next of adjacency[queue.pop()!]!) {
      if (owner[next] !== region || seen.has(next)) continue;
      seen.add(next);
      queue.push(next);
    }
  }
  return seen.size === members.length;
}

describe('topologyOf', () => {
  it('joins the links of every window into a symmetric adjacency without self-links', () => {
    const dataset = tinyDataset(3);
    const adjacency = topologyOf(dataset);
    expect(adjacency).toHaveLength(16);
    adjacency.forEach((neighbours, v) => {
      expect(neighbours).not.toContain(v);
      for (const u of neighbours) expect(adjacency[u]).toContain(v);
    });
    const window = dataset.windows[0]!;
    for (let i = 0; i < window.linkFrom.length; i++) expect(adjacency[window.linkFrom[i]!]).toContain(window.linkTo[i]!);
  });

  it('ignores self-links and gives an empty topology for a dataset without windows', () => {
    const dataset = tinyDataset(3);
    const window = dataset.windows[0]!;
    const selfLinked = { ...dataset, windows: [{ ...window, linkFrom: Int32Array.of(2), linkTo: Int32Array.of(2) }] };
    expect(topologyOf(selfLinked)[2]).toEqual([]);
    expect(topologyOf({ ...dataset, windows: [] })).toEqual([]);
  });
});

describe('regionPartition', () => {
  it('gives every node of a ring one of k non-empty, connected regions', () => {
    const adjacency = ring(20);
    const owner = regionPartition(adjacency, 5, seededRandom(4));
    const sizes = [0, 1, 2, 3, 4].map((r) => owner.filter((o) => o === r).length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(20);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(1);
    for (let r = 0; r < 5; r++) expect(connected(adjacency, owner, r)).toBe(true);
  });

  it('is deterministic by seed and cuts a twin-like topology into connected regions', () => {
    const adjacency = topologyOf(tinyDataset(5));
    const a = regionPartition(adjacency, 8, seededRandom(9));
    expect(regionPartition(adjacency, 8, seededRandom(9))).toEqual(a);
    expect(new Set(a).size).toBe(8);
    for (let r = 0; r < 8; r++) expect(connected(adjacency, a, r)).toBe(true);
  });

  it('puts a component without a seed into the smallest region', () => {
    // Two rings of 6 and an isolated pair; 2 regions: the farthest-point seeds reach unreachable nodes first.
    const adjacency: Adjacency = [...ring(6), [7], [6]];
    const owner = regionPartition(adjacency, 2, seededRandom(1));
    expect([...owner].every((o) => o === 0 || o === 1)).toBe(true);
    expect(owner[6]).toBe(owner[7]);
    const lonely: Adjacency = [[1], [0], [], []];
    const spread = regionPartition(lonely, 2, seededRandom(2));
    expect(spread.filter((o) => o === 0).length + spread.filter((o) => o === 1).length).toBe(4);
  });

  it('refuses more regions than nodes and a count out of range', () => {
    expect(() => regionPartition(ring(3), 4, seededRandom(1))).toThrow(/cannot cut 3 nodes into 4 regions/);
    try {
      regionPartition(ring(3), 0, seededRandom(1));
      expect.unreachable();
    } catch (error) {
      expect(isTrainingError(error, 'ERR_FL_TRAINING_ARGUMENT')).toBe(true);
    }
  });
});
