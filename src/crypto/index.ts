export * from './aead.js';
export * from './curve25519.js';
export * from './errors.js';
export * from './hash.js';
export * from './mldsa.js';
export * from './mlkem.js';
export * from './xwing.js';
