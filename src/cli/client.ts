/**
 * `x0tta6bl4 status|neighbours|routes|ping|traceroute|link|audit`: front ends that call the
 * HTTP API of a local node (src/api) and print its answers as tables, or as raw JSON with --json.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { AuditInfo, IncidentInfo, NeighbourInfo, NodeInfo, PingResult, RouteInfo, TraceHop } from '../api/backend.js';
import { auditLimitMax, auditLimitMin, isoDateTime, isoDateTimeMessage, pingCountDefault, pingCountMax, pingCountMin, pingIntervalMsDefault, replyTimeoutMsDefault, traceMaxHopsDefault, traceMaxHopsMax, traceMaxHopsMin } from '../api/schemas.js';
import { trustAnchorOf, type TrustAnchor } from '../identity/svid.js';
import { readClientIdentity } from '../node/state-dir.js';
import { parseNodeId } from '../wire/ids.js';
import { UsageError } from './errors.js';
import { HttpFailure, httpCall, type ClientTls } from './http.js';
import type { CliIo } from './io.js';

/** Environment variable holding the API token when --token-file is not given. */
export const apiTokenEnv = 'X0TTA6BL4_API_TOKEN';
/** The node API's address unless --api says otherwise. */
export const apiUrlDefault = 'http://127.0.0.1:7480';
/** How long a quick request (status, neighbours, routes, link, audit) may take. */
export const apiRequestTimeoutMs = 10_000;
/** The commands of this module. */
export const clientCommands = ['status', 'neighbours', 'routes', 'ping', 'traceroute', 'link', 'drain', 'audit', 'incidents', 'actions'] as const;
/** One of clientCommands. */
export type ClientCommand = (typeof clientCommands)[number];

/** True when `name` is a command of this module. */
export function isClientCommand(name: string | undefined): name is ClientCommand {
  return (clientCommands as readonly (string | undefined)[]).includes(name);
}

/** The client commands' lines of the usage text (src/cli/usage.ts shows them too). */
export const clientCommandsUsage = `  status                      show the local node: identity, state, listen addresses
  neighbours                  list links and neighbours
  routes                      list selected routes
  ping <node> [--count N]     send N echo requests (default 3) to a node ID (8 hex digits)
  traceroute <node> [--max-hops N]
                              list the nodes on the way to a node
  link down <link>            take a link (its number in neighbours) administratively down
  link up <link>              bring a link taken down back up
  audit [--limit N] [--since ISO]
                              the node's audit log, newest first: N records (default 100, at
                              most 1000), only those at or after an ISO 8601 time
  incidents                   the self-healing loop's incidents: subject, cause, state, action
  actions [--limit N] [--since ISO]
                              the self-healing loop's decisions, newest first (as audit)
`;

/** Lines for the usage text of a client command's error. */
export const clientUsageText = `${clientCommandsUsage}Options of status / neighbours / routes / ping / traceroute / link / audit / incidents / actions:
  --api URL                   the node API (default ${apiUrlDefault}; https:// for a node
                              with api.mtls)
  --token-file PATH           file holding the API token (default: $${apiTokenEnv})
  --identity DIR              call as the SVID in DIR (keys.json, svid.der, ca.der: a node's
                              state directory or one made by \`ca issue\`) instead of a token;
                              needs an https --api
  --ca FILE                   the mesh CA certificate (DER or PEM) the node's certificate must
                              chain to, for https with a token (default with --identity: its ca.der)
  --json                      print the API's JSON answer as is
`;

/** The node answered with an error, or could not be reached; exit code 1. */
export class ClientError extends Error {
  override readonly name = 'ClientError';

  /** `code` is ERR_CLIENT_UNREACHABLE (no answer) or ERR_CLIENT_API (an error answer). */
  constructor(
    readonly code: 'ERR_CLIENT_UNREACHABLE' | 'ERR_CLIENT_API',
    message: string,
  ) {
    super(message);
  }
}

interface ClientOptions {
  readonly api: string;
  /** The bearer token, or null when calling with a client SVID. */
  readonly token: string | null;
  /** How to check the node (and present our SVID) over https; undefined for http. */
  readonly tls: ClientTls | undefined;
  readonly json: boolean;
  readonly positionals: readonly string[];
  readonly count: number | undefined;
  readonly maxHops: number | undefined;
  readonly limit: number | undefined;
  /** --since as given, already checked with the API's parser (the API converts it to UTC). */
  readonly since: string | undefined;
}

/** Runs one client command against the node API; resolves to the exit code (0 ok, 1 error answer or no ping reply, 2 bad usage). */
export async function clientCommand(command: string, argv: readonly string[], io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  try {
    if (!isClientCommand(command)) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    const options = parseClientOptions(command, argv, env);
    return await runCommand(command, options, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`x0tta6bl4: ${error.message}\nUsage:\n${clientUsageText}`);
      return 2;
    }
    if (error instanceof ClientError) {
      io.stderr(`x0tta6bl4: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

async function runCommand(command: ClientCommand, options: ClientOptions, io: CliIo): Promise<number> {
  switch (command) {
    case 'status':
      return show(options, io, '/v1/node', (info: NodeInfo) => formatStatus(info));
    case 'neighbours':
      return show(options, io, '/v1/neighbours', (list: readonly NeighbourInfo[]) => formatNeighbours(list));
    case 'routes':
      return show(options, io, '/v1/routes', (list: readonly RouteInfo[]) => formatRoutes(list));
    case 'ping':
      return ping(options, io);
    case 'traceroute':
      return traceroute(options, io);
    case 'link':
      return setLink(options, io);
    case 'drain':
      return drain(options, io);
    case 'audit':
      return audit(options, io, '/v1/audit');
    case 'actions':
      return audit(options, io, '/v1/actions');
    case 'incidents':
      return show(options, io, '/v1/incidents', (list: readonly IncidentInfo[]) => formatIncidents(list));
  }
}

/** `node drain`: the node stops offering transit at once and leaves after its grace period. */
async function drain(options: ClientOptions, io: CliIo): Promise<number> {
  const answer = await call<{ readonly status: string }>(options, 'POST', '/v1/drain', apiRequestTimeoutMs);
  io.stdout(options.json ? `${answer.text}\n` : 'draining: the node retracted its routes for others; it forwards what still arrives, then leaves\n');
  return 0;
}

const optionSpec = {
  api: { type: 'string' },
  'token-file': { type: 'string' },
  identity: { type: 'string' },
  ca: { type: 'string' },
  json: { type: 'boolean' },
  count: { type: 'string' },
  'max-hops': { type: 'string' },
  limit: { type: 'string' },
  since: { type: 'string' },
} as const;

/** Options that belong to one command only, with that command. */
const commandOptions = { count: ['ping'], 'max-hops': ['traceroute'], limit: ['audit', 'actions'], since: ['audit', 'actions'] } as const satisfies Partial<Record<keyof typeof optionSpec, readonly ClientCommand[]>>;

function parseClientOptions(command: ClientCommand, argv: readonly string[], env: NodeJS.ProcessEnv): ClientOptions {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: optionSpec, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message}`);
  }
  const { values, positionals } = parsed;
  checkPositionals(command, positionals);
  for (const [option, owners] of Object.entries(commandOptions)) {
    if (values[option as keyof typeof commandOptions] !== undefined && !(owners as readonly ClientCommand[]).includes(command)) {
      throw new UsageError(`${command}: --${option} is an option of ${owners.join(' and ')} only`);
    }
  }
  const api = apiUrl(values.api ?? apiUrlDefault);
  return {
    api,
    ...accessOf(api, values, env),
    json: values.json ?? false,
    positionals,
    count: integerFlag('--count', values.count, pingCountMin, pingCountMax),
    maxHops: integerFlag('--max-hops', values['max-hops'], traceMaxHopsMin, traceMaxHopsMax),
    limit: integerFlag('--limit', values.limit, auditLimitMin, auditLimitMax),
    since: sinceFlag(values.since),
  };
}

/** --since checked with the API's own parser, so that a bad time is bad usage (exit 2), not an HTTP 400. */
function sinceFlag(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const parsed = isoDateTime.safeParse(text);
  if (!parsed.success) throw new UsageError(`--since: ${isoDateTimeMessage}, got ${JSON.stringify(text)}`);
  return text;
}

/** Usage errors for the wrong number or shape of arguments of `command`. */
function checkPositionals(command: ClientCommand, positionals: readonly string[]): void {
  if (command === 'link') {
    checkLinkArguments(positionals);
    return;
  }
  const wantsNode = command === 'ping' || command === 'traceroute';
  if (positionals.length !== (wantsNode ? 1 : 0)) {
    throw new UsageError(wantsNode ? `${command}: expected one node ID, got ${positionals.length} arguments` : `${command}: expected no arguments, got ${JSON.stringify(positionals[0])}`);
  }
  if (wantsNode) checkNodeId(command, positionals[0]!);
}

/** `link down|up <link>`: the link number as GET /v1/neighbours shows it, checked as the API does. */
function checkLinkArguments(positionals: readonly string[]): void {
  const [verb, link] = positionals;
  const count = positionals.length;
  if (count !== 2) throw new UsageError(`link: expected "down <link>" or "up <link>", got ${count} argument${count === 1 ? '' : 's'}`);
  if (verb !== 'down' && verb !== 'up') throw new UsageError(`link: expected "down" or "up", got ${JSON.stringify(verb)}`);
  if (link === undefined || !/^[1-9][0-9]*$/.test(link) || !Number.isSafeInteger(Number(link))) {
    throw new UsageError(`link: <link>: expected a positive integer, got ${JSON.stringify(link)}`);
  }
}

function checkNodeId(command: string, text: string): void {
  try {
    parseNodeId(text);
  } catch {
    throw new UsageError(`${command}: <node>: expected 8 lower-case hex digits, not 00000000, got ${JSON.stringify(text)}`);
  }
}

function apiUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--api: expected a URL like ${apiUrlDefault}, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--api: expected an http or https URL, got ${JSON.stringify(text)}`);
  return text.replace(/\/+$/, '');
}

/**
 * How the CLI proves who it is and checks the node: a bearer token, or a client SVID
 * (--identity, over https only); over https the node's certificate must be a node SVID of the
 * mesh CA (--ca, or the identity's ca.der).
 */
function accessOf(api: string, values: { readonly 'token-file'?: string; readonly identity?: string; readonly ca?: string }, env: NodeJS.ProcessEnv): Pick<ClientOptions, 'token' | 'tls'> {
  const secure = new URL(api).protocol === 'https:';
  if (values.identity !== undefined) {
    if (values['token-file'] !== undefined) throw new UsageError('--identity and --token-file: call with one credential, not both');
    if (!secure) throw new UsageError(`--identity: a client SVID is presented over TLS only: expected an https --api (a node with api.mtls: true), got ${api}`);
    const identity = readIdentity(values.identity);
    const anchor = values.ca === undefined ? anchorOf(`--identity: ${values.identity}/ca.der`, identity.caCertificate) : readCaFile(values.ca);
    return { token: null, tls: { anchor, client: { certificate: identity.svid, ed25519Seed: identity.keys.ed25519PrivateKey } } };
  }
  const token = readToken(values['token-file'], env);
  if (!secure) {
    if (values.ca !== undefined) throw new UsageError(`--ca: checks the node's certificate over TLS only: expected an https --api, got ${api}`);
    return { token, tls: undefined };
  }
  if (values.ca === undefined) throw new UsageError(`--api ${api}: pass --ca FILE (the mesh CA certificate, ca.der in a state directory) or --identity DIR, to check the node's certificate`);
  return { token, tls: { anchor: readCaFile(values.ca) } };
}

function readIdentity(dir: string): ReturnType<typeof readClientIdentity> {
  try {
    return readClientIdentity(dir);
  } catch (error) {
    throw new UsageError(`--identity: ${(error as Error).message}`);
  }
}

/** The mesh CA from --ca: a certificate file in DER (ca.der) or PEM. */
function readCaFile(path: string): TrustAnchor {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new UsageError(`--ca: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let der: Uint8Array = new Uint8Array(bytes);
  if (bytes.subarray(0, 11).toString('latin1') === '-----BEGIN ') {
    try {
      der = new Uint8Array(new X509Certificate(bytes).raw);
    } catch (error) {
      throw new UsageError(`--ca: ${path}: not a PEM certificate: ${(error as Error).message}`);
    }
  }
  return anchorOf(`--ca: ${path}`, der);
}

function anchorOf(what: string, der: Uint8Array): TrustAnchor {
  try {
    return trustAnchorOf(der, Date.now());
  } catch (error) {
    throw new UsageError(`${what}: not a mesh CA certificate: ${(error as Error).message}`);
  }
}

function readToken(path: string | undefined, env: NodeJS.ProcessEnv): string {
  let token: string;
  if (path !== undefined) {
    try {
      token = readFileSync(path, 'utf8').trim();
    } catch (error) {
      throw new UsageError(`--token-file: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    if (token === '') throw new UsageError(`--token-file: ${path} is empty`);
    return token;
  }
  token = env[apiTokenEnv]?.trim() ?? '';
  if (token === '') throw new UsageError(`no API token: pass --token-file PATH or set ${apiTokenEnv} (or call with a client SVID: --identity DIR)`);
  return token;
}

function integerFlag(flag: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new UsageError(`${flag}: expected an integer in ${min}..${max}, got ${JSON.stringify(text)}`);
  return value;
}

interface Answer<T> {
  readonly body: T;
  readonly text: string;
}

/** Calls the API; an unreachable node or an error answer is a ClientError naming what happened. */
async function call<T>(options: ClientOptions, method: 'GET' | 'POST', path: string, timeoutMs: number, body?: unknown): Promise<Answer<T>> {
  const headers: Record<string, string> = options.token === null ? {} : { authorization: `Bearer ${options.token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let answer: { status: number; text: string };
  try {
    answer = await httpCall(`${options.api}${path}`, { method, headers, timeoutMs, ...(body === undefined ? {} : { body: JSON.stringify(body) }), ...(options.tls === undefined ? {} : { tls: options.tls }) });
  } catch (error) {
    throw new ClientError('ERR_CLIENT_UNREACHABLE', `cannot reach the node API at ${options.api}: ${error instanceof HttpFailure ? error.message : String(error)}`);
  }
  const { status, text } = answer;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ClientError('ERR_CLIENT_API', `${method} ${path}: HTTP ${status} with a body that is not JSON`);
  }
  if (status < 200 || status > 299) throw new ClientError('ERR_CLIENT_API', `${method} ${path}: HTTP ${status} ${describeError(parsed)}`);
  return { body: parsed as T, text };
}

function describeError(body: unknown): string {
  const { error, message, action, policyIds } = (body ?? {}) as { error?: unknown; message?: unknown; action?: unknown; policyIds?: unknown };
  let text = `${String(error ?? 'error')}: ${String(message ?? '')}`;
  if (Array.isArray(policyIds)) text += ` (action ${String(action)}, policies ${policyIds.length === 0 ? 'none' : policyIds.join(', ')})`;
  return text;
}

async function show<T>(options: ClientOptions, io: CliIo, path: string, format: (body: T) => string): Promise<number> {
  const answer = await call<T>(options, 'GET', path, apiRequestTimeoutMs);
  io.stdout(options.json ? `${answer.text}\n` : format(answer.body));
  return 0;
}

/** `status` as aligned `key  value` lines. */
export function formatStatus(info: NodeInfo): string {
  const rows: [string, string][] = [
    ['node', info.nodeId],
    ['spiffe id', info.spiffeId],
    ['state', info.state],
    ['profile', info.profile],
    ['version', info.version],
    ['started', `${info.startedAt} (up ${formatDuration(info.uptimeS)})`],
    ['listen udp', listOrDash(info.listen.udp)],
    ['listen tcp', listOrDash(info.listen.tcp)],
    ['api', info.api],
    ['svid until', info.svidNotAfter],
  ];
  const width = Math.max(...rows.map(([key]) => key.length));
  return rows.map(([key, value]) => `${key.padEnd(width)}  ${value}\n`).join('');
}

const listOrDash = (items: readonly string[]): string => (items.length === 0 ? '-' : items.join(', '));

/** Seconds as `1d 2h 3m 4s`, leading zero units left out. */
export function formatDuration(seconds: number): string {
  let rest = Math.max(0, Math.floor(seconds));
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (rest >= size || parts.length > 0) parts.push(`${Math.floor(rest / size)}${unit}`);
    rest %= size;
  }
  parts.push(`${rest}s`);
  return parts.join(' ');
}

/** Lays out rows under a header and a rule; text columns left-aligned, columns marked numeric right-aligned. */
export function renderColumns(header: readonly string[], rows: readonly (readonly string[])[], numeric: readonly boolean[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((row) => row[c]!.length)));
  const line = (row: readonly string[]): string => widths.map((width, c) => (numeric[c] === true ? row[c]!.padStart(width) : row[c]!.padEnd(width))).join('  ').trimEnd();
  return `${[line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')}\n`;
}

/** `neighbours` as a table, one row per link; a link an operator took down shows the state `disabled`. */
export function formatNeighbours(list: readonly NeighbourInfo[]): string {
  if (list.length === 0) return 'no links\n';
  // An operator's `link down` explains whatever else the link shows, so it wins.
  const state = (n: NeighbourInfo): string => (n.disabled ? 'disabled' : !n.secured ? 'unsecured' : n.usable ? 'up' : 'unusable');
  return renderColumns(
    ['peer', 'link', 'transport', 'address', 'state', 'cost', 'rtt ms'],
    list.map((n) => [n.peerNodeId ?? '-', String(n.link), n.transport, n.address, state(n), String(n.cost), n.rttMs.toFixed(2)]),
    [false, true, false, false, false, true, true],
  );
}

/** `routes` as a table, one row per destination. */
export function formatRoutes(list: readonly RouteInfo[]): string {
  if (list.length === 0) return 'no routes\n';
  return renderColumns(
    ['destination', 'via', 'link', 'metric', 'seqno', 'alternate'],
    list.map((r) => [r.dst, r.nextHop ?? '-', String(r.link), String(r.metric), String(r.seqno), r.hasAlternate ? 'yes' : 'no']),
    [false, false, true, true, true, false],
  );
}

/** `audit` and `actions`: GET `base` with --limit and --since as query parameters (URL-encoded, so an offset's + survives). */
async function audit(options: ClientOptions, io: CliIo, base: '/v1/audit' | '/v1/actions'): Promise<number> {
  const query = new URLSearchParams();
  if (options.limit !== undefined) query.set('limit', String(options.limit));
  if (options.since !== undefined) query.set('since', options.since);
  const path = query.size === 0 ? base : `${base}?${query.toString()}`;
  return show(options, io, path, (list: readonly AuditInfo[]) => formatAudit(list));
}

/** `audit` as a table, newest first; control and format characters in the node's texts are shown escaped. */
export function formatAudit(list: readonly AuditInfo[]): string {
  if (list.length === 0) return 'no audit records\n';
  return renderColumns(
    ['time', 'actor', 'action', 'subject', 'outcome', 'detail'],
    list.map((r) => [r.at, r.actor, r.action, r.subject, r.outcome, r.detail ?? '-'].map(printable)),
    [false, false, false, false, false, false],
  );
}

/** `incidents` as a table, oldest first. */
export function formatIncidents(list: readonly IncidentInfo[]): string {
  if (list.length === 0) return 'no incidents\n';
  return renderColumns(
    ['id', 'subject', 'cause', 'state', 'opened', 'score', 'action', 'tried'],
    list.map((i) => [String(i.id), i.subject, i.cause, i.state, i.openedAt, i.score.toFixed(2), i.action ?? '-', i.tried.length === 0 ? '-' : i.tried.join(',')].map(printable)),
    [true, false, false, false, false, true, false, false],
  );
}

const namedEscapes: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * `text` with control characters, format characters (bidi overrides, zero-width) and line
 * separators written as escapes. Audit texts can carry what a peer chose (an identity, an
 * error message), and printed raw they could move the cursor, recolour the terminal or hide
 * part of a row.
 */
function printable(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (char) => namedEscapes[char] ?? `\\u${char.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}

/** `link down|up <link>`: prints `link 7 down` or `link 7 up` once the node has done it. */
async function setLink(options: ClientOptions, io: CliIo): Promise<number> {
  const [verb, link] = options.positionals;
  const answer = await call<{ readonly link: number; readonly disabled: boolean }>(options, 'POST', `/v1/neighbours/${link!}/${verb!}`, apiRequestTimeoutMs);
  io.stdout(options.json ? `${answer.text}\n` : `link ${answer.body.link} ${answer.body.disabled ? 'down' : 'up'}\n`);
  return 0;
}

async function ping(options: ClientOptions, io: CliIo): Promise<number> {
  const dst = options.positionals[0]!;
  const count = options.count ?? pingCountDefault;
  if (!options.json) io.stdout(`PING ${dst}: ${count} echo request${count === 1 ? '' : 's'}\n`);
  // The API answers after the last echo: allow count intervals, one reply timeout and slack.
  const timeoutMs = count * pingIntervalMsDefault + replyTimeoutMsDefault + apiRequestTimeoutMs;
  const answer = await call<PingResult>(options, 'POST', '/v1/ping', timeoutMs, { dst, count });
  const received = answer.body.replies.filter((r) => r.outcome === 'reply').length;
  io.stdout(options.json ? `${answer.text}\n` : formatPing(answer.body));
  return received > 0 ? 0 : 1;
}

/** A ping result in the style of ping(8): one line per echo, then statistics. */
export function formatPing(result: PingResult): string {
  const lines = result.replies.map((r) => {
    switch (r.outcome) {
      case 'reply':
        return `reply from ${result.dst}: seq=${r.seq} time=${r.rttMs === null ? '?' : `${r.rttMs.toFixed(2)} ms`}`;
      case 'timeout':
        return `no reply from ${result.dst}: seq=${r.seq} timeout`;
      case 'unreachable':
        return `from ${r.reporter ?? result.dst}: seq=${r.seq} destination unreachable`;
      case 'hopLimitExceeded':
        return `from ${r.reporter ?? '?'}: seq=${r.seq} hop limit exceeded`;
    }
  });
  const rtts = result.replies.filter((r) => r.outcome === 'reply' && r.rttMs !== null).map((r) => r.rttMs!);
  const sent = result.replies.length;
  const lossPercent = sent === 0 ? 100 : Number((((sent - rtts.length) / sent) * 100).toFixed(1));
  lines.push('', `--- ${result.dst} ping statistics ---`, `${sent} sent, ${rtts.length} received, ${lossPercent}% loss`);
  if (rtts.length > 0) {
    const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
    lines.push(`rtt min/avg/max = ${[Math.min(...rtts), avg, Math.max(...rtts)].map((v) => v.toFixed(2)).join('/')} ms`);
  }
  return `${lines.join('\n')}\n`;
}

async function traceroute(options: ClientOptions, io: CliIo): Promise<number> {
  const dst = options.positionals[0]!;
  const maxHops = options.maxHops ?? traceMaxHopsDefault;
  if (!options.json) io.stdout(`traceroute to ${dst}, ${maxHops} hops max\n`);
  const timeoutMs = maxHops * replyTimeoutMsDefault + apiRequestTimeoutMs;
  const answer = await call<readonly TraceHop[]>(options, 'POST', '/v1/traceroute', timeoutMs, { dst, maxHops });
  io.stdout(options.json ? `${answer.text}\n` : formatTrace(answer.body));
  return 0;
}

/** Traceroute hops in the style of traceroute(8): hop number, node, time, or `*`. */
export function formatTrace(hops: readonly TraceHop[]): string {
  return hops.map((h) => `${String(h.hop).padStart(2)}  ${h.nodeId === null ? '*' : `${h.nodeId}  ${h.rttMs === null ? '*' : `${h.rttMs.toFixed(2)} ms`}`}\n`).join('');
}
