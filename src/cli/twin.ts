import { loadScenario } from '../twin/scenario.js';
import { parseTwinOptions } from './args.js';
import { demoCommand } from './demo.js';
import { UsageError } from './errors.js';
import type { CliIo } from './io.js';
import { resolveScenario } from './paths.js';
import { twinDatasetCommand } from './twin-dataset.js';
import { runOne, writeOutputs } from './twin-run.js';

/** `twin run <scenario>`, `twin compare <scenario>`, `twin dataset <scenario>` and `twin demo`. */
export function twinCommand(verb: string | undefined, argv: readonly string[], io: CliIo): number {
  if (verb === 'demo') return demoCommand(argv, io);
  if (verb === 'dataset') return twinDatasetCommand(argv, io);
  const options = parseTwinOptions(argv);
  if (verb !== 'run' && verb !== 'compare') throw new UsageError(`twin: expected run, compare, dataset or demo, got ${JSON.stringify(verb ?? '')}`);
  if (options.positionals.length !== 1) throw new UsageError(`twin ${verb}: expected one scenario, got ${options.positionals.length}`);
  const scenario = loadScenario(resolveScenario(options.positionals[0]!));
  if (verb === 'run') {
    if (options.profiles.length !== 2 || argv.some((a) => a.startsWith('--profiles'))) {
      throw new UsageError('twin run: --profiles is for twin compare; use --profile');
    }
    const report = runOne(scenario, options, options.profile, io);
    writeOutputs(options, report, [report], io);
  } else {
    if (options.profile !== undefined) throw new UsageError('twin compare: --profile is for twin run; use --profiles a,b');
    const reports = options.profiles.map((profile) => runOne(scenario, options, profile, io));
    const byProfile = Object.fromEntries(reports.map((r) => [r.profile, r]));
    writeOutputs(options, { profiles: byProfile }, reports, io);
  }
  return 0;
}

