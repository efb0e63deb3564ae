import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sha256 } from '../crypto/hash.js';
import { xwingExpand, xwingSecretKeyBytes, type XWingKey } from '../crypto/xwing.js';
import { encodeBundle } from '../identity/bundle.js';
import { issueSvid, svidTtlMsDefault, svidTtlMsMax, type MeshCa } from '../identity/ca.js';
import { extensionKeyOf, parseCertificate } from '../identity/certificate.js';
import { enroll } from '../identity/enrollment.js';
import { enrollmentKeyId, openEnrollmentRequest, sealedRequestBytesMax, sealEnrollmentResponse, signEnrollmentKey } from '../identity/enrollment-response.js';
import { IdentityError, IdentityErrorCode, isIdentityError } from '../identity/errors.js';
import { RevocationSet, signRevocationList } from '../identity/revocation.js';
import { checkRenewal, decodeRenewalRequest, renewalClockSkewMs, renewalRequestBytesMax } from '../identity/renewal.js';
import { oid } from '../identity/x509.js';
import { sealNetworkKeyGrant } from '../identity/network-key-grant.js';
import { epochsInForce, networkKeyScheduleDigest, networkKeysDigestHeader, NetworkKeysFile, sendingKeyAt } from './ca-network-keys.js';
import { openCaDirectory, readRevocations, readTokens, recordEnrolledNode, saveTokens, withCaLock, type OpenedCa } from './ca-store.js';

/**
 * The CA's HTTP service (`x0tta6bl4 ca serve`). Nodes enroll with a join token, renew their SVIDs,
 * and fetch the trust bundle and the signed revocation list:
 *
 *   GET  /v1/enroll-key   the service's enrollment key, signed by the CA (octet-stream)
 *   POST /v1/enroll       a sealed certificate request -> a sealed enrollment response
 *   POST /v1/renew        a renewal request -> the new SVID (DER; it is not secret)
 *   GET  /v1/bundle       the trust bundle (SPIFFE JSON)
 *   GET  /v1/revocations  the signed revocation list; its sequence in x-x0tta6bl4-revocation-sequence,
 *                         and the digest of the network key schedule in x-x0tta6bl4-network-keys
 *   POST /v1/network-keys a renewal-style request -> the network key epochs, signed by the CA and
 *                         sealed to the node's X-Wing key (network-key-grant.ts); refused when revoked
 *
 * The service is plain HTTP on purpose: everything secret travels sealed (enrollment-response.ts)
 * and everything else is signed by the CA, so TLS would add no property the node relies on.
 * Every refusal is a 4xx with `{ error, message }`; request handling is synchronous once the body
 * is in, so two enrollments never interleave, and the CLI's writes are fenced by ca.lock.
 */

/** Longest request bodies, bounded by what a valid sealed request or renewal request can be. */
export const enrollBodyBytesMax = sealedRequestBytesMax;
export const renewBodyBytesMax = renewalRequestBytesMax;
/** Time a client gets to send a whole request, and its headers. */
export const requestTimeoutMs = 10_000;
export const headersTimeoutMs = 5_000;
/** Lifetime of an enrollment key; the service makes a new one at half of it and keeps the old one until it expires. */
export const enrollmentKeyTtlMs = 24 * 3600_000;
/** Most renewal requests remembered against replay (each for twice renewalClockSkewMs). */
export const renewalReplayEntriesMax = 100_000;
/** spiffe_refresh_hint of the served bundle, and its sequence (one CA; rotation will bump it). */
export const bundleRefreshHintS = 300;
export const bundleSequence = 1;
/** Header that carries the sequence of the served revocation list. */
export const revocationSequenceHeader = 'x-x0tta6bl4-revocation-sequence';
/**
 * The served revocation list is re-signed with a fresh issuedAtMs once it is this old, so nodes
 * can tell a current list from one an attacker on the path keeps replaying (nodes refuse new
 * sessions once their list is older than revocations.maxAgeMs, 60 s by default). A re-signing
 * costs one ML-DSA-65 signature, at most once per interval whatever the request rate.
 */
export const revocationRefreshMs = 10_000;

/** Codes of the service's own refusals (identity refusals keep their ERR_TOKEN_*, ERR_SVID_*, ... codes). */
export const CaServiceErrorCode = {
  ERR_HTTP_NOT_FOUND: 'ERR_HTTP_NOT_FOUND',
  ERR_HTTP_METHOD: 'ERR_HTTP_METHOD',
  ERR_HTTP_BODY_LIMIT: 'ERR_HTTP_BODY_LIMIT',
  ERR_CA_UNAVAILABLE: 'ERR_CA_UNAVAILABLE',
  ERR_INTERNAL: 'ERR_INTERNAL',
  ERR_CA_SERVICE_LISTEN: 'ERR_CA_SERVICE_LISTEN',
} as const;

/** One of the codes in CaServiceErrorCode. */
export type CaServiceErrorCodeValue = (typeof CaServiceErrorCode)[keyof typeof CaServiceErrorCode];

/** A refusal of the service with its HTTP status; also thrown by startCaService for a bad `listen`. */
export class CaServiceError extends Error {
  override readonly name = 'CaServiceError';

  /** Builds an error answered with `status` and `{ error: code, message }`. */
  constructor(
    readonly code: CaServiceErrorCodeValue,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** How to run the service; `now`, `random` and `log` are injectable for tests. */
export interface CaServiceOptions {
  readonly dir: string;
  readonly passphrase: string;
  /** host:port, e.g. 127.0.0.1:7470 or [::1]:7470; port 0 picks a free one. */
  readonly listen: string;
  readonly svidTtlMs?: number;
  readonly now?: () => number;
  readonly random?: (bytes: number) => Uint8Array;
  readonly log?: (line: string) => void;
}

/** A running service: its base URL and how to stop it. */
export interface CaService {
  readonly address: string;
  close(): Promise<void>;
}

/** Parses host:port (IPv6 in brackets); ERR_CA_SERVICE_LISTEN names what is wrong. */
export function parseListen(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (match === null || port > 65_535) throw new CaServiceError(CaServiceErrorCode.ERR_CA_SERVICE_LISTEN, 0, `--listen: expected host:port (port 0..65535), got ${JSON.stringify(text)}`);
  return { host: match[1] ?? match[2]!, port };
}

interface RingKey {
  readonly key: XWingKey;
  readonly keyIdHex: string;
  readonly signed: Uint8Array;
  readonly issuedAtMs: number;
  readonly notAfterMs: number;
}

/** The service's enrollment keys: the current one, and the previous one until it expires. */
class EnrollmentKeyRing {
  #keys: RingKey[] = [];

  constructor(
    private readonly ca: MeshCa,
    private readonly random: (bytes: number) => Uint8Array,
  ) {}

  /** The signed current key, made anew at half its lifetime (or if the clock went back). */
  current(nowMs: number): Uint8Array {
    const last = this.#keys.at(-1);
    if (last !== undefined && nowMs >= last.issuedAtMs && nowMs < last.issuedAtMs + enrollmentKeyTtlMs / 2) return last.signed;
    const key = xwingExpand(this.random(xwingSecretKeyBytes));
    const notAfterMs = nowMs + enrollmentKeyTtlMs;
    const signed = signEnrollmentKey(this.ca, key.publicKey, nowMs, notAfterMs);
    this.#keys = [...this.#keys.slice(-1), { key, keyIdHex: Buffer.from(enrollmentKeyId(key.publicKey)).toString('hex'), signed, issuedAtMs: nowMs, notAfterMs }];
    return signed;
  }

  /** The unexpired key named `keyId`. */
  find(keyId: Uint8Array, nowMs: number): XWingKey | undefined {
    const hex = Buffer.from(keyId).toString('hex');
    return this.#keys.find((entry) => entry.keyIdHex === hex && nowMs <= entry.notAfterMs)?.key;
  }
}

/** Renewal requests served recently, by hash; a captured request cannot be replayed within its window. */
export class RenewalReplayCache {
  readonly #seen = new Map<string, number>();

  /** A cache of at most `entriesMax` requests. */
  constructor(private readonly entriesMax: number = renewalReplayEntriesMax) {}

  /** True when the request with this hash was served and its window is still open at `nowMs`. */
  has(hashHex: string, nowMs: number): boolean {
    const until = this.#seen.get(hashHex);
    return until !== undefined && nowMs <= until;
  }

  /** Remembers a served request until `untilMs`; when full, expired entries go first, then the oldest. */
  add(hashHex: string, untilMs: number, nowMs: number): void {
    if (this.#seen.size >= this.entriesMax) {
      for (const [key, until] of this.#seen) if (until < nowMs) this.#seen.delete(key);
    }
    // Still full: forget the oldest (insertion order); the timestamp window still bounds replays.
    if (this.#seen.size >= this.entriesMax) this.#seen.delete(this.#seen.keys().next().value!);
    this.#seen.set(hashHex, untilMs);
  }

  /** How many requests are remembered. */
  get size(): number {
    return this.#seen.size;
  }
}

/**
 * The revocation list in force: revocations.json re-read on every use (so `ca revoke` takes
 * effect at once), verified under the CA, never going back to a lower sequence, and re-signed
 * with a fresh issuedAtMs (same sequence, same entries) once it is revocationRefreshMs old.
 * Before the first revocation it is an empty list of sequence 0.
 */
class RevocationSource {
  readonly set: RevocationSet;
  #served: Uint8Array;
  #lastFile: Uint8Array | null = null;

  constructor(
    private readonly dir: string,
    private readonly ca: MeshCa,
    private readonly log: (line: string) => void,
  ) {
    this.set = new RevocationSet(ca.trustDomain);
    this.#served = signRevocationList(ca, { trustDomain: ca.trustDomain, sequence: 0, issuedAtMs: 0, entries: [] });
    this.set.update(this.#served, [ca.anchor]);
  }

  /** The signed list to serve and honour at `nowMs`; a bad file is logged and the last good list kept. */
  current(nowMs: number): { bytes: Uint8Array; sequence: number } {
    try {
      const stored = readRevocations(this.dir);
      if (stored !== null && !(this.#lastFile !== null && Buffer.from(stored.signedList).equals(this.#lastFile))) {
        this.#lastFile = stored.signedList;
        if (this.set.update(stored.signedList, [this.ca.anchor])) this.#served = stored.signedList;
      }
    } catch (error) {
      this.log(`revocations.json refused, still serving sequence ${this.set.list!.sequence}: ${(error as Error).message}`);
    }
    this.refresh(nowMs);
    return { bytes: this.#served, sequence: this.set.list!.sequence };
  }

  /**
   * Re-signs the list in force with issuedAtMs = nowMs once it is revocationRefreshMs old. Only
   * in memory: the file keeps the list `ca revoke` wrote, whose sequence the next revocation
   * follows. A clock that went back (the list issued after nowMs) waits until it catches up.
   */
  private refresh(nowMs: number): void {
    const list = this.set.list!;
    if (nowMs - list.issuedAtMs < revocationRefreshMs) return;
    const fresh = signRevocationList(this.ca, { ...list, issuedAtMs: nowMs });
    this.set.update(fresh, [this.ca.anchor]);
    this.#served = fresh;
  }
}

/** What a handler answers. */
interface Reply {
  readonly status: number;
  readonly type: string;
  readonly body: Uint8Array | string;
  readonly headers?: Readonly<Record<string, string>>;
}

function octets(body: Uint8Array, headers?: Record<string, string>): Reply {
  return { status: 200, type: 'application/octet-stream', body, ...(headers === undefined ? {} : { headers }) };
}

/** The CA's side of every endpoint, without HTTP. */
class CaAuthority {
  readonly #keys: EnrollmentKeyRing;
  readonly #revocations: RevocationSource;
  readonly #replay = new RenewalReplayCache();
  readonly #networkKeysReplay = new RenewalReplayCache();
  readonly #networkKeys: NetworkKeysFile;
  readonly #bundleJson: string;

  constructor(
    private readonly dir: string,
    private readonly opened: OpenedCa,
    private readonly options: { readonly svidTtlMs: number; readonly random: (bytes: number) => Uint8Array; readonly log: (line: string) => void },
  ) {
    const { ca } = opened;
    this.#keys = new EnrollmentKeyRing(ca, options.random);
    this.#revocations = new RevocationSource(dir, ca, options.log);
    this.#networkKeys = new NetworkKeysFile(dir, opened);
    this.#bundleJson = encodeBundle({ trustDomain: ca.trustDomain, sequence: bundleSequence, refreshHintS: bundleRefreshHintS, caCertificates: [ca.certificateDer] });
  }

  enrollmentKey(nowMs: number): Reply {
    return octets(this.#keys.current(nowMs));
  }

  bundle(): Reply {
    return { status: 200, type: 'application/json', body: this.#bundleJson };
  }

  revocations(nowMs: number): Reply {
    const { bytes, sequence } = this.#revocations.current(nowMs);
    const headers: Record<string, string> = { [revocationSequenceHeader]: String(sequence) };
    try {
      headers[networkKeysDigestHeader] = networkKeyScheduleDigest(this.networkKeysInForce(nowMs));
    } catch (error) {
      // The list must be served even when network-keys.json is not usable: nodes then keep their keys.
      this.options.log(`network-keys.json refused, no network key digest served: ${(error as Error).message}`);
    }
    return octets(bytes, headers);
  }

  private networkKeysInForce(nowMs: number): ReturnType<typeof epochsInForce> {
    return epochsInForce(this.#networkKeys.epochs(), nowMs);
  }

  /**
   * The network key epochs in force for the node that signed `body` (a renewal-style request
   * signed for this purpose: SVID, keys, timestamp, both signatures), sealed to its X-Wing key
   * and naming the request it answers. Refused as a renewal would be: revoked, expired, wrong
   * keys, clock, replay.
   */
  networkKeys(body: Uint8Array, nowMs: number): Reply {
    const { ca } = this.opened;
    const hashHex = Buffer.from(sha256(body)).toString('hex');
    if (this.#networkKeysReplay.has(hashHex, nowMs)) throw new IdentityError(IdentityErrorCode.ERR_RENEWAL_REPLAY, 'network key request: already served; sign a fresh one');
    const request = decodeRenewalRequest(body, 'networkKeys');
    this.#revocations.current(nowMs);
    const identity = checkRenewal(request, { anchors: [ca.anchor], trustDomain: ca.trustDomain, nowMs, isRevoked: this.#revocations.set.isRevoked });
    this.#networkKeysReplay.add(hashHex, request.timestampMs + renewalClockSkewMs, nowMs);
    const epochs = this.networkKeysInForce(nowMs);
    const grant = { recipient: identity.spiffeId, issuedAtMs: nowMs, requestHash: sha256(body), epochs };
    const sealed = sealNetworkKeyGrant(ca, grant, request.publicKeys.xwingPublicKey, this.options.random);
    this.options.log(`network keys (epochs ${epochs.map((entry) => entry.epoch).join(', ')}) to ${identity.spiffeId}`);
    return octets(sealed, { [networkKeysDigestHeader]: networkKeyScheduleDigest(epochs) });
  }

  /** Opens the sealed request, enrolls under the lock (token checked, then used up and saved), seals the answer. */
  enroll(body: Uint8Array, nowMs: number): Reply {
    const { ca } = this.opened;
    // A node enrolled during a rotation gets the key everyone sends under now; it fetches the other epochs once it runs.
    const networkKey = sendingKeyAt(this.networkKeysInForce(nowMs), nowMs);
    const { request, exchange } = openEnrollmentRequest(body, (keyId) => this.#keys.find(keyId, nowMs));
    const enrollment = withCaLock(this.dir, () => {
      const tokens = readTokens(this.dir);
      const result = enroll(ca, tokens, request, nowMs, this.options.random, this.options.svidTtlMs);
      saveTokens(this.dir, tokens);
      const cert = parseCertificate(result.svid);
      recordEnrolledNode(this.dir, { spiffeId: result.spiffeId, serialHex: cert.serialHex, enrolledAtMs: nowMs, notAfterMs: cert.notAfterMs });
      return { ...result, xwingPublicKey: extensionKeyOf(cert, oid.nodeKemKey, oid.xwing)! };
    });
    this.options.log(`enrolled ${enrollment.spiffeId}`);
    const payload = { svid: enrollment.svid, caCertificate: enrollment.caCertificate, bundleJson: this.#bundleJson, networkKey };
    return octets(sealEnrollmentResponse(exchange, enrollment.xwingPublicKey, payload, this.options.random));
  }

  /** Checks a renewal request (signatures, clock, SVID, keys, revocation, replay) and issues the new SVID. */
  renew(body: Uint8Array, nowMs: number): Reply {
    const { ca } = this.opened;
    const hashHex = Buffer.from(sha256(body)).toString('hex');
    if (this.#replay.has(hashHex, nowMs)) throw new IdentityError(IdentityErrorCode.ERR_RENEWAL_REPLAY, 'renewal request: already served; sign a fresh one');
    const request = decodeRenewalRequest(body);
    this.#revocations.current(nowMs);
    const identity = checkRenewal(request, { anchors: [ca.anchor], trustDomain: ca.trustDomain, nowMs, isRevoked: this.#revocations.set.isRevoked });
    this.#replay.add(hashHex, request.timestampMs + renewalClockSkewMs, nowMs);
    const svid = issueSvid(ca, identity.path, request.publicKeys, nowMs, this.options.random, this.options.svidTtlMs);
    this.options.log(`renewed ${identity.spiffeId}`);
    return octets(svid);
  }
}

/** What a stranger is told about a token refusal: the rule, not which token or node (the log has the details). */
const tokenMessages: Readonly<Record<string, string>> = {
  [IdentityErrorCode.ERR_TOKEN_FORMAT]: 'join token: malformed (expected x0t1.<16 hex digits>.<43 base64url characters>)',
  [IdentityErrorCode.ERR_TOKEN_UNKNOWN]: 'join token: not issued by this CA',
  [IdentityErrorCode.ERR_TOKEN_USED]: 'join token: already used',
  [IdentityErrorCode.ERR_TOKEN_EXPIRED]: 'join token: expired',
};

function errorReply(status: number, error: string, message: string): Reply {
  return { status, type: 'application/json', body: JSON.stringify({ error, message }) };
}

/**
 * Maps a thrown value to its answer: input refusals are 400, the CA's own files 503, anything else
 * 500 (a bug: every decoder on the input path throws IdentityError, which the fuzz tests hold to).
 */
function replyToError(error: unknown, log: (line: string) => void): Reply {
  if (error instanceof CaServiceError) return errorReply(error.status, error.code, error.message);
  if (isIdentityError(error, IdentityErrorCode.ERR_CA_FILES)) {
    log(`CA files: ${error.message}`);
    return errorReply(503, CaServiceErrorCode.ERR_CA_UNAVAILABLE, 'the CA cannot use its files right now; its operator has the details in its log');
  }
  if (isIdentityError(error)) return errorReply(400, error.code, tokenMessages[error.code] ?? error.message);
  log(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return errorReply(500, CaServiceErrorCode.ERR_INTERNAL, 'internal error');
}

/** Reads a body of at most `maxBytes`; ERR_HTTP_BODY_LIMIT (413) beyond it, checked on Content-Length first. */
function readBody(request: IncomingMessage, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = (): CaServiceError => new CaServiceError(CaServiceErrorCode.ERR_HTTP_BODY_LIMIT, 413, `request body: more than ${maxBytes} bytes`);
  if (Number(request.headers['content-length'] ?? 0) > maxBytes) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    request.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) reject(tooLarge());
      else chunks.push(chunk);
    });
    request.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    request.on('error', reject);
  });
}

interface Route {
  readonly method: 'GET' | 'POST';
  readonly bodyBytesMax: number;
  readonly handle: (body: Uint8Array, nowMs: number) => Reply;
}

function routesOf(authority: CaAuthority): ReadonlyMap<string, Route> {
  return new Map<string, Route>([
    ['/v1/enroll-key', { method: 'GET', bodyBytesMax: 0, handle: (_, nowMs) => authority.enrollmentKey(nowMs) }],
    ['/v1/enroll', { method: 'POST', bodyBytesMax: enrollBodyBytesMax, handle: (body, nowMs) => authority.enroll(body, nowMs) }],
    ['/v1/renew', { method: 'POST', bodyBytesMax: renewBodyBytesMax, handle: (body, nowMs) => authority.renew(body, nowMs) }],
    ['/v1/bundle', { method: 'GET', bodyBytesMax: 0, handle: () => authority.bundle() }],
    ['/v1/revocations', { method: 'GET', bodyBytesMax: 0, handle: (_, nowMs) => authority.revocations(nowMs) }],
    ['/v1/network-keys', { method: 'POST', bodyBytesMax: renewBodyBytesMax, handle: (body, nowMs) => authority.networkKeys(body, nowMs) }],
  ]);
}

async function answer(routes: ReadonlyMap<string, Route>, request: IncomingMessage, now: () => number): Promise<Reply> {
  const path = String(request.url).split('?')[0]!;
  const route = routes.get(path);
  if (route === undefined) throw new CaServiceError(CaServiceErrorCode.ERR_HTTP_NOT_FOUND, 404, `no endpoint ${JSON.stringify(path.slice(0, 100))}`);
  if (request.method !== route.method) throw new CaServiceError(CaServiceErrorCode.ERR_HTTP_METHOD, 405, `${path} takes ${route.method}, not ${String(request.method)}`);
  const body = await readBody(request, route.bodyBytesMax);
  return route.handle(body, now());
}

function send(response: ServerResponse, reply: Reply): void {
  const body = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : Buffer.from(reply.body);
  response.writeHead(reply.status, { 'content-type': reply.type, 'content-length': String(body.length), 'cache-control': 'no-store', ...reply.headers });
  response.end(body);
}

function handler(routes: ReadonlyMap<string, Route>, now: () => number, log: (line: string) => void): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    answer(routes, request, now)
      .catch((error: unknown) => replyToError(error, log))
      .then((reply) => {
        // A body we did not read to the end leaves the connection in an unknown state: close it after answering.
        if (!request.complete) response.setHeader('connection', 'close');
        send(response, reply);
      })
      .catch((error: unknown) => log(`cannot answer: ${(error as Error).message}`));
  };
}

function listenOn(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const refused = (error: NodeJS.ErrnoException): void => reject(new CaServiceError(CaServiceErrorCode.ERR_CA_SERVICE_LISTEN, 0, `cannot listen on ${host}:${port}: ${error.message}`));
    server.once('error', refused);
    server.listen(port, host, () => {
      server.off('error', refused);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** Opens the CA in `dir` with `passphrase` and serves it on `listen` until close(). */
export async function startCaService(options: CaServiceOptions): Promise<CaService> {
  const { host, port } = parseListen(options.listen);
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => undefined);
  const svidTtlMs = options.svidTtlMs ?? svidTtlMsDefault;
  if (!(Number.isSafeInteger(svidTtlMs) && svidTtlMs > 0 && svidTtlMs <= svidTtlMsMax)) throw new RangeError(`startCaService: expected svidTtlMs in 1..${svidTtlMsMax}, got ${svidTtlMs}`);
  const opened = openCaDirectory(options.dir, options.passphrase, now());
  const random = options.random ?? ((bytes: number): Uint8Array => new Uint8Array(randomBytes(bytes)));
  const authority = new CaAuthority(options.dir, opened, { svidTtlMs, random, log });
  const server = createServer({ requestTimeout: requestTimeoutMs, headersTimeout: headersTimeoutMs }, handler(routesOf(authority), now, log));
  const address = await listenOn(server, host, port);
  const hostText = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  log(`CA of ${opened.ca.trustDomain} serving on http://${hostText}:${address.port}`);
  return {
    address: `http://${hostText}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
