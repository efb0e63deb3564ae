import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { liveDemoCommand, type DemoReport } from '../src/cli/live-demo.js';

/**
 * Recovery on real sockets: the live demo (7 node processes on loopback, a ring with chords)
 * run `runs` times; each run kills a transit node with SIGKILL and later cuts the busiest link,
 * with flows of 100 packets/s crossing each fault. A sample is one flow's time from the fault to
 * its first delivered packet sent after the fault (the twin's definition, on a real clock).
 */

const runs = 3;
const command = [process.execPath, '--import', 'tsx', 'src/cli/main.ts'];

function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 10) / 10;
}

async function demoOnce(): Promise<DemoReport> {
  const dir = mkdtempSync(join(tmpdir(), 'x0t-bench-live-'));
  const json = join(dir, 'demo.json');
  const quiet = { stdout: () => undefined, stderr: (text: string) => process.stderr.write(text), isTTY: false };
  try {
    const code = await liveDemoCommand(['--json', json], quiet, { promise: new Promise(() => undefined) }, command);
    if (code !== 0) throw new Error(`bench: the live demo exited ${code}`);
    return JSON.parse(readFileSync(json, 'utf8')) as DemoReport;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Kill and link-cut recovery over `runs` live demos, with how many flows never recovered. */
export async function run(): Promise<{ figures: Record<string, number | null>; details: unknown }> {
  const reports: DemoReport[] = [];
  for (let i = 0; i < runs; i++) reports.push(await demoOnce());
  const samples = (index: number): number[] => reports.flatMap((report) => report.faults[index]!.recoveries.map((r) => r.recoveryMs).filter((ms): ms is number => ms !== null));
  const unrecovered = reports.flatMap((report) => report.faults.flatMap((fault) => fault.recoveries)).filter((r) => r.recoveryMs === null).length;
  const kill = samples(0);
  const cut = samples(1);
  const figures = {
    killRecoveryP50Ms: quantile(kill, 0.5),
    killRecoveryMaxMs: quantile(kill, 1),
    linkCutRecoveryP50Ms: quantile(cut, 0.5),
    linkCutRecoveryMaxMs: quantile(cut, 1),
    recoverySamples: kill.length + cut.length,
    unrecoveredFlows: unrecovered,
    routesUpMsMedian: quantile(reports.map((report) => report.routesUpMs), 0.5),
  };
  return { figures, details: { runs, faults: reports.map((report) => report.faults.map((fault) => ({ fault: fault.fault, recoveryMs: fault.recoveries.map((r) => r.recoveryMs), lost: fault.recoveries.map((r) => r.lost) }))) } };
}
