import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { demoEdges, liveDemoCommand, selfCommand, type DemoReport } from '../../src/cli/live-demo.js';
import { runCliAsync } from '../../src/cli/run.js';
import { pathOf } from '../../src/node/live-traffic.js';

const command = [process.execPath, '--import', 'tsx', 'src/cli/main.ts'];

function capture(): { io: { stdout: (text: string) => void; stderr: (text: string) => void; isTTY: boolean }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { io: { stdout: (text) => (out += text), stderr: (text) => (err += text), isTTY: false }, out: () => out, err: () => err };
}

describe('the live demo (npm start)', () => {
  it('runs seven real node processes, kills a transit node and cuts a link, and reports what every flow saw', async () => {
    const c = capture();
    const json = join(mkdtempSync(join(tmpdir(), 'x0t-demo-test-')), 'demo.json');
    const never = { promise: new Promise<string>(() => undefined) };
    expect(await liveDemoCommand(['--json', json], c.io, never, command)).toBe(0);
    const out = c.out();
    expect(out).toContain('7 node processes on 127.0.0.1');
    expect(out).toMatch(/all 42 routes up [\d.]+ s after the last node started/);
    expect(out).toMatch(/kill -9 node \d \([0-9a-f]{8}\), transit for \d+ paths: [1-4] flows/);
    expect(out).toMatch(/link \d-\d cut \(taken down at node \d\)/);
    const report = JSON.parse(readFileSync(json, 'utf8')) as DemoReport;
    expect(report.nodes).toHaveLength(7);
    expect(report.faults.map((fault) => fault.recoveries.length).every((count) => count >= 1)).toBe(true);
    // Every flow got through again: recovery is a number, never null, on a mesh with a second path everywhere.
    for (const fault of report.faults) for (const recovery of fault.recoveries) expect(recovery.recoveryMs, fault.fault).not.toBeNull();
    // The temporary state is gone.
    const root = /state in (\S+) \(removed at the end\)/.exec(out)![1]!;
    expect(existsSync(root)).toBe(false);
  }, 120_000);

  it('stops everything and removes the state when asked to stop while starting', async () => {
    const c = capture();
    const stop = { promise: Promise.resolve('SIGINT') };
    expect(await liveDemoCommand([], c.io, stop, command)).toBe(130);
    expect(c.err()).toMatch(/demo: stopped by SIGINT; every node process killed and \S+ removed/);
    const root = /state in (\S+) \(removed at the end\)/.exec(c.out())![1]!;
    expect(existsSync(root)).toBe(false);
  }, 60_000);

  it('refuses unknown options with exit 2 and knows how to run itself', async () => {
    const c = capture();
    expect(await runCliAsync(['demo', '--frob'], c.io, { promise: new Promise(() => undefined) })).toBe(2);
    expect(c.err()).toContain('demo:');
    expect(selfCommand()[0]).toBe(process.execPath);
  });

  it('finds paths by following next hops, and none through a loop or a missing route', () => {
    const ids = ['a', 'b', 'c'];
    const route = (dst: string, nextHop: string) => ({ dst, nextHop, link: 1, metric: 1, seqno: 1, hasAlternate: false });
    expect(pathOf([[route('c', 'b')], [route('c', 'c')], []], ids, 0, 2)).toEqual([0, 1, 2]);
    expect(pathOf([[route('c', 'b')], [route('c', 'a')], []], ids, 0, 2)).toBeNull();
    expect(pathOf([[], [], []], ids, 0, 2)).toBeNull();
    expect(demoEdges).toHaveLength(10);
  });
});
