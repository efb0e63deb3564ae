import { randomBytes } from 'node:crypto';
import { curveKeyBytes } from '../crypto/curve25519.js';
import { mlDsaSeedBytes } from '../crypto/mldsa.js';
import { xwingSecretKeyBytes } from '../crypto/xwing.js';
import { issueSvid, nodeKeysFromSeeds, svidTtlMsMax } from '../identity/ca.js';
import { parseCertificate } from '../identity/certificate.js';
import { formatSpiffeId, nodePathPrefix } from '../identity/spiffe-id.js';
import { openCaDirectory, recordIssuedSvid } from '../node/ca-store.js';
import { writeClientIdentity } from '../node/state-dir.js';
import { caPassphrase, parseCaFlags, parseDurationMs, requiredFlag } from './ca-args.js';
import { UsageError } from './errors.js';
import type { CliIo } from './io.js';

/**
 * `x0tta6bl4 ca issue PATH --dir CA --out DIR [--ttl 24h]`: an X509-SVID for an operator or a
 * program (spiffe://<trust domain>PATH) with fresh keys, written as a client identity (keys.json,
 * svid.der, ca.der) that `--identity DIR` presents to a node API over mTLS. Node identities are
 * not issued here: a node enrolls with a join token, so its SVID binds keys made on the node.
 * The CA directory remembers each issued SVID (issued.json) for `ca list`.
 */

/** Lifetime of an issued SVID unless --ttl says otherwise: a working day and some. */
export const issuedSvidTtlMsDefault = 24 * 3600_000;

const random = (bytes: number): Uint8Array => new Uint8Array(randomBytes(bytes));

/** The SPIFFE ID of `path` in `trustDomain`; a usage error for a node path or a path that breaks the SPIFFE rules. */
function issuedSpiffeId(trustDomain: string, path: string): string {
  if (path.startsWith(nodePathPrefix)) throw new UsageError(`ca issue: ${path}: node identities come from node init with a join token, not from ca issue (use a path such as /operator/alice)`);
  try {
    if (!path.startsWith('/') || path === '/') throw new Error('expected a path such as /operator/alice');
    return formatSpiffeId({ trustDomain, path });
  } catch (error) {
    throw new UsageError(`ca issue: ${JSON.stringify(path)}: ${(error as Error).message}`);
  }
}

function ttlOf(value: string | boolean | undefined): number {
  const ttlMs = typeof value === 'string' ? parseDurationMs('--ttl', value) : issuedSvidTtlMsDefault;
  if (ttlMs < 1 || ttlMs > svidTtlMsMax) throw new UsageError(`--ttl: expected 1s..${svidTtlMsMax / 86_400_000}d, got ${String(value)}`);
  return ttlMs;
}

/** Issues the SVID and writes the identity directory; exit 0. */
export function caIssue(argv: readonly string[], io: CliIo, env: NodeJS.ProcessEnv): number {
  const { values, operands } = parseCaFlags(argv, { dir: { type: 'string' }, out: { type: 'string' }, ttl: { type: 'string' }, json: { type: 'boolean' } }, 1);
  const dir = requiredFlag(values, 'dir');
  const out = requiredFlag(values, 'out');
  const ttlMs = ttlOf(values.ttl);
  const nowMs = Date.now();
  const { ca } = openCaDirectory(dir, caPassphrase(io, env), nowMs);
  const path = operands[0]!;
  const spiffeId = issuedSpiffeId(ca.trustDomain, path);
  const seeds = { ed25519Seed: random(curveKeyBytes), mlDsaSeed: random(mlDsaSeedBytes), xwingSeed: random(xwingSecretKeyBytes) };
  const svid = issueSvid(ca, path, nodeKeysFromSeeds(seeds.ed25519Seed, seeds.mlDsaSeed, seeds.xwingSeed).publicKeys, nowMs, random, ttlMs);
  writeClientIdentity(out, seeds, svid, ca.certificateDer);
  const { serialHex, notAfterMs } = parseCertificate(svid);
  // Remembered only once the identity is on disk: `ca list` never shows an SVID nobody holds.
  recordIssuedSvid(dir, { spiffeId, serialHex, issuedAtMs: nowMs, notAfterMs });
  const notAfter = new Date(notAfterMs).toISOString();
  if (values.json === true) io.stdout(`${JSON.stringify({ spiffeId, serialHex, notAfter, dir: out })}\n`);
  else io.stdout(`issued ${spiffeId} (serial ${serialHex}) into ${out}, valid until ${notAfter}\n  call a node API with it: --api https://HOST:PORT --identity ${out} (the node needs api.mtls: true and a policy that admits it)\n`);
  return 0;
}
