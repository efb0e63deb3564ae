import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadNodeConfig, type LogLevel } from '../node/config.js';
import { NodeDaemon, type DaemonLog } from '../node/daemon.js';
import { enrollNode } from '../node/enroll-client.js';
import { formatNodeId } from '../wire/ids.js';
import { clientCommand } from './client.js';
import { UsageError } from './errors.js';
import type { CliIo } from './io.js';
import { packageRoot } from './paths.js';

/** How a running `node start` is stopped: resolved by SIGINT/SIGTERM in the real CLI, by tests otherwise. */
export interface StopSignal {
  readonly promise: Promise<string>;
}

const levels: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

function parse(argv: readonly string[], options: Record<string, { type: 'string' | 'boolean' }>): Record<string, string | boolean | undefined> {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: false, strict: true }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function required(values: Record<string, string | boolean | undefined>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

/** The package version, for the API and logs. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** A logger writing one JSON object per line at or above `level`. */
export function jsonLog(io: CliIo, level: LogLevel): DaemonLog {
  const floor = levels.indexOf(level);
  return (lineLevel, message, fields = {}) => {
    if (levels.indexOf(lineLevel) < floor) return;
    io.stdout(`${JSON.stringify({ time: new Date().toISOString(), level: lineLevel, msg: message, ...fields })}\n`);
  };
}

/** `x0tta6bl4 node <verb>`: init, start, drain. */
export async function nodeCommand(verb: string | undefined, argv: readonly string[], io: CliIo, signal: StopSignal): Promise<number> {
  switch (verb) {
    case 'init':
      return nodeInit(argv, io);
    case 'start':
      return nodeStart(argv, io, signal);
    case 'drain':
      return clientCommand('drain', argv, io);
    default:
      throw new UsageError(`node: expected init, start or drain, got ${verb === undefined ? 'nothing' : JSON.stringify(verb)}`);
  }
}

async function nodeInit(argv: readonly string[], io: CliIo): Promise<number> {
  const values = parse(argv, { join: { type: 'string' }, ca: { type: 'string' }, 'ca-sha256': { type: 'string' }, bundle: { type: 'string' }, dir: { type: 'string' }, json: { type: 'boolean' } });
  const caSha256 = values['ca-sha256'];
  const bundle = values.bundle;
  if (typeof caSha256 !== 'string' && typeof bundle !== 'string') throw new UsageError('node init: pin the CA with --ca-sha256 HEX (printed by `ca init` and `ca join-token`) or --bundle FILE');
  const enrolled = await enrollNode({
    caUrl: required(values, 'ca'),
    token: required(values, 'join'),
    stateDir: required(values, 'dir'),
    ...(typeof caSha256 === 'string' ? { caSha256 } : {}),
    ...(typeof bundle === 'string' ? { bundlePath: bundle } : {}),
  });
  const summary = { spiffeId: enrolled.spiffeId, nodeId: formatNodeId(enrolled.nodeId), trustDomain: enrolled.trustDomain, svidNotAfter: new Date(enrolled.svidNotAfterMs).toISOString(), stateDir: enrolled.stateDir };
  if (values.json === true) io.stdout(`${JSON.stringify(summary)}\n`);
  else io.stdout(`enrolled ${summary.spiffeId} (node ${summary.nodeId})\n  SVID valid until ${summary.svidNotAfter}\n  state in ${summary.stateDir} (keys 0600)\n  next: x0tta6bl4 node start --config node.yaml  (with stateDir: ${summary.stateDir})\n`);
  return 0;
}

async function nodeStart(argv: readonly string[], io: CliIo, signal: StopSignal): Promise<number> {
  const values = parse(argv, { config: { type: 'string' } });
  const config = loadNodeConfig(required(values, 'config'));
  const log = jsonLog(io, config.log.level);
  const daemon = await NodeDaemon.start(config, log, packageVersion());
  const info = daemon.backend.info();
  // The ready line is written whatever the log level: supervisors and scripts wait for it.
  const ready = { time: new Date().toISOString(), level: 'info', msg: 'ready', nodeId: info.nodeId, api: daemon.apiAddress, udp: info.listen.udp, tcp: info.listen.tcp, tokenFile: config.api.tokenFile };
  io.stdout(`${JSON.stringify(ready)}\n`);
  const reason = await Promise.race([signal.promise, daemon.stopped.then(() => 'stopped')]);
  await daemon.stop(reason);
  return 0;
}
