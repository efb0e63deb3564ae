/**
 * The policy module's error catalogue. Loading refuses a schema or policy set with one of the
 * ERR_POLICY_* codes below and a message naming the file (and line, when Cedar gives one), the
 * policy id and Cedar's own message. ERR_POLICY_DENY is for callers that turn a deny decision
 * into an error (a refused handshake, a 403 from the API).
 */
export const PolicyErrorCode = {
  /** A policy file is not valid Cedar, or holds a template. */
  ERR_POLICY_PARSE: 'ERR_POLICY_PARSE',
  /** The schema is not valid Cedar, or does not declare what the engine asks about. */
  ERR_POLICY_SCHEMA: 'ERR_POLICY_SCHEMA',
  /** A policy parsed but failed strict validation against the schema. */
  ERR_POLICY_VALIDATE: 'ERR_POLICY_VALIDATE',
  /** An @id annotation is empty, malformed or used twice. */
  ERR_POLICY_ID: 'ERR_POLICY_ID',
  /** A schema, file or policy set exceeds a named limit. */
  ERR_POLICY_LIMIT: 'ERR_POLICY_LIMIT',
  /** The policy directory or one of its files cannot be read. */
  ERR_POLICY_FILES: 'ERR_POLICY_FILES',
  /** A decision denied the request. */
  ERR_POLICY_DENY: 'ERR_POLICY_DENY',
} as const;

/** One of the codes in PolicyErrorCode. */
export type PolicyErrorCodeValue = (typeof PolicyErrorCode)[keyof typeof PolicyErrorCode];

/** A refused schema, policy file or policy set; `code` names the rule. */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';

  /** Builds an error with a stable `code` and a message naming the file, policy and finding. */
  constructor(
    readonly code: PolicyErrorCodeValue,
    message: string,
  ) {
    super(message);
  }
}

/** True when `value` is a PolicyError, optionally with the given code. */
export function isPolicyError(value: unknown, code?: PolicyErrorCodeValue): value is PolicyError {
  return value instanceof PolicyError && (code === undefined || value.code === code);
}
