/**
 * The CLI's HTTP client for the node API: plain HTTP, or HTTPS where the node's certificate is
 * checked as an X509-SVID of the mesh (an SVID names a SPIFFE ID, not a host, so the usual
 * host-name check does not apply), optionally presenting the caller's own SVID (mTLS).
 * node:http(s) rather than fetch: fetch cannot present a client certificate without undici,
 * which is not a dependency.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { PeerCertificate } from 'node:tls';
import { certificatePem, ed25519KeyPem } from '../api/tls.js';
import { nodeIdOfSpiffeId, parseSpiffeId } from '../identity/spiffe-id.js';
import { validateSvid, type TrustAnchor } from '../identity/svid.js';

/** How to speak TLS to a node's API. */
export interface ClientTls {
  /** The mesh CA: the node must present a node SVID it issued. */
  readonly anchor: TrustAnchor;
  /** The caller's SVID and the seed of its Ed25519 key, for mTLS; absent: no client certificate. */
  readonly client?: { readonly certificate: Uint8Array; readonly ed25519Seed: Uint8Array };
}

/** One request. */
export interface HttpCall {
  readonly method: 'GET' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** The whole exchange must end within this long. */
  readonly timeoutMs: number;
  /** Required for an https URL. */
  readonly tls?: ClientTls;
}

/** An answer: status and body text. */
export interface HttpAnswer {
  readonly status: number;
  readonly text: string;
}

/** No answer: `message` says why (an errno code such as ECONNREFUSED, a timeout, or what TLS refused). */
export class HttpFailure extends Error {
  override readonly name = 'HttpFailure';
}

/**
 * The check of the node's certificate: a valid SVID of the mesh CA (both signatures, validity)
 * that names a node. Returns an Error for TLS to fail the connection with, or undefined.
 */
export function checkNodeCertificate(anchor: TrustAnchor, certificate: Pick<PeerCertificate, 'raw'>, nowMs: number = Date.now()): Error | undefined {
  try {
    const identity = validateSvid(new Uint8Array(certificate.raw), [anchor], anchor.trustDomain, nowMs);
    nodeIdOfSpiffeId(parseSpiffeId(identity.spiffeId));
    return undefined;
  } catch (error) {
    return new Error(`the node API's certificate is not a node SVID of ${anchor.trustDomain}: ${(error as Error).message}`);
  }
}

function tlsOptions(tls: ClientTls): RequestOptions & Record<string, unknown> {
  const client = tls.client === undefined ? {} : { cert: certificatePem(tls.client.certificate), key: ed25519KeyPem(tls.client.ed25519Seed) };
  return { ca: certificatePem(tls.anchor.certificate.der), checkServerIdentity: (_host: string, certificate: PeerCertificate) => checkNodeCertificate(tls.anchor, certificate), minVersion: 'TLSv1.3', ...client };
}

function failureOf(error: unknown): HttpFailure {
  if (error instanceof HttpFailure) return error;
  const errno = error as NodeJS.ErrnoException;
  // A socket error (ECONNREFUSED, EHOSTUNREACH) is best named by its code; anything else (TLS, a bad header) by its message.
  return new HttpFailure(typeof errno.syscall === 'string' && typeof errno.code === 'string' ? errno.code : errno.message);
}

/** Sends one request to `url` and reads the whole answer; rejects with HttpFailure when no answer came. */
export function httpCall(url: string, call: HttpCall): Promise<HttpAnswer> {
  const secure = url.startsWith('https:');
  if (secure && call.tls === undefined) return Promise.reject(new HttpFailure('an https URL needs the mesh CA to check the node against'));
  return new Promise((resolve, reject) => {
    let outgoing: ClientRequest;
    const onAnswer = (response: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        clearTimeout(timer);
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      });
      response.on('error', (error) => outgoing.destroy(error));
    };
    const options: RequestOptions = { method: call.method, headers: { ...call.headers }, ...(secure ? tlsOptions(call.tls!) : {}) };
    try {
      outgoing = secure ? httpsRequest(url, options, onAnswer) : httpRequest(url, options, onAnswer);
    } catch (error) {
      reject(failureOf(error));
      return;
    }
    const timer = setTimeout(() => outgoing.destroy(new HttpFailure(`no answer within ${call.timeoutMs} ms`)), call.timeoutMs);
    outgoing.on('error', (error) => {
      clearTimeout(timer);
      reject(failureOf(error));
    });
    outgoing.end(call.body);
  });
}
