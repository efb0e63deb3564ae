import { randomBytes } from 'node:crypto';
import type { AeadName } from '../src/crypto/aead.js';
import { Session } from '../src/crypto/session.js';

/** Payload of one data packet (bytes) and how long each AEAD is driven. */
const packetBytes = 1200;
const runMs = 2000;
/** Transport header every data packet carries besides the AEAD tag: receiver index (4) and counter (8). */
const headerBytes = 4 + 8;

/** A pair of sessions keyed as a handshake would key them. */
function sessionPair(aead: AeadName): [Session, Session] {
  const a = new Uint8Array(randomBytes(32));
  const b = new Uint8Array(randomBytes(32));
  const initiator = new Session({ sendKey: a, receiveKey: b, localIndex: 1, remoteIndex: 2, isInitiator: true, establishedAtMs: 0 }, aead);
  const responder = new Session({ sendKey: b, receiveKey: a, localIndex: 2, remoteIndex: 1, isInitiator: false, establishedAtMs: 0 }, aead);
  return [initiator, responder];
}

/** Seal at one end and open at the other for runMs; returns MB/s of payload and packets/s. */
function throughput(aead: AeadName): { mbPerS: number; packetsPerS: number; overheadBytes: number } {
  const [sender, receiver] = sessionPair(aead);
  const payload = new Uint8Array(randomBytes(packetBytes));
  let packets = 0;
  let overheadBytes = 0;
  const started = performance.now();
  while (performance.now() - started < runMs) {
    for (let i = 0; i < 256; i++) {
      const { counter, sealed } = sender.seal(1, payload);
      receiver.open(1, counter, sealed);
      overheadBytes = sealed.length - payload.length + headerBytes;
    }
    packets += 256;
  }
  const seconds = (performance.now() - started) / 1000;
  return { mbPerS: Math.round((packets * packetBytes) / seconds / 1e5) / 10, packetsPerS: Math.round(packets / seconds), overheadBytes };
}

/** AEAD seal+open throughput through the session layer for 1200-byte packets, both AEADs. */
export async function run(): Promise<{ figures: Record<string, number | null>; details: unknown }> {
  const chacha = throughput('chacha20-poly1305');
  const gcm = throughput('aes-256-gcm');
  const figures = {
    aeadMbPerS1200B: chacha.mbPerS,
    overheadBytesPerPacket: chacha.overheadBytes,
    packetsPerS1200BChaCha20Poly1305: chacha.packetsPerS,
    aeadMbPerS1200BAes256Gcm: gcm.mbPerS,
    packetsPerS1200BAes256Gcm: gcm.packetsPerS,
  };
  const note = 'seal at one Session and open at its peer, one thread; MB/s of payload; overhead = 16-byte tag + 12-byte header (receiver index, counter), before obfuscation padding';
  return await Promise.resolve({ figures, details: { packetBytes, runMs, note } });
}
