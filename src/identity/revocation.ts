import assert from 'node:assert/strict';
import { ed25519SignatureBytes, ed25519Sign, ed25519Verify } from '../crypto/curve25519.js';
import { mlDsaSignatureBytes, mlDsaSign, mlDsaVerify } from '../crypto/mldsa.js';
import { svidTtlMsMax, type MeshCa } from './ca.js';
import { IdentityError, IdentityErrorCode, type IdentityErrorCodeValue } from './errors.js';
import { parseSpiffeId, parseTrustDomain, spiffeIdBytesMax, trustDomainBytesMax } from './spiffe-id.js';
import type { SvidIdentity, TrustAnchor } from './svid.js';

/**
 * Revocation lists of a trust domain: signed by the mesh CA, numbered, and honoured by every
 * node that validates SVIDs. A list is signed twice, with Ed25519 and with ML-DSA-65, and a
 * verifier requires both, so a forger must break both schemes: the list holds if either does.
 *
 * Encoding (all integers big-endian, every value has exactly one byte string):
 *
 *   body      = version u8 (1) | trust domain length u8 | trust domain (ASCII)
 *             | sequence u64 | issuedAtMs u64 | entry count u16 | entries
 *   entry     = SPIFFE ID length u16 | SPIFFE ID (ASCII) | serial length u8 (0 = the whole ID)
 *             | serial bytes | revokedAtMs u64
 *   list      = body | Ed25519 signature (64) | ML-DSA-65 signature (3309)
 *
 * Entries are sorted by SPIFFE ID, then serial (the whole-ID entry first), with no duplicates;
 * u64 values stay within 2^53-1; revokedAtMs never exceeds issuedAtMs. Ed25519 signs
 * `context | body` and ML-DSA-65 signs `body` with `context` as its FIPS 204 context string, so
 * neither signature can be taken for a certificate signature by the same CA keys (a TBS starts
 * with 0x30, the context with 'x').
 *
 * What an entry revokes:
 * - with a serial: that one certificate, whenever it was issued (RFC 5280 5.3 semantics);
 * - without one: the node. Every SVID of that SPIFFE ID whose notBefore is earlier than
 *   revokedAtMs is refused, so a node cannot come back with an SVID it obtained before the
 *   revocation (for example one rotated in advance), while the CA can re-admit the ID with a
 *   fresh SVID. The CA backdates notBefore by notBeforeSkewMs, so an SVID issued within that
 *   minute after the revocation is refused too: the rule errs towards refusing.
 * An entry can be dropped from later lists once every SVID it covers has expired: revokedAtMs
 * plus svidTtlMsMax for a whole-ID entry, the certificate's notAfter for a serial.
 */

/** Most entries of a list. */
export const revocationEntriesMax = 8192;
/** Most bytes of an encoded list, signatures included: 8192 node entries of ~60 bytes take about half of it. */
export const revocationBytesMax = 1024 * 1024;
/** Most bytes of a revoked serial number (RFC 5280 4.1.2.2: at most 20 octets). */
export const revokedSerialBytesMax = 20;
/** Context string of both signatures of a list (FIPS 204 context; prefix of the Ed25519 message). */
export const revocationSignatureContext = new TextEncoder().encode('x0tta6bl4 revocation v1');

const formatVersion = 1;
const signaturesBytes = ed25519SignatureBytes + mlDsaSignatureBytes;
/** Body bytes of a list with a one-byte trust domain and no entries. */
const bodyBytesMin = 1 + 1 + 1 + 8 + 8 + 2;
const u8Max = 0xff;
const u16Max = 0xffff;

assert(trustDomainBytesMax <= u8Max && revokedSerialBytesMax <= u8Max, 'revocation: trust domain and serial lengths must fit their u8 length fields');
assert(spiffeIdBytesMax <= u16Max && revocationEntriesMax <= u16Max, 'revocation: SPIFFE ID lengths and the entry count must fit their u16 fields');

/** One revocation: a certificate (serialHex) or a whole node identity (serialHex null), from revokedAtMs on. */
export interface RevocationEntry {
  readonly spiffeId: string;
  /** Lower-case hex of the certificate serial, as SvidIdentity.serialHex has it; null revokes the SPIFFE ID. */
  readonly serialHex: string | null;
  readonly revokedAtMs: number;
}

/** The contents of a revocation list of one trust domain. */
export interface RevocationList {
  readonly trustDomain: string;
  /** Grows with every list the CA issues; a node never goes back to a lower one. */
  readonly sequence: number;
  readonly issuedAtMs: number;
  readonly entries: readonly RevocationEntry[];
}

/** What revocation looks at in a validated SVID. */
export type RevocationSubject = Pick<SvidIdentity, 'spiffeId' | 'serialHex' | 'notBeforeMs' | 'notAfterMs'>;

function fail(message: string, code: IdentityErrorCodeValue = IdentityErrorCode.ERR_REVOCATION_FORMAT): never {
  throw new IdentityError(code, `revocation list: ${message}`);
}

function checkTime(value: number, field: string): void {
  if (!Number.isSafeInteger(value) || value < 0) fail(`${field} must be an integer in 0..${Number.MAX_SAFE_INTEGER}, got ${value}`);
}

function entryKey(entry: RevocationEntry): string {
  // '\n' sorts before every character a SPIFFE ID or hex may hold, so the order is by ID, then serial.
  return `${entry.spiffeId}\n${entry.serialHex ?? ''}`;
}

function checkEntry(entry: RevocationEntry, list: RevocationList, where: string): void {
  let id: { trustDomain: string; path: string };
  try {
    id = parseSpiffeId(entry.spiffeId);
  } catch (error) {
    return fail(`${where}.spiffeId: ${(error as Error).message}`);
  }
  if (id.trustDomain !== list.trustDomain || id.path === '') fail(`${where}.spiffeId ${entry.spiffeId} must name a workload in trust domain ${list.trustDomain}`);
  const serial = entry.serialHex;
  if (serial !== null && !(/^(?:[0-9a-f]{2})+$/.test(serial) && serial.length <= 2 * revokedSerialBytesMax)) {
    fail(`${where}.serialHex must be null or 1..${revokedSerialBytesMax} bytes of lower-case hex, got ${JSON.stringify(serial)}`);
  }
  checkTime(entry.revokedAtMs, `${where}.revokedAtMs`);
  if (entry.revokedAtMs > list.issuedAtMs) fail(`${where}.revokedAtMs ${entry.revokedAtMs} is later than issuedAtMs ${list.issuedAtMs}`);
}

/** Checks every rule of a list (both on signing and after decoding), entries in canonical order. */
function checkList(list: RevocationList): void {
  try {
    parseTrustDomain(list.trustDomain);
  } catch (error) {
    fail(`trustDomain: ${(error as Error).message}`);
  }
  checkTime(list.sequence, 'sequence');
  checkTime(list.issuedAtMs, 'issuedAtMs');
  if (list.entries.length > revocationEntriesMax) fail(`${list.entries.length} entries, more than revocationEntriesMax ${revocationEntriesMax}`, IdentityErrorCode.ERR_REVOCATION_LIMIT);
  let previous = '';
  list.entries.forEach((entry, index) => {
    checkEntry(entry, list, `entries[${index}]`);
    const key = entryKey(entry);
    if (key <= previous) fail(`entries[${index}] is out of order or repeated (entries are sorted by SPIFFE ID, then serial, once each)`);
    previous = key;
  });
}

/** Byte writer for the body; values were checked before. */
class Writer {
  readonly #chunks: Uint8Array[] = [];

  u8(value: number): void {
    this.#chunks.push(Uint8Array.of(value));
  }

  u16(value: number): void {
    this.#chunks.push(Uint8Array.of(value >>> 8, value & 0xff));
  }

  u64(value: number): void {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(value));
    this.#chunks.push(bytes);
  }

  bytes(value: Uint8Array): void {
    this.#chunks.push(value);
  }

  done(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.#chunks));
  }
}

function encodeBody(list: RevocationList): Uint8Array {
  const out = new Writer();
  out.u8(formatVersion);
  out.u8(list.trustDomain.length);
  out.bytes(Buffer.from(list.trustDomain, 'ascii'));
  out.u64(list.sequence);
  out.u64(list.issuedAtMs);
  out.u16(list.entries.length);
  for (const entry of list.entries) {
    out.u16(entry.spiffeId.length);
    out.bytes(Buffer.from(entry.spiffeId, 'ascii'));
    const serial = Buffer.from(entry.serialHex ?? '', 'hex');
    out.u8(serial.length);
    out.bytes(serial);
    out.u64(entry.revokedAtMs);
  }
  return out.done();
}

/** Byte reader for the body: every read is bounds-checked and names the field it was reading. */
class Reader {
  #offset = 0;

  constructor(private readonly bytes: Uint8Array) {}

  #take(count: number, field: string): Uint8Array {
    if (this.#offset + count > this.bytes.length) fail(`truncated: ${field} at byte ${this.#offset} needs ${count} bytes, ${this.bytes.length - this.#offset} left`);
    const out = this.bytes.subarray(this.#offset, this.#offset + count);
    this.#offset += count;
    return out;
  }

  u8(field: string): number {
    return this.#take(1, field)[0]!;
  }

  u16(field: string): number {
    const b = this.#take(2, field);
    return (b[0]! << 8) | b[1]!;
  }

  u64(field: string): number {
    const value = new DataView(this.#take(8, field).slice().buffer).getBigUint64(0);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${field} must be at most ${Number.MAX_SAFE_INTEGER}, got ${value}`);
    return Number(value);
  }

  /** ASCII text; a byte above 0x7f is refused here, the character rules come with parsing. */
  ascii(length: number, field: string): string {
    const bytes = this.#take(length, field);
    if (bytes.some((byte) => byte > 0x7f)) fail(`${field} must be ASCII`);
    return Buffer.from(bytes).toString('ascii');
  }

  hex(length: number, field: string): string {
    return Buffer.from(this.#take(length, field)).toString('hex');
  }

  get remaining(): number {
    return this.bytes.length - this.#offset;
  }
}

function decodeEntry(input: Reader, where: string): RevocationEntry {
  const spiffeId = input.ascii(input.u16(`${where}.spiffeId length`), `${where}.spiffeId`);
  const serialBytes = input.u8(`${where}.serial length`);
  const serialHex = serialBytes === 0 ? null : input.hex(serialBytes, `${where}.serial`);
  return { spiffeId, serialHex, revokedAtMs: input.u64(`${where}.revokedAtMs`) };
}

function decodeBody(body: Uint8Array): RevocationList {
  const input = new Reader(body);
  const version = input.u8('version');
  if (version !== formatVersion) fail(`version must be ${formatVersion}, got ${version}`);
  const trustDomain = input.ascii(input.u8('trustDomain length'), 'trustDomain');
  const sequence = input.u64('sequence');
  const issuedAtMs = input.u64('issuedAtMs');
  const count = input.u16('entry count');
  if (count > revocationEntriesMax) fail(`${count} entries, more than revocationEntriesMax ${revocationEntriesMax}`, IdentityErrorCode.ERR_REVOCATION_LIMIT);
  const entries: RevocationEntry[] = [];
  for (let index = 0; index < count; index++) entries.push(decodeEntry(input, `entries[${index}]`));
  if (input.remaining !== 0) fail(`${input.remaining} bytes after the last entry`);
  const list = { trustDomain, sequence, issuedAtMs, entries };
  checkList(list);
  return list;
}

function ed25519Message(body: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.concat([revocationSignatureContext, body]));
}

/**
 * Encodes `list` canonically (entries sorted for the caller) and signs it with both of the CA's
 * keys. Refuses a list the verifier would refuse, or one for another trust domain than the CA's.
 */
export function signRevocationList(ca: MeshCa, list: RevocationList): Uint8Array {
  const sorted = { ...list, entries: [...list.entries].sort((a, b) => (entryKey(a) < entryKey(b) ? -1 : 1)) };
  checkList(sorted);
  if (sorted.trustDomain !== ca.trustDomain) fail(`trustDomain ${sorted.trustDomain} is not the CA's trust domain ${ca.trustDomain}`, IdentityErrorCode.ERR_REVOCATION_TRUST_DOMAIN);
  const body = encodeBody(sorted);
  if (body.length + signaturesBytes > revocationBytesMax) fail(`${body.length + signaturesBytes} bytes, more than revocationBytesMax ${revocationBytesMax}`, IdentityErrorCode.ERR_REVOCATION_LIMIT);
  const classical = ed25519Sign(ca.ed25519PrivateKey, ed25519Message(body));
  const pq = mlDsaSign(ca.mlDsaSecretKey, body, revocationSignatureContext);
  return new Uint8Array(Buffer.concat([body, classical, pq]));
}

function checkSignatures(body: Uint8Array, classical: Uint8Array, pq: Uint8Array, anchors: readonly TrustAnchor[], trustDomain: string): void {
  const domainAnchors = anchors.filter((anchor) => anchor.trustDomain === trustDomain);
  const message = ed25519Message(body);
  const signer = domainAnchors.find((anchor) => ed25519Verify(anchor.ed25519PublicKey, message, classical));
  if (signer === undefined) fail(`no trust anchor of ${trustDomain} made its Ed25519 signature (${domainAnchors.length} anchors)`, IdentityErrorCode.ERR_REVOCATION_SIGNATURE);
  if (!mlDsaVerify(signer.mlDsaPublicKey, body, pq, revocationSignatureContext)) {
    fail('the ML-DSA-65 signature does not verify under the CA that made the Ed25519 signature', IdentityErrorCode.ERR_REVOCATION_SIGNATURE);
  }
}

/**
 * Decodes and verifies a list for `trustDomain`: strict format first (cheap, bounded), then the
 * trust domain, then both signatures under one anchor of that domain. During a CA rotation a
 * list signed by either CA in the bundle is accepted.
 */
export function verifyRevocationList(bytes: Uint8Array, anchors: readonly TrustAnchor[], trustDomain: string): RevocationList {
  if (bytes.length > revocationBytesMax) fail(`${bytes.length} bytes, more than revocationBytesMax ${revocationBytesMax}`, IdentityErrorCode.ERR_REVOCATION_LIMIT);
  if (bytes.length < bodyBytesMin + signaturesBytes) fail(`${bytes.length} bytes, fewer than the ${bodyBytesMin + signaturesBytes} of an empty list`);
  const bodyBytes = bytes.length - signaturesBytes;
  const body = bytes.subarray(0, bodyBytes);
  const list = decodeBody(body);
  if (list.trustDomain !== trustDomain) fail(`issued for trust domain ${list.trustDomain}, expected ${trustDomain}`, IdentityErrorCode.ERR_REVOCATION_TRUST_DOMAIN);
  checkSignatures(body, bytes.subarray(bodyBytes, bodyBytes + ed25519SignatureBytes), bytes.subarray(bodyBytes + ed25519SignatureBytes), anchors, trustDomain);
  return list;
}


/** Whether two lists say the same: trust domain, sequence and entries (issuedAtMs aside). */
function sameContents(a: RevocationList, b: RevocationList): boolean {
  return Buffer.from(encodeBody({ ...a, issuedAtMs: 0 })).equals(encodeBody({ ...b, issuedAtMs: 0 }));
}

/**
 * Whether `list` replaces `current`: a higher sequence (new contents), or the same sequence and
 * contents issued later (the CA re-signs its list periodically so that a node can tell a fresh
 * list from a replayed one). An older list, or an earlier copy of the same one, does not. The
 * same sequence with other contents means the CA signed two lists with one number.
 */
function supersedes(list: RevocationList, current: RevocationList): boolean {
  if (list.sequence !== current.sequence) return list.sequence > current.sequence;
  if (!sameContents(list, current)) fail(`two different lists carry sequence ${list.sequence}`, IdentityErrorCode.ERR_REVOCATION_CONFLICT);
  return list.issuedAtMs > current.issuedAtMs;
}

/**
 * The revocations a node honours: the newest verified list of its trust domain. It never goes
 * back to an older list, so replaying an old one cannot lift a revocation, and it knows how old
 * its list is (ageMs), so a node can refuse to trust a list an attacker keeps it from renewing.
 * Pass `isRevoked` to validateSvid.
 */
export class RevocationSet {
  #list: RevocationList | null = null;
  #serials = new Set<string>();
  #identities = new Map<string, number>();

  /** An empty set for `trustDomain`: nothing is revoked until a list is taken. */
  constructor(readonly trustDomain: string) {
    parseTrustDomain(trustDomain);
  }

  /** The list in force, or null before the first one. */
  get list(): RevocationList | null {
    return this.#list;
  }

  /**
   * Verifies `bytes` and takes the list if its sequence is higher than the one in force, or if it
   * is the same list re-issued later (a fresher copy); returns false (and keeps the current list)
   * for an older list or an equally old or older copy, which is how a replay looks. The same
   * sequence with different contents means the CA signed two lists with one number:
   * ERR_REVOCATION_CONFLICT.
   */
  update(bytes: Uint8Array, anchors: readonly TrustAnchor[]): boolean {
    const list = verifyRevocationList(bytes, anchors, this.trustDomain);
    const current = this.#list;
    if (current !== null && !supersedes(list, current)) return false;
    this.#list = list;
    this.#serials = new Set(list.entries.flatMap((entry) => (entry.serialHex === null ? [] : [entry.serialHex])));
    this.#identities = new Map(list.entries.flatMap((entry) => (entry.serialHex === null ? [[entry.spiffeId, entry.revokedAtMs] as const] : [])));
    return true;
  }

  /**
   * How long ago, at `nowMs`, the list in force was issued: Infinity before the first list, and
   * 0 for a list issued "in the future" (the CA's clock ahead of ours).
   */
  ageMs(nowMs: number): number {
    return this.#list === null ? Infinity : Math.max(0, nowMs - this.#list.issuedAtMs);
  }

  /** True when the list in force revokes the SVID: by its serial, or by its SPIFFE ID if it began before the revocation. */
  readonly isRevoked = (subject: RevocationSubject): boolean => {
    if (this.#serials.has(subject.serialHex)) return true;
    const revokedAtMs = this.#identities.get(subject.spiffeId);
    return revokedAtMs !== undefined && subject.notBeforeMs < revokedAtMs;
  };
}

/**
 * The list that follows `current` (null: none yet) once `entry` is added: the sequence bumped,
 * an entry for the same SPIFFE ID and serial replaced, whole-ID entries dropped once every SVID
 * they cover has expired (revokedAtMs + svidTtlMsMax), and issuedAtMs never going backwards.
 */
export function nextRevocationList(current: RevocationList | null, trustDomain: string, entry: RevocationEntry, nowMs: number): RevocationList {
  if (current !== null && current.trustDomain !== trustDomain) fail(`the current list is for ${current.trustDomain}, not ${trustDomain}`, IdentityErrorCode.ERR_REVOCATION_TRUST_DOMAIN);
  checkTime(nowMs, 'nowMs');
  const issuedAtMs = Math.max(nowMs, current?.issuedAtMs ?? 0);
  const key = entryKey(entry);
  const kept = (current?.entries ?? []).filter((old) => entryKey(old) !== key && !(old.serialHex === null && old.revokedAtMs + svidTtlMsMax < nowMs));
  const list = { trustDomain, sequence: (current?.sequence ?? 0) + 1, issuedAtMs, entries: [...kept, entry].sort((a, b) => (entryKey(a) < entryKey(b) ? -1 : 1)) };
  checkList(list);
  return list;
}
