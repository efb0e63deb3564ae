/**
 * The metadata of a model version and its canonical encoding. The id of a version is the
 * SHA-256 of these bytes, and the bytes hold the SHA-256 of the model file (architecture and
 * parameters), so one hash covers everything a node installs. The encoding is JSON with a fixed
 * key order, strategy parameters sorted by name and no whitespace; the decoder re-encodes what
 * it read and refuses anything that is not byte-identical, so each metadata value has exactly
 * one byte string and one id.
 */
import type { LedgerSummary } from '../dp/ledger.js';
import { checkConfig, type GraphSageConfig } from '../../ml/config.js';
import { isNodeId, type NodeId } from '../../wire/ids.js';
import { RegistryError, RegistryErrorCode } from './errors.js';
import { metadataBytesMax, participantsMax, strategyNameCharsMax, strategyParamsMax } from './limits.js';
import { isModelId, type ModelId } from './model-id.js';

/** A strategy parameter value as recorded: a finite number, a short string or a flag. */
export type StrategyParamValue = number | string | boolean;

/** The aggregation rule of a round and its parameters (beta, f, clip norm, noise multiplier, ...). */
export interface StrategyRecord {
  readonly name: string;
  readonly params: Readonly<Record<string, StrategyParamValue>>;
}

/** Everything a version says about itself besides its parameters. */
export interface ModelMetadata {
  /** The version this one was aggregated from; null for the first model of a run. */
  readonly parentId: ModelId | null;
  /** The round that produced it (0 for the initial model). */
  readonly round: number;
  /** The nodes whose updates were aggregated, ascending. */
  readonly participants: readonly NodeId[];
  readonly strategy: StrategyRecord;
  /** The privacy ledger's summary after this round; null when the run has no DP. */
  readonly privacy: LedgerSummary | null;
  /** When the aggregator made it (its clock, passed in). */
  readonly createdAtMs: number;
  /** The GraphSAGE architecture the parameters belong to. */
  readonly modelConfig: GraphSageConfig;
  /** SHA-256 (hex) of the src/ml model file of (modelConfig, parameters). */
  readonly modelSha256: string;
}

const formatName = 'x0tta6bl4/fl-model';
const formatVersion = 1;
const namePattern = /^[A-Za-z][A-Za-z0-9_.-]*$/;
const sha256HexPattern = /^[0-9a-f]{64}$/;

function fail(field: string, expected: string, got: unknown): never {
  throw new RegistryError(RegistryErrorCode.ERR_FL_VERSION_FORMAT, `metadata.${field}: expected ${expected}, got ${JSON.stringify(got) ?? String(got)}`);
}

function checkCount(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(field, 'an integer >= 0', value);
  return value;
}

function checkName(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length > strategyNameCharsMax || !namePattern.test(value)) {
    fail(field, `a name of 1..${strategyNameCharsMax} letters, digits, '_', '.' or '-' starting with a letter`, value);
  }
  return value;
}

function checkParticipants(value: unknown): NodeId[] {
  if (!Array.isArray(value) || value.length > participantsMax) fail('participants', `an array of at most ${participantsMax} node ids`, value);
  value.forEach((id: unknown, index) => {
    if (typeof id !== 'number' || !isNodeId(id)) fail(`participants[${index}]`, 'a node id (an integer in 1..2^32-1)', id);
    if (index > 0 && id <= (value[index - 1] as number)) fail(`participants[${index}]`, `a node id above ${value[index - 1]} (ascending, no repeats)`, id);
  });
  return value as NodeId[];
}

function checkParamValue(field: string, value: unknown): StrategyParamValue {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.length <= strategyNameCharsMax) return value;
  return fail(field, `a finite number, a boolean or a string of at most ${strategyNameCharsMax} characters`, value);
}

function checkStrategy(value: unknown): StrategyRecord {
  const record = asRecord('strategy', value);
  const params = asRecord('strategy.params', record['params']);
  const names = Object.keys(params);
  if (names.length > strategyParamsMax) fail('strategy.params', `at most ${strategyParamsMax} parameters`, names);
  const checked: Record<string, StrategyParamValue> = {};
  for (const name of names.sort()) checked[checkName(`strategy.params key`, name)] = checkParamValue(`strategy.params.${name}`, params[name]);
  return { name: checkName('strategy.name', record['name']), params: checked };
}

const privacyFields = ['epsilonBudget', 'delta', 'epsilonSpent', 'order', 'rounds', 'steps'] as const;

function checkPrivacy(value: unknown): LedgerSummary | null {
  if (value === null) return null;
  const record = asRecord('privacy', value);
  const summary: Record<string, number> = {};
  for (const field of privacyFields) {
    const number = record[field];
    if (typeof number !== 'number' || !Number.isFinite(number) || number < 0) fail(`privacy.${field}`, 'a finite number >= 0', number);
    summary[field] = number;
  }
  return summary as unknown as LedgerSummary;
}

function checkModelConfig(value: unknown): GraphSageConfig {
  const record = asRecord('modelConfig', value);
  try {
    checkConfig(record as unknown as GraphSageConfig);
  } catch (error) {
    // checkConfig throws MlErrors about the architecture; here the metadata is what is wrong.
    throw new RegistryError(RegistryErrorCode.ERR_FL_VERSION_FORMAT, `metadata.modelConfig: ${(error as Error).message}`);
  }
  const config = record as unknown as GraphSageConfig;
  return { inputDim: config.inputDim, hiddenDims: [...config.hiddenDims], outputDim: config.outputDim, head: config.head, l2Normalize: config.l2Normalize };
}

function asRecord(field: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, 'a JSON object', value);
  return value as Record<string, unknown>;
}

/** Checks every field of `metadata` and returns a normalised copy (params sorted by name); ERR_FL_VERSION_FORMAT names the first bad field. */
export function checkMetadata(metadata: ModelMetadata): ModelMetadata {
  const parentId = metadata.parentId;
  if (parentId !== null && !isModelId(parentId)) fail('parentId', 'null or a model id (64 lower-case hex digits)', parentId);
  if (typeof metadata.modelSha256 !== 'string' || !sha256HexPattern.test(metadata.modelSha256)) fail('modelSha256', '64 lower-case hex digits', metadata.modelSha256);
  return {
    parentId,
    round: checkCount('round', metadata.round),
    participants: checkParticipants(metadata.participants),
    strategy: checkStrategy(metadata.strategy),
    privacy: checkPrivacy(metadata.privacy),
    createdAtMs: checkCount('createdAtMs', metadata.createdAtMs),
    modelConfig: checkModelConfig(metadata.modelConfig),
    modelSha256: metadata.modelSha256,
  };
}

/** The canonical JSON text of checked metadata (fixed key order, no whitespace). */
function canonicalText(checked: ModelMetadata): string {
  const { privacy, modelConfig: config } = checked;
  return JSON.stringify({
    format: formatName,
    version: formatVersion,
    parentId: checked.parentId,
    round: checked.round,
    participants: checked.participants,
    strategy: { name: checked.strategy.name, params: checked.strategy.params },
    privacy: privacy === null ? null : Object.fromEntries(privacyFields.map((field) => [field, privacy[field]])),
    createdAtMs: checked.createdAtMs,
    modelConfig: { inputDim: config.inputDim, hiddenDims: config.hiddenDims, outputDim: config.outputDim, head: config.head, l2Normalize: config.l2Normalize },
    modelSha256: checked.modelSha256,
  });
}

/**
 * The canonical bytes of `metadata` (checked first); the id of a version is their SHA-256. The
 * field limits keep them well under metadataBytesMax (1024 participants of 10 digits, 16
 * parameters of 64 characters: about 15 kB), so only the decoder needs the byte limit.
 */
export function encodeMetadata(metadata: ModelMetadata): Uint8Array {
  return new TextEncoder().encode(canonicalText(checkMetadata(metadata)));
}

/** Reads canonical metadata bytes; ERR_FL_VERSION_FORMAT for anything but UTF-8 canonical JSON of valid fields. */
export function decodeMetadata(bytes: Uint8Array): ModelMetadata {
  if (bytes.length > metadataBytesMax) fail('(encoded)', `at most ${metadataBytesMax} bytes`, bytes.length);
  const json = parseUtf8Json(bytes);
  if (!json.ok) throw new RegistryError(RegistryErrorCode.ERR_FL_VERSION_FORMAT, `metadata: not UTF-8 JSON (${json.reason})`);
  const { text } = json;
  const record = asRecord('(root)', json.value);
  if (record['format'] !== formatName) fail('format', JSON.stringify(formatName), record['format']);
  if (record['version'] !== formatVersion) fail('version', String(formatVersion), record['version']);
  const metadata = checkMetadata(record as unknown as ModelMetadata);
  if (canonicalText(metadata) !== text) {
    throw new RegistryError(RegistryErrorCode.ERR_FL_VERSION_FORMAT, 'metadata: not in canonical form (unknown keys, key order, number form or whitespace)');
  }
  return metadata;
}

/** Strict UTF-8 JSON: the text and its value, or why the bytes are not that (metadata and events share the check). */
export function parseUtf8Json(bytes: Uint8Array): { readonly ok: true; readonly text: string; readonly value: unknown } | { readonly ok: false; readonly reason: string } {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return { ok: true, text, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
}
