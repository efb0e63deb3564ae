import { isIdentityError, type IdentityError } from '../../src/identity/errors.js';

/** Runs `action` and returns the IdentityError it throws; fails when it throws nothing or something else. */
export function refusal(action: () => unknown): IdentityError {
  try {
    action();
  } catch (error) {
    if (isIdentityError(error)) return error;
    throw error;
  }
  throw new Error('expected an IdentityError, nothing was thrown');
}
