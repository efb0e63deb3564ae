/**
 * The error catalogue of federated training (src/fl/training). Every refusal is a TrainingError
 * with a stable code, so the benchmarks and the round protocol branch on the code and never
 * parse the message; the message names the function, the parameter and the value found.
 */

/** The stable codes of every refusal of federated training. */
export const TrainingErrorCode = {
  /** An option is out of range: rounds, epochs, a sampling rate, a share of attackers, a rule's f. */
  ERR_FL_TRAINING_ARGUMENT: 'ERR_FL_TRAINING_ARGUMENT',
  /** The data cannot be trained on: no windows, no faulty node, clients without data, a partition that does not fit. */
  ERR_FL_TRAINING_DATA: 'ERR_FL_TRAINING_DATA',
} as const;

/** One of the codes in TrainingErrorCode. */
export type TrainingErrorCodeValue = (typeof TrainingErrorCode)[keyof typeof TrainingErrorCode];

/** The exception src/fl/training throws on bad input; `code` says which rule was broken. */
export class TrainingError extends Error {
  override readonly name = 'TrainingError';

  /** Builds an error with a stable `code` and a message naming the function, the parameter and the value. */
  constructor(
    readonly code: TrainingErrorCodeValue,
    message: string,
  ) {
    super(message);
  }
}

/** True when `value` is a TrainingError, optionally with the given code. */
export function isTrainingError(value: unknown, code?: TrainingErrorCodeValue): value is TrainingError {
  return value instanceof TrainingError && (code === undefined || value.code === code);
}

/** A TrainingError for an option out of range. */
export function argumentError(message: string): TrainingError {
  return new TrainingError(TrainingErrorCode.ERR_FL_TRAINING_ARGUMENT, message);
}

/** A TrainingError for data that cannot be trained on. */
export function dataError(message: string): TrainingError {
  return new TrainingError(TrainingErrorCode.ERR_FL_TRAINING_DATA, message);
}

/** Refuses anything but an integer in lo..hi, naming `where` and `name`. */
export function requireInteger(where: string, name: string, value: number, lo: number, hi: number): void {
  if (!Number.isInteger(value) || value < lo || value > hi) throw argumentError(`${where}: expected ${name} to be an integer in ${lo}..${hi}, got ${value}`);
}

/** Refuses anything but a number in [lo, hi] (hi open when `hiOpen`), naming `where` and `name`. */
export function requireNumber(where: string, name: string, value: number, lo: number, hi: number, hiOpen = false): void {
  const inside = value >= lo && (hiOpen ? value < hi : value <= hi);
  if (!inside) throw argumentError(`${where}: expected ${name} in [${lo}, ${hi}${hiOpen ? ')' : ']'}, got ${value}`);
}
