export * from './end-to-end.js';
export * from './secure-node.js';
