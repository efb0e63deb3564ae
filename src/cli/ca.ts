import { randomBytes } from 'node:crypto';
import { sha256 } from '../crypto/hash.js';
import { joinTokenTtlMsDefault } from '../identity/join-token.js';
import { formatSpiffeId } from '../identity/spiffe-id.js';
import { initCaDirectory, openCaDirectory, readTokens, saveTokens, withCaLock } from '../node/ca-store.js';
import { caList, caRevoke, caRotateNetworkKey } from './ca-admin.js';
import { caPassphrase as passphrase, parseCaFlags, parseDurationMs, pinText, requiredFlag as required, type CaFlags } from './ca-args.js';
import { caIssue } from './ca-issue.js';
import { UsageError } from './errors.js';
import type { CliIo } from './io.js';

export { caPassphraseEnv, parseDurationMs } from './ca-args.js';

const random = (bytes: number): Uint8Array => new Uint8Array(randomBytes(bytes));

/** `x0tta6bl4 ca <verb>`: init, join-token, revoke, list, issue, rotate-network-key (`ca serve` runs until stopped: see ca-serve.ts). */
export function caCommand(verb: string | undefined, argv: readonly string[], io: CliIo, env: NodeJS.ProcessEnv = process.env): number {
  switch (verb) {
    case 'init':
      return caInit(argv, io, env);
    case 'join-token':
      return caJoinToken(argv, io, env);
    case 'revoke':
      return caRevoke(argv, io, env);
    case 'list':
      return caList(argv, io);
    case 'issue':
      return caIssue(argv, io, env);
    case 'rotate-network-key':
      return caRotateNetworkKey(argv, io, env);
    default:
      throw new UsageError(`ca: expected init or join-token, got ${verb === undefined ? 'nothing' : JSON.stringify(verb)} (verbs: init, join-token, serve, revoke, list, issue, rotate-network-key)`);
  }
}

function parse(argv: readonly string[], options: Record<string, { type: 'string' | 'boolean' }>): CaFlags {
  return parseCaFlags(argv, options).values;
}

function caInit(argv: readonly string[], io: CliIo, env: NodeJS.ProcessEnv): number {
  const values = parse(argv, { 'trust-domain': { type: 'string' }, dir: { type: 'string' }, json: { type: 'boolean' } });
  const dir = required(values, 'dir');
  const trustDomain = required(values, 'trust-domain');
  const opened = initCaDirectory(dir, trustDomain, passphrase(io, env), Date.now(), random);
  const summary = {
    trustDomain,
    spiffeId: formatSpiffeId({ trustDomain, path: '' }),
    certificateSha256: pinText(sha256(opened.ca.certificateDer)),
    notAfter: new Date(opened.ca.anchor.certificate.notAfterMs).toISOString(),
    dir,
  };
  if (values.json === true) io.stdout(`${JSON.stringify(summary)}\n`);
  else io.stdout(`created the mesh CA of ${trustDomain} in ${dir}\n  CA certificate sha256 ${summary.certificateSha256}\n  valid until ${summary.notAfter}\n  keys: Ed25519 + ML-DSA-65, encrypted with your passphrase (scrypt, AES-256-GCM)\n`);
  return 0;
}

function caJoinToken(argv: readonly string[], io: CliIo, env: NodeJS.ProcessEnv): number {
  const values = parse(argv, { dir: { type: 'string' }, ttl: { type: 'string' }, json: { type: 'boolean' } });
  const dir = required(values, 'dir');
  const ttlMs = typeof values.ttl === 'string' ? parseDurationMs('--ttl', values.ttl) : joinTokenTtlMsDefault;
  const nowMs = Date.now();
  const opened = openCaDirectory(dir, passphrase(io, env), nowMs);
  // Issued under the lock from the file as it is now: a running CA service may have used a token since.
  const { token, record } = withCaLock(dir, () => {
    const tokens = readTokens(dir);
    const issued = tokens.issue(nowMs, ttlMs, random);
    saveTokens(dir, tokens);
    return issued;
  });
  const expires = new Date(record.expiresAtMs).toISOString();
  const caSha256 = pinText(sha256(opened.ca.certificateDer));
  if (values.json === true) io.stdout(`${JSON.stringify({ token, id: record.idHex, expires, caSha256 })}\n`);
  else io.stdout(`${token}\n  one-time join token ${record.idHex} for ${opened.ca.trustDomain}, valid until ${expires}\n  CA certificate sha256 ${caSha256} (the pin: node init --ca-sha256 ${caSha256})\n`);
  return 0;
}
