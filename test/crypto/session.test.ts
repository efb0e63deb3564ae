import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aeadSeal, type AeadName } from '../../src/crypto/aead.js';
import { replayLagPacketsMax } from '../../src/crypto/replay-window.js';
import {
  isRekeyDue,
  isSessionExpired,
  rejectAfterMessages,
  rejectAfterMs,
  rekeyAfterMessages,
  rekeyAfterMs,
  rekeyResponderGraceMs,
  Session,
  sessionNonce,
  type SessionKeys,
} from '../../src/crypto/session.js';
import { toHex } from './vectors.js';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const codeOf = (code: string): Error => expect.objectContaining({ code }) as Error;

/** Handshake time on the injected clock; every test reads time as startMs + an offset. */
const startMs = 1_000_000;
const initiatorToResponderKey = new Uint8Array(32).fill(0x11);
const responderToInitiatorKey = new Uint8Array(32).fill(0x22);

const initiatorKeys: SessionKeys = {
  sendKey: initiatorToResponderKey,
  receiveKey: responderToInitiatorKey,
  localIndex: 7,
  remoteIndex: 0xffff_ffff,
  isInitiator: true,
  establishedAtMs: startMs,
};
const responderKeys: SessionKeys = {
  sendKey: responderToInitiatorKey,
  receiveKey: initiatorToResponderKey,
  localIndex: 0xffff_ffff,
  remoteIndex: 7,
  isInitiator: false,
  establishedAtMs: startMs,
};

/** Two ends of one handshake; the responder is confirmed by one packet from the initiator unless told not to. */
function pair(aead: AeadName = 'chacha20-poly1305', confirm = true): { initiator: Session; responder: Session } {
  const initiator = new Session(initiatorKeys, aead);
  const responder = new Session(responderKeys, aead);
  if (confirm) {
    const first = initiator.seal(startMs, utf8('confirm'));
    responder.open(startMs, first.counter, first.sealed);
  }
  return { initiator, responder };
}

/** What the initiator would send under `counter`, built directly from the AEAD (stands in for a peer far along). */
function initiatorPacketAt(counter: number, plaintext: string, aead: AeadName = 'chacha20-poly1305'): Uint8Array {
  return aeadSeal(aead, initiatorToResponderKey, sessionNonce(counter), utf8(plaintext), new Uint8Array(0));
}

describe('sessionNonce (WireGuard construction)', () => {
  it('is 4 zero bytes then the counter as 64-bit little-endian', () => {
    expect(toHex(sessionNonce(0))).toBe('000000000000000000000000');
    expect(toHex(sessionNonce(0x01_0203_0405))).toBe('000000000504030201000000');
    expect(toHex(sessionNonce(2 ** 52 - 1))).toBe('00000000ffffffffffff0f00');
    expect(toHex(sessionNonce(Number.MAX_SAFE_INTEGER))).toBe('00000000ffffffffffff1f00');
  });

  it('matches a BigInt encoding for every safe counter', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (counter) => {
        const expected = new Uint8Array(12);
        new DataView(expected.buffer).setBigUint64(4, BigInt(counter), true);
        expect(toHex(sessionNonce(counter))).toBe(toHex(expected));
      }),
    );
  });

  it.each([-1, 0.5, Number.NaN, 2 ** 53])('refuses counter %s with a RangeError naming it', (counter) => {
    expect(() => sessionNonce(counter)).toThrow(`sessionNonce: expected a counter that is an integer in 0..2^53-1, got ${counter}`);
  });
});

describe.each(['chacha20-poly1305', 'aes-256-gcm'] as const)('Session with %s', (aead) => {
  it('talks both ways with counters from 0, and seals exactly as the AEAD with the counter nonce', () => {
    const { initiator, responder } = pair(aead, false);
    for (let round = 0; round < 3; round++) {
      const ping = initiator.seal(startMs + round, utf8(`ping ${round}`), utf8('hdr'));
      expect(ping.counter).toBe(round);
      expect(toHex(ping.sealed)).toBe(
        toHex(aeadSeal(aead, initiatorToResponderKey, sessionNonce(round), utf8(`ping ${round}`), utf8('hdr'))),
      );
      expect(text(responder.open(startMs + round, ping.counter, ping.sealed, utf8('hdr')))).toBe(`ping ${round}`);
      const pong = responder.seal(startMs + round, utf8(`pong ${round}`));
      expect(pong.counter).toBe(round);
      expect(text(initiator.open(startMs + round, pong.counter, pong.sealed))).toBe(`pong ${round}`);
    }
    for (const session of [initiator, responder]) {
      expect([session.packetsSent, session.packetsReceived, session.replaysRefused, session.authFailures]).toEqual([3, 3, 0, 0]);
      expect(session.aead).toBe(aead);
    }
  });

  it('refuses a flipped bit anywhere without burning the counter: the genuine packet opens afterwards', () => {
    const { initiator, responder } = pair(aead);
    const genuine = initiator.seal(startMs, utf8('payload'), utf8('hdr'));
    const bits = genuine.sealed.length * 8;
    for (let bit = 0; bit < bits; bit++) {
      const forged = genuine.sealed.slice();
      forged[bit >> 3]! ^= 1 << (bit & 7);
      expect(() => responder.open(startMs, genuine.counter, forged, utf8('hdr'))).toThrow(codeOf('ERR_CRYPTO_AEAD_AUTH'));
    }
    expect(() => responder.open(startMs, genuine.counter, genuine.sealed, utf8('hdx'))).toThrow(codeOf('ERR_CRYPTO_AEAD_AUTH'));
    expect(() => responder.open(startMs, genuine.counter + 1, genuine.sealed, utf8('hdr'))).toThrow(codeOf('ERR_CRYPTO_AEAD_AUTH'));
    expect(() => responder.open(startMs, genuine.counter, genuine.sealed.subarray(0, 15), utf8('hdr'))).toThrow(/at least 16 bytes/);
    expect(responder.authFailures).toBe(bits + 3);
    expect(text(responder.open(startMs, genuine.counter, genuine.sealed, utf8('hdr')))).toBe('payload');
    const next = initiator.seal(startMs, utf8('next'), utf8('hdr'));
    expect(text(responder.open(startMs, next.counter, next.sealed, utf8('hdr')))).toBe('next');
    expect([responder.packetsReceived, responder.replaysRefused]).toEqual([3, 0]);
  });
});

describe('Session replay protection', () => {
  it('refuses a replayed packet before decrypting, naming the counter', () => {
    const { initiator, responder } = pair();
    const packet = initiator.seal(startMs, utf8('once'));
    responder.open(startMs, packet.counter, packet.sealed);
    expect(() => responder.open(startMs, packet.counter, packet.sealed)).toThrow(codeOf('ERR_SESSION_REPLAY'));
    expect(() => responder.open(startMs, packet.counter, packet.sealed)).toThrow(/got 1, already accepted/);
    // Garbage under a used counter is a replay, not an auth failure: the window is checked first.
    expect(() => responder.open(startMs, 0, new Uint8Array(3))).toThrow(codeOf('ERR_SESSION_REPLAY'));
    expect([responder.replaysRefused, responder.authFailures, responder.packetsReceived]).toEqual([3, 0, 2]);
  });

  it('accepts packets out of order within the window, each once', () => {
    const { initiator, responder } = pair();
    const packets = [0, 1, 2, 3, 4].map((i) => initiator.seal(startMs, utf8(`p${i}`)));
    for (const i of [4, 0, 2, 1, 3]) {
      const packet = packets[i]!;
      expect(text(responder.open(startMs, packet.counter, packet.sealed))).toBe(`p${i}`);
    }
    for (const packet of packets) expect(() => responder.open(startMs, packet.counter, packet.sealed)).toThrow(codeOf('ERR_SESSION_REPLAY'));
  });

  it('refuses a counter more than 8160 behind the highest and accepts one exactly 8160 behind', () => {
    const { responder } = pair();
    const highest = 20_000;
    responder.open(startMs, highest, initiatorPacketAt(highest, 'far ahead'));
    const edge = highest - replayLagPacketsMax;
    expect(text(responder.open(startMs, edge, initiatorPacketAt(edge, 'edge')))).toBe('edge');
    expect(() => responder.open(startMs, edge - 1, initiatorPacketAt(edge - 1, 'old'))).toThrow(/got 11839, more than 8160 behind/);
  });
});

describe('Session.openInto (one buffer for every packet)', () => {
  for (const aead of ['chacha20-poly1305', 'aes-256-gcm'] as const) {
    it(`writes the plaintext where asked and returns its length, with open's refusals (${aead})`, () => {
      const { initiator, responder } = pair(aead);
      const out = new Uint8Array(64).fill(0xaa);
      const packet = initiator.seal(startMs, utf8('into a buffer'));
      expect(responder.openInto(startMs, packet.counter, packet.sealed, out, 3)).toBe(13);
      expect(text(out.subarray(3, 16))).toBe('into a buffer');
      expect(out[2]).toBe(0xaa);
      expect(() => responder.openInto(startMs, packet.counter, packet.sealed, out)).toThrow(codeOf('ERR_SESSION_REPLAY'));
      const forged = initiator.seal(startMs, utf8('forged'));
      forged.sealed[0]! ^= 1;
      const before = out.slice();
      expect(() => responder.openInto(startMs, forged.counter, forged.sealed, out)).toThrow(codeOf('ERR_CRYPTO_AEAD_AUTH'));
      expect(out).toEqual(before);
      // A buffer too short is the caller's bug: a RangeError, and the counter is not used up.
      const next = initiator.seal(startMs, utf8('too long for it'));
      expect(() => responder.openInto(startMs, next.counter, next.sealed, new Uint8Array(4))).toThrow(RangeError);
      expect(responder.openInto(startMs, next.counter, next.sealed, out)).toBe(15);
      expect([responder.replaysRefused, responder.authFailures, responder.packetsReceived]).toEqual([1, 1, 3]);
    });
  }
});

describe('Session keys per direction', () => {
  it('opens a packet only at the peer: neither end opens its own packets', () => {
    const { initiator, responder } = pair();
    const fromInitiator = initiator.seal(startMs, utf8('a'));
    responder.seal(startMs, utf8('b0')); // counter 0 is spent at the responder by the confirming packet
    const fromResponder = responder.seal(startMs, utf8('b'));
    expect(() => initiator.open(startMs, fromInitiator.counter, fromInitiator.sealed)).toThrow(codeOf('ERR_CRYPTO_AEAD_AUTH'));
    expect(() => responder.open(startMs, fromResponder.counter, fromResponder.sealed)).toThrow(codeOf('ERR_CRYPTO_AEAD_AUTH'));
    expect(text(responder.open(startMs, fromInitiator.counter, fromInitiator.sealed))).toBe('a');
    expect(text(initiator.open(startMs, fromResponder.counter, fromResponder.sealed))).toBe('b');
  });

  it('does not open what another AEAD sealed under the same keys', () => {
    const initiator = new Session(initiatorKeys, 'aes-256-gcm');
    const responder = new Session(responderKeys);
    const packet = initiator.seal(startMs, utf8('x'));
    expect(() => responder.open(startMs, packet.counter, packet.sealed)).toThrow(codeOf('ERR_CRYPTO_AEAD_AUTH'));
  });

  it('copies the keys: changing the caller’s arrays afterwards changes nothing', () => {
    const sendKey = initiatorToResponderKey.slice();
    const initiator = new Session({ ...initiatorKeys, sendKey });
    sendKey.fill(0);
    const responder = new Session(responderKeys);
    const packet = initiator.seal(startMs, utf8('x'));
    expect(text(responder.open(startMs, packet.counter, packet.sealed))).toBe('x');
  });
});

describe('Session confirmation', () => {
  it('an initiator is confirmed from the start; a responder refuses to seal until a packet from the initiator opened', () => {
    const { initiator, responder } = pair('chacha20-poly1305', false);
    expect(initiator.confirmed).toBe(true);
    expect(responder.confirmed).toBe(false);
    expect(() => responder.seal(startMs, utf8('too early'))).toThrow(codeOf('ERR_SESSION_UNCONFIRMED'));
    expect(() => responder.seal(startMs, utf8('too early'))).toThrow(/Session\.seal: expected a confirmed session/);
    const packet = initiator.seal(startMs, utf8('hello'));
    const forged = packet.sealed.slice();
    forged[0]! ^= 1;
    expect(() => responder.open(startMs, packet.counter, forged)).toThrow(codeOf('ERR_CRYPTO_AEAD_AUTH'));
    expect(responder.confirmed).toBe(false);
    expect(responder.packetsSent).toBe(0);
    responder.open(startMs, packet.counter, packet.sealed);
    expect(responder.confirmed).toBe(true);
    expect(responder.seal(startMs, utf8('now')).counter).toBe(0);
  });
});

describe('Session time limits (injected clock)', () => {
  it('exports the WireGuard times and a responder grace that ends before expiry', () => {
    expect([rekeyAfterMs, rejectAfterMs, rekeyResponderGraceMs]).toEqual([120_000, 180_000, 10_000]);
    expect(rekeyAfterMs + rekeyResponderGraceMs).toBeLessThan(rejectAfterMs);
  });

  it('the initiator needs a rekey from 120 000 ms, not at 119 999 ms', () => {
    const { initiator } = pair();
    expect(initiator.needsRekey(startMs)).toBe(false);
    expect(initiator.needsRekey(startMs + rekeyAfterMs - 1)).toBe(false);
    expect(initiator.needsRekey(startMs + rekeyAfterMs)).toBe(true);
  });

  it('the responder needs a rekey only from 130 000 ms', () => {
    const { responder } = pair();
    expect(responder.needsRekey(startMs + rekeyAfterMs)).toBe(false);
    expect(responder.needsRekey(startMs + rekeyAfterMs + rekeyResponderGraceMs - 1)).toBe(false);
    expect(responder.needsRekey(startMs + rekeyAfterMs + rekeyResponderGraceMs)).toBe(true);
  });

  it('seals and opens at 179 999 ms and refuses both at 180 000 ms with ERR_SESSION_EXPIRED', () => {
    const { initiator, responder } = pair();
    const lastMs = startMs + rejectAfterMs - 1;
    const late = initiator.seal(lastMs, utf8('late'));
    const tooLate = initiator.seal(lastMs, utf8('too late'));
    expect(text(responder.open(lastMs, late.counter, late.sealed))).toBe('late');
    expect([initiator.isExpired(lastMs), initiator.isExpired(lastMs + 1)]).toEqual([false, true]);
    expect(() => initiator.seal(lastMs + 1, utf8('x'))).toThrow(codeOf('ERR_SESSION_EXPIRED'));
    expect(() => initiator.seal(lastMs + 1, utf8('x'))).toThrow(/Session\.seal: expected a session younger than 180000 ms .* got 180000 ms and 3 packets/);
    expect(() => responder.open(lastMs + 1, tooLate.counter, tooLate.sealed)).toThrow(/Session\.open: expected a session younger than 180000 ms/);
    expect(initiator.packetsSent).toBe(3);
  });

  it.each([startMs - 1, Number.NaN, Number.POSITIVE_INFINITY])('treats a nowMs of %s (before the handshake or not a time) as a driver bug', (nowMs) => {
    const { initiator } = pair();
    expect(() => initiator.needsRekey(nowMs)).toThrow(RangeError);
    expect(() => initiator.seal(nowMs, utf8('x'))).toThrow(`expected a finite nowMs >= establishedAtMs (${startMs}), got ${nowMs}`);
  });
});

describe('Session message limits (pure decisions used by seal and needsRekey)', () => {
  it('chooses 2^48 for rekey and 2^52 for reject, both exact as Numbers', () => {
    expect([rekeyAfterMessages, rejectAfterMessages]).toEqual([2 ** 48, 2 ** 52]);
    expect(rejectAfterMessages).toBeLessThan(Number.MAX_SAFE_INTEGER);
  });

  it('isRekeyDue: by count on both ends exactly at 2^48, by age per role', () => {
    for (const isInitiator of [true, false]) {
      expect(isRekeyDue(0, rekeyAfterMessages - 1, isInitiator)).toBe(false);
      expect(isRekeyDue(0, rekeyAfterMessages, isInitiator)).toBe(true);
    }
    expect(isRekeyDue(rekeyAfterMs - 1, 0, true)).toBe(false);
    expect(isRekeyDue(rekeyAfterMs, 0, true)).toBe(true);
    expect(isRekeyDue(rekeyAfterMs + rekeyResponderGraceMs - 1, 0, false)).toBe(false);
    expect(isRekeyDue(rekeyAfterMs + rekeyResponderGraceMs, 0, false)).toBe(true);
  });

  it('isSessionExpired: exactly at 2^52 packets sent or 180 000 ms of age', () => {
    expect(isSessionExpired(0, rejectAfterMessages - 1)).toBe(false);
    expect(isSessionExpired(0, rejectAfterMessages)).toBe(true);
    expect(isSessionExpired(rejectAfterMs - 1, 0)).toBe(false);
    expect(isSessionExpired(rejectAfterMs, 0)).toBe(true);
  });
});

describe('Session counter validation', () => {
  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 52, 2 ** 53])('refuses counter %s with ERR_SESSION_COUNTER naming it', (counter) => {
    const { responder } = pair();
    expect(() => responder.open(startMs, counter, new Uint8Array(16))).toThrow(codeOf('ERR_SESSION_COUNTER'));
    expect(() => responder.open(startMs, counter, new Uint8Array(16))).toThrow(
      `Session.open: expected a counter that is an integer in 0..4503599627370495, got ${counter}`,
    );
    expect([responder.authFailures, responder.replaysRefused]).toEqual([0, 0]);
  });

  it('accepts the last counter, 2^52 - 1', () => {
    const { responder } = pair();
    const last = rejectAfterMessages - 1;
    expect(text(responder.open(startMs, last, initiatorPacketAt(last, 'last')))).toBe('last');
  });
});

describe('Session construction', () => {
  it('refuses keys of the wrong length, naming the key', () => {
    expect(() => new Session({ ...initiatorKeys, sendKey: new Uint8Array(31) })).toThrow(/Session: sendKey: expected 32 bytes, got 31/);
    expect(() => new Session({ ...initiatorKeys, receiveKey: new Uint8Array(33) })).toThrow(codeOf('ERR_CRYPTO_LENGTH'));
  });

  it('refuses an AEAD it does not offer', () => {
    expect(() => new Session(initiatorKeys, 'rot13' as AeadName)).toThrow(codeOf('ERR_CRYPTO_ALGORITHM'));
    expect(() => new Session(initiatorKeys, 'rot13' as AeadName)).toThrow(/Session: expected chacha20-poly1305 or aes-256-gcm, got rot13/);
  });

  it.each([
    ['localIndex', -1],
    ['remoteIndex', 2 ** 32],
    ['localIndex', 1.5],
  ])('refuses %s = %s (the handshake hands uint32 indexes)', (name, value) => {
    expect(() => new Session({ ...initiatorKeys, [name]: value })).toThrow(`Session: expected ${name} to be an integer in 0..2^32-1, got ${value}`);
  });

  it('refuses an establishedAtMs that is not finite and keeps the handshake facts', () => {
    expect(() => new Session({ ...initiatorKeys, establishedAtMs: Number.NaN })).toThrow(/expected a finite establishedAtMs, got NaN/);
    const session = new Session(responderKeys);
    expect([session.localIndex, session.remoteIndex, session.isInitiator, session.establishedAtMs]).toEqual([0xffff_ffff, 7, false, startMs]);
  });
});

describe('Session under reordering, duplication and forgery', () => {
  it('opens every distinct genuine packet exactly once and nothing else', () => {
    const delivery = fc.record({ index: fc.nat({ max: 39 }), forge: fc.boolean() });
    fc.assert(
      fc.property(fc.array(delivery, { maxLength: 120 }), (deliveries) => {
        const { initiator, responder } = pair();
        const packets = Array.from({ length: 40 }, (_, i) => initiator.seal(startMs, utf8(`m${i}`)));
        const opened = new Set<number>();
        for (const { index, forge } of deliveries) {
          const packet = packets[index]!;
          const bytes = forge ? Uint8Array.from(packet.sealed, (byte, at) => (at === 0 ? byte ^ 0x80 : byte)) : packet.sealed;
          const expectOpen = !forge && !opened.has(index);
          if (expectOpen) {
            expect(text(responder.open(startMs, packet.counter, bytes))).toBe(`m${index}`);
            opened.add(index);
          } else {
            // The window is checked first: a counter already opened is a replay even when the bytes are forged.
            const code = opened.has(index) ? 'ERR_SESSION_REPLAY' : 'ERR_CRYPTO_AEAD_AUTH';
            expect(() => responder.open(startMs, packet.counter, bytes)).toThrow(codeOf(code));
          }
        }
        expect(responder.packetsReceived).toBe(1 + opened.size);
      }),
      { numRuns: 100 },
    );
  });
});
