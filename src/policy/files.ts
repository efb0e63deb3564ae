import { existsSync, readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';
import { policyTextBytesMax, type PolicySource } from './compile.js';
import { PolicyEngine, type PolicyHooks } from './engine.js';
import { PolicyError, PolicyErrorCode } from './errors.js';

/**
 * The policy directory on disk: `schema.cedarschema` plus every `*.cedar` file next to it
 * (subdirectories such as `examples/` are not read). This file is the module's only I/O.
 */

/** Name of the schema file in a policy directory. */
export const policySchemaFileName = 'schema.cedarschema';
/** Most *.cedar files in a policy directory. */
export const policyFilesMax = 256;
/** Quiet time after the last change before a reload, so an editor's burst of writes loads once. */
export const policyReloadDebounceMs = 100;

function fail(message: string): never {
  throw new PolicyError(PolicyErrorCode.ERR_POLICY_FILES, message);
}

function attempt<T>(path: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    return fail(`${path}: cannot read: ${(error as Error).message}`);
  }
}

function readSource(path: string): PolicySource {
  // The size is checked before reading, so that a huge file is never read into memory.
  const bytes = attempt(path, () => statSync(path).size);
  if (bytes > policyTextBytesMax) throw new PolicyError(PolicyErrorCode.ERR_POLICY_LIMIT, `${path}: ${bytes} bytes, more than ${policyTextBytesMax}`);
  return { source: path, text: attempt(path, () => readFileSync(path, 'utf8')) };
}

function policyFileNames(dir: string): string[] {
  let names: string[];
  try {
    // Symbolic links count (a Kubernetes ConfigMap volume is made of them); directories do not.
    names = readdirSync(dir, { withFileTypes: true }).filter((entry) => !entry.isDirectory() && entry.name.endsWith('.cedar')).map((entry) => entry.name);
  } catch (error) {
    return fail(`${dir}: cannot list the policy directory: ${(error as Error).message}`);
  }
  if (names.length === 0) fail(`${dir}: no *.cedar policy file (with none, every request would be denied)`);
  if (names.length > policyFilesMax) fail(`${dir}: ${names.length} *.cedar files, more than ${policyFilesMax}`);
  // Code-unit order, not locale order, so every machine loads the files in the same order.
  return names.sort();
}

/** Loads `<dir>/schema.cedarschema` and every `<dir>/*.cedar` (in name order); throws a PolicyError naming the file. */
export function loadPolicyFiles(dir: string, hooks: PolicyHooks = {}): PolicyEngine {
  const names = policyFileNames(dir);
  const schema = readSource(join(dir, policySchemaFileName));
  const policies = names.map((name) => readSource(join(dir, name)));
  return PolicyEngine.load({ ...hooks, schema, policies });
}

/** How often watchPolicyDir re-checks the directory besides its watcher (see there). */
export const policyRecheckMs = 5_000;

/** How watchPolicyDir loads: the hooks every new engine gets, the debounce, and the re-check interval. */
export interface PolicyWatchOptions extends PolicyHooks {
  readonly debounceMs?: number;
  readonly recheckMs?: number;
}

/**
 * What the policy files of `dir` are now: each file's name, inode, size and modification time
 * (symbolic links followed), or the error listing them gives. Any edit, replacement by rename or
 * swap of the directory itself changes it.
 */
function fingerprint(dir: string): string {
  try {
    const names = readdirSync(dir).filter((name) => name.endsWith('.cedar') || name === policySchemaFileName).sort();
    return names.map((name) => {
      const stat = statSync(join(dir, name), { throwIfNoEntry: false });
      return stat === undefined ? `${name}:gone` : `${name}:${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    }).join('|');
  } catch (error) {
    return `error:${(error as Error).message}`;
  }
}

/**
 * Reloads `dir` whenever something in it changes (after `debounceMs` of quiet) and hands the
 * new engine to `onReload`. A load that fails goes to `onError` instead, and the caller keeps
 * the engine it has. Pass the same `stats` and `onDeny` as the first load so counts carry over.
 * Returns a function that stops watching.
 *
 * fs.watch alone misses changes: it follows the directory's inode, so a directory replaced by a
 * rename (a deploy tool, a ConfigMap's symlink swap) goes unseen, and a watcher that errs stops.
 * So the directory is also re-checked every `recheckMs` (a fingerprint of its files, see
 * fingerprint), and a watcher that erred (reported to `onError`) is made again at the next
 * re-check.
 */
export function watchPolicyDir(dir: string, onReload: (engine: PolicyEngine) => void, onError: (error: unknown) => void, options: PolicyWatchOptions = {}): () => void {
  const { debounceMs = policyReloadDebounceMs, recheckMs = policyRecheckMs, ...hooks } = options;
  let timer: NodeJS.Timeout | undefined;
  let seen = fingerprint(dir);
  const reload = (): void => {
    timer = undefined;
    seen = fingerprint(dir);
    let engine: PolicyEngine;
    try {
      engine = loadPolicyFiles(dir, hooks);
    } catch (error) {
      onError(error);
      return;
    }
    onReload(engine);
  };
  const changed = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(reload, debounceMs);
  };
  let watcher: FSWatcher | null;
  // The inode the watcher follows: a directory replaced by a rename has another, and the old watcher sees nothing more.
  let watchedIno = statSync(dir, { throwIfNoEntry: false })?.ino;
  try {
    watcher = watchDir(dir, changed, onError, () => (watcher = null));
  } catch (error) {
    return fail(`${dir}: cannot watch the policy directory: ${(error as Error).message}`);
  }
  const rewatch = (): void => {
    const ino = statSync(dir, { throwIfNoEntry: false })?.ino;
    if (watcher !== null && ino === watchedIno) return;
    watcher?.close();
    watcher = null;
    watchedIno = ino;
    try {
      watcher = watchDir(dir, changed, onError, () => (watcher = null));
    } catch {
      // Still gone: the fingerprint below tells the caller, through the reload's error.
    }
  };
  const recheck = setInterval(() => {
    rewatch();
    if (fingerprint(dir) !== seen && timer === undefined) changed();
  }, recheckMs);
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    clearInterval(recheck);
    watcher?.close();
  };
}

/** An fs.watch of `dir` calling `changed`; on an error it reports it, closes and calls `closed`. */
function watchDir(dir: string, changed: () => void, onError: (error: unknown) => void, closed: () => void): FSWatcher {
  const watcher = watch(dir, changed);
  watcher.on('error', (error) => {
    onError(error);
    watcher.close();
    closed();
  });
  return watcher;
}

/** The shipped `policies/` directory: next to the package.json above this file (from src/ or dist/src/). */
export function defaultPolicyDir(from: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(from));
  while (!existsSync(join(dir, 'package.json'))) {
    if (dir === parse(dir).root) fail(`${fileURLToPath(from)}: no package.json above it, so no shipped policies/ directory`);
    dir = dirname(dir);
  }
  return join(dir, 'policies');
}
