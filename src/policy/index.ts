export * from './errors.js';
export { apiActions, callerRefFromSpiffeId, nodeRefFromSpiffeId, policyNamespace, type ApiAction, type CallerRef, type NodeRef, type PolicyAction } from './refs.js';
export { policiesMax, policyIdLengthMax, policyTextBytesMax, type PolicySource } from './compile.js';
export * from './engine.js';
export * from './files.js';
