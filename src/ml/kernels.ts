/**
 * The numeric kernels of GraphSAGE over flat row-major Float32Arrays. Each takes explicit row
 * counts, so callers can pass buffers larger than needed (a workspace grown once and reused),
 * and none allocates. Backward loops skip all-zero gradient rows: in training only the rows
 * that reach a labelled node carry gradient, so skipping the others saves work without
 * changing a bit of the result.
 */

/** A CSR matrix (or adjacency) as three arrays. */
export interface CsrArrays {
  readonly offsets: Int32Array;
  readonly indices: Int32Array;
  readonly values: Float32Array;
}

/*
 * Why the loops look unrolled: a loop `out[o + c] += v * w[j + c]` loads and stores `out` for
 * every multiply-add and rounds to float32 each time. Keeping eight output columns in local
 * variables (registers) across the whole inner loop and storing once is 2-3x faster in V8 on
 * the shapes that matter here (16 hidden units, a few to a few dozen non-zeros per row), and
 * the float64 accumulation is more accurate. The forward kernels continue with a block of 4
 * columns (a 7-class head is 4 + 3) and finish one column at a time.
 */

/**
 * out[r,:] (+)= a[r,:] W for r < rows, where a is [rows x inDim] and W is [inDim x outDim].
 * Zeros of `a` are multiplied rather than skipped: after ReLU and dropout they fall at random,
 * and a branch on them is mispredicted so often that it costs more than the multiply-adds.
 */
export function denseMatMul(a: Float32Array, rows: number, inDim: number, w: Float32Array, outDim: number, out: Float32Array, accumulate: boolean): void {
  for (let r = 0; r < rows; r++) {
    const aRow = r * inDim;
    const o = r * outDim;
    let c = 0;
    for (; c + 8 <= outDim; c += 8) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
      for (let i = 0; i < inDim; i++) {
        const v = a[aRow + i]!;
        const at = i * outDim + c;
        s0 += v * w[at]!; s1 += v * w[at + 1]!; s2 += v * w[at + 2]!; s3 += v * w[at + 3]!;
        s4 += v * w[at + 4]!; s5 += v * w[at + 5]!; s6 += v * w[at + 6]!; s7 += v * w[at + 7]!;
      }
      store4(out, o + c, accumulate, s0, s1, s2, s3);
      store4(out, o + c + 4, accumulate, s4, s5, s6, s7);
    }
    for (; c + 4 <= outDim; c += 4) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let i = 0; i < inDim; i++) {
        const v = a[aRow + i]!;
        const at = i * outDim + c;
        s0 += v * w[at]!; s1 += v * w[at + 1]!; s2 += v * w[at + 2]!; s3 += v * w[at + 3]!;
      }
      store4(out, o + c, accumulate, s0, s1, s2, s3);
    }
    for (; c < outDim; c++) {
      let s = 0;
      for (let i = 0; i < inDim; i++) s += a[aRow + i]! * w[i * outDim + c]!;
      out[o + c] = accumulate ? out[o + c]! + s : s;
    }
  }
}

/** out[r,:] (+)= x[r,:] W for the first `rows` rows of a CSR matrix x; cost is proportional to its non-zeros. */
export function sparseMatMul(x: CsrArrays, rows: number, w: Float32Array, outDim: number, out: Float32Array, accumulate: boolean): void {
  const { offsets, indices, values } = x;
  for (let r = 0; r < rows; r++) {
    const start = offsets[r]!;
    const end = offsets[r + 1]!;
    const o = r * outDim;
    let c = 0;
    for (; c + 8 <= outDim; c += 8) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
      for (let k = start; k < end; k++) {
        const v = values[k]!;
        const at = indices[k]! * outDim + c;
        s0 += v * w[at]!; s1 += v * w[at + 1]!; s2 += v * w[at + 2]!; s3 += v * w[at + 3]!;
        s4 += v * w[at + 4]!; s5 += v * w[at + 5]!; s6 += v * w[at + 6]!; s7 += v * w[at + 7]!;
      }
      store4(out, o + c, accumulate, s0, s1, s2, s3);
      store4(out, o + c + 4, accumulate, s4, s5, s6, s7);
    }
    for (; c + 4 <= outDim; c += 4) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = start; k < end; k++) {
        const v = values[k]!;
        const at = indices[k]! * outDim + c;
        s0 += v * w[at]!; s1 += v * w[at + 1]!; s2 += v * w[at + 2]!; s3 += v * w[at + 3]!;
      }
      store4(out, o + c, accumulate, s0, s1, s2, s3);
    }
    for (; c < outDim; c++) {
      let s = 0;
      for (let k = start; k < end; k++) s += values[k]! * w[indices[k]! * outDim + c]!;
      out[o + c] = accumulate ? out[o + c]! + s : s;
    }
  }
}

/** Writes (or adds) four accumulated columns at out[at..at+4). */
function store4(out: Float32Array, at: number, accumulate: boolean, s0: number, s1: number, s2: number, s3: number): void {
  if (accumulate) {
    out[at]! += s0; out[at + 1]! += s1; out[at + 2]! += s2; out[at + 3]! += s3;
  } else {
    out[at] = s0; out[at + 1] = s1; out[at + 2] = s2; out[at + 3] = s3;
  }
}

/** True when row r of a [rows x width] matrix is all zeros. */
export function rowIsZero(m: Float32Array, r: number, width: number): boolean {
  const start = r * width;
  for (let c = start; c < start + width; c++) if (m[c] !== 0) return false;
  return true;
}

/** dW += a^T d over the first `rows` rows, where a is [rows x inDim] and d is [rows x outDim]; zero rows of d (rows that reach no labelled node) are skipped. */
export function denseMatMulTransposeA(a: Float32Array, rows: number, inDim: number, d: Float32Array, outDim: number, dw: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    if (rowIsZero(d, r, outDim)) continue;
    const aRow = r * inDim;
    const dRow = r * outDim;
    let c = 0;
    for (; c + 8 <= outDim; c += 8) {
      const d0 = d[dRow + c]!, d1 = d[dRow + c + 1]!, d2 = d[dRow + c + 2]!, d3 = d[dRow + c + 3]!;
      const d4 = d[dRow + c + 4]!, d5 = d[dRow + c + 5]!, d6 = d[dRow + c + 6]!, d7 = d[dRow + c + 7]!;
      for (let i = 0; i < inDim; i++) {
        const v = a[aRow + i]!;
        const at = i * outDim + c;
        dw[at]! += v * d0; dw[at + 1]! += v * d1; dw[at + 2]! += v * d2; dw[at + 3]! += v * d3;
        dw[at + 4]! += v * d4; dw[at + 5]! += v * d5; dw[at + 6]! += v * d6; dw[at + 7]! += v * d7;
      }
    }
    for (; c < outDim; c++) {
      const dc = d[dRow + c]!;
      for (let i = 0; i < inDim; i++) dw[i * outDim + c]! += a[aRow + i]! * dc;
    }
  }
}

/** dW += x^T d over the first `rows` rows of a CSR matrix x, where d is [rows x outDim]; zero rows of d are skipped. */
export function sparseMatMulTransposeA(x: CsrArrays, rows: number, d: Float32Array, outDim: number, dw: Float32Array): void {
  const { offsets, indices, values } = x;
  for (let r = 0; r < rows; r++) {
    if (rowIsZero(d, r, outDim)) continue;
    const start = offsets[r]!;
    const end = offsets[r + 1]!;
    const dRow = r * outDim;
    let c = 0;
    for (; c + 8 <= outDim; c += 8) {
      const d0 = d[dRow + c]!, d1 = d[dRow + c + 1]!, d2 = d[dRow + c + 2]!, d3 = d[dRow + c + 3]!;
      const d4 = d[dRow + c + 4]!, d5 = d[dRow + c + 5]!, d6 = d[dRow + c + 6]!, d7 = d[dRow + c + 7]!;
      for (let k = start; k < end; k++) {
        const v = values[k]!;
        const at = indices[k]! * outDim + c;
        dw[at]! += v * d0; dw[at + 1]! += v * d1; dw[at + 2]! += v * d2; dw[at + 3]! += v * d3;
        dw[at + 4]! += v * d4; dw[at + 5]! += v * d5; dw[at + 6]! += v * d6; dw[at + 7]! += v * d7;
      }
    }
    for (; c < outDim; c++) {
      const dc = d[dRow + c]!;
      for (let k = start; k < end; k++) dw[indices[k]! * outDim + c]! += values[k]! * dc;
    }
  }
}

/** out[r,:] (+)= d[r,:] W^T for r < rows, where d is [rows x outDim] and W is [inDim x outDim]; zero rows of d are skipped. */
export function denseMatMulTransposeB(d: Float32Array, rows: number, outDim: number, w: Float32Array, inDim: number, out: Float32Array, accumulate: boolean): void {
  if (!accumulate) out.fill(0, 0, rows * inDim);
  for (let r = 0; r < rows; r++) {
    if (rowIsZero(d, r, outDim)) continue;
    const dRow = r * outDim;
    const outRow = r * inDim;
    for (let i = 0; i < inDim; i++) {
      const wRow = i * outDim;
      let sum = 0;
      for (let c = 0; c < outDim; c++) sum += d[dRow + c]! * w[wRow + c]!;
      out[outRow + i]! += sum;
    }
  }
}

/** out[i,:] (+)= mean of src[j,:] over the neighbours j of i, for i < dstCount; a node without neighbours adds zeros. */
export function meanAggregate(src: Float32Array, width: number, offsets: Int32Array, neighbours: Int32Array, dstCount: number, out: Float32Array, accumulate: boolean): void {
  for (let i = 0; i < dstCount; i++) {
    const start = offsets[i]!;
    const end = offsets[i + 1]!;
    const q = end === start ? 0 : 1 / (end - start);
    const o = i * width;
    let c = 0;
    for (; c + 8 <= width; c += 8) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
      for (let k = start; k < end; k++) {
        const at = neighbours[k]! * width + c;
        s0 += src[at]!; s1 += src[at + 1]!; s2 += src[at + 2]!; s3 += src[at + 3]!;
        s4 += src[at + 4]!; s5 += src[at + 5]!; s6 += src[at + 6]!; s7 += src[at + 7]!;
      }
      store4(out, o + c, accumulate, s0 * q, s1 * q, s2 * q, s3 * q);
      store4(out, o + c + 4, accumulate, s4 * q, s5 * q, s6 * q, s7 * q);
    }
    for (; c + 4 <= width; c += 4) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = start; k < end; k++) {
        const at = neighbours[k]! * width + c;
        s0 += src[at]!; s1 += src[at + 1]!; s2 += src[at + 2]!; s3 += src[at + 3]!;
      }
      store4(out, o + c, accumulate, s0 * q, s1 * q, s2 * q, s3 * q);
    }
    for (; c < width; c++) {
      let s = 0;
      for (let k = start; k < end; k++) s += src[neighbours[k]! * width + c]!;
      out[o + c] = accumulate ? out[o + c]! + s * q : s * q;
    }
  }
}

/** The transpose of meanAggregate: out[j,:] += d[i,:] / deg(i) for every neighbour j of every i < dstCount. */
export function meanAggregateTranspose(d: Float32Array, width: number, offsets: Int32Array, neighbours: Int32Array, dstCount: number, out: Float32Array): void {
  for (let i = 0; i < dstCount; i++) {
    const start = offsets[i]!;
    const end = offsets[i + 1]!;
    if (end === start || rowIsZero(d, i, width)) continue;
    const inverse = 1 / (end - start);
    const dRow = i * width;
    let c = 0;
    for (; c + 8 <= width; c += 8) {
      const d0 = d[dRow + c]! * inverse, d1 = d[dRow + c + 1]! * inverse, d2 = d[dRow + c + 2]! * inverse, d3 = d[dRow + c + 3]! * inverse;
      const d4 = d[dRow + c + 4]! * inverse, d5 = d[dRow + c + 5]! * inverse, d6 = d[dRow + c + 6]! * inverse, d7 = d[dRow + c + 7]! * inverse;
      for (let k = start; k < end; k++) {
        const at = neighbours[k]! * width + c;
        out[at]! += d0; out[at + 1]! += d1; out[at + 2]! += d2; out[at + 3]! += d3;
        out[at + 4]! += d4; out[at + 5]! += d5; out[at + 6]! += d6; out[at + 7]! += d7;
      }
    }
    for (; c < width; c++) {
      const dc = d[dRow + c]! * inverse;
      for (let k = start; k < end; k++) out[neighbours[k]! * width + c]! += dc;
    }
  }
}

/** m[r,:] += bias for r < rows. */
export function addBias(m: Float32Array, rows: number, bias: Float32Array): void {
  const width = bias.length;
  for (let r = 0; r < rows; r++) {
    const row = r * width;
    for (let c = 0; c < width; c++) m[row + c]! += bias[c]!;
  }
}

/** dBias += column sums of d over the first `rows` rows. */
export function biasGradient(d: Float32Array, rows: number, dBias: Float32Array): void {
  const width = dBias.length;
  for (let r = 0; r < rows; r++) {
    const row = r * width;
    for (let c = 0; c < width; c++) dBias[c]! += d[row + c]!;
  }
}

/** ReLU in place over the first `count` values. */
export function reluInPlace(m: Float32Array, count: number): void {
  for (let at = 0; at < count; at++) if (!(m[at]! > 0)) m[at] = 0;
}

/**
 * Scales each of the first `rows` rows of m to unit L2 norm in place, dividing by
 * max(norm, floor); writes each row's factor to `scales` for the backward pass.
 */
export function l2NormalizeRows(m: Float32Array, rows: number, width: number, floor: number, scales: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const row = r * width;
    let sum = 0;
    for (let c = 0; c < width; c++) sum += m[row + c]! * m[row + c]!;
    const scale = 1 / Math.max(Math.sqrt(sum), floor);
    scales[r] = scale;
    for (let c = 0; c < width; c++) m[row + c]! *= scale;
  }
}

/**
 * Backward of l2NormalizeRows in place: given h = a * s with s = 1 / ||a|| and the gradient dh,
 * writes da = s (dh - h (h . dh)). A row whose norm was under the floor (s at its cap) was only
 * scaled, so its gradient is only scaled too.
 */
export function l2NormalizeRowsBackward(h: Float32Array, rows: number, width: number, floor: number, scales: Float32Array, d: Float32Array): void {
  // Scales are stored as float32, so the cap is compared in float32 too.
  const capped = Math.fround(1 / floor);
  for (let r = 0; r < rows; r++) {
    const row = r * width;
    const scale = scales[r]!;
    if (scale >= capped) {
      for (let c = 0; c < width; c++) d[row + c]! *= scale;
      continue;
    }
    let dot = 0;
    for (let c = 0; c < width; c++) dot += h[row + c]! * d[row + c]!;
    for (let c = 0; c < width; c++) d[row + c] = scale * (d[row + c]! - h[row + c]! * dot);
  }
}

/** Dropout draws are 16 bits: the keep threshold, for a rate in [0, 1), in 0..65536. */
function dropoutThreshold(rate: number): number {
  return Math.ceil(rate * 65_536);
}

/**
 * The factor kept values are scaled by: the inverse of the exact keep probability of 16-bit
 * draws, so the expected output equals the input (the rate is in effect rounded up to a
 * multiple of 2^-16, a difference under 0.002 %).
 */
export function dropoutScale(rate: number): number {
  return 65_536 / (65_536 - dropoutThreshold(rate));
}

/**
 * Inverted dropout: out[i] = src[i] * dropoutScale(rate) with probability about 1 - rate,
 * else 0, for the first `count` values. One 32-bit draw decides two values (16 bits each),
 * halving the cost of the generator, and the decision is turned into a 0/1 factor rather than
 * a branch because a random branch is mispredicted half the time. Scaling at training time
 * leaves inference untouched.
 */
export function dropoutInto(src: Float32Array, count: number, rate: number, random: { nextU32(): number }, out: Float32Array): void {
  const threshold = dropoutThreshold(rate);
  const scale = dropoutScale(rate);
  let at = 0;
  for (; at + 2 <= count; at += 2) {
    const draw = random.nextU32();
    out[at] = src[at]! * (Number((draw & 0xffff) >= threshold) * scale);
    out[at + 1] = src[at + 1]! * (Number(draw >>> 16 >= threshold) * scale);
  }
  if (at < count) out[at] = src[at]! * (Number((random.nextU32() & 0xffff) >= threshold) * scale);
}

/**
 * Backward of dropoutInto given its output: the gradient passes (scaled) where the output is
 * non-zero and stops where it is zero. Where the input itself was zero the gradient is also
 * stopped, which is exact for our callers because the input is a ReLU output and ReLU's
 * gradient is zero there anyway.
 */
export function dropoutBackward(dropped: Float32Array, count: number, rate: number, d: Float32Array): void {
  const scale = dropoutScale(rate);
  for (let at = 0; at < count; at++) d[at] = dropped[at] !== 0 ? d[at]! * scale : 0;
}

/** Zeroes d where the ReLU output h is not positive (ReLU backward, in place). */
export function reluBackward(h: Float32Array, count: number, d: Float32Array): void {
  for (let at = 0; at < count; at++) if (!(h[at]! > 0)) d[at] = 0;
}
