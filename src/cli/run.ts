import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScenarioError } from '../twin/scenario.js';
import { TopologyError } from '../twin/topology.js';
import { isIdentityError } from '../identity/errors.js';
import { isSpiffeIdError } from '../identity/spiffe-id.js';
import { caCommand } from './ca.js';
import { demoCommand } from './demo.js';
import { UsageError } from './errors.js';
import type { CliIo } from './io.js';
import { packageRoot } from './paths.js';
import { twinCommand } from './twin.js';
import { usageText } from './usage.js';

/** Runs the `x0tta6bl4` command line and returns the exit code: 0 ok, 1 runtime failure, 2 bad usage or input. */
export function runCli(argv: readonly string[], io: CliIo): number {
  try {
    return dispatch(argv, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`x0tta6bl4: ${error.message}\n\n${usageText}`);
      return 2;
    }
    if (error instanceof ScenarioError || error instanceof TopologyError || isIdentityError(error) || isSpiffeIdError(error)) {
      io.stderr(`x0tta6bl4: ${error.message}\n`);
      return 2;
    }
    io.stderr(`x0tta6bl4: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
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
    case 'demo':
      return demoCommand(rest, io);
    case 'twin':
      return twinCommand(rest[0], rest.slice(1), io);
    case 'ca':
      return caCommand(rest[0], rest.slice(1), io);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(noun)}`);
  }
}
