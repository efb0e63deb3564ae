/**
 * The error catalogue of the round protocol (src/fl/rounds). A rejected update or a failed
 * round carries one of these stable codes, so drivers, the twin's metrics and tests branch on
 * the code; the message names the node, the round and the values found and expected.
 */

/** The stable codes of every round refusal and round failure. */
export const RoundErrorCode = {
  /** Options that cannot work together (minimum below the rule's precondition, DP without Poisson selection, ...). */
  ERR_FL_ROUND_CONFIG: 'ERR_FL_ROUND_CONFIG',
  /** A round was started while another is open. */
  ERR_FL_ROUND_BUSY: 'ERR_FL_ROUND_BUSY',
  /** An update or configuration for a round older than the one open (or last seen). */
  ERR_FL_ROUND_STALE: 'ERR_FL_ROUND_STALE',
  /** An update for a round that has not started. */
  ERR_FL_ROUND_FUTURE: 'ERR_FL_ROUND_FUTURE',
  /** An update for the round just closed, or one that arrives at or after the deadline. */
  ERR_FL_ROUND_LATE: 'ERR_FL_ROUND_LATE',
  /** A second update from the same node in one round. */
  ERR_FL_ROUND_REPLAY: 'ERR_FL_ROUND_REPLAY',
  /** An update (or configuration) for another model than the round's (or the node's). */
  ERR_FL_ROUND_MODEL: 'ERR_FL_ROUND_MODEL',
  /** An update from a node that was not selected for the round. */
  ERR_FL_ROUND_NOT_SELECTED: 'ERR_FL_ROUND_NOT_SELECTED',
  /** An update whose length is not the model's parameter count. */
  ERR_FL_ROUND_LENGTH: 'ERR_FL_ROUND_LENGTH',
  /** An update holding NaN or an infinity. */
  ERR_FL_ROUND_NON_FINITE: 'ERR_FL_ROUND_NON_FINITE',
  /** An example count that is not an integer >= 1. */
  ERR_FL_ROUND_EXAMPLES: 'ERR_FL_ROUND_EXAMPLES',
  /** The round ended with fewer accepted updates (or selected nodes) than the minimum: no model. */
  ERR_FL_ROUND_TOO_FEW: 'ERR_FL_ROUND_TOO_FEW',
  /** The privacy ledger refuses the round: it would pass the budget. Training stops. */
  ERR_FL_ROUND_BUDGET: 'ERR_FL_ROUND_BUDGET',
  /** The aggregation rule refused the updates (a precondition it states). */
  ERR_FL_ROUND_AGGREGATION: 'ERR_FL_ROUND_AGGREGATION',
  /** Bytes that are not a canonical round message or transfer datagram (magic, a length, a field); the message names the field. */
  ERR_FL_ROUND_FORMAT: 'ERR_FL_ROUND_FORMAT',
  /** An update whose participant field is not the node the channel authenticated as its sender. */
  ERR_FL_ROUND_SENDER: 'ERR_FL_ROUND_SENDER',
  /** A reassembled transfer whose bytes do not hash to the digest its chunks carried (a lying or broken sender). */
  ERR_FL_ROUND_TRANSFER_DIGEST: 'ERR_FL_ROUND_TRANSFER_DIGEST',
  /** A transfer refused by a receiver's limits (concurrent transfers or bytes per sender, bytes in all). */
  ERR_FL_ROUND_TRANSFER_LIMIT: 'ERR_FL_ROUND_TRANSFER_LIMIT',
  /** A transfer that did not finish in time: the sender's deadline, or a receiver that heard nothing new for too long. */
  ERR_FL_ROUND_TRANSFER_TIMEOUT: 'ERR_FL_ROUND_TRANSFER_TIMEOUT',
  /** The receiver refused the transfer (its acknowledgement says so); the sender gives up. */
  ERR_FL_ROUND_TRANSFER_REFUSED: 'ERR_FL_ROUND_TRANSFER_REFUSED',
} as const;

/** One of the codes in RoundErrorCode. */
export type RoundErrorCodeValue = (typeof RoundErrorCode)[keyof typeof RoundErrorCode];

/** A rejected input or a failed round; `code` says which rule was broken. */
export class RoundError extends Error {
  override readonly name = 'RoundError';

  /** Builds an error with a stable `code` and a message naming the node, the round and the finding. */
  constructor(
    readonly code: RoundErrorCodeValue,
    message: string,
  ) {
    super(message);
  }
}

/** True when `value` is a RoundError, optionally with the given code. */
export function isRoundError(value: unknown, code?: RoundErrorCodeValue): value is RoundError {
  return value instanceof RoundError && (code === undefined || value.code === code);
}
