/** Assertions for the project's errors that carry a stable `code` (MlError, DetectorError, TelemetryError, ...). */
import { expect } from 'vitest';

type CodedError = Error & { readonly code: string };
type ErrorClass<E extends CodedError> = abstract new (...args: never[]) => E;

function check<E extends CodedError>(thrown: unknown, type: ErrorClass<E>, code: E['code'], parts: readonly string[]): E {
  expect(thrown).toBeInstanceOf(type);
  const error = thrown as E;
  expect(error.code).toBe(code);
  for (const part of parts) expect(error.message).toContain(part);
  return error;
}

/** Runs `fn`, expecting an error of `type` with `code` whose message contains every one of `parts`; returns it. */
export function expectCodedError<E extends CodedError>(fn: () => unknown, type: ErrorClass<E>, code: E['code'], ...parts: string[]): E {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  return check(thrown, type, code, parts);
}

/** Like expectCodedError for a promise. */
export async function expectCodedErrorAsync<E extends CodedError>(promise: Promise<unknown>, type: ErrorClass<E>, code: E['code'], ...parts: string[]): Promise<E> {
  let thrown: unknown;
  try {
    await promise;
  } catch (error) {
    thrown = error;
  }
  return check(thrown, type, code, parts);
}
