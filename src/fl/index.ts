export * from './aggregation/index.js';
export * from './dp/index.js';
