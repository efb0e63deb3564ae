import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { curveKeyBytes } from '../crypto/curve25519.js';
import { sha256 } from '../crypto/hash.js';
import { mlDsaSeedBytes } from '../crypto/mldsa.js';
import { xwingSecretKeyBytes } from '../crypto/xwing.js';
import { bundleBytesMax, parseBundle, type ParsedBundle } from '../identity/bundle.js';
import { nodeKeysFromSeeds, type NodeKeys } from '../identity/ca.js';
import { parseCertificate, uriSansOf } from '../identity/certificate.js';
import { encodeCertificateRequest } from '../identity/enrollment.js';
import {
  caAnchorOf,
  enrollmentCertificateBytesMax,
  enrollmentKeyBytesMax,
  openEnrollmentResponse,
  sealedResponseBytesMax,
  sealEnrollmentRequest,
  verifyEnrollmentKey,
  type EnrollmentKey,
  type EnrollmentPayload,
} from '../identity/enrollment-response.js';
import { openNetworkKeyGrant, sealedGrantBytesMax, type NetworkKeyGrant } from '../identity/network-key-grant.js';
import { encodeRenewalRequest } from '../identity/renewal.js';
import { revocationBytesMax, verifyRevocationList, type RevocationList } from '../identity/revocation.js';
import { nodeIdOfSpiffeId, parseSpiffeId } from '../identity/spiffe-id.js';
import { validateSvid, type SvidIdentity, type TrustAnchor } from '../identity/svid.js';
import type { NodeId } from '../wire/ids.js';
import { networkKeysDigestHeader } from './ca-network-keys.js';
import { initStateDir, statePaths, writeEnrollment, writeNodeKeys, type NodeSeeds } from './state-dir.js';

/**
 * The node's side of the CA service: enrollment (`node init`), and the calls the daemon makes
 * while running (SVID renewal, revocation list, bundle). Nothing the CA sends is believed on the
 * strength of the connection: the CA is recognised by a pin (SHA-256 of its certificate, or the
 * certificate in a bundle file the operator copied), and everything after that is checked against
 * the pinned CA's keys. There is no trust on first use.
 */

/** Longest wait for one request to the CA. */
export const caRequestTimeoutMs = 15_000;
/** Longest error body read from the CA. */
export const caErrorBodyBytesMax = 4096;

/** Codes of the client's refusals. */
export const CaClientErrorCode = {
  /** No pin given, a malformed pin, or a bundle file that cannot serve as one. */
  ERR_CA_CLIENT_PIN: 'ERR_CA_CLIENT_PIN',
  /** The CA could not be reached, or the URL is not http(s). */
  ERR_CA_CLIENT_HTTP: 'ERR_CA_CLIENT_HTTP',
  /** The CA answered with an error; `serverCode` holds its code. */
  ERR_CA_CLIENT_REFUSED: 'ERR_CA_CLIENT_REFUSED',
  /** The CA's answer is too large or does not check out against the pinned CA. */
  ERR_CA_CLIENT_RESPONSE: 'ERR_CA_CLIENT_RESPONSE',
  /** The state directory already holds an enrolled node. */
  ERR_CA_CLIENT_ENROLLED: 'ERR_CA_CLIENT_ENROLLED',
} as const;

/** One of the codes in CaClientErrorCode. */
export type CaClientErrorCodeValue = (typeof CaClientErrorCode)[keyof typeof CaClientErrorCode];

/** A refused enrollment, renewal or fetch; `serverCode` is the CA's own error code when it refused. */
export class CaClientError extends Error {
  override readonly name = 'CaClientError';

  /** Builds an error with a stable `code`; the message names the step and the finding. */
  constructor(
    readonly code: CaClientErrorCodeValue,
    message: string,
    readonly serverCode: string | null = null,
  ) {
    super(message);
  }
}

/** True when `value` is a CaClientError, optionally with the given code. */
export function isCaClientError(value: unknown, code?: CaClientErrorCodeValue): value is CaClientError {
  return value instanceof CaClientError && (code === undefined || value.code === code);
}

function endpoint(caUrl: string, path: string): string {
  let url: URL;
  try {
    url = new URL(caUrl);
  } catch {
    throw new CaClientError(CaClientErrorCode.ERR_CA_CLIENT_HTTP, `CA URL: expected http://host:port, got ${JSON.stringify(caUrl)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CaClientError(CaClientErrorCode.ERR_CA_CLIENT_HTTP, `CA URL: expected http or https, got ${url.protocol}`);
  return `${url.href.replace(/\/+$/, '')}${path}`;
}

async function readLimited(response: Response, bytesMax: number, what: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body ?? []) {
    total += (chunk as Uint8Array).length;
    if (total > bytesMax) throw new CaClientError(CaClientErrorCode.ERR_CA_CLIENT_RESPONSE, `${what}: the CA's answer is larger than ${bytesMax} bytes`);
    chunks.push(chunk as Uint8Array);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

function refusal(status: number, body: Uint8Array, what: string): CaClientError {
  let parsed: { error?: unknown; message?: unknown } = {};
  try {
    parsed = JSON.parse(Buffer.from(body).toString('utf8')) as typeof parsed;
  } catch {
    // Not the service's JSON: report the status alone.
  }
  const code = typeof parsed.error === 'string' ? parsed.error : null;
  const message = typeof parsed.message === 'string' ? parsed.message : 'no details';
  return new CaClientError(CaClientErrorCode.ERR_CA_CLIENT_REFUSED, `${what}: the CA refused (${status}${code === null ? '' : ` ${code}`}): ${message}`, code);
}

/** One request to the CA: the answer's bytes (at most `bytesMax`), or a CaClientError. */
async function call(caUrl: string, path: string, body: Uint8Array | null, bytesMax: number): Promise<Uint8Array> {
  return (await callWithHeaders(caUrl, path, body, bytesMax)).bytes;
}

/** call, with the answer's headers. */
async function callWithHeaders(caUrl: string, path: string, body: Uint8Array | null, bytesMax: number): Promise<{ bytes: Uint8Array; headers: Headers }> {
  const what = `${body === null ? 'GET' : 'POST'} ${path}`;
  const url = endpoint(caUrl, path);
  let response: Response;
  try {
    const init = body === null ? {} : { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } };
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(caRequestTimeoutMs) });
  } catch (error) {
    throw new CaClientError(CaClientErrorCode.ERR_CA_CLIENT_HTTP, `${what}: cannot reach the CA at ${caUrl}: ${(error as Error).message}`);
  }
  if (!response.ok) throw refusal(response.status, await readLimited(response, caErrorBodyBytesMax, what), what);
  return { bytes: await readLimited(response, bytesMax, what), headers: response.headers };
}

/** Parses a pin: 64 hex digits, colons and case ignored (`openssl x509 -fingerprint -sha256` prints it that way). */
export function parseCaPin(text: string): Uint8Array {
  const hex = text.replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new CaClientError(CaClientErrorCode.ERR_CA_CLIENT_PIN, `CA pin: expected the 64 hex digits of the CA certificate's SHA-256, got ${JSON.stringify(text)}`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** The pin test for `caSha256` or, without one, for the CA certificates of the bundle at `bundlePath`. */
function pinFrom(caSha256: string | undefined, bundlePath: string | undefined, nowMs: number): (der: Uint8Array) => boolean {
  if (caSha256 !== undefined) {
    const pin = parseCaPin(caSha256);
    return (der) => Buffer.from(sha256(der)).equals(pin);
  }
  if (bundlePath === undefined) throw new CaClientError(CaClientErrorCode.ERR_CA_CLIENT_PIN, 'enroll: no CA pin; pass the CA certificate SHA-256 that `ca init` and `ca join-token` print, or the CA bundle file (there is no trust on first use)');
  const size = statSync(bundlePath, { throwIfNoEntry: false })?.size;
  if (size === undefined || size > bundleBytesMax) throw new CaClientError(CaClientErrorCode.ERR_CA_CLIENT_PIN, `${bundlePath}: ${size === undefined ? 'not found' : `more than ${bundleBytesMax} bytes`}`);
  const json = readFileSync(bundlePath, 'utf8');
  return (der) => {
    // The bundle does not name its trust domain; the candidate certificate does, and parseBundle
    // then requires every CA of the bundle to belong to it.
    try {
      return parseBundle(json, caAnchorOf(der, nowMs).trustDomain, nowMs).anchors.some((anchor) => Buffer.from(anchor.certificate.der).equals(der));
    } catch (error) {
      throw new CaClientError(CaClientErrorCode.ERR_CA_CLIENT_PIN, `${bundlePath}: cannot pin the CA with this bundle: ${(error as Error).message}`);
    }
  };
}

/** How `enrollNode` reaches the CA and where it keeps the node's state. */
export interface EnrollNodeOptions {
  readonly caUrl: string;
  readonly token: string;
  readonly stateDir: string;
  /** SHA-256 of the CA certificate (hex); either this or bundlePath is required. */
  readonly caSha256?: string;
  /** A SPIFFE bundle file of the trust domain whose CA certificate pins the CA. */
  readonly bundlePath?: string;
  readonly random?: (bytes: number) => Uint8Array;
  readonly now?: () => number;
}

/** What `enrollNode` reports about the new node. */
export interface EnrolledNode {
  readonly spiffeId: string;
  readonly nodeId: NodeId;
  readonly trustDomain: string;
  readonly svidNotAfterMs: number;
  readonly caSha256: string;
  readonly stateDir: string;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(b);
}

function responseError(message: string): CaClientError {
  return new CaClientError(CaClientErrorCode.ERR_CA_CLIENT_RESPONSE, `enroll: ${message}`);
}

/** Checks a payload against the pinned CA and the node's keys; returns the SVID's identity. */
function checkPayload(payload: EnrollmentPayload, key: EnrollmentKey, keys: NodeKeys, nowMs: number): SvidIdentity {
  const { trustDomain } = key.anchor;
  if (!sameBytes(payload.caCertificate, key.caCertificate)) throw responseError('the CA certificate in the answer is not the pinned one');
  let bundle: ParsedBundle;
  let identity: SvidIdentity;
  try {
    bundle = parseBundle(payload.bundleJson, trustDomain, nowMs);
    identity = validateSvid(payload.svid, [key.anchor], trustDomain, nowMs);
  } catch (error) {
    throw responseError(`the CA's answer does not check out: ${(error as Error).message}`);
  }
  if (!bundle.anchors.some((anchor) => sameBytes(anchor.certificate.der, key.caCertificate))) throw responseError('the trust bundle does not hold the pinned CA');
  const ours = keys.publicKeys;
  if (!sameBytes(identity.ed25519PublicKey, ours.ed25519PublicKey) || !sameBytes(identity.mlDsaPublicKey, ours.mlDsaPublicKey) || !sameBytes(identity.xwingPublicKey, ours.xwingPublicKey)) {
    throw responseError('the SVID does not bind this node\'s keys');
  }
  return identity;
}

/**
 * Enrolls a new node: pins the CA, makes the node's seeds (stored before the token is spent),
 * seals a certificate request to the CA's enrollment key, opens the sealed answer, checks the SVID
 * against the pinned CA and the node's keys, and writes the enrollment to `stateDir`.
 */
export async function enrollNode(options: EnrollNodeOptions): Promise<EnrolledNode> {
  const now = options.now ?? Date.now;
  const random = options.random ?? ((bytes: number): Uint8Array => new Uint8Array(randomBytes(bytes)));
  const isPinned = pinFrom(options.caSha256, options.bundlePath, now());
  if (existsSync(statePaths(options.stateDir).node)) throw new CaClientError(CaClientErrorCode.ERR_CA_CLIENT_ENROLLED, `${options.stateDir}: already holds an enrolled node; use a new directory`);
  const key = verifyEnrollmentKey(await call(options.caUrl, '/v1/enroll-key', null, enrollmentKeyBytesMax), isPinned, now());
  const seeds: NodeSeeds = { ed25519Seed: random(curveKeyBytes), mlDsaSeed: random(mlDsaSeedBytes), xwingSeed: random(xwingSecretKeyBytes) };
  const keys = nodeKeysFromSeeds(seeds.ed25519Seed, seeds.mlDsaSeed, seeds.xwingSeed);
  initStateDir(options.stateDir);
  writeNodeKeys(options.stateDir, seeds);
  const { sealed, exchange } = sealEnrollmentRequest(key, encodeCertificateRequest(options.token, keys), random);
  const payload = openEnrollmentResponse(await call(options.caUrl, '/v1/enroll', sealed, sealedResponseBytesMax), exchange, keys.xwing);
  const identity = checkPayload(payload, key, keys, now());
  const { trustDomain } = key.anchor;
  writeEnrollment(options.stateDir, { spiffeId: identity.spiffeId, trustDomain, svid: payload.svid, caCertificate: payload.caCertificate, networkKey: payload.networkKey, bundleJson: payload.bundleJson, caUrl: options.caUrl }, now());
  return {
    spiffeId: identity.spiffeId,
    nodeId: nodeIdOfSpiffeId(parseSpiffeId(identity.spiffeId)),
    trustDomain,
    svidNotAfterMs: identity.notAfterMs,
    caSha256: Buffer.from(sha256(key.caCertificate)).toString('hex'),
    stateDir: options.stateDir,
  };
}

/** What the daemon's calls need: the CA's URL and the anchors and trust domain the node trusts. */
export interface CaConnection {
  readonly caUrl: string;
  readonly anchors: readonly TrustAnchor[];
  readonly trustDomain: string;
  readonly now?: () => number;
}

/**
 * Asks the CA for a new SVID for `keys` with the current `svid` (valid, or expired by at most the
 * CA's grace); returns it once it validates under `anchors` for the same SPIFFE ID and keys. The
 * daemon stores it (replaceSvid) and installs it.
 */
export async function renewSvid(connection: CaConnection & { readonly keys: NodeKeys; readonly svid: Uint8Array }): Promise<{ svid: Uint8Array; identity: SvidIdentity }> {
  const now = connection.now ?? Date.now;
  const [spiffeId] = uriSansOf(parseCertificate(connection.svid));
  const svid = await call(connection.caUrl, '/v1/renew', encodeRenewalRequest(connection.keys, connection.svid, now()), enrollmentCertificateBytesMax);
  let identity: SvidIdentity;
  try {
    identity = validateSvid(svid, connection.anchors, connection.trustDomain, now());
  } catch (error) {
    throw new CaClientError(CaClientErrorCode.ERR_CA_CLIENT_RESPONSE, `renew: the new SVID does not validate: ${(error as Error).message}`);
  }
  const ours = connection.keys.publicKeys;
  if (identity.spiffeId !== spiffeId || !sameBytes(identity.ed25519PublicKey, ours.ed25519PublicKey) || !sameBytes(identity.mlDsaPublicKey, ours.mlDsaPublicKey) || !sameBytes(identity.xwingPublicKey, ours.xwingPublicKey)) {
    throw new CaClientError(CaClientErrorCode.ERR_CA_CLIENT_RESPONSE, `renew: the new SVID is for ${identity.spiffeId} or other keys, not for ${String(spiffeId)} and this node's keys`);
  }
  return { svid, identity };
}

/**
 * Fetches the CA's revocation list and verifies it under `anchors`; the daemon feeds `bytes` to
 * its RevocationSet. `networkKeysDigest` is the CA's digest of its network key schedule (null
 * from a CA that serves none): unauthenticated, it only tells the node when to fetch the keys.
 */
export async function fetchRevocations(connection: CaConnection): Promise<{ bytes: Uint8Array; list: RevocationList; networkKeysDigest: string | null }> {
  const { bytes, headers } = await callWithHeaders(connection.caUrl, '/v1/revocations', null, revocationBytesMax);
  const digest = headers.get(networkKeysDigestHeader);
  const networkKeysDigest = digest !== null && /^[0-9a-f]{32}$/.test(digest) ? digest : null;
  try {
    return { bytes, list: verifyRevocationList(bytes, connection.anchors, connection.trustDomain), networkKeysDigest };
  } catch (error) {
    throw new CaClientError(CaClientErrorCode.ERR_CA_CLIENT_RESPONSE, `revocations: ${(error as Error).message}`);
  }
}

/**
 * Fetches the network key epochs in force from the CA (a grant: signed by the CA, sealed to this
 * node's X-Wing key and naming this request, network-key-grant.ts), proving the node holds its
 * SVID's keys as a renewal does. A revoked node is refused (ERR_CA_CLIENT_REFUSED).
 */
export async function fetchNetworkKeys(connection: CaConnection & { readonly keys: NodeKeys; readonly svid: Uint8Array }): Promise<NetworkKeyGrant> {
  const now = connection.now ?? Date.now;
  const [spiffeId] = uriSansOf(parseCertificate(connection.svid));
  const request = encodeRenewalRequest(connection.keys, connection.svid, now(), 'networkKeys');
  const sealed = await call(connection.caUrl, '/v1/network-keys', request, sealedGrantBytesMax);
  try {
    return openNetworkKeyGrant(sealed, { xwing: connection.keys.xwing, anchors: connection.anchors, trustDomain: connection.trustDomain, recipient: String(spiffeId), requestHash: sha256(request) });
  } catch (error) {
    throw new CaClientError(CaClientErrorCode.ERR_CA_CLIENT_RESPONSE, `network keys: ${(error as Error).message}`);
  }
}

/**
 * Fetches the CA's trust bundle. Plain HTTP does not authenticate it, so a bundle naming a CA the
 * node does not already trust (in `anchors`) is refused: the fetch refreshes the sequence and can
 * drop a CA, but a new CA reaches a node only through a channel that authenticates it.
 */
export async function fetchBundle(connection: CaConnection): Promise<{ json: string; bundle: ParsedBundle }> {
  const now = connection.now ?? Date.now;
  const json = Buffer.from(await call(connection.caUrl, '/v1/bundle', null, bundleBytesMax)).toString('utf8');
  let bundle: ParsedBundle;
  try {
    bundle = parseBundle(json, connection.trustDomain, now());
  } catch (error) {
    throw new CaClientError(CaClientErrorCode.ERR_CA_CLIENT_RESPONSE, `bundle: ${(error as Error).message}`);
  }
  const unknown = bundle.anchors.filter((anchor) => !connection.anchors.some((trusted) => sameBytes(trusted.certificate.der, anchor.certificate.der)));
  if (unknown.length > 0) throw new CaClientError(CaClientErrorCode.ERR_CA_CLIENT_RESPONSE, `bundle: names ${unknown.length} CA certificate(s) this node does not trust; an unauthenticated bundle cannot add a CA`);
  return { json, bundle };
}
