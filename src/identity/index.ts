export * from './ca.js';
export * from './certificate.js';
export * from './der.js';
export * from './errors.js';
export * from './spiffe-id.js';
export * from './svid.js';
export * from './x509.js';
