import { createCipheriv, createDecipheriv } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { hkdfSha256, sha256 } from '../crypto/hash.js';
import { checkNetworkKeyEpochs, networkKeyEpochsMax, singleEpoch, type NetworkKeyEpoch } from '../crypto/network-key-ring.js';
import { networkKeyBytes } from '../crypto/obfuscation.js';
import { concat, u32, u64 } from '../identity/binary.js';
import type { OpenedCa } from './ca-store.js';
import { filesError, parseWith, readJson, withCaLock, writePrivate } from './ca-store.js';

/**
 * The CA's network key epochs (network-key-ring.ts): network-keys.json in the CA directory, each
 * key sealed with AES-256-GCM under a key derived from the CA's Ed25519 seed, so the file is no
 * more secret than ca.json's sealed part and the running service (which holds the CA open) reads
 * it without the passphrase. Before the first rotation there is no file: the ring is the network
 * key of ca.json alone, as epoch 0.
 *
 * `x0tta6bl4 ca rotate-network-key` adds an epoch: active activateInMs from now, and every epoch
 * without an end retires retireAfterMs after that. Epochs retired by then are dropped.
 */

/** Defaults of a rotation: nodes fetch the new epoch within their first revocation poll, so minutes are plenty. */
export const rotationActivateInMsDefault = 10 * 60_000;
export const rotationRetireAfterMsDefault = 10 * 60_000;
/** Least of either: several revocation polls (10 s) must fit, or nodes switch before they all have the key. */
export const rotationStepMsMin = 30_000;
/** Longest of either (a week). */
export const rotationStepMsMax = 7 * 24 * 3600_000;

/** Header of the CA's revocation list answer that carries networkKeyScheduleDigest of the epochs in force: a node fetches them when it changes. */
export const networkKeysDigestHeader = 'x-x0tta6bl4-network-keys';

const networkKeysFile = 'network-keys.json';
const fileKeyLabel = new TextEncoder().encode('x0tta6bl4 CA network keys file v1');
const epochSchema = z.strictObject({ epoch: z.number().int().min(0).max(0xffff_ffff), activeFromMs: z.number().int().min(0), acceptUntilMs: z.number().int().nullable(), iv: z.base64(), sealedKey: z.base64(), tag: z.base64() });
const fileSchema = z.strictObject({ version: z.literal(1), epochs: z.array(epochSchema).min(1).max(networkKeyEpochsMax) });

function fileKey(opened: OpenedCa): Uint8Array {
  return hkdfSha256(opened.ca.ed25519PrivateKey, new Uint8Array(0), fileKeyLabel, 32);
}

/** What each sealed key is bound to: its epoch and both times, so an edited schedule does not open. */
function recordAad(entry: Pick<NetworkKeyEpoch, 'epoch' | 'activeFromMs' | 'acceptUntilMs'>): Uint8Array {
  return concat(u32(entry.epoch), u64(entry.activeFromMs), u64(entry.acceptUntilMs ?? 0));
}

function sealEpoch(entry: NetworkKeyEpoch, key: Uint8Array, random: (bytes: number) => Uint8Array): z.infer<typeof epochSchema> {
  const iv = random(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(recordAad(entry));
  const sealedKey = Buffer.concat([cipher.update(entry.key), cipher.final()]);
  const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
  return { epoch: entry.epoch, activeFromMs: entry.activeFromMs, acceptUntilMs: entry.acceptUntilMs, iv: b64(iv), sealedKey: b64(sealedKey), tag: b64(cipher.getAuthTag()) };
}

function openEpoch(stored: z.infer<typeof epochSchema>, key: Uint8Array, path: string): NetworkKeyEpoch {
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(stored.iv, 'base64'));
  decipher.setAAD(recordAad(stored));
  decipher.setAuthTag(Buffer.from(stored.tag, 'base64'));
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(Buffer.from(stored.sealedKey, 'base64')), decipher.final()]);
  } catch {
    throw filesError(`${path}: epoch ${stored.epoch} does not open under this CA's key (its key or times altered, or from another CA)`);
  }
  if (plain.length !== networkKeyBytes) throw filesError(`${path}: epoch ${stored.epoch}: expected a ${networkKeyBytes}-byte key, got ${plain.length}`);
  return { epoch: stored.epoch, key: new Uint8Array(plain), activeFromMs: stored.activeFromMs, acceptUntilMs: stored.acceptUntilMs };
}

/** Every stored epoch of the CA in `dir` (ca.json's key as epoch 0 before the first rotation). */
export function readNetworkKeys(dir: string, opened: OpenedCa): NetworkKeyEpoch[] {
  const path = join(dir, networkKeysFile);
  if (!existsSync(path)) return singleEpoch(opened.networkKey);
  const file = parseWith(fileSchema, readJson(path), path);
  const key = fileKey(opened);
  const epochs = file.epochs.map((stored) => openEpoch(stored, key, path));
  try {
    checkNetworkKeyEpochs(epochs);
  } catch (error) {
    throw filesError(`${path}: ${(error as Error).message}`);
  }
  return epochs;
}

/**
 * readNetworkKeys for a long-running reader (the CA service, which needs the epochs for every
 * revocation request): the file is read and opened again only when it was replaced or changed
 * (inode, size, modification time), so a poll costs a stat.
 */
export class NetworkKeysFile {
  private cached: { stamp: string; epochs: NetworkKeyEpoch[] } | null = null;

  constructor(
    private readonly dir: string,
    private readonly opened: OpenedCa,
  ) {}

  /** The stored epochs now; throws as readNetworkKeys does. */
  epochs(): NetworkKeyEpoch[] {
    const stat = statSync(join(this.dir, networkKeysFile), { throwIfNoEntry: false });
    const stamp = stat === undefined ? 'none' : `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    if (this.cached?.stamp !== stamp) this.cached = { stamp, epochs: readNetworkKeys(this.dir, this.opened) };
    return this.cached.epochs;
  }
}

/** The schedule of the stored epochs (numbers and times, no keys): what `ca list` shows without the passphrase. */
export function readNetworkKeySchedule(dir: string): Omit<NetworkKeyEpoch, 'key'>[] {
  const path = join(dir, networkKeysFile);
  if (!existsSync(path)) return [{ epoch: 0, activeFromMs: 0, acceptUntilMs: null }];
  return parseWith(fileSchema, readJson(path), path).epochs.map(({ epoch, activeFromMs, acceptUntilMs }) => ({ epoch, activeFromMs, acceptUntilMs }));
}

/** The epochs still accepted at `nowMs` (at least the newest): what the CA hands out. */
export function epochsInForce(epochs: readonly NetworkKeyEpoch[], nowMs: number): NetworkKeyEpoch[] {
  const live = epochs.filter((entry) => entry.acceptUntilMs === null || entry.acceptUntilMs > nowMs);
  return live.length > 0 ? live : [epochs.at(-1)!];
}

/** The key nodes send under at `nowMs`: the newest epoch already active (the first when none is). */
export function sendingKeyAt(epochs: readonly NetworkKeyEpoch[], nowMs: number): Uint8Array {
  const active = epochsInForce(epochs, nowMs).filter((entry) => entry.activeFromMs <= nowMs);
  return (active.at(-1) ?? epochs[0]!).key;
}

/** A digest of the epochs' numbers and times (not their keys): nodes compare it to know when to fetch the ring again. */
export function networkKeyScheduleDigest(epochs: readonly NetworkKeyEpoch[]): string {
  const parts = epochs.flatMap((entry) => [u32(entry.epoch), u64(entry.activeFromMs), u64(entry.acceptUntilMs ?? 0)]);
  return Buffer.from(sha256(concat(...parts))).toString('hex').slice(0, 32);
}

/** How a rotation is timed. */
export interface RotationTiming {
  readonly activateInMs: number;
  readonly retireAfterMs: number;
}

function checkStep(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < rotationStepMsMin || value > rotationStepMsMax) {
    throw new RangeError(`rotate network key: ${name}: expected ${rotationStepMsMin}..${rotationStepMsMax} ms, got ${value}`);
  }
}

/** The epochs after a rotation at `nowMs` (pure): see the module comment. Throws a RangeError naming what does not fit. */
export function rotatedEpochs(epochs: readonly NetworkKeyEpoch[], nowMs: number, timing: RotationTiming, newKey: Uint8Array): NetworkKeyEpoch[] {
  checkStep('activateInMs', timing.activateInMs);
  checkStep('retireAfterMs', timing.retireAfterMs);
  const kept = epochsInForce(epochs, nowMs);
  if (kept.length >= networkKeyEpochsMax) throw new RangeError(`rotate network key: ${kept.length} epochs are still accepted (at most ${networkKeyEpochsMax}); wait until the oldest retires`);
  const newest = kept.at(-1)!;
  const activeFromMs = Math.max(nowMs + timing.activateInMs, newest.activeFromMs + 1);
  const retiring = kept.map((entry) => (entry.acceptUntilMs === null ? { ...entry, acceptUntilMs: activeFromMs + timing.retireAfterMs } : entry));
  return [...retiring, { epoch: newest.epoch + 1, key: newKey, activeFromMs, acceptUntilMs: null }];
}

/** Rotates the network key of the CA in `dir` under its lock; returns the epochs now stored. */
export function rotateNetworkKey(dir: string, opened: OpenedCa, nowMs: number, timing: RotationTiming, random: (bytes: number) => Uint8Array): NetworkKeyEpoch[] {
  return withCaLock(dir, () => {
    const epochs = rotatedEpochs(readNetworkKeys(dir, opened), nowMs, timing, random(networkKeyBytes));
    const key = fileKey(opened);
    writePrivate(join(dir, networkKeysFile), `${JSON.stringify({ version: 1, epochs: epochs.map((entry) => sealEpoch(entry, key, random)) }, null, 2)}\n`);
    return epochs;
  });
}
