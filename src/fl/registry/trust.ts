/**
 * The trust file of a node's model registry: the aggregator public keys it installs models
 * from, as strict JSON. Keys are base64url without padding, as in JWKs.
 *
 *   {"format":"x0tta6bl4/fl-trust","aggregators":[{"ed25519":"...","mlDsa65":"..."}]}
 */
import { RegistryError, RegistryErrorCode } from './errors.js';
import { checkTrust, type AggregatorPublicKey, type AggregatorTrust } from './signing.js';

const formatName = 'x0tta6bl4/fl-trust';
/** Most bytes of a trust file (16 keys of about 2.7 kB each in base64url). */
export const trustFileBytesMax = 64 * 1024;

function fail(message: string): never {
  throw new RegistryError(RegistryErrorCode.ERR_FL_TRUST, `trust file: ${message}`);
}

/** The trust file text of `trust` (checked first). */
export function encodeTrust(trust: AggregatorTrust): string {
  const aggregators = checkTrust(trust).map((key) => ({
    ed25519: Buffer.from(key.ed25519PublicKey).toString('base64url'),
    mlDsa65: Buffer.from(key.mlDsaPublicKey).toString('base64url'),
  }));
  return `${JSON.stringify({ format: formatName, aggregators })}\n`;
}

function keyBytes(field: string, value: unknown): Uint8Array {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]+$/.test(value)) fail(`${field}: expected base64url text, got ${JSON.stringify(value)}`);
  return new Uint8Array(Buffer.from(value, 'base64url'));
}

function aggregatorOf(entry: unknown, index: number): AggregatorPublicKey {
  if (typeof entry !== 'object' || entry === null) fail(`aggregators[${index}]: expected an object`);
  const record = entry as Record<string, unknown>;
  return { ed25519PublicKey: keyBytes(`aggregators[${index}].ed25519`, record['ed25519']), mlDsaPublicKey: keyBytes(`aggregators[${index}].mlDsa65`, record['mlDsa65']) };
}

/** Parses a trust file; ERR_FL_TRUST names what is wrong (JSON, format, a key's encoding or length). */
export function parseTrust(text: string): AggregatorTrust {
  if (text.length > trustFileBytesMax) fail(`${text.length} characters, more than ${trustFileBytesMax}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    fail(`not JSON (${(error as Error).message})`);
  }
  const record = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  if (record['format'] !== formatName) fail(`format: expected ${JSON.stringify(formatName)}, got ${JSON.stringify(record['format'])}`);
  const aggregators = record['aggregators'];
  if (!Array.isArray(aggregators)) fail('aggregators: expected an array');
  return checkTrust(aggregators.map(aggregatorOf));
}
