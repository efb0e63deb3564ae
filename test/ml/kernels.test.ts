/** Kernels against naive loops at widths that exercise the 8-column blocks and the remainders; heads; randomness. */
import { describe, expect, test } from 'vitest';
import { MlErrorCode } from '../../src/ml/errors.js';
import { sigmoid, sigmoidBinaryCrossEntropy, softmaxCrossEntropy } from '../../src/ml/heads.js';
import {
  denseMatMul,
  denseMatMulTransposeA,
  denseMatMulTransposeB,
  dropoutInto,
  dropoutScale,
  l2NormalizeRows,
  l2NormalizeRowsBackward,
  meanAggregate,
  meanAggregateTranspose,
  sparseMatMul,
  sparseMatMulTransposeA,
} from '../../src/ml/kernels.js';
import { seededRandom, uniform01, uniformBelow } from '../../src/ml/random.js';
import { expectMlError, randomDense, randomGraph, toSparse } from './helpers.js';

const rows = 9;
const inDim = 5;
const naive = (a: Float32Array, w: Float32Array, outDim: number): number[] =>
  Array.from({ length: rows * outDim }, (_, at) => {
    const [r, c] = [Math.floor(at / outDim), at % outDim];
    let s = 0;
    for (let i = 0; i < inDim; i++) s += a[r * inDim + i]! * w[i * outDim + c]!;
    return s;
  });

describe.each([3, 7, 8, 21])('kernels at width %i', (outDim) => {
  const a = randomDense(rows, inDim, 1).values;
  const x = toSparse(randomDense(rows, inDim, 1));
  const w = randomDense(inDim, outDim, 2).values;
  const d = randomDense(rows, outDim, 3, 0).values;
  d.fill(0, 2 * outDim, 3 * outDim); // an all-zero gradient row is skipped

  test('dense and sparse products match the naive loop, with and without accumulation', () => {
    const expected = naive(a, w, outDim);
    for (const run of [(out: Float32Array, acc: boolean) => denseMatMul(a, rows, inDim, w, outDim, out, acc), (out: Float32Array, acc: boolean) => sparseMatMul(x, rows, w, outDim, out, acc)]) {
      const out = new Float32Array(rows * outDim).fill(7);
      run(out, false);
      out.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 5));
      run(out, true);
      out.forEach((value, i) => expect(value).toBeCloseTo(2 * expected[i]!, 5));
    }
  });

  test('transposed products match the naive loops', () => {
    const dw = new Float32Array(inDim * outDim);
    denseMatMulTransposeA(a, rows, inDim, d, outDim, dw);
    const dwSparse = new Float32Array(inDim * outDim);
    sparseMatMulTransposeA(x, rows, d, outDim, dwSparse);
    const dIn = new Float32Array(rows * inDim).fill(3);
    denseMatMulTransposeB(d, rows, outDim, w, inDim, dIn, false);
    for (let i = 0; i < inDim; i++) {
      for (let c = 0; c < outDim; c++) {
        let s = 0;
        for (let r = 0; r < rows; r++) s += a[r * inDim + i]! * d[r * outDim + c]!;
        expect(dw[i * outDim + c]).toBeCloseTo(s, 5);
        expect(dwSparse[i * outDim + c]).toBeCloseTo(s, 5);
      }
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let c = 0; c < outDim; c++) s += d[r * outDim + c]! * w[i * outDim + c]!;
        expect(dIn[r * inDim + i]).toBeCloseTo(s, 5);
      }
    }
  });

  test('mean aggregation and its transpose are adjoint: <A x, y> = <x, A^T y>', () => {
    const graph = randomGraph(rows, 12, 4, 0);
    const src = randomDense(rows, outDim, 5, 0).values;
    const y = randomDense(rows, outDim, 6, 0).values;
    const ax = new Float32Array(rows * outDim).fill(9);
    meanAggregate(src, outDim, graph.offsets, graph.neighbours, rows, ax, false);
    expect(Array.from(ax.subarray(0, outDim))).toStrictEqual(new Array(outDim).fill(0)); // node 0 is isolated
    const aty = new Float32Array(rows * outDim);
    meanAggregateTranspose(y, outDim, graph.offsets, graph.neighbours, rows, aty);
    const dot = (p: Float32Array, q: Float32Array) => p.reduce((s, v, i) => s + v * q[i]!, 0);
    expect(dot(ax, y)).toBeCloseTo(dot(src, aty), 4);
    const again = ax.slice();
    meanAggregate(src, outDim, graph.offsets, graph.neighbours, rows, again, true);
    again.forEach((value, i) => expect(value).toBeCloseTo(2 * ax[i]!, 5));
  });
});

describe('L2 normalisation and dropout', () => {
  test('a row under the norm floor is only scaled, forward and backward', () => {
    const m = Float32Array.from([3, 4, 1e-13, 0]);
    const scales = new Float32Array(2);
    l2NormalizeRows(m, 2, 2, 1e-12, scales);
    expect(m[0]).toBeCloseTo(0.6, 7);
    expect(m[1]).toBeCloseTo(0.8, 7);
    expect(m[2]).toBeCloseTo(0.1, 7); // 1e-13 / 1e-12: divided by the floor, not by its own norm
    const d = Float32Array.from([1, 0, 1e-13, 0]);
    l2NormalizeRowsBackward(m, 2, 2, 1e-12, scales, d);
    expect(d[2]).toBeCloseTo(0.1, 7); // only scaled; the unit-norm projection would give 0.099
    expect(d[0]! * 0.6 + d[1]! * 0.8).toBeCloseTo(0, 6); // the gradient of a unit vector is tangent to it
  });

  test('inverted dropout keeps about 1 - rate of the values, scaled by 1 / (1 - rate)', () => {
    const src = new Float32Array(20001).fill(1);
    const out = new Float32Array(20001);
    dropoutInto(src, src.length, 0.3, seededRandom(2), out);
    const kept = out.filter((v) => v !== 0);
    expect(kept.length / src.length).toBeCloseTo(0.7, 1.5);
    expect(dropoutScale(0.3)).toBeCloseTo(1 / 0.7, 4);
    expect(dropoutScale(0.5)).toBe(2);
    expect(kept.every((v) => v === Math.fround(dropoutScale(0.3)))).toBe(true);
    // The odd last value is decided too.
    const one = new Float32Array(1);
    dropoutInto(Float32Array.from([1]), 1, 0.5, { nextU32: () => 0xffff }, one);
    expect(one[0]).toBe(2);
    dropoutInto(Float32Array.from([1]), 1, 0.5, { nextU32: () => 0x7fff }, one);
    expect(one[0]).toBe(0);
  });
});

describe('heads', () => {
  test('softmax cross-entropy of uniform logits is log(classes); its gradient is p - onehot over the rows', () => {
    const logits = new Float32Array(8);
    const gradient = new Float32Array(8);
    expect(softmaxCrossEntropy(logits, 4, Int32Array.from([1]), Int32Array.from([2]), gradient)).toBeCloseTo(Math.log(4));
    expect(Array.from(gradient)).toStrictEqual([0, 0, 0, 0, 0.25, 0.25, -0.75, 0.25]);
    expect(softmaxCrossEntropy(logits, 4, new Int32Array(0), new Int32Array(0), null)).toBe(0);
  });

  test('sigmoid cross-entropy stays finite for large logits', () => {
    const loss = sigmoidBinaryCrossEntropy(Float32Array.from([1000, -1000]), 2, Int32Array.from([0]), Float32Array.from([0, 1]), null);
    expect(loss).toBeCloseTo(1000, 3);
    expect(sigmoid(-1000)).toBe(0);
    expect(sigmoid(1000)).toBe(1);
    expect(sigmoidBinaryCrossEntropy(new Float32Array(0), 2, new Int32Array(0), new Float32Array(0), null)).toBe(0);
  });
});

describe('random', () => {
  test('seeded streams repeat; uniforms are in range and roughly uniform', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const first = Array.from({ length: 5 }, () => a.nextU32());
    expect(Array.from({ length: 5 }, () => b.nextU32())).toStrictEqual(first);
    const random = seededRandom(1);
    const counts = new Array<number>(5).fill(0);
    for (let i = 0; i < 10000; i++) counts[uniformBelow(random, 5)]!++;
    for (const count of counts) expect(Math.abs(count - 2000)).toBeLessThan(200);
    const u = uniform01(random);
    expect(u >= 0 && u < 1).toBe(true);
  });

  test('uniformBelow rejects draws from the incomplete last span instead of biasing low values', () => {
    const draws = [0xffffffff, 7];
    const scripted = { nextU32: () => draws.shift()! };
    expect(uniformBelow(scripted, 10)).toBe(7);
    expect(draws).toHaveLength(0);
  });

  test('bad seeds are refused', () => {
    for (const seed of [-1, 1.5, 2 ** 32]) expectMlError(() => seededRandom(seed), MlErrorCode.ERR_ML_ARGUMENT, `got ${seed}`);
  });
});
