import { randomBytes } from 'node:crypto';
import { sha256 } from '../crypto/hash.js';
import type { NetworkKeyEpoch } from '../crypto/network-key-ring.js';
import { parseCertificate } from '../identity/certificate.js';
import { verifyRevocationList, type RevocationList } from '../identity/revocation.js';
import { parseSpiffeId } from '../identity/spiffe-id.js';
import { trustAnchorFrom } from '../identity/svid.js';
import { readNetworkKeySchedule, rotateNetworkKey, rotationActivateInMsDefault, rotationRetireAfterMsDefault, rotationStepMsMax, rotationStepMsMin, type RotationTiming } from '../node/ca-network-keys.js';
import { openCaDirectory, readCaCertificate, readIssuedRecords, readNodeRecords, readRevocations, readTokens, revocationReasonCharsMax, revocationReasonKey, revokeInCaDirectory } from '../node/ca-store.js';
import { caPassphrase, parseCaFlags, parseDurationMs, pinText, requiredFlag, type CaFlags } from './ca-args.js';
import { UsageError } from './errors.js';
import type { CliIo } from './io.js';
import { renderTable } from './table.js';

const random = (bytes: number): Uint8Array => new Uint8Array(randomBytes(bytes));

/** Most hex digits of a serial given to `ca revoke --serial` (RFC 5280: 20 octets). */
const serialHexCharsMax = 40;

function checkTarget(spiffeId: string, trustDomain: string): void {
  let parsed: { trustDomain: string; path: string };
  try {
    parsed = parseSpiffeId(spiffeId);
  } catch (error) {
    throw new UsageError(`ca revoke: ${JSON.stringify(spiffeId)} is not a SPIFFE ID: ${(error as Error).message}`);
  }
  if (parsed.trustDomain !== trustDomain || parsed.path === '') throw new UsageError(`ca revoke: ${spiffeId} must name a node of trust domain ${trustDomain} (spiffe://${trustDomain}/node/...)`);
}

function serialOf(value: string | boolean | undefined): string | null {
  if (typeof value !== 'string') return null;
  const hex = value.replace(/:/g, '').toLowerCase();
  if (!/^(?:[0-9a-f]{2})+$/.test(hex) || hex.length > serialHexCharsMax) throw new UsageError(`--serial: expected 1..${serialHexCharsMax / 2} bytes of hex, got ${JSON.stringify(value)}`);
  return hex;
}

/** `ca revoke <spiffe-id> --dir DIR [--serial HEX] [--reason TEXT]`: signs the next revocation list into the CA directory. */
export function caRevoke(argv: readonly string[], io: CliIo, env: NodeJS.ProcessEnv): number {
  const options = { dir: { type: 'string' }, serial: { type: 'string' }, reason: { type: 'string' }, json: { type: 'boolean' } } as const;
  const { values, operands } = parseCaFlags(argv, options, 1);
  const dir = requiredFlag(values, 'dir');
  const spiffeId = operands[0]!;
  const serialHex = serialOf(values.serial);
  const reason = typeof values.reason === 'string' ? values.reason : '';
  if (reason.length > revocationReasonCharsMax) throw new UsageError(`--reason: expected at most ${revocationReasonCharsMax} characters, got ${reason.length}`);
  const nowMs = Date.now();
  const { ca } = openCaDirectory(dir, caPassphrase(io, env), nowMs);
  checkTarget(spiffeId, ca.trustDomain);
  const known = readNodeRecords(dir).some((node) => node.spiffeId === spiffeId) || readIssuedRecords(dir).some((svid) => svid.spiffeId === spiffeId);
  if (!known) io.stderr(`x0tta6bl4: note: ${spiffeId} was neither enrolled through this CA's service nor issued by ca issue; revoking it anyway\n`);
  const list = revokeInCaDirectory(dir, ca, { spiffeId, serialHex, revokedAtMs: nowMs }, reason, nowMs);
  const what = serialHex === null ? spiffeId : `certificate ${serialHex} of ${spiffeId}`;
  if (values.json === true) io.stdout(`${JSON.stringify({ spiffeId, serialHex, revokedAt: new Date(nowMs).toISOString(), sequence: list.sequence, entries: list.entries.length })}\n`);
  else io.stdout(`revoked ${what}\n  revocation list sequence ${list.sequence}, ${list.entries.length} entries; a running CA service serves it at once\n`);
  return 0;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The CA's verified revocation list (sequence 0 and empty before the first revocation). */
function verifiedRevocations(dir: string): { list: RevocationList; reasons: Readonly<Record<string, string>>; caSha256: string } {
  const { trustDomain, certificateDer } = readCaCertificate(dir);
  // The anchor is checked as of its own notBefore: listing works even for a CA past its validity.
  const anchor = trustAnchorFrom(certificateDer, trustDomain, parseCertificate(certificateDer).notBeforeMs);
  const stored = readRevocations(dir);
  const list = stored === null ? { trustDomain, sequence: 0, issuedAtMs: 0, entries: [] } : verifyRevocationList(stored.signedList, [anchor], trustDomain);
  return { list, reasons: stored?.reasons ?? {}, caSha256: pinText(sha256(certificateDer)) };
}

/** The SVIDs `ca issue` made, each with its status now: revoked (the ID or this serial), expired, or active. */
function issuedIdentities(dir: string, list: RevocationList, nowMs: number): { spiffeId: string; serialHex: string; issuedAt: string; notAfter: string; status: 'active' | 'expired' | 'revoked' }[] {
  const revoked = (spiffeId: string, serialHex: string): boolean => list.entries.some((entry) => entry.spiffeId === spiffeId && (entry.serialHex === null || entry.serialHex === serialHex));
  return readIssuedRecords(dir).map((svid) => ({
    spiffeId: svid.spiffeId,
    serialHex: svid.serialHex,
    issuedAt: iso(svid.issuedAtMs),
    notAfter: iso(svid.notAfterMs),
    status: revoked(svid.spiffeId, svid.serialHex) ? 'revoked' : svid.notAfterMs <= nowMs ? 'expired' : 'active',
  }));
}

/** `ca list --dir DIR [--json]`: enrolled nodes, outstanding join tokens and revocations; needs no passphrase. */
export function caList(argv: readonly string[], io: CliIo): number {
  const { values } = parseCaFlags(argv, { dir: { type: 'string' }, json: { type: 'boolean' } });
  const dir = requiredFlag(values, 'dir');
  const nowMs = Date.now();
  const { list, reasons, caSha256 } = verifiedRevocations(dir);
  const revokedIds = new Set(list.entries.filter((entry) => entry.serialHex === null).map((entry) => entry.spiffeId));
  const nodes = readNodeRecords(dir).map((node) => ({ spiffeId: node.spiffeId, enrolledAt: iso(node.enrolledAtMs), serialHex: node.serialHex, revoked: revokedIds.has(node.spiffeId) }));
  const issued = issuedIdentities(dir, list, nowMs);
  const tokens = readTokens(dir)
    .toJSON()
    .filter((token) => token.usedAtMs === null && token.expiresAtMs > nowMs)
    .map((token) => ({ id: token.idHex, createdAt: iso(token.createdAtMs), expiresAt: iso(token.expiresAtMs) }));
  const revocations = list.entries.map((entry) => ({ ...entry, revokedAt: iso(entry.revokedAtMs), reason: reasons[revocationReasonKey(entry.spiffeId, entry.serialHex)] ?? '' }));
  const networkKeys = networkKeyRows(dir, nowMs);
  if (values.json === true) {
    io.stdout(`${JSON.stringify({ trustDomain: list.trustDomain, caSha256, nodes, issued, tokens, revocations: { sequence: list.sequence, entries: revocations.map(({ revokedAtMs, ...rest }) => rest) }, networkKeys })}\n`);
    return 0;
  }
  io.stdout(`mesh CA of ${list.trustDomain}, CA certificate sha256 ${caSha256}\n\nenrolled nodes: ${nodes.length}\n`);
  if (nodes.length > 0) io.stdout(renderTable(['SPIFFE ID', 'enrolled', 'first SVID serial', 'status'], nodes.map((node) => [node.spiffeId, node.enrolledAt, node.serialHex, node.revoked ? 'revoked' : 'active'])));
  io.stdout(`\nissued identities (ca issue): ${issued.length}\n`);
  if (issued.length > 0) io.stdout(renderTable(['SPIFFE ID', 'issued', 'valid until', 'serial', 'status'], issued.map((svid) => [svid.spiffeId, svid.issuedAt, svid.notAfter, svid.serialHex, svid.status])));
  io.stdout(`\nunused join tokens: ${tokens.length}\n`);
  if (tokens.length > 0) io.stdout(renderTable(['token id', 'created', 'expires'], tokens.map((token) => [token.id, token.createdAt, token.expiresAt])));
  io.stdout(`\nrevocations (list sequence ${list.sequence}): ${revocations.length}\n`);
  if (revocations.length > 0) io.stdout(renderTable(['SPIFFE ID', 'serial', 'revoked', 'reason'], revocations.map((entry) => [entry.spiffeId, entry.serialHex ?? 'all', entry.revokedAt, entry.reason])));
  io.stdout(`\nnetwork key epochs: ${networkKeys.length}\n`);
  io.stdout(renderNetworkKeyRows(networkKeys));
  return 0;
}

function renderNetworkKeyRows(rows: ReturnType<typeof networkKeyRows>): string {
  return renderTable(['epoch', 'active from', 'accepted until', 'status'], rows.map((row) => [String(row.epoch), row.activeFrom ?? 'from the start', row.acceptedUntil ?? '-', row.status]));
}

/** The network key epochs of the CA in `dir` with their status at `nowMs`: pending, in use (sent under), accepted, retired. */
function networkKeyRows(dir: string, nowMs: number): { epoch: number; activeFrom: string | null; acceptedUntil: string | null; status: string }[] {
  const schedule = readNetworkKeySchedule(dir);
  const live = (entry: (typeof schedule)[number]): boolean => entry.acceptUntilMs === null || entry.acceptUntilMs > nowMs;
  const sending = schedule.filter((entry) => entry.activeFromMs <= nowMs && live(entry)).at(-1)?.epoch;
  return schedule.map((entry) => ({
    epoch: entry.epoch,
    activeFrom: entry.activeFromMs === 0 ? null : iso(entry.activeFromMs),
    acceptedUntil: entry.acceptUntilMs === null ? null : iso(entry.acceptUntilMs),
    status: !live(entry) ? 'retired' : entry.epoch === sending ? 'in use' : entry.activeFromMs > nowMs ? 'pending' : 'accepted',
  }));
}

/** --activate-in and --retire-after (defaults when absent), each checked against the bounds. */
function rotationTiming(values: CaFlags): RotationTiming {
  const durationOf = (flag: 'activate-in' | 'retire-after', fallbackMs: number): number => {
    const ms = typeof values[flag] === 'string' ? parseDurationMs(`--${flag}`, values[flag]) : fallbackMs;
    if (ms < rotationStepMsMin || ms > rotationStepMsMax) throw new UsageError(`--${flag}: expected ${rotationStepMsMin / 1000} s to ${rotationStepMsMax / 86_400_000} days, got ${ms / 1000} s`);
    return ms;
  };
  return { activateInMs: durationOf('activate-in', rotationActivateInMsDefault), retireAfterMs: durationOf('retire-after', rotationRetireAfterMsDefault) };
}

/** `ca rotate-network-key --dir DIR [--activate-in 10m] [--retire-after 10m] [--json]`: adds a network key epoch (ca-network-keys.ts). */
export function caRotateNetworkKey(argv: readonly string[], io: CliIo, env: NodeJS.ProcessEnv): number {
  const options = { dir: { type: 'string' }, 'activate-in': { type: 'string' }, 'retire-after': { type: 'string' }, json: { type: 'boolean' } } as const;
  const { values } = parseCaFlags(argv, options);
  const dir = requiredFlag(values, 'dir');
  const timing = rotationTiming(values);
  const nowMs = Date.now();
  const opened = openCaDirectory(dir, caPassphrase(io, env), nowMs);
  let epochs: NetworkKeyEpoch[];
  try {
    epochs = rotateNetworkKey(dir, opened, nowMs, timing, random);
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(error.message);
    throw error;
  }
  const rows = networkKeyRows(dir, nowMs);
  if (values.json === true) {
    io.stdout(`${JSON.stringify({ epochs: rows })}\n`);
    return 0;
  }
  io.stdout(`network key epoch ${epochs.at(-1)!.epoch} added: nodes send under it from ${iso(epochs.at(-1)!.activeFromMs)}\n`);
  io.stdout(renderNetworkKeyRows(rows));
  io.stdout('a running CA service hands it out at once; revoked nodes are refused it\n');
  return 0;
}

