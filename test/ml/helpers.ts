/** Shared fixtures of the ml tests: small seeded graphs and features, a float64 reference GraphSAGE, error assertions. */
import { expectCodedError, expectCodedErrorAsync } from '../coded-error.js';
import { layerWidths, type GraphSageConfig } from '../../src/ml/config.js';
import { MlError, type MlErrorCodeValue } from '../../src/ml/errors.js';
import { denseFeatures, sparseFeatures, type DenseFeatures, type SparseFeatures } from '../../src/ml/features.js';
import { undirectedGraph, type CsrGraph } from '../../src/ml/graph.js';
import { seededRandom, uniform01, uniformBelow, type RandomSource } from '../../src/ml/random.js';

/** Runs `fn`, expecting an MlError with `code` whose message contains every one of `parts`. */
export function expectMlError(fn: () => unknown, code: MlErrorCodeValue, ...parts: string[]): MlError {
  return expectCodedError(fn, MlError, code, ...parts);
}

/** Like expectMlError for a promise. */
export async function expectMlErrorAsync(promise: Promise<unknown>, code: MlErrorCodeValue, ...parts: string[]): Promise<void> {
  await expectCodedErrorAsync(promise, MlError, code, ...parts);
}

/** A random undirected graph with `nodeCount` nodes and about `edgeCount` edges; node `isolated` (if given) has none. */
export function randomGraph(nodeCount: number, edgeCount: number, seed: number, isolated = -1): CsrGraph {
  const random = seededRandom(seed);
  const ends: number[] = [];
  while (ends.length < 2 * edgeCount) {
    const a = uniformBelow(random, nodeCount);
    const b = uniformBelow(random, nodeCount);
    if (a !== b && a !== isolated && b !== isolated) ends.push(a, b);
  }
  return undirectedGraph(nodeCount, ends);
}

/** Dense features in [-1, 1) with about `zeroShare` of them zero. */
export function randomDense(rows: number, columns: number, seed: number, zeroShare = 0.3): DenseFeatures {
  const random = seededRandom(seed);
  const values = new Float32Array(rows * columns).map(() => (uniform01(random) < zeroShare ? 0 : 2 * uniform01(random) - 1));
  return denseFeatures(rows, columns, values);
}

/** The same matrix in CSR form (zeros left out). */
export function toSparse(dense: DenseFeatures): SparseFeatures {
  const offsets = new Int32Array(dense.rows + 1);
  const indices: number[] = [];
  const values: number[] = [];
  for (let r = 0; r < dense.rows; r++) {
    for (let c = 0; c < dense.columns; c++) {
      const value = dense.values[r * dense.columns + c]!;
      if (value !== 0) {
        indices.push(c);
        values.push(value);
      }
    }
    offsets[r + 1] = indices.length;
  }
  return sparseFeatures(dense.rows, dense.columns, offsets, Int32Array.from(indices), Float32Array.from(values));
}

/** Dropout factors (0 or the keep scale) for the reference: on the [n x inputDim] input and on each hidden layer's [n x width] output. */
export interface DropoutMasks {
  readonly input: Float64Array;
  readonly hidden: readonly Float64Array[];
}

/** Labels for the reference: classes (softmax) or [n x outputs] targets (sigmoid). */
export type ReferenceLabels = Int32Array | Float32Array;

/**
 * GraphSAGE written the plain way in float64, independent of src/ml's kernels, engine and
 * heads: per node, per layer, h'_v = act(h_v Ws + mean_u h_u Wn + b), then the mean loss of the
 * head over `nodes`. `params` follows the layout of config.ts.
 */
export function referenceLoss(config: GraphSageConfig, params: Float64Array, graph: CsrGraph, features: DenseFeatures, labels: ReferenceLabels, nodes: Int32Array, masks?: DropoutMasks): number {
  const widths = layerWidths(config);
  let h: number[][] = Array.from({ length: graph.nodeCount }, (_, v) => Array.from(features.values.subarray(v * features.columns, (v + 1) * features.columns)));
  const applyMask = (mask: Float64Array | undefined): void => {
    if (mask !== undefined) h = h.map((row, v) => row.map((x, i) => x * mask[v * row.length + i]!));
  };
  let offset = 0;
  for (let k = 0; k + 1 < widths.length; k++) {
    applyMask(k === 0 ? masks?.input : masks?.hidden[k - 1]);
    const [inDim, outDim] = [widths[k]!, widths[k + 1]!];
    const ws = params.subarray(offset, offset + inDim * outDim);
    const wn = params.subarray(offset + inDim * outDim, offset + 2 * inDim * outDim);
    const b = params.subarray(offset + 2 * inDim * outDim, offset + 2 * inDim * outDim + outDim);
    offset += 2 * inDim * outDim + outDim;
    const last = k + 2 === widths.length;
    h = h.map((hv, v) => {
      const mean = new Array<number>(inDim).fill(0);
      const start = graph.offsets[v]!;
      const end = graph.offsets[v + 1]!;
      for (let e = start; e < end; e++) for (let i = 0; i < inDim; i++) mean[i]! += h[graph.neighbours[e]!]![i]! / (end - start);
      const z = Array.from({ length: outDim }, (_, c) => {
        let sum = b[c]!;
        for (let i = 0; i < inDim; i++) sum += hv[i]! * ws[i * outDim + c]! + mean[i]! * wn[i * outDim + c]!;
        return sum;
      });
      if (last) return z;
      const a = z.map((x) => Math.max(x, 0));
      if (!config.l2Normalize) return a;
      const norm = Math.max(Math.sqrt(a.reduce((s, x) => s + x * x, 0)), 1e-12);
      return a.map((x) => x / norm);
    });
  }
  return headLoss(config, h, labels, nodes);
}

function headLoss(config: GraphSageConfig, logits: number[][], labels: ReferenceLabels, nodes: Int32Array): number {
  let total = 0;
  for (const v of nodes) {
    const z = logits[v]!;
    if (config.head === 'softmax') {
      const max = Math.max(...z);
      const logSum = Math.log(z.reduce((s, x) => s + Math.exp(x - max), 0)) + max;
      total += logSum - z[labels[v]!]!;
    } else {
      z.forEach((x, c) => {
        const t = labels[v * config.outputDim + c]!;
        const p = 1 / (1 + Math.exp(-x));
        total += -(t * Math.log(p) + (1 - t) * Math.log(1 - p));
      });
    }
  }
  return total / (nodes.length * (config.head === 'softmax' ? 1 : config.outputDim));
}

/** A RandomSource that can be rewound to its start, so two passes draw the same dropout masks. */
export class RewindableRandom implements RandomSource {
  private inner: RandomSource;

  constructor(private readonly seed: number) {
    this.inner = seededRandom(seed);
  }

  nextU32(): number {
    return this.inner.nextU32();
  }

  rewind(): void {
    this.inner = seededRandom(this.seed);
  }
}
