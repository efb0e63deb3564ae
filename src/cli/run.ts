import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScenarioError } from '../twin/scenario.js';
import { TopologyError } from '../twin/topology.js';
import { isIdentityError } from '../identity/errors.js';
import { isSpiffeIdError } from '../identity/spiffe-id.js';
import { isConfigError } from '../node/config.js';
import { isCaClientError } from '../node/enroll-client.js';
import { isStateError } from '../node/state-dir.js';
import { isPolicyError } from '../policy/errors.js';
import { caCommand } from './ca.js';
import { caServeCommand } from './ca-serve.js';
import { clientCommand, isClientCommand } from './client.js';
import { flCommand } from './fl.js';
import { UsageError } from './errors.js';
import type { CliIo } from './io.js';
import { liveDemoCommand } from './live-demo.js';
import { nodeCommand, type StopSignal } from './node.js';
import { packageRoot } from './paths.js';
import { twinCommand } from './twin.js';
import { usageText } from './usage.js';

/** Runs the `x0tta6bl4` command line and returns the exit code: 0 ok, 1 runtime failure, 2 bad usage or input. */
export function runCli(argv: readonly string[], io: CliIo): number {
  try {
    return dispatch(argv, io);
  } catch (error) {
    return failure(error, io);
  }
}

/** Errors that mean bad input (exit 2) rather than a failure at run time (exit 1). */
function isInputError(error: unknown): error is Error {
  return (
    error instanceof ScenarioError ||
    error instanceof TopologyError ||
    isIdentityError(error) ||
    isSpiffeIdError(error) ||
    isConfigError(error) ||
    isStateError(error) ||
    isPolicyError(error) ||
    isCaClientError(error)
  );
}

function failure(error: unknown, io: CliIo): number {
  if (error instanceof UsageError) {
    io.stderr(`x0tta6bl4: ${error.message}\n\n${usageText}`);
    return 2;
  }
  if (isInputError(error)) {
    io.stderr(`x0tta6bl4: ${error.message}\n`);
    return 2;
  }
  io.stderr(`x0tta6bl4: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return 1;
}

/** Commands that run asynchronously (daemons, network clients). */
const asyncNouns = new Set(['node', 'demo']);

/**
 * The command line with the asynchronous commands too (what the `x0tta6bl4` binary runs).
 * `signal` resolves when the process is asked to stop (SIGINT, SIGTERM).
 */
export async function runCliAsync(argv: readonly string[], io: CliIo, signal: StopSignal): Promise<number> {
  const [noun, verb, ...rest] = argv;
  if (isClientCommand(noun)) {
    try {
      return await clientCommand(noun, argv.slice(1), io);
    } catch (error) {
      return failure(error, io);
    }
  }
  if (noun === 'ca' && verb === 'serve') {
    try {
      return await caServeCommand(rest, io, process.env, signal);
    } catch (error) {
      return failure(error, io);
    }
  }
  if (noun === undefined || !asyncNouns.has(noun)) return runCli(argv, io);
  try {
    if (noun === 'demo') return await liveDemoCommand(argv.slice(1), io, signal);
    return await nodeCommand(verb, rest, io, signal);
  } catch (error) {
    return failure(error, io);
  }
}

function dispatch(argv: readonly string[], io: CliIo): number {
  const [noun, ...rest] = argv;
  switch (noun) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.stdout(usageText);
      return 0;
    case '--version': {
      const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
      io.stdout(`${pkg.version}\n`);
      return 0;
    }
    case 'twin':
      return twinCommand(rest[0], rest.slice(1), io);
    case 'ca':
      return caCommand(rest[0], rest.slice(1), io);
    case 'fl':
      return flCommand(rest[0], rest.slice(1), io);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(noun)}`);
  }
}
