import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { caCommand, parseDurationMs } from '../../src/cli/ca.js';
import type { CliIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/run.js';
import { parseCertificate } from '../../src/identity/certificate.js';
import { validateSvid } from '../../src/identity/svid.js';
import { rotateNetworkKey } from '../../src/node/ca-network-keys.js';
import { openCaDirectory, recordIssuedSvid } from '../../src/node/ca-store.js';
import { seeded } from '../seeded.js';
import { readClientIdentity } from '../../src/node/state-dir.js';

const env = { X0TTA6BL4_CA_PASSPHRASE: 'correct horse battery staple' };

function capture(readSecret?: CliIo['readSecret']): { io: CliIo; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { io: { stdout: (t) => (out += t), stderr: (t) => (err += t), isTTY: false, ...(readSecret === undefined ? {} : { readSecret }) }, out: () => out, err: () => err };
}

function dir(): string {
  return join(mkdtempSync(join(tmpdir(), 'x0t-cli-ca-')), 'ca');
}

describe('x0tta6bl4 ca', () => {
  it('init creates a CA and join-token issues a token the CA accepts', () => {
    const caDir = dir();
    const init = capture();
    expect(caCommand('init', ['--trust-domain', 'mesh.test', '--dir', caDir, '--json'], init.io, env)).toBe(0);
    expect(JSON.parse(init.out())).toMatchObject({ trustDomain: 'mesh.test', spiffeId: 'spiffe://mesh.test', dir: caDir });
    const issued = capture();
    expect(caCommand('join-token', ['--dir', caDir, '--ttl', '10m', '--json'], issued.io, env)).toBe(0);
    const { token } = JSON.parse(issued.out()) as { token: string };
    expect(openCaDirectory(caDir, env.X0TTA6BL4_CA_PASSPHRASE, Date.now()).tokens.check(token, Date.now()).usedAtMs).toBeNull();
    const human = capture();
    expect(caCommand('join-token', ['--dir', caDir], human.io, env)).toBe(0);
    expect(human.out()).toMatch(/^x0t1\.[0-9a-f]{16}\.\S{43}\n {2}one-time join token/);
  });

  it('asks on the terminal when the environment has no passphrase, and says so when there is no terminal', () => {
    const caDir = dir();
    const asked: string[] = [];
    const withTerminal = capture((prompt) => (asked.push(prompt), 'typed passphrase 123'));
    expect(caCommand('init', ['--trust-domain', 'mesh.test', '--dir', caDir], withTerminal.io, {})).toBe(0);
    expect(asked).toEqual(['CA passphrase: ']);
    expect(withTerminal.out()).toContain('created the mesh CA of mesh.test');
    const none = capture();
    expect(() => caCommand('join-token', ['--dir', caDir], none.io, {})).toThrow(/no CA passphrase: set X0TTA6BL4_CA_PASSPHRASE/);
  });

  it('exits 2 naming the problem: wrong passphrase, bad trust domain, missing flag, unknown verb, bad ttl', () => {
    const caDir = dir();
    expect(caCommand('init', ['--trust-domain', 'mesh.test', '--dir', caDir], capture().io, env)).toBe(0);
    const cases: [string[], RegExp][] = [
      [['ca', 'join-token', '--dir', caDir], /wrong passphrase/],
      [['ca', 'init', '--trust-domain', 'BAD', '--dir', dir()], /trust domain may hold only/],
      [['ca', 'init', '--dir', dir()], /--trust-domain is required/],
      [['ca', 'frobnicate'], /ca: expected init or join-token, got "frobnicate"/],
      [['ca'], /got nothing/],
      [['ca', 'join-token', '--dir', caDir, '--ttl', '10 minutes'], /--ttl: expected a duration like 30s/],
      [['ca', 'init', '--bogus'], /Unknown option '--bogus'/],
    ];
    const previous = process.env.X0TTA6BL4_CA_PASSPHRASE;
    process.env.X0TTA6BL4_CA_PASSPHRASE = 'a different passphrase';
    try {
      for (const [argv, message] of cases) {
        const c = capture();
        expect(runCli(argv, c.io)).toBe(2);
        expect(c.err()).toMatch(message);
      }
    } finally {
      if (previous === undefined) delete process.env.X0TTA6BL4_CA_PASSPHRASE;
      else process.env.X0TTA6BL4_CA_PASSPHRASE = previous;
    }
  });

  it('issue writes a client identity: keys 0600, an SVID of the path binding those keys, the CA certificate', () => {
    const caDir = dir();
    expect(caCommand('init', ['--trust-domain', 'mesh.test', '--dir', caDir], capture().io, env)).toBe(0);
    const out = join(mkdtempSync(join(tmpdir(), 'x0t-cli-issue-')), 'alice');
    const issued = capture();
    expect(caCommand('issue', ['/operator/alice', '--dir', caDir, '--out', out, '--ttl', '2h', '--json'], issued.io, env)).toBe(0);
    const summary = JSON.parse(issued.out()) as { spiffeId: string; serialHex: string; notAfter: string; dir: string };
    expect(summary).toMatchObject({ spiffeId: 'spiffe://mesh.test/operator/alice', dir: out });
    const identity = readClientIdentity(out);
    const { ca } = openCaDirectory(caDir, env.X0TTA6BL4_CA_PASSPHRASE, Date.now());
    const svid = validateSvid(identity.svid, [ca.anchor], 'mesh.test', Date.now());
    expect([svid.spiffeId, svid.serialHex]).toEqual([summary.spiffeId, summary.serialHex]);
    expect(svid.ed25519PublicKey).toEqual(identity.keys.publicKeys.ed25519PublicKey);
    expect(identity.caCertificate).toEqual(ca.certificateDer);
    expect(Date.parse(summary.notAfter) - Date.now()).toBeGreaterThan(3600_000);
    expect(Date.parse(summary.notAfter) - Date.now()).toBeLessThanOrEqual(2 * 3600_000);
    expect(statSync(join(out, 'keys.json')).mode & 0o777).toBe(0o600);
    expect(statSync(out).mode & 0o777).toBe(0o700);
    // The human form; a day by default.
    const bob = capture();
    const bobDir = join(out, '..', 'bob');
    expect(caCommand('issue', ['/operator/bob', '--dir', caDir, '--out', bobDir], bob.io, env)).toBe(0);
    expect(bob.out()).toMatch(/^issued spiffe:\/\/mesh\.test\/operator\/bob \(serial [0-9a-f]+\) into /);
    expect(bob.out()).toContain(`into ${bobDir}, valid until `);
    expect(parseCertificate(readClientIdentity(bobDir).svid).notAfterMs - Date.now()).toBeGreaterThan(23 * 3600_000);
  });

  it('list shows every SVID issue made, active, revoked (the serial or the whole ID) or expired; a broken issued.json is named', () => {
    const caDir = dir();
    expect(caCommand('init', ['--trust-domain', 'mesh.test', '--dir', caDir], capture().io, env)).toBe(0);
    const base = mkdtempSync(join(tmpdir(), 'x0t-cli-issue-'));
    const issue = (path: string): string => {
      const c = capture();
      expect(caCommand('issue', [path, '--dir', caDir, '--out', join(base, path.split('/').at(-1)!), '--json'], c.io, env)).toBe(0);
      return (JSON.parse(c.out()) as { serialHex: string }).serialHex;
    };
    const aliceSerial = issue('/operator/alice');
    issue('/operator/bob');
    issue('/service/exporter');
    recordIssuedSvid(caDir, { spiffeId: 'spiffe://mesh.test/operator/old', serialHex: '4a01', issuedAtMs: Date.now() - 7200_000, notAfterMs: Date.now() - 3600_000 });
    const revoked = capture();
    expect(caCommand('revoke', ['spiffe://mesh.test/operator/alice', '--dir', caDir, '--serial', aliceSerial], revoked.io, env)).toBe(0);
    // An issued identity is one the CA knows: no note that it was never enrolled.
    expect(revoked.err()).toBe('');
    expect(caCommand('revoke', ['spiffe://mesh.test/service/exporter', '--dir', caDir], capture().io, env)).toBe(0);
    const listed = capture();
    expect(caCommand('list', ['--dir', caDir, '--json'], listed.io, env)).toBe(0);
    const { issued } = JSON.parse(listed.out()) as { issued: { spiffeId: string; serialHex: string; status: string }[] };
    expect(issued.map((svid) => [svid.spiffeId.slice('spiffe://mesh.test'.length), svid.status])).toEqual([
      ['/operator/alice', 'revoked'],
      ['/operator/bob', 'active'],
      ['/service/exporter', 'revoked'],
      ['/operator/old', 'expired'],
    ]);
    expect(issued[0]!.serialHex).toBe(aliceSerial);
    const table = capture();
    expect(caCommand('list', ['--dir', caDir], table.io, env)).toBe(0);
    expect(table.out()).toContain('issued identities (ca issue): 4');
    expect(table.out()).toMatch(/spiffe:\/\/mesh\.test\/operator\/bob .* active/);
    writeFileSync(join(caDir, 'issued.json'), '[{"spiffeId": 7}]');
    const broken = capture();
    expect(runCli(['ca', 'list', '--dir', caDir], broken.io)).not.toBe(0);
    expect(broken.err()).toContain('issued.json');
  });

  it('issue exits 2 for a node path, a path that is not a SPIFFE path, a bad --ttl, a directory that holds keys, a missing --out', () => {
    const caDir = dir();
    expect(caCommand('init', ['--trust-domain', 'mesh.test', '--dir', caDir], capture().io, env)).toBe(0);
    const taken = join(mkdtempSync(join(tmpdir(), 'x0t-cli-issue-')), 'taken');
    expect(caCommand('issue', ['/operator/carol', '--dir', caDir, '--out', taken], capture().io, env)).toBe(0);
    vi.stubEnv('X0TTA6BL4_CA_PASSPHRASE', env.X0TTA6BL4_CA_PASSPHRASE);
    const cases: [string[], RegExp][] = [
      [['/node/0000002a'], /ca issue: \/node\/0000002a: node identities come from node init with a join token/],
      [['operator'], /ca issue: "operator": expected a path such as \/operator\/alice/],
      [['/operator/a b'], /ca issue: "\/operator\/a b": .*path segments may hold only/],
      [['/operator/dave', '--ttl', '31d'], /--ttl: expected 1s\.\.30d, got 31d/],
      [['/operator/dave', '--ttl', '0s'], /--ttl: expected 1s\.\.30d, got 0s/],
    ];
    for (const [extra, message] of cases) {
      const c = capture();
      expect(runCli(['ca', 'issue', ...extra.slice(0, 1), '--dir', caDir, '--out', join(taken, '..', 'new'), ...extra.slice(1)], c.io)).toBe(2);
      expect(c.err()).toMatch(message);
    }
    const again = capture();
    expect(runCli(['ca', 'issue', '/operator/carol', '--dir', caDir, '--out', taken], again.io)).toBe(2);
    expect(again.err()).toMatch(/keys\.json: exists already: an identity is never overwritten/);
    const noOut = capture();
    expect(runCli(['ca', 'issue', '/operator/carol', '--dir', caDir], noOut.io)).toBe(2);
    expect(noOut.err()).toMatch(/--out is required/);
    vi.unstubAllEnvs();
  });

  it('rotate-network-key adds an epoch, prints its schedule, and exits 2 naming a bad timing or a full ring', () => {
    const caDir = dir();
    expect(caCommand('init', ['--trust-domain', 'mesh.test', '--dir', caDir], capture().io, env)).toBe(0);
    const json = capture();
    const before = Date.now();
    expect(caCommand('rotate-network-key', ['--dir', caDir, '--activate-in', '2m', '--retire-after', '1h', '--json'], json.io, env)).toBe(0);
    const { epochs } = JSON.parse(json.out()) as { epochs: { epoch: number; activeFrom: string; acceptedUntil: string | null }[] };
    expect(epochs.map((entry) => entry.epoch)).toEqual([0, 1]);
    const activeFromMs = Date.parse(epochs[1]!.activeFrom);
    expect(activeFromMs - before).toBeGreaterThanOrEqual(120_000);
    expect(Date.parse(epochs[0]!.acceptedUntil!) - activeFromMs).toBe(3600_000);
    expect(epochs[1]!.acceptedUntil).toBeNull();
    const listed = capture();
    expect(caCommand('list', ['--dir', caDir, '--json'], listed.io, {})).toBe(0);
    const { networkKeys } = JSON.parse(listed.out()) as { networkKeys: { epoch: number; activeFrom: string | null; status: string }[] };
    expect(networkKeys.map((row) => [row.epoch, row.status])).toEqual([
      [0, 'in use'],
      [1, 'pending'],
    ]);
    expect(networkKeys[0]!.activeFrom).toBeNull();
    const listedHuman = capture();
    expect(caCommand('list', ['--dir', caDir], listedHuman.io, {})).toBe(0);
    expect(listedHuman.out()).toMatch(/network key epochs: 2\n[\s\S]*from the start[\s\S]* in use\n[\s\S]*pending\n/);
    const human = capture();
    expect(caCommand('rotate-network-key', ['--dir', caDir], human.io, env)).toBe(0);
    expect(human.out()).toMatch(/^network key epoch 2 added: nodes send under it from \S+\n/);
    expect(human.out()).toContain('revoked nodes are refused it');
    expect(caCommand('rotate-network-key', ['--dir', caDir], capture().io, env)).toBe(0);
    const cases: [string[], RegExp][] = [
      [['ca', 'rotate-network-key', '--dir', caDir, '--activate-in', '5s'], /--activate-in: expected 30 s to 7 days, got 5 s/],
      [['ca', 'rotate-network-key', '--dir', caDir, '--retire-after', 'soon'], /--retire-after: expected a duration/],
    ];
    for (const [argv, message] of cases) {
      const errors = capture();
      expect(runCli(argv, errors.io)).toBe(2);
      expect(errors.err()).toMatch(message);
    }
    expect(() => caCommand('rotate-network-key', ['--dir', caDir], capture().io, env)).toThrow(/4 epochs are still accepted \(at most 4\)/);
  });

  it('list tells an epoch in use from one still accepted, and from one retired', () => {
    const statuses = (agoMs: number): string[][] => {
      const caDir = dir();
      expect(caCommand('init', ['--trust-domain', 'mesh.test', '--dir', caDir], capture().io, env)).toBe(0);
      // Rotated as of `agoMs` ago, with the shortest steps (30 s each).
      rotateNetworkKey(caDir, openCaDirectory(caDir, env.X0TTA6BL4_CA_PASSPHRASE, Date.now()), Date.now() - agoMs, { activateInMs: 30_000, retireAfterMs: 30_000 }, seeded(`rotation ${agoMs}`));
      const listed = capture();
      expect(caCommand('list', ['--dir', caDir, '--json'], listed.io, {})).toBe(0);
      return (JSON.parse(listed.out()) as { networkKeys: { epoch: number; status: string }[] }).networkKeys.map((row) => [String(row.epoch), row.status]);
    };
    expect(statuses(45_000)).toEqual([
      ['0', 'accepted'],
      ['1', 'in use'],
    ]);
    expect(statuses(120_000)).toEqual([
      ['0', 'retired'],
      ['1', 'in use'],
    ]);
  });

  it('parses durations in s, m, h and d', () => {
    expect([parseDurationMs('--ttl', '30s'), parseDurationMs('--ttl', '10m'), parseDurationMs('--ttl', '1h'), parseDurationMs('--ttl', '2d')]).toEqual([30_000, 600_000, 3_600_000, 172_800_000]);
  });
});
