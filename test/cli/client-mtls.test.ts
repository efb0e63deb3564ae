/**
 * The client commands against an API served over TLS: calling with a client SVID (--identity, a
 * directory as `ca issue` writes it) or with a token and --ca, the node's certificate checked as
 * a node SVID of the mesh, and the usage errors of the new options.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiCaller } from '../../src/api/auth.js';
import { startApi, type RunningApi } from '../../src/api/server.js';
import { apiTokenEnv, clientCommand } from '../../src/cli/client.js';
import { checkNodeCertificate, httpCall } from '../../src/cli/http.js';
import { createCa, issueSvid, nodeKeysFromSeeds, type MeshCa } from '../../src/identity/ca.js';
import { SvidVerifier } from '../../src/identity/verifier.js';
import { writeClientIdentity } from '../../src/node/state-dir.js';
import { adminToken, FakeBackend } from '../api/fake-backend.js';

const random = (bytes: number): Uint8Array => new Uint8Array(randomBytes(bytes));
const trustDomain = 'mesh.test';
const ca = createCa(trustDomain, Date.now(), random).ca;
const otherCa = createCa(trustDomain, Date.now(), random).ca;
const root = mkdtempSync(join(tmpdir(), 'x0t-client-mtls-'));

/** Writes an identity for `path` issued by `issuer` into a fresh directory and returns it. */
function identityDir(name: string, path: string, issuer: MeshCa = ca): string {
  const seeds = { ed25519Seed: random(32), mlDsaSeed: random(32), xwingSeed: random(32) };
  const keys = nodeKeysFromSeeds(seeds.ed25519Seed, seeds.mlDsaSeed, seeds.xwingSeed);
  const dir = join(root, name);
  writeClientIdentity(dir, seeds, issueSvid(issuer, path, keys.publicKeys, Date.now(), random), issuer.certificateDer);
  return dir;
}

/** An API over TLS presenting an SVID for `serverPath`; SVID callers may read only. */
async function tlsApi(serverPath: string, callers: ApiCaller[]): Promise<RunningApi> {
  const keys = nodeKeysFromSeeds(random(32), random(32), random(32));
  const svids = new SvidVerifier({ trustDomain, anchors: () => [ca.anchor], isRevoked: () => false });
  return startApi({
    backend: new FakeBackend(),
    adminToken,
    port: 0,
    authorize: (caller, action) => {
      callers.push(caller);
      const allowed = caller.kind === 'operator' || action === 'apiRead';
      return { allowed, policyIds: allowed ? ['test'] : ['svid-read-only'] };
    },
    tls: { certificate: issueSvid(ca, serverPath, keys.publicKeys, Date.now(), random), ed25519Seed: keys.ed25519PrivateKey, clientCas: [ca.certificateDer], verifyClient: (der) => svids.verify(der, Date.now()).spiffeId },
  });
}

async function run(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io = { stdout: (t: string) => (out += t), stderr: (t: string) => (err += t), isTTY: false };
  const code = await clientCommand(argv[0]!, argv.slice(1), io, env);
  return { code, out, err };
}

const callers: ApiCaller[] = [];
let api: RunningApi;
const alice = identityDir('alice', '/operator/alice');
const caFile = join(root, 'ca.der');
const caPemFile = join(root, 'ca.pem');
writeFileSync(caFile, ca.certificateDer);
writeFileSync(caPemFile, new X509Certificate(ca.certificateDer).toString());

beforeAll(async () => {
  api = await tlsApi('/node/0000abcd', callers);
});

afterAll(async () => {
  await api.close();
});

describe('client commands over TLS', () => {
  it('calls with a client SVID (--identity): authenticated as its SPIFFE ID, no token sent even when one is in the environment', async () => {
    callers.length = 0;
    const status = await run(['status', '--api', api.address, '--identity', alice, '--json'], { [apiTokenEnv]: adminToken });
    expect([status.code, status.err]).toEqual([0, '']);
    expect(JSON.parse(status.out)).toMatchObject({ nodeId: '0000abcd' });
    expect(callers).toEqual([{ kind: 'workload', spiffeId: 'spiffe://mesh.test/operator/alice', id: 'spiffe://mesh.test/operator/alice' }]);
    const drain = await run(['drain', '--api', api.address, '--identity', alice]);
    expect(drain).toEqual({ code: 1, out: '', err: 'x0tta6bl4: POST /v1/drain: HTTP 403 forbidden: policy denies apiDrain to spiffe://mesh.test/operator/alice (action apiDrain, policies svid-read-only)\n' });
  });

  it('calls with a token over TLS, checking the node against --ca (DER or PEM)', async () => {
    for (const file of [caFile, caPemFile]) {
      const routes = await run(['routes', '--api', api.address, '--ca', file], { [apiTokenEnv]: adminToken });
      expect([routes.code, routes.err], file).toEqual([0, '']);
    }
  });

  it('refuses a node whose certificate is not a node SVID of the mesh CA, before sending anything', async () => {
    const impostorCaFile = join(root, 'other-ca.der');
    writeFileSync(impostorCaFile, otherCa.certificateDer);
    const wrongCa = await run(['status', '--api', api.address, '--ca', impostorCaFile], { [apiTokenEnv]: adminToken });
    expect(wrongCa.code).toBe(1);
    expect(wrongCa.err).toMatch(new RegExp(`^x0tta6bl4: cannot reach the node API at ${api.address}: `));
    const workloadCallers: ApiCaller[] = [];
    const notANode = await tlsApi('/operator/mallory', workloadCallers);
    try {
      const answer = await run(['status', '--api', notANode.address, '--identity', alice]);
      expect(answer.code).toBe(1);
      expect(answer.err).toMatch(/the node API's certificate is not a node SVID of mesh\.test: SPIFFE ID "spiffe:\/\/mesh\.test\/operator\/mallory": a node identity has the path \/node\//);
      expect(workloadCallers).toEqual([]);
    } finally {
      await notANode.close();
    }
  });

  it('checks a node certificate: a node SVID of the CA passes; another CA, a non-node SVID or garbage fail with the reason', () => {
    const keys = nodeKeysFromSeeds(random(32), random(32), random(32));
    const node = issueSvid(ca, '/node/00000001', keys.publicKeys, Date.now(), random);
    expect(checkNodeCertificate(ca.anchor, { raw: Buffer.from(node) })).toBeUndefined();
    expect(checkNodeCertificate(ca.anchor, { raw: Buffer.from(issueSvid(otherCa, '/node/00000001', keys.publicKeys, Date.now(), random)) })?.message).toMatch(/no trust anchor of mesh\.test signed this certificate/);
    expect(checkNodeCertificate(ca.anchor, { raw: Buffer.from(issueSvid(ca, '/operator/x', keys.publicKeys, Date.now(), random)) })?.message).toMatch(/^the node API's certificate is not a node SVID of mesh\.test: /);
    expect(checkNodeCertificate(ca.anchor, { raw: Buffer.alloc(3) })).toBeInstanceOf(Error);
  });

  it('gives up on a node that answers nothing within the timeout, and refuses https without a CA', async () => {
    const { createServer } = await import('node:net');
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      await expect(httpCall(`http://127.0.0.1:${port}/v1/node`, { method: 'GET', headers: {}, timeoutMs: 50 })).rejects.toThrow('no answer within 50 ms');
      await expect(httpCall(`https://127.0.0.1:${port}/v1/node`, { method: 'GET', headers: {}, timeoutMs: 50 })).rejects.toThrow('an https URL needs the mesh CA to check the node against');
    } finally {
      silent.close();
    }
  });
});

describe('bad use of --identity and --ca exits 2', () => {
  const cases: [string, readonly string[], string | RegExp][] = [
    ['identity over http', ['status', '--api', 'http://127.0.0.1:1', '--identity', alice], '--identity: a client SVID is presented over TLS only: expected an https --api (a node with api.mtls: true), got http://127.0.0.1:1'],
    ['identity and token file', ['status', '--api', 'https://127.0.0.1:1', '--identity', alice, '--token-file', caFile], '--identity and --token-file: call with one credential, not both'],
    ['https without a CA', ['status', '--api', 'https://127.0.0.1:1'], "--api https://127.0.0.1:1: pass --ca FILE (the mesh CA certificate, ca.der in a state directory) or --identity DIR, to check the node's certificate"],
    ['ca over http', ['status', '--api', 'http://127.0.0.1:1', '--ca', caFile], "--ca: checks the node's certificate over TLS only: expected an https --api, got http://127.0.0.1:1"],
    ['missing identity directory', ['status', '--api', 'https://127.0.0.1:1', '--identity', join(root, 'nobody')], /^--identity: .*keys\.json: missing/],
    ['missing CA file', ['status', '--api', 'https://127.0.0.1:1', '--ca', join(root, 'nothing.der')], /^--ca: cannot read .*nothing\.der: ENOENT$/],
    ['CA file that is no certificate', ['status', '--api', 'https://127.0.0.1:1', '--ca', join(root, 'alice', 'keys.json')], /^--ca: .*keys\.json: not a mesh CA certificate: /],
    ['broken PEM', ['status', '--api', 'https://127.0.0.1:1', '--ca', join(root, 'broken.pem')], /^--ca: .*broken\.pem: not a PEM certificate: /],
    ['a node SVID given as the CA', ['status', '--api', 'https://127.0.0.1:1', '--ca', join(root, 'alice', 'svid.der')], /^--ca: .*svid\.der: not a mesh CA certificate: /],
  ];
  writeFileSync(join(root, 'broken.pem'), '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');

  it.each(cases)('%s', async (_name, argv, message) => {
    const result = await run(argv, { [apiTokenEnv]: adminToken });
    expect(result.code).toBe(2);
    const first = result.err.split('\n')[0]!.replace(/^x0tta6bl4: /, '');
    if (typeof message === 'string') expect(first).toBe(message);
    else expect(first).toMatch(message);
  });
});
