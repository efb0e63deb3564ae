import fc from 'fast-check';
import { existsSync, mkdtempSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/crypto/hash.js';
import { xwingExpand } from '../../src/crypto/xwing.js';
import { createCa, issueSvid, nodeKeysFromSeeds, type MeshCa, type NodeKeys } from '../../src/identity/ca.js';
import { decodeCertificateRequest } from '../../src/identity/enrollment.js';
import { openEnrollmentRequest, sealEnrollmentResponse, signEnrollmentKey, type EnrollmentPayload } from '../../src/identity/enrollment-response.js';
import { svidTtlMsMax } from '../../src/identity/ca.js';
import { isIdentityError } from '../../src/identity/errors.js';
import { encodeRenewalRequest } from '../../src/identity/renewal.js';
import { nextRevocationList, RevocationSet, verifyRevocationList } from '../../src/identity/revocation.js';
import { validateSvid } from '../../src/identity/svid.js';
import { initCaDirectory, openCaDirectory, readNodeRecords, readTokens, revokeInCaDirectory, saveTokens, withCaLock, type OpenedCa } from '../../src/node/ca-store.js';
import { CaServiceError, parseListen, RenewalReplayCache, revocationRefreshMs, revocationSequenceHeader, startCaService, type CaService } from '../../src/node/ca-service.js';
import { enrollNode, fetchBundle, fetchRevocations, isCaClientError, parseCaPin, renewSvid, type CaClientError, type EnrollNodeOptions } from '../../src/node/enroll-client.js';
import { readEnrollment, readNodeKeys } from '../../src/node/state-dir.js';
import { seeded } from '../seeded.js';

const pass = 'correct horse battery staple';

function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `x0t-${label}-`));
}

function issueToken(dir: string, ttlMs = 600_000): string {
  return withCaLock(dir, () => {
    const tokens = readTokens(dir);
    const { token } = tokens.issue(Date.now(), ttlMs, seeded(`token ${Math.random()}`));
    saveTokens(dir, tokens);
    return token;
  });
}

async function failure(promise: Promise<unknown>): Promise<Error & { code?: string; serverCode?: string | null }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a refusal, the call succeeded');
}

async function post(url: string, body: Uint8Array): Promise<{ status: number; json: { error?: string; message?: string } }> {
  const response = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
  const isJson = response.headers.get('content-type') === 'application/json';
  return { status: response.status, json: isJson ? ((await response.json()) as { error?: string; message?: string }) : {} };
}

type Hook = (method: string, path: string, body: Uint8Array) => Promise<{ status: number; body: Uint8Array }>;

/** A stand-in server on 127.0.0.1 whose answers come from `hook` (a man in the middle, or a CA that misbehaves). */
async function stubServer(hook: Hook): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      void hook(request.method ?? 'GET', request.url ?? '/', new Uint8Array(Buffer.concat(chunks))).then(({ status, body }) => {
        response.writeHead(status, { 'content-type': 'application/octet-stream' });
        response.end(body);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A man in the middle that forwards to `target` and may rewrite the answer. */
function forwarding(target: string, rewrite: (path: string, body: Uint8Array) => Uint8Array = (_, body) => body): Hook {
  return async (method, path, body) => {
    const response = await fetch(`${target}${path}`, method === 'POST' ? { method, body } : {});
    return { status: response.status, body: rewrite(path, new Uint8Array(await response.arrayBuffer())) };
  };
}

describe('CA service over real HTTP', () => {
  let caDir: string;
  let opened: OpenedCa;
  let service: CaService;
  let pin: string;
  const logLines: string[] = [];

  beforeAll(async () => {
    caDir = join(tempDir('ca-service'), 'ca');
    opened = initCaDirectory(caDir, 'mesh.test', pass, Date.now(), seeded('ca service'));
    pin = Buffer.from(sha256(opened.ca.certificateDer)).toString('hex');
    service = await startCaService({ dir: caDir, passphrase: pass, listen: '127.0.0.1:0', log: (line) => logLines.push(line) });
  });

  afterAll(async () => {
    await service.close();
  });

  function enrollOptions(extra: Partial<EnrollNodeOptions> = {}): EnrollNodeOptions {
    return { caUrl: service.address, token: issueToken(caDir), stateDir: join(tempDir('node'), 'state'), caSha256: pin, ...extra };
  }

  it('enrolls a node: state directory written (private files 0600), SVID valid under the CA, network key delivered', async () => {
    const options = enrollOptions();
    const node = await enrollNode(options);
    expect(node.spiffeId).toMatch(/^spiffe:\/\/mesh\.test\/node\/[0-9a-f]{8}$/);
    expect(node.trustDomain).toBe('mesh.test');
    expect(node.caSha256).toBe(pin);
    expect(Number(node.nodeId)).toBeGreaterThan(0);
    expect(statSync(join(options.stateDir, 'keys.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(options.stateDir, 'network.key')).mode & 0o777).toBe(0o600);
    const stored = readEnrollment(options.stateDir);
    expect(stored.networkKey).toEqual(opened.networkKey);
    expect(stored.caCertificate).toEqual(opened.ca.certificateDer);
    expect(stored.caUrl).toBe(service.address);
    const identity = validateSvid(stored.svid, [opened.ca.anchor], 'mesh.test', Date.now());
    expect(identity.spiffeId).toBe(node.spiffeId);
    expect(identity.notAfterMs).toBe(node.svidNotAfterMs);
    expect(identity.xwingPublicKey).toEqual(readNodeKeys(options.stateDir).publicKeys.xwingPublicKey);
    expect(readNodeRecords(caDir).map((record) => record.spiffeId)).toContain(node.spiffeId);
    expect(readTokens(caDir).toJSON().find((record) => record.usedBy === node.spiffeId)).toBeDefined();
    expect(logLines).toContain(`enrolled ${node.spiffeId}`);
  });

  it('pins the CA with a bundle file instead of the SHA-256', async () => {
    const bundleJson = await (await fetch(`${service.address}/v1/bundle`)).text();
    const bundlePath = join(tempDir('bundle'), 'bundle.json');
    writeFileSync(bundlePath, bundleJson);
    const node = await enrollNode({ caUrl: service.address, token: issueToken(caDir), stateDir: join(tempDir('node'), 'state'), bundlePath });
    expect(node.caSha256).toBe(pin);
  });

  it('refuses a used join token with 400 naming it, and leaves the state directory unenrolled', async () => {
    const options = enrollOptions();
    await enrollNode(options);
    const again = { ...options, stateDir: join(tempDir('node'), 'state') };
    const error = (await failure(enrollNode(again))) as CaClientError;
    expect(isCaClientError(error, 'ERR_CA_CLIENT_REFUSED')).toBe(true);
    expect(error.serverCode).toBe('ERR_TOKEN_USED');
    expect(error.message).toMatch(/the CA refused \(400 ERR_TOKEN_USED\): join token: already used/);
    expect(existsSync(join(again.stateDir, 'node.json'))).toBe(false);
    const malformed = (await failure(enrollNode({ ...enrollOptions(), token: 'not-a-token' }))) as CaClientError;
    expect([malformed.serverCode, malformed.message]).toEqual(['ERR_TOKEN_FORMAT', expect.stringMatching(/join token: malformed/)]);
  });

  it('refuses an enrolled state directory, a missing or malformed pin, and a CA other than the pinned one; the token stays unused', async () => {
    const options = enrollOptions();
    await enrollNode(options);
    expect((await failure(enrollNode({ ...enrollOptions(), stateDir: options.stateDir }))).code).toBe('ERR_CA_CLIENT_ENROLLED');
    const token = issueToken(caDir);
    const base = { caUrl: service.address, token, stateDir: join(tempDir('node'), 'state') };
    const noPin = await failure(enrollNode(base));
    expect([noPin.code, noPin.message]).toEqual(['ERR_CA_CLIENT_PIN', expect.stringMatching(/no trust on first use/)]);
    expect((await failure(enrollNode({ ...base, caSha256: 'abc' }))).code).toBe('ERR_CA_CLIENT_PIN');
    const wrong = await failure(enrollNode({ ...base, caSha256: 'ab'.repeat(32) }));
    expect(isIdentityError(wrong, 'ERR_ENROLL_KEY_PIN')).toBe(true);
    const { ca: otherCa } = createCa('mesh.test', Date.now(), seeded('other ca'));
    const { ca: foreignCa } = createCa('other.test', Date.now(), seeded('foreign ca'));
    const bundleDir = tempDir('bundles');
    const bundleOf = (ca: MeshCa, name: string): string => {
      const path = join(bundleDir, name);
      writeFileSync(path, JSON.stringify({ keys: [{ use: 'x509-svid', kty: 'OKP', crv: 'Ed25519', x: Buffer.from(ca.anchor.ed25519PublicKey).toString('base64url'), x5c: [Buffer.from(ca.certificateDer).toString('base64')] }], spiffe_sequence: 1 }));
      return path;
    };
    expect(isIdentityError(await failure(enrollNode({ ...base, bundlePath: bundleOf(otherCa, 'other.json') })), 'ERR_ENROLL_KEY_PIN')).toBe(true);
    expect((await failure(enrollNode({ ...base, bundlePath: bundleOf(foreignCa, 'foreign.json') }))).message).toMatch(/cannot pin the CA with this bundle/);
    expect((await failure(enrollNode({ ...base, bundlePath: join(bundleDir, 'missing.json') }))).message).toMatch(/missing\.json: not found/);
    expect(readTokens(caDir).check(token, Date.now()).usedAtMs).toBeNull();
  });

  it('refuses a sealed response altered on the way, and an enrollment key swapped by a man in the middle', async () => {
    const flipLast = (path: string, body: Uint8Array): Uint8Array => {
      if (path !== '/v1/enroll' || body.length < 100) return body;
      const out = body.slice();
      out[out.length - 1] = out[out.length - 1]! ^ 1;
      return out;
    };
    const tamper = await stubServer(forwarding(service.address, flipLast));
    const tampered = await failure(enrollNode(enrollOptions({ caUrl: tamper.url })));
    expect(isIdentityError(tampered, 'ERR_ENROLL_RESPONSE_AUTH')).toBe(true);
    await tamper.close();
    const { ca: mallory } = createCa('mesh.test', Date.now(), seeded('mallory'));
    const malloryKey = xwingExpand(seeded('mallory key')(32));
    const swap = await stubServer(async (method, path, body) => {
      if (path === '/v1/enroll-key') return { status: 200, body: signEnrollmentKey(mallory, malloryKey.publicKey, Date.now(), Date.now() + 60_000) };
      return forwarding(service.address)(method, path, body);
    });
    const token = issueToken(caDir);
    expect(isIdentityError(await failure(enrollNode(enrollOptions({ caUrl: swap.url, token }))), 'ERR_ENROLL_KEY_PIN')).toBe(true);
    expect(readTokens(caDir).check(token, Date.now()).usedAtMs).toBeNull();
    await swap.close();
  });

  it('checks what even the pinned CA answers: its certificate, the bundle, the SVID and that the SVID binds our keys', async () => {
    const ca = opened.ca;
    const serviceKey = xwingExpand(seeded('rogue service key')(32));
    const { ca: otherCa } = createCa('mesh.test', Date.now(), seeded('rogue other'));
    const bundle = await (await fetch(`${service.address}/v1/bundle`)).text();
    const attempt = async (change: (payload: EnrollmentPayload, keys: ReturnType<typeof decodeCertificateRequest>['publicKeys']) => EnrollmentPayload): Promise<Error> => {
      const rogue = await stubServer(async (_, path, body) => {
        if (path === '/v1/enroll-key') return { status: 200, body: signEnrollmentKey(ca, serviceKey.publicKey, Date.now(), Date.now() + 60_000) };
        const { request, exchange } = openEnrollmentRequest(body, () => serviceKey);
        const keys = decodeCertificateRequest(request).publicKeys;
        const svid = issueSvid(ca, '/node/00000077', keys, Date.now(), seeded('rogue svid'));
        const payload = change({ svid, caCertificate: ca.certificateDer, bundleJson: bundle, networkKey: new Uint8Array(32) }, keys);
        return { status: 200, body: sealEnrollmentResponse(exchange, keys.xwingPublicKey, payload, seeded('rogue seal')) };
      });
      const error = await failure(enrollNode(enrollOptions({ caUrl: rogue.url })));
      await rogue.close();
      return error;
    };
    expect((await attempt((payload) => ({ ...payload, caCertificate: otherCa.certificateDer }))).message).toMatch(/the CA certificate in the answer is not the pinned one/);
    expect((await attempt((payload) => ({ ...payload, bundleJson: '{}' }))).message).toMatch(/does not check out: bundle: "spiffe_sequence" is missing/);
    const otherBundle = JSON.stringify({ keys: [], spiffe_sequence: 1 });
    expect((await attempt((payload) => ({ ...payload, bundleJson: otherBundle }))).message).toMatch(/the trust bundle does not hold the pinned CA/);
    expect((await attempt((payload, keys) => ({ ...payload, svid: issueSvid(otherCa, '/node/00000077', keys, Date.now(), seeded('x')) }))).message).toMatch(/does not check out: SVID: no trust anchor/);
    const stranger = nodeKeysFromSeeds(seeded('s')(32), seeded('t')(32), seeded('u')(32)).publicKeys;
    expect((await attempt((payload) => ({ ...payload, svid: issueSvid(ca, '/node/00000077', stranger, Date.now(), seeded('y')) }))).message).toMatch(/the SVID does not bind this node's keys/);
  });

  it("renews an SVID for the node's own keys, refuses a replay and a request signed by other keys", async () => {
    const options = enrollOptions();
    const node = await enrollNode(options);
    const keys = readNodeKeys(options.stateDir);
    const { svid } = readEnrollment(options.stateDir);
    const connection = { caUrl: service.address, anchors: [opened.ca.anchor], trustDomain: 'mesh.test' };
    const renewed = await renewSvid({ ...connection, keys, svid });
    expect(renewed.identity.spiffeId).toBe(node.spiffeId);
    expect(renewed.identity.serialHex).not.toBe(validateSvid(svid, [opened.ca.anchor], 'mesh.test', Date.now()).serialHex);
    const request = encodeRenewalRequest(keys, renewed.svid, Date.now());
    expect((await post(`${service.address}/v1/renew`, request)).status).toBe(200);
    const replay = await post(`${service.address}/v1/renew`, request);
    expect([replay.status, replay.json.error]).toEqual([400, 'ERR_RENEWAL_REPLAY']);
    const thief: NodeKeys = nodeKeysFromSeeds(seeded('thief a')(32), seeded('thief b')(32), seeded('thief c')(32));
    const stolen = await post(`${service.address}/v1/renew`, encodeRenewalRequest(thief, svid, Date.now()));
    expect([stolen.status, stolen.json.error]).toEqual([400, 'ERR_RENEWAL_KEYS']);
    const refused = await failure(renewSvid({ ...connection, keys: thief, svid }));
    expect([refused.code, (refused as CaClientError).serverCode]).toEqual(['ERR_CA_CLIENT_REFUSED', 'ERR_RENEWAL_KEYS']);
  });

  it('checks the renewed SVID: another node\'s SVID or garbage from the CA is refused', async () => {
    const first = enrollOptions();
    const second = enrollOptions();
    await enrollNode(first);
    await enrollNode(second);
    const keys = readNodeKeys(first.stateDir);
    const { svid } = readEnrollment(first.stateDir);
    const otherSvid = readEnrollment(second.stateDir).svid;
    const connection = { anchors: [opened.ca.anchor], trustDomain: 'mesh.test' };
    const swapped = await stubServer(async () => ({ status: 200, body: otherSvid }));
    expect((await failure(renewSvid({ ...connection, caUrl: swapped.url, keys, svid }))).message).toMatch(/renew: the new SVID is for .* not for/);
    await swapped.close();
    const garbage = await stubServer(async () => ({ status: 200, body: new Uint8Array(10) }));
    expect((await failure(renewSvid({ ...connection, caUrl: garbage.url, keys, svid }))).message).toMatch(/renew: the new SVID does not validate/);
    expect((await failure(fetchRevocations({ ...connection, caUrl: garbage.url }))).code).toBe('ERR_CA_CLIENT_RESPONSE');
    expect((await failure(fetchBundle({ ...connection, caUrl: garbage.url }))).message).toMatch(/^bundle: bundle: not JSON/);
    await garbage.close();
  });

  it('serves a revocation at once: the list verifies, carries its sequence, and the revoked node can no longer renew', async () => {
    const options = enrollOptions();
    const node = await enrollNode(options);
    const before = await fetch(`${service.address}/v1/revocations`);
    const sequenceBefore = Number(before.headers.get(revocationSequenceHeader));
    revokeInCaDirectory(caDir, openCaDirectory(caDir, pass, Date.now()).ca, { spiffeId: node.spiffeId, serialHex: null, revokedAtMs: Date.now() }, 'lost laptop', Date.now());
    const response = await fetch(`${service.address}/v1/revocations`);
    expect(Number(response.headers.get(revocationSequenceHeader))).toBe(sequenceBefore + 1);
    const list = verifyRevocationList(new Uint8Array(await response.arrayBuffer()), [opened.ca.anchor], 'mesh.test');
    expect(list.entries.map((entry) => entry.spiffeId)).toContain(node.spiffeId);
    const fetched = await fetchRevocations({ caUrl: service.address, anchors: [opened.ca.anchor], trustDomain: 'mesh.test' });
    expect(fetched.list.sequence).toBe(list.sequence);
    const keys = readNodeKeys(options.stateDir);
    const renewal = await post(`${service.address}/v1/renew`, encodeRenewalRequest(keys, readEnrollment(options.stateDir).svid, Date.now()));
    expect([renewal.status, renewal.json.error]).toEqual([400, 'ERR_SVID_REVOKED']);
  });

  it('keeps serving the last good revocation list when revocations.json is damaged', async () => {
    const good = new Uint8Array(await (await fetch(`${service.address}/v1/revocations`)).arrayBuffer());
    const path = join(caDir, 'revocations.json');
    const saved = readFileSync(path, 'utf8');
    writeFileSync(path, '{"version":1,"signedList":"AAAA","reasons":{}}');
    const served = await fetch(`${service.address}/v1/revocations`);
    expect(served.status).toBe(200);
    expect(new Uint8Array(await served.arrayBuffer())).toEqual(good);
    expect(logLines.some((line) => /revocations\.json refused, still serving sequence/.test(line))).toBe(true);
    writeFileSync(path, saved);
  });

  it('serves the bundle; the client refuses a bundle naming a CA it does not trust', async () => {
    const { bundle } = await fetchBundle({ caUrl: service.address, anchors: [opened.ca.anchor], trustDomain: 'mesh.test' });
    expect(bundle.anchors.map((anchor) => anchor.certificate.der)).toEqual([opened.ca.certificateDer]);
    const { ca: otherCa } = createCa('mesh.test', Date.now(), seeded('bundle other'));
    expect((await failure(fetchBundle({ caUrl: service.address, anchors: [otherCa.anchor], trustDomain: 'mesh.test' }))).message).toMatch(/an unauthenticated bundle cannot add a CA/);
  });

  it('answers garbage with 4xx JSON naming the problem and keeps serving', async () => {
    const arbitrary = fc.tuple(fc.constantFrom('/v1/enroll', '/v1/renew'), fc.constantFrom('', 'x0tEQ1', 'x0tRN1'), fc.uint8Array({ maxLength: 3000 }));
    await fc.assert(
      fc.asyncProperty(arbitrary, async ([path, prefix, tail]) => {
        const { status, json } = await post(`${service.address}${path}`, new Uint8Array(Buffer.concat([Buffer.from(prefix), tail])));
        expect(status).toBe(400);
        expect(json.error).toMatch(/^ERR_/);
        expect(json.message).toEqual(expect.any(String));
      }),
      { numRuns: 40 },
    );
    const notFound = await fetch(`${service.address}/v2/nothing?x=1`);
    expect([notFound.status, ((await notFound.json()) as { error: string }).error]).toEqual([404, 'ERR_HTTP_NOT_FOUND']);
    const method = await fetch(`${service.address}/v1/enroll`);
    expect([method.status, ((await method.json()) as { message: string }).message]).toEqual([405, '/v1/enroll takes POST, not GET']);
    const huge = await post(`${service.address}/v1/renew`, new Uint8Array(64 * 1024));
    expect([huge.status, huge.json.error]).toEqual([413, 'ERR_HTTP_BODY_LIMIT']);
    expect((await fetch(`${service.address}/v1/bundle`)).status).toBe(200);
  });

  it('answers 413 to a body longer than announced limits even without Content-Length', async () => {
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 8; i++) controller.enqueue(new Uint8Array(8192));
        controller.close();
      },
    });
    const response = await fetch(`${service.address}/v1/enroll`, { method: 'POST', body: chunks, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(413);
    expect((await fetch(`${service.address}/v1/bundle`)).status).toBe(200);
  });

  it('answers 503 while another process holds the CA lock, and breaks a lock left by a crash', async () => {
    const lock = join(caDir, 'ca.lock');
    const { sealed } = await sealedRequestFor(service.address, pin, () => issueToken(caDir));
    writeFileSync(lock, '');
    const busy = await post(`${service.address}/v1/enroll`, sealed);
    expect([busy.status, busy.json.error]).toEqual([503, 'ERR_CA_UNAVAILABLE']);
    expect(logLines.some((line) => /held by another x0tta6bl4 process/.test(line))).toBe(true);
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    const node = await enrollNode(enrollOptions());
    expect(node.spiffeId).toMatch(/^spiffe:/);
    expect(existsSync(lock)).toBe(false);
  });

  it('reports an unreachable CA, a bad URL and a non-JSON refusal clearly', async () => {
    const closed = await stubServer(async () => ({ status: 500, body: new TextEncoder().encode('<html>oops</html>') }));
    const html = await failure(fetchRevocations({ caUrl: closed.url, anchors: [], trustDomain: 'mesh.test' }));
    expect([html.code, html.message]).toEqual(['ERR_CA_CLIENT_REFUSED', 'GET /v1/revocations: the CA refused (500): no details']);
    await closed.close();
    const unreachable = await failure(fetchBundle({ caUrl: closed.url, anchors: [], trustDomain: 'mesh.test' }));
    expect([unreachable.code, unreachable.message]).toEqual(['ERR_CA_CLIENT_HTTP', expect.stringMatching(/cannot reach the CA/)]);
    expect((await failure(fetchBundle({ caUrl: 'not a url', anchors: [], trustDomain: 'mesh.test' }))).message).toMatch(/CA URL: expected http:\/\/host:port/);
    expect((await failure(fetchBundle({ caUrl: 'ftp://example.test', anchors: [], trustDomain: 'mesh.test' }))).message).toMatch(/expected http or https, got ftp:/);
    const big = await stubServer(async () => ({ status: 200, body: new Uint8Array(2 * 1024 * 1024) }));
    expect((await failure(fetchRevocations({ caUrl: big.url, anchors: [], trustDomain: 'mesh.test' }))).message).toMatch(/larger than 1048576 bytes/);
    await big.close();
    expect(parseCaPin('AB:'.repeat(31) + 'AB')).toEqual(new Uint8Array(32).fill(0xab));
  });
});

/** A sealed request made by hand, for requests the client would not send. */
async function sealedRequestFor(caUrl: string, pinHex: string, token: () => string, nowMs = Date.now()): Promise<{ sealed: Uint8Array }> {
  const { verifyEnrollmentKey, sealEnrollmentRequest } = await import('../../src/identity/enrollment-response.js');
  const { encodeCertificateRequest } = await import('../../src/identity/enrollment.js');
  const key = verifyEnrollmentKey(new Uint8Array(await (await fetch(`${caUrl}/v1/enroll-key`)).arrayBuffer()), (der) => Buffer.from(sha256(der)).toString('hex') === pinHex, nowMs);
  const keys = nodeKeysFromSeeds(seeded('hand a')(32), seeded('hand b')(32), seeded('hand c')(32));
  return sealEnrollmentRequest(key, encodeCertificateRequest(token(), keys), seeded('hand seal'));
}

describe('CA service lifecycle', () => {
  it('rotates its enrollment key at half its lifetime, honours the previous key until it expires, then names it retired', async () => {
    const caDir = join(tempDir('ca-rotation'), 'ca');
    const { ca } = initCaDirectory(caDir, 'mesh.test', pass, Date.now(), seeded('rotation'));
    const pinHex = Buffer.from(sha256(ca.certificateDer)).toString('hex');
    let clock = Date.now();
    const service = await startCaService({ dir: caDir, passphrase: pass, listen: '127.0.0.1:0', now: () => clock, random: seeded('rotation service') });
    const keyNow = async (): Promise<string> => Buffer.from(await (await fetch(`${service.address}/v1/enroll-key`)).arrayBuffer()).toString('hex');
    const weekToken = (): string => issueToken(caDir, 7 * 24 * 3600_000);
    const first = await keyNow();
    expect(await keyNow()).toBe(first);
    const early = await sealedRequestFor(service.address, pinHex, weekToken, clock);
    const stale = await sealedRequestFor(service.address, pinHex, weekToken, clock);
    clock += 13 * 3600_000;
    expect(await keyNow()).not.toBe(first);
    expect((await post(`${service.address}/v1/enroll`, early.sealed)).status).toBe(200);
    clock += 12 * 3600_000;
    const retired = await post(`${service.address}/v1/enroll`, stale.sealed);
    expect([retired.status, retired.json.error]).toEqual([400, 'ERR_ENROLL_REQUEST_KEY']);
    await service.close();
  });

  it('re-signs the served revocation list with a fresh issue time every revocationRefreshMs (same sequence and entries), and a node takes each fresher copy', async () => {
    const caDir = join(tempDir('ca-refresh'), 'ca');
    const { ca } = initCaDirectory(caDir, 'mesh.test', pass, Date.now(), seeded('refresh'));
    let clock = Date.now();
    const service = await startCaService({ dir: caDir, passphrase: pass, listen: '127.0.0.1:0', now: () => clock });
    const connection = { caUrl: service.address, anchors: [ca.anchor], trustDomain: 'mesh.test' };
    const node = new RevocationSet('mesh.test');
    try {
      // The empty list of sequence 0 is served freshly signed from the first request on.
      const first = await fetchRevocations(connection);
      expect([first.list.sequence, first.list.issuedAtMs]).toEqual([0, clock]);
      expect(node.update(first.bytes, [ca.anchor])).toBe(true);
      const t0 = clock;
      clock += revocationRefreshMs - 1;
      expect((await fetchRevocations(connection)).bytes).toEqual(first.bytes);
      clock += 1;
      const refreshed = await fetchRevocations(connection);
      expect([refreshed.list.sequence, refreshed.list.issuedAtMs]).toEqual([0, t0 + revocationRefreshMs]);
      expect(node.update(refreshed.bytes, [ca.anchor])).toBe(true);
      expect(node.ageMs(clock)).toBe(0);
      // A revocation follows the file's sequence, and is re-signed in turn.
      clock += 2000;
      revokeInCaDirectory(caDir, ca, { spiffeId: 'spiffe://mesh.test/node/0000000a', serialHex: null, revokedAtMs: clock }, '', clock);
      const revoked = await fetchRevocations(connection);
      expect([revoked.list.sequence, revoked.list.issuedAtMs, revoked.list.entries.length]).toEqual([1, clock, 1]);
      clock += revocationRefreshMs;
      const again = await fetchRevocations(connection);
      expect([again.list.sequence, again.list.issuedAtMs, again.list.entries]).toEqual([1, clock, revoked.list.entries]);
      expect([node.update(revoked.bytes, [ca.anchor]), node.update(again.bytes, [ca.anchor]), node.update(revoked.bytes, [ca.anchor])]).toEqual([true, true, false]);
      // A clock that went back does not make the CA sign a list older than the one it serves.
      clock -= 60_000;
      expect((await fetchRevocations(connection)).bytes).toEqual(again.bytes);
    } finally {
      await service.close();
    }
  });

  it('refuses a bad listen address, a busy port, a bad SVID lifetime and a wrong passphrase', async () => {
    expect(parseListen('[::1]:7470')).toEqual({ host: '::1', port: 7470 });
    expect(parseListen('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    for (const bad of ['7470', 'host:70000', 'a b:1', '']) expect(() => parseListen(bad)).toThrow(CaServiceError);
    const caDir = join(tempDir('ca-start'), 'ca');
    initCaDirectory(caDir, 'mesh.test', pass, Date.now(), seeded('start'));
    const service = await startCaService({ dir: caDir, passphrase: pass, listen: '127.0.0.1:0' });
    const port = new URL(service.address).port;
    await expect(startCaService({ dir: caDir, passphrase: pass, listen: `127.0.0.1:${port}` })).rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    await service.close();
    await expect(startCaService({ dir: caDir, passphrase: pass, listen: '127.0.0.1:0', svidTtlMs: 0 })).rejects.toThrow(/expected svidTtlMs in 1\.\./);
    await expect(startCaService({ dir: caDir, passphrase: 'wrong passphrase!', listen: '127.0.0.1:0' })).rejects.toThrow(/wrong passphrase/);
  });

  it('listens on IPv6, and answers 500 without details (logging them) when its own code fails, then keeps serving', async () => {
    const caDir = join(tempDir('ca-v6'), 'ca');
    initCaDirectory(caDir, 'mesh.test', pass, Date.now(), seeded('v6'));
    let broken = false;
    const lines: string[] = [];
    const now = (): number => {
      if (broken) throw new Error('clock unavailable');
      return Date.now();
    };
    const service = await startCaService({ dir: caDir, passphrase: pass, listen: '[::1]:0', now, log: (line) => lines.push(line) });
    expect(service.address).toMatch(/^http:\/\/\[::1\]:\d+$/);
    broken = true;
    const failed = await fetch(`${service.address}/v1/enroll-key`);
    expect([failed.status, await failed.json()]).toEqual([500, { error: 'ERR_INTERNAL', message: 'internal error' }]);
    expect(lines.some((line) => line.startsWith('internal error: Error: clock unavailable'))).toBe(true);
    broken = false;
    expect((await fetch(`${service.address}/v1/enroll-key`)).status).toBe(200);
    await service.close();
    await service.close();
  });

  it('remembers renewal requests within their window, dropping expired ones and then the oldest when full', () => {
    const cache = new RenewalReplayCache(2);
    cache.add('a', 100, 0);
    cache.add('b', 200, 0);
    expect([cache.has('a', 100), cache.has('a', 101), cache.has('c', 0)]).toEqual([true, false, false]);
    cache.add('c', 300, 150);
    expect([cache.has('a', 150), cache.has('b', 150), cache.has('c', 150), cache.size]).toEqual([false, true, true, 2]);
    cache.add('d', 400, 150);
    expect([cache.has('b', 150), cache.has('c', 150), cache.has('d', 150), cache.size]).toEqual([false, true, true, 2]);
  });

  it('takes no lock in a directory that does not exist, and refuses an oversized bundle pin or CA certificate', async () => {
    expect(() => withCaLock(join(tempDir('nolock'), 'missing'), () => 1)).toThrow(/cannot take the lock/);
    const bundlePath = join(tempDir('big-bundle'), 'bundle.json');
    writeFileSync(bundlePath, ' '.repeat(512 * 1024 + 1));
    const error = await failure(enrollNode({ caUrl: 'http://127.0.0.1:9', token: 'x', stateDir: tempDir('unused'), bundlePath }));
    expect([error.code, error.message]).toEqual(['ERR_CA_CLIENT_PIN', expect.stringMatching(/more than 524288 bytes/)]);
    const { ca } = createCa('mesh.test', Date.now(), seeded('big cert'));
    const key = xwingExpand(seeded('big cert key')(32)).publicKey;
    expect(() => signEnrollmentKey({ ...ca, certificateDer: new Uint8Array(16 * 1024 + 1) }, key, Date.now(), Date.now() + 1000)).toThrow(/CA certificate longer than 16384 bytes/);
  });

  it('computes the next revocation list: sequence bumped, same entry replaced, expired node entries dropped, time never going back', () => {
    const id = (n: number): string => `spiffe://mesh.test/node/0000000${n}`;
    const first = nextRevocationList(null, 'mesh.test', { spiffeId: id(1), serialHex: null, revokedAtMs: 1000 }, 1000);
    expect(first).toEqual({ trustDomain: 'mesh.test', sequence: 1, issuedAtMs: 1000, entries: [{ spiffeId: id(1), serialHex: null, revokedAtMs: 1000 }] });
    const second = nextRevocationList(first, 'mesh.test', { spiffeId: id(2), serialHex: 'ab', revokedAtMs: 500 }, 500);
    expect([second.sequence, second.issuedAtMs, second.entries.length]).toEqual([2, 1000, 2]);
    const later = 1000 + svidTtlMsMax + 1;
    const third = nextRevocationList(second, 'mesh.test', { spiffeId: id(2), serialHex: 'ab', revokedAtMs: later }, later);
    expect(third.entries).toEqual([{ spiffeId: id(2), serialHex: 'ab', revokedAtMs: later }]);
    expect(() => nextRevocationList(first, 'other.test', { spiffeId: 'spiffe://other.test/node/00000001', serialHex: null, revokedAtMs: 1 }, 1)).toThrow(/the current list is for mesh.test, not other.test/);
    expect(() => nextRevocationList(null, 'mesh.test', { spiffeId: id(1), serialHex: null, revokedAtMs: 1 }, -1)).toThrow(/nowMs must be an integer/);
  });
});
