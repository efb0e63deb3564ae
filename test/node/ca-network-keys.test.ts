import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NetworkKeyEpoch } from '../../src/crypto/network-key-ring.js';
import {
  epochsInForce,
  networkKeyScheduleDigest,
  networkKeysDigestHeader,
  readNetworkKeys,
  rotateNetworkKey,
  rotatedEpochs,
  rotationStepMsMin,
  sendingKeyAt,
} from '../../src/node/ca-network-keys.js';
import { openCaDirectory, readTokens, revokeInCaDirectory, saveTokens, withCaLock } from '../../src/node/ca-store.js';
import { enrollNode, fetchNetworkKeys, fetchRevocations, isCaClientError } from '../../src/node/enroll-client.js';
import { encodeRenewalRequest } from '../../src/identity/renewal.js';
import { readEnrollment, readNodeKeys } from '../../src/node/state-dir.js';
import { seeded } from '../seeded.js';
import { startTestCa, type TestCa } from './ca-fixture.js';

const pass = 'correct horse battery staple';
const t0 = Date.UTC(2026, 10, 28, 9);
const minute = 60_000;
const timing = { activateInMs: 10 * minute, retireAfterMs: 10 * minute };
const key = (fill: number): Uint8Array => new Uint8Array(32).fill(fill);
const first: NetworkKeyEpoch[] = [{ epoch: 0, key: key(1), activeFromMs: 0, acceptUntilMs: null }];

describe('rotating the CA network key (pure)', () => {
  it('adds the next epoch ahead of time and retires the open ones after it', () => {
    const once = rotatedEpochs(first, t0, timing, key(2));
    expect(once).toEqual([
      { epoch: 0, key: key(1), activeFromMs: 0, acceptUntilMs: t0 + 20 * minute },
      { epoch: 1, key: key(2), activeFromMs: t0 + 10 * minute, acceptUntilMs: null },
    ]);
    expect(sendingKeyAt(once, t0)).toEqual(key(1));
    expect(sendingKeyAt(once, t0 + 10 * minute)).toEqual(key(2));
    // A second rotation inside the overlap keeps the first one's times and queues after it.
    const twice = rotatedEpochs(once, t0 + minute, { ...timing, activateInMs: rotationStepMsMin }, key(3));
    expect(twice.map((entry) => [entry.epoch, entry.activeFromMs, entry.acceptUntilMs])).toEqual([
      [0, 0, t0 + 20 * minute],
      [1, t0 + 10 * minute, t0 + 10 * minute + 1 + 10 * minute],
      [2, t0 + 10 * minute + 1, null],
    ]);
    // Once epoch 0 has retired it is dropped.
    expect(rotatedEpochs(once, t0 + 30 * minute, timing, key(3)).map((entry) => entry.epoch)).toEqual([1, 2]);
    expect(epochsInForce(once, t0 + 30 * minute).map((entry) => entry.epoch)).toEqual([1]);
  });

  it('refuses timings outside the bounds and a fifth epoch, naming them', () => {
    expect(() => rotatedEpochs(first, t0, { ...timing, activateInMs: 1000 }, key(2))).toThrow('activateInMs: expected 30000..');
    expect(() => rotatedEpochs(first, t0, { ...timing, retireAfterMs: 1.5e12 }, key(2))).toThrow('retireAfterMs: expected 30000..');
    let epochs = first;
    for (let i = 2; i <= 4; i++) epochs = rotatedEpochs(epochs, t0, timing, key(i));
    expect(() => rotatedEpochs(epochs, t0, timing, key(9))).toThrow('4 epochs are still accepted (at most 4)');
  });

  it('digests the schedule, not the keys', () => {
    const once = rotatedEpochs(first, t0, timing, key(2));
    expect(networkKeyScheduleDigest(once)).toMatch(/^[0-9a-f]{32}$/);
    expect(networkKeyScheduleDigest(once)).not.toBe(networkKeyScheduleDigest(first));
    expect(networkKeyScheduleDigest(first)).toBe(networkKeyScheduleDigest([{ ...first[0]!, key: key(7) }]));
  });
});

describe('network keys through the CA service', () => {
  let testCa: TestCa;

  beforeAll(async () => {
    testCa = await startTestCa('x0t-netkeys-', 'mesh.test', pass);
  });
  afterAll(async () => {
    await testCa.close();
  });

  function issueToken(): string {
    return withCaLock(testCa.caDir, () => {
      const tokens = readTokens(testCa.caDir);
      const { token } = tokens.issue(Date.now(), 600_000, seeded(`token ${Math.random()}`));
      saveTokens(testCa.caDir, tokens);
      return token;
    });
  }

  async function enrolled(): Promise<{ stateDir: string; spiffeId: string }> {
    const stateDir = join(testCa.root, `node-${Math.random().toString(16).slice(2)}`);
    const node = await enrollNode({ caUrl: testCa.service.address, token: issueToken(), stateDir, caSha256: testCa.pin });
    return { stateDir, spiffeId: node.spiffeId };
  }

  function connection(stateDir: string): Parameters<typeof fetchNetworkKeys>[0] {
    return { caUrl: testCa.service.address, anchors: [testCa.ca.anchor], trustDomain: 'mesh.test', keys: readNodeKeys(stateDir), svid: readEnrollment(stateDir).svid };
  }

  it('hands a node the epochs in force, announces a rotation by digest, and refuses a revoked node', async () => {
    const member = await enrolled();
    const before = await fetchNetworkKeys(connection(member.stateDir));
    expect(before.recipient).toBe(member.spiffeId);
    expect(before.epochs).toHaveLength(1);
    expect(before.epochs[0]!.key).toEqual(readEnrollment(member.stateDir).networkKey);
    const digestBefore = (await fetchRevocations(connection(member.stateDir))).networkKeysDigest;
    expect(digestBefore).toBe(networkKeyScheduleDigest(before.epochs));

    const opened = openCaDirectory(testCa.caDir, pass, Date.now());
    const rotated = rotateNetworkKey(testCa.caDir, opened, Date.now(), timing, seeded('rotation'));
    expect(statSync(join(testCa.caDir, 'network-keys.json')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(testCa.caDir, 'network-keys.json'), 'utf8')).not.toContain(Buffer.from(rotated[1]!.key).toString('base64'));
    const after = await fetchNetworkKeys(connection(member.stateDir));
    expect(after.epochs).toEqual(rotated);
    const revocations = await fetch(`${testCa.service.address}/v1/revocations`);
    expect(revocations.headers.get(networkKeysDigestHeader)).toBe(networkKeyScheduleDigest(rotated));

    // A node enrolled now (before the new epoch activates) is given the key everyone sends under.
    const late = await enrolled();
    expect(readEnrollment(late.stateDir).networkKey).toEqual(rotated[0]!.key);

    revokeInCaDirectory(testCa.caDir, opened.ca, { spiffeId: member.spiffeId, serialHex: null, revokedAtMs: Date.now() }, 'left the mesh', Date.now());
    const refused = await fetchNetworkKeys(connection(member.stateDir)).catch((error: unknown) => error);
    expect(isCaClientError(refused) && refused.serverCode).toBe('ERR_SVID_REVOKED');
  });

  it('a network key request is no renewal request, and the other way round (each is signed for its purpose)', async () => {
    const member = await enrolled();
    const keys = readNodeKeys(member.stateDir);
    const { svid } = readEnrollment(member.stateDir);
    const post = async (path: string, body: Uint8Array): Promise<{ status: number; error: unknown }> => {
      const response = await fetch(`${testCa.service.address}${path}`, { method: 'POST', body });
      return { status: response.status, error: ((await response.json()) as { error?: unknown }).error };
    };
    expect(await post('/v1/renew', encodeRenewalRequest(keys, svid, Date.now(), 'networkKeys'))).toEqual({ status: 400, error: 'ERR_RENEWAL_SIGNATURE' });
    expect(await post('/v1/network-keys', encodeRenewalRequest(keys, svid, Date.now()))).toEqual({ status: 400, error: 'ERR_RENEWAL_SIGNATURE' });
  });

  it('refuses a network-keys.json that was altered, and still serves the revocation list without a digest', async () => {
    const path = join(testCa.caDir, 'network-keys.json');
    const saved = readFileSync(path, 'utf8');
    const file = JSON.parse(saved) as { epochs: { sealedKey: string }[] };
    file.epochs[0]!.sealedKey = Buffer.alloc(32, 9).toString('base64');
    writeFileSync(path, JSON.stringify(file));
    try {
      expect(() => readNetworkKeys(testCa.caDir, openCaDirectory(testCa.caDir, pass, Date.now()))).toThrow(/epoch 0 does not open under this CA's key/);
      // Someone who can write the directory but has no passphrase un-retires the old key: refused too.
      const unretired = JSON.parse(saved) as { epochs: { acceptUntilMs: number | null }[] };
      unretired.epochs[0]!.acceptUntilMs = null;
      writeFileSync(path, JSON.stringify(unretired));
      expect(() => readNetworkKeys(testCa.caDir, openCaDirectory(testCa.caDir, pass, Date.now()))).toThrow(/epoch 0 does not open under this CA's key \(its key or times altered/);
      writeFileSync(path, JSON.stringify(file));
      const revocations = await fetch(`${testCa.service.address}/v1/revocations`);
      expect(revocations.status).toBe(200);
      expect(revocations.headers.get(networkKeysDigestHeader)).toBeNull();
      const member = await enrolled().catch((error: unknown) => error);
      expect(isCaClientError(member)).toBe(true);
    } finally {
      writeFileSync(path, saved);
    }
  });
});
