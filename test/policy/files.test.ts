import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  defaultPolicyDir,
  isPolicyError,
  loadPolicyFiles,
  newPolicyStats,
  policyFilesMax,
  policySchemaFileName,
  policyTextBytesMax,
  watchPolicyDir,
  type PolicyEngine,
} from '../../src/policy/index.js';
import { Inbox, node, policyRefusal, shippedDir } from './helpers.js';

const local = node('mesh.example', '00000001');
const quarantined = node('mesh.example', '0000002a');
const cleanups: (() => void)[] = [];

afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A temporary copy of the shipped schema and default policy; also a scratch dir on the same file system. */
function policyDir(): { dir: string; scratch: string } {
  const root = mkdtempSync(join(tmpdir(), 'x0t-policy-'));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'policies');
  const scratch = join(root, 'scratch');
  mkdirSync(dir);
  mkdirSync(scratch);
  copyFileSync(join(shippedDir, policySchemaFileName), join(dir, policySchemaFileName));
  copyFileSync(join(shippedDir, 'default.cedar'), join(dir, 'default.cedar'));
  return { dir, scratch };
}

/** Replaces `dir/name` at once (write elsewhere, then rename), as careful editors do. */
function replaceFile(dir: string, scratch: string, name: string, text: string): void {
  const staged = join(scratch, name);
  writeFileSync(staged, text);
  renameSync(staged, join(dir, name));
}

describe('loadPolicyFiles', () => {
  it('loads the shipped directory (examples/ is not read)', () => {
    const engine = loadPolicyFiles(defaultPolicyDir());
    expect(engine.policyIds).toEqual(['peer-same-trust-domain', 'transit-same-trust-domain', 'api-admin', 'api-viewer-read']);
    expect(engine.canTransit(local, quarantined).allowed).toBe(true);
  });

  it('loads every *.cedar file in name order, with the examples copied in', () => {
    const { dir } = policyDir();
    copyFileSync(join(shippedDir, 'examples', 'quarantine.cedar'), join(dir, 'quarantine.cedar'));
    copyFileSync(join(shippedDir, 'examples', 'admin-only.cedar'), join(dir, 'admin-only.cedar'));
    writeFileSync(join(dir, 'notes.txt'), 'not a policy');
    mkdirSync(join(dir, 'old.cedar'));
    const engine = loadPolicyFiles(dir);
    expect(engine.policyIds).toEqual([
      'api-operator-routine',
      'api-drain-send-admin-only',
      'api-links-admin-only',
      'peer-same-trust-domain',
      'transit-same-trust-domain',
      'api-admin',
      'api-viewer-read',
      'quarantine-transit-0000002a',
      'quarantine-peer-0000002b',
    ]);
    expect(engine.canTransit(local, quarantined).policyIds).toEqual(['quarantine-transit-0000002a']);
  });

  it('names the file that holds a syntax error', () => {
    const { dir } = policyDir();
    writeFileSync(join(dir, 'local.cedar'), '@id("x")\npermit (principal, action, resource)');
    const error = policyRefusal(() => loadPolicyFiles(dir));
    expect(error.code).toBe('ERR_POLICY_PARSE');
    expect(error.message.startsWith(`${join(dir, 'local.cedar')}:2:`)).toBe(true);
  });

  it('refuses a directory without policies, with too many files, without schema, or missing', () => {
    const { dir } = policyDir();
    rmSync(join(dir, 'default.cedar'));
    const none = policyRefusal(() => loadPolicyFiles(dir));
    expect(none.code).toBe('ERR_POLICY_FILES');
    expect(none.message).toBe(`${dir}: no *.cedar policy file (with none, every request would be denied)`);
    for (let index = 0; index <= policyFilesMax; index++) writeFileSync(join(dir, `${String(index).padStart(3, '0')}.cedar`), '');
    expect(policyRefusal(() => loadPolicyFiles(dir)).message).toBe(`${dir}: ${policyFilesMax + 1} *.cedar files, more than ${policyFilesMax}`);
    rmSync(join(dir, '000.cedar'));
    expect(loadPolicyFiles(dir).policyIds).toEqual([]);
    rmSync(join(dir, policySchemaFileName));
    const noSchema = policyRefusal(() => loadPolicyFiles(dir));
    expect(noSchema.code).toBe('ERR_POLICY_FILES');
    expect(noSchema.message).toMatch(new RegExp(`^${join(dir, policySchemaFileName)}: cannot read: ENOENT`));
    const missing = policyRefusal(() => loadPolicyFiles(join(dir, 'missing')));
    expect(missing.message).toMatch(new RegExp(`^${join(dir, 'missing')}: cannot list the policy directory: ENOENT`));
  });

  it('refuses a file over the size limit before reading it', () => {
    const { dir } = policyDir();
    writeFileSync(join(dir, 'huge.cedar'), Buffer.alloc(policyTextBytesMax + 1, 0x20));
    const error = policyRefusal(() => loadPolicyFiles(dir));
    expect(error.code).toBe('ERR_POLICY_LIMIT');
    expect(error.message).toBe(`${join(dir, 'huge.cedar')}: ${policyTextBytesMax + 1} bytes, more than ${policyTextBytesMax}`);
  });

  it('follows symbolic links to policy files and names a dangling one', () => {
    const { dir, scratch } = policyDir();
    copyFileSync(join(shippedDir, 'examples', 'quarantine.cedar'), join(scratch, 'quarantine.cedar'));
    symlinkSync(join(scratch, 'quarantine.cedar'), join(dir, 'quarantine.cedar'));
    expect(loadPolicyFiles(dir).canTransit(local, quarantined).allowed).toBe(false);
    symlinkSync(join(scratch, 'gone.cedar'), join(dir, 'gone.cedar'));
    const error = policyRefusal(() => loadPolicyFiles(dir));
    expect(error.code).toBe('ERR_POLICY_FILES');
    expect(error.message).toMatch(new RegExp(`^${join(dir, 'gone.cedar')}: cannot read: ENOENT`));
  });
});

describe('defaultPolicyDir', () => {
  it('finds policies/ next to package.json from this test too', () => {
    expect(defaultPolicyDir(import.meta.url)).toBe(shippedDir);
  });

  it('refuses a file with no package.json above it', () => {
    const error = policyRefusal(() => defaultPolicyDir(pathToFileURL('/x0t-no-package/src/policy/files.js').href));
    expect(error.code).toBe('ERR_POLICY_FILES');
    expect(error.message).toBe('/x0t-no-package/src/policy/files.js: no package.json above it, so no shipped policies/ directory');
  });
});

describe('watchPolicyDir', () => {
  interface Watch {
    readonly reloads: Inbox<PolicyEngine>;
    readonly errors: Inbox<unknown>;
    readonly stop: () => void;
  }

  function watchInto(dir: string, options: Parameters<typeof watchPolicyDir>[3] = {}): Watch {
    const reloads = new Inbox<PolicyEngine>();
    const errors = new Inbox<unknown>();
    const stop = watchPolicyDir(dir, reloads.push, errors.push, { debounceMs: 20, ...options });
    cleanups.unshift(stop);
    return { reloads, errors, stop };
  }

  it('keeps the old engine on a broken edit and reports the error, then takes a good edit', async () => {
    const { dir, scratch } = policyDir();
    const stats = newPolicyStats();
    let engine = loadPolicyFiles(dir, { stats });
    const { reloads, errors } = watchInto(dir, { stats });
    const quarantine = (action: string): string => `@id("quarantine-transit-0000002a")\nforbid (principal == X0t::Node::"${quarantined.spiffeId}", action == X0t::Action::"${action}", resource);`;

    replaceFile(dir, scratch, 'quarantine.cedar', quarantine('transitt'));
    const error = await errors.next();
    expect(isPolicyError(error, 'ERR_POLICY_VALIDATE')).toBe(true);
    expect((error as Error).message).toContain(`${join(dir, 'quarantine.cedar')}:2:`);
    expect(reloads.pending).toBe(0);
    expect(engine.canTransit(local, quarantined).allowed).toBe(true);

    replaceFile(dir, scratch, 'quarantine.cedar', quarantine('transit'));
    const old = engine;
    engine = await reloads.next();
    expect(engine).not.toBe(old);
    expect(engine.canTransit(local, quarantined)).toEqual({ allowed: false, policyIds: ['quarantine-transit-0000002a'], errors: [] });
    expect(old.canTransit(local, quarantined).allowed).toBe(true);
    expect(engine.stats).toBe(stats);
    expect(stats.denies.transit).toBe(1);
    expect(errors.pending).toBe(0);
  });

  it('takes a change to the schema, and reports a broken one', async () => {
    const { dir, scratch } = policyDir();
    const { reloads, errors } = watchInto(dir);
    replaceFile(dir, scratch, policySchemaFileName, 'namespace X0t {');
    expect(isPolicyError(await errors.next(), 'ERR_POLICY_SCHEMA')).toBe(true);
    const optional = readFileSync(join(shippedDir, policySchemaFileName), 'utf8').replace('nodeId: String,', 'nodeId: String,\n    region?: String,');
    replaceFile(dir, scratch, policySchemaFileName, optional);
    expect((await reloads.next()).policyIds).toHaveLength(4);
  });

  it('stops reloading once stopped, even with a reload pending', async () => {
    const { dir, scratch } = policyDir();
    const stopped = watchInto(dir, { debounceMs: 200 });
    const quick = watchInto(dir);
    replaceFile(dir, scratch, 'extra.cedar', '@id("extra") permit (principal, action == X0t::Action::"apiRead", resource);');
    expect((await quick.reloads.next()).policyIds).toContain('extra');
    // The stopped watcher saw the same change; its reload would be due about 180 ms from now.
    stopped.stop();
    const slow = watchInto(dir, { debounceMs: 400 });
    replaceFile(dir, scratch, 'extra2.cedar', '@id("extra2") permit (principal, action == X0t::Action::"apiPing", resource);');
    expect((await slow.reloads.next()).policyIds).toContain('extra2');
    expect(stopped.reloads.pending + stopped.errors.pending).toBe(0);
  });

  it('refuses to watch a missing directory', () => {
    const { dir } = policyDir();
    const missing = join(dir, 'missing');
    const error = policyRefusal(() => watchPolicyDir(missing, () => undefined, () => undefined));
    expect(error.code).toBe('ERR_POLICY_FILES');
    expect(error.message).toMatch(new RegExp(`^${missing}: cannot watch the policy directory: ENOENT`));
  });

  it('reports the directory going away', async () => {
    const { dir } = policyDir();
    const { errors, reloads } = watchInto(dir);
    rmSync(dir, { recursive: true, force: true });
    const error = await errors.next();
    expect(isPolicyError(error, 'ERR_POLICY_FILES')).toBe(true);
    expect((error as Error).message).toMatch(/cannot list the policy directory: ENOENT/);
    expect(reloads.pending).toBe(0);
  });

  it('sees a directory replaced by a rename, which its watcher cannot (the re-check)', async () => {
    const { dir, scratch } = policyDir();
    const { reloads, errors } = watchInto(dir, { recheckMs: 40 });
    // A new directory with one more policy, moved over the old one (the old inode is gone).
    const next = join(scratch, 'next');
    mkdirSync(next);
    copyFileSync(join(shippedDir, policySchemaFileName), join(next, policySchemaFileName));
    copyFileSync(join(shippedDir, 'default.cedar'), join(next, 'default.cedar'));
    writeFileSync(join(next, 'extra.cedar'), '@id("extra") permit (principal, action == X0t::Action::"apiPing", resource);');
    rmSync(dir, { recursive: true });
    renameSync(next, dir);
    let engine = await reloads.next();
    // The removal may have been reported on the way (the old directory's watcher erred): the last reload is what counts.
    while (!engine.policyIds.includes('extra')) engine = await reloads.next();
    expect(engine.policyIds).toContain('extra');
    // The watcher is made again on the new directory: a later edit is taken too.
    replaceFile(dir, scratch, 'extra2.cedar', '@id("extra2") permit (principal, action == X0t::Action::"apiRead", resource);');
    while (!engine.policyIds.includes('extra2')) engine = await reloads.next();
    expect(engine.policyIds).toEqual(expect.arrayContaining(['extra', 'extra2']));
    expect(errors.pending).toBeLessThanOrEqual(2);
  });

  it('the re-check survives the directory missing, and watches it again once it is back', async () => {
    vi.useFakeTimers();
    try {
      const { dir, scratch } = policyDir();
      const { reloads, errors } = watchInto(dir, { recheckMs: 10, debounceMs: 5 });
      const saved = join(scratch, 'saved');
      renameSync(dir, saved);
      vi.advanceTimersByTime(20);
      expect(errors.pending).toBe(1);
      expect(isPolicyError(await errors.next(), 'ERR_POLICY_FILES')).toBe(true);
      renameSync(saved, dir);
      vi.advanceTimersByTime(20);
      expect(reloads.pending).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('the re-check reloads on a change and never without one', () => {
    vi.useFakeTimers();
    try {
      const { dir } = policyDir();
      const { reloads, errors } = watchInto(dir, { recheckMs: 10, debounceMs: 5 });
      vi.advanceTimersByTime(1000);
      expect(reloads.pending + errors.pending).toBe(0);
      // An edit (the watcher's own event comes later, on the real clock, and only arms a fake timer).
      writeFileSync(join(dir, 'extra.cedar'), '@id("extra") permit (principal, action == X0t::Action::"apiPing", resource);');
      vi.advanceTimersByTime(15);
      expect(reloads.pending).toBe(1);
      vi.advanceTimersByTime(1000);
      expect(reloads.pending + errors.pending).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });
});
