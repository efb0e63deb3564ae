/**
 * The registry's event log: every change of the current model is one event, numbered from 1,
 * never rewritten or deleted. An install adds a version and makes it current; a rollback makes
 * an earlier version current again. The current model is the one the last event names, so the
 * history of what ran when survives every rollback.
 */
import { RegistryError, RegistryErrorCode } from './errors.js';
import { eventBytesMax } from './limits.js';
import { isModelId, type ModelId } from './model-id.js';
import { parseUtf8Json } from './metadata.js';

/** One change of the current model. */
export interface RegistryEvent {
  /** 1, 2, 3, ... in the order the changes happened. */
  readonly seq: number;
  readonly kind: 'install' | 'rollback';
  /** The model that became current. */
  readonly modelId: ModelId;
  /** The model that was current before (null for the first install). */
  readonly previousId: ModelId | null;
  /** When it happened (the caller's clock). */
  readonly atMs: number;
}

const formatName = 'x0tta6bl4/fl-event';

function canonicalText(event: RegistryEvent): string {
  return JSON.stringify({ format: formatName, seq: event.seq, kind: event.kind, modelId: event.modelId, previousId: event.previousId, atMs: event.atMs });
}

/** The canonical bytes of `event`. */
export function encodeEvent(event: RegistryEvent): Uint8Array {
  return new TextEncoder().encode(canonicalText(event));
}

function corrupt(location: string, message: string): never {
  throw new RegistryError(RegistryErrorCode.ERR_FL_REGISTRY_CORRUPT, `corrupt registry event ${location}: ${message}`);
}

function isCount(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min;
}

/** Reads an event's bytes strictly; ERR_FL_REGISTRY_CORRUPT names `location` and the bad field. */
export function decodeEvent(bytes: Uint8Array, location: string): RegistryEvent {
  if (bytes.length > eventBytesMax) corrupt(location, `${bytes.length} bytes, more than ${eventBytesMax}`);
  const json = parseUtf8Json(bytes);
  if (!json.ok) corrupt(location, `not UTF-8 JSON (${json.reason})`);
  const { text, value: parsed } = json;
  const record = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  const { seq, kind, modelId, previousId, atMs } = record;
  if (record['format'] !== formatName) corrupt(location, `format is ${JSON.stringify(record['format'])}, expected ${JSON.stringify(formatName)}`);
  if (!isCount(seq, 1)) corrupt(location, `seq is ${JSON.stringify(seq)}, expected an integer >= 1`);
  if (kind !== 'install' && kind !== 'rollback') corrupt(location, `kind is ${JSON.stringify(kind)}, expected "install" or "rollback"`);
  if (!isModelId(modelId)) corrupt(location, `modelId is ${JSON.stringify(modelId)}, expected a model id`);
  if (previousId !== null && !isModelId(previousId)) corrupt(location, `previousId is ${JSON.stringify(previousId)}, expected null or a model id`);
  if (!isCount(atMs, 0)) corrupt(location, `atMs is ${JSON.stringify(atMs)}, expected an integer >= 0`);
  const event: RegistryEvent = { seq, kind, modelId, previousId, atMs };
  if (canonicalText(event) !== text) corrupt(location, 'not in canonical form');
  return event;
}
