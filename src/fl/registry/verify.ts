/**
 * What a node checks before it installs a model version, cheapest first, each failure with its
 * own code so the refusal names what was wrong:
 *
 *   1. fields well formed                         ERR_FL_VERSION_FORMAT
 *   2. parameters hash to metadata.modelSha256    ERR_FL_VERSION_PARAMETERS
 *   3. id = SHA-256 of the metadata               ERR_FL_VERSION_ID
 *   4. signature by a trusted aggregator          ERR_FL_VERSION_SIGNATURE
 *   5. parent is the model it must follow         ERR_FL_VERSION_PARENT
 *      round after the parent's                   ERR_FL_VERSION_ROUND
 *      same architecture as the parent            ERR_FL_VERSION_CONFIG
 *      privacy spent not below the parent's       ERR_FL_VERSION_PRIVACY
 *
 * An attacker who alters the parameters must also alter modelSha256 (2), which changes the id
 * (3); one who recomputes the id needs the aggregator's keys (4); a genuine version replayed in
 * the wrong place of the chain fails (5).
 */
import { RegistryError, RegistryErrorCode } from './errors.js';
import { encodeMetadata } from './metadata.js';
import { signerOf, type AggregatorTrust } from './signing.js';
import { modelIdOfMetadata, modelSha256Of, type ModelVersion } from './version.js';

function refuse(code: (typeof RegistryErrorCode)[keyof typeof RegistryErrorCode], version: ModelVersion, message: string): never {
  throw new RegistryError(code, `model ${version.id.slice(0, 16)}: ${message}`);
}

/**
 * Checks the version on its own (steps 1 to 4): integrity and the signature. Returns the index
 * of the trusted aggregator that signed it.
 */
export function verifyIntegrity(version: ModelVersion, trust: AggregatorTrust): number {
  checkHashes(version);
  const signer = signerOf(trust, version.id, version.signature);
  if (signer < 0) refuse(RegistryErrorCode.ERR_FL_VERSION_SIGNATURE, version, `signature does not verify under any of the ${trust.length} trusted aggregator keys`);
  return signer;
}

/** Steps 1 to 3: the parameters match modelSha256 and the id matches the metadata (no keys needed). */
export function checkHashes(version: ModelVersion): void {
  const metadataBytes = encodeMetadata(version.metadata);
  const modelSha256 = modelSha256Of(version.metadata.modelConfig, version.parameters);
  if (modelSha256 !== version.metadata.modelSha256) {
    refuse(RegistryErrorCode.ERR_FL_VERSION_PARAMETERS, version, `parameters hash to ${modelSha256.slice(0, 16)}..., metadata.modelSha256 says ${version.metadata.modelSha256.slice(0, 16)}...`);
  }
  const id = modelIdOfMetadata(metadataBytes);
  if (id !== version.id) refuse(RegistryErrorCode.ERR_FL_VERSION_ID, version, `id is not the hash of the metadata (which hashes to ${id.slice(0, 16)}): a metadata field was altered`);
}

/** Step 5: `version` follows `parent` (null: it must be a first model). */
export function checkParent(version: ModelVersion, parent: ModelVersion | null): void {
  const { metadata } = version;
  if (parent === null) {
    if (metadata.parentId !== null) refuse(RegistryErrorCode.ERR_FL_VERSION_PARENT, version, `parent ${metadata.parentId.slice(0, 16)} is not known here (the registry is empty: only a first model fits)`);
    return;
  }
  if (metadata.parentId !== parent.id) {
    refuse(RegistryErrorCode.ERR_FL_VERSION_PARENT, version, `parent is ${metadata.parentId === null ? 'null' : metadata.parentId.slice(0, 16)}, expected the current model ${parent.id.slice(0, 16)}`);
  }
  if (metadata.round <= parent.metadata.round) refuse(RegistryErrorCode.ERR_FL_VERSION_ROUND, version, `round ${metadata.round} does not come after the parent's round ${parent.metadata.round}`);
  if (JSON.stringify(metadata.modelConfig) !== JSON.stringify(parent.metadata.modelConfig)) {
    refuse(RegistryErrorCode.ERR_FL_VERSION_CONFIG, version, `architecture ${JSON.stringify(metadata.modelConfig)} differs from the parent's ${JSON.stringify(parent.metadata.modelConfig)}`);
  }
  const spent = metadata.privacy?.epsilonSpent ?? 0;
  const parentSpent = parent.metadata.privacy?.epsilonSpent ?? 0;
  if (spent < parentSpent) refuse(RegistryErrorCode.ERR_FL_VERSION_PRIVACY, version, `epsilon spent ${spent} is below the parent's ${parentSpent}; spent privacy never comes back`);
}

/** Every check (1 to 5) a node runs before installing `version` after `parent`; returns the signer's index in `trust`. */
export function verifyVersion(version: ModelVersion, trust: AggregatorTrust, parent: ModelVersion | null): number {
  const signer = verifyIntegrity(version, trust);
  checkParent(version, parent);
  return signer;
}
