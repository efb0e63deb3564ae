export * from './spiffe-id.js';
