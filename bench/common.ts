import { execFileSync, spawn } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import type { TwinReport } from '../src/twin/report.js';

/** What every results file carries besides its figures. */
export interface BenchResult {
  readonly name: string;
  readonly command: string;
  readonly date: string;
  readonly commit: string;
  readonly machine: { readonly cpus: number; readonly cpuModel: string; readonly memoryGiB: number; readonly node: string; readonly platform: string };
  readonly figures: Record<string, number | null>;
  readonly details: unknown;
}

/** The machine the benchmark ran on, for the results file. */
export function machine(): BenchResult['machine'] {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

/** The current git commit (with "-dirty" when the tree has uncommitted changes). */
export function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== '';
    return dirty ? `${sha}-dirty` : sha;
  } catch {
    return 'unknown';
  }
}

/** One twin run in a child process (so two can use both cores); resolves with its report. */
export function twinInChild(args: readonly string[]): Promise<TwinReport> {
  return twinInChildWithin(args, Number.POSITIVE_INFINITY).then((report) => {
    if (report === null) throw new Error('unreachable: no time limit');
    return report;
  });
}

/** Like twinInChild, but stops the child after `limitMs` of wall time and resolves null. */
export function twinInChildWithin(args: readonly string[], limitMs: number): Promise<TwinReport | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--max-old-space-size=16384', '--import', 'tsx', 'src/cli/main.ts', 'twin', 'run', ...args, '--json', '-', '--quiet'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    let timedOut = false;
    const timer = Number.isFinite(limitMs)
      ? setTimeout(() => {
          timedOut = true;
          child.kill();
        }, limitMs)
      : undefined;
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) resolve(null);
      else if (code !== 0) reject(new Error(`twin run ${args.join(' ')} exited with ${code}`));
      else resolve(JSON.parse(out) as TwinReport);
    });
  });
}

/** Runs `tasks` at most `parallel` at a time, keeping their order in the result. */
export async function pool<T>(tasks: readonly (() => Promise<T>)[], parallel: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, tasks.length) }, worker));
  return results;
}

/** Nearest-rank percentile of unsorted samples; null when empty. */
export function percentileOf(samples: readonly number[], p: number): number | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

/** Rounds to one decimal, keeping null. */
export function r1(value: number | null): number | null {
  return value === null ? null : Math.round(value * 10) / 10;
}
