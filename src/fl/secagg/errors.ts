/**
 * The error catalogue of secure aggregation (src/fl/secagg). Every refusal of a client or the
 * server state machine, the Shamir sharing, the quantiser or the grouping is a SecAggError with
 * one of these stable codes, so a driver drops a client or aborts a round by code and never
 * parses the message. Messages name the party (client id), the protocol round and the value.
 */
export const SecAggErrorCode = {
  /** A parameter is out of range (threshold, neighbour count, dimension, session id length, a malformed graph) or an input is not finite. */
  ERR_SECAGG_PARAMETER: 'ERR_SECAGG_PARAMETER',
  /** Fewer than the threshold of clients, neighbours or shares remain: the round cannot finish safely and aborts. */
  ERR_SECAGG_BELOW_THRESHOLD: 'ERR_SECAGG_BELOW_THRESHOLD',
  /** A client message whose Ed25519 signature does not verify under the sender's roster key. */
  ERR_SECAGG_SIGNATURE: 'ERR_SECAGG_SIGNATURE',
  /** A message for another protocol round or another session (a replay), or one that arrives after its round closed. */
  ERR_SECAGG_ROUND: 'ERR_SECAGG_ROUND',
  /** A message that is well signed but breaks the protocol: unknown sender, not a neighbour, duplicate, wrong length or recipients. */
  ERR_SECAGG_MESSAGE: 'ERR_SECAGG_MESSAGE',
  /** An encrypted share that does not open (tampered, addressed to someone else, or from another round). */
  ERR_SECAGG_CIPHERTEXT: 'ERR_SECAGG_CIPHERTEXT',
  /** An unmasking request a client must refuse: a neighbour listed as both survivor and dropout, or not a neighbour at all. */
  ERR_SECAGG_UNMASK_REQUEST: 'ERR_SECAGG_UNMASK_REQUEST',
  /** A reconstructed mask key does not match the public key its owner advertised: some share was wrong. */
  ERR_SECAGG_RECONSTRUCTION: 'ERR_SECAGG_RECONSTRUCTION',
  /** The fixed-point ring cannot hold the sum: clients x ceil(clip range x scale) exceeds 2^31 - 1. */
  ERR_SECAGG_OVERFLOW: 'ERR_SECAGG_OVERFLOW',
} as const;

/** One of the codes in SecAggErrorCode. */
export type SecAggErrorCodeValue = (typeof SecAggErrorCode)[keyof typeof SecAggErrorCode];

/** The only exception src/fl/secagg throws on bad input or an unsafe round; `code` says which rule was broken. */
export class SecAggError extends Error {
  override readonly name = 'SecAggError';

  /** Builds an error with a stable `code` and a message naming the party, the round and the value. */
  constructor(
    readonly code: SecAggErrorCodeValue,
    message: string,
  ) {
    super(message);
  }
}

/** True when `value` is a SecAggError, optionally with the given code. */
export function isSecAggError(value: unknown, code?: SecAggErrorCodeValue): value is SecAggError {
  return value instanceof SecAggError && (code === undefined || value.code === code);
}

/** Throws ERR_SECAGG_PARAMETER naming `where`, the parameter and the value found. */
export function parameterError(where: string, name: string, expected: string, found: unknown): SecAggError {
  return new SecAggError(SecAggErrorCode.ERR_SECAGG_PARAMETER, `${where}: expected ${name} ${expected}, got ${String(found)}`);
}
