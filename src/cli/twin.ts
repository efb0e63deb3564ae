import { writeFileSync } from 'node:fs';
import { renderReportHtml } from '../twin/html.js';
import { reportJson, type TwinReport } from '../twin/report.js';
import { runScenario } from '../twin/runner.js';
import { applyOverrides, loadScenario, type Scenario } from '../twin/scenario.js';
import { parseTwinOptions, type TwinOptions } from './args.js';
import { UsageError } from './errors.js';
import type { CliIo } from './io.js';
import { resolveScenario } from './paths.js';
import { progressBar } from './progress.js';
import { formatReports } from './table.js';

/** `twin run <scenario>` and `twin compare <scenario>`. */
export function twinCommand(verb: string | undefined, argv: readonly string[], io: CliIo): number {
  const options = parseTwinOptions(argv);
  if (verb !== 'run' && verb !== 'compare') throw new UsageError(`twin: expected run or compare, got ${JSON.stringify(verb ?? '')}`);
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

/** Runs `scenario` with the command-line overrides and a progress bar. */
export function runOne(scenario: Scenario, options: TwinOptions, profile: Scenario['profile'] | undefined, io: CliIo): TwinReport {
  const overridden = applyOverrides(scenario, {
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.seeds === undefined ? {} : { seeds: options.seeds }),
    ...(options.nodes === undefined ? {} : { nodes: options.nodes }),
    ...(profile === undefined ? {} : { profile }),
  });
  const progress = progressBar(io, `${overridden.name} (${overridden.profile})`, options.quiet);
  const report = runScenario(overridden, progress.listener);
  progress.done();
  return report;
}

/** Prints the table and writes the JSON and HTML files the options ask for. */
export function writeOutputs(options: TwinOptions, document: TwinReport | { profiles: Record<string, TwinReport> }, reports: readonly TwinReport[], io: CliIo): void {
  const json = reportJson(document, options.deterministic);
  if (options.json === '-') io.stdout(json);
  else {
    io.stdout(formatReports(reports));
    if (options.json !== undefined) {
      writeFileSync(options.json, json);
      io.stdout(`wrote ${options.json}\n`);
    }
  }
  if (options.html !== undefined) {
    // The HTML is drawn from the JSON text so that --deterministic zeroes its wall-clock fields too.
    writeFileSync(options.html, renderReportHtml(JSON.parse(json) as typeof document));
    if (options.json !== '-') io.stdout(`wrote ${options.html}\n`);
  }
}
