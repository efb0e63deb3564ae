/** A command-line mistake: unknown command or flag, bad value. Exits with code 2 and the usage. */
export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
}
