import type { TwinReport } from '../twin/report.js';
import { loadScenario } from '../twin/scenario.js';
import { parseTwinOptions } from './args.js';
import { UsageError } from './errors.js';
import type { CliIo } from './io.js';
import { resolveScenario } from './paths.js';
import { runOne, writeOutputs } from './twin-run.js';

/** Name of the scenario `demo` runs, from the scenarios/ library. */
export const demoScenario = 'demo-300';

/** `twin demo`: the demo scenario under both profiles, with the recovery table side by side. */
export function demoCommand(argv: readonly string[], io: CliIo): number {
  const options = parseTwinOptions(argv);
  if (options.positionals.length > 0) throw new UsageError(`twin demo: takes no arguments, got ${options.positionals.join(' ')}`);
  const scenario = loadScenario(resolveScenario(demoScenario));
  io.stdout(`${scenario.description}\n\n`);
  const reports: TwinReport[] = options.profiles.map((profile) => runOne(scenario, options, profile, io));
  writeOutputs(options, { profiles: Object.fromEntries(reports.map((r) => [r.profile, r])) }, reports, io);
  return 0;
}
