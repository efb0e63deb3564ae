import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatSpiffeId, nodeIdOfSpiffeId, nodeSpiffeId, parseSpiffeId, parseTrustDomain, SpiffeIdError } from '../../src/identity/spiffe-id.js';
import { nodeId } from '../../src/wire/ids.js';

const codeOf = (code: string): Error => expect.objectContaining({ code }) as Error;

describe('parseSpiffeId accepts what the standard allows', () => {
  it.each([
    ['spiffe://example.org', 'example.org', ''],
    ['spiffe://example.org/workload', 'example.org', '/workload'],
    ['spiffe://k8s-west.example.com/ns/staging/sa/default', 'k8s-west.example.com', '/ns/staging/sa/default'],
    ['spiffe://td_1.-x/A-Z.a_z-0..9/...', 'td_1.-x', '/A-Z.a_z-0..9/...'],
    ['spiffe://192.168.0.1/ipv4-is-fine', '192.168.0.1', '/ipv4-is-fine'],
  ])('%s', (text, trustDomain, path) => {
    expect(parseSpiffeId(text)).toEqual({ trustDomain, path });
    expect(formatSpiffeId({ trustDomain, path })).toBe(text);
  });

  it('accepts exactly 2048 bytes and a 255-byte trust domain', () => {
    const trustDomain = 'a'.repeat(255);
    const head = `spiffe://${trustDomain}/`;
    const text = head + 'b'.repeat(2048 - head.length);
    expect(parseSpiffeId(text).trustDomain).toBe(trustDomain);
  });
});

describe('parseSpiffeId refuses each broken rule with its own code', () => {
  it.each([
    ['', 'ERR_SPIFFE_EMPTY', /must not be empty/],
    ['http://example.org/x', 'ERR_SPIFFE_SCHEME', /scheme spiffe:\/\//],
    ['SPIFFE://example.org/x', 'ERR_SPIFFE_SCHEME', /lowercase/],
    ['spiffe:/example.org', 'ERR_SPIFFE_SCHEME', /scheme/],
    ['example.org/x', 'ERR_SPIFFE_SCHEME', /scheme/],
    ['spiffe://example.org/x?query=1', 'ERR_SPIFFE_QUERY_OR_FRAGMENT', /query/],
    ['spiffe://example.org/x#frag', 'ERR_SPIFFE_QUERY_OR_FRAGMENT', /fragment/],
    ['spiffe://', 'ERR_SPIFFE_TRUST_DOMAIN_EMPTY', /trust domain must not be empty/],
    ['spiffe:///path', 'ERR_SPIFFE_TRUST_DOMAIN_EMPTY', /trust domain must not be empty/],
    ['spiffe://user@example.org/x', 'ERR_SPIFFE_USERINFO', /userinfo/],
    ['spiffe://example.org:8080/x', 'ERR_SPIFFE_PORT', /port/],
    ['spiffe://[::1]/x', 'ERR_SPIFFE_PORT', /port/],
    ['spiffe://exa%6dple.org/x', 'ERR_SPIFFE_PERCENT_ENCODED', /trust domain must not be percent-encoded/],
    ['spiffe://Example.org/x', 'ERR_SPIFFE_TRUST_DOMAIN_CHAR', /found "E"/],
    ['spiffe://exa mple.org', 'ERR_SPIFFE_TRUST_DOMAIN_CHAR', /found " "/],
    ['spiffe://exämple.org', 'ERR_SPIFFE_TRUST_DOMAIN_CHAR', /found "ä"/],
    ['spiffe://example.org/a%2Fb', 'ERR_SPIFFE_PERCENT_ENCODED', /path must not be percent-encoded/],
    ['spiffe://example.org/', 'ERR_SPIFFE_PATH_TRAILING_SLASH', /must not end with \//],
    ['spiffe://example.org/a/', 'ERR_SPIFFE_PATH_TRAILING_SLASH', /must not end with \//],
    ['spiffe://example.org//a', 'ERR_SPIFFE_PATH_EMPTY_SEGMENT', /empty segment/],
    ['spiffe://example.org/a//b', 'ERR_SPIFFE_PATH_EMPTY_SEGMENT', /empty segment/],
    ['spiffe://example.org/./a', 'ERR_SPIFFE_PATH_DOT_SEGMENT', /segment \./],
    ['spiffe://example.org/a/..', 'ERR_SPIFFE_PATH_DOT_SEGMENT', /segment \.\./],
    ['spiffe://example.org/a b', 'ERR_SPIFFE_PATH_CHAR', /found " "/],
    ['spiffe://example.org/a*b', 'ERR_SPIFFE_PATH_CHAR', /found "\*"/],
    ['spiffe://example.org/ä', 'ERR_SPIFFE_PATH_CHAR', /found "ä"/],
  ])('%j -> %s', (text, code, message) => {
    expect(() => parseSpiffeId(text)).toThrow(codeOf(code));
    expect(() => parseSpiffeId(text)).toThrow(message);
  });

  it('refuses a trust domain over 255 bytes and an ID over 2048 bytes', () => {
    expect(() => parseSpiffeId(`spiffe://${'a'.repeat(256)}`)).toThrow(codeOf('ERR_SPIFFE_TRUST_DOMAIN_TOO_LONG'));
    expect(() => parseSpiffeId(`spiffe://a/${'b'.repeat(2048)}`)).toThrow(codeOf('ERR_SPIFFE_TOO_LONG'));
    // Bytes, not characters: 1020 two-byte characters make 2040 bytes of path alone.
    expect(() => parseSpiffeId(`spiffe://a/${'é'.repeat(1020)}`)).toThrow(codeOf('ERR_SPIFFE_TOO_LONG'));
  });

  it('quotes at most 80 characters of a long input in the message', () => {
    expect(() => parseSpiffeId(`spiffe://a/${'b'.repeat(100)}/`)).toThrow(/"spiffe:\/\/a\/b{69}"\.\.\./);
  });

  it('throws only SpiffeIdError, whatever the input (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), (tail) => {
        try {
          const parsed = parseSpiffeId(`spiffe://${tail}`);
          expect(formatSpiffeId(parsed)).toBe(`spiffe://${tail}`);
        } catch (error) {
          expect(error).toBeInstanceOf(SpiffeIdError);
        }
      }),
    );
  });
});

describe('formatSpiffeId, parseTrustDomain and node identities', () => {
  it('formatSpiffeId refuses parts that would parse differently', () => {
    expect(() => formatSpiffeId({ trustDomain: 'a/b', path: '' })).toThrow(/must not contain \//);
    expect(() => formatSpiffeId({ trustDomain: 'a', path: 'b' })).toThrow(codeOf('ERR_SPIFFE_TRUST_DOMAIN_CHAR'));
    expect(() => formatSpiffeId({ trustDomain: 'a', path: '/b/' })).toThrow(codeOf('ERR_SPIFFE_PATH_TRAILING_SLASH'));
  });

  it('parseTrustDomain checks a bare name', () => {
    expect(parseTrustDomain('mesh.example')).toBe('mesh.example');
    expect(() => parseTrustDomain('Mesh')).toThrow(codeOf('ERR_SPIFFE_TRUST_DOMAIN_CHAR'));
    expect(() => parseTrustDomain('')).toThrow(codeOf('ERR_SPIFFE_TRUST_DOMAIN_EMPTY'));
  });

  it('node identities are spiffe://<td>/node/<8 hex digits> and parse back', () => {
    const text = nodeSpiffeId('mesh.example', nodeId(0xabc));
    expect(text).toBe('spiffe://mesh.example/node/00000abc');
    expect(nodeIdOfSpiffeId(parseSpiffeId(text))).toBe(0xabc);
  });

  it.each(['/node/0000000g', '/node/00000000', '/node/abc', '/nodes/00000001', '', '/node/00000001/x'])('refuses the node path %j', (path) => {
    expect(() => nodeIdOfSpiffeId({ trustDomain: 'mesh.example', path })).toThrow(codeOf('ERR_SPIFFE_NOT_A_NODE'));
  });
});
