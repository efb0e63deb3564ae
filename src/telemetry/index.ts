/** Public API of telemetry: windows, features, the collector, host probes and dataset files. */
export * from './types.js';
export { nodeFeatureNames, linkFeatureNames, nodeFeature, linkFeature, nodeFeatureScaling, linkFeatureScaling, rateMaxPerS } from './features.js';
export type { NodeFeatureName, LinkFeatureName } from './features.js';
export { TelemetryCollector, snapshotCounters, windowMsDefault } from './collector.js';
export type { CutInput, DeliveryCounts, LinkTraffic, LinkView, MeshCounters, NodeCounters, NodeWindow, SecureCounters } from './collector.js';
export type { HostProbe, HostSample } from './host.js';
export { assembleWindow, checkWindow } from './window.js';
export { readDataset, writeDataset, datasetFormatVersion, parseManifest, encodeWindows, decodeWindows } from './dataset-io.js';
export type { DatasetManifest, LabelCounts } from './dataset-io.js';
export { TelemetryError, isTelemetryError } from './errors.js';
export type { TelemetryErrorCode } from './errors.js';
