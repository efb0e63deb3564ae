import { writeFileSync } from 'node:fs';
import { renderReportHtml } from '../twin/html.js';
import { reportJson, type TwinReport } from '../twin/report.js';
import { runScenario } from '../twin/runner.js';
import { applyOverrides, type Scenario } from '../twin/scenario.js';
import type { TwinOptions } from './args.js';
import type { CliIo } from './io.js';
import { progressBar } from './progress.js';
import { formatReports } from './table.js';

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
