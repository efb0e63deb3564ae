/**
 * The error catalogue of telemetry: host probes that cannot read their source, and dataset
 * files that are not what `twin dataset` writes. Every error has a stable code and a message
 * that names the file or field and what was expected.
 */

/** Stable codes of telemetry errors. */
export type TelemetryErrorCode =
  /** /proc/self/stat did not parse (missing fields, not numbers). */
  | 'ERR_HOST_PROC_STAT'
  /** /proc/meminfo did not parse (no MemTotal or MemAvailable, not numbers). */
  | 'ERR_HOST_MEMINFO'
  /** A dataset file could not be read at all. */
  | 'ERR_DATASET_READ'
  /** manifest.json is not JSON or lacks a field, or a field has the wrong type. */
  | 'ERR_DATASET_MANIFEST'
  /** The manifest or the windows file has a format version this reader does not know. */
  | 'ERR_DATASET_VERSION'
  /** The windows file ends before the manifest and its own header say it should. */
  | 'ERR_DATASET_TRUNCATED'
  /** Counts disagree: windows, nodes, features, links, or bytes after the last window. */
  | 'ERR_DATASET_SHAPE'
  /** A value is out of its range: a non-finite feature, an unknown label, a link to no node. */
  | 'ERR_DATASET_VALUE';

/** A telemetry or dataset error with a stable `code`. */
export class TelemetryError extends Error {
  override readonly name = 'TelemetryError';

  /** An error with `code`; the message says what was found and what was expected. */
  constructor(
    readonly code: TelemetryErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** True for a TelemetryError (any code). */
export function isTelemetryError(error: unknown): error is TelemetryError {
  return error instanceof TelemetryError;
}
