import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { caCommand, parseDurationMs } from '../../src/cli/ca.js';
import type { CliIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/run.js';
import { openCaDirectory } from '../../src/node/ca-store.js';

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

  it('parses durations in s, m, h and d', () => {
    expect([parseDurationMs('--ttl', '30s'), parseDurationMs('--ttl', '10m'), parseDurationMs('--ttl', '1h'), parseDurationMs('--ttl', '2d')]).toEqual([30_000, 600_000, 3_600_000, 172_800_000]);
  });
});
