import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseMemInfo, parseProcStat, ProcHostProbe, procTextCharsMax, type ProcReader } from '../../src/node/host-probe.js';
import { TelemetryError, type TelemetryErrorCode } from '../../src/telemetry/errors.js';
import { expectCodedError } from '../coded-error.js';

/** /proc/self/stat of a process whose comm holds a space and a parenthesis; utime 1234, stime 56. */
const stat = (utime: number | string = 1234, stime: number | string = 56): string =>
  `4242 (node (x) y) S 1 4242 4242 0 -1 4194304 12345 0 0 0 ${utime} ${stime} 0 0 20 0 11 0 100 1234567 4321 18446744073709551615 1 1 0 0 0 0 0 16781312 17922 0 0 0 17 1 0 0 0 0 0\n`;

const meminfo = (total: string | null = '16000000', available: string | null = '4000000'): string =>
  [
    ...(total === null ? [] : [`MemTotal:       ${total} kB`]),
    'MemFree:         1000000 kB',
    ...(available === null ? [] : [`MemAvailable:   ${available} kB`]),
    'Buffers:          200000 kB',
    '',
  ].join('\n');

function refusal(fn: () => unknown, code: TelemetryErrorCode, message: string): void {
  expectCodedError(fn, TelemetryError, code, message);
}

describe('parseProcStat', () => {
  it('reads utime and stime, counting fields after the last ")" of the command name', () => {
    expect(parseProcStat(stat())).toEqual({ utimeTicks: 1234, stimeTicks: 56 });
  });

  it('refuses malformed text with a named error', () => {
    refusal(() => parseProcStat(''), 'ERR_HOST_PROC_STAT', '/proc/self/stat: expected "pid (comm) ...", got ""');
    refusal(() => parseProcStat('4242 node S 1'), 'ERR_HOST_PROC_STAT', 'expected "pid (comm) ..."');
    refusal(() => parseProcStat('4242 (node) S 1 2 3'), 'ERR_HOST_PROC_STAT', 'expected at least 15 fields, got 6');
    refusal(() => parseProcStat(stat('12a')), 'ERR_HOST_PROC_STAT', 'utime (field 14): expected a count of clock ticks, got "12a"');
    refusal(() => parseProcStat(stat(1, '-5')), 'ERR_HOST_PROC_STAT', 'stime (field 15): expected a count of clock ticks, got "-5"');
    refusal(() => parseProcStat(stat() + 'x'.repeat(procTextCharsMax)), 'ERR_HOST_PROC_STAT', `expected at most ${procTextCharsMax} characters`);
  });
});

describe('parseMemInfo', () => {
  it('reads MemTotal and MemAvailable', () => {
    expect(parseMemInfo(meminfo())).toEqual({ totalKb: 16_000_000, availableKb: 4_000_000 });
  });

  it('refuses malformed text with a named error', () => {
    refusal(() => parseMemInfo(meminfo(null)), 'ERR_HOST_MEMINFO', '/proc/meminfo: expected a line "MemTotal: <n> kB"');
    refusal(() => parseMemInfo(meminfo('16000000', null)), 'ERR_HOST_MEMINFO', 'expected a line "MemAvailable: <n> kB"');
    refusal(() => parseMemInfo(meminfo('lots')), 'ERR_HOST_MEMINFO', 'MemTotal: expected a number of kB, got "lots"');
    refusal(() => parseMemInfo(meminfo('0', '0')), 'ERR_HOST_MEMINFO', 'expected 0 <= MemAvailable <= MemTotal > 0, got 0 of 0 kB');
    refusal(() => parseMemInfo(meminfo('100', '200')), 'ERR_HOST_MEMINFO', 'got 200 of 100 kB');
    refusal(() => parseMemInfo('x'.repeat(procTextCharsMax + 1)), 'ERR_HOST_MEMINFO', 'expected at most');
  });
});

describe('ProcHostProbe', () => {
  it('reports the CPU share of one core between samples and the host memory in use', () => {
    let ticks = 1000;
    const read: ProcReader = (path) => (path === '/proc/self/stat' ? stat(ticks, 0) : meminfo('1000', '250'));
    const probe = new ProcHostProbe(0, { read, clockTicksPerS: 100 });
    ticks += 50; // 0.5 s of CPU in 2 s: a quarter of a core.
    expect(probe.sample(2000)).toEqual({ cpu: 0.25, memory: 0.75 });
    ticks += 500; // 5 s of CPU in 1 s (several threads): clipped to 1.
    expect(probe.sample(3000).cpu).toBe(1);
    // No time passed: no share to report.
    expect(probe.sample(3000).cpu).toBe(0);
  });

  it('refuses a zero clock rate, and passes on a parse error of what it reads', () => {
    expect(() => new ProcHostProbe(0, { read: () => stat(), clockTicksPerS: 0 })).toThrow(/expected clockTicksPerS > 0/);
    const probe = new ProcHostProbe(0, { read: (path) => (path === '/proc/self/stat' ? stat() : 'garbage') });
    refusal(() => probe.sample(1000), 'ERR_HOST_MEMINFO', 'MemTotal');
  });

  it.runIf(existsSync('/proc/self/stat') && existsSync('/proc/meminfo'))('parses this machine’s real /proc', () => {
    expect(() => parseProcStat(readFileSync('/proc/self/stat', 'latin1'))).not.toThrow();
    const probe = new ProcHostProbe(performance.now());
    let spin = 0;
    const until = performance.now() + 50;
    while (performance.now() < until) spin++;
    const sample = probe.sample(performance.now());
    expect(spin).toBeGreaterThan(0);
    expect(sample.cpu).toBeGreaterThanOrEqual(0);
    expect(sample.cpu).toBeLessThanOrEqual(1);
    expect(sample.memory).toBeGreaterThan(0);
    expect(sample.memory).toBeLessThan(1);
  });
});
