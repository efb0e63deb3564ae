/**
 * The ml module's error catalogue. Every refusal of src/ml is an MlError whose `code` is one of
 * these stable strings, so callers (the federated-learning registry, the detector, the CLI) can
 * branch on the code and never parse the message. The message names what was wrong: the file
 * and line, the row and column, the shapes that disagree.
 */
export const MlErrorCode = {
  /** A model file ends before the length its own header promises. */
  ERR_MODEL_TRUNCATED: 'ERR_MODEL_TRUNCATED',
  /** A model file's SHA-256 does not match its header and parameters: it was altered or damaged. */
  ERR_MODEL_HASH: 'ERR_MODEL_HASH',
  /** A model file has a format version this code does not read. */
  ERR_MODEL_VERSION: 'ERR_MODEL_VERSION',
  /** A model file is not one of ours (magic), or its header is malformed or inconsistent. */
  ERR_MODEL_FORMAT: 'ERR_MODEL_FORMAT',
  /** Arrays whose shapes disagree (features vs graph, parameters vs architecture, targets vs head). */
  ERR_ML_SHAPE: 'ERR_ML_SHAPE',
  /** A feature or target is NaN or infinite. */
  ERR_ML_NON_FINITE: 'ERR_ML_NON_FINITE',
  /** A CSR graph or CSR feature matrix is malformed (offsets not monotone, index out of range). */
  ERR_ML_GRAPH: 'ERR_ML_GRAPH',
  /** A configuration value or argument is outside its allowed range. */
  ERR_ML_ARGUMENT: 'ERR_ML_ARGUMENT',
  /** A dataset file has a malformed line or value; the message names file:line. */
  ERR_DATASET_FORMAT: 'ERR_DATASET_FORMAT',
  /** A dataset or model file cannot be read. */
  ERR_ML_READ: 'ERR_ML_READ',
} as const;

/** One of the codes in MlErrorCode. */
export type MlErrorCodeValue = (typeof MlErrorCode)[keyof typeof MlErrorCode];

/** The only exception src/ml throws on bad input; `code` says which rule was broken. */
export class MlError extends Error {
  override readonly name = 'MlError';

  /** Builds an error with a stable `code` and a message naming the function and the finding. */
  constructor(
    readonly code: MlErrorCodeValue,
    message: string,
  ) {
    super(message);
  }
}

/** True when `value` is an MlError, optionally with the given code; a narrowing helper for callers and tests. */
export function isMlError(value: unknown, code?: MlErrorCodeValue): value is MlError {
  return value instanceof MlError && (code === undefined || value.code === code);
}
