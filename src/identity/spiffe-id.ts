import { formatNodeId, parseNodeId, type NodeId } from '../wire/ids.js';

/**
 * SPIFFE IDs exactly as the SPIFFE ID standard (standards/SPIFFE-ID.md, sections 2.1-2.3)
 * defines them: `spiffe://<trust domain>[/<segment>...]`. Every rule has its own error code,
 * so a caller, a log line or a test can tell which one an input broke.
 */

/** Most bytes of a SPIFFE ID (section 2.3). */
export const spiffeIdBytesMax = 2048;
/** Most bytes of a trust domain name (section 2.3: the URI host limit). */
export const trustDomainBytesMax = 255;
/** Path prefix of node identities: `spiffe://<td>/node/<8 hex digits>`. */
export const nodePathPrefix = '/node/';

const scheme = 'spiffe://';
const trustDomainChar = /^[a-z0-9._-]$/;
const segmentChar = /^[a-zA-Z0-9._-]$/;

/** Codes of the SPIFFE ID rules; the message of each error names the rule and the offending part. */
export const SpiffeIdErrorCode = {
  ERR_SPIFFE_EMPTY: 'ERR_SPIFFE_EMPTY',
  ERR_SPIFFE_TOO_LONG: 'ERR_SPIFFE_TOO_LONG',
  ERR_SPIFFE_SCHEME: 'ERR_SPIFFE_SCHEME',
  ERR_SPIFFE_QUERY_OR_FRAGMENT: 'ERR_SPIFFE_QUERY_OR_FRAGMENT',
  ERR_SPIFFE_PERCENT_ENCODED: 'ERR_SPIFFE_PERCENT_ENCODED',
  ERR_SPIFFE_TRUST_DOMAIN_EMPTY: 'ERR_SPIFFE_TRUST_DOMAIN_EMPTY',
  ERR_SPIFFE_TRUST_DOMAIN_TOO_LONG: 'ERR_SPIFFE_TRUST_DOMAIN_TOO_LONG',
  ERR_SPIFFE_USERINFO: 'ERR_SPIFFE_USERINFO',
  ERR_SPIFFE_PORT: 'ERR_SPIFFE_PORT',
  ERR_SPIFFE_TRUST_DOMAIN_CHAR: 'ERR_SPIFFE_TRUST_DOMAIN_CHAR',
  ERR_SPIFFE_PATH_EMPTY_SEGMENT: 'ERR_SPIFFE_PATH_EMPTY_SEGMENT',
  ERR_SPIFFE_PATH_DOT_SEGMENT: 'ERR_SPIFFE_PATH_DOT_SEGMENT',
  ERR_SPIFFE_PATH_TRAILING_SLASH: 'ERR_SPIFFE_PATH_TRAILING_SLASH',
  ERR_SPIFFE_PATH_CHAR: 'ERR_SPIFFE_PATH_CHAR',
  ERR_SPIFFE_NOT_A_NODE: 'ERR_SPIFFE_NOT_A_NODE',
} as const;

/** One of the codes in SpiffeIdErrorCode. */
export type SpiffeIdErrorCodeValue = (typeof SpiffeIdErrorCode)[keyof typeof SpiffeIdErrorCode];

/** A SPIFFE ID that broke a rule of the standard; `code` names the rule. */
export class SpiffeIdError extends Error {
  override readonly name = 'SpiffeIdError';

  /** Builds an error with a stable `code`; the message quotes the input and names the rule. */
  constructor(
    readonly code: SpiffeIdErrorCodeValue,
    message: string,
  ) {
    super(message);
  }
}

/** True when `value` is a SpiffeIdError. */
export function isSpiffeIdError(value: unknown): value is SpiffeIdError {
  return value instanceof SpiffeIdError;
}

/** A parsed SPIFFE ID: its trust domain name and its path ('' or '/seg/...'). */
export interface SpiffeId {
  readonly trustDomain: string;
  readonly path: string;
}

function fail(code: SpiffeIdErrorCodeValue, input: string, rule: string): never {
  const shown = input.length > 80 ? `${JSON.stringify(input.slice(0, 80))}...` : JSON.stringify(input);
  throw new SpiffeIdError(code, `SPIFFE ID ${shown}: ${rule}`);
}

/** Checks a trust domain name (section 2.1); `input` is what the message quotes. */
function checkTrustDomain(name: string, input: string): void {
  if (name.length === 0) fail(SpiffeIdErrorCode.ERR_SPIFFE_TRUST_DOMAIN_EMPTY, input, 'the trust domain must not be empty');
  if (name.length > trustDomainBytesMax) {
    fail(SpiffeIdErrorCode.ERR_SPIFFE_TRUST_DOMAIN_TOO_LONG, input, `the trust domain is ${name.length} bytes, more than ${trustDomainBytesMax}`);
  }
  if (name.includes('@')) fail(SpiffeIdErrorCode.ERR_SPIFFE_USERINFO, input, 'the authority must not carry userinfo (@)');
  if (name.includes(':')) fail(SpiffeIdErrorCode.ERR_SPIFFE_PORT, input, 'the authority must not carry a port (:)');
  if (name.includes('%')) fail(SpiffeIdErrorCode.ERR_SPIFFE_PERCENT_ENCODED, input, 'the trust domain must not be percent-encoded');
  for (const char of name) {
    if (!trustDomainChar.test(char)) {
      fail(SpiffeIdErrorCode.ERR_SPIFFE_TRUST_DOMAIN_CHAR, input, `the trust domain may hold only a-z 0-9 . - _ (lowercase), found ${JSON.stringify(char)}`);
    }
  }
}

/** Checks a path (section 2.2): '' or '/' followed by segments of [a-zA-Z0-9._-], none empty, '.' or '..'. */
function checkPath(path: string, input: string): void {
  if (path === '') return;
  if (path.includes('%')) fail(SpiffeIdErrorCode.ERR_SPIFFE_PERCENT_ENCODED, input, 'the path must not be percent-encoded');
  if (path.endsWith('/')) fail(SpiffeIdErrorCode.ERR_SPIFFE_PATH_TRAILING_SLASH, input, 'the path must not end with /');
  for (const segment of path.slice(1).split('/')) {
    if (segment === '') fail(SpiffeIdErrorCode.ERR_SPIFFE_PATH_EMPTY_SEGMENT, input, 'the path must not hold an empty segment (//)');
    if (segment === '.' || segment === '..') fail(SpiffeIdErrorCode.ERR_SPIFFE_PATH_DOT_SEGMENT, input, `the path must not hold the segment ${segment}`);
    for (const char of segment) {
      if (!segmentChar.test(char)) fail(SpiffeIdErrorCode.ERR_SPIFFE_PATH_CHAR, input, `path segments may hold only a-z A-Z 0-9 . - _, found ${JSON.stringify(char)}`);
    }
  }
}

/**
 * Parses a SPIFFE ID, or throws a SpiffeIdError whose code names the broken rule. The scheme
 * must be written `spiffe://` in lowercase, as the canonical form every SVID carries.
 */
export function parseSpiffeId(text: string): SpiffeId {
  if (text.length === 0) fail(SpiffeIdErrorCode.ERR_SPIFFE_EMPTY, text, 'must not be empty');
  if (Buffer.byteLength(text, 'utf8') > spiffeIdBytesMax) fail(SpiffeIdErrorCode.ERR_SPIFFE_TOO_LONG, text, `longer than ${spiffeIdBytesMax} bytes`);
  if (!text.startsWith(scheme)) fail(SpiffeIdErrorCode.ERR_SPIFFE_SCHEME, text, 'must start with the scheme spiffe:// (lowercase)');
  if (/[?#]/.test(text)) fail(SpiffeIdErrorCode.ERR_SPIFFE_QUERY_OR_FRAGMENT, text, 'must not carry a query (?) or a fragment (#)');
  const rest = text.slice(scheme.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  checkTrustDomain(trustDomain, text);
  checkPath(path, text);
  return { trustDomain, path };
}

/** Formats a SPIFFE ID from its parts, checking every rule as parseSpiffeId does. */
export function formatSpiffeId(id: SpiffeId): string {
  const text = `${scheme}${id.trustDomain}${id.path}`;
  const parsed = parseSpiffeId(text);
  if (parsed.trustDomain !== id.trustDomain) fail(SpiffeIdErrorCode.ERR_SPIFFE_TRUST_DOMAIN_CHAR, text, 'the trust domain must not contain /');
  if (id.path !== '' && !id.path.startsWith('/')) fail(SpiffeIdErrorCode.ERR_SPIFFE_PATH_CHAR, text, 'a non-empty path must start with /');
  return text;
}

/** Checks a bare trust domain name (as given to `ca init --trust-domain`) and returns it. */
export function parseTrustDomain(name: string): string {
  checkTrustDomain(name, `${scheme}${name}`);
  return name;
}

/** The SPIFFE ID of mesh node `id` in `trustDomain`: spiffe://<td>/node/<8 hex digits>. */
export function nodeSpiffeId(trustDomain: string, id: NodeId): string {
  return formatSpiffeId({ trustDomain, path: `${nodePathPrefix}${formatNodeId(id)}` });
}

/** The NodeId a node SPIFFE ID names; ERR_SPIFFE_NOT_A_NODE when the path is not /node/<8 hex digits>. */
export function nodeIdOfSpiffeId(id: SpiffeId): NodeId {
  const hex = id.path.startsWith(nodePathPrefix) ? id.path.slice(nodePathPrefix.length) : '';
  try {
    return parseNodeId(hex);
  } catch {
    return fail(SpiffeIdErrorCode.ERR_SPIFFE_NOT_A_NODE, `${scheme}${id.trustDomain}${id.path}`, 'a node identity has the path /node/<8 lower-case hex digits, not 0>');
  }
}
