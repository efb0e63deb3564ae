import { describe, expect, it } from 'vitest';
import { fastProfile } from '../../src/mesh/profiles.js';
import { propagationDelaysMs } from '../../src/twin/latency.js';
import { Network } from '../../src/twin/network.js';
import { Prng } from '../../src/twin/prng.js';
import { line, ring, type Topology } from '../../src/twin/topology.js';

/**
 * A booted network whose edge `i` takes `forwardMs[i]` from a to b and `backwardMs[i]` from b
 * to a, plus jitter and extra delay that the propagation delays must ignore.
 */
function network(topology: Topology, forwardMs: readonly number[], backwardMs: readonly number[] = forwardMs): Network {
  const net = new Network({
    topology,
    profile: fastProfile,
    rng: Prng.fromSeed(1, 'latency-test'),
    linkParams: (index, forward) => ({
      delayMs: (forward ? forwardMs : backwardMs)[index]!,
      jitterMs: 50,
      loss: 0,
      bandwidthBps: 1e6,
      queueBytesMax: 65_536,
    }),
  });
  net.bootAll();
  return net;
}

/** The delays as a plain array, so that expectations read as lists. */
const from = (net: Network, source: number): number[] => [...propagationDelaysMs(net, source)];

describe('propagationDelaysMs', () => {
  it('adds up the base delays along a line, in the direction travelled', () => {
    // Edges [0,1], [1,2], [2,3]: a -> b takes 1, 2, 3 ms; b -> a takes 10, 20, 30 ms.
    const net = network(line(4), [1, 2, 3], [10, 20, 30]);
    net.edges[1]!.forward.extraDelayMs = 100;
    expect(from(net, 0)).toEqual([0, 1, 3, 6]);
    expect(from(net, 3)).toEqual([60, 50, 30, 0]);
    expect(from(net, 1)).toEqual([10, 0, 2, 5]);
  });

  it('takes the cheaper way round a ring, even over more hops', () => {
    // Ring of 5, edges [0,1]=0, [0,4]=1, [1,2]=2, [2,3]=3, [3,4]=4.
    const net = network(ring(5), [20, 1, 20, 2, 3]);
    expect(from(net, 0)).toEqual([0, 20, 6, 4, 1]);
  });

  it('leaves out a direction that is down but still uses the other one', () => {
    const net = network(line(3), [1, 2], [10, 20]);
    net.edges[1]!.forward.up = false;
    expect(from(net, 0)).toEqual([0, 1, Infinity]);
    expect(from(net, 2)).toEqual([30, 20, 0]);
  });

  it('goes round a crashed node, and reaches nothing from one', () => {
    const net = network(ring(4), [1, 1, 1, 1]);
    // Ring of 4, edges [0,1], [0,3], [1,2], [2,3]: without node 1, 2 is reached through 3.
    net.crash(1);
    expect(from(net, 0)).toEqual([0, Infinity, 2, 1]);
    expect(from(net, 1)).toEqual([Infinity, Infinity, Infinity, Infinity]);
    net.crash(3);
    expect(from(net, 0)).toEqual([0, Infinity, Infinity, Infinity]);
  });

  it('gives Infinity for a node no live path leads to', () => {
    const net = network({ kind: 'edges', nodeCount: 4, edges: [[0, 1], [2, 3]] }, [5, 7]);
    expect(from(net, 0)).toEqual([0, 5, Infinity, Infinity]);
    expect(from(net, 3)).toEqual([Infinity, Infinity, 7, 0]);
  });
});
