/**
 * The error catalogue of model versions and the model registry (src/fl/registry). A refused
 * model names what failed through its code (parameters, id, signature, parent, ...), so a node,
 * the round protocol and the CLI branch on the code and never parse the message; the message
 * names the field, the value found and the value expected.
 */

/** The stable codes of every version and registry refusal. */
export const RegistryErrorCode = {
  /** Bytes or fields that are not a canonical model version (magic, lengths, JSON, field types). */
  ERR_FL_VERSION_FORMAT: 'ERR_FL_VERSION_FORMAT',
  /** The parameters (or their architecture) differ from the modelSha256 the metadata records. */
  ERR_FL_VERSION_PARAMETERS: 'ERR_FL_VERSION_PARAMETERS',
  /** The id is not the SHA-256 of the metadata: a metadata field was altered. */
  ERR_FL_VERSION_ID: 'ERR_FL_VERSION_ID',
  /** The signature over the id does not verify under any trusted aggregator key. */
  ERR_FL_VERSION_SIGNATURE: 'ERR_FL_VERSION_SIGNATURE',
  /** The parent id is not the model it must follow (or a first model claims a parent). */
  ERR_FL_VERSION_PARENT: 'ERR_FL_VERSION_PARENT',
  /** The round does not come after the parent's round. */
  ERR_FL_VERSION_ROUND: 'ERR_FL_VERSION_ROUND',
  /** The model architecture differs from the parent's. */
  ERR_FL_VERSION_CONFIG: 'ERR_FL_VERSION_CONFIG',
  /** The privacy spent is less than the parent's: spent budget never comes back. */
  ERR_FL_VERSION_PRIVACY: 'ERR_FL_VERSION_PRIVACY',
  /** A trust bundle or key is malformed, or empty. */
  ERR_FL_TRUST: 'ERR_FL_TRUST',
  /** A file or entry of the registry store cannot be read or decoded; the message names it. */
  ERR_FL_REGISTRY_CORRUPT: 'ERR_FL_REGISTRY_CORRUPT',
  /** A write to the registry store failed. */
  ERR_FL_REGISTRY_WRITE: 'ERR_FL_REGISTRY_WRITE',
  /** No version with this id (or id prefix) is in the registry, or the prefix is ambiguous. */
  ERR_FL_REGISTRY_UNKNOWN: 'ERR_FL_REGISTRY_UNKNOWN',
  /** The version is already in the registry. */
  ERR_FL_REGISTRY_DUPLICATE: 'ERR_FL_REGISTRY_DUPLICATE',
  /** A rollback to the version that is already current. */
  ERR_FL_REGISTRY_ROLLBACK: 'ERR_FL_REGISTRY_ROLLBACK',
  /** Installing or rolling back needs the aggregator keys the registry trusts, and none were given. */
  ERR_FL_REGISTRY_NO_TRUST: 'ERR_FL_REGISTRY_NO_TRUST',
} as const;

/** One of the codes in RegistryErrorCode. */
export type RegistryErrorCodeValue = (typeof RegistryErrorCode)[keyof typeof RegistryErrorCode];

/** The exception src/fl/registry throws; `code` says which check failed. */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';

  /** Builds an error with a stable `code` and a message naming the field and the finding. */
  constructor(
    readonly code: RegistryErrorCodeValue,
    message: string,
  ) {
    super(message);
  }
}

/** True when `value` is a RegistryError, optionally with the given code. */
export function isRegistryError(value: unknown, code?: RegistryErrorCodeValue): value is RegistryError {
  return value instanceof RegistryError && (code === undefined || value.code === code);
}
