/**
 * The error catalogue of differential privacy (src/fl/dp). Every refusal of the accountant,
 * the DP-FedAvg aggregator, adaptive clipping and the budget ledger is a DpError with one of
 * these stable codes, so the round protocol, the CLI and the benchmarks branch on the code and
 * never parse the message. The message names the function, the parameter and the value found.
 */

/** The stable codes of every DP refusal. */
export const DpErrorCode = {
  /** A parameter is out of its range: q outside (0, 1], z <= 0, non-integer steps, delta outside (0, 1), an order <= 1. */
  ERR_DP_PARAMETER: 'ERR_DP_PARAMETER',
  /** Updates (or weights) of different lengths were given to one aggregation. */
  ERR_DP_UPDATE_LENGTH: 'ERR_DP_UPDATE_LENGTH',
  /** An update holds NaN or an infinity; it is refused before it touches the aggregate. */
  ERR_DP_UPDATE_NOT_FINITE: 'ERR_DP_UPDATE_NOT_FINITE',
  /** Recording a round would take the privacy spent past the configured budget. */
  ERR_DP_BUDGET_EXCEEDED: 'ERR_DP_BUDGET_EXCEEDED',
  /** No noise multiplier up to the search limit reaches the target epsilon. */
  ERR_DP_TARGET_UNREACHABLE: 'ERR_DP_TARGET_UNREACHABLE',
} as const;

/** One of the codes in DpErrorCode. */
export type DpErrorCodeValue = (typeof DpErrorCode)[keyof typeof DpErrorCode];

/** The exception src/fl/dp throws on bad input or a refused round; `code` says which rule was broken. */
export class DpError extends Error {
  override readonly name = 'DpError';

  /** Builds an error with a stable `code` and a message naming the function, the parameter and the value. */
  constructor(
    readonly code: DpErrorCodeValue,
    message: string,
  ) {
    super(message);
  }
}

/** True when `value` is a DpError, optionally with the given code. */
export function isDpError(value: unknown, code?: DpErrorCodeValue): value is DpError {
  return value instanceof DpError && (code === undefined || value.code === code);
}
