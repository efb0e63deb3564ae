import { describe, expect, it } from 'vitest';
import { consumeResponse, createInitiation, initiationToSend, Responder, type HandshakeConfig } from '../../src/crypto/handshake.js';
import { createCa, nodeKeysFromSeeds, type NodeKeys } from '../../src/identity/ca.js';
import { decodeCertificateRequest, encodeCertificateRequest, enroll } from '../../src/identity/enrollment.js';
import { JoinTokenBook, joinTokensMax } from '../../src/identity/join-token.js';
import { validateSvid, type SvidIdentity } from '../../src/identity/svid.js';
import { SvidVerifier, type TrustSource } from '../../src/identity/verifier.js';
import { seeded } from '../seeded.js';

const t0 = Date.UTC(2026, 10, 27, 12);
const codeOf = (code: string): Error => expect.objectContaining({ code }) as Error;


function nodeKeys(label: string): NodeKeys {
  const random = seeded(label);
  return nodeKeysFromSeeds(random(32), random(32), random(32));
}

const { ca } = createCa('mesh.test', t0, seeded('enroll ca'));

describe('join tokens', () => {
  it('work once, before they expire', () => {
    const book = new JoinTokenBook();
    const { token, record } = book.issue(t0, 600_000, seeded('token'));
    expect(token).toMatch(/^x0t1\.[0-9a-f]{16}\.[A-Za-z0-9_-]{43}$/);
    expect(record.expiresAtMs).toBe(t0 + 600_000);
    expect(book.check(token, t0 + 599_999).idHex).toBe(record.idHex);
    book.consume(token, t0 + 1, 'spiffe://mesh.test/node/00000001');
    expect(() => book.check(token, t0 + 2)).toThrow(codeOf('ERR_TOKEN_USED'));
    expect(() => book.check(token, t0 + 2)).toThrow(/already used .* by spiffe:\/\/mesh.test\/node\/00000001/);
  });

  it('refuse an expired, unknown, forged or malformed token with its own code', () => {
    const book = new JoinTokenBook();
    const { token } = book.issue(t0, 1000, seeded('token 2'));
    expect(() => book.check(token, t0 + 1000)).toThrow(codeOf('ERR_TOKEN_EXPIRED'));
    const [, id] = token.split('.');
    expect(() => book.check(`x0t1.${id}.${'A'.repeat(43)}`, t0)).toThrow(codeOf('ERR_TOKEN_UNKNOWN'));
    expect(() => book.check(`x0t1.0000000000000000.${'A'.repeat(43)}`, t0)).toThrow(codeOf('ERR_TOKEN_UNKNOWN'));
    for (const bad of ['', 'x0t1', `${token}x`, token.toUpperCase(), 'x0t2.0000000000000000.' + 'A'.repeat(43)]) {
      expect(() => book.check(bad, t0)).toThrow(codeOf('ERR_TOKEN_FORMAT'));
    }
  });

  it('survive a round trip through JSON and prune used and expired records when issuing', () => {
    const book = new JoinTokenBook();
    const first = book.issue(t0, 1000, seeded('a'));
    const second = book.issue(t0, 600_000, seeded('b'));
    const restored = new JoinTokenBook(JSON.parse(JSON.stringify(book.toJSON())) as ReturnType<JoinTokenBook['toJSON']>);
    expect(restored.check(second.token, t0).idHex).toBe(second.record.idHex);
    restored.issue(t0 + 2000, 1000, seeded('c'));
    expect(restored.toJSON().map((r) => r.idHex)).not.toContain(first.record.idHex);
  });

  it('refuse a lifetime outside 1 s..7 days and more than joinTokensMax outstanding', () => {
    const book = new JoinTokenBook();
    expect(() => book.issue(t0, 999, seeded('x'))).toThrow(/ttl of 1 s\.\.168 h, got 999 ms/);
    expect(() => book.issue(t0, 8 * 24 * 3600_000, seeded('x'))).toThrow(RangeError);
    const full = new JoinTokenBook(Array.from({ length: joinTokensMax }, (_, i) => ({ idHex: i.toString(16).padStart(16, '0'), secretHashHex: '00', createdAtMs: t0, expiresAtMs: t0 + 1e6, usedAtMs: null, usedBy: null })));
    expect(() => full.issue(t0, 1000, seeded('y'))).toThrow(/10000 tokens are outstanding/);
  });
});

describe('enrollment', () => {
  it('issues a valid SVID binding the request keys and uses the token up', () => {
    const book = new JoinTokenBook();
    const { token } = book.issue(t0, 600_000, seeded('enroll token'));
    const keys = nodeKeys('node one');
    const enrollment = enroll(ca, book, encodeCertificateRequest(token, keys), t0 + 10, seeded('enroll'));
    const identity = validateSvid(enrollment.svid, [ca.anchor], 'mesh.test', t0 + 20);
    expect(identity.spiffeId).toBe(enrollment.spiffeId);
    expect(identity.spiffeId).toMatch(/^spiffe:\/\/mesh\.test\/node\/[0-9a-f]{8}$/);
    expect(identity.xwingPublicKey).toEqual(keys.publicKeys.xwingPublicKey);
    expect(() => enroll(ca, book, encodeCertificateRequest(token, keys), t0 + 30, seeded('again'))).toThrow(codeOf('ERR_TOKEN_USED'));
  });

  it('refuses a request whose signatures do not match its keys, and leaves the token unused', () => {
    const book = new JoinTokenBook();
    const { token } = book.issue(t0, 600_000, seeded('sig token'));
    const request = encodeCertificateRequest(token, nodeKeys('node two'));
    const swapped = request.slice();
    swapped.set(nodeKeys('node three').publicKeys.ed25519PublicKey, 7 + 2 + token.length);
    expect(() => enroll(ca, book, swapped, t0, seeded('x'))).toThrow(codeOf('ERR_REQUEST_SIGNATURE'));
    expect(book.check(token, t0).usedAtMs).toBeNull();
  });

  it('refuses truncated, oversized and foreign requests as ERR_REQUEST_FORMAT', () => {
    const request = encodeCertificateRequest('x0t1.0000000000000000.' + 'A'.repeat(43), nodeKeys('node four'));
    expect(() => decodeCertificateRequest(request.subarray(0, 100))).toThrow(codeOf('ERR_REQUEST_FORMAT'));
    expect(() => decodeCertificateRequest(Uint8Array.of(...request, 0))).toThrow(/expected \d+ bytes for a 65-byte token/);
    expect(() => decodeCertificateRequest(new TextEncoder().encode('GET / HTTP/1.1'.padEnd(6000, ' ')))).toThrow(/not an x0tCSR1 request/);
    expect(() => encodeCertificateRequest('x'.repeat(300), nodeKeys('node five'))).toThrow(/token longer than 256 bytes/);
  });

  it('refuses an unknown token without issuing anything', () => {
    expect(() => enroll(ca, new JoinTokenBook(), encodeCertificateRequest('x0t1.0000000000000000.' + 'A'.repeat(43), nodeKeys('node six')), t0, seeded('x'))).toThrow(codeOf('ERR_TOKEN_UNKNOWN'));
  });
});

describe('SvidVerifier in the handshake', () => {
  const book = new JoinTokenBook();
  const enrolled = (label: string): { keys: NodeKeys; spiffeId: string; svid: Uint8Array } => {
    const keys = nodeKeys(label);
    const { token } = book.issue(t0, 600_000, seeded(`${label} token`));
    const enrollment = enroll(ca, book, encodeCertificateRequest(token, keys), t0, seeded(`${label} enroll`));
    return { keys, spiffeId: enrollment.spiffeId, svid: enrollment.svid };
  };
  const alice = enrolled('alice');
  const bob = enrolled('bob');
  const revoked = new Set<string>();
  const trust: TrustSource = { trustDomain: 'mesh.test', anchors: () => [ca.anchor], isRevoked: (identity: SvidIdentity) => revoked.has(identity.spiffeId) };

  function config(node: typeof alice, verifier: SvidVerifier, label: string): HandshakeConfig {
    return { local: { spiffeId: node.spiffeId, certificate: node.svid, staticKey: node.keys.xwing }, verifier, random: seeded(label), prologue: new TextEncoder().encode('mesh.test') };
  }

  it('completes a handshake between two enrolled nodes with real SVIDs, verifying signatures once per certificate', () => {
    const bobVerifier = new SvidVerifier(trust);
    const responder = new Responder(config(bob, bobVerifier, 'bob hs'));
    const aliceConfig = config(alice, new SvidVerifier(trust), 'alice hs');
    const bobCredential = new SvidVerifier(trust).verify(bob.svid, t0);
    for (let i = 0; i < 2; i++) {
      const pending = createInitiation(aliceConfig, bobCredential, t0 + i);
      const outcome = responder.handleInitiation(initiationToSend(pending, t0 + i), new Uint8Array(4), t0 + i, false);
      if (outcome.kind !== 'response') throw new Error(`expected a response, got ${outcome.kind}`);
      expect(outcome.peer.spiffeId).toBe(alice.spiffeId);
      expect(consumeResponse(aliceConfig, pending, outcome.message, t0 + i).receiveKey).toEqual(outcome.keys.sendKey);
    }
    expect([bobVerifier.misses, bobVerifier.hits]).toEqual([1, 1]);
  });

  it('refuses a revoked or expired certificate even when it is cached', () => {
    const verifier = new SvidVerifier(trust);
    verifier.verify(alice.svid, t0);
    expect(() => verifier.verify(alice.svid, t0 + 3_600_001)).toThrow(codeOf('ERR_SVID_EXPIRED'));
    revoked.add(alice.spiffeId);
    expect(() => verifier.verify(alice.svid, t0)).toThrow(codeOf('ERR_SVID_REVOKED'));
    revoked.delete(alice.spiffeId);
    const responder = new Responder(config(bob, verifier, 'bob revoked'));
    revoked.add(alice.spiffeId);
    const pending = createInitiation(config(alice, new SvidVerifier(trust), 'alice revoked'), verifier.verify(bob.svid, t0), t0);
    const outcome = responder.handleInitiation(initiationToSend(pending, t0), new Uint8Array(4), t0, false);
    expect(outcome.kind === 'drop' && outcome.error.code).toBe('ERR_HANDSHAKE_CERTIFICATE');
    revoked.delete(alice.spiffeId);
  });

  it('keeps at most cacheMax certificates, evicting the least recently used; clear() forgets all', () => {
    const verifier = new SvidVerifier(trust, 1);
    verifier.verify(alice.svid, t0);
    verifier.verify(bob.svid, t0);
    verifier.verify(alice.svid, t0);
    expect(verifier.misses).toBe(3);
    verifier.clear();
    verifier.verify(alice.svid, t0);
    expect(verifier.misses).toBe(4);
  });

  it('refuses a node of another trust domain and a node without a valid SVID', () => {
    const stranger = createCa('other.test', t0, seeded('other ca'));
    const strangerBook = new JoinTokenBook();
    const { token } = strangerBook.issue(t0, 600_000, seeded('stranger token'));
    const strangerSvid = enroll(stranger.ca, strangerBook, encodeCertificateRequest(token, nodeKeys('stranger')), t0, seeded('stranger')).svid;
    expect(() => new SvidVerifier(trust).verify(strangerSvid, t0)).toThrow(codeOf('ERR_SVID_TRUST_DOMAIN'));
    expect(() => new SvidVerifier(trust).verify(new TextEncoder().encode('no svid'), t0)).toThrow(codeOf('ERR_SVID_PARSE'));
  });
});

describe('enrollment refuses unusable KEM keys (review finding)', () => {
  it('refuses a request whose X-Wing key has a low-order X25519 half', () => {
    const keys = nodeKeys('low order');
    const broken = keys.publicKeys.xwingPublicKey.slice();
    broken.fill(0, 1184);
    const request = encodeCertificateRequest('x0t1.0000000000000000.' + 'A'.repeat(43), { ...keys, publicKeys: { ...keys.publicKeys, xwingPublicKey: broken } });
    expect(() => decodeCertificateRequest(request)).toThrow(/X-Wing public key is unusable/);
  });
});

describe('SvidVerifier cache and its anchors (second review)', () => {
  it('refuses a cached certificate once its issuer is no longer a trust anchor', () => {
    const book = new JoinTokenBook();
    const { token } = book.issue(t0, 600_000, seeded('anchor token'));
    const svid = enroll(ca, book, encodeCertificateRequest(token, nodeKeys('anchor node')), t0, seeded('anchor enroll')).svid;
    let anchors = [ca.anchor];
    const verifier = new SvidVerifier({ trustDomain: 'mesh.test', anchors: () => anchors, isRevoked: () => false });
    verifier.verify(svid, t0);
    anchors = [];
    expect(() => verifier.verify(svid, t0)).toThrow(/its issuer is no longer a valid trust anchor/);
  });
});
