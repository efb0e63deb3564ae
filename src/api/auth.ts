import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError } from './errors.js';
import type { PresentedCertificate } from './tls.js';

/** What a caller asks to do; the daemon's Cedar policy decides per action. */
export type ApiAction = 'apiRead' | 'apiPing' | 'apiSend' | 'apiEvents' | 'apiDrain' | 'apiLinks';

/** A person at the node's console, identified by the local token file they hold. */
export interface OperatorCaller {
  readonly kind: 'operator';
  readonly role: 'admin' | 'viewer';
  readonly id: string;
}

/** A holder of an X509-SVID of the mesh (a node, an operator, a program), authenticated by mTLS. */
export interface WorkloadCaller {
  readonly kind: 'workload';
  readonly spiffeId: string;
  /** The SPIFFE ID again, so that messages and logs can name any caller by `id`. */
  readonly id: string;
}

/**
 * Who made a request: an operator with a bearer token, or, when the API serves TLS, the holder
 * of a client certificate (a verified X509-SVID). The `authorize` callback receives it unchanged.
 */
export type ApiCaller = OperatorCaller | WorkloadCaller;

/** The policy's answer for one caller and action. */
export interface ApiDecision {
  readonly allowed: boolean;
  readonly policyIds: readonly string[];
}

/** The daemon's policy hook (Cedar in production). */
export type ApiAuthorize = (caller: ApiCaller, action: ApiAction) => ApiDecision;

/** Called after a denial, for the audit log; the API has already answered 403. */
export type ApiOnDenied = (caller: ApiCaller, action: ApiAction, policyIds: readonly string[]) => void;

/** Shortest token accepted; the daemon writes 32 random bytes, so anything shorter is a setup mistake. */
export const apiTokenCharsMin = 16;

/** Longest Authorization header looked at; longer ones are refused without hashing. */
export const authorizationHeaderCharsMax = 1024;

/** Caller ids of the two token roles, stable so that policies can name them. */
export const adminCallerId = 'local-admin';
/** Caller id of the viewer token. */
export const viewerCallerId = 'local-viewer';

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Checks bearer tokens against the admin token and the optional viewer token in constant time. */
export class TokenAuthenticator {
  readonly #admin: Buffer;
  readonly #viewer: Buffer | null;

  /** Hashes the tokens once; throws a RangeError naming the option when a token is too short or both are equal. */
  constructor(adminToken: string, viewerToken?: string) {
    checkToken('adminToken', adminToken);
    if (viewerToken !== undefined) {
      checkToken('viewerToken', viewerToken);
      if (viewerToken === adminToken) throw new RangeError('buildApi: viewerToken: must differ from adminToken');
    }
    this.#admin = digest(adminToken);
    this.#viewer = viewerToken === undefined ? null : digest(viewerToken);
  }

  /** The caller that `authorization` (the header's value) proves; throws ApiError 'unauthorized' otherwise. */
  authenticate(authorization: string | undefined): OperatorCaller {
    if (authorization === undefined || authorization === '') {
      throw new ApiError('unauthorized', 'missing Authorization header: expected "Bearer <token>"');
    }
    const match = authorization.length <= authorizationHeaderCharsMax ? /^Bearer ([!-~]+)$/i.exec(authorization) : null;
    if (match === null) throw new ApiError('unauthorized', 'malformed Authorization header: expected "Bearer <token>"');
    // Hashing first makes both sides 32 bytes, so timingSafeEqual applies and the comparison
    // time does not depend on how much of a guessed token is right. Both roles are always
    // compared so the time does not tell which one matched.
    const presented = digest(match[1]!);
    const isAdmin = timingSafeEqual(presented, this.#admin);
    const isViewer = this.#viewer !== null && timingSafeEqual(presented, this.#viewer);
    if (isAdmin) return { kind: 'operator', role: 'admin', id: adminCallerId };
    if (isViewer) return { kind: 'operator', role: 'viewer', id: viewerCallerId };
    throw new ApiError('unauthorized', 'unknown token');
  }
}

function checkToken(name: string, token: string): void {
  if (token.length < apiTokenCharsMin || !/^[!-~]+$/.test(token)) {
    throw new RangeError(`buildApi: ${name}: expected at least ${apiTokenCharsMin} printable ASCII characters without spaces`);
  }
}

/**
 * The caller of a request, from its client certificate (when the API serves TLS and one was
 * presented) or else its bearer token. A request must carry one credential: a certificate and an
 * Authorization header together are refused rather than one silently ignored, and a certificate
 * that does not verify is refused even next to a good token. Throws ApiError 'unauthorized'.
 */
export function authenticateRequest(
  tokens: TokenAuthenticator,
  request: { readonly authorization: string | undefined; readonly certificate: PresentedCertificate | null; readonly tls: boolean },
  verifyClient: ((certificate: Uint8Array) => string) | undefined,
): ApiCaller {
  const { authorization, certificate } = request;
  if (certificate === null || verifyClient === undefined) {
    if (request.tls && (authorization === undefined || authorization === '')) {
      throw new ApiError('unauthorized', 'no credentials: expected a client certificate (an X509-SVID of the mesh) or an Authorization header "Bearer <token>"');
    }
    return tokens.authenticate(authorization);
  }
  if (authorization !== undefined) throw new ApiError('unauthorized', 'a client certificate and an Authorization header: send one credential, not both');
  if (certificate.chainError !== null) throw new ApiError('unauthorized', `client certificate refused: its chain does not verify under the mesh CA (${certificate.chainError})`);
  let spiffeId: string;
  try {
    spiffeId = verifyClient(certificate.der);
  } catch (error) {
    throw new ApiError('unauthorized', `client certificate refused: ${(error as Error).message}`);
  }
  return { kind: 'workload', spiffeId, id: spiffeId };
}
