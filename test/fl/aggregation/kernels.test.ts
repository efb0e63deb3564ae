import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scalarKernels, type AggregationKernels } from '../../../src/fl/aggregation/kernels.js';
import { activeKernels, loadWasmKernels, networkClientsMax, passesKnownAnswer, wasmKernels } from '../../../src/fl/aggregation/kernels-wasm.js';
import { batcherNetwork, prunedForRanks, rankNetwork, sortingNetwork, type Comparator } from '../../../src/fl/aggregation/sorting-network.js';
import { firstNonFinite } from '../../../src/fl/aggregation/validate.js';
import { randomUpdates } from './helpers.js';

function apply(network: readonly Comparator[], values: number[]): number[] {
  const out = values.slice();
  for (const { low, high } of network) {
    if (out[high]! < out[low]!) [out[low], out[high]] = [out[high]!, out[low]!];
  }
  return out;
}

describe('sorting networks', () => {
  it('Batcher’s network sorts every 0-1 input for n = 1..14 (so, by the 0-1 principle, every input)', () => {
    for (let n = 1; n <= 14; n++) {
      const network = batcherNetwork(n);
      for (let bits = 0; bits < 1 << n; bits++) {
        const values = Array.from({ length: n }, (_, i) => (bits >> i) & 1);
        expect(apply(network, values)).toEqual(values.slice().sort((a, b) => a - b));
      }
    }
  });

  it('sorts random inputs for larger n, and the pruned network gets the ranks’ sum right', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 130 }), fc.integer(), fc.double({ min: 0, max: 0.5, noNaN: true }), (n, seed, fraction) => {
        const values = Array.from(randomUpdates(1, n, seed)[0]!);
        const sorted = values.slice().sort((a, b) => a - b);
        expect(apply(sortingNetwork(n), values)).toEqual(sorted);
        const first = Math.min(Math.floor(fraction * n), (n - 1) >> 1);
        const last = n - 1 - first;
        const pruned = apply(rankNetwork(n, first, last), values);
        const sum = (list: number[]): number => list.slice(first, last + 1).reduce((a, b) => a + b, 0);
        expect(sum(pruned)).toBeCloseTo(sum(sorted), 9);
      }),
      { numRuns: 80 },
    );
  });

  it('pruning keeps fewer comparators and is cached', () => {
    expect(prunedForRanks(batcherNetwork(50), 50, 24, 25).length).toBeLessThan(batcherNetwork(50).length);
    expect(rankNetwork(50, 10, 39)).toBe(rankNetwork(50, 10, 39));
    expect(sortingNetwork(50)).toBe(sortingNetwork(50));
  });
});

describe('kernels: WebAssembly against plain TypeScript', () => {
  const wasm = wasmKernels()!;

  it('the WebAssembly kernels load here and are the active ones', () => {
    expect(wasm).not.toBeNull();
    expect(activeKernels()).toBe(wasm);
    expect(wasm.kind).toBe('wasm');
  });

  it('agree on rank means, distances and Bulyan windows over sizes that cross blocks and padding', () => {
    for (const [n, d] of [
      [1, 5],
      [3, 4097],
      [10, 9001],
      [50, 130],
      [20, 8195],
    ] as const) {
      const updates = randomUpdates(n, d, n * 31 + d);
      const first = Math.floor(n / 5);
      expect(wasm.rankMean('t', updates, first, n - 1 - first)).toEqual(scalarKernels.rankMean('t', updates, first, n - 1 - first));
      const keep = Math.max(1, n - 2 * Math.floor(n / 5));
      expect(wasm.closestToMedianMean('b', updates, keep)).toEqual(scalarKernels.closestToMedianMean('b', updates, keep));
      const a = wasm.pairwiseSquaredDistances('k', updates);
      const b = scalarKernels.pairwiseSquaredDistances('k', updates);
      b.forEach((value, i) => expect(Math.abs(a[i]! - value)).toBeLessThanOrEqual(1e-5 * value));
    }
  });

  it('hand the work to the scalar kernels above the network size limit', () => {
    const updates = randomUpdates(networkClientsMax + 2, 6, 5);
    expect(wasm.closestToMedianMean('b', updates, 10)).toEqual(scalarKernels.closestToMedianMean('b', updates, 10));
    expect(wasm.rankMean('m', updates, 60, 69)).toEqual(scalarKernels.rankMean('m', updates, 60, 69));
  });

  it('keep working after their memory grows for a larger call', () => {
    const small = randomUpdates(3, 8, 1);
    const before = wasm.rankMean('m', small, 1, 1);
    wasm.pairwiseSquaredDistances('k', randomUpdates(300, 4100, 2));
    expect(wasm.rankMean('m', small, 1, 1)).toEqual(before);
  });

  it('name the client and coordinate of a non-finite value in a later block', () => {
    for (const kernels of [wasm, scalarKernels] as AggregationKernels[]) {
      const updates = randomUpdates(5, 9000, 3);
      updates[3]![8500] = Number.POSITIVE_INFINITY;
      expect(() => kernels.rankMean('median', updates, 2, 2)).toThrow(/client 3 has Infinity at coordinate 8500/);
      expect(() => kernels.closestToMedianMean('bulyan', updates, 1)).toThrow(/client 3 has Infinity at coordinate 8500/);
    }
  });
});

describe('loading the module', () => {
  it('falls back to null for bytes that are not a module, and the known answer rejects a wrong kernel', () => {
    expect(loadWasmKernels('AAAA')).toBeNull();
    expect(passesKnownAnswer(scalarKernels)).toBe(true);
    expect(passesKnownAnswer({ ...scalarKernels, rankMean: () => new Float32Array(5) })).toBe(false);
    expect(loadWasmKernels()).not.toBeNull();
  });
});

describe('firstNonFinite', () => {
  it('finds the first NaN or infinity in a range, or -1', () => {
    const values = Float32Array.of(1, Number.NaN, 2, Number.NEGATIVE_INFINITY, -0, 3.4e38);
    expect(firstNonFinite(values)).toBe(1);
    expect(firstNonFinite(values, 2)).toBe(3);
    expect(firstNonFinite(values, 4)).toBe(-1);
    expect(firstNonFinite(values.subarray(4))).toBe(-1);
  });
});

describe('finite values too large to square in f32', () => {
  it('give the same norms, distances and clipped means in both kernels (f64 recomputed where f32 overflowed)', () => {
    const updates = [Float32Array.of(1e30, 0, 0, 0, 1), Float32Array.of(1, 2, 3, 4, 5), Float32Array.of(0, 0, 0, 0, 0)];
    const wasm = wasmKernels()!;
    expect(wasm.norms('n', updates, null)).toEqual(scalarKernels.norms('n', updates, null));
    expect(wasm.norms('n', updates, updates[1]!)).toEqual(scalarKernels.norms('n', updates, updates[1]!));
    const a = wasm.pairwiseSquaredDistances('k', updates);
    const b = scalarKernels.pairwiseSquaredDistances('k', updates);
    a.forEach((value, i) => expect(value).toBeCloseTo(b[i]!, 6));
    expect(Number.isFinite(a[1]!) && a[1]! > 1e59).toBe(true);
    const weights = new Float64Array([0.25, 0.25, 0.5]);
    const viaWasm = wasm.weightedSum('c', updates, weights, { base: updates[1]!, baseWeight: 0, normsAfter: true, valuesChecked: true });
    const viaScalar = scalarKernels.weightedSum('c', updates, weights, { base: updates[1]!, baseWeight: 0, normsAfter: true });
    expect(viaWasm.sum).toEqual(viaScalar.sum);
    viaWasm.norms!.forEach((value, i) => expect(value / viaScalar.norms![i]!).toBeCloseTo(1, 6));
  });
});

describe('weighted sums and norms in both kernels', () => {
  it('agree on sums with and without a base, the distances to the sum, and norms, inside and outside `reusing`', () => {
    const wasm = wasmKernels()!;
    for (const [n, d] of [
      [1, 3],
      [5, 4099],
      [9, 10_001],
    ] as const) {
      const updates = randomUpdates(n, d, 17 * n + d);
      const weights = Float64Array.from({ length: n }, (_, i) => (i + 1) / ((n * (n + 1)) / 2));
      const base = randomUpdates(1, d, 3)[0]!;
      for (const options of [{}, { base, baseWeight: 0.5, normsAfter: true }]) {
        const viaScalar = scalarKernels.weightedSum('w', updates, weights, options);
        const viaWasm = wasm.weightedSum('w', updates, weights, options);
        const viaReuse = wasm.reusing(updates, () => [wasm.norms('w', updates, null), wasm.weightedSum('w', updates, weights, { ...options, valuesChecked: true })] as const);
        viaScalar.sum.forEach((value, j) => {
          expect(viaWasm.sum[j]).toBeCloseTo(value, 6);
          expect(viaReuse[1].sum[j]).toBeCloseTo(value, 6);
        });
        if (viaScalar.norms !== null) viaScalar.norms.forEach((value, i) => expect(viaWasm.norms![i]! / value).toBeCloseTo(1, 5));
        scalarKernels.norms('w', updates, null).forEach((value, i) => expect(viaReuse[0][i]! / value).toBeCloseTo(1, 5));
      }
      expect(scalarKernels.reusing(updates, () => 7)).toBe(7);
    }
  });

  it('refuse NaN in the scalar weighted sum and in the norms, naming the client', () => {
    const updates = randomUpdates(6, 300, 8);
    updates[5]![299] = Number.NaN;
    const weights = new Float64Array(6).fill(1 / 6);
    for (const kernels of [scalarKernels, wasmKernels()!] as AggregationKernels[]) {
      expect(() => kernels.weightedSum('w', updates, weights, {})).toThrow(/client 5 has NaN at coordinate 299/);
      expect(() => kernels.norms('w', updates, null)).toThrow(/client 5 has NaN at coordinate 299/);
    }
  });
});
