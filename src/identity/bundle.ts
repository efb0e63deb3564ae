import { parseCertificate } from './certificate.js';
import { IdentityError, IdentityErrorCode, isIdentityError, type IdentityErrorCodeValue } from './errors.js';
import { parseTrustDomain } from './spiffe-id.js';
import { trustAnchorFrom, type TrustAnchor } from './svid.js';

/**
 * SPIFFE trust bundles (SPIFFE Trust Domain and Bundle, section 4; X509-SVID, section 6): a
 * JWK Set whose `x509-svid` entries each carry one CA certificate of the trust domain in `x5c`.
 * The bundle itself does not name its trust domain (section 3), so the caller always says which
 * trust domain a bundle is for, and every certificate in it must be a CA of that domain.
 *
 * CA rotation works through the sequence number: the operator adds the new CA next to the old
 * one and bumps `spiffe_sequence`; nodes that take the bundle accept SVIDs of either CA, so the
 * CA can switch to the new key while old SVIDs are still out there. Once every SVID of the old
 * CA has expired (the longest SVID lifetime after the switch), a bundle with the old CA dropped
 * and the sequence bumped again finishes the rotation. acceptNewerBundle keeps a node from ever
 * going back to an older bundle, so a replayed bundle cannot bring a dropped CA back.
 */

/** Most bytes (UTF-8) of a bundle: 32 hybrid CA entries of ~7.6 KB of JSON each fit with room to spare. */
export const bundleBytesMax = 512 * 1024;
/** Most elements of `keys`, counting the ones that are ignored: each costs parsing and, for CAs, two signature checks. */
export const bundleKeysMax = 32;
/** The `use` value of X509-SVID CA entries (X509-SVID 6.1). */
export const x509SvidUse = 'x509-svid';

/** What a bundle is made of: the trust domain it is for, its sequence number, refresh hint and CA certificates. */
export interface BundleContents {
  readonly trustDomain: string;
  /** spiffe_sequence: bumped on every change (section 4.1.1); 0..2^53-1. */
  readonly sequence: number;
  /** spiffe_refresh_hint in seconds (section 4.1.2), or null to leave it out. */
  readonly refreshHintS: number | null;
  /** DER of each CA certificate, one JWK entry each. */
  readonly caCertificates: readonly Uint8Array[];
}

/** A parsed and checked bundle: its sequence, refresh hint and the trust anchors of its X509-SVID CAs. */
export interface ParsedBundle {
  readonly sequence: number;
  readonly refreshHintS: number | null;
  readonly anchors: readonly TrustAnchor[];
}

type JsonObject = Record<string, unknown>;

function fail(message: string, code: IdentityErrorCodeValue = IdentityErrorCode.ERR_BUNDLE_FORMAT): never {
  throw new IdentityError(code, `bundle: ${message}`);
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An own member of a parsed JSON object (never one inherited from Object.prototype). */
function member(object: JsonObject, name: string): unknown {
  return Object.hasOwn(object, name) ? object[name] : undefined;
}

function checkSequence(value: unknown): number {
  if (value === undefined) fail('"spiffe_sequence" is missing; the mesh orders bundles by it (SPIFFE Trust Domain and Bundle 4.1.1)');
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    fail(`"spiffe_sequence" must be an integer in 0..${Number.MAX_SAFE_INTEGER}, got ${JSON.stringify(value)} (4.1.1)`);
  }
  return value;
}

function checkRefreshHint(value: unknown): number | null {
  if (value === undefined) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    fail(`"spiffe_refresh_hint" must be a whole number of seconds in 1..${Number.MAX_SAFE_INTEGER}, got ${JSON.stringify(value)} (4.1.2)`);
  }
  return value;
}

/** Checks every rule of a trust anchor; an IdentityError keeps its code (the rule) and gains the field it came from. */
function anchorOf(der: Uint8Array, trustDomain: string, nowMs: number | 'notBefore', where: string): TrustAnchor {
  try {
    return trustAnchorFrom(der, trustDomain, nowMs === 'notBefore' ? parseCertificate(der).notBeforeMs : nowMs);
  } catch (error) {
    if (isIdentityError(error)) throw new IdentityError(error.code, `bundle: ${where}: ${error.message}`);
    throw error;
  }
}

function jwkOf(anchor: TrustAnchor): JsonObject {
  return {
    use: x509SvidUse,
    kty: 'OKP',
    crv: 'Ed25519',
    x: Buffer.from(anchor.ed25519PublicKey).toString('base64url'),
    x5c: [Buffer.from(anchor.certificate.der).toString('base64')],
  };
}

/**
 * Encodes a bundle as JSON: one `x509-svid` JWK per CA certificate (kty OKP, crv Ed25519, x from
 * the certificate's key, x5c with exactly the one certificate, no kid: X509-SVID 6.1, RFC 8037 2).
 * It refuses what parseBundle would refuse, except the validity window (the encoder has no clock).
 */
export function encodeBundle(contents: BundleContents): string {
  parseTrustDomain(contents.trustDomain);
  const sequence = checkSequence(contents.sequence);
  const refreshHintS = contents.refreshHintS === null ? null : checkRefreshHint(contents.refreshHintS);
  if (contents.caCertificates.length > bundleKeysMax) {
    fail(`${contents.caCertificates.length} CA certificates, more than bundleKeysMax ${bundleKeysMax}`, IdentityErrorCode.ERR_BUNDLE_LIMIT);
  }
  const keys = contents.caCertificates.map((der, index) => jwkOf(anchorOf(der, contents.trustDomain, 'notBefore', `caCertificates[${index}]`)));
  const certificates = new Set(keys.map((key) => JSON.stringify(key.x5c)));
  if (certificates.size !== keys.length) fail('caCertificates holds the same certificate twice');
  const json = JSON.stringify(refreshHintS === null ? { keys, spiffe_sequence: sequence } : { keys, spiffe_sequence: sequence, spiffe_refresh_hint: refreshHintS });
  checkBundleBytes(json);
  return json;
}

function checkBundleBytes(json: string): void {
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > bundleBytesMax) fail(`${bytes} bytes, more than bundleBytesMax ${bundleBytesMax}`, IdentityErrorCode.ERR_BUNDLE_LIMIT);
}

function parseJsonObject(json: string): JsonObject {
  checkBundleBytes(json);
  let root: unknown;
  try {
    root = JSON.parse(json);
  } catch (error) {
    return fail(`not JSON (${(error as Error).message})`);
  }
  if (!isJsonObject(root)) fail('expected a JSON object (a JWK Set, RFC 7517 5)');
  return root;
}

function requiredString(entry: JsonObject, name: string, where: string, rule: string): string {
  const value = member(entry, name);
  if (typeof value !== 'string') fail(`${where}.${name} must be a string (${rule}), got ${JSON.stringify(value) ?? 'nothing'}`);
  return value;
}

/** Bytes of canonical base64 (`alphabet`): Buffer.from skips characters it does not know, so re-encoding must give the text back. */
function canonicalBase64(text: string, alphabet: 'base64' | 'base64url', where: string, expected: string): Uint8Array {
  const bytes = Buffer.from(text, alphabet);
  if (bytes.length === 0 || bytes.toString(alphabet) !== text) fail(`${where} must be ${expected}`);
  return new Uint8Array(bytes);
}

/** The x5c of an x509-svid entry, or null when the entry is to be ignored (missing or empty x5c, X509-SVID 6.2). */
function x5cOf(entry: JsonObject, where: string): string | null {
  const x5c = member(entry, 'x5c');
  if (x5c === undefined || (Array.isArray(x5c) && x5c.length === 0)) return null;
  if (!Array.isArray(x5c) || !x5c.every((value) => typeof value === 'string')) fail(`${where}.x5c must be an array of base64 strings (RFC 7517 4.7)`);
  // X509-SVID 6.2: the first value is the CA certificate; any further values are ignored.
  return x5c[0] as string;
}

/** True when the entry is one this mesh reads: an X509-SVID CA with an Ed25519 key; the others are ignored as the specifications require. */
function isMeshCaEntry(entry: JsonObject, where: string): boolean {
  const use = requiredString(entry, 'use', where, 'SPIFFE Trust Domain and Bundle 4.2.2');
  const kty = requiredString(entry, 'kty', where, 'SPIFFE Trust Domain and Bundle 4.2.1');
  // 4.2.2: unknown uses are ignored; jwt-svid keys are known but are not trust anchors for X.509.
  if (use !== x509SvidUse) return false;
  // 4.2.1: a key type this mesh does not know is ignored; RFC 8037 2: an OKP key names its curve.
  if (kty !== 'OKP') return false;
  return requiredString(entry, 'crv', where, 'RFC 8037 2') === 'Ed25519';
}

/** The trust anchor of one `keys` element, or null when the element is ignored. */
function anchorOfEntry(entry: unknown, where: string, trustDomain: string, nowMs: number, seen: Set<string>): TrustAnchor | null {
  if (!isJsonObject(entry)) fail(`${where} must be a JSON object (a JWK, RFC 7517 4)`);
  if (!isMeshCaEntry(entry, where)) return null;
  const x5c = x5cOf(entry, where);
  if (x5c === null) return null;
  if (member(entry, 'kid') !== undefined) fail(`${where} is an x509-svid entry with a "kid"; X509-SVID 6.1 forbids it`);
  const x = canonicalBase64(requiredString(entry, 'x', where, 'RFC 8037 2'), 'base64url', `${where}.x`, 'the 32-byte Ed25519 key in unpadded base64url (RFC 8037 2)');
  const der = canonicalBase64(x5c, 'base64', `${where}.x5c[0]`, 'a DER certificate in padded standard base64 (RFC 7517 4.7)');
  const anchor = anchorOf(der, trustDomain, nowMs, `${where}.x5c[0]`);
  if (!Buffer.from(x).equals(anchor.ed25519PublicKey)) {
    fail(`${where}.x does not match the key of the certificate in x5c[0] (RFC 7517 4.7)`, IdentityErrorCode.ERR_BUNDLE_KEY_MISMATCH);
  }
  if (seen.has(x5c)) return null;
  seen.add(x5c);
  return anchor;
}

/**
 * Parses a bundle of `trustDomain` at `nowMs`, strictly: every X509-SVID CA it names must be a
 * valid CA of that trust domain now (the error keeps the rule's code and names the entry). Entries
 * of other uses or key types and x509-svid entries without x5c are ignored, as the specifications
 * require; the same certificate twice counts once (the bundle is a union, X509-SVID 6.2).
 */
export function parseBundle(json: string, trustDomain: string, nowMs: number): ParsedBundle {
  parseTrustDomain(trustDomain);
  const root = parseJsonObject(json);
  const sequence = checkSequence(member(root, 'spiffe_sequence'));
  const refreshHintS = checkRefreshHint(member(root, 'spiffe_refresh_hint'));
  const keys = member(root, 'keys');
  if (!Array.isArray(keys)) fail('"keys" must be an array of JWKs (SPIFFE Trust Domain and Bundle 4.1.3)');
  if (keys.length > bundleKeysMax) fail(`"keys" holds ${keys.length} elements, more than bundleKeysMax ${bundleKeysMax}`, IdentityErrorCode.ERR_BUNDLE_LIMIT);
  const seen = new Set<string>();
  const anchors = keys.flatMap((entry: unknown, index) => anchorOfEntry(entry, `keys[${index}]`, trustDomain, nowMs, seen) ?? []);
  return { sequence, refreshHintS, anchors };
}

/**
 * True when `next` may replace `current`: only a strictly higher sequence number does (4.1.1:
 * the number grows with every change). An equal number is the same bundle again and a lower one
 * is a replay, which could bring back a CA that rotation dropped. With no current bundle, any.
 */
export function acceptNewerBundle(current: { readonly sequence: number } | null, next: { readonly sequence: number }): boolean {
  return current === null || next.sequence > current.sequence;
}
