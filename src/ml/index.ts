/**
 * x0tta6bl4/ml: GraphSAGE (mean aggregator) on typed arrays. Train full-batch or with sampled
 * neighbours, infer for every node of a graph, keep all parameters in one flat Float32Array
 * with named views, save and load them in a versioned, hashed file format, and load Cora.
 */
export * from './errors.js';
export * from './limits.js';
export { seededRandom, type RandomSource } from './random.js';
export { checkGraph, undirectedGraph, type CsrGraph } from './graph.js';
export { checkFeatures, denseFeatures, gatherRows, l1NormalizeRows, sparseFeatures, type DenseFeatures, type Features, type SparseFeatures } from './features.js';
export { layerViews, layerWidths, namedViews, parameterLayout, type GraphSageConfig, type Head, type LayerViews, type ParameterEntry } from './config.js';
export { blockOfGraph, fullGraphBlocks, type Block } from './block.js';
export { NeighbourSampler, type SampledBatch } from './sampler.js';
export { argmaxRows, GraphSage } from './model.js';
export { Adam, type AdamOptions } from './adam.js';
export { Trainer, type Labels, type TrainingOptions } from './train.js';
export { decodeModel, encodeModel, loadModel, modelFormatVersion, modelMagic, saveModel } from './format.js';
export { accuracy } from './metrics.js';
export { loadCora, parseCoraEdges, parseCoraNodes, parseCoraSplit, type CoraDataset, type Split } from './cora.js';
export {
  auroc,
  averagePrecision,
  binaryMetrics,
  calibrateThreshold,
  confusionAt,
  oneVsRest,
  prCurve,
  ratesOf,
  type BinaryMetrics,
  type Calibration,
  type ConfusionCounts,
  type OneVsRestMetrics,
  type PrCurve,
} from './classification.js';
