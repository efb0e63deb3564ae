import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'x0t-main-exit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI entry point in a child with stdout on a pipe; resolves with what arrived and the exit code. */
function runCli(args: readonly string[]): Promise<{ out: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ out, code }));
  });
}

describe('the CLI entry point', () => {
  it('delivers a report of over a megabyte whole through a pipe before it exits', async () => {
    // 20 000 s of a 4-node ring: the timeline alone is 20 000 entries (a truncated report was 219 264 bytes).
    const scenario = join(dir, 'long.yaml');
    writeFileSync(scenario, 'name: long\ntopology: { kind: ring, nodes: 4 }\ntiming: { warmupS: 5, durationS: 20000, settleS: 0 }\ntraffic: { flows: 1, ratePps: 1 }\ninvariants: { loops: false, oracle: false }\n');
    const { out, code } = await runCli(['twin', 'run', scenario, '--json', '-', '--quiet']);
    expect(code).toBe(0);
    expect(out.length).toBeGreaterThan(1_000_000);
    expect((JSON.parse(out) as { timeline: unknown[] }).timeline).toHaveLength(20_000);
  }, 60_000);
});
