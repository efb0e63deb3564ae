/**
 * The HTTP API's error catalogue. Every error answer is a JSON object `{ error, message }`
 * whose `error` is one of these stable codes (403 adds `action` and `policyIds`); clients
 * branch on the code, never on the message.
 */
export const ApiErrorStatus = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  payload_too_large: 413,
  unsupported_media_type: 415,
  internal: 500,
  too_many_streams: 503,
} as const;

/** One of the codes in ApiErrorStatus. */
export type ApiErrorCode = keyof typeof ApiErrorStatus;

/** The JSON body of every error answer. */
export interface ApiErrorBody {
  readonly error: ApiErrorCode;
  readonly message: string;
  readonly action?: string;
  readonly policyIds?: readonly string[];
}

/** A refused request; `code` picks the status and `extra` adds fields to the body (403: action, policyIds). */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  /** Builds an error with a stable `code`; the message names the field or rule that failed. */
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly extra: { readonly action?: string; readonly policyIds?: readonly string[] } = {},
  ) {
    super(message);
  }

  /** The HTTP status of this code. */
  get status(): number {
    return ApiErrorStatus[this.code];
  }

  /** The JSON body sent to the client. */
  body(): ApiErrorBody {
    return { error: this.code, message: this.message, ...this.extra };
  }
}

/** True when `value` is an ApiError, optionally with the given code. */
export function isApiError(value: unknown, code?: ApiErrorCode): value is ApiError {
  return value instanceof ApiError && (code === undefined || value.code === code);
}
