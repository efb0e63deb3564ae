import { describe, expect, it } from 'vitest';
import { encodeTrust, parseTrust, trustFileBytesMax } from '../../../src/fl/registry/trust.js';
import { aggregator, stranger } from './fixtures.js';

describe('trust files', () => {
  it('round-trip the aggregator keys', () => {
    const text = encodeTrust([aggregator.publicKeys, stranger.publicKeys]);
    expect(text.endsWith('\n')).toBe(true);
    const parsed = parseTrust(text);
    expect(parsed).toHaveLength(2);
    expect(Buffer.from(parsed[1]!.mlDsaPublicKey).equals(stranger.publicKeys.mlDsaPublicKey)).toBe(true);
  });

  it('refuse malformed files naming the problem', () => {
    const good = JSON.parse(encodeTrust([aggregator.publicKeys])) as { aggregators: Record<string, string>[] };
    const cases: [string, RegExp][] = [
      ['not json', /trust file: not JSON/],
      ['null', /format: expected "x0tta6bl4\/fl-trust", got undefined/],
      ['{"format":"x0tta6bl4/fl-trust"}', /aggregators: expected an array/],
      ['{"format":"x0tta6bl4/fl-trust","aggregators":[]}', /expected 1..16 aggregator keys, got 0/],
      ['{"format":"x0tta6bl4/fl-trust","aggregators":[7]}', /aggregators\[0\]: expected an object/],
      [JSON.stringify({ format: 'x0tta6bl4/fl-trust', aggregators: [{ ...good.aggregators[0], ed25519: 'a+b' }] }), /aggregators\[0\].ed25519: expected base64url/],
      [JSON.stringify({ format: 'x0tta6bl4/fl-trust', aggregators: [{ ...good.aggregators[0], mlDsa65: 'AAAA' }] }), /trust\[0\]: expected a 32-byte Ed25519 key and a 1952-byte ML-DSA-65 key, got 32 and 3/],
      [' '.repeat(trustFileBytesMax + 1), /more than 65536/],
    ];
    for (const [text, message] of cases) expect(() => parseTrust(text), text.slice(0, 60)).toThrow(message);
  });
});
