/** Neighbour sampling: fanout bounds, real edges only, determinism, and the receptive field. */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { MlErrorCode } from '../../src/ml/errors.js';
import { NeighbourSampler } from '../../src/ml/sampler.js';
import { seededRandom } from '../../src/ml/random.js';
import { expectMlError, randomGraph } from './helpers.js';

const graph = randomGraph(60, 300, 21, 7);
const sampler = new NeighbourSampler(graph);

function neighboursOf(node: number): number[] {
  return Array.from(graph.neighbours.subarray(graph.offsets[node]!, graph.offsets[node + 1]!));
}

describe('NeighbourSampler.sample', () => {
  test('blocks chain, outputs lead their inputs, at most S distinct real neighbours each', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 59 }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 0, max: 1000 }),
        (targets, fanouts, seed) => {
          const batch = sampler.sample(Int32Array.from(targets), fanouts, seededRandom(seed));
          expect(Array.from(batch.outputNodes)).toStrictEqual(targets);
          expect(batch.blocks).toHaveLength(fanouts.length);
          // Graph node of each input row, layer by layer from the top.
          let dstNodes = Array.from(batch.outputNodes);
          let srcNodes: number[] = [];
          for (let k = fanouts.length - 1; k >= 0; k--) {
            const block = batch.blocks[k]!;
            expect(block.dstCount).toBe(dstNodes.length);
            srcNodes = k === 0 ? Array.from(batch.inputNodes) : srcNodesOf(batch.blocks, k, batch.inputNodes);
            expect(srcNodes.slice(0, block.dstCount)).toStrictEqual(dstNodes);
            expect(new Set(srcNodes).size).toBe(srcNodes.length);
            for (let i = 0; i < block.dstCount; i++) {
              const picked = Array.from(block.neighbours.subarray(block.offsets[i]!, block.offsets[i + 1]!), (row) => srcNodes[row]!);
              const real = neighboursOf(dstNodes[i]!);
              expect(picked.length).toBe(Math.min(fanouts[k]!, real.length));
              expect(new Set(picked).size).toBe(picked.length);
              for (const node of picked) expect(real).toContain(node);
            }
            dstNodes = srcNodes;
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  test('the same seed gives the same batch; another seed a different one', () => {
    const targets = Int32Array.from([1, 2, 3, 4, 5]);
    const a = sampler.sample(targets, [3, 2], seededRandom(4));
    const b = sampler.sample(targets, [3, 2], seededRandom(4));
    const c = sampler.sample(targets, [3, 2], seededRandom(5));
    expect(b).toStrictEqual(a);
    expect(c.blocks[1]!.neighbours).not.toStrictEqual(a.blocks[1]!.neighbours);
  });

  test('samples are uniform: every neighbour of a busy node is drawn about equally often', () => {
    const busy = Array.from({ length: 60 }, (_, v) => v).sort((x, y) => neighboursOf(y).length - neighboursOf(x).length)[0]!;
    const counts = new Map<number, number>();
    const random = seededRandom(8);
    const draws = 4000;
    for (let i = 0; i < draws; i++) {
      const batch = sampler.sample(Int32Array.from([busy]), [2], random);
      for (const row of batch.blocks[0]!.neighbours) counts.set(batch.inputNodes[row]!, (counts.get(batch.inputNodes[row]!) ?? 0) + 1);
    }
    const expected = (2 * draws) / neighboursOf(busy).length;
    for (const node of neighboursOf(busy)) expect(Math.abs(counts.get(node)! - expected)).toBeLessThan(0.2 * expected);
  });

  test('an isolated target has no neighbours and is its own only input', () => {
    const batch = sampler.sample(Int32Array.from([7]), [5, 5], seededRandom(1));
    expect(Array.from(batch.inputNodes)).toStrictEqual([7]);
    expect(batch.blocks[0]!.neighbours).toHaveLength(0);
  });

  test('bad targets and fanouts are refused, and the sampler still works afterwards', () => {
    expectMlError(() => sampler.sample(Int32Array.from([1, 60]), [2], seededRandom(1)), MlErrorCode.ERR_ML_ARGUMENT, 'targets[1] = 60 is outside 0..59');
    expectMlError(() => sampler.sample(Int32Array.from([1, 2, 1]), [2], seededRandom(1)), MlErrorCode.ERR_ML_ARGUMENT, 'node 1 appears twice');
    expectMlError(() => sampler.sample(Int32Array.from([1]), [0], seededRandom(1)), MlErrorCode.ERR_ML_ARGUMENT, 'fanouts[0]');
    expectMlError(() => sampler.sample(Int32Array.from([1]), [2, 1e9], seededRandom(1)), MlErrorCode.ERR_ML_ARGUMENT, 'fanouts[1]');
    const batch = sampler.sample(Int32Array.from([1, 2]), [50], seededRandom(1));
    expect(batch.blocks[0]!.offsets[1]).toBe(neighboursOf(1).length);
  });
});

describe('NeighbourSampler.expand', () => {
  test('takes every neighbour: the K-hop receptive field', () => {
    const batch = sampler.expand(Int32Array.from([0, 9]), 2);
    const oneHop = new Set([0, 9, ...neighboursOf(0), ...neighboursOf(9)]);
    const twoHop = new Set([...oneHop, ...[...oneHop].flatMap(neighboursOf)]);
    expect(batch.blocks[1]!.srcCount).toBe(oneHop.size);
    expect(new Set(batch.inputNodes)).toStrictEqual(twoHop);
    expect(batch.blocks[0]!.neighbours.length).toBe([...oneHop].reduce((sum, v) => sum + neighboursOf(v).length, 0));
  });
});

/** Graph nodes of the input rows of blocks[k] for k > 0: the input rows of blocks[k] are the output rows of blocks[k-1]. */
function srcNodesOf(blocks: readonly { dstCount: number }[], k: number, inputNodes: Int32Array): number[] {
  // Output row i of every block is input row i of that block, so the first dstCount input
  // nodes of blocks[0] are the nodes of blocks[0]'s outputs = blocks[1]'s inputs, and so on.
  return Array.from(inputNodes.subarray(0, blocks[k - 1]!.dstCount));
}
