import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, type RunningApi } from '../../src/api/server.js';
import { auditLimitMax, isoDateTimeMessage } from '../../src/api/schemas.js';
import { ClientError, apiTokenEnv, clientCommand, clientCommands, clientUsageText, formatAudit, formatDuration, formatPing, formatTrace, isClientCommand } from '../../src/cli/client.js';
import { FakeBackend, adminToken, peerA, peerB, silentId, viewerToken } from '../api/fake-backend.js';
import { testOptions } from '../api/helpers.js';

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

let api: RunningApi;
const backend = new FakeBackend();
const dir = mkdtempSync(join(tmpdir(), 'x0t-client-'));
const adminTokenFile = join(dir, 'admin.token');
const viewerTokenFile = join(dir, 'viewer.token');
writeFileSync(adminTokenFile, `${adminToken}\n`);
writeFileSync(viewerTokenFile, viewerToken);

beforeAll(async () => {
  api = await startApi({ ...testOptions(backend), port: 0 });
});
afterAll(async () => {
  await api.close();
});

/** Runs a client command against the test API (the token from the environment unless `env` says otherwise). */
async function run(argv: readonly string[], env: NodeJS.ProcessEnv = { [apiTokenEnv]: adminToken }, withApi = true): Promise<Run> {
  let out = '';
  let err = '';
  const io = { stdout: (t: string) => (out += t), stderr: (t: string) => (err += t), isTTY: false };
  const code = await clientCommand(argv[0]!, [...argv.slice(1), ...(withApi ? ['--api', api.address] : [])], io, env);
  return { code, out, err };
}

describe('client commands against a real API', () => {
  it('status prints the node as aligned key/value lines', async () => {
    expect(await run(['status'])).toEqual({
      code: 0,
      err: '',
      out: [
        'node        0000abcd',
        'spiffe id   spiffe://mesh.test/node/0000abcd',
        'state       running',
        'profile     fast',
        'version     0.1.0',
        'started     2025-01-01T00:00:00.000Z (up 1h 2m 3s)',
        'listen udp  0.0.0.0:7400, [::]:7400',
        'listen tcp  -',
        'api         127.0.0.1:7480',
        'svid until  2025-01-02T00:00:00.000Z',
        '',
      ].join('\n'),
    });
  });

  it('neighbours and routes print aligned tables', async () => {
    expect(await run(['neighbours', '--token-file', viewerTokenFile])).toEqual({
      code: 0,
      err: '',
      out: [
        'peer      link  transport  address            state       cost  rtt ms',
        '--------  ----  ---------  -----------------  ---------  -----  ------',
        '0000beef     1  udp        10.0.0.2:7400      up            96    1.25',
        '00c0ffee     2  tcp        10.0.0.3:7401      disabled   65535    0.00',
        '-            3  udp        192.168.7.10:7400  unsecured  65535    0.00',
        '',
      ].join('\n'),
    });
    expect((await run(['routes', '--token-file', adminTokenFile])).out).toBe(
      [
        'destination  via       link  metric  seqno  alternate',
        '-----------  --------  ----  ------  -----  ---------',
        '0000beef     0000beef     1      96      7  no',
        '00c0ffee     0000beef     1     352     12  yes',
        '',
      ].join('\n'),
    );
  });

  it('says so when there are no links or routes', async () => {
    const saved = [backend.neighbourList, backend.routeList] as const;
    backend.neighbourList = [];
    backend.routeList = [{ dst: peerA, nextHop: null, link: 1, metric: 96, seqno: 1, hasAlternate: false }];
    try {
      expect((await run(['neighbours'])).out).toBe('no links\n');
      expect((await run(['routes'])).out).toContain('0000beef     -       1      96      1  no\n');
      backend.routeList = [];
      expect((await run(['routes'])).out).toBe('no routes\n');
    } finally {
      [backend.neighbourList, backend.routeList] = saved;
    }
  });

  it('--json prints the API answer as is', async () => {
    for (const command of ['status', 'neighbours', 'routes'] as const) {
      const result = await run([command, '--json']);
      expect(result.code).toBe(0);
      expect(JSON.parse(result.out)).toEqual(command === 'status' ? backend.nodeInfo : command === 'neighbours' ? backend.neighbourList : backend.routeList);
    }
    const ping = await run(['ping', peerA, '--json', '--count', '2']);
    expect(JSON.parse(ping.out)).toEqual({ dst: peerA, replies: [{ seq: 1, rttMs: 1, outcome: 'reply' }, { seq: 2, rttMs: 1.25, outcome: 'reply' }] });
    const silent = await run(['ping', silentId, '--json', '--count', '1']);
    expect([silent.code, JSON.parse(silent.out)]).toEqual([1, { dst: silentId, replies: [{ seq: 1, rttMs: null, outcome: 'timeout' }] }]);
    const trace = await run(['traceroute', peerB, '--json']);
    expect(JSON.parse(trace.out)).toHaveLength(3);
  });

  it('ping prints one line per echo and a summary, exit 0 when a reply came', async () => {
    expect(await run(['ping', peerA])).toEqual({
      code: 0,
      err: '',
      out: [
        'PING 0000beef: 3 echo requests',
        'reply from 0000beef: seq=1 time=1.00 ms',
        'reply from 0000beef: seq=2 time=1.25 ms',
        'reply from 0000beef: seq=3 time=1.50 ms',
        '',
        '--- 0000beef ping statistics ---',
        '3 sent, 3 received, 0% loss',
        'rtt min/avg/max = 1.00/1.25/1.50 ms',
        '',
      ].join('\n'),
    });
    expect((await run(['ping', peerB, '--count', '4'])).out).toBe(
      [
        'PING 00c0ffee: 4 echo requests',
        'reply from 00c0ffee: seq=1 time=2.00 ms',
        'no reply from 00c0ffee: seq=2 timeout',
        'from 0000beef: seq=3 destination unreachable',
        'from 0000beef: seq=4 hop limit exceeded',
        '',
        '--- 00c0ffee ping statistics ---',
        '4 sent, 1 received, 75% loss',
        'rtt min/avg/max = 2.00/2.00/2.00 ms',
        '',
      ].join('\n'),
    );
    expect(backend.calls.filter((c) => c.method === 'ping').at(-1)!.args).toEqual([peerB, { count: 4, intervalMs: 1000, timeoutMs: 1000 }]);
  });

  it('ping exits 1 when no reply came', async () => {
    const result = await run(['ping', silentId, '--count', '1']);
    expect(result).toEqual({
      code: 1,
      err: '',
      out: ['PING 0000dead: 1 echo request', 'no reply from 0000dead: seq=1 timeout', '', '--- 0000dead ping statistics ---', '1 sent, 0 received, 100% loss', ''].join('\n'),
    });
  });

  it('link down and link up tell the node and print the new state', async () => {
    const saved = backend.neighbourList.map((n) => ({ ...n }));
    const before = backend.calls.length;
    try {
      expect(await run(['link', 'down', '1'])).toEqual({ code: 0, err: '', out: 'link 1 down\n' });
      expect((await run(['neighbours'])).out).toContain('0000beef     1  udp        10.0.0.2:7400      disabled      96    1.25\n');
      expect(await run(['link', 'up', '1', '--token-file', adminTokenFile])).toEqual({ code: 0, err: '', out: 'link 1 up\n' });
      const json = await run(['link', 'up', '2', '--json']);
      expect([json.code, JSON.parse(json.out)]).toEqual([0, { link: 2, disabled: false }]);
      expect(backend.calls.slice(before).filter((c) => c.method === 'setLinkDisabled').map((c) => c.args)).toEqual([
        [1, true],
        [1, false],
        [2, false],
      ]);
    } finally {
      backend.neighbourList = saved;
    }
  });

  it('node drain (and the drain client command) asks the node to drain', async () => {
    const before = backend.drainCount;
    expect(await run(['drain'])).toEqual({ code: 0, err: '', out: 'draining: the node retracted its routes for others; it forwards what still arrives, then leaves\n' });
    const json = await run(['drain', '--json']);
    expect([json.code, JSON.parse(json.out)]).toEqual([0, { status: 'draining' }]);
    expect(backend.drainCount - before).toBe(2);
  });

  it('audit prints the audit log as a table, newest first, and passes --limit and --since (its + intact) to the node', async () => {
    const self = 'spiffe://mesh.test/node/0000abcd';
    const before = backend.calls.length;
    expect(await run(['audit', '--token-file', viewerTokenFile])).toEqual({
      code: 0,
      err: '',
      out: [
        `time                      actor                             action       subject                           outcome  detail`,
        `------------------------  --------------------------------  -----------  --------------------------------  -------  -------------------`,
        `2025-01-01T01:00:00.000Z  operator                          node.drain   ${self}  ok       -`,
        `2025-01-01T00:30:00.000Z  ${self}  svid.renew   ${self}  failed   CA unreachable`,
        `2025-01-01T00:10:00.000Z  spiffe://mesh.test/node/00c0ffee  policy.peer  ${self}  denied   policies quarantine`,
        `2025-01-01T00:00:00.000Z  operator                          node.start   ${self}  ok       -`,
        '',
      ].join('\n'),
    });
    // 01:30 at +01:00 is 00:30 UTC: records 4 and 3, of which --limit 1 keeps the newest.
    const limited = await run(['audit', '--limit', '1', '--since', '2025-01-01T01:30:00+01:00']);
    expect([limited.code, limited.out.split('\n').slice(2)]).toEqual([0, [`2025-01-01T01:00:00.000Z  operator  node.drain  ${self}  ok       -`, '']]);
    const json = await run(['audit', '--json', '--limit', String(auditLimitMax)]);
    expect([json.code, JSON.parse(json.out)]).toEqual([0, backend.auditList]);
    expect(backend.calls.slice(before).map((c) => c.args)).toEqual([[{ limit: 100 }], [{ limit: 1, since: '2025-01-01T00:30:00.000Z' }], [{ limit: auditLimitMax }]]);
    expect((await run(['audit', '--since', '2030-01-01T00:00:00Z'])).out).toBe('no audit records\n');
  });

  it('incidents prints the self-healing loop\'s incidents; actions its decisions with audit\'s options', async () => {
    const incidents = await run(['incidents']);
    expect(incidents.code).toBe(0);
    expect(incidents.out.split('\n')[0]).toBe('id  subject        cause     state      opened                    score  action          tried');
    expect(incidents.out.split('\n')[2]).toBe(` 1  node:${peerB}  greyHole  confirmed  2026-11-27T12:00:00.000Z   0.93  quarantineNode  quarantineNode`);
    expect(JSON.parse((await run(['incidents', '--json'])).out)).toEqual(backend.incidentList);
    expect((await run(['actions', '--limit', '5'])).out).toBe('no audit records\n');
    backend.incidentList.length = 0;
    expect((await run(['incidents'])).out).toBe('no incidents\n');
  });

  it('traceroute prints one line per hop', async () => {
    expect(await run(['traceroute', peerB])).toEqual({
      code: 0,
      err: '',
      out: ['traceroute to 00c0ffee, 16 hops max', ' 1  0000beef  0.50 ms', ' 2  *', ' 3  00c0ffee  2.75 ms', ''].join('\n'),
    });
    expect((await run(['traceroute', silentId, '--max-hops', '2'])).out).toBe(['traceroute to 0000dead, 2 hops max', ' 1  0000beef  0.50 ms', ' 2  *', ''].join('\n'));
  });
});

describe('error answers exit 1', () => {
  it('names the status and code of a 401 and a 403 with its policies', async () => {
    const wrong = await run(['status'], { [apiTokenEnv]: 'not-the-token-0123456789' });
    expect(wrong).toEqual({ code: 1, out: '', err: 'x0tta6bl4: GET /v1/node: HTTP 401 unauthorized: unknown token\n' });
    const denied = await run(['ping', peerA, '--token-file', viewerTokenFile]);
    expect(denied.code).toBe(1);
    expect(denied.err).toBe('x0tta6bl4: POST /v1/ping: HTTP 403 forbidden: policy denies apiPing to local-viewer (action apiPing, policies viewer-read-only)\n');
    const link = await run(['link', 'down', '1', '--token-file', viewerTokenFile]);
    expect(link).toEqual({ code: 1, out: '', err: 'x0tta6bl4: POST /v1/neighbours/1/down: HTTP 403 forbidden: policy denies apiLinks to local-viewer (action apiLinks, policies viewer-read-only)\n' });
  });

  it('names the link the node does not have (404)', async () => {
    expect(await run(['link', 'down', '7'])).toEqual({ code: 1, out: '', err: 'x0tta6bl4: POST /v1/neighbours/7/down: HTTP 404 not_found: no link 7\n' });
    expect((await run(['link', 'up', '7', '--json'])).err).toBe('x0tta6bl4: POST /v1/neighbours/7/up: HTTP 404 not_found: no link 7\n');
  });

  it('audit names the route and query of an error answer', async () => {
    backend.failing.add('audit');
    try {
      expect(await run(['audit', '--limit', '5'])).toEqual({ code: 1, out: '', err: 'x0tta6bl4: GET /v1/audit?limit=5: HTTP 500 internal: internal error\n' });
    } finally {
      backend.failing.delete('audit');
    }
  });

  it('reports a failing node as HTTP 500', async () => {
    backend.failing.add('routes');
    try {
      expect(await run(['routes'])).toEqual({ code: 1, out: '', err: 'x0tta6bl4: GET /v1/routes: HTTP 500 internal: internal error\n' });
    } finally {
      backend.failing.delete('routes');
    }
  });

  it('reports an API that cannot be reached', async () => {
    const closed = await startApi({ ...testOptions(), port: 0 });
    await closed.close();
    const result = await run(['status', '--api', closed.address], undefined, false);
    expect(result).toEqual({ code: 1, out: '', err: `x0tta6bl4: cannot reach the node API at ${closed.address}: ECONNREFUSED\n` });
  });

  it('reports an answer that is not JSON, and a token fetch refuses to send', async () => {
    const server: Server = createServer((request, response) => {
      if (request.url === '/v1/node') response.writeHead(500).end('{}');
      else if (request.url === '/v1/routes') response.writeHead(403).end(JSON.stringify({ error: 'forbidden', message: 'no', action: 'apiRead', policyIds: [] }));
      else response.writeHead(502).end('<html>bad gateway</html>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const result = await run(['neighbours', '--api', address], undefined, false);
      expect(result).toEqual({ code: 1, out: '', err: 'x0tta6bl4: GET /v1/neighbours: HTTP 502 with a body that is not JSON\n' });
      expect((await run(['status', '--api', address], undefined, false)).err).toBe('x0tta6bl4: GET /v1/node: HTTP 500 error: \n');
      expect((await run(['routes', '--api', address], undefined, false)).err).toBe('x0tta6bl4: GET /v1/routes: HTTP 403 forbidden: no (action apiRead, policies none)\n');
      const badHeader = await run(['status', '--api', address], { [apiTokenEnv]: 'line\none' }, false);
      expect(badHeader.code).toBe(1);
      expect(badHeader.err).toMatch(/^x0tta6bl4: cannot reach the node API at http:\/\/127\.0\.0\.1:\d+: .*header/i);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('bad usage exits 2', () => {
  const cases: [readonly string[], string, NodeJS.ProcessEnv?][] = [
    [['reboot'], 'unknown command "reboot"'],
    [['status', 'extra'], 'status: expected no arguments, got "extra"'],
    [['ping'], 'ping: expected one node ID, got 0 arguments'],
    [['traceroute', peerA, peerB], 'traceroute: expected one node ID, got 2 arguments'],
    [['ping', 'beef'], 'ping: <node>: expected 8 lower-case hex digits, not 00000000, got "beef"'],
    [['ping', '00000000'], 'ping: <node>: expected 8 lower-case hex digits, not 00000000, got "00000000"'],
    [['ping', peerA, '--count', '0'], '--count: expected an integer in 1..100, got "0"'],
    [['ping', peerA, '--count', 'many'], '--count: expected an integer in 1..100, got "many"'],
    [['traceroute', peerA, '--max-hops', '65'], '--max-hops: expected an integer in 1..64, got "65"'],
    [['status', '--count', '3'], 'status: --count is an option of ping only'],
    [['link'], 'link: expected "down <link>" or "up <link>", got 0 arguments'],
    [['link', 'down'], 'link: expected "down <link>" or "up <link>", got 1 argument'],
    [['link', 'up', '1', '2'], 'link: expected "down <link>" or "up <link>", got 3 arguments'],
    [['link', 'sideways', '1'], 'link: expected "down" or "up", got "sideways"'],
    [['link', '1', 'down'], 'link: expected "down" or "up", got "1"'],
    [['link', 'down', '0'], 'link: <link>: expected a positive integer, got "0"'],
    [['link', 'down', '07'], 'link: <link>: expected a positive integer, got "07"'],
    [['link', 'up', 'eth0'], 'link: <link>: expected a positive integer, got "eth0"'],
    [['link', 'up', '9007199254740992'], 'link: <link>: expected a positive integer, got "9007199254740992"'],
    [['link', 'down', '1', '--count', '3'], 'link: --count is an option of ping only'],
    [['ping', peerA, '--max-hops', '3'], 'ping: --max-hops is an option of traceroute only'],
    [['audit', 'now'], 'audit: expected no arguments, got "now"'],
    [['audit', '--limit', '0'], `--limit: expected an integer in 1..${auditLimitMax}, got "0"`],
    [['audit', '--limit', String(auditLimitMax + 1)], `--limit: expected an integer in 1..${auditLimitMax}, got "${auditLimitMax + 1}"`],
    [['audit', '--limit', '1e2'], `--limit: expected an integer in 1..${auditLimitMax}, got "1e2"`],
    [['audit', '--since', 'yesterday'], `--since: ${isoDateTimeMessage}, got "yesterday"`],
    [['audit', '--since', '2025-01-01T00:00:00'], `--since: ${isoDateTimeMessage}, got "2025-01-01T00:00:00"`],
    [['audit', '--count', '3'], 'audit: --count is an option of ping only'],
    [['status', '--limit', '3'], 'status: --limit is an option of audit and actions only'],
    [['ping', peerA, '--since', '2025-01-01T00:00:00Z'], 'ping: --since is an option of audit and actions only'],
    [['status', '--verbose'], "status: Unknown option '--verbose'"],
    [['status', '--api', 'not a url'], '--api: expected a URL like http://127.0.0.1:7480, got "not a url"'],
    [['status', '--api', 'ftp://127.0.0.1:7480'], '--api: expected an http or https URL, got "ftp://127.0.0.1:7480"'],
    [['status'], `no API token: pass --token-file PATH or set ${apiTokenEnv} (or call with a client SVID: --identity DIR)`, {}],
    [['status'], `no API token: pass --token-file PATH or set ${apiTokenEnv} (or call with a client SVID: --identity DIR)`, { [apiTokenEnv]: '  \n' }],
    [['status', '--token-file', join(dir, 'missing')], `--token-file: cannot read ${join(dir, 'missing')}: ENOENT`],
    [['status', '--token-file', dir], `--token-file: cannot read ${dir}: EISDIR`],
  ];

  it.each(cases)('%j', async (argv, message, env) => {
    const result = await run(argv, env ?? { [apiTokenEnv]: adminToken }, false);
    expect(result.code).toBe(2);
    expect(result.out).toBe('');
    // parseArgs adds a hint after its own messages; everything else is exactly the message.
    expect(result.err.startsWith(`x0tta6bl4: ${message}${message.includes('Unknown option') ? '.' : '\n'}`)).toBe(true);
    expect(result.err.endsWith(`\nUsage:\n${clientUsageText}`)).toBe(true);
  });

  it('refuses an empty token file', async () => {
    const empty = join(dir, 'empty.token');
    writeFileSync(empty, '\n');
    expect((await run(['status', '--token-file', empty], {}, false)).err).toContain(`--token-file: ${empty} is empty`);
  });

  it('the token file wins over the environment', async () => {
    const result = await run(['ping', peerA, '--token-file', viewerTokenFile], { [apiTokenEnv]: adminToken });
    expect(result.err).toContain('HTTP 403 forbidden');
  });
});

describe('formatting helpers', () => {
  it('formatDuration leaves out leading zero units', () => {
    expect([0, 59, 60, 3723, 90_061, -3, 1.9].map(formatDuration)).toEqual(['0s', '59s', '1m 0s', '1h 2m 3s', '1d 1h 1m 1s', '0s', '1s']);
  });

  it('formatPing and formatTrace cover every outcome', () => {
    expect(formatPing({ dst: peerA, replies: [] })).toBe('\n--- 0000beef ping statistics ---\n0 sent, 0 received, 100% loss\n');
    expect(formatPing({ dst: peerA, replies: [{ seq: 1, rttMs: null, outcome: 'unreachable' }, { seq: 2, rttMs: null, outcome: 'hopLimitExceeded' }] })).toContain(
      'from 0000beef: seq=1 destination unreachable\nfrom ?: seq=2 hop limit exceeded\n',
    );
    expect(formatPing({ dst: peerA, replies: [{ seq: 1, rttMs: 1, outcome: 'reply' }, { seq: 2, rttMs: null, outcome: 'timeout' }, { seq: 3, rttMs: null, outcome: 'timeout' }] })).toContain(
      '3 sent, 1 received, 66.7% loss',
    );
    expect(formatPing({ dst: peerA, replies: [{ seq: 1, rttMs: null, outcome: 'reply' }] })).toContain('reply from 0000beef: seq=1 time=?\n');
    expect(formatTrace([{ hop: 12, nodeId: peerA, rttMs: null }])).toBe('12  0000beef  *\n');
  });

  it('formatAudit shows control and format characters from the node escaped, one record per line', () => {
    const record = { id: 1, at: '2025-01-01T00:00:00.000Z', actor: 'evil\u001b[2J', action: 'policy.peer', subject: 'a\u202eb', outcome: 'denied' as const, detail: 'line one\nline two\t\u0000\u2028' };
    expect(formatAudit([record]).split('\n')).toEqual([
      'time                      actor          action       subject   outcome  detail',
      '------------------------  -------------  -----------  --------  -------  --------------------------------',
      '2025-01-01T00:00:00.000Z  evil\\u001b[2J  policy.peer  a\\u202eb  denied   line one\\nline two\\t\\u0000\\u2028',
      '',
    ]);
    expect(formatAudit([])).toBe('no audit records\n');
  });

  it('knows its commands, and its errors carry codes', () => {
    expect(clientCommands.every(isClientCommand)).toBe(true);
    expect(isClientCommand('demo')).toBe(false);
    expect(isClientCommand(undefined)).toBe(false);
    expect(new ClientError('ERR_CLIENT_API', 'x').code).toBe('ERR_CLIENT_API');
  });

  it('rethrows what is neither a usage nor a client error', async () => {
    const io = {
      stdout: () => {
        throw new RangeError('stdout closed');
      },
      stderr: () => undefined,
      isTTY: false,
    };
    await expect(clientCommand('status', ['--api', api.address], io, { [apiTokenEnv]: adminToken })).rejects.toThrow('stdout closed');
  });
});
