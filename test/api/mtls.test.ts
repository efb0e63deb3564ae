/**
 * The API over HTTPS with client X509-SVIDs (mTLS): real TLS 1.3 on loopback with SVIDs of a
 * test CA, the bearer token still accepted, and every way a certificate can fail.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { Agent, request, type AgentOptions } from 'node:https';
import { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiAction, ApiCaller } from '../../src/api/auth.js';
import { startApi, type RunningApi } from '../../src/api/server.js';
import { certificatePem, ed25519KeyPem, presentedCertificate } from '../../src/api/tls.js';
import { createCa, issueSvid, nodeKeysFromSeeds, type MeshCa, type NodeKeys } from '../../src/identity/ca.js';
import { RevocationSet, signRevocationList } from '../../src/identity/revocation.js';
import { SvidVerifier } from '../../src/identity/verifier.js';
import { adminToken, FakeBackend } from './fake-backend.js';

const random = (bytes: number): Uint8Array => new Uint8Array(randomBytes(bytes));
const trustDomain = 'mesh.test';
const ca = createCa(trustDomain, Date.now(), random).ca;
const revocations = new RevocationSet(trustDomain);

/** An SVID of `issuer` for `path`, with fresh keys. */
function identity(path: string, issuer: MeshCa = ca): { keys: NodeKeys; svid: Uint8Array; spiffeId: string } {
  const keys = nodeKeysFromSeeds(random(32), random(32), random(32));
  return { keys, svid: issueSvid(issuer, path, keys.publicKeys, Date.now(), random), spiffeId: `spiffe://${issuer.trustDomain}${path}` };
}

const server = identity('/node/0000abcd');
const alice = identity('/operator/alice');
const bob = identity('/operator/bob');
const impostor = identity('/operator/alice', createCa(trustDomain, Date.now(), random).ca);
const foreigner = identity('/operator/alice', createCa('other.test', Date.now(), random).ca);

/** The test policy: SVID callers may read, nothing else; operators with the token may do anything. */
const decisions: { caller: ApiCaller; action: ApiAction }[] = [];
const denials: { caller: ApiCaller; action: ApiAction; policyIds: readonly string[] }[] = [];
let verifyFailure: string | null = null;
let api: RunningApi;

beforeAll(async () => {
  const svids = new SvidVerifier({ trustDomain, anchors: () => [ca.anchor], isRevoked: revocations.isRevoked });
  api = await startApi({
    backend: new FakeBackend(),
    adminToken,
    port: 0,
    authorize: (caller, action) => {
      decisions.push({ caller, action });
      const allowed = caller.kind === 'operator' || action === 'apiRead';
      return { allowed, policyIds: allowed ? ['test-allow'] : ['svid-read-only'] };
    },
    onDenied: (caller, action, policyIds) => denials.push({ caller, action, policyIds }),
    tls: {
      certificate: server.svid,
      ed25519Seed: server.keys.ed25519PrivateKey,
      clientCas: [ca.certificateDer],
      verifyClient: (certificate) => {
        if (verifyFailure !== null) throw new Error(verifyFailure);
        return svids.verify(certificate, Date.now()).spiffeId;
      },
    },
  });
});

afterAll(async () => {
  await api.close();
});

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  /** Serial number (hex) of the certificate the server presented. */
  readonly serverSerial: string;
}

/** Calls the API over HTTPS, trusting the test CA, as `client` (an SVID) and/or with a token. */
function call(path: string, options: { client?: ReturnType<typeof identity>; token?: string; method?: 'GET' | 'POST'; agent?: Agent } = {}): Promise<Answer> {
  const tls: AgentOptions = {
    ca: certificatePem(ca.certificateDer),
    // The server's SVID names a SPIFFE ID, not a host: the CLI checks it (src/cli/http.ts); here any SVID of the CA will do.
    checkServerIdentity: () => undefined,
    ...(options.client === undefined ? {} : { cert: certificatePem(options.client.svid), key: ed25519KeyPem(options.client.keys.ed25519PrivateKey) }),
  };
  const headers: Record<string, string> = options.token === undefined ? {} : { authorization: `Bearer ${options.token}` };
  return new Promise((resolve, reject) => {
    const outgoing = request(`${api.address}${path}`, { method: options.method ?? 'GET', headers, ...(options.agent === undefined ? { ...tls, agent: false } : { agent: options.agent }) }, (response) => {
      // Read while the socket is ours: a kept-alive one goes back to the agent at the end.
      const serverSerial = new X509Certificate((response.socket as TLSSocket).getPeerCertificate().raw).serialNumber.toLowerCase();
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>, serverSerial }));
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

describe('API over mTLS', () => {
  it('serves HTTPS with the node SVID; a client SVID of the trust domain is authenticated as its SPIFFE ID and authorized by the policy', async () => {
    expect(api.address).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    decisions.length = 0;
    const answer = await call('/v1/node', { client: alice });
    expect(answer.status).toBe(200);
    expect(answer.serverSerial).toBe(new X509Certificate(server.svid).serialNumber.toLowerCase());
    expect(decisions).toEqual([{ caller: { kind: 'workload', spiffeId: alice.spiffeId, id: alice.spiffeId }, action: 'apiRead' }]);
  });

  it('answers 403 when the policy denies the SVID, naming the action and the policy', async () => {
    denials.length = 0;
    const answer = await call('/v1/drain', { client: alice, method: 'POST' });
    expect(answer).toMatchObject({ status: 403, body: { error: 'forbidden', message: `policy denies apiDrain to ${alice.spiffeId}`, action: 'apiDrain', policyIds: ['svid-read-only'] } });
    expect(denials).toEqual([{ caller: { kind: 'workload', spiffeId: alice.spiffeId, id: alice.spiffeId }, action: 'apiDrain', policyIds: ['svid-read-only'] }]);
  });

  it('keeps bearer tokens working over TLS, and the public routes public', async () => {
    expect((await call('/v1/drain', { token: adminToken, method: 'POST' })).status).toBe(202);
    expect((await call('/health/live')).status).toBe(200);
    expect((await call('/v1/node', { token: 'a-wrong-token-of-some-length' })).body).toEqual({ error: 'unauthorized', message: 'unknown token' });
  });

  it('answers 401 without a certificate and without a token, naming both ways in', async () => {
    expect(await call('/v1/node')).toMatchObject({
      status: 401,
      body: { error: 'unauthorized', message: 'no credentials: expected a client certificate (an X509-SVID of the mesh) or an Authorization header "Bearer <token>"' },
    });
  });

  it('answers 401 to a certificate and a token together: one credential per request', async () => {
    expect(await call('/v1/node', { client: alice, token: adminToken })).toMatchObject({ status: 401, body: { message: 'a client certificate and an Authorization header: send one credential, not both' } });
  });

  it('answers 401 to a certificate of another CA of the same trust domain, and of another trust domain', async () => {
    for (const stranger of [impostor, foreigner]) {
      const answer = await call('/v1/node', { client: stranger });
      expect(answer.status).toBe(401);
      expect(answer.body.message).toMatch(/^client certificate refused: its chain does not verify under the mesh CA \(.+\)$/);
    }
  });

  it('answers 401 to a revoked SVID, also on a connection kept alive from before the revocation', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: certificatePem(ca.certificateDer), checkServerIdentity: () => undefined, cert: certificatePem(bob.svid), key: ed25519KeyPem(bob.keys.ed25519PrivateKey) });
    try {
      expect((await call('/v1/node', { agent })).status).toBe(200);
      const nowMs = Date.now();
      const list = { trustDomain, sequence: 1, issuedAtMs: nowMs, entries: [{ spiffeId: bob.spiffeId, serialHex: null, revokedAtMs: nowMs }] };
      expect(revocations.update(signRevocationList(ca, list), [ca.anchor])).toBe(true);
      const refused = await call('/v1/node', { agent });
      expect(refused.status).toBe(401);
      expect(refused.body.message).toMatch(new RegExp(`^client certificate refused: SVID: ${bob.spiffeId} \\(serial [0-9a-f]+\\) is revoked$`));
      expect((await call('/v1/node', { client: alice })).status).toBe(200);
    } finally {
      agent.destroy();
    }
  });

  it('answers 401 with the reason when the verifier refuses (e.g. a stale revocation list)', async () => {
    verifyFailure = 'the revocation list is stale';
    try {
      expect(await call('/v1/node', { client: alice })).toMatchObject({ status: 401, body: { message: 'client certificate refused: the revocation list is stale' } });
      expect((await call('/v1/node', { token: adminToken })).status).toBe(200);
    } finally {
      verifyFailure = null;
    }
  });

  it('serves a renewed SVID from the next handshake on', async () => {
    const renewed = issueSvid(ca, '/node/0000abcd', server.keys.publicKeys, Date.now(), random);
    api.renewCertificate(renewed);
    expect((await call('/v1/node', { client: alice })).serverSerial).toBe(new X509Certificate(renewed).serialNumber.toLowerCase());
  });
});

describe('TLS helpers', () => {
  it('writes an Ed25519 seed as PKCS#8 PEM that node:crypto reads back, and refuses a seed of another length', async () => {
    const { createPrivateKey, createPublicKey } = await import('node:crypto');
    const key = createPrivateKey(ed25519KeyPem(alice.keys.ed25519PrivateKey));
    expect(key.asymmetricKeyType).toBe('ed25519');
    const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
    expect(new Uint8Array(spki.subarray(-32))).toEqual(alice.keys.publicKeys.ed25519PublicKey);
    expect(() => ed25519KeyPem(new Uint8Array(31))).toThrow('ed25519KeyPem: expected a 32-byte seed, got 31 bytes');
    expect(certificatePem(ca.certificateDer)).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
  });

  it('finds no client certificate on a plain socket', () => {
    expect(presentedCertificate(new Socket())).toBeNull();
  });
});
