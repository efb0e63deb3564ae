import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTwinOptions } from '../../src/cli/args.js';
import { UsageError } from '../../src/cli/errors.js';
import { progressBar } from '../../src/cli/progress.js';
import { resolveScenario } from '../../src/cli/paths.js';
import { runCli } from '../../src/cli/run.js';
import { renderTable } from '../../src/cli/table.js';

const tiny = 'test/fixtures/cli/tiny.yaml';

function capture(isTTY = false): { io: Parameters<typeof runCli>[1]; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    io: { stdout: (t) => (out += t), stderr: (t) => (err += t), isTTY },
    out: () => out,
    err: () => err,
  };
}

describe('command line', () => {
  it('prints usage for help and no arguments, exit 0', () => {
    for (const argv of [[], ['help'], ['--help']]) {
      const c = capture();
      expect(runCli(argv, c.io)).toBe(0);
      expect(c.out()).toContain('twin run <scenario>');
    }
  });

  it('prints the package version', () => {
    const c = capture();
    expect(runCli(['--version'], c.io)).toBe(0);
    expect(c.out()).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('rejects an unknown command and an unknown flag with usage and exit 2', () => {
    const unknown = capture();
    expect(runCli(['frob'], unknown.io)).toBe(2);
    expect(unknown.err()).toContain('unknown command "frob"');
    expect(unknown.err()).toContain('Usage: x0tta6bl4');
    const flag = capture();
    expect(runCli(['twin', 'run', tiny, '--bogus'], flag.io)).toBe(2);
    expect(flag.err()).toContain("'--bogus'");
    expect(flag.err()).toContain('Usage: x0tta6bl4');
  });

  it('rejects bad values naming the flag', () => {
    const cases: [string[], string][] = [
      [['twin', 'run', tiny, '--seeds', '0'], '--seeds: expected an integer in 1..64, got "0"'],
      [['twin', 'run', tiny, '--profile', 'slow'], '--profile: expected fast or rfc8966, got "slow"'],
      [['twin', 'compare', tiny, '--profiles', 'fast,nope'], '--profiles: expected fast or rfc8966, got "nope"'],
      [['twin', 'run', tiny, '--nodes', 'x'], '--nodes: expected an integer in 2..20000, got "x"'],
      [['twin', 'frob', tiny], 'twin: expected run, compare, dataset or demo, got "frob"'],
      [['twin', 'run'], 'twin run: expected one scenario, got 0'],
      [['twin', 'run', tiny, '--profiles', 'fast'], 'twin run: --profiles is for twin compare'],
      [['twin', 'compare', tiny, '--profile', 'fast'], 'twin compare: --profile is for twin run'],
      [['twin', 'demo', 'extra'], 'twin demo: takes no arguments, got extra'],
    ];
    for (const [argv, message] of cases) {
      const c = capture();
      expect(runCli(argv, c.io), argv.join(' ')).toBe(2);
      expect(c.err()).toContain(message);
    }
  });

  it('a malformed scenario exits 2 with a message naming the file and the field', () => {
    const c = capture();
    expect(runCli(['twin', 'run', 'test/fixtures/scenarios/bad-fault-kind.yaml'], c.io)).toBe(2);
    expect(c.err()).toContain('bad-fault-kind.yaml: faults[2].kind: expected one of linkFailure');
    const missing = capture();
    expect(runCli(['twin', 'run', 'no-such-scenario'], missing.io)).toBe(2);
    expect(missing.err()).toContain('no-such-scenario.yaml');
  });

  it('twin run prints the recovery table and writes JSON and HTML', () => {
    const dir = mkdtempSync(join(tmpdir(), 'x0t-cli-'));
    const c = capture();
    expect(runCli(['twin', 'run', tiny, '--json', join(dir, 'r.json'), '--html', join(dir, 'r.html')], c.io)).toBe(0);
    expect(c.out()).toContain('scenario tiny-cli: 6 nodes, 6 links, seeds 7');
    expect(c.out()).toMatch(/recovery ms p50\/p95\/max/);
    const report = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as { scenario: string; recoveryMs: { count: number }; transientLoops: number };
    expect(report.scenario).toBe('tiny-cli');
    expect(report.recoveryMs.count).toBe(1);
    expect(report.transientLoops).toBe(0);
    expect(readFileSync(join(dir, 'r.html'), 'utf8')).toMatch(/^<!doctype html>/i);
  });

  it('same seed gives a byte-identical deterministic report; another seed differs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'x0t-det-'));
    const run = (seed: string, file: string): string => {
      expect(runCli(['twin', 'run', tiny, '--seed', seed, '--deterministic', '--json', join(dir, file)], capture().io)).toBe(0);
      return readFileSync(join(dir, file), 'utf8');
    };
    const first = run('3', 'a.json');
    expect(run('3', 'b.json')).toBe(first);
    expect(run('4', 'c.json')).not.toBe(first);
  });

  it('twin compare writes {profiles: {...}} and prints both columns', () => {
    const c = capture();
    expect(runCli(['twin', 'compare', tiny, '--json', '-'], c.io)).toBe(0);
    const doc = JSON.parse(c.out()) as { profiles: Record<string, { profile: string }> };
    expect(Object.keys(doc.profiles)).toEqual(['fast', 'rfc8966']);
    expect(doc.profiles.rfc8966!.profile).toBe('rfc8966');
  });

  it('twin demo runs the demo scenario (scaled down here) under both profiles', () => {
    const c = capture(true);
    expect(runCli(['twin', 'demo', '--nodes', '30', '--seeds', '1'], c.io)).toBe(0);
    expect(c.out()).toContain('scenario demo-300: 30 nodes');
    expect(c.out()).toMatch(/fast\s+rfc8966/);
    expect(c.err()).toContain('[');
  });

  it('parses options and reports an unknown option as a UsageError', () => {
    expect(parseTwinOptions(['x.yaml', '--seed', '5', '--quiet']).seed).toBe(5);
    expect(() => parseTwinOptions(['--frob'])).toThrow(UsageError);
  });

  it('draws a progress bar only on a terminal', () => {
    let drawn = '';
    const tty = progressBar({ stdout: () => undefined, stderr: (t) => (drawn += t), isTTY: true }, 'x', false);
    tty.listener?.({ seedIndex: 0, seeds: 2, virtualMs: 5000, totalMs: 10000 });
    tty.done();
    expect(drawn).toContain('seed 1/2, 5/10 s virtual');
    expect(progressBar({ stdout: () => undefined, stderr: () => undefined, isTTY: false }, 'x', false).listener).toBeUndefined();
    expect(progressBar({ stdout: () => undefined, stderr: () => undefined, isTTY: true }, 'x', true).listener).toBeUndefined();
  });

  it('resolves bare scenario names into the library and keeps paths', () => {
    expect(resolveScenario('demo-300')).toMatch(/scenarios[/\\]demo-300\.yaml$/);
    expect(resolveScenario('a/b.yaml')).toMatch(/a[/\\]b\.yaml$/);
  });

  it('lays out tables with aligned columns', () => {
    expect(renderTable(['k', 'v'], [['a', '1'], ['bb', '22']])).toBe('k    v\n--  --\na    1\nbb  22\n');
  });
});
