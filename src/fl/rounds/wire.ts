/**
 * Binary encodings of the round messages, for the bulk transfer (transfer.ts) to carry over the
 * mesh. Each message starts with an 8-byte magic that names it and its format version; integers
 * are big-endian; every length is bounded by a named limit before anything is allocated; the
 * decoders accept exactly one byte string per value (no trailing bytes, flags 0 or 1, strategy
 * parameters sorted by name) and refuse anything else with ERR_FL_ROUND_FORMAT naming the field.
 *
 *   RoundConfig  "X0TFLRC1" | round u32 | model id (32) | deadlineMs u64 | clip flag u8 [| clipNorm f64]
 *                | strategy: name length u8 | name (ASCII) | parameter count u8
 *                | per parameter: name length u8 | name | tag u8 (1 f64, 2 string: length u8 | UTF-8, 3 bool u8)
 *
 *   UpdateSubmission  "X0TFLUS1" | round u32 | model id (32) | participant u32 | examples u32
 *                     | parameter count u32 | parameters f32 each
 *
 *   ModelDistribution  "X0TFLMD1" | version length u32 | the model version's own encoding (registry/version.ts)
 *
 * An update names its participant so that the driver can compare it with the sender the secure
 * channel authenticated (ERR_FL_ROUND_SENDER): a node cannot submit in another node's name, and
 * a submission relayed by a third node is recognisable as such.
 */
import { modelFileBytesMax, metadataBytesMax, strategyNameCharsMax, strategyParamsMax, versionSignatureBytes } from '../registry/limits.js';
import type { StrategyParamValue, StrategyRecord } from '../registry/metadata.js';
import { isModelId, modelIdOf, type ModelId } from '../registry/model-id.js';
import { versionMagic } from '../registry/version.js';
import { parameterCountMax } from '../../ml/limits.js';
import { isNodeId, type NodeId } from '../../wire/ids.js';
import { RoundError, RoundErrorCode } from './errors.js';
import { examplesMax } from './limits.js';
import type { ModelDistribution, RoundConfig, UpdateSubmission } from './messages.js';

/** Magic of an encoded RoundConfig, format 1. */
export const configMagic = new TextEncoder().encode('X0TFLRC1');
/** Magic of an encoded UpdateSubmission, format 1. */
export const updateMagic = new TextEncoder().encode('X0TFLUS1');
/** Magic of an encoded ModelDistribution, format 1. */
export const distributionMagic = new TextEncoder().encode('X0TFLMD1');

/** Largest round number the encodings carry (u32). */
export const wireRoundMax = 0xffff_ffff;
/** Most parameters one update may carry: the largest model src/ml describes. */
export const wireParametersMax = parameterCountMax;
/** Most bytes of an encoded model version (prefix, metadata, model file, signature). */
export const wireVersionBytesMax = versionMagic.length + 32 + 4 + metadataBytesMax + 4 + modelFileBytesMax + versionSignatureBytes;

const modelIdBytes = 32;
const namePattern = /^[A-Za-z][A-Za-z0-9_.-]*$/;
const ParamTag = { number: 1, string: 2, boolean: 3 } as const;
const utf8 = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF in the string, so that decoding and encoding again give the same bytes.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** An update as it travels: the submission and the participant it names. */
export interface WireUpdate {
  readonly participant: NodeId;
  readonly submission: UpdateSubmission;
}

/** Any round message, as the transfer delivers it. */
export type WireRoundMessage = RoundConfig | WireUpdate | ModelDistribution;

function formatError(what: string, message: string): never {
  throw new RoundError(RoundErrorCode.ERR_FL_ROUND_FORMAT, `${what}: ${message}`);
}

/** Appends big-endian fields to a growing list of parts. */
class Writer {
  private readonly parts: Uint8Array[] = [];
  private length = 0;

  bytes(value: Uint8Array): this {
    this.parts.push(value);
    this.length += value.length;
    return this;
  }

  fixed(bytes: number, write: (view: DataView) => void): this {
    const part = new Uint8Array(bytes);
    write(new DataView(part.buffer));
    return this.bytes(part);
  }

  u8(value: number): this {
    return this.fixed(1, (view) => view.setUint8(0, value));
  }

  u32(value: number): this {
    return this.fixed(4, (view) => view.setUint32(0, value));
  }

  u64(value: number): this {
    return this.fixed(8, (view) => view.setBigUint64(0, BigInt(value)));
  }

  f64(value: number): this {
    return this.fixed(8, (view) => view.setFloat64(0, value));
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const part of this.parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
}

/** Reads big-endian fields with a bounds check each; errors name the message and the field. */
class Reader {
  private at = 0;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private take(count: number, field: string): number {
    if (this.bytes.length - this.at < count) formatError(this.what, `truncated in ${field} (needs ${count} bytes at offset ${this.at}, ${this.bytes.length - this.at} left)`);
    const at = this.at;
    this.at += count;
    return at;
  }

  magic(magic: Uint8Array): void {
    const at = this.take(magic.length, 'magic');
    if (!magic.every((byte, index) => this.bytes[at + index] === byte)) formatError(this.what, `magic: expected "${new TextDecoder().decode(magic)}"`);
  }

  u8(field: string): number {
    return this.view.getUint8(this.take(1, field));
  }

  u32(field: string): number {
    return this.view.getUint32(this.take(4, field));
  }

  u64(field: string): number {
    const value = this.view.getBigUint64(this.take(8, field));
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) formatError(this.what, `${field}: ${value} is above 2^53 - 1`);
    return Number(value);
  }

  f64(field: string): number {
    return this.view.getFloat64(this.take(8, field));
  }

  flag(field: string): boolean {
    const value = this.u8(field);
    if (value > 1) formatError(this.what, `${field}: expected 0 or 1, got ${value}`);
    return value === 1;
  }

  slice(count: number, field: string): Uint8Array {
    const at = this.take(count, field);
    return this.bytes.subarray(at, at + count);
  }

  /** A view of the next `count` bytes as a DataView at offset 0. */
  viewOf(count: number, field: string): DataView {
    const at = this.take(count, field);
    return new DataView(this.bytes.buffer, this.bytes.byteOffset + at, count);
  }

  end(): void {
    if (this.at !== this.bytes.length) formatError(this.what, `${this.bytes.length - this.at} trailing bytes after offset ${this.at}`);
  }
}

function checkRound(what: string, round: number): number {
  if (!Number.isInteger(round) || round < 0 || round > wireRoundMax) formatError(what, `round: expected an integer in 0..${wireRoundMax}, got ${round}`);
  return round;
}

function modelIdBytesOf(what: string, modelId: ModelId): Uint8Array {
  if (!isModelId(modelId)) formatError(what, `modelId: expected 64 lower-case hex digits, got ${JSON.stringify(modelId)}`);
  return Buffer.from(modelId, 'hex');
}

function modelIdFrom(reader: Reader): ModelId {
  return modelIdOf(reader.slice(modelIdBytes, 'model id'));
}

function writeName(writer: Writer, what: string, field: string, name: string): void {
  if (name.length > strategyNameCharsMax || !namePattern.test(name)) formatError(what, `${field}: expected a name of 1..${strategyNameCharsMax} letters, digits, '_', '.' or '-' starting with a letter, got ${JSON.stringify(name)}`);
  writer.u8(name.length).bytes(utf8.encode(name));
}

function readName(reader: Reader, what: string, field: string): string {
  const length = reader.u8(`${field} length`);
  const name = new TextDecoder().decode(reader.slice(length, field));
  if (length > strategyNameCharsMax || !namePattern.test(name)) formatError(what, `${field}: expected a name of 1..${strategyNameCharsMax} letters, digits, '_', '.' or '-' starting with a letter, got ${JSON.stringify(name)}`);
  return name;
}

function writeParam(writer: Writer, what: string, name: string, value: StrategyParamValue): void {
  const field = `strategy.params.${name}`;
  if (typeof value === 'boolean') {
    writer.u8(ParamTag.boolean).u8(value ? 1 : 0);
  } else if (typeof value === 'number') {
    if (!Number.isFinite(value)) formatError(what, `${field}: expected a finite number, got ${value}`);
    writer.u8(ParamTag.number).f64(value);
  } else {
    const bytes = utf8.encode(value);
    if (value.length > strategyNameCharsMax) formatError(what, `${field}: expected at most ${strategyNameCharsMax} characters, got ${value.length}`);
    writer.u8(ParamTag.string).u8(bytes.length).bytes(bytes);
  }
}

function readParam(reader: Reader, what: string, name: string): StrategyParamValue {
  const field = `strategy.params.${name}`;
  const tag = reader.u8(`${field} tag`);
  if (tag === ParamTag.boolean) return reader.flag(field);
  if (tag === ParamTag.number) {
    const value = reader.f64(field);
    if (!Number.isFinite(value)) formatError(what, `${field}: expected a finite number, got ${value}`);
    return value;
  }
  if (tag !== ParamTag.string) formatError(what, `${field} tag: expected 1 (number), 2 (string) or 3 (boolean), got ${tag}`);
  const bytes = reader.slice(reader.u8(`${field} length`), field);
  let value: string;
  try {
    value = strictUtf8.decode(bytes);
  } catch {
    return formatError(what, `${field}: not UTF-8`);
  }
  if (value.length > strategyNameCharsMax) formatError(what, `${field}: expected at most ${strategyNameCharsMax} characters, got ${value.length}`);
  return value;
}

function writeStrategy(writer: Writer, what: string, strategy: StrategyRecord): void {
  writeName(writer, what, 'strategy.name', strategy.name);
  const names = Object.keys(strategy.params).sort();
  if (names.length > strategyParamsMax) formatError(what, `strategy.params: expected at most ${strategyParamsMax} parameters, got ${names.length}`);
  writer.u8(names.length);
  for (const name of names) {
    writeName(writer, what, 'strategy.params key', name);
    writeParam(writer, what, name, strategy.params[name]!);
  }
}

function readStrategy(reader: Reader, what: string): StrategyRecord {
  const name = readName(reader, what, 'strategy.name');
  const count = reader.u8('strategy.params count');
  if (count > strategyParamsMax) formatError(what, `strategy.params count: expected at most ${strategyParamsMax}, got ${count}`);
  const params: Record<string, StrategyParamValue> = {};
  let previous = '';
  for (let index = 0; index < count; index++) {
    const key = readName(reader, what, 'strategy.params key');
    // Sorted and distinct, so that one strategy has one encoding.
    if (index > 0 && key <= previous) formatError(what, `strategy.params key: ${JSON.stringify(key)} after ${JSON.stringify(previous)} (expected ascending, no repeats)`);
    params[key] = readParam(reader, what, key);
    previous = key;
  }
  return { name, params };
}

/** The canonical bytes of a round configuration; ERR_FL_ROUND_FORMAT naming a field that cannot be encoded. */
export function encodeRoundConfig(config: RoundConfig): Uint8Array {
  const what = 'encodeRoundConfig';
  const writer = new Writer().bytes(configMagic).u32(checkRound(what, config.round)).bytes(modelIdBytesOf(what, config.modelId));
  if (!Number.isSafeInteger(config.deadlineMs) || config.deadlineMs < 0) formatError(what, `deadlineMs: expected an integer in 0..2^53-1, got ${config.deadlineMs}`);
  writer.u64(config.deadlineMs);
  if (config.clipNorm === null) writer.u8(0);
  else if (Number.isFinite(config.clipNorm) && config.clipNorm > 0) writer.u8(1).f64(config.clipNorm);
  else formatError(what, `clipNorm: expected null or a finite number > 0, got ${config.clipNorm}`);
  writeStrategy(writer, what, config.strategy);
  return writer.finish();
}

/** Reads an encoded round configuration strictly. */
export function decodeRoundConfig(bytes: Uint8Array): RoundConfig {
  const what = 'decodeRoundConfig';
  const reader = new Reader(bytes, what);
  reader.magic(configMagic);
  const round = reader.u32('round');
  const modelId = modelIdFrom(reader);
  const deadlineMs = reader.u64('deadlineMs');
  let clipNorm: number | null = null;
  if (reader.flag('clipNorm flag')) {
    clipNorm = reader.f64('clipNorm');
    if (!(Number.isFinite(clipNorm) && clipNorm > 0)) formatError(what, `clipNorm: expected a finite number > 0, got ${clipNorm}`);
  }
  const strategy = readStrategy(reader, what);
  reader.end();
  return { kind: 'config', round, modelId, strategy, clipNorm, deadlineMs };
}

/** The canonical bytes of `submission` sent by `participant`; refuses what the coordinator would refuse for its form alone. */
export function encodeUpdateSubmission(participant: NodeId, submission: UpdateSubmission): Uint8Array {
  const what = 'encodeUpdateSubmission';
  const { update, examples } = submission;
  if (!isNodeId(participant)) formatError(what, `participant: expected a node id (an integer in 1..2^32-1), got ${participant}`);
  if (update.length > wireParametersMax) formatError(what, `parameters: expected at most ${wireParametersMax}, got ${update.length}`);
  checkExamples(what, examples);
  const writer = new Writer().bytes(updateMagic).u32(checkRound(what, submission.round)).bytes(modelIdBytesOf(what, submission.modelId));
  writer.u32(participant).u32(examples).u32(update.length);
  return writer
    .fixed(4 * update.length, (view) => {
      for (let index = 0; index < update.length; index++) {
        const value = update[index]!;
        if (!Number.isFinite(value)) throw new RoundError(RoundErrorCode.ERR_FL_ROUND_NON_FINITE, `${what}: parameter ${index} is ${value}`);
        view.setFloat32(4 * index, value);
      }
    })
    .finish();
}

function checkExamples(what: string, examples: number): void {
  if (!Number.isInteger(examples) || examples < 1 || examples > examplesMax) {
    throw new RoundError(RoundErrorCode.ERR_FL_ROUND_EXAMPLES, `${what}: examples: expected an integer in 1..${examplesMax}, got ${examples}`);
  }
}

/** Reads an encoded update strictly; NaN and infinities are refused here (ERR_FL_ROUND_NON_FINITE), before any aggregate sees them. */
export function decodeUpdateSubmission(bytes: Uint8Array): WireUpdate {
  const what = 'decodeUpdateSubmission';
  const reader = new Reader(bytes, what);
  reader.magic(updateMagic);
  const round = reader.u32('round');
  const modelId = modelIdFrom(reader);
  const participant = reader.u32('participant');
  if (!isNodeId(participant)) formatError(what, 'participant: expected a node id (an integer in 1..2^32-1), got 0');
  const examples = reader.u32('examples');
  checkExamples(what, examples);
  const count = reader.u32('parameter count');
  if (count > wireParametersMax) formatError(what, `parameter count: expected at most ${wireParametersMax}, got ${count}`);
  const view = reader.viewOf(4 * count, 'parameters');
  reader.end();
  const update = new Float32Array(count);
  for (let index = 0; index < count; index++) {
    const value = view.getFloat32(4 * index);
    if (!Number.isFinite(value)) throw new RoundError(RoundErrorCode.ERR_FL_ROUND_NON_FINITE, `${what}: parameter ${index} is ${value}`);
    update[index] = value;
  }
  return { participant, submission: { kind: 'update', round, modelId, update, examples } };
}

/** The bytes of a distribution: the magic, then the version's own (already canonical) encoding. */
export function encodeDistribution(distribution: ModelDistribution): Uint8Array {
  const { version } = distribution;
  if (version.length > wireVersionBytesMax) formatError('encodeDistribution', `version: expected at most ${wireVersionBytesMax} bytes, got ${version.length}`);
  return new Writer().bytes(distributionMagic).u32(version.length).bytes(version).finish();
}

/** Reads a distribution's framing; the version inside is decoded and verified by the participant (decodeVersion, verifyVersion). */
export function decodeDistribution(bytes: Uint8Array): ModelDistribution {
  const what = 'decodeDistribution';
  const reader = new Reader(bytes, what);
  reader.magic(distributionMagic);
  const length = reader.u32('version length');
  if (length > wireVersionBytesMax) formatError(what, `version length: expected at most ${wireVersionBytesMax}, got ${length}`);
  const version = reader.slice(length, 'version').slice();
  reader.end();
  return { kind: 'model', version };
}

function startsWith(bytes: Uint8Array, magic: Uint8Array): boolean {
  return bytes.length >= magic.length && magic.every((byte, index) => bytes[index] === byte);
}

/** Decodes any round message by its magic (what a driver does with a completed transfer). */
export function decodeRoundMessage(bytes: Uint8Array): WireRoundMessage {
  if (startsWith(bytes, configMagic)) return decodeRoundConfig(bytes);
  if (startsWith(bytes, updateMagic)) return decodeUpdateSubmission(bytes);
  if (startsWith(bytes, distributionMagic)) return decodeDistribution(bytes);
  return formatError('decodeRoundMessage', 'magic: expected "X0TFLRC1", "X0TFLUS1" or "X0TFLMD1"');
}

/** Refuses an update whose participant field is not `sender`, the node the channel authenticated. */
export function checkSender(update: WireUpdate, sender: NodeId): UpdateSubmission {
  if (update.participant !== sender) {
    throw new RoundError(RoundErrorCode.ERR_FL_ROUND_SENDER, `update for round ${update.submission.round} names participant ${update.participant}, but came from node ${sender}`);
  }
  return update.submission;
}
