/**
 * The identity module's error catalogue: certificates (ERR_SVID_*, one code per X509-SVID or
 * hybrid-signature rule), join tokens (ERR_TOKEN_*), certificate requests (ERR_REQUEST_*), the
 * CA's files (ERR_CA_*), bundles and revocation lists (ERR_BUNDLE_*, ERR_REVOCATION_*), the sealed
 * enrollment exchange (ERR_ENROLL_KEY_*, ERR_ENROLL_REQUEST_*, ERR_ENROLL_RESPONSE_*) and SVID renewal
 * requests (ERR_RENEWAL_*), and network key grants (ERR_NETWORK_KEYS_*).
 */
export const IdentityErrorCode = {
  ERR_SVID_PARSE: 'ERR_SVID_PARSE',
  ERR_SVID_ALGORITHM: 'ERR_SVID_ALGORITHM',
  ERR_SVID_DUPLICATE_EXTENSION: 'ERR_SVID_DUPLICATE_EXTENSION',
  ERR_SVID_UNKNOWN_CRITICAL: 'ERR_SVID_UNKNOWN_CRITICAL',
  ERR_SVID_BASIC_CONSTRAINTS: 'ERR_SVID_BASIC_CONSTRAINTS',
  ERR_SVID_CA_AS_LEAF: 'ERR_SVID_CA_AS_LEAF',
  ERR_SVID_KEY_USAGE_MISSING: 'ERR_SVID_KEY_USAGE_MISSING',
  ERR_SVID_KEY_USAGE_NOT_CRITICAL: 'ERR_SVID_KEY_USAGE_NOT_CRITICAL',
  ERR_SVID_LEAF_SIGNS_CERTIFICATES: 'ERR_SVID_LEAF_SIGNS_CERTIFICATES',
  ERR_SVID_NO_DIGITAL_SIGNATURE: 'ERR_SVID_NO_DIGITAL_SIGNATURE',
  ERR_SVID_EXTENDED_KEY_USAGE: 'ERR_SVID_EXTENDED_KEY_USAGE',
  ERR_SVID_URI_SAN_COUNT: 'ERR_SVID_URI_SAN_COUNT',
  ERR_SVID_SPIFFE_ID: 'ERR_SVID_SPIFFE_ID',
  ERR_SVID_TRUST_DOMAIN: 'ERR_SVID_TRUST_DOMAIN',
  ERR_SVID_NOT_YET_VALID: 'ERR_SVID_NOT_YET_VALID',
  ERR_SVID_EXPIRED: 'ERR_SVID_EXPIRED',
  ERR_SVID_ISSUER_UNKNOWN: 'ERR_SVID_ISSUER_UNKNOWN',
  ERR_SVID_SIGNATURE: 'ERR_SVID_SIGNATURE',
  ERR_SVID_PQ_SIGNATURE: 'ERR_SVID_PQ_SIGNATURE',
  ERR_SVID_PQ_KEYS: 'ERR_SVID_PQ_KEYS',
  ERR_SVID_REVOKED: 'ERR_SVID_REVOKED',
  ERR_SVID_NOT_CA: 'ERR_SVID_NOT_CA',
  ERR_TOKEN_FORMAT: 'ERR_TOKEN_FORMAT',
  ERR_TOKEN_UNKNOWN: 'ERR_TOKEN_UNKNOWN',
  ERR_TOKEN_USED: 'ERR_TOKEN_USED',
  ERR_TOKEN_EXPIRED: 'ERR_TOKEN_EXPIRED',
  ERR_REQUEST_FORMAT: 'ERR_REQUEST_FORMAT',
  ERR_REQUEST_SIGNATURE: 'ERR_REQUEST_SIGNATURE',
  ERR_CA_PASSPHRASE: 'ERR_CA_PASSPHRASE',
  ERR_CA_FILES: 'ERR_CA_FILES',
  ERR_BUNDLE_FORMAT: 'ERR_BUNDLE_FORMAT',
  ERR_REVOCATION_FORMAT: 'ERR_REVOCATION_FORMAT',
  ERR_REVOCATION_SIGNATURE: 'ERR_REVOCATION_SIGNATURE',
  ERR_BUNDLE_LIMIT: 'ERR_BUNDLE_LIMIT',
  ERR_BUNDLE_KEY_MISMATCH: 'ERR_BUNDLE_KEY_MISMATCH',
  ERR_REVOCATION_LIMIT: 'ERR_REVOCATION_LIMIT',
  ERR_REVOCATION_TRUST_DOMAIN: 'ERR_REVOCATION_TRUST_DOMAIN',
  ERR_REVOCATION_CONFLICT: 'ERR_REVOCATION_CONFLICT',
  ERR_ENROLL_KEY_FORMAT: 'ERR_ENROLL_KEY_FORMAT',
  ERR_ENROLL_KEY_SIGNATURE: 'ERR_ENROLL_KEY_SIGNATURE',
  ERR_ENROLL_KEY_EXPIRED: 'ERR_ENROLL_KEY_EXPIRED',
  ERR_ENROLL_KEY_PIN: 'ERR_ENROLL_KEY_PIN',
  ERR_ENROLL_REQUEST_FORMAT: 'ERR_ENROLL_REQUEST_FORMAT',
  ERR_ENROLL_REQUEST_KEY: 'ERR_ENROLL_REQUEST_KEY',
  ERR_ENROLL_REQUEST_AUTH: 'ERR_ENROLL_REQUEST_AUTH',
  ERR_ENROLL_RESPONSE_FORMAT: 'ERR_ENROLL_RESPONSE_FORMAT',
  ERR_ENROLL_RESPONSE_LIMIT: 'ERR_ENROLL_RESPONSE_LIMIT',
  ERR_ENROLL_RESPONSE_AUTH: 'ERR_ENROLL_RESPONSE_AUTH',
  ERR_RENEWAL_FORMAT: 'ERR_RENEWAL_FORMAT',
  ERR_RENEWAL_SIGNATURE: 'ERR_RENEWAL_SIGNATURE',
  ERR_RENEWAL_KEYS: 'ERR_RENEWAL_KEYS',
  ERR_RENEWAL_CLOCK: 'ERR_RENEWAL_CLOCK',
  ERR_RENEWAL_REPLAY: 'ERR_RENEWAL_REPLAY',
  /** A network key grant is malformed, truncated or too large. */
  ERR_NETWORK_KEYS_FORMAT: 'ERR_NETWORK_KEYS_FORMAT',
  /** A sealed grant does not open under this node's X-Wing key (altered, or sealed to another node). */
  ERR_NETWORK_KEYS_AUTH: 'ERR_NETWORK_KEYS_AUTH',
  /** A grant's signatures do not verify under a trust anchor of the node's trust domain. */
  ERR_NETWORK_KEYS_SIGNATURE: 'ERR_NETWORK_KEYS_SIGNATURE',
  /** A grant names another recipient than the node that opened it. */
  ERR_NETWORK_KEYS_RECIPIENT: 'ERR_NETWORK_KEYS_RECIPIENT',
  /** A grant answers another request than the one the node sent (a replay of an earlier grant). */
  ERR_NETWORK_KEYS_REQUEST: 'ERR_NETWORK_KEYS_REQUEST',
} as const;

/** One of the codes in IdentityErrorCode. */
export type IdentityErrorCodeValue = (typeof IdentityErrorCode)[keyof typeof IdentityErrorCode];

/** A refused certificate, token, request or CA file; `code` names the rule. */
export class IdentityError extends Error {
  override readonly name = 'IdentityError';

  /** Builds an error with a stable `code` and a message naming the rule and the finding. */
  constructor(
    readonly code: IdentityErrorCodeValue,
    message: string,
  ) {
    super(message);
  }
}

/** True when `value` is an IdentityError, optionally with the given code. */
export function isIdentityError(value: unknown, code?: IdentityErrorCodeValue): value is IdentityError {
  return value instanceof IdentityError && (code === undefined || value.code === code);
}
