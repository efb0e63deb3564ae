import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Prng } from '../../src/twin/prng.js';
import {
  TopologyError,
  adjacency,
  averageDegree,
  barabasiAlbert,
  bfsHops,
  fromEdgeList,
  geometricRoundsMax,
  grid,
  isConnected,
  line,
  randomGeometric,
  ring,
  topologyNodeCountMax,
  type Edge,
  type Topology,
} from '../../src/twin/topology.js';

/** Asserts the canonical form every generator promises: a < b, in range, strictly increasing. */
function expectCanonical(topology: Topology): void {
  const { nodeCount, edges } = topology;
  edges.forEach(([a, b], index) => {
    expect(Number.isInteger(a) && Number.isInteger(b) && a >= 0 && a < b && b < nodeCount).toBe(true);
    const previous = edges[index - 1];
    if (previous !== undefined) {
      expect(previous[0] < a || (previous[0] === a && previous[1] < b)).toBe(true);
    }
  });
}

function expectError(call: () => unknown, code: TopologyError['code'], message: string): void {
  let thrown: unknown;
  try {
    call();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(TopologyError);
  expect((thrown as TopologyError).code).toBe(code);
  expect((thrown as TopologyError).message).toBe(message);
}

describe('line, ring, grid', () => {
  it('line(n) is a path', () => {
    expect(line(1)).toEqual({ kind: 'line', nodeCount: 1, edges: [], positions: [[0.5, 0.5]] });
    const path = line(4);
    expect(path.edges).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
    expect(path.positions).toEqual([
      [0, 0.5],
      [1 / 3, 0.5],
      [2 / 3, 0.5],
      [1, 0.5],
    ]);
  });

  it('ring(n) closes the path with edge [0, n-1]', () => {
    expect(ring(3).edges).toEqual([
      [0, 1],
      [0, 2],
      [1, 2],
    ]);
    expect(ring(5).edges).toEqual([
      [0, 1],
      [0, 4],
      [1, 2],
      [2, 3],
      [3, 4],
    ]);
    const positions = ring(4).positions!;
    expect(positions[0]).toEqual([1, 0.5]);
    expect(positions[2]![0]).toBeCloseTo(0, 12);
  });

  it('grid(rows, cols) links right and down neighbours of node r*cols + c', () => {
    expect(grid(2, 3)).toEqual({
      kind: 'grid',
      nodeCount: 6,
      edges: [
        [0, 1],
        [0, 3],
        [1, 2],
        [1, 4],
        [2, 5],
        [3, 4],
        [4, 5],
      ],
      positions: [
        [0, 0],
        [0.5, 0],
        [1, 0],
        [0, 1],
        [0.5, 1],
        [1, 1],
      ],
    });
    expect(grid(1, 1)).toEqual({ kind: 'grid', nodeCount: 1, edges: [], positions: [[0.5, 0.5]] });
    expect(grid(3, 1).edges).toEqual([
      [0, 1],
      [1, 2],
    ]);
    expect(grid(1, 3).positions).toEqual([
      [0, 0.5],
      [0.5, 0.5],
      [1, 0.5],
    ]);
  });

  it('all are canonical and have the expected edge counts', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 60 }), fc.integer({ min: 1, max: 12 }), (n, cols) => {
        const rows = Math.ceil(n / cols);
        for (const topology of [line(n), ring(n), grid(rows, cols)]) expectCanonical(topology);
        expect(line(n).edges).toHaveLength(n - 1);
        expect(ring(n).edges).toHaveLength(n);
        expect(grid(rows, cols).edges).toHaveLength(rows * (cols - 1) + cols * (rows - 1));
      }),
    );
  });

  it.each([
    [() => line(0), 'line: expected n to be an integer in 1..1000000, got 0'],
    [() => line(2.5), 'line: expected n to be an integer in 1..1000000, got 2.5'],
    [() => line(topologyNodeCountMax + 1), 'line: expected n to be an integer in 1..1000000, got 1000001'],
    [() => ring(2), 'ring: expected n to be an integer in 3..1000000, got 2'],
    [() => ring(Number.NaN), 'ring: expected n to be an integer in 3..1000000, got NaN'],
    [() => grid(0, 3), 'grid: expected rows to be an integer in 1..1000000, got 0'],
    [() => grid(3, -1), 'grid: expected cols to be an integer in 1..1000000, got -1'],
    [() => grid(1001, 1000), 'grid: expected rows * cols <= 1000000, got 1001000'],
  ])('%#: rejects bad parameters with ERR_TOPOLOGY_PARAM', (call, message) => {
    expectError(call, 'ERR_TOPOLOGY_PARAM', message);
  });
});

describe('randomGeometric', () => {
  /** Expected mean degree of n uniform points in the unit square linked within r (border effect included). */
  function expectedMeanDegree(n: number, r: number): number {
    return (n - 1) * (Math.PI * r * r - (8 / 3) * r ** 3 + r ** 4 / 2);
  }

  it('is connected, links exactly the pairs within r, and has about the target degree (n = 1000)', () => {
    const n = 1000;
    const target = 8;
    const r = Math.sqrt(target / (Math.PI * n));
    for (const seed of [1, 2, 3]) {
      const topology = randomGeometric(n, target, Prng.fromSeed(seed, 'rgg'));
      expect(topology.kind).toBe('randomGeometric');
      expect(topology.nodeCount).toBe(n);
      expectCanonical(topology);
      expect(isConnected(n, topology.edges)).toBe(true);
      const positions = topology.positions!;
      expect(positions).toHaveLength(n);
      // Brute force over all pairs: the cell grid must find every pair within r and no other.
      const expected: string[] = [];
      for (let a = 0; a < n; a++) {
        for (let b = a + 1; b < n; b++) {
          const dx = positions[a]![0] - positions[b]![0];
          const dy = positions[a]![1] - positions[b]![1];
          if (dx * dx + dy * dy <= r * r) expected.push(`${a},${b}`);
        }
      }
      expect(topology.edges.map(([a, b]) => `${a},${b}`)).toEqual(expected);
      const degree = averageDegree(topology);
      expect(Math.abs(degree - target) / target).toBeLessThan(0.1);
      expect(Math.abs(degree - expectedMeanDegree(n, r)) / expectedMeanDegree(n, r)).toBeLessThan(0.05);
    }
  });

  it('places every node in the unit square', () => {
    const topology = randomGeometric(500, 10, new Prng(4));
    for (const [x, y] of topology.positions!) expect(x >= 0 && x < 1 && y >= 0 && y < 1).toBe(true);
  });

  it('is deterministic for a seed and differs between seeds', () => {
    const a = randomGeometric(300, 6, Prng.fromSeed(7, 'topology'));
    const b = randomGeometric(300, 6, Prng.fromSeed(7, 'topology'));
    const c = randomGeometric(300, 6, Prng.fromSeed(8, 'topology'));
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(a)).not.toBe(JSON.stringify(c));
  });

  it('connects the 4000-node, degree-8 case (where whole redraws would almost always fail)', () => {
    for (const seed of [1, 2]) {
      const topology = randomGeometric(4000, 8, new Prng(seed));
      expect(isConnected(topology.nodeCount, topology.edges)).toBe(true);
      expect(averageDegree(topology)).toBeGreaterThan(7.5);
    }
  });

  it('handles the smallest graphs', () => {
    const pair = randomGeometric(2, 0.99, new Prng(1));
    expect(pair.edges).toEqual([[0, 1]]);
  });

  it('gives up with ERR_TOPOLOGY_DISCONNECTED when the degree is far below the connectivity threshold', () => {
    expectError(
      () => randomGeometric(1000, 0.5, new Prng(1)),
      'ERR_TOPOLOGY_DISCONNECTED',
      `randomGeometric: not connected after ${geometricRoundsMax} rounds of moving stray nodes, n = 1000, avgDegree = 0.5`,
    );
  });

  it.each([
    [1, 0.5, 'randomGeometric: expected n to be an integer in 2..1000000, got 1'],
    [10.5, 3, 'randomGeometric: expected n to be an integer in 2..1000000, got 10.5'],
    [10, 0, 'randomGeometric: expected avgDegree in (0, 9), got 0'],
    [10, 9, 'randomGeometric: expected avgDegree in (0, 9), got 9'],
    [10, Number.NaN, 'randomGeometric: expected avgDegree in (0, 9), got NaN'],
  ])('rejects n = %s, avgDegree = %s', (n, avgDegree, message) => {
    expectError(() => randomGeometric(n, avgDegree, new Prng(1)), 'ERR_TOPOLOGY_PARAM', message);
  });
});

describe('barabasiAlbert', () => {
  it.each([
    [2, 1],
    [10, 1],
    [100, 3],
    [50, 49],
    [500, 5],
  ])('n = %s, m = %s has m(m+1)/2 + m(n-m-1) edges, is connected and canonical', (n, m) => {
    const topology = barabasiAlbert(n, m, new Prng(n * 31 + m));
    expect(topology.kind).toBe('barabasiAlbert');
    expect(topology.nodeCount).toBe(n);
    expect(topology.edges).toHaveLength((m * (m + 1)) / 2 + m * (n - m - 1));
    expectCanonical(topology);
    expect(isConnected(n, topology.edges)).toBe(true);
    for (const neighbours of adjacency(topology)) expect(neighbours.length).toBeGreaterThanOrEqual(m);
  });

  it('seeds with a complete graph on m + 1 nodes', () => {
    const topology = barabasiAlbert(4, 3, new Prng(1));
    expect(topology.edges).toEqual([
      [0, 1],
      [0, 2],
      [0, 3],
      [1, 2],
      [1, 3],
      [2, 3],
    ]);
  });

  it('grows hubs: the largest degree far exceeds what uniform attachment gives', () => {
    // With m = 2 and n = 2000 the mean degree is 4; preferential attachment makes hubs of
    // degree ~ m * sqrt(n) (about 90), uniform attachment would stay near 2 * ln(n) + 2 (about 17).
    const topology = barabasiAlbert(2000, 2, new Prng(5));
    const degrees = adjacency(topology).map((neighbours) => neighbours.length);
    expect(Math.max(...degrees)).toBeGreaterThan(40);
  });

  it('is deterministic for a seed', () => {
    expect(barabasiAlbert(200, 2, new Prng(9))).toEqual(barabasiAlbert(200, 2, new Prng(9)));
    expect(barabasiAlbert(200, 2, new Prng(9))).not.toEqual(barabasiAlbert(200, 2, new Prng(10)));
  });

  it.each([
    [1, 1, 'barabasiAlbert: expected n to be an integer in 2..1000000, got 1'],
    [10, 0, 'barabasiAlbert: expected m to be an integer in 1..9, got 0'],
    [10, 10, 'barabasiAlbert: expected m to be an integer in 1..9, got 10'],
    [10, 1.5, 'barabasiAlbert: expected m to be an integer in 1..9, got 1.5'],
  ])('rejects n = %s, m = %s', (n, m, message) => {
    expectError(() => barabasiAlbert(n, m, new Prng(1)), 'ERR_TOPOLOGY_PARAM', message);
  });
});

describe('fromEdgeList', () => {
  it('maps labels to indexes by first appearance, skipping comments and blank lines', () => {
    const text = [
      '# a small mesh',
      'gw  alice',
      '',
      'bob\tgw   # trailing comment',
      '   alice bob  ',
      'carol alice\r',
      '   # indented comment',
    ].join('\n');
    expect(fromEdgeList(text, 'mesh.txt')).toEqual({
      kind: 'edgeList',
      nodeCount: 4,
      labels: ['gw', 'alice', 'bob', 'carol'],
      edges: [
        [0, 1],
        [0, 2],
        [1, 2],
        [1, 3],
      ],
    });
  });

  it('accepts CRLF line endings and no final newline', () => {
    expect(fromEdgeList('a b\r\nb c', 'crlf.txt').edges).toEqual([
      [0, 1],
      [1, 2],
    ]);
  });

  it('round-trips any canonical topology written as an edge list', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 40 }), fc.integer({ min: 1, max: 3 }), fc.nat(), (n, m, seed) => {
        const topology = barabasiAlbert(n, Math.min(m, n - 1), new Prng(seed));
        const text = topology.edges.map(([a, b]) => `n${a} n${b}`).join('\n');
        const parsed = fromEdgeList(text, 'generated');
        expectCanonical(parsed);
        expect(parsed.nodeCount).toBe(n);
        expect([...parsed.labels!].sort()).toEqual(Array.from({ length: n }, (_, i) => `n${i}`).sort());
        // Indexes follow first appearance, so compare edges after mapping them back to the original nodes.
        const original = (index: number): number => Number(parsed.labels![index]!.slice(1));
        const mapped = parsed.edges
          .map(([a, b]) => [Math.min(original(a), original(b)), Math.max(original(a), original(b))] as const)
          .sort((x, y) => x[0] - y[0] || x[1] - y[1]);
        expect(mapped).toEqual(topology.edges);
      }),
    );
  });

  it.each([
    ['a b\nb b', 'links.txt:2: self-loop on node b'],
    ['a b\n\nb a', 'links.txt:3: duplicate edge b a (first on line 1)'],
    ['a b\nc\n', 'links.txt:2: expected 2 node labels, got 1'],
    ['a b c', 'links.txt:1: expected 2 node labels, got 3'],
    ['', 'links.txt: expected at least one edge, got none'],
    ['# only a comment\n\n', 'links.txt: expected at least one edge, got none'],
  ])('%j fails with ERR_TOPOLOGY_PARSE', (text, message) => {
    expectError(() => fromEdgeList(text, 'links.txt'), 'ERR_TOPOLOGY_PARSE', message);
  });

  it('refuses more than topologyNodeCountMax nodes', () => {
    const pairs = topologyNodeCountMax / 2 + 1;
    const text = Array.from({ length: pairs }, (_, i) => `${2 * i} ${2 * i + 1}`).join('\n');
    expectError(
      () => fromEdgeList(text, 'huge.txt'),
      'ERR_TOPOLOGY_PARSE',
      `huge.txt:${pairs}: more than ${topologyNodeCountMax} nodes`,
    );
  });
});

describe('graph helpers', () => {
  it('adjacency gives sorted neighbour lists, also for hand-built edge orders', () => {
    expect(adjacency(grid(2, 2))).toEqual([
      [1, 2],
      [0, 3],
      [0, 3],
      [1, 2],
    ]);
    const handBuilt: Topology = { kind: 'custom', nodeCount: 4, edges: [[3, 0], [2, 0], [0, 1]] };
    expect(adjacency(handBuilt)).toEqual([[1, 2, 3], [0], [0], [0]]);
  });

  it.each([
    [[[0, 4]] as Edge[], 'adjacency: expected edge 0 to join nodes in 0..3, got [0, 4]'],
    [[[0, 1], [-1, 2]] as Edge[], 'adjacency: expected edge 1 to join nodes in 0..3, got [-1, 2]'],
    [[[0.5, 1]] as Edge[], 'adjacency: expected edge 0 to join nodes in 0..3, got [0.5, 1]'],
  ])('adjacency rejects edge lists that leave 0..n-1 (%#)', (edges, message) => {
    expectError(() => adjacency({ kind: 'custom', nodeCount: 4, edges }), 'ERR_TOPOLOGY_PARAM', message);
  });

  it('isConnected honours removed nodes and removed edge indexes', () => {
    const cycle = ring(6); // edges: [0,1] [0,5] [1,2] [2,3] [3,4] [4,5]
    expect(isConnected(6, cycle.edges)).toBe(true);
    expect(isConnected(6, cycle.edges, new Set(), new Set([0]))).toBe(true);
    expect(isConnected(6, cycle.edges, new Set(), new Set([0, 3]))).toBe(false);
    expect(isConnected(6, cycle.edges, new Set([2]))).toBe(true);
    expect(isConnected(6, cycle.edges, new Set([2, 4]))).toBe(false);
    const path = line(5);
    expect(isConnected(5, path.edges, new Set([0, 4]))).toBe(true);
    expect(isConnected(5, path.edges, new Set([2]))).toBe(false);
    expect(isConnected(5, path.edges, new Set([0, 1, 2, 3]))).toBe(true);
    expect(isConnected(5, path.edges, new Set([0, 1, 2, 3, 4]))).toBe(true);
    expect(isConnected(0, [])).toBe(true);
    expect(isConnected(1, [])).toBe(true);
    expect(isConnected(2, [])).toBe(false);
  });

  it('isConnected agrees with breadth-first search', () => {
    const graph = fc.integer({ min: 1, max: 25 }).chain((n) =>
      fc.tuple(
        fc.constant(n),
        fc.array(fc.tuple(fc.nat({ max: n - 1 }), fc.nat({ max: n - 1 })), { maxLength: 40 }),
        fc.uniqueArray(fc.nat({ max: n - 1 }), { maxLength: 5 }),
      ),
    );
    fc.assert(
      fc.property(graph, ([n, pairs, removed]) => {
        const edges = [...new Set(pairs.filter(([a, b]) => a < b).map(([a, b]) => a * n + b))].map(
          (key): Edge => [Math.floor(key / n), key % n],
        );
        const removedNodes = new Set(removed);
        const kept = edges.filter(([a, b]) => !removedNodes.has(a) && !removedNodes.has(b));
        const survivors = Array.from({ length: n }, (_, i) => i).filter((i) => !removedNodes.has(i));
        const hops = survivors.length === 0 ? [] : bfsHops(adjacency({ kind: 'x', nodeCount: n, edges: kept }), survivors[0]!);
        const expected = survivors.every((node) => hops[node] !== -1);
        expect(isConnected(n, edges, removedNodes)).toBe(expected);
      }),
    );
  });

  it('isConnected validates its input', () => {
    expectError(() => isConnected(-1, []), 'ERR_TOPOLOGY_PARAM', 'isConnected: expected nodeCount to be an integer in 0..1000000, got -1');
    expectError(
      () => isConnected(3, [[0, 3]]),
      'ERR_TOPOLOGY_PARAM',
      'isConnected: expected edge 0 to join nodes in 0..2, got [0, 3]',
    );
  });

  it('bfsHops counts hops and marks unreachable nodes -1', () => {
    expect([...bfsHops(adjacency(line(4)), 1)]).toEqual([1, 0, 1, 2]);
    const lattice = grid(4, 5);
    const hops = bfsHops(adjacency(lattice), 0);
    for (let node = 0; node < 20; node++) expect(hops[node]).toBe(Math.floor(node / 5) + (node % 5));
    const split: Topology = { kind: 'custom', nodeCount: 4, edges: [[0, 1], [2, 3]] };
    expect([...bfsHops(adjacency(split), 3)]).toEqual([-1, -1, 1, 0]);
    expectError(() => bfsHops(adjacency(line(3)), 3), 'ERR_TOPOLOGY_PARAM', 'bfsHops: expected from to be an integer in 0..2, got 3');
  });

  it('averageDegree is 2E/n', () => {
    expect(averageDegree(ring(7))).toBe(2);
    expect(averageDegree(grid(2, 3))).toBe(14 / 6);
    expect(averageDegree(line(1))).toBe(0);
    expect(averageDegree({ kind: 'empty', nodeCount: 0, edges: [] })).toBe(0);
  });

  it('TopologyError is an Error with a name and a stable code', () => {
    const error = new TopologyError('ERR_TOPOLOGY_PARSE', 'x.txt:1: bad');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('TopologyError');
    expect(error.code).toBe('ERR_TOPOLOGY_PARSE');
    expect(String(error)).toBe('TopologyError: x.txt:1: bad');
  });
});
