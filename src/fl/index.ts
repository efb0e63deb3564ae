export * from './aggregation/index.js';
export * from './dp/index.js';
export * from './secagg/index.js';
export * from './registry/index.js';
export * from './rounds/index.js';
export * from './training/index.js';
