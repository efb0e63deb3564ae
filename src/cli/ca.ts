import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { sha256 } from '../crypto/hash.js';
import { joinTokenTtlMsDefault } from '../identity/join-token.js';
import { formatSpiffeId } from '../identity/spiffe-id.js';
import { initCaDirectory, openCaDirectory, saveTokens } from '../node/ca-store.js';
import { UsageError } from './errors.js';
import type { CliIo } from './io.js';

/** Environment variable that holds the CA passphrase (otherwise the CLI prompts on the terminal). */
export const caPassphraseEnv = 'X0TTA6BL4_CA_PASSPHRASE';

const random = (bytes: number): Uint8Array => new Uint8Array(randomBytes(bytes));

/** `x0tta6bl4 ca <verb>`: init, join-token. */
export function caCommand(verb: string | undefined, argv: readonly string[], io: CliIo, env: NodeJS.ProcessEnv = process.env): number {
  switch (verb) {
    case 'init':
      return caInit(argv, io, env);
    case 'join-token':
      return caJoinToken(argv, io, env);
    default:
      throw new UsageError(`ca: expected init or join-token, got ${verb === undefined ? 'nothing' : JSON.stringify(verb)}`);
  }
}

function parse(argv: readonly string[], options: Record<string, { type: 'string' | 'boolean' }>): Record<string, string | boolean | undefined> {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: false, strict: true }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function required(values: Record<string, string | boolean | undefined>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

function passphrase(io: CliIo, env: NodeJS.ProcessEnv): string {
  const fromEnv = env[caPassphraseEnv];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const typed = io.readSecret?.('CA passphrase: ') ?? null;
  if (typed === null) throw new UsageError(`no CA passphrase: set ${caPassphraseEnv} or run on a terminal to be asked`);
  return typed;
}

function caInit(argv: readonly string[], io: CliIo, env: NodeJS.ProcessEnv): number {
  const values = parse(argv, { 'trust-domain': { type: 'string' }, dir: { type: 'string' }, json: { type: 'boolean' } });
  const dir = required(values, 'dir');
  const trustDomain = required(values, 'trust-domain');
  const opened = initCaDirectory(dir, trustDomain, passphrase(io, env), Date.now(), random);
  const summary = {
    trustDomain,
    spiffeId: formatSpiffeId({ trustDomain, path: '' }),
    certificateSha256: Buffer.from(sha256(opened.ca.certificateDer)).toString('hex'),
    notAfter: new Date(opened.ca.anchor.certificate.notAfterMs).toISOString(),
    dir,
  };
  if (values.json === true) io.stdout(`${JSON.stringify(summary)}\n`);
  else io.stdout(`created the mesh CA of ${trustDomain} in ${dir}\n  CA certificate sha256 ${summary.certificateSha256}\n  valid until ${summary.notAfter}\n  keys: Ed25519 + ML-DSA-65, encrypted with your passphrase (scrypt, AES-256-GCM)\n`);
  return 0;
}

/** Parses a duration like 30s, 10m, 1h or 2d into milliseconds. */
export function parseDurationMs(flag: string, text: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(text);
  if (match === null) throw new UsageError(`${flag}: expected a duration like 30s, 10m, 1h or 2d, got ${JSON.stringify(text)}`);
  const unitMs = { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unitMs;
}

function caJoinToken(argv: readonly string[], io: CliIo, env: NodeJS.ProcessEnv): number {
  const values = parse(argv, { dir: { type: 'string' }, ttl: { type: 'string' }, json: { type: 'boolean' } });
  const dir = required(values, 'dir');
  const ttlMs = typeof values.ttl === 'string' ? parseDurationMs('--ttl', values.ttl) : joinTokenTtlMsDefault;
  const nowMs = Date.now();
  const opened = openCaDirectory(dir, passphrase(io, env), nowMs);
  const { token, record } = opened.tokens.issue(nowMs, ttlMs, random);
  saveTokens(dir, opened.tokens);
  const expires = new Date(record.expiresAtMs).toISOString();
  if (values.json === true) io.stdout(`${JSON.stringify({ token, id: record.idHex, expires })}\n`);
  else io.stdout(`${token}\n  one-time join token ${record.idHex} for ${opened.ca.trustDomain}, valid until ${expires}\n`);
  return 0;
}
