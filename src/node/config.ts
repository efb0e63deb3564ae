import { readFileSync, statSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { revocationMaxAgeMsDefault, revocationPollMs } from './ca-sync.js';
import { tcpAcceptLimitsDefault } from './tcp.js';
import { transitProbeDefaults, transitProbesMax } from '../mapek/transit-probes.js';

/**
 * The node daemon's configuration file (node.yaml): parsed with `yaml`, checked strictly with
 * zod (unknown keys are errors), every default filled in and every path made absolute, so the
 * daemon never has to ask "was this set?" or "relative to what?". Every problem is a
 * ConfigError whose message names the file, the field path and what was expected.
 */

/** Largest config file read, in bytes (a node.yaml is a few hundred bytes; this stops a wrong path to a huge file). */
export const configBytesMax = 1024 * 1024;
/** Most bootstrap peers a config may list. */
export const peersMax = 256;
/** Most listen addresses per transport. */
export const listenAddressesMax = 16;
/** Shortest LAN discovery interval: faster beacons only add broadcast noise. */
export const discoveryIntervalMsMin = 100;
/** Longest LAN discovery interval (one hour). */
export const discoveryIntervalMsMax = 3_600_000;
/** Longest host:port text (a full bracketed IPv6 address with port is 47 characters). */
export const hostPortCharsMax = 64;
/** Longest path accepted for stateDir, api.tokenFile and policy.dir (Linux PATH_MAX). */
export const pathCharsMax = 4096;
/** Most YAML alias expansions (bounds "billion laughs" documents). */
export const yamlAliasesMax = 100;
/** Longest revocations.maxAgeMs (30 days, the longest SVID lifetime): beyond it the check would mean nothing. */
export const revocationMaxAgeMsMax = 30 * 24 * 3600_000;
/** Largest tcp.acceptedMax: more open sockets than this would run into the process's file limit first. */
export const tcpAcceptedMaxLimit = 65_536;
/** Most problems listed in one ConfigError message; the rest are counted. */
export const configIssuesReportedMax = 10;

/** Code of every config problem. */
export const ConfigErrorCode = { ERR_CONFIG: 'ERR_CONFIG' } as const;

/** A refused node config; the message names the file, the field and what was expected. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = ConfigErrorCode.ERR_CONFIG;

  /** Builds an error; `field` is the path of the first bad field (e.g. peers[1].address), null for the whole file. */
  constructor(
    message: string,
    readonly field: string | null,
  ) {
    super(message);
  }
}

/** True when `value` is a ConfigError. */
export function isConfigError(value: unknown): value is ConfigError {
  return value instanceof ConfigError;
}

/** An endpoint: host without brackets (localhost becomes 127.0.0.1), port, address family. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/** The transports a node speaks. */
export type TransportName = 'udp' | 'tcp';
/** Routing timing profiles (src/mesh): sub-second `fast` or the RFC 8966 defaults. */
export type ProfileName = 'fast' | 'rfc8966';
/** Log verbosity, most verbose first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** A bootstrap peer. */
export interface PeerConfig {
  readonly address: HostPort;
  readonly transport: TransportName;
}

/** A checked, fully defaulted node config; every path is absolute. */
export interface NodeConfig {
  /** Absolute path of the file the config was read from. */
  readonly configFile: string;
  readonly stateDir: string;
  readonly listen: { readonly udp: readonly HostPort[]; readonly tcp: readonly HostPort[] };
  readonly peers: readonly PeerConfig[];
  /** LAN discovery: beacons to an IPv4 multicast group; `interface` is the local IPv4 address to use (null: the system's choice). */
  readonly discovery: { readonly lan: boolean; readonly port: number; readonly intervalMs: number; readonly group: string; readonly interface: string | null };
  readonly profile: ProfileName;
  readonly endToEnd: boolean;
  /** Limits on accepted TCP connections: in all, and from one remote address (an IPv6 /64). */
  readonly tcp: { readonly acceptedMax: number; readonly perAddressMax: number };
  /** A revocation list issued longer ago than maxAgeMs is stale: new peer sessions are refused and the node is not ready. */
  readonly revocations: { readonly maxAgeMs: number };
  /**
   * `mtls`: serve HTTPS with the node's SVID and accept client SVIDs besides the token.
   * `viewerTokenFile`: a second, read-only token (the caller local-viewer, role viewer), e.g. for a
   * Prometheus scraper; null: none.
   */
  readonly api: { readonly listen: HostPort; readonly tokenFile: string; readonly viewerTokenFile: string | null; readonly mtls: boolean };
  /** `dir` null means the policies/ directory shipped with the program. */
  readonly policy: { readonly dir: string | null };
  readonly log: { readonly level: LogLevel };
  /**
   * Faults the node injects into its own data path, for tests and rehearsals only (never
   * settable through the API): `dropTransitShare` of the data it forwards is dropped, as by a
   * grey hole. 0 (the default) injects nothing.
   */
  readonly faultInjection: { readonly dropTransitShare: number };
  /**
   * The MAPE-K loop's monitoring: `transitProbes` echo requests a window through each neighbour
   * that carried none of this node's transit in it (0 turns probes off; docs/mapek.md).
   */
  readonly selfHealing: { readonly transitProbes: number };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Defaults, written as they would be in node.yaml: stateDir relative to the config file, tokenFile relative to stateDir. */
export const nodeConfigDefaults = deepFreeze({
  stateDir: 'state',
  listen: { udp: ['127.0.0.1:7400'], tcp: [] as string[] },
  peers: [] as { address: string; transport?: TransportName }[],
  discovery: { lan: false, port: 7399, intervalMs: 5000, group: '239.255.74.70', interface: null as string | null },
  profile: 'fast' as ProfileName,
  endToEnd: true,
  tcp: { acceptedMax: tcpAcceptLimitsDefault.acceptedMax, perAddressMax: tcpAcceptLimitsDefault.perAddressMax },
  revocations: { maxAgeMs: revocationMaxAgeMsDefault },
  api: { listen: '127.0.0.1:7480', tokenFile: 'api-token', viewerTokenFile: null as string | null, mtls: false },
  policy: { dir: null as string | null },
  log: { level: 'info' as LogLevel },
  faultInjection: { dropTransitShare: 0 },
  selfHealing: { transitProbes: transitProbeDefaults.probesPerInterval },
});

const ipv4Pattern = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const portPattern = /^(?:0|[1-9]\d{0,4})$/;
const hostPortExpected = 'expected host:port (IPv4 a.b.c.d, bracketed IPv6 [::1] or localhost; port 0..65535)';

function splitHostPort(text: string): { host: string; port: string; bracketed: boolean } | string {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return 'no closing ] after the IPv6 address';
    if (text[close + 1] !== ':') return 'no :port after the bracketed IPv6 address';
    return { host: text.slice(1, close), port: text.slice(close + 2), bracketed: true };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) return 'no :port';
  const host = text.slice(0, colon);
  if (host.includes(':')) return 'an IPv6 address must be in brackets, e.g. [::1]:7400';
  return { host, port: text.slice(colon + 1), bracketed: false };
}

/** Parses host:port, or returns what is wrong with it. */
function hostPortOf(text: string): HostPort | string {
  if (text.length > hostPortCharsMax) return `longer than ${hostPortCharsMax} characters`;
  const parts = splitHostPort(text);
  if (typeof parts === 'string') return parts;
  if (!portPattern.test(parts.port) || Number(parts.port) > 65535) return `port ${JSON.stringify(parts.port)} is not an integer in 0..65535`;
  const port = Number(parts.port);
  if (parts.bracketed) {
    if (parts.host.includes('%')) return 'IPv6 zone ids (%eth0) are not supported';
    if (!isIPv6(parts.host)) return `${JSON.stringify(parts.host)} is not an IPv6 address`;
    // The URL parser writes IPv6 in its canonical form (RFC 5952), so [0::0] and [::] are one address.
    return { host: new URL(`http://[${parts.host}]/`).hostname.slice(1, -1), port, family: 6 };
  }
  if (parts.host === 'localhost') return { host: '127.0.0.1', port, family: 4 };
  if (!ipv4Pattern.test(parts.host)) return `host ${JSON.stringify(parts.host)} is not a dotted-quad IPv4 address (no leading zeros) or localhost; other host names are not resolved`;
  return { host: parts.host, port, family: 4 };
}

/** Parses `host:port` strictly (IPv4 dotted quad, [IPv6] or localhost; port 0..65535); ConfigError naming `field` otherwise. */
export function parseHostPort(text: string, field: string): HostPort {
  const parsed = hostPortOf(text);
  if (typeof parsed === 'string') throw new ConfigError(`${field}: ${hostPortExpected}, got ${JSON.stringify(text)}: ${parsed}`, field);
  return parsed;
}

/** Formats an endpoint back to host:port ([v6]:port), the form logs and the API show. */
export function formatHostPort(endpoint: HostPort): string {
  return endpoint.family === 6 ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'undefined') return 'nothing';
  return `${typeof value} ${String(value)}`;
}

const unspecifiedHosts = new Set(['0.0.0.0', '::']);

/** Parses an endpoint for `role`, or returns what is wrong; a peer must be dialable (no port 0, no 0.0.0.0 or [::]). */
function endpointOf(value: unknown, role: 'listen' | 'peer'): HostPort | string {
  if (typeof value !== 'string') {
    const hint = Array.isArray(value) ? ' (quote IPv6 addresses in YAML: "[::1]:7400")' : '';
    return `${hostPortExpected}, got ${kindOf(value)}${hint}`;
  }
  const parsed = hostPortOf(value);
  let problem = typeof parsed === 'string' ? parsed : null;
  if (typeof parsed !== 'string' && role === 'peer') {
    if (parsed.port === 0) problem = 'port 0 is only allowed for listening';
    else if (unspecifiedHosts.has(parsed.host)) problem = `${parsed.host} is a wildcard for listening, not an address to dial`;
  }
  return problem === null ? parsed : `${hostPortExpected}, got ${JSON.stringify(value)}: ${problem}`;
}

function endpointSchema(role: 'listen' | 'peer') {
  return z.unknown().transform((value, ctx): HostPort => {
    const endpoint = endpointOf(value, role);
    if (typeof endpoint !== 'string') return endpoint;
    ctx.issues.push({ code: 'custom', message: endpoint, input: value });
    return z.NEVER;
  });
}

function intIn(min: number, max: number, unit: string) {
  return z.unknown().transform((value, ctx): number => {
    if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
    ctx.issues.push({ code: 'custom', message: `expected an integer in ${min}..${max}${unit}, got ${kindOf(value)}`, input: value });
    return z.NEVER;
  });
}

/** What is wrong with a path value, or null when it is a usable path. */
function pathProblem(value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0) return `got ${kindOf(value)}`;
  if (value.length > pathCharsMax) return `got ${value.length} characters, more than ${pathCharsMax}`;
  if (value.includes('\0')) return 'got a path with a NUL character';
  if (value.startsWith('~')) return `got ${JSON.stringify(value)}: ~ is not expanded, write the full path`;
  return null;
}

function pathSchema() {
  return z.unknown().transform((value, ctx): string => {
    const problem = pathProblem(value);
    if (problem === null) return value as string;
    ctx.issues.push({ code: 'custom', message: `expected a non-empty file system path, ${problem}`, input: value });
    return z.NEVER;
  });
}

function nullablePathSchema() {
  return z.unknown().transform((value, ctx): string | null => {
    const problem = value === null ? null : pathProblem(value);
    if (problem === null) return value as string | null;
    ctx.issues.push({ code: 'custom', message: `expected null or a non-empty file system path, ${problem}`, input: value });
    return z.NEVER;
  });
}

function noDuplicates<T>(key: (item: T) => string, what: string) {
  return (list: readonly T[], ctx: z.RefinementCtx): void => {
    const seen = new Map<string, number>();
    list.forEach((item, index) => {
      const first = seen.get(key(item));
      if (first !== undefined) ctx.addIssue({ code: 'custom', message: `duplicate of [${first}] (${what})`, path: [index] });
      else seen.set(key(item), index);
    });
  };
}

const listenList = (defaults: readonly string[]) =>
  z.array(endpointSchema('listen')).max(listenAddressesMax).superRefine(noDuplicates(formatHostPort, 'the same address twice')).prefault([...defaults]);

const listenShape = { udp: listenList(nodeConfigDefaults.listen.udp), tcp: listenList(nodeConfigDefaults.listen.tcp) };
const peerShape = { address: endpointSchema('peer'), transport: z.enum(['udp', 'tcp']).prefault('udp') };
const discoveryShape = {
  lan: z.boolean().prefault(nodeConfigDefaults.discovery.lan),
  port: intIn(1, 65535, '').prefault(nodeConfigDefaults.discovery.port),
  intervalMs: intIn(discoveryIntervalMsMin, discoveryIntervalMsMax, ' ms').prefault(nodeConfigDefaults.discovery.intervalMs),
  group: ipv4In([224, 239], 'an IPv4 multicast group (224.0.0.0 to 239.255.255.255)').prefault(nodeConfigDefaults.discovery.group),
  interface: ipv4In([1, 223], 'null or the IPv4 address of a local interface', true).prefault(nodeConfigDefaults.discovery.interface),
};
/** An IPv4 address whose first octet is in `first` (224..239 for a multicast group, 1..223 for an interface). */
function ipv4In(first: readonly [number, number], what: string, nullable = false) {
  return z.unknown().transform((value, ctx): string => {
    const octet = typeof value === 'string' && ipv4Pattern.test(value) ? Number(value.split('.')[0]) : -1;
    if ((octet >= first[0] && octet <= first[1]) || (nullable && value === null)) return value as string;
    ctx.issues.push({ code: 'custom', message: `expected ${what}, got ${kindOf(value)}`, input: value });
    return z.NEVER;
  });
}

const tcpShape = {
  acceptedMax: intIn(1, tcpAcceptedMaxLimit, ' connections').prefault(nodeConfigDefaults.tcp.acceptedMax),
  perAddressMax: intIn(1, tcpAcceptedMaxLimit, ' connections').prefault(nodeConfigDefaults.tcp.perAddressMax),
};
// Above the poll interval: a list fetched on time must never be stale.
const revocationsShape = { maxAgeMs: intIn(revocationPollMs + 1, revocationMaxAgeMsMax, ' ms (more than the revocation poll interval)').prefault(nodeConfigDefaults.revocations.maxAgeMs) };
const apiShape = {
  listen: endpointSchema('listen').prefault(nodeConfigDefaults.api.listen),
  tokenFile: pathSchema().prefault(nodeConfigDefaults.api.tokenFile),
  viewerTokenFile: nullablePathSchema().prefault(nodeConfigDefaults.api.viewerTokenFile),
  mtls: z.boolean().prefault(nodeConfigDefaults.api.mtls),
};
const policyShape = { dir: nullablePathSchema().prefault(nodeConfigDefaults.policy.dir) };
const logShape = { level: z.enum(['debug', 'info', 'warn', 'error']).prefault(nodeConfigDefaults.log.level) };
const faultInjectionShape = { dropTransitShare: shareSchema().prefault(nodeConfigDefaults.faultInjection.dropTransitShare) };
const selfHealingShape = { transitProbes: intIn(0, transitProbesMax, ' probes').prefault(nodeConfigDefaults.selfHealing.transitProbes) };

/** A number in 0..1. */
function shareSchema() {
  return z.unknown().transform((value, ctx): number => {
    if (typeof value === 'number' && value >= 0 && value <= 1) return value;
    ctx.issues.push({ code: 'custom', message: `expected a number in 0..1, got ${kindOf(value)}`, input: value });
    return z.NEVER;
  });
}

const rootShape = {
  stateDir: pathSchema().prefault(nodeConfigDefaults.stateDir),
  listen: z
    .strictObject(listenShape)
    .refine((listen) => listen.udp.length + listen.tcp.length > 0, { message: 'expected at least one udp or tcp address to listen on' })
    .prefault({}),
  peers: z
    .array(z.strictObject(peerShape))
    .max(peersMax)
    .superRefine(noDuplicates((peer) => `${peer.transport} ${formatHostPort(peer.address)}`, 'the same transport and address twice'))
    .prefault([]),
  discovery: z.strictObject(discoveryShape).prefault({}),
  profile: z.enum(['fast', 'rfc8966']).prefault(nodeConfigDefaults.profile),
  endToEnd: z.boolean().prefault(nodeConfigDefaults.endToEnd),
  tcp: z
    .strictObject(tcpShape)
    .superRefine((tcp, ctx) => {
      if (tcp.perAddressMax > tcp.acceptedMax) ctx.addIssue({ code: 'custom', message: `expected at most tcp.acceptedMax (${tcp.acceptedMax}), got ${tcp.perAddressMax}`, path: ['perAddressMax'] });
    })
    .prefault({}),
  revocations: z.strictObject(revocationsShape).prefault({}),
  api: z.strictObject(apiShape).prefault({}),
  policy: z.strictObject(policyShape).prefault({}),
  log: z.strictObject(logShape).prefault({}),
  faultInjection: z.strictObject(faultInjectionShape).prefault({}),
  selfHealing: z.strictObject(selfHealingShape).prefault({}),
};
const configSchema = z.strictObject(rootShape);

/** Allowed keys by the first element of the path of the mapping that holds them. */
const allowedKeys: Readonly<Record<string, readonly string[]>> = {
  '': Object.keys(rootShape),
  listen: Object.keys(listenShape),
  peers: Object.keys(peerShape),
  discovery: Object.keys(discoveryShape),
  tcp: Object.keys(tcpShape),
  revocations: Object.keys(revocationsShape),
  api: Object.keys(apiShape),
  policy: Object.keys(policyShape),
  log: Object.keys(logShape),
  faultInjection: Object.keys(faultInjectionShape),
  selfHealing: Object.keys(selfHealingShape),
};

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `${out === '' ? '' : '.'}${String(part)}`;
  return out;
}

const expectedNames: Readonly<Record<string, string>> = { boolean: 'true or false', object: 'a mapping', array: 'a list', string: 'a string' };

/** One issue as `field: problem` lines (an unknown-keys issue gives one line per key). */
function describeIssue(issue: z.core.$ZodIssue): { field: string; problem: string }[] {
  const field = formatPath(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      // Every strict mapping of the schema has its entry in allowedKeys.
      const allowed = allowedKeys[String(issue.path[0] ?? '')]!;
      return issue.keys.map((key) => ({ field: formatPath([...issue.path, key]), problem: `unknown key (expected one of: ${allowed.join(', ')})` }));
    }
    case 'invalid_type':
      return [{ field, problem: `expected ${expectedNames[issue.expected] ?? issue.expected}, got ${kindOf(issue.input)}` }];
    case 'invalid_value':
      return [{ field, problem: `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${kindOf(issue.input)}` }];
    case 'too_big':
      return [{ field, problem: `expected at most ${String(issue.maximum)} entries, got ${(issue.input as readonly unknown[]).length}` }];
    default:
      return [{ field, problem: issue.message }];
  }
}

function issuesError(source: string, issues: readonly z.core.$ZodIssue[]): ConfigError {
  const lines = issues.flatMap(describeIssue);
  const first = lines[0]!;
  const shown = lines.slice(0, configIssuesReportedMax).map(({ field, problem }) => (field === '' ? `${source}: ${problem}` : `${source}: ${field}: ${problem}`));
  if (lines.length > configIssuesReportedMax) shown.push(`${source}: (and ${lines.length - configIssuesReportedMax} more problems)`);
  return new ConfigError(shown.join('\n'), first.field === '' ? null : first.field);
}

/** Reads YAML text into plain values; syntax errors name line and column. */
function parseYaml(text: string, source: string): unknown {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { prettyErrors: false, lineCounter, uniqueKeys: true, logLevel: 'error' });
  const problem = document.errors[0] ?? document.warnings[0];
  if (problem !== undefined) {
    const { line, col } = lineCounter.linePos(problem.pos[0]);
    throw new ConfigError(`${source}: line ${line}, column ${col}: YAML syntax error: ${problem.message}`, null);
  }
  try {
    return document.toJS({ maxAliasCount: yamlAliasesMax });
  } catch (error) {
    throw new ConfigError(`${source}: YAML error: ${(error as Error).message}`, null);
  }
}

/** Parses and checks node.yaml text; `source` is its path, used in messages and to resolve relative paths. */
export function parseNodeConfig(text: string, source: string): NodeConfig {
  if (Buffer.byteLength(text, 'utf8') > configBytesMax) throw new ConfigError(`${source}: larger than ${configBytesMax} bytes; is this the node config?`, null);
  const raw = parseYaml(text, source);
  const result = configSchema.safeParse(raw ?? {}, { reportInput: true });
  if (!result.success) throw issuesError(source, result.error.issues);
  const parsed = result.data;
  const configFile = resolve(source);
  const configDir = dirname(configFile);
  const stateDir = resolve(configDir, parsed.stateDir);
  return deepFreeze({
    configFile,
    stateDir,
    listen: parsed.listen,
    peers: parsed.peers,
    discovery: parsed.discovery,
    profile: parsed.profile,
    endToEnd: parsed.endToEnd,
    tcp: parsed.tcp,
    revocations: parsed.revocations,
    api: {
      listen: parsed.api.listen,
      tokenFile: resolve(stateDir, parsed.api.tokenFile),
      viewerTokenFile: parsed.api.viewerTokenFile === null ? null : resolve(stateDir, parsed.api.viewerTokenFile),
      mtls: parsed.api.mtls,
    },
    policy: { dir: parsed.policy.dir === null ? null : resolve(configDir, parsed.policy.dir) },
    log: parsed.log,
    faultInjection: parsed.faultInjection,
    selfHealing: parsed.selfHealing,
  });
}

/** Reads and checks the config file at `path`; ConfigError naming the file when it cannot be read or is wrong. */
export function loadNodeConfig(path: string): NodeConfig {
  let text: string;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new ConfigError(`${path}: not a regular file`, null);
    if (stat.size > configBytesMax) throw new ConfigError(`${path}: ${stat.size} bytes, larger than ${configBytesMax}; is this the node config?`, null);
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (isConfigError(error)) throw error;
    throw new ConfigError(`${path}: cannot read the config file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, null);
  }
  return parseNodeConfig(text, path);
}
