/**
 * Node features: a dense row-major matrix, or a sparse CSR matrix for inputs such as Cora's
 * 1433-dimensional bag of words with about 18 non-zeros per row. Only the first layer reads
 * features, and with sparse input its cost scales with the non-zeros, not the width.
 */
import { MlError, MlErrorCode } from './errors.js';
import { checkCsr } from './graph.js';

/** A dense [rows x columns] matrix, row-major. */
export interface DenseFeatures {
  readonly kind: 'dense';
  readonly rows: number;
  readonly columns: number;
  readonly values: Float32Array;
}

/** A sparse [rows x columns] matrix in CSR form: row r holds `values[k]` at column `indices[k]` for k in offsets[r]..offsets[r+1]-1. */
export interface SparseFeatures {
  readonly kind: 'sparse';
  readonly rows: number;
  readonly columns: number;
  readonly offsets: Int32Array;
  readonly indices: Int32Array;
  readonly values: Float32Array;
}

/** Features of every node of a graph, one row per node. */
export type Features = DenseFeatures | SparseFeatures;

/** Wraps a row-major Float32Array as DenseFeatures after checking its length against rows x columns. */
export function denseFeatures(rows: number, columns: number, values: Float32Array): DenseFeatures {
  if (values.length !== rows * columns) {
    throw new MlError(MlErrorCode.ERR_ML_SHAPE, `denseFeatures: expected ${rows} x ${columns} = ${rows * columns} values, got ${values.length}`);
  }
  return { kind: 'dense', rows, columns, values };
}

/** Wraps CSR arrays as SparseFeatures after checking their structure. */
export function sparseFeatures(rows: number, columns: number, offsets: Int32Array, indices: Int32Array, values: Float32Array): SparseFeatures {
  if (values.length !== indices.length) {
    throw new MlError(MlErrorCode.ERR_ML_SHAPE, `sparseFeatures: expected ${indices.length} values (one per index), got ${values.length}`);
  }
  checkCsr('sparseFeatures', rows, columns, offsets, indices);
  return { kind: 'sparse', rows, columns, offsets, indices, values };
}

/**
 * The boundary check every training and inference entry point runs: `features` must have
 * `rows` rows and `columns` columns, a well-formed structure, and only finite values. A NaN or
 * infinity is refused with its row and column, since one would silently poison every output
 * it reaches through the neighbour means.
 */
export function checkFeatures(what: string, features: Features, rows: number, columns: number): void {
  if (features.rows !== rows || features.columns !== columns) {
    throw new MlError(MlErrorCode.ERR_ML_SHAPE, `${what}: expected features of shape [${rows} x ${columns}], got [${features.rows} x ${features.columns}]`);
  }
  if (features.kind === 'dense') {
    if (features.values.length !== rows * columns) {
      throw new MlError(MlErrorCode.ERR_ML_SHAPE, `${what}: expected ${rows * columns} dense values, got ${features.values.length}`);
    }
    const at = firstNonFinite(features.values);
    if (at >= 0) throw nonFinite(what, Math.floor(at / columns), at % columns, features.values[at]!);
    return;
  }
  if (features.values.length !== features.indices.length) {
    throw new MlError(MlErrorCode.ERR_ML_SHAPE, `${what}: expected ${features.indices.length} sparse values, got ${features.values.length}`);
  }
  checkCsr(what, rows, columns, features.offsets, features.indices);
  const at = firstNonFinite(features.values);
  if (at >= 0) throw nonFinite(what, rowOfPosition(features.offsets, at), features.indices[at]!, features.values[at]!);
}

/** Index of the first NaN or infinity in `values`, or -1. */
export function firstNonFinite(values: Float32Array): number {
  for (let at = 0; at < values.length; at++) {
    // x - x is 0 for finite x and NaN for NaN and both infinities: one comparison per value.
    const value = values[at]!;
    if (value - value !== 0) return at;
  }
  return -1;
}

function nonFinite(what: string, row: number, column: number, value: number): MlError {
  return new MlError(MlErrorCode.ERR_ML_NON_FINITE, `${what}: feature at row ${row}, column ${column} is ${value}; features must be finite`);
}

/** The CSR row holding value position `at` (binary search over the offsets). */
function rowOfPosition(offsets: Int32Array, at: number): number {
  let lo = 0;
  let hi = offsets.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid]! <= at) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The rows `rows` of `features` (graph node ids, in that order) as a new matrix: the input of a sampled mini-batch. */
export function gatherRows(features: Features, rows: Int32Array): Features {
  const { columns } = features;
  if (features.kind === 'dense') {
    const values = new Float32Array(rows.length * columns);
    rows.forEach((row, i) => values.set(features.values.subarray(row * columns, (row + 1) * columns), i * columns));
    return { kind: 'dense', rows: rows.length, columns, values };
  }
  const offsets = new Int32Array(rows.length + 1);
  rows.forEach((row, i) => (offsets[i + 1] = offsets[i]! + features.offsets[row + 1]! - features.offsets[row]!));
  const indices = new Int32Array(offsets[rows.length]!);
  const values = new Float32Array(indices.length);
  rows.forEach((row, i) => {
    const start = features.offsets[row]!;
    const end = features.offsets[row + 1]!;
    indices.set(features.indices.subarray(start, end), offsets[i]!);
    values.set(features.values.subarray(start, end), offsets[i]!);
  });
  return { kind: 'sparse', rows: rows.length, columns, offsets, indices, values };
}

/**
 * A copy of `features` with each row divided by the sum of its absolute values (rows of zeros
 * stay zero): the usual preprocessing of bag-of-words inputs such as Cora's, so that long and
 * short documents weigh the same.
 */
export function l1NormalizeRows<F extends Features>(features: F): F {
  const values = features.values.slice();
  const rowRange = (row: number): [number, number] =>
    features.kind === 'dense' ? [row * features.columns, (row + 1) * features.columns] : [features.offsets[row]!, features.offsets[row + 1]!];
  for (let row = 0; row < features.rows; row++) {
    const [start, end] = rowRange(row);
    let sum = 0;
    for (let at = start; at < end; at++) sum += Math.abs(values[at]!);
    if (sum > 0) for (let at = start; at < end; at++) values[at]! /= sum;
  }
  return { ...features, values };
}
