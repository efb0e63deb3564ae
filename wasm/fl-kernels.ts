// Hot loops of the federated-learning aggregation rules (src/fl/aggregation) in AssemblyScript,
// compiled to WebAssembly with SIMD by `npm run build:wasm` into src/fl/aggregation/kernels-wasm-binary.ts
// (base64). Why: coordinate-wise median, trimmed mean, Krum and Bulyan over 50 clients and a
// million parameters are 10^8..10^9 compare or multiply-add steps; plain TypeScript runs them
// one lane at a time with a mispredicted branch per comparison, while here four coordinates
// move through a branch-free sorting network together and distances use four lanes.
//
// The caller (src/fl/aggregation/kernels-wasm.ts) owns the memory layout above `heapBase`: a
// block of client rows (row r of the block holds columns [c0, c0 + columns) of client r, rows
// `rowStrideBytes` apart, the columns padded with zeros to a multiple of 4), a list of
// comparators (pairs of u32 byte offsets of rows), an output row of f32, and an n x n matrix of
// f64 distances. Every function here reads and writes only those regions.

export const heapBase: usize = __heap_base;

// Columns handled per pass of a sorting network or of the distances: 64 columns of 50 clients
// are 12.8 KiB, which stays in the L1 cache while hundreds of comparators pass over it.
const TILE_COLUMNS: usize = 64;
const EXPONENT_MASK: i32 = 0x7f800000;

// Returns the index (in the block, row * columns + column) of the first value that is NaN or
// infinite, or -1; the caller checks every block before any kernel reads it.
export function firstNonFinite(block: usize, rows: i32, rowStrideBytes: usize, columns: i32): i32 {
  const mask = i32x4.splat(EXPONENT_MASK);
  const widthBytes = (<usize>columns) << 2;
  for (let r = 0; r < rows; r++) {
    const row = block + <usize>r * rowStrideBytes;
    let seen = i32x4.splat(0);
    for (let o: usize = 0; o < widthBytes; o += 16) {
      // An f32 is NaN or infinite exactly when all its exponent bits are set.
      seen = v128.or(seen, i32x4.eq(v128.and(v128.load(row + o), mask), mask));
    }
    if (v128.any_true(seen)) {
      for (let c = 0; c < columns; c++) {
        if ((load<i32>(row + ((<usize>c) << 2)) & EXPONENT_MASK) == EXPONENT_MASK) return r * columns + c;
      }
    }
  }
  return -1;
}

// Applies `count` comparators to `widthBytes` bytes of every row starting at `tile`; after a
// comparator (a, b) the smaller value of each column is in row a and the larger in row b.
function runNetwork(tile: usize, widthBytes: usize, comparators: usize, count: i32): void {
  for (let k = 0; k < count; k++) {
    const pair = comparators + ((<usize>k) << 3);
    const rowA = tile + <usize>load<u32>(pair);
    const rowB = tile + <usize>load<u32>(pair, 4);
    // Two vectors per iteration: the widths are multiples of 4 columns, so a single trailing
    // vector is handled after the loop.
    let o: usize = 0;
    for (; o + 32 <= widthBytes; o += 32) {
      const a0 = v128.load(rowA + o);
      const b0 = v128.load(rowB + o);
      const a1 = v128.load(rowA + o, 16);
      const b1 = v128.load(rowB + o, 16);
      // pmin(a, b) and pmax(b, a) test the same `b < a`, so the pair is swapped exactly when
      // b < a: the multiset of values is kept (even for -0 and +0) and each is one instruction.
      v128.store(rowA + o, f32x4.pmin(a0, b0));
      v128.store(rowB + o, f32x4.pmax(b0, a0));
      v128.store(rowA + o, f32x4.pmin(a1, b1), 16);
      v128.store(rowB + o, f32x4.pmax(b1, a1), 16);
    }
    if (o < widthBytes) {
      const a = v128.load(rowA + o);
      const b = v128.load(rowB + o);
      v128.store(rowA + o, f32x4.pmin(a, b));
      v128.store(rowB + o, f32x4.pmax(b, a));
    }
  }
}

// Writes to `out` the mean, per column, of the rows `first`..`last` (inclusive) after the
// network has run over each tile of the block: with a network that orders ranks first..last,
// the median (first = last or last = first + 1) or the trimmed mean. Sums are in f64.
export function middleMean(
  block: usize, rowStrideBytes: usize, columns: i32, comparators: usize, count: i32, first: i32, last: i32, out: usize,
): void {
  const scale = f64x2.splat(1.0 / <f64>(last - first + 1));
  const totalBytes = (<usize>columns) << 2;
  for (let t: usize = 0; t < totalBytes; t += TILE_COLUMNS << 2) {
    const widthBytes = min(TILE_COLUMNS << 2, totalBytes - t);
    runNetwork(block + t, widthBytes, comparators, count);
    for (let o: usize = 0; o < widthBytes; o += 16) {
      let low = f64x2.splat(0);
      let high = f64x2.splat(0);
      for (let r = first; r <= last; r++) {
        const v = v128.load(block + <usize>r * rowStrideBytes + t + o);
        low = f64x2.add(low, f64x2.promote_low_f32x4(v));
        high = f64x2.add(high, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)));
      }
      const lowF32 = f32x4.demote_f64x2_zero(f64x2.mul(low, scale));
      const highF32 = f32x4.demote_f64x2_zero(f64x2.mul(high, scale));
      v128.store(out + t + o, v128.shuffle<f32>(lowF32, highF32, 0, 1, 4, 5));
    }
  }
}

// Squared distance between two rows over `widthBytes`, in f32 lanes (8 terms per lane at most
// for a 64-column tile), returned in f64 so that the caller's running sum over tiles is f64.
// @ts-ignore: decorator
@inline
function tileSquaredDistance(rowA: usize, rowB: usize, widthBytes: usize): f64 {
  let acc0 = f32x4.splat(0);
  let acc1 = f32x4.splat(0);
  let o: usize = 0;
  for (; o + 32 <= widthBytes; o += 32) {
    const d0 = f32x4.sub(v128.load(rowA + o), v128.load(rowB + o));
    const d1 = f32x4.sub(v128.load(rowA + o, 16), v128.load(rowB + o, 16));
    acc0 = f32x4.add(acc0, f32x4.mul(d0, d0));
    acc1 = f32x4.add(acc1, f32x4.mul(d1, d1));
  }
  if (o < widthBytes) {
    const d0 = f32x4.sub(v128.load(rowA + o), v128.load(rowB + o));
    acc0 = f32x4.add(acc0, f32x4.mul(d0, d0));
  }
  return laneSum(acc0) + laneSum(acc1);
}

// Squared distances from one row to four others over `widthBytes`, added to four f64 cells
// of the distance matrix; loading row A once for four rows is what makes Krum affordable.
function tileFourDistances(rowA: usize, rowB: usize, rowStrideBytes: usize, widthBytes: usize, cells: usize): void {
  let acc0 = f32x4.splat(0);
  let acc1 = f32x4.splat(0);
  let acc2 = f32x4.splat(0);
  let acc3 = f32x4.splat(0);
  const rowC = rowB + rowStrideBytes;
  const rowD = rowC + rowStrideBytes;
  const rowE = rowD + rowStrideBytes;
  for (let o: usize = 0; o < widthBytes; o += 16) {
    const a = v128.load(rowA + o);
    const d0 = f32x4.sub(a, v128.load(rowB + o));
    const d1 = f32x4.sub(a, v128.load(rowC + o));
    const d2 = f32x4.sub(a, v128.load(rowD + o));
    const d3 = f32x4.sub(a, v128.load(rowE + o));
    acc0 = f32x4.add(acc0, f32x4.mul(d0, d0));
    acc1 = f32x4.add(acc1, f32x4.mul(d1, d1));
    acc2 = f32x4.add(acc2, f32x4.mul(d2, d2));
    acc3 = f32x4.add(acc3, f32x4.mul(d3, d3));
  }
  store<f64>(cells, load<f64>(cells) + laneSum(acc0));
  store<f64>(cells, load<f64>(cells, 8) + laneSum(acc1), 8);
  store<f64>(cells, load<f64>(cells, 16) + laneSum(acc2), 16);
  store<f64>(cells, load<f64>(cells, 24) + laneSum(acc3), 24);
}

// The sum of the four f32 lanes of `v`, in f64.
// @ts-ignore: decorator
@inline
function laneSum(v: v128): f64 {
  const sum = f64x2.add(f64x2.promote_low_f32x4(v), f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)));
  return f64x2.extract_lane(sum, 0) + f64x2.extract_lane(sum, 1);
}

// Adds to `distances` (n x n f64, row-major; only i < j is written) the squared Euclidean
// distances between the `rows` rows of the block over its columns, one tile at a time so
// that the rows of a tile stay in L1 while all pairs pass over them.
export function addPairwiseSquared(block: usize, rows: i32, rowStrideBytes: usize, columns: i32, distances: usize): void {
  const totalBytes = (<usize>columns) << 2;
  for (let t: usize = 0; t < totalBytes; t += TILE_COLUMNS << 2) {
    const widthBytes = min(TILE_COLUMNS << 2, totalBytes - t);
    for (let i = 0; i < rows; i++) {
      const rowA = block + <usize>i * rowStrideBytes + t;
      let j = i + 1;
      for (; j + 4 <= rows; j += 4) {
        tileFourDistances(rowA, block + <usize>j * rowStrideBytes + t, rowStrideBytes, widthBytes, distances + ((<usize>(i * rows + j)) << 3));
      }
      for (; j < rows; j++) {
        const cell = distances + ((<usize>(i * rows + j)) << 3);
        store<f64>(cell, load<f64>(cell) + tileSquaredDistance(rowA, block + <usize>j * rowStrideBytes + t, widthBytes));
      }
    }
  }
}

// Bulyan's second phase (El Mhamdi et al. 2018): sorts each column of the `rows` selected rows
// with the network, then writes to `out` the mean of the `keep` values closest to the column's
// median. The closest values are consecutive in sorted order; the window whose farther end is
// nearest the median is taken, the first such window on a tie.
export function closestToMedianMean(
  block: usize, rows: i32, rowStrideBytes: usize, columns: i32, comparators: usize, count: i32, keep: i32, out: usize,
): void {
  const totalBytes = (<usize>columns) << 2;
  for (let t: usize = 0; t < totalBytes; t += TILE_COLUMNS << 2) {
    const widthBytes = min(TILE_COLUMNS << 2, totalBytes - t);
    runNetwork(block + t, widthBytes, comparators, count);
    for (let o: usize = 0; o < widthBytes; o += 4) {
      store<f32>(out + t + o, windowMean(block + t + o, rows, rowStrideBytes, keep));
    }
  }
}

// The mean of the `keep` sorted values (rows apart by rowStrideBytes from `column`) nearest the median.
function windowMean(column: usize, rows: i32, rowStrideBytes: usize, keep: i32): f32 {
  const half = rows >> 1;
  const median: f64 = (rows & 1) == 1
    ? <f64>load<f32>(column + <usize>half * rowStrideBytes)
    : (<f64>load<f32>(column + <usize>(half - 1) * rowStrideBytes) + <f64>load<f32>(column + <usize>half * rowStrideBytes)) / 2;
  let best = 0;
  let bestReach = Infinity;
  for (let s = 0; s + keep <= rows; s++) {
    const below = median - <f64>load<f32>(column + <usize>s * rowStrideBytes);
    const above = <f64>load<f32>(column + <usize>(s + keep - 1) * rowStrideBytes) - median;
    const reach = max(below, above);
    if (reach < bestReach) {
      bestReach = reach;
      best = s;
    }
  }
  let sum: f64 = 0;
  for (let r = best; r < best + keep; r++) sum += <f64>load<f32>(column + <usize>r * rowStrideBytes);
  return <f32>(sum / <f64>keep);
}

// out[c] = baseWeight * base[c] + sum_r weights[r] * row_r[c] for every column c, summed in
// f64 (two f64x2 per four columns); `base` is 0 when there is none. Walking the rows for each
// group of columns keeps the accumulators in registers instead of a row of them in memory, and
// eight columns at a time give four independent additions, so the loop is not bound by the
// latency of one f64 add per row.
export function weightedSum(
  block: usize, rows: i32, rowStrideBytes: usize, columns: i32, weights: usize, base: usize, baseWeight: f64, out: usize,
): void {
  const totalBytes = (<usize>columns) << 2;
  let o: usize = 0;
  for (; o + 32 <= totalBytes; o += 32) {
    weightedSumColumns(block + o, rows, rowStrideBytes, weights, base == 0 ? 0 : base + o, baseWeight, out + o, 2);
  }
  if (o < totalBytes) weightedSumColumns(block + o, rows, rowStrideBytes, weights, base == 0 ? 0 : base + o, baseWeight, out + o, 1);
}

// The weighted sum of `vectors` (1 or 2) groups of four columns starting at `column`.
// @ts-ignore: decorator
@inline
function weightedSumColumns(column: usize, rows: i32, rowStrideBytes: usize, weights: usize, base: usize, baseWeight: f64, out: usize, vectors: i32): void {
  let low0 = f64x2.splat(0);
  let high0 = f64x2.splat(0);
  let low1 = f64x2.splat(0);
  let high1 = f64x2.splat(0);
  if (base != 0) {
    const scale = f64x2.splat(baseWeight);
    const b0 = v128.load(base);
    const b1 = vectors == 2 ? v128.load(base, 16) : f32x4.splat(0);
    low0 = f64x2.mul(f64x2.promote_low_f32x4(b0), scale);
    high0 = f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<f32>(b0, b0, 2, 3, 0, 1)), scale);
    low1 = f64x2.mul(f64x2.promote_low_f32x4(b1), scale);
    high1 = f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<f32>(b1, b1, 2, 3, 0, 1)), scale);
  }
  let row = column;
  for (let r = 0; r < rows; r++) {
    const w = f64x2.splat(load<f64>(weights + ((<usize>r) << 3)));
    const v0 = v128.load(row);
    low0 = f64x2.add(low0, f64x2.mul(f64x2.promote_low_f32x4(v0), w));
    high0 = f64x2.add(high0, f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<f32>(v0, v0, 2, 3, 0, 1)), w));
    if (vectors == 2) {
      const v1 = v128.load(row, 16);
      low1 = f64x2.add(low1, f64x2.mul(f64x2.promote_low_f32x4(v1), w));
      high1 = f64x2.add(high1, f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<f32>(v1, v1, 2, 3, 0, 1)), w));
    }
    row += rowStrideBytes;
  }
  v128.store(out, v128.shuffle<f32>(f32x4.demote_f64x2_zero(low0), f32x4.demote_f64x2_zero(high0), 0, 1, 4, 5));
  if (vectors == 2) v128.store(out, v128.shuffle<f32>(f32x4.demote_f64x2_zero(low1), f32x4.demote_f64x2_zero(high1), 0, 1, 4, 5), 16);
}

// Adds to norms[r] (f64) the squared L2 distance of row r to `centre` (0: to zero) over the
// block's columns: four f32 lanes per tile of 64 columns, then f64 across tiles.
export function addSquaredNorms(block: usize, rows: i32, rowStrideBytes: usize, columns: i32, centre: usize, norms: usize): void {
  const totalBytes = (<usize>columns) << 2;
  for (let r = 0; r < rows; r++) {
    const row = block + <usize>r * rowStrideBytes;
    let sum: f64 = 0;
    for (let t: usize = 0; t < totalBytes; t += TILE_COLUMNS << 2) {
      const widthBytes = min(TILE_COLUMNS << 2, totalBytes - t);
      let acc0 = f32x4.splat(0);
      let acc1 = f32x4.splat(0);
      let o: usize = t;
      const end = t + widthBytes;
      if (centre == 0) {
        for (; o + 32 <= end; o += 32) {
          const v0 = v128.load(row + o);
          const v1 = v128.load(row + o, 16);
          acc0 = f32x4.add(acc0, f32x4.mul(v0, v0));
          acc1 = f32x4.add(acc1, f32x4.mul(v1, v1));
        }
        if (o < end) {
          const v0 = v128.load(row + o);
          acc0 = f32x4.add(acc0, f32x4.mul(v0, v0));
        }
      } else {
        for (; o + 32 <= end; o += 32) {
          const v0 = f32x4.sub(v128.load(row + o), v128.load(centre + o));
          const v1 = f32x4.sub(v128.load(row + o, 16), v128.load(centre + o, 16));
          acc0 = f32x4.add(acc0, f32x4.mul(v0, v0));
          acc1 = f32x4.add(acc1, f32x4.mul(v1, v1));
        }
        if (o < end) {
          const v0 = f32x4.sub(v128.load(row + o), v128.load(centre + o));
          acc0 = f32x4.add(acc0, f32x4.mul(v0, v0));
        }
      }
      sum += laneSum(acc0) + laneSum(acc1);
    }
    const cell = norms + ((<usize>r) << 3);
    store<f64>(cell, load<f64>(cell) + sum);
  }
}
