import { parseArgs } from 'node:util';
import { writeDataset, type DatasetManifest } from '../telemetry/dataset-io.js';
import { datasetWindowMsMax, datasetWindowMsMin, generateDataset } from '../twin/dataset.js';
import { applyOverrides, loadScenario } from '../twin/scenario.js';
import { UsageError } from './errors.js';
import type { CliIo } from './io.js';
import { resolveScenario } from './paths.js';
import { progressBar } from './progress.js';
import { renderTable } from './table.js';

/** Options of `twin dataset`, parsed and checked. */
export interface DatasetCliOptions {
  readonly scenario: string;
  readonly out: string;
  readonly seed?: number;
  readonly windowMs?: number;
  readonly json: boolean;
  readonly quiet: boolean;
}

/** Parses `twin dataset` arguments strictly; a bad or missing value is a UsageError naming the flag. */
export function parseDatasetOptions(argv: readonly string[]): DatasetCliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { out: { type: 'string' }, seed: { type: 'string' }, 'window-ms': { type: 'string' }, json: { type: 'boolean' }, quiet: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(`twin dataset: ${(error as Error).message}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError(`twin dataset: expected one scenario, got ${positionals.length}`);
  if (values.out === undefined || values.out === '') throw new UsageError('twin dataset: --out DIR is required (the folder to write manifest.json and windows.bin to)');
  const seed = integer('--seed', values.seed, 0, 0xffff_ffff);
  const windowMs = integer('--window-ms', values['window-ms'], datasetWindowMsMin, datasetWindowMsMax);
  return {
    scenario: positionals[0]!,
    out: values.out,
    ...(seed === undefined ? {} : { seed }),
    ...(windowMs === undefined ? {} : { windowMs }),
    json: values.json ?? false,
    quiet: values.quiet ?? false,
  };
}

function integer(flag: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new UsageError(`twin dataset: ${flag}: expected an integer in ${min}..${max}, got ${JSON.stringify(text)}`);
  return value;
}

/** `twin dataset <scenario> --out DIR [--seed N] [--window-ms M] [--json] [--quiet]`: writes a labelled dataset. */
export function twinDatasetCommand(argv: readonly string[], io: CliIo): number {
  const options = parseDatasetOptions(argv);
  const loaded = loadScenario(resolveScenario(options.scenario));
  const scenario = options.seed === undefined ? loaded : applyOverrides(loaded, { seed: options.seed });
  const started = performance.now();
  const progress = progressBar(io, `${scenario.name} dataset`, options.quiet || options.json);
  const dataset = generateDataset(scenario, scenario.seed, {
    ...(options.windowMs === undefined ? {} : { windowMs: options.windowMs }),
    onProgress: (virtualMs, totalMs) => progress.listener?.({ seedIndex: 0, seeds: 1, virtualMs, totalMs }),
  });
  progress.done();
  const manifest = writeDataset(options.out, dataset);
  const wallMs = performance.now() - started;
  if (options.json) io.stdout(`${JSON.stringify({ out: options.out, wallMs: Math.round(wallMs), manifest }, null, 2)}\n`);
  else io.stdout(summary(manifest, options.out, wallMs));
  return 0;
}

function summary(manifest: DatasetManifest, out: string, wallMs: number): string {
  const rows: string[][] = [
    ['scenario', `${manifest.scenario} (seed ${manifest.seed}, topology ${manifest.topology})`],
    ['windows', `${manifest.windowCount} of ${manifest.windowMs} ms, ${manifest.nodeCount} nodes, ${manifest.linkRows} link rows`],
    ['faults', String(manifest.faults.length)],
    ...Object.keys(manifest.labelCounts.nodes).map((name) => [`labels ${name}`, `${manifest.labelCounts.nodes[name]} node / ${manifest.labelCounts.links[name]} link windows`]),
    ['wall time s', (wallMs / 1000).toFixed(1)],
  ];
  return `${renderTable(['dataset', out], rows)}wrote ${out}/manifest.json and ${out}/${manifest.windowsFile}\n`;
}
