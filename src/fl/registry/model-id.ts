/**
 * Model ids: the SHA-256 of a version's canonical metadata, written as 64 lower-case hex
 * digits. Branded so that an arbitrary string cannot be passed where a model identity is meant.
 */
import { RegistryError, RegistryErrorCode } from './errors.js';

/** A model version's id: 64 lower-case hex digits. */
export type ModelId = string & { readonly __brand: 'ModelId' };

/** Hex digits of a model id. */
export const modelIdChars = 64;
/** Fewest hex digits a prefix must have to name a model (the CLI's short ids). */
export const modelIdPrefixCharsMin = 8;

const modelIdPattern = /^[0-9a-f]{64}$/;

/** True when `text` is a well-formed model id. */
export function isModelId(text: unknown): text is ModelId {
  return typeof text === 'string' && modelIdPattern.test(text);
}

/** Brands `text` as a ModelId; ERR_FL_VERSION_FORMAT naming `what` when it is not 64 lower-case hex digits. */
export function parseModelId(text: unknown, what = 'model id'): ModelId {
  if (!isModelId(text)) {
    throw new RegistryError(RegistryErrorCode.ERR_FL_VERSION_FORMAT, `${what}: expected ${modelIdChars} lower-case hex digits, got ${JSON.stringify(text)}`);
  }
  return text;
}

/** The id of SHA-256 output bytes. */
export function modelIdOf(digest: Uint8Array): ModelId {
  return parseModelId(Buffer.from(digest).toString('hex'));
}

/** The first 16 hex digits of an id: enough to tell versions apart in a table. */
export function shortModelId(id: ModelId): string {
  return id.slice(0, 16);
}
