/**
 * The anomaly detector's error catalogue and limits. Every refusal of the detector, its
 * baselines and their evaluation is a DetectorError with one of these stable codes, so the
 * MAPE-K loop, the CLI and the benchmark branch on the code and never parse the message.
 */

/** The stable codes of every detector refusal. */
export const DetectorErrorCode = {
  /** A dataset's or window's feature names differ from those the model was trained on. */
  ERR_DETECTOR_FEATURE_NAMES: 'ERR_DETECTOR_FEATURE_NAMES',
  /** A window or dataset is malformed: array lengths, link endpoints, non-finite values, labels. */
  ERR_DETECTOR_INPUT: 'ERR_DETECTOR_INPUT',
  /** An option or argument is out of range, or the training data cannot train anything. */
  ERR_DETECTOR_ARGUMENT: 'ERR_DETECTOR_ARGUMENT',
  /** A detector file is not one of ours, or its header or embedded model is malformed. */
  ERR_DETECTOR_FORMAT: 'ERR_DETECTOR_FORMAT',
  /** A detector file is shorter than its prefix says. */
  ERR_DETECTOR_TRUNCATED: 'ERR_DETECTOR_TRUNCATED',
  /** A detector file's SHA-256 does not match its content. */
  ERR_DETECTOR_HASH: 'ERR_DETECTOR_HASH',
  /** A detector file has a format version this code does not read. */
  ERR_DETECTOR_VERSION: 'ERR_DETECTOR_VERSION',
  /** A detector file cannot be read. */
  ERR_DETECTOR_READ: 'ERR_DETECTOR_READ',
} as const;

/** One of the codes in DetectorErrorCode. */
export type DetectorErrorCodeValue = (typeof DetectorErrorCode)[keyof typeof DetectorErrorCode];

/** The exception the detector, baselines and evaluation throw on bad input; `code` says which rule was broken. */
export class DetectorError extends Error {
  override readonly name = 'DetectorError';

  /** Builds an error with a stable `code` and a message naming the function and the finding. */
  constructor(
    readonly code: DetectorErrorCodeValue,
    message: string,
  ) {
    super(message);
  }
}

/** True when `value` is a DetectorError, optionally with the given code. */
export function isDetectorError(value: unknown, code?: DetectorErrorCodeValue): value is DetectorError {
  return value instanceof DetectorError && (code === undefined || value.code === code);
}

/** Most nodes in one telemetry window. */
export const windowNodesMax = 1 << 16;
/** Most directed links in one telemetry window. */
export const windowLinksMax = 1 << 22;
/** Most node or link features a dataset may name. */
export const featureNamesMax = 256;
/** Most previous windows whose differences the detector adds to a node's input. */
export const deltaLagsMax = 4;
/** Most previous windows the z-score baseline compares a node with. */
export const historyWindowsMax = 256;
/** Largest JSON header of a detector file, in bytes. */
export const detectorHeaderBytesMax = 1 << 22;
/** Largest model embedded in a detector file, in bytes (a model file of parameterCountMax floats and its header). */
export const detectorModelBytesMax = (1 << 26) + (1 << 17);
