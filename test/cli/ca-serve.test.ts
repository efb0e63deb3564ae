import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sha256 } from '../../src/crypto/hash.js';
import { verifyRevocationList } from '../../src/identity/revocation.js';
import { caCommand } from '../../src/cli/ca.js';
import { caServeCommand, untilSignalled } from '../../src/cli/ca-serve.js';
import { UsageError } from '../../src/cli/errors.js';
import type { CliIo } from '../../src/cli/io.js';
import { openCaDirectory, revokeInCaDirectory } from '../../src/node/ca-store.js';
import { enrollNode } from '../../src/node/enroll-client.js';

const passphrase = 'correct horse battery staple';
const env = { X0TTA6BL4_CA_PASSPHRASE: passphrase };
const repoRoot = resolve(import.meta.dirname, '../..');

/** Captured output; `waitFor` resolves once stdout holds `text`. */
function capture(): { io: CliIo; out: () => string; err: () => string; waitFor: (text: string) => Promise<void> } {
  let out = '';
  let err = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  const stdout = (text: string): void => {
    out += text;
    for (const waiter of waiters.filter((w) => out.includes(w.text))) waiter.resolve();
  };
  const waitFor = (text: string): Promise<void> => (out.includes(text) ? Promise.resolve() : new Promise((resolve) => waiters.push({ text, resolve })));
  return { io: { stdout, stderr: (t) => (err += t), isTTY: false }, out: () => out, err: () => err, waitFor };
}

function newCa(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'x0t-cli-serve-')), 'ca');
  expect(caCommand('init', ['--trust-domain', 'mesh.test', '--dir', dir], capture().io, env)).toBe(0);
  return dir;
}

function run(verb: string, argv: string[]): { code: number; out: string; err: string } {
  const c = capture();
  const code = caCommand(verb, argv, c.io, env);
  return { code, out: c.out(), err: c.err() };
}

describe('x0tta6bl4 ca serve / revoke / list', () => {
  it('serves enrollment with the pin join-token prints; revoke and list show the node; stops cleanly', async () => {
    const dir = newCa();
    const served = capture();
    let stop = (): void => undefined;
    const stopped = new Promise<string>((resolve) => (stop = () => resolve('test')));
    const done = caServeCommand(['--dir', dir, '--listen', '127.0.0.1:0', '--svid-ttl', '2h'], served.io, env, { promise: stopped });
    await served.waitFor('stop with Ctrl-C');
    const url = /serving on (http:\/\/\S+)/.exec(served.out())![1]!;
    const pin = /CA certificate sha256 ([0-9a-f]{64})/.exec(served.out())![1]!;
    const human = run('join-token', ['--dir', dir]);
    expect(human.out).toContain(`CA certificate sha256 ${pin} (the pin: node init --ca-sha256 ${pin})`);
    const issued = JSON.parse(run('join-token', ['--dir', dir, '--json']).out) as { token: string; caSha256: string };
    expect(issued.caSha256).toBe(pin);
    expect(pin).toBe(Buffer.from(sha256(openCaDirectory(dir, passphrase, Date.now()).ca.certificateDer)).toString('hex'));
    const node = await enrollNode({ caUrl: url, token: issued.token, stateDir: join(mkdtempSync(join(tmpdir(), 'x0t-cli-node-')), 'state'), caSha256: pin });
    expect(node.svidNotAfterMs - Date.now()).toBeGreaterThan(3600_000);
    expect(served.err()).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\S+ CA of mesh.test serving on .*\\n.* enrolled ${node.spiffeId}\\n`, 's'));

    expect(run('list', ['--dir', dir]).out).toMatch(new RegExp(`${node.spiffeId}.*active`));
    const revoked = run('revoke', [node.spiffeId, '--dir', dir, '--reason', 'lost laptop']);
    expect([revoked.code, revoked.err]).toEqual([0, '']);
    expect(revoked.out).toBe(`revoked ${node.spiffeId}\n  revocation list sequence 1, 1 entries; a running CA service serves it at once\n`);
    const list = verifyRevocationList(new Uint8Array(await (await fetch(`${url}/v1/revocations`)).arrayBuffer()), [openCaDirectory(dir, passphrase, Date.now()).ca.anchor], 'mesh.test');
    expect(list.entries).toEqual([expect.objectContaining({ spiffeId: node.spiffeId, serialHex: null })]);

    const table = run('list', ['--dir', dir]);
    expect(table.out).toContain(`mesh CA of mesh.test, CA certificate sha256 ${pin}`);
    expect(table.out).toMatch(new RegExp(`enrolled nodes: 1\\n.*${node.spiffeId}.*revoked`, 's'));
    expect(table.out).toMatch(/unused join tokens: 1\n/);
    expect(table.out).toMatch(new RegExp(`revocations \\(list sequence 1\\): 1\\n.*${node.spiffeId}\\s+all\\s+\\S+\\s+lost laptop`, 's'));
    const json = JSON.parse(run('list', ['--dir', dir, '--json']).out) as { nodes: { revoked: boolean }[]; tokens: unknown[]; revocations: { sequence: number; entries: { reason: string; revokedAt: string }[] }; caSha256: string };
    expect(json.caSha256).toBe(pin);
    expect(json.nodes).toEqual([expect.objectContaining({ spiffeId: node.spiffeId, revoked: true })]);
    expect(json.tokens).toHaveLength(1);
    expect(json.revocations).toEqual({ sequence: 1, entries: [{ spiffeId: node.spiffeId, serialHex: null, revokedAt: expect.any(String), reason: 'lost laptop' }] });

    stop();
    expect(await done).toBe(0);
    expect(served.out()).toMatch(/CA service stopped\n$/);
  });

  it('revokes one certificate by serial, notes an identity it never enrolled, and replaces a repeated revocation', () => {
    const dir = newCa();
    const id = 'spiffe://mesh.test/node/0000abcd';
    const first = run('revoke', [id, '--dir', dir, '--serial', '0A:1B', '--json']);
    expect(first.err).toMatch(/note: spiffe:\/\/mesh.test\/node\/0000abcd was neither enrolled through this CA's service nor issued by ca issue/);
    expect(JSON.parse(first.out)).toMatchObject({ spiffeId: id, serialHex: '0a1b', sequence: 1, entries: 1 });
    expect(run('revoke', [id, '--dir', dir, '--serial', '0a1b']).out).toMatch(/^revoked certificate 0a1b of spiffe:\/\/mesh.test\/node\/0000abcd\n {2}revocation list sequence 2, 1 entries/);
    expect(run('revoke', [id, '--dir', dir]).out).toMatch(/sequence 3, 2 entries/);
    const json = JSON.parse(run('list', ['--dir', dir, '--json']).out) as { revocations: { entries: { serialHex: string | null; reason: string }[] } };
    expect(json.revocations.entries.map((entry) => [entry.serialHex, entry.reason])).toEqual([[null, ''], ['0a1b', '']]);
  });

  it('lists a fresh CA: no nodes, no issued identities, no tokens, revocation sequence 0, network key epoch 0 in use', () => {
    const dir = newCa();
    const listed = run('list', ['--dir', dir]);
    expect(listed.out).toMatch(/enrolled nodes: 0\n\nissued identities \(ca issue\): 0\n\nunused join tokens: 0\n\nrevocations \(list sequence 0\): 0\n\nnetwork key epochs: 1\n[^]*\n0 +from the start +- +in use\n$/);
    expect(JSON.parse(run('list', ['--dir', dir, '--json']).out)).toMatchObject({
      trustDomain: 'mesh.test',
      nodes: [],
      issued: [],
      tokens: [],
      revocations: { sequence: 0, entries: [] },
      networkKeys: [{ epoch: 0, activeFrom: null, acceptedUntil: null, status: 'in use' }],
    });
  });

  it('names what is wrong with a revoke, list or serve command line', async () => {
    const dir = newCa();
    const usage: [string, string[], RegExp][] = [
      ['revoke', ['--dir', dir], /expected 1 operand\(s\), got 0/],
      ['revoke', ['not a spiffe id', '--dir', dir], /"not a spiffe id" is not a SPIFFE ID/],
      ['revoke', ['spiffe://other.test/node/00000001', '--dir', dir], /must name a node of trust domain mesh.test/],
      ['revoke', ['spiffe://mesh.test', '--dir', dir], /must name a node of trust domain mesh.test/],
      ['revoke', ['spiffe://mesh.test/node/00000001', '--dir', dir, '--serial', 'xyz'], /--serial: expected 1\.\.20 bytes of hex/],
      ['revoke', ['spiffe://mesh.test/node/00000001', '--dir', dir, '--serial', '00'.repeat(21)], /--serial: expected/],
      ['revoke', ['spiffe://mesh.test/node/00000001', '--dir', dir, '--reason', 'x'.repeat(201)], /--reason: expected at most 200 characters, got 201/],
      ['list', [], /--dir is required/],
      ['list', ['--dir', dir, 'extra'], /Unexpected argument 'extra'/],
    ];
    for (const [verb, argv, message] of usage) expect(() => caCommand(verb, argv, capture().io, env), `${verb} ${argv.join(' ')}`).toThrow(message);
    const ca = openCaDirectory(dir, passphrase, Date.now()).ca;
    expect(() => revokeInCaDirectory(dir, ca, { spiffeId: 'spiffe://mesh.test/node/00000001', serialHex: null, revokedAtMs: Date.now() }, 'x'.repeat(201), Date.now())).toThrow(RangeError);
    const serve = (argv: string[], environment: NodeJS.ProcessEnv = env): Promise<number> => caServeCommand(argv, capture().io, environment, { promise: Promise.resolve() });
    await expect(serve(['--listen', '127.0.0.1:0'])).rejects.toThrow(/--dir is required/);
    await expect(serve(['--dir', dir, '--listen', 'nowhere'])).rejects.toThrow(UsageError);
    await expect(serve(['--dir', dir, '--listen', '127.0.0.1:0', '--svid-ttl', '31d'])).rejects.toThrow(/svidTtlMs in 1\.\./);
    await expect(serve(['--dir', dir, '--listen', '127.0.0.1:0'], {})).rejects.toThrow(/no CA passphrase/);
    await expect(serve(['--dir', dir, '--listen', '127.0.0.1:0'], { X0TTA6BL4_CA_PASSPHRASE: 'not the passphrase' })).rejects.toThrow(/wrong passphrase/);
    expect(await serve(['--dir', dir, '--listen', '127.0.0.1:0'])).toBe(0);
  });

  it('runs as a real process until SIGTERM, then exits 0', async () => {
    const dir = newCa();
    const module = join(repoRoot, 'src/cli/ca-serve.ts');
    const script = `import { caServeCommand } from ${JSON.stringify(module)};
const io = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t), isTTY: false };
process.exitCode = await caServeCommand(['--dir', ${JSON.stringify(dir)}, '--listen', '127.0.0.1:0'], io);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /serving on (http:\/\/\S+)\n[\s\S]*stop with/.exec(stdout);
        if (match !== null) resolve(match[1]!);
      });
      child.on('exit', () => reject(new Error(`ca serve exited early: ${stderr}`)));
    });
    expect((await fetch(`${url}/v1/bundle`)).status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toMatch(/CA service stopped\n$/);
  });

  it('stops on the first SIGINT or SIGTERM and then lets go of both signals', async () => {
    for (const name of ['SIGINT', 'SIGTERM']) {
      const source = new EventEmitter();
      const stop = untilSignalled(source);
      expect([source.listenerCount('SIGINT'), source.listenerCount('SIGTERM')]).toEqual([1, 1]);
      source.emit(name);
      expect(await stop.promise).toBe(name);
      expect([source.listenerCount('SIGINT'), source.listenerCount('SIGTERM')]).toEqual([0, 0]);
    }
  });
});
