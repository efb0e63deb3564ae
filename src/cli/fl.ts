/**
 * `x0tta6bl4 fl status|models|rollback <id> --dir DIR`: the model registry of a node or an
 * aggregator, read from its directory (src/fl/registry's DirectoryStore). `status` and `models`
 * only read, checking every file's hashes; `rollback` also verifies the target's signature and
 * parent chain against the trusted aggregator keys before making it current, and records the
 * rollback as an event. A damaged file is named, never crashed on.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DirectoryStore } from '../node/fl-registry-store.js';
import { isRegistryError, type RegistryError } from '../fl/registry/errors.js';
import { shortModelId } from '../fl/registry/model-id.js';
import { ModelRegistry, type RegistryEntry } from '../fl/registry/registry.js';
import type { StrategyRecord } from '../fl/registry/metadata.js';
import { parseTrust } from '../fl/registry/trust.js';
import type { ModelVersion } from '../fl/registry/version.js';
import { UsageError } from './errors.js';
import type { CliIo } from './io.js';
import { renderTable } from './table.js';

/** The trust file `rollback` reads when --trust is not given. */
export const defaultTrustFile = 'trust.json';

interface FlFlags {
  readonly dir: string;
  readonly trust: string | undefined;
  readonly json: boolean;
  readonly operands: readonly string[];
}

/** Registry refusals that mean bad input (exit 2) rather than a damaged or untrustworthy registry (exit 1). */
const inputCodes = new Set(['ERR_FL_REGISTRY_UNKNOWN', 'ERR_FL_REGISTRY_ROLLBACK', 'ERR_FL_TRUST']);

/** `x0tta6bl4 fl <verb>`; returns the exit code (0 ok, 1 damaged or unverifiable registry, 2 bad input). */
export function flCommand(verb: string | undefined, argv: readonly string[], io: CliIo, nowMs: number = Date.now()): number {
  if (verb !== 'status' && verb !== 'models' && verb !== 'rollback') {
    throw new UsageError(`fl: expected status, models or rollback, got ${verb === undefined ? 'nothing' : JSON.stringify(verb)}`);
  }
  const flags = parseFlags(verb, argv);
  if (!existsSync(flags.dir)) {
    io.stderr(`x0tta6bl4: fl ${verb}: no model registry at ${flags.dir}\n`);
    return 2;
  }
  try {
    if (verb === 'status') return status(flags, io);
    if (verb === 'models') return models(flags, io);
    return rollback(flags, io, nowMs);
  } catch (error) {
    if (!isRegistryError(error)) throw error;
    return refused(verb, error, io);
  }
}

function refused(verb: string, error: RegistryError, io: CliIo): number {
  io.stderr(`x0tta6bl4: fl ${verb}: ${error.code}: ${error.message}\n`);
  return inputCodes.has(error.code) ? 2 : 1;
}

function parseFlags(verb: string, argv: readonly string[]): FlFlags {
  const operandCount = verb === 'rollback' ? 1 : 0;
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { dir: { type: 'string' }, json: { type: 'boolean' }, ...(verb === 'rollback' ? { trust: { type: 'string' } } : {}) },
      allowPositionals: operandCount > 0,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(`fl ${verb}: ${(error as Error).message}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== operandCount) throw new UsageError(`fl ${verb}: expected a model id (or an id prefix of at least 8 hex digits), got ${positionals.length} operands`);
  if (typeof values.dir !== 'string' || values.dir === '') throw new UsageError(`fl ${verb}: --dir DIR is required (the model registry directory)`);
  const trust = (values as { trust?: string }).trust;
  return { dir: values.dir, trust, json: values.json === true, operands: positionals };
}

function strategyText(strategy: StrategyRecord): string {
  const params = Object.entries(strategy.params).map(([name, value]) => `${name} ${String(value)}`);
  return params.length === 0 ? strategy.name : `${strategy.name} (${params.join(', ')})`;
}

function epsilonText(version: ModelVersion): string {
  const privacy = version.metadata.privacy;
  if (privacy === null) return 'no DP';
  return `${privacy.epsilonSpent.toFixed(3)} of ${privacy.epsilonBudget} (delta ${privacy.delta})`;
}

function status(flags: FlFlags, io: CliIo): number {
  const registry = ModelRegistry.open(new DirectoryStore(flags.dir));
  const current = registry.current();
  const events = registry.events();
  if (flags.json) {
    const summary = current === null ? null : { id: current.id, ...current.metadata, parameterCount: current.parameters.length };
    io.stdout(`${JSON.stringify({ dir: flags.dir, current: summary, versions: registry.list().length, events: events.length, lastEvent: events.at(-1) ?? null })}\n`);
    return 0;
  }
  if (current === null) {
    io.stdout(`model registry ${flags.dir}: no model installed yet\n`);
    return 0;
  }
  const last = events.at(-1)!;
  const rows: [string, string][] = [
    ['current model', current.id],
    ['round', String(current.metadata.round)],
    ['participants', String(current.metadata.participants.length)],
    ['strategy', strategyText(current.metadata.strategy)],
    ['epsilon spent', epsilonText(current)],
    ['parent', current.metadata.parentId ?? 'none (first model)'],
    ['created', new Date(current.metadata.createdAtMs).toISOString()],
    ['versions / events', `${registry.list().length} / ${events.length} (last: ${last.kind} at ${new Date(last.atMs).toISOString()})`],
  ];
  io.stdout(`model registry ${flags.dir}\n${rows.map(([key, value]) => `  ${key.padEnd(19)}${value}\n`).join('')}`);
  return 0;
}

function modelRow(entry: RegistryEntry): string[] {
  return [
    `${entry.current ? '*' : ' '} ${shortModelId(entry.id)}`,
    String(entry.round),
    entry.parentId === null ? '-' : shortModelId(entry.parentId),
    String(entry.participantCount),
    entry.strategy,
    entry.epsilonSpent === null ? '-' : entry.epsilonSpent.toFixed(3),
    new Date(entry.createdAtMs).toISOString(),
  ];
}

function models(flags: FlFlags, io: CliIo): number {
  const entries = ModelRegistry.open(new DirectoryStore(flags.dir)).list();
  if (flags.json) io.stdout(`${JSON.stringify(entries)}\n`);
  else if (entries.length === 0) io.stdout(`model registry ${flags.dir}: no models\n`);
  else io.stdout(`${renderTable(['  id', 'round', 'parent', 'participants', 'strategy', 'eps spent', 'created'], entries.map(modelRow))}* current model\n`);
  return 0;
}

function rollback(flags: FlFlags, io: CliIo, nowMs: number): number {
  const trustPath = flags.trust ?? join(flags.dir, defaultTrustFile);
  if (!existsSync(trustPath)) {
    io.stderr(`x0tta6bl4: fl rollback: no trusted aggregator keys at ${trustPath} (give --trust FILE); a rollback verifies signatures\n`);
    return 2;
  }
  const registry = ModelRegistry.open(new DirectoryStore(flags.dir), parseTrust(readFileSync(trustPath, 'utf8')));
  const previous = registry.current();
  const target = registry.rollback(flags.operands[0]!, nowMs);
  const event = registry.events().at(-1)!;
  if (flags.json) {
    io.stdout(`${JSON.stringify({ current: target.id, round: target.metadata.round, previous: previous?.id ?? null, event })}\n`);
  } else {
    io.stdout(`rolled back to ${target.id} (round ${target.metadata.round}, signature and parent chain verified)\n  previous current model ${previous?.id ?? 'none'}\n  recorded as event ${event.seq}; all ${registry.list().length} versions kept\n`);
  }
  return 0;
}
