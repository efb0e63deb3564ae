import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';
import { jsonLog, packageVersion } from '../../src/cli/node.js';
import { runCliAsync } from '../../src/cli/run.js';
import type { CaService } from '../../src/node/ca-service.js';
import { readTokens, saveTokens, withCaLock } from '../../src/node/ca-store.js';
import { readEnrollment } from '../../src/node/state-dir.js';
import { deadUrl, startTestCa, type TestCa } from '../node/ca-fixture.js';

/**
 * The asynchronous command line (runCliAsync): `node init` / `node start` usage and input errors,
 * `ca serve` and the client commands routed through it, and how failures map to exit codes
 * (0 ok, 1 failure at run time, 2 bad usage or input).
 */

const passphrase = 'cli node test passphrase';
const trustDomain = 'cli-node.test';
const random = (bytes: number): Uint8Array => new Uint8Array(randomBytes(bytes));
const never = { promise: new Promise<string>(() => undefined) };

let root: string;
let caDir: string;
let pin: string;
let service: CaService;

let testCa: TestCa | undefined;

beforeAll(async () => {
  testCa = await startTestCa('x0t-node-cli-', trustDomain, passphrase);
  ({ root, caDir, pin, service } = testCa);
});

afterAll(async () => {
  await testCa?.close();
});

afterEach(() => {
  vi.unstubAllEnvs();
});

function capture(overrides: Partial<CliIo> = {}): { io: CliIo; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { io: { stdout: (text) => (out += text), stderr: (text) => (err += text), isTTY: false, ...overrides }, out: () => out, err: () => err };
}

async function run(argv: string[], overrides: Partial<CliIo> = {}): Promise<{ code: number; out: string; err: string }> {
  const c = capture(overrides);
  const code = await runCliAsync(argv, c.io, never);
  return { code, out: c.out(), err: c.err() };
}

function newToken(): string {
  return withCaLock(caDir, () => {
    const tokens = readTokens(caDir);
    const { token } = tokens.issue(Date.now(), 600_000, random);
    saveTokens(caDir, tokens);
    return token;
  });
}


let dirCount = 0;
function stateDir(): string {
  return join(root, `state-${dirCount++}`);
}

describe('node: usage errors exit 2 with the usage text', () => {
  it.each([
    [['node'], 'node: expected init, start or drain, got nothing'],
    [['node', 'frob'], 'node: expected init, start or drain, got "frob"'],
    [['node', 'init', '--join', 'x0t1.token', '--ca', 'http://127.0.0.1:1', '--dir', '/tmp/x'], 'node init: pin the CA with --ca-sha256 HEX'],
    [['node', 'init', '--ca', 'http://127.0.0.1:1', '--ca-sha256', 'ab'.repeat(32), '--dir', '/tmp/x'], '--join is required'],
    [['node', 'init', '--join', 'x0t1.token', '--ca-sha256', 'ab'.repeat(32), '--dir', '/tmp/x'], '--ca is required'],
    [['node', 'init', '--join', 'x0t1.token', '--ca', 'http://127.0.0.1:1', '--ca-sha256', 'ab'.repeat(32)], '--dir is required'],
    [['node', 'init', '--frob'], "Unknown option '--frob'"],
    [['node', 'start'], '--config is required'],
    [['node', 'start', '--config', 'a.yaml', 'extra'], "Unexpected argument 'extra'"],
    [['demo', '--frob'], "demo: Unknown option '--frob'"],
    [['frob'], 'unknown command "frob"'],
  ])('%j', async (argv, message) => {
    const result = await run(argv);
    expect(result.code).toBe(2);
    expect(result.err).toContain(`x0tta6bl4: ${message}`);
    expect(result.err).toContain('Usage: x0tta6bl4');
    expect(result.out).toBe('');
  });
});

describe('node init', () => {
  it('enrolls with a bundle file as the pin, and prints what it did', async () => {
    const bundlePath = join(root, 'bundle.json');
    writeFileSync(bundlePath, await (await fetch(`${service.address}/v1/bundle`)).text());
    const dir = stateDir();
    const result = await run(['node', 'init', '--join', newToken(), '--ca', service.address, '--bundle', bundlePath, '--dir', dir]);
    expect([result.code, result.err]).toEqual([0, '']);
    const { spiffeId } = readEnrollment(dir);
    const nodeId = spiffeId.slice(spiffeId.lastIndexOf('/') + 1);
    expect(result.out).toMatch(new RegExp(`^enrolled ${spiffeId} \\(node ${nodeId}\\)\\n  SVID valid until \\d{4}-\\S+Z\\n  state in ${dir} \\(keys 0600\\)\\n  next: x0tta6bl4 node start --config node.yaml  \\(with stateDir: ${dir}\\)\\n$`));
  });

  it('--json prints one object; a second enrollment into the same directory is refused (exit 2)', async () => {
    const dir = stateDir();
    const first = await run(['node', 'init', '--join', newToken(), '--ca', service.address, '--ca-sha256', pin, '--dir', dir, '--json']);
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.out) as Record<string, string>;
    expect(Object.keys(summary)).toEqual(['spiffeId', 'nodeId', 'trustDomain', 'svidNotAfter', 'stateDir']);
    expect(summary).toMatchObject({ spiffeId: readEnrollment(dir).spiffeId, trustDomain, stateDir: dir });
    const again = await run(['node', 'init', '--join', newToken(), '--ca', service.address, '--ca-sha256', pin, '--dir', dir]);
    expect(again).toEqual({ code: 2, out: '', err: `x0tta6bl4: ${dir}: already holds an enrolled node; use a new directory\n` });
  });

  it('refuses a malformed pin, the wrong pin and an unreachable CA as bad input (exit 2), without usage text', async () => {
    const malformed = await run(['node', 'init', '--join', newToken(), '--ca', service.address, '--ca-sha256', 'xyz', '--dir', stateDir()]);
    expect(malformed).toEqual({ code: 2, out: '', err: 'x0tta6bl4: CA pin: expected the 64 hex digits of the CA certificate\'s SHA-256, got "xyz"\n' });
    const wrong = await run(['node', 'init', '--join', newToken(), '--ca', service.address, '--ca-sha256', '00'.repeat(32), '--dir', stateDir()]);
    expect(wrong.code).toBe(2);
    expect(wrong.err).not.toContain('Usage:');
    const nowhere = await deadUrl();
    const unreachable = await run(['node', 'init', '--join', newToken(), '--ca', nowhere, '--ca-sha256', pin, '--dir', stateDir()]);
    expect(unreachable.code).toBe(2);
    expect(unreachable.err).toContain(`cannot reach the CA at ${nowhere}`);
  });

  it('a join token the CA does not know: exit 2 with the CA\'s reason', async () => {
    const result = await run(['node', 'init', '--join', `x0t1.${'0'.repeat(16)}.${'A'.repeat(43)}`, '--ca', service.address, '--ca-sha256', pin, '--dir', stateDir()]);
    expect(result.code).toBe(2);
    expect(result.err).toContain('join token: not issued by this CA');
  });
});

describe('node start: input errors exit 2 naming the file', () => {
  it('a config file that does not exist', async () => {
    const path = join(root, 'missing.yaml');
    expect(await run(['node', 'start', '--config', path])).toEqual({ code: 2, out: '', err: `x0tta6bl4: ${path}: cannot read the config file (ENOENT)\n` });
  });

  it('an unknown key', async () => {
    const path = join(root, 'unknown-key.yaml');
    writeFileSync(path, 'listen:\n  udp: ["127.0.0.1:0"]\nfrob: 1\n');
    const result = await run(['node', 'start', '--config', path]);
    expect(result.code).toBe(2);
    expect(result.err).toContain(`${path}: frob: unknown key`);
  });
});

describe('jsonLog', () => {
  it('writes one JSON object per line at or above its level', () => {
    const c = capture();
    const log = jsonLog(c.io, 'warn');
    log('debug', 'hidden');
    log('info', 'hidden too');
    log('warn', 'shown', { peer: 'x' });
    log('error', 'also shown');
    const lines = c.out().trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toEqual([
      { time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), level: 'warn', msg: 'shown', peer: 'x' },
      { time: expect.any(String), level: 'error', msg: 'also shown' },
    ]);
  });

  it('the package version is the one in package.json', () => {
    expect(packageVersion()).toBe((JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }).version);
  });
});

describe('runCliAsync routing', () => {
  it('ca serve: a bad --listen exits 2 naming the flag; a good one serves until the stop signal, exit 0', async () => {
    vi.stubEnv('X0TTA6BL4_CA_PASSPHRASE', passphrase);
    const bad = await run(['ca', 'serve', '--dir', caDir, '--listen', 'nowhere']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('x0tta6bl4: --listen: expected host:port (port 0..65535), got "nowhere"');

    const c = capture();
    let stop: (reason: string) => void = () => undefined;
    const serving = runCliAsync(['ca', 'serve', '--dir', caDir, '--listen', '127.0.0.1:0'], c.io, { promise: new Promise<string>((resolve) => (stop = resolve)) });
    const deadline = Date.now() + 20_000;
    while (!c.out().includes('stop with Ctrl-C') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const url = /serving on (http:\/\/\S+)/.exec(c.out())![1]!;
    expect(c.out()).toContain(`CA certificate sha256 ${pin}`);
    expect((await fetch(`${url}/v1/bundle`)).status).toBe(200);
    stop('SIGTERM');
    expect(await serving).toBe(0);
    expect(c.out()).toContain('CA service stopped\n');
    await expect(fetch(`${url}/v1/bundle`)).rejects.toThrow();
  });

  it('ca serve without a passphrase: exit 2', async () => {
    vi.stubEnv('X0TTA6BL4_CA_PASSPHRASE', '');
    const result = await run(['ca', 'serve', '--dir', caDir, '--listen', '127.0.0.1:0']);
    expect(result.code).toBe(2);
    expect(result.err).toContain('no CA passphrase: set X0TTA6BL4_CA_PASSPHRASE');
  });

  it('client commands: bad usage exits 2, an unreachable node 1', async () => {
    const tokenFile = join(root, 'token');
    writeFileSync(tokenFile, 'a-token-of-enough-length\n');
    const usage = await run(['status', 'extra', '--token-file', tokenFile]);
    expect(usage.code).toBe(2);
    expect(usage.err).toContain('status: expected no arguments, got "extra"');
    const nowhere = await deadUrl();
    const unreachable = await run(['routes', '--api', nowhere, '--token-file', tokenFile]);
    expect(unreachable).toEqual({ code: 1, out: '', err: `x0tta6bl4: cannot reach the node API at ${nowhere}: ECONNREFUSED\n` });
    const drain = await run(['node', 'drain', '--api', nowhere, '--token-file', tokenFile]);
    expect(drain.code).toBe(1);
    expect(drain.err).toContain('cannot reach the node API');
  });

  it('an output that fails is a failure at run time (exit 1), whatever was thrown', async () => {
    const tokenFile = join(root, 'token-2');
    writeFileSync(tokenFile, 'a-token-of-enough-length\n');
    const ping = ['ping', '0000beef', '--api', await deadUrl(), '--token-file', tokenFile];
    const closed = await run(ping, {
      stdout: () => {
        throw new Error('stdout closed');
      },
    });
    expect(closed.code).toBe(1);
    expect(closed.err).toMatch(/^x0tta6bl4: Error: stdout closed\n\s+at /);
    const stackless = new Error('no stack');
    delete stackless.stack;
    const bare = await run(ping, {
      stdout: () => {
        throw stackless;
      },
    });
    expect(bare).toEqual({ code: 1, out: '', err: 'x0tta6bl4: no stack\n' });
    const thrownString = await run(['node', 'init', '--join', newToken(), '--ca', service.address, '--ca-sha256', pin, '--dir', stateDir()], {
      stdout: () => {
        throw 'broken pipe';
      },
    });
    expect(thrownString).toEqual({ code: 1, out: '', err: 'x0tta6bl4: broken pipe\n' });
  });

  it('synchronous commands run as in runCli: help, version, twin and ca input errors', async () => {
    expect((await run([])).out).toContain('Usage: x0tta6bl4');
    expect((await run(['--version'])).out).toBe(`${packageVersion()}\n`);
    const twin = await run(['twin', 'run', join(root, 'no-such-scenario.yaml')]);
    expect(twin.code).toBe(2);
    expect(twin.err).toContain('no-such-scenario.yaml');
    vi.stubEnv('X0TTA6BL4_CA_PASSPHRASE', 'short');
    const ca = await run(['ca', 'init', '--trust-domain', 'x.test', '--dir', join(root, 'ca-short')]);
    expect(ca).toEqual({ code: 2, out: '', err: 'x0tta6bl4: CA passphrase: expected at least 12 characters, got 5\n' });
  });

  it('a twin scenario whose edge list is malformed: exit 2 naming the file', async () => {
    const dir = join(root, 'topology');
    mkdirSync(dir);
    writeFileSync(join(dir, 'bad.edges'), '0 1 2\n');
    writeFileSync(join(dir, 'scenario.yaml'), 'name: bad-edges\ntopology:\n  kind: edges\n  file: bad.edges\n');
    const result = await run(['twin', 'run', join(dir, 'scenario.yaml')]);
    expect(result.code).toBe(2);
    expect(result.err).toContain('bad.edges');
  });
});
