import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { curveKeyBytes } from '../crypto/curve25519.js';
import { mlDsaSeedBytes } from '../crypto/mldsa.js';
import { checkNetworkKeyEpochs, type NetworkKeyEpoch } from '../crypto/network-key-ring.js';
import { networkKeyBytes } from '../crypto/obfuscation.js';
import { xwingSecretKeyBytes } from '../crypto/xwing.js';
import { nodeKeysFromSeeds, type NodeKeys } from '../identity/ca.js';
import { parseSpiffeId } from '../identity/spiffe-id.js';

/**
 * The node's state directory: its private seeds, its enrollment (SVID, CA certificate, trust
 * bundle, network key, node.json) and the SQLite database. Every file is written to a temporary
 * name, flushed and renamed, so a crash leaves either the old or the new file, never half of
 * one; private files are 0600 in a 0700 directory, and a private file that group or others may
 * read is refused, as ssh refuses such a key. Every problem is a StateError naming the file.
 */

/** File names inside the state directory. */
export const stateFiles = Object.freeze({
  keys: 'keys.json',
  svid: 'svid.der',
  caCertificate: 'ca.der',
  bundle: 'bundle.json',
  networkKey: 'network.key',
  networkKeys: 'network-keys.json',
  node: 'node.json',
  db: 'node.db',
});

/** Largest keys.json read, in bytes (three base64 seeds take about 200). */
export const keysFileBytesMax = 4096;
/** Largest certificate read, in bytes (a hybrid SVID with ML-DSA-65 and X-Wing keys is about 7 KiB). */
export const certificateBytesMax = 64 * 1024;
/** Largest bundle.json read, in bytes. */
export const bundleBytesMax = 1024 * 1024;
/** Largest node.json read, in bytes. */
export const nodeFileBytesMax = 16 * 1024;
/** Longest CA URL stored in node.json, in characters. */
export const caUrlCharsMax = 2048;

const privateFileMode = 0o600;
const publicFileMode = 0o644;
const directoryMode = 0o700;
/** Permission bits for group and others: any of them on a private file means it leaked. */
const groupOtherBits = 0o077;
const posix = process.platform !== 'win32';

/** Code of every state directory and state database problem. */
export const StateErrorCode = { ERR_STATE: 'ERR_STATE' } as const;

/** A missing, unreadable, corrupt or unsafe state file; the message names the file and the problem. */
export class StateError extends Error {
  override readonly name = 'StateError';
  readonly code = StateErrorCode.ERR_STATE;

  /** Builds an error about the file at `path`. */
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** True when `value` is a StateError. */
export function isStateError(value: unknown): value is StateError {
  return value instanceof StateError;
}

function stateError(path: string, problem: string): StateError {
  return new StateError(path, `${path}: ${problem}`);
}

function errnoText(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
}

/** The node's three 32-byte seeds; its Ed25519, ML-DSA-65 and X-Wing keys grow from them. */
export interface NodeSeeds {
  readonly ed25519Seed: Uint8Array;
  readonly mlDsaSeed: Uint8Array;
  readonly xwingSeed: Uint8Array;
}

const seedSizes: Readonly<Record<keyof NodeSeeds, number>> = { ed25519Seed: curveKeyBytes, mlDsaSeed: mlDsaSeedBytes, xwingSeed: xwingSecretKeyBytes };

/** What enrollment leaves behind (the input of writeEnrollment). */
export interface EnrollmentInput {
  readonly spiffeId: string;
  readonly trustDomain: string;
  readonly svid: Uint8Array;
  readonly caCertificate: Uint8Array;
  readonly networkKey: Uint8Array;
  readonly bundleJson?: string;
  readonly caUrl?: string;
}

/** A stored enrollment, as readEnrollment returns it. */
export interface Enrollment {
  readonly spiffeId: string;
  readonly trustDomain: string;
  readonly svid: Uint8Array;
  readonly caCertificate: Uint8Array;
  readonly networkKey: Uint8Array;
  readonly bundleJson: string | null;
  readonly caUrl: string | null;
  /** ISO 8601 time of enrollment. */
  readonly enrolledAt: string;
}

/** The state directory and the path of each file in it. */
export type StatePaths = { readonly dir: string } & { readonly [name in keyof typeof stateFiles]: string };

/** The paths of every state file in `dir`. */
export function statePaths(dir: string): StatePaths {
  const entries = Object.entries(stateFiles).map(([name, file]) => [name, join(dir, file)]);
  return Object.freeze({ dir, ...Object.fromEntries(entries) }) as StatePaths;
}

/** Creates `dir` (0700, parents too) or tightens an existing one to 0700; returns its file paths. */
export function initStateDir(dir: string): StatePaths {
  try {
    if (existsSync(dir) && !statSync(dir).isDirectory()) throw stateError(dir, 'exists but is not a directory');
    mkdirSync(dir, { recursive: true, mode: directoryMode });
    if (posix) chmodSync(dir, directoryMode);
  } catch (error) {
    if (isStateError(error)) throw error;
    throw stateError(dir, `cannot create the state directory (${errnoText(error)})`);
  }
  return statePaths(dir);
}

function syncDirectory(dir: string): void {
  // A rename is durable only once the directory entry is; Windows cannot open directories.
  if (!posix) return;
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `data` to `path` atomically: a temporary file, flushed to disk, renamed over the target. */
function writeAtomic(path: string, data: string | Uint8Array, mode: number): void {
  const temporary = `${path}.tmp-${process.pid}`;
  try {
    rmSync(temporary, { force: true });
    const fd = openSync(temporary, 'wx', mode);
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
    syncDirectory(dirname(path));
  } catch (error) {
    rmSync(temporary, { force: true });
    throw stateError(path, `cannot write (${errnoText(error)})`);
  }
}

/** Reads a whole state file of 1..bytesMax bytes. */
function readBounded(path: string, bytesMax: number): Buffer {
  let size: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw stateError(path, 'not a regular file');
    size = stat.size;
  } catch (error) {
    if (isStateError(error)) throw error;
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw stateError(path, missing ? 'missing (has this node been enrolled? run x0tta6bl4 node enroll)' : `cannot read (${errnoText(error)})`);
  }
  if (size === 0) throw stateError(path, 'empty (truncated?)');
  if (size > bytesMax) throw stateError(path, `${size} bytes, more than the ${bytesMax} such a file may hold`);
  return readFileSync(path);
}

/** Refuses a private file that group or others may access, as ssh does for a private key. */
function checkPrivateMode(path: string): void {
  if (!posix) return;
  const mode = statSync(path).mode & 0o777;
  if ((mode & groupOtherBits) !== 0) {
    const octal = mode.toString(8).padStart(4, '0');
    throw stateError(path, `permissions ${octal} are too open: this private file must be accessible by its owner only (chmod 600 ${path})`);
  }
}

function parseJson<T>(path: string, bytes: Buffer, schema: z.ZodType<T>): T {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw stateError(path, `not valid JSON (truncated or corrupt?): ${(error as Error).message}`);
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw stateError(path, `field ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data;
}

/** Checks that `bytes` is one complete DER SEQUENCE (a certificate), which catches truncation and stray bytes. */
function derProblem(bytes: Uint8Array): string | null {
  if (bytes[0] !== 0x30) return 'not a DER certificate (does not start with a SEQUENCE)';
  const first = bytes[1] ?? 0;
  let length = first;
  let header = 2;
  if (first >= 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) return 'not a DER certificate (bad length encoding)';
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (bytes[2 + i] ?? 0);
    header += count;
  }
  if (header + length !== bytes.length) return `not a complete DER certificate: the encoding says ${header + length} bytes, the file holds ${bytes.length} (truncated or corrupt?)`;
  return null;
}

function readCertificate(path: string): Uint8Array {
  const bytes = new Uint8Array(readBounded(path, certificateBytesMax));
  const problem = derProblem(bytes);
  if (problem !== null) throw stateError(path, problem);
  return bytes;
}

function checkCertificateArgument(what: string, bytes: Uint8Array): void {
  const problem = bytes.length > certificateBytesMax ? `more than ${certificateBytesMax} bytes` : derProblem(bytes);
  if (problem !== null) throw new RangeError(`${what}: ${problem}`);
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const keysFileSchema = z.strictObject({ version: z.literal(1), ed25519Seed: z.base64(), mlDsaSeed: z.base64(), xwingSeed: z.base64() });

/** Stores the node's seeds in keys.json (0600, atomically); the keys themselves are always regrown from them. */
export function writeNodeKeys(dir: string, seeds: NodeSeeds): void {
  for (const [name, size] of Object.entries(seedSizes)) {
    const seed = seeds[name as keyof NodeSeeds];
    if (seed.length !== size) throw new RangeError(`writeNodeKeys: ${name}: expected ${size} bytes, got ${seed.length}`);
  }
  const file = { version: 1, ed25519Seed: b64(seeds.ed25519Seed), mlDsaSeed: b64(seeds.mlDsaSeed), xwingSeed: b64(seeds.xwingSeed) };
  writeAtomic(join(dir, stateFiles.keys), `${JSON.stringify(file, null, 2)}\n`, privateFileMode);
}

/** Reads keys.json and grows the node's keys; refuses a file others may read, or seeds of the wrong size. */
export function readNodeKeys(dir: string): NodeKeys {
  const path = join(dir, stateFiles.keys);
  const bytes = readBounded(path, keysFileBytesMax);
  checkPrivateMode(path);
  const file = parseJson(path, bytes, keysFileSchema);
  const seeds: Record<string, Uint8Array> = {};
  for (const [name, size] of Object.entries(seedSizes)) {
    const seed = new Uint8Array(Buffer.from(file[name as keyof NodeSeeds], 'base64'));
    if (seed.length !== size) throw stateError(path, `${name}: expected ${size} bytes, got ${seed.length} (corrupt?)`);
    seeds[name] = seed;
  }
  return nodeKeysFromSeeds(seeds.ed25519Seed!, seeds.mlDsaSeed!, seeds.xwingSeed!);
}

const nodeFileSchema = z.strictObject({
  version: z.literal(1),
  spiffeId: z.string(),
  trustDomain: z.string(),
  caUrl: z.string().max(caUrlCharsMax).nullable(),
  enrolledAt: z.iso.datetime(),
});

function checkEnrollmentArgument(enrollment: EnrollmentInput): void {
  if (parseSpiffeId(enrollment.spiffeId).trustDomain !== enrollment.trustDomain) {
    throw new RangeError(`writeEnrollment: ${enrollment.spiffeId} is not in trust domain ${enrollment.trustDomain}`);
  }
  checkCertificateArgument('writeEnrollment: svid', enrollment.svid);
  checkCertificateArgument('writeEnrollment: caCertificate', enrollment.caCertificate);
  if (enrollment.networkKey.length !== networkKeyBytes) throw new RangeError(`writeEnrollment: networkKey: expected ${networkKeyBytes} bytes, got ${enrollment.networkKey.length}`);
  if (enrollment.bundleJson !== undefined && Buffer.byteLength(enrollment.bundleJson, 'utf8') > bundleBytesMax) throw new RangeError(`writeEnrollment: bundleJson: more than ${bundleBytesMax} bytes`);
  if (enrollment.caUrl !== undefined && enrollment.caUrl.length > caUrlCharsMax) throw new RangeError(`writeEnrollment: caUrl: more than ${caUrlCharsMax} characters`);
}

/**
 * Stores an enrollment. node.json is written last: it marks the enrollment complete, so a crash
 * half-way leaves a directory that readEnrollment reports as not enrolled (or as the old one).
 * A missing bundleJson removes a stale bundle.json of an earlier enrollment.
 */
export function writeEnrollment(dir: string, enrollment: EnrollmentInput, nowMs: number = Date.now()): void {
  checkEnrollmentArgument(enrollment);
  const paths = statePaths(dir);
  writeAtomic(paths.svid, enrollment.svid, publicFileMode);
  writeAtomic(paths.caCertificate, enrollment.caCertificate, publicFileMode);
  if (enrollment.bundleJson === undefined) rmSync(paths.bundle, { force: true });
  else writeAtomic(paths.bundle, enrollment.bundleJson, publicFileMode);
  writeAtomic(paths.networkKey, enrollment.networkKey, privateFileMode);
  const node = { version: 1, spiffeId: enrollment.spiffeId, trustDomain: enrollment.trustDomain, caUrl: enrollment.caUrl ?? null, enrolledAt: new Date(nowMs).toISOString() };
  writeAtomic(paths.node, `${JSON.stringify(node, null, 2)}\n`, publicFileMode);
}

function readNodeFile(path: string): z.infer<typeof nodeFileSchema> {
  const node = parseJson(path, readBounded(path, nodeFileBytesMax), nodeFileSchema);
  let trustDomain: string;
  try {
    trustDomain = parseSpiffeId(node.spiffeId).trustDomain;
  } catch (error) {
    throw stateError(path, `field spiffeId: ${(error as Error).message}`);
  }
  if (trustDomain !== node.trustDomain) throw stateError(path, `field spiffeId: ${node.spiffeId} is not in trustDomain ${node.trustDomain}`);
  return node;
}

function readBundle(path: string): string | null {
  if (!existsSync(path)) return null;
  const text = readBounded(path, bundleBytesMax).toString('utf8');
  try {
    JSON.parse(text);
  } catch (error) {
    throw stateError(path, `not valid JSON (truncated or corrupt?): ${(error as Error).message}`);
  }
  return text;
}

/** Reads the stored enrollment; StateError naming the first missing, unsafe or corrupt file. */
export function readEnrollment(dir: string): Enrollment {
  const paths = statePaths(dir);
  const node = readNodeFile(paths.node);
  const networkKey = new Uint8Array(readBounded(paths.networkKey, networkKeyBytes));
  checkPrivateMode(paths.networkKey);
  if (networkKey.length !== networkKeyBytes) throw stateError(paths.networkKey, `expected ${networkKeyBytes} bytes, got ${networkKey.length} (truncated?)`);
  return {
    spiffeId: node.spiffeId,
    trustDomain: node.trustDomain,
    svid: readCertificate(paths.svid),
    caCertificate: readCertificate(paths.caCertificate),
    networkKey,
    bundleJson: readBundle(paths.bundle),
    caUrl: node.caUrl,
    enrolledAt: node.enrolledAt,
  };
}

/** Replaces the node's SVID after a rotation (atomically); the node must be enrolled. */
export function replaceSvid(dir: string, svid: Uint8Array): void {
  checkCertificateArgument('replaceSvid: svid', svid);
  const paths = statePaths(dir);
  readNodeFile(paths.node);
  writeAtomic(paths.svid, svid, publicFileMode);
}

const networkKeysSchema = z.strictObject({
  version: z.literal(1),
  issuedAtMs: z.number().int().min(0),
  epochs: z.array(z.strictObject({ epoch: z.number(), key: z.base64(), activeFromMs: z.number(), acceptUntilMs: z.number().nullable() })),
});
/** Largest network-keys.json read (four epochs take about 600 bytes). */
export const networkKeysFileBytesMax = 16 * 1024;

/** Network key epochs as fetched from the CA, with the time the CA issued them (a later fetch must be newer). */
export interface StoredNetworkKeys {
  readonly issuedAtMs: number;
  readonly epochs: readonly NetworkKeyEpoch[];
}

/**
 * The network key epochs last fetched from the CA (network-keys.json, 0600), or null before the
 * first fetch: the node then holds the enrollment's network.key alone.
 */
export function readNetworkKeys(dir: string): StoredNetworkKeys | null {
  const path = statePaths(dir).networkKeys;
  if (!existsSync(path)) return null;
  const file = parseJson(path, readBounded(path, networkKeysFileBytesMax), networkKeysSchema);
  checkPrivateMode(path);
  const epochs = file.epochs.map((entry) => ({ ...entry, key: new Uint8Array(Buffer.from(entry.key, 'base64')) }));
  try {
    checkNetworkKeyEpochs(epochs);
  } catch (error) {
    throw stateError(path, (error as Error).message);
  }
  return { issuedAtMs: file.issuedAtMs, epochs };
}

/** Saves the network key epochs fetched from the CA (atomically, 0600); throws ERR_CRYPTO_KEY_RING for a malformed ring. */
export function writeNetworkKeys(dir: string, stored: StoredNetworkKeys): void {
  checkNetworkKeyEpochs(stored.epochs);
  const file = { version: 1, issuedAtMs: stored.issuedAtMs, epochs: stored.epochs.map((entry) => ({ ...entry, key: Buffer.from(entry.key).toString('base64') })) };
  writeAtomic(statePaths(dir).networkKeys, `${JSON.stringify(file)}\n`, privateFileMode);
}

/**
 * An identity for calling node APIs over mTLS: keys.json, svid.der and ca.der, the files of the
 * same names in a node's state directory. `x0tta6bl4 ca issue` writes one for an operator or a
 * program; the CLI's --identity reads either kind of directory.
 */
export interface ClientIdentity {
  readonly keys: NodeKeys;
  readonly svid: Uint8Array;
  readonly caCertificate: Uint8Array;
}

/** Writes a client identity into `dir` (made 0700): keys.json 0600, svid.der and ca.der 0644; refuses a directory that holds keys already. */
export function writeClientIdentity(dir: string, seeds: NodeSeeds, svid: Uint8Array, caCertificate: Uint8Array): void {
  checkCertificateArgument('writeClientIdentity: svid', svid);
  checkCertificateArgument('writeClientIdentity: caCertificate', caCertificate);
  const paths = initStateDir(dir);
  if (existsSync(paths.keys)) throw stateError(paths.keys, 'exists already: an identity is never overwritten (choose another directory)');
  writeNodeKeys(dir, seeds);
  writeAtomic(paths.svid, svid, publicFileMode);
  writeAtomic(paths.caCertificate, caCertificate, publicFileMode);
}

/** Reads the client identity of `dir` (made by writeClientIdentity, or a node's state directory); StateError naming the first bad file. */
export function readClientIdentity(dir: string): ClientIdentity {
  const paths = statePaths(dir);
  return { keys: readNodeKeys(dir), svid: readCertificate(paths.svid), caCertificate: readCertificate(paths.caCertificate) };
}
