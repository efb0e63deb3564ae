import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  configBytesMax,
  configIssuesReportedMax,
  formatHostPort,
  isConfigError,
  loadNodeConfig,
  nodeConfigDefaults,
  parseHostPort,
  parseNodeConfig,
  peersMax,
  type NodeConfig,
} from '../../src/node/config.js';

const root = mkdtempSync(join(tmpdir(), 'x0t-config-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs `action` and returns the ConfigError it throws; fails when it throws nothing or something else. */
function configRefusal(action: () => unknown): ConfigError {
  try {
    action();
  } catch (error) {
    if (isConfigError(error)) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

const parse = (text: string): NodeConfig => parseNodeConfig(text, '/etc/x0t/node.yaml');
const refuse = (text: string): ConfigError => configRefusal(() => parse(text));

describe('node config: defaults and paths', () => {
  it('fills in every default for an empty file, a comment-only file and an empty mapping', () => {
    for (const text of ['', '# nothing set\n', '{}\n']) {
      const config = parse(text);
      expect(config).toEqual({
        configFile: '/etc/x0t/node.yaml',
        stateDir: '/etc/x0t/state',
        listen: { udp: [{ host: '127.0.0.1', port: 7400, family: 4 }], tcp: [] },
        peers: [],
        discovery: { lan: false, port: 7399, intervalMs: 5000, group: '239.255.74.70', interface: null },
        profile: 'fast',
        endToEnd: true,
        tcp: { acceptedMax: 256, perAddressMax: 8 },
        revocations: { maxAgeMs: 60_000 },
        api: { listen: { host: '127.0.0.1', port: 7480, family: 4 }, tokenFile: '/etc/x0t/state/api-token', viewerTokenFile: null, mtls: false },
        policy: { dir: null },
        log: { level: 'info' },
        faultInjection: { dropTransitShare: 0 },
        selfHealing: { transitProbes: 2 },
      });
    }
  });

  it('fills in defaults inside a section that sets only some keys', () => {
    const config = parse('discovery:\n  lan: true\napi:\n  tokenFile: /run/x0t/token\npeers:\n  - address: "10.0.0.2:7400"\n');
    expect(config.discovery).toEqual({ lan: true, port: 7399, intervalMs: 5000, group: '239.255.74.70', interface: null });
    expect(config.api).toEqual({ listen: { host: '127.0.0.1', port: 7480, family: 4 }, tokenFile: '/run/x0t/token', viewerTokenFile: null, mtls: false });
    expect(config.peers).toEqual([{ address: { host: '10.0.0.2', port: 7400, family: 4 }, transport: 'udp' }]);
  });

  it('takes every key when all are set', () => {
    const text = [
      'stateDir: /var/lib/x0t',
      'listen:',
      '  udp: ["0.0.0.0:7400", "[::]:7400"]',
      '  tcp: ["127.0.0.1:0"]',
      'peers:',
      '  - address: "[2001:db8::1]:7401"',
      '    transport: tcp',
      'discovery: { lan: true, port: 7000, intervalMs: 100, group: 224.0.0.251, interface: 192.168.1.5 }',
      'profile: rfc8966',
      'endToEnd: false',
      'tcp: { acceptedMax: 64, perAddressMax: 2 }',
      'revocations: { maxAgeMs: 120000 }',
      'api: { listen: "[::1]:0", tokenFile: token, mtls: true }',
      'policy: { dir: /opt/policies }',
      'log: { level: debug }',
      'faultInjection: { dropTransitShare: 0.8 }',
      'selfHealing: { transitProbes: 0 }',
    ].join('\n');
    const config = parse(text);
    expect(config.stateDir).toBe('/var/lib/x0t');
    expect(config.listen.udp).toEqual([
      { host: '0.0.0.0', port: 7400, family: 4 },
      { host: '::', port: 7400, family: 6 },
    ]);
    expect(config.listen.tcp).toEqual([{ host: '127.0.0.1', port: 0, family: 4 }]);
    expect(config.peers).toEqual([{ address: { host: '2001:db8::1', port: 7401, family: 6 }, transport: 'tcp' }]);
    expect(config.discovery).toEqual({ lan: true, port: 7000, intervalMs: 100, group: '224.0.0.251', interface: '192.168.1.5' });
    expect([config.profile, config.endToEnd, config.log.level]).toEqual(['rfc8966', false, 'debug']);
    expect(config.tcp).toEqual({ acceptedMax: 64, perAddressMax: 2 });
    expect(config.revocations).toEqual({ maxAgeMs: 120_000 });
    expect(config.api).toEqual({ listen: { host: '::1', port: 0, family: 6 }, tokenFile: '/var/lib/x0t/token', viewerTokenFile: null, mtls: true });
    expect(config.policy.dir).toBe('/opt/policies');
    expect(config.faultInjection).toEqual({ dropTransitShare: 0.8 });
    expect(config.selfHealing).toEqual({ transitProbes: 0 });
  });

  it('resolves relative paths against the config file directory, and tokenFile against stateDir', () => {
    const config = parseNodeConfig('stateDir: ../var/state\napi: { tokenFile: secrets/token, viewerTokenFile: secrets/viewer }\npolicy: { dir: policies }\n', '/srv/mesh/conf/node.yaml');
    expect(config.stateDir).toBe('/srv/mesh/var/state');
    expect(config.api.tokenFile).toBe('/srv/mesh/var/state/secrets/token');
    expect(config.api.viewerTokenFile).toBe('/srv/mesh/var/state/secrets/viewer');
    expect(config.policy.dir).toBe('/srv/mesh/conf/policies');
    const relativeSource = parseNodeConfig('', 'conf/node.yaml');
    expect(relativeSource.configFile).toBe(resolve('conf/node.yaml'));
    expect(relativeSource.stateDir).toBe(resolve('conf/state'));
  });

  it('returns a deeply frozen config, and the defaults are frozen too', () => {
    const config = parse('peers:\n  - address: "10.0.0.2:7400"\n');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.listen.udp)).toBe(true);
    expect(Object.isFrozen(config.peers[0]!.address)).toBe(true);
    expect(() => {
      (config as { profile: string }).profile = 'rfc8966';
    }).toThrow(TypeError);
    expect(Object.isFrozen(nodeConfigDefaults.listen.udp)).toBe(true);
    expect(parse('').discovery).toEqual(nodeConfigDefaults.discovery);
  });

  it('reads IPv6 and localhost listen addresses; localhost means 127.0.0.1', () => {
    const config = parse('listen:\n  udp: ["[::]:7400", "[fe80::1]:0", "localhost:7402"]\n  tcp: ["[::ffff:10.0.0.1]:9"]\n');
    expect(config.listen.udp).toEqual([
      { host: '::', port: 7400, family: 6 },
      { host: 'fe80::1', port: 0, family: 6 },
      { host: '127.0.0.1', port: 7402, family: 4 },
    ]);
    expect(config.listen.tcp.map(formatHostPort)).toEqual(['[::ffff:a00:1]:9']);
  });
});

describe('node config: refusals name the field and what was expected', () => {
  const tooManyPeers = `peers:\n${Array.from({ length: peersMax + 1 }, (_, i) => `  - address: "10.0.${i >> 8}.${i & 255}:7400"`).join('\n')}\n`;
  const tooManyListen = `listen:\n  udp: [${Array.from({ length: 17 }, (_, i) => `"127.0.0.1:${7400 + i}"`).join(', ')}]\n`;
  const cases: readonly (readonly [string, string, string, RegExp])[] = [
    ['missing port', 'listen:\n  udp: ["1.2.3.4"]\n', 'listen.udp[0]', /listen\.udp\[0\]: expected host:port .*got "1\.2\.3\.4": no :port/],
    ['octet above 255', 'listen:\n  udp: ["256.1.1.1:7400"]\n', 'listen.udp[0]', /listen\.udp\[0\]: expected host:port .*"256\.1\.1\.1" is not a dotted-quad IPv4 address/],
    ['leading zero in an octet', 'listen:\n  udp: ["10.0.0.01:7400"]\n', 'listen.udp[0]', /listen\.udp\[0\]: .*no leading zeros/],
    ['port above 65535', 'listen:\n  tcp: ["[::1]:65536"]\n', 'listen.tcp[0]', /listen\.tcp\[0\]: .*port "65536" is not an integer in 0\.\.65535/],
    ['port with a leading zero', 'listen:\n  tcp: ["1.2.3.4:0080"]\n', 'listen.tcp[0]', /port "0080" is not an integer/],
    ['IPv6 without brackets', 'listen:\n  udp: ["::1:7400"]\n', 'listen.udp[0]', /listen\.udp\[0\]: .*must be in brackets/],
    ['IPv6 without closing bracket', 'listen:\n  udp: ["[::1:7400"]\n', 'listen.udp[0]', /no closing \]/],
    ['bracketed IPv4', 'listen:\n  udp: ["[1.2.3.4]:7400"]\n', 'listen.udp[0]', /"1\.2\.3\.4" is not an IPv6 address/],
    ['IPv6 zone id', 'listen:\n  udp: ["[fe80::1%eth0]:7400"]\n', 'listen.udp[0]', /zone ids .* are not supported/],
    ['host name other than localhost', 'peers:\n  - address: "127.0.0.1:7401"\n  - address: "example.com:7401"\n', 'peers[1].address', /peers\[1\]\.address: expected host:port .*other host names are not resolved/],
    ['unquoted IPv6 in YAML', 'api:\n  listen: [::1]\n', 'api.listen', /api\.listen: expected host:port .*got a list \(quote IPv6 addresses/],
    ['overlong address', `api:\n  listen: "${'1'.repeat(70)}:1"\n`, 'api.listen', /longer than 64 characters/],
    ['peer port 0', 'peers:\n  - address: "10.0.0.1:0"\n', 'peers[0].address', /peers\[0\]\.address: .*port 0 is only allowed for listening/],
    ['peer wildcard host', 'peers:\n  - address: "[::]:7400"\n', 'peers[0].address', /peers\[0\]\.address: .*:: is a wildcard for listening/],
    ['peer without an address', 'peers:\n  - transport: tcp\n', 'peers[0].address', /peers\[0\]\.address: expected host:port .*got nothing$/],
    ['address as a mapping', 'api:\n  listen: { host: 127.0.0.1 }\n', 'api.listen', /api\.listen: expected host:port .*got a mapping$/],
    ['peer transport', 'peers:\n  - address: "10.0.0.1:7400"\n    transport: sctp\n', 'peers[0].transport', /peers\[0\]\.transport: expected one of "udp", "tcp", got "sctp"/],
    ['peer as a bare string', 'peers:\n  - "10.0.0.1:7400"\n', 'peers[0]', /peers\[0\]: expected a mapping, got "10\.0\.0\.1:7400"/],
    ['peers not a list', 'peers: "10.0.0.1:7400"\n', 'peers', /peers: expected a list, got "10\.0\.0\.1:7400"/],
    ['too many peers', tooManyPeers, 'peers', /peers: expected at most 256 entries, got 257/],
    ['too many listen addresses', tooManyListen, 'listen.udp', /listen\.udp: expected at most 16 entries, got 17/],
    ['duplicate peer', 'peers:\n  - address: "10.0.0.1:7400"\n  - address: "10.0.0.2:7400"\n  - { address: "10.0.0.1:7400", transport: udp }\n', 'peers[2]', /peers\[2\]: duplicate of \[0\]/],
    ['duplicate listen address', 'listen:\n  udp: ["[::]:7400", "[0::0]:7400"]\n', 'listen.udp[1]', /listen\.udp\[1\]: duplicate of \[0\]/],
    ['nothing to listen on', 'listen:\n  udp: []\n', 'listen', /listen: expected at least one udp or tcp address/],
    ['interval of zero', 'discovery:\n  intervalMs: 0\n', 'discovery.intervalMs', /discovery\.intervalMs: expected an integer in 100\.\.3600000 ms, got number 0/],
    ['interval above the maximum', 'discovery:\n  intervalMs: 3600001\n', 'discovery.intervalMs', /expected an integer in 100\.\.3600000 ms, got number 3600001/],
    ['fractional interval', 'discovery:\n  intervalMs: 150.5\n', 'discovery.intervalMs', /got number 150\.5/],
    ['discovery port 0', 'discovery:\n  port: 0\n', 'discovery.port', /discovery\.port: expected an integer in 1\.\.65535, got number 0/],
    ['unicast discovery group', 'discovery:\n  group: 10.0.0.1\n', 'discovery.group', /discovery\.group: expected an IPv4 multicast group \(224\.0\.0\.0 to 239\.255\.255\.255\), got "10\.0\.0\.1"/],
    ['multicast discovery interface', 'discovery:\n  interface: 239.1.1.1\n', 'discovery.interface', /discovery\.interface: expected null or the IPv4 address of a local interface, got "239\.1\.1\.1"/],
    ['IPv6 discovery interface', 'discovery:\n  interface: "::1"\n', 'discovery.interface', /discovery\.interface: expected null or the IPv4 address/],
    ['discovery port as text', 'discovery:\n  port: "7399"\n', 'discovery.port', /discovery\.port: expected an integer in 1\.\.65535, got "7399"/],
    ['YAML 1.1 boolean', 'discovery:\n  lan: yes\n', 'discovery.lan', /discovery\.lan: expected true or false, got "yes"/],
    ['profile', 'profile: slow\n', 'profile', /profile: expected one of "fast", "rfc8966", got "slow"/],
    ['endToEnd as a number', 'endToEnd: 1\n', 'endToEnd', /endToEnd: expected true or false, got number 1/],
    ['log level', 'log:\n  level: verbose\n', 'log.level', /log\.level: expected one of "debug", "info", "warn", "error", got "verbose"/],
    ['api listen without port', 'api:\n  listen: "127.0.0.1"\n', 'api.listen', /api\.listen: expected host:port/],
    ['empty token file', 'api:\n  tokenFile: ""\n', 'api.tokenFile', /api\.tokenFile: expected a non-empty file system path, got ""/],
    ['viewer token file not a path', 'api:\n  viewerTokenFile: 7\n', 'api.viewerTokenFile', /api\.viewerTokenFile: expected null or a non-empty file system path/],
    ['stateDir as a number', 'stateDir: 5\n', 'stateDir', /stateDir: expected a non-empty file system path, got number 5/],
    ['stateDir with ~', 'stateDir: ~/x0t\n', 'stateDir', /stateDir: .*~ is not expanded/],
    ['stateDir with NUL', 'stateDir: "a\\0b"\n', 'stateDir', /NUL character/],
    ['policy dir as a number', 'policy:\n  dir: 5\n', 'policy.dir', /policy\.dir: expected null or a non-empty file system path, got number 5/],
    ['overlong policy dir', `policy:\n  dir: "${'a'.repeat(4097)}"\n`, 'policy.dir', /policy\.dir: .*4097 characters, more than 4096/],
    ['section set to null', 'discovery:\n', 'discovery', /discovery: expected a mapping, got null/],
    ['drop share above 1', 'faultInjection:\n  dropTransitShare: 1.5\n', 'faultInjection.dropTransitShare', /faultInjection\.dropTransitShare: expected a number in 0\.\.1, got number 1\.5/],
    ['drop share as text', 'faultInjection:\n  dropTransitShare: "half"\n', 'faultInjection.dropTransitShare', /expected a number in 0\.\.1, got "half"/],
    ['unknown fault', 'faultInjection:\n  blackHole: true\n', 'faultInjection.blackHole', /unknown key \(expected one of: dropTransitShare\)/],
    ['transit probes above the limit', 'selfHealing:\n  transitProbes: 65\n', 'selfHealing.transitProbes', /selfHealing\.transitProbes: expected an integer in 0\.\.64 probes, got number 65/],
    ['transit probes as text', 'selfHealing:\n  transitProbes: "two"\n', 'selfHealing.transitProbes', /expected an integer in 0\.\.64 probes, got "two"/],
    ['tcp.acceptedMax of zero', 'tcp:\n  acceptedMax: 0\n', 'tcp.acceptedMax', /tcp\.acceptedMax: expected an integer in 1\.\.65536 connections, got number 0/],
    ['tcp.perAddressMax above acceptedMax', 'tcp:\n  acceptedMax: 4\n  perAddressMax: 5\n', 'tcp.perAddressMax', /tcp\.perAddressMax: expected at most tcp\.acceptedMax \(4\), got 5/],
    ['api.mtls as text', 'api:\n  mtls: "on"\n', 'api.mtls', /api\.mtls: expected true or false, got "on"/],
    ['revocations.maxAgeMs not above the poll interval', 'revocations:\n  maxAgeMs: 10000\n', 'revocations.maxAgeMs', /revocations\.maxAgeMs: expected an integer in 10001\.\.2592000000 ms \(more than the revocation poll interval\), got number 10000/],
    ['revocations.maxAgeMs as text', 'revocations:\n  maxAgeMs: 1m\n', 'revocations.maxAgeMs', /revocations\.maxAgeMs: expected an integer .* got "1m"/],
    ['tcp.perAddressMax above the default acceptedMax', 'tcp:\n  perAddressMax: 300\n', 'tcp.perAddressMax', /tcp\.perAddressMax: expected at most tcp\.acceptedMax \(256\), got 300/],
  ];

  it.each(cases)('%s', (_name, text, field, pattern) => {
    const error = refuse(text);
    expect(error.code).toBe('ERR_CONFIG');
    expect(error.field).toBe(field);
    expect(error.message).toMatch(/^\/etc\/x0t\/node\.yaml: /);
    expect(error.message).toMatch(pattern);
  });

  it('names an unknown key with its path and the allowed keys, at the top and inside sections', () => {
    const top = refuse('stateDri: /tmp\n');
    expect(top.message).toBe('/etc/x0t/node.yaml: stateDri: unknown key (expected one of: stateDir, listen, peers, discovery, profile, endToEnd, tcp, revocations, api, policy, log, faultInjection, selfHealing)');
    expect(top.field).toBe('stateDri');
    expect(refuse('discovery:\n  intervalMS: 5\n').message).toMatch(/discovery\.intervalMS: unknown key \(expected one of: lan, port, intervalMs, group, interface\)/);
    expect(refuse('peers:\n  - address: "10.0.0.1:1"\n    port: 5\n').message).toMatch(/peers\[0\]\.port: unknown key \(expected one of: address, transport\)/);
  });

  it('lists several problems, one per line, and counts those beyond the limit', () => {
    const two = refuse('profile: slow\nlog: { level: loud }\n');
    expect(two.message.split('\n')).toEqual([
      '/etc/x0t/node.yaml: profile: expected one of "fast", "rfc8966", got "slow"',
      '/etc/x0t/node.yaml: log.level: expected one of "debug", "info", "warn", "error", got "loud"',
    ]);
    const many = refuse(`listen:\n  udp: [${Array.from({ length: 13 }, () => '"x"').join(', ')}]\n`);
    const lines = many.message.split('\n');
    expect(lines).toHaveLength(configIssuesReportedMax + 1);
    expect(lines.at(-1)).toBe('/etc/x0t/node.yaml: (and 3 more problems)');
  });

  it('refuses a top level that is not a mapping', () => {
    const error = refuse('- 1\n- 2\n');
    expect(error.message).toBe('/etc/x0t/node.yaml: expected a mapping, got a list');
    expect(error.field).toBeNull();
  });
});

describe('node config: YAML errors', () => {
  it('names the line and column of a syntax error', () => {
    const error = refuse('listen:\n  udp: ["127.0.0.1:7400"\nprofile: fast\n');
    expect(error.message).toMatch(/^\/etc\/x0t\/node\.yaml: line 3, column 1: YAML syntax error: /);
    expect(error.field).toBeNull();
  });

  it('refuses a repeated key with its line', () => {
    expect(refuse('profile: fast\nendToEnd: true\nprofile: rfc8966\n').message).toMatch(/line 3, column 1: YAML syntax error: Map keys must be unique/);
  });

  it('refuses an unknown tag, several documents and an alias with no anchor', () => {
    expect(refuse('profile: !custom fast\n').message).toMatch(/line 1, column 10: YAML syntax error: Unresolved tag: !custom/);
    expect(refuse('profile: fast\n---\nprofile: fast\n').message).toMatch(/line 2, column 1: YAML syntax error: .*multiple documents/);
    expect(refuse('profile: *missing\n').message).toMatch(/^\/etc\/x0t\/node\.yaml: YAML error: Unresolved alias/);
  });

  it('refuses text larger than configBytesMax', () => {
    expect(refuse(`# ${'x'.repeat(configBytesMax)}\n`).message).toMatch(/larger than 1048576 bytes/);
  });
});

describe('node config: files', () => {
  it('loads a file and resolves the default stateDir next to it', () => {
    const dir = join(root, 'load');
    mkdirSync(dir);
    writeFileSync(join(dir, 'node.yaml'), 'listen:\n  udp: ["[::]:7400"]\n');
    const config = loadNodeConfig(join(dir, 'node.yaml'));
    expect(config.stateDir).toBe(join(dir, 'state'));
    expect(config.listen.udp).toEqual([{ host: '::', port: 7400, family: 6 }]);
  });

  it('names the file that is missing, a directory, too large, or wrong', () => {
    const dir = join(root, 'bad');
    mkdirSync(dir);
    expect(configRefusal(() => loadNodeConfig(join(dir, 'absent.yaml'))).message).toBe(`${join(dir, 'absent.yaml')}: cannot read the config file (ENOENT)`);
    expect(configRefusal(() => loadNodeConfig(dir)).message).toBe(`${dir}: not a regular file`);
    writeFileSync(join(dir, 'big.yaml'), Buffer.alloc(configBytesMax + 1, 0x20));
    expect(configRefusal(() => loadNodeConfig(join(dir, 'big.yaml'))).message).toMatch(/big\.yaml: 1048577 bytes, larger than 1048576/);
    writeFileSync(join(dir, 'node.yaml'), 'peers:\n  - address: "10.0.0.1:7400"\n  - address: "10.0.0.2"\n');
    expect(configRefusal(() => loadNodeConfig(join(dir, 'node.yaml'))).message).toMatch(/node\.yaml: peers\[1\]\.address: expected host:port/);
  });
});

describe('parseHostPort', () => {
  it('parses IPv4, bracketed IPv6 and localhost, with ports 0..65535', () => {
    expect(parseHostPort('0.0.0.0:0', 'f')).toEqual({ host: '0.0.0.0', port: 0, family: 4 });
    expect(parseHostPort('255.255.255.255:65535', 'f')).toEqual({ host: '255.255.255.255', port: 65535, family: 4 });
    expect(parseHostPort('[2001:DB8::1]:443', 'f')).toEqual({ host: '2001:db8::1', port: 443, family: 6 });
    expect(parseHostPort('localhost:7400', 'f')).toEqual({ host: '127.0.0.1', port: 7400, family: 4 });
  });

  it('throws a ConfigError naming the field', () => {
    for (const text of ['', ':7400', '1.2.3:7400', '1.2.3.4:', '1.2.3.4:-1', '1.2.3.4:+1', '1.2.3.4: 1', '[::1]7400', 'LOCALHOST:1', '1.2.3.4:7400:1']) {
      const error = configRefusal(() => parseHostPort(text, 'peers[3].address'));
      expect(error.field).toBe('peers[3].address');
      expect(error.message).toMatch(/^peers\[3\]\.address: expected host:port/);
      expect(error.message).toContain(JSON.stringify(text));
    }
  });

  it('round-trips every IPv4 address and port through formatHostPort', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 65535 }), (ip, port) => {
        const text = `${ip}:${port}`;
        expect(formatHostPort(parseHostPort(text, 'f'))).toBe(text);
      }),
    );
  });

  it('parses every IPv6 address in brackets, and its formatted form parses to the same endpoint', () => {
    fc.assert(
      fc.property(fc.ipV6(), fc.integer({ min: 0, max: 65535 }), (ip, port) => {
        const parsed = parseHostPort(`[${ip}]:${port}`, 'f');
        expect(parsed.family).toBe(6);
        expect(parseHostPort(formatHostPort(parsed), 'f')).toEqual(parsed);
      }),
    );
  });
});
