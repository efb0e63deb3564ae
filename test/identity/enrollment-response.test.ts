import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aeadSeal } from '../../src/crypto/aead.js';
import { hkdfSha256, sha256 } from '../../src/crypto/hash.js';
import { xwingCiphertextBytes, xwingEncapsulate, xwingExpand } from '../../src/crypto/xwing.js';
import { createCa, issueSvid, nodeKeysFromSeeds, type NodeKeys } from '../../src/identity/ca.js';
import {
  caAnchorOf,
  enrollmentKeyClockSkewMs,
  enrollmentKeyId,
  enrollmentKeyTtlMsMax,
  openEnrollmentRequest,
  openEnrollmentResponse,
  sealedRequestBytesMax,
  sealedResponseBytesMax,
  sealEnrollmentRequest,
  sealEnrollmentResponse,
  signEnrollmentKey,
  verifyEnrollmentKey,
  type EnrollmentExchange,
  type EnrollmentPayload,
} from '../../src/identity/enrollment-response.js';
import { isIdentityError } from '../../src/identity/errors.js';
import { seeded } from '../seeded.js';
import { refusal } from './refusal.js';

const t0 = Date.UTC(2026, 10, 27, 12);
const { ca } = createCa('mesh.test', t0, seeded('enrollment response ca'));
const { ca: otherCa } = createCa('mesh.test', t0, seeded('enrollment response other ca'));
const pin = sha256(ca.certificateDer);
const pinned = (der: Uint8Array): boolean => Buffer.from(sha256(der)).equals(pin);
const serviceKey = xwingExpand(seeded('service key')(32));
const signedKey = signEnrollmentKey(ca, serviceKey.publicKey, t0, t0 + 24 * 3600_000);
const enrollmentKey = verifyEnrollmentKey(signedKey, pinned, t0);
const findKey = (keyId: Uint8Array): typeof serviceKey | undefined => (Buffer.from(keyId).equals(enrollmentKey.keyId) ? serviceKey : undefined);

function nodeKeys(label: string): NodeKeys {
  const random = seeded(label);
  return nodeKeysFromSeeds(random(32), random(32), random(32));
}

const node = nodeKeys('enrollment response node');
const svid = issueSvid(ca, '/node/0000002a', node.publicKeys, t0, seeded('svid'));
const payload: EnrollmentPayload = { svid, caCertificate: ca.certificateDer, bundleJson: '{"keys":[],"spiffe_sequence":1}', networkKey: seeded('network key')(32) };
const csr = new TextEncoder().encode('a certificate request (opaque to this layer)');

function flip(bytes: Uint8Array, index: number, mask = 0x01): Uint8Array {
  const out = bytes.slice();
  out[index] = out[index]! ^ mask;
  return out;
}

/** The documented response format, built independently of the implementation. */
function sealRaw(exchange: EnrollmentExchange, recipient: Uint8Array, plaintext: Uint8Array, random: (bytes: number) => Uint8Array): Uint8Array {
  const magic = new TextEncoder().encode('x0tES1');
  const { ciphertext, sharedSecret } = xwingEncapsulate(recipient, random(64));
  const info = Buffer.concat([new TextEncoder().encode('x0tta6bl4 enrollment response v1'), sha256(ciphertext)]);
  const okm = hkdfSha256(Buffer.concat([sharedSecret, exchange.requestSecret]), exchange.requestHash, info, 44);
  const aad = Buffer.concat([magic, exchange.requestHash, ciphertext]);
  return new Uint8Array(Buffer.concat([magic, ciphertext, aeadSeal('chacha20-poly1305', okm.subarray(0, 32), okm.subarray(32), plaintext, aad)]));
}

function encodePayloadRaw(p: { svid: Uint8Array; caCertificate: Uint8Array; bundle: Uint8Array; networkKey: Uint8Array }): Uint8Array {
  const u32 = Buffer.alloc(4);
  u32.writeUInt32BE(p.bundle.length);
  return new Uint8Array(Buffer.concat([Buffer.from([p.svid.length >> 8, p.svid.length & 0xff]), p.svid, Buffer.from([p.caCertificate.length >> 8, p.caCertificate.length & 0xff]), p.caCertificate, u32, p.bundle, p.networkKey]));
}

describe('enrollment key', () => {
  it('verifies under the pinned CA and names the CA, the key and its window', () => {
    expect(enrollmentKey.caCertificate).toEqual(ca.certificateDer);
    expect(enrollmentKey.anchor.trustDomain).toBe('mesh.test');
    expect(enrollmentKey.xwingPublicKey).toEqual(serviceKey.publicKey);
    expect(enrollmentKey.keyId).toEqual(enrollmentKeyId(serviceKey.publicKey));
    expect([enrollmentKey.issuedAtMs, enrollmentKey.notAfterMs]).toEqual([t0, t0 + 24 * 3600_000]);
    expect(caAnchorOf(ca.certificateDer, t0).trustDomain).toBe('mesh.test');
  });

  it('is refused when its CA is not the pinned one, before anything else is believed', () => {
    const other = signEnrollmentKey(otherCa, serviceKey.publicKey, t0, t0 + 1000);
    const error = refusal(() => verifyEnrollmentKey(other, pinned, t0));
    expect(error.code).toBe('ERR_ENROLL_KEY_PIN');
    expect(error.message).toMatch(/is not the pinned CA; refusing to send the join token/);
  });

  it('is refused when a signature was altered or made by another CA over the pinned certificate', () => {
    expect(refusal(() => verifyEnrollmentKey(flip(signedKey, signedKey.length - 1), pinned, t0)).code).toBe('ERR_ENROLL_KEY_SIGNATURE');
    expect(refusal(() => verifyEnrollmentKey(flip(signedKey, signedKey.length - 3309 - 1), pinned, t0)).code).toBe('ERR_ENROLL_KEY_SIGNATURE');
    // Another CA signs a body that carries the pinned CA's certificate: the pin passes, the signatures do not.
    const forged = signEnrollmentKey({ ...otherCa, certificateDer: ca.certificateDer }, serviceKey.publicKey, t0, t0 + 1000);
    expect(refusal(() => verifyEnrollmentKey(forged, pinned, t0)).code).toBe('ERR_ENROLL_KEY_SIGNATURE');
  });

  it('is refused outside its window, with the clock skew allowed before issuedAtMs', () => {
    const end = t0 + 24 * 3600_000;
    expect(verifyEnrollmentKey(signedKey, pinned, end).notAfterMs).toBe(end);
    expect(refusal(() => verifyEnrollmentKey(signedKey, pinned, end + 1)).code).toBe('ERR_ENROLL_KEY_EXPIRED');
    const issuedAtMs = t0 + 3600_000;
    const later = signEnrollmentKey(ca, serviceKey.publicKey, issuedAtMs, issuedAtMs + 1000);
    expect(verifyEnrollmentKey(later, pinned, issuedAtMs - enrollmentKeyClockSkewMs).issuedAtMs).toBe(issuedAtMs);
    expect(refusal(() => verifyEnrollmentKey(later, pinned, issuedAtMs - enrollmentKeyClockSkewMs - 1)).code).toBe('ERR_ENROLL_KEY_EXPIRED');
  });

  it('is refused when malformed: truncated, extended, wrong magic, empty certificate, bad window, not a CA', () => {
    const body = signedKey.subarray(0, signedKey.length - 64 - 3309);
    const cases: [Uint8Array, RegExp][] = [
      [signedKey.subarray(0, 100), /fewer than its two signatures/],
      [new Uint8Array(200_000), /more than enrollmentKeyBytesMax/],
      [flip(signedKey, 0), /not an x0tEK1 message/],
      [new Uint8Array(Buffer.concat([body.subarray(0, 6), Buffer.from([0, 0]), body.subarray(8), signedKey.subarray(body.length)])), /CA certificate must be 1\.\.16384 bytes, got 0/],
      [new Uint8Array(Buffer.concat([body, Buffer.from([0]), signedKey.subarray(body.length)])), /1 bytes after the last field/],
      [new Uint8Array(Buffer.concat([body.subarray(0, 40), signedKey.subarray(body.length)])), /truncated: CA certificate/],
    ];
    for (const [bytes, message] of cases) {
      const error = refusal(() => verifyEnrollmentKey(bytes, pinned, t0));
      expect(error.code).toBe('ERR_ENROLL_KEY_FORMAT');
      expect(error.message).toMatch(message);
    }
    const inverted = new Uint8Array(signedKey);
    new DataView(inverted.buffer).setBigUint64(body.length - 8, BigInt(t0 - 1));
    expect(refusal(() => verifyEnrollmentKey(inverted, pinned, t0)).message).toMatch(/issuedAtMs < notAfterMs/);
    const huge = new Uint8Array(signedKey);
    new DataView(huge.buffer).setBigUint64(body.length - 8, 2n ** 60n);
    expect(refusal(() => verifyEnrollmentKey(huge, pinned, t0)).message).toMatch(/notAfterMs must be at most/);
    // A leaf certificate where the CA's should be: pinned (the pin is whatever the caller trusts), but not a CA.
    const leafKey = signEnrollmentKey({ ...ca, certificateDer: svid }, serviceKey.publicKey, t0, t0 + 1000);
    const leaf = refusal(() => verifyEnrollmentKey(leafKey, () => true, t0));
    expect([leaf.code, leaf.message]).toEqual(['ERR_ENROLL_KEY_FORMAT', expect.stringMatching(/not a valid CA: ERR_SVID_NOT_CA/)]);
  });

  it('is not signed for a bad window or an unusable X-Wing key', () => {
    expect(refusal(() => signEnrollmentKey(ca, serviceKey.publicKey, t0, t0)).code).toBe('ERR_ENROLL_KEY_FORMAT');
    expect(refusal(() => signEnrollmentKey(ca, serviceKey.publicKey, t0, t0 + enrollmentKeyTtlMsMax + 1)).code).toBe('ERR_ENROLL_KEY_FORMAT');
    expect(() => signEnrollmentKey(ca, serviceKey.publicKey.subarray(1), t0, t0 + 1000)).toThrow(/expected 1216 bytes/);
  });
});

describe('sealed request', () => {
  it('opens only with the enrollment key and gives both ends the same exchange', () => {
    const { sealed, exchange } = sealEnrollmentRequest(enrollmentKey, csr, seeded('seal request'));
    expect(Buffer.from(sealed).includes(Buffer.from(csr))).toBe(false);
    const opened = openEnrollmentRequest(sealed, findKey);
    expect(opened.request).toEqual(csr);
    expect(opened.exchange).toEqual(exchange);
    expect(exchange.requestHash).toEqual(sha256(csr));
  });

  it('names an unknown or retired key so the node fetches the key again', () => {
    const { sealed } = sealEnrollmentRequest(enrollmentKey, csr, seeded('unknown key'));
    const error = refusal(() => openEnrollmentRequest(sealed, () => undefined));
    expect(error.code).toBe('ERR_ENROLL_REQUEST_KEY');
    expect(error.message).toMatch(/fetch \/v1\/enroll-key again/);
  });

  it('refuses every altered byte, a wrong key, a short box, a low-order X25519 part and oversize input', () => {
    const { sealed } = sealEnrollmentRequest(enrollmentKey, csr, seeded('altered request'));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: sealed.length - 1 }), fc.integer({ min: 1, max: 255 }), (index, mask) => {
        const error = refusal(() => openEnrollmentRequest(flip(sealed, index, mask), findKey));
        expect(['ERR_ENROLL_REQUEST_FORMAT', 'ERR_ENROLL_REQUEST_KEY', 'ERR_ENROLL_REQUEST_AUTH']).toContain(error.code);
      }),
      { numRuns: 60 },
    );
    const otherKey = xwingExpand(seeded('other service key')(32));
    expect(refusal(() => openEnrollmentRequest(sealed, () => otherKey)).code).toBe('ERR_ENROLL_REQUEST_AUTH');
    const header = 6 + 16 + xwingCiphertextBytes;
    expect(refusal(() => openEnrollmentRequest(sealed.subarray(0, header + 16), findKey)).message).toMatch(/longer than its 16-byte tag/);
    const lowOrder = sealed.slice();
    lowOrder.fill(0, header - 32, header);
    expect(refusal(() => openEnrollmentRequest(lowOrder, findKey)).message).toMatch(/X-Wing ciphertext is unusable/);
    expect(refusal(() => openEnrollmentRequest(new Uint8Array(sealedRequestBytesMax + 1), findKey)).message).toMatch(/more than sealedRequestBytesMax/);
    expect(refusal(() => sealEnrollmentRequest(enrollmentKey, new Uint8Array(0), seeded('empty'))).code).toBe('ERR_ENROLL_REQUEST_FORMAT');
  });
});

describe('sealed response', () => {
  const { sealed: sealedRequest, exchange } = sealEnrollmentRequest(enrollmentKey, csr, seeded('response request'));
  const serverExchange = openEnrollmentRequest(sealedRequest, findKey).exchange;
  const sealed = sealEnrollmentResponse(serverExchange, node.publicKeys.xwingPublicKey, payload, seeded('seal response'));

  it('round-trips the payload to the node that sent the request, and hides the network key', () => {
    expect(openEnrollmentResponse(sealed, exchange, node.xwing)).toEqual(payload);
    expect(Buffer.from(sealed).includes(Buffer.from(payload.networkKey))).toBe(false);
    expect(Buffer.from(sealed).includes(Buffer.from(payload.svid.subarray(0, 64)))).toBe(false);
  });

  it('is exactly the documented format (independent construction, frozen digest)', () => {
    const plaintext = encodePayloadRaw({ ...payload, bundle: new TextEncoder().encode(payload.bundleJson) });
    expect(sealRaw(exchange, node.publicKeys.xwingPublicKey, plaintext, seeded('seal response'))).toEqual(sealed);
    expect(Buffer.from(sha256(sealed)).toString('hex')).toMatchInlineSnapshot(`"ae4633ee18c9ec4c689ef73bf27fd39c7cb7e29639080835f0c0f9f30bcb99b6"`);
  });

  it('opens only for this request, this node, and from the holder of the enrollment key', () => {
    const other = sealEnrollmentRequest(enrollmentKey, csr, seeded('another request')).exchange;
    expect(refusal(() => openEnrollmentResponse(sealed, other, node.xwing)).code).toBe('ERR_ENROLL_RESPONSE_AUTH');
    expect(refusal(() => openEnrollmentResponse(sealed, { ...exchange, requestHash: sha256(new Uint8Array(1)) }, node.xwing)).code).toBe('ERR_ENROLL_RESPONSE_AUTH');
    expect(refusal(() => openEnrollmentResponse(sealed, exchange, nodeKeys('someone else').xwing)).code).toBe('ERR_ENROLL_RESPONSE_AUTH');
    // A MITM knows the node's public key and the request, but not the request's shared secret.
    const forged = sealEnrollmentResponse({ requestHash: exchange.requestHash, requestSecret: new Uint8Array(32) }, node.publicKeys.xwingPublicKey, { ...payload, networkKey: new Uint8Array(32) }, seeded('forged'));
    expect(refusal(() => openEnrollmentResponse(forged, exchange, node.xwing)).code).toBe('ERR_ENROLL_RESPONSE_AUTH');
  });

  it('refuses every altered byte', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: sealed.length - 1 }), fc.integer({ min: 1, max: 255 }), (index, mask) => {
        const error = refusal(() => openEnrollmentResponse(flip(sealed, index, mask), exchange, node.xwing));
        expect(['ERR_ENROLL_RESPONSE_FORMAT', 'ERR_ENROLL_RESPONSE_AUTH']).toContain(error.code);
      }),
      { numRuns: 60 },
    );
    expect(refusal(() => openEnrollmentResponse(sealed.subarray(0, 100), exchange, node.xwing)).message).toMatch(/truncated: X-Wing ciphertext/);
    const lowOrder = sealed.slice();
    lowOrder.fill(0, 6 + xwingCiphertextBytes - 32, 6 + xwingCiphertextBytes);
    expect(refusal(() => openEnrollmentResponse(lowOrder, exchange, node.xwing)).message).toMatch(/X-Wing ciphertext is unusable/);
    expect(refusal(() => openEnrollmentResponse(new Uint8Array(sealedResponseBytesMax + 1), exchange, node.xwing)).code).toBe('ERR_ENROLL_RESPONSE_LIMIT');
  });

  it('refuses to seal a payload outside its limits', () => {
    const cases: [Partial<EnrollmentPayload>, RegExp][] = [
      [{ svid: new Uint8Array(0) }, /svid must be 1\.\.16384 bytes, got 0/],
      [{ caCertificate: new Uint8Array(16 * 1024 + 1) }, /caCertificate must be 1\.\.16384 bytes/],
      [{ bundleJson: '' }, /bundleJson must be 1\.\./],
      [{ networkKey: new Uint8Array(31) }, /networkKey must be 32 bytes, got 31/],
    ];
    for (const [change, message] of cases) {
      const error = refusal(() => sealEnrollmentResponse(serverExchange, node.publicKeys.xwingPublicKey, { ...payload, ...change }, seeded('limits')));
      expect([error.code, error.message]).toEqual(['ERR_ENROLL_RESPONSE_LIMIT', expect.stringMatching(message)]);
    }
  });

  it('decodes the payload strictly: trailing bytes, bad lengths, truncation and non-UTF-8 bundles are refused', () => {
    const bundle = new TextEncoder().encode(payload.bundleJson);
    const good = encodePayloadRaw({ ...payload, bundle });
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(Buffer.concat([good, Buffer.from([0])])), /1 bytes after the last field/],
      [good.subarray(0, good.length - 1), /truncated: network key/],
      [encodePayloadRaw({ ...payload, bundle: new Uint8Array(0) }), /bundle must be 1\.\./],
      [encodePayloadRaw({ ...payload, bundle: Uint8Array.of(0xff, 0xfe) }), /the bundle is not UTF-8/],
      [new Uint8Array(0), /truncated: SVID length/],
    ];
    for (const [plaintext, message] of cases) {
      const box = sealRaw(exchange, node.publicKeys.xwingPublicKey, plaintext, seeded('raw'));
      const error = refusal(() => openEnrollmentResponse(box, exchange, node.xwing));
      expect([error.code, error.message]).toEqual(['ERR_ENROLL_RESPONSE_FORMAT', expect.stringMatching(message)]);
    }
  });

  it('never throws anything but an IdentityError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        for (const action of [() => openEnrollmentResponse(bytes, exchange, node.xwing), () => openEnrollmentRequest(bytes, findKey), () => verifyEnrollmentKey(bytes, pinned, t0)]) {
          try {
            action();
          } catch (error) {
            expect(isIdentityError(error)).toBe(true);
          }
        }
      }),
      { numRuns: 100 },
    );
  });
});
