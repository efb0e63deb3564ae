/**
 * Bounds of the aggregation rules. Krum and Bulyan keep an n x n matrix of f64 distances and
 * the WebAssembly kernels keep one block of every client's update, so the number of clients is
 * bounded; the parameter count is bounded by what a Float32Array of the detector can hold.
 */

/** Most client updates one call aggregates (a 1024 x 1024 f64 distance matrix is 8 MiB). */
export const clientsMax = 1024;
/** Most parameters in one update (2^28 float32 = 1 GiB). */
export const parameterCountMax = 1 << 28;
/** Most iterations of centered clipping in one call. */
export const clippingIterationsMax = 100;
