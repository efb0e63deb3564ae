import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueSvid, nodeKeysFromSeeds, type MeshCa } from '../../src/identity/ca.js';
import {
  bundleBytesMax,
  caUrlCharsMax,
  certificateBytesMax,
  initStateDir,
  isStateError,
  readEnrollment,
  readNetworkKeys,
  readNodeKeys,
  replaceSvid,
  stateFiles,
  writeEnrollment,
  writeNetworkKeys,
  writeNodeKeys,
  type EnrollmentInput,
  type NodeSeeds,
  type StateError,
} from '../../src/node/state-dir.js';
import { seeded } from '../seeded.js';

const t0 = Date.UTC(2026, 10, 27, 12);
const td = 'mesh.test';
const spiffeId = `spiffe://${td}/node/0000002a`;
const root = mkdtempSync(join(tmpdir(), 'x0t-state-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
function freshDir(): string {
  return initStateDir(join(root, `node-${counter++}`)).dir;
}

/** Runs `action` and returns the StateError it throws; fails when it throws nothing or something else. */
function stateRefusal(action: () => unknown): StateError {
  try {
    action();
  } catch (error) {
    if (isStateError(error)) return error;
    throw error;
  }
  throw new Error('expected a StateError, nothing was thrown');
}

const modeOf = (path: string): number => statSync(path).mode & 0o777;

function seedsFrom(label: string): NodeSeeds {
  const random = seeded(label);
  return { ed25519Seed: random(32), mlDsaSeed: random(32), xwingSeed: random(32) };
}

let ca: MeshCa;
let enrollment: EnrollmentInput;
beforeAll(() => {
  ca = createCa(td, t0, seeded('state-ca')).ca;
  const keys = nodeKeysFromSeeds(...(Object.values(seedsFrom('state-node')) as [Uint8Array, Uint8Array, Uint8Array]));
  const svid = issueSvid(ca, '/node/0000002a', keys.publicKeys, t0, seeded('state-svid'));
  enrollment = { spiffeId, trustDomain: td, svid, caCertificate: ca.certificateDer, networkKey: seeded('netkey')(32), bundleJson: '{"keys":[]}\n', caUrl: 'https://ca.mesh.test:8443' };
});

describe('state directory', () => {
  it('creates the directory and its parents 0700 and returns the file paths', () => {
    const dir = join(root, 'nested', 'a', 'state');
    const paths = initStateDir(dir);
    expect(modeOf(dir)).toBe(0o700);
    expect(paths).toEqual({
      dir,
      keys: join(dir, 'keys.json'),
      svid: join(dir, 'svid.der'),
      caCertificate: join(dir, 'ca.der'),
      bundle: join(dir, 'bundle.json'),
      networkKey: join(dir, 'network.key'),
      networkKeys: join(dir, 'network-keys.json'),
      node: join(dir, 'node.json'),
      db: join(dir, 'node.db'),
    });
  });

  it('tightens an existing directory to 0700 and keeps its files', () => {
    const dir = join(root, 'loose');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'keep'), 'x');
    initStateDir(dir);
    expect(modeOf(dir)).toBe(0o700);
    expect(readFileSync(join(dir, 'keep'), 'utf8')).toBe('x');
  });

  it('refuses a path that is a file, or lies under one', () => {
    const file = join(root, 'plain-file');
    writeFileSync(file, 'x');
    expect(stateRefusal(() => initStateDir(file)).message).toBe(`${file}: exists but is not a directory`);
    const under = stateRefusal(() => initStateDir(join(file, 'state')));
    expect(under.code).toBe('ERR_STATE');
    expect(under.message).toBe(`${join(file, 'state')}: cannot create the state directory (ENOTDIR)`);
  });
});

describe('node keys', () => {
  it('writes only the seeds, 0600, atomically, and grows the same keys back', () => {
    const dir = freshDir();
    const seeds = seedsFrom('keys');
    writeNodeKeys(dir, seeds);
    const path = join(dir, stateFiles.keys);
    expect(modeOf(path)).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['keys.json']);
    const file = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(file).sort()).toEqual(['ed25519Seed', 'mlDsaSeed', 'version', 'xwingSeed']);
    expect(file.mlDsaSeed).toBe(Buffer.from(seeds.mlDsaSeed).toString('base64'));
    const keys = readNodeKeys(dir);
    expect(keys.publicKeys).toEqual(nodeKeysFromSeeds(seeds.ed25519Seed, seeds.mlDsaSeed, seeds.xwingSeed).publicKeys);
    expect(keys.ed25519PrivateKey).toEqual(seeds.ed25519Seed);
  });

  it('replaces keys as a whole, still 0600', () => {
    const dir = freshDir();
    writeNodeKeys(dir, seedsFrom('first'));
    const second = seedsFrom('second');
    writeNodeKeys(dir, second);
    expect(modeOf(join(dir, stateFiles.keys))).toBe(0o600);
    expect(readNodeKeys(dir).ed25519PrivateKey).toEqual(second.ed25519Seed);
    expect(readdirSync(dir)).toEqual(['keys.json']);
  });

  it('refuses a keys file that group or others may read, naming the path and the mode', () => {
    const dir = freshDir();
    writeNodeKeys(dir, seedsFrom('open'));
    const path = join(dir, stateFiles.keys);
    for (const [mode, text] of [
      [0o644, '0644'],
      [0o640, '0640'],
      [0o604, '0604'],
    ] as const) {
      chmodSync(path, mode);
      const error = stateRefusal(() => readNodeKeys(dir));
      expect(error.code).toBe('ERR_STATE');
      expect(error.path).toBe(path);
      expect(error.message).toBe(`${path}: permissions ${text} are too open: this private file must be accessible by its owner only (chmod 600 ${path})`);
    }
    chmodSync(path, 0o400);
    expect(readNodeKeys(dir).ed25519PrivateKey).toHaveLength(32);
  });

  it('refuses a missing, empty, truncated, oversized or malformed keys file, naming it', () => {
    const dir = freshDir();
    const path = join(dir, stateFiles.keys);
    expect(stateRefusal(() => readNodeKeys(dir)).message).toBe(`${path}: missing (has this node been enrolled? run x0tta6bl4 node enroll)`);
    writeNodeKeys(dir, seedsFrom('corrupt'));
    const good = readFileSync(path, 'utf8');
    const cases: readonly (readonly [string, RegExp])[] = [
      ['', /keys\.json: empty \(truncated\?\)$/],
      [good.slice(0, good.length >> 1), /keys\.json: not valid JSON \(truncated or corrupt\?\)/],
      [' '.repeat(5000), /keys\.json: 5000 bytes, more than the 4096 such a file may hold/],
      [good.replace('"version": 1', '"version": 2'), /keys\.json: field version: /],
      [good.replace('"version": 1', '"version": 1, "extra": true'), /keys\.json: field \(root\): .*extra/],
      [good.replace(/"xwingSeed": "[^"]*"/, '"xwingSeed": "not base64!"'), /keys\.json: field xwingSeed: /],
      [good.replace(/"mlDsaSeed": "[^"]*"/, `"mlDsaSeed": "${Buffer.alloc(31).toString('base64')}"`), /keys\.json: mlDsaSeed: expected 32 bytes, got 31 \(corrupt\?\)/],
    ];
    for (const [text, pattern] of cases) {
      writeFileSync(path, text, { mode: 0o600 });
      const error = stateRefusal(() => readNodeKeys(dir));
      expect(error.path).toBe(path);
      expect(error.message).toMatch(pattern);
    }
  });

  it('refuses a keys path that is a directory, or a state directory that is a file', () => {
    const dir = freshDir();
    mkdirSync(join(dir, stateFiles.keys));
    expect(stateRefusal(() => readNodeKeys(dir)).message).toMatch(/keys\.json: not a regular file$/);
    const file = join(root, 'file-not-dir');
    writeFileSync(file, 'x');
    expect(stateRefusal(() => readNodeKeys(file)).message).toBe(`${join(file, 'keys.json')}: cannot read (ENOTDIR)`);
  });

  it('refuses seeds of the wrong size on write, and names the file it cannot write', () => {
    const dir = freshDir();
    expect(() => writeNodeKeys(dir, { ...seedsFrom('short'), xwingSeed: new Uint8Array(31) })).toThrow('writeNodeKeys: xwingSeed: expected 32 bytes, got 31');
    expect(existsSync(join(dir, stateFiles.keys))).toBe(false);
    const missing = join(root, 'never-created');
    const error = stateRefusal(() => writeNodeKeys(missing, seedsFrom('nowhere')));
    expect(error.message).toBe(`${join(missing, 'keys.json')}: cannot write (ENOENT)`);
  });
});

describe('enrollment', () => {
  it('stores and reads back an enrollment with private files 0600 and node.json last', () => {
    const dir = freshDir();
    writeEnrollment(dir, enrollment, t0);
    expect(modeOf(join(dir, stateFiles.networkKey))).toBe(0o600);
    expect(modeOf(join(dir, stateFiles.svid)) & 0o600).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual(['bundle.json', 'ca.der', 'network.key', 'node.json', 'svid.der']);
    expect(readEnrollment(dir)).toEqual({
      spiffeId,
      trustDomain: td,
      svid: enrollment.svid,
      caCertificate: ca.certificateDer,
      networkKey: enrollment.networkKey,
      bundleJson: '{"keys":[]}\n',
      caUrl: 'https://ca.mesh.test:8443',
      enrolledAt: '2026-11-27T12:00:00.000Z',
    });
  });

  it('removes a stale bundle and stores a null caUrl when a new enrollment has neither', () => {
    const dir = freshDir();
    writeEnrollment(dir, enrollment, t0);
    const { bundleJson: _bundle, caUrl: _url, ...bare } = enrollment;
    writeEnrollment(dir, bare, t0 + 1000);
    const read = readEnrollment(dir);
    expect(existsSync(join(dir, stateFiles.bundle))).toBe(false);
    expect([read.bundleJson, read.caUrl, read.enrolledAt]).toEqual([null, null, '2026-11-27T12:00:01.000Z']);
  });

  it('reports a directory without node.json as not enrolled', () => {
    const dir = freshDir();
    const error = stateRefusal(() => readEnrollment(dir));
    expect(error.path).toBe(join(dir, stateFiles.node));
    expect(error.message).toMatch(/node\.json: missing \(has this node been enrolled\?/);
  });

  it('refuses truncated or corrupt enrollment files, naming each', () => {
    const corruptions: readonly (readonly [string, (bytes: Buffer) => string | Buffer, RegExp])[] = [
      [stateFiles.svid, (b) => b.subarray(0, b.length - 10), /svid\.der: not a complete DER certificate: the encoding says \d+ bytes, the file holds \d+ \(truncated or corrupt\?\)/],
      [stateFiles.svid, (b) => Buffer.concat([b, Buffer.from([0])]), /svid\.der: not a complete DER certificate/],
      [stateFiles.svid, () => Buffer.from([0x30, 0x03, 1]), /svid\.der: not a complete DER certificate: the encoding says 5 bytes, the file holds 3/],
      [stateFiles.svid, () => Buffer.from([0x30]), /svid\.der: not a complete DER certificate: the encoding says 2 bytes, the file holds 1/],
      [stateFiles.caCertificate, () => 'not DER', /ca\.der: not a DER certificate \(does not start with a SEQUENCE\)/],
      [stateFiles.caCertificate, () => Buffer.from([0x30, 0x80, 0, 0]), /ca\.der: not a DER certificate \(bad length encoding\)/],
      [stateFiles.caCertificate, () => Buffer.from([0x30, 0x85, 1, 1, 1, 1, 1]), /ca\.der: not a DER certificate \(bad length encoding\)/],
      [stateFiles.caCertificate, () => Buffer.from([0x30, 0x82, 0x01]), /ca\.der: not a complete DER certificate: the encoding says 260 bytes, the file holds 3/],
      [stateFiles.caCertificate, () => Buffer.alloc(certificateBytesMax + 1, 0x30), /ca\.der: 65537 bytes, more than the 65536/],
      [stateFiles.caCertificate, () => '', /ca\.der: empty \(truncated\?\)/],
      [stateFiles.networkKey, (b) => b.subarray(0, 31), /network\.key: expected 32 bytes, got 31 \(truncated\?\)/],
      [stateFiles.networkKey, (b) => Buffer.concat([b, b]), /network\.key: 64 bytes, more than the 32/],
      [stateFiles.bundle, (b) => b.subarray(0, 5), /bundle\.json: not valid JSON \(truncated or corrupt\?\)/],
      [stateFiles.node, (b) => b.subarray(0, 20), /node\.json: not valid JSON/],
      [stateFiles.node, (b) => b.toString().replace(/"enrolledAt": "[^"]*"/, '"enrolledAt": "yesterday"'), /node\.json: field enrolledAt: /],
      [stateFiles.node, (b) => b.toString().replace(spiffeId, 'spiffe://mesh.test/node/0000002a?x'), /node\.json: field spiffeId: .*query/],
      [stateFiles.node, (b) => b.toString().replace(spiffeId, 'spiffe://other.test/node/0000002a'), /node\.json: field spiffeId: spiffe:\/\/other\.test\/node\/0000002a is not in trustDomain mesh\.test/],
    ];
    for (const [file, corrupt, pattern] of corruptions) {
      const dir = freshDir();
      writeEnrollment(dir, enrollment, t0);
      const path = join(dir, file);
      writeFileSync(path, corrupt(readFileSync(path)));
      const error = stateRefusal(() => readEnrollment(dir));
      expect(error.path).toBe(path);
      expect(error.message).toMatch(pattern);
    }
  });

  it('refuses a network key that others may read', () => {
    const dir = freshDir();
    writeEnrollment(dir, enrollment, t0);
    chmodSync(join(dir, stateFiles.networkKey), 0o644);
    expect(stateRefusal(() => readEnrollment(dir)).message).toMatch(/network\.key: permissions 0644 are too open/);
  });

  it('keeps the network key epochs fetched from the CA: 0600, read back exactly, none before the first fetch', () => {
    const dir = freshDir();
    expect(readNetworkKeys(dir)).toBeNull();
    const epochs = [
      { epoch: 3, key: seeded('epoch 3')(32), activeFromMs: t0, acceptUntilMs: t0 + 600_000 },
      { epoch: 4, key: seeded('epoch 4')(32), activeFromMs: t0 + 300_000, acceptUntilMs: null },
    ];
    writeNetworkKeys(dir, { issuedAtMs: t0, epochs });
    expect(modeOf(join(dir, stateFiles.networkKeys))).toBe(0o600);
    expect(readNetworkKeys(dir)).toEqual({ issuedAtMs: t0, epochs });
    expect(() => writeNetworkKeys(dir, { issuedAtMs: t0, epochs: [] })).toThrow(/expected 1\.\.4 epochs, got 0/);
  });

  it('refuses a network-keys.json that others may read, that is malformed, or whose epochs are out of order', () => {
    const dir = freshDir();
    const path = join(dir, stateFiles.networkKeys);
    writeNetworkKeys(dir, { issuedAtMs: t0, epochs: [{ epoch: 0, key: seeded('k')(32), activeFromMs: 0, acceptUntilMs: null }] });
    chmodSync(path, 0o644);
    expect(stateRefusal(() => readNetworkKeys(dir)).message).toMatch(/network-keys\.json: permissions 0644 are too open/);
    chmodSync(path, 0o600);
    writeFileSync(path, '{"version":1,"issuedAtMs":1,"epochs":[{"epoch":0}]}');
    expect(stateRefusal(() => readNetworkKeys(dir)).message).toMatch(/network-keys\.json: field epochs\.0\.key/);
    const key = Buffer.alloc(32, 1).toString('base64');
    writeFileSync(path, JSON.stringify({ version: 1, issuedAtMs: 1, epochs: [1, 0].map((epoch) => ({ epoch, key, activeFromMs: 0, acceptUntilMs: null })) }));
    expect(stateRefusal(() => readNetworkKeys(dir)).message).toMatch(/epochs\[1\]\.epoch: expected epochs in rising order/);
  });

  it('refuses bad enrollment arguments before writing anything', () => {
    const dir = freshDir();
    const bad: readonly (readonly [Partial<EnrollmentInput>, string])[] = [
      [{ trustDomain: 'other.test' }, `writeEnrollment: ${spiffeId} is not in trust domain other.test`],
      [{ svid: enrollment.svid.subarray(0, 100) }, 'writeEnrollment: svid: not a complete DER certificate'],
      [{ caCertificate: new Uint8Array(certificateBytesMax + 1) }, `writeEnrollment: caCertificate: more than ${certificateBytesMax} bytes`],
      [{ networkKey: new Uint8Array(16) }, 'writeEnrollment: networkKey: expected 32 bytes, got 16'],
      [{ bundleJson: 'x'.repeat(bundleBytesMax + 1) }, `writeEnrollment: bundleJson: more than ${bundleBytesMax} bytes`],
      [{ caUrl: `https://${'a'.repeat(caUrlCharsMax)}` }, `writeEnrollment: caUrl: more than ${caUrlCharsMax} characters`],
    ];
    for (const [change, message] of bad) {
      expect(() => writeEnrollment(dir, { ...enrollment, ...change }, t0)).toThrow(message);
    }
    expect(() => writeEnrollment(dir, { ...enrollment, spiffeId: 'spiffe://Mesh' }, t0)).toThrow();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('replaces the SVID of an enrolled node, and refuses an unenrolled node or a broken SVID', () => {
    const dir = freshDir();
    writeEnrollment(dir, enrollment, t0);
    const keys = nodeKeysFromSeeds(...(Object.values(seedsFrom('rotated')) as [Uint8Array, Uint8Array, Uint8Array]));
    const next = issueSvid(ca, '/node/0000002a', keys.publicKeys, t0 + 1800_000, seeded('next-svid'));
    replaceSvid(dir, next);
    expect(readEnrollment(dir).svid).toEqual(next);
    expect(readdirSync(dir).filter((name) => name.includes('.tmp-'))).toEqual([]);
    expect(() => replaceSvid(dir, next.subarray(1))).toThrow(/replaceSvid: svid: not a DER certificate/);
    expect(readEnrollment(dir).svid).toEqual(next);
    const unenrolled = freshDir();
    expect(stateRefusal(() => replaceSvid(unenrolled, next)).message).toMatch(/node\.json: missing/);
    expect(existsSync(join(unenrolled, stateFiles.svid))).toBe(false);
  });
});
