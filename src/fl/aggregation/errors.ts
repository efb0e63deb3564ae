/**
 * The error catalogue of the aggregation rules. Every refusal is an AggregationError whose
 * `code` is one of these stable strings, so the round protocol can drop a client or abort a
 * round by code without parsing the message; the message names the rule, the client (by its
 * index in the list given) and what was expected.
 */
export const AggregationErrorCode = {
  /** An update holds NaN or an infinity; the message names the client and the coordinate. */
  ERR_FL_NON_FINITE: 'ERR_FL_NON_FINITE',
  /** Updates (or a state, a weight list, a centre) disagree in length, or there are none. */
  ERR_FL_SHAPE: 'ERR_FL_SHAPE',
  /** Too few clients for the number of Byzantine clients the rule is asked to tolerate (Krum: n > 2f + 2, Bulyan: n >= 4f + 3). */
  ERR_FL_PRECONDITION: 'ERR_FL_PRECONDITION',
  /** An option or argument is out of its range (a weight, beta, f, m, a learning rate). */
  ERR_FL_ARGUMENT: 'ERR_FL_ARGUMENT',
} as const;

/** One of the codes in AggregationErrorCode. */
export type AggregationErrorCodeValue = (typeof AggregationErrorCode)[keyof typeof AggregationErrorCode];

/** The only exception the aggregation rules throw on bad input; `code` says which rule was broken. */
export class AggregationError extends Error {
  override readonly name = 'AggregationError';

  /** Builds an error with a stable `code` and a message naming the rule and the finding. */
  constructor(
    readonly code: AggregationErrorCodeValue,
    message: string,
  ) {
    super(message);
  }
}

/** True when `value` is an AggregationError, optionally with the given code. */
export function isAggregationError(value: unknown, code?: AggregationErrorCodeValue): value is AggregationError {
  return value instanceof AggregationError && (code === undefined || value.code === code);
}
