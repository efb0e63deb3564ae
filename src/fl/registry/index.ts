/**
 * Model versions and the model registry: content-addressed, hybrid-signed (Ed25519 + ML-DSA-65)
 * global models with their lineage, round, participants, strategy and privacy spent; the checks
 * a node runs before installing one; and a registry with append-only history and rollback over
 * an in-memory or directory store.
 */
export { RegistryError, RegistryErrorCode, isRegistryError, type RegistryErrorCodeValue } from './errors.js';
export { decodeEvent, encodeEvent, type RegistryEvent } from './events.js';
export * as registryLimits from './limits.js';
export { decodeMetadata, encodeMetadata, checkMetadata, type ModelMetadata, type StrategyParamValue, type StrategyRecord } from './metadata.js';
export { isModelId, modelIdChars, modelIdPrefixCharsMin, parseModelId, shortModelId, type ModelId } from './model-id.js';
export { ModelRegistry, type RegistryEntry } from './registry.js';
export {
  aggregatorKeysFromSeeds,
  checkTrust,
  modelSignatureContext,
  signerOf,
  signModelId,
  type AggregatorKeys,
  type AggregatorPublicKey,
  type AggregatorTrust,
} from './signing.js';
export { MemoryStore, eventKey, type RegistryStore, type StoreCollection } from './store.js';
export { encodeTrust, parseTrust, trustFileBytesMax } from './trust.js';
export { checkHashes, checkParent, verifyIntegrity, verifyVersion } from './verify.js';
export {
  createVersion,
  decodeVersion,
  encodeVersion,
  modelFileOf,
  modelIdOfMetadata,
  modelSha256Of,
  versionMagic,
  versionModel,
  type ModelVersion,
  type VersionDraft,
} from './version.js';
