import { describe, expect, it } from 'vitest';
import { HandshakeErrorCode } from '../../src/crypto/handshake-errors.js';
import { cookieReplyBytes, responseBytes } from '../../src/crypto/handshake-messages.js';
import {
  consumeCookieReply,
  consumeResponse,
  cookieUseMs,
  createInitiation,
  initiationFreshnessMs,
  initiationToSend,
  Responder,
  type ResponderOutcome,
} from '../../src/crypto/handshake.js';
import { hmacSha256, sha256 } from '../../src/crypto/hash.js';
import { toHex } from './vectors.js';
import { credentialOf, testConfig, testIdentity } from './handshake-fixtures.js';

const alice = testIdentity('spiffe://mesh.test/node/00000001', 'alice static');
const bob = testIdentity('spiffe://mesh.test/node/00000002', 'bob static');
const address = new TextEncoder().encode('10.0.0.1:4500');
const t0 = 1_800_000_000_000;

function respondOrFail(outcome: ResponderOutcome): Extract<ResponderOutcome, { kind: 'response' }> {
  if (outcome.kind !== 'response') throw new Error(`expected a response, got ${outcome.kind}${outcome.kind === 'drop' ? `: ${outcome.error.message}` : ''}`);
  return outcome;
}

function dropCode(outcome: ResponderOutcome): string {
  return outcome.kind === 'drop' ? outcome.error.code : `no drop (${outcome.kind})`;
}

describe('handshake between two nodes', () => {
  it('derives mirrored session keys and tells the responder who the initiator is', () => {
    const aliceConfig = testConfig(alice, 'alice run');
    const responder = new Responder(testConfig(bob, 'bob run'));
    const pending = createInitiation(aliceConfig, credentialOf(bob), t0);
    const answer = respondOrFail(responder.handleInitiation(initiationToSend(pending, t0), address, t0, false));
    expect(answer.peer.spiffeId).toBe(alice.spiffeId);
    const keys = consumeResponse(aliceConfig, pending, answer.message, t0 + 5);
    expect(toHex(keys.sendKey)).toBe(toHex(answer.keys.receiveKey));
    expect(toHex(keys.receiveKey)).toBe(toHex(answer.keys.sendKey));
    expect(toHex(keys.sendKey)).not.toBe(toHex(keys.receiveKey));
    expect(keys.remoteIndex).toBe(answer.keys.localIndex);
    expect(answer.keys.remoteIndex).toBe(keys.localIndex);
    expect([keys.isInitiator, answer.keys.isInitiator, keys.establishedAtMs]).toEqual([true, false, t0 + 5]);
  });

  it('matches the frozen golden transcript for fixed seeds (a protocol change must update it on purpose)', () => {
    const aliceConfig = testConfig(alice, 'golden alice');
    const responder = new Responder(testConfig(bob, 'golden bob'));
    const pending = createInitiation(aliceConfig, credentialOf(bob), t0);
    const initiation = initiationToSend(pending, t0);
    const answer = respondOrFail(responder.handleInitiation(initiation, address, t0, false));
    const keys = consumeResponse(aliceConfig, pending, answer.message, t0);
    const digest = (bytes: Uint8Array): string => toHex(sha256(bytes)).slice(0, 32);
    expect({
      initiationBytes: initiation.length,
      responseBytes: answer.message.length,
      initiation: digest(initiation),
      response: digest(answer.message),
      sendKey: digest(keys.sendKey),
      receiveKey: digest(keys.receiveKey),
    }).toEqual({
      initiationBytes: 4869,
      responseBytes: responseBytes,
      initiation: '6f95b8c474afd2380bd4abff439607e0',
      response: 'd2e9abb5309f02941ee9231bad6dda39',
      sendKey: '77a8e64501e607156cb3f6905567fa13',
      receiveKey: 'e9f5d9c1033ab62a7aa3363238b8b763',
    });
  });
});

describe('the responder drops, without answering, anything that does not authenticate', () => {
  const aliceConfig = testConfig(alice, 'flip alice');
  const pending = createInitiation(aliceConfig, credentialOf(bob), t0);
  const initiation = initiationToSend(pending, t0);

  it('every flipped bit of an initiation (mac2 included) is dropped', () => {
    const responder = new Responder(testConfig(bob, 'flip bob'));
    const codes = new Set<string>();
    for (let bit = 0; bit < initiation.length * 8; bit++) {
      const flipped = initiation.slice();
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      const outcome = responder.handleInitiation(flipped, address, t0, false);
      expect(outcome.kind).toBe('drop');
      codes.add(dropCode(outcome));
    }
    expect([...codes].sort()).toEqual([HandshakeErrorCode.ERR_HANDSHAKE_FORMAT, HandshakeErrorCode.ERR_HANDSHAKE_MAC].sort());
    // Nothing was recorded: the genuine initiation still goes through.
    expect(responder.handleInitiation(initiation, address, t0, false).kind).toBe('response');
  });

  it('every flipped bit of a response is refused, and the genuine response still completes afterwards', () => {
    const config = testConfig(alice, 'response flips alice');
    const mine = createInitiation(config, credentialOf(bob), t0);
    const answer = respondOrFail(new Responder(testConfig(bob, 'response flips bob')).handleInitiation(initiationToSend(mine, t0), address, t0, false));
    for (let bit = 0; bit < answer.message.length * 8; bit += 1) {
      const flipped = answer.message.slice();
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      // Bits in mac2 are not covered by the initiator (the responder never sets a cookie on a response).
      if ((bit >> 3) >= answer.message.length - 16) continue;
      expect(() => consumeResponse(config, mine, flipped, t0)).toThrow(expect.objectContaining({ name: 'HandshakeError' }) as Error);
    }
    expect(consumeResponse(config, mine, answer.message, t0).sendKey).toEqual(answer.keys.receiveKey);
  });

  it('drops a replayed initiation and an older one from the same identity (ERR_HANDSHAKE_REPLAY)', () => {
    const responder = new Responder(testConfig(bob, 'replay bob'));
    const older = initiationToSend(createInitiation(testConfig(alice, 'replay older'), credentialOf(bob), t0 - 1000), t0 - 1000);
    expect(responder.handleInitiation(initiation, address, t0, false).kind).toBe('response');
    expect(dropCode(responder.handleInitiation(initiation, address, t0 + 10, false))).toBe(HandshakeErrorCode.ERR_HANDSHAKE_REPLAY);
    expect(dropCode(responder.handleInitiation(older, address, t0 + 10, false))).toBe(HandshakeErrorCode.ERR_HANDSHAKE_REPLAY);
    expect(responder.lastTimestampMs.get(alice.spiffeId)).toBe(t0);
  });

  it('drops an initiation stamped outside the freshness window either way (ERR_HANDSHAKE_STALE)', () => {
    const responder = new Responder(testConfig(bob, 'stale bob'));
    expect(dropCode(responder.handleInitiation(initiation, address, t0 + initiationFreshnessMs + 1, false))).toBe(HandshakeErrorCode.ERR_HANDSHAKE_STALE);
    expect(dropCode(responder.handleInitiation(initiation, address, t0 - initiationFreshnessMs - 1, false))).toBe(HandshakeErrorCode.ERR_HANDSHAKE_STALE);
    expect(responder.handleInitiation(initiation, address, t0 + initiationFreshnessMs, false).kind).toBe('response');
  });

  it('drops initiators whose certificate is revoked, from another trust domain, or malformed', () => {
    const revoked = new Responder(testConfig(bob, 'revoked bob', new Set([alice.spiffeId])));
    const outcome = revoked.handleInitiation(initiation, address, t0, false);
    expect(dropCode(outcome)).toBe(HandshakeErrorCode.ERR_HANDSHAKE_CERTIFICATE);
    expect(outcome.kind === 'drop' && outcome.error.message).toMatch(/revoked/);
    const stranger = testIdentity('spiffe://other.test/node/00000009', 'stranger');
    const fromStranger = initiationToSend(createInitiation(testConfig(stranger, 'stranger run'), credentialOf(bob), t0), t0);
    expect(dropCode(new Responder(testConfig(bob, 'td bob')).handleInitiation(fromStranger, address, t0, false))).toBe(HandshakeErrorCode.ERR_HANDSHAKE_CERTIFICATE);
  });

  it('drops an initiation meant for another static key at mac1, before any KEM work', () => {
    const carol = testIdentity('spiffe://mesh.test/node/00000003', 'carol static');
    expect(dropCode(new Responder(testConfig(carol, 'carol run')).handleInitiation(initiation, address, t0, false))).toBe(HandshakeErrorCode.ERR_HANDSHAKE_MAC);
  });

  it('drops an initiation made with another prologue (another network) at decryption', () => {
    const otherNetwork = { ...testConfig(alice, 'prologue alice'), prologue: new TextEncoder().encode('other.net') };
    const message = initiationToSend(createInitiation(otherNetwork, credentialOf(bob), t0), t0);
    expect(dropCode(new Responder(testConfig(bob, 'prologue bob')).handleInitiation(message, address, t0, false))).toBe(HandshakeErrorCode.ERR_HANDSHAKE_DECRYPT);
  });

  it('drops truncated, oversized, empty and wrong-type messages as ERR_HANDSHAKE_FORMAT', () => {
    const responder = new Responder(testConfig(bob, 'format bob'));
    for (const message of [initiation.subarray(0, 100), new Uint8Array(30_000), new Uint8Array(0), Uint8Array.of(2, ...initiation.subarray(1))]) {
      expect(dropCode(responder.handleInitiation(message, address, t0, false))).toBe(HandshakeErrorCode.ERR_HANDSHAKE_FORMAT);
    }
    const lying = initiation.slice();
    lying[1 + 4 + 1216 + 1120]! ^= 0x01;
    expect(responder.handleInitiation(lying, address, t0, false).kind).toBe('drop');
  });

  it('never shows the initiator identity to an observer of the initiation', () => {
    expect(Buffer.from(initiation).includes(Buffer.from('node/00000001'))).toBe(false);
    expect(Buffer.from(initiation).includes(Buffer.from(alice.staticKey.publicKey.subarray(0, 64)))).toBe(false);
  });
});

describe('the initiator refuses responses that are not for it', () => {
  const config = testConfig(alice, 'state alice');
  const mine = createInitiation(config, credentialOf(bob), t0);
  const answer = respondOrFail(new Responder(testConfig(bob, 'state bob')).handleInitiation(initiationToSend(mine, t0), address, t0, false));

  it('a response to another initiation (other index) is ERR_HANDSHAKE_STATE', () => {
    const other = createInitiation(config, credentialOf(bob), t0);
    expect(() => consumeResponse(config, other, answer.message, t0)).toThrow(expect.objectContaining({ code: HandshakeErrorCode.ERR_HANDSHAKE_STATE }) as Error);
  });

  it('a response of the wrong size is ERR_HANDSHAKE_FORMAT', () => {
    expect(() => consumeResponse(config, mine, answer.message.subarray(1), t0)).toThrow(/response: expected 2297 bytes, got 2296/);
    expect(() => consumeResponse(config, mine, Uint8Array.of(1, ...answer.message.subarray(1)), t0)).toThrow(/expected type 2, got 1/);
  });
});

describe('cookies under load', () => {
  it('answers an initiation without mac2 with a cookie, then accepts it with mac2 from the same address only', () => {
    const config = testConfig(alice, 'cookie alice');
    const responder = new Responder(testConfig(bob, 'cookie bob'));
    const pending = createInitiation(config, credentialOf(bob), t0);
    const first = responder.handleInitiation(initiationToSend(pending, t0), address, t0, true);
    if (first.kind !== 'cookie') throw new Error(`expected a cookie reply, got ${first.kind}`);
    expect(first.message.length).toBe(cookieReplyBytes);
    consumeCookieReply(pending, first.message, t0 + 1);
    const withMac2 = initiationToSend(pending, t0 + 2);
    expect(responder.handleInitiation(withMac2, new TextEncoder().encode('10.0.0.2:4500'), t0 + 3, true).kind).toBe('cookie');
    expect(responder.handleInitiation(withMac2, address, t0 + 3, true).kind).toBe('response');
  });

  it('stops using a cookie after cookieUseMs, and the responder still accepts a cookie of its previous secret', () => {
    const config = testConfig(alice, 'cookie age alice');
    const responder = new Responder(testConfig(bob, 'cookie age bob'));
    // The responder's first secret is made 100 s before t0, so it rotates at t0 + 20 s.
    const early = createInitiation(config, credentialOf(bob), t0 - 100_000);
    expect(responder.handleInitiation(initiationToSend(early, t0 - 100_000), address, t0 - 100_000, true).kind).toBe('cookie');
    const pending = createInitiation(config, credentialOf(bob), t0);
    const reply = responder.handleInitiation(initiationToSend(pending, t0), address, t0, true);
    consumeCookieReply(pending, reply.kind === 'cookie' ? reply.message : new Uint8Array(0), t0);
    const late = initiationToSend(pending, t0 + cookieUseMs);
    expect(late.subarray(late.length - 16).every((byte) => byte === 0)).toBe(true);
    expect(responder.handleInitiation(initiationToSend(pending, t0 + 30_000), address, t0 + 30_000, true).kind).toBe('response');
  });

  it('refuses a cookie reply for another initiation or one that was altered', () => {
    const config = testConfig(alice, 'cookie refuse alice');
    const responder = new Responder(testConfig(bob, 'cookie refuse bob'));
    const pending = createInitiation(config, credentialOf(bob), t0);
    const other = createInitiation(config, credentialOf(bob), t0);
    const reply = responder.handleInitiation(initiationToSend(pending, t0), address, t0, true);
    const bytes = reply.kind === 'cookie' ? reply.message : new Uint8Array(cookieReplyBytes);
    expect(() => consumeCookieReply(other, bytes, t0)).toThrow(expect.objectContaining({ code: HandshakeErrorCode.ERR_HANDSHAKE_STATE }) as Error);
    const altered = bytes.slice();
    altered[20]! ^= 1;
    expect(() => consumeCookieReply(pending, altered, t0)).toThrow(expect.objectContaining({ code: HandshakeErrorCode.ERR_HANDSHAKE_DECRYPT }) as Error);
    expect(() => consumeCookieReply(pending, bytes.subarray(1), t0)).toThrow(expect.objectContaining({ code: HandshakeErrorCode.ERR_HANDSHAKE_FORMAT }) as Error);
  });

  it('drops a wrong mac2 when not under load (no bit goes unchecked)', () => {
    const pending = createInitiation(testConfig(alice, 'mac2 alice'), credentialOf(bob), t0);
    const message = initiationToSend(pending, t0);
    message[message.length - 1] = 7;
    expect(dropCode(new Responder(testConfig(bob, 'mac2 bob')).handleInitiation(message, address, t0, false))).toBe(HandshakeErrorCode.ERR_HANDSHAKE_MAC);
  });
});

describe('bad local input', () => {
  it('refuses to start with an empty or oversized certificate, naming the limit', () => {
    const empty = { ...testConfig(alice, 'empty cert'), local: { ...alice, certificate: new Uint8Array(0) } };
    expect(() => createInitiation(empty, credentialOf(bob), t0)).toThrow(/expected a certificate of 1\.\.16384 bytes, got 0/);
    const huge = { ...testConfig(alice, 'huge cert'), local: { ...alice, certificate: new Uint8Array(16_385) } };
    expect(() => createInitiation(huge, credentialOf(bob), t0)).toThrow(/got 16385/);
  });

  it('reports a verifier that throws a non-Error value as a certificate refusal', () => {
    const config = { ...testConfig(bob, 'odd verifier bob'), verifier: { verify: (): never => { throw 'no'; } } };
    const message = initiationToSend(createInitiation(testConfig(alice, 'odd verifier alice'), credentialOf(bob), t0), t0);
    const outcome = new Responder(config).handleInitiation(message, address, t0, false);
    expect(outcome.kind === 'drop' && outcome.error.message).toMatch(/certificate refused: no/);
  });
});

describe('review findings', () => {
  it('binds the responder identity: a key certified under another name cannot stand in for it (unknown key share)', () => {
    // Mallory enrolls Bob's public X-Wing key under her own name; Alice initiates "to Mallory".
    const mallory = { spiffeId: 'spiffe://mesh.test/node/00000066', staticPublicKey: bob.staticKey.publicKey };
    const pending = createInitiation(testConfig(alice, 'uks alice'), mallory, t0);
    const outcome = new Responder(testConfig(bob, 'uks bob')).handleInitiation(initiationToSend(pending, t0), address, t0, false);
    expect(dropCode(outcome)).toBe(HandshakeErrorCode.ERR_HANDSHAKE_DECRYPT);
  });

  it('drops an initiation whose KEM ciphertext carries a low-order X25519 point instead of throwing', () => {
    const pending = createInitiation(testConfig(alice, 'kem alice'), credentialOf(bob), t0);
    const message = initiationToSend(pending, t0);
    // Zero the X25519 half of the static ciphertext, then fix mac1 so the KEM step is reached.
    message.fill(0, 1 + 4 + 1216 + 1088, 1 + 4 + 1216 + 1120);
    const outcome = new Responder(testConfig(bob, 'kem bob')).handleInitiation(remac(message, bob.staticKey.publicKey), address, t0, false);
    expect(dropCode(outcome)).toBe(HandshakeErrorCode.ERR_HANDSHAKE_KEM);
  });

  it('refuses a response whose ciphertext carries a low-order X25519 point with ERR_HANDSHAKE_KEM', () => {
    const config = testConfig(alice, 'kem response alice');
    const pending = createInitiation(config, credentialOf(bob), t0);
    const answer = new Responder(testConfig(bob, 'kem response bob')).handleInitiation(initiationToSend(pending, t0), address, t0, false);
    if (answer.kind !== 'response') throw new Error('expected a response');
    const forged = answer.message.slice();
    forged.fill(0, 9 + 1088, 9 + 1120);
    expect(() => consumeResponse(config, pending, remac(forged, alice.staticKey.publicKey), t0)).toThrow(expect.objectContaining({ code: HandshakeErrorCode.ERR_HANDSHAKE_KEM }) as Error);
  });

  it('refuses to initiate to a static key whose X25519 half is a low-order point', () => {
    const broken = credentialOf(bob);
    const key = broken.staticPublicKey.slice();
    key.fill(0, 1184);
    expect(() => createInitiation(testConfig(alice, 'bad key alice'), { ...broken, staticPublicKey: key }, t0)).toThrow(expect.objectContaining({ code: HandshakeErrorCode.ERR_HANDSHAKE_KEM }) as Error);
  });

  it('asks the load function only once mac1 verified', () => {
    let asked = 0;
    const responder = new Responder(testConfig(bob, 'load bob'));
    responder.handleInitiation(new Uint8Array(3000).fill(1), address, t0, () => (asked++, true));
    expect(asked).toBe(0);
    const outcome = responder.handleInitiation(initiationToSend(createInitiation(testConfig(alice, 'load alice'), credentialOf(bob), t0), t0), address, t0, () => (asked++, true));
    expect([asked, outcome.kind]).toEqual([1, 'cookie']);
  });
});

/** Recomputes mac1 (keyed by `receiverKey`) over an edited handshake message; mac2 stays zero. */
function remac(message: Uint8Array, receiverKey: Uint8Array): Uint8Array {
  const out = message.slice();
  const mac1At = out.length - 32;
  const key = sha256(new TextEncoder().encode('mac1----'), receiverKey);
  out.set(hmacSha256(key, out.subarray(0, mac1At)).subarray(0, 16), mac1At);
  out.fill(0, mac1At + 16);
  return out;
}
