/**
 * Bounds of src/ml, in one place. They keep a hostile model file or dataset from making us
 * allocate without limit, and they bound what a single call can cost.
 */

/** Most GraphSAGE layers (hops) in one model. */
export const layersMax = 8;

/** Largest width of any layer: input features, hidden units or outputs. */
export const layerWidthMax = 1 << 16;

/** Most float32 parameters one model may hold (64 MiB). */
export const parameterCountMax = 1 << 24;

/** Largest JSON header of a model file, in bytes. */
export const modelHeaderBytesMax = 1 << 16;

/** Most neighbours sampled per node and layer in mini-batch training. */
export const fanoutMax = 1 << 12;

/** Largest dataset file the Cora loader reads, in bytes. */
export const datasetFileBytesMax = 64 << 20;

/** Floor under a row's L2 norm, so normalising an all-zero row divides by this instead of 0. */
export const l2NormFloor = 1e-12;
