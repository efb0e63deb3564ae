import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';
import type { CliIo } from './io.js';

/** Environment variable that holds the CA passphrase (otherwise the CLI prompts on the terminal). */
export const caPassphraseEnv = 'X0TTA6BL4_CA_PASSPHRASE';

/** Parsed flags of one `ca` verb. */
export type CaFlags = Record<string, string | boolean | undefined>;

/** Parses the flags of a `ca` verb strictly; with `positionals`, that many operands are required. */
export function parseCaFlags(argv: readonly string[], options: Record<string, { type: 'string' | 'boolean' }>, positionals = 0): { values: CaFlags; operands: string[] } {
  let parsed: { values: CaFlags; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: positionals > 0, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.positionals.length !== positionals) throw new UsageError(`expected ${positionals} operand(s), got ${parsed.positionals.length}`);
  return { values: parsed.values, operands: parsed.positionals };
}

/** The value of a required string flag. */
export function requiredFlag(values: CaFlags, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

/** The CA passphrase: from the environment, else asked on the terminal. */
export function caPassphrase(io: CliIo, env: NodeJS.ProcessEnv): string {
  const fromEnv = env[caPassphraseEnv];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const typed = io.readSecret?.('CA passphrase: ') ?? null;
  if (typed === null) throw new UsageError(`no CA passphrase: set ${caPassphraseEnv} or run on a terminal to be asked`);
  return typed;
}

/** Hex of the SHA-256 of the CA certificate: the pin a node enrolls with. */
export function pinText(sha256Bytes: Uint8Array): string {
  return Buffer.from(sha256Bytes).toString('hex');
}

/** Parses a duration like 30s, 10m, 1h or 2d into milliseconds. */
export function parseDurationMs(flag: string, text: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(text);
  if (match === null) throw new UsageError(`${flag}: expected a duration like 30s, 10m, 1h or 2d, got ${JSON.stringify(text)}`);
  const unitMs = { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unitMs;
}
