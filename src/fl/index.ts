export * from './aggregation/index.js';
export * from './dp/index.js';
export * from './secagg/index.js';
