import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { flCommand } from '../../src/cli/fl.js';
import type { CliIo } from '../../src/cli/io.js';
import { DirectoryStore } from '../../src/node/fl-registry-store.js';
import { ModelRegistry } from '../../src/fl/registry/registry.js';
import { encodeTrust } from '../../src/fl/registry/trust.js';
import { createVersion, encodeVersion, type ModelVersion } from '../../src/fl/registry/version.js';
import { aggregator, chain, draft, stranger, trust } from '../fl/registry/fixtures.js';

function capture(): { io: CliIo; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { io: { stdout: (text) => (out += text), stderr: (text) => (err += text), isTTY: false }, out: () => out, err: () => err };
}

const versions = chain(3) as [ModelVersion, ModelVersion, ModelVersion];
const [first, second, third] = versions;

/** A registry directory holding the three-version chain and a trust file. */
function registryDirectory(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'x0t-cli-fl-')), 'models');
  const registry = ModelRegistry.open(new DirectoryStore(dir), trust);
  versions.forEach((version, index) => registry.install(version, 1_700_000_000_000 + index * 1000));
  writeFileSync(join(dir, 'trust.json'), encodeTrust(trust));
  return dir;
}

function run(verb: string | undefined, argv: string[]): { code: number; out: string; err: string } {
  const captured = capture();
  const code = flCommand(verb, argv, captured.io, 1_800_000_000_000);
  return { code, out: captured.out(), err: captured.err() };
}

describe('x0tta6bl4 fl', () => {
  it('status shows the current model id, round, participants, strategy and epsilon spent', () => {
    const dir = registryDirectory();
    const shown = run('status', ['--dir', dir]);
    expect(shown.code).toBe(0);
    expect(shown.out).toContain(`current model      ${third.id}`);
    expect(shown.out).toMatch(/round {14}2\n/);
    expect(shown.out).toMatch(/participants {7}3\n/);
    expect(shown.out).toMatch(/strategy {11}trimmedMean \(beta 0.1\)\n/);
    expect(shown.out).toMatch(/epsilon spent {6}1.000 of 8 \(delta 0.00001\)\n/);
    expect(shown.out).toMatch(/versions \/ events {2}3 \/ 3 \(last: install at 2023-11-14T22:13:22.000Z\)/);
    const json = JSON.parse(run('status', ['--dir', dir, '--json']).out) as { current: { id: string; round: number; participants: number[]; privacy: { epsilonSpent: number } }; versions: number };
    expect(json.current).toMatchObject({ id: third.id, round: 2, participants: [3, 5, 9], privacy: { epsilonSpent: 1 } });
    expect(json.versions).toBe(3);
  });

  it('status of the first model and of an empty registry', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'x0t-cli-fl-')), 'models');
    mkdirSync(dir);
    const registry = ModelRegistry.open(new DirectoryStore(dir), trust);
    expect(run('status', ['--dir', dir]).out).toBe(`model registry ${dir}: no model installed yet\n`);
    expect(run('models', ['--dir', dir]).out).toBe(`model registry ${dir}: no models\n`);
    expect(JSON.parse(run('status', ['--dir', dir, '--json']).out)).toMatchObject({ current: null, lastEvent: null });
    registry.install(first, 5);
    const shown = run('status', ['--dir', dir]).out;
    expect(shown).toMatch(/strategy {11}initial\n/);
    expect(shown).toMatch(/epsilon spent {6}no DP\n/);
    expect(shown).toMatch(/parent {13}none \(first model\)/);
  });

  it('models lists the history with the current one marked', () => {
    const dir = registryDirectory();
    const listed = run('models', ['--dir', dir]);
    expect(listed.code).toBe(0);
    const lines = listed.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ {2}id +round +parent +participants +strategy +eps spent +created$/);
    expect(lines[2]).toMatch(new RegExp(`^  ${first.id.slice(0, 16)} +0 +- +0 +initial +- +2023-11-14T22:13:20.000Z$`));
    expect(lines[4]).toMatch(new RegExp(`^\\* ${third.id.slice(0, 16)} +2 +${second.id.slice(0, 16)} +3 +trimmedMean +1.000 `));
    expect(lines.at(-1)).toBe('* current model');
    const json = JSON.parse(run('models', ['--dir', dir, '--json']).out) as { id: string; current: boolean }[];
    expect(json.map((entry) => entry.current)).toEqual([false, false, true]);
  });

  it('rollback verifies the target and switches to it, keeping the history', () => {
    const dir = registryDirectory();
    const rolled = run('rollback', [first.id.slice(0, 10), '--dir', dir]);
    expect(rolled.code).toBe(0);
    expect(rolled.out).toContain(`rolled back to ${first.id} (round 0, signature and parent chain verified)`);
    expect(rolled.out).toContain(`previous current model ${third.id}`);
    expect(rolled.out).toContain('recorded as event 4; all 3 versions kept');
    expect(run('status', ['--dir', dir]).out).toContain(`current model      ${first.id}`);
    const trustFile = join(dir, '..', 'elsewhere.json');
    writeFileSync(trustFile, encodeTrust(trust));
    const json = JSON.parse(run('rollback', [second.id, '--dir', dir, '--trust', trustFile, '--json']).out) as { current: string; previous: string; event: { seq: number; kind: string } };
    expect(json).toMatchObject({ current: second.id, previous: first.id, event: { seq: 5, kind: 'rollback' } });
    expect(run('models', ['--dir', dir]).out.split('\n').filter((line) => line.startsWith('* ') && line !== '* current model')).toHaveLength(1);
  });

  it('rollback refuses an unknown id, the current model, a bad trust file, and an unverifiable version', () => {
    const dir = registryDirectory();
    expect(run('rollback', ['0123456789', '--dir', dir])).toMatchObject({ code: 2, err: expect.stringMatching(/ERR_FL_REGISTRY_UNKNOWN: model id 0123456789: 0 models/) as unknown });
    expect(run('rollback', [third.id, '--dir', dir])).toMatchObject({ code: 2, err: expect.stringMatching(/ERR_FL_REGISTRY_ROLLBACK/) as unknown });
    const badTrust = join(dir, '..', 'bad.json');
    writeFileSync(badTrust, '{}');
    expect(run('rollback', [first.id, '--dir', dir, '--trust', badTrust])).toMatchObject({ code: 2, err: expect.stringMatching(/ERR_FL_TRUST/) as unknown });
    expect(run('rollback', [first.id, '--dir', dir, '--trust', join(dir, 'missing.json')])).toMatchObject({ code: 2, err: expect.stringMatching(/no trusted aggregator keys at .*missing.json/) as unknown });
    const otherTrust = join(dir, '..', 'other.json');
    writeFileSync(otherTrust, encodeTrust([stranger.publicKeys]));
    expect(run('rollback', [first.id, '--dir', dir, '--trust', otherTrust])).toMatchObject({ code: 1, err: expect.stringMatching(/ERR_FL_VERSION_SIGNATURE/) as unknown });
    expect(run('status', ['--dir', dir]).out).toContain(third.id);
  });

  it('names a corrupt registry file and exits 1', () => {
    const dir = registryDirectory();
    const store = new DirectoryStore(dir);
    writeFileSync(store.locate('versions', second.id), 'not a model');
    for (const verb of ['status', 'models']) {
      const shown = run(verb, ['--dir', dir]);
      expect(shown.code).toBe(1);
      expect(shown.err).toContain(`x0tta6bl4: fl ${verb}: ERR_FL_REGISTRY_CORRUPT: corrupt registry file ${store.locate('versions', second.id)}`);
    }
    expect(run('rollback', [first.id, '--dir', dir]).code).toBe(1);
  });

  it('refuses bad usage', () => {
    const dir = registryDirectory();
    expect(() => run(undefined, [])).toThrow(/fl: expected status, models or rollback, got nothing/);
    expect(() => run('train', [])).toThrow(/got "train"/);
    expect(() => run('status', [])).toThrow(/--dir DIR is required/);
    expect(() => run('status', ['--dir', dir, '--trust', 'x'])).toThrow(/fl status: Unknown option '--trust'/);
    expect(() => run('models', ['--dir', dir, 'extra'])).toThrow(/fl models: /);
    expect(() => run('rollback', ['--dir', dir])).toThrow(/expected a model id .* got 0 operands/);
    expect(run('status', ['--dir', join(dir, 'nowhere')])).toMatchObject({ code: 2, err: expect.stringMatching(/no model registry at/) as unknown });
  });

  it('passes errors that are not the registry\'s through to the dispatcher', () => {
    const dir = registryDirectory();
    const trustDirectory = join(dir, 'versions');
    expect(() => run('rollback', [first.id, '--dir', dir, '--trust', trustDirectory])).toThrow(/EISDIR/);
  });
});

describe('x0tta6bl4 fl on a registry whose only version was never made current (a crash before its install event)', () => {
  it('rollback makes it current', () => {
    for (const json of [false, true]) {
      const dir = join(mkdtempSync(join(tmpdir(), 'x0t-cli-fl-')), 'models');
      new DirectoryStore(dir).write('versions', first.id, encodeVersion(first));
      writeFileSync(join(dir, 'trust.json'), encodeTrust(trust));
      const rolled = run('rollback', [first.id, '--dir', dir, ...(json ? ['--json'] : [])]);
      expect(rolled.code).toBe(0);
      expect(rolled.out).toContain(json ? '"previous":null' : 'previous current model none');
    }
  });
});

describe('x0tta6bl4 fl over a branch after a rollback', () => {
  it('lists both branches', () => {
    const dir = registryDirectory();
    const registry = ModelRegistry.open(new DirectoryStore(dir), trust);
    registry.rollback(second.id, 1);
    registry.install(createVersion(draft(3, second.id), aggregator), 2);
    const listed = run('models', ['--dir', dir]).out;
    expect(listed.split('\n').filter((line) => line.includes(second.id.slice(0, 16)) && !line.startsWith(`  ${second.id.slice(0, 16)}`))).toHaveLength(2);
  });
});
