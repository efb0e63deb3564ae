import { createCipheriv, createDecipheriv, scryptSync } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { networkKeyBytes } from '../crypto/obfuscation.js';
import { createCa, loadCa, type CaSecrets, type MeshCa } from '../identity/ca.js';
import { IdentityError, IdentityErrorCode } from '../identity/errors.js';
import { JoinTokenBook } from '../identity/join-token.js';
import { nextRevocationList, signRevocationList, verifyRevocationList, type RevocationEntry, type RevocationList } from '../identity/revocation.js';

/**
 * The CA's directory: ca.json (certificate, and the private seeds encrypted with a key derived
 * from the operator's passphrase by scrypt, sealed with AES-256-GCM) and tokens.json (join
 * tokens, secrets hashed). Files are written to a temporary name and renamed, so a failure
 * never leaves half a CA behind; private material is 0600 in a 0700 directory. The CA service
 * adds revocations.json (the signed revocation list and the operator's reasons) and nodes.json
 * (the nodes it enrolled); writers of shared files hold ca.lock.
 */

/** Shortest passphrase accepted for the CA keys. */
export const caPassphraseCharsMin = 12;
/** scrypt cost (N = 2^15, r = 8, p = 1: about 32 MiB and 0.1 s, the interactive setting of RFC 7914's authors). */
export const scryptParams = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

const caFile = 'ca.json';
const tokensFile = 'tokens.json';

const sealedSchema = z.strictObject({ kdf: z.literal('scrypt'), salt: z.base64(), cipher: z.literal('aes-256-gcm'), iv: z.base64(), ciphertext: z.base64(), tag: z.base64() });
const caFileSchema = z.strictObject({ version: z.literal(1), trustDomain: z.string(), certificate: z.base64(), sealedSecrets: sealedSchema });
const secretsSchema = z.strictObject({ ed25519Seed: z.base64(), mlDsaSeed: z.base64(), networkKey: z.base64() });
const tokensSchema = z.array(z.strictObject({ idHex: z.string(), secretHashHex: z.string(), createdAtMs: z.number(), expiresAtMs: z.number(), usedAtMs: z.number().nullable(), usedBy: z.string().nullable() }));

/** An opened CA directory. */
export interface OpenedCa {
  readonly ca: MeshCa;
  readonly tokens: JoinTokenBook;
  readonly networkKey: Uint8Array;
}

/** An ERR_CA_FILES error (a CA file missing, malformed or not writable). */
export function filesError(message: string): IdentityError {
  return new IdentityError(IdentityErrorCode.ERR_CA_FILES, message);
}

/** Writes `text` to `path` with mode 0600, through a temporary file (synced) and a rename. */
export function writePrivate(path: string, text: string): void {
  const temporary = `${path}.tmp-${process.pid}`;
  const fd = openSync(temporary, 'w', 0o600);
  try {
    writeFileSync(fd, text);
    // On disk before the rename: a crash must not leave an empty file where the old one was.
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}

function keyFrom(passphrase: string, salt: Uint8Array): Buffer {
  return scryptSync(passphrase.normalize('NFC'), salt, 32, scryptParams);
}

function seal(plaintext: string, passphrase: string, random: (bytes: number) => Uint8Array): z.infer<typeof sealedSchema> {
  const salt = random(16);
  const iv = random(12);
  const cipher = createCipheriv('aes-256-gcm', keyFrom(passphrase, salt), iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
  return { kdf: 'scrypt', salt: b64(salt), cipher: 'aes-256-gcm', iv: b64(iv), ciphertext: b64(ciphertext), tag: b64(cipher.getAuthTag()) };
}

function unseal(sealed: z.infer<typeof sealedSchema>, passphrase: string, path: string): string {
  const decipher = createDecipheriv('aes-256-gcm', keyFrom(passphrase, Buffer.from(sealed.salt, 'base64')), Buffer.from(sealed.iv, 'base64'));
  decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
  try {
    return Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    throw new IdentityError(IdentityErrorCode.ERR_CA_PASSPHRASE, `${path}: wrong passphrase for the CA keys (or the file was altered)`);
  }
}

function checkPassphrase(passphrase: string): void {
  if (passphrase.length < caPassphraseCharsMin) throw new IdentityError(IdentityErrorCode.ERR_CA_PASSPHRASE, `CA passphrase: expected at least ${caPassphraseCharsMin} characters, got ${passphrase.length}`);
}

/** Creates a CA in `dir` (which must not hold one yet); returns it opened. */
export function initCaDirectory(dir: string, trustDomain: string, passphrase: string, nowMs: number, random: (bytes: number) => Uint8Array): OpenedCa {
  checkPassphrase(passphrase);
  if (existsSync(join(dir, caFile))) throw filesError(`${join(dir, caFile)}: a CA already exists here; refusing to overwrite it`);
  const { ca, secrets } = createCa(trustDomain, nowMs, random);
  const networkKey = random(networkKeyBytes);
  const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
  const secretsJson = JSON.stringify({ ed25519Seed: b64(secrets.ed25519Seed), mlDsaSeed: b64(secrets.mlDsaSeed), networkKey: b64(networkKey) });
  const file = { version: 1, trustDomain, certificate: b64(ca.certificateDer), sealedSecrets: seal(secretsJson, passphrase, random) };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tokens = new JoinTokenBook();
  saveTokens(dir, tokens);
  writePrivate(join(dir, caFile), `${JSON.stringify(file, null, 2)}\n`);
  return { ca, tokens, networkKey };
}

/** The JSON in `path`; ERR_CA_FILES when missing or not JSON. */
export function readJson(path: string): unknown {
  if (!existsSync(path)) throw filesError(`${path}: not found (run x0tta6bl4 ca init first)`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw filesError(`${path}: not valid JSON (${(error as Error).message})`);
  }
}

/** `value` checked by `schema`; ERR_CA_FILES naming `path` and the first field that is wrong. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, path: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw filesError(`${path}: field ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data;
}

/** Opens the CA in `dir` with `passphrase`; ERR_CA_PASSPHRASE for a wrong one, ERR_CA_FILES for missing or malformed files. */
export function openCaDirectory(dir: string, passphrase: string, nowMs: number): OpenedCa {
  const path = join(dir, caFile);
  const file = parseWith(caFileSchema, readJson(path), path);
  const secretsFields = parseWith(secretsSchema, JSON.parse(unseal(file.sealedSecrets, passphrase, path)), `${path} (sealed secrets)`);
  const secrets: CaSecrets = { ed25519Seed: new Uint8Array(Buffer.from(secretsFields.ed25519Seed, 'base64')), mlDsaSeed: new Uint8Array(Buffer.from(secretsFields.mlDsaSeed, 'base64')) };
  const ca = loadCa(file.trustDomain, new Uint8Array(Buffer.from(file.certificate, 'base64')), secrets, nowMs);
  const tokensPath = join(dir, tokensFile);
  const tokens = new JoinTokenBook(parseWith(tokensSchema, readJson(tokensPath), tokensPath));
  return { ca, tokens, networkKey: new Uint8Array(Buffer.from(secretsFields.networkKey, 'base64')) };
}

/** Writes the token book of the CA in `dir` (atomically). */
export function saveTokens(dir: string, tokens: JoinTokenBook): void {
  writePrivate(join(dir, tokensFile), `${JSON.stringify(tokens.toJSON(), null, 2)}\n`);
}

// ---------------------------------------------------------------------------------------------
// Files the CA service and the CLI share: a lock, revocations.json and nodes.json.

/** How long a writer waits for the CA directory's lock before giving up. */
export const caLockWaitMsMax = 5_000;
/** Age after which a lock left by a crashed writer is broken. */
export const caLockStaleMs = 30_000;
/** Pause between two attempts to take the lock. */
export const caLockRetryMs = 10;
/** Longest reason text kept with a revocation. */
export const revocationReasonCharsMax = 200;
/** Most enrolled nodes nodes.json remembers (the oldest are dropped beyond it). */
export const nodeRecordsMax = 100_000;

const lockFile = 'ca.lock';
const revocationsFile = 'revocations.json';
const nodesFile = 'nodes.json';
const issuedFile = 'issued.json';
const revocationsSchema = z.strictObject({ version: z.literal(1), signedList: z.base64(), reasons: z.record(z.string(), z.string()) });
const nodesSchema = z.array(z.strictObject({ spiffeId: z.string(), serialHex: z.string(), enrolledAtMs: z.number(), notAfterMs: z.number() }));
const issuedSchema = z.array(z.strictObject({ spiffeId: z.string(), serialHex: z.string(), issuedAtMs: z.number(), notAfterMs: z.number() }));

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function takeLock(path: string): number {
  const deadlineMs = Date.now() + caLockWaitMsMax;
  for (;;) {
    try {
      return openSync(path, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw filesError(`${path}: cannot take the lock (${(error as Error).message})`);
    }
    const ageMs = Date.now() - (statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    if (ageMs > caLockStaleMs) rmSync(path, { force: true });
    else if (Date.now() >= deadlineMs) throw filesError(`${path}: held by another x0tta6bl4 process for more than ${caLockWaitMsMax} ms; remove it if none runs`);
    else pause(caLockRetryMs);
  }
}

/**
 * Runs `action` holding the lock of the CA directory (`ca.lock`, created exclusively), so the
 * service and the CLI never interleave a read-modify-write of tokens.json or revocations.json:
 * a lost update there could bring a used token back.
 */
export function withCaLock<T>(dir: string, action: () => T): T {
  const path = join(dir, lockFile);
  const fd = takeLock(path);
  try {
    return action();
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
}

/** The token book as stored now (call under withCaLock when it is to be written back). */
export function readTokens(dir: string): JoinTokenBook {
  const path = join(dir, tokensFile);
  return new JoinTokenBook(parseWith(tokensSchema, readJson(path), path));
}

/** The CA certificate and trust domain of `dir`, which need no passphrase. */
export function readCaCertificate(dir: string): { trustDomain: string; certificateDer: Uint8Array } {
  const path = join(dir, caFile);
  const file = parseWith(caFileSchema, readJson(path), path);
  return { trustDomain: file.trustDomain, certificateDer: new Uint8Array(Buffer.from(file.certificate, 'base64')) };
}

/** The CA's revocations as stored: the signed list served to nodes and the operator's reasons. */
export interface StoredRevocations {
  readonly signedList: Uint8Array;
  readonly reasons: Readonly<Record<string, string>>;
}

/** The key of a revocation's reason: the SPIFFE ID, with `#serial` for a single certificate. */
export function revocationReasonKey(spiffeId: string, serialHex: string | null): string {
  return serialHex === null ? spiffeId : `${spiffeId}#${serialHex}`;
}

/** revocations.json of `dir`, or null before the first revocation. Its list is verified by the caller. */
export function readRevocations(dir: string): StoredRevocations | null {
  const path = join(dir, revocationsFile);
  if (!existsSync(path)) return null;
  const file = parseWith(revocationsSchema, readJson(path), path);
  return { signedList: new Uint8Array(Buffer.from(file.signedList, 'base64')), reasons: file.reasons };
}

/**
 * Revokes `entry` (a SPIFFE ID, or one certificate of it) in the CA directory: under the lock,
 * the stored list is verified, the next one (sequence + 1) signed with the CA's keys and written.
 */
export function revokeInCaDirectory(dir: string, ca: MeshCa, entry: RevocationEntry, reason: string, nowMs: number): RevocationList {
  if (reason.length > revocationReasonCharsMax) throw new RangeError(`revocation reason: expected at most ${revocationReasonCharsMax} characters, got ${reason.length}`);
  return withCaLock(dir, () => {
    const stored = readRevocations(dir);
    const current = stored === null ? null : verifyRevocationList(stored.signedList, [ca.anchor], ca.trustDomain);
    const list = nextRevocationList(current, ca.trustDomain, entry, nowMs);
    const kept = new Set(list.entries.map((kept) => revocationReasonKey(kept.spiffeId, kept.serialHex)));
    const reasons = Object.fromEntries(Object.entries(stored?.reasons ?? {}).filter(([key]) => kept.has(key)));
    if (reason !== '') reasons[revocationReasonKey(entry.spiffeId, entry.serialHex)] = reason;
    const file = { version: 1, signedList: Buffer.from(signRevocationList(ca, list)).toString('base64'), reasons };
    writePrivate(join(dir, revocationsFile), `${JSON.stringify(file, null, 2)}\n`);
    return list;
  });
}

/** What the CA remembers of an enrolled node (its first SVID). */
export interface NodeRecord {
  readonly spiffeId: string;
  readonly serialHex: string;
  readonly enrolledAtMs: number;
  readonly notAfterMs: number;
}

/** The records of a list file (nodes.json, issued.json), oldest first; none before the first. */
function readRecords<T>(dir: string, file: string, schema: z.ZodType<T[]>): T[] {
  const path = join(dir, file);
  return existsSync(path) ? parseWith(schema, readJson(path), path) : [];
}

/** Appends `record` to a list file, the oldest dropped beyond nodeRecordsMax (call under withCaLock). */
function appendRecord<T>(dir: string, file: string, schema: z.ZodType<T[]>, record: T): void {
  const records = [...readRecords(dir, file, schema), record].slice(-nodeRecordsMax);
  writePrivate(join(dir, file), `${JSON.stringify(records, null, 2)}\n`);
}

/** The nodes enrolled through the CA service, oldest first. */
export function readNodeRecords(dir: string): NodeRecord[] {
  return readRecords(dir, nodesFile, nodesSchema);
}

/** Appends an enrolled node to nodes.json (call under withCaLock). */
export function recordEnrolledNode(dir: string, record: NodeRecord): void {
  appendRecord(dir, nodesFile, nodesSchema, record);
}

/** What the CA remembers of an SVID `ca issue` made (an operator's or a program's, not a node's). */
export interface IssuedRecord {
  readonly spiffeId: string;
  readonly serialHex: string;
  readonly issuedAtMs: number;
  readonly notAfterMs: number;
}

/** The SVIDs `ca issue` made, oldest first (issued.json; none before the first). */
export function readIssuedRecords(dir: string): IssuedRecord[] {
  return readRecords(dir, issuedFile, issuedSchema);
}

/** Appends an issued SVID to issued.json, under the CA directory's lock (the oldest are dropped beyond nodeRecordsMax). */
export function recordIssuedSvid(dir: string, record: IssuedRecord): void {
  withCaLock(dir, () => appendRecord(dir, issuedFile, issuedSchema, record));
}
